"""Writing a scenario comparison: ``report.md`` and ``report.html`` (the same document; the HTML
embeds its figures, so it can be forwarded as one file), the figures and the tables.

The report holds a plain-language summary, what was run, the ranking, each outcome at the horizon
with its 95% CI, paired differences against the baseline with CIs and effect sizes, cost and cost
per unit of gain, whether there were enough seeds, the figures and method notes. Figures:
``timeseries.png``, ``forest.png``, ``cost_gain.png``, ``replications.png`` (and ``grid.png`` when
the sweep is a grid over two numeric parameters, and ``systems.png`` for a national sweep, with
a section by ICB and by region); ``tables/*.csv`` holds every table, unrounded.
"""

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..layout import FAILURES_FILE
from ..outputs import format_gbp, format_number
from ..results_io import write_figure, write_json, write_streamed
from . import figures, systems
from .comparison import Comparison
from .decision import EVPPI_DRAWS_PER_PARAMETER, EVPPI_MIN_DRAWS, PSAComparison
from .outcomes import outcome
from .stats import effect_size_words
from .tables import markdown_table

REPORT_DIR = "report"


def _signed(value: float, digits: int = 3, suffix: str = "") -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    text = format_number(abs(value), digits)
    return f"{'+' if value > 0 else '-' if value < 0 else ''}{text}{suffix}"


def _pct(value: float, digits: int = 2) -> str:
    return _signed(value * 100, digits, "%")


def _lower(label: str) -> str:
    """A label inside a sentence: first letter lower case, unless it starts an acronym (SL)."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _join(names: list[str], most: int = 4) -> str:
    """Names in italics as a list in words; past ``most``, the first few and a count."""
    names = [f"*{n}*" for n in names]
    if len(names) > most:
        return ", ".join(names[:most - 1]) + f" and {len(names) - most + 1} others"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def ranking_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    p = c.primary
    headers = ["rank", c.kind, f"{p.label} change vs {c.baseline} (95% CI)",
               "tasks/week change", "burnout change", "incremental cost",
               f"cost per 1% gain in {p.label}"]
    rows = []
    for _, r in c.ranking.iterrows():
        tie = "" if r["rank"] == 1 else (" (tied with best)" if r["tied_with_best"] else "")
        clear = "" if r["primary_clear"] else ", within noise"
        rows.append([
            str(r["rank"]), f"{r['group']}{tie}",
            f"{_signed(r['primary_gain'], 2, '%')} ({_signed(r['primary_gain_low'], 2, '%')} "
            f"to {_signed(r['primary_gain_high'], 2, '%')}{clear})",
            f"{r['tasks_completed_change']:+.2f}" + ("" if r["tasks_completed_clear"]
                                                     else " (noise)"),
            f"{r['burnout_share_change'] * 100:+.2f} pts"
            + ("" if r["burnout_share_clear"] else " (noise)"),
            format_gbp(r["cost"]), format_gbp(r["cost_per_1pct"])])
    if not c.costly:  # a parameter sweep: nothing is priced
        headers, rows = headers[:-2], [row[:-2] for row in rows]
    return headers, rows


def psa_ranking_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """The options by expected net benefit over the draws (a PSA's ranking, parameters and
    seed), with P(best) and the primary outcome's credible interval."""
    d, p = c.psa, c.primary
    expected = d.value["expected_net_benefit"]
    best = d.best.set_index(["measure", "option"])
    changes = d.differences.set_index(["option", "outcome"])
    headers = ["rank", c.kind, f"expected NMB vs {c.baseline} at {format_gbp(d.wtp)}/task",
               "P(best NMB) ± MCSE", f"{p.label} change, 95% credible interval"]
    rows = []
    for rank, option in enumerate(sorted(d.options, key=expected.get, reverse=True), 1):
        change = ("-" if option == c.baseline
                  else _estimate(changes.loc[(option, p.name)], p.scale))
        rows.append([str(rank), option, format_gbp(expected[option] - expected[c.baseline]),
                     f"{best.loc[('net_benefit', option), 'p_best']:.2f} ± "
                     f"{best.loc[('net_benefit', option), 'p_best_mcse']:.2f}", change])
    return headers, rows


def has_seed_view(c: Comparison) -> bool:
    """Whether the seed-only tables can say anything: always without draws; in a PSA sweep,
    when the draw they hold ran two seeds or more (with one, no interval exists)."""
    return c.psa is None or c.seeds >= 2


ASSUMPTIONS_SENTENCE = (
    "These are results of a model whose behavioural parameters are mostly assumptions "
    "(marked [A] in the model brief): read them as a comparison of options under the same "
    "assumptions, not as forecasts, and see the sensitivity study for the assumptions that "
    "drive them.")
SEED_VIEW_NOTE = ("The seed-only tables (a CI of the model's randomness alone, Holm-adjusted "
                  "p-values) need two seeds or more of a draw; this sweep ran one seed a draw, "
                  "so they are left out and every interval here is over draws (parameters and "
                  "seed). A seed-only comparison at the calibrated point is a sweep over seeds "
                  "without draw=.")


