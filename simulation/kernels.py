"""Compiled loops over ties and managers (numba), for the model's hot phases and its outputs.

A week touches every tie several times. Written with numpy, each step of a phase makes a
temporary array over all ties; here each phase is one loop over the ties, which reads a tie's
fields once and calls the model's rules on them, so nothing is allocated per tie. The rules are
those of ``rules.py``, compiled as they are (:func:`numba.extending.register_jitable`): the
behaviour is written once, and the Python functions stay pure numpy for the reference engine and
the tests.

The loops never draw random numbers: the model fills their uniforms from its keyed numpy
streams (``streams.py``), so common random numbers hold. They run on one thread, in tie and post
order, and sum in the order numpy does (a weighted ``bincount`` adds in index order;
:func:`pairwise_sum` is numpy's own pairwise summation), so results are the same bits as numpy's,
whatever the machine's thread count.

Compiled code is cached on disk (numba's ``cache=True``) under ``$NUMBA_CACHE_DIR``, or, when
that is unset, under the user's cache folder (``$XDG_CACHE_HOME/slsim/numba``, else
``~/.cache/slsim/numba``, else the temporary folder), in a subfolder named by a digest of this
file and ``rules.py``: numba checks only the calling file for changes, so a changed rule gets a
fresh cache. The first process compiles (some seconds); later ones load.
"""

import hashlib
import math
import os
import tempfile
from pathlib import Path

import numba
import numpy as np
from numba.extending import overload, register_jitable

from . import rules

# ---------------------------------------------------------------------- the on-disk cache


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return os.access(folder, os.W_OK)
    except OSError:
        return False


