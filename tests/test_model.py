"""The Mesa model: construction, agents as views, the DataCollector, reproducibility."""

import mesa
import numpy as np
import pytest

from simulation.agents import Manager
from simulation.config import RunConfig, build_config
from simulation.metrics import OUTPUTS, freeman_centralisation, gini, top_share
from simulation.model import SharedLeadershipModel
from simulation.network import to_networkx
from simulation.params import ConfigError, ICSConfig, OrgSpec


def small(**kwargs):
    return SharedLeadershipModel(ics="small_ics", **kwargs)


def test_builds_from_keywords_and_agents_are_views_onto_arrays():
    model = small(seed=3, weeks=4)
    # small_ics: 240 manager posts, then 94 posts of doctors in postgraduate training.
    assert len(model.agents) == len(model.managers) == 240 + 94
    assert model.managers.is_trainee.tolist() == [False] * 240 + [True] * 94
    agent = model.agents_by_type[Manager].to_list()[5]
    index = agent.index
    assert agent.leader_identity == model.managers.leader_identity[index]
    agent.stress = 0.42
    assert model.managers.stress[index] == 0.42
    assert agent.org_type in {"icb", "acute_trust", "community_trust", "mental_health_trust",
                              "pcn", "social_care"}
    assert isinstance(agent.is_clinical, bool)
    expected_hours = {True: 4.0, False: 15.0}[agent.is_clinical] * (0.75, 1.0, 1.5)[
        agent.career_stage]
    assert agent.leadership_hours == pytest.approx(expected_hours)
    with pytest.raises(AttributeError):
        _ = agent.no_such_state


def test_agentset_operations_work_on_views():
    model = small(seed=1, weeks=2)
    clinical = model.agents.select(lambda a: a.is_clinical)
    assert len(clinical) == int(model.managers.is_clinical.sum())
    identities = model.agents.get("leader_identity")
    np.testing.assert_allclose(sorted(identities), sorted(model.managers.leader_identity))


def test_datacollector_collects_every_output_weekly():
    model = small(seed=1, weeks=5)
    model.run()
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == list(OUTPUTS)
    assert len(frame) == 6  # week 0 plus five weeks
    assert model.steps == 5 and not model.running
    # The team SL-delivery correlation is undefined (NaN) exactly while one side has nothing to
    # correlate: no team has delivered anything yet, or no team holds a leadership tie yet.
    undefined = (frame["tasks_completed"] == 0) | (frame["team_sl_density"] == 0)
    assert undefined.iloc[0] and not undefined.iloc[-1]
    assert frame["team_sl_delivery_corr"].isna().tolist() == undefined.tolist()
    assert np.isfinite(frame.drop(columns="team_sl_delivery_corr").to_numpy(dtype=float)).all()


def test_agent_level_collection_on_request():
    config = build_config(ics="small_ics", seed=1, weeks=2)
    config.collect_agents = True
    model = SharedLeadershipModel(config)
    model.run()
    agents = model.datacollector.get_agent_vars_dataframe()
    assert {"leader_identity", "stress", "leadership_received"} <= set(agents.columns)
    assert len(agents) >= 3 * 230


def test_batch_run_drives_the_model_with_keywords():
    results = mesa.batch_run(SharedLeadershipModel,
                             parameters={"ics": "small_ics", "weeks": 3,
                                         "bureaucracy_load": [0.1, 0.9]},
                             rng=[1, 2], max_steps=3, number_processes=1,
                             display_progress=False)
    assert len(results) == 4  # four runs, final week each
    assert {"sl_density", "bureaucracy_load", "seed"} <= set(results[0])
    with pytest.raises(ConfigError, match="integer seed"):
        mesa.batch_run(SharedLeadershipModel, parameters={"ics": "small_ics"}, max_steps=1,
                       number_processes=1, display_progress=False)


def test_same_seed_same_run_and_different_seeds_differ():
    def final_series(seed):
        model = small(seed=seed, weeks=20)
        model.run()
        return model.datacollector.get_model_vars_dataframe().to_numpy()

    np.testing.assert_array_equal(final_series(11), final_series(11))
    assert not np.array_equal(final_series(11), final_series(12))