def summary_sentences(c: Comparison) -> list[str]:
    """The plain-language summary: five to ten sentences, uncertainty stated."""
    t, p, n = c.tables, c.primary, c.seeds
    weeks = t.weeks[0] if len(t.weeks) == 1 else None
    years = weeks // 52 if weeks else 0
    horizon = (f"{weeks} weeks ({years} year{'s' if years > 1 else ''})"
               if weeks and weeks % 52 == 0 else f"{weeks} weeks" if weeks else "their horizons")
    about = c.about["groups"][c.baseline]
    people = f"{about['managers']:,} managers" + (
        f" and {about['trainees']:,} doctors in postgraduate training" if about["trainees"]
        else "")
    systems = ", ".join(t.ics)
    if not has_seed_view(c):
        return [f"We compared {len(c.others)} options against *{c.baseline}* on the {systems} "
                f"system ({people}) over {horizon}, on {c.psa.draws} draws of every uncertain "
                "quantity, one seed a draw, every option on the same draws and seeds.",
                psa_sentence(c.psa, None),
                SEED_VIEW_NOTE, ASSUMPTIONS_SENTENCE]
    sentences = [
        f"We compared {len(c.others)} options against *{c.baseline}* on the {systems} system "
        f"({people}) over {horizon}, with {n} seeds (independent replications) "
        "each; runs with the same seed share their random numbers, so every difference below "
        "is paired by seed and its 95% confidence interval (CI) reflects only the model's "
        "randomness."]
    if c.psa is not None:
        sentences.append(psa_sentence(c.psa, c.seed_only_draw))
    if c.ranking.empty:
        return sentences
    best = c.ranking.iloc[0]
    per = (f", or {format_gbp(best['cost_per_1pct'])} per 1% gain" if np.isfinite(
        best["cost_per_1pct"]) else "")
    price = f", for an incremental cost of {format_gbp(best['cost'])}{per}" if best["cost"] else ""
    if best["primary_clear"]:
        sentences.append(
            f"*{best['group']}* raised {p.label} the most: {_signed(best['primary_gain'], 2, '%')}"
            f" (95% CI {_signed(best['primary_gain_low'], 2, '%')} to "
            f"{_signed(best['primary_gain_high'], 2, '%')}) against *{c.baseline}*{price}.")
    else:
        sentences.append(
            f"No option changed {p.label} clearly: the largest change, under *{best['group']}*,"
            f" is {_signed(best['primary_gain'], 2, '%')} (95% CI "
            f"{_signed(best['primary_gain_low'], 2, '%')} to "
            f"{_signed(best['primary_gain_high'], 2, '%')}), and no option's Holm-adjusted "
            "p-value is below 0.05.")
    if len(c.ranking) > 1:
        second = c.ranking.iloc[1]
        if second["tied_with_best"]:
            tied = list(c.ranking.loc[c.ranking["tied_with_best"], "group"])[1:]
            sentences.append(
                f"With {n} seeds the difference between *{best['group']}* and "
                f"{_join(tied)} is within noise (paired 95% CI includes zero), so on this "
                f"evidence they are equally effective for {p.label}.")
        else:
            sentences.append(
                f"*{best['group']}* beats the next best, *{second['group']}* "
                f"({_signed(second['primary_gain'], 2, '%')}), by "
                f"{_signed(second['best_over'], 2, '%')} of that option's level (95% CI "
                f"{_signed(second['best_over_low'], 2, '%')} to "
                f"{_signed(second['best_over_high'], 2, '%')}), a difference that is clear with"
                f" {n} seeds.")
    clear = list(c.ranking.loc[c.ranking["primary_clear"] & (c.ranking["primary_gain"] > 0),
                               "group"])
    worse = list(c.ranking.loc[c.ranking["primary_clear"] & (c.ranking["primary_gain"] < 0),
                               "group"])
    noise = list(c.ranking.loc[~c.ranking["primary_clear"], "group"])
    parts = [f"All {len(c.others)} options raised {p.label} clearly" if len(clear) == len(
        c.others) else f"Of the {len(c.others)} options, {len(clear)} raised {p.label} clearly"]
    small = list(c.ranking.loc[c.ranking["primary_clear"]
                               & c.ranking["primary_gain"].between(0, 1, inclusive="neither"),
                               "group"])
    if small:
        parts[0] += (f", though {_join(small)} gained less than 1%: clear is not the same as "
                     "large")
    if worse:
        parts.append(f"{_join(worse)} lowered it")
    if noise:
        parts.append(f"for {_join(noise)} the change is within noise")
    sentences.append("; ".join(parts) + ".")
    sentences.append(_outcome_sentence(c, "tasks_completed", "delivery (tasks completed per "
                                       "week, last quarter)"))
    sentences.append(_outcome_sentence(c, "burnout_share", "burnout"))
    valued = c.costs[np.isfinite(c.costs["cost_per_1pct"]) & (c.costs["cost"] > 0)]
    if len(valued) >= 2:
        cheap = valued.sort_values("cost_per_1pct").iloc[0]
        dear = valued.sort_values("cost_per_1pct").iloc[-1]
        sentences.append(
            f"Per 1% gain in {p.label}, the cheapest option with a clear gain is "
            f"*{cheap['group']}* ({format_gbp(cheap['cost_per_1pct'])}) and the dearest is "
            f"*{dear['group']}* ({format_gbp(dear['cost_per_1pct'])}).")
    sentences.append(_replication_sentence(c))
    sentences.append(ASSUMPTIONS_SENTENCE)
    return sentences


