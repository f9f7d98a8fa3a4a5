"""Issue 13: the 42 real ICBs, their make-up, and your own system from a file."""

import collections
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from simulation import icb
from simulation.config import (
    CONFIG_DIR,
    RunConfig,
    ScenarioConfig,
    build_config,
    compose,
    ics_options,
    to_run_config,
)
from simulation.model import SharedLeadershipModel
from simulation.params import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "ics" / "my_system.yaml"
SLSIM = str(Path(sys.executable).parent / "slsim")


def totals(rows):
    count, managers, trainees = (collections.Counter() for _ in range(3))
    for r in rows:
        count[r["org_type"]] += r["count"]
        managers[r["org_type"]] += r["count"] * r["managers"]
        trainees[r["org_type"]] += r["count"] * r["trainees"]
    return count, managers, trainees


def test_the_roster_is_package_data_with_its_source():
    assert icb.ROSTER_FILE.is_relative_to(ROOT / "simulation")
    assert len(icb.roster()) == 42
    assert sum(b.population for b in icb.roster()) == pytest.approx(51.4e6, rel=0.01)
    readme = (icb.DATA_DIR / "README.md").read_text()
    assert "Virtual Ward" in readme and "February 2024" in readme


@pytest.mark.parametrize(("name", "slug"), [
    ("NHS Greater Manchester Integrated Care Board", "greater_manchester"),
    ("NHS Shropshire, Telford and Wrekin Integrated Care Board", "shropshire_telford_and_wrekin"),
    ("NHS Bath and North East Somerset, Swindon and Wiltshire Integrated Care Board",
     "bath_and_north_east_somerset_swindon_and_wiltshire"),
    ("NHS Staffordshire and Stoke-on-Trent Integrated Care Board",
     "staffordshire_and_stoke_on_trent"),
])
def test_slugs_follow_the_rule(name, slug):
    assert icb.slug(name) == slug


def test_every_slug_is_distinct_and_has_a_config():
    assert len(set(icb.slugs())) == 42
    assert {f"icb/{s}" for s in icb.slugs()} <= set(ics_options())
    assert {p.stem for p in (CONFIG_DIR / "ics" / "icb").glob("*.yaml")} == set(icb.slugs())


def test_largest_remainder_rounds_to_the_total_with_its_floor():
    assert list(icb.largest_remainder(10, [1, 1, 1])) == [4, 3, 3]
    assert list(icb.largest_remainder(5, [0.1, 10, 10], minimum=1)) == [1, 2, 2]
    rng = np.random.default_rng(0)
    for _ in range(200):
        weights = rng.random(42) + 0.01
        total = int(rng.integers(42, 5000))
        floored = icb.largest_remainder(total, weights, minimum=1)
        assert floored.sum() == total and floored.min() >= 1
        alloc = icb.largest_remainder(total, weights)
        quota = total * weights / weights.sum()
        # Hamilton's method: each share is its quota rounded down or up.
        assert alloc.sum() == total and (np.abs(alloc - quota) < 1).all()


def test_per_type_totals_match_the_national_figures():
    rows = icb.makeup()
    count, managers, trainees = totals(rows)
    for kind, national in icb.NATIONAL_COUNTS.items():
        assert count[kind] == national.total, kind  # counts exactly
    assert count["icb"] == 42
    for kinds, published in icb.PUBLISHED_COUNTS.items():  # figures of other dates
        assert sum(count[k] for k in kinds) == pytest.approx(
            published.total, rel=icb.COUNT_TOLERANCE), kinds
    trust_nc = sum(r["count"] * r["managers"] * (1 - r["clinical_share"]) for r in rows
                   if r["org_type"] in icb.TRUST_WEIGHTS)
    assert trust_nc == pytest.approx(icb.TRUST_MANAGERS.total, rel=icb.TOLERANCE)
    assert managers["icb"] == icb.ICB_MANAGERS.total
    assert managers["social_care"] == pytest.approx(icb.SOCIAL_CARE_MANAGERS.total,
                                                    rel=icb.TOLERANCE)
    assert sum(trainees.values()) == pytest.approx(icb.TRAINEES.total, rel=icb.TOLERANCE)
    assert all(isinstance(r[c], int) for r in rows for c in ("count", "managers", "trainees"))


def test_every_icb_has_an_acute_trust_and_each_cell_says_where_it_comes_from():
    rows = icb.makeup()
    acute = {r["slug"] for r in rows if r["org_type"] == "acute_trust" and r["count"] >= 1}
    assert acute == set(icb.slugs())
    for r in rows:
        for column in ("count", "managers"):
            source = r[f"{column}_source"]
            assert source in (icb.APPORTIONED, icb.ASSUMED) or source.startswith(icb.REAL_PREFIX)


