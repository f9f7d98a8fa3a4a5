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

from . import icb
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
from .posterior import (
    CALIBRATED,
    SEED_STRIDE,
    CalibrationConfig,
    check_draw,
    drawn_interventions,
    posterior,
    priors_config,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_ICS = "default_ics"


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
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    seed: int = param(0, 0, 2**32 - 1, "seed", "Seed of every random stream of the run.", "-")
    # Draw K of the posterior's equal-weight resample (None: the calibrated point);
    # simulation/posterior.py.
    draw: int | None = None
    weeks: int = param(156, 1, 2080, "weeks",
                       "Horizon: weeks to simulate (3 years; 520 for 10).", "A")
    collect_agents: bool = False

    def __post_init__(self) -> None:
        validate(self)
        if self.draw is not None:
            if self.calibration.name != CALIBRATED:
                raise ConfigError(f"draw = {self.draw}: a posterior draw needs "
                                  f"calibration=calibrated, not {self.calibration.name}")
            check_draw(self.draw, len(posterior().draws))
        # Store every knob, defaults included, so equal scenarios hash equally.
        self.scenario.interventions = {
            name: dataclasses.asdict(intervention_params(name, spec))
            for name, spec in self.scenario.interventions.items()}
        systems = sorted({s.name for s in self.ics.system_list()})
        for name, spec in self.scenario.interventions.items():
            unknown = [s for s in spec["target_systems"] if s not in systems]
            if unknown:
                raise ConfigError(f"scenario.interventions.{name}.target_systems has {unknown}: "
                                  f"allowed values are the run's systems {systems}")


@dataclass
class AppConfig(RunConfig):
    """The ``slsim`` app's root: one run's config and the settings of a sweep of runs, which
    are not part of any run (nor of its config hash). :func:`to_run_config` checks and drops
    them."""

    # Seeds run for each posterior draw of a sweep, so that a draw's expected outcome is
    # estimated (simulation/sweeps/engine.py: replicates).
    seeds_per_draw: int = 1


SWEEP_SETTINGS = tuple(f.name for f in dataclasses.fields(AppConfig)
                       if f.name not in {g.name for g in dataclasses.fields(RunConfig)})
ConfigStore.instance().store(name="slsim_schema", node=AppConfig)
# Every parameter with a prior under draw=K (simulation/posterior.py, "What a draw holds").
ConfigStore.instance().store(name="slsim_priors", node=priors_config())


def check_seeds_per_draw(value: Any) -> int:
    """``seeds_per_draw`` if it is an integer from 1 to SEED_STRIDE, else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SEED_STRIDE:
        raise ConfigError(f"seeds_per_draw = {value!r}: allowed values are the integers 1 to "
                          f"{SEED_STRIDE} (the seeds a sweep runs for each posterior draw)")
    return value


def group_options(group: str) -> list[str]:
    """The choices of a config group (``ics``, ``scenario``, ``intervention``), sorted. For
    ``ics``, the archetypes and ``england``; :func:`ics_options` adds the 42 ICBs."""
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def ics_options() -> list[str]:
    """Every system that runs by name: the archetypes, ``england`` and ``icb/<slug>``."""
    return group_options("ics") + [f"icb/{slug}" for slug in icb.slugs()]


def check_ics_name(name: Any) -> str:
    """``name`` if a system runs by that name; else ConfigError naming the closest ones."""
    name = plain_value(name)
    if isinstance(name, str) and name in ics_options():
        return name
    if isinstance(name, str) and name.startswith("icb/"):
        icb.find(name.removeprefix("icb/"))  # raises, naming the closest slugs
    near = icb.closest(str(name), ics_options())
    hint = f"; closest: {', '.join(near)}" if near else ""
    raise ConfigError(f"ics = {name!r} is not a system{hint}. Systems: {group_options('ics')} "
                      "and icb/<slug> for the 42 ICBs (python -m simulation.icb lists them); or "
                      "give a system file (a path ending .yaml)")


def load_system_file(path: str | Path) -> DictConfig:
    """A your-own-system YAML file as an ``ics`` config node (validated with the run)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ics = {str(path)!r}: no such system file")
    try:
        node = OmegaConf.load(path)
    except Exception as exc:  # yaml errors of every kind
        raise ConfigError(f"ics = {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(node, DictConfig):
        raise ConfigError(f"ics = {str(path)!r} must hold a mapping (name, organisations)")
    return node


# The folder of your own system files that ``slsim-viz --systems DIR`` serves to the app.
SYSTEMS_DIR_ENV = "SLSIM_SYSTEMS_DIR"


def system_files(folder: str | Path) -> dict[str, Path]:
    """Name -> path of the system files in ``folder``: ``folder/ics/*.yaml`` (the layout
    ``hydra.searchpath`` needs) or, if there is no ``ics/``, ``folder/*.yaml``."""
    folder = Path(folder)
    inner = folder / "ics"
    found = sorted((inner if inner.is_dir() else folder).glob("*.yaml"))
    return {path.stem: path for path in found}


def _typed_system(node: Any) -> DictConfig:
    """A system node checked against the ICS schema's types and keys, item by item, so that a
    ConfigError names the exact ``ics.`` key and what it allows; values are range-checked with
    the whole run."""
    _check_node(node, ICSConfig, "ics")
    return _merge(ICSConfig, node, "ics")


def _merge(cls: type, node: Any, path: str) -> DictConfig:
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.merge(OmegaConf.structured(cls), node)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        full = f"{path}.{key}" if key else path
        raise ConfigError(str(exc).splitlines()[0] + f" (key: {full}{describe_key(full)})"
                          ) from None


def _check_node(node: Any, cls: type, path: str) -> None:
    """Unknown keys and wrong types of each nested item (an organisation, a member system)."""
    if not isinstance(node, DictConfig):
        raise ConfigError(f"{path} must be a mapping of {', '.join(_field_names(cls))}")
    for key in node:
        if key not in _field_names(cls):
            raise ConfigError(f"{path}.{key} is not a key here: allowed keys are "
                              f"{', '.join(_field_names(cls))}")
    for f in dataclasses.fields(cls):
        element = _element_type(f.type)
        if element is f.type or f.name not in node:
            continue
        items = node[f.name]
        if not OmegaConf.is_list(items):
            raise ConfigError(f"{path}.{f.name} must be a list")
        for i, item in enumerate(items):
            _check_node(item, element, f"{path}.{f.name}[{i}]")
            _merge(element, item, f"{path}.{f.name}[{i}]")


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _is_system_file(value: Any) -> bool:
    return isinstance(value, Path) or (isinstance(value, str)
                                       and value.endswith((".yaml", ".yml")))


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
    ics: Any = DEFAULT_ICS,
    seed: int | None = None,
    weeks: int = 156,
    scenario: str = "baseline",
    draw: int | None = None,
    calibration: str = CALIBRATED,
    **overrides: Any,
) -> RunConfig:
    """A validated :class:`RunConfig` from system/scenario names and flat overrides.

    ``ics`` is a system's name (:func:`ics_options`: an archetype, ``england`` or
    ``icb/<slug>``), the path of a your-own-system YAML file, or its content (a dict or an
    :class:`ICSConfig`).

    ``seed`` None is the default seed: 0, or with a ``draw`` that draw's own seed.

    Flat overrides name fields of ``model``, ``population`` or ``network``
    (``bureaucracy_load=0.5``) or give a dotted path (``network.cross_org_degree=3``). This is
    the keyword-argument path used by SolaraViz and ``mesa.batch_run``; it composes the same
    configs as the Hydra app. Values may be numpy scalars or 0-d arrays, as samplers and
    ``np.linspace`` grids hand them over.
    """
    from omegaconf.errors import OmegaConfBaseException

    ics, scenario = plain_value(ics), plain_value(scenario)
    if not isinstance(scenario, str) or scenario not in group_options("scenario"):
        raise ConfigError(f"scenario = {scenario!r} is not one of {group_options('scenario')}")
    own = None
    if _is_system_file(ics):
        own = load_system_file(ics)
    elif isinstance(ics, dict | ICSConfig):
        own = OmegaConf.structured(ics) if isinstance(ics, ICSConfig) else OmegaConf.create(ics)
    else:
        check_ics_name(ics)
    calibration = plain_value(calibration)
    if not isinstance(calibration, str) or calibration not in group_options("calibration"):
        raise ConfigError(f"calibration = {calibration!r} is not one of "
                          f"{group_options('calibration')}")
    cfg = compose([f"ics={DEFAULT_ICS if own is not None else ics}", f"scenario={scenario}",
                   f"calibration={calibration}"])
    if own is not None:
        cfg.ics = _typed_system(own)
    updates = {"weeks": weeks, "draw": draw, **({} if seed is None else {"seed": seed})}
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
    """Convert a composed OmegaConf config to a validated :class:`RunConfig`, at its draw
    (:func:`at_draw`); the app's sweep settings are checked and left out.

    OmegaConf's own errors (wrong type, unknown key) and ours are both raised as ConfigError.
    """
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(cfg, DictConfig):
        # A draw out of range, named as such (not as the fitted parameter that would resolve it).
        draw = OmegaConf.select(cfg, "draw", default=None)
        if draw is not None and OmegaConf.select(cfg, "calibration.name") == CALIBRATED:
            check_draw(draw, len(posterior().draws))
        if "seeds_per_draw" in cfg:
            check_seeds_per_draw(cfg.seeds_per_draw)
        if any(key in cfg for key in SWEEP_SETTINGS):
            cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k not in SWEEP_SETTINGS])
    try:
        return at_draw(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig),
                                                           cfg)))
    except OmegaConfBaseException as exc:
        raise ConfigError(str(exc).splitlines()[0] + _key_hint(exc)) from None