def psa_sentence(d: PSAComparison, seed_only_draw) -> str:
    """How sure the choice is, over the draws of the uncertain parameters, and what the choice
    between the two leading options depends on most (the tornado's widest bar and the group of
    largest EVPPI); the seed-only tables hold draw ``seed_only_draw`` (None: there are none)."""
    best = d.best[d.best["measure"] == "net_benefit"].sort_values("p_best").iloc[-1]
    sentence = ((f"Those tables hold the seeds of draw {seed_only_draw} alone; over "
                 if seed_only_draw is not None else "Over ") + f"{d.draws} "
                f"draws of the uncertain parameters, *{best['option']}* has the highest net "
                f"benefit at {format_gbp(d.wtp)} per task in {best['p_best']:.0%} of plausible "
                f"worlds (± {best['p_best_mcse']:.0%}), and removing every uncertainty before "
                f"deciding would be worth {format_gbp(d.value['evpi_per_system'])} per system "
                "(EVPI)")
    if not d.tornado.empty and best["p_best"] == 1:  # best in every draw: EVPI is zero
        leader, other = d.about["tornado_pair"]
        sentence += (f". No drawn parameter changes the choice: *{leader}* beats *{other}*, the "
                     "next on expected net benefit, in every draw (its margin moves most with "
                     f"`{d.tornado.iloc[0]['parameter']}`)")
    elif not d.tornado.empty:
        leader, other = d.about["tornado_pair"]
        sentence += (f". Whether *{leader}* (highest expected net benefit) beats *{other}* "
                     f"depends most on `{d.tornado.iloc[0]['parameter']}`")
        if not d.evppi.empty and d.evppi.iloc[0] > 0:
            sentence += (f"; of the groups of parameters, knowing *{d.evppi.index[0]}* would be "
                         f"worth the most ({format_gbp(d.evppi.iloc[0])} per system, EVPPI)")
    return sentence + "."


def _outcome_sentence(c: Comparison, name: str, words: str) -> str:
    item = outcome(name)
    rows = c.differences[c.differences["outcome"] == name]
    better = rows[rows["clear"] & (np.sign(rows["difference"]) == item.sign())]
    worse = rows[rows["clear"] & (np.sign(rows["difference"]) == -item.sign())]
    if better.empty and worse.empty:
        return (f"No option changed {words} clearly with {c.seeds} seeds (no Holm-adjusted "
                "p-value below 0.05).")
    parts = []
    for frame, verb in ((better, "improved"), (worse, "worsened")):
        if frame.empty:
            continue
        words = "it" if parts else words
        top = frame.loc[frame["difference"].abs().idxmax()]
        change = (_signed(top["difference"] * item.scale, 2, " percentage points")
                  if item.unit == "%" or "%" in item.unit else
                  f"{_signed(top['difference'] * item.scale, 2)} {item.unit}")
        which = f"largest under *{top['group']}*: " if len(frame) > 1 else ""
        parts.append(f"{words} {verb} clearly under {_join(list(frame['group']))} ({which}"
                     f"{change}, {_pct(top['relative'])} of the baseline level)")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _replication_sentence(c: Comparison) -> str:
    levels = c.levels[c.levels["outcome"].isin([o.name for o in c.outcomes if o.better])]
    levels = levels[levels["mean"].abs() > 0]
    if not levels["relative_half_width"].notna().any():  # one seed (a PSA of one seed a draw)
        return (f"With {c.seeds} seed{'s' if c.seeds != 1 else ''} there is no seed-only "
                "interval: it needs at least 2.")
    within = int((levels["relative_half_width"] <= c.precision).sum())
    widest = levels.loc[levels["relative_half_width"].idxmax()]
    primary = c.levels[(c.levels["outcome"] == c.primary.name)
                       & (c.levels["group"] == c.baseline)].iloc[0]
    stable = (f"the running coefficient of variation of {c.primary.label} settles after "
              f"{int(primary['cv_stable_from'])} seeds"
              if pd.notna(primary["cv_stable_from"]) else
              f"the running coefficient of variation of {c.primary.label} has not yet settled, "
              "so more seeds would help")
    sentence = (f"Are {c.seeds} seeds enough? The 95% CI of the mean is within "
                f"±{c.precision:.0%} for {within} of {len(levels)} scenario-outcome pairs (the "
                f"widest: {_lower(outcome(widest['outcome']).label)} "
                f"under *{widest['group']}*, ±{widest['relative_half_width']:.0%}), and {stable}")
    unresolved = c.differences[~c.differences["clear"]
                               & c.differences["seeds_to_resolve"].notna()]
    if not unresolved.empty:
        needed = unresolved.sort_values("seeds_to_resolve")
        needed = needed[needed["seeds_to_resolve"] > c.seeds]
        if not needed.empty:
            row = needed.iloc[0]
            sentence += (f"; of the differences still within noise, the nearest to being "
                         f"resolved (*{row['group']}* on {_lower(outcome(row['outcome']).label)}) "
                         f"would need about {int(row['seeds_to_resolve'])} seeds, the others "
                         "more")
    return sentence + "."


