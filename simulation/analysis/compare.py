"""``slsim-compare SWEEP_DIR [--baseline baseline]``: the scenario comparison report.

Reads a sweep's aggregated tables (running ``slsim-aggregate`` first when they are missing or
older than the runs) and writes ``SWEEP_DIR/report/``:

* ``report.md`` and ``report.html`` (the same document; the HTML embeds its figures, so it can be
  forwarded as one file): what was run, a plain-language summary, a ranking, each outcome at the
  horizon with its 95% CI, paired differences against the baseline with CIs and effect sizes, cost
  and cost per unit of gain, and whether there were enough seeds;
* ``timeseries.png``, ``forest.png``, ``cost_gain.png``, ``replications.png`` (and ``grid.png``
  when the sweep is a grid over two numeric parameters);
* ``tables/*.csv``: every table of the report, unrounded.

Runs are grouped by scenario and by every other parameter the sweep varied; seeds are the
replications. Differences are paired by seed (see :mod:`simulation.analysis.stats`).
"""

import argparse
import base64
import hashlib
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..layout import FAILURES_FILE, RESULTS_FILE, RUNS_DIR, SUMMARY_FILE, SWEEP_TIMESERIES_FILE
from ..outputs import OUTPUTS, Output, format_gbp, format_number
from ..results_io import write_figure, write_json, write_streamed
from ..sweeps.aggregate import IDENTITY, aggregate
from . import figures
from .outcomes import OUTCOMES, TASKS_TOTAL, column_name, horizon_values, outcome
from .stats import (
    cv_stability,
    effect_size_words,
    holm,
    mean_ci,
    paired_difference,
    seeds_for_precision,
    seeds_to_resolve,
)
from .tables import markdown_table, plain_table

REPORT_DIR = "report"
PRECISION = 0.05  # target CI half-width, as a share of the mean
CV_TOLERANCE = 0.1


class CompareError(ValueError):
    """The sweep cannot be compared as asked (no runs, unknown baseline, ...)."""


# --- Loading ------------------------------------------------------------------------------------

def needs_aggregation(sweep_dir: Path) -> bool:
    """Whether the aggregated tables are missing or older than a run folder (a run finished,
    or was added, after the last aggregation)."""
    results = Path(sweep_dir) / RESULTS_FILE
    if not results.exists() or not (Path(sweep_dir) / SWEEP_TIMESERIES_FILE).exists():
        return True
    written = results.stat().st_mtime
    runs = Path(sweep_dir) / RUNS_DIR
    if not runs.is_dir():
        return False
    if runs.stat().st_mtime > written:
        return True
    with os.scandir(runs) as entries:
        return any(entry.stat().st_mtime > written for entry in entries if entry.is_dir())


@dataclass
class SweepTables:
    """The succeeded runs of a sweep, grouped, with their values at the horizon."""

    sweep_dir: Path
    runs: pd.DataFrame  # one row per succeeded run: group, seed, run, outcome columns
    timeseries: pd.DataFrame  # one row per succeeded run and week, with a group column
    group_columns: list[str]
    groups: list[str]  # labels, in sweep order
    failed: int
    ics: list[str]
    weeks: list[int]


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _label(row: pd.Series, columns: list[str]) -> str:
    parts = []
    for key in columns:
        value = row[key]
        if key == "scenario":
            parts.append(str(value))
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            parts.append(f"{_short(key)}={text}")
    return ", ".join(parts)


def load(sweep_dir: Path, outcomes: tuple[Output, ...] = tuple(OUTCOMES.values())
         ) -> SweepTables:
    """Read (aggregating first if needed) and group a sweep's runs, with each run's value of
    ``outcomes`` (and of the total tasks completed, for costs per task) at the horizon."""
    sweep_dir = Path(sweep_dir)
    outcomes = (*outcomes, *(() if TASKS_TOTAL in outcomes else (TASKS_TOTAL,)))
    if needs_aggregation(sweep_dir):
        aggregate(sweep_dir)
    results = pd.read_parquet(sweep_dir / RESULTS_FILE)
    failed = int((results["status"] != "succeeded").sum())
    results = results[results["status"] == "succeeded"]
    if results.empty:
        raise CompareError(f"{sweep_dir} has no succeeded runs to compare "
                           f"(see {sweep_dir / FAILURES_FILE})")
    varied = [c for c in results.columns
              if c not in IDENTITY and c not in OUTPUTS and c != "error_type"]
    group_columns = ["scenario"] if results["scenario"].nunique() > 1 or not varied else []
    group_columns += [c for c in ("ics", "weeks") if results[c].nunique() > 1]
    group_columns += varied
    results = results.copy()
    results["group"] = results.apply(_label, axis=1, columns=group_columns)
    series = pd.read_parquet(sweep_dir / SWEEP_TIMESERIES_FILE)
    series = series[series["config_hash"].isin(results["config_hash"])]
    values = horizon_values(series, outcomes)
    runs = results[["config_hash", "run", "group", "seed", *group_columns]].join(
        values, on="config_hash")
    duplicated = runs.duplicated(["group", "seed"])
    if duplicated.any():
        raise CompareError(
            f"{int(duplicated.sum())} runs repeat a (group, seed) pair, e.g. "
            f"{runs.loc[duplicated, 'run'].iloc[0]}: the sweep varied something the grouping "
            "cannot see")
    series = series.merge(runs[["config_hash", "group"]], on="config_hash")
    return SweepTables(sweep_dir, runs.sort_values(["group", "seed"]), series, group_columns,
                       list(dict.fromkeys(results["group"])), failed,
                       sorted(results["ics"].unique()), sorted(results["weeks"].unique()))