def test_no_real_count_is_overwritten_by_an_apportioned_one():
    board = icb.find("greater_manchester")
    real = {(board.ods_code, "acute_trust"): (7, "test lookup, 2024-01"),
            (board.ods_code, "pcn"): (67, "test ePCN, 2024-01")}
    rows = {(r["slug"], r["org_type"]): r for r in icb.makeup(real)}
    gm = rows["greater_manchester", "acute_trust"]
    assert (gm["count"], gm["count_source"]) == (7, "real: test lookup, 2024-01")
    assert rows["greater_manchester", "pcn"]["count"] == 67
    count, _, _ = totals(rows.values())
    assert count["acute_trust"] == icb.NATIONAL_COUNTS["acute_trust"].total  # the rest fill up
    assert count["pcn"] == icb.NATIONAL_COUNTS["pcn"].total
    others = [r for (s, k), r in rows.items() if k == "pcn" and s != "greater_manchester"]
    assert all(r["count_source"] == icb.APPORTIONED for r in others)


def test_the_real_counts_match_the_lookup_totals_and_are_kept():
    real = icb.real_counts()
    boards = {b.ods_code: b.slug for b in icb.roster()}
    # The trusts of each type and the PCNs are real in all 42 ICBs, and add up to the lookups'
    # totals (data/icb/README.md): 134 acute, 13 community, 48 mental-health trusts, 1,283 PCNs.
    lookups = {"acute_trust": 134, "community_trust": 13, "mental_health_trust": 48, "pcn": 1283}
    for kind, total in lookups.items():
        assert {code for code, k in real if k == kind} == set(boards), kind
        assert sum(n for (_, k), (n, _) in real.items() if k == kind) == total, kind
        assert icb.NATIONAL_COUNTS[kind].total == total, kind  # nothing left to apportion
    counts = icb.organisation_counts()
    for (code, kind), (n, source) in real.items():
        assert counts[boards[code]][kind] == (n, icb.REAL_PREFIX + source), (code, kind)
    rows = {(r["ods_code"], r["org_type"]): r for r in icb.makeup()}
    for (code, kind), (n, _) in real.items():
        assert rows[code, kind]["count"] == n if n else (code, kind) not in rows
    assert all(r["count_source"] == icb.APPORTIONED for r in rows.values()
               if r["org_type"] == "social_care")  # no lookup for councils


@pytest.mark.parametrize(("row", "fragment"), [
    ("QXX,pcn,3,x", "(QXX, pcn): ods_code is not an ICB"),
    ("QHG,hospital,3,x", "(QHG, hospital): org_type is not one of"),
    ("QHG,pcn,-1,x", "(QHG, pcn): count = '-1' is not a whole number"),
    ("QHG,pcn,3,", "(QHG, pcn): source is empty"),
    ("QHG,pcn,3,x\nQHG,pcn,4,y", "line 3 (QHG, pcn): a second row"),
])
def test_a_bad_real_count_names_its_row(tmp_path, monkeypatch, row, fragment):
    path = tmp_path / "real_counts.csv"
    path.write_text("ods_code,org_type,count,source\n" + row + "\n")
    monkeypatch.setattr(icb, "REAL_COUNTS_FILE", path)
    icb.real_counts.cache_clear()
    try:
        with pytest.raises(ConfigError, match=re.escape(fragment)):
            icb.real_counts()
    finally:
        icb.real_counts.cache_clear()


def test_managers_follow_registered_population():
    managers = collections.Counter()
    for r in icb.makeup():
        managers[r["slug"]] += r["count"] * r["managers"]
    boards = icb.roster()
    rho = spearmanr([b.population for b in boards], [managers[b.slug] for b in boards])[0]
    assert rho > 0.95


def test_england_is_the_42_real_systems():
    systems = build_config(ics="england").ics.system_list()
    assert [s.name for s in systems] == [b.slug for b in icb.roster()]
    assert {s.region for s in systems} == set(icb.regions())
    sizes = [sum(o.count * o.managers for o in s.organisations) for s in systems]
    assert min(sizes) < 0.3 * max(sizes)  # the real spread, not 42 copies


@pytest.mark.slow
@pytest.mark.parametrize("slug", icb.slugs())
def test_every_icb_runs_by_name(slug):
    model = SharedLeadershipModel(ics=f"icb/{slug}", weeks=2, seed=1)
    model.run()
    assert (~model.managers.is_trainee).sum() > 0


