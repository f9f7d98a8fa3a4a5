"""Ensembles for the browser app: plan one, run it as a command-line sweep, watch it, compare it.

The app's ensemble view (``app_ensemble.py``) draws; this module does the work, with no UI:

1. **Plan** (:class:`EnsemblePlan`): a system, the options (scenarios, or options composed from
   levers: :class:`ComposedOption`; the baseline always first), the horizon, the replicates
   (seeds) and, for posterior-draw uncertainty, the draws. Every choice comes from a menu built
   from the configs and the schema, never typed as a path or fragment.
2. **Name its folder** (:func:`folder_name`) under the ensembles folder the server was started
   with: the same plan, the same folder, so a re-run resumes.
3. **Run** it (:class:`EnsembleRun`): exactly ``slsim -m ... hydra/launcher=joblib
   hydra.sweep.dir=DIR`` (:func:`reproducing_command`), launched as a subprocess in a process
   group of its own. joblib's workers cannot cancel a running task, so cancelling kills the
   whole group; finished runs stay on disk, and the resumable sweeper skips them next time.
   What ``configs/`` does not hold, the folder's own ``DIR/configs`` does, on the sweep's
   ``hydra.searchpath`` (:func:`write_configs`): each composed option as a scenario file
   ``scenario/<name>.yaml``, and a system file served by ``slsim-viz --systems`` as a copy in
   ``ics/``. So every option is a ``scenario=`` choice of one sweep, paired on the same seeds
   and draws, and ``slsim-compare`` reports it by its readable name.
4. **Watch** the run folder through :mod:`simulation.layout` (:func:`survey`).
5. **Compare** with the functions of ``slsim-compare`` (:func:`comparison_of`,
   :func:`write_report`); the paired difference over time is :func:`stats.paired_difference`
   week by week, and P(best) is :func:`psa.probability_best`.
"""

import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from .analysis import psa
from .analysis.comparison import Comparison, compare
from .analysis.levers import lever_files
from .analysis.load import CompareError, SweepTables, load
from .analysis.outcomes import OUTCOMES, column_name, outcome
from .analysis.report import write_report
from .analysis.stats import paired_difference
from .config import (
    SYSTEMS_DIR_ENV,
    build_config,
    compose,
    system_files,
    to_run_config,
)
from .hydra_compat import quoted
from .interventions import REGISTRY, intervention_params
from .layout import FAILED, RUNS_DIR, SUCCEEDED, check_run, index_runs, safe_name
from .model import SharedLeadershipModel
from .network import setup_progress
from .outputs import Output
from .params import ConfigError, parameter_specs, plain_value
from .posterior import CALIBRATED, UNCALIBRATED, lever_entries
from .priors import Fixed

BASELINE = "baseline"
ENSEMBLES_DIR_ENV = "SLSIM_ENSEMBLES_DIR"  # set by ``slsim-viz --ensembles DIR``
DEFAULT_ENSEMBLES_DIR = Path("outputs/ensembles")
CONFIRM_ABOVE_S = 600.0  # planned CPU time above which the app asks before starting [A]
SPEED_WEEKS = 2  # weeks timed to measure a system's speed, after the first (see measure_speed)
KILL_GRACE_S = 5.0  # a cancelled sweep's group gets SIGTERM, then SIGKILL after this long
LOG_FILE = "app_sweep.log"  # the sweep's own output, kept beside its runs
CONFIGS_DIR = "configs"  # in a sweep folder: its own configs, on the sweep's hydra.searchpath
COMPOSED_PREFIX = "composed: "  # a composed option's name: never a scenario file's name
DIGEST_LENGTH = 8


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]


def _config_name(text: str) -> str:
    """``text`` as a config group option's name (a Hydra override value): word characters."""
    return re.sub(r"\W+", "_", text).strip("_") or "x"


