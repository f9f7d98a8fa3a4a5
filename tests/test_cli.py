"""End to end through the real ``slsim`` command: outputs, reproducibility, validation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

SLSIM = str(Path(sys.executable).parent / "slsim")


def slsim(*args, hash_seed="0"):
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([SLSIM, *args], capture_output=True, text=True, env=env, timeout=300)


def test_a_run_writes_its_outputs(tmp_path):
    out = tmp_path / "run"
    result = slsim("ics=small_ics", "seed=7", "weeks=12", "model.bureaucracy_load=0.3",
                   f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr
    assert "sl_density" in result.stdout and str(out) in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["status"] == "succeeded"
    assert len(summary["config_hash"]) == 16
    assert {"mesa", "numpy", "hydra-core"} <= set(summary["versions"])
    assert summary["wall_time_s"] > 0
    assert summary["config"]["model"]["bureaucracy_load"] == 0.3
    series = pd.read_parquet(out / "timeseries.parquet")
    assert len(series) == 13 and "sl_density" in series.columns
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / ".hydra" / "config.yaml").is_file()
    assert json.loads((out / "status.json").read_text())["status"] == "succeeded"


def test_same_config_and_seed_give_identical_results_in_new_processes(tmp_path):
    runs = []
    for name, hash_seed in (("a", "0"), ("b", "12345"), ("c", "random")):
        out = tmp_path / name
        result = slsim("ics=small_ics", "seed=3", "weeks=30", "scenario=recommended_package",
                       f"hydra.run.dir={out}", hash_seed=hash_seed)
        assert result.returncode == 0, result.stderr
        runs.append(pd.read_parquet(out / "timeseries.parquet"))
    pd.testing.assert_frame_equal(runs[0], runs[1], check_exact=True)
    pd.testing.assert_frame_equal(runs[0], runs[2], check_exact=True)

    other = tmp_path / "other_seed"
    assert slsim("ics=small_ics", "seed=4", "weeks=30", "scenario=recommended_package",
                 f"hydra.run.dir={other}").returncode == 0
    assert not runs[0].equals(pd.read_parquet(other / "timeseries.parquet"))


@pytest.mark.parametrize(("override", "expected"), [
    ("model.bureaucracy_load=1.5", "model.bureaucracy_load = 1.5 is outside the allowed range"),
    ("model.value_conflict=nan", "model.value_conflict = nan must be finite"),
    ("model.no_such_knob=1", "no_such_knob"),
    ("seed=abc", "seed"),
    ("weeks=0", "weeks = 0 is outside the allowed range [1, 2080]"),
    ("ics=atlantis", "atlantis"),
    ("+scenario.interventions.x._target_=os.system", "_target_ is not allowed"),
])
def test_bad_input_fails_before_running_and_names_the_key(tmp_path, override, expected):
    out = tmp_path / "bad"
    result = slsim("ics=small_ics", "weeks=5", override, f"hydra.run.dir={out}")
    assert result.returncode != 0
    assert expected in result.stderr
    assert not (out / "summary.json").exists()
    assert not (out / "timeseries.parquet").exists()


# Runs the slsim command in this process, counting Hydra's compositions of the app's config, and
# says whether the garbage collector ran during them (on, with the loaded modules frozen) and how
# many objects the command left frozen for the exit.
COUNTED_SLSIM = """
import gc
import sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from simulation.cli import main

compositions = []
load = ConfigLoaderImpl.load_configuration


def counted(self, *args, **kwargs):
    compositions.append(gc.isenabled() and gc.get_freeze_count() > 0)
    return load(self, *args, **kwargs)


ConfigLoaderImpl.load_configuration = counted
sys.argv = ["slsim", *sys.argv[1:]]
try:
    main()
finally:
    print("frozen:", gc.get_freeze_count(), "compositions:", len(compositions),
          "collecting:", all(compositions), file=sys.stderr)
"""


def counted_slsim(*args: str) -> tuple[subprocess.CompletedProcess, int, int]:
    """The finished command, its compositions and the objects it left frozen."""
    done = subprocess.run([sys.executable, "-c", COUNTED_SLSIM, *args], capture_output=True,
                          text=True, timeout=300)
    report = done.stderr.rsplit("frozen:", 1)[1]
    frozen, compositions = report.split("collecting:")[0].split("compositions:")
    assert report.split("collecting:")[1].split()[0] == "True"  # never off during a composition
    return done, int(compositions), int(frozen)


def test_a_run_composes_its_config_once_and_records_what_hydra_records(tmp_path):
    done, compositions, frozen = counted_slsim("ics=small_ics", "weeks=2",
                                               f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert compositions == 1  # Hydra alone composes it twice: once only to read hydra.mode
    assert frozen > 100_000  # left to the exit: Python's finalisation collects none of them
    hydra = yaml.safe_load((tmp_path / ".hydra" / "hydra.yaml").read_text())["hydra"]
    assert hydra["mode"] == "RUN"
    assert hydra["overrides"]["hydra"] == [f"hydra.run.dir={tmp_path}", "hydra.mode=RUN"]
    assert hydra["overrides"]["task"] == ["ics=small_ics", "weeks=2"]


def test_hydra_mode_multirun_without_dash_m_still_sweeps_and_sweeps_without_it_fail(tmp_path):
    sweep, run = tmp_path / "sweep", tmp_path / "run"
    done, *_ = counted_slsim("ics=small_ics", "weeks=2", "hydra.mode=MULTIRUN",
                             f"hydra.sweep.dir={sweep}", f"hydra.run.dir={run}")
    assert done.returncode == 0, done.stderr
    assert len(list((sweep / "runs").iterdir())) == 1 and not run.exists()
    done, _, frozen = counted_slsim("ics=small_ics", "weeks=2", "seed=1,2",
                                    f"hydra.run.dir={run}")
    assert done.returncode == 1 and "add --multirun to your command line" in done.stderr
    assert frozen > 0  # a failing command exits without collecting too
    assert not run.exists()


def loaded_modules(code: str) -> set[str]:
    """The top-level packages a fresh Python process has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    return set(done.stdout.split())


def test_the_command_lines_import_the_heavy_libraries_only_when_they_are_used(tmp_path):
    """matplotlib only for a figure; slsim-aggregate needs neither pandas, mesa nor Hydra."""
    assert "matplotlib" not in loaded_modules("import simulation.cli")
    no_figure = loaded_modules(
        "from simulation.config import build_config\nfrom simulation.runner import run_one\n"
        f"run_one(build_config(ics='small_ics', weeks=2), {str(tmp_path / 'run')!r}, plot=False)")
    assert "matplotlib" not in no_figure
    assert not {"pandas", "mesa", "hydra", "matplotlib"} & loaded_modules(
        "import simulation.sweeps.aggregate")
