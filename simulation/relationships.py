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

    def find(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The role tie ``source -> target`` of each pair, or -1 where there is none."""
        keys = source.astype(np.int64) * self.n_posts + target
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = (len(self.keys) > 0) & (self.keys[at] == keys)
        return np.where(found, self.ties[at], -1)


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
    n = index.n_posts
    new_post = np.arange(n)
    new_post[origin] = destination
    moving = np.zeros(n, dtype=bool)
    moving[origin] = True

    # The relationships to move: open ties with a mover at either end, one slot per pair (the
    # direction whose index is the smaller of the two), between two people: each end a mover,
    # or a post held by someone who stays (not a post that was empty until a mover took it).
    arriving = np.zeros(n, dtype=bool)
    arriving[destination] = True
    held = moving | (active & ~arriving)
    forward, left = kernels.scratch("moved ties", len(ties), np.int64), kernels.scratch(
        "ties left", len(ties), np.int64)
    n_forward, n_left = kernels.movers_ties(ties.source, ties.target, ties.open, ties.reverse,
                                            moving, held, forward, left)
    forward, left = forward[:n_forward], left[:n_left]
    backward = ties.reverse[forward]
    a, b = new_post[ties.source[forward]], new_post[ties.target[forward]]
    keep = a != b
    forward, backward, a, b = forward[keep], backward[keep], a[keep], b[keep]
    state = {name: (getattr(ties, name)[forward].copy(), getattr(ties, name)[backward].copy())
             for name in ("trust", "granted", "last_contact")}

    # The posts left behind keep their role ties, at rest, for whoever fills them; carried ties
    # of the movers are released (they are re-opened below at the new posts).
    role = left[left < n_role]
    ties.trust[role] = resting[role]
    ties.granted[role] = 0.0
    ties.last_contact[role] = week
    carried = left[left >= n_role]
    ties.open[carried] = False

    # Each relationship takes the new posts' role tie where there is one (opening it, if it was
    # a latent forum tie: the two already know each other)...
    role_ab = index.find(a, b)
    has_role = role_ab >= 0
    for name, (ab, ba) in state.items():
        target = getattr(ties, name)
        target[role_ab[has_role]] = ab[has_role]
        target[ties.reverse[role_ab[has_role]]] = ba[has_role]
    ties.open[role_ab[has_role]] = True
    ties.open[ties.reverse[role_ab[has_role]]] = True
    # ... and otherwise a pair of carried-tie slots, the most recently exercised first when the
    # pool cannot hold them all.
    need = np.flatnonzero(~has_role)
    need = need[np.argsort(-state["last_contact"][0][need], kind="stable")]
    slots, evicted = _free_pairs(ties, n_role, len(need))
    need = need[:len(slots)]
    first, second = slots, slots + 1
    for ends, (one, other) in ((first, (a[need], b[need])), (second, (b[need], a[need]))):
        ties.source[ends] = one
        ties.target[ends] = other
        ties.cross_group[ends] = is_clinical[one] != is_clinical[other]
        ties.cross_org[ends] = org[one] != org[other]
        ties.open[ends] = True
    for name, (ab, ba) in state.items():
        getattr(ties, name)[first] = ab[need]
        getattr(ties, name)[second] = ba[need]
    resting[slots] = rules.boundary_trust(trust_baseline, boundary_gap,
                                          ties.cross_group[slots], ties.cross_org[slots])
    resting[slots + 1] = resting[slots]
    return evicted


def close_posts(ties: Ties, n_role: int, n_posts: int, posts: np.ndarray,
                resting: np.ndarray) -> None:
    """The people at ``posts`` have left: their role ties rest and their carried ties close."""
    if len(posts) == 0:
        return
    leaving = np.zeros(n_posts, dtype=bool)
    leaving[posts] = True
    kernels.close_ties_of(ties.source, ties.target, leaving, n_role, ties.granted, ties.trust,
                          resting, ties.open)


def _free_pairs(ties: Ties, n_role: int, count: int) -> tuple[np.ndarray, int]:
    """The first slot of up to ``count`` free carried-tie pairs; when the pool is short, the
    pairs exercised longest ago are closed to make room, and when the whole pool is too small,
    the relationships beyond it are not carried. Returns the slots and how many relationships
    were closed or not carried."""
    if count == 0:
        return np.zeros(0, dtype=np.int64), 0
    firsts = np.arange(n_role, len(ties), 2)
    free = firsts[~ties.open[firsts]]
    evicted = 0
    if len(free) < count:
        in_use = firsts[ties.open[firsts]]
        # A pair's last contact is the later of its two directions' (as for dormancy).
        last = np.maximum(ties.last_contact[in_use], ties.last_contact[in_use + 1])
        oldest = in_use[np.argsort(last, kind="stable")]
        evicted = min(count - len(free), len(oldest))
        ties.open[oldest[:evicted]] = False
        ties.open[oldest[:evicted] + 1] = False
        free = np.concatenate([free, oldest[:evicted]])
        evicted += count - len(free)
    return free[:count], evicted
