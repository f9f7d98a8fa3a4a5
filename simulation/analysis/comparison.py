"""The statistics of a scenario comparison: every table of the report, from a loaded sweep.

* **levels**: each group's mean of each outcome at the horizon with its 95% CI, and whether there
  were enough seeds (CI half-width against a target precision, CV stability);
* **differences**: each option minus the baseline, paired by seed, with CIs, relative change,
  Cohen's d and Holm-adjusted p-values; a difference is *clear* when its Holm-adjusted p-value
  is below 0.05, the statistic printed beside the verdict (an unadjusted CI could exclude zero
  while the adjusted p does not, and the two would then disagree);
* **costs**: incremental cost and cost per unit of gain;
* **ranking**: the options ranked by the gain in the primary outcome, with those tied with the
  best;
* **systems**: for a national sweep, the gains by ICB and by region (:mod:`.systems`);
* **psa**: for a sweep on draws of the uncertain parameters, the decision under uncertainty
  (:mod:`.decision`); the tables above then hold seed noise only, at the sweep's first draw.

The statistics themselves are plain functions in :mod:`simulation.analysis.stats`.
"""

import math
from dataclasses import dataclass, field

import pandas as pd

from ..outputs import Output
from .decision import PSAComparison, compare_draws
from .load import DRAW, SweepTables, describe_groups, resolve_baseline
from .outcomes import OUTCOMES, TASKS_TOTAL, column_name, outcome
from .stats import (
    LEVEL,
    cv_stability,
    holm,
    mean_ci,
    paired_difference,
    seeds_for_precision,
    seeds_to_resolve,
)
from .systems import SystemComparison, compare_systems

PRECISION = 0.05  # target CI half-width, as a share of the mean
CV_TOLERANCE = 0.1
ALPHA = 1 - LEVEL  # a difference is clear when its Holm-adjusted p-value is below this


@dataclass
class Comparison:
    tables: SweepTables
    baseline: str
    primary: Output
    outcomes: tuple[Output, ...]
    seeds: int
    levels: pd.DataFrame  # group x outcome: mean, CI, replication adequacy
    differences: pd.DataFrame  # group x outcome: paired difference vs baseline
    costs: pd.DataFrame  # group: incremental cost and cost per unit of gain
    ranking: pd.DataFrame  # groups ranked by the primary outcome's gain
    precision: float = PRECISION
    cv_tolerance: float = CV_TOLERANCE
    about: dict = field(default_factory=dict)
    systems: SystemComparison | None = None  # by ICB and by region, for a national sweep
    psa: PSAComparison | None = None  # over draws of the uncertain parameters (a PSA sweep)
    seed_only_draw: int | None = None  # the draw the seed-only tables hold, in a PSA sweep

    @property
    def others(self) -> list[str]:
        return [g for g in self.tables.groups if g != self.baseline]

    @property
    def kind(self) -> str:
        """What a group is, for table headers: a scenario, or a setting of a parameter sweep."""
        return "scenario" if "scenario" in self.tables.group_columns else "setting"

    @property
    def costly(self) -> bool:
        """Whether any option has an incremental cost."""
        return not self.costs.empty and bool((self.costs["cost"].abs() > 0).any())

    def level(self, group: str, name: str) -> pd.Series:
        """The row of :attr:`levels` of ``group`` and outcome ``name``."""
        rows = self.levels
        return rows[(rows["group"] == group) & (rows["outcome"] == name)].iloc[0]

    def difference(self, group: str, name: str) -> pd.Series:
        """The row of :attr:`differences` of ``group`` and outcome ``name``."""
        rows = self.differences
        return rows[(rows["group"] == group) & (rows["outcome"] == name)].iloc[0]


def _levels(tables: SweepTables, outcomes, precision, tolerance) -> pd.DataFrame:
    rows = []
    for group in tables.groups:
        for item in outcomes:
            values = tables.values(group, column_name(item))
            estimate = mean_ci(values)
            stability = cv_stability(values, tolerance)
            rows.append({"group": group, "outcome": item.name, "n": estimate.n,
                         "mean": estimate.mean, "low": estimate.low, "high": estimate.high,
                         "sd": estimate.sd,
                         "relative_half_width": estimate.relative_half_width,
                         "seeds_for_precision": seeds_for_precision(values, precision),
                         "cv": stability.final, "cv_stable_from": stability.stable_from})
    return pd.DataFrame(rows)


def _common_seeds(tables: SweepTables, group: str, baseline: str) -> list[int]:
    runs = tables.runs
    return sorted(set(runs.loc[runs["group"] == group, "seed"])
                  & set(runs.loc[runs["group"] == baseline, "seed"]))


def _difference_row(tables, group, other, item_column, seeds) -> dict:
    result = paired_difference(tables.values(group, item_column, seeds),
                               tables.values(other, item_column, seeds))
    return {"n": result.n, "difference": result.difference.mean,
            "low": result.difference.low, "high": result.difference.high,
            "relative": result.relative.mean, "relative_low": result.relative.low,
            "relative_high": result.relative.high, "cohen_d": result.cohen_d,
            "p_value": result.p_value, "clear": result.clear(),
            "seeds_to_resolve": seeds_to_resolve(result)}


def _differences(tables: SweepTables, baseline: str, outcomes) -> pd.DataFrame:
    rows = []
    for group in tables.groups:
        if group == baseline:
            continue
        seeds = _common_seeds(tables, group, baseline)
        for item in outcomes:
            rows.append({"group": group, "outcome": item.name,
                         **_difference_row(tables, group, baseline, column_name(item), seeds)})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["p_holm"] = holm(frame["p_value"])
        frame["clear"] = frame["p_holm"] < ALPHA  # the verdict follows the p printed beside it
    return frame


