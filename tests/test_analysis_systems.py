"""Issue 13: `slsim-compare` on a national sweep adds a section by ICB and by region."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulation.analysis.compare import main as slsim_compare
from simulation.analysis.systems import makeup_features
from simulation.runner import FAULT_ENV

BIN = Path(sys.executable).parent
REGIONS = {"north_a": "North", "north_b": "North", "south_a": "South", "south_b": "South"}


def member(name: str, pcns: int, acute_managers: int) -> str:
    return "\n".join([
        f"  - name: {name}", f"    region: {REGIONS[name]}", "    organisations:",
        "      - {type: icb, count: 1, managers: 20, clinical_share: 0.2, bureaucracy_layers: 4}",
        f"      - {{type: acute_trust, count: 1, managers: {acute_managers}, clinical_share: 0.3,"
        " bureaucracy_layers: 3, trainees: 20}",
        f"      - {{type: pcn, count: {pcns}, managers: 10, clinical_share: 0.6,"
        " bureaucracy_layers: 1, trainees: 2}"])


@pytest.fixture(scope="module")
def national_sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("national")
    (root / "configs" / "ics").mkdir(parents=True)
    (root / "configs" / "ics" / "tiny_nation.yaml").write_text("\n".join([
        "name: tiny_nation", "members:",
        member("north_a", 1, 60), member("north_b", 2, 90), member("south_a", 4, 50),
        member("south_b", 6, 120), ""]))
    out = root / "sweep"
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    process = subprocess.run(
        [str(BIN / "slsim"), "-m", f"hydra.searchpath=[file://{root / 'configs'}]",
         "ics=tiny_nation", "scenario=baseline,protected_time", "seed=range(0,4)", "weeks=8",
         f"hydra.sweep.dir={out}", "hydra.launcher.n_jobs=2"],
        capture_output=True, text=True, env=env, cwd=root, timeout=600, check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    return out


def test_the_breakdown_names_each_system_and_its_region(national_sweep):
    (breakdown,) = list((national_sweep / "runs").glob("*/breakdown.parquet"))[:1]
    frame = pd.read_parquet(breakdown)
    assert set(frame["icb"]) == set(REGIONS)
    assert dict(zip(frame["icb"], frame["region"], strict=True)) == REGIONS


def test_a_national_comparison_has_its_section_by_icb_and_by_region(national_sweep):
    slsim_compare([str(national_sweep)])
    report = national_sweep / "report"
    text = (report / "report.md").read_text()
    section = text.split("## By ICB and by region")[1].split("\n## ")[0]
    assert "### protected_time" in section
    assert "All 4 systems together:" in section
    assert "Gains most:" in section and "least:" in section
    assert "Why, in terms of make-up" in section
    assert "within noise" in section or "lie above" in section
    assert "not real ICBs" in section  # made-up systems: no apportioning to flag
    assert "| North |" in section or "| North " in section
    systems = pd.read_csv(report / "tables" / "systems.csv")
    assert set(systems["icb"]) == set(REGIONS)
    assert {"gain", "low", "high", "clear", "pcn_share"} <= set(systems.columns)
    regions = pd.read_csv(report / "tables" / "regions.csv")
    assert set(regions["region"]) == {"North", "South"}
    assert (report / "systems.png").read_bytes().startswith(b"\x89PNG")
    assert "systems.png" in text


def test_make_up_features_follow_the_config():
    ics = {"name": "x", "members": [{"name": "a", "region": "R", "organisations": [
        {"type": "pcn", "count": 2, "managers": 10, "clinical_share": 0.5,
         "bureaucracy_layers": 1, "trainees": 1},
        {"type": "acute_trust", "count": 1, "managers": 80, "clinical_share": 0.25,
         "bureaucracy_layers": 3, "trainees": 10}]}]}
    row = makeup_features(ics).loc["a"]
    assert row["managers"] == 100
    assert row["pcn_share"] == pytest.approx(0.2)
    assert row["clinical_share"] == pytest.approx((20 * 0.5 + 80 * 0.25) / 100)
    assert row["trainees_per_manager"] == pytest.approx(12 / 100)


def test_differences_between_real_icbs_say_they_rest_on_apportioned_inputs():
    from simulation.analysis.systems import _apportioned_sentence

    text = _apportioned_sentence(["greater_manchester", "devon"], ("count", "managers"))
    assert "apportioned" in text and "not on real counts" in text
    # It names what is apportioned: the councils' count, not the trusts' or PCNs' (real counts).
    assert "count of social_care;" in text and "managers of acute_trust" in text
    assert "count of acute_trust" not in text and "count of pcn" not in text
