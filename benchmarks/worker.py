"""Time one model in a fresh process and report its peak memory.

``python -m benchmarks.worker SPEC``, where SPEC is JSON with ``ics`` (an archetype name) or
``managers`` (a scaled england archetype), ``weeks`` and ``repeats``. Prints one JSON line: set-up
and run seconds of each repeat, managers, ties, peak resident memory before building and at the
end (MB), and the physical limit (one pass over the ties with one draw per tie, seconds).
"""

import json
import resource
import sys
from pathlib import Path

from benchmarks.core import sized_config, tie_pass_seconds, time_model
from simulation.model import SharedLeadershipModel
from simulation.params import build_config


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM: ``ru_maxrss`` would also count the
    parent's memory at the time it started this process."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024.0
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(spec: dict) -> dict:
    weeks = spec["weeks"]
    config = (sized_config(spec["managers"], weeks) if "managers" in spec
              else build_config(ics=spec["ics"], weeks=weeks))
    before = peak_rss_mb()
    setup, run, model = time_model(lambda: SharedLeadershipModel(config), spec["repeats"])
    peak = peak_rss_mb()
    return {
        "managers": len(model.managers),
        "ties": len(model.ties),
        "systems": config.ics.systems,
        "weeks": weeks,
        "setup_s": list(setup.samples),
        "run_s": list(run.samples),
        "peak_rss_before_mb": before,
        "peak_rss_mb": peak,
        "tie_pass_s": tie_pass_seconds(len(model.ties)),
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
