"""Policy search: mixes as overrides, settings checked before any run, the Pareto front, and
`slsim-policy search` running real trials on parallel workers, killed mid-trial and resumed."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from simulation.analysis.batch import job_composer
from simulation.analysis.levers import lever_files, mix_overrides
from simulation.analysis.policy import (
    BUDGET_CONSTRAINT,
    EVALUATIONS_ATTR,
    STUDY_FILE,
    STUDY_NAME,
    PolicySettings,
    journal,
    lever_param,
    main,
    open_study,
    over_budget,
    pareto_front,
    resolve_settings,
    search_space,
)
from simulation.params import ConfigError

SEARCH = [sys.executable, "-c", "from simulation.analysis.policy import main; main()", "search"]
SMALL = ["--ics", "small_ics", "--validation-seeds", "2", "--budget", "20000",
         "--levers", "protected_time,reduce_bureaucracy", "--startup-trials", "2"]


def test_every_lever_file_entry_is_a_lever_of_the_search():
    files = lever_files()
    assert files["protected_time"] == "protected_time"
    assert {e for e, f in files.items() if f == "leadership_programme"} == {
        "programme_foundations", "programme_first_time", "programme_mid_level",
        "programme_board"}
    settings = PolicySettings()  # the search reaches every lever, derived from the files
    assert set(search_space(settings)) == {lever_param(e) for e in files}


def test_a_mix_composes_to_its_coverages():
    with job_composer() as compose:
        config = compose(["ics=small_ics", *mix_overrides(
            {"protected_time": 0.25, "programme_board": 0.4, "programme_first_time": 0.0,
             "coaching_support": 0.0})])
        empty = compose(["ics=small_ics", *mix_overrides({"protected_time": 0.0})])
    levers = config.scenario.interventions
    assert config.scenario.name == "mix"
    assert set(levers) == {"protected_time", "programme_board"}
    assert levers["protected_time"]["coverage"] == 0.25
    assert levers["programme_board"]["coverage"] == 0.4
    assert levers["programme_board"]["unit_cost"] == 12000  # the file's other knobs stay
    assert empty.scenario.name == "baseline" and not empty.scenario.interventions


def test_bad_mixes_and_settings_name_the_key():
    with pytest.raises(ConfigError, match=r"coverage\.nothing"):
        mix_overrides({"nothing": 0.2})
    with pytest.raises(ConfigError, match=r"coverage.protected_time = 1.5 is outside"):
        mix_overrides({"protected_time": 1.5})
    assert PolicySettings(ics="small_ics", seeds=2).seeds == 2
    for change, message in (
            ({"seeds": 1}, r"seeds = 1 is outside the allowed range \[2, 1000\]"),
            ({"budget": -5}, r"budget = -5 is outside"),
            ({"objective": "cost"}, r"objective = 'cost' is not one of \['sl_density'"),
            ({"ics": "mars"}, r"ics = 'mars' is not one of \[.*'small_ics'"),
            ({"levers": ["protected_time", "nope"]}, r"levers has \['nope'\]: allowed values"),
            ({"levers": []}, r"levers = \[\] must name at least one lever"),
            ({"levels": [0.01, 0.1]}, r"levels = \[0.01, 0.1\] must hold 0"),
            ({"levels": [0.0, 1.5]}, r"levels\[1\] = 1.5 is outside"),
            ({"n_jobs": 0}, r"n_jobs = 0 is outside")):
        with pytest.raises(ConfigError, match=message):
            PolicySettings(**change)


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "1"], "seeds = 1 is outside the allowed range"),
    (["--objective", "cost"], "objective = 'cost' is not one of"),
    (["--levels", "0.01,0.1"], "must hold 0"),
])
def test_the_command_line_refuses_bad_settings_before_any_run(tmp_path, capsys, argv, message):
    out = tmp_path / "study"
    with pytest.raises(SystemExit) as stop:
        main(["search", str(out), "--ics", "small_ics", *argv])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # no study, no runs
    with pytest.raises(SystemExit):
        main(["score", str(out), "nothing=0.1"])
    assert "coverage.nothing" in capsys.readouterr().err


def test_a_study_keeps_the_settings_it_started_with(tmp_path, capsys):
    out = tmp_path / "study"
    out.mkdir()
    open_study(out, PolicySettings(ics="small_ics", budget=20000))  # a study, no trial run yet
    stored = optuna.load_study(study_name=STUDY_NAME, storage=journal(out)).user_attrs["settings"]
    assert resolve_settings({}, stored).budget == 20000  # resuming needs no option repeated
    assert resolve_settings({"trials": 90, "n_jobs": 1}, stored).trials == 90
    with pytest.raises(SystemExit) as stop:
        main(["search", str(out), "--budget", "30000"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "budget = 30000.0 differs from the study already in this folder" in error
    assert not (out / "runs").exists()


def test_the_budget_constraint_and_the_pareto_front():
    assert over_budget(900.0, 1000.0) < 0  # within budget: feasible
    assert over_budget(1000.0, 1000.0) == 0
    assert over_budget(1500.0, 1000.0) == 0.5  # the overspend in shares of the budget
    trials = pd.DataFrame({"cost": [100, 200, 150, 300, 50], "gain": [5.0, 4.0, 7.0, 9.0, 1.0]})
    front = pareto_front(trials)
    assert list(front["cost"]) == [50, 100, 150, 300]
    assert list(front["gain"]) == [1.0, 5.0, 7.0, 9.0]


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(TrialState.COMPLETE,))


@pytest.mark.slow
def test_the_search_runs_trials_on_parallel_workers(tmp_path, capsys):
    out = tmp_path / "study"
    process = subprocess.run([*SEARCH, str(out), *SMALL, "--weeks", "6", "--seeds", "2",
                              "--trials", "4", "--n-jobs", "2"],
                             capture_output=True, text=True, cwd=tmp_path, timeout=600,
                             check=False)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Policy search report:" in process.stdout
    assert "worker 0: trial" in process.stderr or "worker 1: trial" in process.stderr
    study = optuna.load_study(study_name=STUDY_NAME, storage=journal(out))
    trials = completed(study)
    assert len(trials) == 4 and len(study.trials) == 4  # exactly the trials asked for
    # Warm start: each lever on its own at the top level, before TPE's trials.
    assert [t.params for t in trials[:2]] == [
        {"coverage.protected_time": 1.0, "coverage.reduce_bureaucracy": 0.0},
        {"coverage.protected_time": 0.0, "coverage.reduce_bureaucracy": 1.0}]
    evaluated = set()
    for trial in trials:
        steps = trial.user_attrs[EVALUATIONS_ATTR]
        final = steps[-1]
        assert trial.value == pytest.approx(final["gain"])
        assert trial.constraints[BUDGET_CONSTRAINT] == pytest.approx(
            over_budget(final["cost"], 20000))
        assert final["seeds"] == [0, 1]
        for earlier, later in itertools.pairwise(steps):  # over budget: scaled down
            assert not earlier["feasible"]
            used = {k: v for k, v in later["coverage"].items() if v}
            ratios = {round(v / earlier["coverage"][k], 9) for k, v in used.items()}
            assert len(ratios) == 1 and ratios.pop() < 1
        evaluated |= {step["mix_hash"] for step in steps}
    table = pd.read_csv(out / "policy" / "trials.csv")
    assert sorted(table["mix_hash"]) == sorted(evaluated)  # one row per distinct mix
    report = (out / "policy" / "report.md").read_text()
    assert "## Cost-gain Pareto front" in report and "4 trials" in report
    assert (out / "policy" / "pareto.png").read_bytes().startswith(b"\x89PNG")
    if table["feasible"].any():
        assert json.loads((out / "policy" / "validation.json").read_text())["seeds"] == [2, 3]
        assert "fresh seeds" in report
    # The study's settings serve the other commands: a mix scored on its seeds, the report.
    main(["score", str(out), "protected_time=0.05", "--n-jobs", "1"])
    assert "mix {'protected_time': 0.05}: sl_density gain" in capsys.readouterr().out
    main(["report", str(out), "--no-validation", "--out", str(tmp_path / "again")])
    assert (tmp_path / "again" / "report.md").exists()


def mix_runs(out) -> dict[str, int]:
    """Succeeded runs of mixes (not the baseline) -> when their status was written."""
    found = {}
    for status in (out / "runs").glob("*scenario.name=mix*/status.json"):
        if json.loads(status.read_text())["status"] == "succeeded":
            found[status.parent.name] = status.stat().st_mtime_ns
    return found


def running(out) -> list[int]:
    if not (out / STUDY_FILE).exists():
        return []
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=journal(out))
    except KeyError:  # the search has not created its study yet
        return []
    return [t.number for t in study.get_trials(states=(TrialState.RUNNING,))]


@pytest.mark.slow
def test_a_search_killed_mid_trial_resumes(tmp_path):
    out = tmp_path / "study"
    command = [*SEARCH, str(out), *SMALL, "--weeks", "26", "--seeds", "3", "--trials", "3",
               "--n-jobs", "1"]
    search = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    try:  # kill it once a trial is running and has finished some of its runs
        while not (running(out) and mix_runs(out)):
            assert search.poll() is None, search.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no trial started within 5 minutes"
            time.sleep(0.05)
        os.killpg(search.pid, signal.SIGKILL)
    finally:
        search.wait()
        search.stderr.close()
    killed = running(out)
    finished = mix_runs(out)
    assert killed and finished

    process = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                             timeout=600, check=False)
    assert process.returncode == 0, process.stderr[-3000:]
    assert f"Trials {killed} were killed while running" in process.stderr
    study = optuna.load_study(study_name=STUDY_NAME, storage=journal(out))
    trials = completed(study)
    assert len(trials) == 3  # the trials asked for, completed
    for number in killed:  # failed, and its mix re-run to completion
        assert study.trials[number].state == TrialState.FAIL
        assert study.trials[number].params in [t.params for t in trials]
    now = mix_runs(out)
    assert {name: now[name] for name in finished} == finished  # finished runs were not re-run
    assert "failed or were interrupted" in (out / "policy" / "report.md").read_text()


def test_a_mix_scored_over_draws_by_its_expected_net_benefit(tmp_path):
    """With draws, a mix and the baseline run on the same draws (each its own seed, tied to the
    draw) and the score is the mean paired difference in net monetary benefit, in GBP."""
    from simulation.analysis.policy import evaluate_mix
    from simulation.posterior import draw_seed

    settings = PolicySettings(ics="small_ics", weeks=6, draws=4, validation_seeds=0)
    record = evaluate_mix(settings, {"protected_time": 0.3}, tmp_path)
    assert record["objective"] == "net_benefit" and record["draws"] == [0, 3]
    assert record["gain_low"] <= record["gain"] <= record["gain_high"]
    statuses = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/status.json")]
    pairs = {(s["scenario"], s["parameters"]["draw"], s["seed"]) for s in statuses}
    assert pairs == {(scenario, k, draw_seed(k)) for scenario in ("mix", "baseline")
                     for k in range(4)}
    with pytest.raises(ConfigError, match="draws \\+ validation_seeds"):
        PolicySettings(draws=1000, validation_seeds=10)
