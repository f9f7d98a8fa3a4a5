"""PSA statistics against known answers: P(best) on synthetic draws, the CEAC's defining
properties, EVPI of a certain decision, and EVPI and EVPPI of a published case study (the
two-treatment, 19-parameter model of Brennan et al. 2007, Med Decis Making 27:448, used as case
study 1 of Strong, Oakley & Brennan 2014, Med Decis Making 34:311)."""

import math

import numpy as np
import pandas as pd
import pytest

from simulation.analysis import psa

# --- Pairing draws ------------------------------------------------------------------------------


def test_by_draw_averages_seeds_and_refuses_an_unpaired_psa():
    runs = pd.DataFrame({"option": ["a", "a", "b", "b", "a"], "draw": [0, 0, 0, 1, 1],
                         "seed": [0, 1, 0, 0, 0], "tasks": [1.0, 3.0, 5.0, 6.0, 7.0]})
    values, options, draws = psa.by_draw(runs, "tasks")
    assert options == ["a", "b"] and draws == [0, 1]
    np.testing.assert_allclose(values, [[2.0, 5.0], [7.0, 6.0]])
    with pytest.raises(ValueError, match=r"not paired.*\(1, 'b'\)"):
        psa.by_draw(runs.drop(index=3), "tasks")
    with pytest.raises(ValueError, match="option \\['c'\\] has no runs"):
        psa.by_draw(runs, "tasks", options=["a", "c"])


# --- Differences and rankings -------------------------------------------------------------------


def test_probability_best_matches_a_known_answer():
    # b beats a with probability P(N(0.5, 1) > 0) = Phi(0.5); c is always worst.
    rng = np.random.default_rng(0)
    n = 40_000
    a = rng.standard_normal(n)
    b = a + 0.5 + rng.standard_normal(n)
    values = np.column_stack([a, b, a - 10])
    p, mcse = psa.probability_best(values)
    expected = 0.691462  # Phi(0.5)
    assert abs(p[1] - expected) < 4 * mcse[1]
    assert p[2] == 0 and p.sum() == pytest.approx(1.0)
    assert mcse[1] == pytest.approx(math.sqrt(expected * (1 - expected) / n), rel=0.01)
    low, _ = psa.probability_best(values, higher_is_better=False)
    assert low[2] == 1.0
    top, _ = psa.probability_top(values, k=2)
    np.testing.assert_allclose(top, [1.0, 1.0, 0.0])


def test_ties_share_a_draw():
    p, _ = psa.probability_best(np.ones((5, 4)))
    np.testing.assert_allclose(p, 0.25)


def test_draw_differences_give_credible_interval_and_probability_above_zero():
    rng = np.random.default_rng(1)
    base = rng.normal(10, 3, 20_000)
    values = np.column_stack([base, base + rng.normal(1.0, 1.0, 20_000)])
    rows = psa.draw_differences(values)
    assert rows.loc[0, "mean"] == 0 and rows.loc[0, "p_positive"] == 0
    assert rows.loc[1, "low"] == pytest.approx(1 - 1.96, abs=0.05)
    assert rows.loc[1, "high"] == pytest.approx(1 + 1.96, abs=0.05)
    assert rows.loc[1, "p_positive"] == pytest.approx(0.841345, abs=4 * 0.0026)
    assert not rows.loc[1, "clear"]  # the interval holds zero, P(diff > 0) is 0.84 < 0.975
    sure = psa.draw_differences(np.column_stack([base, base + 5 + rng.normal(0, 1, 20_000)]))
    assert sure.loc[1, "clear"] and sure.loc[1, "low"] > 0
    np.testing.assert_array_equal(rows["clear"], (rows["low"] > 0) | (rows["high"] < 0))


# --- CEAC ----------------------------------------------------------------------------------------

WTP = np.linspace(0, 2000, 21)


def _three_options(n=4000, seed=2):
    rng = np.random.default_rng(seed)
    effects = np.column_stack([rng.normal(0, 1, n), rng.normal(2, 1, n), rng.normal(3, 2, n)])
    costs = np.column_stack([rng.normal(0, 50, n), rng.normal(500, 200, n),
                             rng.normal(2000, 300, n)])
    return effects, costs