# ------------------------------------------------------------------------- composed options
def lever_entry(entry: str) -> dict:
    """A lever (an entry of a file in ``configs/intervention/``, as the policy search's mixes
    name them) as that file configures it, every knob included
    (:func:`simulation.posterior.lever_entries`, the levers' one reader): a copy to change."""
    levers = lever_entries()
    if entry not in levers:
        raise ConfigError(f"option.levers.{entry}: {entry!r} is not a lever; allowed values "
                          f"are the entries of configs/intervention/: {sorted(levers)}")
    return dict(levers[entry][1])


def option_knobs(entry: str) -> dict[str, dict]:
    """The knobs of a lever an option composed in the app sets, with their schema specs (range,
    unit, meaning): its coverage, and the knobs its schema fixes as decisions of the option or
    of its design (start and end week, hours, layers, duration: prior ``Fixed``). Effect sizes
    and costs are the evidence's, not the option's: they stay as configured (and are drawn with
    the posterior under posterior-draw uncertainty)."""
    specs = parameter_specs(REGISTRY[lever_entry(entry)["kind"]].params_class)
    return {knob: spec for knob, spec in specs.items()
            if knob == "coverage" or isinstance(spec["prior"], Fixed)}


def configured_knob(entry: str, knob: str) -> float | int:
    """The value the lever's file gives the knob (else the schema's default)."""
    return lever_entry(entry)[knob]


def _knob_value(entry: str, knob: str, value):
    """``value`` as the knob's type, so that equal options have equal names and files: an
    integer knob's whole number as an int, another knob's number as a float. Anything else is
    left as it is, for the schema to say what is wrong."""
    value = plain_value(value)
    spec = option_knobs(entry).get(knob)
    if spec is None or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(spec["default"], int):
        return int(value) if float(value).is_integer() else value
    return float(value)


def _changed_knobs(entry: str, knobs: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """The knobs set, typed, in name order, less those at the lever's configured value (a knob
    an option does not set stays, for :meth:`ComposedOption.interventions` to refuse)."""
    allowed = option_knobs(entry)
    typed = ((knob, _knob_value(entry, knob, value)) for knob, value in knobs.items())
    return tuple(sorted((knob, value) for knob, value in typed
                        if knob not in allowed or value != configured_knob(entry, knob)))


@dataclass(frozen=True)
class ComposedOption:
    """An option composed from levers: each lever (:func:`lever_entry`) with the knobs of
    :func:`option_knobs` the user set, every other knob as its file configures it. Build it
    with :meth:`of`, which checks every lever and knob against the schema."""

    levers: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]

    @classmethod
    def of(cls, levers: Mapping[str, Mapping[str, float]]) -> "ComposedOption":
        """The option of ``{lever: {knob: value}}``; ``ConfigError`` names a lever or knob that
        is not allowed, or a value outside the schema's range, with what is allowed. A knob
        set to its configured value is left out: the same levers, the same option."""
        if not levers:
            raise ConfigError("option.levers is empty: choose at least one lever from "
                              f"{sorted(lever_files())}")
        option = cls(tuple(sorted((entry, _changed_knobs(entry, knobs))
                                  for entry, knobs in levers.items())))
        option.interventions()
        return option

    def interventions(self) -> dict[str, dict]:
        """The scenario's ``interventions``: each lever's entry with the knobs set, validated
        (:func:`simulation.interventions.intervention_params` names a bad key)."""
        found = {}
        for entry, knobs in self.levers:
            spec = lever_entry(entry)
            allowed = option_knobs(entry)
            for knob, value in knobs:
                if knob not in allowed:
                    raise ConfigError(f"option.levers.{entry}.{knob} is not a knob an option "
                                      f"sets; allowed: {sorted(allowed)}")
                spec[knob] = value
            intervention_params(entry, spec)
            found[entry] = spec
        return found

    @property
    def name(self) -> str:
        """Readable, as reports show it: the levers, each with the knobs set (those that differ
        from its file's), e.g. ``composed: coaching_support + protected_time (coverage 0.5)``."""
        parts = []
        for entry, knobs in self.levers:
            changed = "; ".join(f"{knob} {value:g}" for knob, value in knobs)
            parts.append(f"{entry} ({changed})" if changed else entry)
        return COMPOSED_PREFIX + " + ".join(parts)

    @property
    def config_name(self) -> str:
        """Its scenario file's name (``scenario=<this>``): the levers and a digest of it all."""
        key = json.dumps(self.levers)
        return _config_name("composed_" + "_".join(e for e, _ in self.levers))[:80] + \
            f"_{_digest(key)}"

    def scenario_yaml(self) -> str:
        head = ("# An option composed from levers in the app's ensemble view "
                "(simulation/ensemble.py, ComposedOption);\n# each lever as configs/intervention/ "
                "configures it, with the knobs chosen.\n")
        return head + OmegaConf.to_yaml(OmegaConf.create(
            {"name": self.name, "interventions": self.interventions()}))


