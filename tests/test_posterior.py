"""The committed calibration as the model uses it: the calibration group and draw=K."""

import csv
import dataclasses
import json
import subprocess
import sys

import pytest

from simulation.config import RunConfig, build_config, compose, to_run_config
from simulation.interventions import REGISTRY
from simulation.params import ConfigError, ModelParams, parameter_specs, uncertain_parameters
from simulation.posterior import (
    CALIBRATED,
    POSTERIOR_DIR,
    SEED_STRIDE,
    CalibrationConfig,
    draw_seed,
    posterior,
)
from simulation.priors import Fixed, Prior
from simulation.results_io import config_dict, config_hash

POST = posterior()
FITTED = POST.parameters


def value_of(config: RunConfig, path: str):
    group, name = path.split(".")
    return getattr(getattr(config, group), name)


def test_the_committed_posterior_is_complete():
    record = POST.record
    assert len(POST.draws) == record["settings"]["draws"] >= 100
    assert set(POST.point) == set(FITTED) <= set(uncertain_parameters())
    assert set(record["targets"]) and record["targets_sha256"]
    with open(POSTERIOR_DIR / "particles.csv", newline="") as handle:
        particles = list(csv.DictReader(handle))
    weights = [float(p["weight"]) for p in particles]
    assert abs(sum(weights) - 1) < 1e-9
    # the calibrated point is one of the particles (a joint point, not marginal medians)
    assert any(all(float(p[name]) == POST.point[name] for name in FITTED) for p in particles)
    for path in FITTED:
        spec = uncertain_parameters()[path]
        low, high = spec["range"]
        assert all(low <= d[path] <= high for d in POST.draws)


def test_the_default_is_the_calibrated_point():
    config = build_config(ics="small_ics")
    assert config.calibration == CalibrationConfig(CALIBRATED, POST.sha256)
    assert config.draw is None
    for path in FITTED:
        assert value_of(config, path) == pytest.approx(POST.point[path], rel=0, abs=0.5
                                                        if isinstance(value_of(config, path),
                                                                      int) else 0)


def test_uncalibrated_keeps_the_schema_assumptions():
    config = build_config(ics="small_ics", calibration="uncalibrated")
    defaults = ModelParams()
    for path in FITTED:
        group, name = path.split(".")
        if group == "model":
            assert getattr(config.model, name) == getattr(defaults, name)
    assert config.calibration.posterior_sha256 is None


def test_draw_k_takes_row_k_and_an_explicit_override_wins():
    for k in (0, 7, len(POST.draws) - 1):
        config = build_config(ics="small_ics", draw=k)
        assert {p: value_of(config, p) for p in FITTED} == pytest.approx(POST.draws[k])
    first = FITTED[0]
    spec = uncertain_parameters()[first]
    chosen = spec["prior"].ppf([0.25])[0]
    pinned = build_config(ics="small_ics", draw=3, **{first: chosen})
    assert value_of(pinned, first) == pytest.approx(chosen)
    for path in FITTED[1:]:
        assert value_of(pinned, path) == pytest.approx(POST.draws[3][path])
    # the same through Hydra's composition, as slsim composes a command line
    cfg = to_run_config(compose(["ics=small_ics", "draw=3", f"{first}={chosen}"]))
    assert config_hash(cfg) == config_hash(pinned)


def test_bad_draws_are_refused_naming_the_key():
    n = len(POST.draws)
    for bad in (n, -1):
        with pytest.raises(ConfigError, match=rf"draw = {bad}: allowed values are the integers "
                                              rf"0 to {n - 1}"):
            build_config(ics="small_ics", draw=bad)
    with pytest.raises(ConfigError, match="draw = 2: a posterior draw needs "
                                          "calibration=calibrated"):
        build_config(ics="small_ics", draw=2, calibration="uncalibrated")
    with pytest.raises(ConfigError, match="calibration = 'best' is not one of"):
        build_config(ics="small_ics", calibration="best")


def test_the_config_hash_covers_the_posterior():
    config = build_config(ics="small_ics")
    assert config_dict(config)["calibration"]["posterior_sha256"] == POST.sha256
    # a config that claims another posterior is refused, so no run of an older posterior is
    # taken for one of this posterior
    with pytest.raises(ConfigError, match=r"calibration\.posterior_sha256"):
        CalibrationConfig(CALIBRATED, "0" * 64)
    assert config_hash(config) != config_hash(build_config(ics="small_ics", draw=0))


# --- What a draw holds (issue 15) --------------------------------------------------------------

UNFITTED = [p for p in uncertain_parameters() if p not in FITTED]


def knob_priors(config: RunConfig) -> dict[str, tuple[Prior | Fixed, object]]:
    """scenario.interventions.<name>.<knob> -> (its prior, its value) for every knob with one."""
    out = {}
    for name, spec in config.scenario.interventions.items():
        specs = parameter_specs(REGISTRY[spec["kind"]].params_class)
        out.update({f"{name}.{knob}": (specs[knob]["prior"], value)
                    for knob, value in spec.items() if knob in specs and specs[knob]["prior"]})
    return out


