"""The economic outcome: NICE's discounting, costs net of the leavers averted, net monetary
benefit and the threshold prices of an effect nobody prices."""

import numpy as np
import pandas as pd
import pytest

from simulation.analysis import economics
from simulation.params import ConfigError


def test_a_year_of_weeks_is_discounted_at_the_nice_rate():
    factors = economics.discount_factors([0, 52, 104], 0.035)
    np.testing.assert_allclose(factors, [1.0, 1 / 1.035, 1 / 1.035**2])
    with pytest.raises(ValueError, match="discount rate = 2"):
        economics.discount_factors([1], 2)


def _two_runs() -> pd.DataFrame:
    weeks = np.arange(0, 105)
    rows = []
    for run, spend, exits in (("base", 0.0, 2.0), ("lever", 100.0, 1.0)):
        rows.append(pd.DataFrame({"config_hash": run, "week": weeks,
                                  "cost": spend * weeks,  # cumulative: 100 a week from week 1
                                  "tasks_completed": np.where(weeks > 0, 10.0, 99.0),
                                  "exits": np.where(weeks > 0, exits, 50.0)}))
    return pd.concat(rows, ignore_index=True)


def test_discounted_totals_sum_the_weekly_flows_after_the_start():
    totals = economics.discounted_totals(_two_runs(), 0.035)
    factors = economics.discount_factors(np.arange(1, 105), 0.035).sum()
    assert totals.loc["lever", "intervention_cost"] == pytest.approx(100 * factors)
    assert totals.loc["base", "tasks"] == pytest.approx(10 * factors)  # week 0 not counted
    assert totals.loc["lever", "leavers"] == pytest.approx(1 * factors)
    undiscounted = economics.discounted_totals(_two_runs(), 0.0)
    assert undiscounted.loc["lever", "intervention_cost"] == pytest.approx(100 * 104)
    with pytest.raises(ValueError, match="lacks the columns \\['exits'\\]"):
        economics.discounted_totals(_two_runs().drop(columns="exits"))


def test_the_cost_offset_is_leavers_averted_times_the_replacement_cost():
    totals = economics.discounted_totals(_two_runs(), 0.035)
    cost = economics.total_cost(totals["intervention_cost"], totals["leavers"], 30_000.0)
    averted = totals.loc["base", "leavers"] - totals.loc["lever", "leavers"]
    incremental = totals.loc["lever", "intervention_cost"] - averted * 30_000.0
    assert cost["lever"] - cost["base"] == pytest.approx(incremental)


def test_net_monetary_benefit_broadcasts_over_a_wtp_grid():
    effect = np.array([[1.0, 2.0], [3.0, 4.0]])
    cost = np.array([[10.0, 20.0], [30.0, 40.0]])
    nmb = economics.net_monetary_benefit(effect, cost, [0.0, 100.0])
    assert nmb.shape == (2, 2, 2)
    np.testing.assert_allclose(nmb[1], 100 * effect - cost)
    assert economics.net_monetary_benefit(2.0, 50.0, 100.0) == 150.0


def test_threshold_prices_follow_the_frontier():
    # a: nothing for nothing; b: 10 units for 1,000 (100 per unit over a); c: 15 units for
    # 2,500 (300 per unit over b); d: dominated by b (less effect, more cost).
    prices = economics.threshold_prices([0, 10, 15, 5], [0, 1000, 2500, 1500])
    np.testing.assert_allclose(prices[0], [0, 100])
    np.testing.assert_allclose(prices[1], [100, 300])
    assert prices[2, 0] == pytest.approx(300) and np.isinf(prices[2, 1])
    assert np.isnan(prices[3]).all()


def test_prices_are_checked_like_every_parameter():
    assert economics.EconomicParams().discount_rate == 0.035
    with pytest.raises(ConfigError, match="replacement_cost"):
        economics.EconomicParams(replacement_cost=-1.0)


def test_the_prices_of_each_draw_stay_in_their_prior_and_reproduce():
    draws = economics.prices_at(range(2000))["economics.replacement_cost"].to_numpy()
    assert draws.min() >= 18_000 and draws.max() <= 65_000
    assert np.median(draws) == pytest.approx(36_500, rel=0.05)  # triangular(18k, 30k, 65k)
    again = economics.prices_at([5, 1999, 0])["economics.replacement_cost"].to_numpy()
    np.testing.assert_array_equal(again, draws[[5, 1999, 0]])  # draw K prices alike anywhere
