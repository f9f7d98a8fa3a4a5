"""Careers: teams, promotion into vacant posts, trainees' rotations, ties that follow people, the
stationary start, and stylised fact 8 (the pipeline of postgraduate SL training)."""

import numpy as np
import pytest
from conftest import assert_paired_increase

from simulation import careers, teams
from simulation.config import compose, to_run_config
from simulation.model import SharedLeadershipModel


# --- Rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 4, 9, 16, 17, 18, 100, 1001])
def test_team_sizes_partition_the_posts_within_the_bounds(n):
    for seed in range(20):
        sizes = teams.team_sizes(np.random.default_rng(seed), n, 4, 15)
        assert sizes.sum() == n
        if n >= 4:
            assert sizes.min() >= 4 and sizes.max() <= 15


def test_teams_stay_inside_organisations_except_the_cross_organisation_share():
    org = np.repeat(np.arange(6), [40, 80, 30, 30, 10, 30])
    team = teams.build_teams(np.random.default_rng(0), org, np.zeros(len(org), int), 4, 15,
                             cross_org_share=0.1)
    spans = [len(np.unique(org[team == t])) for t in np.unique(team)]
    assert max(spans) > 1  # some cross-organisation teams
    crossing = np.isin(team, [t for t, s in zip(np.unique(team), spans, strict=True) if s > 1])
    assert 0.03 < crossing.mean() < 0.2


def test_rotation_is_a_cycle_within_each_system():
    posts = np.array([10, 11, 12, 13, 20, 21])
    system = np.array([0, 0, 0, 0, 1, 1])
    destination = careers.rotation_destinations(posts, system, np.random.default_rng(3).random(6))
    assert sorted(destination.tolist()) == sorted(posts.tolist())  # a permutation
    assert (destination != posts).all()  # everyone moves
    assert (system[np.searchsorted(posts, destination)] == system).all()


def test_promotion_takes_the_best_eligible_candidate_from_the_same_organisation_first():
    #           post: 0  1  2  3  4  5  (post 0 is the vacant emerging post)
    stage = np.array([1, 0, 0, 0, 0, 1])
    active = np.array([False, True, True, True, True, True])
    clinical = np.array([True, True, True, False, True, True])
    org = np.array([0, 0, 1, 0, 0, 0])
    weeks = np.array([0, 100, 100, 100, 10, 100])
    identity = np.array([0, 0.5, 0.9, 0.95, 0.99, 0.99])
    filled = careers.fill_vacancies(
        np.array([0]), np.zeros(6), np.zeros(6), active, stage, clinical, np.zeros(6, bool),
        org, np.zeros(6, int), weeks, identity, internal_share=1.0, min_weeks_in_post=52,
        merit_noise=0.0)
    # Post 2 scores higher but is in another organisation; 3 is non-clinical; 4 is too new;
    # 5 is already emerging. So post 1's holder is promoted.
    assert (filled.promoted_from, filled.promoted_to, filled.hired) == ([1], [0], [])
    outside = careers.fill_vacancies(
        np.array([0]), np.ones(6), np.zeros(6), active, stage, clinical, np.zeros(6, bool),
        org, np.zeros(6, int), weeks, identity, internal_share=0.5, min_weeks_in_post=52,
        merit_noise=0.0)
    assert outside.hired == [0] and not outside.promoted_to


def test_each_vacancy_gets_the_winner_a_scan_of_every_post_gives():
    # The compiled search looks only at the vacancy's own system, stage and group: the same
    # winners, in the same order, as the rule's plain statement, post by post over every post.
    rng = np.random.default_rng(5)
    n = 400
    stage, clinical = rng.integers(0, 3, n), rng.random(n) < 0.4
    org = rng.integers(0, 12, n)
    system = org // 4
    active, weeks = rng.random(n) < 0.8, rng.integers(0, 200, n)
    identity = rng.random(n).round(1)  # ties in score, so the first of equals matters
    u_route, due = rng.random(n), rng.permutation(np.flatnonzero(~active))
    filled = careers.fill_vacancies(due, u_route, np.zeros(n), active, stage, clinical,
                                    np.zeros(n, bool), org, system, weeks, identity,
                                    internal_share=0.7, min_weeks_in_post=52, merit_noise=0.0)
    available = active & (weeks >= 52)
    promoted_from, promoted_to, hired = [], [], []
    for post in due:
        eligible = [c for c in range(n) if available[c] and stage[c] == stage[post] - 1
                    and clinical[c] == clinical[post] and system[c] == system[post]]
        local = [c for c in eligible if org[c] == org[post]]
        pool = local or eligible
        if stage[post] > 0 and u_route[post] < 0.7 and pool:
            winner = max(pool, key=lambda c: (identity[c], -c))
            available[winner] = False
            promoted_from.append(winner)
            promoted_to.append(int(post))
        else:
            hired.append(int(post))
    assert len(promoted_to) > 20 and len(hired) > 20
    assert (filled.promoted_from, filled.promoted_to, filled.hired) == (
        promoted_from, promoted_to, hired)


def test_stationary_tenure_is_geometric_with_the_exit_hazard():
    tenure = careers.weeks_in_post_at_start(np.random.default_rng(0).random(200_000), 0.01)
    assert tenure.min() == 0
    assert tenure.mean() == pytest.approx((1 - 0.01) / 0.01, rel=0.02)
    # The smallest positive chance the schema allows still gives a tenure, never a wrapped one.
    tiny = careers.weeks_in_post_at_start(np.array([0.0, 0.5, 1 - 2**-53]), 1e-300)
    assert tiny.tolist() == [0, 2**53, 2**53]


