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
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf.errors import OmegaConfBaseException

from simulation.config import CONFIG_DIR, RunConfig, build_config, to_run_config
from simulation.hydra_compat import config_loader, isolated_hydra, quoted
from simulation.layout import (
    BATCH_FILE,
    BATCHES_DIR,
    RUNS_DIR,
    SWEEP_STATUS_FILE,
    hash_of,
    run_dir_name,
    safe_name,
)
from simulation.params import ConfigError
from simulation.results_io import config_dict, config_from_dict, config_hash, write_json
from simulation.runner import FAULT_ENV, parse_fault_spec, swept_values
from simulation.sweeps import engine
from simulation.sweeps.aggregate import aggregate
from simulation.sweeps.engine import JobComposer, PlannedRun
from simulation.sweeps.worker import run_batch

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
    # Isolated: whatever Hydra state an earlier test in the process left behind is set aside
    # and restored, so the fixture never depends on the order tests run in.
    with isolated_hydra(CONFIG_DIR):
        loader = config_loader()
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


def test_each_group_choice_is_validated_once_and_every_job_matches_a_full_composition(
        composer, monkeypatch):
    """The full-composition cross-check, job by job: the quick path validates each choice of
    config groups once, then only sets each job's typed values."""
    validated = []
    monkeypatch.setattr(engine, "to_run_config",
                        lambda cfg: validated.append(1) or to_run_config(cfg))
    jobs = [[f"scenario={scenario}", f"seed={seed}", f"model.support={support}", "weeks=7",
             "population.stage_shares=[0.5,0.3,0.2]", "network.cross_org_degree=2"]
            for scenario in ("baseline", other_scenario()) for seed in range(4)
            for support in (0, 0.45)]  # 0: an integer Hydra gives, the schema's float
    for job in jobs:
        assert config_hash(composer(job)) == config_hash(composer.compose_in_full(job)), job
    assert not composer.in_full
    # one validation of each choice, one of the full composition that checks its first job,
    # and those of the compose_in_full calls above
    assert len(validated) == 2 * 2 + len(jobs)
    assert isinstance(composer(jobs[1]).model.support, float)
    for job in (["scenario=baseline", "seed=-1"], ["scenario=baseline", "model.support=2"],
                ["scenario=baseline", "weeks=many"], ["scenario=baseline", "model.nothing=1"]):
        with pytest.raises((ConfigError, HydraException, OmegaConfBaseException)) as raised:
            composer(job)
        assert job[1].split("=")[0].split(".")[-1] in str(raised.value), job


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
    grid = ("seed=range(0,4)", *TINY, "hydra.sweeper.runs_per_job=1")
    killed = slsim_sweep(out, *grid, launcher="basic", faults="kill=2")
    assert killed.returncode != 0
    assert sum((d / "status.json").exists() for d in run_folders(out)) == 2
    resumed = slsim_sweep(out, *grid, launcher="basic")
    assert resumed.returncode == 0
    assert "2 to run, 2 skipped" in resumed.stdout


# --- Batches: many runs per launcher job ----------------------------------------------------------

@pytest.mark.parametrize("launcher", ["joblib", "basic"])
def test_batched_sweep_killed_mid_batch_resumes_to_the_unbatched_results(tmp_path, launcher):
    """Batches of 3: the run of seed 4 kills its worker (joblib) or the sweep itself (basic)
    after seed 3, the first of its batch, has finished. Re-running completes the sweep, and its
    tables equal those of an uninterrupted sweep of one run per job."""
    grid = ("seed=range(0,6)", *TINY)
    reference = tmp_path / "reference"
    assert slsim_sweep(reference, *grid, "hydra.sweeper.runs_per_job=1").returncode == 0

    out = tmp_path / "batched"
    batched = (*grid, "hydra.sweeper.runs_per_job=3")
    killed = slsim_sweep(out, *batched, launcher=launcher, faults="kill=4")
    assert killed.returncode != 0
    finished = {json.loads((d / "status.json").read_text())["seed"]
                for d in run_folders(out) if (d / "status.json").exists()}
    assert 3 in finished and not finished & {4, 5}  # killed part-way through its batch
    assert len(list((out / BATCHES_DIR).glob(f"*/{BATCH_FILE}"))) == 2

    resumed = slsim_sweep(out, *batched, launcher=launcher)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{6 - len(finished)} to run, {len(finished)} skipped" in resumed.stdout
    assert "6 of 6 runs succeeded" in final_line(resumed)
    assert [d.name for d in run_folders(out)] == [d.name for d in run_folders(reference)]
    assert not list(out.rglob("*.tmp"))
    for ours, theirs in zip(tables(out), tables(reference), strict=True):
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)


