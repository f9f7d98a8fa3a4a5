"""Calibration and validation targets: the published figures the model is held against.

The targets are package data (``simulation/data/calibration/targets.yaml``), not a Hydra config
group. Each one names an output of the registry, the statistic read from a run, the population
it covers, the published value and its source, and its uncertainty in the form history matching
uses (McCulloch et al. 2022): the observation error of the source and a model discrepancy, each
with its reason, plus the model's own seed variance at that statistic, measured from replicate
runs when the target is used. ``use: fit`` targets are fitted; ``use: validate`` targets are
held out. A bad file is refused, naming the target and the key, before any run.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..outputs import OUTPUTS
from ..params import ORG_TYPES, ConfigError, check_choice

TARGETS_FILE = Path(__file__).resolve().parent.parent / "data" / "calibration" / "targets.yaml"
# How a target reads one run's weekly outputs: its final week, the mean of its last 13 or 52
# weeks, or (from the run's breakdown by organisation type) the ratio of two organisation types.
STATISTICS = ("final", "mean_last_13", "mean_last_52", "ratio_by_org_type")
WINDOWS = {"final": 1, "mean_last_13": 13, "mean_last_52": 52}
POPULATIONS = ("managers", "clinical_managers", "nonclinical_managers", "established_managers",
               "trainees", "teams",
               *ORG_TYPES)
# A value to match, or a bound the model should not exceed (when a source gives only that).
KINDS = ("value", "upper_bound")
USES = ("fit", "validate")
REQUIRED = ("name", "output", "statistic", "population", "kind", "value", "source",
            "observation", "discrepancy", "use")
OPTIONAL = ("numerator", "denominator")


@dataclass(frozen=True)
class Uncertainty:
    """One stated part of a target's uncertainty: a standard deviation and its reason."""

    sd: float
    why: str


@dataclass(frozen=True)
class Target:
    """One published figure and how the model is compared with it."""

    name: str
    output: str
    statistic: str
    population: str
    kind: str
    value: float
    source: str
    observation: Uncertainty
    discrepancy: Uncertainty
    use: str
    numerator: str | None = None
    denominator: str | None = None

    def variance(self, seed_variance: float) -> float:
        """The total variance the comparison allows: observation + discrepancy + the seed
        variance of the model's mean at this statistic."""
        return self.observation.sd ** 2 + self.discrepancy.sd ** 2 + seed_variance

    def implausibility(self, model_mean: float, seed_variance: float) -> float:
        """Standardised distance of the model's mean from the target (history matching's I);
        for an upper bound, only an excess counts."""
        gap = model_mean - self.value
        if self.kind == "upper_bound":
            gap = max(gap, 0.0)
        return abs(gap) / math.sqrt(self.variance(seed_variance))

    def read(self, timeseries: pd.DataFrame, breakdown: pd.DataFrame | None = None) -> float:
        """The target's statistic of one run, from its weekly outputs (and, for a ratio by
        organisation type, its final breakdown by organisation type and group)."""
        if self.statistic == "ratio_by_org_type":
            if breakdown is None:
                raise ValueError(f"target {self.name}: a ratio by organisation type needs the "
                                 "run's breakdown")
            def pooled(org_type: str) -> float:  # over both groups, weighted by headcount
                rows = breakdown[breakdown["org_type"] == org_type]
                return float(np.average(rows[self.output], weights=rows["managers"]))

            denominator = pooled(self.denominator)
            # No leavers at all in the denominator's organisations (a small system, a quiet
            # year): the run gives no ratio, which is missing, not infinite.
            return pooled(self.numerator) / denominator if denominator > 0 else math.nan
        return float(timeseries[self.output].iloc[-WINDOWS[self.statistic]:].mean())


