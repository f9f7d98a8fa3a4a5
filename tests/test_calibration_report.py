"""The calibration's validation report: its statistics on a posterior with known answers."""

import numpy as np
import pandas as pd
import pytest

from simulation.analysis.calibration_report import (
    Calibration,
    correlations,
    identification,
    predictive_table,
    weighted_quantile,
)
from simulation.analysis.targets import Target, Uncertainty
from simulation.params import uncertain_parameters


def test_weighted_quantile_is_the_weighted_cdf_step():
    values = np.array([3.0, 1.0, 2.0, 4.0])
    weights = np.array([0.1, 0.4, 0.4, 0.1])
    assert weighted_quantile(values, weights, 0.05) == 1.0
    assert weighted_quantile(values, weights, 0.5) == 2.0
    assert weighted_quantile(values, weights, 0.95) == 4.0


def synthetic_calibration(n=4000, seed=0):
    """A posterior of two parameters: support tight about 0.2, turnover spread as its prior,
    the two strongly correlated."""
    rng = np.random.default_rng(seed)
    specs = uncertain_parameters()
    support = rng.normal(0.2, 0.005, n)
    turnover = specs["model.turnover_rate"]["prior"].ppf(rng.random(n))
    support = support + 0.5 * (turnover - turnover.mean())
    particles = pd.DataFrame({"model.support": support, "model.turnover_rate": turnover,
                              "weight": np.full(n, 1 / n)})
    point = {"model.support": 0.2, "model.turnover_rate": float(np.median(turnover))}
    record = {"point": point, "settings": {"ics": "small_ics", "weeks": 60, "seeds": 1}}
    draws = particles.drop(columns="weight").iloc[:100]
    return Calibration(record, particles, draws, ["model.support", "model.turnover_rate"])


def test_identification_tells_pinned_from_unidentified_parameters():
    ident = identification(synthetic_calibration()).set_index("parameter")
    assert ident.loc["model.support", "identified"]
    assert ident.loc["model.support", "width_ratio"] < 0.2
    assert not ident.loc["model.turnover_rate", "identified"]
    assert ident.loc["model.turnover_rate", "width_ratio"] == pytest.approx(1.0, abs=0.1)


def test_correlations_are_weighted_pearson():
    corr = correlations(synthetic_calibration())
    assert corr.loc["model.support", "model.support"] == pytest.approx(1.0)
    assert corr.loc["model.support", "model.turnover_rate"] > 0.0


def test_the_predictive_table_says_which_targets_are_met():
    def target(name, value, kind="value"):
        return Target(name, name, "mean_last_52", "managers", kind, value, "a source",
                      Uncertainty(0.01, "o"), Uncertainty(0.0, "d"), "fit")

    predictive = pd.DataFrame({"near": np.linspace(0.29, 0.31, 50),
                               "far": np.linspace(0.5, 0.6, 50),
                               "bound": np.linspace(0.1, 0.2, 50)})
    table = predictive_table([target("near", 0.3), target("far", 0.3),
                              target("bound", 0.15, "upper_bound")], predictive)
    assert table.set_index("target")["hit"].to_dict() == {"near": True, "far": False,
                                                          "bound": True}
