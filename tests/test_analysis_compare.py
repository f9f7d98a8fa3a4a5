"""End to end: a tiny `slsim -m` sweep, then `slsim-compare` writes the report, its figures and
tables; Python batches share the sweep's run folders."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from simulation.analysis.batch import plan_jobs, run_jobs, run_values
from simulation.analysis.compare import main as slsim_compare
from simulation.analysis.comparison import compare
from simulation.analysis.load import CompareError, load, resolve_baseline
from simulation.analysis.outcomes import OUTCOMES
from simulation.analysis.report import write_report
from simulation.analysis.stats import paired_difference
from simulation.runner import FAULT_ENV
from simulation.sweeps.aggregate import aggregate

BIN = Path(sys.executable).parent
SCENARIOS = ("baseline", "protected_time", "recommended_package")
SEEDS = 5
TINY = ("ics=small_ics", "weeks=12")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A tiny sweep of three scenarios x five seeds, run by the real `slsim -m` command."""
    out = tmp_path_factory.mktemp("compare") / "sweep"
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    process = subprocess.run(
        [str(BIN / "slsim"), "-m", f"scenario={','.join(SCENARIOS)}", f"seed=range(0,{SEEDS})",
         *TINY, f"hydra.sweep.dir={out}", "hydra.launcher.n_jobs=2"],
        capture_output=True, text=True, env=env, cwd=out.parent, timeout=600, check=False)
    assert process.returncode == 0, process.stderr[-2000:]
    return out


