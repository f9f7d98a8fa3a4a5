"""Sweep throughput and aggregation memory (issues 4 and 14).

Registers the section ``sweep_throughput``, separate from ``make bench`` (it takes many minutes):
``make bench-sweep`` measures it. It runs the real command a user runs,
``slsim -m seed=range(0,N) ics=ICS hydra.launcher.n_jobs=2 hydra.sweep.dir=DIR`` (joblib, both
cores, 156 weeks, the sweeper's default batches of runs per job), once for ``small_ics`` and once
for ``default_ics``, and times it end to end, resume and atomic per-run results included.
Then it runs ``slsim-aggregate`` over 100 and over all the runs and reports the peak memory of
that process (and of ``slsim-aggregate --help``: the libraries alone).
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

import pyarrow.parquet as pq

from simulation.layout import RUNS_DIR, SUMMARY_FILE, SWEEP_STATUS_FILE, SWEEP_TIMESERIES_FILE

from .core import FULL, ROOT, TINY, Context, Section, Target, section, table

SLSIM = Path(sys.executable).with_name("slsim")
AGGREGATE = Path(sys.executable).with_name("slsim-aggregate")
TARGET_MINUTES = 5.0  # a 1,000-run default_ics sweep on 2 cores (issue 14)


@dataclass(frozen=True)
class SweepSizes:
    runs: int
    weeks: int
    aggregate_runs: tuple[int, ...]


SIZES = {FULL: SweepSizes(runs=1000, weeks=156, aggregate_runs=(100, 1000)),
         TINY: SweepSizes(runs=4, weeks=3, aggregate_runs=(2, 4))}


def peak_memory_mb(command: list[str]) -> tuple[float, float]:
    """Peak resident memory (MB) and wall time of ``command``, run alone in a fresh process.

    A probe process runs it as its only child and reads the child's peak from ``getrusage``.
    """
    probe = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
             "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
             "time.perf_counter() - t]))")
    done = subprocess.run([sys.executable, "-c", probe, *command], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    kilobytes, seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return kilobytes / 1024.0, seconds  # Linux: ru_maxrss is in kB


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
    first_run = next((sweep_dir / RUNS_DIR).iterdir())
    size = json.loads((first_run / SUMMARY_FILE).read_text())
    lines = done.stdout.splitlines()
    validating = next(_log_time(ln) for ln in lines if "Validating" in ln)
    planned = next(_log_time(ln) for ln in lines if "] Sweep of " in ln)
    return {"ics": ics, "runs": status["succeeded"], "wall_s": wall, "cpu_s": cpu,
            "load": os.getloadavg()[0],
            "validation_s": planned - validating, "launch_s": status["elapsed_s"],
            "managers": size["managers"], "ties": size["ties"],
            "command": " ".join(["slsim", *command[1:]]).replace(str(sweep_dir), "OUT")}


def aggregate_subset(sweep_dir: Path, runs: int, scratch: Path) -> dict:
    """Peak memory of ``slsim-aggregate`` over the first ``runs`` runs of ``sweep_dir``."""
    subset = sweep_dir
    folders = sorted((sweep_dir / RUNS_DIR).iterdir())
    if runs < len(folders):
        subset = scratch / f"first_{runs}"
        for folder in folders[:runs]:
            shutil.copytree(folder, subset / RUNS_DIR / folder.name)
    peak, seconds = peak_memory_mb([str(AGGREGATE), str(subset)])
    rows = pq.ParquetFile(subset / SWEEP_TIMESERIES_FILE).metadata.num_rows
    return {"runs": min(runs, len(folders)), "timeseries_rows": rows, "peak_mb": peak,
            "seconds": seconds}


@section("sweep_throughput", order=50, separate=True)
def sweep_throughput(ctx: Context) -> list[Section]:
    sizes = SIZES[ctx.plan]
    rows, memory_rows, targets = [], [], []
    with tempfile.TemporaryDirectory(prefix="slsim-sweep-bench-") as scratch:
        scratch = Path(scratch)
        for ics in ("small_ics", "default_ics"):
            sweep = run_sweep(scratch / ics, ics, sizes)
            rate = sweep["runs"] / sweep["wall_s"]
            cpu_per_week = sweep["cpu_s"] / sweep["runs"] / sizes.weeks  # one run's week
            rows.append([f"`{ics}`", f"{sweep['runs']:,}", f"{sweep['wall_s'] / 60:.1f} min",
                         f"**{rate:.2f}**", f"{sweep['validation_s']:.0f} s",
                         f"{sweep['runs'] / sweep['launch_s']:.2f}",
                         f"{sweep['cpu_s'] / sweep['runs']:.2f} s",
                         f"{cpu_per_week * 1e6 / sweep['managers']:.3g} µs / "
                         f"{cpu_per_week * 1e9 / sweep['ties']:.3g} ns",
                         f"{sweep['cpu_s'] / 2 / 60:.1f} min", f"{sweep['load']:.1f}"])
            if ics == "default_ics":
                minutes = sweep["wall_s"] / 60 * 1000 / sizes.runs
                targets.append(Target(
                    "1,000-run `default_ics` sweep, 2 cores (joblib, batched)",
                    f"{minutes:.1f} min" + ("" if sizes.runs == 1000 else
                                            f" (extrapolated from {sizes.runs} runs)"),
                    f"≤ {TARGET_MINUTES:.0f} min", minutes <= TARGET_MINUTES))
                command = sweep["command"]
        libraries_mb, _ = peak_memory_mb([str(AGGREGATE), "--help"])
        for runs in sizes.aggregate_runs:
            report = aggregate_subset(scratch / "default_ics", runs, scratch)
            memory_rows.append([f"{report['runs']:,}", f"{report['timeseries_rows']:,}",
                                f"**{report['peak_mb']:.0f} MB**",
                                f"{report['peak_mb'] - libraries_mb:.0f} MB",
                                f"{report['seconds']:.1f} s"])
    body = "\n\n".join([
        f"The command a user runs, timed end to end (start-up, validation of every run's config, "
        f"the runs, the summary), with the joblib launcher on 2 worker processes, "
        f"{sizes.weeks} weeks a run, no per-run figure:",
        f"`{command.replace('default_ics', 'ICS')}`",
        table(["ICS", "Runs", "Wall time", "Runs/s (end to end)", "Validation",
               "Runs/s (while launching)", "CPU time per run",
               "CPU per manager-week / per tie-week", "CPU time / 2 cores",
               "Load average at the end"],
              rows),
        "CPU time per run counts the sweep process and its workers (validation, Hydra's "
        "composition of each job, a batch of runs, the runs' files), and per manager-week and "
        "tie-week it is that of one run's week over its managers and its ties. The load "
        "average (1 minute) at the end includes the sweep's own 2 workers: above 2, other work "
        "shared the cores and the wall time includes waiting for them; the sweep's CPU time "
        "over 2 cores then estimates its wall time on an idle machine.",
        "**Aggregation memory.** `slsim-aggregate OUT` over the first runs of the `default_ics` "
        "sweep, each time in a fresh process; its peak resident memory (`getrusage`), and what "
        f"that adds to the {libraries_mb:.0f} MB of `slsim-aggregate --help` (Python and the "
        "libraries alone). Streaming keeps it flat as the runs grow.",
        table(["Runs", "Time-series rows", "Peak memory", "Above the libraries", "Time"],
              memory_rows),
    ])
    return [Section("Sweep throughput", body, targets)]
