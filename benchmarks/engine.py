"""Benchmarks of the simulation engine (issue 7): speed against the reference, one system, the
nation, where the time goes, scaling, memory, and docking against the reference."""

import cProfile
import pstats
import re
import tempfile
import time
import tracemalloc
from collections import defaultdict
from dataclasses import fields, replace
from functools import partial

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulation import model as model_module
from simulation.config import build_config
from simulation.model import SharedLeadershipModel
from simulation.reference import ReferenceModel, docking_runs, equivalence
from simulation.results_io import write_figure

from .core import (
    Context,
    Section,
    Target,
    Timing,
    in_worker,
    section,
    sized_config,
    table,
    time_model,
)

# The weekly phases, as the model's docstring lists them ("1. ``apply_interventions`` ...").
PHASES = re.findall(r"^\d+\.\s+``(\w+)``", model_module.__doc__, flags=re.MULTILINE)


def _s(seconds: float) -> str:
    return f"{seconds:.3g} s"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _per_manager_week_us(seconds: float, managers: int, weeks: int) -> float:
    return 1e6 * seconds / (managers * weeks)


@section("speed_ratio", order=10)
def speed_ratio(ctx: Context) -> list[Section]:
    """Vectorised against reference engine on the same configs."""
    plan = ctx.plan
    rows, points = [], []
    ratio = float("nan")
    for managers, reference_weeks in zip(plan.ratio_sizes, plan.reference_weeks, strict=True):
        config = sized_config(managers, plan.ratio_weeks)
        setup, run, model = time_model(partial(SharedLeadershipModel, config), plan.repeats)
        n, ties = len(model.managers), len(model.ties)
        del model
        ref_setup, ref_run, _ = time_model(
            partial(ReferenceModel, replace(config, weeks=reference_weeks)),
            plan.reference_repeats)
        ref_run_scaled = ref_run.best * plan.ratio_weeks / reference_weeks
        ratio = ref_run_scaled / run.best
        overall = (ref_setup.best + ref_run_scaled) / (setup.best + run.best)
        rows.append([f"{n:,}", f"{ties:,}", str(setup), str(run), str(ref_setup),
                     f"{_s(ref_run.best)} over {reference_weeks} weeks: "
                     f"{_s(ref_run_scaled)} for {plan.ratio_weeks}",
                     f"**{ratio:.0f}×**", f"{overall:.0f}×"])
        points.append((n, _per_manager_week_us(ref_run_scaled, n, plan.ratio_weeks)))
    ctx.results["reference_points"] = points
    body = "\n\n".join([
        f"Both engines run the same config (England's real ICBs scaled to the size; seed 0) "
        f"for {plan.ratio_weeks} weeks. The vectorised engine's times are the minimum of "
        f"{_count(plan.repeats, 'run')}; those of the reference engine "
        "(`simulation/reference.py`, sequential schedule) are the minimum of "
        f"{_count(plan.reference_repeats, 'run')} over the weeks shown, its run time scaled per "
        "week to the same horizon. The ratio compares run times; the last column compares "
        "set-up plus run.",
        table(["Managers", "Ties", "Vectorised set-up", "Vectorised run", "Reference set-up",
               "Reference run", "Ratio (run)", "Ratio (set-up + run)"], rows),
        f"Under cProfile, {_rule_share(sized_config(plan.ratio_sizes[0], 2)):.0f}% of the "
        "reference's run time is spent inside the rule functions of `rules.py`, called one "
        "manager or tie at a time with scalars: each call pays numpy's fixed cost, which the "
        "vectorised engine pays once per phase. The rest is Python: agents, ties, the schedule.",
    ])
    largest = plan.ratio_sizes[-1]
    return [Section("Speed ratio: vectorised against the reference engine", body, [
        Target(f"Speed ratio at {largest:,} managers, {plan.ratio_weeks} weeks (run)",
               f"{ratio:.0f}×", "≥ 50×", ratio >= 50)])]


