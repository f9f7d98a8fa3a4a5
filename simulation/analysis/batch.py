"""Run a list of configurations from Python, the way ``slsim -m`` runs a sweep.

``slsim -m`` expands Hydra's sweep syntax into the cartesian product of its overrides. Sensitivity
designs (SALib samples), policy trials and notebooks need an explicit list of runs instead, so
this module runs a list of override lists with the sweep engine's own parts
(:mod:`simulation.sweeps.engine`):

* every job is composed as ``slsim`` composes it
  (:class:`~simulation.sweeps.engine.JobComposer`) and validated before anything runs; a bad job
  stops the batch with the key named;
* a job on a posterior draw whose seed is not given stands for ``seeds_per_draw`` runs on the
  draw's own seeds, the ones ``slsim -m`` runs (:meth:`~simulation.sweeps.engine.JobComposer.
  replicates`): ``seeds_per_draw=R`` among a job's overrides, else the app config's 1;
* each run goes to ``<sweep dir>/runs/<overrides>-<config hash>/`` through
  :func:`simulation.runner.run_one` (``status.json``, ``summary.json``, ``timeseries.parquet``,
  ...), so a run done by ``slsim -m`` and the same run done here share one folder;
* runs that already succeeded (with their files intact) are skipped, failures are recorded and
  retried on the next call, damaged run folders are run again, and a worker that dies loses only
  its batch;
* progress is logged by :class:`~simulation.sweeps.engine.SweepMonitor`.

The folder is an ordinary sweep folder: ``slsim-aggregate`` and ``slsim-compare`` read it.
"""

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import CONFIG_DIR, RunConfig
from ..hydra_compat import config_loader, isolated_hydra
from ..layout import SUCCEEDED, TIMESERIES_FILE, check_run
from ..outputs import Output
from ..results_io import config_hash
from ..runner import run_one
from ..sweeps import engine
from .outcomes import column_name, horizon_values

log = logging.getLogger(__name__)
DEFAULT_BATCH = 64


class RecordingComposer(engine.JobComposer):
    """A :class:`~simulation.sweeps.engine.JobComposer` that keeps each config it composes, by
    its override list (a job's, or one of its seeds' when a job on a draw stands for several)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.composed: dict[tuple[str, ...], RunConfig] = {}

    def __call__(self, job: Sequence[str]) -> RunConfig:
        self.composed[tuple(job)] = super().__call__(job)
        return self.composed[tuple(job)]

    def runs_of(self, job: Sequence[str]) -> list[RunConfig]:
        """The configs of the runs a composed job stands for, in seed order: itself, or its
        draw's seeds (the first of which, the draw's tied seed, is the job's own config)."""
        config = self.composed[tuple(job)]
        return [self.composed.get(tuple(run), config)
                for run in self.replicates(list(job), config)]


@contextlib.contextmanager
def job_composer() -> Iterator[RecordingComposer]:
    """A :class:`RecordingComposer` for the ``slsim`` app's config, usable anywhere (also
    inside another Hydra app: Hydra's global state is saved and restored around it)."""
    from hydra.types import RunMode

    with isolated_hydra(CONFIG_DIR):
        loader = config_loader()
        master = loader.load_configuration("config", ["hydra.mode=MULTIRUN"],
                                           run_mode=RunMode.MULTIRUN)
        yield RecordingComposer(loader, master)


def override(path: str, value) -> str:
    """The Hydra override ``path=value``; numbers (numpy's too) are written exactly, as plain
    decimals (no exponent), so they parse back to the same float."""
    if isinstance(value, bool | np.bool_):
        return f"{path}={str(bool(value)).lower()}"
    if isinstance(value, int | np.integer):
        return f"{path}={int(value)}"
    if isinstance(value, float | np.floating):
        return f"{path}={np.format_float_positional(float(value), unique=True, trim='0')}"
    return f"{path}={value}"


@dataclass
class Batch:
    """A planned list of runs: the sweep plan, and the config of each run of each job, in job
    order (a job on a draw with ``seeds_per_draw=R`` has its R runs in seed order, one after
    another; any other job has one)."""

    plan: engine.SweepPlan
    configs: list[RunConfig]  # one per run of each job, duplicates included
    run_dirs: list[Path]  # one per entry of configs

    @property
    def hashes(self) -> list[str]:
        return [config_hash(c) for c in self.configs]