def write_report(c: Comparison, out_dir: Path | None = None) -> dict[str, Path]:
    """Write the report, its figures and its tables; return their paths by name."""
    out_dir = Path(out_dir or c.tables.sweep_dir / REPORT_DIR)
    paths = _write_figures(c, out_dir)
    frames = {name: getattr(c, name) for name in ("levels", "differences", "costs", "ranking")}
    if c.systems is not None:
        frames.update(systems=c.systems.systems, regions=c.systems.regions)
    if c.psa is not None:
        frames.update(psa_differences=c.psa.differences, psa_best=c.psa.best, ceac=c.psa.ceac,
                      evppi=c.psa.evppi.rename_axis("group").reset_index(),
                      thresholds=c.psa.thresholds, ce_plane=c.psa.plane,
                      tornado=c.psa.tornado, knob_thresholds=c.psa.knob_thresholds)
    for name, frame in frames.items():
        paths[f"{name}.csv"] = write_streamed(out_dir / "tables" / f"{name}.csv",
                                              lambda tmp, f=frame: f.to_csv(tmp, index=False))
    text = report_markdown(c, {k: v.name for k, v in paths.items() if k.endswith(".png")})
    paths["report.md"] = write_streamed(out_dir / "report.md",
                                        lambda tmp: Path(tmp).write_text(text))
    html = to_html(text, out_dir, title=f"Scenario comparison: {', '.join(c.tables.ics)}")
    paths["report.html"] = write_streamed(out_dir / "report.html",
                                          lambda tmp: Path(tmp).write_text(html))
    write_json(out_dir / "report.json", {
        "sweep": str(c.tables.sweep_dir), "baseline": c.baseline, "primary": c.primary.name,
        "seeds": c.seeds, "fingerprint": c.about["fingerprint"],
        "summary": summary_sentences(c)})
    return paths


def _seed_figures(c: Comparison, out_dir: Path, colours: dict) -> dict[str, Path]:
    """The figures of the seed-only view: outcomes over time, the forest of paired
    differences, cost against gain, replication adequacy."""
    paths = {}
    t = c.tables
    title = f"{', '.join(t.ics)}: outcomes over time ({c.seeds} seeds per scenario)"
    fig = figures.timeseries_figure(t.timeseries, colours, list(c.outcomes), title)
    paths["timeseries.png"] = write_figure(out_dir / "timeseries.png", fig)
    plt.close(fig)
    if not c.differences.empty:
        compared = [o for o in c.outcomes if o.better is not None]
        fig = figures.forest_figure(c.differences, compared, c.baseline, c.seeds)
        paths["forest.png"] = write_figure(out_dir / "forest.png", fig)
        plt.close(fig)
    if c.costly:
        fig = figures.cost_gain_figure(c.costs, [
            ("primary_gain", f"{c.primary.label}: change vs {c.baseline}, %",
             f"{c.primary.label} ({c.primary.horizon})"),
            ("tasks_total_gain", f"extra tasks completed over the run vs {c.baseline}",
             "Integrated-care delivery (tasks, whole run)")], c.baseline, colours)
        paths["cost_gain.png"] = write_figure(out_dir / "cost_gain.png", fig)
        plt.close(fig)
    values = {g: t.values(g, c.primary.name) for g in t.groups}
    fig = figures.replication_figure(values, c.primary, c.precision, c.cv_tolerance, colours)
    paths["replications.png"] = write_figure(out_dir / "replications.png", fig)
    plt.close(fig)
    return paths


