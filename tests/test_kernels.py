"""The compiled loops (simulation/kernels.py) against the pure rules, on small hand-made inputs;
and the same results whatever the thread count and in a fresh process (issue 14)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from simulation import kernels, rules
from simulation.kernels import CLAIMED, FAILED, MET, QUIET, REFUSED, SUCCEEDED

ROOT = Path(__file__).resolve().parents[1]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 3000),
                  elements=st.floats(0, 1e6, allow_nan=False, allow_infinity=False)))
def test_pairwise_sum_is_numpys_sum_to_the_last_bit(values):
    assert kernels.pairwise_sum(values, len(values)) == values.sum()


def test_pairwise_sum_of_a_prefix_and_of_large_arrays():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 8, 127, 128, 129, 8193, 1_000_003):
        values = rng.random(n + 5)
        assert kernels.pairwise_sum(values, n) == values[:n].sum()


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 2000),
                  elements=st.floats(0, 1e3, allow_nan=False, allow_infinity=False)))
def test_gini_and_centralisation_are_numpys_expressions_to_the_last_bit(x):
    """The outputs' formulas (metrics.gini, metrics.freeman_centralisation) as numpy writes them,
    the same bits."""
    n, work = len(x), np.empty(len(x))
    if n >= 2 and x.sum() > 0:
        ranked = np.sort(x)
        expected = float(((2.0 * np.arange(1, n + 1) - n - 1) * ranked).sum() / (n * x.sum()))
        assert kernels.gini(x, n, np.sort(x[x > 0]), work) == expected
    else:
        assert kernels.gini(x, n, np.sort(x[x > 0]), work) == 0.0
    expected = float((x.max() - x).sum() / (n - 1) ** 2) if n >= 2 else 0.0
    assert kernels.centralisation(x, n, work) == expected


# A hand-made network: 4 managers, the ties 0<->1 (cross-profession), 1<->2 (cross-org),
# 2<->3, and 0->3's pair closed.
SOURCE = np.array([0, 1, 1, 2, 2, 3, 0, 3])
TARGET = np.array([1, 0, 2, 1, 3, 2, 3, 0])
REVERSE = np.array([1, 0, 3, 2, 5, 4, 7, 6])
CROSS_GROUP = np.array([1, 1, 0, 0, 0, 0, 1, 1], bool)
CROSS_ORG = np.array([0, 0, 1, 1, 0, 0, 0, 0], bool)
OPEN = np.array([1, 1, 1, 1, 1, 1, 0, 0], bool)
P = dict(interaction_rate=0.9, claim_base=0.6, identity_weight=0.5, duty_weight=0.4,
         value_conflict=0.5, goal_misalignment=0.4, grant_base=0.5, trust_weight=0.6,
         skill_weight=0.4, success_base=0.3, success_skill_weight=0.6, signoff_delay=0.3,
         bureaucracy_load=0.5, single_group_completion=0.3)


def _draws(seed):
    """The meetings' uniforms and the keys of the claim, grant and joint-work streams, with
    those streams' uniforms for every tie as numpy's Philox draws them."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**64 - 1, (3, 2), dtype=np.uint64, endpoint=True)
    u = [rng.random(len(SOURCE))]
    u += [np.random.Generator(np.random.Philox(key=key)).random(len(SOURCE)) for key in keys]
    return u, keys


