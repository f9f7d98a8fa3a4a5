"""Outputs measured as the evidence measures them: definitions on small hand-made networks."""

from types import SimpleNamespace

import numpy as np
import pytest

from simulation import kernels
from simulation import measurement as ms
from simulation.careers import ESTABLISHED
from simulation.metrics import observe_ties


def ties(pairs):
    pairs = np.array(pairs, dtype=np.intp).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def state(pairs, posts, *, granted=None, team=None, trainee=None, clinical=None,
          completed=None, burnt=None, pressed=None, stage=None, since=None):
    """Hand-made managers and ties with the fields the measured outputs read (defaults: every
    post an active, non-clinical manager in team 0, every tie granted 1)."""
    source, target = ties(pairs)
    window = 4 if burnt is None else np.shape(burnt)[1]
    managers = SimpleNamespace(
        active=np.ones(posts, dtype=bool),
        is_trainee=np.zeros(posts, bool) if trainee is None else np.array(trainee),
        is_clinical=np.zeros(posts, bool) if clinical is None else np.array(clinical),
        team=np.zeros(posts, np.intp) if team is None else np.array(team, dtype=np.intp),
        completed_weeks=(np.zeros((posts, window)) if completed is None
                         else np.array(completed, dtype=float)),
        burnt_weeks=np.zeros((posts, window), bool) if burnt is None else np.array(burnt),
        pressed_weeks=np.zeros((posts, window), bool) if pressed is None else np.array(pressed),
        career_stage=np.zeros(posts, np.intp) if stage is None else np.array(stage),
        post_since=np.zeros(posts, np.int64) if since is None else np.array(since),
    )
    granted = np.ones(len(source)) if granted is None else np.array(granted, dtype=float)
    n_ties = len(source)
    return managers, SimpleNamespace(
        source=source, target=target, granted=granted, open=np.ones(n_ties, bool),
        trust=np.zeros(n_ties), cross_group=np.zeros(n_ties, bool),
        cross_org=np.zeros(n_ties, bool))


def totals(managers, ties, *, usable=None, theta=0.25, n_teams=3):
    """The week's tie totals of a hand-made state (``usable``: the open ties; every post
    held)."""
    if usable is not None:
        ties.open = np.array(usable)
    return observe_ties(ties, managers, theta, n_teams)[2]


def measured(managers, ties, *, usable=None, bureaucracy=None, week=4, theta=0.25, n_teams=3):
    """:func:`measurement.measured_outputs` of a hand-made state."""
    posts = len(managers.active)
    return ms.measured_outputs(
        managers, totals(managers, ties, usable=usable, theta=theta, n_teams=n_teams),
        np.zeros(posts) if bureaucracy is None else np.array(bureaucracy, dtype=float), week,
        37.5, ms.RollingWindow(52, 2), ms.RollingWindow(52, 2), 0, n_teams)


def team_measures(managers, ties, n_teams):
    """Per-team measures of a hand-made state (every tie usable, theta 0.25)."""
    posts = len(managers.active)
    tie_totals = totals(managers, ties, n_teams=n_teams)
    size, most, total, delivered, _, _ = kernels.measured_sums(
        managers.active, managers.is_trainee, managers.is_clinical, managers.team, n_teams,
        tie_totals.in_degree, managers.completed_weeks, managers.burnt_weeks,
        managers.pressed_weeks, 0, np.zeros(posts), managers.career_stage, ESTABLISHED,
        managers.post_since, 0, 156, np.empty((kernels.MEASURED_WORK_ROWS, posts)))
    return ms.team_measures(size, tie_totals.team_ties, most, total, delivered)


def test_leadership_ties_count_from_theta_on_usable_ties_only():
    # Four ties from post 0; the two that count (granted >= theta, usable) reach one clinical
    # and one non-clinical post, the two that do not both reach clinical posts.
    managers, t = state([(0, 1), (0, 2), (0, 3), (0, 4)], 5,
                        granted=[0.1, 0.25, 0.3, 0.9], clinical=[0, 1, 1, 0, 1])
    out = measured(managers, t, usable=[True, True, True, False])
    assert out["clinical_leadership_share"] == pytest.approx(1 / 2)


def test_team_density_centralisation_and_delivery_by_hand():
    # Team 0: posts 0, 1, 2 (a star on post 0: 1 -> 0 and 2 -> 0); team 1: posts 3, 4 with
    # 3 -> 4 and 4 -> 3; post 5 alone in team 2 (left out); a tie across teams never counts.
    managers, t = state([(1, 0), (2, 0), (3, 4), (4, 3), (0, 3)], 6, team=[0, 0, 0, 1, 1, 2],
                        completed=[[1, 1], [0, 2], [3, 0], [4, 4], [0, 0], [9, 9]])
    result = team_measures(managers, t, 3)
    assert result.size.tolist() == [3, 2]
    assert result.density == pytest.approx([2 / 6, 2 / 2])
    # Star on 3 members: in-degrees (2, 0, 0): (3*2 - 2) / (2^2) = 1, the most there can be.
    assert result.centralisation == pytest.approx([1.0, 0.0])
    assert result.delivery == pytest.approx([7 / 3, 8 / 2])
    assert ms.size_weighted_mean(result.density, result.size) == pytest.approx(
        (3 * 2 / 6 + 2 * 1.0) / 5)
    assert measured(managers, t)["team_sl_density"] == pytest.approx((3 * 2 / 6 + 2 * 1.0) / 5)


def test_team_measures_leave_out_non_members_such_as_trainees():
    managers, t = state([(1, 0), (2, 0)], 3, trainee=[False, False, True])  # post 2: a trainee
    result = team_measures(managers, t, 1)
    assert result.size.tolist() == [2]
    assert result.density == pytest.approx([1 / 2])
    assert measured(managers, t, n_teams=1)["trainees"] == 1.0


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
    # The weekly outputs count the same way, by group; none before a week is observed.
    managers, t = state([], 3, burnt=flags, pressed=flags[::-1], clinical=[1, 0, 0])
    out = measured(managers, t)
    assert (out["burnout_share"], out["burnout_share_clinical"],
            out["burnout_share_nonclinical"]) == pytest.approx((2 / 3, 1.0, 1 / 2))
    assert out["time_pressure_share"] == pytest.approx(2 / 3)
    assert measured(managers, t, week=0)["burnout_share"] == 0.0


def test_bureaucracy_share_is_hours_lost_over_contracted_hours():
    managers, t = state([], 3, trainee=[False, False, True], clinical=[1, 0, 0])
    out = measured(managers, t, bureaucracy=[3.75, 7.5, 100.0])
    assert out["bureaucracy_share"] == pytest.approx((3.75 + 7.5) / 75)
    assert out["bureaucracy_share_clinical"] == pytest.approx(3.75 / 37.5)
    assert out["bureaucracy_share_nonclinical"] == pytest.approx(7.5 / 37.5)


def test_clinical_leadership_share_counts_ties_between_members():
    managers, t = state([(0, 1), (1, 0), (2, 1), (0, 2)], 3, clinical=[False, True, False])
    out = measured(managers, t, usable=[True, True, True, False])
    assert out["clinical_leadership_share"] == pytest.approx(2 / 3)


def test_recent_appointments_are_established_posts_taken_within_three_years():
    # Posts 0-2 established, taken 10, 155 and 160 weeks before week 200; post 3 is not.
    managers, t = state([], 4, stage=[ESTABLISHED] * 3 + [0], since=[190, 45, 40, 199])
    assert measured(managers, t, week=200)["established_recent_share"] == pytest.approx(2 / 3)


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
