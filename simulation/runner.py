"""One run: validate, seed, simulate, catch, write atomically.

Outputs in the run folder:

* ``summary.json``: final-week outputs, seed, config hash, the overrides that made the run and
  the values they set, package versions, wall time;
* ``timeseries.parquet``: one row per week, one column per output;
* ``breakdown.parquet``: the final week by system (ICB and region), organisation type and
  clinical/non-clinical group;
* ``metrics.png``: the main outputs over time;
* ``status.json``: ``succeeded`` (and whether ``metrics.png`` was drawn) or ``failed`` (with the
  exception type, message and traceback), and the run's identity (seed, config hash, overrides
  and the values they set); written last, so its presence with ``succeeded`` means every other
  file was complete when it was written. Sweeps and ``slsim-aggregate`` trust it only through
  :func:`simulation.layout.check_run`, which checks that those files are still complete.

A run depends on nothing of the sweep layer (:mod:`simulation.sweeps`): the values its overrides
set (:func:`swept_values`) and the test-only fault hook (:func:`inject_fault`) live here, with the
run that records and triggers them.

Fault injection for tests (documented in docs/sweeps.md): ``SLSIM_FAULT_INJECT="raise=3,7;kill=5"``
makes the runs with seed 3 or 7 raise inside the run, and the worker running seed 5 kill itself.
"""

import json
import os
import signal
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import RunConfig
from .layout import (
    BREAKDOWN_FILE,
    FAILED,
    METRICS_FIGURE,
    STATUS_FILE,
    SUCCEEDED,
    SUMMARY_FILE,
    TIMESERIES_FILE,
)
from .metrics import OUTPUTS
from .model import SharedLeadershipModel
from .results_io import (
    config_dict,
    config_hash,
    package_versions,
    write_figure,
    write_json,
    write_parquet,
)

FAULT_ENV = "SLSIM_FAULT_INJECT"


class InjectedFault(RuntimeError):
    """Raised inside a run chosen by ``SLSIM_FAULT_INJECT`` (tests only)."""


def parse_fault_spec(text: str) -> dict[str, set[int]]:
    """``"raise=3,7;kill=5"`` -> ``{"raise": {3, 7}, "kill": {5}}``."""
    faults: dict[str, set[int]] = {"raise": set(), "kill": set()}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        action, _, seeds = part.partition("=")
        action = action.strip()
        if action not in faults or not seeds.strip():
            raise ValueError(f"{FAULT_ENV}: {part!r} is not 'raise=SEEDS' or 'kill=SEEDS' "
                             f"(e.g. 'raise=3,7;kill=5')")
        try:
            faults[action].update(int(s) for s in seeds.split(","))
        except ValueError:
            raise ValueError(f"{FAULT_ENV}: seeds in {part!r} must be integers") from None
    return faults


def inject_fault(seed: int) -> None:
    """Test-only knob: raise, or kill this worker process, if ``SLSIM_FAULT_INJECT`` names seed."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    faults = parse_fault_spec(spec)
    if seed in faults["kill"]:
        os.kill(os.getpid(), signal.SIGKILL)
    if seed in faults["raise"]:
        raise InjectedFault(f"fault injected by {FAULT_ENV} for seed {seed}")


def swept_values(config_data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """The resolved value of each key a run's overrides set; a config group by its ``name``.

    ``["scenario=baseline", "model.support=0.5"]`` -> ``{"scenario": "baseline",
    "model.support": 0.5}``. Lists and other structures become JSON text.
    """
    values: dict[str, Any] = {}
    for line in overrides:
        key = line.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
        value: Any = config_data
        for part in key.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
        if isinstance(value, dict) and "name" in value:
            value = value["name"]
        elif isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        values[key] = value
    return values


def simulate(config: RunConfig) -> tuple[SharedLeadershipModel, pd.DataFrame]:
    """Run the model to its horizon; return it and its weekly time series (week 0 = start)."""
    model = SharedLeadershipModel(config)
    model.run()
    collected = model.datacollector.model_vars  # one list per output, one value per week
    weeks = len(next(iter(collected.values())))
    return model, pd.DataFrame({"week": range(weeks), **collected})  # one conversion


def draw_figure(path: Path, timeseries: pd.DataFrame, title: str) -> None:
    """Write the run's figure (:func:`simulation.plots.metrics_figure`); matplotlib is imported
    here, so runs without a figure (sweeps, by default) never load it."""
    from .plots import metrics_figure

    write_figure(path, metrics_figure(timeseries, title))


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
    identity = run_identity(settings, overrides)
    try:
        inject_fault(config.seed)
        model, timeseries = simulate(config)
        write_parquet(out_dir / TIMESERIES_FILE, timeseries)
        write_parquet(out_dir / BREAKDOWN_FILE, model.breakdown())
        if plot:
            draw_figure(out_dir / METRICS_FIGURE, timeseries,
                        f"{config.ics.name}, scenario {config.scenario.name}, seed {config.seed}")
        summary = {
            **identity,
            "status": SUCCEEDED,
            "final": {name: model.latest[name] for name in OUTPUTS},
            "participants": model.participants(),
            "managers": int(np.count_nonzero(~model.managers.is_trainee)),
            "trainees": int(np.count_nonzero(model.managers.is_trainee)),
            "ties": int(model.ties.open.sum()),
            "versions": package_versions(),
            "wall_time_s": round(time.perf_counter() - started, 3),
            "config": settings,
        }
        write_json(out_dir / SUMMARY_FILE, summary)
        write_json(out_dir / STATUS_FILE, {**identity, "status": SUCCEEDED, "plot": plot})
        return summary
    except Exception as exc:  # a failed run is recorded, never fatal to its caller
        return record_failure(out_dir, settings, overrides, exc)


def run_identity(settings: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """What ``status.json`` says of a run whatever its outcome, from its config as plain data
    (:func:`simulation.results_io.config_dict`) and the overrides that made it."""
    return {"seed": settings["seed"], "config_hash": config_hash(settings),
            "scenario": settings["scenario"]["name"], "ics": settings["ics"]["name"],
            "weeks": settings["weeks"], "overrides": list(overrides),
            "parameters": swept_values(settings, overrides)}


def record_failure(out_dir: Path, settings: dict[str, Any], overrides: Sequence[str],
                   exc: BaseException) -> dict[str, Any]:
    """Write the failure ``exc`` of the run ``settings`` as its ``status.json``; return it."""
    failure = {**run_identity(settings, overrides), "status": FAILED,
               "error_type": type(exc).__name__, "message": str(exc),
               "traceback": "".join(traceback.format_exception(exc)), "config": settings}
    write_json(Path(out_dir) / STATUS_FILE, failure)
    return failure
