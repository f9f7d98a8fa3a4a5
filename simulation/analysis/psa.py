"""Probabilistic sensitivity analysis (PSA): decisions under parameter uncertainty, from runs on
draws (issue 15).

In a PSA every option runs on the same draws of the uncertain parameters, so each statistic here
takes arrays of shape (draws, options): row ``k`` holds each option's outcome under draw ``k``
(averaged over that draw's seeds by :func:`by_draw`). Column 0 is the baseline where one is
needed. The conventions are those of health economics (Briggs, Claxton & Sculpher, *Decision
Modelling for Health Economic Evaluation*, 2006, ch. 4-7):

* **paired difference** against the baseline over draws, with a credible interval (the central
  quantiles of the draws' differences) and P(difference > 0);
* **P(best)** and **P(top two)**, with their Monte Carlo standard errors;
* the **cost-effectiveness plane** (incremental cost against incremental effect, one point per
  draw), the **CEAC** (the probability each option has the highest net benefit, over a grid of
  willingness to pay) and the **CEAF** (the option with the highest *expected* net benefit, and
  that probability);
* **expected net benefit**, **EVPI** (what resolving every uncertainty would be worth) and
  **EVPPI** (what resolving one group of parameters would be worth), the last by the regression
  method of Strong, Oakley & Brennan (2014, Med Decis Making 34:311).

Every function is pure and vectorised over draws (and over the willingness-to-pay grid).
"""

import math
import warnings

import numpy as np
import pandas as pd
from scipy import linalg
from sklearn.preprocessing import SplineTransformer

from ..icb import roster

LEVEL = 0.95


# --- From tidy runs to draws x options --------------------------------------------------------

def by_draw(runs: pd.DataFrame, value: str, options: list[str] | None = None,
            option: str = "option", draw: str = "draw") -> tuple[np.ndarray, list[str], list]:
    """``value`` as a (draws, options) array, averaged over each draw's seeds, with the options
    and draws it holds. Every option must have run every draw (the PSA is paired); a missing
    (option, draw) pair fails, naming it."""
    for column in (option, draw, value):
        if column not in runs.columns:
            raise ValueError(f"runs lack the column {column!r}; they have {list(runs.columns)}")
    means = runs.groupby([draw, option])[value].mean().unstack(option)
    options = list(options) if options is not None else list(means.columns)
    unknown = [o for o in options if o not in means.columns]
    if unknown:
        raise ValueError(f"{option} {unknown} has no runs; choose from {list(means.columns)}")
    means = means[options]
    gaps = means.isna().stack()
    if gaps.any():
        missing = list(gaps[gaps].index[:5])
        raise ValueError(f"the PSA is not paired: (draw, {option}) {missing} did not run; "
                         "every option needs every draw")
    return means.to_numpy(float), options, list(means.index)


def _checked(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"expected a (draws, options) array, got shape {array.shape}")
    return array


# --- Differences and rankings ------------------------------------------------------------------

def mcse_of_share(p, n: int):
    """Monte Carlo standard error of a share ``p`` estimated from ``n`` independent draws,
    sqrt(p (1 - p) / n) (Koehler, Brown & Haneuse 2009, Am Stat 63:155)."""
    return np.sqrt(np.asarray(p, float) * (1 - np.asarray(p, float)) / n)


