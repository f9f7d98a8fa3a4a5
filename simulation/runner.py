"""One run: validate, seed, simulate, catch, write atomically.

Outputs in the run folder:

* ``summary.json``: final-week outputs, seed, config hash, the overrides that made the run and
  the values they set, package versions, wall time;
* ``timeseries.parquet``: one row per week, one column per output;
* ``breakdown.parquet``: the final week by organisation type and clinical/non-clinical group;
* ``metrics.png``: the main outputs over time;
* ``status.json``: ``succeeded`` or ``failed`` (with the exception type, message and traceback),
  and the run's identity (seed, config hash, overrides and the values they set); written last, so
  its presence with ``succeeded`` means every other file is complete. Sweeps and
  ``slsim-aggregate`` read it.
"""

import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from .config import RunConfig
from .layout import BREAKDOWN_FILE, METRICS_FIGURE, STATUS_FILE, SUMMARY_FILE, TIMESERIES_FILE
from .metrics import OUTPUTS
from .model import SharedLeadershipModel
from .plots import metrics_figure
from .results_io import (
    config_dict,
    config_hash,
    package_versions,
    write_figure,
    write_json,
    write_parquet,
)
from .sweeps.engine import inject_fault, swept_values


def simulate(config: RunConfig) -> tuple[SharedLeadershipModel, pd.DataFrame]:
    """Run the model to its horizon; return it and its weekly time series (week 0 = start)."""
    model = SharedLeadershipModel(config)
    model.run()
    timeseries = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    timeseries.insert(0, "week", range(len(timeseries)))
    return model, timeseries


def run_one(config: RunConfig, out_dir: Path, *, plot: bool = True,
            overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Simulate ``config`` and write its outputs to ``out_dir``; never raises for a model error.

    ``overrides`` (the command-line overrides that made the config) are recorded with the values
    they set, so a sweep's results can be tabulated by what was varied.
    Returns the summary (with ``status``) that was written.
    """
    out_dir = Path(out_dir)
    started = time.perf_counter()
    settings = config_dict(config)
    identity = {"seed": config.seed, "config_hash": config_hash(config),
                "scenario": config.scenario.name, "ics": config.ics.name, "weeks": config.weeks,
                "overrides": list(overrides), "parameters": swept_values(settings, overrides)}
    try:
        inject_fault(config.seed)
        model, timeseries = simulate(config)
        write_parquet(out_dir / TIMESERIES_FILE, timeseries)
        write_parquet(out_dir / BREAKDOWN_FILE, model.breakdown())
        if plot:
            figure = metrics_figure(
                timeseries, f"{config.ics.name}, scenario {config.scenario.name}, "
                            f"seed {config.seed}")
            write_figure(out_dir / METRICS_FIGURE, figure)
            plt.close(figure)
        summary = {
            **identity,
            "status": "succeeded",
            "final": {name: model.latest[name] for name in OUTPUTS},
            "participants": model.participants(),
            "managers": len(model.managers),
            "ties": int(model.ties.open.sum()),
            "versions": package_versions(),
            "wall_time_s": round(time.perf_counter() - started, 3),
            "config": settings,
        }
        write_json(out_dir / SUMMARY_FILE, summary)
        write_json(out_dir / STATUS_FILE, {**identity, "status": "succeeded"})
        return summary
    except Exception as exc:  # a failed run is recorded, never fatal to its caller
        failure = {**identity, "status": "failed", "error_type": type(exc).__name__,
                   "message": str(exc), "traceback": traceback.format_exc(),
                   "config": settings}
        write_json(out_dir / STATUS_FILE, failure)
        return failure
