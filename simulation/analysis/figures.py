"""Figures of the analysis reports (matplotlib, no display needed). Every figure has a title,
axis labels and units; every interval drawn is a 95% confidence interval unless the title says
otherwise."""

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..outputs import Output
from .stats import LEVEL, t_quantile


def palette(groups: Sequence[str]) -> dict[str, tuple]:
    """One colour per group, the same in every figure: black for the first (the baseline), then
    tab10 up to 10 more groups, then viridis."""
    first, others = groups[0], list(groups[1:])
    n = len(others)
    if n <= 10:
        colours = {g: plt.get_cmap("tab10")(i) for i, g in enumerate(others)}
    else:
        colours = {g: plt.get_cmap("viridis")(i / max(n - 1, 1)) for i, g in enumerate(others)}
    return {first: (0.0, 0.0, 0.0, 1.0), **colours}


def _plain_numbers(ax) -> None:
    """Tick labels as plain numbers with thousands separators (no '1e6' offset)."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1000
                                               else f"{v:g}"))


def _grid(panels: int, columns: int, width: float = 4.6, height: float = 3.4):
    rows = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows),
                             squeeze=False)
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:panels])


def timeseries_figure(timeseries: pd.DataFrame, colours: dict[str, tuple],
                      outcomes: Sequence[Output], title: str, group_column: str = "group"):
    """Mean of each outcome per week and group (``colours``' keys, in order), with its 95% CI
    band across seeds."""
    fig, axes = _grid(len(outcomes), 4 if len(outcomes) > 4 else len(outcomes))
    weekly = timeseries.groupby([group_column, "week"])
    means = weekly.mean(numeric_only=True)
    sds = weekly.std(numeric_only=True)
    counts = weekly.size()
    for ax, item in zip(axes, outcomes, strict=True):
        for group, colour in colours.items():
            if group not in means.index.get_level_values(0):
                continue
            mean = means.loc[group, item.name] * item.scale
            n = counts.loc[group]
            half = (sds.loc[group, item.name] * item.scale
                    * np.array([t_quantile(k) for k in n]) / np.sqrt(n))
            weeks = mean.index.to_numpy()
            ax.plot(weeks, mean.to_numpy(), color=colour, lw=1.4, label=group)
            ax.fill_between(weeks, (mean - half).to_numpy(), (mean + half).to_numpy(),
                            color=colour, alpha=0.18, lw=0)
        ax.set_title(item.label, fontsize=10)
        ax.set_xlabel("week")
        ax.set_ylabel(item.unit)
        ax.grid(alpha=0.3)
        _plain_numbers(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8,
               frameon=False)
    fig.suptitle(f"{title}\nmean of seeds per week, band: {LEVEL:.0%} confidence interval",
                 fontsize=11)
    legend_rows = math.ceil(len(labels) / 5)
    fig.tight_layout(rect=(0, 0.03 + 0.03 * legend_rows, 1, 0.95))
    return fig


def forest_figure(differences: pd.DataFrame, outcomes: Sequence[Output], baseline: str,
                  seeds: int):
    """Paired differences against the baseline, in % of the baseline mean, with 95% CIs.

    ``differences``: rows with ``group``, ``outcome``, ``relative``, ``relative_low``,
    ``relative_high`` and ``clear`` (Holm-adjusted p below 0.05); filled markers are clear
    differences.
    """
    fig, axes = _grid(len(outcomes), 4 if len(outcomes) > 4 else len(outcomes), 4.3,
                      1.9 + 0.38 * differences["group"].nunique())
    groups = list(dict.fromkeys(differences["group"]))
    y = np.arange(len(groups))[::-1]
    for ax, item in zip(axes, outcomes, strict=True):
        rows = differences[differences["outcome"] == item.name].set_index("group").reindex(groups)
        mean = rows["relative"].to_numpy(float) * 100
        low = rows["relative_low"].to_numpy(float) * 100
        high = rows["relative_high"].to_numpy(float) * 100
        clear = rows["clear"].fillna(False).to_numpy(bool)
        ax.axvline(0, color="grey", lw=1)
        ax.hlines(y, low, high, color="tab:blue", lw=1.6)
        ax.plot(mean[clear], y[clear], "o", color="tab:blue", ms=6)
        ax.plot(mean[~clear], y[~clear], "o", mfc="white", mec="tab:blue", ms=6)
        ax.set_yticks(y)
        direction = {"higher": "higher is better", "lower": "lower is better"}.get(item.better,
                                                                                   "")
        ax.set_title(f"{item.label}\n({direction})" if direction else item.label, fontsize=9)
        ax.set_xlabel(f"change vs {baseline}, % of its mean")
        ax.grid(axis="x", alpha=0.3)
    for index, ax in enumerate(axes):
        if index % 4:
            ax.set_yticklabels([""] * len(groups))
        else:
            ax.set_yticklabels(groups, fontsize=8)
    fig.suptitle(f"Paired differences against {baseline} ({seeds} seeds, paired by seed): mean "
                 f"and {LEVEL:.0%} CI\nfilled: clear (Holm-adjusted p < 0.05); hollow: within "
                 "noise",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def cost_gain_figure(points: pd.DataFrame, gains: Sequence[tuple[str, str, str]], baseline: str,
                     colours: dict[str, tuple]):
    """Incremental cost against gain, one panel per gain, with 95% CIs on both axes.

    ``points``: one row per group with ``group``, ``cost``, ``cost_low``, ``cost_high`` and, for
    each ``(column, axis label, title)`` of ``gains``, ``column``, ``column_low``,
    ``column_high``. The baseline sits at the origin.
    """
    fig, axes = _grid(len(gains), len(gains), 5.6, 4.4)
    for ax, (column, label, title) in zip(axes, gains, strict=True):
        ax.plot(0, 0, "s", color=colours.get(baseline, "black"), ms=6)
        ax.annotate(baseline, (0, 0), textcoords="offset points", xytext=(5, -10), fontsize=8)
        for _, row in points.iterrows():
            colour = colours[row["group"]]
            x, y = row["cost"] / 1e3, row[column]
            ax.errorbar(x, y,
                        xerr=[[x - row["cost_low"] / 1e3], [row["cost_high"] / 1e3 - x]],
                        yerr=[[y - row[f"{column}_low"]], [row[f"{column}_high"] - y]],
                        fmt="o", color=colour, capsize=3, ms=6)
            ax.annotate(row["group"], (x, y), textcoords="offset points", xytext=(5, 4),
                        fontsize=8)
        ax.axhline(0, color="grey", lw=1)
        ax.set_xlabel(f"incremental cost over the run vs {baseline}, GBP thousands")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Cost against gain (mean and {LEVEL:.0%} CI, paired by seed)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return fig


def replication_figure(values: dict[str, np.ndarray], item: Output, precision: float,
                       tolerance: float, colours: dict[str, tuple]):
    """Replication adequacy of one outcome: the running CV (CV stability method, a dot where it
    becomes stable) and the running CI half-width as a share of the mean, as seeds are added, per
    group."""
    from .stats import cv_stability, mean_ci

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for group, x in values.items():
        colour = colours[group]
        n = np.arange(1, len(x) + 1)
        stability = cv_stability(x, tolerance)
        axes[0].plot(n[1:], stability.cv[1:] * 100, color=colour, label=group, lw=1.3)
        if stability.stable_from:
            axes[0].plot(stability.stable_from, stability.cv[stability.stable_from - 1] * 100,
                         "o", color=colour, ms=5)
        half = [mean_ci(x[:k]).relative_half_width * 100 for k in n[1:]]
        axes[1].plot(n[1:], half, color=colour, lw=1.3)
    axes[0].set_title(f"Running coefficient of variation of {item.label}\n(flat: more seeds "
                      f"change little; tolerance ±{tolerance:.0%} of the final CV)", fontsize=10)
    axes[0].set_ylabel("CV across seeds, %")
    axes[1].axhline(precision * 100, color="black", ls="--", lw=1,
                    label=f"target ±{precision:.0%}")
    axes[1].set_title(f"{LEVEL:.0%} CI half-width of the mean of {item.label}\nas seeds are "
                      "added", fontsize=10)
    axes[1].set_ylabel("half-width, % of the mean (log scale)")
    axes[1].set_yscale("log")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("seeds")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Are there enough seeds? ({item.label}, {item.horizon} at the horizon)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def grid_figure(table: pd.DataFrame, x: str, y: str, outcomes: Sequence[Output], title: str):
    """Heat maps of the mean of each outcome over a two-parameter grid.

    ``table``: one row per grid cell with columns ``x``, ``y`` and each outcome's mean.
    """
    fig, axes = _grid(len(outcomes), len(outcomes), 4.6, 4.0)
    xs = sorted(table[x].unique())
    ys = sorted(table[y].unique())
    for ax, item in zip(axes, outcomes, strict=True):
        cells = table.pivot_table(index=y, columns=x, values=item.name).reindex(index=ys,
                                                                                columns=xs)
        values = cells.to_numpy() * item.scale
        image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
        middle = np.nanmean(values)
        for (row, column), value in np.ndenumerate(values):
            ax.text(column, row, f"{value:.3g}", ha="center", va="center", fontsize=7,
                    color="white" if value < middle else "black")
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{item.label}\n({item.horizon})", fontsize=10)
        fig.colorbar(image, ax=ax, label=item.unit)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def ce_plane_figure(plane: pd.DataFrame, colours: dict[str, tuple], baseline: str, effect: str,
                    draws: int):
    """The cost-effectiveness plane: incremental cost (GBP) against incremental effect, one point
    per draw for each option, its mean marked; ``plane`` as :func:`simulation.analysis.psa.
    ce_plane` returns it."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    ax.axhline(0, color="grey", lw=1)
    ax.axvline(0, color="grey", lw=1)
    for option, rows in plane.groupby("option", sort=False):
        ax.scatter(rows["incremental_effect"], rows["incremental_cost"], s=9, alpha=0.35,
                   color=colours[option], label=option)
        ax.plot(rows["incremental_effect"].mean(), rows["incremental_cost"].mean(), "X",
                color=colours[option], ms=10, mec="black")
    ax.set_xlabel(f"incremental {effect} vs {baseline} (discounted)")
    ax.set_ylabel(f"incremental cost vs {baseline}, GBP (discounted, net of leavers averted)")
    _plain_numbers(ax)
    ax.set_title(f"Cost-effectiveness plane: one point per draw ({draws} draws), X = mean",
                 fontsize=11)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def ceac_figure(ceac: pd.DataFrame, options: Sequence[str], colours: dict[str, tuple],
                unit: str, draws: int):
    """Cost-effectiveness acceptability curves over willingness to pay, with the frontier
    (CEAF: the option of highest expected net benefit) drawn thick; ``ceac`` as
    :class:`simulation.analysis.decision.PSAComparison` holds it."""
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    wtp = ceac["wtp"].to_numpy(float)
    for option in options:
        ax.plot(wtp, ceac[option], color=colours[option], lw=1.4, label=option)
    frontier = ceac[list(options)].to_numpy(float)[np.arange(len(ceac)), [
        list(options).index(o) for o in ceac["chosen"]]]
    ax.plot(wtp, frontier, color="black", lw=4, alpha=0.25, label="frontier (CEAF)")
    ax.set_xlabel(f"willingness to pay, GBP per {unit}")
    ax.set_ylabel("probability of the highest net benefit")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Cost-effectiveness acceptability curves ({draws} draws)", fontsize=11)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def tornado_figure(ranges: pd.DataFrame, leader: str, other: str, unit: str, top: int = 12):
    """The tornado: for the ``top`` widest rows of ``ranges`` (as
    :func:`simulation.analysis.psa.one_way_ranges` returns them), a bar from the expected
    net benefit of ``leader`` over ``other`` with the parameter low to that with it high."""
    rows = ranges.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.38 * len(rows)))
    y = np.arange(len(rows))
    low, high = rows["at_low"].to_numpy(float), rows["at_high"].to_numpy(float)
    ax.barh(y, high - low, left=low, color=np.where(high >= low, "tab:blue", "tab:orange"),
            alpha=0.8)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(rows["parameter"], fontsize=8)
    ax.set_xlabel(f"net benefit of {leader} over {other}, GBP ({unit})")
    ax.set_title("What the choice depends on: parameter in its lowest tenth of draws (bar start)"
                 "\nto its highest (bar end); blue: higher favours the leader", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