def resolve_baseline(tables: SweepTables, name: str) -> str:
    """The group the user calls ``name``: its label, its scenario, or ``key=value`` pairs."""
    if name in tables.groups:
        return name
    firsts = tables.runs.drop_duplicates("group").set_index("group")
    if "scenario" in firsts.columns:
        by_scenario = [g for g in tables.groups if firsts.loc[g, "scenario"] == name]
        if len(by_scenario) == 1:
            return by_scenario[0]
    wanted = dict(part.strip().split("=", 1) for part in name.split(",") if "=" in part)
    matches = []
    for group in tables.groups:
        row = firsts.loc[group]
        ok = bool(wanted)
        for key, text in wanted.items():
            columns = [c for c in tables.group_columns if c == key or _short(c) == key]
            if not columns:
                ok = False
                break
            value = row[columns[0]]
            try:
                ok &= math.isclose(float(value), float(text))
            except (TypeError, ValueError):
                ok &= str(value) == text
        if ok:
            matches.append(group)
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(repr(g) for g in tables.groups[:12])
    problem = "matches several groups" if matches else "matches no group"
    raise CompareError(f"--baseline {name!r} {problem}; the groups are: {shown}"
                       + (" ..." if len(tables.groups) > 12 else ""))


# --- Comparing ----------------------------------------------------------------------------------

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


def _values(tables: SweepTables, group: str, column: str, seeds=None) -> np.ndarray:
    rows = tables.runs[tables.runs["group"] == group].set_index("seed")
    if seeds is not None:
        rows = rows.loc[seeds]
    return rows[column].to_numpy(float)


def _levels(tables: SweepTables, outcomes, precision, tolerance) -> pd.DataFrame:
    rows = []
    for group in tables.groups:
        for item in outcomes:
            values = _values(tables, group, column_name(item))
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
    result = paired_difference(_values(tables, group, item_column, seeds),
                               _values(tables, other, item_column, seeds))
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
    return frame


def _per_unit(cost: float, gain: float, clear: bool) -> float:
    """Cost per unit of a gain; NaN unless the gain is clear and positive."""
    return cost / gain if clear and gain > 0 else math.nan


def _costs(tables: SweepTables, baseline: str, primary: Output) -> pd.DataFrame:
    rows = []
    tasks_week = OUTCOMES["tasks_completed"]
    for group in tables.groups:
        if group == baseline:
            continue
        seeds = _common_seeds(tables, group, baseline)
        cost = _difference_row(tables, group, baseline, "cost", seeds)
        gain = _difference_row(tables, group, baseline, column_name(primary), seeds)
        total = _difference_row(tables, group, baseline, column_name(TASKS_TOTAL), seeds)
        weekly = _difference_row(tables, group, baseline, column_name(tasks_week), seeds)
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


def _ranking(tables: SweepTables, baseline: str, costs: pd.DataFrame,
             differences: pd.DataFrame, primary: Output) -> pd.DataFrame:
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
    for name in ("tasks_completed", "burnout_rate"):
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
    tables.groups = [base, *(g for g in tables.groups if g != base)]
    levels = _levels(tables, outcomes, precision, cv_tolerance)
    compared = tuple(o for o in outcomes if o.better is not None)
    differences = _differences(tables, base, compared)
    costs = _costs(tables, base, primary_outcome)
    ranking = _ranking(tables, base, costs, differences, primary_outcome)
    if not ranking.empty:  # tables and figures list the options in rank order
        tables.groups = [base, *ranking["group"]]
        order = {g: i for i, g in enumerate(tables.groups)}
        levels, differences, costs = (
            frame.sort_values("group", key=lambda s: s.map(order), kind="stable")
            for frame in (levels, differences, costs))
    seeds = int(tables.runs.groupby("group")["seed"].nunique().min())
    return Comparison(tables, base, primary_outcome, outcomes, seeds, levels, differences,
                      costs, ranking, precision, cv_tolerance, about=_about(tables))


