"""The run-folder layout: every file name of a run and of a sweep, in one place.

A run folder (one ``slsim`` run, or one run of a sweep under ``<sweep dir>/runs/``) holds:

* ``summary.json``: final-week outputs, seed, config hash, overrides and the values they set,
  package versions, wall time;
* ``timeseries.parquet``: one row per week (``weeks + 1`` rows: week 0 is the start);
* ``breakdown.parquet``: the final week by organisation type and clinical/non-clinical group;
* ``metrics.png``: the main outputs over time (optional in sweeps);
* ``status.json``: ``succeeded`` or ``failed``, written last;
* ``status.previous.json``: the failure record of an earlier attempt, kept when it is re-run.

A sweep folder holds ``runs/``, ``multirun.yaml``, ``sweep_status.json`` and, once aggregated,
``results.parquet``, ``timeseries.parquet`` and ``failures.csv``.
"""

import os
import re
from collections.abc import Sequence
from pathlib import Path

# --- One run -------------------------------------------------------------------------------------
SUMMARY_FILE = "summary.json"
TIMESERIES_FILE = "timeseries.parquet"
BREAKDOWN_FILE = "breakdown.parquet"
METRICS_FIGURE = "metrics.png"
STATUS_FILE = "status.json"
PREVIOUS_STATUS_FILE = "status.previous.json"

# --- A sweep -------------------------------------------------------------------------------------
RUNS_DIR = "runs"
SWEEP_CONFIG_FILE = "multirun.yaml"
SWEEP_STATUS_FILE = "sweep_status.json"
RESULTS_FILE = "results.parquet"
SWEEP_TIMESERIES_FILE = "timeseries.parquet"
FAILURES_FILE = "failures.csv"

# --- Run-folder names ----------------------------------------------------------------------------
HASH_LENGTH = 16
LABEL_LENGTH = 100
_HASH_SUFFIX = re.compile(rf"-([0-9a-f]{{{HASH_LENGTH}}})$")
_UNSAFE = re.compile(r"(?:[^A-Za-z0-9._=,+-]|\.{2,})+")  # path separators, "..", spaces, ...


def safe_name(text: str, max_length: int = LABEL_LENGTH) -> str:
    """A file-name-safe version of ``text``: no ``/``, no ``..``, no leading dot, bounded length."""
    name = _UNSAFE.sub("_", text).strip("._-")
    return name[:max_length].rstrip("._-") or "run"


def run_dir_name(overrides: Sequence[str], run_hash: str) -> str:
    """``<overrides, made safe>-<config hash>``: readable, unique, and findable by hash."""
    return f"{safe_name(','.join(overrides))}-{run_hash}"


def hash_of(run_dir: Path) -> str | None:
    """The config hash a run folder is named after, or None if it is not a run folder."""
    match = _HASH_SUFFIX.search(Path(run_dir).name)
    return match.group(1) if match else None


def index_runs(runs_dir: Path) -> dict[str, Path]:
    """Existing run folders under ``runs_dir``, by config hash."""
    if not runs_dir.is_dir():
        return {}
    found = {}
    with os.scandir(runs_dir) as entries:
        for entry in entries:
            run_hash = hash_of(Path(entry.name))
            if run_hash and entry.is_dir():
                found[run_hash] = Path(entry.path)
    return found
