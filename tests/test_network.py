"""The network's compiled generators give networkx's graphs from the same stream (network.py)."""

import networkx as nx
import numpy as np
import pytest

from simulation import kernels
from simulation.network import cross_org_edges, draw_edges, within_org_edges
from simulation.teams import team_edges


def edge_set(edges) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in np.asarray(edges).tolist()}


def next_draws(rng: np.random.Generator) -> np.ndarray:
    return rng.random(4)


@pytest.mark.parametrize(("n", "degree", "seed"), [
    (2, 0.5, 0), (7, 2.0, 1), (60, 6.0, 2), (400, 11.0, 3), (1500, 14.0, 4), (30, 40.0, 5)])
def test_within_organisation_edges_are_networkx_gnp_from_the_same_stream(n, degree, seed):
    members = np.arange(100, 100 + n)
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    edges = within_org_edges(ours, members, degree)
    graph = nx.fast_gnp_random_graph(n, min(1.0, degree / (n - 1)), seed=theirs)
    assert edge_set(edges) == edge_set(members[np.array(list(graph.edges()), dtype=int)
                                               .reshape(-1, 2)])
    assert np.array_equal(next_draws(ours), next_draws(theirs))  # the stream left alike


@pytest.mark.parametrize(("n", "seed"), [(2, 0), (9, 1), (300, 2), (2000, 3)])
def test_cross_organisation_edges_are_networkx_chung_lu_from_the_same_stream(n, seed):
    setup = np.random.default_rng(100 + seed)
    weights = setup.choice([0.5, 1.0, 2.0, 6.0], size=n)  # repeated weights: ties in the sort
    org = setup.integers(0, 4, size=n)
    members = np.arange(n)
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    edges = cross_org_edges(ours, members, weights, org)
    graph = nx.expected_degree_graph(weights.tolist(), seed=theirs, selfloops=False)
    expected = {(a, b) for a, b in edge_set(list(graph.edges())) if org[a] != org[b]}
    assert edge_set(edges) == expected
    assert np.array_equal(next_draws(ours), next_draws(theirs))


def test_a_generator_given_too_few_uniforms_is_run_again_on_more_with_the_same_result():
    n, p = 500, 0.05
    short, enough = np.random.default_rng(7), np.random.default_rng(7)
    results = []
    for rng, estimate in ((short, 3), (enough, 100_000)):
        results.append(edge_set(draw_edges(
            rng, estimate, lambda u, edges: kernels.gnp_edges(n, p, u, edges))))
    assert results[0] == results[1] and len(results[0]) > 0
    assert np.array_equal(next_draws(short), next_draws(enough))


def test_team_edges_take_one_uniform_per_pair_team_by_team():
    team = np.array([2, 0, 2, 1, 0, 2, 2])
    rng, check = np.random.default_rng(3), np.random.default_rng(3)
    edges = team_edges(team, 0.6, rng)
    expected = []
    for t in np.unique(team):  # the teams in order; each its pairs in np.triu_indices order
        members = np.flatnonzero(team == t)
        i, j = np.triu_indices(len(members), k=1)
        keep = check.random(len(i)) < 0.6
        expected += list(zip(members[i[keep]].tolist(), members[j[keep]].tolist(),
                             strict=True))
    assert edges.tolist() == [list(pair) for pair in expected]
    assert np.array_equal(next_draws(rng), next_draws(check))
