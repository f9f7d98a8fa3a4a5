"""Sweeps: fault tolerance, resume, validation, path safety, launchers, aggregation.

The sweeps run the real ``slsim -m`` command in a subprocess (as a user would), on tiny
``small_ics`` runs of a few weeks. Faults come from the documented test-only knob
``SLSIM_FAULT_INJECT`` (docs/sweeps.md).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from hydra.types import RunMode

from simulation.config import CONFIG_DIR
from simulation.layout import RUNS_DIR, SWEEP_STATUS_FILE, hash_of, run_dir_name, safe_name
from simulation.params import ConfigError
from simulation.results_io import config_hash
from simulation.runner import FAULT_ENV, parse_fault_spec, swept_values
from simulation.sweeps.aggregate import aggregate
from simulation.sweeps.engine import JobComposer

BIN = Path(sys.executable).parent
TINY = ("ics=small_ics", "weeks=4")


def slsim_sweep(out: Path, *overrides: str, launcher: str = "joblib",
                faults: str | None = None, timeout: float = 600,
                env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Run ``slsim -m OVERRIDES`` into ``out``; returns the finished process (text output).

    ``env`` sets environment variables of the sweep (a value of None removes one)."""
    environment = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if faults:
        environment[FAULT_ENV] = faults
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    command = [str(BIN / "slsim"), "-m", *overrides, f"hydra.sweep.dir={out}",
               f"hydra/launcher={launcher}"]
    if launcher == "joblib":
        command.append("hydra.launcher.n_jobs=2")
    joins_cluster = any(o.startswith("hydra.launcher.ray.init.address=") for o in overrides)
    if launcher == "ray" and not joins_cluster:  # a local instance of two CPUs
        command.append("hydra.launcher.ray.init.num_cpus=2")
    return subprocess.run(command, capture_output=True, text=True, env=environment,
                          cwd=out.parent, timeout=timeout, check=False)


def final_line(process: subprocess.CompletedProcess) -> str:
    return process.stdout.strip().splitlines()[-1]


def sweep_status(out: Path) -> dict:
    return json.loads((out / SWEEP_STATUS_FILE).read_text())


def run_folders(out: Path) -> list[Path]:
    return sorted((out / RUNS_DIR).iterdir())


def tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    aggregate(out)
    return (pd.read_parquet(out / "results.parquet"), pd.read_parquet(out / "timeseries.parquet"),
            pd.read_csv(out / "failures.csv"))


def other_scenario() -> str:
    names = sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml") if p.stem != "baseline")
    return names[0]


# --- Units ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["../../etc/passwd", "a/b", "..", ".hidden", "x" * 500, "", "$X"])
def test_safe_name_stays_inside_its_folder(text):
    name = safe_name(text)
    assert name and "/" not in name and ".." not in name and not name.startswith(".")
    assert len(name) <= 100 and "$" not in name


def test_run_folder_names_are_found_by_hash():
    name = run_dir_name(["scenario=../x", "seed=3"], "0123456789abcdef")
    assert name == "scenario=_x,seed=3-0123456789abcdef"
    assert hash_of(Path(name)) == "0123456789abcdef"
    assert hash_of(Path("not-a-run")) is None


def test_one_run_does_not_depend_on_the_sweep_layer():
    """Model core <- one run (runner) <- sweeps <- analysis: importing the runner loads no sweep
    or analysis module."""
    probe = ("import sys, simulation.runner; print(' '.join(m for m in sys.modules "
             "if m.startswith(('simulation.sweeps', 'simulation.analysis', 'hydra_plugins'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == ""


def test_fault_spec():
    assert parse_fault_spec("raise=3,7; kill=5") == {"raise": {3, 7}, "kill": {5}}
    for bad in ("explode=3", "raise=", "raise=a"):
        with pytest.raises(ValueError, match=FAULT_ENV):
            parse_fault_spec(bad)


def test_swept_values_resolve_overrides():
    data = {"scenario": {"name": "baseline", "interventions": {}}, "seed": 4,
            "model": {"support": 0.5}, "population": {"stage_shares": [0.4, 0.35, 0.25]}}
    values = swept_values(data, ["scenario=baseline", "seed=4", "+model.support=0.5",
                                 "population.stage_shares=[0.4,0.35,0.25]", "nothing.here=1"])
    assert values == {"scenario": "baseline", "seed": 4, "model.support": 0.5,
                      "population.stage_shares": "[0.4, 0.35, 0.25]", "nothing.here": None}


@pytest.fixture
def composer():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", ["hydra.mode=MULTIRUN"],
                                           run_mode=RunMode.MULTIRUN)
        yield JobComposer(loader, master)


