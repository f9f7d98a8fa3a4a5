"""The browser app: watch shared leadership emerge, the system as it is beside a policy.

    slsim-viz        (or ``make viz``), then open the URL it prints

A Solara page in the manner of Mesa's SolaraViz, with the view Mesa's stock page lacks: two runs
side by side. The baseline (left) and the chosen scenario (right) start from the same seed and step
in lock-step; with common random numbers (``streams.py``) every difference on screen is the
policy's doing.

* Controls are generated from the parameter schema (``params.py``), in SolaraViz's
  ``model_params`` format. Changing one restarts both runs at week 0; a value the schema rejects is
  shown as an error and the current runs carry on. The runs are built in a thread of their own,
  the first page load's too, showing how far each system's network has got
  (``network.setup_progress``): a national system takes about 20 s.
* Network view: managers coloured clinical / non-clinical, grouped by organisation, sized by the
  leadership they receive; granted-leadership ties drawn with width by strength. The layout is
  computed once per network from the run's ``layout`` stream.
* Trends of the headline outputs, both arms on the same axes, and a table of this week's values.
"""

import hashlib
import inspect
import io
import itertools
import os
import textwrap
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import matplotlib.image as mimage
import mesa
import networkx as nx
import numpy as np
import solara
import solara.lab
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator
from mesa.visualization.solara_viz import UserInputs

from . import icb
from .config import (
    CONFIG_DIR,
    SYSTEMS_DIR_ENV,
    RunConfig,
    ScenarioConfig,
    build_config,
    group_options,
    system_files,
)
from .model import SharedLeadershipModel
from .network import setup_progress
from .outputs import OUTPUTS, TRENDS, format_gbp
from .params import BARRIERS, ORG_TYPES, ConfigError, ModelParams, parameter_specs

BASELINE = "baseline"
DEFAULT_ICS = inspect.signature(build_config).parameters["ics"].default
TIE_THRESHOLD = 0.1  # weaker granted leadership is not drawn: keeps a 1,450-manager system legible
TIE_BANDS = np.array([TIE_THRESHOLD, 0.2, 0.3, 0.45, 0.6, 1.0])  # strength classes, one width each

CLINICAL_COLOUR = "#E69F00"  # Okabe-Ito palette: distinguishable with colour-blindness
NON_CLINICAL_COLOUR = "#0072B2"
VACANT_COLOUR = "#c8c8c8"
CROSS_PROFESSION_COLOUR = "#CC79A7"
SAME_GROUP_TIE_COLOUR = "#7f7f7f"
BASELINE_COLOUR = "#404040"
POLICY_COLOUR = "#009E73"
TREND_COLUMNS = 4  # the trend panels (simulation.outputs.TRENDS) in rows of four
TREND_TITLE_WIDTH = 28  # characters: longer labels wrap to a second line above their panel

# ---------------------------------------------------------------------------------- controls
def config_description(group: str, name: str) -> str:
    """The comment at the top of ``configs/<group>/<name>.yaml``: what that config is."""
    path = CONFIG_DIR / group / f"{name}.yaml"
    if not path.is_file():
        return ""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def system_menu() -> dict[str, dict[str, str]]:
    """The app's system menu: group -> {name shown -> ``ics`` value}. The archetypes, England
    (all 42), the 42 ICBs by NHS England region, and the files of the folder ``slsim-viz
    --systems DIR`` serves (chosen from the menu, never typed as a path)."""
    menu = {"Archetypes": {name: name for name in group_options("ics") if name != "england"},
            "England": {"england (all 42 ICBs)": "england"}}
    menu.update({region: {slug: f"icb/{slug}" for slug in slugs}
                 for region, slugs in icb.regions().items()})
    served = os.environ.get(SYSTEMS_DIR_ENV)
    if served:
        menu["Your systems"] = {name: str(path) for name, path in system_files(served).items()}
    return {group: items for group, items in menu.items() if items}


def system_description(value: str) -> str:
    """The comment at the top of a system's config or file."""
    if value.endswith(".yaml"):
        lines = []
        for line in Path(value).read_text().splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
        return " ".join(lines)
    return config_description("ics", value)


