"""Figures of one run's outputs (matplotlib, no display needed).

A figure is a bare :class:`matplotlib.figure.Figure` drawn by the Agg canvas: no pyplot, so no
figure manager or backend selection, and nothing to close. Its margins are fixed (sized for these
panels' labels) rather than laid out by a layout engine, which would measure every label's text
in several passes: that measuring was most of what drawing the figure cost.
"""

from matplotlib.figure import Figure

from .outputs import OUTPUTS, RUN_PANELS

COLUMNS = 3
# Fixed margins and gaps (fractions of the figure), wide enough for the tick labels and for the
# second axis's label between two panels.
MARGINS = {"left": 0.06, "right": 0.965, "bottom": 0.07, "top": 0.9, "wspace": 0.42,
           "hspace": 0.4}


def metrics_figure(timeseries, title: str) -> Figure:
    """The run's outputs over weeks (``timeseries``: columns ``week`` and the outputs' names),
    laid out by :data:`simulation.outputs.RUN_PANELS` in rows of three; a panel's second output
    (the backlog) on a second axis."""
    rows = -(-len(RUN_PANELS) // COLUMNS)
    fig = Figure(figsize=(14, 3.75 * rows))
    fig.subplots_adjust(**MARGINS)
    axes = fig.subplots(rows, COLUMNS, squeeze=False)
    for ax in axes.flat[len(RUN_PANELS):]:
        ax.set_visible(False)
    week = timeseries["week"]
    for ax, panel in zip(axes.flat[:len(RUN_PANELS)], RUN_PANELS, strict=True):
        for column in panel.outputs:
            ax.plot(week, timeseries[column], label=column)
        if panel.second:
            twin = ax.twinx()
            twin.plot(week, timeseries[panel.second], color="grey", ls="--",
                      label=panel.second)
            twin.set_ylabel(f"{panel.second} ({OUTPUTS[panel.second].unit})")
            twin.legend(loc="upper right", fontsize=8)
        ax.set_title(panel.title)
        ax.set_xlabel("week")
        ax.set_ylabel(panel.axis)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    return fig
