"""Interventions: the registry, targeting, coverage, fading effects, costs, common random
numbers, and stylised fact 4 of the brief (training, time, communication, red tape)."""

import numpy as np
import pytest
from conftest import assert_paired_increase, last_weeks, paired, total

from simulation.config import CONFIG_DIR, build_config, to_run_config
from simulation.interventions import REGISTRY, InterventionParams, intervention_params
from simulation.model import SharedLeadershipModel
from simulation.params import ConfigError


def model_with(interventions: dict, weeks: int = 60, seed: int = 1, **overrides):
    config = build_config(ics="small_ics", seed=seed, weeks=weeks, **overrides)
    config.scenario.interventions = interventions
    config.scenario.name = "test"
    return SharedLeadershipModel(to_run_config(config))


def run_weeks(model, weeks):
    for _ in range(weeks):
        model.step()
    return model


def test_every_kind_has_a_class_a_schema_and_a_config_file():
    files = {p.stem for p in (CONFIG_DIR / "intervention").glob("*.yaml")}
    assert set(REGISTRY) <= files
    for cls in REGISTRY.values():
        assert issubclass(cls.params_class, InterventionParams)


@pytest.mark.parametrize("spec", [
    {"kind": "os.system"},
    {"kind": "protected_time", "_target_": "os.system"},
    {"_target_": "builtins.eval"},
])
def test_only_registered_kinds_resolve(spec):
    with pytest.raises(ConfigError, match=r"kind|_target_"):
        intervention_params("x", spec)


def test_every_knob_is_validated_like_any_parameter(compose_config):
    with pytest.raises(ConfigError, match=r"protected_time.extra_hours = 99.0 .*\[0.0, 20.0\]"):
        to_run_config(compose_config(["scenario=protected_time",
                                      "scenario.interventions.protected_time.extra_hours=99"]))
    with pytest.raises(ConfigError, match="target_stages"):
        intervention_params("x", {"kind": "coaching_support", "target_stages": ["junior"]})
    with pytest.raises(ConfigError, match="end_week"):
        intervention_params("x", {"kind": "coaching_support", "start_week": 10, "end_week": 5})


def test_ad_hoc_scenarios_compose_on_the_command_line(compose_config):
    config = to_run_config(compose_config([
        "scenario=baseline",
        "+intervention@scenario.interventions=[protected_time,coaching_support]",
        "scenario.name=custom", "scenario.interventions.coaching_support.coverage=0.9"]))
    assert set(config.scenario.interventions) == {"protected_time", "coaching_support"}
    assert config.scenario.interventions["coaching_support"]["coverage"] == 0.9
    assert config.scenario.interventions["protected_time"]["extra_hours"] == 4  # default filled


def test_recommended_package_holds_the_papers_three_recommendations(compose_config):
    config = to_run_config(compose_config(["scenario=recommended_package"]))
    kinds = {spec["kind"] for spec in config.scenario.interventions.values()}
    assert kinds == {"postgrad_sl_training", "leadership_programme", "clear_communication"}
    tiers = {spec["tier"] for spec in config.scenario.interventions.values()
             if spec["kind"] == "leadership_programme"}
    assert tiers == {"foundations", "first_time", "mid_level", "board"}


def test_targeting_coverage_and_single_enrolment():
    model = model_with({"train": {"kind": "postgrad_sl_training", "coverage": 0.8}}, weeks=52)
    run_weeks(model, 52)
    m, train = model.managers, model.interventions[0]
    enrolled = train._enrolled_now(model)  # the people now in post who were trained
    # Trainees, and trainees who have completed since and taken an aspiring doctor's post.
    assert enrolled.any() and enrolled[m.is_trainee].any()
    completed = enrolled & ~m.is_trainee
    assert ((m.career_stage[completed] == 0) & (m.profession[completed] == 0)).all()
    # About 80% of the trainees there all year reached in a year (binomial tolerance).
    share = enrolled[m.is_trainee & (m.hired_week <= 0)].mean()
    assert 0.55 < share < 0.97
    assert train.participants >= enrolled.sum()  # some trained trainees have left since
    assert model.latest["cost"] == pytest.approx(1500 * train.participants)


def test_start_and_end_weeks_bound_enrolment():
    model = model_with({"c": {"kind": "coaching_support", "coverage": 1.0, "start_week": 5,
                              "end_week": 8}}, weeks=20)
    run_weeks(model, 20)
    weeks = model.interventions[0].enrolled_week
    assert weeks[weeks >= 0].min() >= 5 and weeks.max() <= 8