# ------------------------------------------------------------------------------- the plan
def served_system(ics: str) -> Path | None:
    """The served system file ``ics`` names (None for a system that runs by name). A file comes
    only from the folder ``slsim-viz --systems DIR`` serves, found there as the live view finds
    it (:func:`simulation.config.system_files`: ``DIR/ics/*.yaml``, else ``DIR/*.yaml``)."""
    if not ics.endswith((".yaml", ".yml")):
        return None
    folder = os.environ.get(SYSTEMS_DIR_ENV)
    served = list(system_files(folder).values()) if folder else []
    if Path(ics) not in served:
        raise ConfigError(f"ics = {ics!r} is not a system file the server serves: allowed "
                          f"values are the files of slsim-viz --systems DIR "
                          f"({[str(p) for p in served] or 'none: no --systems folder'})")
    return Path(ics)


@dataclass(frozen=True)
class EnsemblePlan:
    """What the user chose: every field from a menu. ``ics`` is a system menu value (an
    archetype, ``england``, ``icb/<slug>``, or the path of a served system file); ``options``
    are scenario names and :class:`ComposedOption` s; ``draws`` 0 means seed-only uncertainty,
    K the posterior's draws 0 to K-1, each run with every seed."""

    ics: str
    options: tuple[str | ComposedOption, ...]
    weeks: int
    replicates: int
    draws: int = 0
    calibration: str = CALIBRATED

    def __post_init__(self) -> None:
        if self.draws and self.calibration == UNCALIBRATED:
            raise ValueError("posterior draws need calibration=calibrated: the uncalibrated "
                             "model has no posterior to draw from")
        if self.replicates < 2:
            raise ValueError("an ensemble needs at least 2 replicates for its intervals")

    @property
    def composed(self) -> tuple[ComposedOption, ...]:
        return tuple(dict.fromkeys(o for o in self.options if isinstance(o, ComposedOption)))

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The sweep's ``scenario=`` choices, the baseline first: every comparison is against
        it. A composed option is the scenario file :func:`write_configs` writes for it."""
        names = (o.config_name if isinstance(o, ComposedOption) else o for o in self.options)
        return tuple(dict.fromkeys((BASELINE, *names)))

    @property
    def runs(self) -> int:
        return len(self.scenarios) * self.replicates * max(self.draws, 1)

    def check(self) -> None:
        """Refuse a plan the schema rejects (``ConfigError`` names the key), before launching:
        a system file is checked field by field (as ``slsim-viz --systems`` does at start),
        then each option's first run is composed as the sweep composes it."""
        if served_system(self.ics) is not None:
            build_config(ics=self.ics, weeks=self.weeks, calibration=self.calibration)
        with tempfile.TemporaryDirectory() as scratch:
            write_configs(self, Path(scratch))
            common = _config_overrides(self, Path(scratch))
            for scenario in self.scenarios:
                to_run_config(compose([*common, f"scenario={scenario}", "seed=0",
                                       *(["draw=0"] if self.draws else [])]))


