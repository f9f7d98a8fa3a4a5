"""The analyst's notebook runs from top to bottom (with tiny settings), so it never rots."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "scenario_comparison.ipynb"
TINY = """\
from pathlib import Path

ICS = "small_ics"
WEEKS = 8
SEEDS = 4
SCENARIOS = ["baseline", "protected_time"]
OUT = Path("outputs/notebook")
SENSITIVITY_PARAMETERS = ["model.bureaucracy_load", "model.support"]
SENSITIVITY_TRAJECTORIES = 2
N_JOBS = 2
"""


@pytest.mark.slow
def test_notebook_runs(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1
    names = {line.split("=")[0].strip() for line in parameters[0].source.splitlines()
             if "=" in line and not line.startswith(("#", " "))}
    assert names == {line.split("=")[0].strip() for line in TINY.splitlines() if "=" in line}
    parameters[0].source = TINY
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert (tmp_path / "outputs/notebook/sweep/report/report.md").exists()
    assert (tmp_path / "outputs/notebook/gsa/sensitivity/morris/indices.csv").exists()
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # the seed plot, the forest plot and the sensitivity bars