def _write_figures(c: Comparison, out_dir: Path) -> dict[str, Path]:
    paths = {}
    t = c.tables
    colours = figures.palette(t.groups)
    if has_seed_view(c):
        paths.update(_seed_figures(c, out_dir, colours))
    numeric = [col for col in t.group_columns if col != "scenario"
               and pd.api.types.is_numeric_dtype(t.runs[col])]
    if len(numeric) == 2 and len(t.group_columns) == 2:
        means = t.runs.groupby(numeric, as_index=False)[[o.name for o in c.outcomes]].mean()
        grid = [o for o in c.outcomes if o.name in ("sl_density", "cross_profession_share",
                                                   "tasks_completed")] or list(c.outcomes[:3])
        fig = figures.grid_figure(means, numeric[0], numeric[1], grid,
                                  f"Mean at the horizon over the grid ({c.seeds} seeds a cell)")
        paths["grid.png"] = write_figure(out_dir / "grid.png", fig)
        plt.close(fig)
    if c.systems is not None:
        fig = systems.ranked_figure(c.systems, c.baseline)
        paths["systems.png"] = write_figure(out_dir / "systems.png", fig)
        plt.close(fig)
    if c.psa is not None:
        colours = figures.palette(c.psa.options)
        fig = figures.ce_plane_figure(c.psa.plane, colours, c.baseline, "tasks delivered",
                                      c.psa.draws)
        paths["ce_plane.png"] = write_figure(out_dir / "ce_plane.png", fig)
        plt.close(fig)
        fig = figures.ceac_figure(c.psa.ceac, c.psa.options, colours, "task delivered",
                                  c.psa.draws)
        paths["ceac.png"] = write_figure(out_dir / "ceac.png", fig)
        plt.close(fig)
        if not c.psa.tornado.empty:
            fig = figures.tornado_figure(c.psa.tornado, *c.psa.about["tornado_pair"],
                                         f"at {format_gbp(c.psa.wtp)} per task")
            paths["tornado.png"] = write_figure(out_dir / "tornado.png", fig)
            plt.close(fig)
    return paths


def report_markdown(c: Comparison, images: dict[str, str]) -> str:
    t = c.tables
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    seed_view = has_seed_view(c)
    replicates = (f"{c.seeds} seeds" if seed_view
                  else f"{c.psa.draws} draws, one seed a draw")
    runs = (f"{len(t.runs)} runs succeeded" if seed_view else
            f"{c.psa.draws * len(c.psa.options)} runs in the paired analysis ({c.psa.draws} "
            f"draws x {len(c.psa.options)} options); the table below shows draw "
            f"{c.seed_only_draw}'s values")
    out = [f"# Scenario comparison: {', '.join(t.ics)}, {replicates}",
           "",
           f"Generated by `slsim-compare` on {now} from `{t.sweep_dir}`. Baseline: "
           f"*{c.baseline}*. Main outcome for ranking: {c.primary.label}.",
           "", "## Summary", "", *(f"* {sentence}" for sentence in summary_sentences(c)), ""]
    out += ["## What was run", "",
            f"* System: {', '.join(t.ics)}; horizon: {', '.join(str(w) for w in t.weeks)} weeks;"
            f" {runs}"
            + (f", {t.failed} failed (see `{FAILURES_FILE}`)" if t.failed else "") + ".",
            f"* Sweep fingerprint (hash of every run's config hash): `{c.about['fingerprint']}`."
            " Each run's folder is named after its own config hash, seed included.",
            "* Outcomes at the horizon: the final week, except tasks completed per week (the "
            "mean of the last 13 weeks, one quarter, because one week's count is noisy).", ""]
    rows = [[g, a["levers"], str(a["runs"]), a["seeds"], f"`{a['first_hash']}`"]
            for g, a in c.about["groups"].items()]
    out += [markdown_table([c.kind, "interventions (coverage per year)", "runs", "seeds",
                            "config hash (first seed)"], rows), ""]
    if not seed_view:
        out += psa_section(c)
        out += _figures_and_method(c, images)
        return "\n".join(out)
    headers, rows = ranking_rows(c)
    out += ["## Ranking", "",
            f"Options ranked by their gain in {c.primary.label} over *{c.baseline}* (relative, "
            "paired by seed). *Tied with best*: the paired difference from the top option is "
            "within noise. *(noise)*, *within noise*: the paired difference against the baseline "
            "is not clear (its Holm-adjusted p-value, in the table of paired differences, is "
            "0.05 or more). Burnout changes are in "
            "percentage points of managers.", "", markdown_table(headers, rows), ""]
    if c.psa is not None:
        out += psa_section(c)
    out += ["## Outcomes at the horizon", "",
            "Mean over seeds with its 95% confidence interval.", ""]
    headers = [c.kind, *[f"{o.label} ({o.unit})" for o in c.outcomes]]
    rows = []
    for g in t.groups:
        row = [g]
        for o in c.outcomes:
            r = c.level(g, o.name)
            row.append(f"{o.display(r['mean'])} ({o.display(r['low'])} to "
                       f"{o.display(r['high'])})")
        rows.append(row)
    out += [markdown_table(headers, rows), ""]
    if not c.differences.empty:
        out += ["## Paired differences against the baseline", "",
                f"Each option minus *{c.baseline}*, seed by seed: the mean difference with its "
                "95% CI, the same as a share of the baseline mean, and Cohen's d (the "
                "difference in units of the run-to-run standard deviation: 0.2 small, 0.5 "
                "medium, 0.8 large). The p-value is Holm-adjusted for all the comparisons in "
                "this table, and **clear** marks an adjusted p-value below 0.05: the verdict "
                "follows the p-value beside it, so a CI (unadjusted) that just excludes no "
                "change can sit beside a verdict of *within noise*.", ""]
        for o in (o for o in c.outcomes if o.better is not None):
            out += [f"### {o.label} ({o.unit}; {o.better} is better; {o.horizon})", ""]
            rows = []
            for g in c.others:
                d = c.difference(g, o.name)
                rows.append([
                    g, f"{_signed(d['difference'] * o.scale)} ({_signed(d['low'] * o.scale)} to"
                       f" {_signed(d['high'] * o.scale)})",
                    f"{_pct(d['relative'])} ({_pct(d['relative_low'])} to "
                    f"{_pct(d['relative_high'])})",
                    f"{d['cohen_d']:+.2f} ({effect_size_words(d['cohen_d'])})"
                    if np.isfinite(d["cohen_d"]) else "n/a",
                    f"{d['p_holm']:.2g}" if np.isfinite(d["p_holm"]) else "n/a",
                    "**clear**" if d["clear"] else "within noise"])
            out += [markdown_table([c.kind, f"difference ({o.unit})", "relative",
                                    "Cohen's d", "p (Holm)", "verdict"], rows), ""]
    if not c.costs.empty and not c.costly:
        out += ["## Cost and cost per unit of gain", "",
                "No option has an intervention cost, so there is nothing to price.", ""]
    elif not c.costs.empty:
        out += ["## Cost and cost per unit of gain", "",
                f"Incremental cost over the run against *{c.baseline}* (cumulative GBP at the "
                f"horizon). SL density is small in absolute terms (a few granted-leadership "
                "units per 10,000 possible pairs of managers, because most pairs never work "
                "together), so its gain is priced per 1% of the baseline level. Delivery is "
                "priced per extra task completed over the whole run, and per extra task a week "
                "sustained in the last quarter. Costs per unit are shown only where the gain is"
                " clear and positive.", ""]
        rows = []
        for _, r in c.costs.iterrows():
            rows.append([
                r["group"], f"{format_gbp(r['cost'])} ({format_gbp(r['cost_low'])} to "
                            f"{format_gbp(r['cost_high'])})",
                f"{_signed(r['primary_gain'], 2, '%')}", format_gbp(r["cost_per_1pct"]),
                f"{_signed(r['tasks_total_gain'], 3)} ({_signed(r['tasks_total_gain_low'], 3)} "
                f"to {_signed(r['tasks_total_gain_high'], 3)})",
                format_gbp(r["cost_per_task"]), format_gbp(r["cost_per_task_week"])])
        out += [markdown_table(
            [c.kind, "incremental cost (95% CI)", f"{c.primary.label} gain",
             "cost per 1% gain", "extra tasks over the run (95% CI)", "cost per extra task",
             "cost per extra task/week"], rows), ""]
    out += _replication_section(c)
    if c.systems is not None:
        out += systems.section_markdown(c.systems, c.baseline, None)
    return "\n".join(out + _figures_and_method(c, images))