def _about(tables: SweepTables) -> dict:
    """What was run: the scenarios' interventions, system size, and the runs' config hashes."""
    groups = {}
    for group in tables.groups:
        rows = tables.runs[tables.runs["group"] == group]
        first = rows.sort_values("seed").iloc[0]
        summary = json.loads((tables.sweep_dir / RUNS_DIR / first["run"] /
                              SUMMARY_FILE).read_text())
        levers = summary["config"]["scenario"]["interventions"]
        groups[group] = {
            "levers": ", ".join(f"{name} ({spec['coverage']:g}/yr)"
                                for name, spec in levers.items()) or "none",
            "first_hash": first["config_hash"], "runs": len(rows),
            "seeds": f"{rows['seed'].min()}-{rows['seed'].max()}",
            "managers": summary["managers"]}
    hashes = sorted(tables.runs["config_hash"])
    fingerprint = hashlib.sha256(",".join(hashes).encode()).hexdigest()[:16]
    return {"groups": groups, "fingerprint": fingerprint}


# --- Writing ------------------------------------------------------------------------------------

def _signed(value: float, digits: int = 3, suffix: str = "") -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    text = format_number(abs(value), digits)
    return f"{'+' if value > 0 else '-' if value < 0 else ''}{text}{suffix}"


def _pct(value: float, digits: int = 2) -> str:
    return _signed(value * 100, digits, "%")


def _interval(low: float, high: float, formatter) -> str:
    return f"{formatter(low)} to {formatter(high)}"


