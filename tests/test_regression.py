"""Issue 10: the exact regression baseline (simulation/baseline.py, tests/baseline/*.json).

If a test here fails after a change that is meant to change results, regenerate the baseline
with ``make baseline`` and commit it with the change, saying so in the commit message.
"""

import json
import math
import warnings

import pytest
import yaml

from simulation.baseline import (
    ABSOLUTE_TOLERANCE,
    RELATIVE_TOLERANCE,
    cases,
    compare,
    differences,
    platform_differences,
    stale_files,
)
from simulation.config import CONFIG_DIR


class BaselinePlatformWarning(UserWarning):
    """The baseline was made on another platform, so results were compared within tolerance."""


@pytest.mark.parametrize("case", cases(), ids=lambda case: f"{case.name}-{case.weeks}w")
def test_results_match_the_stored_baseline(case):
    comparison = compare(case)
    if not comparison.exact:
        warnings.warn(f"{case.name}: {comparison.mode()}", BaselinePlatformWarning, stacklevel=1)
    assert not comparison.differences, comparison.report()


def test_every_stored_file_belongs_to_a_case():
    assert not stale_files(), "no case writes these: run `make baseline` to remove them"


def test_the_every_lever_case_holds_every_entry_of_every_lever_file():
    (every_lever,) = [case for case in cases() if case.name == "every_lever"]
    entries = set()
    for path in (CONFIG_DIR / "intervention").glob("*.yaml"):
        entries |= set(yaml.safe_load(path.read_text()))
    assert set(every_lever.config().scenario.interventions) == entries


def stored(**final) -> dict:
    return {"config_hash": "abc", "final": final, "timeseries_sha256": "0" * 64}


def test_exact_comparison_takes_no_difference_in_the_last_bit():
    last_bit = math.nextafter(0.25, 1.0)
    assert differences(stored(x=0.25), stored(x=0.25), exact=True) == []
    assert differences(stored(x=0.25), stored(x=last_bit), exact=True) == [
        f"output x: baseline 0.25, now {last_bit!r}"]
    assert differences(stored(x=math.nan), stored(x=math.nan), exact=True) == []


def test_exact_comparison_checks_every_week_through_the_checksum():
    fresh = {**stored(x=1.0), "timeseries_sha256": "1" * 64}
    (found,) = differences(stored(x=1.0), fresh, exact=True)
    assert "timeseries_sha256" in found
    assert differences(stored(x=1.0), fresh, exact=False) == []


def test_across_platforms_values_agree_within_the_stated_tolerance():
    within = 1.0 + RELATIVE_TOLERANCE / 2
    beyond = 1.0 + RELATIVE_TOLERANCE * 2
    assert differences(stored(x=1.0), stored(x=within), exact=False) == []
    assert differences(stored(x=1.0), stored(x=beyond), exact=False) != []
    assert differences(stored(x=0.0), stored(x=ABSOLUTE_TOLERANCE / 2), exact=False) == []


def test_a_missing_or_extra_output_or_a_new_config_is_named():
    found = differences({**stored(kept=1.0, gone=2.0), "config_hash": "old"},
                        {**stored(kept=1.0, new=3.0), "config_hash": "new"}, exact=True)
    assert found[0].startswith("config hash new is not the baseline's old")
    assert found[1:] == ["output new is in the model but not in the baseline",
                         "output gone is in the baseline but not in the model"]


def test_a_platform_difference_is_named_with_both_values():
    made_on = {"machine": "x86_64", "numpy": "2.5.5"}
    here = {"machine": "x86_64", "numpy": "2.6.0", "mesa": "3.5.1"}
    assert platform_differences(made_on, made_on) == []
    assert platform_differences(made_on, here) == ["mesa None -> 3.5.1", "numpy 2.5.5 -> 2.6.0"]


def test_the_stored_files_are_indented_key_sorted_json_so_reviews_show_each_value():
    for case in cases():
        text = case.path.read_text()
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
