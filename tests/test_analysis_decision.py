"""The PSA tables of a sweep on draws, on synthetic runs whose answer is known: option *a*
delivers more tasks the larger the drawn parameter ``model.x``, at a fixed cost, so which option
is best depends on ``x`` alone, and EVPPI of the ``model`` group is the whole EVPI."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.analysis import decision, load
from simulation.analysis.economics import EconomicParams
from simulation.analysis.outcomes import OUTCOMES

DRAWS, SEEDS, WEEKS = 120, 2, 52


def _tables() -> load.SweepTables:
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, DRAWS)
    weeks = np.arange(WEEKS + 1)
    runs, series = [], []
    for option, spend in (("baseline", 0.0), ("a", 100.0), ("b", 50.0)):
        for draw in range(DRAWS):
            for seed in range(SEEDS):
                run = f"{option}-{draw}-{seed}"
                tasks = 10.0 + {"baseline": 0.0, "a": 2.0 * x[draw], "b": 0.05}[option]
                runs.append({"config_hash": run, "run": run, "group": option, "draw": draw,
                             "seed": seed, "sl_density": 1e-4 * (1 + (option != "baseline"))})
                series.append(pd.DataFrame({
                    "config_hash": run, "week": weeks, "cost": spend * weeks,
                    "tasks_completed": tasks + rng.normal(0, 0.01, len(weeks)),
                    "exits": np.full(len(weeks), 1.0)}))
    draws = pd.DataFrame({"model.x": x, "intervention.a.unit_cost": 100.0},
                         index=pd.RangeIndex(DRAWS, name="draw"))
    return load.SweepTables(Path("."), pd.DataFrame(runs), pd.concat(series, ignore_index=True),
                            ["scenario"], ["baseline", "a", "b"], 0, ["synthetic"], [WEEKS],
                            draws)


@pytest.fixture(scope="module")
def result():
    return decision.compare_draws(_tables(), "baseline", OUTCOMES["sl_density"],
                                  EconomicParams(wtp_per_task=300.0))


def test_the_psa_tables_hold_every_option_and_draw(result):
    assert result.options == ["baseline", "a", "b"] and result.draws == DRAWS
    assert set(result.differences["option"]) == {"a", "b"}
    np.testing.assert_allclose(result.ceac[result.options].sum(axis=1), 1.0)
    assert len(result.plane) == 2 * DRAWS
    best = result.best[result.best["measure"] == "net_benefit"].set_index("option")
    assert best["p_best"].sum() == pytest.approx(1.0)
    assert result.about["seeds_per_draw"] == SEEDS


def test_evppi_of_the_parameter_that_decides_is_the_evpi(result):
    assert result.value["evpi_per_system"] > 0
    assert result.evppi["model: the rest"] == pytest.approx(result.value["evpi_per_system"],
                                                             rel=0.1)
    assert result.value["evpi_england"] > 42 * result.value["evpi_per_system"]
    assert result.tornado.iloc[0]["parameter"] == "model.x"  # the tornado names it first
    assert set(result.about["tornado_pair"]) <= {"baseline", "a", "b"}


def test_evppi_of_a_group_too_large_for_the_draws_is_not_estimated():
    tables = _tables()
    extra = np.random.default_rng(8).random((DRAWS, 13))
    for i in range(13):  # 13 drawn parameters need 130 draws; there are 120
        tables.draws[f"careers.p{i}"] = extra[:, i]
    result = decision.compare_draws(tables, "baseline", OUTCOMES["sl_density"])
    assert "careers" not in result.evppi and result.about["evppi_skipped"] == {"careers": 130}
    assert "model: the rest" in result.evppi


def test_a_draw_an_option_did_not_finish_is_left_out():
    tables = _tables()
    runs = tables.runs
    tables.runs = runs[~((runs["group"] == "a") & (runs["draw"] == 5))
                       & ~((runs["group"] == "b") & (runs["draw"] == 6) & (runs["seed"] == 1))]
    result = decision.compare_draws(tables, "baseline", OUTCOMES["sl_density"])
    assert result.draws == DRAWS - 2 and result.about["draws_left_out"] == 2


def test_a_sweep_without_draws_is_refused():
    tables = _tables()
    tables.draws = None
    with pytest.raises(ValueError, match="no 'draw' column"):
        decision.compare_draws(tables, "baseline", OUTCOMES["sl_density"])


def test_drawn_parameters_are_not_groups():
    results = pd.DataFrame({"scenario": ["a", "a", "b", "b"] * 2, "draw": [0, 1] * 4,
                            "seed": [0, 0, 0, 0, 1, 1, 1, 1],
                            "model.x": [0.1, 0.2] * 4, "grid": [1, 1, 1, 1, 2, 2, 2, 2]})
    group, drawn = load.split_draw_columns(results, ["draw", "model.x", "grid"])
    assert group == ["grid"] and drawn == ["model.x"]
    assert load.split_draw_columns(results.drop(columns="draw"), ["model.x"]) == (["model.x"], [])


def test_parameter_groups_put_costs_together_and_the_barriers_apart():
    groups = decision.parameter_groups(["model.a", "careers.b", "economics.replacement_cost",
                                        "intervention.coach.unit_cost",
                                        "intervention.coach.support_effect",
                                        "model.bureaucracy_load", "model.support"])
    assert groups == {"model: the rest": ["model.a"], "careers": ["careers.b"],
                      "costs": ["economics.replacement_cost", "intervention.coach.unit_cost"],
                      "lever coach: effects and coverage": ["intervention.coach.support_effect"],
                      "barriers (model)": ["model.bureaucracy_load", "model.support"]}


def test_a_knob_pinned_by_a_scenario_is_not_a_drawn_input(tmp_path):
    """cut_red_tape pins reduce_bureaucracy's coverage at 1 (simulation/posterior.py): read back
    from its run's config, that knob is no input of the draw, while its drawn unit cost is, and
    the plain lever's drawn coverage is too."""
    import json

    from simulation.analysis.batch import plan_jobs
    from simulation.results_io import config_dict

    configs = plan_jobs([[f"scenario={s}", "draw=3", "ics=small_ics"]
                         for s in ("cut_red_tape", "reduce_bureaucracy")], tmp_path).configs
    red_tape, plain = (load.uncertain_values(json.loads(json.dumps(config_dict(c))))
                       for c in configs)
    knob = "intervention.reduce_bureaucracy."
    assert knob + "coverage" not in red_tape
    assert plain[knob + "coverage"] == configs[1].scenario.interventions[
        "reduce_bureaucracy"]["coverage"] != 0.5
    assert red_tape[knob + "unit_cost"] == plain[knob + "unit_cost"]