def test_compare_writes_the_report_figures_and_tables(sweep, capsys):
    slsim_compare([str(sweep)])
    printed = capsys.readouterr().out
    assert "Ranking by SL density against baseline (5 seeds" in printed
    assert str(sweep / "report" / "report.md") in printed
    report = sweep / "report"
    text = (report / "report.md").read_text()
    for heading in ("## Summary", "## What was run", "## Ranking", "## Outcomes at the horizon",
                    "## Paired differences against the baseline",
                    "## Cost and cost per unit of gain", "## Replications: are there enough seeds?",
                    "## Figures", "## Method"):
        assert heading in text
    summary = text.split("## Summary")[1].split("##")[0]
    sentences = [line for line in summary.splitlines() if line.startswith("* ")]
    assert 5 <= len(sentences) <= 10
    assert all(s.endswith(".") for s in sentences)
    assert "5 seeds" in summary and "95%" in summary
    for scenario in SCENARIOS:
        assert f"| {scenario} |" in text
    for name in ("timeseries.png", "forest.png", "cost_gain.png", "replications.png"):
        data = (report / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        image = matplotlib.image.imread(report / name)
        assert image.shape[0] > 200 and image.shape[1] > 400
        assert f"]({name})" in text
    html = (report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "<table>" in html
    for table in ("levels", "differences", "costs", "ranking"):
        assert not pd.read_csv(report / "tables" / f"{table}.csv").empty


def test_paired_differences_match_a_direct_computation(sweep):
    outcomes = tuple(OUTCOMES.values())
    tables = load(sweep, outcomes)  # aggregates the sweep first
    result = compare(tables)
    results = pd.read_parquet(sweep / "results.parquet").set_index(["scenario", "seed"])
    treated = results.loc["protected_time"].sort_index()["sl_density"].to_numpy()
    base = results.loc["baseline"].sort_index()["sl_density"].to_numpy()
    expected = paired_difference(treated, base)
    row = result.differences.set_index(["group", "outcome"]).loc[("protected_time",
                                                                   "sl_density")]
    assert row["difference"] == pytest.approx(expected.difference.mean)
    assert row["low"] == pytest.approx(expected.difference.low)
    assert row["relative"] == pytest.approx(expected.relative.mean)
    assert set(result.ranking["group"]) == {"protected_time", "recommended_package"}
    costs = result.costs.set_index("group")
    assert (costs["cost"] > 0).all()
    assert result.seeds == SEEDS and result.baseline == "baseline"


def test_unknown_baseline_and_missing_sweep_are_clear_errors(sweep, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        slsim_compare([str(sweep), "--baseline", "nothing_like_it"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--baseline 'nothing_like_it' matches no group" in error and "protected_time" in error
    with pytest.raises(SystemExit):
        slsim_compare([str(tmp_path / "no_sweep")])
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "message"), [
    (["--precision", "2"], "precision = 2.0 is outside the allowed range [0.001, 0.5]"),
    (["--rank-by", "happiness"], "rank_by = 'happiness' is not one of ['sl_density'"),
])
def test_bad_settings_fail_before_the_sweep_is_read(tmp_path, capsys, option, message):
    """Checked by the schema first: not even the missing sweep folder is noticed."""
    with pytest.raises(SystemExit) as exit_info:
        slsim_compare([str(tmp_path / "no_sweep"), *option])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("slsim-compare: ") and message in error
    assert not (tmp_path / "no_sweep").exists()


def test_an_unreadable_table_is_one_line_not_a_traceback(tmp_path, capsys):
    sweep = tmp_path / "damaged"
    sweep.mkdir()
    for name in ("results.parquet", "timeseries.parquet"):
        (sweep / name).write_text("not a parquet file")
    with pytest.raises(SystemExit) as exit_info:
        slsim_compare([str(sweep)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("slsim-compare: ") and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1


def test_python_batches_reuse_the_sweep_runs(sweep):
    jobs = [[f"scenario={s}", f"seed={seed}", *TINY] for s in SCENARIOS for seed in range(SEEDS)]
    batch = plan_jobs(jobs, sweep)
    assert not batch.plan.to_run  # the same runs, found by config hash
    values = run_values(batch, [OUTCOMES["sl_density"]])
    aggregate(sweep)
    results = pd.read_parquet(sweep / "results.parquet").set_index("config_hash")
    assert np.allclose(values.loc[batch.hashes, "sl_density"],
                       results.loc[batch.hashes, "sl_density"])


def test_a_python_batch_is_a_sweep_folder_compare_reads(tmp_path):
    out = tmp_path / "batch"
    jobs = [[f"scenario={s}", f"seed={seed}", "ics=small_ics", "weeks=4"]
            for s in ("baseline", "coaching_support") for seed in range(3)]
    batch = run_jobs(jobs, out, n_jobs=1)
    assert len(batch.plan.runs) == 6 and (out / "sweep_status.json").exists()
    again = plan_jobs(jobs, out)
    assert len(again.plan.skipped) == 6
    tables = load(out, tuple(OUTCOMES.values()))
    assert resolve_baseline(tables, "baseline") == "baseline"


def test_a_python_batch_on_draws_runs_the_seeds_per_draw_a_sweep_would(tmp_path):
    """seeds_per_draw=R in a batch job on draw K gives R runs on the draw's seeds K x 1000 + r,
    the very runs (config hashes) `slsim -m` plans for the same sweep, each arm on the same
    seeds; without it, one run on the draw's tied seed."""
    from simulation.analysis.batch import job_composer
    from simulation.posterior import draw_seed
    from simulation.results_io import config_hash
    from simulation.sweeps.engine import plan_sweep

    jobs = [[f"scenario={s}", f"draw={k}", "ics=small_ics", "weeks=4", "seeds_per_draw=3"]
            for s in ("baseline", "protected_time") for k in (0, 4)]
    batch = plan_jobs(jobs, tmp_path / "batch")
    assert len(batch.configs) == len(batch.run_dirs) == len(batch.plan.runs) == 12
    assert [(c.scenario.name, c.draw, c.seed) for c in batch.configs] == [
        (s, k, draw_seed(k, r)) for s in ("baseline", "protected_time") for k in (0, 4)
        for r in range(3)]
    with job_composer() as composer:
        sweep = plan_sweep(jobs, composer, tmp_path / "sweep")
    assert sorted(batch.hashes) == sorted(run.config_hash for run in sweep.runs)
    single = plan_jobs([job[:-1] for job in jobs], tmp_path / "single")
    assert [c.seed for c in single.configs] == [draw_seed(k) for _ in range(2) for k in (0, 4)]
    assert single.hashes == [config_hash(c) for c in batch.configs[::3]]


def test_the_guide_quotes_a_real_report():
    """docs/analysis.md quotes the committed interventions report word for word."""
    root = Path(__file__).resolve().parent.parent
    guide = (root / "docs" / "analysis.md").read_text()
    excerpt = guide.split("<!-- excerpt:start -->")[1].split("<!-- excerpt:end -->")[0]
    report = (root / "experiments" / "interventions" / "report-3y" / "report.md").read_text()
    lines = [line.removeprefix("> ").removeprefix("#") for line in excerpt.strip().splitlines()]
    assert len(lines) > 20
    for line in filter(None, lines):
        assert line in report, line


def test_a_grid_sweep_compares_against_a_cell(tmp_path):
    out = tmp_path / "grid"
    jobs = [["ics=small_ics", "weeks=4", f"seed={seed}", f"model.bureaucracy_load={b}",
             f"model.time_scale={t}"] for b in (0.2, 0.8) for t in (0.5, 1.0) for seed in range(3)]
    run_jobs(jobs, out, n_jobs=2)
    tables = load(out)
    assert sorted(tables.groups) == sorted(f"bureaucracy_load={b:g}, time_scale={t:g}"
                                           for b in (0.2, 0.8) for t in (0.5, 1.0))
    base = resolve_baseline(tables, "bureaucracy_load=0.2,time_scale=1")
    assert base == "bureaucracy_load=0.2, time_scale=1"
    with pytest.raises(CompareError, match="matches several groups"):
        resolve_baseline(tables, "bureaucracy_load=0.2")
    paths = write_report(compare(tables, baseline=base))
    assert "grid.png" in paths and "cost_gain.png" not in paths
    assert "nothing to price" in paths["report.md"].read_text()