def test_training_effect_fades_with_its_half_life():
    model = model_with({"t": {"kind": "leadership_programme", "target_stages": ["emerging"],
                              "coverage": 1.0, "half_life_weeks": 10, "study_hours": 0,
                              "identity_effect_sd": 0, "understanding_effect_sd": 0,
                              "start_week": 1, "end_week": 1}}, weeks=30)
    run_weeks(model, 1)
    given = model.interventions[0].given[("managers", "sl_skill")].copy()
    assert given.max() == pytest.approx(0.73 * 0.15)
    run_weeks(model, 10)
    now = model.interventions[0].given[("managers", "sl_skill")]
    stayed = (given > 0) & model.managers.active & (model.managers.post_since <= 0)
    np.testing.assert_allclose(now[stayed], 0.5 * given[stayed], rtol=1e-9)


def test_programme_takes_study_hours_and_returns_them_at_graduation():
    model = model_with({"p": {"kind": "leadership_programme", "coverage": 1.0,
                              "target_stages": ["emerging"], "duration_weeks": 4,
                              "study_hours": 2.0, "start_week": 1, "end_week": 1}}, weeks=10)
    run_weeks(model, 1)
    enrolled = model.interventions[0].enrolled_week == 1
    assert enrolled.any()
    np.testing.assert_allclose(model.managers.hours_boost[enrolled], -2.0)
    run_weeks(model, 4)
    stayed = enrolled & (model.managers.post_since <= 0)
    np.testing.assert_allclose(model.managers.hours_boost[stayed], 0.0)


def test_protected_time_adds_hours_charges_per_hour_and_stops_when_funding_ends():
    model = model_with({"pt": {"kind": "protected_time", "coverage": 1.0, "extra_hours": 4,
                               "unit_cost": 10, "end_week": 6}}, weeks=12)
    run_weeks(model, 6)
    funded = model.managers.hours_boost > 0
    assert funded.any() and model.managers.is_clinical[funded].all()
    assert model.latest["cost"] > 0
    run_weeks(model, 2)
    assert not (model.managers.hours_boost > 0).any()
    cost = model.latest["cost"]
    run_weeks(model, 2)
    assert model.latest["cost"] == cost


def test_reduce_bureaucracy_removes_layers_and_never_below_zero():
    model = model_with({"rb": {"kind": "reduce_bureaucracy", "coverage": 1.0,
                               "layers_removed": 2}}, weeks=60)
    before = model.organisations.layers.copy()
    run_weeks(model, 60)
    np.testing.assert_allclose(model.organisations.layers, np.maximum(before - 2, 0))
    assert model.latest["cost"] == pytest.approx(50000 * len(before))


def test_clear_communication_opens_forum_ties_and_raises_clarity():
    model = model_with({"cc": {"kind": "clear_communication", "coverage": 1.0}}, weeks=60)
    role = ~model.ties.personal  # latent forum ties are role ties
    closed = (~model.ties.open & role).sum()
    assert closed > 0
    run_weeks(model, 60)
    assert (~model.ties.open & role).sum() < 0.2 * closed
    assert (model.organisations.clarity > model.params.communication_clarity).all()


def test_coaching_lowers_stress_and_raises_support():
    model = model_with({"c": {"kind": "coaching_support", "coverage": 1.0, "start_week": 30,
                              "end_week": 30}}, weeks=40, bureaucracy_load=0.9)
    run_weeks(model, 29)
    stress_before = model.managers.stress.copy()
    run_weeks(model, 1)
    coached = model.interventions[0].enrolled_week == 30
    assert coached.any()
    assert (model.managers.support[coached] > model.params.support).all()
    assert (model.managers.stress[coached] < stress_before[coached] + 0.1).all()


def test_gifts_are_withdrawn_when_their_holder_leaves():
    model = model_with({"pt": {"kind": "protected_time", "coverage": 1.0}}, weeks=40,
                       turnover_rate=0.05, recruitment_lag=1)
    run_weeks(model, 40)
    given = model.interventions[0].given[("managers", "hours_boost")]
    m = model.managers
    # Hired before this week (so the weekly fade has run since) and not enrolled themselves.
    newcomers = (m.hired_week > model.interventions[0].enrolled_week) & (m.hired_week < 40)
    assert newcomers.any()
    assert (given[newcomers] == 0).all()
    assert (m.hours_boost[newcomers] == 0).all()