def _lower(label: str) -> str:
    """A label inside a sentence: first letter lower case, unless it starts an acronym (SL)."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _join(names: list[str], most: int = 4) -> str:
    """Names in italics as a list in words; past ``most``, the first few and a count."""
    names = [f"*{n}*" for n in names]
    if len(names) > most:
        return ", ".join(names[:most - 1]) + f" and {len(names) - most + 1} others"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _level(c: Comparison, group: str, name: str) -> pd.Series:
    rows = c.levels
    return rows[(rows["group"] == group) & (rows["outcome"] == name)].iloc[0]


def _diff(c: Comparison, group: str, name: str) -> pd.Series:
    rows = c.differences
    return rows[(rows["group"] == group) & (rows["outcome"] == name)].iloc[0]


def ranking_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    p = c.primary
    headers = ["rank", c.kind, f"{p.label} change vs {c.baseline} (95% CI)",
               "tasks/week change", "burnout change", "incremental cost",
               f"cost per 1% gain in {p.label}"]
    rows = []
    for _, r in c.ranking.iterrows():
        tie = "" if r["rank"] == 1 else (" (tied with best)" if r["tied_with_best"] else "")
        clear = "" if r["primary_clear"] else ", within noise"
        rows.append([
            str(r["rank"]), f"{r['group']}{tie}",
            f"{_signed(r['primary_gain'], 2, '%')} ({_signed(r['primary_gain_low'], 2, '%')} "
            f"to {_signed(r['primary_gain_high'], 2, '%')}{clear})",
            f"{r['tasks_completed_change']:+.2f}" + ("" if r["tasks_completed_clear"]
                                                     else " (noise)"),
            f"{r['burnout_rate_change'] * 100:+.2f} pts"
            + ("" if r["burnout_rate_clear"] else " (noise)"),
            format_gbp(r["cost"]), format_gbp(r["cost_per_1pct"])])
    if not c.costly:  # a parameter sweep: nothing is priced
        headers, rows = headers[:-2], [row[:-2] for row in rows]
    return headers, rows


def summary_sentences(c: Comparison) -> list[str]:
    """The plain-language summary: five to ten sentences, uncertainty stated."""
    t, p, n = c.tables, c.primary, c.seeds
    weeks = t.weeks[0] if len(t.weeks) == 1 else None
    years = weeks // 52 if weeks else 0
    horizon = (f"{weeks} weeks ({years} year{'s' if years > 1 else ''})"
               if weeks and weeks % 52 == 0 else f"{weeks} weeks" if weeks else "their horizons")
    managers = c.about["groups"][c.baseline]["managers"]
    systems = ", ".join(t.ics)
    sentences = [
        f"We compared {len(c.others)} options against *{c.baseline}* on the {systems} system "
        f"({managers:,} managers) over {horizon}, with {n} seeds (independent replications) "
        "each; runs with the same seed share their random numbers, so every difference below "
        "is paired by seed and its 95% confidence interval (CI) reflects only the model's "
        "randomness."]
    if c.ranking.empty:
        return sentences
    best = c.ranking.iloc[0]
    per = (f", or {format_gbp(best['cost_per_1pct'])} per 1% gain" if np.isfinite(
        best["cost_per_1pct"]) else "")
    price = f", for an incremental cost of {format_gbp(best['cost'])}{per}" if best["cost"] else ""
    if best["primary_clear"]:
        sentences.append(
            f"*{best['group']}* raised {p.label} the most: {_signed(best['primary_gain'], 2, '%')}"
            f" (95% CI {_signed(best['primary_gain_low'], 2, '%')} to "
            f"{_signed(best['primary_gain_high'], 2, '%')}) against *{c.baseline}*{price}.")
    else:
        sentences.append(
            f"No option changed {p.label} clearly: the largest change, under *{best['group']}*,"
            f" is {_signed(best['primary_gain'], 2, '%')} with a 95% CI from "
            f"{_signed(best['primary_gain_low'], 2, '%')} to "
            f"{_signed(best['primary_gain_high'], 2, '%')}, which includes no change.")
    if len(c.ranking) > 1:
        second = c.ranking.iloc[1]
        if second["tied_with_best"]:
            tied = list(c.ranking.loc[c.ranking["tied_with_best"], "group"])[1:]
            sentences.append(
                f"With {n} seeds the difference between *{best['group']}* and "
                f"{_join(tied)} is within noise (paired 95% CI includes zero), so on this "
                f"evidence they are equally effective for {p.label}.")
        else:
            sentences.append(
                f"*{best['group']}* beats the next best, *{second['group']}* "
                f"({_signed(second['primary_gain'], 2, '%')}), by "
                f"{_signed(second['best_over'], 2, '%')} of that option's level (95% CI "
                f"{_signed(second['best_over_low'], 2, '%')} to "
                f"{_signed(second['best_over_high'], 2, '%')}), a difference that is clear with"
                f" {n} seeds.")
    clear = list(c.ranking.loc[c.ranking["primary_clear"] & (c.ranking["primary_gain"] > 0),
                               "group"])
    worse = list(c.ranking.loc[c.ranking["primary_clear"] & (c.ranking["primary_gain"] < 0),
                               "group"])
    noise = list(c.ranking.loc[~c.ranking["primary_clear"], "group"])
    parts = [f"All {len(c.others)} options raised {p.label} clearly" if len(clear) == len(
        c.others) else f"Of the {len(c.others)} options, {len(clear)} raised {p.label} clearly"]
    small = list(c.ranking.loc[c.ranking["primary_clear"]
                               & c.ranking["primary_gain"].between(0, 1, inclusive="neither"),
                               "group"])
    if small:
        parts[0] += (f", though {_join(small)} gained less than 1%: clear is not the same as "
                     "large")
    if worse:
        parts.append(f"{_join(worse)} lowered it")
    if noise:
        parts.append(f"for {_join(noise)} the change is within noise")
    sentences.append("; ".join(parts) + ".")
    sentences.append(_outcome_sentence(c, "tasks_completed", "delivery (tasks completed per "
                                       "week, last quarter)"))
    sentences.append(_outcome_sentence(c, "burnout_rate", "burnout"))
    valued = c.costs[np.isfinite(c.costs["cost_per_1pct"]) & (c.costs["cost"] > 0)]
    if len(valued) >= 2:
        cheap = valued.sort_values("cost_per_1pct").iloc[0]
        dear = valued.sort_values("cost_per_1pct").iloc[-1]
        sentences.append(
            f"Per 1% gain in {p.label}, the cheapest option with a clear gain is "
            f"*{cheap['group']}* ({format_gbp(cheap['cost_per_1pct'])}) and the dearest is "
            f"*{dear['group']}* ({format_gbp(dear['cost_per_1pct'])}).")
    sentences.append(_replication_sentence(c))
    sentences.append(
        "These are results of a model whose behavioural parameters are mostly assumptions "
        "(marked [A] in the model brief): read them as a comparison of options under the same "
        "assumptions, not as forecasts, and see the sensitivity study for the assumptions that "
        "drive them.")
    return sentences


def _outcome_sentence(c: Comparison, name: str, words: str) -> str:
    item = OUTCOMES[name]
    rows = c.differences[c.differences["outcome"] == name]
    better = rows[rows["clear"] & (np.sign(rows["difference"]) == item.sign())]
    worse = rows[rows["clear"] & (np.sign(rows["difference"]) == -item.sign())]
    if better.empty and worse.empty:
        return (f"No option changed {words} clearly with {c.seeds} seeds (every 95% CI "
                "includes no change).")
    parts = []
    for frame, verb in ((better, "improved"), (worse, "worsened")):
        if frame.empty:
            continue
        words = "it" if parts else words
        top = frame.loc[frame["difference"].abs().idxmax()]
        change = (_signed(top["difference"] * item.scale, 2, " percentage points")
                  if item.unit == "%" or "%" in item.unit else
                  f"{_signed(top['difference'] * item.scale, 2)} {item.unit}")
        which = f"largest under *{top['group']}*: " if len(frame) > 1 else ""
        parts.append(f"{words} {verb} clearly under {_join(list(frame['group']))} ({which}"
                     f"{change}, {_pct(top['relative'])} of the baseline level)")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _replication_sentence(c: Comparison) -> str:
    levels = c.levels[c.levels["outcome"].isin([o.name for o in c.outcomes if o.better])]
    levels = levels[levels["mean"].abs() > 0]
    within = int((levels["relative_half_width"] <= c.precision).sum())
    widest = levels.loc[levels["relative_half_width"].idxmax()]
    primary = c.levels[(c.levels["outcome"] == c.primary.name)
                       & (c.levels["group"] == c.baseline)].iloc[0]
    stable = (f"the running coefficient of variation of {c.primary.label} settles after "
              f"{int(primary['cv_stable_from'])} seeds"
              if pd.notna(primary["cv_stable_from"]) else
              f"the running coefficient of variation of {c.primary.label} has not yet settled, "
              "so more seeds would help")
    sentence = (f"Are {c.seeds} seeds enough? The 95% CI of the mean is within "
                f"±{c.precision:.0%} for {within} of {len(levels)} scenario-outcome pairs (the "
                f"widest: {_lower(outcome(widest['outcome']).label)} "
                f"under *{widest['group']}*, ±{widest['relative_half_width']:.0%}), and {stable}")
    unresolved = c.differences[~c.differences["clear"]
                               & c.differences["seeds_to_resolve"].notna()]
    if not unresolved.empty:
        needed = unresolved.sort_values("seeds_to_resolve")
        needed = needed[needed["seeds_to_resolve"] > c.seeds]
        if not needed.empty:
            row = needed.iloc[0]
            sentence += (f"; of the differences still within noise, the nearest to being "
                         f"resolved (*{row['group']}* on {_lower(OUTCOMES[row['outcome']].label)}) "
                         f"would need about {int(row['seeds_to_resolve'])} seeds, the others "
                         "more")
    return sentence + "."


def write_report(c: Comparison, out_dir: Path | None = None) -> dict[str, Path]:
    """Write the report, its figures and its tables; return their paths by name."""
    out_dir = Path(out_dir or c.tables.sweep_dir / REPORT_DIR)
    paths = _write_figures(c, out_dir)
    for name in ("levels", "differences", "costs", "ranking"):
        frame = getattr(c, name)
        paths[f"{name}.csv"] = write_streamed(out_dir / "tables" / f"{name}.csv",
                                              lambda tmp, f=frame: f.to_csv(tmp, index=False))
    text = report_markdown(c, {k: v.name for k, v in paths.items() if k.endswith(".png")})
    paths["report.md"] = write_streamed(out_dir / "report.md",
                                        lambda tmp: Path(tmp).write_text(text))
    html = to_html(text, out_dir, title=f"Scenario comparison: {', '.join(c.tables.ics)}")
    paths["report.html"] = write_streamed(out_dir / "report.html",
                                          lambda tmp: Path(tmp).write_text(html))
    write_json(out_dir / "report.json", {
        "sweep": str(c.tables.sweep_dir), "baseline": c.baseline, "primary": c.primary.name,
        "seeds": c.seeds, "fingerprint": c.about["fingerprint"],
        "summary": summary_sentences(c)})
    return paths


def _write_figures(c: Comparison, out_dir: Path) -> dict[str, Path]:
    paths = {}
    t = c.tables
    title = f"{', '.join(t.ics)}: outcomes over time ({c.seeds} seeds per scenario)"
    colours = figures.palette(t.groups)
    fig = figures.timeseries_figure(t.timeseries, colours, list(c.outcomes), title)
    paths["timeseries.png"] = write_figure(out_dir / "timeseries.png", fig)
    plt.close(fig)
    if not c.differences.empty:
        compared = [o for o in c.outcomes if o.better is not None]
        fig = figures.forest_figure(c.differences, compared, c.baseline, c.seeds)
        paths["forest.png"] = write_figure(out_dir / "forest.png", fig)
        plt.close(fig)
    if c.costly:
        fig = figures.cost_gain_figure(c.costs, [
            ("primary_gain", f"{c.primary.label}: change vs {c.baseline}, %",
             f"{c.primary.label} ({c.primary.horizon})"),
            ("tasks_total_gain", f"extra tasks completed over the run vs {c.baseline}",
             "Integrated-care delivery (tasks, whole run)")], c.baseline, colours)
        paths["cost_gain.png"] = write_figure(out_dir / "cost_gain.png", fig)
        plt.close(fig)
    values = {g: _values(t, g, c.primary.name) for g in t.groups}
    fig = figures.replication_figure(values, c.primary, c.precision, c.cv_tolerance, colours)
    paths["replications.png"] = write_figure(out_dir / "replications.png", fig)
    plt.close(fig)
    numeric = [col for col in t.group_columns if col != "scenario"
               and pd.api.types.is_numeric_dtype(t.runs[col])]
    if len(numeric) == 2 and len(t.group_columns) == 2:
        means = t.runs.groupby(numeric, as_index=False)[[o.name for o in c.outcomes]].mean()
        grid = [o for o in c.outcomes if o.name in ("sl_density", "cross_profession_share",
                                                   "tasks_completed")] or list(c.outcomes[:3])
        fig = figures.grid_figure(means, numeric[0], numeric[1], grid,
                                  f"Mean at the horizon over the grid ({c.seeds} seeds a cell)")
        paths["grid.png"] = write_figure(out_dir / "grid.png", fig)
        plt.close(fig)
    return paths


def report_markdown(c: Comparison, images: dict[str, str]) -> str:
    t = c.tables
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# Scenario comparison: {', '.join(t.ics)}, {c.seeds} seeds",
           "",
           f"Generated by `slsim-compare` on {now} from `{t.sweep_dir}`. Baseline: "
           f"*{c.baseline}*. Main outcome for ranking: {c.primary.label}.",
           "", "## Summary", "", *(f"* {sentence}" for sentence in summary_sentences(c)), ""]
    out += ["## What was run", "",
            f"* System: {', '.join(t.ics)}; horizon: {', '.join(str(w) for w in t.weeks)} weeks;"
            f" {len(t.runs)} runs succeeded"
            + (f", {t.failed} failed (see `{FAILURES_FILE}`)" if t.failed else "") + ".",
            f"* Sweep fingerprint (hash of every run's config hash): `{c.about['fingerprint']}`."
            " Each run's folder is named after its own config hash, seed included.",
            "* Outcomes at the horizon: the final week, except tasks completed per week (the "
            "mean of the last 13 weeks, one quarter, because one week's count is noisy).", ""]
    rows = [[g, a["levers"], str(a["runs"]), a["seeds"], f"`{a['first_hash']}`"]
            for g, a in c.about["groups"].items()]
    out += [markdown_table([c.kind, "interventions (coverage per year)", "runs", "seeds",
                            "config hash (first seed)"], rows), ""]
    headers, rows = ranking_rows(c)
    out += ["## Ranking", "",
            f"Options ranked by their gain in {c.primary.label} over *{c.baseline}* (relative, "
            "paired by seed). *Tied with best*: the paired difference from the top option is "
            "within noise. *(noise)*: the 95% CI includes no change. Burnout changes are in "
            "percentage points of managers.", "", markdown_table(headers, rows), ""]
    out += ["## Outcomes at the horizon", "",
            "Mean over seeds with its 95% confidence interval.", ""]
    headers = [c.kind, *[f"{o.label} ({o.unit})" for o in c.outcomes]]
    rows = []
    for g in t.groups:
        row = [g]
        for o in c.outcomes:
            r = _level(c, g, o.name)
            row.append(f"{o.display(r['mean'])} ({o.display(r['low'])} to "
                       f"{o.display(r['high'])})")
        rows.append(row)
    out += [markdown_table(headers, rows), ""]
    if not c.differences.empty:
        out += ["## Paired differences against the baseline", "",
                f"Each option minus *{c.baseline}*, seed by seed: the mean difference with its "
                "95% CI, the same as a share of the baseline mean, and Cohen's d (the "
                "difference in units of the run-to-run standard deviation: 0.2 small, 0.5 "
                "medium, 0.8 large). **Clear** marks a CI that excludes no change; the p-value is"
                " Holm-adjusted for all the comparisons in this table.", ""]
        for o in (o for o in c.outcomes if o.better is not None):
            out += [f"### {o.label} ({o.unit}; {o.better} is better; {o.horizon})", ""]
            rows = []
            for g in c.others:
                d = _diff(c, g, o.name)
                rows.append([
                    g, f"{_signed(d['difference'] * o.scale)} ({_signed(d['low'] * o.scale)} to"
                       f" {_signed(d['high'] * o.scale)})",
                    f"{_pct(d['relative'])} ({_pct(d['relative_low'])} to "
                    f"{_pct(d['relative_high'])})",
                    f"{d['cohen_d']:+.2f} ({effect_size_words(d['cohen_d'])})"
                    if np.isfinite(d["cohen_d"]) else "n/a",
                    f"{d['p_holm']:.2g}" if np.isfinite(d["p_holm"]) else "n/a",
                    "**clear**" if d["clear"] else "within noise"])
            out += [markdown_table([c.kind, f"difference ({o.unit})", "relative",
                                    "Cohen's d", "p (Holm)", "verdict"], rows), ""]
    if not c.costs.empty and not c.costly:
        out += ["## Cost and cost per unit of gain", "",
                "No option has an intervention cost, so there is nothing to price.", ""]
    elif not c.costs.empty:
        out += ["## Cost and cost per unit of gain", "",
                f"Incremental cost over the run against *{c.baseline}* (cumulative GBP at the "
                f"horizon). SL density is small in absolute terms (a few granted-leadership "
                "units per 10,000 possible pairs of managers, because most pairs never work "
                "together), so its gain is priced per 1% of the baseline level. Delivery is "
                "priced per extra task completed over the whole run, and per extra task a week "
                "sustained in the last quarter. Costs per unit are shown only where the gain is"
                " clear and positive.", ""]
        rows = []
        for _, r in c.costs.iterrows():
            rows.append([
                r["group"], f"{format_gbp(r['cost'])} ({format_gbp(r['cost_low'])} to "
                            f"{format_gbp(r['cost_high'])})",
                f"{_signed(r['primary_gain'], 2, '%')}", format_gbp(r["cost_per_1pct"]),
                f"{_signed(r['tasks_total_gain'], 3)} ({_signed(r['tasks_total_gain_low'], 3)} "
                f"to {_signed(r['tasks_total_gain_high'], 3)})",
                format_gbp(r["cost_per_task"]), format_gbp(r["cost_per_task_week"])])
        out += [markdown_table(
            [c.kind, "incremental cost (95% CI)", f"{c.primary.label} gain",
             "cost per 1% gain", "extra tasks over the run (95% CI)", "cost per extra task",
             "cost per extra task/week"], rows), ""]
    out += _replication_section(c)
    captions = {
        "timeseries.png": "Outcomes over time: mean of the seeds per week with its 95% CI band.",
        "forest.png": "Paired differences against the baseline, as % of its mean (95% CI).",
        "cost_gain.png": "Incremental cost against gain (95% CIs on both axes).",
        "replications.png": "Replication adequacy: running CV and CI half-width as seeds grow.",
        "grid.png": "Mean at the horizon over the two-parameter grid.",
    }
    out += ["## Figures", ""]
    for name, file in images.items():
        out += [f"### {captions.get(name, name)}", "", f"![{captions.get(name, name)}]({file})",
                ""]
    out += ["## Method", "",
            "* Every scenario ran with the same seeds; each seed's runs share their random "
            "streams (common random numbers), so a difference between two runs of one seed "
            "comes from the scenario, not from chance alone. Differences are computed seed by "
            "seed and summarised with a Student t interval.",
            "* Relative changes are ratios of means minus one, with CIs from the linearised "
            "ratio estimator (the baseline's own uncertainty included).",
            "* Cohen's d standardises the mean paired difference by the root mean square of the"
            " two scenarios' between-seed standard deviations.",
            f"* Replications: the CI half-width as a share of the mean (target ±{c.precision:.0%}"
            f"), the seeds that target needs (t-based), and the coefficient-of-variation "
            f"stability method (Robinson 2014): the running CV is stable from the seed after "
            f"which it stays within ±{c.cv_tolerance:.0%} of its final value for at least 5 "
            "more seeds. *Seeds to resolve*: the seeds a paired difference of the size and "
            "spread seen needs for its CI to exclude zero.",
            "* The model's parameters are assumptions unless the parameter table in docs/ODD.md "
            "names a source; the results compare options under those assumptions.", ""]
    return "\n".join(out)


def _replication_section(c: Comparison) -> list[str]:
    out = ["## Replications: are there enough seeds?", "",
           f"For each scenario and outcome: the 95% CI half-width as a share of the mean, the "
           f"seeds needed for ±{c.precision:.0%}, and the seed count from which the running "
           f"coefficient of variation is stable (within ±{c.cv_tolerance:.0%}; '-' means not "
           f"yet stable with {c.seeds} seeds).", ""]
    shown = [o for o in c.outcomes if o.better is not None]
    headers = [c.kind, *[o.label for o in shown]]
    rows = []
    for g in c.tables.groups:
        row = [g]
        for o in shown:
            r = _level(c, g, o.name)
            needed = (str(int(r["seeds_for_precision"]))
                      if pd.notna(r["seeds_for_precision"]) else "n/a")
            stable = str(int(r["cv_stable_from"])) if pd.notna(r["cv_stable_from"]) else "-"
            half = (f"±{r['relative_half_width']:.1%}" if np.isfinite(r["relative_half_width"])
                    else "n/a")
            row.append(f"{half}; needs {needed}; CV stable {stable}")
        rows.append(row)
    out += [markdown_table(headers, rows), ""]
    if not c.differences.empty:
        noise = c.differences[~c.differences["clear"]]
        if noise.empty:
            out += [f"Every paired difference is clear with {c.seeds} seeds.", ""]
        else:
            rows = [[r["group"], OUTCOMES.get(r["outcome"], outcome(r["outcome"])).label,
                     _pct(r["relative"]),
                     str(int(r["seeds_to_resolve"])) if pd.notna(r["seeds_to_resolve"])
                     else "never (no difference)"]
                    for _, r in noise.sort_values("seeds_to_resolve").iterrows()]
            out += ["Differences still within noise, and the seeds a difference of that size "
                    "and spread would need to be resolved:", "",
                    markdown_table([c.kind, "outcome", "observed change", "seeds to resolve"],
                                   rows), ""]
    return out


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f5; }
img { max-width: 100%; border: 1px solid #ddd; }
code { background: #f6f8fa; padding: 0 0.2em; }
"""