def _uncertainty(where: str, raw: Any) -> Uncertainty:
    if not isinstance(raw, dict) or set(raw) != {"sd", "why"}:
        raise ConfigError(f"{where} must give sd and why (its reason)")
    sd = raw["sd"]
    if isinstance(sd, bool) or not isinstance(sd, int | float) or not math.isfinite(sd) or sd < 0:
        raise ConfigError(f"{where}.sd = {sd!r} must be a non-negative number")
    if not isinstance(raw["why"], str) or not raw["why"].strip():
        raise ConfigError(f"{where}.why is empty: say where the uncertainty comes from")
    return Uncertainty(float(sd), raw["why"].strip())


def parse_target(raw: Any, index: int) -> Target:
    """One target from its mapping in the file, checked; :class:`ConfigError` names the key."""
    where = f"targets[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with keys {list(REQUIRED)}")
    where = f"targets[{index}] ({raw.get('name', 'no name')})"
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise ConfigError(f"{where} is missing {missing}")
    unknown = sorted(set(raw) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ConfigError(f"{where} has unknown keys {unknown}: allowed are "
                          f"{list(REQUIRED + OPTIONAL)}")
    check_choice(f"{where}.output", raw["output"], tuple(OUTPUTS))
    check_choice(f"{where}.statistic", raw["statistic"], STATISTICS)
    check_choice(f"{where}.population", raw["population"], POPULATIONS)
    check_choice(f"{where}.kind", raw["kind"], KINDS)
    check_choice(f"{where}.use", raw["use"], USES)
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}.value = {value!r} must be a finite number")
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        raise ConfigError(f"{where}.source is empty: every target cites its source")
    ratio = raw["statistic"] == "ratio_by_org_type"
    for key in OPTIONAL:
        if ratio:
            check_choice(f"{where}.{key}", raw.get(key), ORG_TYPES)
        elif key in raw:
            raise ConfigError(f"{where}.{key} applies to statistic 'ratio_by_org_type' only")
    return Target(str(raw["name"]), raw["output"], raw["statistic"], raw["population"],
                  raw["kind"], float(value), raw["source"].strip(),
                  _uncertainty(f"{where}.observation", raw["observation"]),
                  _uncertainty(f"{where}.discrepancy", raw["discrepancy"]), raw["use"],
                  raw.get("numerator"), raw.get("denominator"))


def load_targets(path: Path = TARGETS_FILE) -> dict[str, Target]:
    """Every target of a targets file, by name, checked before anything runs."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the targets file {path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("targets"), list) or not raw["targets"]:
        raise ConfigError(f"{path} must hold a non-empty list under 'targets'")
    targets: dict[str, Target] = {}
    for index, item in enumerate(raw["targets"]):
        target = parse_target(item, index)
        if target.name in targets:
            raise ConfigError(f"targets[{index}]: the name {target.name!r} is used twice")
        targets[target.name] = target
    return targets


def chosen_targets(targets: dict[str, Target], names: list[str] | None = None,
                   use: str = "fit") -> list[Target]:
    """The targets for one use (all of that use, or the named ones). Naming a held-out target
    for fitting, or a fitted one for validation, is refused: the two sets never mix."""
    check_choice("use", use, USES)
    if names is None:
        return [t for t in targets.values() if t.use == use]
    unknown = [n for n in names if n not in targets]
    if unknown:
        raise ConfigError(f"unknown targets {unknown}: choose from {list(targets)}")
    wrong = [n for n in names if targets[n].use != use]
    if wrong:
        raise ConfigError(f"targets {wrong} are for {targets[wrong[0]].use!r}, not {use!r}: "
                          "held-out targets are never fitted")
    return [targets[n] for n in names]


def seed_variance_of_mean(values: np.ndarray) -> float:
    """The variance of the mean over replicate seeds of one statistic (0 for one seed: then the
    comparison holds the observation and discrepancy parts only)."""
    values = np.asarray(values, dtype=float)
    return float(values.var(ddof=1) / len(values)) if len(values) > 1 else 0.0