def scenario_summary(scenario: ScenarioConfig) -> str:
    """What a scenario does, in Markdown: its own description, then the first sentence of each
    intervention's config file (interventions sharing one file, such as a programme's tiers, on
    one line)."""
    by_text: dict[str, list[str]] = {}
    for name, spec in scenario.interventions.items():
        about = (config_description("intervention", name)
                 or config_description("intervention", spec.get("kind", "")))
        by_text.setdefault(about.split(". ")[0].rstrip("."), []).append(name)
    lines = [config_description("scenario", scenario.name), ""]
    lines += [f"- **{', '.join(names)}**" + (f": {text}" if text else "")
              for text, names in by_text.items()]
    return "\n".join(lines)


def _label(name: str, unit: str) -> str:
    return f"{name.replace('_', ' ').capitalize()} ({unit})"


def slider_step(low: float, high: float) -> float:
    """A round step giving about a hundred positions between ``low`` and ``high``."""
    return float(10 ** np.floor(np.log10((high - low) / 100)))


def model_params() -> dict[str, dict]:
    """The app's controls in SolaraViz's ``model_params`` format, generated from the schema.

    Each entry also carries ``doc``, the schema's meaning of the parameter, shown under the
    control. The keys are the keyword arguments of :class:`ScenarioComparison`.
    """
    scenarios = [name for name in group_options("scenario") if name != BASELINE] or [BASELINE]
    run_specs = parameter_specs(RunConfig)
    controls = {
        "scenario": {"type": "Select", "label": "Scenario (right-hand run)", "value": scenarios[0],
                     "values": scenarios, "doc": ""},
        "ics": {"type": "Select", "label": "System", "value": DEFAULT_ICS,
                "values": [value for items in system_menu().values() for value in items.values()],
                "doc": ""},
    }
    for name in ("seed", "weeks"):
        spec = run_specs[name]
        low, high = spec["range"]
        controls[name] = {"type": "InputText", "label": f"{name.capitalize()} ({low} to {high})",
                          "value": str(spec["default"]), "doc": spec["doc"]}
    model_specs = parameter_specs(ModelParams)
    for name in BARRIERS:
        spec = model_specs[name]
        low, high = spec["range"]
        controls[name] = {"type": "SliderFloat", "label": _label(name, spec["unit"]),
                          "value": spec["default"], "min": low, "max": high,
                          "step": slider_step(low, high), "doc": spec["doc"]}
    return controls


# ------------------------------------------------------------------------ the paired model
def arm_configs(*, scenario: str = BASELINE, **settings) -> list[RunConfig]:
    """The validated configs of the baseline and the scenario (``ConfigError`` names a bad
    value): quick, so the page checks a change at once and builds the runs after."""
    return [build_config(scenario=name, **settings) for name in (BASELINE, scenario)]


class ScenarioComparison(mesa.Model):
    """The baseline and one scenario from the same seed, stepped together week by week.

    Takes the keyword arguments of :func:`model_params` and of ``build_config`` (any flat model
    parameter works as well); every value goes through the schema, so a bad one raises
    ``ConfigError`` before anything is built. Both arms share one network, so one layout.
    """

    def __init__(self, *, scenario: str = BASELINE, **settings):
        configs = arm_configs(scenario=scenario, **settings)
        super().__init__(rng=configs[0].seed)
        self.baseline, self.policy = (SharedLeadershipModel(config) for config in configs)
        self.layout = cached_layout(self.baseline)
        # Held while the arms step or are drawn: play steps them in a thread of its own.
        self.lock = threading.Lock()

    @property
    def arms(self) -> tuple[SharedLeadershipModel, SharedLeadershipModel]:
        return self.baseline, self.policy

    def step(self) -> None:
        with self.lock:
            for arm in self.arms:
                arm.step()
        self.running = self.baseline.running and self.policy.running


# ------------------------------------------------------------------------------- the layout
@dataclass(frozen=True)
class NetworkLayout:
    """Where the drawn managers sit: organisations on a ring, each member in its disc."""

    positions: np.ndarray  # (managers, 2); NaN for managers not drawn
    shown: np.ndarray  # bool per manager: drawn (a member of the first system)
    org_centres: np.ndarray  # (drawn organisations, 2)
    org_radii: np.ndarray
    org_labels: tuple[str, ...]
    systems: int


def _org_label(type_code: int) -> str:
    name = ORG_TYPES[type_code]
    return name.upper() if len(name) <= 3 else name.replace("_", " ").capitalize()


