"""Independent random streams, one per phase, spawned from the run's seed.

Common random numbers: a baseline run and a scenario run with the same seed share every draw
that the scenario does not itself change, because each phase reads only its own stream and draws
fixed-shape arrays every week, whatever branch the other phases took.
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


class RandomStreams:
    """Named ``numpy.random.Generator`` objects spawned from ``SeedSequence(seed)``."""

    def __init__(self, seed: int):
        children = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))
        self._generators = {
            name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(STREAM_NAMES, children, strict=True)
        }

    def __getattr__(self, name: str) -> np.random.Generator:
        try:
            return self._generators[name]
        except KeyError:
            raise AttributeError(f"no random stream named {name!r}") from None

    def weekly(self, name: str, week: int, *key: int) -> np.random.Generator:
        """The generator of phase ``name`` for ``week`` (and an optional sub-key, such as an
        intervention's position). Keyed, not consumed: what one week or branch draws never
        shifts another week's draws."""
        parent = self._generators[name].bit_generator.seed_seq
        child = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, week, *key))
        return np.random.Generator(np.random.PCG64(child))


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
