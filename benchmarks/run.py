"""Write docs/benchmarks.md: ``python -m benchmarks.run`` (``make bench``).

Options: ``--tiny`` runs every section at toy sizes (the smoke test; the figures mean nothing);
``--only NAME`` measures some sections again and keeps the others from the existing document
(repeatable; ``--list`` names them). Without ``--only``, every section but the separate ones
(too long for ``make bench``: the 1,000-run sweep, ``make bench-sweep``) is measured, and those
are kept; ``--out`` and ``--img-dir`` say where the document and its
figures go. A benchmark that fails is reported in its section, the others still run, and the
exit status is 1.
"""

import argparse
import importlib
import json
import os
import pkgutil
import platform
import re
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchmarks
from simulation.results_io import package_versions, write_streamed

from .core import FULL, ROOT, SECTIONS, SEPARATE, TINY, Context, Section, Target, table

DOC = ROOT / "docs" / "benchmarks.md"
# Each section's block in the document starts with this marker, which keeps what a later
# ``--only`` run needs to carry the block over: its name, order, date and targets.
MARKER = re.compile(r"^<!-- benchmark (\{.*\}) -->$", flags=re.MULTILINE)


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


@dataclass
class Block:
    """One registered benchmark's part of the document: its marker data and its markdown."""

    meta: dict[str, Any]
    text: str

    def render(self) -> str:
        return f"<!-- benchmark {json.dumps(self.meta)} -->\n\n{self.text}"


def measure(name: str, context: Context, tiny: bool) -> Block:
    """Run one registered benchmark; a failure becomes a block that says so."""
    order, function = SECTIONS[name]
    print(f"benchmark {name} ...", end=" ", file=sys.stderr, flush=True)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        sections, failed = function(context), False
    except Exception:
        failure = traceback.format_exc(limit=-6)
        sections, failed = [Section(f"{name}: failed", "*This benchmark failed; the other "
                                    f"sections are unaffected.*\n\n```\n{failure}```")], True
    seconds = time.perf_counter() - started
    print(f"{'FAILED after ' if failed else ''}{seconds:.1f} s", file=sys.stderr, flush=True)
    when = (f"*Measured {date} in {seconds:.0f} s; load average {load_start:.1f} at the start "
            f"and {os.getloadavg()[0]:.1f} at the end.*")
    text = "\n\n".join(f"## {s.title}\n\n{when + chr(10) * 2 if k == 0 else ''}{s.body}"
                        for k, s in enumerate(sections))
    meta = {"name": name, "order": order, "tiny": tiny, "failed": failed,
            "targets": [asdict(t) for s in sections for t in s.targets]}
    return Block(meta, text)


def not_measured(name: str, tiny: bool) -> Block:
    """The block of a registered benchmark that has not run yet."""
    meta = {"name": name, "order": SECTIONS[name][0], "tiny": tiny, "failed": False,
            "targets": []}
    return Block(meta, f"## {name}\n\n*Not measured yet: `python -m benchmarks.run --only "
                       f"{name}` measures it.*")


def previous_blocks(path: Path, tiny: bool) -> dict[str, Block]:
    """The blocks of an earlier document at ``path`` (of the same plan), by name."""
    if not path.is_file():
        return {}
    parts = MARKER.split(path.read_text())
    blocks = {}
    for meta_json, text in zip(parts[1::2], parts[2::2], strict=True):
        meta = json.loads(meta_json)
        if meta["tiny"] == tiny:
            blocks[meta["name"]] = Block(meta, text.strip())
    return blocks


def render(blocks: list[Block], machine_table: str, date: str, tiny: bool) -> str:
    targets = [Target(**t) for b in blocks for t in b.meta["targets"]]
    parts = [
        "# Benchmarks",
        f"Written by `make bench` (`python -m benchmarks.run`) on {date}"
        f"{' with --tiny: toy sizes, the figures mean nothing' if tiny else ''}. Each section "
        "says when it was measured (`--only NAME` measures some again and keeps the rest). Do "
        "not edit by hand: run the command again.",
        "## Targets",
        table(["Target", "Measured", "Goal", "Met"],
              [[t.name, t.measured, t.goal, "yes" if t.met else "**no**"] for t in targets])
        if targets else "*No section with a target ran.*",
        "## Machine and software",
        machine_table,
        "## How it is measured",
        METHOD,
        *(b.render() for b in blocks),
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, write the document, and return the exit status (1 if a benchmark failed)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="toy sizes: checks every section "
                        "runs (the smoke test); the figures mean nothing")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="measure this section again, keep the others (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--out", type=Path, default=DOC, help=f"default: {DOC}")
    parser.add_argument("--img-dir", type=Path, help="default: img/ beside --out")
    args = parser.parse_args(argv)
    discover()
    names = sorted(SECTIONS, key=lambda name: SECTIONS[name][0])
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {names}")

    context = Context(plan=TINY if args.tiny else FULL, doc_dir=args.out.parent,
                      img_dir=args.img_dir or args.out.parent / "img")
    measured = (set(args.only) if args.only
                else {name for name in names if args.tiny or name not in SEPARATE})
    kept = previous_blocks(args.out, args.tiny) if measured != set(names) else {}
    load_start, date = os.getloadavg(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks = [measure(name, context, args.tiny) if name in measured
              else kept.get(name) or not_measured(name, args.tiny) for name in names]
    document = render(blocks, machine(load_start, os.getloadavg()), date, args.tiny)
    write_streamed(args.out, lambda tmp: Path(tmp).write_text(document))
    failed = [b.meta["name"] for b in blocks if b.meta["failed"]]
    print(f"wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
