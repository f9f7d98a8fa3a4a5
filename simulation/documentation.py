"""Keep generated files in step with the code and the lever configs.

``python -m simulation.documentation`` rewrites:

* the parameter tables of docs/ODD.md and docs/interventions.md, from the schema;
* the one-lever scenarios ``configs/scenario/<lever>.yaml``, one per file of
  ``configs/intervention/``, so a lever's config file is the only file written by hand;
* the real systems, from the ICB roster and the make-up method of ``simulation/icb.py``:
  ``simulation/data/icb/makeup.csv``, ``configs/ics/icb/<slug>.yaml`` (one per ICB) and
  ``configs/ics/england.yaml`` (the 42 in one run);
* ``configs/calibration/calibrated.yaml``, from the committed posterior
  (``simulation/posterior.py``).

The test suite fails if a committed file differs from what this would write.
"""

import re
from pathlib import Path

from . import icb, posterior
from .config import CONFIG_DIR, group_options
from .interventions import REGISTRY
from .params import (
    InterventionParams,
    parameter_groups,
    parameter_specs,
    uncertain_parameters,
)
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


def calibrated_table() -> str:
    """The fitted parameters: assumption, prior, calibrated point and posterior 90% interval
    (from the committed posterior's equal-weight draws)."""
    import numpy as np

    post, specs = posterior.posterior(), uncertain_parameters()
    lines = ["| key | assumption | plausible prior | calibrated point | posterior 90% interval |",
             "|---|---|---|---|---|"]
    for path in post.parameters:
        values = np.array([d[path] for d in post.draws])
        low, high = np.quantile(values, [0.05, 0.95])
        lines.append(f"| `{path}` | {specs[path]['default']:g} | "
                     f"{specs[path]['prior'].describe()} | {post.point[path]:.3g} | "
                     f"{low:.3g} to {high:.3g} |")
    return "\n".join(lines)


GENERATED = {
    DOCS / "ODD.md": [("calibrated-table", calibrated_table),
                      ("parameter-table", parameter_table)],
    DOCS / "interventions.md": [("intervention-table",
                                 lambda: parameter_table(interventions_only=True))],
}


def render(path: Path, text: str) -> str:
    """``text`` with each block between the file's markers replaced by its generated table."""
    for marker, table in GENERATED[path]:
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        block = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        if not block.search(text):
            raise ValueError(f"{path.name} lacks the markers {start} ... {end}")
        text = block.sub(lambda _, s=start, t=table, e=end: f"{s}\n{t()}\n{e}", text)
    return text


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


ICB_NOTE = "# Generated from simulation/icb.py by `python -m simulation.documentation`."


def _system_lines(member: dict) -> list[str]:
    lines = [f"  - name: {member['name']}", f"    region: {member['region']}",
             f"    code: {member['code']}", f"    population: {member['population']}",
             "    organisations:"]
    for org in member["organisations"]:
        fields = ", ".join(f"{key}: {value}" for key, value in org.items())
        lines.append(f"      - {{{fields}}}")
    return lines


def _size(members: list[dict]) -> tuple[int, int]:
    orgs = [org for member in members for org in member["organisations"]]
    return (sum(o["count"] * o["managers"] for o in orgs),
            sum(o["count"] * o["trainees"] for o in orgs))


def icb_config(board: icb.ICB, rows: list[dict]) -> str:
    """``configs/ics/icb/<slug>.yaml``: one real ICB as a one-system list."""
    member = icb.system_config(board, rows)
    managers, trainees = _size([member])
    apportioned = sum(r[f"{c}_source"] in (icb.APPORTIONED, icb.ASSUMED) for r in rows
                      if r["slug"] == board.slug for c in ("count", "managers", "trainees"))
    return "\n".join([
        f"# {board.name} ({board.ods_code}, {board.region}):",
        f"# {board.population:,} registered adults (February 2024); {managers:,} managers and "
        f"{trainees:,} doctors in training.",
        f"# {apportioned} of its numbers are apportioned from national totals or assumed "
        "(simulation/data/icb/makeup.csv",
        "# says which; docs/ODD.md, section 5).",
        ICB_NOTE, f"name: {board.slug}", "members:", *_system_lines(member), ""])


def england_config(rows: list[dict]) -> str:
    """``configs/ics/england.yaml``: the 42 ICBs in one run."""
    members = [icb.system_config(board, rows) for board in icb.roster()]
    managers, trainees = _size(members)
    return "\n".join([
        "# England: the 42 integrated care boards (2022-2026 boundaries), each with its own "
        "make-up",
        f"# (simulation/data/icb; docs/ODD.md, section 5): {managers:,} managers and "
        f"{trainees:,} doctors in training.",
        ICB_NOTE, "name: england", "members:",
        *[line for member in members for line in _system_lines(member)], ""])


def generated_files() -> dict[Path, str]:
    """Every generated file and the text it should hold."""
    files = {path: render(path, path.read_text()) for path in GENERATED}
    files.update({CONFIG_DIR / "scenario" / f"{lever}.yaml": lever_scenario(lever)
                  for lever in group_options("intervention")})
    rows = icb.makeup()
    files[icb.MAKEUP_FILE] = icb.makeup_csv()
    files.update({CONFIG_DIR / "ics" / "icb" / f"{board.slug}.yaml": icb_config(board, rows)
                  for board in icb.roster()})
    files[CONFIG_DIR / "ics" / "england.yaml"] = england_config(rows)
    files[CONFIG_DIR / "calibration" / f"{posterior.CALIBRATED}.yaml"] = (
        posterior.calibrated_config())
    return files


def main() -> None:
    for path, text in generated_files().items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"updated {path}")


if __name__ == "__main__":
    main()