def _rule_share(config) -> float:
    """Per cent of a reference run's time spent in calls from the reference into ``rules.py``."""
    model = ReferenceModel(config)
    profiler = cProfile.Profile()
    profiler.runcall(model.run)
    table_ = pstats.Stats(profiler).stats
    total = sum(tt for _, _, tt, _, _ in table_.values())
    in_rules = sum(cumulative
                   for (filename, _, _), (_, _, _, _, callers) in table_.items()
                   if filename.endswith("rules.py")
                   for (caller_file, _, _), (_, _, _, cumulative) in callers.items()
                   if caller_file.endswith("reference.py"))
    return 100.0 * in_rules / total


@section("default_ics", order=20)
def default_ics(ctx: Context) -> list[Section]:
    """One default system over the default horizon."""
    plan = ctx.plan
    config = build_config(ics="default_ics", weeks=plan.default_ics_weeks)
    # A run is short, so take the minimum of more: steadier on a shared machine.
    setup, run, model = time_model(partial(SharedLeadershipModel, config), 3 * plan.repeats)
    total = Timing(tuple(s + r for s, r in zip(setup.samples, run.samples, strict=True)))
    managers, ties, weeks = len(model.managers), len(model.ties), plan.default_ics_weeks
    body = table(
        ["Managers", "Ties", "Weeks", "Set-up", "Run", "Set-up + run", "Per week",
         "Per manager-week", "Per tie-week"],
        [[f"{managers:,}", f"{ties:,}", weeks, str(setup), str(run), str(total),
          f"{1e3 * run.best / weeks:.2f} ms",
          f"{_per_manager_week_us(run.best, managers, weeks):.2f} µs",
          f"{1e9 * run.best / (ties * weeks):.0f} ns"]])
    # Issue 14's goal is for the model alone (the run): 0.15 s, about 0.48 µs a manager-week.
    return [Section(f"One system: default_ics, {weeks} weeks", body, [
        Target(f"default_ics, {weeks} weeks, the model alone (run)", _s(run.best), "≤ 0.15 s",
               run.best <= 0.15)])]


@section("national", order=30)
def national(ctx: Context) -> list[Section]:
    """All 42 systems over five years, each repeat in its own process for its peak memory."""
    plan = ctx.plan
    reports = [in_worker({"ics": plan.national_ics, "weeks": plan.national_weeks, "repeats": 1})
               for _ in range(plan.national_repeats)]
    first = reports[0]
    setup = Timing(tuple(r["setup_s"][0] for r in reports))
    run = Timing(tuple(r["run_s"][0] for r in reports))
    total = Timing(tuple(s + r for s, r in zip(setup.samples, run.samples, strict=True)))
    peak_gb = max(r["peak_rss_mb"] for r in reports) / 1024.0
    baseline_mb = max(r["peak_rss_before_mb"] for r in reports)
    step = run.best / plan.national_weeks
    limit = min(r["tie_pass_s"] for r in reports)
    ctx.results["national"] = {"report": first, "step_s": step}
    body = "\n\n".join([
        f"`{plan.national_ics}`: {_count(first['systems'], 'system')}, "
        f"{first['managers']:,} managers, {first['ties']:,} directed ties, "
        f"{plan.national_weeks} weeks; {_count(plan.national_repeats, 'run')}, each in a fresh "
        "process (`benchmarks/worker.py`).",
        table(["Set-up", "Run", "Set-up + run", "Per week", "Peak memory (RSS)",
               "Of which Python and libraries"],
              [[str(setup), str(run), str(total), f"{1e3 * step:.1f} ms",
                f"{peak_gb:.2f} GB", f"{baseline_mb / 1024.0:.2f} GB"]]),
    ])
    limit_body = "\n\n".join([
        "The irreducible work of one week on this machine: one pass over the ties with one "
        "uniform draw per tie, compared with a per-tie chance (numpy PCG64, preallocated "
        f"buffers, minimum of 20), on the {first['ties']:,} ties of `{plan.national_ics}`.",
        table(["Physical limit per week", "Our step (week)", "Per manager-week", "Per tie-week",
               "Multiple"],
              [[f"{1e3 * limit:.2f} ms ({1e9 * limit / first['ties']:.2f} ns per tie)",
                f"{1e3 * step:.1f} ms", f"{1e6 * step / first['managers']:.2f} µs",
                f"{1e9 * step / first['ties']:.0f} ns", f"**{step / limit:.0f}×**"]]),
        "Our week draws one uniform per tie for the meetings (a fixed-shape draw, so that "
        "scenarios share random numbers), about the limit itself; the claim, grant and joint "
        "work read their counter-based streams (numpy's Philox) at the position of each tie "
        "that reaches them, a few per cent of the ties. The rest is the pass that sums each "
        "manager's expected contacts before anyone meets, gathering partners' state along the "
        "ties, the end-of-week passes (decay, the outputs) and the per-manager steps.",
    ])
    return [
        Section(f"The nation: {plan.national_ics}, {plan.national_weeks} weeks", body, [
            Target(f"{plan.national_ics}, {plan.national_weeks} weeks (set-up + run)",
                   _s(total.best), "≤ 10 s", total.best <= 10),
            Target(f"{plan.national_ics}, peak memory", f"{peak_gb:.2f} GB", "≤ 1 GB",
                   peak_gb <= 1.0),
        ]),
        Section("The physical limit", limit_body, [
            Target(f"A week of {plan.national_ics} against the physical limit",
                   f"{step / limit:.0f}×", "≤ 8×", step / limit <= 8)]),
    ]


