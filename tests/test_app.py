"""The browser app without a browser: the paired model, the layout, the figures, and the Solara
page rendered as Mesa tests its own SolaraViz (``solara.render``)."""

import re
import shutil
import socket
import time
from pathlib import Path

import ipyvuetify as v
import ipywidgets
import numpy as np
import pandas as pd
import pytest
import solara
from hydra.core.override_parser.overrides_parser import OverridesParser

from simulation import app, app_ensemble, ensemble, icb, network, viz_cli
from simulation.analysis.report import _signed
from simulation.config import (
    CONFIG_DIR,
    SYSTEMS_DIR_ENV,
    RunConfig,
    build_config,
    compose,
    to_run_config,
)
from simulation.layout import RUNS_DIR, STATUS_FILE, SUCCEEDED, check_run, index_runs
from simulation.model import SharedLeadershipModel
from simulation.outputs import TRENDS
from simulation.params import ConfigError, ModelParams, parameter_specs

SMALL = {"ics": "small_ics"}


def scenarios() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml") if p.stem != "baseline")


def a_scenario() -> str:
    return (scenarios() or ["baseline"])[0]


# ------------------------------------------------------------------------------ controls
def test_controls_are_generated_from_the_schema():
    controls = app.model_params()
    model_specs = parameter_specs(ModelParams)
    for name in app.BARRIERS:
        spec, control = model_specs[name], controls[name]
        assert control["type"] == "SliderFloat"
        assert (control["min"], control["max"]) == spec["range"]
        assert control["value"] == spec["default"]
        assert spec["unit"] in control["label"] and control["doc"] == spec["doc"]
        assert 50 <= (control["max"] - control["min"]) / control["step"] <= 500
    assert {"bureaucracy_load", "value_conflict", "goal_misalignment", "time_scale"} <= set(
        app.BARRIERS)
    archetypes = sorted(p.stem for p in (CONFIG_DIR / "ics").glob("*.yaml"))
    assert set(archetypes) <= set(controls["ics"]["values"])
    assert {f"icb/{s}" for s in icb.slugs()} <= set(controls["ics"]["values"])
    assert controls["ics"]["value"] == "default_ics"
    assert controls["scenario"]["values"] == (scenarios() or ["baseline"])
    run_specs = parameter_specs(RunConfig)
    for name in ("seed", "weeks"):
        assert controls[name]["type"] == "InputText"
        assert controls[name]["value"] == str(run_specs[name]["default"])
        assert str(run_specs[name]["range"][1]) in controls[name]["label"]


def test_every_control_is_a_keyword_of_the_comparison():
    settings = {name: control["value"] for name, control in app.model_params().items()}
    comparison = app.ScenarioComparison(**{**settings, **SMALL})
    config = comparison.policy.config
    assert config.scenario.name == settings["scenario"]
    assert config.seed == int(settings["seed"]) and config.weeks == int(settings["weeks"])
    for name in app.BARRIERS:
        assert getattr(comparison.baseline.params, name) == settings[name]


# ------------------------------------------------------------------------ the paired model
def test_both_arms_step_in_lock_step_from_the_same_seed():
    scenario = a_scenario()
    comparison = app.ScenarioComparison(scenario=scenario, seed=5, weeks=6, **SMALL)
    for _ in range(3):
        comparison.step()
    assert comparison.steps == comparison.baseline.steps == comparison.policy.steps == 3
    # Each arm is exactly the run it would be on its own: the wrapper and the layout draw nothing
    # from the run's streams.
    for arm, name in ((comparison.baseline, "baseline"), (comparison.policy, scenario)):
        alone = SharedLeadershipModel(scenario=name, seed=5, weeks=6, **SMALL)
        for _ in range(3):
            alone.step()
        # Exactly equal, NaN where both are NaN (the team SL-delivery correlation at the start).
        assert arm.datacollector.model_vars.keys() == alone.datacollector.model_vars.keys()
        for name, values in arm.datacollector.model_vars.items():
            np.testing.assert_array_equal(values, alone.datacollector.model_vars[name])
    for _ in range(3):
        comparison.step()
    assert not comparison.running


@pytest.mark.parametrize(("settings", "key"), [
    ({"seed": "not-a-seed"}, "seed"),
    ({"seed": "-1"}, "seed"),
    ({"weeks": "0"}, "weeks"),
    ({"bureaucracy_load": 1.5}, "bureaucracy_load"),
    ({"scenario": "no_such_scenario"}, "scenario"),
    ({"ics": "no_such_ics"}, "ics"),
])
def test_bad_values_raise_a_config_error_naming_the_key(settings, key):
    with pytest.raises(ConfigError, match=key):
        app.ScenarioComparison(**{**SMALL, **settings})


