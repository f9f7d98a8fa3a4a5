"""``slsim-aggregate OUT``: collect a sweep's run folders into three tables, streaming.

* ``OUT/results.parquet``: one row per run: run folder, config hash, status, scenario, ICS, seed,
  weeks, every parameter the sweep varied, the final-week outputs, and the error type of a failure;
* ``OUT/timeseries.parquet``: one row per run and week (succeeded runs), with the same identity
  and varied-parameter columns, so ``groupby(["scenario", "week"])`` needs no join;
* ``OUT/failures.csv``: one row per failed run, with the exception type, message and traceback,
  and one per damaged run folder (error type ``DamagedRun``, the message saying what is wrong).

A separate, re-runnable step: it reads only the run folders (``OUT/runs/*/status.json`` and the
files it vouches for), so it can run while a sweep is still going (unfinished runs are counted,
not included) and gives the same tables for the same finished runs however they were launched.
A run folder is trusted only through :func:`simulation.layout.check_run`: one whose files are
damaged (truncated, empty, edited, for another config) is named in a warning, left out of the two
Parquet tables and listed in ``failures.csv``; it never stops the aggregation.
Memory stays flat as runs grow: run folders are read one at a time in two passes (the first finds
the columns) and the tables are written in row groups. No timings go in, so the tables of a sweep
are identical whether or not it was interrupted and resumed.
"""

import argparse
import csv
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..layout import (
    DAMAGED,
    FAILURES_FILE,
    RESULTS_FILE,
    RUNS_DIR,
    STATUS_FILE,
    SUCCEEDED,
    SWEEP_TIMESERIES_FILE,
    TIMESERIES_FILE,
    UNFINISHED,
    check_run,
    hash_of,
)
from ..outputs import OUTPUTS
from ..results_io import write_streamed

log = logging.getLogger(__name__)

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
DAMAGED_ERROR = "DamagedRun"  # error_type of a damaged run folder in failures.csv
DAMAGED_NAMED = 20  # damaged run folders named one by one in the warnings; the rest are counted


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
class Damage:
    """A run folder left out of the tables, and what is wrong with it."""

    run_dir: Path
    problem: str
    status: dict[str, Any] | None = None  # its status.json, when that is readable


@dataclass
class Survey:
    """What the first pass learns: which runs to read and which columns the tables have."""

    runs: list[Path] = field(default_factory=list)
    varied: dict[str, pa.DataType] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    unfinished: list[Path] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)


def run_folders(sweep_dir: Path) -> list[Path]:
    """The run folders of a sweep, in name order."""
    runs_dir = Path(sweep_dir) / RUNS_DIR
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"{runs_dir} does not exist: is {sweep_dir} a sweep folder "
                                "(the hydra.sweep.dir of an `slsim -m` sweep)?")
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and hash_of(p))


def survey(sweep_dir: Path) -> Survey:
    """First pass: finished runs (one per config hash), the varied parameters and the outputs.

    A parameter counts as varied when it takes two or more values across the runs; keys that
    only some runs set but with one value (an intervention only some scenarios have) do not.
    Damaged run folders are listed in ``damaged`` (or, when another folder holds the same run
    intact, in ``duplicates``) and shape no column.
    """
    found = Survey()
    first: dict[str, str] = {}
    kinds: dict[str, pa.DataType | None] = {}
    varied: set[str] = set()
    outputs: dict[str, None] = {}
    kept: dict[str, tuple[int, bool]] = {}  # config hash -> (index in runs, succeeded)
    damaged: list[Damage] = []
    for run_dir in run_folders(sweep_dir):
        check = check_run(run_dir)
        if check.state == UNFINISHED:
            found.unfinished.append(run_dir)
            continue
        if check.state == DAMAGED:
            damaged.append(Damage(run_dir, check.problem, check.status))
            continue
        status = check.status
        ok = check.state == SUCCEEDED
        run_hash = status["config_hash"]  # the folder's own: check_run made sure of it
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
            outputs.update(dict.fromkeys(check.summary["final"]))
    for damage in damaged:  # a damaged copy of a run kept intact elsewhere is only a duplicate
        if hash_of(damage.run_dir) in kept:
            found.duplicates.append(damage.run_dir)
        else:
            found.damaged.append(damage)
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


def _damage_row(damage: Damage, found: Survey) -> dict[str, Any]:
    """A damaged run folder's row of ``failures.csv``: what its status.json still tells, if
    anything, and what is wrong."""
    row = _identity(damage.run_dir, damage.status or {}, found)
    row.update({"config_hash": hash_of(damage.run_dir), "status": DAMAGED,
                "error_type": DAMAGED_ERROR, "message": damage.problem})
    return row