def _disc_layout(members: np.ndarray, sources: np.ndarray, targets: np.ndarray,
                 seed: int) -> np.ndarray:
    """A spring layout of one organisation's ties, spread evenly over the unit disc.

    The spring layout keeps colleagues near each other; spreading by rank of distance from the
    centre undoes the dense core a spring layout gives a random graph.
    """
    if len(members) == 1:
        return np.zeros((1, 2))
    graph = nx.Graph()
    graph.add_nodes_from(members.tolist())
    graph.add_edges_from(zip(sources.tolist(), targets.tolist(), strict=True))
    spring = nx.spring_layout(graph, seed=seed)
    xy = np.array([spring[i] for i in members.tolist()])
    xy -= xy.mean(axis=0)
    angle = np.arctan2(xy[:, 1], xy[:, 0])
    rank = np.argsort(np.argsort(np.hypot(xy[:, 0], xy[:, 1])))
    radius = np.sqrt((rank + 0.5) / len(members))
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def network_layout(model: SharedLeadershipModel) -> NetworkLayout:
    """Lay out the first system of ``model``'s network from its seeded ``layout`` stream.

    Organisations sit on a ring, each a disc with area in proportion to its managers; members
    are placed within their disc by their ties inside the organisation. Only the first system
    is drawn (England has 42 identical ones).
    """
    managers, orgs, ties = model.managers, model.organisations, model.ties
    rng = model.streams.weekly("layout", 0)
    drawn_orgs = np.flatnonzero(orgs.system == 0)
    radii = np.sqrt(np.bincount(managers.org, minlength=len(orgs))[drawn_orgs].astype(float))
    span = 2.0 * radii + 0.3 * radii.mean()
    ring = span.sum() / (2.0 * np.pi) if len(drawn_orgs) > 1 else 0.0
    angles = 2.0 * np.pi * (np.cumsum(span) - span / 2.0) / span.sum()
    centres = ring * np.column_stack([np.cos(angles), np.sin(angles)])

    positions = np.full((len(managers), 2), np.nan)
    within = ~ties.cross_org & (ties.source < ties.target)
    for org, centre, radius in zip(drawn_orgs, centres, radii, strict=True):
        members = np.flatnonzero(managers.org == org)
        own = within & (managers.org[ties.source] == org)
        seed = int(rng.integers(2**32))
        positions[members] = centre + radius * _disc_layout(members, ties.source[own],
                                                            ties.target[own], seed)

    types = orgs.type_code[drawn_orgs]
    labels = []
    for org_type in types:
        label = _org_label(org_type)
        if (types == org_type).sum() > 1:
            label += f" {sum(1 for text in labels if text.startswith(label)) + 1}"
        labels.append(label)
    return NetworkLayout(positions=positions, shown=np.isin(managers.org, drawn_orgs),
                         org_centres=centres, org_radii=radii, org_labels=tuple(labels),
                         systems=int(orgs.system.max()) + 1)


_LAYOUTS: OrderedDict[bytes, NetworkLayout] = OrderedDict()
_LAYOUTS_KEPT = 8


def cached_layout(model: SharedLeadershipModel) -> NetworkLayout:
    """:func:`network_layout`, computed once per network: runs that differ only in behavioural
    parameters or scenario share the network, so moving a barrier slider reuses the layout."""
    managers, orgs, ties = model.managers, model.organisations, model.ties
    key = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in (
        np.array([model.config.seed]), managers.org, orgs.system, ties.source, ties.target,
        ties.cross_org))).digest()
    if key not in _LAYOUTS:
        _LAYOUTS[key] = network_layout(model)
        while len(_LAYOUTS) > _LAYOUTS_KEPT:
            _LAYOUTS.popitem(last=False)
    return _LAYOUTS[key]


# ------------------------------------------------------------------------------ the figures
class BlitCanvas:
    """A figure whose still parts are drawn once and kept as pixels: each frame draws only the
    ``moving`` artists over them (matplotlib blitting) and encodes a quick PNG. This keeps a
    week's redraw well under a second at ``default_ics``."""

    def __init__(self, figure: Figure, moving: list):
        self.figure = figure
        self.agg = FigureCanvasAgg(figure)
        self.moving = moving
        for artist in moving:
            artist.set_animated(True)  # left out of full draws
        self.background = None

    def frame(self) -> bytes:
        """The figure as PNG bytes; redraws the still parts only after ``background = None``."""
        if self.background is None:
            self.agg.draw()
            self.background = self.agg.copy_from_bbox(self.figure.bbox)
        else:
            self.agg.restore_region(self.background)
        for artist in self.moving:
            self.figure.draw_artist(artist)
        buffer = io.BytesIO()
        mimage.imsave(buffer, np.asarray(self.agg.buffer_rgba()), format="png",
                      pil_kwargs={"compress_level": 1})
        return buffer.getvalue()