def to_html(markdown_text: str, image_dir: Path, title: str) -> str:
    """The report as one HTML file, with its PNG figures embedded (forwardable on its own)."""
    import markdown

    def embed(match: re.Match) -> str:
        path = Path(image_dir) / match.group(2)
        if not path.exists():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f"![{match.group(1)}](data:image/png;base64,{data})"

    body = markdown.markdown(re.sub(r"!\[([^\]]*)\]\(([^)]+\.png)\)", embed, markdown_text),
                             extensions=["tables"])
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_HTML_STYLE}</style></head>\n<body>\n{body}\n"
            "</body></html>\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="slsim-compare",
        description="Compare the scenarios of an `slsim -m` sweep against a baseline and write "
                    "SWEEP_DIR/report/report.md, report.html, figures and tables.")
    parser.add_argument("sweep_dir", type=Path, help="the sweep's folder (its hydra.sweep.dir)")
    parser.add_argument("--baseline", default="baseline",
                        help="the group to compare against: a scenario name, a group label, or "
                             "key=value pairs such as 'bureaucracy_load=0.3,time_scale=1' "
                             "(default: baseline)")
    parser.add_argument("--rank-by", default="sl_density", metavar="OUTCOME",
                        help=f"outcome that ranks the options (default sl_density); one of "
                             f"{', '.join(OUTCOMES)} or any model output")
    parser.add_argument("--precision", type=float, default=PRECISION,
                        help="target CI half-width as a share of the mean (default 0.05)")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default SWEEP_DIR/report)")
    args = parser.parse_args(argv)
    if not 0 < args.precision < 1:
        parser.error(f"--precision = {args.precision} is outside the allowed range (0, 1)")
    try:
        primary = outcome(args.rank_by)
        outcomes = tuple(OUTCOMES.values())
        tables = load(args.sweep_dir, outcomes if primary in outcomes
                      else (primary, *outcomes))
        comparison = compare(tables, args.baseline, primary.name, precision=args.precision)
        paths = write_report(comparison, args.out)
    except (CompareError, FileNotFoundError, ValueError) as exc:
        print(f"slsim-compare: {exc}", file=sys.stderr)
        sys.exit(2)
    headers, rows = ranking_rows(comparison)
    print(f"Ranking by {comparison.primary.label} against {comparison.baseline} "
          f"({comparison.seeds} seeds, 95% CIs, paired by seed):")
    print(plain_table(headers, rows))
    print()
    print(f"Report: {paths['report.md']}")
    print(f"        {paths['report.html']} (figures embedded)")
