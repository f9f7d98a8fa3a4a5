"""Outputs measured as the evidence measures them: definitions on small hand-made networks."""

import numpy as np
import pytest

from simulation import measurement as ms


def ties(pairs):
    pairs = np.array(pairs, dtype=np.intp).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def test_leadership_ties_count_from_theta_on_usable_ties_only():
    granted = np.array([0.1, 0.25, 0.3, 0.9])
    usable = np.array([True, True, True, False])
    assert ms.leadership_ties(granted, usable, 0.25).tolist() == [False, True, True, False]


def test_team_density_centralisation_and_delivery_by_hand():
    # Team 0: posts 0, 1, 2 (a star on post 0: 1 -> 0 and 2 -> 0); team 1: posts 3, 4 with
    # 3 -> 4 and 4 -> 3; post 5 alone in team 2 (left out); a tie across teams never counts.
    source, target = ties([(1, 0), (2, 0), (3, 4), (4, 3), (0, 3)])
    measured = np.ones(len(source), dtype=bool)
    team = np.array([0, 0, 0, 1, 1, 2])
    members = np.ones(6, dtype=bool)
    completed = np.array([[1, 1], [0, 2], [3, 0], [4, 4], [0, 0], [9, 9]], dtype=float)
    result = ms.team_measures(source, target, measured, team, members, completed, 3)
    assert result.size.tolist() == [3, 2]
    assert result.density == pytest.approx([2 / 6, 2 / 2])
    # Star on 3 members: in-degrees (2, 0, 0): (3*2 - 2) / (2^2) = 1, the most there can be.
    assert result.centralisation == pytest.approx([1.0, 0.0])
    assert result.delivery == pytest.approx([7 / 3, 8 / 2])
    assert ms.size_weighted_mean(result.density, result.size) == pytest.approx(
        (3 * 2 / 6 + 2 * 1.0) / 5)


def test_team_measures_leave_out_non_members_such_as_trainees():
    source, target = ties([(1, 0), (2, 0)])
    team = np.array([0, 0, 0])
    members = np.array([True, True, False])  # post 2 is a trainee
    result = ms.team_measures(source, target, np.ones(2, bool), team, members,
                              np.zeros((3, 1)), 1)
    assert result.size.tolist() == [2]
    assert result.density == pytest.approx([1 / 2])


def test_correlation_is_undefined_without_variation_or_teams():
    assert np.isnan(ms.correlation(np.array([0.1, 0.1, 0.1]), np.array([1.0, 2.0, 3.0])))
    assert np.isnan(ms.correlation(np.array([0.1, 0.2]), np.array([1.0, 2.0])))
    assert ms.correlation(np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])) == pytest.approx(1)


def test_often_means_at_least_half_of_the_weeks_observed():
    flags = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    members = np.ones(3, dtype=bool)
    assert ms.often_share(flags, members, weeks_observed=4) == pytest.approx(2 / 3)
    assert ms.often_share(flags, np.array([False, True, False]), 4) == 0.0
    assert ms.often_share(flags, members, weeks_observed=0) == 0.0


def test_bureaucracy_share_is_hours_lost_over_contracted_hours():
    hours = np.array([3.75, 7.5, 100.0])
    members = np.array([True, True, False])
    assert ms.share_of_hours(hours, members, 37.5) == pytest.approx((3.75 + 7.5) / 75)


def test_clinical_leadership_share_counts_ties_between_members():
    source, target = ties([(0, 1), (1, 0), (2, 1), (0, 2)])
    clinical = np.array([False, True, False])
    members = np.array([True, True, True])
    measured = np.array([True, True, True, False])
    assert ms.leadership_share(measured, members, source, target, clinical) == pytest.approx(2 / 3)


def test_leaver_rate_is_yearly_leavers_over_mean_staff_in_post():
    window = ms.RollingWindow(52, 2)
    for week in range(60):
        window.push(np.array([1.0 if week % 2 else 0.0, 0.0]))
    leavers = window.filled()
    in_post = np.full((52, 2), 100.0)
    assert ms.leaver_rate(leavers, in_post) == pytest.approx([26 / 100, 0.0])
    # Before a year has passed, the weeks so far are scaled to a year.
    assert ms.leaver_rate(np.ones((13, 1)), np.full((13, 1), 52.0)) == pytest.approx([1.0])


def test_correlation_and_weighted_mean_are_numpys_to_the_bit():
    rng = np.random.default_rng(3)
    for n in (3, 4, 9, 40, 129, 700):
        for _ in range(20):
            x, weights = rng.random(n), rng.integers(2, 12, n)
            y = rng.random(n) if n % 2 else x * 3.0 + 1e-3 * rng.random(n)
            assert ms.correlation(x, y) == float(np.corrcoef(x, y)[0, 1])
            assert ms.size_weighted_mean(x, weights) == float(np.average(x, weights=weights))
