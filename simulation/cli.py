"""The ``slsim`` command: a Hydra app that runs one simulation (or a sweep with ``-m``).

    slsim ics=small_ics seed=7 weeks=52 model.bureaucracy_load=0.3 hydra.run.dir=OUT
    slsim ics=icb/greater_manchester weeks=52
    slsim hydra.searchpath=[file://DIR] ics=my_system      (your own DIR/ics/my_system.yaml)
    slsim -m scenario=baseline,recommended_package seed=range(0,20) hydra.sweep.dir=OUT

Sweeps are resumable and fault-tolerant (simulation/sweeps/, docs/sweeps.md). In a sweep, each
job runs a batch of runs (:mod:`simulation.sweeps.worker`).
"""

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omegaconf import DictConfig

# The command loads its modules in main(), not when this module is imported: see there. A sweep's
# worker process imports this module for app() alone.


def summary_table(final: dict[str, float]) -> str:
    """The outputs flagged ``summary`` in :mod:`simulation.outputs`, as an aligned two-column
    table."""
    from .outputs import SUMMARY

    width = max(len(name) for name in SUMMARY)
    lines = [f"{'output':<{width}}  final week", f"{'-' * width}  ----------"]
    lines += [f"{name:<{width}}  {final[name]:.4g}" for name in SUMMARY]
    return "\n".join(lines)


def app(cfg: "DictConfig") -> str:
    """The Hydra app's task (:func:`main`): one run, or one job of a sweep."""
    import logging
    import os

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .config import to_run_config
    from .layout import BATCH_FILE, run_files
    from .params import ConfigError
    from .runner import run_one

    logging.getLogger("MESA").setLevel(logging.WARNING)  # Hydra's INFO logging would log every step
    hydra_cfg = HydraConfig.get()
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    if sweeping:
        from .sweeps.engine import BATCH_ENV
        from .sweeps.worker import run_batch

        if os.environ.get(BATCH_ENV):  # a batch of the resumable sweeper: its runs
            statuses = run_batch(Path(hydra_cfg.runtime.output_dir) / BATCH_FILE,
                                 Path(hydra_cfg.sweep.dir))
            return ",".join(statuses)
    try:
        config = to_run_config(cfg)
    except ConfigError as exc:
        if sweeping:  # the resumable sweeper rejects bad configs before launching; others record it
            raise
        print(f"slsim: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    out_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    if sweeping:  # quiet: the sweeper reports progress and failures from the run folders
        plot = bool(hydra_cfg.sweeper.get("plots", False))
        return run_one(config, out_dir, plot=plot, overrides=overrides)["status"]
    result = run_one(config, out_dir, overrides=overrides)
    if result["status"] != "succeeded":
        print(f"slsim: run failed: {result['error_type']}: {result['message']}",
              file=sys.stderr)
        sys.exit(1)
    print(f"{config.ics.name}: {result['managers']} managers and {result['trainees']} doctors in "
          f"training, {config.weeks} weeks, "
          f"scenario {config.scenario.name}, seed {config.seed} "
          f"({result['wall_time_s']:.2f} s)")
    print(summary_table(result["final"]))
    print(f"Outputs in {out_dir}: {', '.join(run_files(plot=True))}")
    return result["status"]


def check_systems(argv: list[str]) -> None:
    """Name the closest ICBs for an unknown ``ics=icb/<slug>`` before Hydra looks for its file
    (Hydra would only say it is missing). Other names may come from ``hydra.searchpath``."""
    from .config import check_ics_name

    for arg in argv:
        if arg.startswith("ics="):
            for name in arg.removeprefix("ics=").split(","):
                if name.startswith("icb/"):
                    check_ics_name(name)


def main() -> None:
    """The ``slsim`` command: the Hydra app whose task is :func:`app`.

    Python's cyclic garbage collector is off while the command's modules load: they make
    modules, classes and functions that live as long as the process, and the collections that
    would run among them (a full one of the whole heap) find nothing to free. Loaded, they are
    frozen (``gc.freeze``), so that no later collection walks them again, and the collector runs
    for the run or the sweep. As the command ends, however it ends, what it made is frozen too:
    Python's finalisation would collect the whole heap several times over (some 275,000 objects
    after a run) only to free what the exit frees anyway.
    """
    gc.disable()
    try:
        import hydra

        from .config import CONFIG_DIR
        from .hydra_compat import one_composition
        from .params import ConfigError
        from .runner import run_one  # noqa: F401 (app's: the model, its kernels, mesa, pandas)

        gc.freeze()
        gc.enable()
        try:
            check_systems(sys.argv[1:])
        except ConfigError as exc:
            print(f"slsim: invalid configuration: {exc}", file=sys.stderr)
            sys.exit(2)
        with one_composition():  # a single run's config is composed once, not twice
            hydra.main(version_base="1.3", config_path=str(CONFIG_DIR),
                       config_name="config")(app)()
        from .sweeps.engine import exit_code  # imported by the sweep, if one ran

        # A sweep's: 0 if every run succeeded, 1 if any failed or did not finish.
        sys.exit(exit_code())
    finally:
        gc.freeze()