def test_a_real_icb_runs_by_name():
    model = SharedLeadershipModel(ics="icb/shropshire_telford_and_wrekin", weeks=2, seed=1)
    model.run()
    assert model.system_names == ["shropshire_telford_and_wrekin"]
    assert model.system_regions == ["Midlands"]


def test_an_unknown_slug_names_the_closest_ones():
    with pytest.raises(ConfigError, match="did you mean greater_manchester"):
        build_config(ics="icb/greater_manchster")
    with pytest.raises(ConfigError, match="closest: small_ics"):
        build_config(ics="smal_ics")


# --- your own system from a file ---


def test_the_example_system_file_runs_from_python():
    model = SharedLeadershipModel(ics=str(EXAMPLE), weeks=2, seed=3)
    model.run()
    assert model.config.ics.name == "my_system"
    assert (~model.managers.is_trainee).sum() > 0


def test_a_system_file_runs_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [SLSIM, f"hydra.searchpath=[file://{EXAMPLE.parent.parent}]", "ics=my_system",
         "weeks=2", f"hydra.run.dir={out}"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("my_system:")


def test_an_unknown_slug_on_the_command_line_names_the_closest(tmp_path):
    result = subprocess.run([SLSIM, "ics=icb/greater_manchster", "weeks=1",
                             f"hydra.run.dir={tmp_path}"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert "greater_manchester" in result.stderr


ORG = {"type": "acute_trust", "count": 1, "managers": 50, "clinical_share": 0.3,
       "bureaucracy_layers": 3}


def system(**changes):
    org = {k: v for k, v in {**ORG, **changes}.items() if v is not None}
    return {"name": "mine", "organisations": [dict(ORG), org]}


@pytest.mark.parametrize(("ics", "fragments"), [
    (system(type="hospital"), ["ics.organisations[1].type", "acute_trust", "social_care"]),
    (system(count=-2), ["ics.organisations[1].count", "[1, 1000]"]),
    (system(clinical_share=1.5), ["ics.organisations[1].clinical_share", "[0.0, 1.0]"]),
    (system(clinical_share=-0.1), ["ics.organisations[1].clinical_share", "[0.0, 1.0]"]),
    (system(managers=None), ["ics.organisations[1].managers", "missing", "[1, 100000]"]),
    (system(type=None), ["ics.organisations[1].type", "missing", "acute_trust"]),
    (system(manager=5), ["ics.organisations[1].manager", "allowed keys", "managers"]),
    ({"name": "mine"}, ["organisations", "members"]),
])
def test_a_bad_system_file_names_the_field_and_the_allowed_values(tmp_path, ics, fragments):
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(ics))
    for given in (ics, str(path)):
        with pytest.raises(ConfigError) as error:
            build_config(ics=given)
        for fragment in fragments:
            assert fragment in str(error.value)


def test_the_readme_documents_your_own_system_and_how_to_list_the_slugs():
    readme = (ROOT / "README.md").read_text()
    assert "docs/examples/ics/my_system.yaml" in readme
    assert "python -m simulation.icb" in readme


def test_the_slugs_list_by_region():
    result = subprocess.run([sys.executable, "-m", "simulation.icb"], capture_output=True,
                            text=True, cwd=ROOT, check=True)
    assert "North West" in result.stdout and "icb/greater_manchester" in result.stdout


# --- levers that target systems ---


def test_a_lever_can_target_systems():
    members = [{"name": name, "organisations": [dict(ORG, managers=40)]} for name in ("a", "b")]
    ics = build_config(ics={"name": "two", "members": members}).ics
    lever = {"kind": "protected_time", "target_systems": ["b"], "coverage": 1.0}
    model = SharedLeadershipModel(RunConfig(
        ics=ics, weeks=30, seed=2,
        scenario=ScenarioConfig(name="b_only", interventions={"protected_time": lever})))
    model.run()
    (lever,) = model.interventions
    enrolled = lever.enrolled_week >= 0
    system = model.organisations.system[model.managers.org]
    assert enrolled[system == 1].any() and not enrolled[system == 0].any()


def test_an_unknown_target_system_names_the_runs_systems():
    cfg = compose(["ics=icb/greater_manchester", "scenario=protected_time",
                   "+scenario.interventions.protected_time.target_systems=[nowhere]"])
    with pytest.raises(ConfigError, match=r"target_systems has \['nowhere'\].*greater_manchester"):
        to_run_config(cfg)


def test_a_system_built_in_python_names_a_missing_field():
    from simulation.params import ICSConfig, OrgSpec

    with pytest.raises(ConfigError, match=r"ics.organisations\[0\].count is missing.*\[1, 1000\]"):
        RunConfig(ics=ICSConfig(name="x", organisations=[OrgSpec(type="pcn", managers=5)]))
