"""Intervention mixes: the coverage of each lever, as ``slsim`` overrides.

A *lever* is an entry of a file in ``configs/intervention/`` (``protected_time``,
``programme_first_time``, ...: the leadership programme file holds one entry per tier). A *mix*
maps entries to coverages (share of the eligible group reached per year, 0-1); every other knob
keeps its value from the file. The policy search and the EMA adapter both build scenarios this
way, so a mix means the same thing in both.
"""

import functools
from collections.abc import Mapping

import numpy as np

from ..params import ConfigError
from ..posterior import lever_entries
from .batch import override

MIX_NAME = "mix"


@functools.cache
def lever_files() -> dict[str, str]:
    """Every intervention entry of ``configs/intervention/*.yaml`` -> the file (stem) holding it."""
    return {entry: stem for entry, (stem, _) in lever_entries().items()}


def check_mix(coverage: Mapping[str, float]) -> dict[str, float]:
    """The mix as plain floats; a :class:`ConfigError` names an unknown lever or a bad coverage."""
    files = lever_files()
    mix = {}
    for entry, value in coverage.items():
        if entry not in files:
            raise ConfigError(f"coverage.{entry}: {entry!r} is not an intervention in "
                              f"configs/intervention; choose from {sorted(files)}")
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
                or not 0 <= value <= 1:
            raise ConfigError(f"coverage.{entry} = {value!r} is outside the allowed range "
                              "[0.0, 1.0] (share of the eligible group reached per year)")
        mix[entry] = float(value)
    return mix


def mix_overrides(coverage: Mapping[str, float], name: str = MIX_NAME) -> list[str]:
    """``slsim`` overrides of a scenario running the levers of ``coverage`` at those coverages.

    Levers at zero coverage are left out, and a mix with none left is the baseline itself (so
    its runs are the baseline's runs).
    """
    mix = {entry: value for entry, value in check_mix(coverage).items() if value > 0}
    if not mix:
        return ["scenario=baseline"]
    files = lever_files()
    needed = sorted({files[entry] for entry in mix})
    overrides = ["scenario=baseline", f"scenario.name={name}",
                 f"+intervention@scenario.interventions=[{','.join(needed)}]"]
    for entry, file in files.items():
        if file not in needed:
            continue
        if entry in mix:
            overrides.append(override(f"scenario.interventions.{entry}.coverage", mix[entry]))
        else:
            overrides.append(f"~scenario.interventions.{entry}")
    return overrides
