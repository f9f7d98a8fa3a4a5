"""Plausible priors: declared for every assumption, inside the allowed range, and sampled through
one quantile function (simulation/priors.py)."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from simulation import priors
from simulation.interventions import REGISTRY
from simulation.params import InterventionParams, param, parameter_groups, uncertain_parameters


def declared_fields():
    classes = [*parameter_groups().items(), ("intervention", InterventionParams)]
    classes += [(f"intervention.{kind}", lever.params_class) for kind, lever in REGISTRY.items()]
    for group, cls in classes:
        for f in dataclasses.fields(cls):
            if "range" in f.metadata:
                yield f"{group}.{f.name}", f


def test_every_assumption_has_a_prior_or_says_why_it_is_fixed():
    missing = [key for key, f in declared_fields()
               if f.metadata["source"].startswith("A")
               and not isinstance(f.metadata["prior"], priors.Prior | priors.Fixed)]
    assert not missing
    for _, f in declared_fields():
        prior = f.metadata["prior"]
        if prior is not None:
            assert prior.why.strip()


def test_priors_are_plausible_not_allowed_ranges():
    """Inside the allowed range, holding the default, and none as wide as the allowed range (a
    prior that wide would need a written reason)."""
    for key, spec in uncertain_parameters().items():
        prior, (low, high) = spec["prior"], spec["range"]
        assert low <= prior.low < prior.high <= high, key
        assert prior.low <= spec["default"] <= prior.high, key
        assert prior.high - prior.low < high - low, key


def test_a_prior_that_leaves_the_allowed_range_or_misses_the_default_is_refused():
    with pytest.raises(ValueError, match="outside the allowed range"):
        param(0.5, 0.0, 1.0, "share", "A share.", "A",
              prior=priors.uniform(0.2, 1.5, "too wide"))
    with pytest.raises(ValueError, match=r"default 0\.9 is outside its prior"):
        param(0.9, 0.0, 1.0, "share", "A share.", "A",
              prior=priors.triangular(0.1, 0.3, 0.6, "misses the default"))
    with pytest.raises(ValueError, match="must hold 1"):
        priors.relative(priors.uniform(1.1, 2.0, "never the configured value"))
    with pytest.raises(ValueError, match="reason"):
        priors.uniform(0.0, 1.0, " ")
    with pytest.raises(ValueError, match="low > 0"):
        priors.loguniform(0.0, 1.0, "no zero on a log scale")


@pytest.mark.parametrize("prior, reference", [
    (priors.uniform(0.2, 0.8, "r"), stats.uniform(0.2, 0.6)),
    (priors.triangular(0.1, 0.3, 0.6, "r"), stats.triang(0.4, loc=0.1, scale=0.5)),
    (priors.loguniform(0.01, 0.09, "r"), stats.loguniform(0.01, 0.09)),
])
def test_quantiles_are_the_distributions(prior, reference):
    u = np.linspace(0, 1, 11)
    np.testing.assert_allclose(prior.ppf(u), reference.ppf(u), rtol=1e-12)


def test_descriptions_name_the_distribution():
    assert priors.triangular(0.1, 0.3, 0.6, "r").describe() == "triangular(0.1, 0.3, 0.6)"
    effect = priors.relative(priors.triangular(0.5, 1.0, 1.5, "r"))
    assert effect.describe() == "configured value x triangular(0.5, 1, 1.5)"


def test_an_explicit_lever_knob_is_pinned_in_every_draw(tmp_path):
    """On posterior draws, a lever's knob drawn about its file's value varies from draw to draw;
    set explicitly (an override, or a scenario file such as cut_red_tape's full coverage) it
    holds in every draw, as an explicit fitted parameter does; the other knobs are still
    drawn, alike with and without the override."""
    from simulation.analysis.batch import plan_jobs

    draws = range(6)
    pinned = "scenario.interventions.protected_time.unit_cost=80"
    jobs = [["scenario=protected_time", f"draw={k}", "ics=small_ics", *extra]
            for extra in ((), (pinned,)) for k in draws]
    jobs += [["scenario=cut_red_tape", f"draw={k}", "ics=small_ics"] for k in draws]
    configs = plan_jobs(jobs, tmp_path / "plan").configs
    drawn, overridden, red_tape = (
        [c.scenario.interventions for c in configs[i:i + len(draws)]]
        for i in range(0, 3 * len(draws), len(draws)))
    assert len({lever["protected_time"]["unit_cost"] for lever in drawn}) == len(draws)
    assert {lever["protected_time"]["unit_cost"] for lever in overridden} == {80.0}
    assert ([lever["protected_time"]["coverage"] for lever in drawn]
            == [lever["protected_time"]["coverage"] for lever in overridden])
    assert len({lever["protected_time"]["coverage"] for lever in drawn}) == len(draws)
    assert {lever["reduce_bureaucracy"]["coverage"] for lever in red_tape} == {1.0}
    assert len({lever["reduce_bureaucracy"]["unit_cost"] for lever in red_tape}) == len(draws)
