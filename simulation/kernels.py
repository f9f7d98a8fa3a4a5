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
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        k = lo + i
        r0 += a[k]
        r1 += a[k + 1]
        r2 += a[k + 2]
        r3 += a[k + 3]
        r4 += a[k + 4]
        r5 += a[k + 5]
        r6 += a[k + 6]
        r7 += a[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
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
QUIET, MET, CLAIMED, REFUSED, GRANTED, FAILED, SUCCEEDED = range(7)


@kernel
def claim_ties(source, target, usable, contact, time, identity, motivation, unled,
               interaction_rate, claim_base, identity_weight, duty_weight, u_meet, u_claim,
               last_contact, week, outcome, claims, met_at):
    """Phase 4 on every tie i -> j: the pair meets (both need time), and j may claim
    leadership, more readily where i's work is unled (the rules of ``rules.py``, against the
    uniforms ``u_*``). Writes each tie's ``outcome`` (QUIET, MET or CLAIMED) and, where the pair
    met, ``last_contact``; adds to each manager's claims and meetings (pass zeros)."""
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
        if u_claim[k] < p_claim:
            outcome[k] = CLAIMED
            claims[j] += 1


@kernel
def grant_ties(source, target, cross_group, cross_org, trust, understanding, clarity, skill,
               value_conflict, goal_misalignment, grant_base, trust_weight, skill_weight,
               u_grant, outcome, granted_in, refused_in, conflicts_at):
    """Phase 5 on every claimed tie i -> j: i grants j's claim (GRANTED) or refuses it
    (REFUSED), damped by value conflict and goal misalignment. Adds to each manager's claims
    granted and refused, and to the claimant's conflicts on a refusal."""
    for k in range(source.shape[0]):
        if outcome[k] != CLAIMED:
            continue
        i, j = source[k], target[k]
        conflict = rules.conflict_damping(value_conflict, cross_group[k], understanding[i])
        misalignment = rules.misalignment_damping(goal_misalignment, cross_org[k],
                                                  0.5 * (clarity[i] + clarity[j]))
        p_grant = rules.grant_probability(trust[k], skill[j], grant_base, trust_weight,
                                          skill_weight, conflict, misalignment)
        if u_grant[k] < p_grant:
            outcome[k] = GRANTED
            granted_in[j] += 1
        else:
            outcome[k] = REFUSED
            refused_in[j] += 1
            conflicts_at[j] += 1


@kernel
def collaborate_ties(source, target, cross_group, cross_org, time, skill, success_base,
                     success_skill_weight, signoff_delay, bureaucracy_load,
                     single_group_completion, u_success, outcome, conflicts_at, won_at,
                     cross_won_at, share_as_source, share_as_target):
    """Phase 6 on every granted tie i -> j: the joint work succeeds (SUCCEEDED) or fails
    (FAILED). Adds each manager's successes (all, and across the professions), the task share
    of their successes (1 across the professions, ``single_group_completion`` within one), as
    source and as target apart, and a conflict to both partners of a failure."""
    for k in range(source.shape[0]):
        if outcome[k] != GRANTED:
            continue
        i, j = source[k], target[k]
        p_success = rules.success_probability(skill[i], skill[j], time[i], time[j],
                                              success_base, success_skill_weight, signoff_delay,
                                              bureaucracy_load, cross_org[k])
        if not u_success[k] < p_success:
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
def tie_learning(outcome, reverse, cross_group, granted, trust, grant_gain, trust_gain,
                 trust_loss):
    """Phase 6 on the ties: success builds granted leadership and trust both ways; a refusal
    costs the claimant's trust in the refuser; failure costs trust both ways. All the gains
    first, then the losses, as the numpy expressions of the rules did.

    Returns the week's count of ties by outcome (rows: the outcome codes), all and across the
    professions (columns); only claims are counted (QUIET and MET rows stay 0)."""
    counts = np.zeros((7, 2), dtype=np.int64)
    for k in range(outcome.shape[0]):
        if outcome[k] < REFUSED:
            continue
        counts[outcome[k], 0] += 1
        counts[outcome[k], 1] += cross_group[k]
        if outcome[k] == SUCCEEDED:
            back = reverse[k]
            granted[k] = rules.toward(granted[k], 1.0, grant_gain)
            trust[k] = rules.toward(trust[k], 1.0, trust_gain)
            trust[back] = rules.toward(trust[back], 1.0, trust_gain)
    kept = 1.0 - trust_loss
    for k in range(outcome.shape[0]):
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
def close_ties_of(source, target, leaving, first_carried, granted, trust, resting, open_):
    """The ties of the ``leaving`` posts, either way: leadership lost, trust at rest, and the
    carried ones (from ``first_carried`` on) closed."""
    for k in range(source.shape[0]):
        if leaving[source[k]] or leaving[target[k]]:
            granted[k] = 0.0
            trust[k] = resting[k]
            if k >= first_carried:
                open_[k] = False


@kernel
def movers_ties(source, target, open_, reverse, moving, held, relationships, touched):
    """The ties of a move (``relationships.move_people``), in tie order: ``touched``, every tie
    with a ``moving`` post at either end; ``relationships``, those of them that are open, the
    lower-indexed direction of their pair, between two ``held`` posts. Returns how many of each
    it wrote."""
    n_relationships = n_touched = 0
    for k in range(source.shape[0]):
        i, j = source[k], target[k]
        if moving[i] or moving[j]:
            touched[n_touched] = k
            n_touched += 1
            if open_[k] and k < reverse[k] and held[i] and held[j]:
                relationships[n_relationships] = k
                n_relationships += 1
    return n_relationships, n_touched


# ---------------------------------------------------------------------- the week's outputs

@kernel
def usable_mask(source, target, open_, active, usable):
    """Open ties whose two posts are held (written to ``usable``)."""
    for k in range(source.shape[0]):
        usable[k] = open_[k] and active[source[k]] and active[target[k]]


@kernel
def received_sum(target, granted, usable, received):
    """Each manager's in-strength of granted leadership over usable ties (added, pass zeros)."""
    for k in range(target.shape[0]):
        if usable[k]:
            received[target[k]] += granted[k]


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
def gini(x, n, work):
    """Gini coefficient of the non-negative ``x[:n]`` (0 when all are equal or all zero), with
    numpy's sums: ``work`` (at least ``n`` long) holds the rank-weighted values."""
    total = pairwise_sum(x, n)
    if n < 2 or total <= 0:
        return 0.0
    ranked = np.sort(x[:n])
    for k in range(n):
        work[k] = (2.0 * (k + 1) - n - 1) * ranked[k]
    return pairwise_sum(work, n) / (n * total)


# Rows of the work buffer of ``member_sums`` (posts long).
(RECEIVED, BACKLOG, BACKLOG_AGE, UNDERSTANDING, RECEIVED_CLINICAL, RECEIVED_NONCLINICAL,
 DIFFERENCES, WEIGHTED) = range(8)
MEMBER_WORK_ROWS = 8


@kernel
def member_sums(source, target, usable, granted, trust, cross_group, cross_org, active,
                is_trainee, is_clinical, received, backlog, backlog_age, understanding, claims,
                tie_work, work):
    """The sums behind ``metrics.compute``, in one pass over the ties and one over the posts.

    Ties: granted leadership on the usable ties between members (active managers, not
    trainees), all of it, on cross-profession and on cross-organisation ties, and the trust of
    those ties. Posts: members, held posts' backlog and its age, members' understanding and
    leadership received (all, clinical, non-clinical), claims, centralisation and Gini of
    leadership received. Each float sum is numpy's (:func:`pairwise_sum`) over the same values
    in the same order as ``values[mask].sum()``, laid out in ``tie_work`` (4 x ties) and
    ``work`` (:data:`MEMBER_WORK_ROWS` x posts); ``work[RECEIVED, :members]`` is left holding
    the members' leadership received, in post order."""
    shown, cross, org, trusted = tie_work[0], tie_work[1], tie_work[2], tie_work[3]
    n_cross = n_org = n_inside = 0
    for k in range(source.shape[0]):
        i, j = source[k], target[k]
        inside = (usable[k] and active[i] and not is_trainee[i] and active[j]
                  and not is_trainee[j])
        value = granted[k] if inside else 0.0
        shown[k] = value
        if cross_group[k]:
            cross[n_cross] = value
            n_cross += 1
        if cross_org[k]:
            org[n_org] = value
            n_org += 1
        if inside:
            trusted[n_inside] = trust[k]
            n_inside += 1
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
    return (pairwise_sum(shown, source.shape[0]), pairwise_sum(cross, n_cross),
            pairwise_sum(org, n_org), pairwise_sum(trusted, n_inside), n_inside,
            n_posts, n_members, n_clinical, n_nonclinical,
            pairwise_sum(work[BACKLOG], n_posts), pairwise_sum(work[BACKLOG_AGE], n_posts),
            pairwise_sum(work[UNDERSTANDING], n_members),
            pairwise_sum(work[RECEIVED_CLINICAL], n_clinical),
            pairwise_sum(work[RECEIVED_NONCLINICAL], n_nonclinical),
            claims_all, claims_clinical, claims_nonclinical,
            centralisation(strength, n_members, work[DIFFERENCES]),
            gini(strength, n_members, work[WEIGHTED]))


# Rows of the work buffer of ``measured_sums`` (posts long), and the counts it returns, by
# position.
HOURS, HOURS_CLINICAL, HOURS_NONCLINICAL = range(3)
MEASURED_WORK_ROWS = 3
(MEMBERS, CLINICAL, NONCLINICAL, BURNT, BURNT_CLINICAL, BURNT_NONCLINICAL, PRESSED,
 ESTABLISHED_POSTS, RECENT, TRAINEES, BETWEEN, HELD_BY_CLINICAL) = range(12)
MEASURED_COUNTS = 12


@kernel
def measured_sums(source, target, usable, granted, theta, active, is_trainee, is_clinical,
                  team, n_teams, completed_weeks, burnt_weeks, pressed_weeks, weeks,
                  bureaucracy, career_stage, established, post_since, week, window, work):
    """The sums behind ``measurement.measured_outputs``, in one pass over the ties and one over
    the posts, over members (active managers, not trainees).

    Ties: the leadership ties (usable, ``granted >= theta``) between members, how many of them
    clinical members receive, and within each team its ties and each member's in-degree.
    Posts, per team: members, the largest and the summed in-degree, tasks delivered over the
    window. Over members (all, clinical, non-clinical): counts, how many were burnt out and
    (all) under time pressure in at least half of ``weeks`` weeks, hours lost to bureaucracy
    (numpy's sums, laid out in ``work``, :data:`MEASURED_WORK_ROWS` x posts); members in
    ``established`` posts and how many took them within ``window`` weeks of ``week``; doctors
    in training in post."""
    n = active.shape[0]
    in_degree = np.zeros(n, dtype=np.int64)
    team_ties = np.zeros(n_teams)
    between = held = 0
    for k in range(source.shape[0]):
        if not (usable[k] and granted[k] >= theta):
            continue
        i, j = source[k], target[k]
        if active[i] and not is_trainee[i] and active[j] and not is_trainee[j]:
            between += 1
            held += is_clinical[j]
            if team[i] == team[j]:
                in_degree[j] += 1
                team_ties[team[j]] += 1.0
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
    counts[BETWEEN], counts[HELD_BY_CLINICAL] = between, held
    hours = (pairwise_sum(work[HOURS], counts[MEMBERS]),
             pairwise_sum(work[HOURS_CLINICAL], counts[CLINICAL]),
             pairwise_sum(work[HOURS_NONCLINICAL], counts[NONCLINICAL]))
    return size, team_ties, most, total, delivered, counts, hours



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
