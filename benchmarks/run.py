"""Write docs/benchmarks.md: ``python -m benchmarks.run`` (``make bench``).

Options: ``--tiny`` runs every section at toy sizes (the smoke test; the figures mean nothing);
``--only NAME`` runs some sections (repeatable; ``--list`` names them); ``--out`` and
``--img-dir`` say where the document and its figures go.
"""

import argparse
import importlib
import os
import pkgutil
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import benchmarks
from simulation.results_io import package_versions, write_streamed

from .core import FULL, ROOT, SECTIONS, TINY, Context, Section, table

DOC = ROOT / "docs" / "benchmarks.md"
# Sections another issue provides; until its module registers one, the document says so.
AWAITED = {
    "sweep_throughput": (50, Section(
        "Sweep throughput",
        "*To be filled by the sweep benchmark (issue 4): a module in `benchmarks/` that "
        "registers the section `sweep_throughput` with `benchmarks.core.section`. No such "
        "module exists yet.*")),
}


def discover() -> None:
    """Import every module of the package, so that each registers its sections."""
    for module in pkgutil.iter_modules(benchmarks.__path__):
        if module.name not in ("run", "worker"):
            importlib.import_module(f"benchmarks.{module.name}")


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
    except OSError:
        return platform.processor() or "unknown"
    info = {key.strip(): value.strip() for key, _, value in (ln.partition(":") for ln in lines)}
    return (f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')}, "
            f"model {info.get('model', '?')}, cache {info.get('cache size', '?')})")


def _memory_gib() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        return f"{kb / 2**20:.1f} GiB"
    except (OSError, IndexError, ValueError):
        return "unknown"


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        dirty = ", with uncommitted changes" if git("status", "--porcelain") else ""
        return f"`{git('rev-parse', '--short', 'HEAD')}`{dirty}"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine(load_start: tuple[float, ...], load_end: tuple[float, ...]) -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rows = [
        ["CPU", f"{_cpu()}: {os.cpu_count()} logical cores, {usable} usable"],
        ["Memory", _memory_gib()],
        ["System", platform.platform()],
        ["Python", platform.python_version()],
        ["Code", _commit()],
        *[[name, version] for name, version in package_versions().items()],
        ["Load average (1 min) at start and end", f"{load_start[0]:.2f}, {load_end[0]:.2f}"],
    ]
    return table(["", ""], rows)


METHOD = """\
- **Set-up** (building organisations, managers, the network and the Mesa agents) and **run**
  (every week, including the weekly outputs and the DataCollector) are timed separately with
  `time.perf_counter`. Each timing is repeated; the **minimum** is the result, and the median and
  maximum show the spread. The machine may be shared, so the minimum is the fairest figure.
- Runs whose memory is reported run in a fresh process (`benchmarks/worker.py`); memory is the
  process's peak resident set size (`getrusage`), Python and its libraries included.
- One core: numpy runs these loops single-threaded.
- Sections live in `benchmarks/*.py`; each registers itself with `benchmarks.core.section`."""


def render(sections: list[Section], machine_table: str, header: str, minutes: float) -> str:
    targets = [t for s in sections for t in s.targets]
    parts = [
        "# Benchmarks",
        f"Written by `make bench` (`python -m benchmarks.run`) on {header}, in "
        f"{minutes:.1f} minutes. Do not edit by hand: run the command again.",
        "## Targets",
        table(["Target", "Measured", "Goal", "Met"],
              [[t.name, t.measured, t.goal, "yes" if t.met else "**no**"] for t in targets])
        if targets else "*No section with a target ran.*",
        "## Machine and software",
        machine_table,
        "## How it is measured",
        METHOD,
    ]
    for s in sections:
        parts += [f"## {s.title}", s.body]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="toy sizes: checks every section "
                        "runs (the smoke test); the figures mean nothing")
    parser.add_argument("--only", action="append", metavar="NAME", help="run this section")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--out", type=Path, default=DOC, help=f"default: {DOC}")
    parser.add_argument("--img-dir", type=Path, help="default: img/ beside --out")
    args = parser.parse_args(argv)
    discover()
    registered = {name: order for name, (order, _) in SECTIONS.items()}
    known = registered | {name: order for name, (order, _) in AWAITED.items()}
    if args.list:
        print("\n".join(sorted(known, key=known.get)))
        return args.out
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {sorted(known)}")

    context = Context(plan=TINY if args.tiny else FULL, doc_dir=args.out.parent,
                      img_dir=args.img_dir or args.out.parent / "img")
    started, load_start = time.perf_counter(), os.getloadavg()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections: list[Section] = []
    for name in sorted(known, key=known.get):
        if args.only and name not in args.only:
            continue
        if name not in registered:
            sections.append(AWAITED[name][1])
            continue
        print(f"benchmark {name} ...", end=" ", file=sys.stderr, flush=True)
        section_started = time.perf_counter()
        sections += SECTIONS[name][1](context)
        print(f"{time.perf_counter() - section_started:.1f} s", file=sys.stderr, flush=True)
    minutes = (time.perf_counter() - started) / 60.0
    header = f"{date}{' (--tiny: toy sizes, the figures mean nothing)' if args.tiny else ''}"
    document = render(sections, machine(load_start, os.getloadavg()), header, minutes)
    write_streamed(args.out, lambda tmp: Path(tmp).write_text(document))
    print(f"wrote {args.out}", file=sys.stderr)
    return args.out


if __name__ == "__main__":
    main()
