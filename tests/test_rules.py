"""Unit tests of the behavioural rules (simulation/rules.py)."""

import numpy as np
import pytest

from simulation import rules


def test_leadership_hours_scale_with_stage_and_time_and_add_boost():
    hours = rules.leadership_hours(np.array([4.0, 15.0]), np.array([1.5, 0.75]), 0.5,
                                   np.array([4.0, 0.0]))
    np.testing.assert_allclose(hours, [4.0 * 1.5 * 0.5 + 4.0, 15.0 * 0.75 * 0.5])


def test_task_arrivals_proportional_to_hours():
    np.testing.assert_allclose(rules.task_arrivals_mean(0.06, np.array([7.5, 15.0]), 15.0),
                               [0.03, 0.06])


def test_bureaucracy_hours_fixed_part_plus_signoffs_and_zero_without_load():
    hours = rules.bureaucracy_hours(0.5, np.array([3.0, 1.0]), 8.0, 0.5, np.array([2, 0]))
    np.testing.assert_allclose(hours, [0.5 * (8.0 + 0.5 * 3 * 2), 0.5 * 8.0 / 3])
    assert rules.bureaucracy_hours(0.0, 3.0, 8.0, 0.5, 4) == 0.0


def test_fixed_bureaucracy_takes_a_larger_share_of_a_clinicians_week():
    """T4: the same governance hours weigh more on a part-time clinical leader."""
    lost = rules.bureaucracy_hours(0.5, 3.0, 8.0, 0.0, 0)
    assert lost / 4.0 > lost / 15.0


def test_available_hours_never_negative_and_fall_with_stress_and_backlog():
    base = rules.available_hours(10.0, 0.0, 0.3, 2.0, 0.0, 0.25)
    assert base == pytest.approx(8.0)
    assert rules.available_hours(10.0, 1.0, 0.3, 2.0, 0.0, 0.25) == pytest.approx(5.0)
    assert rules.available_hours(10.0, 0.0, 0.3, 2.0, 8.0, 0.25) == pytest.approx(6.0)
    assert rules.available_hours(1.0, 1.0, 1.0, 5.0, 100.0, 1.0) == 0.0


def test_time_factor_is_a_share_and_one_when_nothing_is_expected():
    factor = rules.time_factor(np.array([0.0, 3.0, 100.0, 5.0]), np.array([2.0, 2.0, 2.0, 0.0]),
                               1.5)
    np.testing.assert_allclose(factor, [0.0, 1.0, 1.0, 1.0])
    assert rules.time_factor(1.5, 2.0, 1.5) == pytest.approx(0.5)


def test_interaction_needs_time_from_both_partners():
    assert rules.interaction_probability(0.2, 1.0, 0.25) == pytest.approx(0.05)
    assert rules.interaction_probability(0.2, 0.0, 1.0) == 0.0


def test_duty_gap_opens_when_leadership_is_missing():
    np.testing.assert_allclose(rules.duty_gap(np.array([0.0, 0.25, 0.5, 2.0]), 0.5),
                               [1.0, 0.5, 0.0, 0.0])


def test_claims_rise_with_identity_motivation_and_duty_and_stay_probabilities():
    low = rules.claim_probability(0.1, 0.5, 0.0, 0.7, 0.7, 1.0)
    high = rules.claim_probability(0.9, 0.5, 0.0, 0.7, 0.7, 1.0)
    stepping_up = rules.claim_probability(0.1, 0.5, 1.0, 0.7, 0.7, 1.0)
    assert low < high
    assert stepping_up == pytest.approx(low + 0.5)
    assert rules.claim_probability(1.0, 1.0, 1.0, 1.0, 0.5, 1.0) == 1.0
    assert rules.claim_probability(0.5, 0.5, 0.0, 0.7, 0.7, 1.0) == pytest.approx(0.35)


def test_value_conflict_only_across_groups_and_eased_by_understanding():
    assert rules.conflict_damping(0.4, False, 0.0) == 1.0
    assert rules.conflict_damping(0.4, True, 0.0) == pytest.approx(0.6)
    assert rules.conflict_damping(0.4, True, 1.0) == 1.0


def test_goal_misalignment_only_across_organisations_and_eased_by_clarity():
    assert rules.misalignment_damping(0.8, False, 0.0) == 1.0
    assert rules.misalignment_damping(0.8, True, 0.25) == pytest.approx(0.4)
    assert rules.misalignment_damping(0.8, True, 1.0) == 1.0