@section("compilation", order=32)
def compilation(ctx: Context) -> list[Section]:
    """What compiling the kernels costs a process, and what numba's on-disk cache saves."""
    # 30 weeks: past the first changeover (week 26), so the career kernels are used too.
    spec = {"ics": "small_ics", "weeks": 30, "repeats": 1}
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = in_worker(spec, env)  # an empty cache: every kernel is compiled on first use
        warm = [in_worker(spec, env) for _ in range(ctx.plan.repeats)]  # loaded from the cache
    first = cold["setup_s"][0] + cold["run_s"][0]
    cached = Timing(tuple(r["setup_s"][0] + r["run_s"][0] for r in warm))
    rows.append([f"{first:.2f} s", str(cached), f"**{first - cached.best:.2f} s**"])
    body = "\n\n".join([
        "The first `small_ics` model of a process (set-up and 30 weeks; the kernels compile, or "
        "load, on first use), in fresh processes sharing one new `NUMBA_CACHE_DIR`: the first "
        "compiles every kernel into it (as a clean clone does, once), the next ones load them.",
        table(["Empty cache (compiles)", "Cache filled (loads)", "Compilation cost"], rows),
    ])
    return [Section("Compiling the kernels", body)]


@section("profile", order=35)
def profile(ctx: Context) -> list[Section]:
    """Time per weekly phase on the national config."""
    plan = ctx.plan
    model = SharedLeadershipModel(build_config(ics=plan.national_ics, weeks=plan.profile_weeks))
    spent = defaultdict(list)

    def timed(name, method, *args, **kwargs):
        start = time.perf_counter()
        result = method(*args, **kwargs)
        spent[name].append(time.perf_counter() - start)
        return result

    for name in PHASES:
        setattr(model, name, partial(timed, name, getattr(model, name)))
    steps = []
    while model.running:
        start = time.perf_counter()
        model.step()
        steps.append(time.perf_counter() - start)
    step = float(np.median(steps))
    rows = [[f"{k}. `{name}`", f"{1e3 * np.median(spent[name]):.2f} ms",
             f"{100 * np.median(spent[name]) / step:.0f}%"]
            for k, name in enumerate(PHASES, start=1)]
    rows.append(["whole week", f"{1e3 * step:.2f} ms", "100%"])
    body = "\n\n".join([
        f"Median time per week of each phase of `SharedLeadershipModel.step`, "
        f"`{plan.national_ics}`, {plan.profile_weeks} weeks. Phase "
        f"{PHASES.index('observe') + 1} (`observe`) includes the DataCollector, which collects "
        "the model-level outputs only (agent-level collection is off unless `collect_agents` "
        "is set).",
        table(["Phase", "Per week", "Share"], rows),
    ])
    return [Section("Where the time goes", body)]