def test_ceac_at_zero_wtp_favours_the_cheapest_and_sums_to_one():
    effects, costs = _three_options()
    curves = psa.ceac(effects, costs, WTP)
    np.testing.assert_allclose(curves.sum(axis=1), 1.0)
    cheapest = np.bincount(costs.argmin(axis=1), minlength=3).argmax()
    assert curves[0].argmax() == cheapest == 0
    chosen, probability = psa.ceaf(effects, costs, WTP)
    enb = psa.expected_net_benefit(effects, costs, WTP)
    np.testing.assert_array_equal(chosen, enb.argmax(axis=1))
    np.testing.assert_allclose(probability, curves[np.arange(len(WTP)), chosen])


def test_an_option_dominant_in_every_draw_has_probability_one_everywhere():
    effects, costs = _three_options()
    effects[:, 1] = effects.max(axis=1) + 1  # more effect and less cost than any other, always
    costs[:, 1] = costs.min(axis=1) - 1
    curves = psa.ceac(effects, costs, WTP)
    np.testing.assert_allclose(curves[:, 1], 1.0)
    assert psa.evpi(psa.net_benefit(effects, costs, 500.0)[0]) == pytest.approx(0.0, abs=1e-9)


def test_ce_plane_holds_one_point_per_draw_and_option():
    effects, costs = _three_options(n=10)
    plane = psa.ce_plane(effects, costs, ["base", "b", "c"])
    assert len(plane) == 20 and set(plane["option"]) == {"b", "c"}
    row = plane[(plane["option"] == "c") & (plane["draw"] == 3)].iloc[0]
    assert row["incremental_cost"] == pytest.approx(costs[3, 2] - costs[3, 0])


# --- Value of information -----------------------------------------------------------------------


def test_evpi_is_zero_when_one_option_is_best_in_every_draw():
    rng = np.random.default_rng(3)
    nb = rng.normal(0, 1, (1000, 3))
    nb[:, 2] = nb.max(axis=1) + 0.1
    assert psa.evpi(nb) == pytest.approx(0.0, abs=1e-12)
    assert psa.evppi(nb, rng.random(1000)) == pytest.approx(0.0, abs=1e-12)


def test_evpi_of_a_coin_flip_is_known():
    # NB_b - NB_a ~ N(0, 1): EVPI = E[max(Z, 0)] = 1 / sqrt(2 pi).
    rng = np.random.default_rng(4)
    z = rng.standard_normal(200_000)
    nb = np.column_stack([np.zeros_like(z), z])
    assert psa.evpi(nb) == pytest.approx(1 / math.sqrt(2 * math.pi), abs=4 * 0.6 / math.sqrt(2e5))


def test_evppi_sees_an_interaction_an_additive_model_would_miss():
    # INB = a * b + noise: E[INB | a, b] = a b, EVPPI = E[max(ab, 0)] = E|ab| / 2 = 1 / pi. An
    # additive metamodel (heormodel 0.7.4's) finds almost nothing here (about 0.04).
    rng = np.random.default_rng(5)
    ab = rng.standard_normal((4000, 2))
    nb = np.column_stack([np.zeros(4000), ab[:, 0] * ab[:, 1] + rng.standard_normal(4000)])
    se = np.maximum(ab[:, 0] * ab[:, 1], 0).std() / math.sqrt(4000)
    assert psa.evppi(nb, ab) == pytest.approx(1 / math.pi, abs=4 * se)
    assert psa.evppi(nb, ab[:, 0]) < 0.05  # one of them alone tells nothing


@pytest.mark.parametrize("draws", [100, 400])
def test_a_large_group_of_parameters_that_do_not_matter_has_no_evppi(draws):
    # Net benefits depend on one parameter outside the group; the group's 8 parameters are
    # noise. Maximum likelihood alone lets the Gaussian process interpolate the noise (EVPPI
    # 0.35-0.38 against an EVPI of about 0.4); held-out draws show the group predicts nothing.
    rng = np.random.default_rng(1)
    decides, group = rng.random(draws), rng.random((draws, 8))
    nb = np.column_stack([np.zeros(draws), decides - 0.5 + rng.normal(0, 1, draws),
                          0.2 + 0.5 * rng.normal(0, 1, draws)])
    assert psa.evpi(nb) > 0.3
    assert psa.evppi(nb, group) == 0.0
    # A large group that holds the parameter that decides keeps its value.
    with_it = np.column_stack([3.0 * decides, group[:, :4]])
    nb[:, 1] = 3.0 * (decides - 0.5) + rng.normal(0, 0.5, draws)
    assert psa.evppi(nb, with_it) > 0.5 * psa.evppi(nb, decides)


