"""The parameter schema: defaults, ranges, validation, and every config file."""

import dataclasses
import math

import pytest

from simulation.config import CONFIG_DIR, RunConfig, build_config, ics_options, to_run_config
from simulation.params import (
    ConfigError,
    ICSConfig,
    ModelParams,
    NetworkParams,
    OrgSpec,
    PopulationParams,
    parameter_specs,
    uncertain_parameters,
)


@pytest.mark.parametrize("cls", [ModelParams, PopulationParams, NetworkParams])
def test_every_parameter_is_documented_and_its_default_is_in_range(cls):
    specs = parameter_specs(cls)
    assert len(specs) == len(dataclasses.fields(cls))
    for name, spec in specs.items():
        assert spec["doc"] and spec["unit"] and spec["source"], name
        assert spec["source"].startswith(("G", "A")), f"{name}: grounding must say G or A"
        low, high = spec["range"]
        values = spec["default"] if isinstance(spec["default"], list) else [spec["default"]]
        assert all(low <= v <= high for v in values), name


def test_uncertain_parameters_are_the_assumptions_with_ranges():
    uncertain = uncertain_parameters()
    assert "model.bureaucracy_load" in uncertain
    assert "model.claim_base" not in uncertain  # grounded in the acton ABM
    for path, spec in uncertain.items():
        assert spec["source"].startswith("A"), path
        assert spec["range"][0] < spec["range"][1]


@pytest.mark.parametrize("ics", ics_options())
def test_every_system_composes_and_validates(compose_config, ics):
    config = to_run_config(compose_config([f"ics={ics}"]))
    assert config.ics.name == ics.removeprefix("icb/")
    assert sum(o.count * o.managers for s in config.ics.system_list()
               for o in s.organisations) > 0


@pytest.mark.parametrize("scenario",
                         sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml")))
def test_every_scenario_composes_and_validates(compose_config, scenario):
    config = to_run_config(compose_config([f"scenario={scenario}"]))
    assert config.scenario.name == scenario


def test_archetype_sizes_match_the_brief():
    sizes = {}
    for name in ("small_ics", "default_ics", "large_urban_ics", "england"):
        ics = build_config(ics=name).ics
        sizes[name] = sum(o.count * o.managers for s in ics.system_list()
                          for o in s.organisations)
    assert 150 <= sizes["small_ics"] <= 500
    assert 1300 <= sizes["default_ics"] <= 1700
    assert sizes["default_ics"] < sizes["large_urban_ics"] < sizes["england"]
    assert 90_000 <= sizes["england"] <= 110_000
    assert len(build_config(ics="england").ics.system_list()) == 42


@pytest.mark.parametrize(("overrides", "key", "fragment"), [
    ({"bureaucracy_load": 1.5}, "model.bureaucracy_load", "[0.0, 1.0]"),
    ({"value_conflict": -0.1}, "model.value_conflict", "[0.0, 1.0]"),
    ({"goal_misalignment": math.nan}, "model.goal_misalignment", "finite"),
    ({"recruitment_lag": 200}, "model.recruitment_lag", "[0, 104]"),
    ({"network.within_org_degree": 1e9}, "network.within_org_degree", "range"),
    ({"stage_shares": [0.5, 0.5, 0.5]}, "population.stage_shares", "sum to 1"),
])
def test_bad_values_name_the_key_and_the_allowed_range(overrides, key, fragment):
    with pytest.raises(ConfigError) as error:
        build_config(ics="small_ics", **overrides)
    assert key in str(error.value)
    assert fragment in str(error.value)


def test_unknown_parameters_and_archetypes_are_rejected():
    with pytest.raises(ConfigError, match="not a parameter"):
        build_config(bureaucracy=0.3)
    with pytest.raises(ConfigError, match="small_ics"):
        build_config(ics="no_such_ics")
    with pytest.raises(ConfigError, match="seed"):
        build_config(seed="seven")
    with pytest.raises(ConfigError, match="recruitment_lag"):
        build_config(recruitment_lag=2.5)


def test_bad_organisation_type_is_rejected():
    with pytest.raises(ConfigError, match="type"):
        RunConfig(ics=ICSConfig(name="x", organisations=[OrgSpec(type="hospital")]))


def test_hydra_overrides_are_validated(compose_config):
    with pytest.raises(ConfigError, match=r"model.bureaucracy_load = 2.0 .*\[0.0, 1.0\]"):
        to_run_config(compose_config(["model.bureaucracy_load=2.0"]))
    with pytest.raises(ConfigError, match="weeks"):
        to_run_config(compose_config(["weeks=0"]))
