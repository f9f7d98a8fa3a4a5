"""Ties follow people: what happens to a person's relationships when they change post.

The professional network's *role ties* join posts (a team, an organisation, the boundary
spanners of a system; ``network.py``). A person who is promoted or rotates to another post keeps
their relationships: each of their ties, with its trust and granted leadership in both
directions, moves with them to the new post. Where the new post already has a role tie to that
colleague, the relationship takes that tie; otherwise it becomes a *carried tie*, held in a pool
of spare tie slots at the end of the tie arrays. The post they leave keeps its role ties, at
resting trust and no leadership, for whoever fills it.

Carried ties are ties the new role no longer exercises: they carry leadership interactions at a
fraction ``carried_tie_contact`` of a role tie's rate, and a carried tie that has carried no
interaction for ``tie_dormancy_weeks`` weeks closes. Without this rule a person's degree would
grow with every move (grounding: assumption; rates in the schema).

Every carried tie is one of a pair of slots (``2k``, ``2k + 1`` from the pool's start), the two
directions of one relationship, so ``reverse`` never changes.
"""

from dataclasses import dataclass

import numpy as np

from . import kernels, rules
from .state import Ties


@dataclass
class RoleTieIndex:
    """Lookup of role ties by their ordered pair of posts: ``key = source * n + target``."""

    keys: np.ndarray  # sorted keys of the role ties
    ties: np.ndarray  # the role tie of each sorted key
    n_posts: int

    @classmethod
    def build(cls, ties: Ties, n_role: int, n_posts: int) -> "RoleTieIndex":
        keys = ties.source[:n_role].astype(np.int64) * n_posts + ties.target[:n_role]
        order = np.argsort(keys, kind="stable")
        return cls(keys=keys[order], ties=order, n_posts=n_posts)


def carried_contact(personal: np.ndarray, contact: float) -> np.ndarray:
    """Interaction-rate factor of each tie: 1 for role ties, ``contact`` for carried ties.

    Grounding: assumption (a former colleague is met less often than a current one).
    """
    return np.where(personal, contact, 1.0)


def dormant(personal: np.ndarray, open_: np.ndarray, last_contact: np.ndarray, week: int,
            dormancy_weeks: int) -> np.ndarray:
    """Carried ties that have carried no interaction for more than ``dormancy_weeks``.

    Grounding: assumption (an unexercised relationship lapses).
    """
    return personal & open_ & (week - last_contact > dormancy_weeks)


def move_people(ties: Ties, index: RoleTieIndex, n_role: int, origin: np.ndarray,
                destination: np.ndarray, active: np.ndarray, is_clinical: np.ndarray,
                org: np.ndarray, resting: np.ndarray, trust_baseline: float,
                boundary_gap: float, week: int) -> int:
    """Move the relationships of the people at posts ``origin`` to posts ``destination``.

    ``destination`` posts are empty (vacant, or being left by another mover in the same move);
    ``active`` marks the posts held after the move. Returns the number of carried
    ties closed early because the pool was full (the longest-unexercised go first).
    Updates ``resting`` (each tie's resting trust) for the carried-tie slots it opens.
    """
    if len(origin) == 0:
        return 0
    # The steps, compiled (:func:`simulation.kernels.move_relationships`):
    # 1. the relationships to move are the open ties with a mover at either end, one slot per
    #    pair, between two people: each end a mover, or a post held by someone who stays (not
    #    a post that was empty until a mover took it);
    # 2. the posts left behind keep their role ties, at rest, for whoever fills them; carried
    #    ties of the movers are released (re-opened below at the new posts);
    # 3. each relationship takes the new posts' role tie where there is one (opening it, if it
    #    was a latent forum tie: the two already know each other);
    # 4. otherwise a pair of carried-tie slots, the most recently exercised first when the pool
    #    cannot hold them all (the pairs exercised longest ago close to make room).
    slots = kernels.scratch("carried slots", len(ties), np.int64)
    filled, evicted = kernels.move_relationships(
        ties.source, ties.target, ties.reverse, ties.cross_group, ties.cross_org, ties.open,
        ties.trust, ties.granted, ties.last_contact, resting, index.keys, index.ties, n_role,
        origin, destination, active, is_clinical, org, week,
        kernels.scratch("moved ties", (2, len(ties)), np.int64), slots)
    slots = slots[:filled]
    resting[slots] = rules.boundary_trust(trust_baseline, boundary_gap,
                                          ties.cross_group[slots], ties.cross_org[slots])
    resting[slots + 1] = resting[slots]
    return evicted


def close_posts(ties: Ties, index: RoleTieIndex, n_role: int, posts: np.ndarray,
                resting: np.ndarray) -> None:
    """The people at ``posts`` have left: their role ties rest and their carried ties close."""
    if len(posts) == 0:
        return
    leaving = np.zeros(index.n_posts, dtype=bool)
    leaving[posts] = True
    kernels.close_ties_of(np.asarray(posts, dtype=np.int64), index.keys, index.ties,
                          index.n_posts, ties.reverse, ties.source, ties.target, leaving, n_role,
                          ties.granted, ties.trust, resting, ties.open)