def _system_name(path: Path) -> str:
    """The name of a served system file's copy in a sweep folder's ``ics/``: its name and a
    digest of its content, so it cannot be taken for a system of ``configs/ics/``."""
    return f"{_config_name(path.stem)}_{_digest(path.read_text())}"


def write_configs(plan: EnsemblePlan, root: Path) -> None:
    """Write what the plan's sweep finds on its searchpath ``root``: each composed option's
    scenario file, and a copy of its served system file."""
    if plan.composed:
        (root / "scenario").mkdir(parents=True, exist_ok=True)
    for option in plan.composed:
        (root / "scenario" / f"{option.config_name}.yaml").write_text(option.scenario_yaml())
    system = served_system(plan.ics)
    if system is not None:
        (root / "ics").mkdir(parents=True, exist_ok=True)
        (root / "ics" / f"{_system_name(system)}.yaml").write_text(system.read_text())


def _config_overrides(plan: EnsemblePlan, root: Path) -> list[str]:
    """The overrides every run of the plan has, its own configs found in ``root``."""
    system = served_system(plan.ics)
    own = [f"hydra.searchpath=[{quoted(f'file://{root}')}]"] if plan.composed or system else []
    return [*own, f"ics={_system_name(system) if system else plan.ics}",
            f"weeks={plan.weeks}", f"calibration={plan.calibration}"]


def sweep_overrides(plan: EnsemblePlan, sweep_dir: Path) -> list[str]:
    """The ``slsim -m`` arguments of the plan's sweep, as on the command line; the configs it
    needs beyond ``configs/`` are in ``sweep_dir/configs`` (:func:`write_configs`)."""
    common = _config_overrides(plan, Path(sweep_dir) / CONFIGS_DIR)
    overrides = [f"scenario={','.join(plan.scenarios)}", f"seed=range(0,{plan.replicates})",
                 *common]
    if plan.draws:
        overrides.append(f"draw=range(0,{plan.draws})")
    return [*overrides, "hydra/launcher=joblib", f"hydra.sweep.dir={quoted(str(sweep_dir))}"]


def reproducing_command(plan: EnsemblePlan, sweep_dir: Path) -> str:
    """The shell commands that run the same sweep and write the same report."""
    return (f"slsim -m {shlex.join(sweep_overrides(plan, sweep_dir))}\n"
            f"slsim-compare {shlex.quote(str(sweep_dir))}")


def folder_name(plan: EnsemblePlan) -> str:
    """A readable name that only this plan has: the same plan always lands in the same folder
    (a system file's copy, and so its content, is part of it)."""
    system = served_system(plan.ics)
    parts = [_system_name(system) if system else plan.ics, f"{plan.weeks}w",
             "+".join(plan.scenarios), f"{plan.replicates}seeds"]
    if plan.draws:
        parts.append(f"{plan.draws}draws")
    if plan.calibration != CALIBRATED:
        parts.append(plan.calibration)
    return safe_name("-".join(parts), max_length=200)


def ensembles_dir() -> Path:
    """Where the app keeps its ensembles: ``slsim-viz --ensembles DIR``, or outputs/ensembles."""
    return Path(os.environ.get(ENSEMBLES_DIR_ENV) or DEFAULT_ENSEMBLES_DIR).resolve()


# ------------------------------------------------------------------------------ the estimate
@dataclass(frozen=True)
class Speed:
    """A system's measured cost: building one run, and stepping it one week."""

    setup_s: float
    week_s: float

    def run_s(self, weeks: int) -> float:
        return self.setup_s + weeks * self.week_s


