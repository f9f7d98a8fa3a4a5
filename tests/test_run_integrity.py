"""Results that cannot trip a resume: damaged run folders are found, named, re-run, left out.

A real `slsim -m` sweep, then files of its run folders damaged the ways disks and people damage
them (truncated, emptied, the wrong JSON type, another run's config hash, a time series of the
wrong length, a missing file, an unreadable status.json). Then `slsim-aggregate` and
`slsim-compare` name each damaged folder, leave it out of the tables and list it in
failures.csv, without a traceback; re-running the sweep runs exactly those runs again and gives
the tables of a sweep that was never damaged.
"""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_sweeps import BIN, TINY, final_line, other_scenario, slsim_sweep

from simulation.config import compose, to_run_config
from simulation.layout import (
    BREAKDOWN_FILE,
    DAMAGED,
    FAILURES_FILE,
    METRICS_FIGURE,
    RESULTS_FILE,
    RUNS_DIR,
    STATUS_FILE,
    SUCCEEDED,
    SUMMARY_FILE,
    SWEEP_TIMESERIES_FILE,
    TIMESERIES_FILE,
    check_run,
    run_dir_name,
)
from simulation.results_io import config_hash
from simulation.runner import run_one
from simulation.sweeps.aggregate import DAMAGED_ERROR, aggregate

SEEDS = 9
OTHER_HASH = "0" * 16


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def json_list(path: Path) -> None:
    path.write_text("[1, 2, 3]\n")


def another_runs_hash(path: Path) -> None:
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "config_hash": OTHER_HASH}))


def two_weeks_only(path: Path) -> None:
    pq.write_table(pq.read_table(path).slice(0, 2), path)


def remove(path: Path) -> None:
    path.unlink()


# Each damage, the file it hits, and what the complaint about it says (weeks=4: 5 rows).
DAMAGES: list[tuple[str, Callable[[Path], None], str]] = [
    (SUMMARY_FILE, truncate, "summary.json is not valid JSON"),
    (SUMMARY_FILE, empty, "summary.json is empty"),
    (SUMMARY_FILE, json_list, "summary.json holds a JSON list, not an object"),
    (SUMMARY_FILE, another_runs_hash, f"summary.json is for config hash {OTHER_HASH}, not"),
    (TIMESERIES_FILE, truncate, "timeseries.parquet is not a readable Parquet file"),
    (TIMESERIES_FILE, empty, "timeseries.parquet is not a readable Parquet file"),
    (TIMESERIES_FILE, two_weeks_only, "timeseries.parquet has 2 rows, not weeks + 1 = 5"),
    (BREAKDOWN_FILE, remove, "breakdown.parquet is missing"),
    (STATUS_FILE, truncate, "status.json is not valid JSON"),
    (STATUS_FILE, empty, "status.json is empty"),
    (STATUS_FILE, json_list, "status.json holds a JSON list, not an object"),
    (STATUS_FILE, another_runs_hash, f"status.json is for config hash {OTHER_HASH}, not"),
]


