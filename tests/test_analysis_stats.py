"""The analysis statistics against known answers: CIs with the coverage they promise, paired
differences of a known size, sample-size formulae, CV stability, Holm, Sobol on Ishigami, Morris
on a linear function."""

import math

import numpy as np
import pandas as pd
import pytest

from simulation.analysis import stats
from simulation.analysis.outcomes import OUTCOMES, TASKS_TOTAL, horizon_values
from simulation.analysis.sensitivity import (
    analyse_morris,
    analyse_sobol,
    design_values,
    problem_from_schema,
)
from simulation.outputs import format_number
from simulation.params import ConfigError, uncertain_parameters


def test_mean_ci_of_known_data():
    estimate = stats.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert estimate.mean == 3.0
    assert estimate.low == pytest.approx(3 - half, rel=1e-6)
    assert estimate.high == pytest.approx(3 + half, rel=1e-6)
    assert estimate.relative_half_width == pytest.approx(half / 3, rel=1e-6)
    assert math.isnan(stats.mean_ci([2.0]).half_width)


def test_paired_difference_recovers_a_known_difference():
    rng = np.random.default_rng(1)
    baseline = rng.normal(10.0, 2.0, 40)  # large run-to-run spread ...
    treatment = baseline + 0.5 + rng.normal(0.0, 0.1, 40)  # ... removed by pairing
    result = stats.paired_difference(treatment, baseline)
    assert result.difference.low < 0.5 < result.difference.high
    assert result.difference.half_width < 0.05
    assert result.clear() and result.p_value < 1e-10
    true_ratio = treatment.mean() / baseline.mean() - 1
    assert result.relative.mean == pytest.approx(true_ratio)
    assert result.relative.low < 0.05 < result.relative.high
    # Cohen's d is against the run-to-run SD (about 2), not the SD of the differences
    assert result.cohen_d == pytest.approx(0.25, abs=0.1)
    assert stats.effect_size_words(result.cohen_d) == "small"


def test_paired_ci_covers_the_true_difference_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    trials, n, true = 2000, 10, 0.3
    covered = covered_relative = 0
    for _ in range(trials):
        baseline = rng.normal(5.0, 1.0, n)
        treatment = baseline * (1 + true / 5.0) + rng.normal(0.0, 0.2, n)
        result = stats.paired_difference(treatment, baseline)
        covered += result.difference.low <= true <= result.difference.high
        covered_relative += result.relative.low <= true / 5.0 <= result.relative.high
    assert 0.93 <= covered / trials <= 0.97
    assert 0.92 <= covered_relative / trials <= 0.97


def test_no_difference_is_within_noise():
    rng = np.random.default_rng(3)
    baseline = rng.normal(1.0, 0.1, 20)
    result = stats.paired_difference(baseline + rng.normal(0, 0.01, 20), baseline)
    assert not result.clear() or abs(result.difference.mean) < 0.01
    with pytest.raises(ValueError, match="differ in length"):
        stats.paired_difference([1.0, 2.0], [1.0])


def test_seeds_needed_for_a_half_width():
    # t(0.975, 17) / sqrt(18) = 0.497 <= 0.5 and t(0.975, 16) / sqrt(17) = 0.514 > 0.5
    assert stats.seeds_for_half_width(1.0, 0.5) == 18
    assert stats.seeds_for_half_width(1.0, 0.0) is None
    values = np.random.default_rng(0).normal(100.0, 10.0, 30)
    needed = stats.seeds_for_precision(values, 0.05)
    sd = values.std(ddof=1)
    assert stats.t_quantile(needed) * sd / math.sqrt(needed) <= 0.05 * values.mean()
    assert stats.t_quantile(needed - 1) * sd / math.sqrt(needed - 1) > 0.05 * values.mean()


def test_seeds_to_resolve_a_difference():
    rng = np.random.default_rng(5)
    baseline = rng.normal(10, 1, 8)
    result = stats.paired_difference(baseline + 0.1 + rng.normal(0, 0.5, 8), baseline)
    needed = stats.seeds_to_resolve(result)
    sd, mean = result.difference.sd, abs(result.difference.mean)
    assert stats.t_quantile(needed) * sd / math.sqrt(needed) <= mean