def _per_unit(cost: float, gain: float, clear: bool) -> float:
    """Cost per unit of a gain; NaN unless the gain is clear and positive."""
    return cost / gain if clear and gain > 0 else math.nan


def _costs(tables: SweepTables, baseline: str, primary: Output,
           differences: pd.DataFrame) -> pd.DataFrame:
    """Incremental cost and cost per unit of gain. The verdicts on the primary outcome and on
    tasks a week are those of ``differences`` (Holm-adjusted), so every table agrees; an outcome
    that table does not compare (a ranking outcome with no better direction) keeps the verdict
    of its own CI, the only statistic shown for it."""
    rows = []
    tasks_week = OUTCOMES["tasks_completed"]
    verdicts = differences.set_index(["group", "outcome"])["clear"] if not differences.empty \
        else pd.Series(dtype=bool)
    for group in tables.groups:
        if group == baseline:
            continue
        seeds = _common_seeds(tables, group, baseline)
        cost = _difference_row(tables, group, baseline, "cost", seeds)
        gain = _difference_row(tables, group, baseline, column_name(primary), seeds)
        gain["clear"] = bool(verdicts.get((group, primary.name), gain["clear"]))
        total = _difference_row(tables, group, baseline, column_name(TASKS_TOTAL), seeds)
        weekly = _difference_row(tables, group, baseline, column_name(tasks_week), seeds)
        weekly["clear"] = bool(verdicts.get((group, tasks_week.name), weekly["clear"]))
        sign = primary.sign() or 1
        relative = sign * gain["relative"] * 100
        rows.append({
            "group": group, "cost": cost["difference"], "cost_low": cost["low"],
            "cost_high": cost["high"],
            "primary_gain": relative,
            "primary_gain_low": sign * (gain["relative_low"] if sign > 0
                                        else gain["relative_high"]) * 100,
            "primary_gain_high": sign * (gain["relative_high"] if sign > 0
                                         else gain["relative_low"]) * 100,
            "primary_clear": gain["clear"],
            "cost_per_1pct": _per_unit(cost["difference"], relative, gain["clear"]),
            "tasks_total_gain": total["difference"], "tasks_total_gain_low": total["low"],
            "tasks_total_gain_high": total["high"], "tasks_total_clear": total["clear"],
            "cost_per_task": _per_unit(cost["difference"], total["difference"], total["clear"]),
            "tasks_week_gain": weekly["difference"],
            "cost_per_task_week": _per_unit(cost["difference"], weekly["difference"],
                                            weekly["clear"]),
        })
    return pd.DataFrame(rows)


def _ranking(tables: SweepTables, costs: pd.DataFrame, differences: pd.DataFrame,
             primary: Output) -> pd.DataFrame:
    if costs.empty:
        return costs
    ranked = costs.sort_values("primary_gain", ascending=False).reset_index(drop=True)
    best = ranked.loc[0, "group"]
    rows = []
    for group in ranked["group"]:
        if group == best:
            rows.append({"tied_with_best": True})
            continue
        # The best minus this option, as a share of this option's level.
        row = _difference_row(tables, best, group, column_name(primary),
                              _common_seeds(tables, group, best))
        rows.append({"tied_with_best": not row["clear"], "best_over": row["relative"] * 100,
                     "best_over_low": row["relative_low"] * 100,
                     "best_over_high": row["relative_high"] * 100})
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    ranked = pd.concat([ranked, pd.DataFrame(rows)], axis=1)
    for name in ("tasks_completed", "burnout_share"):
        rows = differences[differences["outcome"] == name].set_index("group")
        ranked[f"{name}_change"] = ranked["group"].map(rows["difference"])
        ranked[f"{name}_clear"] = ranked["group"].map(rows["clear"])
    return ranked


def compare(tables: SweepTables, baseline: str = "baseline", primary: str = "sl_density",
            outcomes: tuple[Output, ...] | None = None, precision: float = PRECISION,
            cv_tolerance: float = CV_TOLERANCE) -> Comparison:
    """Every table of the report, from a loaded sweep."""
    outcomes = outcomes or tuple(OUTCOMES.values())
    primary_outcome = outcome(primary)
    if primary_outcome not in outcomes:
        outcomes = (primary_outcome, *outcomes)
    base = resolve_baseline(tables, baseline)
    psa, seed_only_draw = None, None
    if tables.draws is not None and len(tables.groups) > 1:  # a PSA, then one draw's seeds
        psa = compare_draws(tables, base, primary_outcome)
        seed_only_draw = int(tables.runs[DRAW].min())
        tables = tables.at_draw(seed_only_draw)
    tables.groups = [base, *(g for g in tables.groups if g != base)]
    levels = _levels(tables, outcomes, precision, cv_tolerance)
    compared = tuple(o for o in outcomes if o.better is not None)
    differences = _differences(tables, base, compared)
    costs = _costs(tables, base, primary_outcome, differences)
    ranking = _ranking(tables, costs, differences, primary_outcome)
    if not ranking.empty:  # tables and figures list the options in rank order
        tables.groups = [base, *ranking["group"]]
        order = {g: i for i, g in enumerate(tables.groups)}
        levels, differences, costs = (
            frame.sort_values("group", key=lambda s: s.map(order), kind="stable")
            for frame in (levels, differences, costs))
    seeds = int(tables.runs.groupby("group")["seed"].nunique().min())
    return Comparison(tables, base, primary_outcome, outcomes, seeds, levels, differences,
                      costs, ranking, precision, cv_tolerance, about=describe_groups(tables),
                      systems=compare_systems(tables, base), psa=psa,
                      seed_only_draw=seed_only_draw)