def plan_jobs(jobs: Sequence[Sequence[str]], sweep_dir: Path, *,
              retry_failed: bool = True) -> Batch:
    """Compose and validate every job and find what earlier attempts left (nothing runs); a
    job on a draw becomes its draw's ``seeds_per_draw`` runs, as in ``slsim -m``.

    Raises :class:`simulation.sweeps.engine.SweepConfigError` naming every invalid job.
    """
    with job_composer() as composer:
        plan = engine.plan_sweep([list(j) for j in jobs], composer, Path(sweep_dir),
                                 retry_failed=retry_failed)
        ordered = [config for job in jobs for config in composer.runs_of(job)]
    by_hash = {run.config_hash: run.run_dir for run in plan.runs}
    return Batch(plan, ordered, [by_hash[config_hash(c)] for c in ordered])


def _run(config: RunConfig, run_dir: Path, overrides: list[str], plot: bool) -> str:
    return run_one(config, run_dir, plot=plot, overrides=overrides)["status"]


def run_batch(batch: Batch, *, n_jobs: int = 2, batch_size: int = DEFAULT_BATCH,
              plot: bool = False, progress_interval: float = 10.0,
              record: bool = True) -> engine.SweepOutcome:
    """Run the batch's missing or failed runs on ``n_jobs`` local processes (1: in this process),
    ``batch_size`` runs per launch, with the sweep engine's loop
    (:func:`simulation.sweeps.engine.execute_plan`).

    ``record``: write ``sweep_status.json`` and print the sweep's final line, as ``slsim -m``
    does (off when several callers share one sweep folder at once, as policy trials do).
    """
    from joblib import Parallel, delayed

    plan = batch.plan
    config_of = {config_hash(c): c for c in batch.configs}
    plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    if plan.to_run:
        log.info("%d runs into %s: %d to run, %d skipped (already succeeded)", len(plan.runs),
                 plan.sweep_dir, len(plan.to_run), len(plan.skipped))

    def launch(runs: list[engine.PlannedRun], first_index: int) -> None:
        Parallel(n_jobs=n_jobs)(
            delayed(_run)(config_of[run.config_hash], run.run_dir,
                          [o for o in run.overrides if not o.startswith("hydra.")], plot)
            for run in runs)

    outcome = engine.execute_plan(plan, launch, batch_size=batch_size,
                                  progress_interval=progress_interval)
    if record:
        engine.finish_sweep(outcome)
    if outcome.interrupted:
        raise KeyboardInterrupt
    return outcome


def run_jobs(jobs: Sequence[Sequence[str]], sweep_dir: Path, **options) -> Batch:
    """Plan and run ``jobs`` (lists of ``slsim`` overrides) into ``sweep_dir``; return the batch.

    Options are those of :func:`run_batch`. Read the results with :func:`load_results`.
    """
    batch = plan_jobs(jobs, sweep_dir)
    run_batch(batch, **options)
    return batch


def run_values(batch: Batch, outcomes: Sequence[Output]) -> pd.DataFrame:
    """Each succeeded run's outcomes at the horizon, indexed by config hash (runs that did not
    succeed, or whose folder is damaged, are missing). Reads only the columns needed, one run at a
    time."""
    columns = ["week", *dict.fromkeys(o.name for o in outcomes)]
    frames = []
    for run in batch.plan.runs:
        if check_run(run.run_dir, run.config_hash).state != SUCCEEDED:
            continue
        frame = pd.read_parquet(run.run_dir / TIMESERIES_FILE, columns=columns)
        frame["config_hash"] = run.config_hash
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[column_name(o) for o in outcomes])
    return horizon_values(pd.concat(frames, ignore_index=True), outcomes)


def load_results(batch: Batch) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The batch's succeeded runs: a table of their ``status.json`` identity (one row per
    distinct run, indexed by config hash) and their time series (one row per run and week, with a
    ``config_hash`` column)."""
    rows, series = [], []
    for run in batch.plan.runs:
        check = check_run(run.run_dir, run.config_hash)
        if check.state != SUCCEEDED:
            continue
        status = check.status
        rows.append({"config_hash": run.config_hash, "seed": status["seed"],
                     "scenario": status["scenario"], **status.get("parameters", {})})
        frame = pd.read_parquet(run.run_dir / TIMESERIES_FILE)
        frame.insert(0, "config_hash", run.config_hash)
        series.append(frame)
    table = pd.DataFrame(rows).set_index("config_hash") if rows else pd.DataFrame()
    return table, (pd.concat(series, ignore_index=True) if series else pd.DataFrame())
