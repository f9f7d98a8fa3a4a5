"""Sweep throughput and aggregation memory (issue 4).

Registers the section ``sweep_throughput``. It runs the real command a user runs,
``slsim -m seed=range(0,N) ics=ICS hydra.launcher.n_jobs=2 hydra.sweep.dir=DIR`` (joblib, both
cores, 156 weeks), once for ``small_ics`` and once for ``default_ics``, and times it end to end.
Then ``slsim-aggregate`` collects 100 and all the runs, each in a fresh process, and reports its
peak memory.

Standalone: ``python -m benchmarks.sweep_bench aggregate DIR`` aggregates DIR in this process and
prints one JSON line with its peak memory (the section uses it for each measurement).
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulation.sweep import RUNS_DIR, SWEEP_STATUS_FILE

from .core import FULL, ROOT, TINY, Context, Section, Target, section, table

SLSIM = Path(sys.executable).with_name("slsim")
TARGET_MINUTES = 15.0  # a 1,000-run default_ics sweep on 2 cores (issue 4)


@dataclass(frozen=True)
class SweepSizes:
    runs: int
    weeks: int
    aggregate_runs: tuple[int, ...]


SIZES = {FULL: SweepSizes(runs=1000, weeks=156, aggregate_runs=(100, 1000)),
         TINY: SweepSizes(runs=4, weeks=3, aggregate_runs=(2, 4))}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def aggregate_in_this_process(sweep_dir: Path) -> dict:
    """Aggregate ``sweep_dir``; peak memory before (libraries loaded) and after, in MB."""
    from simulation.aggregate import aggregate

    before = peak_rss_mb()
    started = time.perf_counter()
    _, totals = aggregate(sweep_dir)
    return {"runs": totals.runs, "timeseries_rows": totals.timeseries_rows,
            "seconds": time.perf_counter() - started, "peak_rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb()}


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished children (the sweep and its workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log_time(line: str) -> float:
    stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", line)
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def run_sweep(sweep_dir: Path, ics: str, sizes: SweepSizes) -> dict:
    """Run one sweep with ``slsim -m`` and time it: end to end, validation, and launch to end."""
    command = [str(SLSIM), "-m", f"seed=range(0,{sizes.runs})", f"ics={ics}",
               f"weeks={sizes.weeks}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
               f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.progress_interval=60"]
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, _children_cpu_s() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}"
                           f"{done.stderr[-2000:]}")
    status = json.loads((sweep_dir / SWEEP_STATUS_FILE).read_text())
    lines = done.stdout.splitlines()
    validating = next(_log_time(ln) for ln in lines if "Validating" in ln)
    planned = next(_log_time(ln) for ln in lines if "] Sweep of " in ln)
    return {"ics": ics, "runs": status["succeeded"], "wall_s": wall, "cpu_s": cpu,
            "load": os.getloadavg()[0],
            "validation_s": planned - validating, "launch_s": status["elapsed_s"],
            "command": " ".join(["slsim", *command[1:]]).replace(str(sweep_dir), "OUT")}


def aggregate_subset(sweep_dir: Path, runs: int, scratch: Path) -> dict:
    """Peak memory of ``slsim-aggregate`` over the first ``runs`` runs, in a fresh process."""
    subset = sweep_dir
    folders = sorted((sweep_dir / RUNS_DIR).iterdir())
    if runs < len(folders):
        subset = scratch / f"first_{runs}"
        for folder in folders[:runs]:
            shutil.copytree(folder, subset / RUNS_DIR / folder.name)
    done = subprocess.run([sys.executable, "-m", "benchmarks.sweep_bench", "aggregate",
                           str(subset)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"aggregating {subset} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@section("sweep_throughput", order=50)
def sweep_throughput(ctx: Context) -> list[Section]:
    sizes = SIZES[ctx.plan]
    rows, memory_rows, targets = [], [], []
    with tempfile.TemporaryDirectory(prefix="slsim-sweep-bench-") as scratch:
        scratch = Path(scratch)
        for ics in ("small_ics", "default_ics"):
            sweep = run_sweep(scratch / ics, ics, sizes)
            rate = sweep["runs"] / sweep["wall_s"]
            rows.append([f"`{ics}`", f"{sweep['runs']:,}", f"{sweep['wall_s'] / 60:.1f} min",
                         f"**{rate:.2f}**", f"{sweep['validation_s']:.0f} s",
                         f"{sweep['runs'] / sweep['launch_s']:.2f}",
                         f"{sweep['cpu_s'] / sweep['runs']:.2f} s", f"{sweep['load']:.1f}"])
            if ics == "default_ics":
                minutes = sweep["wall_s"] / 60 * 1000 / sizes.runs
                targets.append(Target(
                    "1,000-run `default_ics` sweep, 2 cores (joblib)",
                    f"{minutes:.1f} min" + ("" if sizes.runs == 1000 else
                                            f" (extrapolated from {sizes.runs} runs)"),
                    f"< {TARGET_MINUTES:.0f} min", minutes < TARGET_MINUTES))
                command = sweep["command"]
        for runs in sizes.aggregate_runs:
            report = aggregate_subset(scratch / "default_ics", runs, scratch)
            memory_rows.append([f"{report['runs']:,}", f"{report['timeseries_rows']:,}",
                                f"{report['peak_rss_before_mb']:.0f} MB",
                                f"**{report['peak_rss_mb']:.0f} MB**",
                                f"{report['peak_rss_mb'] - report['peak_rss_before_mb']:.0f} MB",
                                f"{report['seconds']:.1f} s"])
    body = "\n\n".join([
        f"The command a user runs, timed end to end (start-up, validation of every run's config, "
        f"the runs, the summary), with the joblib launcher on 2 worker processes, "
        f"{sizes.weeks} weeks a run, no per-run figure:",
        f"`{command.replace('default_ics', 'ICS')}`",
        table(["ICS", "Runs", "Wall time", "Runs/s (end to end)", "Validation",
               "Runs/s (while launching)", "CPU time per run", "Load average at the end"],
              rows),
        "CPU time per run counts the sweep process and its workers (Hydra's composition of each "
        "run, the run, its files). On a shared machine (load average above 2) the wall time "
        "includes waiting for the cores.",
        "**Aggregation memory.** `slsim-aggregate OUT` over the first runs of the `default_ics` "
        "sweep, each in a fresh process (`python -m benchmarks.sweep_bench aggregate DIR`). Peak "
        "resident memory is reported once the libraries are loaded and at the end; streaming "
        "keeps the difference flat as the runs grow.",
        table(["Runs", "Time-series rows", "Peak memory, libraries loaded", "Peak memory",
               "Added by aggregating", "Time"], memory_rows),
    ])
    return [Section("Sweep throughput", body, targets)]


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] != "aggregate":
        sys.exit("usage: python -m benchmarks.sweep_bench aggregate SWEEP_DIR")
    print(json.dumps(aggregate_in_this_process(Path(argv[1]))))

if __name__ == "__main__":
    main(sys.argv[1:])
