"""The run-folder layout: every file name of a run and of a sweep, in one place.

A run folder (one ``slsim`` run, or one run of a sweep under ``<sweep dir>/runs/``) holds:

* ``summary.json``: final-week outputs, seed, config hash, overrides and the values they set,
  package versions, wall time;
* ``timeseries.parquet``: one row per week (``weeks + 1`` rows: week 0 is the start);
* ``breakdown.parquet``: the final week by system (ICB and region), organisation type and
  clinical/non-clinical group;
* ``metrics.png``: the main outputs over time (optional in sweeps: ``status.json`` records
  whether it was drawn);
* ``status.json``: ``succeeded`` or ``failed``, written last;
* ``status.previous.json``: the record of an earlier attempt, kept when it is re-run.

A sweep folder holds ``runs/``, ``multirun.yaml``, ``sweep_status.json`` and, once aggregated,
``results.parquet``, ``timeseries.parquet`` and ``failures.csv``; also ``batches/``, one folder
per launcher job (a batch of runs): its ``batch.json`` lists the runs and their configs, and
Hydra's record of the job (``.hydra/``, the job's log) sits beside it. Batches are transport,
not results: they can be deleted after the sweep.

:func:`check_run` says whether a run folder holds a complete result; resuming sweeps and
``slsim-aggregate`` trust a run only through it.
"""

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# --- One run -------------------------------------------------------------------------------------
SUMMARY_FILE = "summary.json"
TIMESERIES_FILE = "timeseries.parquet"
BREAKDOWN_FILE = "breakdown.parquet"
METRICS_FIGURE = "metrics.png"
STATUS_FILE = "status.json"
PREVIOUS_STATUS_FILE = "status.previous.json"
# Every file is first written as ``.<name>.<random>.tmp`` in its folder, then renamed into place.
TEMPORARY_SUFFIX = ".tmp"
TEMPORARY_FILES = f".*{TEMPORARY_SUFFIX}"  # glob of what a killed write leaves


def temporary_prefix(name: str) -> str:
    """The start of the temporary name ``name`` is written under (hidden, so never mistaken)."""
    return f".{name}."

# --- A sweep -------------------------------------------------------------------------------------
RUNS_DIR = "runs"
SWEEP_CONFIG_FILE = "multirun.yaml"
SWEEP_STATUS_FILE = "sweep_status.json"
RESULTS_FILE = "results.parquet"
SWEEP_TIMESERIES_FILE = "timeseries.parquet"
FAILURES_FILE = "failures.csv"
BATCHES_DIR = "batches"
BATCH_FILE = "batch.json"

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


def batch_dir_name(run_hashes: Sequence[str]) -> str:
    """``batch-<digest of its runs' config hashes>``: the same runs, the same folder."""
    digest = hashlib.sha256(",".join(run_hashes).encode()).hexdigest()[:HASH_LENGTH]
    return f"batch-{digest}"


def hash_of(run_dir: Path) -> str | None:
    """The config hash a run folder is named after, or None if it is not a run folder."""
    match = _HASH_SUFFIX.search(Path(run_dir).name)
    return match.group(1) if match else None


def status_files(sweep_dir: Path) -> Path:
    """Every run's ``status.json`` in a sweep folder, as a glob pattern (for messages)."""
    return Path(sweep_dir) / RUNS_DIR / "*" / STATUS_FILE


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


# --- Is a run folder complete? -------------------------------------------------------------------
UNFINISHED = "unfinished"  # no status.json: not started, running, or killed
SUCCEEDED = "succeeded"
FAILED = "failed"
DAMAGED = "damaged"  # a status.json, or the files it vouches for, that cannot be trusted


def run_files(plot: bool) -> tuple[str, ...]:
    """The files a succeeded run leaves besides ``status.json`` (``metrics.png`` if plotted)."""
    return (SUMMARY_FILE, TIMESERIES_FILE, BREAKDOWN_FILE, *((METRICS_FIGURE,) if plot else ()))