@section("scaling", order=40)
def scaling(ctx: Context) -> list[Section]:
    """Cost per manager-week from the smallest to the largest size, and memory."""
    plan = ctx.plan
    # More repeats where a run is short: the minimum of many is steadier on a shared machine.
    repeats = {n: plan.repeats * (2 if n <= 20_000 else 1) for n in plan.scaling_sizes}
    reports = [in_worker({"managers": n, "weeks": plan.scaling_weeks, "repeats": repeats[n]})
               for n in plan.scaling_sizes]
    managers = np.array([r["managers"] for r in reports])
    cost = np.array([_per_manager_week_us(min(r["run_s"]), r["managers"], r["weeks"])
                     for r in reports])
    limit = np.array([_per_manager_week_us(r["tie_pass_s"], r["managers"], 1) for r in reports])
    growth = max(cost[j] / cost[i] for i in range(len(cost)) for j in range(i, len(cost)))
    rows = []
    for r, c, lim in zip(reports, cost, limit, strict=True):
        run = Timing(tuple(r["run_s"]))
        spread = 100 * (max(run.samples) / run.best - 1)
        rows.append([f"{r['managers']:,}", r["systems"], f"{r['ties']:,}",
                     f"{r['ties'] / r['managers']:.1f}", _s(min(r["setup_s"])), _s(run.best),
                     f"{c:.3g}", f"{spread:.0f}%",
                     f"{1e9 * run.best / (r['ties'] * r['weeks']):.1f}",
                     f"{c / lim:.0f}×", f"{r['peak_rss_mb']:,.0f}"])
    figure_path = ctx.img_dir / "scaling.png"
    write_figure(figure_path, _scaling_figure(managers, cost, limit,
                                              ctx.results.get("reference_points", [])))
    plt.close("all")
    body = "\n\n".join([
        f"England's real ICBs scaled to each size (whole ICBs in the roster's order), "
        f"{plan.scaling_weeks} weeks, each size in a fresh process; run time is the minimum of "
        f"{_count(max(repeats.values()), 'run')} up to 20,000 managers and of "
        f"{min(repeats.values())} above, and the spread is the slowest repeat against it.",
        table(["Managers", "Systems", "Ties", "Ties per manager", "Set-up", "Run",
               "µs per manager-week", "Spread", "ns per tie-week", "× physical limit",
               "Peak RSS (MB)"], rows),
        f"The cost per manager-week grows by at most **{growth:.2f}×** from any size to a "
        "larger one (1.00× would be perfectly linear time). Small systems pay numpy's fixed cost "
        "per call; the largest pay for memory traffic once the arrays outgrow the caches.",
        f"![Time per manager-week against managers]({ctx.figure_link(figure_path)})",
    ])
    memory = _memory_section(reports)
    return [Section("Scaling", body, [
        Target(f"Cost per manager-week, {plan.scaling_sizes[0]:,} to "
               f"{plan.scaling_sizes[-1]:,} managers: growth", f"{growth:.2f}×", "≤ 2×",
               growth <= 2.0)]), memory]


def _scaling_figure(managers, cost, limit, reference_points):
    figure, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    ax.loglog(managers, cost, "o-", label="vectorised engine (run)")
    ax.loglog(managers, limit, "s--", label="physical limit: one draw per tie")
    if reference_points:
        n, c = zip(*reference_points, strict=True)
        ax.loglog(n, c, "^:", label="reference engine (idiomatic Mesa)")
    ax.set_xlabel("managers")
    ax.set_ylabel("µs per manager-week")
    ax.set_title("Cost per manager-week")
    ax.grid(True, which="both", alpha=0.3)
    figure.legend(loc="outside lower center", ncol=2)
    return figure


