"""One run: validate, seed, simulate, catch, write atomically.

Outputs in the run folder:

* ``summary.json``: final-week outputs, seed, config hash, package versions, wall time;
* ``timeseries.parquet``: one row per week, one column per output;
* ``breakdown.parquet``: the final week by organisation type and clinical/non-clinical group;
* ``metrics.png``: the main outputs over time;
* ``status.json``: ``succeeded`` or ``failed`` (with the exception type, message and traceback),
  written last, so its presence with ``succeeded`` means every other file is complete.
"""

import time
import traceback
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from .metrics import OUTPUTS
from .model import SharedLeadershipModel
from .params import RunConfig
from .plots import metrics_figure
from .results_io import (
    config_dict,
    config_hash,
    package_versions,
    write_figure,
    write_json,
    write_parquet,
)


def simulate(config: RunConfig) -> tuple[SharedLeadershipModel, pd.DataFrame]:
    """Run the model to its horizon; return it and its weekly time series (week 0 = start)."""
    model = SharedLeadershipModel(config)
    model.run()
    timeseries = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    timeseries.insert(0, "week", range(len(timeseries)))
    return model, timeseries


def run_one(config: RunConfig, out_dir: Path, *, plot: bool = True) -> dict[str, Any]:
    """Simulate ``config`` and write its outputs to ``out_dir``; never raises for a model error.

    Returns the summary (with ``status``) that was written.
    """
    out_dir = Path(out_dir)
    started = time.perf_counter()
    identity = {"seed": config.seed, "config_hash": config_hash(config),
                "scenario": config.scenario.name, "ics": config.ics.name, "weeks": config.weeks}
    try:
        model, timeseries = simulate(config)
        write_parquet(out_dir / "timeseries.parquet", timeseries)
        write_parquet(out_dir / "breakdown.parquet", model.breakdown())
        if plot:
            figure = metrics_figure(
                timeseries, f"{config.ics.name}, scenario {config.scenario.name}, "
                            f"seed {config.seed}")
            write_figure(out_dir / "metrics.png", figure)
            plt.close(figure)
        summary = {
            **identity,
            "status": "succeeded",
            "final": {name: model.latest[name] for name in OUTPUTS},
            "managers": len(model.managers),
            "ties": int(model.ties.open.sum()),
            "versions": package_versions(),
            "wall_time_s": round(time.perf_counter() - started, 3),
            "config": config_dict(config),
        }
        write_json(out_dir / "summary.json", summary)
        write_json(out_dir / "status.json", {**identity, "status": "succeeded"})
        return summary
    except Exception as exc:  # a failed run is recorded, never fatal to its caller
        failure = {**identity, "status": "failed", "error_type": type(exc).__name__,
                   "message": str(exc), "traceback": traceback.format_exc()}
        write_json(out_dir / "status.json", failure)
        return failure