def _outcomes(seed):
    u, keys = _draws(seed)
    m = dict(time=np.array([1.0, 0.8, 0.5, 0.0]), identity=np.array([0.2, 0.6, 0.4, 0.9]),
             motivation=np.array([0.7, 0.5, 0.9, 0.3]), unled=np.array([0.0, 0.5, 1.0, 0.2]),
             understanding=np.array([0.1, 0.3, 0.5, 0.7]),
             clarity=np.array([0.6, 0.6, 0.2, 0.2]), skill=np.array([0.5, 0.4, 0.8, 0.6]))
    n, k = 4, len(SOURCE)
    trust = np.linspace(0.3, 0.8, k)
    contact = np.where(np.arange(k) % 2 == 0, 1.0, 0.5)
    usable = OPEN.copy()
    outcome, last = np.empty(k, np.int8), np.zeros(k, np.int64)
    claims, met_at, granted_in, refused_in, conflicts_at, won_at, cross_won_at = (
        np.zeros(n, np.int64) for _ in range(7))
    shares = [np.zeros(n), np.zeros(n)]
    claimed = np.full(k, -1, np.int64)
    n_claimed = kernels.claim_ties(SOURCE, TARGET, usable, contact, m["time"], m["identity"],
                                   m["motivation"], m["unled"], P["interaction_rate"],
                                   P["claim_base"], P["identity_weight"], P["duty_weight"], u[0],
                                   keys[0], last, 5, outcome, claims, met_at, claimed)
    claimed = claimed[:n_claimed]
    np.testing.assert_array_equal(claimed, np.flatnonzero(outcome == CLAIMED))
    kernels.grant_ties(claimed, SOURCE, TARGET, CROSS_GROUP, CROSS_ORG, trust,
                       m["understanding"], m["clarity"], m["skill"], P["value_conflict"],
                       P["goal_misalignment"], P["grant_base"], P["trust_weight"],
                       P["skill_weight"], keys[1], outcome, granted_in, refused_in,
                       conflicts_at)
    kernels.collaborate_ties(claimed, SOURCE, TARGET, CROSS_GROUP, CROSS_ORG, m["time"],
                             m["skill"], P["success_base"], P["success_skill_weight"],
                             P["signoff_delay"], P["bureaucracy_load"],
                             P["single_group_completion"], keys[2], outcome, conflicts_at, won_at,
                             cross_won_at, *shares)
    counts = claims, granted_in, refused_in, conflicts_at, met_at, won_at, cross_won_at
    totals = kernels.tie_learning(claimed, outcome, REVERSE, CROSS_GROUP, np.zeros(k),
                                  np.zeros(k), 0.1, 0.1, 0.1)

    # The same decisions, vectorised with the rules.
    i, j = SOURCE, TARGET
    meet = usable & (u[0] < contact * rules.interaction_probability(
        P["interaction_rate"], m["time"][i], m["time"][j]))
    claim = meet & (u[1] < rules.claim_probability(
        m["identity"][j], m["motivation"][j], m["unled"][i], P["claim_base"],
        P["identity_weight"], P["duty_weight"]))
    p_grant = rules.grant_probability(
        trust, m["skill"][j], P["grant_base"], P["trust_weight"], P["skill_weight"],
        rules.conflict_damping(P["value_conflict"], CROSS_GROUP, m["understanding"][i]),
        rules.misalignment_damping(P["goal_misalignment"], CROSS_ORG,
                                   0.5 * (m["clarity"][i] + m["clarity"][j])))
    grant = claim & (u[2] < p_grant)
    win = grant & (u[3] < rules.success_probability(
        m["skill"][i], m["skill"][j], m["time"][i], m["time"][j], P["success_base"],
        P["success_skill_weight"], P["signoff_delay"], P["bureaucracy_load"], CROSS_ORG))
    expected = np.select([win, grant, claim, meet], [SUCCEEDED, FAILED, REFUSED, MET], QUIET)
    return outcome, expected, last, counts, shares, totals, (meet, claim, grant, win)


