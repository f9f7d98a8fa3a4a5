"""Figures of one run's outputs (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

PANELS = (
    ("Shared-leadership network", ("sl_density", "sl_centralisation"), "value (0-1)"),
    ("Concentration of leadership", ("leadership_gini", "top_leader_share"), "value (0-1)"),
    ("Leadership across boundaries", ("cross_profession_share", "cross_org_share"),
     "share of granted leadership"),
    ("Integrated-care delivery", ("tasks_completed", "backlog"), "tasks"),
    ("Relationships", ("mean_trust", "mean_understanding"), "value (0-1)"),
    ("Wellbeing", ("burnout_rate", "burnout_rate_clinical", "burnout_rate_nonclinical"),
     "share of managers"),
)


def metrics_figure(timeseries: pd.DataFrame, title: str):
    """A 2 x 3 grid of the main outputs over weeks; ``backlog`` on a second axis."""
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), constrained_layout=True)
    for ax, (panel, columns, unit) in zip(axes.flat, PANELS, strict=True):
        for column in columns:
            if column == "backlog":
                twin = ax.twinx()
                twin.plot(timeseries["week"], timeseries[column], color="grey", ls="--",
                          label=column)
                twin.set_ylabel("backlog (tasks waiting)")
                twin.legend(loc="upper right", fontsize=8)
            else:
                ax.plot(timeseries["week"], timeseries[column], label=column)
        ax.set_title(panel)
        ax.set_xlabel("week")
        ax.set_ylabel(unit)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    return fig