def at_draw(config: RunConfig) -> RunConfig:
    """``config`` with its levers' knobs at its draw (unchanged without one): the parameters'
    draws are already in the composed config; the knobs are drawn about their configured
    values (simulation/posterior.py, "What a draw holds")."""
    if config.draw is None or not config.scenario.interventions:
        return config
    drawn = drawn_interventions(config.scenario.interventions, config.draw)
    return dataclasses.replace(config, scenario=dataclasses.replace(config.scenario,
                                                                    interventions=drawn))


def _key_hint(exc: Any) -> str:
    key = getattr(exc, "full_key", None)
    return f" (key: {key}{describe_key(key)})" if key else ""


def describe_key(key: str) -> str:
    """What a config key of :class:`RunConfig` allows: its range or choices and meaning, or, if
    the key is unknown, the keys its parent allows. Empty if the path leads nowhere known."""
    parts = [p for p in key.replace("]", "").replace("[", ".").split(".") if p]
    cls: Any = RunConfig
    for i, part in enumerate(parts):
        if part.isdigit():
            continue
        if not dataclasses.is_dataclass(cls):
            return ""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return f"; allowed keys here: {', '.join(fields)}"
        f = fields[part]
        if i == len(parts) - 1:
            meta = f.metadata
            if "range" in meta:
                low, high = meta["range"]
                return f"; allowed: [{low}, {high}] {meta['unit']}, {meta['doc']}"
            if "choices" in meta:
                return f"; allowed: {list(meta['choices'])}"
            return ""
        cls = _element_type(f.type)
    return ""


def _element_type(tp: Any) -> Any:
    args = getattr(tp, "__args__", None)
    return args[0] if args and dataclasses.is_dataclass(args[0]) else tp