# ------------------------------------------------------------------------------ the layout
def test_layout_is_computed_once_per_network_and_groups_by_organisation():
    first = app.ScenarioComparison(seed=2, **SMALL)
    same_network = app.ScenarioComparison(seed=2, bureaucracy_load=0.9, scenario=a_scenario(),
                                          **SMALL)
    other_seed = app.ScenarioComparison(seed=3, **SMALL)
    assert same_network.layout is first.layout
    assert other_seed.layout is not first.layout

    layout = first.layout
    assert layout.shown.all() and np.isfinite(layout.positions).all()
    org = first.baseline.managers.org
    distance = np.hypot(*(layout.positions - layout.org_centres[org]).T)
    assert (distance <= layout.org_radii[org] + 1e-9).all()
    gaps = np.hypot(*(layout.org_centres[:, None] - layout.org_centres[None]).T)
    reach = layout.org_radii[:, None] + layout.org_radii[None]
    assert (gaps[~np.eye(len(gaps), dtype=bool)] > reach[~np.eye(len(gaps), dtype=bool)]).all()
    assert len(layout.org_labels) == len(first.baseline.organisations)
    # Seeded: the same network and seed give the same picture.
    np.testing.assert_array_equal(app.network_layout(first.baseline).positions, layout.positions)


def test_only_the_first_system_of_a_multi_system_archetype_is_drawn():
    comparison = app.ScenarioComparison(seed=1, **SMALL, **{"ics.systems": 2})
    layout, model = comparison.layout, comparison.baseline
    first_system = model.organisations.system[model.managers.org] == 0
    assert layout.systems == 2
    np.testing.assert_array_equal(layout.shown, first_system)
    assert np.isfinite(layout.positions[first_system]).all()
    assert np.isnan(layout.positions[~first_system]).all()


# ----------------------------------------------------------------------------- the figures
def test_network_draws_ties_above_the_threshold_and_sizes_by_leadership():
    comparison = app.ScenarioComparison(seed=4, **SMALL)
    for _ in range(8):
        comparison.step()
    model = comparison.baseline
    canvas = app.NetworkCanvas(comparison.layout)
    png = canvas.render(model)
    assert png.startswith(b"\x89PNG")

    ties = model.ties
    strength = np.maximum(ties.granted, ties.granted[ties.reverse])
    expected = int(((ties.source < ties.target) & (strength > app.TIE_THRESHOLD)).sum())
    drawn = sum(len(line.get_xdata()) // 3 for line in canvas.tie_lines.values())
    assert expected > 0 and drawn == expected
    across = sum(len(line.get_xdata()) // 3
                 for (is_across, _), line in canvas.tie_lines.items() if is_across)
    assert 0 < across < drawn
    sizes = canvas.nodes.get_sizes()
    assert np.corrcoef(sizes, model.received)[0, 1] == pytest.approx(1.0)


def test_trends_plot_both_arms_up_to_this_week():
    comparison = app.ScenarioComparison(seed=4, scenario=a_scenario(), weeks=20, **SMALL)
    canvas = app.TrendCanvas(20, a_scenario())
    for _ in range(5):
        comparison.step()
    assert canvas.render(comparison).startswith(b"\x89PNG")
    assert [name for _, name, _ in canvas.panels] == list(TRENDS)
    for ax, name, lines in canvas.panels:
        for line, arm in zip(lines, comparison.arms, strict=True):
            assert list(line.get_ydata()) == arm.datacollector.model_vars[name]
            assert len(line.get_xdata()) == 6
        assert ax.get_ylim()[1] >= max(max(line.get_ydata()) for line in lines)


def test_axis_tops_move_only_now_and_then():
    assert [app.nice_top(x) for x in (0.0, 0.7, 1.0, 1.2, 3.5, 0.00042)] == pytest.approx(
        [1.0, 0.8, 1.0, 1.5, 4.0, 0.0005])


# -------------------------------------------------------------------------------- the page
@pytest.fixture
def page(monkeypatch):
    """The page rendered without a browser, on the small archetype (faster to build)."""
    monkeypatch.setattr(app, "DEFAULT_ICS", "small_ics")
    _box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    assert eventually(lambda: week_shown(rc) == "Week 0 of 156", 120)  # the first runs built
    yield rc
    rc.close()


def test_the_first_page_load_shows_the_progress_of_building_the_runs(monkeypatch):
    shown = []
    text = app.building_text
    monkeypatch.setattr(app, "building_text", lambda *step: shown.append(step) or text(*step))
    monkeypatch.setattr(app, "DEFAULT_ICS", "small_ics")
    _box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)
    try:
        assert eventually(lambda: week_shown(rc) == "Week 0 of 156", 120)
        # Each arm's network, from none of its one system built to all of it, as it was built.
        assert shown == [("network", 0, 1), ("network", 1, 1)] * 2
        assert not rc.find(v.Card, class_="ma-2 slsim-first-build").widgets
        assert not errors(rc)
    finally:
        rc.close()


