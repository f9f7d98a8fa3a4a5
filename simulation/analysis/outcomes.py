"""The outcomes an analyst compares, in plain words and display units.

Each :class:`Outcome` names a model output (``simulation.metrics.OUTPUTS``), how to read it at the
horizon, and how to show it. Weekly flows (tasks completed) are averaged over the last quarter
(13 weeks), because one week's count is noisy; stocks (density, shares, trust, backlog, burnout,
cumulative cost) are read in the final week.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import OUTPUTS

QUARTER = 13


@dataclass(frozen=True)
class Outcome:
    """How one model output is read at the horizon and shown in a report."""

    name: str  # the model output (column of timeseries.parquet)
    label: str  # plain words, for tables and axes
    unit: str  # unit of the displayed value (after ``scale``)
    scale: float = 1.0  # displayed value = model value x scale
    better: str | None = "higher"  # "higher", "lower", or None (cost: neither)
    window: int = 1  # weeks averaged at the horizon (1: the final week)
    total: bool = False  # summed over every week of the run instead

    @property
    def horizon(self) -> str:
        if self.total:
            return "total over the run"
        if self.window > 1:
            return f"mean of the last {self.window} weeks"
        return "final week"

    def display(self, value: float, digits: int = 3) -> str:
        """``value`` (in model units) in display units, to ``digits`` significant figures."""
        return format_number(value * self.scale, digits)

    def sign(self) -> int:
        """+1 if a rise is an improvement, -1 if a fall is, 0 if neither (cost)."""
        return {"higher": 1, "lower": -1}.get(self.better, 0)


def format_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, thousands separated ('n/a': not finite)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = int(np.floor(np.log10(abs(value))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def format_gbp(value: float) -> str:
    """Money for a report: GBP 1.23m, GBP 456k or GBP 7,890 (n/a if not finite)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if abs(value) >= 1e6:
        return f"GBP {value / 1e6:,.2f}m"
    if abs(value) >= 1e4:
        return f"GBP {value / 1e3:,.0f}k"
    return f"GBP {value:,.0f}"


OUTCOMES: dict[str, Outcome] = {o.name: o for o in (
    Outcome("sl_density", "SL density", "x 10^-4", scale=1e4),
    Outcome("cross_profession_share", "Clinical/non-clinical share of leadership", "%",
            scale=100),
    Outcome("cross_org_share", "Cross-organisation share of leadership", "%", scale=100),
    Outcome("tasks_completed", "Tasks completed per week", "tasks/week", window=QUARTER),
    Outcome("backlog", "Backlog", "tasks waiting", better="lower"),
    Outcome("mean_trust", "Mean trust", "0-1 scale"),
    Outcome("burnout_rate", "Burnout", "% of managers", scale=100, better="lower"),
    Outcome("cost", "Cumulative cost", "GBP", better=None),
)}
# Derived outcomes: not headline rows, but used for cost per unit of gain.
TASKS_TOTAL = Outcome("tasks_completed", "Tasks completed over the run", "tasks", total=True)
MAIN = tuple(OUTCOMES)


def outcome(name: str) -> Outcome:
    """The registered :class:`Outcome` of ``name``, or a plain one for any other model output."""
    if name in OUTCOMES:
        return OUTCOMES[name]
    if name not in OUTPUTS:
        raise ValueError(f"outcome {name!r} is not an output of the model; choose from "
                         f"{sorted(OUTPUTS)}")
    return Outcome(name, name.replace("_", " "), "model units", better=None)


def horizon_values(timeseries: pd.DataFrame, outcomes: Iterable[Outcome],
                   by: str = "config_hash") -> pd.DataFrame:
    """One row per run (``by``) and one column per outcome: its value at the horizon.

    ``timeseries`` has one row per run and week (``slsim-aggregate``'s ``timeseries.parquet``, or
    one run's ``timeseries.parquet`` with a ``by`` column added); week 0 is the start.
    """
    outcomes = list(outcomes)
    ordered = timeseries.sort_values([by, "week"])
    grouped = ordered.groupby(by, sort=False)
    columns = {}
    for item in outcomes:
        key = column_name(item)
        series = grouped[item.name]
        if item.total:
            columns[key] = grouped.apply(lambda g, n=item.name: g.loc[g["week"] > 0, n].sum(),
                                         include_groups=False)
        elif item.window > 1:
            columns[key] = series.apply(lambda s, w=item.window: s.iloc[-w:].mean())
        else:
            columns[key] = series.last()
    return pd.DataFrame(columns)


def column_name(item: Outcome) -> str:
    """Column of :func:`horizon_values` for ``item``: the output's name, or ``<name>_total``."""
    return f"{item.name}_total" if item.total else item.name