def test_a_draw_holds_every_uncertain_quantity_and_no_draw_changes_nothing():
    point = build_config(ics="small_ics", scenario="recommended_package")
    drawn = build_config(ics="small_ics", scenario="recommended_package", draw=5)
    stated = ModelParams()
    for path in UNFITTED:  # the stated value without a draw, a value of its prior with one
        spec = uncertain_parameters()[path]
        assert value_of(point, path) == spec["default"], path
        low, high = spec["prior"].low, spec["prior"].high
        assert low <= value_of(drawn, path) <= high, path
    moved = [p for p in UNFITTED if value_of(drawn, p) != value_of(point, p)]
    assert len(moved) >= 0.9 * len(UNFITTED)  # integers may round back to the stated value
    for field in dataclasses.fields(ModelParams):  # a fixed assumption stays as stated
        if isinstance(field.metadata.get("prior"), Fixed):
            assert getattr(drawn.model, field.name) == getattr(stated, field.name)
    knobs, stated_knobs = knob_priors(drawn), knob_priors(point)
    for key, (prior, value) in knobs.items():
        if isinstance(prior, Fixed):
            assert value == stated_knobs[key][1], key
        elif stated_knobs[key][1] == 0:  # relative priors scale the configured value
            assert value == 0, key
        else:
            assert prior.low <= value / stated_knobs[key][1] <= prior.high, key
    assert any(value != stated_knobs[k][1] for k, (_, value) in knobs.items())


def test_options_share_the_draw_of_a_lever_and_seeds_are_tied_to_the_draw():
    alone = build_config(ics="small_ics", scenario="protected_time", draw=9)
    combined = build_config(ics="small_ics", scenario="programmes_and_time", draw=9)
    assert (alone.scenario.interventions["protected_time"]
            == combined.scenario.interventions["protected_time"])
    assert alone.seed == combined.seed == draw_seed(9) == 9 * SEED_STRIDE
    assert build_config(ics="small_ics").seed == 0
    assert build_config(ics="small_ics", draw=9, seed=4).seed == 4  # a given seed wins


def test_an_override_of_a_drawn_parameter_wins():
    path = UNFITTED[0]
    spec = uncertain_parameters()[path]
    chosen = spec["prior"].ppf([0.9])[0]
    chosen = round(chosen) if isinstance(spec["default"], int) else float(chosen)
    pinned = build_config(ics="small_ics", draw=2, **{path: chosen})
    assert value_of(pinned, path) == chosen
    cfg = to_run_config(compose(["ics=small_ics", "draw=2", f"{path}={chosen}"]))
    assert config_hash(cfg) == config_hash(pinned)


DRAW_IN_A_FRESH_PROCESS = """
import json
from simulation.config import build_config
from simulation.results_io import config_dict
print(json.dumps(config_dict(build_config(ics="small_ics", scenario="recommended_package",
                                          draw=11)), sort_keys=True))
"""


def test_a_draw_is_bit_identical_in_another_process():
    here = build_config(ics="small_ics", scenario="recommended_package", draw=11)
    there = subprocess.run([sys.executable, "-c", DRAW_IN_A_FRESH_PROCESS], check=True,
                           capture_output=True, text=True).stdout
    assert json.loads(there) == json.loads(json.dumps(config_dict(here), sort_keys=True))


def test_seeds_per_draw_is_checked_naming_the_key():
    for bad in ("0", str(SEED_STRIDE + 1)):
        with pytest.raises(ConfigError, match=rf"seeds_per_draw = {bad}: allowed values are "
                                              rf"the integers 1 to {SEED_STRIDE}"):
            to_run_config(compose(["ics=small_ics", f"seeds_per_draw={bad}"]))
    # a sweep setting, not part of a run: the run's config and hash are the same
    assert config_hash(to_run_config(compose(["ics=small_ics", "seeds_per_draw=3"]))) == \
        config_hash(build_config(ics="small_ics"))


@pytest.mark.slow
@pytest.mark.parametrize("ics", ["small_ics", "default_ics"])
def test_the_calibrated_default_meets_every_fitted_target(ics):
    """The calibrated default, over 6 seeds, lands inside each fitted target's interval (its
    value +- 2 total SD: observation, discrepancy and the seed variance of the mean), on the
    system it was fitted on and on the default one (the fit does not depend on system size).
    If a model change breaks this, re-calibrate (docs/calibration.md); never widen a target."""
    import numpy as np

    from simulation.analysis.targets import chosen_targets, load_targets, seed_variance_of_mean
    from simulation.model import SharedLeadershipModel

    fitted = chosen_targets(load_targets(), POST.record["targets"], use="fit")
    rows = []
    for seed in range(6):
        model = SharedLeadershipModel(build_config(ics=ics, seed=seed,
                                                   weeks=POST.record["settings"]["weeks"]))
        model.run()
        series = model.datacollector.get_model_vars_dataframe()
        rows.append([t.read(series, model.breakdown()) for t in fitted])
    stats = np.array(rows)
    for j, target in enumerate(fitted):
        implausibility = target.implausibility(stats[:, j].mean(),
                                               seed_variance_of_mean(stats[:, j]))
        assert implausibility <= 2, (target.name, stats[:, j].mean(), target.value)
