"""The outcomes an analyst compares: the model's outputs read at the horizon.

Every output is described once, in :mod:`simulation.outputs` (label, unit, direction, how it is
read at the horizon); the report's headline rows are those flagged ``headline`` there. Weekly flows
(tasks completed) are averaged over the last quarter (13 weeks), because one week's count is
noisy; stocks (density, shares, trust, backlog, burnout, cumulative cost) are read in the final
week.
"""

from collections.abc import Iterable
from dataclasses import replace

import pandas as pd

from ..outputs import HEADLINE, OUTPUTS, Output

OUTCOMES: dict[str, Output] = {name: OUTPUTS[name] for name in HEADLINE}
# Derived outcome: not a headline row, but used for cost per unit of gain.
TASKS_TOTAL = replace(OUTPUTS["tasks_completed"], label="Tasks completed over the run",
                      unit="tasks", window=1, total=True, headline=False)


def outcome(name: str) -> Output:
    """The registered output ``name``; an unknown name fails naming the outputs."""
    if name not in OUTPUTS:
        raise ValueError(f"outcome {name!r} is not an output of the model; choose from "
                         f"{sorted(OUTPUTS)}")
    return OUTPUTS[name]


def horizon_values(timeseries: pd.DataFrame, outcomes: Iterable[Output],
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


def column_name(item: Output) -> str:
    """Column of :func:`horizon_values` for ``item``: the output's name, or ``<name>_total``."""
    return f"{item.name}_total" if item.total else item.name