def week_shown(rc) -> str:
    return rc.find(v.Html, class_="slsim-week").widget.children[0]


def images(rc) -> list[bytes]:
    return [widget.value for widget in rc.find(ipywidgets.Image).widgets]


def button(rc, label: str):
    return rc.find(v.Btn, children=[label]).widget


def errors(rc) -> list[str]:
    return [str(w.children) for w in rc.find(v.Alert, type="error").widgets]


def test_page_has_a_control_for_each_parameter(page):
    for control in app.model_params().values():
        kind = {"SliderFloat": v.Slider, "Select": v.Select, "InputText": v.TextField}[
            control["type"]]
        page.find(kind, label=control["label"]).assert_single()
    for label in ("Reset", "▶ Play", "Step"):
        page.find(v.Btn, children=[label]).assert_single()
    assert week_shown(page) == "Week 0 of 156"
    assert len(images(page)) == 3  # two networks and the trends
    assert not errors(page)


def test_step_advances_both_runs_and_redraws(page):
    before = images(page)
    button(page, "Step").click()
    button(page, "Step").click()
    assert week_shown(page) == "Week 2 of 156"
    after = images(page)
    assert all(old != new for old, new in zip(before, after, strict=True))
    page.find(v.Slider, label="Weeks per step: 1").widget.v_model = 5
    button(page, "Step").click()
    assert week_shown(page) == "Week 7 of 156"
    button(page, "Reset").click()
    assert eventually(lambda: week_shown(page) == "Week 0 of 156")
    button(page, "Step").click()
    button(page, "Reset").click()  # the same settings again: still a restart
    assert eventually(lambda: week_shown(page) == "Week 0 of 156")


@pytest.fixture
def built(monkeypatch):
    """The settings of every comparison the app builds from now on, in order."""
    settings_seen = []

    class Recording(app.ScenarioComparison):
        def __init__(self, **settings):
            settings_seen.append(settings)
            super().__init__(**settings)

    monkeypatch.setattr(app, "ScenarioComparison", Recording)
    return settings_seen


def test_a_control_restarts_both_runs_with_its_value(page, built):
    button(page, "Step").click()
    label = app.model_params()["bureaucracy_load"]["label"]
    page.find(v.Slider, label=label).widget.v_model = 0.8
    assert eventually(lambda: built and built[-1]["bureaucracy_load"] == 0.8)
    assert eventually(lambda: week_shown(page) == "Week 0 of 156")

    others = [name for name in scenarios() if name != a_scenario()]
    if others:
        page.find(v.Select, label=app.model_params()["scenario"]["label"]).widget.v_model = (
            others[0])
        assert eventually(lambda: built[-1]["scenario"] == others[0])
        assert built[-1]["bureaucracy_load"] == 0.8
        assert eventually(lambda: page.find(v.CardTitle,
                                            children=[f"Scenario: {others[0]}"]).widgets)


def test_a_bad_value_shows_an_error_and_the_app_keeps_working(page):
    seed = page.find(v.TextField, label=app.model_params()["seed"]["label"]).widget
    button(page, "Step").click()
    seed.v_model = "not-a-seed"
    seed.fire_event("keyup.enter", None)
    assert len(errors(page)) == 1 and "seed" in errors(page)[0]
    assert week_shown(page) == "Week 1 of 156"  # the runs carry on
    button(page, "Step").click()
    assert week_shown(page) == "Week 2 of 156"
    seed.v_model = "7"
    seed.fire_event("keyup.enter", None)
    assert not errors(page)
    assert eventually(lambda: week_shown(page) == "Week 0 of 156")


