"""Statistics of replicated runs: confidence intervals, paired differences, effect sizes, and
whether there are enough seeds.

Runs of different scenarios with the same seed share their random streams (common random
numbers), so scenario differences are estimated *paired by seed*: the difference of each seed's
pair of runs, then a t interval of those differences. Pairing removes the noise the two runs
share, which is most of it. All intervals are two-sided t intervals (Student's t with n - 1
degrees of freedom); with fewer than two runs they are undefined (NaN).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

LEVEL = 0.95


def t_quantile(n: int, level: float = LEVEL) -> float:
    """The two-sided t critical value for ``n`` observations (NaN below 2)."""
    return float(sps.t.ppf(0.5 + level / 2, n - 1)) if n >= 2 else math.nan


@dataclass(frozen=True)
class Estimate:
    """A mean with its two-sided confidence interval."""

    mean: float
    low: float
    high: float
    sd: float
    n: int
    level: float = LEVEL

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def relative_half_width(self) -> float:
        """CI half-width as a share of the mean (NaN at a zero mean)."""
        return abs(self.half_width / self.mean) if self.mean else math.nan

    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


def mean_ci(values, level: float = LEVEL) -> Estimate:
    """Mean of ``values`` with its t confidence interval."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n >= 2 else math.nan
    half = t_quantile(n, level) * sd / math.sqrt(n) if n >= 2 else math.nan
    return Estimate(mean, mean - half, mean + half, sd, n, level)


@dataclass(frozen=True)
class PairedDifference:
    """Treatment minus baseline, paired by seed.

    ``difference``: the mean of the per-seed differences with its CI. ``relative``: the ratio of
    means minus one (a share of the baseline mean) with a CI from the linearised ratio estimator,
    which accounts for the uncertainty of the baseline mean too. ``cohen_d``: the mean difference
    in units of the between-seed standard deviation (the root mean square of the two arms' SDs),
    so it measures the effect against the run-to-run spread, not against the (smaller) spread of
    paired differences. ``p_value``: the paired t test of no difference.
    """

    difference: Estimate
    relative: Estimate
    cohen_d: float
    p_value: float
    baseline_mean: float
    treatment_mean: float

    @property
    def n(self) -> int:
        return self.difference.n

    def clear(self) -> bool:
        """Whether the CI of the difference excludes zero (the difference is not within noise)."""
        return self.difference.excludes_zero()


def paired_difference(treatment, baseline, level: float = LEVEL) -> PairedDifference:
    """Paired comparison of two arrays of runs aligned by seed (``treatment[i]`` pairs
    ``baseline[i]``)."""
    t = np.asarray(treatment, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if t.shape != b.shape:
        raise ValueError(f"paired arrays differ in length: {t.shape} and {b.shape}")
    n = len(t)
    difference = mean_ci(t - b, level)
    t_mean, b_mean = float(t.mean()), float(b.mean())
    if b_mean and n >= 2:
        ratio = t_mean / b_mean
        linearised = (t - ratio * b) / b_mean  # ratio estimator: its SD gives the ratio's SE
        half = t_quantile(n, level) * float(linearised.std(ddof=1)) / math.sqrt(n)
        relative = Estimate(ratio - 1, ratio - 1 - half, ratio - 1 + half,
                            float(linearised.std(ddof=1)), n, level)
    else:
        relative = Estimate(math.nan, math.nan, math.nan, math.nan, n, level)
    spread = math.sqrt((t.var(ddof=1) + b.var(ddof=1)) / 2) if n >= 2 else math.nan
    cohen_d = difference.mean / spread if spread else math.nan
    if n >= 2 and difference.sd > 0:
        p_value = float(2 * sps.t.sf(abs(difference.mean) / (difference.sd / math.sqrt(n)), n - 1))
    elif n >= 2:
        p_value = 1.0 if difference.mean == 0 else 0.0
    else:
        p_value = math.nan
    return PairedDifference(difference, relative, cohen_d, p_value, b_mean, t_mean)


def effect_size_words(d: float) -> str:
    """Cohen's conventional words for |d|: negligible, small, medium, large."""
    if not np.isfinite(d):
        return "undefined"
    size = abs(d)
    return ("negligible" if size < 0.2 else "small" if size < 0.5 else "medium" if size < 0.8
            else "large")


# --- Replications -------------------------------------------------------------------------------

def seeds_for_half_width(sd: float, target: float, level: float = LEVEL,
                         at_least: int = 2, most: int = 100_000) -> int | None:
    """Fewest seeds whose t interval has half-width at most ``target`` for a spread ``sd``.

    Iterates because t depends on n. None if ``target`` is zero or ``sd`` is undefined.
    """
    if not (np.isfinite(sd) and np.isfinite(target)) or target <= 0:
        return None
    if sd == 0:
        return at_least
    n = max(at_least, math.ceil((sps.norm.ppf(0.5 + level / 2) * sd / target) ** 2))
    while n < most and t_quantile(n, level) * sd / math.sqrt(n) > target:
        n += 1
    return n


def seeds_for_precision(values, relative_precision: float = 0.05,
                        level: float = LEVEL) -> int | None:
    """Seeds needed for a CI half-width within ``relative_precision`` of the mean."""
    estimate = mean_ci(values, level)
    return seeds_for_half_width(estimate.sd, relative_precision * abs(estimate.mean), level)


def seeds_to_resolve(difference: PairedDifference, level: float = LEVEL) -> int | None:
    """Seeds needed for the CI of a paired difference of this size and spread to exclude zero
    (the half-width below the observed mean difference). None for a zero difference."""
    return seeds_for_half_width(difference.difference.sd, abs(difference.difference.mean), level)


def running_cv(values) -> np.ndarray:
    """Coefficient of variation (SD / |mean|) of the first n values, for n = 1 .. N (n = 1: NaN)."""
    x = np.asarray(values, dtype=float)
    n = np.arange(1, len(x) + 1)
    mean = np.cumsum(x) / n
    squares = np.cumsum(x * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (squares - n * mean**2) / (n - 1)
        cv = np.sqrt(np.clip(variance, 0, None)) / np.abs(mean)
    cv[0] = np.nan
    return cv


@dataclass(frozen=True)
class CVStability:
    """Result of the coefficient-of-variation stability method (Robinson 2014, section 9.6).

    The running CV of the outputs is computed as seeds are added; the number of replications is
    adequate from the point where the running CV stops moving: ``stable_from`` is the fewest
    seeds from which every later running CV stays within ``tolerance`` (relative) of the final
    one, with at least ``look_ahead`` seeds after it to show it. None: not (yet) stable.
    """

    cv: np.ndarray
    stable_from: int | None
    tolerance: float
    look_ahead: int

    @property
    def final(self) -> float:
        return float(self.cv[-1]) if len(self.cv) else math.nan


def cv_stability(values, tolerance: float = 0.1, look_ahead: int = 5) -> CVStability:
    """Apply the CV stability method to ``values`` in the order given (by seed)."""
    cv = running_cv(values)
    n = len(cv)
    stable_from = None
    if n >= 3 and np.isfinite(cv[-1]):
        final = cv[-1]
        within = np.abs(cv - final) <= tolerance * abs(final) if final else cv == 0
        for start in range(n - 1, 1, -1):  # the longest run of "within" that ends at N
            if not within[start]:
                break
            stable_from = start + 1
        if stable_from is not None and n - stable_from < look_ahead:
            stable_from = None
    return CVStability(cv, stable_from, tolerance, look_ahead)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values for multiple comparisons (NaNs are kept)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite])]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