@pytest.mark.parametrize("seed", range(8))
def test_claim_grant_and_collaborate_ties_are_the_rules_decisions(seed):
    outcome, expected, last, counts, shares, totals, (meet, claim, grant, win) = _outcomes(seed)
    np.testing.assert_array_equal(outcome, expected)
    np.testing.assert_array_equal(last, np.where(meet, 5, 0))
    claims, granted_in, refused_in, conflicts_at, met_at, won_at, cross_won_at = counts
    np.testing.assert_array_equal(claims, np.bincount(TARGET[claim], minlength=4))
    np.testing.assert_array_equal(granted_in, np.bincount(TARGET[grant], minlength=4))
    np.testing.assert_array_equal(refused_in, np.bincount(TARGET[claim & ~grant], minlength=4))
    both = np.concatenate
    np.testing.assert_array_equal(
        met_at, np.bincount(both([SOURCE[meet], TARGET[meet]]), minlength=4))
    np.testing.assert_array_equal(won_at, np.bincount(both([SOURCE[win], TARGET[win]]),
                                                      minlength=4))
    cw = win & CROSS_GROUP
    np.testing.assert_array_equal(cross_won_at, np.bincount(both([SOURCE[cw], TARGET[cw]]),
                                                            minlength=4))
    lost = grant & ~win
    np.testing.assert_array_equal(conflicts_at, np.bincount(
        both([TARGET[claim & ~grant], SOURCE[lost], TARGET[lost]]), minlength=4))
    share = np.where(CROSS_GROUP, 1.0, P["single_group_completion"])[win]
    np.testing.assert_array_equal(shares[0], np.bincount(SOURCE[win], share, minlength=4))
    np.testing.assert_array_equal(shares[1], np.bincount(TARGET[win], share, minlength=4))
    for code, ties in ((SUCCEEDED, win), (FAILED, grant & ~win), (REFUSED, claim & ~grant),
                       (MET, np.zeros(8, bool)), (QUIET, np.zeros(8, bool))):
        assert totals[code].tolist() == [ties.sum(), (ties & CROSS_GROUP).sum()]


def test_the_tie_phases_decide_something_of_every_kind_over_a_few_draws():
    seen = set()
    for seed in range(40):
        seen |= set(_outcomes(seed)[0].tolist())
    assert seen == {QUIET, MET, REFUSED, FAILED, SUCCEEDED}


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
       st.lists(st.integers(0, 10**7), min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_a_keyed_uniform_is_numpys_philox_draw_at_that_position(key0, key1, positions):
    key = np.array([key0, key1], dtype=np.uint64)
    positions = np.array(positions, dtype=np.int64)
    out = np.empty(len(positions))
    kernels.keyed_uniforms(key[0], key[1], positions, out)
    stream = np.random.Generator(np.random.Philox(key=key))
    expected = stream.random(int(positions.max()) + 1)[positions]
    np.testing.assert_array_equal(out, expected)


def test_tie_learning_applies_gains_then_losses_on_both_directions():
    outcome = np.array([SUCCEEDED, SUCCEEDED, SUCCEEDED, REFUSED, FAILED, QUIET, MET, FAILED],
                       np.int8)
    granted, trust = np.full(8, 0.2), np.full(8, 0.5)
    claimed = np.flatnonzero(outcome >= REFUSED)
    kernels.tie_learning(claimed, outcome, REVERSE, CROSS_GROUP, granted, trust, 0.1, 0.2, 0.25)
    up = rules.toward(0.5, 1.0, 0.2)
    assert trust[0] == trust[1] == rules.toward(up, 1.0, 0.2)  # both directions succeeded
    assert granted[0] == granted[1] == granted[2] == rules.toward(0.2, 1.0, 0.1)
    assert trust[2] == up * 0.75  # its own success, then its partner's refusal
    assert trust[3] == rules.toward(0.5, 1.0, 0.2)  # refusing costs the claimant's trust only
    assert trust[4] == 0.5 * 0.75  # failure costs trust both ways
    assert trust[5] == 0.5 * 0.75
    assert trust[6] == trust[7] == 0.5 * 0.75
    np.testing.assert_array_equal(granted[3:], 0.2)


def test_tie_decay_is_the_decay_rules_and_closes_dormant_carried_ties():
    granted, trust = np.linspace(0, 1, 8), np.linspace(0.2, 0.9, 8)
    resting = np.full(8, 0.6)
    open_ = np.ones(8, bool)
    personal = np.arange(8) >= 4
    last = np.array([0, 0, 0, 0, 1, 9, 2, 3])
    expected_granted = rules.decay(granted, 0.05)
    expected_trust = rules.toward(trust, resting, 0.02)
    kernels.tie_decay(granted, trust, resting, 0.05, 0.02, open_, personal, last, REVERSE, 4,
                      10, 6)
    np.testing.assert_array_equal(granted, expected_granted)
    np.testing.assert_array_equal(trust, expected_trust)
    # Pair 4/5 was exercised at week 9 (one direction is enough); pair 6/7 last at week 3.
    np.testing.assert_array_equal(open_, [1, 1, 1, 1, 1, 1, 0, 0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 30), min_size=1, max_size=40), st.integers(0, 2**32 - 1))
