"""The professional network, drawn from the run's seeded generator.

Densest inside a team (``teams.py``), then inside an organisation (a G(n, p) graph per
organisation), sparse across organisations of the same system (a Chung-Lu expected-degree graph
weighted toward boundary spanners: the ICB and established leaders). A second Chung-Lu draw gives
latent *forum* ties, closed at the start, which the clear-communication intervention can open.
These are the *role ties*: they join posts. The graph is turned into directed edge arrays: each
undirected edge gives the ties i -> j and j -> i. After them come free slots for the *carried
ties* a person keeps when they change post (``relationships.py``).

The random graphs are networkx's generators (``fast_gnp_random_graph``,
``expected_degree_graph``), run compiled (:mod:`simulation.kernels`) on the uniforms networkx
would draw from the same stream one at a time: the same edges, and the stream left where
networkx would leave it (``tests/test_network.py`` checks both against networkx itself).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import networkx as nx
import numpy as np

from . import kernels
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


def draw_edges(rng: np.random.Generator, estimate: int,
               generate: Callable[[np.ndarray, np.ndarray], tuple[int, int]]) -> np.ndarray:
    """The edges ``generate(u, edges)`` writes from uniforms ``u`` of ``rng`` (a generator of
    :mod:`simulation.kernels`: it returns (edges written, uniforms used), or (-1, -1) if ``u``
    ran out), leaving ``rng`` as if each uniform used had been drawn one at a time. The uniforms
    are drawn ``estimate`` at a time, and twice as many from the same start when too few; each
    edge takes a uniform at least, so ``edges`` is as long as ``u``."""
    start = rng.bit_generator.state
    size = max(estimate, 16)
    while True:
        u = rng.random(size)
        edges = np.empty((size, 2), dtype=np.int64)
        count, used = generate(u, edges)
        if count >= 0:
            break
        rng.bit_generator.state = start
        size *= 2
    rng.bit_generator.state = start
    rng.random(used)  # the draws used, and no more
    return edges[:count]


def within_org_edges(rng: np.random.Generator, members: np.ndarray, degree: float) -> np.ndarray:
    """Edges of a G(n, p) graph with mean ``degree`` among one organisation's ``members``
    (``networkx.fast_gnp_random_graph``)."""
    n = len(members)
    p = min(1.0, degree / (n - 1)) if n >= 2 else 0.0
    if p <= 0.0:
        return np.empty((0, 2), dtype=np.int64)
    if p >= 1.0:  # the complete graph, with no draws (as networkx)
        i, j = np.triu_indices(n, k=1)
        return members[np.column_stack([i, j])]
    expected = p * n * (n - 1) / 2  # edges, each one uniform, and one more to end
    edges = draw_edges(rng, int(expected + 8.0 * np.sqrt(expected) + 16),
                       lambda u, out: kernels.gnp_edges(n, p, u, out))
    return members[edges]


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
    """Chung-Lu edges among one system's ``members`` (``networkx.expected_degree_graph``, no
    self-loops), keeping only those between organisations."""
    if len(members) < 2 or weights.sum() <= 0:
        return np.empty((0, 2), dtype=np.int64)
    order = np.argsort(-weights, kind="stable")  # decreasing; ties in their first order
    seq = weights[order]
    rho = 1 / sum(weights.tolist())  # Python's own sum, as networkx's
    expected = 2.0 * weights.sum() + 2.0 * len(weights)  # about two uniforms an edge, one a node
    edges = draw_edges(rng, int(expected + 8.0 * np.sqrt(expected) + 16),
                       lambda u, out: kernels.chung_lu_edges(seq, rho, u, out))
    edges = members[order[edges]]
    return edges[org[edges[:, 0]] != org[edges[:, 1]]]


def _unique_undirected(edges: np.ndarray, n: int) -> np.ndarray:
    """The distinct undirected edges (i < j), in lexicographic order, among ``n`` posts."""
    lo, hi = np.minimum(edges[:, 0], edges[:, 1]), np.maximum(edges[:, 0], edges[:, 1])
    keys = np.sort(lo * n + hi)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys  # np.unique, faster
    return np.column_stack([keys // n, keys % n])


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
    n = len(managers)
    existing = _unique_undirected(np.concatenate(open_edges), n)
    forum = _unique_undirected(np.concatenate(forum_edges), n)
    if len(forum) and len(existing):
        # Drop forum ties that duplicate an existing tie (both lists are sorted by key).
        key, forum_key = existing[:, 0] * n + existing[:, 1], forum[:, 0] * n + forum[:, 1]
        at = np.minimum(np.searchsorted(key, forum_key), len(key) - 1)
        forum = forum[key[at] != forum_key]
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
