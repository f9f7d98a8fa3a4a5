"""Keep generated parts of the documentation in step with the code.

``python -m simulation.documentation`` rewrites the parameter tables of docs/ODD.md and
docs/interventions.md from the schema; the test suite fails if a committed file differs from what
this would write.
"""

import re
from pathlib import Path

from .params import parameter_table

DOCS = Path(__file__).resolve().parent.parent / "docs"
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


def main() -> None:
    for path in GENERATED:
        path.write_text(render(path, path.read_text()))
        print(f"updated the generated table in {path}")


if __name__ == "__main__":
    main()