def test_population_evpi_scales_by_systems_and_discounted_decisions():
    # 42 systems; decisions at years 0, 3, 6, 9 over a 10-year horizon, discounted at 3.5%.
    weights = sum(1.035 ** (-3 * k) for k in range(4))
    assert psa.population_evpi(100.0) == pytest.approx(100 * 42 * weights)
    assert psa.population_evpi(100.0, systems=1, horizon_years=3, decision_years=3) == 100
    with pytest.raises(ValueError, match="decision_years"):
        psa.population_evpi(1.0, decision_years=1.0)


# --- The published case study --------------------------------------------------------------------
# Brennan et al. (2007), Table 1; Strong & Oakley (2013, Med Decis Making 33:755), case study:
# two treatments, 19 independent normal parameters (mean, SD), lambda = GBP 10,000 per QALY.
# NB_1 = lambda (t5 t6 t7 + t8 t9 t10) - (t1 + t2 t3 t4)
# NB_2 = lambda (t14 t15 t16 + t17 t18 t19) - (t11 + t12 t13 t4)
MEANS = np.array([1000, 0.10, 5.2, 400, 0.70, 0.30, 3.0, 0.25, -0.10, 0.50,
                  1500, 0.08, 6.1, 0.80, 0.30, 3.0, 0.20, -0.10, 0.50])
SDS = np.array([1, 0.02, 1.0, 200, 0.10, 0.10, 0.5, 0.10, 0.02, 0.20,
                1, 0.02, 1.0, 0.10, 0.05, 1.0, 0.05, 0.02, 0.20])
LAMBDA = 10_000.0


def _case_study_nb(theta: np.ndarray) -> np.ndarray:
    t = {i + 1: theta[:, i] for i in range(19)}
    nb1 = LAMBDA * (t[5] * t[6] * t[7] + t[8] * t[9] * t[10]) - (t[1] + t[2] * t[3] * t[4])
    nb2 = LAMBDA * (t[14] * t[15] * t[16] + t[17] * t[18] * t[19]) - (
        t[11] + t[12] * t[13] * t[4])
    return np.column_stack([nb1, nb2])


def _conditional_inb(theta: np.ndarray, group: list[int]) -> np.ndarray:
    """E[INB | the group's values], exact: NB is a sum of products of distinct independent
    parameters, so the other parameters enter at their means."""
    fixed = np.tile(MEANS, (len(theta), 1))
    fixed[:, group] = theta[:, group]
    nb = _case_study_nb(fixed)
    return nb[:, 1] - nb[:, 0]


def _one_level(g: np.ndarray) -> tuple[float, float]:
    """E[max(g, 0)] - max(E[g], 0) and the Monte Carlo SE of that estimate from ``len(g)``
    draws (the spread of max(g, 0) - g, or of max(g, 0) when E[g] < 0)."""
    chosen = g if g.mean() > 0 else 0.0
    terms = np.maximum(g, 0) - chosen
    return float(terms.mean()), float(terms.std() / math.sqrt(len(g)))


GROUPS = {"t5 t14 (response)": [4, 13], "t7 t16 (duration)": [6, 15],
          "t6 t15 (utility)": [5, 14], "t4 (cost per day)": [3],
          "t5 t6 t14 t15": [4, 5, 13, 14]}


@pytest.fixture(scope="module")
def case_study():
    rng = np.random.default_rng(2014)
    psa_sample = MEANS + SDS * rng.standard_normal((3000, 19))
    reference = MEANS + SDS * rng.standard_normal((1_000_000, 19))
    return psa_sample, reference