class NetworkCanvas(BlitCanvas):
    """One arm's network: built once per layout, redrawn each week."""

    def __init__(self, layout: NetworkLayout):
        self.layout = layout
        figure = Figure(figsize=(6.6, 6.2), dpi=100)
        ax = figure.add_axes((0.0, 0.1, 1.0, 0.9))
        ax.set_aspect("equal")
        ax.axis("off")
        for centre, radius, label in zip(layout.org_centres, layout.org_radii,
                                         layout.org_labels, strict=True):
            ax.add_patch(Circle(centre, 1.12 * radius, facecolor="#f1f1f1", edgecolor="none",
                                zorder=0))
            norm = np.hypot(*centre)
            direction = centre / norm if norm > 0 else np.array([0.0, 1.0])
            x, y = centre + direction * (1.12 * radius + 2.0)
            ax.text(x, y, textwrap.fill(label, 13), fontsize=8.5, color="#333333", zorder=3,
                    ha="left" if direction[0] > 0.3 else "right" if direction[0] < -0.3
                    else "center", va="bottom" if direction[1] > 0.3
                    else "top" if direction[1] < -0.3 else "center")
        # One line per (kind, strength class), segments split by NaN: far faster to draw than a
        # LineCollection of thousands of ties; five widths are as many as the eye tells apart.
        self.tie_lines = {
            (across, band): ax.plot(
                [], [], lw=0.3 + 3.0 * (low + high) / 2.0, solid_capstyle="round",
                color=CROSS_PROFESSION_COLOUR if across else SAME_GROUP_TIE_COLOUR,
                alpha=0.75 if across else 0.35, zorder=1.5 if across else 1)[0]
            for across in (False, True)
            for band, (low, high) in enumerate(itertools.pairwise(TIE_BANDS))
        }
        drawn = layout.positions[layout.shown]
        self.nodes = ax.scatter(drawn[:, 0], drawn[:, 1], s=8, zorder=2, linewidths=0.3,
                                edgecolors="white")
        super().__init__(figure, [*self.tie_lines.values(), self.nodes])
        reach = np.max(np.abs(layout.org_centres) + layout.org_radii[:, None]) * 1.12 + 2.0
        ax.set_xlim(-1.3 * reach, 1.3 * reach)  # room for the labels
        ax.set_ylim(-1.1 * reach, 1.1 * reach)
        figure.legend(handles=[
            Line2D([], [], ls="", marker="o", color=CLINICAL_COLOUR, label="clinical manager"),
            Line2D([], [], ls="", marker="o", color=NON_CLINICAL_COLOUR,
                   label="non-clinical manager"),
            Line2D([], [], ls="", marker="o", color=VACANT_COLOUR, label="vacant post"),
            Line2D([], [], color=CROSS_PROFESSION_COLOUR, lw=2,
                   label="leadership across professions"),
            Line2D([], [], color=SAME_GROUP_TIE_COLOUR, lw=2, label="within a profession group"),
        ], loc="lower center", ncol=2, fontsize=9, frameon=False)

    def render(self, model: SharedLeadershipModel) -> bytes:
        """The network of ``model`` this week, as PNG bytes."""
        managers, ties, shown = model.managers, model.ties, self.layout.shown
        usable = model.usable
        strength = np.maximum(ties.granted, ties.granted[ties.reverse]) * usable
        drawn = ((ties.source < ties.target) & (strength > TIE_THRESHOLD)
                 & shown[ties.source] & shown[ties.target])
        band = np.digitize(strength, TIE_BANDS[1:-1])
        positions = self.layout.positions
        for (across, level), line in self.tie_lines.items():
            chosen = np.flatnonzero(drawn & (ties.cross_group == across) & (band == level))
            path = np.full((3 * len(chosen), 2), np.nan)
            path[0::3] = positions[ties.source[chosen]]
            path[1::3] = positions[ties.target[chosen]]
            line.set_data(path[:, 0], path[:, 1])
        self.nodes.set_sizes(4.0 + 10.0 * model.received[shown])
        colours = np.where(managers.is_clinical[shown, None], _rgba(CLINICAL_COLOUR),
                           _rgba(NON_CLINICAL_COLOUR))
        colours[~managers.active[shown]] = _rgba(VACANT_COLOUR)
        self.nodes.set_facecolors(colours)
        return self.frame()


