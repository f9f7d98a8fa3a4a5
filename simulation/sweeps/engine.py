"""Sweeps that never lose a result: plan, validate, key runs by config hash, watch, summarise.

The ``resumable`` Hydra sweeper (``hydra_plugins/slsim_sweeper``, the default of ``slsim -m``)
drives these steps; any Hydra launcher runs the jobs:

1. every job of the sweep is composed and validated before anything runs (a bad override anywhere
   stops the sweep with the key named, exit code 2);
2. a job on a posterior draw (``draw=K``) whose seed is not given becomes ``seeds_per_draw``
   runs on the draw's own seeds (:func:`simulation.posterior.draw_seed`,
   :meth:`JobComposer.replicates`), every option on the same ones, so runs pair by draw and seed;
3. each run gets the folder ``<sweep dir>/runs/<overrides>-<config hash>``; runs whose folder holds
   a complete success (:func:`simulation.layout.check_run`: ``status.json`` says ``succeeded``
   and the files it vouches for are intact) are skipped, so re-running a sweep command into the
   same ``hydra.sweep.dir`` runs only what is missing, failed or damaged;
4. the runs to do are grouped into batches, one launcher job each (:func:`batch_jobs`): a
   job pays Hydra's per-job cost once and runs its batch one run after another
   (:mod:`.worker`), each run still written to its own folder;
5. while the launcher works, a monitor thread checks each run's folder as its ``status.json``
   appears and logs runs done, failed, skipped and the ETA;
6. the sweep ends with one line of counts, ``sweep_status.json`` and exit code 0 (all succeeded),
   1 (some failed or did not finish) or 3 (the launcher could not run anything, e.g. it cannot
   reach its cluster: the line says why). ``slsim-aggregate`` then collects the results.
"""

import copy
import dataclasses
import logging
import math
import os
import threading
import time
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from ..config import SWEEP_SETTINGS, RunConfig, check_seeds_per_draw, to_run_config
from ..hydra_compat import apply_value_overrides
from ..layout import (
    BATCH_FILE,
    BATCHES_DIR,
    DAMAGED,
    FAILED,
    PREVIOUS_STATUS_FILE,
    RUNS_DIR,
    STATUS_FILE,
    SUCCEEDED,
    SWEEP_STATUS_FILE,
    TEMPORARY_FILES,
    UNFINISHED,
    batch_dir_name,
    check_run,
    index_runs,
    run_dir_name,
)
from ..params import ConfigError
from ..posterior import draw_seed, drawn_interventions, of_draw
from ..results_io import config_dict, config_hash, write_json

log = logging.getLogger(__name__)
DAMAGED_NAMED = 20  # damaged run folders named one by one in the log; the rest are counted

# --- Run folders ---------------------------------------------------------------------------------

def prepare_rerun(run_dir: Path) -> None:
    """Clear what a previous attempt left, so the new attempt's ``status.json`` is its own.

    The earlier record (a failure, or the success of a damaged folder) is kept as
    ``status.previous.json``; temporary files of a killed write go.
    """
    if not run_dir.is_dir():
        return
    status = run_dir / STATUS_FILE
    if status.exists():
        os.replace(status, run_dir / PREVIOUS_STATUS_FILE)
    for leftover in run_dir.glob(TEMPORARY_FILES):
        leftover.unlink(missing_ok=True)


# --- Planning ------------------------------------------------------------------------------------

@dataclass
class PlannedRun:
    """One distinct run of a sweep."""

    overrides: list[str]
    config_hash: str
    run_dir: Path
    # What an earlier attempt left (simulation.layout's states): succeeded, failed, damaged (a
    # success whose files are not complete, or an unreadable status.json), or None (nothing).
    previous: str | None = None
    config: RunConfig | None = None  # the validated config, for the batch that runs it

    @property
    def label(self) -> str:
        return " ".join(self.overrides) or "(defaults)"


