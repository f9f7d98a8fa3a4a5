"""Policy search: mixes as overrides, the budget rule, the Pareto front, and the Optuna sweeper
running a few real trials of `slsim-policy -m`."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from omegaconf import OmegaConf

from simulation.analysis.batch import job_composer
from simulation.analysis.levers import lever_files, mix_overrides
from simulation.analysis.policy import INFEASIBLE, PolicySettings, pareto_front, score
from simulation.config import CONFIG_DIR
from simulation.params import ConfigError


def test_every_lever_file_entry_is_a_lever():
    files = lever_files()
    assert files["protected_time"] == "protected_time"
    assert {e for e, f in files.items() if f == "leadership_programme"} == {
        "programme_foundations", "programme_first_time", "programme_mid_level",
        "programme_board"}
    config = OmegaConf.load(CONFIG_DIR / "policy" / "policy_search.yaml")
    assert set(config.coverage) == set(files)  # the search can reach every lever


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
    good = {"ics": "small_ics", "weeks": 8, "seeds": 2, "objective": "sl_density",
            "budget": 1000.0, "n_jobs": 1, "validation_seeds": 0, "coverage": {}}
    assert PolicySettings.from_config(good).seeds == 2
    for change, message in (({"seeds": 1}, "seeds = 1"), ({"budget": -5}, "budget = -5"),
                            ({"objective": "cost"}, "no better direction"),
                            ({"objective": "nope"}, "objective"), ({"color": 3}, "color")):
        with pytest.raises(ConfigError, match=message):
            PolicySettings.from_config({**good, **change})


def test_over_budget_scores_below_every_mix_within_it():
    assert score(12.5, 900.0, 1000.0) == 12.5
    assert score(-30.0, 1000.0, 1000.0) == -30.0
    worst_feasible = score(-100.0, 0.0, 1000.0)
    slightly_over = score(500.0, 1001.0, 1000.0)
    far_over = score(500.0, 3000.0, 1000.0)
    assert far_over < slightly_over < INFEASIBLE < worst_feasible


def test_pareto_front():
    trials = pd.DataFrame({"cost": [100, 200, 150, 300, 50], "gain": [5.0, 4.0, 7.0, 9.0, 1.0]})
    front = pareto_front(trials)
    assert list(front["cost"]) == [50, 100, 150, 300]
    assert list(front["gain"]) == [1.0, 5.0, 7.0, 9.0]


@pytest.mark.slow
def test_the_optuna_search_runs_a_few_trials(tmp_path):
    out = tmp_path / "search"
    command = [sys.executable, "-c", "from simulation.analysis.policy import main; main()", "-m",
               "ics=small_ics", "weeks=6", "seeds=2", "validation_seeds=2", "budget=20000",
               "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2",
               "hydra.sweeper.sampler.n_startup_trials=2", "hydra/launcher=basic",
               f"hydra.sweep.dir={out}"]
    process = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600,
                             check=False)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Policy search report:" in process.stdout
    best = OmegaConf.load(out / "optimization_results.yaml")
    assert set(best.best_params) == {f"coverage.{e}" for e in lever_files()}
    trials = pd.read_csv(out / "policy" / "trials.csv")
    assert len(list(out.glob("trials/*/trial.json"))) == 4
    assert set(trials["feasible"]) <= {True, False}
    assert (trials["seeds"].astype(str) == "[0, 1]").all()
    records = [json.loads(p.read_text()) for p in out.glob("trials/*/trial.json")]
    for record in records:
        assert record["score"] == pytest.approx(score(record["gain"], record["cost"], 20000))
        for earlier in record["evaluations"]:  # over budget, then scaled down in proportion
            assert not earlier["feasible"]
            scaled = {k: v for k, v in record["coverage"].items() if v}
            ratios = {round(v / earlier["coverage"][k], 9) for k, v in scaled.items()}
            assert len(ratios) == 1 and ratios.pop() < 1
    first = json.loads((out / "trials" / "1" / "trial.json").read_text())
    proposed = (first["evaluations"] or [first])[0]["coverage"]  # warm start: one lever alone
    assert sorted(proposed.values())[-2:] == [0.0, 1.0]
    evaluated = {e["mix_hash"] for r in records for e in [r, *r["evaluations"]]}
    assert sorted(trials["mix_hash"]) == sorted(evaluated)  # one row per distinct mix
    report = (out / "policy" / "report.md").read_text()
    assert "## Cost-gain Pareto front" in report
    assert (out / "policy" / "pareto.png").read_bytes().startswith(b"\x89PNG")
    if trials["feasible"].any():
        assert (out / "policy" / "validation.json").exists()
        assert "fresh seeds" in report
