"""Verdicts agree with the statistic printed beside them (issue 15, section 3): in the seed-only
tables a difference is **clear** only when its Holm-adjusted p-value is below 0.05, never from
an unadjusted CI while the adjusted p says otherwise (the demo's protected-time burnout row read
"clear" beside p (Holm) = 0.076)."""

from pathlib import Path

import numpy as np
import pandas as pd

from simulation.analysis.comparison import _costs, _differences
from simulation.analysis.load import SweepTables
from simulation.analysis.outcomes import OUTCOMES, TASKS_TOTAL, column_name

SEEDS = 20


def _tables() -> SweepTables:
    """Synthetic runs: four options, each with one outcome shifted by a different number of
    standard errors, so some differences have an unadjusted p just below 0.05 and an adjusted
    one above it."""
    rng = np.random.default_rng(15)
    names = [column_name(o) for o in OUTCOMES.values()] + [column_name(TASKS_TOTAL), "cost"]
    base = {name: rng.normal(10.0, 1.0, SEEDS) for name in names}
    rows = []
    shifts = {"baseline": 0.0, "a": 0.3, "b": 0.55, "c": 2.0}  # in units of the noise SD
    for group, shift in shifts.items():
        noise = rng.normal(0.0, 1.0, (len(names), SEEDS))
        for seed in range(SEEDS):
            row = {"group": group, "seed": seed, "run": f"{group}-{seed}", "config_hash": ""}
            for i, name in enumerate(names):
                row[name] = base[name][seed] + (shift + noise[i, seed] if group != "baseline"
                                                else 0.0)
            rows.append(row)
    runs = pd.DataFrame(rows)
    return SweepTables(Path("."), runs, pd.DataFrame(), ["scenario"], list(shifts), 0,
                       ["synthetic"], [52])


def test_a_clear_verdict_is_a_holm_adjusted_p_below_005():
    tables = _tables()
    differences = _differences(tables, "baseline", tuple(o for o in OUTCOMES.values()
                                                         if o.better is not None))
    disagreeing = differences[(differences["high"] < 0) | (differences["low"] > 0)]
    assert (disagreeing["p_holm"] >= 0.05).any(), "the data must hold a case the CI calls clear"
    np.testing.assert_array_equal(differences["clear"], differences["p_holm"] < 0.05)


def test_the_cost_table_takes_its_verdict_from_the_differences_table():
    tables = _tables()
    primary = OUTCOMES["sl_density"]
    differences = _differences(tables, "baseline", (primary, OUTCOMES["tasks_completed"]))
    costs = _costs(tables, "baseline", primary, differences).set_index("group")
    rows = differences[differences["outcome"] == "sl_density"].set_index("group")
    np.testing.assert_array_equal(costs["primary_clear"], rows.loc[costs.index, "clear"])
