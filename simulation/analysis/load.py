"""Loading a sweep for comparison: its aggregated tables, grouped, with each run's outcomes at the
horizon.

:func:`load` reads ``results.parquet`` and ``timeseries.parquet`` (running ``slsim-aggregate``'s
:func:`~simulation.sweeps.aggregate.aggregate` first when they are missing or older than a run
folder) and keeps the succeeded runs. Runs are grouped by scenario and by every other parameter
the sweep varied; seeds are the replications. :func:`resolve_baseline` finds the group a user
names, and :func:`describe_groups` what each group ran.

A probabilistic sensitivity analysis (issue 15) records each run's ``draw`` of the uncertain
parameters. A draw is a replicate, like a seed, not a group: the parameters that take one value
per scenario and draw are the draw's values (:func:`split_draw_columns`), and so is every
quantity with a prior, read back from the run folders' configs (:func:`drawn_inputs`); they are
kept one row per draw in :attr:`SweepTables.draws`. Without a ``draw`` column everything is as
before.
"""

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..interventions import REGISTRY
from ..layout import FAILURES_FILE, RESULTS_FILE, RUNS_DIR, SUMMARY_FILE, SWEEP_TIMESERIES_FILE
from ..outputs import OUTPUTS, Output
from ..params import parameter_specs, uncertain_parameters
from ..posterior import lever_definition, spec_value
from ..priors import Prior
from ..sweeps.aggregate import IDENTITY, aggregate
from .outcomes import OUTCOMES, TASKS_TOTAL, horizon_values


class CompareError(ValueError):
    """The sweep cannot be compared as asked (no runs, unknown baseline, ...)."""


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
    draws: pd.DataFrame | None = None  # a PSA: one row per draw, its drawn parameter values
    levers: dict[str, list[str]] | None = None  # a PSA: each group's lever kinds

    def at_draw(self, draw) -> "SweepTables":
        """The runs of one draw alone: the seed-only view of a PSA sweep."""
        runs = self.runs[self.runs[DRAW] == draw]
        series = self.timeseries[self.timeseries["config_hash"].isin(runs["config_hash"])]
        return SweepTables(self.sweep_dir, runs, series, self.group_columns, list(self.groups),
                           self.failed, self.ics, self.weeks)

    def values(self, group: str, column: str, seeds=None) -> np.ndarray:
        """``column`` of ``group``'s runs in seed order (only ``seeds``, in that order, if
        given)."""
        rows = self.runs[self.runs["group"] == group].set_index("seed")
        if seeds is not None:
            rows = rows.loc[seeds]
        return rows[column].to_numpy(float)


def short_key(key: str) -> str:
    """A config path's last part: ``model.bureaucracy_load`` -> ``bureaucracy_load``."""
    return key.rsplit(".", 1)[-1]


def _label(row: pd.Series, columns: list[str]) -> str:
    parts = []
    for key in columns:
        value = row[key]
        if key == "scenario":
            parts.append(str(value))
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            parts.append(f"{short_key(key)}={text}")
    return ", ".join(parts)


DRAW = "draw"  # the column of a PSA run's draw of the uncertain parameters


def split_draw_columns(results: pd.DataFrame, varied: list[str]) -> tuple[list[str], list[str]]:
    """The varied columns that group runs, and those that belong to the draw: with a ``draw``
    column, a parameter that takes one value in each (scenario, draw) is a drawn value, not a
    setting of the sweep (a grid crossed with draws varies within a draw, so it still groups)."""
    if DRAW not in results.columns:
        return varied, []
    per_draw = [c for c in varied if c != DRAW and bool(
        (results.groupby(["scenario", DRAW])[c].nunique(dropna=True) <= 1).all())]
    return [c for c in varied if c != DRAW and c not in per_draw], per_draw


