"""Shared fixtures: composed Hydra configs and cached small runs."""

import functools

import numpy as np
import pandas as pd
import pytest

from simulation.model import SharedLeadershipModel
from simulation.params import compose


@pytest.fixture
def compose_config():
    """Compose the app's config with overrides, as the ``slsim`` command does."""

    return compose


@functools.cache
def _run(ics: str, seed: int, weeks: int, overrides: tuple) -> pd.DataFrame:
    model = SharedLeadershipModel(ics=ics, seed=seed, weeks=weeks, **dict(overrides))
    model.run()
    return model.datacollector.get_model_vars_dataframe()


def timeseries(seed: int, weeks: int = 104, ics: str = "small_ics", **overrides) -> pd.DataFrame:
    """The weekly outputs of a cached run (treat as read-only)."""
    return _run(ics, seed, weeks, tuple(sorted(overrides.items())))


def paired(outcome, seeds, **overrides) -> np.ndarray:
    """``outcome(timeseries)`` for each seed, in seed order (so arms pair by seed)."""
    return np.array([outcome(timeseries(seed, **overrides)) for seed in seeds])