@dataclass
class SweepPlan:
    """The distinct runs of a sweep, each with its folder and what an earlier attempt left."""

    sweep_dir: Path
    runs: list[PlannedRun]
    jobs: int  # jobs the sweep expands to (duplicates of a config count once in ``runs``)
    retry_failed: bool = True

    def needs_running(self, run: PlannedRun) -> bool:
        """Missing and damaged runs always run; failed ones unless ``retry_failed`` is off."""
        return run.previous in (None, DAMAGED) or (run.previous == FAILED and self.retry_failed)

    @property
    def to_run(self) -> list[PlannedRun]:
        return [r for r in self.runs if self.needs_running(r)]

    @property
    def skipped(self) -> list[PlannedRun]:
        return [r for r in self.runs if not self.needs_running(r)]

    @property
    def damaged(self) -> list[PlannedRun]:
        return [r for r in self.runs if r.previous == DAMAGED]

    @property
    def duplicates(self) -> int:
        return self.jobs - len(self.runs)


class SweepConfigError(ConfigError):
    """Jobs of a sweep have invalid configurations; nothing has run."""

    def __init__(self, problems: list[tuple[list[str], str]], jobs: int):
        self.problems = problems
        self.jobs = jobs
        by_message = Counter(message for _, message in problems)
        first_job = {}
        for overrides, message in problems:
            first_job.setdefault(message, overrides)
        lines = [f"{len(problems)} of {jobs} runs of the sweep have an invalid configuration; "
                 "nothing was run:"]
        for message, count in by_message.items():
            runs = f"{count} runs, e.g." if count > 1 else "run"
            lines.append(f"  {message}  [{runs} {' '.join(first_job[message]) or '(defaults)'}]")
        super().__init__("\n".join(lines))


def task_config(job_config: DictConfig) -> DictConfig:
    """The app's config of a composed job: the job config without its ``hydra`` node."""
    task = copy.deepcopy(job_config)
    with read_write(task), open_dict(task):
        task.pop("hydra", None)
    return task


def describe_error(exc: BaseException) -> str:
    """A one-line description of a composition or validation error, naming the key."""
    lines = [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]
    cause = exc.__cause__
    if cause is not None and str(cause):
        lines += [line.strip() for line in str(cause).splitlines()[:2] if line.strip()]
    return "; ".join(dict.fromkeys(line.rstrip(".") for line in lines))


@dataclass
class _GroupChoice:
    """What the jobs choosing one set of config groups share."""

    config: DictConfig  # the composed task config of the choice
    scratch: DictConfig  # a copy that each job's value overrides are applied to, then read
    validated: RunConfig | None  # the choice's own config, validated (None if it is invalid)
    # Parameters set by an interpolation (the calibrated config's ${slsim_posterior:...,${draw}}):
    # re-read for each job, since a job's value overrides (draw=K) can change what they resolve to.
    interpolated: tuple[str, ...] = ()
    # Those that are a function of the draw alone (simulation.posterior.of_draw), computed
    # directly for a job that changes the draw, and left as validated for one that does not.
    of_draw: dict[str, Callable[[Any], Any]] = dataclasses.field(default_factory=dict)
    touched: set[str] = dataclasses.field(default_factory=set)  # keys the last job set on scratch


def _raw(config: DictConfig, dotted: str) -> Any:
    """The value of a dotted key as written (an interpolation unresolved)."""
    parent, _, key = dotted.rpartition(".")
    node = OmegaConf.select(config, parent) if parent else config
    return node._get_node(key)._value()


def _restore(scratch: DictConfig, original: DictConfig, keys: set[str]) -> None:
    """Set each dotted key of ``scratch`` back to its raw value in ``original`` (an
    interpolation stays an interpolation), undoing the last job's value overrides."""
    for dotted in keys:
        parent, _, key = dotted.rpartition(".")
        source = OmegaConf.select(original, parent) if parent else original
        target = OmegaConf.select(scratch, parent) if parent else scratch
        if isinstance(source, DictConfig) and isinstance(target, DictConfig) and key in source:
            target[key] = source._get_node(key)._value()