def test_completers_take_vacant_doctor_posts_of_their_own_system():
    system = np.array([0, 0, 1, 1, 0, 1])
    origin, destination = careers.match_completers(np.array([0, 2, 1]), np.array([4, 5]),
                                                   system)
    assert origin.tolist() == [0, 2] and destination.tolist() == [4, 5]


# --- The model --------------------------------------------------------------------------------
def small(weeks=60, seed=1, **overrides):
    return SharedLeadershipModel(ics="small_ics", seed=seed, weeks=weeks, **overrides)


def test_people_who_change_post_keep_their_traits_and_relationships():
    """Checked at every move of a run (promotions, rotations, completions): the person's fields
    and each relationship with a colleague who stays, with its trust and granted leadership in
    both directions, are at the new post; the old post's role ties are at rest."""
    model = small(weeks=60, seed=2, turnover_rate=0.01, recruitment_lag=2)
    checked = []
    original = model.move

    def move_and_check(week, origin, destination):
        m, t = model.managers, model.ties
        movers = set(origin.tolist())
        before = []
        for a, b in zip(origin.tolist(), destination.tolist(), strict=True):
            ties = np.flatnonzero(t.open & (t.source == a) & m.active[t.target])
            colleagues = {int(t.target[k]): (t.trust[k], t.granted[k], t.trust[t.reverse[k]],
                                             t.granted[t.reverse[k]])
                          for k in ties if int(t.target[k]) not in movers}
            before.append((a, b, m.duty[a], m.leader_identity[a], colleagues))
        original(week, origin, destination)
        for a, b, duty, identity, colleagues in before:
            assert (m.duty[b], m.leader_identity[b]) == (duty, identity)
            for x, state in colleagues.items():
                k = np.flatnonzero(t.open & (t.source == b) & (t.target == x))
                assert len(k) == 1
                k = int(k[0])
                assert (t.trust[k], t.granted[k], t.trust[t.reverse[k]],
                        t.granted[t.reverse[k]]) == state
            if a not in destination:
                role = ~t.personal & ((t.source == a) | (t.target == a))
                assert (t.granted[role] == 0).all()
                assert not (t.open & t.personal & ((t.source == a) | (t.target == a))).any()
            checked.append(len(colleagues))

    model.move = move_and_check
    model.run()
    assert len(checked) > 50 and sum(checked) > 200


def test_rotations_and_completions_are_not_exits_and_carried_ties_stay_bounded():
    model = small(weeks=104, seed=3)
    exits, trainees, carried = 0, [], []
    while model.running:
        model.step()
        exits += model.counts.exits
        trainees.append(model.latest["trainees"])
        carried.append(int((model.ties.open & model.ties.personal).sum()))
    # Every changeover rotates all the trainees, yet manager exits stay at the turnover rate.
    assert exits < 0.25 * 240 * 2
    assert max(trainees) <= 94
    # Each rotation adds carried ties; dormant ones close, so they do not grow without bound.
    assert carried[51] > 0 and carried[-1] < 2 * carried[51] + 100


def test_the_start_is_stationary_in_tenure():
    model = small(weeks=1, seed=4)
    m = model.managers
    managers = ~m.is_trainee
    tenure = -m.post_since[managers]
    # Geometric with the weekly turnover hazard: mean about (1 - h) / h weeks.
    h = model.params.turnover_rate
    assert tenure.mean() == pytest.approx((1 - h) / h, rel=0.15)
    assert (m.training_week[m.is_trainee] < model.config.careers.training_weeks).all()


# --- Stylised fact 8 -------------------------------------------------------------------------
PIPELINE_SEEDS = range(30)


def pipeline_gains(*training_overrides):
    """Paired gain in clinical managers' share of leadership from postgraduate SL training, read
    over the last quarter of year 3 and of year 10 of the same 10-year runs."""
    def share(seed, *overrides):
        config = to_run_config(compose(["ics=small_ics", f"seed={seed}", "weeks=520",
                                        *overrides]))
        model = SharedLeadershipModel(config)
        model.run()
        return model.datacollector.get_model_vars_dataframe()["clinical_leadership_share"]

    gains = np.array([(share(s, "scenario=postgrad_sl_training", *training_overrides)
                       - share(s, "scenario=baseline")).to_numpy() for s in PIPELINE_SEEDS])
    return gains[:, 144:157].mean(axis=1), gains[:, 508:521].mean(axis=1)


def test_the_pipeline_carries_trained_doctors_into_leadership_posts():
    """The mechanism of fact 8: with SL training for doctors in postgraduate training, trained
    doctors hold more of the managers' doctor posts at 10 years than at 3."""
    for seed in range(3):
        model = small(weeks=520, seed=seed, scenario="postgrad_sl_training")
        held = []
        for week in (156, 520):
            while model.steps < week:
                model.step()
            m = model.managers
            trained = model.interventions[0]._enrolled_now(model)
            doctors = m.active & ~m.is_trainee & (m.profession == 0)
            held.append(np.count_nonzero(trained & doctors))
        assert held[1] > held[0]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the model does not show fact 8: the paired gain does not "
                   "grow detectably with the horizon (docs/ODD.md, 'Stylised fact 8')")
def test_fact_8_the_gain_from_postgraduate_training_grows_with_the_horizon():
    """Trained doctors take clinical leadership posts as they complete training, so the paired
    gain in clinical managers' share of leadership should be larger at 10 years than at 3. The
    model does not show it (30 seeds: +0.0004 +- 0.0005 between the horizons): the training
    gain (+0.1 on 0-1 traits) fades with its 104-week half-life before trained doctors lead,
    and even when it lasts it moves claims and grants by a few points for the one clinical
    manager in ten whose post a trained doctor holds by year 10. Strict: if the model comes to
    show fact 8, this test fails and the ODD must be updated."""
    at_3_years, at_10_years = pipeline_gains()
    assert_paired_increase(at_10_years, at_3_years)
