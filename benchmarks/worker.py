"""Time one model in a fresh process and report its peak memory.

``python -m benchmarks.worker SPEC``, where SPEC is JSON with ``ics`` (an archetype name) or
``managers`` (England's real ICBs, scaled), ``weeks`` and ``repeats``. Prints one JSON line: set-up
and run seconds of each repeat, managers, ties, peak resident memory before building and at the
end (MB), and the physical limit (one pass over the ties with one draw per tie, seconds).
"""

import json
import sys

from benchmarks.core import peak_rss_mb, sized_config, tie_pass_seconds, time_model
from simulation.config import build_config
from simulation.model import SharedLeadershipModel


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
        "systems": len(config.ics.system_list()),
        "weeks": weeks,
        "setup_s": list(setup.samples),
        "run_s": list(run.samples),
        "peak_rss_before_mb": before,
        "peak_rss_mb": peak,
        "tie_pass_s": tie_pass_seconds(len(model.ties)),
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