@pytest.mark.parametrize("job", [
    ["seed=3", "ics=small_ics", "scenario=protected_time", "model.support=0.45",
     "scenario.interventions.protected_time.extra_hours=6",
     "population.stage_shares=[0.5,0.3,0.2]"],
    ["scenario=protected_time", "~scenario.interventions.protected_time", "weeks=10"],
    ["+scenario.interventions.coached={kind: coaching_support, coverage: 0.5}", "seed=1"],
    ["ics=default_ics", "network.cross_org_degree=2"],
])
def test_quick_composition_matches_hydra(composer, job):
    assert config_hash(composer(job)) == config_hash(composer.compose_in_full(job))
    assert not composer.in_full


def test_quick_composition_rejects_what_hydra_rejects(composer):
    for job in (["model.no_such_knob=1"], ["model.support=2"], ["seed=x"], ["ics=nowhere"]):
        with pytest.raises((ConfigError, HydraException)):
            composer(job)


# --- Failures, resume, kill -----------------------------------------------------------------------

def test_failing_runs_are_recorded_and_retried(tmp_path):
    """40 runs, 4 raising: 36 results and 4 failure records; re-running runs only those 4."""
    out = tmp_path / "sweep"
    grid = (f"scenario=baseline,{other_scenario()}", "seed=range(0,20)", *TINY)
    first = slsim_sweep(out, *grid, "hydra.sweeper.progress_interval=0", faults="raise=3,11")
    assert first.returncode == 1, first.stderr
    assert "36 of 40 runs succeeded" in final_line(first)
    assert "4 failed, 0 did not finish" in final_line(first)
    progress = [line for line in first.stdout.splitlines() if "progress:" in line]
    assert progress and "skipped" in progress[-1] and "ETA" in progress[-1]
    assert "40/40 runs finished (36 succeeded, 4 failed)" in progress[-1]
    assert first.stdout.count("run failed:") == 4
    assert sweep_status(out)["failed"] == 4

    results, series, failures = tables(out)
    assert len(results) == 40 and results["config_hash"].is_unique
    assert (results["status"] == "succeeded").sum() == 36
    assert sorted(results.loc[results["status"] == "failed", "seed"]) == [3, 3, 11, 11]
    assert len(failures) == 4 and set(failures["error_type"]) == {"InjectedFault"}
    assert failures["traceback"].str.contains("inject_fault").all()
    assert len(series) == 36 * 5 and set(series["week"]) == set(range(5))
    assert set(results["scenario"]) == {"baseline", other_scenario()}

    second = slsim_sweep(out, *grid)
    assert second.returncode == 0, second.stderr
    assert "4 to run, 36 skipped" in second.stdout
    assert "40 of 40 runs succeeded (4 run now, 36 skipped as already done), 0 failed" \
        in final_line(second)
    results, series, failures = tables(out)
    assert (results["status"] == "succeeded").all() and len(results) == 40
    assert len(failures) == 0 and len(series) == 40 * 5
    assert len(list(out.glob(f"{RUNS_DIR}/*/status.previous.json"))) == 4