def test_network_nodes_are_the_managers_and_ties_come_in_reverse_pairs():
    model = small(seed=2, weeks=1)
    t = model.ties
    graph = to_networkx(t, len(model.managers))
    assert graph.number_of_nodes() == len(model.managers)
    np.testing.assert_array_equal(t.source[t.reverse], t.target)
    np.testing.assert_array_equal(t.reverse[t.reverse], np.arange(len(t)))
    role = ~t.personal  # the role ties; the carried-tie slots after them start free
    assert not t.open[t.personal].any()
    assert (t.source[role] != t.target[role]).all()
    org, team = model.managers.org, model.managers.team
    within = org[t.source] == org[t.target]
    assert (within & role).sum() > 5 * (~within & t.open).sum()  # dense within, sparse across
    assert t.cross_org[~t.open & role].all()  # latent forum ties only cross organisations
    same_team = role & (team[t.source] == team[t.target])
    sizes = np.bincount(team)
    # Teams are dense: most pairs of team members are tied.
    assert same_team.sum() > 0.7 * (sizes * (sizes - 1)).sum()


def test_exits_are_replaced_and_posts_conserved():
    model = small(seed=4, weeks=60, burnout_exit_rate=0.2, turnover_rate=0.02,
                  recruitment_lag=3)
    stages, teams, understaffed, posts = (
        model.managers.career_stage.copy(), model.managers.team.copy(),
        model.managers.understaffed.copy(), int(np.count_nonzero(~model.managers.is_trainee)))
    total_exits = promotions = 0
    for _ in range(60):
        model.step()
        total_exits += model.counts.exits
        promotions += model.counts.promotions
        m = model.managers
        assert len(model.agents) == int(m.active.sum())
        assert int((m.active & ~m.is_trainee).sum()) + model.latest["vacancies"] == posts
    assert total_exits > 20 and promotions > 5
    # Posts keep their stage, team and staffing; people move between them.
    np.testing.assert_array_equal(model.managers.career_stage, stages)
    np.testing.assert_array_equal(model.managers.team, teams)
    np.testing.assert_array_equal(model.managers.understaffed, understaffed)


def test_the_share_of_understaffed_posts_is_the_surveys():
    """About two posts in three lack the staff to do the job properly (NHS Staff Survey 2024:
    34.0% say there are enough staff): on 1,000-odd posts, within 4 binomial SE."""
    m = SharedLeadershipModel(ics="default_ics", seed=0, weeks=1).managers
    share, n = m.understaffed.mean(), len(m)
    assert abs(share - 0.66) < 4 * np.sqrt(0.66 * 0.34 / n)


def test_vacated_posts_hold_no_leadership_until_filled():
    model = small(seed=5, weeks=30)
    for _ in range(26):
        model.step()
    leaders = np.argsort(model.received)[-3:]
    model.vacate(leaders)
    touched = np.isin(model.ties.source, leaders) | np.isin(model.ties.target, leaders)
    assert (model.ties.granted[touched] == 0).all()
    assert not model.managers.active[leaders].any()
    assert all(model.agent_at[p] is None for p in leaders)
    model.step()
    assert model.received[leaders].sum() == 0


def test_metric_helpers():
    assert gini(np.ones(10)) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    assert freeman_centralisation(np.array([3.0, 0.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert freeman_centralisation(np.ones(4)) == 0.0
    assert top_share(np.array([1.0] * 19 + [81.0]), 0.05) == pytest.approx(0.81)


def one_org_config(**model):
    org = OrgSpec(type="pcn", count=1, managers=12, clinical_share=0.3, bureaucracy_layers=3.0)
    ics = ICSConfig(name="one_org", organisations=[org])
    return RunConfig(ics=ics, weeks=30, seed=1, **model)


def test_an_organisation_with_no_cross_organisation_ties_runs():
    model = SharedLeadershipModel(one_org_config())
    assert not model.ties.cross_org.any()
    model.run()
    assert model.latest["cross_org_share"] == 0.0


def test_a_single_manager_runs():
    org = OrgSpec(type="icb", count=1, managers=1, clinical_share=0.3, bureaucracy_layers=3.0)
    ics = ICSConfig(name="solo", organisations=[org])
    model = SharedLeadershipModel(RunConfig(ics=ics, weeks=10))
    model.run()
    assert not model.ties.open.any()
    assert model.latest["sl_density"] == 0.0
