"""Every use of Hydra beyond its public API, in one place (hydra-core is pinned to 1.3.x).

Hydra 1.3 has no public way to compose a config while another Hydra app is running, to apply
value overrides to an already composed config, to build a sweeper on the basic one, or to run an
app with one composition of its config rather than two. The project needs all four; they live
here, so a Hydra upgrade is checked against one small module (tests/test_sweeps.py compares the
quick composition path with Hydra's full composition; tests/test_cli.py runs the app both ways).
"""

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal import hydra as hydra_app
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import configure_log
from hydra.initialize import get_gh_backup, initialize_config_dir, restore_gh_from_backup
from hydra.types import RunMode
from omegaconf import DictConfig

VERSION_BASE = "1.3"


@contextlib.contextmanager
def isolated_hydra(config_dir: Path) -> Iterator[None]:
    """Initialise Hydra on ``config_dir`` for the ``with`` block, from anywhere.

    Hydra's global state (that of a running Hydra app, if any) is saved first and restored
    after, so this works inside another Hydra app (such as a running ``slsim`` job) and in tests.
    """
    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=VERSION_BASE):
            yield
    finally:
        restore_gh_from_backup(backup)


def quoted(value: str) -> str:
    """``value`` as a quoted string of Hydra's override grammar, read back as itself whatever
    it holds (commas, spaces, brackets, ``=``): in whichever quote it does not contain, with
    trailing backslashes doubled (the only backslashes the grammar unescapes, besides those
    before a quote)."""
    for quote in ('"', "'"):
        if quote not in value:
            body = value.rstrip("\\")
            return f"{quote}{body}{(len(value) - len(body)) * 2 * chr(92)}{quote}"
    raise ValueError(f"{value!r} holds both kinds of quote, so no Hydra override can give it: "
                     "allowed values are strings without one of \" or '")


def config_loader() -> Any:
    """The config loader of the Hydra instance initialised by :func:`isolated_hydra`."""
    return GlobalHydra.instance().config_loader()


def apply_value_overrides(overrides: Sequence[Any], config: DictConfig) -> None:
    """Apply parsed value overrides (not group choices) to a composed config, in place, with
    the same code Hydra's own composition uses."""
    ConfigLoaderImpl._apply_overrides_to_config(list(overrides), config)


def basic_sweeper() -> type:
    """Hydra's ``BasicSweeper`` class, to build a sweeper on.

    Looked up when called, not imported with this module: Hydra's plugin discovery executes its
    core plugin modules again, and a sweeper must subclass the class of that second execution.
    """
    from hydra._internal.core_plugins import basic_sweeper as module

    return module.BasicSweeper


# --- One composition for a single run -------------------------------------------------------------
# Before running an app, Hydra 1.3 composes its whole config once only to read ``hydra.mode`` (a
# config or an override may set MULTIRUN: a sweep without ``-m``), in ``Hydra.get_mode``, and
# then composes it again to run (``Hydra.run``). Here the first composition is the run's own,
# kept and reused: a run pays for one composition.
RUN_MODE_OVERRIDE = "hydra.mode=RUN"  # what Hydra adds to the overrides when no config sets it


@dataclass
class _Composed:
    config_name: str | None
    overrides: list[str]
    config: DictConfig


class _OneCompositionHydra(hydra_app.Hydra):
    """Hydra's app object, composing a single run's config once.

    :meth:`get_mode` composes the config as :meth:`Hydra.run` would (``RunMode.RUN``) and keeps
    it; the run's :meth:`compose_config` takes it back, with the ``hydra.mode=RUN`` override
    Hydra then adds applied as its own composition would apply it. Hydra's own two compositions
    stay for everything else: overrides that sweep (``a=1,2``: Hydra's error without ``-m``, or
    a sweep), a composition that fails (Hydra reports it as usual) and any other call. A config
    that sets ``hydra.mode=MULTIRUN`` gets the same mode either way: without sweep overrides the
    two modes compose the same config, save that a run's needs every group chosen (a missing
    choice fails, and falls back). The sweep itself composes its config again, as before.
    """

    _composed: _Composed | None = None

    def get_mode(self, config_name: str | None, overrides: list[str]) -> Any:
        parsed = OverridesParser.create().parse_overrides(overrides=overrides)
        if any(override.is_sweep_override() for override in parsed):
            return super().get_mode(config_name, overrides)
        try:
            config = super().compose_config(config_name=config_name, overrides=overrides,
                                            run_mode=RunMode.RUN)
        except Exception:  # Hydra's own path fails, and reports it, the same way
            return super().get_mode(config_name, overrides)
        self._composed = _Composed(config_name, list(overrides), config)
        return config.hydra.mode

    def compose_config(self, config_name: str | None, overrides: list[str],
                       run_mode: RunMode, with_log_configuration: bool = False,
                       from_shell: bool = True, validate_sweep_overrides: bool = True
                       ) -> DictConfig:
        composed, self._composed = self._composed, None
        added = _added_overrides(composed, config_name, overrides) if composed else None
        if (added is None or run_mode != RunMode.RUN or not from_shell
                or not validate_sweep_overrides):
            return super().compose_config(
                config_name=config_name, overrides=overrides, run_mode=run_mode,
                with_log_configuration=with_log_configuration, from_shell=from_shell,
                validate_sweep_overrides=validate_sweep_overrides)
        config = composed.config
        # As Hydra's composition treats a Hydra value override: set, then recorded.
        ConfigLoaderImpl._apply_overrides_to_config(
            OverridesParser.create().parse_overrides(overrides=added), config)
        config.hydra.overrides.hydra.extend(added)
        if with_log_configuration:  # as Hydra.compose_config does after composing
            configure_log(config.hydra.hydra_logging, config.hydra.verbose)
            hydra_app.log = logging.getLogger(hydra_app.__name__)
            self._print_debug_info(config_name, overrides, run_mode)
        return config


def _added_overrides(composed: _Composed, config_name: str | None,
                     overrides: list[str]) -> list[str] | None:
    """What Hydra added to the overrides ``composed`` was made with before running it (nothing,
    or ``hydra.mode=RUN``); None if ``overrides`` are not those of ``composed``."""
    if config_name != composed.config_name:
        return None
    for added in ([], [RUN_MODE_OVERRIDE]):
        if overrides == composed.overrides + added:
            return added
    return None


@contextlib.contextmanager
def one_composition() -> Iterator[None]:
    """Within the block, a Hydra app (``@hydra.main``) started with no sweep composes a single
    run's config once, not twice (:class:`_OneCompositionHydra`)."""
    original = hydra_app.Hydra
    hydra_app.Hydra = _OneCompositionHydra  # Hydra's _run_hydra looks the class up when called
    try:
        yield
    finally:
        hydra_app.Hydra = original
