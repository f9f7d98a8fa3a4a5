"""Every use of Hydra beyond its public API, in one place (hydra-core is pinned to 1.3.x).

Hydra 1.3 has no public way to compose a config while another Hydra app is running, to apply
value overrides to an already composed config, or to build a sweeper on the basic one. The
project needs all three; they live here, so a Hydra upgrade is checked against one small module
(tests/test_sweeps.py compares the quick composition path with Hydra's full composition).
"""

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.global_hydra import GlobalHydra
from hydra.initialize import get_gh_backup, initialize_config_dir, restore_gh_from_backup
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