def _figures_and_method(c: Comparison, images: dict[str, str]) -> list[str]:
    """The report's figures, with captions, and its method notes."""
    captions = {
        "systems.png": "Gain by system, ranked, coloured by region (95% CIs).",
        "timeseries.png": "Outcomes over time: mean of the seeds per week with its 95% CI band.",
        "forest.png": "Paired differences against the baseline, as % of its mean (95% CI).",
        "cost_gain.png": "Incremental cost against gain (95% CIs on both axes).",
        "replications.png": "Replication adequacy: running CV and CI half-width as seeds grow.",
        "grid.png": "Mean at the horizon over the two-parameter grid.",
        "ce_plane.png": "Cost-effectiveness plane: incremental cost against tasks delivered, "
                        "one point per draw.",
        "ceac.png": "Cost-effectiveness acceptability curves, with the frontier.",
        "tornado.png": "Tornado: the net benefit of the leading option over the next, each "
                       "parameter low against high.",
    }
    out = ["## Figures", ""]
    for name, file in images.items():
        out += [f"### {captions.get(name, name)}", "", f"![{captions.get(name, name)}]({file})",
                ""]
    out += ["## Method", "",
            "* Every scenario ran with the same seeds; each seed's runs share their random "
            "streams (common random numbers), so a difference between two runs of one seed "
            "comes from the scenario, not from chance alone. Differences are computed seed by "
            "seed and summarised with a Student t interval.",
            "* Relative changes are ratios of means minus one, with CIs from the linearised "
            "ratio estimator (the baseline's own uncertainty included).",
            "* Cohen's d standardises the mean paired difference by the root mean square of the"
            " two scenarios' between-seed standard deviations.",
            f"* Replications: the CI half-width as a share of the mean (target ±{c.precision:.0%}"
            f"), the seeds that target needs (t-based), and the coefficient-of-variation "
            f"stability method (Robinson 2014): the running CV is stable from the seed after "
            f"which it stays within ±{c.cv_tolerance:.0%} of its final value for at least 5 "
            "more seeds. *Seeds to resolve*: the seeds a paired difference of the size and "
            "spread seen needs for its CI to exclude zero.",
            "* The model's parameters are assumptions unless the parameter table in docs/ODD.md "
            "names a source; the results compare options under those assumptions.", ""]
    return out


