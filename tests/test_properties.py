"""Property tests (hypothesis) of the model's invariants, checked every step."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import rules
from simulation.config import RunConfig, ScenarioConfig
from simulation.model import SharedLeadershipModel
from simulation.params import (
    ORG_TYPES,
    CareerParams,
    ICSConfig,
    ModelParams,
    OrgSpec,
    parameter_specs,
)

UNIT = st.floats(0.0, 1.0)
UNIT_STATES = ("motivation", "leader_identity", "sl_skill", "understanding", "support", "stress")


@given(identity=UNIT, motivation=UNIT, gap=UNIT, base=UNIT, weight=UNIT, duty=UNIT,
       trust=UNIT, skill=UNIT, conflict=UNIT, understanding=UNIT, misalignment=UNIT,
       clarity=UNIT, cross=st.booleans(), time_i=UNIT, time_j=UNIT)
def test_rule_probabilities_are_probabilities(identity, motivation, gap, base, weight, duty,
                                              trust, skill, conflict, understanding,
                                              misalignment, clarity, cross, time_i, time_j):
    probabilities = [
        rules.claim_probability(identity, motivation, gap, base, weight, duty),
        rules.grant_probability(trust, skill, base, 2.0, 2.0,
                                rules.conflict_damping(conflict, cross, understanding),
                                rules.misalignment_damping(misalignment, cross, clarity)),
        rules.success_probability(skill, identity, time_i, time_j, base, weight, duty,
                                  conflict, cross),
        rules.interaction_probability(base, time_i, time_j),
        rules.exit_probability(motivation, gap, base, weight),
    ]
    for p in probabilities:
        assert np.isfinite(p) and 0.0 <= p <= 1.0


def _ranged(name):
    low, high = parameter_specs(ModelParams)[name]["range"]
    return st.floats(low, high, allow_nan=False)


organisation = st.builds(
    OrgSpec,
    type=st.sampled_from(ORG_TYPES),
    count=st.integers(1, 3),
    managers=st.integers(1, 25),
    clinical_share=UNIT,
    bureaucracy_layers=st.floats(0.0, 6.0),
    trainees=st.integers(0, 8),
)

BARRIERS = ("bureaucracy_load", "value_conflict", "goal_misalignment", "communication_clarity",
            "support", "time_scale", "turnover_rate", "burnout_exit_rate")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orgs=st.lists(organisation, min_size=1, max_size=4),
       barriers=st.fixed_dictionaries({name: _ranged(name) for name in BARRIERS}),
       recruitment_lag=st.integers(0, 6),
       scenario=st.sampled_from(["none", "coaching", "time", "forums"]),
       seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_every_step(orgs, barriers, recruitment_lag, scenario, seed):
    interventions = {
        "none": {},
        "coaching": {"c": {"kind": "coaching_support", "coverage": 1.0}},
        "time": {"t": {"kind": "protected_time", "coverage": 1.0, "end_week": 4}},
        "forums": {"f": {"kind": "clear_communication", "coverage": 1.0}},
    }[scenario]
    # Trainees rotate every 4 weeks and complete within the run, so careers run in 8 weeks.
    config = RunConfig(ics=ICSConfig(name="random", organisations=orgs), seed=seed, weeks=8,
                       model=ModelParams(recruitment_lag=recruitment_lag, **barriers),
                       careers=CareerParams(rotation_weeks=4, training_weeks=26,
                                            min_weeks_in_post=0, carried_tie_pool=0.05),
                       scenario=ScenarioConfig(name=scenario, interventions=interventions))
    model = SharedLeadershipModel(config)
    n = len(model.managers)
    manager_posts = sum(o.count * o.managers for o in orgs)
    assert n == manager_posts + sum(o.count * o.trainees for o in orgs)
    assert model.ties.source.max(initial=-1) < n and model.ties.target.max(initial=-1) < n
    for _ in range(8):
        model.step()
        m, t = model.managers, model.ties
        for name in UNIT_STATES:
            values = getattr(m, name)
            assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()
        for values in (t.trust, t.granted, model.organisations.clarity):
            assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()
        assert (m.backlog >= -1e-9).all() and (m.backlog_age >= -1e-9).all()
        assert (model.organisations.layers >= 0).all()
        assert len(model.agents) == int(m.active.sum())
        assert model.latest["vacancies"] + int((m.active & ~m.is_trainee).sum()) == manager_posts
        corr = model.latest.pop("team_sl_delivery_corr")  # NaN where no team varies
        assert np.isnan(corr) or -1.0 <= corr <= 1.0
        assert all(np.isfinite(v) for v in model.latest.values())
        # At most one open tie per pair of posts, and no open tie to an empty post.
        open_ = t.open
        pairs = np.sort(np.column_stack([t.source[open_], t.target[open_]]), axis=1)
        assert len(np.unique(pairs, axis=0)) * 2 == open_.sum()
        assert m.active[t.source[open_ & t.personal]].all()
        for name in ("sl_density", "cross_profession_share", "cross_org_share", "burnout_share",
                     "leadership_gini", "collaboration_success_rate"):
            assert 0.0 <= model.latest[name] <= 1.0
        assert not m.active[t.source[t.granted > 0]].__invert__().any()


def test_barriers_at_their_extremes_run_cleanly():
    for level in (0.0, 1.0):
        barriers = {name: level for name in ("bureaucracy_load", "value_conflict",
                                             "goal_misalignment", "communication_clarity",
                                             "support")}
        model = SharedLeadershipModel(ics="small_ics", seed=2, weeks=20, **barriers)
        model.run()
        frame = model.datacollector.get_model_vars_dataframe()
        corr = frame.pop("team_sl_delivery_corr")  # NaN in weeks where no team varies
        assert (corr.isna() | corr.between(-1.0, 1.0)).all()
        assert np.isfinite(frame.to_numpy(dtype=float)).all()
