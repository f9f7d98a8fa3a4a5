"""The benchmark registry and the tools its sections share: the plan (full or tiny sizes), timing
with repeats, models of a given size, worker processes and markdown tables."""

import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulation.config import RunConfig, build_config

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    """The sizes of one benchmark run: :data:`FULL` for ``make bench``, :data:`TINY` for the
    smoke test (every section runs, at toy sizes)."""

    repeats: int  # of each in-process timing; the minimum is the result
    ratio_sizes: tuple[int, ...]  # managers, vectorised against reference
    ratio_weeks: int
    reference_weeks: tuple[int, ...]  # weeks the reference is timed over, per ratio size
    reference_repeats: int
    default_ics_weeks: int
    national_ics: str
    national_weeks: int
    national_repeats: int  # separate processes, so each has its own peak memory
    profile_weeks: int
    scaling_sizes: tuple[int, ...]  # managers
    scaling_weeks: int
    docking_seeds: int
    docking_weeks: int


FULL = Plan(repeats=5, ratio_sizes=(2_000, 10_000), ratio_weeks=52, reference_weeks=(52, 13),
            reference_repeats=2,
            default_ics_weeks=156, national_ics="england", national_weeks=260,
            national_repeats=3, profile_weeks=26,
            scaling_sizes=(1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000),
            scaling_weeks=52, docking_seeds=30, docking_weeks=52)
TINY = Plan(repeats=1, ratio_sizes=(150, 300), ratio_weeks=3, reference_weeks=(3, 2),
            reference_repeats=1,
            default_ics_weeks=3, national_ics="small_ics", national_weeks=3, national_repeats=1,
            profile_weeks=2, scaling_sizes=(150, 300), scaling_weeks=2, docking_seeds=2,
            docking_weeks=2)


@dataclass
class Target:
    """A speed or memory target of issue 7 and whether this run met it."""

    name: str
    measured: str
    goal: str
    met: bool

    def __post_init__(self) -> None:
        self.met = bool(self.met)  # numpy comparisons give numpy booleans


@dataclass
class Section:
    """One section of docs/benchmarks.md."""

    title: str
    body: str
    targets: list[Target] = field(default_factory=list)


@dataclass
class Context:
    """What sections get: the plan, where figures go, and results earlier sections left."""

    plan: Plan
    doc_dir: Path
    img_dir: Path
    results: dict[str, Any] = field(default_factory=dict)

    def figure_link(self, path: Path) -> str:
        """``path`` relative to the document, for a markdown image link."""
        return Path(path).resolve().relative_to(self.doc_dir.resolve(), walk_up=True).as_posix()


SectionFunction = Callable[[Context], list[Section]]
SECTIONS: dict[str, tuple[float, SectionFunction]] = {}
SEPARATE: set[str] = set()  # sections measured only when named (``--only``), or at toy sizes


def section(name: str, order: float, *, separate: bool = False):
    """Register ``fn(context) -> list[Section]`` as the benchmark ``name``, placed by ``order``
    in the document; a ``separate`` one is too long for ``make bench`` and has a make target of
    its own (its last measurement is kept in the document until then)."""

    def register(fn: SectionFunction) -> SectionFunction:
        if name in SECTIONS:
            raise ValueError(f"benchmark section {name!r} is registered twice")
        SECTIONS[name] = (order, fn)
        if separate:
            SEPARATE.add(name)
        return fn

    return register


@dataclass(frozen=True)
class Timing:
    """Seconds of repeated measurements; the minimum is the result, the rest its spread."""

    samples: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.samples)

    def __str__(self) -> str:
        if len(self.samples) == 1:
            return f"{self.best:.3g} s (one run)"
        return (f"{self.best:.3g} s (median {np.median(self.samples):.3g}, "
                f"max {max(self.samples):.3g}; n={len(self.samples)})")


def time_model(make_model: Callable[[], Any], repeats: int) -> tuple[Timing, Timing, Any]:
    """Set-up and run times of a model built by ``make_model`` and run to its horizon; also the
    last model run (one model lives at a time)."""
    setups, runs, model = [], [], None
    for _ in range(repeats):
        model = None
        gc.collect()
        start = time.perf_counter()
        model = make_model()
        built = time.perf_counter()
        model.run()
        setups.append(built - start)
        runs.append(time.perf_counter() - built)
    return Timing(tuple(setups)), Timing(tuple(runs)), model


def sized_config(managers: int, weeks: int, seed: int = 0) -> RunConfig:
    """England's real systems at about ``managers`` managers: whole ICBs in the roster's order
    (again from the first, renamed, past all 42), every organisation scaled to make up the total
    (at least one manager)."""
    config = build_config(ics="england", weeks=weeks, seed=seed)
    real = config.ics.members
    members, total = [], 0
    while total < managers or not members:
        source = real[len(members) % len(real)]
        lap = len(members) // len(real)
        members.append(replace(source, name=source.name + (f"_{lap}" if lap else "")))
        total += sum(o.count * o.managers for o in source.organisations)
    if len(members) > 1 and total - managers > managers - (total - _size(members[-1])):
        total -= _size(members.pop())  # the nearer whole number of systems
    factor = managers / total
    members = [replace(m, organisations=[replace(o, managers=max(1, round(o.managers * factor)))
                                         for o in m.organisations]) for m in members]
    return replace(config, ics=replace(config.ics, name=f"england_x{managers}", members=members))


def _size(member) -> int:
    return sum(o.count * o.managers for o in member.organisations)


def tie_pass_seconds(n_ties: int, repeats: int = 20) -> float:
    """The physical limit of one week: one pass over ``n_ties`` ties with one uniform draw per
    tie, compared with a per-tie chance (preallocated buffers; minimum of ``repeats``)."""
    rng = np.random.default_rng(0)
    draws, chance, hit = np.empty(n_ties), np.full(n_ties, 0.15), np.empty(n_ties, dtype=bool)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        rng.random(out=draws)
        np.less(draws, chance, out=hit)
        best = min(best, time.perf_counter() - start)
    return best


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM: ``ru_maxrss`` would also count the
    parent's memory at the time it started this process."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024.0
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def in_worker(spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m benchmarks.worker SPEC`` in a fresh process (with ``env`` added to its
    environment) and return its report."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.worker", json.dumps(spec)],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {spec} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
