"""Shared fixtures: composed Hydra configs and cached small runs."""

import functools

import numpy as np
import pandas as pd
import pytest

from simulation.config import compose
from simulation.model import SharedLeadershipModel


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


def paired(outcome, seeds, weeks: int = 104, ics: str = "small_ics", **overrides) -> np.ndarray:
    """``outcome(timeseries)`` for each seed, in seed order (so arms pair by seed)."""
    return np.array([outcome(timeseries(seed, weeks, ics, **overrides)) for seed in seeds])


def assert_paired_increase(higher: np.ndarray, lower: np.ndarray, z: float = 3.0) -> None:
    """The paired difference ``higher - lower`` is positive by at least ``z`` standard errors."""
    diff = np.asarray(higher) - np.asarray(lower)
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() > z * se, f"paired difference {diff.mean():.4g} is not > {z} x SE {se:.3g}"


def last_weeks(column: str, weeks: int = 13):
    """Outcome: the mean of ``column`` over the last ``weeks`` weeks of a run."""
    return lambda ts: ts[column].iloc[-weeks:].mean()


def total(column: str):
    """Outcome: the sum of a weekly ``column`` over the run."""
    return lambda ts: ts[column].sum()