def eventually(check, timeout_s: float = 60.0):
    """The first truthy ``check()``; while play renders from its thread, a find may see a tree
    in the middle of an update and is retried."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
        except ValueError:
            result = None
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_play_runs_until_paused(page):
    button(page, "▶ Play").click()  # a step every 200 ms: 156 weeks take over 30 s
    assert eventually(lambda: week_shown(page) != "Week 0 of 156")
    eventually(lambda: button(page, "❚❚ Pause")).click()
    assert eventually(lambda: button(page, "▶ Play"))
    time.sleep(0.5)  # a week already under way when Pause was pressed may still finish
    paused_at = week_shown(page)
    time.sleep(0.5)
    assert week_shown(page) == paused_at != "Week 0 of 156"
    assert not errors(page)


# ------------------------------------------------------------------------------- slsim-viz
def test_viz_serves_on_localhost_whatever_host_says(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("SOLARA_HOST", "0.0.0.0")
    args = viz_cli.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 8765)
    assert viz_cli.parse_args(["--port", "0"]).port == 0
    with pytest.raises(SystemExit):
        viz_cli.parse_args(["--port", "70000"])


def test_viz_refuses_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match="in use"):
            viz_cli.main(["--port", str(port)])


def test_page_assets_are_the_npm_packages_of_solaras_page():
    import ipyvue

    assets = viz_cli.page_assets()
    assert all(re.fullmatch(r"(@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+", asset) for asset in assets)
    assert any(asset.startswith("requirejs@") for asset in assets)
    bundle = "solara-vuetify3-app@" if ipyvue.__version__.startswith("3") else "solara-vuetify-app@"
    assert sum("/solara-vuetify" in asset for asset in assets) == 1
    assert any(bundle in asset for asset in assets)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_page_assets_unpack_where_solara_serves_them(tmp_path):
    package = tmp_path / "package"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "@slsim/asset", "version": "1.2.3"}')
    (package / "dist" / "main.js").write_text("// served as /_solara/cdn/@slsim/asset@1.2.3/")
    cache = tmp_path / "cache"
    viz_cli.install_page_assets(cache, [str(package)])  # npm packs a folder without a registry
    assert (cache / "@slsim" / "asset@1.2.3" / "dist" / "main.js").is_file()
    assert viz_cli.missing_page_assets(cache) == viz_cli.page_assets()


# ------------------------------------------------------------------- the system menu (issue 13)
EXAMPLES = CONFIG_DIR.parent / "docs" / "examples"


def test_the_system_menu_offers_the_real_icbs_grouped_by_region(monkeypatch):
    monkeypatch.delenv(SYSTEMS_DIR_ENV, raising=False)
    menu = app.system_menu()
    assert list(menu)[:2] == ["Archetypes", "England"]
    assert set(menu) - {"Archetypes", "England"} == set(icb.regions())
    assert menu["North West"]["greater_manchester"] == "icb/greater_manchester"
    assert sum(len(items) for region, items in menu.items() if region in icb.regions()) == 42
    assert "Your systems" not in menu


def test_the_menu_offers_the_served_folder_of_system_files(monkeypatch):
    monkeypatch.setenv(SYSTEMS_DIR_ENV, str(EXAMPLES))
    menu = app.system_menu()
    path = menu["Your systems"]["my_system"]
    assert path.endswith("my_system.yaml")
    assert "Your own system" in app.system_description(path)
    comparison = app.ScenarioComparison(ics=path, seed=1, weeks=2)
    assert comparison.baseline.config.ics.name == "my_system"


def test_choosing_a_region_then_an_icb_restarts_with_it(page, built):
    page.find(v.Select, label="Group or region").widget.v_model = "Midlands"
    assert eventually(lambda: built and built[-1]["ics"] == "icb/"
                      + icb.regions()["Midlands"][0])
    page.find(v.Select, label="System").widget.v_model = "shropshire_telford_and_wrekin"
    assert eventually(lambda: built[-1]["ics"] == "icb/shropshire_telford_and_wrekin")


def test_building_a_system_shows_its_progress_then_the_runs(page, monkeypatch):
    shown = []
    text = app.building_text
    monkeypatch.setattr(app, "building_text", lambda *step: shown.append(step) or text(*step))
    button(page, "Step").click()
    page.find(v.Select, label="System").widget.v_model = "default_ics"
    assert eventually(lambda: week_shown(page) == "Week 0 of 156", 300)
    assert not errors(page)
    # Each arm's network, from none of its one system built to all of it, as it was built.
    assert shown == [("network", 0, 1), ("network", 1, 1)] * 2
    assert not page.find(v.Html, class_="slsim-building").widgets


def test_viz_checks_the_folder_of_system_files_at_launch(tmp_path):
    assert viz_cli.parse_args(["--systems", str(EXAMPLES)]).systems == EXAMPLES
    with pytest.raises(SystemExit):
        viz_cli.parse_args(["--systems", str(tmp_path / "missing")])
    (tmp_path / "bad.yaml").write_text(
        "name: bad\norganisations:\n  - {type: hospital, count: 1, managers: 5, "
        "clinical_share: 0.3, bureaucracy_layers: 3}\n")
    problem = viz_cli.check_system_folder(tmp_path)
    assert "bad.yaml" in problem and "hospital" in problem and "acute_trust" in problem


# --------------------------------------------------------------------------- the ensemble view
TINY = ensemble.EnsemblePlan("small_ics", (a_scenario(),), weeks=3, replicates=2)
COMPOSED = ensemble.ComposedOption.of({"protected_time": {"coverage": 0.5}})
# A scenario and an option composed from levers, in one sweep.
MIXED = ensemble.EnsemblePlan("small_ics", (a_scenario(), COMPOSED), weeks=3, replicates=2)


def test_an_ensemble_plan_is_the_command_line_sweep_in_a_folder_of_its_own(tmp_path):
    folder = tmp_path / ensemble.folder_name(TINY)
    assert TINY.scenarios == ("baseline", a_scenario()) and TINY.runs == 4
    assert ensemble.folder_name(TINY) == ensemble.folder_name(
        ensemble.EnsemblePlan("small_ics", (a_scenario(),), weeks=3, replicates=2))
    assert ensemble.folder_name(TINY) != ensemble.folder_name(
        ensemble.EnsemblePlan("small_ics", (a_scenario(),), weeks=3, replicates=3))
    command = ensemble.reproducing_command(TINY, folder)
    assert command.startswith(f"slsim -m scenario=baseline,{a_scenario()} 'seed=range(0,2)' "
                              "ics=small_ics weeks=3")
    assert f"hydra/launcher=joblib 'hydra.sweep.dir=\"{folder}\"'" in command
    assert command.endswith(f"slsim-compare {folder}")
    drawn = ensemble.EnsemblePlan("small_ics", (a_scenario(),), 3, 2, draws=4)
    assert drawn.runs == 16 and "'draw=range(0,4)'" in ensemble.reproducing_command(drawn, folder)
    with pytest.raises(ValueError, match="calibrated"):
        ensemble.EnsemblePlan("small_ics", (a_scenario(),), 3, 2, draws=4,
                              calibration="uncalibrated")
    # Folders whose names the override grammar would split are given to the sweep whole.
    awkward = tmp_path / "runs, 2026 [v1]=a" / ensemble.folder_name(MIXED)
    parsed = {o.key_or_group: o.value() for o in OverridesParser.create().parse_overrides(
        ensemble.sweep_overrides(MIXED, awkward))}
    assert parsed["hydra.sweep.dir"] == str(awkward)
    assert parsed["hydra.searchpath"] == [f"file://{awkward / ensemble.CONFIGS_DIR}"]


def test_an_option_composed_from_levers_is_checked_against_the_schema_naming_the_key():
    assert COMPOSED.name == "composed: protected_time (coverage 0.5)"
    knobs = ensemble.option_knobs("protected_time")
    assert set(knobs) == {"coverage", "start_week", "end_week", "extra_hours"}
    assert knobs["coverage"]["range"] == (0.0, 1.0)
    # A knob set to its configured value is no change: the same option, the same name.
    configured = ensemble.configured_knob("protected_time", "extra_hours")
    assert ensemble.ComposedOption.of({"protected_time": {
        "coverage": 0.5, "extra_hours": configured}}) == COMPOSED
    two = ensemble.ComposedOption.of({"protected_time": {"extra_hours": 8},
                                      "programme_board": {}})
    assert two.name == "composed: programme_board + protected_time (extra_hours 8)"
    for levers, key, allowed in [
            ({"nothing": {}}, "option.levers.nothing", "programme_first_time"),
            ({"protected_time": {"coverage": 1.5}},
             "scenario.interventions.protected_time.coverage", "[0.0, 1.0]"),
            ({"protected_time": {"unit_cost": 10.0}}, "option.levers.protected_time.unit_cost",
             "extra_hours"),
            ({}, "option.levers", "protected_time")]:
        with pytest.raises(ConfigError) as error:
            ensemble.ComposedOption.of(levers)
        assert key in str(error.value) and allowed in str(error.value)


def test_a_composed_option_runs_as_a_scenario_file_of_the_sweep_folder(tmp_path):
    folder = tmp_path / ensemble.folder_name(MIXED)
    MIXED.check()
    assert MIXED.scenarios == ("baseline", a_scenario(), COMPOSED.config_name)
    assert MIXED.runs == 6 and COMPOSED.config_name in ensemble.folder_name(MIXED)
    overrides = ensemble.sweep_overrides(MIXED, folder)
    own = folder / ensemble.CONFIGS_DIR
    assert f'hydra.searchpath=["file://{own}"]' in overrides
    ensemble.write_configs(MIXED, own)
    config = to_run_config(compose([f"hydra.searchpath=[file://{own}]", "ics=small_ics",
                                    f"scenario={COMPOSED.config_name}"]))
    assert config.scenario.name == COMPOSED.name
    # The lever as its scenario runs it, but for the coverage chosen.
    lever = build_config(ics="small_ics", scenario="protected_time").scenario.interventions
    assert config.scenario.interventions == {
        "protected_time": {**lever["protected_time"], "coverage": 0.5}}


def served(monkeypatch, folder: Path) -> None:
    monkeypatch.setenv(SYSTEMS_DIR_ENV, str(folder))


def test_sweeps_find_served_system_files_where_the_live_view_does(monkeypatch, tmp_path):
    flat = tmp_path / "systems"  # DIR/*.yaml, without an ics/ subfolder
    flat.mkdir()
    shutil.copy(EXAMPLES / "ics" / "my_system.yaml", flat / "my system.yaml")
    served(monkeypatch, flat)
    (path,) = app.system_menu()["Your systems"].values()
    plan = ensemble.EnsemblePlan(path, (COMPOSED,), weeks=2, replicates=2)
    plan.check()  # composed as the sweep composes it, from the folder's copy of the file
    folder = tmp_path / "ensembles" / ensemble.folder_name(plan)
    ensemble.write_configs(plan, folder / ensemble.CONFIGS_DIR)
    (copy,) = (folder / ensemble.CONFIGS_DIR / "ics").glob("*.yaml")
    assert copy.read_text() == Path(path).read_text()
    assert f"ics={copy.stem}" in ensemble.sweep_overrides(plan, folder)
    assert copy.stem in ensemble.folder_name(plan)  # a changed file: another folder
    # A file outside the served folder is refused, naming the key and what is allowed.
    with pytest.raises(ConfigError, match=r"ics = .*allowed values are the files"):
        ensemble.EnsemblePlan(str(EXAMPLES / "ics" / "my_system.yaml"), (COMPOSED,), 2,
                              2).check()


def test_an_invalid_served_system_file_is_refused_naming_the_key_before_any_run(
        monkeypatch, tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "name: bad\norganisations:\n  - {type: hospital, count: 1, managers: 5, "
        "clinical_share: 0.3, bureaucracy_layers: 3}\n")
    served(monkeypatch, tmp_path)
    plan = ensemble.EnsemblePlan(str(tmp_path / "bad.yaml"), (a_scenario(),), 2, 2)
    with pytest.raises(ConfigError) as error:
        plan.check()
    assert "ics.organisations[0]" in str(error.value) and "acute_trust" in str(error.value)
    problem = app_ensemble._plan(plan.ics, plan.options, 2, 2, app_ensemble.SEED_ONLY, 0,
                                 "calibrated")
    assert problem[:2] == (None, None) and "acute_trust" in problem[2]


def test_a_big_ensemble_asks_first_and_the_eta_follows_the_measured_speed():
    speed = ensemble.Speed(setup_s=1.0, week_s=0.1)
    assert ensemble.planned_seconds(TINY, speed) == pytest.approx(
        4 * (1.0 + 0.3) / ensemble.workers())
    assert not ensemble.needs_confirmation(TINY, speed)
    national = ensemble.EnsemblePlan("england", (a_scenario(),), weeks=156, replicates=20)
    assert ensemble.needs_confirmation(national, ensemble.Speed(setup_s=15.0, week_s=1.0))


def test_setup_reports_each_system_of_the_network_and_draws_the_same():
    heard = []
    config = build_config(ics="small_ics", weeks=1, **{"ics.systems": 3})
    quiet = SharedLeadershipModel(config)
    with network.setup_progress(lambda *step: heard.append(step)):
        loud = SharedLeadershipModel(config)
    systems = len(np.unique(loud.organisations.system))
    assert heard == [("network", done, systems) for done in range(systems + 1)]
    assert np.array_equal(quiet.ties.source, loud.ties.source)
    assert np.array_equal(quiet.managers.org, loud.managers.org)


def run_to_end(run: ensemble.EnsembleRun, timeout_s: float = 600.0) -> ensemble.Progress:
    deadline = time.monotonic() + timeout_s
    while run.running and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not run.running, "the sweep did not finish in time"
    return run.progress()


def succeeded_runs(folder) -> dict[str, float]:
    """Each succeeded run folder's name -> the time its status.json was written."""
    return {path.name: (path / STATUS_FILE).stat().st_mtime_ns
            for path in index_runs(folder / RUNS_DIR).values()
            if check_run(path).state == SUCCEEDED}