def _draw_values(results: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per draw: each drawn parameter's value (a lever's knobs come from the scenarios
    that have the lever)."""
    return results.groupby(DRAW)[columns].first().sort_index()


def uncertain_values(config: dict) -> dict[str, float]:
    """Every quantity with a prior in one run's config (its ``summary.json`` ``config``): the
    parameters by config path, and each lever's knobs as ``intervention.<kind>.<knob>`` (the
    first lever of a kind whose knob was drawn: its tiers share the kind's draw, and a knob
    pinned by an explicit value, one the draw would not have given, is no uncertainty;
    simulation/posterior.py)."""
    values = {path: config.get(path.split(".")[0], {}).get(path.split(".")[1])
              for path in uncertain_parameters()}  # None: a run from before the parameter
    draw = config.get("draw")
    for name, spec in config["scenario"]["interventions"].items():
        kind = spec["kind"]
        specs, own = parameter_specs(REGISTRY[kind].params_class), lever_definition(name, kind)
        for knob, value in spec.items():
            path = f"intervention.{kind}.{knob}"
            if (knob in specs and isinstance(specs[knob]["prior"], Prior)
                    and value == spec_value(path, specs[knob], draw, own[knob])):
                values.setdefault(path, value)
    return values


def drawn_inputs(sweep_dir: Path, results: pd.DataFrame) -> pd.DataFrame:
    """One row per draw: the value of every quantity with a prior that the draw's runs ran
    with, read from one run folder per scenario and draw (what ran, overrides included)."""
    firsts = results.drop_duplicates(["scenario", DRAW])
    rows = pd.DataFrame([
        {DRAW: draw, **uncertain_values(json.loads(
            (sweep_dir / RUNS_DIR / run / SUMMARY_FILE).read_text())["config"])}
        for run, draw in zip(firsts["run"], firsts[DRAW], strict=True)])
    return rows.groupby(DRAW).first().sort_index()


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
    varied, drawn = split_draw_columns(results, varied)
    group_columns = ["scenario"] if results["scenario"].nunique() > 1 or not varied else []
    group_columns += [c for c in ("ics", "weeks") if results[c].nunique() > 1]
    group_columns += varied
    results = results.copy()
    results["group"] = results.apply(_label, axis=1, columns=group_columns)
    series = pd.read_parquet(sweep_dir / SWEEP_TIMESERIES_FILE)
    series = series[series["config_hash"].isin(results["config_hash"])]
    values = horizon_values(series, outcomes)
    replicate = ["seed", DRAW] if DRAW in results.columns else ["seed"]
    runs = results[["config_hash", "run", "group", *replicate, *group_columns]].join(
        values, on="config_hash")
    duplicated = runs.duplicated(["group", *replicate])
    if duplicated.any():
        raise CompareError(
            f"{int(duplicated.sum())} runs repeat a (group, {', '.join(replicate)}) pair, e.g. "
            f"{runs.loc[duplicated, 'run'].iloc[0]}: the sweep varied something the grouping "
            "cannot see")
    series = series.merge(runs[["config_hash", "group"]], on="config_hash")
    groups = list(dict.fromkeys(results["group"]))
    psa = DRAW in results.columns
    return SweepTables(sweep_dir, runs.sort_values(["group", *replicate[::-1]]), series,
                       group_columns, groups, failed,
                       sorted(results["ics"].unique()), sorted(results["weeks"].unique()),
                       _draw_values(results, drawn).join(drawn_inputs(sweep_dir, results))
                       if psa else None,
                       {group: sorted({spec["kind"] for spec in first_summary(
                           sweep_dir, runs, group)[1]["config"]["scenario"]["interventions"]
                           .values()}) for group in groups} if psa else None)


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
            columns = [c for c in tables.group_columns if c == key or short_key(c) == key]
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


def first_summary(sweep_dir: Path, runs: pd.DataFrame, group: str) -> tuple[pd.Series, dict]:
    """The first run (lowest seed) of ``group`` among ``runs``, and its ``summary.json``."""
    first = runs[runs["group"] == group].sort_values("seed").iloc[0]
    return first, json.loads((Path(sweep_dir) / RUNS_DIR / first["run"] /
                              SUMMARY_FILE).read_text())


def describe_groups(tables: SweepTables) -> dict:
    """What was run, from each group's first run folder: the scenario's interventions, the
    system's size and the config hashes, and a fingerprint of the whole sweep."""
    groups = {}
    for group in tables.groups:
        rows = tables.runs[tables.runs["group"] == group]
        first, summary = first_summary(tables.sweep_dir, tables.runs, group)
        levers = summary["config"]["scenario"]["interventions"]
        groups[group] = {
            "levers": ", ".join(f"{name} ({spec['coverage']:g}/yr)"
                                for name, spec in levers.items()) or "none",
            "first_hash": first["config_hash"], "runs": len(rows),
            "seeds": f"{rows['seed'].min()}-{rows['seed'].max()}",
            "managers": summary["managers"], "trainees": summary.get("trainees", 0)}
    hashes = sorted(tables.runs["config_hash"])
    fingerprint = hashlib.sha256(",".join(hashes).encode()).hexdigest()[:16]
    return {"groups": groups, "fingerprint": fingerprint}