def grid() -> tuple[str, ...]:
    return (f"scenario=baseline,{other_scenario()}", f"seed=range(0,{SEEDS})", *TINY)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """An undamaged sweep of 2 scenarios x 9 seeds (no aggregated tables in it)."""
    out = tmp_path_factory.mktemp("integrity") / "pristine"
    done = slsim_sweep(out, *grid())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def reference_tables(pristine, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The tables of the undamaged sweep."""
    out = tmp_path_factory.mktemp("integrity") / "reference"
    shutil.copytree(pristine, out)
    aggregate(out)
    return read_tables(out)


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    return {RESULTS_FILE: pd.read_parquet(out / RESULTS_FILE),
            SWEEP_TIMESERIES_FILE: pd.read_parquet(out / SWEEP_TIMESERIES_FILE),
            FAILURES_FILE: pd.read_csv(out / FAILURES_FILE)}


def damaged_copy(pristine: Path, out: Path) -> dict[str, str]:
    """Copy the sweep to ``out`` and damage one run folder per entry of DAMAGES, both scenarios
    of a seed at a time (so the intact seeds still pair up); returns {folder: complaint}."""
    shutil.copytree(pristine, out)
    folders = sorted((out / RUNS_DIR).iterdir(),
                     key=lambda d: (json.loads((d / STATUS_FILE).read_text())["seed"], d.name))
    expected = {}
    for folder, (name, damage, complaint) in zip(folders, DAMAGES, strict=False):
        damage(folder / name)
        expected[folder.name] = complaint
    return expected


def test_check_run_names_what_is_wrong(pristine, tmp_path):
    expected = damaged_copy(pristine, tmp_path / "sweep")
    for folder in sorted((tmp_path / "sweep" / RUNS_DIR).iterdir()):
        check = check_run(folder)
        if folder.name in expected:
            assert check.state == DAMAGED, folder.name
            assert expected[folder.name] in check.problem, (check.problem, folder.name)
        else:
            assert check.state == SUCCEEDED, (folder.name, check.problem)


def test_metrics_figure_is_required_only_when_it_was_drawn(tmp_path):
    config = to_run_config(compose(["ics=small_ics", "weeks=2"]))
    plotted = tmp_path / run_dir_name(["weeks=2"], config_hash(config))
    run_one(config, plotted, plot=True)
    assert check_run(plotted).state == SUCCEEDED
    (plotted / METRICS_FIGURE).unlink()
    check = check_run(plotted)
    assert check.state == DAMAGED and check.problem == "metrics.png is missing"

    unplotted = tmp_path / "unplotted" / plotted.name
    run_one(config, unplotted, plot=False)
    assert not (unplotted / METRICS_FIGURE).exists()
    assert check_run(unplotted).state == SUCCEEDED


def test_aggregate_names_and_counts_damaged_folders(pristine, tmp_path):
    out = tmp_path / "sweep"
    expected = damaged_copy(pristine, out)
    done = subprocess.run([str(BIN / "slsim-aggregate"), str(out)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for folder, complaint in expected.items():
        line = next(line for line in done.stderr.splitlines() if folder in line)
        assert "damaged run folder" in line and complaint in line
    intact = 2 * SEEDS - len(DAMAGES)
    assert f"{intact} runs ({intact} succeeded, 0 failed)" in done.stdout
    assert f"0 failures and {len(DAMAGES)} damaged run folders" in done.stdout

    tables = read_tables(out)
    assert len(tables[RESULTS_FILE]) == intact
    assert not set(tables[RESULTS_FILE]["run"]) & set(expected)
    assert len(tables[SWEEP_TIMESERIES_FILE]) == intact * 5
    failures = tables[FAILURES_FILE].set_index("run")
    assert set(failures.index) == set(expected)
    assert (failures["error_type"] == DAMAGED_ERROR).all()
    assert (failures["status"] == DAMAGED).all()
    for folder, complaint in expected.items():
        assert complaint in failures.loc[folder, "message"]


def test_compare_leaves_damaged_folders_out(pristine, tmp_path):
    out = tmp_path / "sweep"
    expected = damaged_copy(pristine, out)
    done = subprocess.run([str(BIN / "slsim-compare"), str(out)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert all(folder in done.stderr for folder in expected)
    assert len(pd.read_csv(out / FAILURES_FILE)) == len(DAMAGES)


def test_nothing_usable_left_is_an_error_not_a_traceback(pristine, tmp_path):
    out = tmp_path / "sweep"
    expected = damaged_copy(pristine, out)
    for folder in (out / RUNS_DIR).iterdir():
        if folder.name not in expected:
            shutil.rmtree(folder)
    done = subprocess.run([str(BIN / "slsim-aggregate"), str(out)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"nothing usable in {out}" in done.stderr
    assert len(pd.read_csv(out / FAILURES_FILE)) == len(DAMAGES)
    assert pd.read_parquet(out / RESULTS_FILE).empty

    compared = subprocess.run([str(BIN / "slsim-compare"), str(out)], capture_output=True,
                              text=True, timeout=300, check=False)
    assert compared.returncode != 0 and "Traceback" not in compared.stderr
    assert "no succeeded runs" in compared.stderr


def test_resume_runs_the_damaged_runs_again(pristine, reference_tables, tmp_path):
    """Even with retry_failed=false: a damaged folder holds no result to keep."""
    out = tmp_path / "sweep"
    expected = damaged_copy(pristine, out)
    resumed = slsim_sweep(out, *grid(), "hydra.sweeper.retry_failed=false")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    damaged = len(DAMAGES)
    assert (f"{damaged} to run ({damaged} of them damaged), {2 * SEEDS - damaged} skipped"
            in resumed.stdout)
    for folder, complaint in expected.items():
        line = next(line for line in resumed.stdout.splitlines() if folder in line)
        assert "is damaged" in line and complaint in line and "will run again" in line
    assert (f"{2 * SEEDS} of {2 * SEEDS} runs succeeded ({damaged} run now"
            in final_line(resumed))
    assert all(check_run(d).state == SUCCEEDED for d in (out / RUNS_DIR).iterdir())

    aggregate(out)
    for name, table in read_tables(out).items():
        pd.testing.assert_frame_equal(table, reference_tables[name], check_exact=True)
