"""The exact regression baseline (issue 10), in the style of Starsim's ``baseline.json``.

A few runs (each ICS archetype of ``configs/ics/``, and every lever of ``configs/intervention/``
together on ``default_ics``) have their final outputs stored in ``tests/baseline/<case>.json``;
``tests/test_regression.py`` runs them again and compares. Any change in results then shows up
in review as a change to those files.

``python -m simulation.baseline`` compares and lists the differences;
``python -m simulation.baseline --regenerate`` (``make baseline``) rewrites the files. Regenerate
only on purpose, in the same commit as the change in results, and say so in its message.

Each file records the platform and library versions it was made on. On the same ones the
comparison is exact: every final value equal, and a SHA-256 of the whole weekly time series
equal. Elsewhere floating-point results may legitimately differ in the last bits (other SIMD
kernels, another libm, another numpy), so the comparison names what differs and falls back to
:data:`RELATIVE_TOLERANCE`, without the checksum.
"""

import argparse
import hashlib
import json
import math
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import CONFIG_DIR, RunConfig, compose, group_options, to_run_config
from .results_io import config_hash, write_json
from .runner import simulate

BASELINE_DIR = CONFIG_DIR.parent / "tests" / "baseline"
REGENERATE_COMMAND = "make baseline"
SEED = 0
# Three years, the app's default horizon, so slow effects (fading training, turnover) show.
FULL_HORIZON_WEEKS = 156
# England (42 real ICBs, 96,100 managers) runs a quarter, to keep the regression test well under
# a minute.
SHORT_HORIZON_WEEKS = {"england": 13}
EVERY_LEVER_ICS = "default_ics"
# Across platforms the same arithmetic can round differently in the last bit (float64: 1.1e-16
# relative). The model does not amplify that: a 1-ulp change to bureaucracy_load or
# trust_baseline moved no output of a three-year default_ics run by more than 6e-16 relative in
# any week (a random decision flips only if its draw lands within an ulp of its threshold). So
# 1e-9 leaves a wide margin, yet catches any change to a rule or a parameter, which moves the
# outputs by far more. Outputs that are zero compare within ABSOLUTE_TOLERANCE.
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12
# Libraries whose arithmetic or order of draws shapes a result.
RESULT_LIBRARIES = ("numpy", "mesa", "networkx")


@dataclass(frozen=True)
class Case:
    """One stored run: an ICS archetype, a horizon and the levers in its scenario."""

    name: str
    ics: str
    weeks: int
    levers: tuple[str, ...] = ()

    def config(self) -> RunConfig:
        """The case's run config, composed as the ``slsim`` command would compose it."""
        overrides = [f"ics={self.ics}", f"weeks={self.weeks}", f"seed={SEED}"]
        if self.levers:
            overrides += [f"+intervention@scenario.interventions=[{','.join(self.levers)}]",
                          f"scenario.name={self.name}"]
        return to_run_config(compose(overrides))

    @property
    def path(self) -> Path:
        return BASELINE_DIR / f"{self.name}.json"


def cases() -> list[Case]:
    """Every archetype on the baseline scenario, then every lever together.

    Both lists come from the config folders, so a new archetype or lever joins the baseline
    (and the test asks for it to be regenerated) without an edit here.
    """
    archetypes = [Case(ics, ics, SHORT_HORIZON_WEEKS.get(ics, FULL_HORIZON_WEEKS))
                  for ics in group_options("ics")]
    every_lever = Case("every_lever", EVERY_LEVER_ICS, FULL_HORIZON_WEEKS,
                       tuple(group_options("intervention")))
    return [*archetypes, every_lever]


def platform_facts() -> dict[str, Any]:
    """What floating-point results can depend on: CPU, OS, C library, Python, libraries."""
    libc, libc_version = platform.libc_ver()
    simd = np.show_config(mode="dicts")["SIMD Extensions"]
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "libc": f"{libc} {libc_version}".strip(),
        "python": platform.python_version(),
        **{name: metadata.version(name) for name in RESULT_LIBRARIES},
        # The kernels numpy dispatches to at run time on this CPU.
        "numpy_simd": simd["found"],
    }


def timeseries_sha256(timeseries: pd.DataFrame) -> str:
    """SHA-256 of every output's weekly values as little-endian float64, outputs by name.

    Sorting by name makes a reordering of the outputs no change, while a change in any week of
    any output is one.
    """
    digest = hashlib.sha256()
    for name in sorted(timeseries.columns):
        digest.update(name.encode() + b"\0")
        digest.update(timeseries[name].to_numpy(dtype="<f8").tobytes())
    return digest.hexdigest()


def run_case(case: Case) -> dict[str, Any]:
    """Run ``case`` and return what the baseline stores of it (without the platform)."""
    config = case.config()
    _, timeseries = simulate(config)
    # The outputs are whatever the model collects: every column but the week.
    outputs = timeseries.set_index("week")
    return {
        "case": case.name,
        "ics": case.ics,
        "weeks": case.weeks,
        "seed": SEED,
        "levers": list(case.levers),
        "config_hash": config_hash(config),
        "final": {name: float(value) for name, value in outputs.iloc[-1].items()},
        "timeseries_sha256": timeseries_sha256(outputs),
    }