def cache_dir() -> Path:
    """Where the compiled kernels are cached (see the module's docstring)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(b"".join((here / name).read_bytes()
                                     for name in ("kernels.py", "rules.py"))).hexdigest()[:16]
    user = os.environ.get("NUMBA_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates = [Path(user)] if user else []
    candidates += [Path(xdg) / "slsim" / "numba"] if xdg else []
    candidates += [Path.home() / ".cache" / "slsim" / "numba",
                   Path(tempfile.gettempdir()) / "slsim-numba"]
    for base in candidates:
        if _writable(base / f"slsim-{digest}"):
            return base / f"slsim-{digest}"
    return candidates[-1] / f"slsim-{digest}"


numba.config.CACHE_DIR = str(cache_dir())


_SCRATCH: dict[tuple, np.ndarray] = {}


def scratch(name: str, shape, dtype=float) -> np.ndarray:
    """A work array for a kernel to fill, reused from call to call (its contents are stale):
    allocating tie-sized arrays afresh every week costs more than the loops that fill them.
    Keyed by the arguments as given (a size or a shape tuple, a dtype), so a lookup is one
    dictionary access."""
    key = (name, shape, dtype)
    found = _SCRATCH.get(key)
    if found is None:
        found = _SCRATCH[key] = np.empty(shape, dtype=dtype)
    return found


def kernel(fn):
    """Compile ``fn`` to machine code, cached on disk; no fast-math, so IEEE results."""
    return numba.njit(cache=True, nogil=True, boundscheck=False)(fn)


# ---------------------------------------------------------------------- the rules, compiled

@overload(rules.clip01)
def _clip01(x):
    # np.clip on one number (numba compiles np.clip for arrays only); the same value.
    def clip(x):
        return min(max(x, 0.0), 1.0)
    return clip


for _rule in (rules.toward, rules.decay, rules.interaction_probability,
              rules.claim_probability, rules.conflict_damping, rules.misalignment_damping,
              rules.grant_probability, rules.success_probability, rules.boundary_trust):
    register_jitable(_rule)


# ---------------------------------------------------------------------- sums as numpy sums

@kernel
def _block_sum(a, lo, n):
    # numpy's leaf: up to 128 values in eight lanes, then the rest (fewer than 8: in turn).
    # Indexed through a slice from 0, so the compiler sees no negative index to wrap: twice as
    # fast as indexing ``a`` at ``lo + i``, with the same additions in the same order.
    b = a[lo:lo + n]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += b[i]
        return res
    r0, r1, r2, r3 = b[0], b[1], b[2], b[3]
    r4, r5, r6, r7 = b[4], b[5], b[6], b[7]
    whole = n - n % 8
    for i in range(8, whole, 8):
        r0 += b[i]
        r1 += b[i + 1]
        r2 += b[i + 2]
        r3 += b[i + 3]
        r4 += b[i + 4]
        r5 += b[i + 5]
        r6 += b[i + 6]
        r7 += b[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(whole, n):
        res += b[i]
    return res


@kernel
def pairwise_sum(a, n):
    """The sum of ``a[:n]`` in numpy's order, so the same bits as ``a[:n].sum()``: halves (cut
    at a multiple of 8) summed apart and added, down to blocks of at most 128 values. The
    halving is walked with a stack, not recursion (numba's cache cannot reload recursion)."""
    if n <= 128:
        return _block_sum(a, 0, n)
    depth = 64
    los = np.empty(depth, dtype=np.int64)
    ns = np.empty(depth, dtype=np.int64)
    stage = np.zeros(depth, dtype=np.int64)
    left = np.zeros(depth)
    right = np.zeros(depth)
    los[0], ns[0], stage[0] = 0, n, 0
    top = 0
    result = 0.0
    while top >= 0:
        lo, size = los[top], ns[top]
        half = size // 2
        half -= half % 8
        if size <= 128 or stage[top] == 2:
            value = _block_sum(a, lo, size) if size <= 128 else left[top] + right[top]
            top -= 1
            if top < 0:
                result = value
            elif stage[top] == 1:
                left[top] = value
            else:
                right[top] = value
        elif stage[top] == 0:
            stage[top] = 1
            top += 1
            los[top], ns[top], stage[top] = lo, half, 0
        else:
            stage[top] = 2
            top += 1
            los[top], ns[top], stage[top] = lo + half, size - half, 0
    return result


# ---------------------------------------------------------------------- the week's ties

@kernel
def tie_sums(source, target, open_, active, granted, contact, usable, degree, perceived):
    """Usable ties (open, both posts held), each manager's expected-contact degree and the
    leadership they perceive around them (as source): ``usable`` is written, ``degree`` and
    ``perceived`` are added to (pass zeros)."""
    for k in range(source.shape[0]):
        i = source[k]
        ok = open_[k] and active[i] and active[target[k]]
        usable[k] = ok
        if ok:
            degree[i] += contact[k]
            perceived[i] += granted[k]


# What happened on a tie this week, phase by phase (``claim_ties``, ``grant_ties``,
# ``collaborate_ties``): each phase moves on the ties the phase before left at its own stage.
# Few ties carry a claim in a week, so ``claim_ties`` lists them (in tie order) and the later
# phases visit only those, not every tie again. For the same reason the draws past a meeting
# (claim, grant, joint work) are each phase's keyed stream read at the tie's position
# (:func:`keyed_uniform`), only where a tie reaches that phase; the meeting's own uniforms
# (``u_meet``, one per tie) come filled in a buffer.
QUIET, MET, CLAIMED, REFUSED, GRANTED, FAILED, SUCCEEDED = range(7)


@kernel
def claim_ties(source, target, usable, contact, time, identity, motivation, unled,
               interaction_rate, claim_base, identity_weight, duty_weight, u_meet, claim_key,
               last_contact, week, outcome, claims, met_at, claimed):
    """Phase 4 on every tie i -> j: the pair meets (both need time), and j may claim
    leadership, more readily where i's work is unled (the rules of ``rules.py``, against the
    uniforms ``u_meet`` and the claim stream's, keyed by ``claim_key``). Writes each tie's
    ``outcome`` (QUIET, MET or CLAIMED) and, where the pair met, ``last_contact``; adds to each
    manager's claims and meetings (pass zeros). The claimed ties are written to the front of
    ``claimed`` (as long as the ties), in tie order; returns how many."""
    n_claimed = 0
    for k in range(source.shape[0]):
        outcome[k] = QUIET
        if not usable[k]:
            continue
        i, j = source[k], target[k]
        p_meet = contact[k] * rules.interaction_probability(interaction_rate, time[i], time[j])
        if not u_meet[k] < p_meet:
            continue
        outcome[k] = MET
        last_contact[k] = week
        met_at[i] += 1
        met_at[j] += 1
        p_claim = rules.claim_probability(identity[j], motivation[j], unled[i], claim_base,
                                          identity_weight, duty_weight)
        if keyed_uniform(claim_key[0], claim_key[1], k) < p_claim:
            outcome[k] = CLAIMED
            claims[j] += 1
            claimed[n_claimed] = k
            n_claimed += 1
    return n_claimed


@kernel
def grant_ties(claimed, source, target, cross_group, cross_org, trust, understanding, clarity,
               skill, value_conflict, goal_misalignment, grant_base, trust_weight, skill_weight,
               grant_key, outcome, granted_in, refused_in, conflicts_at):
    """Phase 5 on every ``claimed`` tie i -> j: i grants j's claim (GRANTED) or refuses it
    (REFUSED), damped by value conflict and goal misalignment. Adds to each manager's claims
    granted and refused, and to the claimant's conflicts on a refusal."""
    for k in claimed:
        i, j = source[k], target[k]
        conflict = rules.conflict_damping(value_conflict, cross_group[k], understanding[i])
        misalignment = rules.misalignment_damping(goal_misalignment, cross_org[k],
                                                  0.5 * (clarity[i] + clarity[j]))
        p_grant = rules.grant_probability(trust[k], skill[j], grant_base, trust_weight,
                                          skill_weight, conflict, misalignment)
        if keyed_uniform(grant_key[0], grant_key[1], k) < p_grant:
            outcome[k] = GRANTED
            granted_in[j] += 1
        else:
            outcome[k] = REFUSED
            refused_in[j] += 1
            conflicts_at[j] += 1


@kernel
def collaborate_ties(claimed, source, target, cross_group, cross_org, time, skill, success_base,
                     success_skill_weight, signoff_delay, bureaucracy_load,
                     single_group_completion, success_key, outcome, conflicts_at, won_at,
                     cross_won_at, share_as_source, share_as_target):
    """Phase 6 on every granted tie i -> j (of the ``claimed``): the joint work succeeds
    (SUCCEEDED) or fails (FAILED). Adds each manager's successes (all, and across the
    professions), the task share of their successes (1 across the professions,
    ``single_group_completion`` within one), as source and as target apart, and a conflict to
    both partners of a failure."""
    for k in claimed:
        if outcome[k] != GRANTED:
            continue
        i, j = source[k], target[k]
        p_success = rules.success_probability(skill[i], skill[j], time[i], time[j],
                                              success_base, success_skill_weight, signoff_delay,
                                              bureaucracy_load, cross_org[k])
        if not keyed_uniform(success_key[0], success_key[1], k) < p_success:
            outcome[k] = FAILED
            conflicts_at[i] += 1
            conflicts_at[j] += 1
            continue
        outcome[k] = SUCCEEDED
        won_at[i] += 1
        won_at[j] += 1
        if cross_group[k]:
            cross_won_at[i] += 1
            cross_won_at[j] += 1
            share = 1.0
        else:
            share = single_group_completion
        share_as_source[i] += share
        share_as_target[j] += share


@kernel
def tie_learning(claimed, outcome, reverse, cross_group, granted, trust, grant_gain, trust_gain,
                 trust_loss):
    """Phase 6 on the ``claimed`` ties (in tie order): success builds granted leadership and
    trust both ways; a refusal costs the claimant's trust in the refuser; failure costs trust
    both ways. All the gains first, then the losses, as the numpy expressions of the rules did.

    Returns the week's count of ties by outcome (rows: the outcome codes), all and across the
    professions (columns); only claims are counted (QUIET and MET rows stay 0)."""
    counts = np.zeros((7, 2), dtype=np.int64)
    for k in claimed:
        counts[outcome[k], 0] += 1
        counts[outcome[k], 1] += cross_group[k]
        if outcome[k] == SUCCEEDED:
            back = reverse[k]
            granted[k] = rules.toward(granted[k], 1.0, grant_gain)
            trust[k] = rules.toward(trust[k], 1.0, trust_gain)
            trust[back] = rules.toward(trust[back], 1.0, trust_gain)
    kept = 1.0 - trust_loss
    for k in claimed:
        if outcome[k] == REFUSED:
            trust[reverse[k]] *= kept
        elif outcome[k] == FAILED:
            trust[k] *= kept
            trust[reverse[k]] *= kept
    return counts


@kernel
def tie_decay(granted, trust, resting, granted_decay, trust_decay, open_, personal,
              last_contact, reverse, first_carried, week, dormancy_weeks):
    """Phase 9: granted leadership fades and trust drifts to rest on every tie; carried ties
    (from ``first_carried`` on) with no interaction either way for ``dormancy_weeks`` close."""
    for k in range(granted.shape[0]):
        granted[k] = rules.decay(granted[k], granted_decay)
        trust[k] = rules.toward(trust[k], resting[k], trust_decay)
    for k in range(first_carried, open_.shape[0]):
        last = max(last_contact[k], last_contact[reverse[k]])
        if personal[k] and open_[k] and week - last > dormancy_weeks:
            open_[k] = False


@kernel
def close_ties_of(posts, role_keys, role_ties, n_posts, reverse, source, target, leaving,
                  first_carried, granted, trust, resting, open_):
    """The ties of the leaving ``posts`` (``leaving``: the same posts as a mask), either way:
    leadership lost, trust at rest, and the carried ones (from ``first_carried`` on) closed.
    Role ties are found through their index (``relationships.RoleTieIndex``: a post's ties as
    source are one run of its sorted keys, and their reverses are its ties as target), so only
    the carried-tie pool is scanned."""
    for post in posts:
        lo = np.searchsorted(role_keys, post * n_posts)
        hi = np.searchsorted(role_keys, (post + 1) * n_posts)
        for q in range(lo, hi):
            k, back = role_ties[q], reverse[role_ties[q]]
            granted[k], granted[back] = 0.0, 0.0
            trust[k], trust[back] = resting[k], resting[back]
    for k in range(first_carried, source.shape[0]):
        if leaving[source[k]] or leaving[target[k]]:
            granted[k] = 0.0
            trust[k] = resting[k]
            open_[k] = False


@kernel
def move_relationships(source, target, reverse, cross_group, cross_org, open_, trust, granted,
                       last_contact, resting, role_keys, role_ties, n_role, origin, destination,
                       active, is_clinical, org, week, work, slots_out):
    """The tie steps of ``relationships.move_people`` (which says what they do and why) in one
    compiled call, updating the ties' arrays in place. ``role_keys`` and ``role_ties`` are the
    :class:`relationships.RoleTieIndex` of the role ties; ``work`` (2 x ties) is scratch space.
    Writes the first slot of each carried-tie pair it fills to ``slots_out`` and returns how
    many it filled and how many relationships were closed early or could not be carried."""
    n = active.shape[0]
    new_post = np.arange(n)
    moving = np.zeros(n, dtype=np.bool_)
    arriving = np.zeros(n, dtype=np.bool_)
    for x in range(origin.shape[0]):
        new_post[origin[x]] = destination[x]
        moving[origin[x]] = True
    for x in range(destination.shape[0]):
        arriving[destination[x]] = True

    # The relationships to move, in tie order: open ties with a mover at either end, the
    # lower-indexed direction of the pair, between two people who hold a post after the move
    # and do not end up in the same post; and every tie the movers leave.
    n_ties = source.shape[0]
    forward, touched = work[0], work[1]
    n_forward = n_touched = 0
    for k in range(n_ties):
        i, j = source[k], target[k]
        if not (moving[i] or moving[j]):
            continue
        touched[n_touched] = k
        n_touched += 1
        held_i = moving[i] or (active[i] and not arriving[i])
        held_j = moving[j] or (active[j] and not arriving[j])
        if open_[k] and k < reverse[k] and held_i and held_j and new_post[i] != new_post[j]:
            forward[n_forward] = k
            n_forward += 1
    a = np.empty(n_forward, dtype=np.int64)
    b = np.empty(n_forward, dtype=np.int64)
    trust_ab, trust_ba = np.empty(n_forward), np.empty(n_forward)
    granted_ab, granted_ba = np.empty(n_forward), np.empty(n_forward)
    contact_ab = np.empty(n_forward, dtype=last_contact.dtype)
    contact_ba = np.empty(n_forward, dtype=last_contact.dtype)
    for x in range(n_forward):
        k = forward[x]
        back = reverse[k]
        a[x], b[x] = new_post[source[k]], new_post[target[k]]
        trust_ab[x], trust_ba[x] = trust[k], trust[back]
        granted_ab[x], granted_ba[x] = granted[k], granted[back]
        contact_ab[x], contact_ba[x] = last_contact[k], last_contact[back]

    # The posts left keep their role ties, at rest; the movers' carried ties are released.
    for x in range(n_touched):
        k = touched[x]
        if k < n_role:
            trust[k] = resting[k]
            granted[k] = 0.0
            last_contact[k] = week
        else:
            open_[k] = False

    # Each relationship takes the new posts' role tie where there is one (opening it)...
    need = np.empty(n_forward, dtype=np.int64)
    n_need = 0
    n_keys = role_keys.shape[0]
    for x in range(n_forward):
        key = a[x] * n + b[x]
        at = min(np.searchsorted(role_keys, key), n_keys - 1)
        if n_keys > 0 and role_keys[at] == key:
            tie = role_ties[at]
            back = reverse[tie]
            trust[tie], trust[back] = trust_ab[x], trust_ba[x]
            granted[tie], granted[back] = granted_ab[x], granted_ba[x]
            last_contact[tie], last_contact[back] = contact_ab[x], contact_ba[x]
            open_[tie] = open_[back] = True
        else:
            need[n_need] = x
            n_need += 1
    # ... and otherwise a pair of carried-tie slots, the most recently exercised first.
    need = need[:n_need]
    need = need[np.argsort(-contact_ab[need], kind="mergesort")]

    # Free pairs, in slot order; when too few, the pairs exercised longest ago close.
    n_free = 0
    for first in range(n_role, n_ties, 2):
        if n_free == n_need:
            break
        if not open_[first]:
            slots_out[n_free] = first
            n_free += 1
    evicted = 0
    if n_free < n_need:
        in_use = np.empty((n_ties - n_role) // 2 + 1, dtype=np.int64)
        n_in_use = 0
        for first in range(n_role, n_ties, 2):
            if open_[first]:
                in_use[n_in_use] = first
                n_in_use += 1
        in_use = in_use[:n_in_use]
        last = np.maximum(last_contact[in_use], last_contact[in_use + 1])
        oldest = in_use[np.argsort(last, kind="mergesort")]
        evicted = min(n_need - n_free, n_in_use)
        for x in range(evicted):
            open_[oldest[x]] = open_[oldest[x] + 1] = False
            slots_out[n_free] = oldest[x]
            n_free += 1
        evicted += n_need - n_free
    for x in range(n_free):
        first, second, q = slots_out[x], slots_out[x] + 1, need[x]
        one, other = a[q], b[q]
        source[first], target[first] = one, other
        source[second], target[second] = other, one
        cross_group[first] = cross_group[second] = is_clinical[one] != is_clinical[other]
        cross_org[first] = cross_org[second] = org[one] != org[other]
        open_[first] = open_[second] = True
        trust[first], trust[second] = trust_ab[q], trust_ba[q]
        granted[first], granted[second] = granted_ab[q], granted_ba[q]
        last_contact[first], last_contact[second] = contact_ab[q], contact_ba[q]
    return n_free, evicted


# ---------------------------------------------------------------------- the week's outputs

@kernel
def observe_ties(source, target, open_, active, is_trainee, is_clinical, team, granted, trust,
                 cross_group, cross_org, theta, usable, received, in_degree, team_ties):
    """The week's one pass over the ties for every output (``metrics.observe_ties``).

    Writes ``usable`` (open ties whose two posts are held) and adds, over them, each manager's
    leadership received (``received``); over the usable ties between members (active managers,
    not trainees), adds each post's leadership ties (``granted >= theta``) from its own team
    (``in_degree``) and each team's (``team_ties``): pass zeros. Returns, over the usable ties
    between members, the granted leadership (all of it, on cross-profession and on
    cross-organisation ties, each added up tie by tie), their trust, how many there are, how
    many are leadership ties, and how many of those a clinical member receives."""
    granted_all = granted_cross = granted_org = trust_total = 0.0
    between = leadership = held = 0
    for k in range(source.shape[0]):
        i, j = source[k], target[k]
        ok = open_[k] and active[i] and active[j]
        usable[k] = ok
        if not ok:
            continue
        received[j] += granted[k]
        if is_trainee[i] or is_trainee[j]:
            continue
        granted_all += granted[k]
        if cross_group[k]:
            granted_cross += granted[k]
        if cross_org[k]:
            granted_org += granted[k]
        trust_total += trust[k]
        between += 1
        if granted[k] >= theta:
            leadership += 1
            held += is_clinical[j]
            if team[i] == team[j]:
                in_degree[j] += 1
                team_ties[team[j]] += 1.0
    return granted_all, granted_cross, granted_org, trust_total, between, leadership, held


@kernel
def often(flags, p, weeks):
    """Whether post ``p``'s weekly condition (``flags``: posts x window) held in at least half
    of ``weeks`` weeks (its flags over the whole window counted)."""
    held = 0
    for w in range(flags.shape[1]):
        held += flags[p, w]
    return held * 2 >= weeks


@kernel
def often_count(flags, members, weeks):
    """How many ``members`` had their weekly condition in at least half of ``weeks`` weeks."""
    count = 0
    for p in range(flags.shape[0]):
        if members[p]:
            count += often(flags, p, weeks)
    return count


@kernel
def centralisation(strength, n, work):
    """Freeman in-degree centralisation of ``strength[:n]`` (tie weights in [0, 1]): the sum of
    (max - s_k) over the most it can be, (N - 1)^2, reached by a star; 0 below two values.
    ``work`` (at least ``n`` long) holds the differences for numpy's summation."""
    if n < 2:
        return 0.0
    most = strength[0]
    for p in range(1, n):
        most = max(most, strength[p])
    for p in range(n):
        work[p] = most - strength[p]
    return pairwise_sum(work, n) / (n - 1) ** 2


@kernel
def gini(x, n, positive_ranked, work):
    """Gini coefficient of the non-negative ``x[:n]`` (0 when all are equal or all zero), with
    numpy's sums: ``work`` (at least ``n`` long) holds the rank-weighted values.
    ``positive_ranked`` is ``x[:n]``'s positive values sorted, by numpy (whose vectorised sort
    is twice as fast as a compiled one); the rest are zeros, which rank first."""
    total = pairwise_sum(x, n)
    if n < 2 or total <= 0:
        return 0.0
    zeros = n - positive_ranked.shape[0]
    for k in range(zeros):
        work[k] = (2.0 * (k + 1) - n - 1) * 0.0
    for k in range(zeros, n):
        work[k] = (2.0 * (k + 1) - n - 1) * positive_ranked[k - zeros]
    return pairwise_sum(work, n) / (n * total)


# Rows of the work buffer of ``member_sums`` (posts long).
(RECEIVED, BACKLOG, BACKLOG_AGE, UNDERSTANDING, RECEIVED_CLINICAL, RECEIVED_NONCLINICAL,
 DIFFERENCES, WEIGHTED) = range(8)
MEMBER_WORK_ROWS = 8


@kernel
def member_sums(active, is_trainee, is_clinical, received, backlog, backlog_age, understanding,
                claims, work):
    """The post sums behind ``metrics.compute`` (its tie sums come from :func:`observe_ties`),
    in one pass over the posts: members, held posts' backlog and its age, members'
    understanding and leadership received (all, clinical, non-clinical), claims and
    centralisation of leadership received. Each float sum is numpy's (:func:`pairwise_sum`)
    over the same values in the same order as ``values[mask].sum()``, laid out in ``work``
    (:data:`MEMBER_WORK_ROWS` x posts); ``work[RECEIVED, :members]`` is left holding the
    members' leadership received, in post order (for its Gini, :func:`gini`)."""
    n_posts = n_members = n_clinical = n_nonclinical = 0
    claims_all = claims_clinical = claims_nonclinical = 0
    for p in range(active.shape[0]):
        claims_all += claims[p]
        if is_trainee[p]:
            continue
        work[BACKLOG, n_posts] = backlog[p]
        work[BACKLOG_AGE, n_posts] = backlog_age[p]
        n_posts += 1
        if not active[p]:
            continue
        work[RECEIVED, n_members] = received[p]
        work[UNDERSTANDING, n_members] = understanding[p]
        n_members += 1
        if is_clinical[p]:
            work[RECEIVED_CLINICAL, n_clinical] = received[p]
            claims_clinical += claims[p]
            n_clinical += 1
        else:
            work[RECEIVED_NONCLINICAL, n_nonclinical] = received[p]
            claims_nonclinical += claims[p]
            n_nonclinical += 1
    strength = work[RECEIVED]
    return (n_posts, n_members, n_clinical, n_nonclinical,
            pairwise_sum(work[BACKLOG], n_posts), pairwise_sum(work[BACKLOG_AGE], n_posts),
            pairwise_sum(work[UNDERSTANDING], n_members),
            pairwise_sum(work[RECEIVED_CLINICAL], n_clinical),
            pairwise_sum(work[RECEIVED_NONCLINICAL], n_nonclinical),
            claims_all, claims_clinical, claims_nonclinical,
            centralisation(strength, n_members, work[DIFFERENCES]))


# Rows of the work buffer of ``measured_sums`` (posts long), and the counts it returns, by
# position.
HOURS, HOURS_CLINICAL, HOURS_NONCLINICAL = range(3)
MEASURED_WORK_ROWS = 3
(MEMBERS, CLINICAL, NONCLINICAL, BURNT, BURNT_CLINICAL, BURNT_NONCLINICAL, PRESSED,
 ESTABLISHED_POSTS, RECENT, TRAINEES) = range(10)
MEASURED_COUNTS = 10


@kernel
def measured_sums(active, is_trainee, is_clinical, team, n_teams, in_degree, completed_weeks,
                  burnt_weeks, pressed_weeks, weeks, bureaucracy, career_stage, established,
                  post_since, week, window, work):
    """The post sums behind ``measurement.measured_outputs`` (the leadership ties within each
    team, ``in_degree`` per post, come from :func:`observe_ties`), in one pass over the posts,
    over members (active managers, not trainees).

    Per team: members, the largest and the summed in-degree, tasks delivered over the window.
    Over members (all, clinical, non-clinical): counts, how many were burnt out and (all) under
    time pressure in at least half of ``weeks`` weeks, hours lost to bureaucracy (numpy's
    sums, laid out in ``work``, :data:`MEASURED_WORK_ROWS` x posts); members in ``established``
    posts and how many took them within ``window`` weeks of ``week``; doctors in training in
    post."""
    n = active.shape[0]
    size = np.zeros(n_teams, dtype=np.int64)
    most = np.zeros(n_teams)
    total = np.zeros(n_teams)
    delivered = np.zeros(n_teams)
    counts = np.zeros(MEASURED_COUNTS, dtype=np.int64)
    span = completed_weeks.shape[1]
    for p in range(n):
        if not active[p]:
            continue
        if is_trainee[p]:
            counts[TRAINEES] += 1
            continue
        t = team[p]
        size[t] += 1
        most[t] = max(most[t], in_degree[p])
        total[t] += in_degree[p]
        delivered[t] += pairwise_sum(completed_weeks[p], span)
        burnt = often(burnt_weeks, p, weeks)
        work[HOURS, counts[MEMBERS]] = bureaucracy[p]
        counts[MEMBERS] += 1
        counts[BURNT] += burnt
        counts[PRESSED] += often(pressed_weeks, p, weeks)
        if is_clinical[p]:
            work[HOURS_CLINICAL, counts[CLINICAL]] = bureaucracy[p]
            counts[CLINICAL] += 1
            counts[BURNT_CLINICAL] += burnt
        else:
            work[HOURS_NONCLINICAL, counts[NONCLINICAL]] = bureaucracy[p]
            counts[NONCLINICAL] += 1
            counts[BURNT_NONCLINICAL] += burnt
        if career_stage[p] == established:
            counts[ESTABLISHED_POSTS] += 1
            counts[RECENT] += week - post_since[p] < window
    hours = (pairwise_sum(work[HOURS], counts[MEMBERS]),
             pairwise_sum(work[HOURS_CLINICAL], counts[CLINICAL]),
             pairwise_sum(work[HOURS_NONCLINICAL], counts[NONCLINICAL]))
    return size, most, total, delivered, counts, hours



# ---------------------------------------------------------------------- the network's generators
# networkx's random-graph generators, step for step, on uniforms drawn beforehand: the same
# edges from the same uniforms (``network.py`` hands each one the draws networkx would take one
# at a time from the same stream). Each returns how many edges it wrote and how many uniforms
# it used, or (-1, -1) when ``u`` or ``edges`` ran out (the caller draws more and calls again).

@kernel
def gnp_edges(n, p, u, edges):
    """The edges of ``networkx.fast_gnp_random_graph(n, p)`` (undirected, 0 < p < 1): Batagelj
    and Brandes' (2005) geometric skips over the pairs (w, v), w < v, one uniform a skip."""
    lp = math.log(1.0 - p)
    v, w, used, m = 1, -1, 0, 0
    while v < n:
        if used == u.shape[0]:
            return -1, -1
        skip = math.log(1.0 - u[used]) / lp
        used += 1
        if skip >= float(n) * n:  # past every pair left (the loop below would end at v = n)
            break
        w = w + 1 + int(skip)
        while w >= v and v < n:
            w = w - v
            v = v + 1
        if v < n:
            if m == edges.shape[0]:
                return -1, -1
            edges[m, 0], edges[m, 1] = v, w
            m += 1
    return m, used


@kernel
def chung_lu_edges(seq, rho, u, edges):
    """The edges of ``networkx.expected_degree_graph(w, selfloops=False)`` (Miller and Hagberg
    2011) between the positions of ``seq``, the weights sorted in decreasing order, with
    ``rho = 1 / sum(w)``: for each u, geometric skips over v > u, each candidate kept with
    chance q / p."""
    n = seq.shape[0]
    used = m = 0
    for first in range(n - 1):
        v = first + 1
        factor = seq[first] * rho
        p = min(seq[v] * factor, 1.0)
        while v < n and p > 0:
            if p != 1.0:
                if used == u.shape[0]:
                    return -1, -1
                v += math.floor(math.log(u[used]) / math.log(1.0 - p))
                used += 1
            if v < n:
                q = min(seq[v] * factor, 1.0)
                if used == u.shape[0]:
                    return -1, -1
                if u[used] < q / p:
                    if m == edges.shape[0]:
                        return -1, -1
                    edges[m, 0], edges[m, 1] = first, v
                    m += 1
                used += 1
                v += 1
                p = q
    return m, used


@kernel
def pair_edges(starts, ends, members, density, u, edges):
    """Each pair (i < j, in ``np.triu_indices`` order) of each group ``members[starts[g]:
    ends[g]]`` is an edge where its uniform (``u``: one per pair, group by group) is below
    ``density``. Returns how many edges it wrote."""
    at = m = 0
    for g in range(starts.shape[0]):
        for a in range(starts[g], ends[g]):
            for b in range(a + 1, ends[g]):
                if u[at] < density:
                    edges[m, 0], edges[m, 1] = members[a], members[b]
                    m += 1
                at += 1
    return m


# ---------------------------------------------------------------------- keyed random streams

_M32 = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(16)


@register_jitable
def _hashmix(value, hash_const, multiplier):
    # SeedSequence's hashmix, in 64-bit words kept to their low 32 bits.
    value ^= hash_const
    hash_const = (hash_const * multiplier) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _SHIFT), hash_const


@register_jitable
def _mix(x, y):
    result = (np.uint64(0xCA01F9DD) * x - np.uint64(0x4973F715) * y) & _M32
    return result ^ (result >> _SHIFT)


@kernel
def seed_sequence_state(entropy, out):
    """The four 64-bit words ``numpy.random.SeedSequence.generate_state(4, np.uint64)`` gives
    for a sequence whose assembled entropy (its entropy's 32-bit words, padded to four, then
    its spawn key's) is ``entropy``: numpy's own algorithm (``numpy/random/bit_generator.pyx``:
    the pool mixed from the entropy, then the words drawn from the pool), integer for integer,
    so a generator seeded with them is the one numpy builds. Written to ``out``."""
    mult_a = np.uint64(0x931E8875)
    hash_a = np.uint64(0x43B0D7E5)
    pool = np.zeros(4, dtype=np.uint64)
    for i in range(4):
        word = entropy[i] if i < entropy.shape[0] else np.uint64(0)
        pool[i], hash_a = _hashmix(word, hash_a, mult_a)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                mixed, hash_a = _hashmix(pool[i_src], hash_a, mult_a)
                pool[i_dst] = _mix(pool[i_dst], mixed)
    for i_src in range(4, entropy.shape[0]):
        for i_dst in range(4):
            mixed, hash_a = _hashmix(entropy[i_src], hash_a, mult_a)
            pool[i_dst] = _mix(pool[i_dst], mixed)
    mult_b = np.uint64(0x58F38DED)
    hash_b = np.uint64(0x8B51F9DD)
    for i in range(8):
        word, hash_b = _hashmix(pool[i % 4], hash_b, mult_b)
        if i % 2 == 0:
            out[i // 2] = word
        else:
            out[i // 2] |= word << np.uint64(32)


# numpy's Philox (Philox4x64-10, ``numpy/random/src/philox/philox.h``): its constants.
_PHILOX_M0 = np.uint64(0xD2E7470EE14C6C93)
_PHILOX_M1 = np.uint64(0xCA5A826395121157)
_PHILOX_W0 = np.uint64(0x9E3779B97F4A7C15)
_PHILOX_W1 = np.uint64(0xBB67AE8584CAA73B)
_S32 = np.uint64(32)
_S11 = np.uint64(11)


@register_jitable
def _mulhi(a, b):
    # The high 64 bits of the 128-bit product, from 32-bit halves (numba has no 128-bit type).
    a_lo, a_hi, b_lo, b_hi = a & _M32, a >> _S32, b & _M32, b >> _S32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    middle = (p0 >> _S32) + (p1 & _M32) + (p2 & _M32)
    return p3 + (p1 >> _S32) + (p2 >> _S32) + (middle >> _S32)


@register_jitable
def keyed_uniform(key0, key1, position):
    """The uniform at ``position`` of the stream ``numpy.random.Generator(Philox(key=[key0,
    key1])).random()`` draws, bit for bit, computed on its own: Philox is counter-based, so a
    tie's draw is found without drawing those before it. Block b (counter b + 1, as numpy
    increments before it computes) holds draws 4b to 4b + 3, each a 64-bit word shifted to 53
    bits, as numpy's ``random`` makes a double."""
    c0, c1, c2, c3 = np.uint64(position // 4 + 1), np.uint64(0), np.uint64(0), np.uint64(0)
    k0, k1 = key0, key1
    for r in range(10):
        if r > 0:
            k0, k1 = k0 + _PHILOX_W0, k1 + _PHILOX_W1
        hi0, lo0 = _mulhi(_PHILOX_M0, c0), _PHILOX_M0 * c0
        hi1, lo1 = _mulhi(_PHILOX_M1, c2), _PHILOX_M1 * c2
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    word = position % 4
    out = c0 if word == 0 else c1 if word == 1 else c2 if word == 2 else c3
    return float(out >> _S11) * (1.0 / 9007199254740992.0)


@kernel
def keyed_uniforms(key0, key1, positions, out):
    """:func:`keyed_uniform` at each of ``positions``, into ``out`` (the tests hold it against
    numpy's Philox)."""
    for n in range(positions.shape[0]):
        out[n] = keyed_uniform(key0, key1, positions[n])


# ---------------------------------------------------------------------- work and careers

@kernel
def poisson_counts(u, lam, first, k_max, counts):
    """Poisson counts by inverting the CDF at uniforms ``u`` (``first``: each P(0))."""
    for i in range(u.shape[0]):
        pmf = first[i]
        cdf = pmf
        k = 1
        while k <= k_max and u[i] >= cdf:
            counts[i] += 1
            pmf = pmf * lam[i] / k
            cdf = cdf + pmf
            k += 1


@kernel
def best_candidates(due, internal, stage, is_clinical, org, system, score, available,
                    promoted_from, promoted_to, hired):
    """``careers.fill_vacancies``' loop: for each due vacancy in turn, sent to promotion where
    ``internal``, the available candidate of the stage below, the same group and system with
    the highest ``score`` (the first of equals), from the post's organisation if anyone there
    is available; else an outside hire. A winner is no longer available. Writes who is promoted
    from and to which post, and the posts hired into; returns how many of each.

    The candidates are first listed by system, stage and group, each list in post order, so a
    vacancy looks only at its own list (the same winner as a scan of every post)."""
    n_systems = 0
    for c in range(stage.shape[0]):
        n_systems = max(n_systems, system[c] + 1)
    start = np.zeros(6 * n_systems + 1, dtype=np.int64)
    for c in range(stage.shape[0]):
        if available[c]:
            start[(system[c] * 3 + stage[c]) * 2 + is_clinical[c] + 1] += 1
    for g in range(6 * n_systems):
        start[g + 1] += start[g]
    filled = start[:-1].copy()
    listed = np.empty(start[-1], dtype=np.int64)
    for c in range(stage.shape[0]):
        if available[c]:
            g = (system[c] * 3 + stage[c]) * 2 + is_clinical[c]
            listed[filled[g]] = c
            filled[g] += 1
    n_promoted = n_hired = 0
    for d in range(due.shape[0]):
        post = due[d]
        winner = -1
        if internal[d] and stage[post] > 0:
            g = (system[post] * 3 + stage[post] - 1) * 2 + is_clinical[post]
            best_local = best_any = -1
            for at in range(start[g], start[g + 1]):
                c = listed[at]
                if available[c]:
                    if best_any < 0 or score[c] > score[best_any]:
                        best_any = c
                    if org[c] == org[post] and (best_local < 0 or score[c] > score[best_local]):
                        best_local = c
            winner = best_local if best_local >= 0 else best_any
        if winner < 0:
            hired[n_hired] = post
            n_hired += 1
        else:
            available[winner] = False
            promoted_from[n_promoted] = winner
            promoted_to[n_promoted] = post
            n_promoted += 1
    return n_promoted, n_hired
