"""Plausible priors of the uncertain parameters (docs/ODD.md, "Parameters").

The schema (``params.py``, and each lever's knobs in ``interventions.py``) declares each
parameter's *allowed* range, which validation enforces, and, for each assumption [A], a
*plausible* prior: the distribution of values a well-informed reader would find credible, with a
one-line reason. Sensitivity analysis, calibration and probabilistic sensitivity analysis draw
from these priors; a parameter whose value is a decision or a definition rather than an unknown
declares that instead (:func:`fixed`), with its reason.

Every prior is bounded, so that a draw always passes validation, and is defined by its quantile
function, through which samplers map points of the unit cube (SALib, Latin hypercubes, pyabc).
The distributions are scipy's, made when first used.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("uniform", "triangular", "loguniform")


@dataclass(frozen=True)
class Prior:
    """A bounded distribution over [low, high] with the reason for it.

    ``shape`` holds the kind's other numbers: the ``mode`` of a triangular prior. A
    ``relative`` prior is over a multiplier of the configured value (:func:`relative`).
    """

    kind: str
    low: float
    high: float
    why: str
    shape: dict[str, float] = field(default_factory=dict)
    relative: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"prior kind {self.kind!r} is not one of {list(KINDS)}")
        if not self.low < self.high:
            raise ValueError(f"prior bounds [{self.low}, {self.high}] must have low < high")
        if not self.why.strip():
            raise ValueError("a prior needs its reason")
        if self.kind == "loguniform" and not self.low > 0:
            raise ValueError(f"a log-uniform prior needs low > 0, not {self.low}")
        if self.kind == "triangular" and not self.low <= self.shape["mode"] <= self.high:
            raise ValueError(f"mode {self.shape['mode']} is outside [{self.low}, {self.high}]")
        if self.relative and not self.low <= 1.0 <= self.high:
            raise ValueError(f"a relative prior [{self.low}, {self.high}] must hold 1 (the "
                             "configured value)")

    def distribution(self) -> Any:
        """The frozen scipy.stats distribution."""
        from scipy import stats

        low, width = self.low, self.high - self.low
        if self.kind == "uniform":
            return stats.uniform(loc=low, scale=width)
        if self.kind == "triangular":
            return stats.triang((self.shape["mode"] - low) / width, loc=low, scale=width)
        return stats.loguniform(self.low, self.high)

    def ppf(self, u: Any) -> np.ndarray:
        """Quantiles: points of [0, 1] mapped to values, clipped into [low, high]."""
        return np.clip(self.distribution().ppf(np.asarray(u, dtype=float)), self.low, self.high)

    def describe(self) -> str:
        """The prior in a few words, for tables: e.g. ``triangular(0.1, 0.3, 0.6)``."""
        numbers = {"uniform": (self.low, self.high), "loguniform": (self.low, self.high),
                   "triangular": (self.low, self.shape.get("mode"), self.high)}[self.kind]
        text = f"{self.kind}({', '.join(f'{x:g}' for x in numbers)})"
        return f"configured value x {text}" if self.relative else text


@dataclass(frozen=True)
class Fixed:
    """An [A] value that is not sampled, because it is a decision, a definition or a bound."""

    why: str


def uniform(low: float, high: float, why: str) -> Prior:
    """Every value in [low, high] equally plausible."""
    return Prior("uniform", low, high, why)


def triangular(low: float, mode: float, high: float, why: str) -> Prior:
    """Most plausible at ``mode``, falling linearly to nothing at ``low`` and ``high``."""
    return Prior("triangular", low, high, why, {"mode": mode})


def loguniform(low: float, high: float, why: str) -> Prior:
    """Every order of magnitude in [low, high] equally plausible: for a rate known only within
    a factor."""
    return Prior("loguniform", low, high, why)


def relative(prior: Prior) -> Prior:
    """The same distribution over a multiplier of the configured value, for knobs whose value
    differs between configurations (a lever's tiers, say) while its uncertainty is proportional.
    A draw multiplies the configured value and is clipped into the allowed range."""
    return Prior(prior.kind, prior.low, prior.high, prior.why, prior.shape, relative=True)


def fixed(why: str) -> Fixed:
    """Declare that an [A] parameter is not sampled, and why."""
    return Fixed(why)