def measure_speed(ics: str, calibration: str = CALIBRATED, on_progress=None) -> Speed:
    """Build the system once and step it, timing both; ``on_progress(step, done, total)`` hears
    the set-up's progress. The first week counts as set-up: it compiles the kernels, as each
    worker process does once."""
    config = build_config(ics=ics, weeks=SPEED_WEEKS + 1, calibration=calibration)
    started = time.perf_counter()
    with setup_progress(on_progress):
        model = SharedLeadershipModel(config)
    model.step()
    built = time.perf_counter()
    for _ in range(SPEED_WEEKS):
        model.step()
    return Speed(built - started, (time.perf_counter() - built) / SPEED_WEEKS)


def workers() -> int:
    """Worker processes of the joblib launcher (``n_jobs: -1``: one per CPU core)."""
    return max(1, os.cpu_count() or 1)


def planned_seconds(plan: EnsemblePlan, speed: Speed, done: int = 0) -> float:
    """Wall time the runs still to do should take on :func:`workers` processes."""
    return (plan.runs - done) * speed.run_s(plan.weeks) / workers()


def needs_confirmation(plan: EnsemblePlan, speed: Speed) -> bool:
    """Whether the plan is big enough (in CPU time) to ask before starting."""
    return plan.runs * speed.run_s(plan.weeks) > CONFIRM_ABOVE_S


# -------------------------------------------------------------------------------- watching
@dataclass(frozen=True)
class Progress:
    """Runs of a sweep folder by state, against the plan."""

    planned: int
    succeeded: int
    failed: int

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def share(self) -> float:
        return self.done / self.planned if self.planned else 1.0


def survey(sweep_dir: Path, planned: int) -> Progress:
    """Count the run folders that hold a success and those that hold a failure
    (:func:`simulation.layout.check_run`); unfinished and damaged ones count as not done."""
    states = Counter(check_run(folder).state
                     for folder in index_runs(Path(sweep_dir) / RUNS_DIR).values())
    return Progress(planned, states[SUCCEEDED], states[FAILED])


def eta_seconds(progress: Progress, done_at_start: int, elapsed_s: float) -> float | None:
    """Time left at the pace of the runs finished since this launch (None until one has)."""
    finished = progress.done - done_at_start
    if finished <= 0:
        return None
    return elapsed_s / finished * (progress.planned - progress.done)


