"""The reference engine (idiomatic Mesa) and its docking with the vectorised engine."""

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from simulation.config import build_config
from simulation.model import SharedLeadershipModel
from simulation.params import ConfigError
from simulation.reference import (
    DOCKED_OUTPUTS,
    ReferenceManager,
    ReferenceModel,
    docking_runs,
    equivalence,
)


def test_reference_starts_from_the_vectorised_engines_state():
    config = build_config(ics="small_ics", seed=8, weeks=3)
    vectorised, reference = SharedLeadershipModel(config), ReferenceModel(config)
    managers, ties = reference.state()
    for f in fields(managers):
        np.testing.assert_array_equal(getattr(managers, f.name),
                                      getattr(vectorised.managers, f.name), err_msg=f.name)
    for f in fields(ties):
        np.testing.assert_array_equal(getattr(ties, f.name), getattr(vectorised.ties, f.name),
                                      err_msg=f.name)
    assert reference.latest == vectorised.latest


def test_agents_are_mesa_agents_with_neighbours_from_the_network():
    model = ReferenceModel(ics="small_ics", seed=2, weeks=2)
    assert len(model.agents) == len(model.posts) == 240
    agent = model.posts[7]
    assert isinstance(agent, ReferenceManager)
    neighbours = {partner.post for partner in agent.cell.neighborhood.agents}
    assert neighbours == set(agent.ties)
    assert all(agent.post in model.posts[j].ties for j in neighbours)


@pytest.mark.parametrize("schedule", ["sequential", "staged"])
def test_reference_runs_reproducibly_with_exits_and_replacements(schedule):
    def run():
        model = ReferenceModel(ics="small_ics", seed=4, weeks=30, schedule=schedule,
                               turnover_rate=0.02, recruitment_lag=3)
        model.run()
        return model

    model = run()
    series = model.datacollector.get_model_vars_dataframe()
    assert len(series) == 31 and model.steps == 30
    assert series["exits"].sum() > 20
    managers, _ = model.state()
    assert (~managers.active).sum() == series["vacancies"].iloc[-1]
    assert managers.hired_week.max() > 0  # posts were filled again
    assert np.isfinite(series.to_numpy(dtype=float)).all()
    np.testing.assert_array_equal(series.to_numpy(), run().datacollector
                                  .get_model_vars_dataframe().to_numpy())


def test_reference_refuses_interventions_and_unknown_schedules():
    with pytest.raises(ConfigError, match="schedule = 'random'"):
        ReferenceModel(ics="small_ics", schedule="random")
    with pytest.raises(ConfigError, match="reference engine"):
        ReferenceModel(build_config(ics="small_ics", scenario="protected_time"))


def test_equivalence_detects_a_shift_beyond_the_margin():
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(30):
        base = {name: 1.0 + 0.02 * rng.standard_normal() for name in DOCKED_OUTPUTS}
        rows.append({"engine": "sequential", "seed": seed, **base})
        rows.append({"engine": "same", "seed": seed,
                     **{k: v + 0.01 * rng.standard_normal() for k, v in base.items()}})
        rows.append({"engine": "shifted", "seed": seed, **{k: 1.2 * v for k, v in base.items()}})
    runs = pd.DataFrame(rows)
    assert equivalence(runs, "same").equivalent.all()
    shifted = equivalence(runs, "shifted")
    assert not shifted.equivalent.any()
    assert shifted.difference_pct.between(19, 21).all()


@pytest.mark.slow
def test_docking_the_vectorised_engine_against_the_reference():
    """Over 30 seeds of small_ics (52 weeks, to keep the reference's cost near half a minute),
    the vectorised engine and the sequential Mesa reference agree within +-10% of the reference
    mean on every docked output (paired TOST at 5%)."""
    runs = docking_runs(range(30), weeks=52)
    table = equivalence(runs, "vectorised", "sequential")
    assert table.equivalent.all(), table.to_string()
