"""``slsim-aggregate OUT``: collect a sweep's run folders into three tables, streaming.

* ``OUT/results.parquet``: one row per run: run folder, config hash, status, scenario, ICS, seed,
  weeks, every parameter the sweep varied, the final-week outputs, and the error type of a failure;
* ``OUT/timeseries.parquet``: one row per run and week (succeeded runs), with the same identity
  and varied-parameter columns, so ``groupby(["scenario", "week"])`` needs no join;
* ``OUT/failures.csv``: one row per failed run, with the exception type, message and traceback.

A separate, re-runnable step: it reads only the run folders (``OUT/runs/*/status.json`` and the
files it vouches for), so it can run while a sweep is still going (unfinished runs are counted,
not included) and gives the same tables for the same finished runs however they were launched.
Memory stays flat as runs grow: run folders are read one at a time in two passes (the first finds
the columns) and the tables are written in row groups. No timings go in, so the tables of a sweep
are identical whether or not it was interrupted and resumed.
"""

import argparse
import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..layout import (
    FAILURES_FILE,
    RESULTS_FILE,
    RUNS_DIR,
    SUMMARY_FILE,
    SWEEP_TIMESERIES_FILE,
    TIMESERIES_FILE,
    hash_of,
)
from ..metrics import OUTPUTS
from ..results_io import write_streamed
from .engine import read_status

IDENTITY = {
    "run": pa.string(),
    "config_hash": pa.string(),
    "status": pa.string(),
    "scenario": pa.string(),
    "ics": pa.string(),
    "seed": pa.int64(),
    "weeks": pa.int64(),
}
RESULT_ROWS_PER_GROUP = 1000
TIMESERIES_ROWS_PER_GROUP = 10_000


def _arrow_type(value: Any) -> pa.DataType | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()


def _wider(a: pa.DataType | None, b: pa.DataType | None) -> pa.DataType | None:
    """The type that holds values of both types (int and float: float; otherwise text)."""
    if a is None or b is None or a == b:
        return a or b
    if {a, b} == {pa.int64(), pa.float64()}:
        return pa.float64()
    return pa.string()


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    return str(value) if kind == pa.string() and not isinstance(value, str) else value


@dataclass
class Survey:
    """What the first pass learns: which runs to read and which columns the tables have."""

    runs: list[Path] = field(default_factory=list)
    varied: dict[str, pa.DataType] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    unfinished: list[Path] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)


def run_folders(sweep_dir: Path) -> list[Path]:
    """The run folders of a sweep, in name order."""
    runs_dir = Path(sweep_dir) / RUNS_DIR
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"{runs_dir} does not exist: is {sweep_dir} a sweep folder "
                                "(the hydra.sweep.dir of an `slsim -m` sweep)?")
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and hash_of(p))


def _final(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / SUMMARY_FILE).read_text())["final"]


def survey(sweep_dir: Path) -> Survey:
    """First pass: finished runs (one per config hash), the varied parameters and the outputs.

    A parameter counts as varied when it takes two or more values across the runs; keys that
    only some runs set but with one value (an intervention only some scenarios have) do not.
    """
    found = Survey()
    first: dict[str, str] = {}
    kinds: dict[str, pa.DataType | None] = {}
    varied: set[str] = set()
    outputs: dict[str, None] = {}
    kept: dict[str, tuple[int, bool]] = {}  # config hash -> (index in runs, succeeded)
    for run_dir in run_folders(sweep_dir):
        status = read_status(run_dir)
        if status is None:
            found.unfinished.append(run_dir)
            continue
        ok = status.get("status") == "succeeded"
        run_hash = status.get("config_hash", hash_of(run_dir))
        if run_hash in kept:  # copies of a run folder: keep one, a success over a failure
            index, kept_ok = kept[run_hash]
            if kept_ok or not ok:
                found.duplicates.append(run_dir)
                continue
            found.duplicates.append(found.runs[index])
            found.runs[index] = run_dir
            kept[run_hash] = (index, ok)
        else:
            kept[run_hash] = (len(found.runs), ok)
            found.runs.append(run_dir)
        for key, value in status.get("parameters", {}).items():
            if key in IDENTITY:
                continue
            text = json.dumps(value, sort_keys=True)
            if first.setdefault(key, text) != text and value is not None:
                varied.add(key)
            kinds[key] = _wider(kinds.get(key), _arrow_type(value))
        if ok:
            outputs.update(dict.fromkeys(_final(run_dir)))
    found.varied = {key: kinds[key] or pa.string() for key in first if key in varied}
    ordered = [*(name for name in OUTPUTS if name in outputs), *outputs]  # the model's order
    found.outputs = [name for name in dict.fromkeys(ordered)
                     if name not in IDENTITY and name not in varied]
    return found


