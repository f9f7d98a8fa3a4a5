"""Keep generated files in step with the code and the lever configs.

``python -m simulation.documentation`` rewrites:

* the parameter tables of docs/ODD.md and docs/interventions.md, from the schema;
* the one-lever scenarios ``configs/scenario/<lever>.yaml``, one per file of
  ``configs/intervention/``, so a lever's config file is the only file written by hand.

The test suite fails if a committed file differs from what this would write.
"""

import re
from pathlib import Path

from .config import CONFIG_DIR, group_options
from .interventions import REGISTRY
from .params import InterventionParams, parameter_groups, parameter_specs
from .priors import Prior

DOCS = Path(__file__).resolve().parent.parent / "docs"
GENERATED_NOTE = ("# Generated from configs/intervention/{lever}.yaml by "
                  "`python -m simulation.documentation`.")


def parameter_table(interventions_only: bool = False) -> str:
    """Every parameter of the schema as a Markdown table (the docs embed it verbatim).

    Intervention knobs shared by every lever are listed once, under ``intervention.*``; each
    lever then lists its own knobs and the defaults it overrides.
    """
    common = parameter_specs(InterventionParams)
    groups = [("intervention.*", InterventionParams)]
    if not interventions_only:
        groups = [*parameter_groups().items(), *groups]
    rows = [(group, name, spec) for group, cls in groups
            for name, spec in parameter_specs(cls).items()]
    rows += [(f"intervention.{kind}", name, spec)
             for kind, lever in REGISTRY.items()
             for name, spec in parameter_specs(lever.params_class).items()
             if common.get(name) != spec]
    lines = ["| key | default | range | unit | meaning | grounding | plausible prior |",
             "|---|---|---|---|---|---|---|"]
    for group, name, spec in rows:
        low, high = spec["range"]
        lines.append(f"| `{group}.{name}` | {spec['default']} | [{low}, {high}] | "
                     f"{spec['unit']} | {spec['doc']} | {spec['source']} | "
                     f"{prior_text(spec['prior'])} |")
    return "\n".join(lines)


def prior_text(prior) -> str:
    """A prior for the tables: the distribution and its reason, or why the value is fixed."""
    if isinstance(prior, Prior):
        return f"{prior.describe()}: {prior.why}"
    return f"fixed: {prior.why}" if prior is not None else "-"


GENERATED = {
    DOCS / "ODD.md": ("parameter-table", parameter_table),
    DOCS / "interventions.md": ("intervention-table",
                                lambda: parameter_table(interventions_only=True)),
}


def render(path: Path, text: str) -> str:
    """``text`` with the block between the file's markers replaced by its generated table."""
    marker, table = GENERATED[path]
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not block.search(text):
        raise ValueError(f"{path.name} lacks the markers {start} ... {end}")
    return block.sub(lambda _: f"{start}\n{table()}\n{end}", text)


def lever_scenario(lever: str) -> str:
    """The one-lever scenario of ``configs/intervention/<lever>.yaml``: the lever's own
    description (its leading comment), then the lever at the values of its file."""
    description = []
    for line in (CONFIG_DIR / "intervention" / f"{lever}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        description.append(line)
    return "\n".join([*description, "", GENERATED_NOTE.format(lever=lever), "defaults:",
                      f"  - /intervention@interventions: [{lever}]", "  - _self_", "",
                      f"name: {lever}", ""])


def generated_files() -> dict[Path, str]:
    """Every generated file and the text it should hold."""
    files = {path: render(path, path.read_text()) for path in GENERATED}
    files.update({CONFIG_DIR / "scenario" / f"{lever}.yaml": lever_scenario(lever)
                  for lever in group_options("intervention")})
    return files


def main() -> None:
    for path, text in generated_files().items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"updated {path}")


if __name__ == "__main__":
    main()
