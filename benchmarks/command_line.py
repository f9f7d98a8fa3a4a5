"""The command line as a user meets it (issue 14): whole processes, timed from outside.

Registers the section ``command_line``. It times, each as a fresh process and in turn (floor,
run, floor, run, ... after one warm-up of each, so the machine's drift touches both alike):

* the **import floor**, a process that only imports mesa and Hydra (``python -c "import mesa,
  hydra"``): what any ``slsim`` command pays before it does anything;
* one ``slsim`` run of ``default_ics`` with its figure, as a user types it, into a fresh folder;

and reports ``python -X importtime`` for what one such run imports above the floor.
"""

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulation.layout import SUMMARY_FILE

from .core import FULL, ROOT, TINY, Context, Section, Target, Timing, section, table

SLSIM = Path(sys.executable).with_name("slsim")
FLOOR = [sys.executable, "-c", "import mesa, hydra"]
TARGET_ABOVE_FLOOR_S = 1.0  # one default_ics run with its figure, above the import floor


@dataclass(frozen=True)
class CommandSizes:
    repeats: int
    weeks: int


SIZES = {FULL: CommandSizes(repeats=7, weeks=156), TINY: CommandSizes(repeats=1, weeks=3)}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_process(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``command`` run to its end as a fresh process."""
    cpu, started = _children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return wall, _children_cpu_s() - cpu


def imports_above_floor(run: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """What one ``slsim`` run (``run``: its arguments) imports once mesa and Hydra are in
    (``python -X importtime``): the cumulative seconds of every import the floor does not do,
    and the five largest of them. They include what the command loads before Hydra starts, what
    Hydra's plugin scan imports, what loading the compiled kernels imports and matplotlib, for
    the figure."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import mesa, hydra, sys; from simulation.cli import main; "
                           f"sys.argv[1:] = {run!r}; main()"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    top: list[tuple[str, float]] = []
    above_floor = False
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", line)  # top level only
        if match and above_floor:
            top.append((match.group(2), int(match.group(1)) / 1e6))
        above_floor = above_floor or bool(match and match.group(2) == "hydra")
    if not top:
        raise RuntimeError("python -X importtime listed no import above the floor")
    return sum(seconds for _, seconds in top), sorted(top, key=lambda item: -item[1])[:5]


def _timing_cell(samples: list[float]) -> str:
    return str(Timing(tuple(samples)))


@section("command_line", order=45)
def command_line(ctx: Context) -> list[Section]:
    sizes = SIZES[ctx.plan]
    floor_wall, floor_cpu, run_wall, run_cpu, model_s = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="slsim-command-bench-") as scratch:
        def run(number: int) -> list[str]:
            return [str(SLSIM), "ics=default_ics", f"weeks={sizes.weeks}",
                    f"hydra.run.dir={Path(scratch) / f'run{number}'}"]

        whole_process(FLOOR), whole_process(run(0))  # warm-ups: files cached, not counted
        for number in range(1, sizes.repeats + 1):
            wall, cpu = whole_process(FLOOR)
            floor_wall.append(wall), floor_cpu.append(cpu)
            wall, cpu = whole_process(run(number))
            run_wall.append(wall), run_cpu.append(cpu)
            summary = json.loads((Path(scratch) / f"run{number}" / SUMMARY_FILE).read_text())
            model_s.append(summary["wall_time_s"])
        run_import_s, imports = imports_above_floor(run(sizes.repeats + 1)[1:])
    above = min(run_wall) - min(floor_wall)
    cpu_above = float(np.median(run_cpu) - np.median(floor_cpu))
    rows = [
        ["Import floor: `python -c \"import mesa, hydra\"`", _timing_cell(floor_wall),
         f"{np.median(floor_cpu):.2f} s", "—", "—"],
        [f"`slsim ics=default_ics` ({sizes.weeks} weeks, with its figure)",
         _timing_cell(run_wall), f"{np.median(run_cpu):.2f} s", f"**{above:.2f} s**",
         f"{cpu_above:.2f} s"],
        ["… of which the run itself (simulate, write, draw: `wall_time_s` of summary.json)",
         _timing_cell(model_s), "—", "—", "—"],
    ]
    body = "\n\n".join([
        f"Whole processes, timed from outside (`subprocess`, wall time and the children's CPU "
        f"time from `getrusage`), in turn: floor, run, floor, run, … after one warm-up of each; "
        f"{sizes.repeats} of each counted. The target compares the minimum wall times. Both "
        "commands are single-threaded, so on an idle machine wall time is about CPU time; "
        "where other work shares the cores (see the load average) wall time includes waiting "
        "for them, and the CPU time above the floor is the better estimate.",
        table(["Command", "Wall time", "CPU time (median)", "Above the floor (wall)",
               "Above the floor (CPU, medians)"], rows),
        f"**What one `slsim` run imports above the floor**: {run_import_s * 1000:.0f} ms, every "
        "import the floor does not do (`python -X importtime`, the run started in a process "
        "that first imports mesa and Hydra): what the command loads before Hydra starts (the "
        "model and its compiled kernels' numba among them), what Hydra's plugin scan imports, "
        "what numba imports as it loads the cached kernels and matplotlib, imported only to "
        "draw the figure (sweeps, which draw none by default, never load it). The largest five, "
        "cumulative:",
        table(["Module", "Import time"],
              [[f"`{name}`", f"{seconds * 1000:.0f} ms"] for name, seconds in imports[:5]]),
    ])
    targets = [Target("One `slsim` run of `default_ics` with its figure, above the import floor",
                      f"{above:.2f} s", f"≤ {TARGET_ABOVE_FLOOR_S:.1f} s",
                      above <= TARGET_ABOVE_FLOOR_S)]
    return [Section("The command line", body, targets)]
