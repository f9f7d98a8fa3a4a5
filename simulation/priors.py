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

A probabilistic sensitivity analysis draws every prior at once, draw by draw: :func:`unit_draw`
gives each uncertain quantity (named by its config path) its own point of [0, 1] for draw K,
from a seeded stream keyed by the draw and the path alone, so a draw is the same in any process,
and adding a parameter to the schema changes no other parameter's draws.
"""

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("uniform", "triangular", "loguniform")
# The fixed key of the PSA's random streams (any constant would do; this one is the issue
# number and the year the scheme was set, so it is never confused with a run's seed).
PSA_STREAM_KEY = 152026


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
        """The frozen scipy.stats distribution (made once: making one costs more than a
        quantile)."""
        return self._distribution

    @functools.cached_property
    def _distribution(self) -> Any:
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

    def drawn(self, u: float, configured: float, allowed: tuple[float, float]) -> float:
        """The value at the point ``u`` of [0, 1]: the quantile, or for a relative prior the
        configured value times it, clipped into the ``allowed`` range (priors.py: relative)."""
        value = self._quantile(u)
        if self.relative:
            value = min(max(configured * value, allowed[0]), allowed[1])
        return round(value) if isinstance(configured, int) else value

    def _quantile(self, u: float) -> float:
        """The quantile of one point, remembered: a PSA asks for each draw's point again in
        every option and seed, and scipy's quantile costs a millisecond."""
        if u not in self._quantiles:
            self._quantiles[u] = float(self.ppf(u))
        return self._quantiles[u]

    @functools.cached_property
    def _quantiles(self) -> dict[float, float]:
        return {}

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


def _path_words(path: str) -> tuple[int, ...]:
    """A config path as four 32-bit words of its SHA-256 (Python's ``hash`` of a string changes
    from process to process; this never does)."""
    digest = hashlib.sha256(path.encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


@functools.cache
def unit_draw(path: str, draw: int) -> float:
    """The point of [0, 1] that draw ``draw`` gives the uncertain quantity ``path``: one number
    of numpy's PCG64 stream seeded by ``SeedSequence([PSA_STREAM_KEY, draw, *path])``, never the
    global random state, so it is bit-identical in any process (O'Neill 2014, PCG; numpy's
    SeedSequence mixes the words so nearby keys give independent streams)."""
    sequence = np.random.SeedSequence([PSA_STREAM_KEY, int(draw), *_path_words(path)])
    return float(np.random.default_rng(sequence).random())
