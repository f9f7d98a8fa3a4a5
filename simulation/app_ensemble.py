"""The browser app's two views, as Solara routes: the live view (``app.py``: one seed of the
baseline beside one of a scenario) and the ensemble view (here: the comparison the report gives,
with its uncertainty, built while the runs come in).

    slsim-viz        serves this module: / is the live view, /ensemble the ensemble view

The ensemble view plans an ensemble from menus (system, options, horizon, replicates, seed-only
or posterior-draw uncertainty; an option is a scenario of ``configs/scenario/``, or one composed
here from the levers of ``configs/intervention/`` on sliders bounded by the schema), shows the
runs and an ETA from the system's measured speed, asks before a big one, and runs it as the
command-line sweep it shows (:mod:`simulation.ensemble`). While it runs: the progress bar, the
paired difference against the baseline over time, the forest plot, P(best) with its Monte Carlo
error and, on posterior draws, the CEAC. Every number is ``slsim-compare``'s, through
:mod:`simulation.ensemble`. When it ends, the report opens in a new tab.

This module sits above the analysis layer; the live view stays on the model core alone.
"""

import io
import threading
import time
from pathlib import Path

import ipyvuetify as v
import matplotlib.pyplot as plt
import solara
import solara.lab
import traitlets
from matplotlib.ticker import MaxNLocator

from . import app as live
from . import ensemble
from .analysis import figures
from .analysis.comparison import Comparison
from .analysis.decision import WTP_GRID
from .analysis.economics import EconomicParams
from .analysis.levers import lever_files
from .config import RunConfig, group_options
from .outputs import format_gbp
from .params import ConfigError, parameter_specs
from .posterior import CALIBRATED, UNCALIBRATED, posterior

POLL_S = 1.0  # how often a running ensemble's folder is surveyed
SEED_ONLY, DRAWS = "seed-only", "posterior draws"
DRAWS_NEED_CALIBRATION = ("Posterior draws need the calibrated model: the uncalibrated one has "
                          "no posterior to draw from.")
MOST_REPLICATES = 100  # the replicate slider's top [A]: a CI's width barely shrinks beyond it


# --------------------------------------------------------------------------------- the menus
def option_menu() -> list[str]:
    """The scenarios of ``configs/scenario/`` an ensemble can compare with the baseline."""
    return [name for name in group_options("scenario") if name != ensemble.BASELINE]


def lever_menu() -> list[str]:
    """The levers an option can be composed from: the entries of ``configs/intervention/``."""
    return sorted(lever_files())


def knob_label(knob: str, value: float, spec: dict) -> str:
    return f"{knob.replace('_', ' ')}: {value:g} {spec['unit']}"


def weeks_range() -> tuple[int, int]:
    return parameter_specs(RunConfig)["weeks"]["range"]


def duration_text(seconds: float | None) -> str:
    """Seconds as a person reads them: '40 s', '12 min', '3.5 h'."""
    if seconds is None:
        return "not yet known"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def progress_text(progress: ensemble.Progress, eta: float | None, running: bool) -> str:
    text = f"{progress.succeeded} of {progress.planned} runs done, {progress.failed} failed"
    return text + (f"; time left: {duration_text(eta)}" if running else "")


def setup_text(step: str, done: int, total: int) -> str:
    return f"Measuring the system's speed: building its {step}, system {done} of {total}"


