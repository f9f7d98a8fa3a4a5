"""The reference engine (idiomatic Mesa) and its docking with the vectorised engine."""

import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from simulation.config import build_config
from simulation.model import SharedLeadershipModel
from simulation.params import ConfigError
from simulation.population import DOCTOR
from simulation.reference import (
    DOCKED_OUTPUTS,
    ReferenceManager,
    ReferenceModel,
    docking_runs,
    equivalence,
)
from simulation.state import PERSON_FIELDS


def assert_same_outputs(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        assert value == theirs[name] or (math.isnan(value) and math.isnan(theirs[name])), name


def assert_same_state(reference: ReferenceModel, vectorised: SharedLeadershipModel) -> None:
    managers, ties = reference.state()
    for f in fields(managers):
        np.testing.assert_array_equal(getattr(managers, f.name),
                                      getattr(vectorised.managers, f.name), err_msg=f.name)
    for f in fields(ties):
        np.testing.assert_array_equal(getattr(ties, f.name), getattr(vectorised.ties, f.name),
                                      err_msg=f.name)


def open_relationships(ties) -> dict[tuple[int, int], tuple]:
    """Every open tie by its pair of posts: (trust, granted, last contact, carried)."""
    return {(int(ties.source[k]), int(ties.target[k])): (
        float(ties.trust[k]), float(ties.granted[k]), int(ties.last_contact[k]),
        bool(ties.personal[k])) for k in np.flatnonzero(ties.open)}


def assert_ties_consistent(model: ReferenceModel) -> None:
    """Each agent's ties mirror its partners'; carried ties only join people in post where no
    role tie does; state() puts every open tie at its index, the reverse at ``reverse``."""
    for agent in model.posts:
        for j, tie in agent.ties.items():
            back = model.posts[j].ties[agent.post]
            assert back.personal == tie.personal and back.open == tie.open
            assert (tie.index < model.n_role_ties) != tie.personal
            if tie.personal:
                assert tie.open and agent.active and model.posts[j].active
                assert not model.network.G.has_edge(agent.post, j)
    _, ties = model.state()
    opened = np.flatnonzero(ties.open)
    assert ties.open[ties.reverse[opened]].all()
    np.testing.assert_array_equal(ties.source[ties.reverse[opened]], ties.target[opened])
    assert len(open_relationships(ties)) == len(opened)  # at most one open tie per pair


def test_reference_starts_from_the_vectorised_engines_state():
    config = build_config(ics="small_ics", seed=8, weeks=3)
    vectorised, reference = SharedLeadershipModel(config), ReferenceModel(config)
    assert_same_state(reference, vectorised)
    assert_same_outputs(reference.latest, vectorised.latest)


def test_agents_are_mesa_agents_with_role_ties_from_the_network():
    model = ReferenceModel(ics="small_ics", seed=2, weeks=2)
    assert len(model.agents) == len(model.posts) == 240 + 94  # managers and trainees
    agent = model.posts[7]
    assert isinstance(agent, ReferenceManager)
    neighbours = {partner.post for partner in agent.cell.neighborhood.agents}
    assert neighbours == set(agent.ties)
    assert all(agent.post in model.posts[j].ties for j in neighbours)
    assert not model.carried  # carried ties appear only when people change post


@pytest.mark.parametrize("schedule", ["sequential", "staged"])
def test_reference_runs_reproducibly_with_exits_promotions_and_rotations(schedule):
    def run():
        model = ReferenceModel(ics="small_ics", seed=4, weeks=30, schedule=schedule,
                               turnover_rate=0.02, recruitment_lag=3, rotation_weeks=13,
                               min_weeks_in_post=0)
        model.run()
        return model

    model = run()
    series = model.datacollector.get_model_vars_dataframe()
    assert len(series) == 31 and model.steps == 30
    assert series["exits"].sum() > 20 and series["promotions"].sum() > 5
    managers, _ = model.state()
    assert (~managers.active & ~managers.is_trainee).sum() == series["vacancies"].iloc[-1]
    assert managers.hired_week.max() > 0  # posts were filled again
    assert (managers.post_since[managers.is_trainee & managers.active] == 26).all()  # rotated
    assert model.carried  # people who moved kept relationships off their new role ties
    assert_ties_consistent(model)
    assert np.isfinite(series.drop(columns="team_sl_delivery_corr").to_numpy(dtype=float)).all()
    np.testing.assert_array_equal(series.to_numpy(), run().datacollector
                                  .get_model_vars_dataframe().to_numpy())


def make_twins(seed: int = 5):
    """Both engines at the same starting state, with distinct trust and leadership on every
    tie (the same values in both), so a moved relationship can be recognised."""
    config = build_config(ics="small_ics", seed=seed, weeks=10)
    vectorised, reference = SharedLeadershipModel(config), ReferenceModel(config)
    rng = np.random.default_rng(seed)
    t = vectorised.ties
    t.trust[:] = rng.random(len(t))
    t.granted[:] = rng.random(len(t)) * t.open
    t.last_contact[:] = rng.integers(-20, 0, len(t))
    for tie in reference.role_ties:
        tie.trust, tie.granted = float(t.trust[tie.index]), float(t.granted[tie.index])
        tie.last_contact = int(t.last_contact[tie.index])
    return vectorised, reference


def test_relationships_move_one_at_a_time_as_the_vectorised_rule_moves_them():
    """The reference's scalar rule (each relationship in turn) and relationships.move_people
    (all at once) leave the same ties when the same people change post: a promotion chain, a
    trainee rotation cycle, then a leaver with carried ties."""
    vectorised, reference = make_twins()
    m = vectorised.managers
    managers = np.flatnonzero(~m.is_trainee)
    a, b, c = managers[:3]  # c leaves; b takes c's post, a takes b's; a's post falls vacant
    trainees = vectorised.trainee_posts[:4]
    steps = [("leave", [c]), ("move", ([b, a], [c, b])),
             ("move", (trainees, np.roll(trainees, -1))), ("leave", [b])]
    for kind, posts in steps:
        if kind == "leave":
            vectorised.vacate(np.array(posts))
            for post in posts:
                reference.posts[post].leave()
        else:
            origin, destination = (np.array(x) for x in posts)
            vectorised.move(0, origin, destination)
            reference.move(origin, destination)
        _, ties = reference.state()
        assert open_relationships(ties) == open_relationships(vectorised.ties), kind
        np.testing.assert_array_equal(ties.trust[:reference.n_role_ties],
                                      vectorised.ties.trust[:reference.n_role_ties])
        managers_now, _ = reference.state()
        for name in (*PERSON_FIELDS, "active", "vacant_weeks"):
            np.testing.assert_array_equal(getattr(managers_now, name),
                                          getattr(vectorised.managers, name), err_msg=name)
        assert_ties_consistent(reference)
    assert reference.carried


def test_careers_fill_the_same_posts_with_the_same_people_given_the_same_draws():
    """The careers phase at a changeover, from the same state and with the vectorised engine's
    uniforms: the same promotions, completions, rotations and hires, and the same ties after
    them (hires differ only in their drawn traits)."""
    vectorised, reference = make_twins(seed=6)
    m, c = vectorised.managers, vectorised.config.careers
    rng = np.random.default_rng(1)
    doctor_posts = np.flatnonzero(~m.is_trainee & (m.career_stage == 0) & (m.profession == DOCTOR)
                                  & m.is_clinical)
    leavers = np.union1d(rng.choice(np.flatnonzero(~m.is_trainee), 40, replace=False),
                         doctor_posts[:4])
    completing = vectorised.trainee_posts[::4]
    vectorised.vacate(leavers)
    m.vacant_weeks[leavers] = 1  # their recruitment lag is over this week
    m.training_week[completing] = c.training_weeks - 1
    for post in leavers:
        reference.posts[post].leave()
        reference.posts[post].vacant_weeks = 1
    for post in completing:
        reference.posts[post].training_week = c.training_weeks - 1
    week = c.rotation_weeks
    reference.steps = week
    reference.rng = vectorised.streams.weekly("careers", week)  # the same uniforms
    vectorised.careers(week)
    reference.careers()

    assert reference.counts.promotions == vectorised.counts.promotions > 5
    managers, ties = reference.state()
    for name in ("active", "vacant_weeks", "post_since"):
        np.testing.assert_array_equal(getattr(managers, name), getattr(m, name), err_msg=name)
    moved_or_stayed = m.hired_week != week
    assert (~moved_or_stayed).sum() > 20  # hires, new trainees among them
    for name in PERSON_FIELDS:
        np.testing.assert_array_equal(getattr(managers, name)[moved_or_stayed],
                                      getattr(m, name)[moved_or_stayed], err_msg=name)
    assert open_relationships(ties) == open_relationships(vectorised.ties)
    assert_ties_consistent(reference)


def test_carried_ties_meet_less_often_and_close_when_dormant():
    def carried_ties(contact):
        model = ReferenceModel(ics="small_ics", seed=3, weeks=40, carried_tie_contact=contact,
                               tie_dormancy_weeks=4, rotation_weeks=13)
        model.run()
        managers, ties = model.state()
        carried = np.flatnonzero(ties.personal & ties.open)
        # A carried tie opens when one of the two changes post: it has met since only if its
        # last contact is later than both took their posts.
        since = np.maximum(managers.post_since[ties.source], managers.post_since[ties.target])
        met_since = ties.last_contact[carried] > since[carried]
        last = np.maximum(ties.last_contact, ties.last_contact[ties.reverse])[carried]
        return model, met_since, last

    model, met_since, last = carried_ties(0.0)
    assert len(last) and not met_since.any()
    assert (model.steps - last <= 4).all()  # the others closed
    assert carried_ties(1.0)[1].any()


def test_trainees_are_not_managers():
    model = ReferenceModel(ics="small_ics", seed=1, weeks=3, task_rate=0.0, turnover_rate=0.1)
    model.step()
    trainee = np.array([a.is_trainee for a in model.posts])
    bureaucracy = np.array([a.bureaucracy for a in model.posts])
    active = np.array([a.active for a in model.posts])
    assert (bureaucracy[trainee] == 0).all()  # no governance hours, and no tasks this week
    assert (bureaucracy[~trainee & active] > 0).all()
    assert (~active & trainee).any()  # trainees left ...
    assert model.counts.exits == model.counts.leavers.sum() == (~active & ~trainee).sum()
    assert model.latest["vacancies"] == (~active & ~trainee).sum()


def test_reference_refuses_interventions_and_unknown_schedules():
    with pytest.raises(ConfigError, match="schedule = 'random'"):
        ReferenceModel(ics="small_ics", schedule="random")
    with pytest.raises(ConfigError, match="reference engine"):
        ReferenceModel(build_config(ics="small_ics", scenario="protected_time"))


def test_equivalence_detects_a_shift_beyond_the_margin():
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(30):
        base = {name: 1.0 + 0.02 * rng.standard_normal() for name in DOCKED_OUTPUTS}
        rows.append({"engine": "sequential", "seed": seed, **base})
        rows.append({"engine": "same", "seed": seed,
                     **{k: v + 0.01 * rng.standard_normal() for k, v in base.items()}})
        rows.append({"engine": "shifted", "seed": seed, **{k: 1.2 * v for k, v in base.items()}})
    runs = pd.DataFrame(rows)
    assert equivalence(runs, "same").equivalent.all()
    shifted = equivalence(runs, "shifted")
    assert not shifted.equivalent.any()
    assert shifted.difference_pct.between(19, 21).all()


@pytest.mark.slow
def test_docking_the_vectorised_engine_against_the_reference():
    """Over 120 seeds of small_ics, 156 weeks, the vectorised engine and the Mesa reference agree
    within +-10% of the reference mean on every docked output (paired TOST at 5%), careers
    included: promotions over the run, the leaver rate and team SL density.

    The reference runs its staged schedule, the vectorised engine's phase order, so the test
    docks the rules. The sequential schedule is a different model of time within a week: it
    raises team SL density by about 7% (docs/benchmarks.md compares the schedules). The paired
    differences of the leaver rate and of promotions have SDs near 30% of the mean, so with 60
    seeds the test had about a 60% chance for each of them to show equivalence when the engines
    agree; on the calibrated default (more burnout exits) the leaver rate's interval reached
    +10.2% with 60, so the test takes 120 seeds, as a failure on those two alone called for
    more seeds before a bug hunt."""
    runs = docking_runs(range(120), weeks=156, engines=("vectorised", "staged"))
    table = equivalence(runs, "vectorised", "staged")
    assert table.equivalent.all(), table.to_string()
