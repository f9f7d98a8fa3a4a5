"""`slsim-sensitivity` end to end on a tiny Morris design: runs through the sweep engine, resumes,
writes indices, a bar chart per outcome and the report naming the driving assumptions."""

import pandas as pd
import pytest

from simulation.analysis import sensitivity
from simulation.params import ConfigError, uncertain_parameters

PARAMETERS = ["model.bureaucracy_load", "model.support", "network.cross_org_degree"]


def test_morris_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "gsa"
    arguments = [str(out), "--method", "morris", "--weeks", "6", "--samples", "2",
                 "--parameters", ",".join(PARAMETERS), "--outcomes", "sl_density,burnout_share",
                 "--seeds", "2", "--n-jobs", "2"]
    sensitivity.main(arguments)
    printed = capsys.readouterr().out
    assert "slsim sweep finished: 16 of 16 runs succeeded (16 run now" in printed
    assert "The assumptions that drive the results" in printed
    folder = out / "sensitivity" / "morris"
    indices = pd.read_csv(folder / "indices.csv")
    assert set(indices["parameter"]) == set(PARAMETERS)
    assert set(indices["outcome"]) == {"sl_density", "burnout_share"}
    assert (indices["mu_star"] >= 0).all()
    for outcome in ("sl_density", "burnout_share"):
        assert (folder / f"morris_{outcome}.png").read_bytes().startswith(b"\x89PNG")
    report = (folder / "report.md").read_text()
    assert "## What drives the results" in report and "Seed noise is" in report
    design = pd.read_parquet(folder / "design.parquet")
    assert len(design) == 8 and list(design.columns[:3]) == PARAMETERS
    bounds = {p: uncertain_parameters()[p]["range"] for p in PARAMETERS}
    for name, (low, high) in bounds.items():
        assert design[name].between(low, high).all()
    sensitivity.main(arguments)  # resumes: every run is already done
    assert "(0 run now, 16 skipped as already done)" in capsys.readouterr().out
    assert pd.read_csv(folder / "indices.csv").equals(indices)
    (folder / "report.md").unlink()
    sensitivity.main([*arguments, "--report-only"])  # from the saved results, no planning
    printed = capsys.readouterr().out
    assert "sweep finished" not in printed and "Seed noise is" in printed
    assert (folder / "report.md").read_text() == report


def test_screening_keeps_the_strongest_parameters(tmp_path):
    folder = tmp_path / "sensitivity" / "morris"
    folder.mkdir(parents=True)
    pd.DataFrame({"outcome": ["a", "a", "a", "b", "b", "b"],
                  "parameter": ["x", "y", "z", "x", "y", "z"],
                  "mu_star": [10.0, 1.0, 0.1, 0.0, 0.05, 0.5]}).to_csv(folder / "indices.csv")
    assert sensitivity.screen(tmp_path, 2) == ["x", "z"]
    assert sensitivity.screen(folder, 2) == sensitivity.screen(folder / "indices.csv", 2)
    with pytest.raises(FileNotFoundError, match="run the Morris screening first"):
        sensitivity.screen(tmp_path / "elsewhere", 2)


@pytest.mark.parametrize(("extra", "message"), [
    (["--parameters", "model.nope"], "parameters has ['model.nope']: allowed values are"),
    (["--outcomes", "sl_density,happiness"], "outcomes has ['happiness']: allowed values are"),
    (["--method", "sobol", "--samples", "6"], "samples = 6 must be a power of 2"),
    (["--seeds", "0"], "seeds = 0 is outside the allowed range [1, 1000]"),
    (["--samples", "0"], "samples = 0 is outside the allowed range [2, 65536]"),
    (["--span", "0"], "span = 0.0 is outside the allowed range [0.001, 100.0]"),
    (["--ics", "atlantis"], "ics = 'atlantis' is not one of ['default_ics'"),
    (["--method", "fast"], "method = 'fast' is not one of ['morris', 'sobol']"),
    (["--transform", "rank"], "transform = 'rank' applies to Sobol indices only"),
    (["--parameters", "model.support", "--screen", "elsewhere"],
     "give parameters or screen, not both"),
])
def test_bad_settings_are_rejected_before_any_run(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        sensitivity.main([str(tmp_path / "x"), *extra])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("slsim-sensitivity: ") and message in error
    assert not (tmp_path / "x" / "runs").exists()


def test_settings_default_the_design_size_to_the_method():
    assert sensitivity.SensitivitySettings().samples == 20
    assert sensitivity.SensitivitySettings(method="sobol").samples == 256
    assert sensitivity.SensitivitySettings(outcomes=("sl_density",)).outcomes == ["sl_density"]


def test_sobol_ranks_and_unreliable_estimates(tmp_path):
    """Rank-based Sobol indices end to end on a tiny design, and the warning for estimates that
    cannot be trusted."""
    result = sensitivity.run_sensitivity(
        tmp_path / "gsa", "sobol", weeks=4, parameters=["model.support", "model.task_rate"],
        outcomes=["sl_density"], samples=8, transform="rank", n_jobs=2)
    assert result.runs == 8 * 4 and result.settings["transform"] == "rank"
    report = (tmp_path / "gsa" / "sensitivity" / "sobol" / "report.md").read_text()
    assert "analysed as its rank" in report
    wild = pd.DataFrame({"ST": [2.5, 0.1], "ST_conf": [3.0, 0.05], "S1": [0.1, 0.05]})
    assert sensitivity.unreliable(wild)
    assert not sensitivity.unreliable(wild.assign(ST=[0.6, 0.1], ST_conf=[0.1, 0.05]))
    with pytest.raises(ConfigError, match="Sobol indices only"):
        sensitivity.run_sensitivity(tmp_path / "x", "morris", transform="rank")