# --- Common random numbers -------------------------------------------------------------------
def test_paired_differences_are_far_less_noisy_than_unpaired():
    """Across 30 seeds, the variance of the paired difference (scenario - baseline) in final SL
    density is at most a quarter of the variance of the unpaired difference."""
    seeds = range(30)
    final = last_weeks("sl_density", 1)
    scenario = paired(final, seeds, weeks=52, scenario="recommended_package")
    baseline = paired(final, seeds, weeks=52)
    other_baseline = paired(final, range(100, 130), weeks=52)
    assert np.var(scenario - baseline, ddof=1) <= 0.25 * np.var(scenario - other_baseline, ddof=1)


# --- Stylised fact 4 -------------------------------------------------------------------------
SEEDS = range(8)


def arm(outcome, scenario):
    return paired(outcome, SEEDS, ics="default_ics", scenario=scenario)


# Fact 4 is tested with the training that reaches today's managers, the leadership programmes, at
# the model's standard horizon of three years: the programmes' gain in cross-profession ties is
# small, because ties across the clinical/non-clinical line lose trust to refusals and hold a
# shrinking share of granted leadership (docs/ODD.md, section 1, on stylised facts 4 and 8).
TRAINING_SEEDS = range(20)


def three_year_arm(outcome, scenario):
    return paired(outcome, TRAINING_SEEDS, weeks=156, ics="default_ics", scenario=scenario)


@pytest.mark.slow
def test_leadership_programmes_raise_density_trust_and_cross_profession_ties():
    for column in ("sl_density", "mean_trust", "cross_profession_density"):
        outcome = last_weeks(column, 1)
        assert_paired_increase(three_year_arm(outcome, "leadership_programme"),
                               three_year_arm(outcome, "baseline"))


@pytest.mark.slow
def test_leadership_programmes_and_protected_time_are_complements():
    """(programmes + time) - time > programmes - baseline, paired by seed."""
    density = last_weeks("sl_density", 1)
    with_time = (three_year_arm(density, "programmes_and_time")
                 - three_year_arm(density, "protected_time"))
    without_time = (three_year_arm(density, "leadership_programme")
                    - three_year_arm(density, "baseline"))
    assert_paired_increase(with_time, without_time)


# Since careers (issue 11), SL training for doctors in postgraduate training reaches trainees, not
# today's managers: its effect on managers runs through the pipeline (fact 8), which the model does
# not show within these horizons (docs/ODD.md, section 1, on stylised facts 4 and 8). Fact 4
# measured with that lever is a strict expected failure: if the model shows it, the suite says so.
PIPELINE_ONLY = pytest.mark.xfail(strict=True, reason="postgraduate SL training reaches managers "
                                  "only through the pipeline, not shown (docs/ODD.md, facts 4, 8)")


@pytest.mark.slow
@PIPELINE_ONLY
def test_postgraduate_training_raises_density_trust_and_cross_profession_ties():
    for outcome in (last_weeks("sl_density", 1), last_weeks("mean_trust", 1),
                    last_weeks("cross_profession_density", 1)):
        assert_paired_increase(arm(outcome, "postgrad_sl_training"), arm(outcome, "baseline"))


@pytest.mark.slow
@PIPELINE_ONLY
def test_postgraduate_training_raises_the_cross_profession_share():
    share = last_weeks("cross_profession_share", 1)
    assert_paired_increase(arm(share, "postgrad_sl_training"), arm(share, "baseline"))


@pytest.mark.slow
@PIPELINE_ONLY
def test_postgraduate_training_and_protected_time_are_complements():
    """(training + time) - time > training - baseline, paired by seed."""
    density = last_weeks("sl_density", 1)
    with_time = arm(density, "time_and_training") - arm(density, "protected_time")
    without_time = arm(density, "postgrad_sl_training") - arm(density, "baseline")
    assert_paired_increase(with_time, without_time)


@pytest.mark.slow
def test_clear_communication_raises_cross_org_share():
    share = last_weeks("cross_org_share", 1)
    assert_paired_increase(arm(share, "clear_communication"), arm(share, "baseline"))


@pytest.mark.slow
def test_reducing_bureaucracy_raises_tasks_completed():
    tasks = total("tasks_completed")
    assert_paired_increase(arm(tasks, "reduce_bureaucracy"), arm(tasks, "baseline"))
