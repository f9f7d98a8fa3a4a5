"""Teams: a persistent partition of the posts into teams of a few people (docs/ODD.md, section 2).

The shared-leadership literature measures leadership within teams (Carson et al. 2007; Mathieu et
al. 2015; D'Innocenzo et al. 2016), so the model has teams to measure it in. Every post belongs to
one home team for the whole run: a leaver's replacement joins the same team, and a person who is
promoted or rotates takes the team of their new post. Most teams sit inside one organisation; a
share of each system's posts form cross-organisation teams (place-based or programme teams).
"""

import numpy as np

from . import kernels


def team_sizes(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """Sizes of the teams that partition ``n`` posts, each in [low, high] where ``n`` allows.

    Sizes are drawn uniformly from [low, high] until they cover ``n``; the last team takes the
    remainder. A remainder smaller than ``low`` joins the team before, and the two are split in
    halves when together they exceed ``high`` (both halves then hold at least ``low``, as the
    schema requires ``high >= 2 low - 1``). Fewer than ``low`` posts form one team.
    Grounding: teams of 4-15 (assumption, the range of the teams the SL studies measured).
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    # Enough draws to cover n even if every draw is ``low``: a fixed number of draws per call.
    draws = rng.integers(low, high + 1, size=n // low + 1)
    ends = np.cumsum(draws)
    count = int(np.searchsorted(ends, n)) + 1
    sizes = draws[:count].copy()
    sizes[-1] -= ends[count - 1] - n
    if count > 1 and sizes[-1] < low:
        together = sizes[-2] + sizes[-1]
        sizes = sizes[:-1]
        sizes[-1] = together
        if together > high:
            sizes = np.append(sizes[:-1], [together // 2, together - together // 2])
    return sizes


def partition(rng: np.random.Generator, n: int, low: int, high: int,
              first_team: int) -> np.ndarray:
    """Team numbers, from ``first_team``, for ``n`` posts taken in a random order."""
    order = rng.permutation(n)
    sizes = team_sizes(rng, n, low, high)
    team = np.empty(n, dtype=np.int64)
    team[order] = np.repeat(np.arange(first_team, first_team + len(sizes)), sizes)
    return team


def build_teams(rng: np.random.Generator, org: np.ndarray, system: np.ndarray, low: int,
                high: int, cross_org_share: float) -> np.ndarray:
    """The home team of every post.

    In each system, a share ``cross_org_share`` of the posts, drawn at random, are pooled into
    cross-organisation teams; every organisation's other posts are partitioned into its own
    teams. Grounding: place-based and programme teams span organisations (ICS design, facts.md);
    the share is an assumption.
    """
    n = len(org)
    team = np.full(n, -1, dtype=np.int64)
    cross = rng.random(n) < cross_org_share
    next_team = 0
    for s in np.unique(system):
        pooled = np.flatnonzero(cross & (system == s))
        if len(pooled):
            team[pooled] = partition(rng, len(pooled), low, high, next_team)
            next_team = int(team[pooled].max()) + 1
    for o in np.unique(org):
        members = np.flatnonzero(~cross & (org == o))
        if len(members):
            team[members] = partition(rng, len(members), low, high, next_team)
            next_team = int(team[members].max()) + 1
    return team


def team_edges(team: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    """Undirected edges between members of the same team: each pair with chance ``density``.

    One uniform per pair of every team (a fixed number of draws). Grounding: team members work
    together every week (assumption: dense, ``density`` near 1).
    """
    order = np.argsort(team, kind="stable")
    sorted_team = team[order]
    starts = np.flatnonzero(np.r_[True, sorted_team[1:] != sorted_team[:-1]])
    ends = np.r_[starts[1:], len(team)]
    sizes = ends - starts
    # Team by team, in turn, the same draws as one ``rng.random`` call per team would give.
    u = rng.random(int((sizes * (sizes - 1) // 2).sum()))
    edges = np.empty((len(u), 2), dtype=np.int64)
    count = kernels.pair_edges(starts, ends, order, density, u, edges)
    return edges[:count]
