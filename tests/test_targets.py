"""Calibration targets: the package-data file, its checks, and how a run is compared with it."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from simulation.analysis.targets import (
    TARGETS_FILE,
    chosen_targets,
    load_targets,
    seed_variance_of_mean,
)
from simulation.params import ConfigError

RAW = yaml.safe_load(TARGETS_FILE.read_text())


def test_the_targets_file_is_package_data_with_fitted_and_held_out_targets():
    targets = load_targets()
    assert TARGETS_FILE.is_relative_to(TARGETS_FILE.parents[2])  # inside the package
    fitted = {t.name for t in chosen_targets(targets, use="fit")}
    held_out = {t.name for t in chosen_targets(targets, use="validate")}
    assert {"burnout_share", "leaver_rate", "time_pressure_share", "bureaucracy_share_clinical",
            "bureaucracy_share_nonclinical"} <= fitted
    assert {"team_sl_delivery_corr", "community_acute_leaver_ratio"} <= held_out
    assert not fitted & held_out
    for target in targets.values():
        assert target.source and target.observation.why and target.discrepancy.why


def write(tmp_path, mutate):
    raw = copy.deepcopy(RAW)
    mutate(raw["targets"])
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t[0].update(output="burnout_rate"),
     r"targets\[0\] \(burnout_share\)\.output = 'burnout_rate' is not one of \[.*'burnout_share'"),
    (lambda t: t[1]["discrepancy"].update(sd=-0.01),
     r"targets\[1\] \(leaver_rate\)\.discrepancy\.sd = -0\.01 must be a non-negative number"),
    (lambda t: t[0].pop("source"), r"targets\[0\] \(burnout_share\) is missing \['source'\]"),
    (lambda t: t[0].update(source="  "), r"source is empty"),
    (lambda t: t[0]["observation"].pop("why"), r"observation must give sd and why"),
    (lambda t: t[0].update(statistic="median"), r"statistic = 'median' is not one of"),
    (lambda t: t[0].update(use="both"), r"use = 'both' is not one of \['fit', 'validate'\]"),
    (lambda t: t[0].update(weight=2), r"unknown keys \['weight'\]"),
    (lambda t: t[1].update(name="burnout_share"), r"'burnout_share' is used twice"),
    (lambda t: t[0].update(numerator="acute_trust"), r"applies to statistic 'ratio_by_org_type'"),
    (lambda t: next(x for x in t if x["statistic"] == "ratio_by_org_type").update(
        numerator="hospice"), r"numerator = 'hospice' is not one of"),
])
def test_bad_targets_are_refused_naming_the_target_and_key(tmp_path, mutate, message):
    with pytest.raises(ConfigError, match=message):
        load_targets(write(tmp_path, mutate))


def test_a_held_out_target_is_never_fitted():
    targets = load_targets()
    with pytest.raises(ConfigError, match=r"\['team_sl_delivery_corr'\] are for 'validate'"):
        chosen_targets(targets, ["burnout_share", "team_sl_delivery_corr"], use="fit")
    with pytest.raises(ConfigError, match="unknown targets"):
        chosen_targets(targets, ["no_such_target"])


def test_implausibility_holds_all_three_parts_of_the_uncertainty():
    burnout = load_targets()["burnout_share"]
    seeds = np.array([0.10, 0.12, 0.11, 0.13])
    seed_var = seed_variance_of_mean(seeds)
    assert seed_var == pytest.approx(np.var(seeds, ddof=1) / 4)
    total = 0.0005 ** 2 + 0.07 ** 2 + seed_var
    assert burnout.variance(seed_var) == pytest.approx(total)
    assert burnout.implausibility(seeds.mean(), seed_var) == pytest.approx(
        (0.30 - 0.115) / math.sqrt(total))
    bound = load_targets()["time_pressure_share"]  # at most 73%: only an excess counts
    assert bound.implausibility(0.05, 0.0) == 0.0
    assert bound.implausibility(0.80, 0.0) == pytest.approx(0.07 / math.sqrt(0.0005**2 + 0.07**2))


def test_statistics_read_a_run_as_the_target_says():
    targets = load_targets()
    weeks = np.arange(60, dtype=float)
    ts = pd.DataFrame({"burnout_share": weeks, "team_sl_delivery_corr": weeks})
    assert targets["burnout_share"].read(ts) == pytest.approx(weeks[-52:].mean())
    assert targets["team_sl_delivery_corr"].read(ts) == pytest.approx(weeks[-13:].mean())
    breakdown = pd.DataFrame({
        "org_type": ["community_trust", "community_trust", "acute_trust", "acute_trust"],
        "group": ["clinical", "non_clinical"] * 2, "managers": [10, 30, 20, 20],
        "leaver_rate": [0.4, 0.2, 0.1, 0.15]})
    ratio = targets["community_acute_leaver_ratio"].read(ts, breakdown)
    assert ratio == pytest.approx((0.4 * 10 + 0.2 * 30) / 40 / 0.125)
