"""The EMA Workbench adapter: a tiny experiment through it, then a PRIM box search."""

import numpy as np
import pytest

from simulation.params import ConfigError, uncertain_parameters

ema_workbench = pytest.importorskip("ema_workbench")

from ema_workbench import Sample, perform_experiments, process_replications  # noqa: E402
from ema_workbench.analysis import prim  # noqa: E402

from simulation.analysis.ema import ema_name, slsim_model  # noqa: E402

PARAMETERS = ["model.bureaucracy_load", "model.support", "network.cross_org_degree"]
# EMA 3.0 calls a pandas method deprecated in pandas 3.1 inside PRIM.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop")


def test_uncertainties_levers_outcomes_and_replications_come_from_the_model():
    model = slsim_model(levers=None)
    specs = uncertain_parameters()
    assert [u.variable_name[0] for u in model.uncertainties] == list(specs)
    for u in model.uncertainties:
        assert (u.lower_bound, u.upper_bound) == specs[u.variable_name[0]]["range"]
    assert "coverage__protected_time" in [lever.name for lever in model.levers]
    assert [r["seed"] for r in model.replications] == [0, 1, 2]
    assert "sl_density" in [o.name for o in model.outcomes]
    with pytest.raises(ConfigError, match=r"model\.nope"):
        slsim_model(parameters=["model.nope"])
    with pytest.raises(ConfigError, match="teleportation"):
        slsim_model(levers=["teleportation"])


def test_tiny_experiment_and_prim(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = slsim_model(weeks=6, seeds=(0, 1), parameters=PARAMETERS,
                        levers=["protected_time"], keep_replications=True)
    # A seeded design and two explicit policies: the test must not depend on numpy's global
    # random state, nor on two sampled coverages happening to enrol different numbers.
    lever = ema_name("coverage.protected_time")
    policies = [Sample("low", **{lever: 0.05}), Sample("high", **{lever: 1.0})]
    experiments, outcomes = perform_experiments(
        model, scenarios=12, policies=policies, uncertainty_sampling_kwargs={"rng": 1})
    assert len(experiments) == 24
    assert outcomes["sl_density_by_seed"].shape == (24, 2)  # one value per seed
    assert np.all(np.isfinite(outcomes["sl_density_by_seed"]))
    # Protected time costs money: the high-coverage policy costs more in every scenario.
    cost = process_replications(outcomes)["cost_by_seed"]
    high = experiments["policy"].to_numpy() == "high"
    assert (cost[high] > cost[~high]).all()
    # Scenario discovery: where is SL density high?
    density = process_replications(outcomes)["sl_density_by_seed"]
    x = experiments[[ema_name(p) for p in PARAMETERS]]
    y = density > np.median(density)
    box = prim.Prim(x, y, mass_min=0.1).find_box()
    stats = box.peeling_trajectory
    assert len(stats) >= 1 and stats["coverage"].iloc[0] == 1.0
    assert set(box.box_lims[-1].columns) == {ema_name(p) for p in PARAMETERS}
