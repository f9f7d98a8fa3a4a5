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
def _pairwise(a, lo, n):
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
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
    half = n // 2
    half -= half % 8
    return _pairwise(a, lo, half) + _pairwise(a, lo + half, n - half)


@kernel
def pairwise_sum(a, n):
    """The sum of ``a[:n]`` in numpy's order (pairwise, blocks of 128 in eight lanes), so the
    same bits as ``a[:n].sum()``."""
    return _pairwise(a, 0, n)


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


# What happened on a tie this week (``tie_outcomes``).
QUIET, MET, REFUSED, FAILED, SUCCEEDED = 0, 1, 2, 3, 4


@kernel
def tie_outcomes(source, target, usable, contact, cross_group, cross_org, trust, last_contact,
                 week, time, identity, motivation, unled, understanding, clarity, skill,
                 interaction_rate, claim_base, identity_weight, duty_weight, value_conflict,
                 goal_misalignment, grant_base, trust_weight, skill_weight, success_base,
                 success_skill_weight, signoff_delay, bureaucracy_load, single_group_completion,
                 u_meet, u_claim, u_grant, u_success, outcome, claims, granted_in, refused_in,
                 conflicts_at, met_at, won_at, cross_won_at, share_as_source, share_as_target,
                 totals):
    """Phases 4-6 on every tie i -> j: the pair meets, j claims, i grants or refuses, their
    joint work succeeds or fails (the rules of ``rules.py``, against the uniforms ``u_*``).

    Writes each tie's ``outcome`` and, for ties that meet, ``last_contact``; adds each
    manager's events to the per-manager arrays (pass zeros); ``totals`` gets the week's counts:
    grants, cross-profession claims, cross-profession grants, refusals, refusals across the
    professions, successes.
    """
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
        if not u_claim[k] < p_claim:
            continue
        claims[j] += 1
        totals[1] += cross_group[k]
        conflict = rules.conflict_damping(value_conflict, cross_group[k], understanding[i])
        misalignment = rules.misalignment_damping(goal_misalignment, cross_org[k],
                                                  0.5 * (clarity[i] + clarity[j]))
        p_grant = rules.grant_probability(trust[k], skill[j], grant_base, trust_weight,
                                          skill_weight, conflict, misalignment)
        if not u_grant[k] < p_grant:
            outcome[k] = REFUSED
            refused_in[j] += 1
            conflicts_at[j] += 1
            totals[3] += 1
            totals[4] += cross_group[k]
            continue
        granted_in[j] += 1
        totals[0] += 1
        totals[2] += cross_group[k]
        p_success = rules.success_probability(skill[i], skill[j], time[i], time[j],
                                              success_base, success_skill_weight, signoff_delay,
                                              bureaucracy_load, cross_org[k])
        if not u_success[k] < p_success:
            outcome[k] = FAILED
            conflicts_at[i] += 1
            conflicts_at[j] += 1
            continue
        outcome[k] = SUCCEEDED
        totals[5] += 1
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
def tie_learning(outcome, reverse, granted, trust, grant_gain, trust_gain, trust_loss):
    """Phase 6 on the ties: success builds granted leadership and trust both ways; a refusal
    costs the claimant's trust in the refuser; failure costs trust both ways."""
    kept = 1.0 - trust_loss
    for k in range(outcome.shape[0]):
        mine, theirs = outcome[k], outcome[reverse[k]]
        if mine == QUIET and theirs == QUIET:
            continue
        if mine == SUCCEEDED:
            granted[k] = rules.toward(granted[k], 1.0, grant_gain)
            trust[k] = rules.toward(trust[k], 1.0, trust_gain)
        if theirs == SUCCEEDED:
            trust[k] = rules.toward(trust[k], 1.0, trust_gain)
        if theirs == REFUSED:
            trust[k] *= kept
        if mine == FAILED:
            trust[k] *= kept
        if theirs == FAILED:
            trust[k] *= kept


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
        else:
            received[target[k]] += 0.0


@kernel
def member_tie_sums(source, target, usable, member, granted, trust, cross_group, cross_org,
                    shown, cross_shown, org_shown, trust_shown):
    """Granted leadership on usable ties between members, as numpy would sum it: ``shown``
    holds each tie's (0 elsewhere), ``cross_shown`` and ``org_shown`` its values on the
    cross-profession and cross-organisation ties, ``trust_shown`` the trust of the usable
    member ties, packed. Returns (total, cross-profession, cross-organisation, trust) sums
    and the number of member ties, in numpy's summation order."""
    n_cross = n_org = n_trust = 0
    for k in range(source.shape[0]):
        inside = usable[k] and member[source[k]] and member[target[k]]
        value = granted[k] if inside else 0.0
        shown[k] = value
        if cross_group[k]:
            cross_shown[n_cross] = value
            n_cross += 1
        if cross_org[k]:
            org_shown[n_org] = value
            n_org += 1
        if inside:
            trust_shown[n_trust] = trust[k]
            n_trust += 1
    return (pairwise_sum(shown, shown.shape[0]), pairwise_sum(cross_shown, n_cross),
            pairwise_sum(org_shown, n_org), pairwise_sum(trust_shown, n_trust), n_trust)


@kernel
def team_sums(source, target, measured, team, member, is_clinical, completed_weeks, n_teams):
    """Per team: members, leadership ties inside it, its largest in-degree, summed in-degree and
    delivered tasks (the window's, by member); and the leadership ties between members, with
    those held by clinicians. Teams and ties in numpy's order, so the same sums."""
    n = team.shape[0]
    in_degree = np.zeros(n, dtype=np.int64)
    team_ties = np.zeros(n_teams)
    between = clinical_between = 0
    for k in range(source.shape[0]):
        i, j = source[k], target[k]
        if measured[k] and member[i] and member[j]:
            between += 1
            clinical_between += is_clinical[j]
            if team[i] == team[j]:
                in_degree[j] += 1
                team_ties[team[j]] += 1.0
    size = np.zeros(n_teams, dtype=np.int64)
    most = np.zeros(n_teams)
    total = np.zeros(n_teams)
    delivered = np.zeros(n_teams)
    window = completed_weeks.shape[1]
    for p in range(n):
        if member[p]:
            t = team[p]
            size[t] += 1
            most[t] = max(most[t], in_degree[p])
            total[t] += in_degree[p]
            delivered[t] += pairwise_sum(completed_weeks[p], window)
    return size, team_ties, most, total, delivered, between, clinical_between


@kernel
def often_count(flags, members, weeks):
    """How many ``members`` had their weekly condition in at least half of ``weeks`` weeks."""
    count = 0
    for p in range(flags.shape[0]):
        if members[p]:
            held = 0
            for w in range(flags.shape[1]):
                held += flags[p, w]
            count += held * 2 >= weeks
    return count


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
    """For each due vacancy in turn: its best available candidate from the stage below, of the
    same group and system, preferring the post's organisation (-1: none, or not sent to
    promotion). Writes who is promoted from and to which post, and the posts hired into;
    returns how many of each."""
    n_promoted = n_hired = 0
    for d in range(due.shape[0]):
        post = due[d]
        winner = -1
        if internal[d]:
            best_local = best_any = -1
            for c in range(stage.shape[0]):
                if (available[c] and stage[c] == stage[post] - 1
                        and is_clinical[c] == is_clinical[post] and system[c] == system[post]):
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