def test_poisson_counts_invert_the_cdf(lams, seed):
    from scipy import stats

    from simulation.streams import poisson_from_uniform
    lam = np.array(lams)
    u = np.random.default_rng(seed).random(len(lam))
    expected = stats.poisson.ppf(u, lam)
    counts = poisson_from_uniform(u, lam)
    # The exact inverse, or one off where u sits within rounding of a CDF step.
    assert np.all(np.abs(counts - expected) <= 1)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2**200)),
       st.sampled_from(["work", "claim", "recruitment", "interventions", "careers"]),
       st.integers(0, 2**40), st.lists(st.integers(0, 2**70), max_size=2))
def test_a_weekly_stream_is_the_generator_numpys_seed_sequence_gives(seed, name, week, key):
    from simulation.streams import STREAM_NAMES, RandomStreams
    parent = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))[STREAM_NAMES.index(name)]
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        parent.entropy, spawn_key=(*parent.spawn_key, week, *key))))
    weekly = RandomStreams(seed).weekly(name, week, *key)
    assert weekly.bit_generator.state == expected.bit_generator.state
    np.testing.assert_array_equal(weekly.random(5), expected.random(5))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["claim", "grant", "collaboration"]),
       st.integers(0, 2**20))
def test_a_keyed_stream_is_philox_on_the_weeks_seed_sequence(seed, name, week):
    from simulation.streams import STREAM_NAMES, RandomStreams
    parent = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))[STREAM_NAMES.index(name)]
    expected = np.random.Generator(np.random.Philox(np.random.SeedSequence(
        parent.entropy, spawn_key=(*parent.spawn_key, week))))
    key = RandomStreams(seed).keyed(name, week)
    out = np.empty(6)
    kernels.keyed_uniforms(key[0], key[1], np.arange(6), out)
    np.testing.assert_array_equal(out, expected.random(6))


def test_cache_goes_under_numba_cache_dir_in_a_folder_named_by_the_sources(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    folder = kernels.cache_dir()
    assert folder.parent == tmp_path and folder.name.startswith("slsim-") and folder.is_dir()
    assert kernels.cache_dir() == folder


RUN = """
import hashlib, json, sys
from simulation.model import SharedLeadershipModel
model = SharedLeadershipModel(ics="small_ics", seed=3, weeks=30)
model.run()
frame = model.datacollector.get_model_vars_dataframe()
print(json.dumps(hashlib.sha256(frame.to_numpy().tobytes()).hexdigest()))
"""


def _run_in_process(threads: int) -> str:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_results_are_the_same_bits_whatever_the_thread_count_and_the_process():
    """One and two numba threads, in processes that load the kernels from the on-disk cache,
    and this process: the same weekly outputs to the bit."""
    from simulation.model import SharedLeadershipModel
    model = SharedLeadershipModel(ics="small_ics", seed=3, weeks=30)
    model.run()
    frame = model.datacollector.get_model_vars_dataframe()
    here = hashlib.sha256(frame.to_numpy().tobytes()).hexdigest()
    assert [_run_in_process(threads) for threads in (1, 2)] == [here] * 2
