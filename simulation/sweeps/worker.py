"""The worker side of a batched sweep: one launcher job runs a batch of planned runs.

The sweeper writes each batch's ``batch.json`` (:func:`.engine.batch_jobs`) and launches one
Hydra job per batch, so Hydra's per-job cost (composing the job's config, its logging, its
``.hydra/`` record) is paid once a batch, not once a run. The job's ``slsim`` app then calls
:func:`run_batch`, which runs the batch's runs one after another, each exactly as a one-run job
would (:func:`simulation.runner.run_one`: its own folder, every file written atomically,
``status.json`` last, a failure recorded in it). A run whose folder already holds a complete
success (an earlier attempt of the same batch got that far) is left as it is.

A run's config comes from ``batch.json`` as plain data and is rebuilt as a :class:`RunConfig`
(which validates itself); its config hash must be the one the sweep planned, or the run is
recorded as failed.
"""

import json
from pathlib import Path

from ..config import RunConfig
from ..layout import RUNS_DIR, SUCCEEDED, check_run
from ..params import ConfigError
from ..results_io import config_from_dict, config_hash
from ..runner import record_failure, run_one


def run_batch(batch_file: Path, sweep_dir: Path) -> list[str]:
    """Run every run that ``batch_file`` lists into ``sweep_dir``; return their statuses."""
    batch = json.loads(Path(batch_file).read_text())
    statuses = []
    for entry in batch["runs"]:
        run_dir = Path(sweep_dir) / RUNS_DIR / entry["run"]
        if check_run(run_dir, entry["config_hash"]).state == SUCCEEDED:
            statuses.append(SUCCEEDED)
            continue
        try:
            config = config_from_dict(RunConfig, entry["config"])
            if config_hash(config) != entry["config_hash"]:
                raise ConfigError(f"the config of {entry['run']} in {batch_file} gives the hash "
                                  f"{config_hash(config)}, not {entry['config_hash']}")
        except Exception as exc:  # recorded as the run's failure, like any other
            statuses.append(record_failure(run_dir, entry["config"], entry["overrides"],
                                           exc)["status"])
            continue
        statuses.append(run_one(config, run_dir, plot=batch["plot"],
                                overrides=entry["overrides"])["status"])
    return statuses
