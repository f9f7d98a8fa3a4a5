"""Numbers as outside tools pass them: numpy scalars and 0-d arrays from grids and samplers."""

import mesa
import numpy as np
import pytest
from scipy.stats import qmc

from simulation.config import build_config
from simulation.model import SharedLeadershipModel
from simulation.params import ConfigError, uncertain_parameters


def test_mesa_batch_run_takes_numpy_grids():
    """The idiom Mesa's documentation teaches: a grid from np.linspace, seeds as rng."""
    results = mesa.batch_run(
        SharedLeadershipModel,
        parameters={"ics": "small_ics", "weeks": 4,
                    "bureaucracy_load": np.linspace(0.1, 0.5, 3)},
        rng=[np.int64(0), np.int64(1)], max_steps=4, display_progress=False)
    assert len({(r["bureaucracy_load"], r["seed"]) for r in results}) == 6


def test_numpy_scalars_and_0d_arrays_give_the_same_config_as_python_numbers():
    plain = build_config(ics="small_ics", seed=3, weeks=10, support=0.25, recruitment_lag=8)
    numpy = build_config(ics=np.str_("small_ics"), seed=np.int64(3), weeks=np.array(10),
                         support=np.float64(0.25), recruitment_lag=np.int32(8))
    assert numpy == plain
    assert type(numpy.seed) is int and type(numpy.model.support) is float


@pytest.mark.parametrize(("key", "value", "message"), [
    ("support", np.float64(1.5), r"model.support = 1.5 is outside the allowed range"),
    ("recruitment_lag", np.float64(2.5), r"recruitment_lag"),
    ("support", np.bool_(True), r"support"),
    ("recruitment_lag", True, r"recruitment_lag"),
])
def test_numpy_values_are_validated_like_python_ones(key, value, message):
    with pytest.raises(ConfigError, match=message):
        build_config(ics="small_ics", **{key: value})


def test_a_scipy_qmc_sample_runs_through_the_keyword_api():
    """A sampler's rows (numpy float64) go straight into the model's keyword arguments."""
    space = {name.split(".", 1)[1]: spec for name, spec in uncertain_parameters().items()
             if name in ("model.support", "model.bureaucracy_load")}
    lows = [spec["range"][0] for spec in space.values()]
    highs = [spec["range"][1] for spec in space.values()]
    sample = qmc.scale(qmc.Sobol(len(space), seed=1).random(4), lows, highs)
    for seed, row in enumerate(sample):
        model = SharedLeadershipModel(ics="small_ics", weeks=2, seed=np.int64(seed),
                                      **dict(zip(space, row, strict=True)))
        model.run()
        assert model.config.model.support == float(row[list(space).index("support")])