def _stream(found: Survey, results_path: str, timeseries_path: str, failures_path: str) -> Totals:
    """Second pass: read each run once and append it to the three tables.

    A run that turns out damaged now (changed since the survey, or a time series whose data, not
    only its footer, is broken) joins ``found.damaged``; the damaged runs go to failures.csv.
    """
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
                check = check_run(run_dir)
                if check.state == UNFINISHED:  # its status.json was removed since the survey
                    continue
                if check.state == DAMAGED:
                    found.damaged.append(Damage(run_dir, check.problem, check.status))
                    continue
                status = check.status
                row = _identity(run_dir, status, found)
                if check.state == SUCCEEDED:
                    final = check.summary["final"]
                    row.update({name: final.get(name) for name in found.outputs})
                    try:
                        # One small file: pyarrow's thread pool costs 20 times the read itself.
                        series = pq.read_table(run_dir / TIMESERIES_FILE, use_threads=False)
                        if timeseries is None:
                            timeseries = _RowGroups(timeseries_path,
                                                    _timeseries_schema(series, found),
                                                    TIMESERIES_ROWS_PER_GROUP)
                        rows = _with_identity(series, row, timeseries.schema)
                    except (OSError, ValueError, pa.ArrowException) as exc:
                        found.damaged.append(Damage(
                            run_dir, f"{TIMESERIES_FILE} cannot be read ({exc})", status))
                        continue
                    timeseries.add(rows)
                    totals.succeeded += 1
                else:
                    totals.failed += 1
                    row["error_type"] = status.get("error_type")
                    failures.writerow({**row, "message": status.get("message"),
                                       "traceback": status.get("traceback")})
                totals.runs += 1
                results.add_record(row)
            for damage in found.damaged:
                failures.writerow(_damage_row(damage, found))
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
    """Write ``results.parquet``, ``timeseries.parquet`` and ``failures.csv`` in ``sweep_dir``.

    Each damaged run folder is named in a warning (the first few one by one), left out of the
    Parquet tables and listed in ``failures.csv``.
    """
    sweep_dir = Path(sweep_dir)
    found = survey(sweep_dir)
    totals = _write_together(
        [sweep_dir / RESULTS_FILE, sweep_dir / SWEEP_TIMESERIES_FILE, sweep_dir / FAILURES_FILE],
        lambda results, series, failures: _stream(found, results, series, failures))
    for damage in found.damaged[:DAMAGED_NAMED]:
        log.warning("damaged run folder left out of the tables: %s: %s", damage.run_dir,
                    damage.problem)
    if len(found.damaged) > DAMAGED_NAMED:
        log.warning("... and %d more damaged run folders", len(found.damaged) - DAMAGED_NAMED)
    if found.damaged:
        log.warning("%d damaged run folders are listed in %s (error type %s); re-run the sweep "
                    "command into %s to run them again", len(found.damaged),
                    sweep_dir / FAILURES_FILE, DAMAGED_ERROR, sweep_dir)
    return found, totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="slsim-aggregate",
        description=f"Collect the runs of an `slsim -m` sweep into {RESULTS_FILE} (one row per "
                    f"run), {SWEEP_TIMESERIES_FILE} (one row per run and week) and "
                    f"{FAILURES_FILE}. Exits with 1 if run folders are damaged and no run is "
                    "left to tabulate.")
    parser.add_argument("sweep_dir", type=Path, help="the sweep's folder (its hydra.sweep.dir)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="slsim-aggregate: %(message)s")  # the damaged-folder warnings
    try:
        found, totals = aggregate(args.sweep_dir)
    except OSError as exc:  # no such sweep folder, or one that cannot be written
        print(f"slsim-aggregate: {exc}", file=sys.stderr)
        sys.exit(2)
    out = args.sweep_dir
    varied = ", ".join(found.varied) or "none (scenario, ics and seed are always columns)"
    print(f"{out / RESULTS_FILE}: {totals.runs} runs ({totals.succeeded} succeeded, "
          f"{totals.failed} failed); varied parameters: {varied}")
    print(f"{out / SWEEP_TIMESERIES_FILE}: {totals.timeseries_rows} rows (run x week)")
    damaged = f" and {len(found.damaged)} damaged run folders" if found.damaged else ""
    print(f"{out / FAILURES_FILE}: {totals.failed} failures{damaged}")
    if found.unfinished:
        print(f"{len(found.unfinished)} run folders have no {STATUS_FILE} yet (running, or "
              "killed: re-run the sweep to finish them); they are not included")
    if found.duplicates:
        print(f"{len(found.duplicates)} run folders repeat a config hash already included; "
              "skipped: " + ", ".join(p.name for p in found.duplicates[:5]))
    if found.damaged and totals.runs == 0:
        print(f"slsim-aggregate: nothing usable in {out}: every finished run folder is damaged "
              f"(see {out / FAILURES_FILE})", file=sys.stderr)
        sys.exit(1)
