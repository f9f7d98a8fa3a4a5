"""The output registry (simulation/outputs.py) is the one description of the outputs: what the
model computes, what every view names, and how values and money are written."""

import dataclasses

import pytest

from simulation import cli, metrics, plots
from simulation.model import SharedLeadershipModel
from simulation.outputs import (
    HEADLINE,
    OUTPUTS,
    RUN_PANELS,
    SUMMARY,
    TRENDS,
    Panel,
    format_gbp,
)


def test_the_registry_and_compute_name_the_same_outputs():
    model = SharedLeadershipModel(ics="small_ics", seed=0, weeks=1)  # compute ran at week 0
    assert set(model.latest) == set(OUTPUTS)
    model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == list(OUTPUTS)  # the reporters, in the registry's order
    assert metrics.OUTPUTS is OUTPUTS


def test_every_view_names_registered_outputs():
    for view in (HEADLINE, SUMMARY, TRENDS):
        assert view and set(view) <= set(OUTPUTS)
    for panel in RUN_PANELS:
        assert set(panel.outputs) <= set(OUTPUTS)
    with pytest.raises(ValueError, match="not outputs"):
        Panel("Nothing", ("no_such_output",), "value")
    assert cli.summary_table({name: 0.5 for name in OUTPUTS}).count("0.5") == len(SUMMARY)


def test_the_run_figure_draws_the_registry_panels():
    model = SharedLeadershipModel(ics="small_ics", seed=0, weeks=3)
    model.run()
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    frame.insert(0, "week", range(len(frame)))
    figure = plots.metrics_figure(frame, "small_ics")
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == [panel.title for panel in RUN_PANELS]
    assert "backlog (tasks waiting)" in [ax.get_ylabel() for ax in figure.axes]


def test_an_entry_names_its_bad_field_and_the_allowed_values():
    base = OUTPUTS["sl_density"]
    with pytest.raises(ValueError, match=r"better = 'up' is not one of \['higher', 'lower'"):
        dataclasses.replace(base, better="up")
    with pytest.raises(ValueError, match="kind = 'percent' is not one of"):
        dataclasses.replace(base, kind="percent")
    with pytest.raises(ValueError, match="window = 0 must be at least 1"):
        dataclasses.replace(base, window=0)


def test_readings_at_the_horizon():
    assert OUTPUTS["tasks_completed"].horizon == "mean of the last 13 weeks"
    assert OUTPUTS["sl_density"].horizon == "final week"
    assert OUTPUTS["burnout_share"].sign() == -1 and OUTPUTS["cost"].sign() == 0
    assert OUTPUTS["sl_density"].display(0.000586) == "5.86"  # x 10^-4


def test_values_are_written_by_their_kind():
    share, count, money, number = (OUTPUTS[name] for name in ("burnout_share", "backlog", "cost",
                                                              "sl_density"))
    assert share.text(0.1234) == "12.3%"
    assert count.text(1234.4) == "1,234"
    assert money.text(1_234_567.0) == "GBP 1.23m"
    assert number.text(0.000586) == "0.000586"
    assert share.text_difference(0.112, 0.1) == "+1.2 pp"
    assert money.text_difference(0.0, 1500.0) == "−GBP 1,500"
    assert number.text_difference(0.00041, 0.0004) == "+2.5%"
    assert count.text_difference(59.8, 60.1) == "0"  # no "−0"
    assert number.text_difference(1.0, 0.0) == "–"


def test_money_is_formatted_one_way():
    assert format_gbp(1_234_567.0) == "GBP 1.23m"
    assert format_gbp(456_000.0) == "GBP 456k"
    assert format_gbp(7890.0) == "GBP 7,890"
    assert format_gbp(float("nan")) == "n/a"