def _memory_section(reports) -> Section:
    """Bytes per manager and per tie: the state arrays exactly, the Python objects measured, and
    the peak resident memory's growth across the scaling runs."""
    config = sized_config(10_000 if reports[-1]["managers"] >= 10_000 else 300, weeks=1)
    tracemalloc.start()
    model = SharedLeadershipModel(config)
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n, n_ties = len(model.managers), len(model.ties)
    per_manager = sum(getattr(model.managers, f.name).nbytes for f in fields(model.managers)) / n
    per_tie = (sum(getattr(model.ties, f.name).nbytes for f in fields(model.ties))
               + model.resting_trust.nbytes) / n_ties
    objects = (retained - per_manager * n - per_tie * n_ties) / n
    large = [r for r in reports if r["managers"] >= 10_000] or reports
    if len(large) >= 2:
        slope = np.polyfit([r["managers"] for r in large],
                           [r["peak_rss_mb"] * 1024.0 for r in large], 1)[0]
        fitted = (f"{slope:.1f} kB per manager (a straight-line fit of peak RSS over the runs of "
                  f"{large[0]['managers']:,} managers and more)")
    else:
        fitted = "(needs two scaling runs)"
    body = "\n\n".join([
        table(["What", "Bytes"], [
            ["State arrays per manager (`state.Managers`)", f"{per_manager:.0f}"],
            ["State arrays per directed tie (`state.Ties` and resting trust)", f"{per_tie:.0f}"],
            ["Python objects per manager (Mesa agent views, registries), measured with "
             f"tracemalloc on {n:,} managers", f"{objects:.0f}"],
        ]),
        f"With about {n_ties / n:.0f} directed ties per manager, the state of one manager and "
        f"their ties takes about {(per_manager + per_tie * n_ties / n + objects) / 1024:.1f} kB. "
        f"Peak resident memory grows by {fitted}: it also holds the edge lists while the "
        "network is built and the week's temporary arrays (a few per tie) while it runs.",
    ])
    return Section("Memory per manager and per tie", body)


@section("docking", order=60)
def docking(ctx: Context) -> list[Section]:
    """Vectorised against reference, and the reference's two schedules against each other."""
    plan = ctx.plan
    runs = docking_runs(range(plan.docking_seeds), weeks=plan.docking_weeks,
                        engines=("vectorised", "sequential", "staged"))
    parts = [
        f"`small_ics`, seeds 0–{plan.docking_seeds - 1}, {plan.docking_weeks} weeks, every "
        "engine from the same starting state per seed. Stocks are read in the final week, "
        "tasks completed as the weekly mean of the final quarter. Paired TOST: equivalent when "
        "the 90% confidence interval of the mean paired difference lies within ±10% of the "
        "second engine's mean (`simulation.reference.equivalence`; `tests/test_reference.py` "
        "asserts the first comparison).",
    ]
    for engine, reference, title in (
            ("vectorised", "sequential", "Vectorised against the sequential reference (the "
                                         "docking test)"),
            ("vectorised", "staged", "Vectorised against the staged reference (the same phase "
                                     "order)"),
            ("sequential", "staged", "The schedule alone: sequential against staged, both "
                                     "reference")):
        result = equivalence(runs, engine, reference)
        rows = [[f"`{r['output']}`", f"{r[f'mean_{engine}']:.4g}",
                 f"{r[f'mean_{reference}']:.4g}", f"{r['difference_pct']:+.1f}%",
                 f"[{r['ci_low_pct']:+.1f}%, {r['ci_high_pct']:+.1f}%]", f"{r['p_tost']:.2g}",
                 "yes" if r["equivalent"] else "**no**"]
                for r in result.to_dict("records")]
        parts += [f"**{title}**",
                  table(["Output", f"Mean, {engine}", f"Mean, {reference}", "Difference",
                         "90% CI", "p (TOST)", "Equivalent"], rows)]
    return [Section("Docking: the vectorised engine against the reference", "\n\n".join(parts))]
