"""The economic outcome of an option: discounted costs net of cost offsets, a valued effect, and
its net monetary benefit (issue 15, section 2).

The perspective is the NHS and personal social services (PSS), and costs and effects are
discounted at 3.5% a year, as in NICE's reference case (NICE, *Health technology evaluations: the
manual*, PMG36, 2022, section 4.5). Over a run's horizon, per run:

* **cost** = the intervention's cost + the cost of replacing every manager who left the system
  (``exits`` x :attr:`EconomicParams.replacement_cost`). Between two options, the second term is
  the cost offset: *leavers averted x the cost of replacing a manager*. Both are NHS or local
  authority (PSS) costs, so both are inside the perspective;
* **effect** = integrated-care tasks delivered (the model's ``tasks_completed``, summed over the
  weeks), a unit of work a decision-maker can value; leavers averted is the alternative effect;
* **net monetary benefit** (NMB) = willingness to pay per unit of effect x effect - cost
  (Stinnett & Mullahy 1998, Med Decis Making 18:S68). Only differences of NMB between options
  mean anything: the levels include the costs every option bears alike.

SL density has no price anyone would pay for it, so it enters only through
:func:`threshold_prices`: the price per unit at which each option would be chosen.

The model reports weekly series; week ``w`` (1, 2, ...) is discounted by ``(1 + r) ** (-w / 52)``
(:func:`discount_factors`), continuous in the week rather than by whole years, so a three-year
run is discounted smoothly. Every function here is pure and vectorised over runs.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..params import param, parameter_specs, validate
from ..posterior import spec_value
from ..priors import Prior, fixed, triangular

WEEKS_PER_YEAR = 52
# The willingness to pay per integrated-care task delivered (GBP). [A], no published value
# exists; the range is set by the manager time a task takes at GBP 55 an hour (the backfill rate
# protected time is costed at). Low end, GBP 150: the meeting time of one joint interaction
# (1.5 h from each of two partners). High end, GBP 18,000: the manager time the system already
# spends per task delivered on default_ics (about 15 leadership hours a week from each of 1,450
# managers for 68 tasks a week, some 320 hours a task), what it reveals it pays today. The
# headline, GBP 2,000, is about one manager-week (37.5 h). The CEAC spans GBP 0 to 20,000.
WTP_PER_TASK_RANGE = (150.0, 18000.0)


@dataclass
class EconomicParams:
    """The prices of the economic outcome, declared in the parameter schema (ranges, priors)."""

    replacement_cost: float = param(
        30000.0, 0.0, 500000.0, "GBP per leaver",
        "Cost to the NHS of replacing a manager who leaves: recruitment, induction, vacancy "
        "cover and the time a newcomer takes to reach full productivity.",
        "G: 32% (Audit Commission) to 114% of a year's salary (NHS estimates quoted by the "
        "Department of Health's director of HR, HSJ 6 May 2004, "
        "hsj.co.uk/17908.article); A: a manager on Agenda for Change band 8a, about "
        "GBP 57k a year, at about half a year's salary",
        prior=triangular(18000.0, 30000.0, 65000.0, "32% to 114% of a band 8a salary (HSJ "
                         "2004); lost productivity makes the upper half plausible"))
    discount_rate: float = param(
        0.035, 0.0, 0.15, "per year", "Discount rate of costs and effects.",
        "G: NICE reference case, 3.5% a year (PMG36, 2022)",
        prior=fixed("a convention of the reference case; 1.5% is NICE's sensitivity case"))
    wtp_per_task: float = param(
        2000.0, 0.0, 1e5, "GBP per task",
        "Willingness to pay for one integrated-care task delivered (the NMB headline).",
        f"A: plausible range GBP {WTP_PER_TASK_RANGE[0]:,.0f} to "
        f"{WTP_PER_TASK_RANGE[1]:,.0f} (WTP_PER_TASK_RANGE); the CEAC shows them all",
        prior=fixed("a value judgement of the decision-maker, shown over a range, not sampled"))

    def __post_init__(self) -> None:
        validate(self)


def discount_factors(weeks, rate: float = 0.035) -> np.ndarray:
    """The discount factor of each week: ``(1 + rate) ** (-week / 52)`` (NICE PMG36: 3.5% a
    year). Week 0, the start, is undiscounted."""
    if not 0 <= rate <= 1:
        raise ValueError(f"discount rate = {rate!r} is outside the allowed range [0, 1]")
    return (1.0 + rate) ** (-np.asarray(weeks, dtype=float) / WEEKS_PER_YEAR)


def discounted_totals(timeseries: pd.DataFrame, rate: float = 0.035,
                      by: str = "config_hash") -> pd.DataFrame:
    """One row per run (``by``): its intervention cost, tasks delivered and leavers, each summed
    over the weeks after the start and discounted.

    ``timeseries`` has one row per run and week with the model's ``cost`` (cumulative, so its
    weekly increments are the week's spending), ``tasks_completed`` and ``exits`` (weekly flows).
    """
    missing = [c for c in (by, "week", "cost", "tasks_completed", "exits")
               if c not in timeseries.columns]
    if missing:
        raise ValueError(f"timeseries lacks the columns {missing}; it needs {by!r}, 'week', "
                         "'cost', 'tasks_completed' and 'exits'")
    ordered = timeseries.sort_values([by, "week"])
    spent = ordered.groupby(by, sort=False)["cost"].diff().fillna(ordered["cost"])
    factor = discount_factors(ordered["week"], rate)
    after_start = (ordered["week"] > 0).to_numpy()
    weighted = pd.DataFrame({
        by: ordered[by],
        "intervention_cost": spent.to_numpy() * factor * after_start,
        "tasks": ordered["tasks_completed"].to_numpy() * factor * after_start,
        "leavers": ordered["exits"].to_numpy() * factor * after_start})
    return weighted.groupby(by, sort=False).sum()


def total_cost(intervention_cost, leavers, replacement_cost):
    """An option's cost to the NHS and PSS: the intervention plus replacing its leavers.

    Any argument may be an array or a Series (over draws, say); the replacement cost may be one
    value or one per draw. The difference between two options is the intervention's incremental
    cost minus the cost offset, leavers averted x the replacement cost.
    """
    return intervention_cost + leavers * replacement_cost


def net_monetary_benefit(effect, cost, wtp):
    """NMB = ``wtp`` x effect - cost (Stinnett & Mullahy 1998), broadcast over arrays: with
    ``effect`` and ``cost`` of shape (draws, options) and ``wtp`` a grid of shape (k,), the
    result is (k, draws, options)."""
    wtp = np.asarray(wtp, float)
    effect, cost = np.asarray(effect, float), np.asarray(cost, float)
    if wtp.ndim == 0:
        return wtp * effect - cost
    shape = (-1,) + (1,) * effect.ndim
    return wtp.reshape(shape) * effect - cost


def threshold_prices(effect_means, cost_means) -> np.ndarray:
    """For each option, the range of prices per unit of effect at which its expected NMB is the
    highest: rows of (lowest, highest) price, NaN for an option never chosen at any price >= 0.

    The threshold analysis for an outcome nobody has a price for (SL density): option ``i`` is
    chosen at price ``p`` when ``p * e_i - c_i >= p * e_j - c_j`` for every ``j``, a linear
    inequality in ``p`` for each ``j`` (Drummond et al., *Methods for the Economic Evaluation of
    Health Care Programmes*, 4th ed. 2015, ch. 11: the incremental ratios along the frontier).
    """
    e, c = np.asarray(effect_means, float), np.asarray(cost_means, float)
    rows = []
    for i in range(len(e)):
        gain, extra = e[i] - e, c[i] - c
        low = max([0.0, *(extra[gain > 0] / gain[gain > 0])])
        high = min([np.inf, *(extra[gain < 0] / gain[gain < 0])])
        same = (gain == 0) & (np.arange(len(e)) != i)
        dominated = bool(np.any(extra[same] > 0))
        rows.append((low, high) if low <= high and not dominated else (np.nan, np.nan))
    return np.array(rows, dtype=float).reshape(len(e), 2)


def prices_at(draws, prices: EconomicParams | None = None) -> pd.DataFrame:
    """Each price with a prior at each PSA draw (one row per draw, one column per price,
    ``economics.<price>``), from the same seeded streams as the draw's parameters
    (:func:`simulation.posterior.spec_value`), so draw K prices alike in every analysis of it.
    The prices with ``fixed`` priors are not columns: they are ``prices``' (default: stated)."""
    prices = prices or EconomicParams()
    specs = {name: spec for name, spec in parameter_specs(EconomicParams).items()
             if isinstance(spec["prior"], Prior)}
    return pd.DataFrame({f"economics.{name}": [
        spec_value(f"economics.{name}", spec, int(k), getattr(prices, name)) for k in draws]
        for name, spec in specs.items()}, index=pd.Index(list(draws), name="draw"))