def test_runs_per_job_default_gives_every_core_jobs_and_caps_a_batch():
    assert engine.runs_per_job(6, None, workers=2) == 1
    assert engine.runs_per_job(100, None, workers=2) == 13
    assert engine.runs_per_job(1000, None, workers=2) == engine.MAX_RUNS_PER_JOB
    assert engine.runs_per_job(1000, 50, workers=2) == 50
    assert engine.runs_per_job(0, None, workers=2) == 1


def test_a_batch_runs_what_it_lists_skips_what_is_done_and_records_a_bad_config(tmp_path):
    configs = [build_config(ics="small_ics", weeks=2, seed=seed) for seed in range(3)]
    runs = [PlannedRun([f"seed={c.seed}"], config_hash(c),
                       tmp_path / RUNS_DIR / run_dir_name([f"seed={c.seed}"], config_hash(c)),
                       config=c) for c in configs]
    (job,) = engine.batch_jobs(tmp_path, runs, per_job=3, plot=False)
    batch_file = next((tmp_path / BATCHES_DIR).glob(f"*/{BATCH_FILE}"))
    assert f"hydra.sweep.subdir={BATCHES_DIR}/{batch_file.parent.name}" in job
    assert f"+hydra.job.env_set.{engine.BATCH_ENV}={batch_file.parent.name}" in job
    assert job[0] == "seed=0"

    assert run_batch(batch_file, tmp_path) == ["succeeded"] * 3
    first = (runs[0].run_dir / "summary.json").stat().st_mtime_ns
    batch = json.loads(batch_file.read_text())
    batch["runs"][2]["config"]["model"]["support"] = 0.99  # no longer the planned config
    write_json(batch_file, batch)
    for run in runs[1:]:
        (run.run_dir / "status.json").unlink()
    assert run_batch(batch_file, tmp_path) == ["succeeded", "succeeded", "failed"]
    assert (runs[0].run_dir / "summary.json").stat().st_mtime_ns == first  # left as it was
    status = json.loads((runs[2].run_dir / "status.json").read_text())
    assert status["error_type"] == "ConfigError" and "not " + runs[2].config_hash in \
        status["message"]


def test_a_config_survives_its_trip_through_plain_data():
    for ics, scenario in (("small_ics", other_scenario()), ("default_ics", "baseline")):
        config = build_config(ics=ics, scenario=scenario, seed=9, support=0.25)
        rebuilt = config_from_dict(RunConfig, json.loads(json.dumps(config_dict(config))))
        assert rebuilt == config and config_hash(rebuilt) == config_hash(config)
        assert type(rebuilt.ics.organisations[0]) is type(config.ics.organisations[0])


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
    done = slsim_sweep(out, "seed=0,1", *TINY, "hydra.sweeper.runs_per_job=1")
    assert done.returncode == 0, done.stderr
    return _run_outputs(out)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "ray", "submitit_local"])
