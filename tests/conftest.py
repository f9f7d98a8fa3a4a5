"""Shared fixtures: composed Hydra configs and cached small runs."""

import functools

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from simulation.cli import ConfigStore  # noqa: F401  (registers the schema with Hydra)
from simulation.model import SharedLeadershipModel
from simulation.params import CONFIG_DIR


@pytest.fixture
def compose_config():
    """Compose the app's config with overrides, as the ``slsim`` command does."""

    def _compose(overrides=()):
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    return _compose


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