# The identity every status.json carries (simulation.runner writes it), as the tables need it.
STATUS_IDENTITY = {"seed": (int, "an integer"), "weeks": (int, "an integer"),
                   "scenario": (str, "a string"), "ics": (str, "a string"),
                   "parameters": (dict, "an object")}


@dataclass(frozen=True)
class RunCheck:
    """What a run folder holds: one of the four states above, with what shows it."""

    state: str
    status: dict[str, Any] | None = None  # status.json, when it is a readable record
    summary: dict[str, Any] | None = None  # summary.json, for a run that succeeded
    problem: str = ""  # what is wrong, for a damaged folder


def _json_object(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A JSON file that must hold an object: (the object, "") or (None, what is wrong)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        return None, f"{path.name} cannot be read ({exc.strerror or exc})"
    if not text.strip():
        return None, f"{path.name} is empty"
    try:
        data = json.loads(text)
    except ValueError as exc:  # truncated, edited, not text
        return None, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"{path.name} holds a JSON {type(data).__name__}, not an object"
    return data, ""


def _parquet_rows(path: Path) -> tuple[int | None, str]:
    """Rows of a Parquet file from its footer alone (no data read): (rows, "") or (None, why)."""
    try:
        return pq.read_metadata(path).num_rows, ""
    except (OSError, ValueError, pa.ArrowException) as exc:
        return None, f"{path.name} is not a readable Parquet file ({exc})"


def check_run(run_dir: Path, run_hash: str | None = None) -> RunCheck:
    """Whether ``run_dir`` holds a finished run, and for a success whether its files are complete.

    ``run_hash`` is the config hash the folder must hold (default: the one in its name). A
    success is complete when every file of :func:`run_files` is present, ``summary.json`` is an
    object carrying the run's config hash and its final-week outputs, and the time series has
    ``weeks + 1`` rows. Cheap enough for plans of thousands of runs: two small JSON files, a few
    ``stat`` calls and one Parquet footer. A folder that fails any check is :data:`DAMAGED`,
    with the first problem found.
    """
    run_dir = Path(run_dir)
    expected = run_hash or hash_of(run_dir)
    if not (run_dir / STATUS_FILE).exists():
        return RunCheck(UNFINISHED)
    status, problem = _json_object(run_dir / STATUS_FILE)
    if status is None:
        return RunCheck(DAMAGED, problem=problem)

    def damaged(problem: str) -> RunCheck:
        return RunCheck(DAMAGED, status, problem=problem)

    state = status.get("status")
    if state not in (SUCCEEDED, FAILED):
        return damaged(f"{STATUS_FILE} gives the status {state!r}, not {SUCCEEDED!r} or "
                       f"{FAILED!r}")
    recorded = status.get("config_hash")
    if expected is not None and recorded != expected:
        return damaged(f"{STATUS_FILE} is for config hash {recorded}, not {expected}")
    for key, (kind, description) in STATUS_IDENTITY.items():
        value = status.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            return damaged(f"{STATUS_FILE} gives {key!r} as {json.dumps(value)[:60]}, not "
                           f"{description}")
    if state == FAILED:
        return RunCheck(FAILED, status)

    missing = [name for name in run_files(bool(status.get("plot")))
               if not (run_dir / name).is_file()]
    if missing:
        return damaged(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    summary, problem = _json_object(run_dir / SUMMARY_FILE)
    if summary is None:
        return damaged(problem)
    if summary.get("config_hash") != recorded:
        return damaged(f"{SUMMARY_FILE} is for config hash {summary.get('config_hash')}, not "
                       f"{recorded}")
    if not isinstance(summary.get("final"), dict):
        return damaged(f"{SUMMARY_FILE} has no final-week outputs ('final')")
    rows, problem = _parquet_rows(run_dir / TIMESERIES_FILE)
    if rows is None:
        return damaged(problem)
    weeks = status["weeks"]
    if rows != weeks + 1:
        return damaged(f"{TIMESERIES_FILE} has {rows} rows, not weeks + 1 = {weeks + 1}")
    return RunCheck(SUCCEEDED, status, summary)