def _interpolated_leaves(node: DictConfig, prefix: str = "") -> tuple[str, ...]:
    """The dotted paths of the leaves of ``node`` whose value is an interpolation."""
    found: list[str] = []
    for key in node:
        path = f"{prefix}{key}"
        if OmegaConf.is_interpolation(node, key):
            found.append(path)
        elif isinstance(node._get_node(key), DictConfig):
            found.extend(_interpolated_leaves(node._get_node(key), f"{path}."))
    return tuple(found)


def _plain_hint(hint: Any) -> bool:
    """Whether a field of type ``hint`` holds plain values (no dataclass, no free-form dict)."""
    if isinstance(hint, type):
        return not dataclasses.is_dataclass(hint) and hint is not dict
    return typing.get_origin(hint) is not dict and all(map(_plain_hint, typing.get_args(hint)))


def _field_path(key: str) -> tuple[str, ...] | None:
    """The path of fields of :class:`RunConfig` a dotted override key names, if it ends at a
    plain field reached through dataclasses only; else None."""
    cls: Any = RunConfig
    path = tuple(key.split("."))
    for depth, name in enumerate(path):
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            return None
        hint = typing.get_type_hints(cls).get(name)
        if hint is None:
            return None
        if depth == len(path) - 1:
            return path if _plain_hint(hint) else None
        cls = hint
    return None


def _with_values(obj: Any, values: dict[tuple[str, ...], Any]) -> Any:
    """A copy of the dataclass ``obj`` with each field path set to its value (one
    ``dataclasses.replace`` a level, so a root config's ``__post_init__`` validates it once)."""
    changes: dict[str, Any] = {}
    below: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in values.items():
        if len(path) == 1:
            changes[path[0]] = value
        else:
            below.setdefault(path[0], {})[path[1:]] = value
    for name, rest in below.items():
        changes[name] = _with_values(getattr(obj, name), rest)
    return dataclasses.replace(obj, **changes)