def test_killed_worker_then_rerun_matches_uninterrupted_sweep(tmp_path):
    grid = ("seed=range(0,4)", "model.support=0.2,0.6", *TINY)
    reference = tmp_path / "reference"
    assert slsim_sweep(reference, *grid).returncode == 0

    out = tmp_path / "killed"
    killed = slsim_sweep(out, *grid, faults="kill=2")
    assert killed.returncode == 1
    status = sweep_status(out)
    assert status["unfinished"] >= 1 and status["launcher_errors"]
    assert "did not finish" in final_line(killed)

    resumed = slsim_sweep(out, *grid)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{status['succeeded']} skipped" in resumed.stdout
    assert len(run_folders(out)) == 8  # no duplicates
    assert not list(out.rglob("*.tmp"))

    for ours, theirs in zip(tables(out), tables(reference), strict=True):
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    results = pd.read_parquet(out / "results.parquet")
    assert "model.support" in results.columns and set(results["model.support"]) == {0.2, 0.6}

    (out / RUNS_DIR / "unfinished-0123456789abcdef").mkdir()  # e.g. a run still going
    found, totals = aggregate(out)
    assert len(found.unfinished) == 1 and totals.runs == 8


def test_interrupted_basic_sweep_resumes(tmp_path):
    """The basic launcher runs jobs in the sweep process: killing it kills the whole sweep."""
    out = tmp_path / "sweep"
    grid = ("seed=range(0,4)", *TINY)
    killed = slsim_sweep(out, *grid, launcher="basic", faults="kill=2")
    assert killed.returncode != 0
    assert sum((d / "status.json").exists() for d in run_folders(out)) == 2
    resumed = slsim_sweep(out, *grid, launcher="basic")
    assert resumed.returncode == 0
    assert "2 to run, 2 skipped" in resumed.stdout


# --- Validation and path safety -------------------------------------------------------------------

def test_bad_overrides_are_rejected_before_any_run(tmp_path):
    out = tmp_path / "sweep"
    bad = slsim_sweep(out, "model.bureaucracy_load=0.5,1.5", "weeks=3,many", "seed=0,1", *TINY[:1])
    assert bad.returncode == 2
    assert "model.bureaucracy_load = 1.5 is outside the allowed range [0.0, 1.0]" in bad.stderr
    assert "weeks" in bad.stderr and "many" in bad.stderr
    assert "nothing was run" in bad.stderr
    assert not (out / RUNS_DIR).exists()

    unknown = slsim_sweep(out, "model.no_such_knob=1,2", *TINY)
    assert unknown.returncode == 2
    assert "model.no_such_knob" in unknown.stderr
    assert not (out / RUNS_DIR).exists()


def test_paths_stay_inside_the_sweep_folder(tmp_path):
    out = tmp_path / "sweep"
    done = slsim_sweep(out, "scenario.name=../../escape,a/b", "seed=0,0", "weeks=2",
                       "ics=small_ics", launcher="basic")
    assert done.returncode == 0, done.stderr
    assert "2 duplicate jobs merged" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]
    folders = run_folders(out)
    assert len(folders) == 2
    for folder in folders:
        assert folder.parent == out / RUNS_DIR and ".." not in folder.name
    results, _, _ = tables(out)
    assert set(results["scenario"]) == {"../../escape", "a/b"}


# --- Launchers ------------------------------------------------------------------------------------

def _run_outputs(out: Path) -> dict[str, pd.DataFrame]:
    return {d.name: pd.read_parquet(d / "timeseries.parquet") for d in run_folders(out)}


@pytest.fixture(scope="module")
def joblib_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("launchers") / "joblib"
    done = slsim_sweep(out, "seed=0,1", *TINY)
    assert done.returncode == 0, done.stderr
    return _run_outputs(out)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "ray", "submitit_local"])
def test_same_run_hash_and_results_under_every_launcher(tmp_path, launcher, joblib_reference):
    out = tmp_path / launcher
    done = slsim_sweep(out, "seed=0,1", *TINY, launcher=launcher)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 runs succeeded" in final_line(done)
    outputs = _run_outputs(out)
    assert outputs.keys() == joblib_reference.keys()  # folder names carry the config hash
    for name, frame in outputs.items():
        pd.testing.assert_frame_equal(frame, joblib_reference[name], check_exact=True)