def _rgba(colour: str, alpha: float = 1.0) -> np.ndarray:
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return np.array([*rgb, alpha])


def nice_top(value: float) -> float:
    """The least of 1, 1.5, 2, 3, 4, 5, 6, 8 times a power of ten at or above ``value``: an axis
    top that moves only now and then, so the axes are redrawn only now and then."""
    if value <= 0:
        return 1.0
    scale = 10.0 ** np.floor(np.log10(value))
    return next(step * scale for step in (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
                if step * scale >= value)


class TrendCanvas(BlitCanvas):
    """The headline outputs over the weeks, baseline dashed and scenario solid."""

    def __init__(self, weeks: int, scenario: str):
        rows = -(-len(TRENDS) // TREND_COLUMNS)
        figure = Figure(figsize=(13.0, 2.8 * rows), dpi=100)
        axes = figure.subplots(rows, TREND_COLUMNS, squeeze=False)
        figure.subplots_adjust(left=0.06, right=0.99, top=1 - 0.15 * 2 / rows,
                               bottom=0.09 * 2 / rows, wspace=0.32, hspace=0.5)
        axis_formats = {"share": FuncFormatter(lambda value, _: f"{100 * value:.3g}%"),
                        "money": FuncFormatter(lambda value, _: format_gbp(value))}
        for ax in axes.flat[len(TRENDS):]:
            ax.set_visible(False)
        self.panels = []
        for ax, name in zip(axes.flat[:len(TRENDS)], TRENDS, strict=True):
            output = OUTPUTS[name]
            ax.set_title(textwrap.fill(output.label, TREND_TITLE_WIDTH), fontsize=12)
            ax.set_xlim(0, weeks)
            ax.xaxis.set_major_locator(MultipleLocator(52) if weeks >= 104
                                       else MaxNLocator(4, integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=9)
            ax.grid(axis="y", alpha=0.3)
            if output.kind in axis_formats:
                ax.yaxis.set_major_formatter(axis_formats[output.kind])
            lines = (ax.plot([], [], color=BASELINE_COLOUR, ls="--", lw=1.8)[0],
                     ax.plot([], [], color=POLICY_COLOUR, lw=2.2)[0])
            self.panels.append((ax, name, lines))
        for ax, _, _ in self.panels[-TREND_COLUMNS:]:
            ax.set_xlabel("week", fontsize=10)
        figure.legend(handles=[
            Line2D([], [], color=BASELINE_COLOUR, ls="--", lw=1.8, label="baseline"),
            Line2D([], [], color=POLICY_COLOUR, lw=2.2, label=f"scenario: {scenario}"),
        ], loc="upper center", ncol=2, fontsize=11, frameon=False)
        super().__init__(figure, [line for _, _, lines in self.panels for line in lines])

    def render(self, comparison: ScenarioComparison) -> bytes:
        """Both arms' time series up to this week, as PNG bytes."""
        for ax, name, lines in self.panels:
            top = 0.0
            for line, arm in zip(lines, comparison.arms, strict=True):
                values = np.array(arm.datacollector.model_vars[name])
                line.set_data(np.arange(len(values)), values)
                top = max(top, values.max())
            top = nice_top(1.05 * top)
            if ax.get_ylim() != (0.0, top):
                ax.set_ylim(0.0, top)
                self.background = None
        return self.frame()


# ----------------------------------------------------------------------------- the page
# The runs are stepped in place, so a reactive week number tells the views to redraw; only the
# views read it, so a step does not re-render the controls.
@solara.component
def NetworkView(comparison: ScenarioComparison, arm: SharedLeadershipModel, title: str,
                week: solara.Reactive[int]):
    canvas = solara.use_memo(lambda: NetworkCanvas(comparison.layout), [comparison.layout])

    def draw() -> bytes:
        with comparison.lock:
            return canvas.render(arm)

    png = solara.use_memo(draw, [canvas, arm, week.value])
    with solara.Card(title, classes=["slsim-network"]):
        solara.Image(png, width="100%")


@solara.component
def TrendView(comparison: ScenarioComparison, week: solara.Reactive[int]):
    weeks = comparison.baseline.config.weeks
    scenario = comparison.policy.config.scenario.name
    canvas = solara.use_memo(lambda: TrendCanvas(weeks, scenario), [weeks, scenario])

    def draw() -> bytes:
        with comparison.lock:
            return canvas.render(comparison)

    png = solara.use_memo(draw, [canvas, comparison, week.value])
    with solara.Card("How the runs unfold"):
        solara.Image(png, width="100%", classes=["slsim-trends"])


@solara.component
def WeekTable(comparison: ScenarioComparison, week: solara.Reactive[int]):
    scenario = comparison.policy.config.scenario.name
    rows = [f"| | baseline | {scenario} | difference |", "|:--|--:|--:|--:|"]
    for name in TRENDS:
        output = OUTPUTS[name]
        base, policy = (arm.latest[name] for arm in comparison.arms)
        rows.append(f"| <span title=\"{output.description}\">{output.label}</span> "
                    f"| {output.text(base)} | {output.text(policy)} "
                    f"| {output.text_difference(policy, base)} |")
    with solara.Card(f"Week {week.value}: baseline and {scenario}"):
        solara.Markdown("\n".join(rows))


def building_text(step: str, done: int, total: int) -> str:
    return f"Building the {step}: system {done} of {total} (the baseline's, then the scenario's)"


@solara.component
def BuildProgress(building: tuple | None):
    """How far the set-up of the runs being built has got (:func:`network.setup_progress`)."""
    if building is not None:
        step, done, total = building
        solara.ProgressLinear(value=100 * done / total)
        solara.Text(building_text(step, done, total), classes=["slsim-building"])


@solara.component
def RunCard(comparison: ScenarioComparison, week: solara.Reactive[int],
            playing: solara.Reactive[bool], weeks_per_step: solara.Reactive[int],
            play_interval: solara.Reactive[int], error: solara.Reactive[str | None],
            building: solara.Reactive[tuple | None], on_reset, on_step):
    """The week, Reset / Play / Step (as Mesa's ModelController), the progress of a system
    being built, and any error."""
    with solara.Card("Run"):
        BuildProgress(building.value)
        solara.Text(f"Week {week.value} of {comparison.baseline.config.weeks}",
                    classes=["slsim-week"], style={"font-size": "1.6em", "font-weight": "500"})
        if not comparison.running:
            solara.Text("The run has reached its horizon: Reset starts again.")
        with solara.Row(justify="space-between"):
            solara.Button("Reset", color="primary", on_click=on_reset)
            solara.Button("❚❚ Pause" if playing.value else "▶ Play", color="primary",
                          on_click=lambda: playing.set(not playing.value),
                          disabled=not comparison.running)
            solara.Button("Step", color="primary", on_click=on_step,
                          disabled=playing.value or not comparison.running)
        solara.SliderInt(f"Weeks per step: {weeks_per_step.value}", value=weeks_per_step,
                         min=1, max=26)
        solara.SliderInt(f"Pause between steps: {play_interval.value} ms", value=play_interval,
                         min=0, max=1000, step=50)
        if error.value:
            solara.Error(error.value)


@solara.component
def SystemMenu(spec: dict, value: str, on_change):
    """The system menu: a group (the archetypes, England, an NHS England region, your
    systems), then a system of that group. Choosing a group runs its first system."""
    menu = solara.use_memo(system_menu, [])
    group = next((g for g, items in menu.items() if value in items.values()), next(iter(menu)))
    names = menu[group]
    shown = next((name for name, v in names.items() if v == value), next(iter(names)))
    solara.Select("Group or region", value=group, values=list(menu),
                  on_value=lambda g: on_change("ics", next(iter(menu[g].values()))))
    solara.Select(spec["label"], value=shown, values=list(names),
                  on_value=lambda name: on_change("ics", names[name]))


@solara.component
def Control(name: str, spec: dict, value, on_change):
    """One schema control, drawn by Mesa's ``UserInputs``, with the parameter's meaning below."""
    UserInputs({name: {**spec, "value": value}}, on_change=on_change)
    if spec["doc"]:
        solara.Text(spec["doc"], style={"font-size": "0.8em", "color": "#666666"})


@solara.component
def Page():
    controls = solara.use_memo(model_params, [])
    settings = solara.use_reactive({name: spec["value"] for name, spec in controls.items()})
    comparison = solara.use_reactive(None)  # None until the first runs are built
    week = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    play_interval = solara.use_reactive(200)
    weeks_per_step = solara.use_reactive(1)
    building = solara.use_reactive(None)  # (step, done, total) while a system is being built
    # (request number, settings) of the runs to build next: numbered, because Reset asks for
    # the same settings again and a reactive value that is set equal does not change. The
    # first runs are built as every later ones, in the build's thread, their progress shown.
    wanted = solara.use_reactive((0, dict(settings.value)))

    def restart(new_settings: dict) -> None:
        settings.set(new_settings)
        playing.set(False)
        try:
            arm_configs(**new_settings)
        except ConfigError as exc:
            error.set(f"Not applied: {exc}")
            return
        error.set(None)
        wanted.set((wanted.value[0] + 1, dict(new_settings)))

    def build() -> None:
        # In a thread of its own, so the page shows the progress of a national system's
        # seconds of set-up (each system's network) while it builds.
        asked = wanted.value
        try:
            with setup_progress(lambda *step: building.set(step)):
                fresh = ScenarioComparison(**asked[1])
        except Exception as exc:  # shown, not lost in the build's thread
            traceback.print_exc()
            building.set(None)
            error.set(f"Could not build the runs: {type(exc).__name__}: {exc}")
            return
        if wanted.value == asked:  # not overtaken by a later change
            building.set(None)
            comparison.set(fresh)
            week.set(0)

    solara.lab.use_task(build, dependencies=[wanted.value], prefer_threaded=True)

    def change(name: str, value) -> None:
        restart({**settings.value, name: value})

    def advance() -> None:
        run = comparison.value
        try:
            for _ in range(weeks_per_step.value):
                if run.running:
                    run.step()
        except Exception as exc:  # a failing week must stop play visibly, not kill a thread
            traceback.print_exc()
            playing.set(False)
            error.set(f"Week {run.steps + 1} failed: {type(exc).__name__}: {exc}")
        if run is comparison.value:
            week.set(run.steps)

    def play() -> None:
        while playing.value and comparison.value.running:
            time.sleep(play_interval.value / 1000)
            if playing.value:  # not paused while asleep
                advance()
        playing.set(False)

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    run = comparison.value
    with solara.AppBar():
        solara.AppBarTitle("Shared leadership in an integrated care system")
    if run is None:  # the first page load: a national system takes about 20 s to build
        with solara.Card("Building the runs", classes=["slsim-first-build"]):
            BuildProgress(building.value)
            if error.value:
                solara.Error(error.value)
        return
    scenario = run.policy.config.scenario.name

    with solara.Sidebar(), solara.Column():
        RunCard(run, week, playing, weeks_per_step, play_interval, error, building,
                on_reset=lambda: restart(settings.value), on_step=advance)
        with solara.Card("Policy"):
            Control("scenario", controls["scenario"], settings.value["scenario"], change)
            solara.Markdown(scenario_summary(run.policy.config.scenario),
                            style={"font-size": "0.85em"})
        with solara.Card("System"):
            SystemMenu(controls["ics"], settings.value["ics"], change)
            solara.Text(system_description(settings.value["ics"]),
                        style={"font-size": "0.8em", "color": "#666666"})
            for name in ("seed", "weeks"):
                Control(name, controls[name], settings.value[name], change)
            trainees = int(run.baseline.managers.is_trainee.sum())
            solara.Text(f"Running {run.baseline.config.ics.name}: "
                        f"{len(run.baseline.managers) - trainees:,} manager posts and "
                        f"{trainees:,} doctors in training in "
                        f"{len(run.baseline.organisations)} organisations.",
                        style={"font-size": "0.85em"})
        with solara.Card("Barriers and levers"):
            for name in BARRIERS:
                Control(name, controls[name], settings.value[name], change)

    solara.Markdown(
        f"**Left: the system as it is. Right: the same system, same seed, with "
        f"*{scenario}*.** Each dot is a manager: orange clinical, blue non-clinical, bigger "
        f"when colleagues grant them more leadership. Lines are leadership granted (stronger "
        f"than {TIE_THRESHOLD}), thicker when stronger; pink lines cross the clinical / "
        f"non-clinical line.")
    shown = f" (system 1 of {run.layout.systems})" if run.layout.systems > 1 else ""
    with solara.Columns([1, 1]):
        NetworkView(run, run.baseline, f"Baseline{shown}", week)
        NetworkView(run, run.policy, f"Scenario: {scenario}{shown}", week)
    TrendView(run, week)
    WeekTable(run, week)