def _estimate(row: pd.Series, scale: float = 1.0, money: bool = False) -> str:
    """A PSA difference as 'mean (low to high)', money or a number."""
    write = format_gbp if money else (lambda v: _signed(v * scale))
    return f"{write(row['mean'])} ({write(row['low'])} to {write(row['high'])})"


def psa_section(c: Comparison) -> list[str]:
    """The decision under uncertainty: the PSA tables (parameters and seed), beside the
    seed-only ones; each table says which uncertainty it holds."""
    d, p = c.psa, c.primary
    gbp = format_gbp(d.wtp)
    out = ["## Decision under uncertainty (parameters and seed)", "",
           f"{d.draws} draws of the uncertain parameters, every option on every draw"
           + (f" ({d.about['draws_left_out']} more left out: an option's run of them did not "
              "succeed)" if d.about["draws_left_out"] else "") + ", "
           f"{d.about['seeds_per_draw']} seed(s) per draw averaged. Costs are the NHS and PSS's"
           " (NICE reference case): intervention cost plus replacing each manager who leaves, "
           "discounted at 3.5% a year, like the tasks delivered. Net benefit (NMB) is valued "
           f"at {gbp} per integrated-care task. Intervals are 95% credible intervals over "
           "draws; **clear** marks one that excludes no change."
           + (f" The seed-only interval is that of draw {c.seed_only_draw} alone."
              if has_seed_view(c) else "")
           + (" With one seed a draw, seed noise counts here as parameter uncertainty, so "
              "P(best) and EVPI overstate it." if d.about["seeds_per_draw"] == 1 else ""), ""]
    rows = []
    seed_view = has_seed_view(c)
    for option in d.options[1:]:
        get = d.differences.set_index(["option", "outcome"]).loc
        gain, nmb = get[(option, p.name)], get[(option, "net_benefit")]
        seed = c.difference(option, p.name) if not c.differences.empty else None
        rows.append([
            option, _estimate(gain, p.scale), f"{gain['p_positive']:.2f}",
            *([(f"{_signed(seed['difference'] * p.scale)} ({_signed(seed['low'] * p.scale)} to "
                f"{_signed(seed['high'] * p.scale)})") if seed is not None else "n/a"]
              if seed_view else []),
            _estimate(nmb, money=True), f"{nmb['p_positive']:.2f}",
            ("**clear gain**" if nmb["mean"] > 0 else "**clear loss**") if nmb["clear"]
            else "uncertain"])
    out += [markdown_table([
        c.kind, f"{p.label} change ({p.unit}; parameters and seed)", "P(> 0)",
        *([f"{p.label} change (seed only)"] if seed_view else []),
        f"NMB change at {gbp}/task", "P(NMB > 0)", "NMB verdict"], rows), ""]
    best = d.best.set_index(["measure", "option"])
    rows = [[option, *(f"{best.loc[(m, option), k]:.2f} ± {best.loc[(m, option), k + '_mcse']:.2f}"
                       for m in (p.name, "net_benefit") for k in ("p_best", "p_top_two"))]
            for option in d.options]
    out += ["Probability of being the best option, and among the top two (± Monte Carlo "
            "standard error):", "",
            markdown_table([c.kind, f"P(best), {p.label}", "P(top two)", "P(best), NMB",
                            "P(top two), NMB"], rows), ""]
    value = d.value
    expected = value["expected_net_benefit"]
    out += [f"Expected net benefit at {gbp} per task, against *{c.baseline}*: " + "; ".join(
        f"*{o}* {format_gbp(v - expected[c.baseline])}" for o, v in expected.items()
        if o != c.baseline) + " (choose the largest). "
        f"**EVPI** (what removing every uncertainty before deciding would be worth): "
        f"{format_gbp(value['evpi_per_system'])} per system per decision; "
        f"{format_gbp(value['evpi_england'])} for England's 42 ICBs deciding every "
        f"{value['horizon_years']:.3g} years over a 10-year horizon (an assumption), discounted.",
        ""]
    if not d.evppi.empty:
        out += ["**EVPPI** by group of parameters (what knowing that group alone would be "
                "worth, GBP per system per decision; Strong, Oakley & Brennan 2014):", "",
                markdown_table(["parameters", "EVPPI"], [[g, format_gbp(v)]
                                                          for g, v in d.evppi.items()]), ""]
    if d.about["evppi_skipped"]:
        out += ["EVPPI is not estimated for " + ", ".join(
            f"*{g}* (needs {n} draws)" for g, n in d.about["evppi_skipped"].items())
            + f": a regression needs at least {EVPPI_DRAWS_PER_PARAMETER} draws per parameter of"
            f" the group, and {EVPPI_MIN_DRAWS} in all, or it fits noise and overstates EVPPI.",
            ""]
    if not d.tornado.empty:
        leader, other = d.about["tornado_pair"]
        top = d.tornado.iloc[0]
        out += [f"*{leader}* leads *{other}* on expected net benefit; of the drawn parameters, "
                f"their difference moves most with `{top['parameter']}`: it is "
                f"{format_gbp(top['at_low'])} in the draws where that is lowest and"
                f" {format_gbp(top['at_high'])} where it is highest (`tornado.png`).", ""]
    if not d.knob_thresholds.empty:
        leader, other = d.about["tornado_pair"]
        out += [f"Threshold analysis on the cost and effect knobs of the leading options and on "
                f"the prices: the expected net benefit of *{leader}* over *{other}* when the knob"
                " is in its lowest and its highest tenth of the draws, and the knob's value at "
                "which the choice between them switches (one-way regression over the draws, the"
                " other parameters averaged out; `tables/knob_thresholds.csv`):", "",
                markdown_table(["knob", "range drawn", "NMB difference, low", "high",
                                "switches at"], [
                    [f"`{r['parameter']}`", f"{r['lowest']:.3g} to {r['highest']:.3g}",
                     format_gbp(r["at_low"]), format_gbp(r["at_high"]),
                     "no switch in the range drawn" if r["switches"] == 0 else
                     f"{r['switch_at']:.3g}" + (f" (first of {r['switches']})"
                                                 if r["switches"] > 1 else "")]
                    for _, r in d.knob_thresholds.iterrows()]), ""]
    rows = [[r["option"], "never" if not np.isfinite(r["lowest"]) else
             f"{format_gbp(r['lowest'] / p.scale)} or more" if np.isinf(r["highest"]) else
             f"{format_gbp(r['lowest'] / p.scale)} to {format_gbp(r['highest'] / p.scale)}"]
            for _, r in d.thresholds.iterrows()]
    out += [f"Threshold analysis: the price per unit of {p.label} ({p.unit}) at which each "
            "option would be chosen, on expected cost and gain (no one has a price for it):", "",
            markdown_table([c.kind, "chosen at a price per unit of"], rows), ""]
    return out