def draw_differences(values, baseline: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Each option minus the baseline, draw by draw: one row per option (baseline included, at
    zero) with the mean difference, its central ``level`` credible interval over draws, and
    P(difference > 0) with its Monte Carlo standard error.

    ``clear``, the verdict of a PSA table, is read from the interval printed: it excludes zero
    (with many draws, the same as P(difference > 0) above 0.975 or below 0.025; with few, the
    interpolated quantiles and the count of draws can differ at the edge, and the verdict follows
    the interval).
    """
    x = _checked(values)
    difference = x - x[:, [baseline]]
    tail = (1 - level) / 2
    p_positive = (difference > 0).mean(axis=0)
    low = np.quantile(difference, tail, axis=0)
    high = np.quantile(difference, 1 - tail, axis=0)
    return pd.DataFrame({
        "mean": difference.mean(axis=0), "low": low, "high": high,
        "p_positive": p_positive,
        "p_positive_mcse": mcse_of_share(p_positive, len(x)),
        "clear": (low > 0) | (high < 0)})


def _best_shares(values) -> np.ndarray:
    """Per draw, each option's share of being best: 1 for the unique best, 1/m each for m tied."""
    x = _checked(values)
    best = x == x.max(axis=1, keepdims=True)
    return best / best.sum(axis=1, keepdims=True)


def probability_best(values, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """P(best) of each option over draws (ties share the draw), and its Monte Carlo standard
    error."""
    x = _checked(values)
    p = _best_shares(x if higher_is_better else -x).mean(axis=0)
    return p, mcse_of_share(p, len(x))


def probability_top(values, k: int = 2, higher_is_better: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
    """P(among the top ``k``) of each option (fewer than ``k`` options strictly better in the
    draw), and its Monte Carlo standard error."""
    x = _checked(values)
    if not 1 <= k <= x.shape[1]:
        raise ValueError(f"k = {k} is outside the allowed range [1, {x.shape[1]}] (options)")
    x = x if higher_is_better else -x
    better = (x[:, None, :] > x[:, :, None]).sum(axis=2)  # draws x options: options above it
    p = (better < k).mean(axis=0)
    return p, mcse_of_share(p, len(x))


# --- Cost-effectiveness ------------------------------------------------------------------------

def ce_plane(effects, costs, options: list[str], baseline: int = 0) -> pd.DataFrame:
    """The cost-effectiveness plane's points: per draw and option (not the baseline), the
    incremental effect and incremental cost against the baseline."""
    e, c = _checked(effects), _checked(costs)
    rows = [pd.DataFrame({"draw": np.arange(len(e)), "option": name,
                          "incremental_effect": e[:, j] - e[:, baseline],
                          "incremental_cost": c[:, j] - c[:, baseline]})
            for j, name in enumerate(options) if j != baseline]
    return pd.concat(rows, ignore_index=True)


def net_benefit(effects, costs, wtp) -> np.ndarray:
    """Net monetary benefit, (wtp, draws, options): ``wtp * effect - cost`` at each willingness
    to pay of the grid (Stinnett & Mullahy 1998)."""
    e, c = _checked(effects), _checked(costs)
    return np.atleast_1d(np.asarray(wtp, float))[:, None, None] * e - c


def expected_net_benefit(effects, costs, wtp) -> np.ndarray:
    """Expected net benefit over draws, (wtp, options)."""
    return net_benefit(effects, costs, wtp).mean(axis=1)


def ceac(effects, costs, wtp) -> np.ndarray:
    """Cost-effectiveness acceptability curves, (wtp, options): the probability each option has
    the highest net benefit at each willingness to pay (van Hout et al. 1994, Health Econ 3:309).
    Each row sums to 1."""
    nb = net_benefit(effects, costs, wtp)
    best = nb == nb.max(axis=2, keepdims=True)
    return (best / best.sum(axis=2, keepdims=True)).mean(axis=1)


def ceaf(effects, costs, wtp) -> tuple[np.ndarray, np.ndarray]:
    """The cost-effectiveness acceptability frontier (Fenwick, Claxton & Sculpher 2001, Health
    Econ 10:779): at each willingness to pay, the option with the highest *expected* net benefit
    (the one to choose) and its probability of being the best."""
    chosen = expected_net_benefit(effects, costs, wtp).argmax(axis=1)
    curves = ceac(effects, costs, wtp)
    return chosen, curves[np.arange(len(chosen)), chosen]


# --- Value of information ----------------------------------------------------------------------

def evpi(net_benefits) -> float:
    """Expected value of perfect information per decision: E[max_d NB_d] - max_d E[NB_d] over
    draws (Claxton 1999, J Health Econ 18:341), for one (draws, options) array of net benefit."""
    nb = _checked(net_benefits)
    # never below zero (E[max] >= max E); the two means differ by rounding alone when one
    # option is best in every draw
    return max(float(nb.max(axis=1).mean() - nb.mean(axis=0).max()), 0.0)


def population_evpi(per_decision: float, systems: int | None = None,
                    horizon_years: float = 3.0, decision_years: float = 10.0,
                    rate: float = 0.035) -> float:
    """EVPI scaled from one system and one decision to ``systems`` systems deciding afresh every
    ``horizon_years`` (the model's horizon) for ``decision_years``, each later decision
    discounted at ``rate``: per_decision x systems x sum_k (1 + rate)^(-k horizon_years).

    The defaults: every system is one of England's 42 ICBs (``systems=None``:
    :func:`simulation.icb.roster`); a decision horizon of 10 years [A: 5 to 15, the span of the
    NHS's long-term plans; information is worth less as the system it informs changes: Philips,
    Claxton & Palmer 2008, "The half-life of truth", Med Decis Making 28:287].
    """
    systems = len(roster()) if systems is None else systems
    if systems < 1 or horizon_years <= 0 or decision_years < horizon_years:
        raise ValueError(f"systems = {systems} must be >= 1 and decision_years = "
                         f"{decision_years} >= horizon_years = {horizon_years} > 0")
    decisions = math.ceil(decision_years / horizon_years - 1e-9)
    weights = (1.0 + rate) ** (-horizon_years * np.arange(decisions))
    return float(per_decision * systems * weights.sum())


def _pspline_fit(x: np.ndarray, y: np.ndarray, basis_size: int) -> np.ndarray:
    """Fitted values of a tensor-product penalised cubic regression spline of ``y`` on the
    columns of ``x`` (P-splines: equally spaced knots, so an input with few values still has a
    full basis; Eilers & Marx 1996, Stat Sci 11:89), the smoothing parameter chosen by
    generalised cross-validation: the GAM of Strong et al. (2014) without mgcv.

    The second-difference penalty leaves linear trends unpenalised, so the fitted values keep
    the mean of ``y`` (what EVPPI needs: E[fitted] = E[NB]).
    """
    knots = basis_size - 2  # cubic B-splines: basis size = knots + degree - 1
    bases = [SplineTransformer(n_knots=knots, degree=3, knots="uniform", include_bias=True)
             .fit_transform(column[:, None]) for column in x.T]
    design = bases[0]
    for basis in bases[1:]:  # row-wise Kronecker product: the tensor-product basis
        design = (design[:, :, None] * basis[:, None, :]).reshape(len(y), -1)
    sizes = [b.shape[1] for b in bases]
    penalty = np.zeros((design.shape[1],) * 2)
    for axis, size in enumerate(sizes):
        second = np.diff(np.eye(size), n=2, axis=0)
        factors = [second.T @ second if i == axis else np.eye(s) for i, s in enumerate(sizes)]
        term = factors[0]
        for factor in factors[1:]:
            term = np.kron(term, factor)
        penalty += term
    gram, moment = design.T @ design, design.T @ y
    scale = np.trace(gram) / np.trace(penalty)
    # A vanishing ridge keeps the system solvable when an input takes few values (empty basis
    # functions), without changing the fit otherwise.
    ridge = 1e-9 * np.trace(gram) / len(gram) * np.eye(len(gram))
    best = (np.inf, np.full(len(y), y.mean()))
    for smoothing in 10.0 ** np.arange(-6, 4.5, 0.5):
        system = gram + smoothing * scale * penalty + ridge
        coefficients = linalg.solve(system, moment, assume_a="pos")
        fitted = design @ coefficients
        freedom = len(y) - np.trace(linalg.solve(system, gram, assume_a="pos"))
        gcv = len(y) * np.sum((y - fitted) ** 2) / freedom**2 if freedom > 0 else np.inf
        if gcv < best[0]:
            best = (gcv, fitted)
    return best[1]


def _gp_fit(x: np.ndarray, y: np.ndarray, most: int, seed: int) -> np.ndarray:
    """Fitted values of a Gaussian-process regression of ``y`` on ``x`` (squared-exponential
    kernel, one length-scale per input, plus noise), fitted on at most ``most`` draws: Strong et
    al.'s (2014) method for groups of more than a few parameters."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    scaled = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    subset = np.random.default_rng(seed).permutation(len(y))[:most]
    kernel = ConstantKernel() * RBF(np.ones(x.shape[1])) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
    with warnings.catch_warnings():  # an input that does not matter runs to its length-scale
        warnings.simplefilter("ignore", ConvergenceWarning)  # bound: the right answer
        gp.fit(scaled[subset], y[subset])
        if not _predicts_held_out_draws(gp, scaled[subset], y[subset], seed):
            return np.full(len(y), y.mean())  # the group tells no more than the mean does
    fitted = gp.predict(scaled)
    return fitted - fitted.mean() + y.mean()  # keep E[fitted] = E[NB]


def _predicts_held_out_draws(gp, x: np.ndarray, y: np.ndarray, seed: int,
                             folds: int = 5) -> bool:
    """Whether a Gaussian process like ``gp``, fitted afresh on the other draws, predicts each
    fold of held-out draws better than their mean does (5-fold cross-validated R^2 above 0).

    With a hundred draws and a group of many parameters that do not matter, maximum likelihood
    can choose a process that interpolates the noise: the fitted values then reproduce the
    draws and EVPPI comes out near EVPI (8 irrelevant parameters: 0.35-0.38 of an EVPI of
    0.38-0.41, at 100 and at 400 draws). Held-out draws expose it, if the hyperparameters are
    chosen again without them (kept from the whole fit, they leak the held-out draws' noise).
    Strong, Oakley & Brennan (2014) check the regression's fit for the same reason.
    """
    from sklearn.base import clone

    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    predicted = np.empty(len(y))
    for k in range(folds):
        held = fold == k
        predicted[held] = clone(gp).fit(x[~held], y[~held]).predict(x[held])
    return float(np.sum((y - predicted) ** 2)) < float(np.sum((y - y.mean()) ** 2))


EVPPI_METHODS = ("auto", "gam", "gp")
GAM_BASIS = {1: 12, 2: 7, 3: 5}  # basis functions per input: tensor products grow as size^p


def evppi(net_benefits, inputs, method: str = "auto", gp_points: int = 1000,
          seed: int = 0) -> float:
    """Expected value of partial perfect information of the parameter group ``inputs``
    (draws, p): E[max_d g_d(X)] - max_d E[g_d(X)], where g_d(x) = E[NB_d | X = x] is estimated
    by regressing each option's net benefit, relative to option 0's, on the group's draws
    (Strong, Oakley & Brennan 2014, Med Decis Making 34:311).

    ``method``: ``gam`` (a tensor-product penalised spline, the paper's GAM, for up to 3
    parameters), ``gp`` (a Gaussian process, the paper's choice for larger groups) or ``auto``
    (``gam`` up to 3 parameters, else ``gp``). The estimate is clipped to [0, EVPI].
    """
    nb = _checked(net_benefits)
    x = np.asarray(inputs, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    if method not in EVPPI_METHODS:
        raise ValueError(f"method = {method!r} is not one of {list(EVPPI_METHODS)}")
    if x.shape[0] != nb.shape[0]:
        raise ValueError(f"inputs have {x.shape[0]} draws and net benefits {nb.shape[0]}")
    if method == "auto":
        method = "gam" if x.shape[1] in GAM_BASIS else "gp"
    if method == "gam" and x.shape[1] not in GAM_BASIS:
        raise ValueError(f"method 'gam' takes 1 to 3 parameters, not {x.shape[1]}; use 'gp'")
    incremental = nb - nb[:, [0]]
    fitted = np.zeros_like(incremental)
    for d in range(1, nb.shape[1]):
        y = incremental[:, d]
        if np.ptp(y) == 0:
            fitted[:, d] = y
        elif method == "gam":
            fitted[:, d] = _pspline_fit(x, y, GAM_BASIS[x.shape[1]])
        else:
            fitted[:, d] = _gp_fit(x, y, gp_points, seed)
    value = float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max())
    return min(max(value, 0.0), evpi(nb))


def evppi_groups(net_benefits, inputs: pd.DataFrame, groups: dict[str, list[str]],
                 **options) -> pd.Series:
    """EVPPI of each named group of columns of ``inputs`` (one row per draw), largest first."""
    unknown = sorted({c for cols in groups.values() for c in cols} - set(inputs.columns))
    if unknown:
        raise ValueError(f"parameters {unknown} are not columns of the draws; choose from "
                         f"{list(inputs.columns)}")
    values = {name: evppi(net_benefits, inputs[cols].to_numpy(float), **options)
              for name, cols in groups.items()}
    return pd.Series(values, name="evppi").sort_values(ascending=False)



def _zero_crossings(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where the curve through the points (``x``, ``y``), sorted by ``x``, crosses zero: each
    sign change interpolated linearly between its two neighbouring points."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    cross = np.flatnonzero(np.sign(y[:-1]) * np.sign(y[1:]) < 0)
    return x[cross] - y[cross] * (x[cross + 1] - x[cross]) / (y[cross + 1] - y[cross])


def one_way_ranges(incremental, inputs: pd.DataFrame, share: float = 0.1) -> pd.DataFrame:
    """The tornado of a PSA, and each input's switching value: for each input, the expected
    ``incremental`` outcome (one value per draw, e.g. the net benefit of the leading option over
    the next) among the draws where the input is in its lowest and in its highest ``share``
    (10%), read off a one-input regression (the :func:`evppi` spline) so that the other inputs
    average out. Rows sorted by the width of the range, widest first (Briggs, Claxton &
    Sculpher 2006, section 5.2: one-way sensitivity from a probabilistic sample).

    The threshold analysis of the same regression: ``switch_at`` is the input's value at which
    the expected ``incremental`` outcome crosses zero (where the choice between the two options
    changes; the lowest, if it crosses more than once), NaN if it keeps one sign over the
    draws' range; ``switches`` counts the crossings (Briggs et al. 2006, section 5.2: threshold
    values; Drummond et al. 2015, ch. 11).
    """
    y = np.asarray(incremental, dtype=float)
    rows = []
    for name in inputs.columns:
        x = inputs[name].to_numpy(float)
        fitted = _pspline_fit(x[:, None], y, GAM_BASIS[1])
        low, high = np.quantile(x, [share, 1 - share])
        crossings = _zero_crossings(x, fitted)
        rows.append({"parameter": name, "at_low": fitted[x <= low].mean(),
                     "at_high": fitted[x >= high].mean(),
                     "switch_at": crossings.min() if len(crossings) else np.nan,
                     "switches": len(crossings)})
    frame = pd.DataFrame(rows, columns=["parameter", "at_low", "at_high", "switch_at",
                                        "switches"])
    width = (frame["at_high"] - frame["at_low"]).abs()
    return frame.assign(width=width).sort_values("width", ascending=False,
                                                 ignore_index=True)
