"""The professional network, built with networkx from the run's seeded generator.

Densest inside a team (``teams.py``), then inside an organisation (a G(n, p) graph per
organisation), sparse across organisations of the same system (a Chung-Lu expected-degree graph
weighted toward boundary spanners: the ICB and established leaders). A second Chung-Lu draw gives
latent *forum* ties, closed at the start, which the clear-communication intervention can open.
These are the *role ties*: they join posts. The graph is turned into directed edge arrays: each
undirected edge gives the ties i -> j and j -> i. After them come free slots for the *carried
ties* a person keeps when they change post (``relationships.py``).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import networkx as nx
import numpy as np

from .params import ORG_TYPES, CareerParams, ModelParams, NetworkParams
from .rules import boundary_trust
from .state import Managers, Organisations, Ties
from .teams import team_edges

ICB = ORG_TYPES.index("icb")
ESTABLISHED = 2

# Who hears how far the network's set-up has got: a national system (42 ICBs) takes seconds to
# build, and the app shows it. Set per thread of control, so concurrent builds do not mix, and
# only listens: the draws and the network built are the same with or without it.
SetupProgress = Callable[[str, int, int], None]  # (step, done, total)
_SETUP_PROGRESS: ContextVar[SetupProgress | None] = ContextVar("setup_progress", default=None)


@contextmanager
def setup_progress(on_progress: SetupProgress | None) -> Iterator[None]:
    """Within the block, every network built reports ``on_progress(step, done, total)``."""
    token = _SETUP_PROGRESS.set(on_progress)
    try:
        yield
    finally:
        _SETUP_PROGRESS.reset(token)


def report_setup(step: str, done: int, total: int) -> None:
    """Tell the listener of :func:`setup_progress`, if any, that ``done`` of ``total`` are."""
    listener = _SETUP_PROGRESS.get()
    if listener is not None:
        listener(step, done, total)


def within_org_edges(rng: np.random.Generator, members: np.ndarray, degree: float) -> np.ndarray:
    """Edges of a G(n, p) graph with mean ``degree`` among one organisation's ``members``."""
    n = len(members)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    graph = nx.fast_gnp_random_graph(n, min(1.0, degree / (n - 1)), seed=rng)
    return members[np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)]


def spanning_weights(managers: Managers, orgs: Organisations, net: NetworkParams,
                     mean_degree: float) -> np.ndarray:
    """Expected cross-organisation degree of each manager, averaging ``mean_degree``.

    ICB managers and established leaders span more boundaries (assumption; Waring et al. 2023:
    clinical leaders broker relationships).
    """
    weight = np.ones(len(managers))
    weight[orgs.type_code[managers.org] == ICB] *= net.icb_spanning_factor
    weight[managers.career_stage == ESTABLISHED] *= net.established_spanning_factor
    return mean_degree * weight / weight.mean()


def cross_org_edges(rng: np.random.Generator, members: np.ndarray, weights: np.ndarray,
                    org: np.ndarray) -> np.ndarray:
    """Chung-Lu edges among one system's ``members``, keeping only those between organisations."""
    if len(members) < 2 or weights.sum() <= 0:
        return np.empty((0, 2), dtype=np.int64)
    graph = nx.expected_degree_graph(weights.tolist(), seed=rng, selfloops=False)
    edges = members[np.array(list(graph.edges()), dtype=np.int64).reshape(-1, 2)]
    return edges[org[edges[:, 0]] != org[edges[:, 1]]]


def _unique_undirected(edges: np.ndarray) -> np.ndarray:
    edges = np.sort(edges, axis=1)
    return np.unique(edges, axis=0) if len(edges) else edges


def build_ties(rng: np.random.Generator, managers: Managers, orgs: Organisations,
               net: NetworkParams, model: ModelParams, career: CareerParams) -> Ties:
    """Build the network and its directed tie arrays with their starting trust and leadership.

    Starting trust is ``trust_baseline`` less ``boundary_trust_gap`` for each boundary crossed
    (T2 "them and us"; the sizes are assumptions). In a hierarchical start, colleagues recognise
    formal leaders' authority: ties toward them start with granted leadership
    ``initial_hierarchy / 2`` (assumption); all other leadership emerges.
    """
    org = managers.org
    open_edges, forum_edges = [team_edges(managers.team, net.team_tie_density, rng)], []
    for o in range(len(orgs)):
        open_edges.append(within_org_edges(rng, np.flatnonzero(org == o), net.within_org_degree))
    systems = np.unique(orgs.system)
    report_setup("network", 0, len(systems))
    for done, s in enumerate(systems, start=1):
        members = np.flatnonzero(orgs.system[org] == s)
        local = managers.take(members)
        open_edges.append(cross_org_edges(
            rng, members, spanning_weights(local, orgs, net, net.cross_org_degree), org))
        forum_edges.append(cross_org_edges(
            rng, members, spanning_weights(local, orgs, net, net.forum_ties_per_manager), org))
        report_setup("network", done, len(systems))
    existing = _unique_undirected(np.concatenate(open_edges))
    forum = _unique_undirected(np.concatenate(forum_edges))
    if len(forum):
        # Drop forum ties that duplicate an existing tie.
        key = existing[:, 0] * len(managers) + existing[:, 1]
        forum = forum[~np.isin(forum[:, 0] * len(managers) + forum[:, 1], key)]
    undirected = np.concatenate([existing, forum])
    is_open = np.concatenate([np.ones(len(existing), bool), np.zeros(len(forum), bool)])

    m = len(undirected)
    pairs = max(1, round(career.carried_tie_pool * m))  # carried-tie slots, in pairs
    # Native-width indices: numpy gathers by them without converting them every time.
    source = np.concatenate([undirected[:, 0], undirected[:, 1],
                             np.zeros(2 * pairs, dtype=np.int64)]).astype(np.intp)
    target = np.concatenate([undirected[:, 1], undirected[:, 0],
                             np.zeros(2 * pairs, dtype=np.int64)]).astype(np.intp)
    pool = 2 * m + np.arange(0, 2 * pairs, 2)
    reverse = np.concatenate([np.arange(m, 2 * m), np.arange(m),
                              np.column_stack([pool + 1, pool]).ravel()])
    personal = np.arange(len(source)) >= 2 * m
    cross_group = (managers.is_clinical[source] != managers.is_clinical[target]) & ~personal
    cross_org = (org[source] != org[target]) & ~personal
    is_open = np.concatenate([is_open, is_open, np.zeros(2 * pairs, dtype=bool)])
    trust = boundary_trust(model.trust_baseline, model.boundary_trust_gap, cross_group, cross_org)
    return Ties(
        source=source,
        target=target,
        reverse=reverse,
        cross_group=cross_group,
        cross_org=cross_org,
        open=is_open,
        trust=trust,
        granted=0.5 * model.initial_hierarchy * (managers.formal_leader[target] & is_open),
        personal=personal,
        last_contact=np.zeros(len(source), dtype=np.int64),
    )


def role_tie_count(ties: Ties) -> int:
    """How many of the tie slots are role ties (the carried-tie slots follow them)."""
    return int(np.count_nonzero(~ties.personal))


def to_networkx(ties: Ties, n: int, only_open: bool = True) -> nx.Graph:
    """The undirected professional network as a networkx graph (for layouts and analysis)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    keep = ties.source < ties.target
    if only_open:
        keep &= ties.open
    graph.add_edges_from(zip(ties.source[keep].tolist(), ties.target[keep].tolist(), strict=True))
    return graph
