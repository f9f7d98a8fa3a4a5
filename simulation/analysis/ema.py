"""The model as an EMA Workbench model (optional extra ``[ema]``), for exploratory modelling.

:func:`slsim_model` returns an ``ema_workbench.ReplicatorModel`` whose

* **uncertainties** are the schema's uncertain parameters with their declared ranges
  (:func:`simulation.params.uncertain_parameters`, the [A] assumptions);
* **levers** are the coverages of the levers in ``configs/intervention`` (0-1 a year, as in the
  policy search: :mod:`simulation.analysis.levers`);
* **outcomes** are model outputs at the horizon (:mod:`simulation.analysis.outcomes`), one value
  per replication;
* **replications** are seeds: each experiment runs once per seed, and the seeds are the same for
  every experiment (common random numbers).

Analysts then use EMA's designs (``perform_experiments``), scenario discovery (PRIM, CART) and
robustness measures on our model; ``ema_workbench.process_replications`` averages the seeds.
EMA names must be Python identifiers, so ``model.bureaucracy_load`` is called
``model__bureaucracy_load`` (its ``variable_name`` stays the config path).
"""

import functools
from collections.abc import Sequence

from ..params import ConfigError, uncertain_parameters
from ..runner import simulate
from .batch import override
from .levers import lever_files, mix_overrides
from .outcomes import column_name, horizon_values, outcome

DEFAULT_OUTCOMES = ("sl_density", "cross_profession_share", "cross_org_share",
                    "tasks_completed", "burnout_share", "cost")
LEVER_PREFIX = "coverage."
BY_SEED = "_by_seed"


def ema_name(path: str) -> str:
    """An EMA (identifier) name for a config path: dots become double underscores."""
    return path.replace(".", "__")


@functools.cache
def _composer():
    """One composer per process (EMA's multiprocessing evaluator calls us in workers); it keeps
    working after Hydra's global state is restored."""
    from .batch import job_composer

    with job_composer() as composer:
        return composer


def run_replication(ics: str, weeks: int, seed: int, outcomes: str, **values) -> dict:
    """One run for EMA: ``values`` are config paths (uncertainties) and ``coverage.<lever>``
    (levers); returns each outcome at the horizon."""
    coverage = {k.removeprefix(LEVER_PREFIX): v for k, v in values.items()
                if k.startswith(LEVER_PREFIX)}
    settings = [override(k, v) for k, v in values.items() if not k.startswith(LEVER_PREFIX)]
    overrides = [f"ics={ics}", f"weeks={weeks}", f"seed={seed}", *mix_overrides(coverage),
                 *settings]
    _, timeseries = simulate(_composer()(overrides))
    timeseries["run"] = 0
    items = [outcome(name) for name in outcomes.split(",")]
    row = horizon_values(timeseries, items, by="run").iloc[0]
    return {item.name: float(row[column_name(item)]) for item in items}


def slsim_model(ics: str = "small_ics", weeks: int = 156, seeds: Sequence[int] = (0, 1, 2),
                parameters: Sequence[str] | None = None, levers: Sequence[str] | None = (),
                outcomes: Sequence[str] = DEFAULT_OUTCOMES, keep_replications: bool = False,
                name: str = "slsim"):
    """The model for EMA Workbench.

    ``parameters``: uncertain parameters to expose (default: all the schema declares);
    ``levers``: intervention entries whose coverage is a lever (default none; ``None``: all);
    ``outcomes``: model outputs read at the horizon; ``seeds``: the replications.
    ``keep_replications``: False gives each outcome as the mean over the seeds (a
    ``ScalarOutcome`` with its direction, usable by EMA's optimisers); True keeps one value per
    seed (an ``ArrayOutcome`` named ``<outcome>_by_seed``, of shape experiments x seeds, for
    robustness across seeds; ``ema_workbench.process_replications`` averages it).
    """
    import numpy as np
    from ema_workbench import ArrayOutcome, Constant, RealParameter, ReplicatorModel, ScalarOutcome

    specs = uncertain_parameters()
    chosen = list(specs) if parameters is None else list(parameters)
    unknown = [p for p in chosen if p not in specs]
    if unknown:
        raise ConfigError(f"{unknown} are not uncertain parameters; choose from {list(specs)}")
    entries = list(lever_files()) if levers is None else list(levers)
    unknown = [e for e in entries if e not in lever_files()]
    if unknown:
        raise ConfigError(f"levers {unknown} are not interventions in configs/intervention; "
                          f"choose from {list(lever_files())}")
    items = [outcome(o) for o in outcomes]
    model = ReplicatorModel(name, function=run_replication)
    model.uncertainties = [RealParameter(ema_name(p), *specs[p]["range"], variable_name=p)
                           for p in chosen]
    model.levers = [RealParameter(ema_name(LEVER_PREFIX + e), 0.0, 1.0,
                                  variable_name=LEVER_PREFIX + e) for e in entries]
    model.constants = [Constant("ics", ics), Constant("weeks", weeks),
                       Constant("outcomes", ",".join(o.name for o in items))]
    if keep_replications:
        # EMA registers outcome names per class, process-wide: the per-seed form gets its own.
        model.outcomes = [ArrayOutcome(f"{o.name}{BY_SEED}", variable_name=o.name)
                          for o in items]
    else:
        model.outcomes = [ScalarOutcome(o.name, kind=_kind(o), function=np.mean) for o in items]
    model.replications = [{"seed": int(s)} for s in seeds]
    return model


def _kind(item) -> int:
    from ema_workbench import ScalarOutcome

    return {1: ScalarOutcome.MAXIMIZE, -1: ScalarOutcome.MINIMIZE}.get(item.sign(),
                                                                       ScalarOutcome.INFO)
