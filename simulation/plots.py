"""Figures of one run's outputs (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from .outputs import OUTPUTS, RUN_PANELS


def metrics_figure(timeseries: pd.DataFrame, title: str):
    """The run's outputs over weeks, laid out by :data:`simulation.outputs.RUN_PANELS` in rows
    of three; a panel's second output (the backlog) on a second axis."""
    rows = -(-len(RUN_PANELS) // 3)
    fig, axes = plt.subplots(rows, 3, figsize=(14, 3.75 * rows), constrained_layout=True)
    for ax in axes.flat[len(RUN_PANELS):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat[:len(RUN_PANELS)], RUN_PANELS, strict=True):
        for column in panel.outputs:
            ax.plot(timeseries["week"], timeseries[column], label=column)
        if panel.second:
            twin = ax.twinx()
            twin.plot(timeseries["week"], timeseries[panel.second], color="grey", ls="--",
                      label=panel.second)
            twin.set_ylabel(f"{panel.second} ({OUTPUTS[panel.second].unit})")
            twin.legend(loc="upper right", fontsize=8)
        ax.set_title(panel.title)
        ax.set_xlabel("week")
        ax.set_ylabel(panel.axis)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    return fig