def test_same_run_hash_and_results_under_every_launcher(tmp_path, launcher, joblib_reference):
    """Both runs in one batch (one Ray task, one submitit array task), against one run a job."""
    out = tmp_path / launcher
    done = slsim_sweep(out, "seed=0,1", *TINY, "hydra.sweeper.runs_per_job=2",
                       launcher=launcher)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 runs succeeded" in final_line(done)
    assert len(list((out / BATCHES_DIR).glob(f"*/{BATCH_FILE}"))) == 1
    outputs = _run_outputs(out)
    assert outputs.keys() == joblib_reference.keys()  # folder names carry the config hash
    for name, frame in outputs.items():
        pd.testing.assert_frame_equal(frame, joblib_reference[name], check_exact=True)


def test_posterior_draws_compose_quickly_as_hydra_does(composer):
    """draw=K changes what the calibrated config's interpolations resolve to: the quick path
    re-reads them per job, and an explicit override of a fitted parameter still wins."""
    from simulation.posterior import posterior

    fitted = posterior().parameters[0]
    jobs = [["ics=small_ics", f"draw={k}", "seed=1"] for k in range(4)]
    jobs += [["ics=small_ics", f"draw={k}", f"{fitted}=0.25"] for k in range(3)]
    jobs += [["ics=small_ics", "calibration=uncalibrated", f"seed={s}"] for s in range(2)]
    for job in jobs:
        assert config_hash(composer(job)) == config_hash(composer.compose_in_full(job)), job
    assert not composer.in_full
    draws = {composer(job).draw: composer(job) for job in jobs[:4]}
    group, name = fitted.split(".")
    assert [getattr(getattr(c, group), name) for c in draws.values()] == [
        posterior().draws[k][fitted] for k in range(4)]


def test_a_draw_becomes_its_seeds_and_its_levers_compose_quickly_as_hydra_does(composer, tmp_path):
    """seeds_per_draw=R turns a job on draw K into R runs on the draw's own seeds; the levers'
    knobs, drawn per job, match Hydra's full composition; a given seed with R > 1 is refused
    before anything runs, naming the key."""
    from simulation.posterior import draw_seed
    from simulation.sweeps.engine import SweepConfigError, plan_sweep

    jobs = [[f"scenario={s}", f"draw={k}", "ics=small_ics", "seeds_per_draw=3"]
            for s in ("baseline", "recommended_package") for k in range(2)]
    plan = plan_sweep(jobs, composer, tmp_path / "plan")
    assert plan.jobs == len(plan.runs) == 12
    seeds = {(r.config.scenario.name, r.config.draw): set() for r in plan.runs}
    for run in plan.runs:
        seeds[(run.config.scenario.name, run.config.draw)].add(run.config.seed)
        assert config_hash(run.config) == config_hash(composer.compose_in_full(run.overrides))
    assert all(found == {draw_seed(k, r) for r in range(3)} for (_, k), found in seeds.items())
    assert not composer.in_full
    assert len(plan_sweep([["draw=1", "ics=small_ics", "seed=5"]], composer,
                          tmp_path / "plan").runs) == 1  # a given seed, one seed a draw
    with pytest.raises(SweepConfigError, match="seeds_per_draw = 2 ties each draw's seeds"):
        plan_sweep([["draw=1", "seed=5", "seeds_per_draw=2"]], composer, tmp_path / "plan")
    with pytest.raises(SweepConfigError, match="seeds_per_draw = 0: allowed values are"):
        plan_sweep([["draw=1", "seeds_per_draw=0"]], composer, tmp_path / "plan")


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1)
       .filter(lambda value: not ('"' in value and "'" in value)))
def test_a_quoted_override_value_reads_back_as_itself(value):
    parser = OverridesParser.create()
    assert parser.parse_override(f"hydra.sweep.dir={quoted(value)}").value() == value
    assert parser.parse_override(f"hydra.searchpath=[{quoted(value)}]").value() == [value]


def test_a_value_with_both_quotes_is_refused_naming_the_allowed_values():
    with pytest.raises(ValueError, match="allowed values are strings without one of"):
        quoted("it's \"here\"")