def test_every_barrier_is_a_parameter_of_the_schemas_barrier_section():
    from simulation.params import ModelParams, parameter_specs

    specs = parameter_specs(ModelParams)
    assert all(path.split(".")[1] in specs for path in decision.BARRIERS)


def _lever_tables(switch: float = 200.0) -> load.SweepTables:
    """Options whose net benefits are known: *a* (a protected_time lever) costs the drawn unit
    cost u a week and delivers a task a week more than the baseline, *b* (coaching) costs 50 and
    delivers half a task more, *c* (clear communication) costs 1,000 and delivers nothing more.
    At GBP 300 a task, NMB(a) - NMB(b) = D (300 x 0.5 - (u - 50)) = D (switch - u), D the
    discounted weeks: *a* leads *b* for u below ``switch`` and trails above it; c is last."""
    rng = np.random.default_rng(3)
    unit_cost = rng.uniform(50.0, 250.0, DRAWS)
    weeks = np.arange(WEEKS + 1)
    runs, series = [], []
    for draw in range(DRAWS):
        for option, spend, extra in (("baseline", 0.0, 0.0), ("a", unit_cost[draw], 1.0),
                                     ("b", 50.0, 0.5), ("c", 1000.0, 0.0)):
            run = f"{option}-{draw}"
            runs.append({"config_hash": run, "run": run, "group": option, "draw": draw,
                         "seed": 0, "sl_density": 1e-4})
            series.append(pd.DataFrame({
                "config_hash": run, "week": weeks, "cost": spend * weeks,
                "tasks_completed": np.full(len(weeks), 10.0 + extra),
                "exits": np.full(len(weeks), 1.0)}))
    draws = pd.DataFrame({"intervention.protected_time.unit_cost": unit_cost,
                          "intervention.clear_communication.coverage": rng.random(DRAWS),
                          "model.bureaucracy_load": rng.random(DRAWS)},
                         index=pd.RangeIndex(DRAWS, name="draw"))
    return load.SweepTables(Path("."), pd.DataFrame(runs), pd.concat(series, ignore_index=True),
                            ["scenario"], ["baseline", "a", "b", "c"], 0, ["synthetic"],
                            [WEEKS], draws, {"baseline": [], "a": ["protected_time"],
                                             "b": ["coaching_support"],
                                             "c": ["clear_communication"]})