def _replication_section(c: Comparison) -> list[str]:
    out = ["## Replications: are there enough seeds?", "",
           f"For each scenario and outcome: the 95% CI half-width as a share of the mean, the "
           f"seeds needed for ±{c.precision:.0%}, and the seed count from which the running "
           f"coefficient of variation is stable (within ±{c.cv_tolerance:.0%}; '-' means not "
           f"yet stable with {c.seeds} seeds).", ""]
    shown = [o for o in c.outcomes if o.better is not None]
    headers = [c.kind, *[o.label for o in shown]]
    rows = []
    for g in c.tables.groups:
        row = [g]
        for o in shown:
            r = c.level(g, o.name)
            needed = (str(int(r["seeds_for_precision"]))
                      if pd.notna(r["seeds_for_precision"]) else "n/a")
            stable = str(int(r["cv_stable_from"])) if pd.notna(r["cv_stable_from"]) else "-"
            half = (f"±{r['relative_half_width']:.1%}" if np.isfinite(r["relative_half_width"])
                    else "n/a")
            row.append(f"{half}; needs {needed}; CV stable {stable}")
        rows.append(row)
    out += [markdown_table(headers, rows), ""]
    if not c.differences.empty:
        noise = c.differences[~c.differences["clear"]]
        if noise.empty:
            out += [f"Every paired difference is clear with {c.seeds} seeds.", ""]
        else:
            rows = [[r["group"], outcome(r["outcome"]).label,
                     _pct(r["relative"]),
                     str(int(r["seeds_to_resolve"])) if pd.notna(r["seeds_to_resolve"])
                     else "never (no difference)"]
                    for _, r in noise.sort_values("seeds_to_resolve").iterrows()]
            out += ["Differences still within noise, and the seeds a difference of that size "
                    "and spread would need to be resolved:", "",
                    markdown_table([c.kind, "outcome", "observed change", "seeds to resolve"],
                                   rows), ""]
    return out


_HTML_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f5; }
img { max-width: 100%; border: 1px solid #ddd; }
code { background: #f6f8fa; padding: 0 0.2em; }
"""


def to_html(markdown_text: str, image_dir: Path, title: str) -> str:
    """The report as one HTML file, with its PNG figures embedded (forwardable on its own)."""
    import markdown

    def embed(match: re.Match) -> str:
        path = Path(image_dir) / match.group(2)
        if not path.exists():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f"![{match.group(1)}](data:image/png;base64,{data})"

    body = markdown.markdown(re.sub(r"!\[([^\]]*)\]\(([^)]+\.png)\)", embed, markdown_text),
                             extensions=["tables"])
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_HTML_STYLE}</style></head>\n<body>\n{body}\n"
            "</body></html>\n")
