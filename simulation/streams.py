"""Independent random streams, one per phase, spawned from the run's seed.

Common random numbers: a baseline run and a scenario run with the same seed share every draw
that the scenario does not itself change, because each phase reads only its own stream, and
either draws fixed-shape arrays every week, whatever branch the other phases took, or reads a
counter-based stream at fixed positions (one per tie: :meth:`RandomStreams.keyed`).
"""

import numpy as np

from . import kernels

STREAM_NAMES = (
    "population",
    "network",
    "layout",
    "work",
    "interaction",
    "claim",
    "grant",
    "collaboration",
    "exit",
    "recruitment",
    "interventions",
    "careers",
)


def _words(value: int) -> list[int]:
    """A non-negative integer's 32-bit words, least significant first (0 is one word), as
    ``SeedSequence`` reads its entropy and spawn keys."""
    words = [value & 0xFFFFFFFF]
    while value > 0xFFFFFFFF:
        value >>= 32
        words.append(value & 0xFFFFFFFF)
    return words


class _Seeded(np.random.bit_generator.ISeedSequence):
    """The state words of a ``SeedSequence``, computed by :func:`kernels.seed_sequence_state`,
    handed to ``PCG64`` as a seed sequence (it asks for just these)."""

    def __init__(self, state: np.ndarray):
        self.state = state

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("a weekly stream's seed gives PCG64's four 64-bit words only")
        return self.state


class RandomStreams:
    """Named ``numpy.random.Generator`` objects spawned from ``SeedSequence(seed)``."""

    def __init__(self, seed: int):
        children = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))
        self._generators = {
            name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(STREAM_NAMES, children, strict=True)
        }
        # Each stream's assembled entropy (SeedSequence's: the entropy's words padded to its
        # pool of four, then the spawn key's), to which a week's key adds its words.
        self._entropy = {}
        for name, child in zip(STREAM_NAMES, children, strict=True):
            entropy = _words(child.entropy)
            entropy += [0] * (child.pool_size - len(entropy))
            for part in child.spawn_key:
                entropy += _words(part)
            self._entropy[name] = entropy

    def __getattr__(self, name: str) -> np.random.Generator:
        try:
            return self._generators[name]
        except KeyError:
            raise AttributeError(f"no random stream named {name!r}") from None

    def weekly(self, name: str, week: int, *key: int) -> np.random.Generator:
        """The generator of phase ``name`` for ``week`` (and an optional sub-key, such as an
        intervention's position). Keyed, not consumed: what one week or branch draws never
        shifts another week's draws.

        The generator is the one ``PCG64(SeedSequence(entropy, spawn_key=(*spawn_key, week,
        *key)))`` of the phase's sequence gives, bit for bit; its seed is computed in one
        compiled call instead (numpy's seed sequence costs more than a small system's week
        spends on most phases)."""
        return np.random.Generator(np.random.PCG64(_Seeded(self._state(name, week, *key))))

    def keyed(self, name: str, week: int) -> np.ndarray:
        """The key of phase ``name``'s positional stream for ``week``: the draw at position k
        is ``numpy.random.Generator(numpy.random.Philox(key=key)).random(k + 1)[k]``, which
        :func:`kernels.keyed_uniform` computes on its own, so a phase that needs the draws of
        a few ties reads just those, and each tie keeps its own draw whatever the others do
        (common random numbers). The key is the first two words of the seed the week's
        ``weekly`` generator gets, so ``Philox(SeedSequence(...))`` of that sequence has it."""
        return self._state(name, week)[:2].copy()

    def _state(self, name: str, week: int, *key: int) -> np.ndarray:
        entropy = self._entropy[name] + [word for part in (week, *key) for word in _words(part)]
        state = np.empty(4, dtype=np.uint64)
        kernels.seed_sequence_state(np.array(entropy, dtype=np.uint64), state)
        return state


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts by inverting the CDF at uniforms ``u``: one uniform per count, whatever
    ``lam`` is, so a change of rate in one arm does not shift any other draw."""
    shape = np.shape(u)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), shape).ravel()
    counts = np.zeros(lam.size, dtype=np.int64)
    if lam.size == 0:
        return counts.reshape(shape)
    # The same steps, value by value, as a compiled loop: P(0) from numpy's exp, then the CDF
    # summed up to the first count it passes.
    k_max = int(np.max(lam) + 12.0 * np.sqrt(np.max(lam)) + 12)
    kernels.poisson_counts(np.ravel(u).astype(float), lam, np.exp(-lam), k_max, counts)
    return counts.reshape(shape)