def _identity(run_dir: Path, status: dict[str, Any], found: Survey) -> dict[str, Any]:
    row = {"run": run_dir.name, "config_hash": status.get("config_hash"),
           "status": status.get("status")}
    row.update({key: status.get(key) for key in ("scenario", "ics", "seed", "weeks")})
    parameters = status.get("parameters", {})
    row.update({key: _cell(parameters.get(key), kind) for key, kind in found.varied.items()})
    return row


class _RowGroups:
    """A Parquet file written in row groups of at least ``rows`` rows."""

    def __init__(self, path: str, schema: pa.Schema, rows: int):
        self.schema = schema
        self.rows = rows
        self.writer = pq.ParquetWriter(path, schema)
        self.pending: list[pa.Table] = []
        self.pending_records: list[dict[str, Any]] = []
        self.pending_rows = 0
        self.written = 0

    def add(self, table: pa.Table) -> None:
        self.pending.append(table)
        self._added(table.num_rows)

    def add_record(self, record: dict[str, Any]) -> None:
        self.pending_records.append(record)
        self._added(1)

    def _added(self, rows: int) -> None:
        self.pending_rows += rows
        if self.pending_rows >= self.rows:
            self.flush()

    def flush(self) -> None:
        if self.pending_records:
            self.pending.append(pa.Table.from_pylist(self.pending_records, schema=self.schema))
            self.pending_records = []
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending).combine_chunks())
            self.written += self.pending_rows
            self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns: missing ones null, extra ones dropped."""
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass
class Totals:
    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    timeseries_rows: int = 0


def _stream(found: Survey, results_path: str, timeseries_path: str, failures_path: str) -> Totals:
    """Second pass: read each run once and append it to the three tables."""
    id_fields = [pa.field(k, t) for k, t in IDENTITY.items()]
    varied_fields = [pa.field(k, t) for k, t in found.varied.items()]
    output_fields = [pa.field(name, pa.float64()) for name in found.outputs]
    results_schema = pa.schema([*id_fields, *varied_fields, *output_fields,
                                pa.field("error_type", pa.string())])
    results = _RowGroups(results_path, results_schema, RESULT_ROWS_PER_GROUP)
    timeseries: _RowGroups | None = None
    totals = Totals()
    failure_columns = [*IDENTITY, *found.varied, "error_type", "message", "traceback"]
    with open(failures_path, "w", newline="") as handle:
        failures = csv.DictWriter(handle, fieldnames=failure_columns, extrasaction="ignore")
        failures.writeheader()
        try:
            for run_dir in found.runs:
                status = read_status(run_dir)
                if status is None:  # removed since the survey
                    continue
                row = _identity(run_dir, status, found)
                totals.runs += 1
                if status.get("status") == "succeeded":
                    totals.succeeded += 1
                    final = _final(run_dir)
                    row.update({name: final.get(name) for name in found.outputs})
                    # One small file: pyarrow's thread pool costs 20 times the read itself.
                    series = pq.read_table(run_dir / TIMESERIES_FILE, use_threads=False)
                    if timeseries is None:
                        timeseries = _RowGroups(timeseries_path,
                                                _timeseries_schema(series, found),
                                                TIMESERIES_ROWS_PER_GROUP)
                    timeseries.add(_with_identity(series, row, timeseries.schema))
                else:
                    totals.failed += 1
                    row["error_type"] = status.get("error_type")
                    failures.writerow({**row, "message": status.get("message"),
                                       "traceback": status.get("traceback")})
                results.add_record(row)
        finally:
            results.close()
            if timeseries is None:  # no run succeeded: an empty table with the identity columns
                timeseries = _RowGroups(timeseries_path, _timeseries_schema(None, found), 1)
            timeseries.close()
            totals.timeseries_rows = timeseries.written
    return totals


def _timeseries_schema(series: pa.Table | None, found: Survey) -> pa.Schema:
    identity = [pa.field(k, t) for k, t in IDENTITY.items() if k not in ("status", "weeks")]
    varied = [pa.field(k, t) for k, t in found.varied.items()]
    own = list(series.schema) if series is not None else [pa.field("week", pa.int64())]
    taken = {f.name for f in identity + varied}
    return pa.schema(identity + varied + [f for f in own if f.name not in taken])


def _with_identity(series: pa.Table, row: dict[str, Any], schema: pa.Schema) -> pa.Table:
    constant = {name: row.get(name) for name in schema.names if name not in series.column_names}
    columns = {name: pa.array([value] * series.num_rows, schema.field(name).type)
               for name, value in constant.items()}
    for name in series.column_names:
        columns[name] = series.column(name)
    return _conform(pa.table(columns), schema)


def _write_together(paths: list[Path], write: Callable[..., Totals]) -> Totals:
    """Write several files atomically: ``write(tmp_1, ..., tmp_n)``, then rename each."""
    totals: list[Totals] = []

    def nest(remaining: list[Path], temporaries: tuple[str, ...]) -> None:
        if not remaining:
            totals.append(write(*temporaries))
            return
        write_streamed(remaining[0], lambda tmp: nest(remaining[1:], (*temporaries, tmp)))

    nest(paths, ())
    return totals[0]


def aggregate(sweep_dir: Path) -> tuple[Survey, Totals]:
    """Write ``results.parquet``, ``timeseries.parquet`` and ``failures.csv`` in ``sweep_dir``."""
    sweep_dir = Path(sweep_dir)
    found = survey(sweep_dir)
    totals = _write_together(
        [sweep_dir / RESULTS_FILE, sweep_dir / SWEEP_TIMESERIES_FILE, sweep_dir / FAILURES_FILE],
        lambda results, series, failures: _stream(found, results, series, failures))
    return found, totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="slsim-aggregate",
        description="Collect the runs of an `slsim -m` sweep into results.parquet (one row per "
                    "run), timeseries.parquet (one row per run and week) and failures.csv.")
    parser.add_argument("sweep_dir", type=Path, help="the sweep's folder (its hydra.sweep.dir)")
    args = parser.parse_args(argv)
    try:
        found, totals = aggregate(args.sweep_dir)
    except FileNotFoundError as exc:
        print(f"slsim-aggregate: {exc}", file=sys.stderr)
        sys.exit(2)
    out = args.sweep_dir
    varied = ", ".join(found.varied) or "none (scenario, ics and seed are always columns)"
    print(f"{out / RESULTS_FILE}: {totals.runs} runs ({totals.succeeded} succeeded, "
          f"{totals.failed} failed); varied parameters: {varied}")
    print(f"{out / SWEEP_TIMESERIES_FILE}: {totals.timeseries_rows} rows (run x week)")
    print(f"{out / FAILURES_FILE}: {totals.failed} failures")
    if found.unfinished:
        print(f"{len(found.unfinished)} run folders have no status.json yet (running, or "
              "killed: re-run the sweep to finish them); they are not included")
    if found.duplicates:
        print(f"{len(found.duplicates)} run folders repeat a config hash already included; "
              "skipped: " + ", ".join(p.name for p in found.duplicates[:5]))