def test_threshold_analysis_finds_the_unit_cost_at_which_the_leading_options_swap():
    result = decision.compare_draws(_lever_tables(), "baseline", OUTCOMES["sl_density"],
                                    EconomicParams(wtp_per_task=300.0))
    assert result.about["tornado_pair"] == ("a", "b")  # E[u] = 150: a leads by D x 50
    knobs = result.knob_thresholds.set_index("parameter")
    # the knobs of a's and b's levers and the prices; not c's lever, nor a model parameter
    assert list(knobs.index) == ["intervention.protected_time.unit_cost",
                                 "economics.replacement_cost"]
    cost = knobs.loc["intervention.protected_time.unit_cost"]
    assert cost["switches"] == 1 and cost["switch_at"] == pytest.approx(200.0, abs=5.0)
    assert cost["at_low"] > 0 > cost["at_high"]
    assert 50.0 <= cost["lowest"] < cost["highest"] <= 250.0
    assert knobs.loc["economics.replacement_cost", "switches"] == 0  # leavers are alike
    assert result.evppi["costs"] == pytest.approx(result.value["evpi_per_system"], rel=0.1)
    assert result.evppi["barriers (model)"] == pytest.approx(0.0, abs=0.05 * result.value[
        "evpi_per_system"])


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_tiny_psa_sweep_is_paired_by_draw_and_seed_and_reaches_the_report(tmp_path, capsys):
    """A real `slsim -m` sweep on draws, two seeds a draw (seeds_per_draw), through
    slsim-compare: every option of a draw ran with the draw and the same seeds (read back from
    the run folders), and the report has its PSA section, ce_plane.png and ceac.png."""
    import json
    import subprocess
    import sys

    from simulation.analysis.compare import main as slsim_compare
    from simulation.layout import RUNS_DIR, STATUS_FILE
    from simulation.posterior import draw_seed, posterior

    out = tmp_path / "psa"
    command = [str(Path(sys.executable).parent / "slsim"), "-m",
               "scenario=baseline,protected_time", "draw=range(0,3)", "seeds_per_draw=2",
               "ics=small_ics", "weeks=4", f"hydra.sweep.dir={out}", "hydra/launcher=joblib",
               "hydra.launcher.n_jobs=2"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    seeds: dict[tuple[str, int], set[int]] = {}
    for status_file in (out / RUNS_DIR).glob(f"*/{STATUS_FILE}"):
        status = json.loads(status_file.read_text())
        key = (status["scenario"], status["parameters"]["draw"])
        seeds.setdefault(key, set()).add(status["seed"])
    assert seeds == {(s, k): {draw_seed(k, 0), draw_seed(k, 1)}
                     for s in ("baseline", "protected_time") for k in range(3)}
    tables = load.load(out)
    assert "intervention.protected_time.coverage" in tables.draws.columns
    # The fitted parameter, per draw: row K of the posterior's resample (which may repeat a
    # particle, so rows need not differ).
    assert [tables.draws.loc[k, "model.support"] for k in range(3)] == pytest.approx(
        [posterior().draws[k]["model.support"] for k in range(3)])
    slsim_compare([str(out)])
    printed = capsys.readouterr().out
    assert "over 3 draws of the uncertain parameters" in printed
    text = (out / "report" / "report.md").read_text()
    assert "## Decision under uncertainty (parameters and seed)" in text
    assert "seed-only interval is that of draw 0" in text
    for name in ("ce_plane.png", "ceac.png"):
        assert (out / "report" / name).read_bytes()[:8] == PNG_SIGNATURE
        assert f"({name})" in text
    assert (out / "report" / "tables" / "psa_best.csv").exists()


def test_the_summary_says_what_the_leading_choice_depends_on_and_when_nothing_changes_it():
    from simulation.analysis.report import psa_sentence

    uncertain = decision.compare_draws(_lever_tables(), "baseline", OUTCOMES["sl_density"],
                                       EconomicParams(wtp_per_task=300.0))
    text = psa_sentence(uncertain, 0)
    assert ("Whether *a* (highest expected net benefit) beats *b* depends most on "
            "`intervention.protected_time.unit_cost`") in text
    assert "knowing *costs* would be worth the most" in text
    # u below 200 in every draw: a is best throughout, EVPI is zero, and the summary says so
    certain = _lever_tables()
    certain.draws["intervention.protected_time.unit_cost"] = np.linspace(60.0, 140.0, DRAWS)
    spend = certain.timeseries["config_hash"].str.startswith("a-")
    draw = certain.timeseries.loc[spend, "config_hash"].str.split("-").str[1].astype(int)
    certain.timeseries.loc[spend, "cost"] = (np.linspace(60.0, 140.0, DRAWS)[draw]
                                             * certain.timeseries.loc[spend, "week"])
    settled = decision.compare_draws(certain, "baseline", OUTCOMES["sl_density"],
                                     EconomicParams(wtp_per_task=300.0))
    best = settled.best[settled.best["measure"] == "net_benefit"].set_index("option")
    assert best.loc["a", "p_best"] == 1
    assert settled.value["evpi_per_system"] == pytest.approx(0.0, abs=1e-6)
    assert "No drawn parameter changes the choice: *a* beats *b*" in psa_sentence(settled, 0)


def test_a_psa_sweep_of_one_seed_a_draw_leaves_out_the_seed_only_tables(tmp_path):
    """With one seed a draw the seed-only view has no interval: the report says so, keeps its
    PSA section, and has no seed-only table or figure."""
    import subprocess
    import sys

    from simulation.analysis.compare import main as slsim_compare
    from simulation.analysis.report import SEED_VIEW_NOTE

    out = tmp_path / "psa"
    command = [str(Path(sys.executable).parent / "slsim"), "-m",
               "scenario=baseline,protected_time", "draw=range(0,3)", "ics=small_ics",
               "weeks=4", f"hydra.sweep.dir={out}", "hydra/launcher=joblib",
               "hydra.launcher.n_jobs=2"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    slsim_compare([str(out), "--out", str(tmp_path / "report")])
    report = (tmp_path / "report" / "report.md").read_text()
    assert report.startswith("# Scenario comparison: small_ics, 3 draws, one seed a draw")
    assert SEED_VIEW_NOTE in report and "## Decision under uncertainty" in report
    assert "## Ranking" not in report and "## Paired differences" not in report
    assert "(seed only)" not in report and "Those tables hold" not in report
    assert (tmp_path / "report" / "ceac.png").exists()
    assert not (tmp_path / "report" / "forest.png").exists()
