"""The ``resumable`` sweeper: Hydra's basic sweep syntax, made fault-tolerant and resumable.

It lives under ``hydra_plugins`` because Hydra only instantiates sweepers from there; the work is
done by :mod:`simulation.sweeps.engine`. Compared with Hydra's ``basic`` sweeper it:

* composes and validates every job before any runs, and rejects the sweep naming the bad key;
* names each run's folder by the hash of its resolved config and skips runs already succeeded
  (with their files intact: a damaged run folder runs again);
* launches one job per batch of runs, so Hydra's per-job cost is paid once a batch;
* keeps going when a run fails or a batch loses its worker, and logs progress with an ETA;
* says in one line why, when the launcher cannot run anything (a Ray cluster it cannot join);
* ends with one line of counts, ``sweep_status.json`` and a non-zero exit code if anything failed.
"""

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from simulation.hydra_compat import basic_sweeper
from simulation.layout import SWEEP_CONFIG_FILE
from simulation.sweeps import engine, ray_cluster

log = logging.getLogger(__name__)


@dataclass
class ResumableSweeperConf:
    _target_: str = "hydra_plugins.slsim_sweeper.resumable_sweeper.ResumableSweeper"
    # Runs per launcher call; null launches them all at once. A worker that dies ends its batch
    # only: the next batch goes on, and the lost runs are redone by re-running the sweep.
    max_batch_size: int | None = None
    # Runs per launcher job, one after another in one worker; null: enough for four jobs per
    # core of this machine, at most 20 (simulation.sweeps.engine.runs_per_job).
    runs_per_job: int | None = None
    # Sweep defined in the config (as for Hydra's basic sweeper), e.g. {seed: "range(0,10)"}.
    params: dict[str, str] = field(default_factory=dict)
    # Re-run runs whose earlier attempt failed (false: keep their failure, run only missing ones).
    retry_failed: bool = True
    # Seconds between progress lines (a line is also written at the end).
    progress_interval: float = 10.0
    # Draw metrics.png for every run (slow: about 0.5 s a run).
    plots: bool = False


ConfigStore.instance().store(
    group="hydra/sweeper", name="resumable", node=ResumableSweeperConf, provider="slsim")


class ResumableSweeper(basic_sweeper()):
    def __init__(self, max_batch_size: int | None = None, runs_per_job: int | None = None,
                 params: dict[str, str] | None = None, retry_failed: bool = True,
                 progress_interval: float = 10.0, plots: bool = False) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.runs_per_job = runs_per_job
        self.retry_failed = retry_failed
        self.progress_interval = progress_interval
        self.plots = plots

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        jobs = [job for batch in self.split_arguments(overrides, None) for job in batch]
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        loader = self.hydra_context.config_loader
        log.info("Validating %d run configs", len(jobs))
        try:
            plan = engine.plan_sweep(
                jobs, engine.JobComposer(loader, self.config), sweep_dir,
                retry_failed=self.retry_failed, progress_every=self.progress_interval)
        except engine.SweepConfigError as exc:
            print(f"slsim: {exc}", file=sys.stderr)
            sys.exit(2)

        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / SWEEP_CONFIG_FILE)
        damaged = f" ({len(plan.damaged)} of them damaged)" if plan.damaged else ""
        duplicates = f", {plan.duplicates} duplicate jobs merged" if plan.duplicates else ""
        log.info("Sweep of %d runs into %s: %d to run%s, %d skipped (already %s)%s",
                 len(plan.runs), sweep_dir, len(plan.to_run), damaged, len(plan.skipped),
                 "succeeded" if self.retry_failed else "done", duplicates)

        returns = []

        launcher_config = self.config.hydra.launcher
        per_job = engine.runs_per_job(len(plan.to_run), self.runs_per_job)
        if plan.to_run:
            log.info("Up to %d runs per launcher job", per_job)
        jobs_launched = 0

        def launch(runs: list[engine.PlannedRun], first_index: int) -> None:
            nonlocal jobs_launched
            job_overrides = engine.batch_jobs(sweep_dir, runs, per_job, plot=self.plots)
            first_index, jobs_launched = jobs_launched, jobs_launched + len(job_overrides)
            if ray_cluster.is_ray(launcher_config):  # a cluster it cannot join is said so clearly
                returns.append(ray_cluster.guarded_launch(launcher_config, self.launcher.launch,
                                                          job_overrides, first_index))
            else:
                returns.append(self.launcher.launch(job_overrides, initial_job_idx=first_index))

        outcome = engine.execute_plan(plan, launch, batch_size=self.max_batch_size,
                                      progress_interval=self.progress_interval)
        engine.finish_sweep(outcome)
        if outcome.interrupted:
            sys.exit(130)
        return returns