def test_running_cv_and_cv_stability():
    x = np.array([1.0, 3.0, 2.0, 2.0])
    cv = stats.running_cv(x)
    assert math.isnan(cv[0])
    assert cv[1] == pytest.approx(np.std([1, 3], ddof=1) / 2)
    assert cv[3] == pytest.approx(np.std(x, ddof=1) / 2)
    iid = np.random.default_rng(11).normal(50, 5, 200)
    stable = stats.cv_stability(iid, tolerance=0.1, look_ahead=5)
    assert stable.stable_from is not None and stable.stable_from <= 195
    later = stable.cv[stable.stable_from - 1:]
    assert np.all(np.abs(later - stable.final) <= 0.1 * stable.final)
    assert stats.cv_stability(iid[:6], look_ahead=5).stable_from is None


def test_holm_adjustment():
    adjusted = stats.holm([0.01, 0.04, 0.03, np.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])


def ishigami(X, a=7.0, b=0.1):
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_sobol_indices_of_the_ishigami_function():
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    X = sobol_sample.sample(problem, 4096, calc_second_order=False, seed=1)
    indices = analyse_sobol(problem, ishigami(X), seed=1).set_index("parameter")
    # Analytical values (Ishigami & Homma 1990; a = 7, b = 0.1)
    assert indices["S1"].to_numpy() == pytest.approx([0.3139, 0.4424, 0.0], abs=0.03)
    assert indices["ST"].to_numpy() == pytest.approx([0.5576, 0.4424, 0.2437], abs=0.03)
    assert (indices["ST_conf"] < 0.1).all()


def test_morris_ranks_a_linear_function_exactly():
    from SALib.sample import morris as morris_sample

    problem = {"num_vars": 3, "names": ["big", "small", "none"], "bounds": [[0, 1]] * 3}
    X = morris_sample.sample(problem, 10, num_levels=4, seed=2)
    Y = 5 * X[:, 0] + 1 * X[:, 1]
    indices = analyse_morris(problem, X, Y).set_index("parameter")
    assert indices["mu_star"].to_numpy() == pytest.approx([5.0, 1.0, 0.0])
    assert indices["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_sensitivity_draws_from_the_schemas_priors():
    problem = problem_from_schema()
    specs = uncertain_parameters()
    assert problem["names"] == list(specs)
    assert problem["bounds"] == [[0.0, 1.0]] * len(specs)  # the design is in the unit cube
    assert problem["priors"] == [specs[n]["prior"] for n in specs]
    # Unit-cube points map through each prior's quantiles: the median of a triangular prior,
    # and its bounds at the corners.
    support = problem_from_schema(["model.support"])
    np.testing.assert_allclose(design_values(support, np.array([[0.0], [1.0]])).ravel(),
                               [0.1, 0.6])
    assert specs["model.support"]["prior"].describe() == "triangular(0.1, 0.3, 0.6)"
    with pytest.raises(ConfigError, match=r"model\.no_such_thing"):
        problem_from_schema(["model.no_such_thing"])


def test_sensitivity_can_sample_the_allowed_ranges_or_a_span_around_the_defaults():
    allowed = problem_from_schema(["model.support", "model.task_rate"], bounds="allowed")
    assert allowed["support"] == [[0.0, 1.0], [0.0, 5.0]]
    np.testing.assert_allclose(design_values(allowed, np.array([[0.5, 0.5]])), [[0.5, 2.5]])
    local = problem_from_schema(["model.support", "model.task_rate"], span=0.5)
    assert local["support"] == [pytest.approx([0.15, 0.45]), pytest.approx([0.03, 0.09])]
    clipped = problem_from_schema(["model.support"], span=3.0)  # within the declared range
    assert clipped["support"] == [pytest.approx([0.0, 1.0])]
    with pytest.raises(ConfigError, match="must be positive"):
        problem_from_schema(span=0.0)
    with pytest.raises(ConfigError, match=r"bounds = 'wide'.*\['prior', 'allowed'\]"):
        problem_from_schema(bounds="wide")


def test_horizon_values_read_the_last_week_the_last_quarter_and_the_total():
    weeks = np.arange(0, 27)
    frame = pd.DataFrame({"config_hash": "a", "week": weeks, "sl_density": weeks * 1.0,
                          "tasks_completed": weeks * 2.0})
    values = horizon_values(frame, [OUTCOMES["sl_density"], OUTCOMES["tasks_completed"],
                                    TASKS_TOTAL])
    assert values.loc["a", "sl_density"] == 26
    assert values.loc["a", "tasks_completed"] == pytest.approx(2 * np.mean(np.arange(14, 27)))
    assert values.loc["a", "tasks_completed_total"] == 2 * weeks.sum()


def test_number_formatting():
    assert format_number(0.000586) == "0.000586"
    assert format_number(1234567.0) == "1,234,567"
    assert format_number(5.8654) == "5.87"
    assert format_number(float("nan")) == "n/a"