# ------------------------------------------------------------------------------- the figures
def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def difference_figure(comparison: Comparison) -> bytes:
    """Each option minus the baseline over the weeks, for the ranking outcome, with its band."""
    item = comparison.primary
    rows = ensemble.difference_over_time(comparison.tables, comparison.baseline, item)
    colours = figures.palette(comparison.tables.groups)
    figure, ax = plt.subplots(figsize=(7.5, 4.0))
    for group, series in rows.groupby("group", sort=False):
        ax.plot(series["week"], series["difference"] * item.scale, color=colours[group],
                label=group)
        ax.fill_between(series["week"], series["low"] * item.scale,
                        series["high"] * item.scale, color=colours[group], alpha=0.2, lw=0)
    ax.axhline(0, color="grey", lw=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("week")
    ax.set_ylabel(f"difference ({item.unit})")
    ax.set_title(f"{item.label}: each option minus {comparison.baseline}, paired by seed\n"
                 "band: 95% confidence interval", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figure.tight_layout()
    return png(figure)


def forest_png(comparison: Comparison) -> bytes:
    compared = [o for o in comparison.outcomes if o.better is not None]
    return png(figures.forest_figure(comparison.differences, compared, comparison.baseline,
                                     comparison.seeds))


def ceac_png(comparison: Comparison, wtp: float) -> bytes:
    found = comparison.psa
    figure = figures.ceac_figure(found.ceac, found.options, figures.palette(found.options),
                                 "task delivered", found.draws)
    figure.axes[0].axvline(wtp, color="grey", ls="--", lw=1)
    return png(figure)


def forest_markdown(comparison: Comparison) -> str:
    """The forest plot's numbers for the ranking outcome, as a table."""
    rows = ensemble.forest_rows(comparison)
    rows = rows[rows["outcome"] == comparison.primary.name]
    lines = [f"| option | change vs {comparison.baseline} | 95% CI | verdict |",
             "|:--|--:|--:|:--|"]
    lines += [f"| {r.group} | {r.relative:+.2f}% | {r.relative_low:+.2f}% to "
              f"{r.relative_high:+.2f}% | {'clear' if r.clear else 'within noise'} |"
              for r in rows.itertuples()]
    return "\n".join(lines)


def best_markdown(comparison: Comparison) -> str:
    rows = ensemble.probability_best(comparison)
    over = "posterior draws" if comparison.psa is not None else "seeds"
    lines = [f"| option | P(best), over {over} | Monte Carlo SE |", "|:--|--:|--:|"]
    lines += [f"| {r.option} | {r.p_best:.2f} | {r.p_best_mcse:.2f} |"
              for r in rows.itertuples()]
    return "\n".join(lines)


def ceac_markdown(comparison: Comparison, wtp: float) -> str:
    row = ensemble.ceac_at(comparison, wtp)
    lines = [f"At {format_gbp(row['wtp'])} per task: P(highest net benefit)", "",
             "| option | probability |", "|:--|--:|"]
    lines += [f"| {option} | {row[option]:.2f} |" for option in comparison.psa.options]
    return "\n".join([*lines, "", f"Chosen (frontier): **{row['chosen']}**"])


# --------------------------------------------------------------------------- the report link
class ReportLink(v.VuetifyTemplate):
    """A button that opens the report's HTML (figures embedded) in a new tab, from the page
    itself: the server serves no files, so no path is exposed."""

    html = traitlets.Unicode("").tag(sync=True)
    template = traitlets.Unicode("""
<template>
  <v-btn color="primary" class="slsim-open-report" @click="open_report">
    Open the full report
  </v-btn>
</template>
<script>
module.exports = {
  methods: {
    open_report() {
      const blob = new Blob([this.html], {type: "text/html"});
      window.open(URL.createObjectURL(blob), "_blank");
    }
  }
}
</script>
""").tag(sync=True)


# ---------------------------------------------------------------------------------- the view
@solara.component
def PlanCard(plan: ensemble.EnsemblePlan | None, problem: str, folder: Path | None,
             speed, confirmed: solara.Reactive[bool], setup: str):
    """The planned runs, the ETA from measured speed and, for a big plan, the confirmation."""
    with solara.Card("Plan"), solara.Column(gap="6px"):
        if plan is None:
            solara.Error(problem)
            return
        solara.Text(f"{plan.runs} runs: {len(plan.scenarios)} options × {plan.replicates} "
                    "seeds" + (f" × {plan.draws} draws" if plan.draws else ""),
                    classes=["slsim-planned"])
        solara.Text(f"Run folder: {folder}", style={"font-size": "0.85em"},
                    classes=["slsim-folder"])
        if speed.finished:
            measured = speed.value
            solara.Text(f"Estimated time: {duration_text(ensemble.planned_seconds(plan, measured))}"
                        f" on {ensemble.workers()} worker processes (measured: set-up "
                        f"{measured.setup_s:.1f} s, {measured.week_s * 1000:.0f} ms a week)",
                        classes=["slsim-eta"])
            if ensemble.needs_confirmation(plan, measured):
                solara.Checkbox(label="This is a big ensemble: start it anyway",
                                value=confirmed)
        elif speed.error:
            solara.Error(f"Could not measure the speed: {speed.exception}")
        else:
            solara.Text(setup or "Measuring the system's speed ...", classes=["slsim-setup"])


@solara.component
def ComposeCard(on_add):
    """Compose an option from levers: choose levers, set each one's knobs
    (:func:`simulation.ensemble.option_knobs`, on sliders bounded by the schema, starting at the
    lever's configured values) and add it to the options compared."""
    levers = solara.use_reactive([])
    knobs = solara.use_reactive({})  # lever -> {knob: value} moved from its configured value
    problem = solara.use_reactive("")

    def set_knob(entry: str, knob: str, value) -> None:
        knobs.set({**knobs.value, entry: {**knobs.value.get(entry, {}), knob: value}})

    def add() -> None:
        try:
            option = ensemble.ComposedOption.of(
                {entry: knobs.value.get(entry, {}) for entry in levers.value})
        except ConfigError as exc:
            problem.set(str(exc))
            return
        problem.set("")
        on_add(option)

    with solara.Card("Compose an option from levers", classes=["slsim-compose"]):
        solara.SelectMultiple("Levers", values=levers, all_values=lever_menu())
        for entry in levers.value:
            solara.Text(entry, style={"font-weight": "500"})
            for knob, spec in ensemble.option_knobs(entry).items():
                value = knobs.value.get(entry, {}).get(knob,
                                                      ensemble.configured_knob(entry, knob))
                low, high = spec["range"]

                def on_value(new, entry=entry, knob=knob):
                    set_knob(entry, knob, new)

                if isinstance(spec["default"], int):
                    solara.SliderInt(knob_label(knob, value, spec), value=int(value),
                                     min=int(low), max=int(high), on_value=on_value)
                else:
                    solara.SliderFloat(knob_label(knob, value, spec), value=float(value),
                                       min=low, max=high, step=live.slider_step(low, high),
                                       on_value=on_value)
        solara.Button("Add this option", on_click=add, disabled=not levers.value)
        if problem.value:
            solara.Error(problem.value)


@solara.component
def Figure(draw, dependencies: list):
    """A figure drawn by ``draw()`` (PNG bytes) once per change of ``dependencies``."""
    solara.Image(solara.use_memo(draw, dependencies), width="100%")


@solara.component
def ResultsView(comparison: Comparison | None, wtp: solara.Reactive[float]):
    if comparison is None:
        solara.Info("The results appear once every option has two finished runs.")
        return
    with solara.Columns([1, 1]):
        with solara.Card("Paired difference against the baseline over time",
                         classes=["slsim-over-time"]):
            Figure(lambda: difference_figure(comparison), [comparison])
        with solara.Card(f"P(best) for {comparison.primary.label}", classes=["slsim-best"]):
            solara.Markdown(best_markdown(comparison))
    with solara.Card("Forest plot: paired differences at the horizon",
                     classes=["slsim-forest"]):
        Figure(lambda: forest_png(comparison), [comparison])
        solara.Markdown(forest_markdown(comparison), style={"font-size": "0.9em"})
    with solara.Card("Cost-effectiveness acceptability", classes=["slsim-ceac"]):
        if comparison.psa is None:
            solara.Text("The CEAC needs posterior-draw uncertainty: choose it and run again.")
            return
        solara.SliderFloat(f"Willingness to pay: {format_gbp(wtp.value)} per task", value=wtp,
                           min=float(WTP_GRID[0]), max=float(WTP_GRID[-1]),
                           step=float(WTP_GRID[1] - WTP_GRID[0]))
        Figure(lambda: ceac_png(comparison, wtp.value), [comparison, wtp.value])
        solara.Markdown(ceac_markdown(comparison, wtp.value))


def _plan(ics, options, weeks, replicates, uncertainty, draws, calibration):
    """The plan the menus describe and its folder, or None, None and why not."""
    try:
        plan = ensemble.EnsemblePlan(ics, tuple(options), weeks, replicates,
                                     draws if uncertainty == DRAWS else 0, calibration)
        plan.check()
    except (ValueError, ConfigError) as exc:
        return None, None, str(exc)
    return plan, ensemble.ensembles_dir() / ensemble.folder_name(plan), ""


@solara.component
def EnsembleView():
    options_menu = solara.use_memo(option_menu, [])
    ics = solara.use_reactive(live.DEFAULT_ICS)
    options = solara.use_reactive(options_menu[:1])
    composed = solara.use_reactive({})  # name -> ComposedOption, of the options composed here
    weeks = solara.use_reactive(52)
    replicates = solara.use_reactive(5)
    uncertainty = solara.use_reactive(SEED_ONLY)
    draws = solara.use_reactive(10)
    calibration = solara.use_reactive(CALIBRATED)
    primary = solara.use_reactive("sl_density")
    wtp = solara.use_reactive(float(EconomicParams().wtp_per_task))
    confirmed = solara.use_reactive(False)
    run = solara.use_reactive(None)  # the EnsembleRun under way, if any
    progress = solara.use_reactive(None)  # (Progress, ETA) of the folder, ETA None if idle
    report_html = solara.use_reactive("")
    message = solara.use_reactive("")
    setup = solara.use_reactive("")

    solara.AppBarTitle("Shared leadership: comparing options over an ensemble")
    calibrated = calibration.value == CALIBRATED
    mode = uncertainty.value if calibrated else SEED_ONLY
    chosen = tuple(composed.value.get(name, name) for name in options.value)
    # Checked once per change of the menus (composing each option takes a fraction of a
    # second), not at every redraw of the progress.
    plan, folder, problem = solara.use_memo(
        lambda: _plan(ics.value, chosen, weeks.value, replicates.value, mode, draws.value,
                      calibration.value),
        [ics.value, chosen, weeks.value, replicates.value, mode, draws.value, calibration.value])

    def add_option(option: ensemble.ComposedOption) -> None:
        composed.set({**composed.value, option.name: option})
        if option.name not in options.value:
            options.set([*options.value, option.name])

    def measure():
        return ensemble.measure_speed(ics.value, calibration.value,
                                      lambda *step: setup.set(setup_text(*step)))

    speed = solara.lab.use_task(measure, dependencies=[ics.value, calibration.value],
                                prefer_threaded=True)

    def look():  # what the folder holds already: a finished or an earlier, cancelled ensemble
        if plan is not None and run.value is None:
            progress.set((ensemble.survey(folder, plan.runs), None))

    solara.use_effect(look, [str(folder), run.value])
    solara.use_effect(lambda: report_html.set(""), [str(folder)])

    def compute():
        if folder is None or progress.value is None or not progress.value[0].succeeded:
            return None
        return ensemble.comparison_of(folder, primary.value)

    succeeded = progress.value[0].succeeded if progress.value else 0
    comparison = solara.lab.use_task(compute, dependencies=[str(folder), primary.value,
                                                            succeeded], prefer_threaded=True)

    def watch():
        current = run.value
        if current is None:
            return
        while current.running:
            found = current.progress()
            # Until a run of this launch has finished, the estimate from the measured speed.
            eta = current.eta(found)
            if eta is None and speed.finished:
                eta = ensemble.planned_seconds(plan, speed.value, found.done)
            progress.set((found, eta))
            time.sleep(POLL_S)
        code = current.process.returncode
        if code < 0:
            message.set("Cancelled: the finished runs are kept, and starting again resumes.")
        else:
            ended = ("Finished." if code == 0 else
                     f"The sweep ended with code {code}: see {folder / ensemble.LOG_FILE}.")
            message.set(f"{ended} Writing the report ...")
            write_report()
            message.set(ended)
        run.set(None)  # the folder is surveyed again once it is idle

    solara.lab.use_task(watch, dependencies=[run.value], prefer_threaded=True)

    def write_report():
        try:
            report_html.set(ensemble.report(folder, primary.value).read_text())
        except ValueError as exc:
            message.set(f"No report: {exc}")

    def start():
        message.set("")
        report_html.set("")
        run.set(ensemble.EnsembleRun(plan, folder))

    def cancel():
        current = run.value
        if current is not None:  # the watcher sees the process end and says so
            threading.Thread(target=current.cancel, daemon=True).start()

    with solara.Sidebar(), solara.Column():
        with solara.Card("Ensemble"):
            live.SystemMenu({"label": "System"}, ics.value, lambda _, value: ics.set(value))
            solara.SelectMultiple("Options to compare with the baseline", values=options,
                                  all_values=[*options_menu, *composed.value])
            low, high = weeks_range()
            solara.SliderInt(f"Horizon: {weeks.value} weeks", value=weeks, min=low,
                             max=min(high, 520))
            solara.SliderInt(f"Replicates (seeds): {replicates.value}", value=replicates,
                             min=2, max=MOST_REPLICATES)
            solara.Select("Calibration", value=calibration, values=[CALIBRATED, UNCALIBRATED])
            solara.ToggleButtonsSingle(value=mode, on_value=uncertainty.set, children=[
                solara.Button(SEED_ONLY, value=SEED_ONLY),
                solara.Button(DRAWS, value=DRAWS, disabled=not calibrated)])
            if not calibrated:
                solara.Text(DRAWS_NEED_CALIBRATION, style={"font-size": "0.85em"})
            elif uncertainty.value == DRAWS:
                solara.SliderInt(f"Posterior draws: {draws.value}", value=draws, min=2,
                                 max=len(posterior().draws))
            solara.Select("Outcome to rank by", value=primary,
                          values=list(ensemble.compared_outcomes()))
        ComposeCard(add_option)
        PlanCard(plan, problem, folder, speed, confirmed, setup.value)
        with solara.Row():
            big = (plan is not None and speed.finished
                   and ensemble.needs_confirmation(plan, speed.value))
            solara.Button("Start", color="primary", on_click=start,
                          disabled=(plan is None or run.value is not None
                                    or not speed.finished
                                    or (big and not confirmed.value)))
            solara.Button("Cancel", color="error", on_click=cancel,
                          disabled=run.value is None)

    with solara.Card("Progress"):
        if progress.value is not None:
            found, eta = progress.value
            solara.ProgressLinear(value=100 * found.share, color="success")
            solara.Text(progress_text(found, eta, run.value is not None),
                        classes=["slsim-progress"])
        if message.value:
            solara.Info(message.value)
        if plan is not None:
            solara.Markdown("Reproduce it on the command line:\n\n```\n"
                            f"{ensemble.reproducing_command(plan, folder)}\n```")
        if report_html.value:
            ReportLink.element(html=report_html.value)
        elif run.value is None and progress.value and progress.value[0].succeeded:
            solara.Button("Write the report", on_click=write_report)
    if comparison.error:
        solara.Error(f"Could not compare: {comparison.exception}")
    ResultsView(comparison.latest, wtp)


routes = [
    solara.Route(path="/", component=live.Page, label="Live: one seed"),
    solara.Route(path="ensemble", component=EnsembleView, label="Ensemble"),
]