def test_case_study_evpi_matches_its_reference(case_study):
    # Reference: 10^6 draws give EVPI = GBP 1,312 per patient (SE 2); the PSA's 3,000 draws
    # must agree within 4 of their own standard errors.
    psa_sample, reference = case_study
    nb = _case_study_nb(reference)
    truth, _ = _one_level(nb[:, 1] - nb[:, 0])
    assert truth == pytest.approx(1312, abs=10)
    sample = _case_study_nb(psa_sample)
    _, se = _one_level(sample[:, 1] - sample[:, 0])
    assert psa.evpi(sample) == pytest.approx(truth, abs=4 * se)


@pytest.mark.parametrize("name", list(GROUPS))
def test_case_study_evppi_matches_the_exact_partial_evpi(case_study, name):
    # The regression estimate from the 3,000-draw PSA sample against the exact conditional
    # expectation on 10^6 draws; tolerance: 4 Monte Carlo SEs of a 3,000-draw estimate that
    # knew the conditional expectation exactly, plus GBP 5 for the regression's own error.
    psa_sample, reference = case_study
    group = GROUPS[name]
    truth, _ = _one_level(_conditional_inb(reference, group))
    _, se = _one_level(_conditional_inb(psa_sample, group))
    estimate = psa.evppi(_case_study_nb(psa_sample), psa_sample[:, group], gp_points=600)
    assert estimate == pytest.approx(truth, abs=4 * se + 5)


def test_evppi_of_an_input_with_two_values():
    # INB = +1 or -1 as x is 1 or 0, plus noise: knowing x is worth E[max(g, 0)] = 0.5.
    rng = np.random.default_rng(6)
    x = rng.integers(0, 2, 2000).astype(float)
    nb = np.column_stack([np.zeros(2000), 2 * x - 1 + rng.normal(0, 1, 2000)])
    assert psa.evppi(nb, x) == pytest.approx(0.5, abs=4 * 0.5 / math.sqrt(2000) + 0.02)


def test_one_way_ranges_rank_the_input_that_moves_the_outcome():
    rng = np.random.default_rng(9)
    inputs = pd.DataFrame(rng.random((400, 3)), columns=["big", "small", "none"])
    y = 10 * inputs["big"] + 2 * inputs["small"] + rng.normal(0, 0.5, 400)
    ranges = psa.one_way_ranges(y, inputs)
    assert list(ranges["parameter"]) == ["big", "small", "none"]
    big = ranges.iloc[0]  # the lowest tenth averages about 0.05, the highest about 0.95
    assert big["at_low"] == pytest.approx(10 * 0.05 + 1, abs=0.3)
    assert big["at_high"] == pytest.approx(10 * 0.95 + 1, abs=0.3)


def test_one_way_ranges_give_the_value_at_which_the_choice_switches():
    # E[incremental | x] = 10 (x - 0.3): the choice switches at x = 0.3, once; an input that
    # does not move it leaves the expected difference at 2 (> 0) throughout, so no switch.
    rng = np.random.default_rng(4)
    inputs = pd.DataFrame(rng.random((400, 2)), columns=["decides", "none"])
    y = 10 * (inputs["decides"] - 0.3) + rng.normal(0, 0.5, 400)
    ranges = psa.one_way_ranges(y, inputs).set_index("parameter")
    assert ranges.loc["decides", "switches"] == 1
    assert ranges.loc["decides", "switch_at"] == pytest.approx(0.3, abs=0.03)
    assert ranges.loc["none", "switches"] == 0 and np.isnan(ranges.loc["none", "switch_at"])


def test_evpi_is_never_below_zero_from_rounding():
    # an option best in every draw by large, uneven margins: the two means of EVPI differ by
    # rounding alone, which must not make it (or EVPPI, clipped to it) negative
    rng = np.random.default_rng(5)
    nb = rng.normal(0, 1e6, (50, 3))
    nb[:, 0] = nb.max(axis=1) + rng.uniform(1e6, 3e7, 50)
    assert 0.0 <= psa.evpi(nb) < 1e-3  # GBP millions a draw: any rest is rounding
    assert 0.0 <= psa.evppi(nb, rng.random(50)) <= psa.evpi(nb)