class JobComposer:
    """The validated run config of each sweep job, as Hydra's launchers would compose it, fast.

    Hydra composes the whole config again for every job (about 0.1 s), and validating it as a
    :class:`RunConfig` costs another 0.025 s. The jobs of a sweep that choose the same config
    groups (``ics=``, ``scenario=``) differ only in value overrides, so this composes and
    validates once per choice of groups. A job then costs its value overrides applied to a
    scratch copy of the choice's config with Hydra's own override code (which types each value
    and rejects unknown keys as Hydra does), the typed values set on the choice's validated
    config, and the schema's checks (:func:`simulation.params.validate`): a few milliseconds
    at most. Overrides that do more than set a plain field (add or delete keys, set an
    intervention's knobs or a whole node) take the exact path instead: the choice's config
    copied, the overrides applied, validated in full.

    As a check, each choice's jobs are also composed in full until one gives the same config
    both ways (every job of a sweep sets the same keys); if one differs, every job is composed
    in full from then on. tests/test_sweeps.py checks every kind of override against Hydra's
    full composition.
    """

    def __init__(self, loader: Any, master_config: DictConfig):
        from hydra.core.override_parser.overrides_parser import OverridesParser

        self.loader = loader
        self.master_config = master_config
        self.parser = OverridesParser.create(config_loader=loader)
        self.choices: dict[tuple[str, ...], _GroupChoice] = {}
        self.checked: set[tuple[str, ...]] = set()
        self.in_full = False
        self._parsed: dict[str, tuple[Any, bool]] = {}  # override line -> (override, is_group)

    def parse(self, line: str) -> tuple[Any, bool]:
        """An override line parsed by Hydra's parser, and whether it chooses a config group
        (each distinct line once: the jobs of a grid share most of theirs)."""
        if line not in self._parsed:
            (override,) = self.parser.parse_overrides([line])
            self._parsed[line] = (override, self.loader.repository.group_exists(
                override.key_or_group) and not isinstance(override.value(), dict))
        return self._parsed[line]

    @staticmethod
    def _sweep_setting(override: Any) -> bool:
        """Whether ``override`` sets a sweep setting (``seeds_per_draw``), not a run's config;
        its value is checked here, naming the key."""
        if override.key_or_group not in SWEEP_SETTINGS:
            return False
        check_seeds_per_draw(override.value())
        return True

    def seeds_per_draw(self, job: Sequence[str]) -> int:
        """The job's ``seeds_per_draw``: its override, else the app config's."""
        for line in job:
            override, _ = self.parse(line)
            if override.key_or_group == "seeds_per_draw":
                return check_seeds_per_draw(override.value())
        return check_seeds_per_draw(self.master_config.get("seeds_per_draw", 1))

    def replicates(self, job: Sequence[str], config: RunConfig) -> list[list[str]]:
        """The runs a job stands for: itself, or for a job on a draw whose seed is not given,
        one job per seed of the draw (``seed=draw_seed(K, r)`` for r < ``seeds_per_draw``)."""
        seeds = self.seeds_per_draw(job)
        given = any(self.parse(line)[0].key_or_group == "seed" for line in job)
        if config.draw is None or (given and seeds == 1):
            return [list(job)]
        if given:
            raise ConfigError(f"seeds_per_draw = {seeds} ties each draw's seeds to the draw, so "
                              "the seed cannot also be given: drop the seed override, or give "
                              "the seeds yourself with seeds_per_draw=1")
        return [[*job, f"seed={draw_seed(config.draw, r)}"] for r in range(seeds)]

    def compose_in_full(self, job: Sequence[str]) -> RunConfig:
        return to_run_config(task_config(self.loader.load_sweep_config(self.master_config,
                                                                        list(job))))

    def _choice(self, groups: tuple[str, ...]) -> _GroupChoice:
        if groups not in self.choices:
            config = task_config(self.loader.load_sweep_config(self.master_config,
                                                               list(groups)))
            try:
                validated = to_run_config(config)
            except ConfigError:  # the jobs' values may still make it valid: each is checked
                validated = None
            leaves = _interpolated_leaves(config)
            functions = {dotted: of_draw(_raw(config, dotted)) for dotted in leaves}
            self.choices[groups] = _GroupChoice(
                config, copy.deepcopy(config), validated, leaves,
                {dotted: f for dotted, f in functions.items() if f is not None})
        return self.choices[groups]

    def quick(self, choice: _GroupChoice, values: list[Any]) -> RunConfig:
        """A job's config from its group choice and its value overrides."""
        from hydra.core.override_parser.types import OverrideType

        paths = [_field_path(o.key_or_group) if o.type == OverrideType.CHANGE
                 and o.package is None else None for o in values]
        if choice.validated is None or None in paths:
            job_config = copy.deepcopy(choice.config)
            apply_value_overrides(values, job_config)
            return to_run_config(job_config)
        _restore(choice.scratch, choice.config, choice.touched)
        choice.touched = {o.key_or_group for o in values}
        apply_value_overrides(values, choice.scratch)  # Hydra types and checks each value
        typed = {}
        for override, path in zip(values, paths, strict=True):
            value = OmegaConf.select(choice.scratch, override.key_or_group)
            if isinstance(value, DictConfig | ListConfig):
                value = OmegaConf.to_container(value)
            typed[path] = value
        draw = typed.get(("draw",), choice.validated.draw)
        redrawn = draw != choice.validated.draw
        if redrawn and choice.validated.draw is not None:
            # the choice's levers are drawn at its own draw already: compose this job afresh
            job_config = copy.deepcopy(choice.config)
            apply_value_overrides(values, job_config)
            return to_run_config(job_config)
        for dotted in choice.interpolated:  # resolved with this job's values (its draw=K)
            path = _field_path(dotted)
            if not path or path in typed or (dotted in choice.of_draw and not redrawn):
                continue
            typed[path] = (choice.of_draw[dotted](draw) if dotted in choice.of_draw
                           else OmegaConf.select(choice.scratch, dotted))
        if redrawn and choice.validated.scenario.interventions:  # as config.at_draw does
            typed[("scenario", "interventions")] = drawn_interventions(
                choice.validated.scenario.interventions, draw)
        return _with_values(choice.validated, typed) if typed else choice.validated

    def __call__(self, job: Sequence[str]) -> RunConfig:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if self.in_full:
            return self.compose_in_full(job)
        parsed = [self.parse(line) for line in job]
        groups = tuple(o.input_line for o, group in parsed if group)
        values = [o for o, group in parsed if not group and not o.is_hydra_override()
                  and not self._sweep_setting(o)]
        choice = self._choice(groups)
        if groups in self.checked:
            return self.quick(choice, values)
        exact = self.compose_in_full(job)  # raises this job's error, if it has one
        try:
            same = config_hash(self.quick(choice, values)) == config_hash(exact)
        except (ConfigError, HydraException, OmegaConfBaseException):
            same = False
        if same:
            self.checked.add(groups)
        else:
            log.warning("composing every job in full: the quick path gave another config for %s",
                        " ".join(job))
            self.in_full = True
        return exact