def test_grant_rises_with_trust_and_skill_and_is_damped():
    base = rules.grant_probability(0.5, 0.5, 0.5, 0.6, 0.4, 1.0, 1.0)
    assert base == pytest.approx(0.5)
    assert rules.grant_probability(0.9, 0.5, 0.5, 0.6, 0.4, 1.0, 1.0) > base
    assert rules.grant_probability(0.5, 0.9, 0.5, 0.6, 0.4, 1.0, 1.0) > base
    assert rules.grant_probability(0.5, 0.5, 0.5, 0.6, 0.4, 0.5, 0.8) == pytest.approx(0.2)
    assert rules.grant_probability(1.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0) == 1.0


def test_success_rises_with_skill_and_time_and_stalls_across_organisations():
    p = rules.success_probability(0.5, 0.5, 1.0, 1.0, 0.3, 0.6, 0.5, 0.0, True)
    assert p == pytest.approx(0.6)
    assert rules.success_probability(0.9, 0.9, 1.0, 1.0, 0.3, 0.6, 0.5, 0.0, True) > p
    assert rules.success_probability(0.5, 0.5, 0.0, 1.0, 0.3, 0.6, 0.5, 0.0, True) == \
        pytest.approx(0.3)
    assert rules.success_probability(0.5, 0.5, 1.0, 1.0, 0.3, 0.6, 0.5, 1.0, True) == \
        pytest.approx(0.3)
    assert rules.success_probability(0.5, 0.5, 1.0, 1.0, 0.3, 0.6, 0.5, 1.0, False) == \
        pytest.approx(0.6)


def test_formal_routes_clear_a_share_of_waiting_work_given_time():
    np.testing.assert_allclose(rules.formal_completions(np.array([10.0, 10.0]),
                                                        np.array([1.0, 0.0]), 0.03), [0.3, 0.0])


def test_repeated_steps_equal_successive_steps():
    once = rules.toward(rules.toward(0.2, 1.0, 0.1), 1.0, 0.1)
    assert rules.repeated_step_toward_one(0.2, 0.1, 2) == pytest.approx(once)
    assert rules.repeated_step_toward_one(0.2, 0.1, 0) == pytest.approx(0.2)


def test_identity_grows_with_grants_and_shrinks_with_refusals():
    """DeRue & Ashford: granted claims build identity; acton boost 5, penalty 3, inertia 0.2."""
    grown = rules.identity_update(0.5, 1, 0, 0.05, 0.03, 0.2)
    assert grown == pytest.approx(0.5 + 0.5 * 0.05 * 0.8)
    shrunk = rules.identity_update(0.5, 0, 1, 0.05, 0.03, 0.2)
    assert shrunk == pytest.approx(0.5 * (1 - 0.03 * 0.8))
    assert rules.identity_update(0.5, 0, 0, 0.05, 0.03, 0.2) == 0.5


def test_workload_pressure_is_one_half_when_demand_equals_time():
    np.testing.assert_allclose(rules.workload_pressure(np.array([0.0, 1.0, 3.0])),
                               [0.0, 0.5, 0.75])


def test_stress_moves_toward_pressure_less_support():
    assert rules.stress_update(0.0, 0.8, 0.5, 1.0) == pytest.approx(0.4)
    assert rules.stress_update(0.0, 0.8, 0.5, 0.1) == pytest.approx(0.04)
    assert rules.stress_update(0.9, 0.0, 0.0, 0.5) == pytest.approx(0.45)


def test_understaffing_adds_its_pressure_only_in_understaffed_posts():
    np.testing.assert_allclose(rules.understaffing_pressure(np.array([False, True]), 0.15),
                               [0.0, 0.15])


def test_motivation_erodes_under_burnout_and_recovers_to_duty():
    assert rules.motivation_update(0.6, 0.6, 0.2, 0.35, 0.05, 0.0) == pytest.approx(0.6)
    assert rules.motivation_update(0.6, 0.6, 0.85, 0.35, 0.1, 0.0) == pytest.approx(0.55)
    assert rules.motivation_update(0.2, 0.6, 0.0, 0.35, 0.0, 0.5) == pytest.approx(0.4)


def test_exit_probability_adds_burnout_exits_to_turnover():
    np.testing.assert_allclose(rules.exit_probability(np.array([0.1, 0.9]), 0.35, 0.02, 0.002),
                               [0.002, 0.022])


def test_decay_and_boundary_trust():
    assert rules.decay(0.5, 0.02) == pytest.approx(0.49)
    np.testing.assert_allclose(
        rules.boundary_trust(0.5, 0.1, np.array([False, True, True]),
                             np.array([False, False, True])), [0.5, 0.4, 0.3])


def test_half_life_factor_halves_after_half_life():
    assert rules.half_life_factor(np.array(10.0)) ** 10 == pytest.approx(0.5)
    assert rules.half_life_factor(np.array(0.0)) == 1.0