class EnsembleRun:
    """The plan's sweep as a subprocess in its own process group (so that cancelling can kill
    the joblib workers with it); its output goes to :data:`LOG_FILE` in the sweep folder."""

    def __init__(self, plan: EnsemblePlan, sweep_dir: Path):
        self.plan, self.sweep_dir = plan, Path(sweep_dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        write_configs(plan, self.sweep_dir / CONFIGS_DIR)
        self.done_at_start = survey(self.sweep_dir, plan.runs).done
        self.started = time.monotonic()
        # ``slsim`` as this interpreter runs it: the same package the app imported.
        argv = [sys.executable, "-c", "from simulation.cli import main; main()", "-m",
                *sweep_overrides(plan, self.sweep_dir)]
        with open(self.sweep_dir / LOG_FILE, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def progress(self) -> Progress:
        return survey(self.sweep_dir, self.plan.runs)

    def eta(self, progress: Progress) -> float | None:
        return eta_seconds(progress, self.done_at_start, time.monotonic() - self.started)

    def cancel(self) -> None:
        """Kill the sweep and its workers: SIGTERM to the group, SIGKILL to what is left."""
        group = self.process.pid  # a new session's leader: its pid is the group's id
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + KILL_GRACE_S
            while time.monotonic() < deadline and group_alive(group):
                time.sleep(0.1)
        self.process.wait()


def group_alive(group: int) -> bool:
    """Whether any process of the process group ``group`` is still alive. Read from /proc, not
    ``killpg(group, 0)``, which also finds zombies that nobody has reaped yet."""
    return any(_process_group(pid) == group and _process_state(pid) != "Z"
               for pid in _pids())


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces


def _process_state(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[0] if fields else "Z"


def _process_group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields else None


# ------------------------------------------------------------------------------ the numbers
def compared_outcomes() -> dict[str, Output]:
    """The outcomes a comparison can rank by: the report's, those with a better direction."""
    return {name: item for name, item in OUTCOMES.items() if item.better is not None}


def comparison_of(sweep_dir: Path, primary: str) -> Comparison | None:
    """``slsim-compare``'s comparison of the sweep folder as it stands (aggregating first), or
    None while some option has fewer than two finished replicates to compare."""
    primary_outcome = outcome(primary)
    outcomes = tuple(OUTCOMES.values())
    try:
        tables = load(sweep_dir, outcomes if primary_outcome in outcomes
                      else (primary_outcome, *outcomes))
    except CompareError:
        return None
    if len(tables.groups) < 2 or tables.runs.groupby("group")["seed"].nunique().min() < 2:
        return None
    return compare(tables, BASELINE, primary)


def report(sweep_dir: Path, primary: str) -> Path:
    """Write the ``slsim-compare`` report of the folder; the path of its HTML."""
    comparison = comparison_of(sweep_dir, primary)
    if comparison is None:
        raise CompareError(f"{sweep_dir} has too few finished runs to compare")
    return write_report(comparison)["report.html"]


def difference_over_time(tables: SweepTables, baseline: str, item: Output) -> pd.DataFrame:
    """Each option minus the baseline, week by week, paired by seed: the mean and its 95% CI
    (:func:`simulation.analysis.stats.paired_difference`, as the report's tables)."""
    series = tables.timeseries.pivot_table(index=["week", "seed"], columns="group",
                                           values=item.name)
    rows = []
    for group in (g for g in tables.groups if g != baseline):
        pairs = series[[baseline, group]].dropna()
        for week, values in pairs.groupby(level="week"):
            if len(values) < 2:
                continue
            result = paired_difference(values[group].to_numpy(), values[baseline].to_numpy())
            rows.append({"group": group, "week": week, "difference": result.difference.mean,
                         "low": result.difference.low, "high": result.difference.high})
    return pd.DataFrame(rows, columns=["group", "week", "difference", "low", "high"])


def forest_rows(comparison: Comparison) -> pd.DataFrame:
    """The forest plot's numbers: each option's paired change against the baseline, in % of
    the baseline mean with its 95% CI, and whether it is clear."""
    rows = comparison.differences[["group", "outcome", "relative", "relative_low",
                                   "relative_high", "clear"]].copy()
    for column in ("relative", "relative_low", "relative_high"):
        rows[column] *= 100
    return rows.reset_index(drop=True)


def probability_best(comparison: Comparison) -> pd.DataFrame:
    """P(best) of each option for the ranking outcome, with its Monte Carlo standard error:
    over the posterior's draws in a PSA (the report's table), otherwise over the seeds."""
    primary = comparison.primary
    if comparison.psa is not None:
        best = comparison.psa.best
        rows = best[best["measure"] == primary.name]
        return rows[["option", "p_best", "p_best_mcse"]].reset_index(drop=True)
    tables = comparison.tables
    seeds = sorted(set.intersection(*(set(tables.runs.loc[tables.runs["group"] == g, "seed"])
                                      for g in tables.groups)))
    values = np.column_stack([tables.values(g, column_name(primary), seeds)
                              for g in tables.groups])
    p, mcse = psa.probability_best(values, higher_is_better=primary.better != "lower")
    return pd.DataFrame({"option": tables.groups, "p_best": p, "p_best_mcse": mcse})


def ceac_at(comparison: Comparison, wtp: float) -> pd.Series | None:
    """The CEAC's row nearest willingness to pay ``wtp`` (a PSA only; None otherwise)."""
    if comparison.psa is None:
        return None
    ceac = comparison.psa.ceac
    return ceac.iloc[int(np.argmin(np.abs(ceac["wtp"].to_numpy(float) - wtp)))]