def plan_sweep(
    jobs: Sequence[Sequence[str]],
    compose: Callable[[Sequence[str]], RunConfig],
    sweep_dir: Path,
    *,
    retry_failed: bool = True,
    progress_every: float = 10.0,
) -> SweepPlan:
    """Compose and validate every job, key it by config hash, and find what earlier attempts left.

    ``compose(overrides)`` returns a job's validated run config; a :class:`JobComposer` also
    expands a job on a draw into its seeds (:meth:`JobComposer.replicates`). Raises
    :class:`SweepConfigError` listing every invalid job, before anything runs. A run folder whose
    success is not complete (:func:`simulation.layout.check_run`) is logged, naming what is
    wrong, and planned to run again.
    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    sweep_dir = Path(sweep_dir)
    existing = index_runs(sweep_dir / RUNS_DIR)
    problems: list[tuple[list[str], str]] = []
    runs: dict[str, PlannedRun] = {}
    damaged = 0
    started = last_note = time.monotonic()
    expanded = 0
    for number, job in enumerate(jobs, 1):
        overrides = [o for o in job if not o.startswith("hydra.")]
        try:
            config = compose(job)
            replicates = (compose.replicates(job, config) if isinstance(compose, JobComposer)
                          else [list(job)])
            # a replicate whose seed the job's config already has is that config
            seeded = [(replicate, config if replicate[-1] == f"seed={config.seed}"
                       or replicate == list(job) else compose(replicate))
                      for replicate in replicates]
        except (ConfigError, HydraException, OmegaConfBaseException) as exc:
            problems.append((overrides, describe_error(exc)))
            continue
        expanded += len(seeded)
        for replicate, replicate_config in seeded:
            problem = _plan_run(runs, existing, replicate, replicate_config, sweep_dir)
            if problem is not None:
                damaged += 1
                if damaged <= DAMAGED_NAMED:
                    log.warning("run folder %s is damaged (%s): it will run again",
                                runs[config_hash(replicate_config)].run_dir, problem)
        if time.monotonic() - last_note >= progress_every:
            last_note = time.monotonic()
            log.info("validated %d/%d run configs (%.0f s)", number, len(jobs),
                     last_note - started)
    if damaged > DAMAGED_NAMED:
        log.warning("... and %d more damaged run folders, which will run again",
                    damaged - DAMAGED_NAMED)
    if problems:
        raise SweepConfigError(problems, len(jobs))
    return SweepPlan(sweep_dir, list(runs.values()), expanded, retry_failed)


def _plan_run(runs: dict[str, PlannedRun], existing: dict[str, Path], job: Sequence[str],
              config: RunConfig, sweep_dir: Path) -> str | None:
    """Add the run of ``job`` to ``runs`` (once per config hash), with what an earlier attempt
    left in its folder; return what is wrong with that folder if it is damaged."""
    run_hash = config_hash(config)
    if run_hash in runs:
        return None
    overrides = [o for o in job if not o.startswith("hydra.")]
    run_dir = existing.get(run_hash, sweep_dir / RUNS_DIR / run_dir_name(overrides, run_hash))
    check = check_run(run_dir, run_hash)
    previous = None if check.state == UNFINISHED else check.state
    runs[run_hash] = PlannedRun(list(job), run_hash, run_dir, previous, config)
    return check.problem if previous == DAMAGED else None


# --- Watching and summarising ---------------------------------------------------------------------

class LauncherUnavailable(RuntimeError):
    """The launcher cannot run any job (it cannot reach or start its cluster): retrying the next
    batch would fail the same way, so the sweep stops and says why, in one line."""


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class SweepOutcome:
    """Counts of a sweep invocation, for its final line, ``sweep_status.json`` and exit code."""

    sweep_dir: Path
    runs: int
    skipped: int
    succeeded: int = 0
    failed: int = 0
    unfinished: int = 0
    duplicates: int = 0
    interrupted: bool = False
    unavailable: str = ""  # why the launcher could not run anything (LauncherUnavailable)
    elapsed_s: float = 0.0
    failed_runs: list[str] = field(default_factory=list)
    unfinished_runs: list[str] = field(default_factory=list)
    launcher_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        if self.unavailable:
            return 3
        return 0 if self.failed == 0 and self.unfinished == 0 else 1

    def final_line(self) -> str:
        done = self.succeeded + self.skipped
        counts = (f"{done} of {self.runs} runs succeeded ({self.succeeded} run now, "
                  f"{self.skipped} skipped as already done), {self.failed} failed")
        if self.unavailable:  # the cause first: the counts only say that nothing more ran
            return (f"slsim sweep could not launch its runs: {self.unavailable.rstrip('.')}. "
                    f"{counts}, {self.unfinished} not run, in {format_duration(self.elapsed_s)}; "
                    f"once that is fixed, re-run the same command with hydra.sweep.dir="
                    f"{self.sweep_dir}. Results in {self.sweep_dir}")
        head = "slsim sweep interrupted" if self.interrupted else "slsim sweep finished"
        line = (f"{head}: {counts}, {self.unfinished} did not finish, in "
                f"{format_duration(self.elapsed_s)}")
        if self.failed or self.unfinished:
            line += f"; re-run the same command with hydra.sweep.dir={self.sweep_dir} to retry them"
        return f"{line}. Results in {self.sweep_dir}"

    def record(self) -> dict[str, Any]:
        return {
            "runs": self.runs, "skipped": self.skipped, "succeeded": self.succeeded,
            "failed": self.failed, "unfinished": self.unfinished,
            "duplicate_jobs": self.duplicates, "interrupted": self.interrupted,
            "launcher_unavailable": self.unavailable,
            "elapsed_s": round(self.elapsed_s, 3), "exit_code": self.exit_code,
            "failed_runs": self.failed_runs, "unfinished_runs": self.unfinished_runs,
            "launcher_errors": self.launcher_errors,
        }


class SweepMonitor:
    """Watches the runs being launched: reads each ``status.json`` as it appears and logs progress.

    Works for every launcher, because it only reads the sweep folder (a shared file system for
    Ray clusters and SLURM). Progress lines are plain, timestamped by Hydra's log format, and
    written at most every ``interval`` seconds (and at the end), so they read well in a log file.
    """

    def __init__(self, plan: SweepPlan, interval: float = 10.0, poll: float = 1.0):
        self.plan = plan
        self.interval = interval
        self.poll = min(poll, interval) if interval > 0 else poll
        self.pending = {run.config_hash: run for run in plan.to_run}
        self.total = len(self.pending)
        self.skipped = len(plan.runs) - self.total
        self.succeeded = 0
        self.failed: list[str] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._reported = (0, 0)
        self._last_line = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._watch, name="slsim-sweep-monitor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.check()
        self.report(force=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            self.check()
            self.report()

    def check(self) -> None:
        """Record every pending run whose ``status.json`` has appeared (checked once, in full:
        a success whose files are not complete counts as failed)."""
        with self._lock:
            for run_hash, run in list(self.pending.items()):
                check = check_run(run.run_dir, run_hash)
                if check.state == UNFINISHED:
                    continue
                del self.pending[run_hash]
                if check.state == SUCCEEDED:
                    self.succeeded += 1
                    continue
                self.failed.append(run.run_dir.name)
                if check.state == DAMAGED:
                    reason = f"its run folder is damaged: {check.problem}"
                else:
                    reason = f"{check.status.get('error_type')}: {check.status.get('message')}"
                log.warning("run failed: %s: %s (%s)", run.label, reason,
                            run.run_dir / STATUS_FILE)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self.succeeded, len(self.failed)

    def progress_line(self) -> str:
        ok, bad = self.counts()
        finished = ok + bad
        elapsed = time.monotonic() - self.started
        rate = finished / elapsed if elapsed > 0 else 0.0
        eta = format_duration((self.total - finished) / rate) if rate > 0 else "unknown"
        return (f"progress: {finished}/{self.total} runs finished ({ok} succeeded, {bad} failed), "
                f"{self.skipped} skipped, {rate:.2f} runs/s, "
                f"elapsed {format_duration(elapsed)}, ETA {eta}")

    def report(self, force: bool = False) -> None:
        """Log a progress line if the counts changed: at most every ``interval`` s, or now."""
        counts = self.counts()
        now = time.monotonic()
        if counts == self._reported and (self._last_line or not force):
            return
        if force or now - max(self._last_line, self.started) >= self.interval:
            self._reported, self._last_line = counts, now
            log.info(self.progress_line())

    def outcome(self, interrupted: bool = False, launcher_errors: Iterable[str] = (),
                unavailable: str = "") -> SweepOutcome:
        ok, bad = self.counts()
        unfinished = sorted(run.run_dir.name for run in self.pending.values())
        return SweepOutcome(
            sweep_dir=self.plan.sweep_dir, runs=len(self.plan.runs),
            skipped=self.skipped, succeeded=ok, failed=bad,
            unfinished=len(unfinished), duplicates=self.plan.duplicates,
            interrupted=interrupted, unavailable=unavailable,
            elapsed_s=time.monotonic() - self.started,
            failed_runs=sorted(self.failed), unfinished_runs=unfinished,
            launcher_errors=list(launcher_errors))


def execute_plan(plan: SweepPlan, launch: Callable[[list[PlannedRun], int], Any], *,
                 batch_size: int | None = None, progress_interval: float = 10.0) -> SweepOutcome:
    """Run the plan's missing or failed runs and watch them; return the outcome.

    ``launch(runs, first_index)`` runs a batch (``batch_size`` runs; None: all at once) and
    returns when it is done. A batch whose launch raises (a worker died) ends there: its finished
    runs are kept and the next batch goes on; a :class:`LauncherUnavailable` stops the sweep
    there, with its reason in the outcome. Ctrl-C stops the sweep, with the outcome marked
    ``interrupted``.
    """
    to_run = plan.to_run
    for run in to_run:
        prepare_rerun(run.run_dir)
    monitor = SweepMonitor(plan, interval=progress_interval)
    errors: list[str] = []
    interrupted = False
    unavailable = ""
    monitor.start()
    try:
        size = batch_size or max(len(to_run), 1)
        for start in range(0, len(to_run), size):
            batch = to_run[start:start + size]
            try:
                launch(batch, start)
            except LauncherUnavailable as exc:  # every further batch would fail the same way
                unavailable = str(exc)
                errors.append(f"{type(exc).__name__}: {unavailable}")
                break
            except Exception as exc:  # a dead worker ends its batch, never the sweep
                text = str(exc).strip()
                errors.append(f"{type(exc).__name__}: {text.splitlines()[0]}" if text
                              else type(exc).__name__)
                log.error("The launcher failed in a batch of %d runs (%s). Runs that had "
                          "finished are kept; the others did not finish", len(batch), errors[-1])
    except KeyboardInterrupt:
        interrupted = True
    finally:
        monitor.stop()
    return monitor.outcome(interrupted, errors, unavailable)


_last_outcome: SweepOutcome | None = None


def finish_sweep(outcome: SweepOutcome) -> None:
    """Record the outcome (``sweep_status.json``, the exit code) and print the final line."""
    global _last_outcome
    _last_outcome = outcome
    write_json(outcome.sweep_dir / SWEEP_STATUS_FILE, outcome.record())
    for name in outcome.failed_runs[:20]:
        log.info("failed: %s", outcome.sweep_dir / RUNS_DIR / name / STATUS_FILE)
    print(outcome.final_line(), flush=True)


def exit_code() -> int:
    """Exit code of the last sweep run in this process (0 if none ran)."""
    return _last_outcome.exit_code if _last_outcome is not None else 0


# --- Batches: many runs per launcher job ------------------------------------------------------

BATCH_ENV = "SLSIM_BATCH"  # names a job's batch (its folder under batches/); set by the job
MAX_RUNS_PER_JOB = 20  # the automatic batch size's ceiling: a batch is seconds to a minute


def runs_per_job(runs: int, setting: int | None, workers: int | None = None) -> int:
    """Runs in each launcher job: ``setting``, or when it is None enough for each of this
    machine's cores to get four jobs, at most :data:`MAX_RUNS_PER_JOB` (so the last jobs finish
    close together and a lost worker takes few runs with it)."""
    if setting is not None:
        return max(1, int(setting))
    slots = 4 * (workers or os.cpu_count() or 1)
    return max(1, min(MAX_RUNS_PER_JOB, math.ceil(runs / slots)))


def batch_jobs(sweep_dir: Path, runs: Sequence[PlannedRun], per_job: int, *,
               plot: bool) -> list[list[str]]:
    """Write one ``batch.json`` per ``per_job`` runs and return each batch's job overrides.

    A job's overrides are its first run's (so the launcher composes a valid config), the batch's
    folder as the job's output folder, and the batch's name in the job's environment
    (``hydra.job.env_set``), which tells the ``slsim`` app to run the batch
    (:func:`simulation.sweeps.worker.run_batch`). ``batch.json`` holds each run's folder name,
    config hash, overrides and validated config, so the worker composes nothing.
    """
    jobs = []
    for start in range(0, len(runs), per_job):
        batch = runs[start:start + per_job]
        name = batch_dir_name([run.config_hash for run in batch])
        write_json(sweep_dir / BATCHES_DIR / name / BATCH_FILE, {"plot": plot, "runs": [
            {"run": run.run_dir.name, "config_hash": run.config_hash,
             "overrides": [o for o in run.overrides if not o.startswith("hydra.")],
             "config": config_dict(run.config)} for run in batch]})
        jobs.append([*batch[0].overrides, f"hydra.sweep.subdir={BATCHES_DIR}/{name}",
                     f"+hydra.job.env_set.{BATCH_ENV}={name}"])
    return jobs
