"""One run's configuration: the root dataclass, and its composition from the Hydra configs.

:class:`RunConfig` gathers the schema's parts (``params.py``) and the scenario's levers
(``interventions.py``). It is the root of the ``slsim`` Hydra app, registered with Hydra's
ConfigStore as ``slsim_schema``; :func:`build_config` is the keyword path that SolaraViz and
``mesa.batch_run`` use, composing the same config files.
"""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .hydra_compat import isolated_hydra
from .interventions import intervention_params
from .params import (
    CareerParams,
    ConfigError,
    ICSConfig,
    MeasurementParams,
    ModelParams,
    NetworkParams,
    PopulationParams,
    param,
    parameter_groups,
    parameter_specs,
    plain_value,
    validate,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class ScenarioConfig:
    """A named list of interventions (empty for the baseline), keyed by intervention name."""

    name: str = "baseline"
    interventions: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    """Everything one simulation run needs. The Hydra app's root config."""

    ics: ICSConfig = MISSING
    model: ModelParams = field(default_factory=ModelParams)
    population: PopulationParams = field(default_factory=PopulationParams)
    network: NetworkParams = field(default_factory=NetworkParams)
    careers: CareerParams = field(default_factory=CareerParams)
    measurement: MeasurementParams = field(default_factory=MeasurementParams)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    seed: int = param(0, 0, 2**32 - 1, "seed", "Seed of every random stream of the run.", "-")
    weeks: int = param(156, 1, 2080, "weeks",
                       "Horizon: weeks to simulate (3 years; 520 for 10).", "A")
    collect_agents: bool = False

    def __post_init__(self) -> None:
        validate(self)
        # Store every knob, defaults included, so equal scenarios hash equally.
        self.scenario.interventions = {
            name: dataclasses.asdict(intervention_params(name, spec))
            for name, spec in self.scenario.interventions.items()}


ConfigStore.instance().store(name="slsim_schema", node=RunConfig)


def group_options(group: str) -> list[str]:
    """The choices of a config group (``ics``, ``scenario``, ``intervention``), sorted."""
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def compose(overrides: list[str] = ()) -> DictConfig:
    """Compose the app's config (``configs/config.yaml``) with Hydra overrides, as ``slsim``
    does, from anywhere (also inside another Hydra app)."""
    from hydra import compose as hydra_compose
    from hydra.errors import HydraException

    try:
        with isolated_hydra(CONFIG_DIR):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except HydraException as exc:
        raise ConfigError(" ".join(str(exc).split("\n")[:3])) from None


def build_config(
    ics: str = "default_ics",
    seed: int = 0,
    weeks: int = 156,
    scenario: str = "baseline",
    **overrides: Any,
) -> RunConfig:
    """A validated :class:`RunConfig` from archetype/scenario names and flat overrides.

    Flat overrides name fields of ``model``, ``population`` or ``network``
    (``bureaucracy_load=0.5``) or give a dotted path (``network.cross_org_degree=3``). This is
    the keyword-argument path used by SolaraViz and ``mesa.batch_run``; it composes the same
    configs as the Hydra app. Values may be numpy scalars or 0-d arrays, as samplers and
    ``np.linspace`` grids hand them over.
    """
    from omegaconf.errors import OmegaConfBaseException

    for name, value in (("ics", ics), ("scenario", scenario)):
        value = plain_value(value)
        if not isinstance(value, str) or value not in group_options(name):
            raise ConfigError(f"{name} = {value!r} is not one of {group_options(name)}")
    cfg = compose([f"ics={plain_value(ics)}", f"scenario={plain_value(scenario)}"])
    updates = {"seed": seed, "weeks": weeks}
    for key, value in overrides.items():
        if "." in key:
            updates[key] = value
            continue
        owners = [g for g, cls in parameter_groups().items() if key in parameter_specs(cls)]
        if not owners:
            raise ConfigError(f"{key} is not a parameter of the model")
        updates[f"{owners[0]}.{key}"] = value
    try:
        for path, value in updates.items():
            OmegaConf.update(cfg, path, plain_value(value), force_add=False)
    except OmegaConfBaseException as exc:
        raise ConfigError(str(exc).splitlines()[0] + _key_hint(exc)) from None
    return to_run_config(cfg)


def to_run_config(cfg: Any) -> RunConfig:
    """Convert a composed OmegaConf config to a validated :class:`RunConfig`.

    OmegaConf's own errors (wrong type, unknown key) and ours are both raised as ConfigError.
    """
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig), cfg))
    except OmegaConfBaseException as exc:
        raise ConfigError(str(exc).splitlines()[0] + _key_hint(exc)) from None


def _key_hint(exc: Any) -> str:
    key = getattr(exc, "full_key", None)
    return f" (key: {key})" if key else ""