def test_cancelling_kills_every_worker_keeps_finished_runs_and_a_rerun_resumes(tmp_path):
    plan = ensemble.EnsemblePlan("small_ics", (a_scenario(),), weeks=26, replicates=4)
    folder = tmp_path / ensemble.folder_name(plan)
    run = ensemble.EnsembleRun(plan, folder)
    deadline = time.monotonic() + 600
    while run.running and not succeeded_runs(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.running, "the sweep finished before it could be cancelled: make it longer"
    run.cancel()
    assert not ensemble.group_alive(run.process.pid)
    assert run.process.returncode < 0
    kept = succeeded_runs(folder)
    assert 0 < len(kept) < plan.runs

    again = ensemble.EnsembleRun(plan, folder)
    assert again.done_at_start >= len(kept)
    assert run_to_end(again) == ensemble.Progress(plan.runs, plan.runs, 0)
    after = succeeded_runs(folder)
    assert {name: after[name] for name in kept} == kept  # resumed: not run again


@pytest.fixture
def tiny_ensemble(tmp_path_factory) -> Path:
    """A finished tiny ensemble of a scenario and a composed option, with its report."""
    folder = tmp_path_factory.mktemp("ensembles") / ensemble.folder_name(MIXED)
    assert run_to_end(ensemble.EnsembleRun(MIXED, folder)).succeeded == MIXED.runs
    ensemble.report(folder, "sl_density")
    return folder


def report_relative_changes(report: str, label: str) -> dict[str, tuple[str, str, str, str]]:
    """From report.md's paired differences of outcome ``label``: option -> (relative change,
    low, high, verdict), as printed."""
    section = report.split(f"### {label} (", 1)[1].split("\n### ", 1)[0]
    found = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        match = re.fullmatch(r"(\S+) \((\S+) to (\S+)\)", cells[2]) if len(cells) == 6 else None
        if match:
            found[cells[0]] = (*match.groups(), cells[5])
    return found


def test_the_forest_plots_numbers_are_those_of_report_md(tiny_ensemble):
    comparison = ensemble.comparison_of(tiny_ensemble, "sl_density")
    report = (tiny_ensemble / "report" / "report.md").read_text()
    rows = ensemble.forest_rows(comparison)
    assert len(rows) == len(comparison.differences) > 0
    assert set(rows["group"]) == {a_scenario(), COMPOSED.name}  # reported by its name
    for item in comparison.outcomes:
        if item.better is None:
            continue
        printed = report_relative_changes(report, item.label)
        shown = rows[rows["outcome"] == item.name]
        assert set(printed) == set(shown["group"])
        for row in shown.itertuples():
            assert printed[row.group] == (
                *(_signed(value, 2, "%") for value in (row.relative, row.relative_low,
                                                       row.relative_high)),
                "**clear**" if row.clear else "within noise")


def test_probability_best_and_the_difference_over_time_come_from_the_runs(tiny_ensemble):
    comparison = ensemble.comparison_of(tiny_ensemble, "sl_density")
    best = ensemble.probability_best(comparison)
    assert list(best["option"]) == comparison.tables.groups
    assert best["p_best"].sum() == pytest.approx(1.0)
    assert (best["p_best_mcse"] >= 0).all()
    over_time = ensemble.difference_over_time(comparison.tables, "baseline", comparison.primary)
    assert sorted(over_time["week"].unique()) == list(range(MIXED.weeks + 1))
    final = over_time[over_time["week"] == MIXED.weeks].iloc[0]
    assert final["difference"] == pytest.approx(
        comparison.difference(final["group"], "sl_density")["difference"])
    assert ensemble.ceac_at(comparison, 1000.0) is None  # seed-only: no CEAC


def test_on_posterior_draws_p_best_and_the_ceac_are_the_reports(tmp_path):
    plan = ensemble.EnsemblePlan("small_ics", (a_scenario(),), weeks=3, replicates=2, draws=2)
    folder = tmp_path / ensemble.folder_name(plan)
    assert run_to_end(ensemble.EnsembleRun(plan, folder)).succeeded == plan.runs == 8
    ensemble.report(folder, "sl_density")
    comparison = ensemble.comparison_of(folder, "sl_density")
    tables = folder / "report" / "tables"
    best = pd.read_csv(tables / "psa_best.csv")
    best = best[best["measure"] == "sl_density"].reset_index(drop=True)
    pd.testing.assert_frame_equal(ensemble.probability_best(comparison),
                                  best[["option", "p_best", "p_best_mcse"]])
    ceac = pd.read_csv(tables / "ceac.csv")
    row = ensemble.ceac_at(comparison, 1000.0)
    written = ceac[ceac["wtp"] == row["wtp"]].iloc[0]
    assert row["wtp"] == 1000.0 and row["chosen"] == written["chosen"]
    assert [row[o] for o in comparison.psa.options] == pytest.approx(
        [written[o] for o in comparison.psa.options])
    assert app_ensemble.ceac_png(comparison, 1000.0).startswith(b"\x89PNG")


def test_viz_passes_the_folder_of_ensembles_to_the_app(tmp_path):
    assert viz_cli.parse_args(["--ensembles", str(tmp_path)]).ensembles == tmp_path


@pytest.fixture
def ensemble_page(monkeypatch, tmp_path):
    monkeypatch.setattr(app, "DEFAULT_ICS", "small_ics")
    monkeypatch.setenv(ensemble.ENSEMBLES_DIR_ENV, str(tmp_path))
    _box, rc = solara.render(solara.AppLayout(children=[app_ensemble.EnsembleView()]),
                             handle_error=False)
    yield rc
    rc.close()


def text_of(rc, class_: str) -> str:
    return rc.find(v.Html, class_=class_).widget.children[0]


def test_the_ensemble_view_plans_runs_and_reports_a_tiny_ensemble(ensemble_page, tmp_path):
    rc = ensemble_page
    rc.find(v.Slider, label="Horizon: 52 weeks").widget.v_model = MIXED.weeks
    rc.find(v.Slider, label="Replicates (seeds): 5").widget.v_model = MIXED.replicates
    assert text_of(rc, "slsim-planned") == "4 runs: 2 options × 2 seeds"
    # Compose an option: a lever from the menu, its coverage on a slider the schema bounds.
    rc.find(v.Select, label="Levers").widget.v_model = ["protected_time"]
    coverage = rc.find(v.Slider, label="coverage: 0.3 share per year").widget
    assert (coverage.min, coverage.max) == (0.0, 1.0)
    coverage.v_model = 0.5
    button(rc, "Add this option").click()
    options = rc.find(v.Select, label="Options to compare with the baseline").widget
    assert options.v_model == [a_scenario(), COMPOSED.name]
    assert text_of(rc, "slsim-planned") == "6 runs: 3 options × 2 seeds"
    assert str(tmp_path / ensemble.folder_name(MIXED)) in text_of(rc, "slsim-folder")
    assert eventually(lambda: "Estimated time" in text_of(rc, "slsim-eta"), 120)
    rc.find(v.Select, label="Calibration").widget.v_model = "uncalibrated"
    assert button(rc, app_ensemble.DRAWS).disabled
    rc.find(v.Html, children=[app_ensemble.DRAWS_NEED_CALIBRATION]).assert_single()
    rc.find(v.Select, label="Calibration").widget.v_model = "calibrated"
    assert not button(rc, app_ensemble.DRAWS).disabled

    button(rc, "Start").click()
    assert eventually(lambda: "6 of 6 runs done" in text_of(rc, "slsim-progress"), 600)
    assert eventually(lambda: rc.find(app_ensemble.ReportLink).widgets, 300)
    html = rc.find(app_ensemble.ReportLink).widget.html
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:200]
    forest = eventually(lambda: rc.find(v.Card, class_="ma-2 slsim-forest").widget, 120)
    card_text = forest.children[-1]
    assert any(isinstance(child, ipywidgets.Image) for child in card_text.children)
    assert not errors(rc)
