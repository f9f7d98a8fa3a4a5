"""The ``slsim`` command: a Hydra app that runs one simulation (or a sweep with ``-m``).

    slsim ics=small_ics seed=7 weeks=52 model.bureaucracy_load=0.3 hydra.run.dir=OUT
"""

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .params import CONFIG_DIR, ConfigError, RunConfig, to_run_config
from .runner import run_one

ConfigStore.instance().store(name="slsim_schema", node=RunConfig)

SUMMARY_OUTPUTS = ("sl_density", "sl_centralisation", "leadership_gini", "cross_profession_share",
                   "cross_org_share", "tasks_completed", "backlog", "mean_trust", "burnout_rate",
                   "cost")


def summary_table(final: dict[str, float]) -> str:
    """The headline outputs of a run as an aligned two-column table."""
    width = max(len(name) for name in SUMMARY_OUTPUTS)
    lines = [f"{'output':<{width}}  final week", f"{'-' * width}  ----------"]
    lines += [f"{name:<{width}}  {final[name]:.4g}" for name in SUMMARY_OUTPUTS]
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def app(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Hydra's INFO logging would log every step
    try:
        config = to_run_config(cfg)
    except ConfigError as exc:
        print(f"slsim: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    result = run_one(config, out_dir)
    if result["status"] != "succeeded":
        print(f"slsim: run failed: {result['error_type']}: {result['message']}",
              file=sys.stderr)
        sys.exit(1)
    print(f"{config.ics.name}: {result['managers']} managers, {config.weeks} weeks, "
          f"scenario {config.scenario.name}, seed {config.seed} "
          f"({result['wall_time_s']:.2f} s)")
    print(summary_table(result["final"]))
    print(f"Outputs in {out_dir}: summary.json, timeseries.parquet, breakdown.parquet, "
          "metrics.png")


def main() -> None:
    app()