def platform_differences(made_on: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """Each fact that differs, as ``numpy 2.5.5 -> 2.6.0`` (the baseline's, then this one's)."""
    return [f"{fact} {made_on.get(fact)} -> {here.get(fact)}"
            for fact in sorted(made_on.keys() | here.keys()) if made_on.get(fact) != here.get(fact)]


def _agree(stored: float, fresh: float, exact: bool) -> bool:
    if math.isnan(stored) or math.isnan(fresh):
        return math.isnan(stored) and math.isnan(fresh)
    if exact:
        return stored == fresh
    return math.isclose(stored, fresh, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def differences(stored: dict[str, Any], fresh: dict[str, Any], exact: bool) -> list[str]:
    """How a fresh run departs from its stored baseline, one line each; empty if it does not.

    ``exact`` compares every value with ``==`` and the time-series checksums; otherwise final
    values within the tolerances and no checksum.
    """
    found = []
    if fresh["config_hash"] != stored["config_hash"]:
        found.append(f"config hash {fresh['config_hash']} is not the baseline's "
                     f"{stored['config_hash']}: the case's config changed (a default, a config "
                     "file or the case itself)")
    for name in sorted(fresh["final"].keys() - stored["final"].keys()):
        found.append(f"output {name} is in the model but not in the baseline")
    for name in sorted(stored["final"].keys() - fresh["final"].keys()):
        found.append(f"output {name} is in the baseline but not in the model")
    for name in sorted(stored["final"].keys() & fresh["final"].keys()):
        old, new = stored["final"][name], fresh["final"][name]
        if not _agree(old, new, exact):
            found.append(f"output {name}: baseline {old!r}, now {new!r}")
    if exact and not found and fresh["timeseries_sha256"] != stored["timeseries_sha256"]:
        found.append("every final value agrees but the time series differs in some earlier week "
                     "(timeseries_sha256)")
    return found


@dataclass
class Comparison:
    """A case's comparison with its stored file: what differs in the platform, and in results.

    With no platform change the comparison was exact; otherwise within the tolerances.
    """

    case: Case
    platform_changes: list[str]
    differences: list[str]

    @property
    def exact(self) -> bool:
        return not self.platform_changes

    def mode(self) -> str:
        if self.exact:
            return "compared exactly (same platform and library versions)"
        return (f"baseline made on another platform ({'; '.join(self.platform_changes)}): "
                f"compared within relative {RELATIVE_TOLERANCE:g} (absolute "
                f"{ABSOLUTE_TOLERANCE:g}), without the time-series checksum")

    def report(self) -> str:
        lines = [f"{self.case.name}: {self.mode()}", *(f"  {line}" for line in self.differences)]
        if self.differences:
            lines.append(f"  regenerate with `{REGENERATE_COMMAND}` if this change is intended")
        return "\n".join(lines)


def compare(case: Case) -> Comparison:
    """Run ``case`` and compare it with its stored file, exactly if made on this platform."""
    if not case.path.exists():
        return Comparison(case, [], [f"{case.path} is missing"])
    stored = json.loads(case.path.read_text())
    changes = platform_differences(stored["made_on"], platform_facts())
    return Comparison(case, changes, differences(stored, run_case(case), exact=not changes))


def stale_files() -> list[Path]:
    """Stored files that no case writes any more (an archetype renamed or removed)."""
    current = {case.path for case in cases()}
    return sorted(path for path in BASELINE_DIR.glob("*.json") if path not in current)


def regenerate() -> None:
    """Rewrite every case's file on this platform, and remove the stale ones."""
    made_on = platform_facts()
    for case in cases():
        write_json(case.path, {**run_case(case), "made_on": made_on,
                               "regenerate_with": REGENERATE_COMMAND})
        print(f"wrote {case.path.relative_to(CONFIG_DIR.parent)} ({case.weeks} weeks)")
    for path in stale_files():
        path.unlink()
        print(f"removed {path.relative_to(CONFIG_DIR.parent)}: no case writes it")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulation.baseline",
        description="Compare the model's results with the stored regression baseline, or "
                    "regenerate it (only on purpose, in the commit that changes results).")
    parser.add_argument("--regenerate", action="store_true",
                        help=f"rewrite {BASELINE_DIR.relative_to(CONFIG_DIR.parent)}/*.json")
    args = parser.parse_args(argv)
    if args.regenerate:
        regenerate()
        return
    comparisons = [compare(case) for case in cases()]
    for comparison in comparisons:
        print(comparison.report())
    for path in stale_files():
        print(f"{path.name}: no case writes it any more")
    if any(c.differences for c in comparisons) or stale_files():
        sys.exit(1)


if __name__ == "__main__":
    main()
