"""``slsim-sensitivity``: which assumptions matter most? Global sensitivity analysis with SALib.

* **Morris** elementary effects screen every uncertain parameter cheaply (``r (k + 1)`` runs for
  ``k`` parameters and ``r`` trajectories): ``mu*`` ranks their influence, ``sigma`` flags
  non-linearity and interactions.
* **Sobol** indices apportion the variance of each outcome (Saltelli's design, ``N (k + 2)`` runs):
  ``S1`` is a parameter's share on its own, ``ST`` its share with every interaction; both with
  bootstrap confidence intervals. Usually run on the parameters Morris keeps (``--screen``).

Which parameters are uncertain, and their distributions, come from the parameter schema
(:func:`simulation.params.uncertain_parameters`: the assumptions with a plausible prior); nothing
is repeated here. By default each parameter is drawn from its prior: the design is made in the
unit cube and mapped through each prior's quantile function, so Morris effects are per step of
probability and Sobol indices apportion the variance the priors imply. ``--bounds allowed``
samples the whole allowed range uniformly instead, and ``--span`` a uniform range around each
default. Runs go through the sweep engine
(:mod:`simulation.analysis.batch`): validated first, keyed by config hash, skipped when already
done, so an interrupted analysis resumes where it stopped. Replications: ``--seeds R`` runs each
design point with seeds ``0 .. R-1`` (the same seeds at every point) and analyses their mean; the
report states how much of the outcome's variance across the design is seed noise.

Output in ``OUT/sensitivity/<method>/``: ``indices.csv``, ``report.md`` (tables and the
assumptions that drive each outcome), one bar chart per outcome, ``problem.json`` and
``design.parquet`` (the design points with the config hash of each run).
"""

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from .. import priors
from ..commands import (
    comma_list,
    progress_logging,
    reported_errors,
    setting_help,
    settings_from,
    sweep_parser,
)
from ..config import RunConfig, group_options, ics_options
from ..layout import status_files
from ..outputs import OUTPUTS, Output, format_number
from ..params import ConfigError, choice, param, parameter_specs, uncertain_parameters, validate
from ..results_io import write_figure, write_json, write_parquet, write_streamed
from .batch import override, plan_jobs, run_batch, run_values
from .outcomes import column_name, outcome
from .tables import markdown_table

log = logging.getLogger(__name__)
PROG = "slsim-sensitivity"
METHODS = ("morris", "sobol")
DEFAULT_SAMPLES = {"morris": 20, "sobol": 256}  # Morris trajectories r, Sobol base samples N
DEFAULT_OUTCOMES = ("sl_density", "cross_profession_share", "tasks_completed", "burnout_share")
RESULTS_DIR = "sensitivity"
DRIVER_SHARE = 0.1  # ST (or normalised mu*) from which a parameter counts as a driver
# Outcomes can be analysed as they are, or as their ranks across the design: rank-based indices
# are robust when a few extreme design points dominate the variance (heavy tails).
TRANSFORMS = ("none", "rank")
BOUNDS = ("prior", "allowed")
_WEEKS = parameter_specs(RunConfig)["weeks"]


@dataclass
class SensitivitySettings:
    """What one analysis is asked: its design, its runs and its outcomes. Checked by the schema
    machinery (:func:`simulation.params.validate`) when made, so a bad setting fails before any
    run, naming the key and what it allows."""

    method: str = choice("morris", METHODS, "Morris screening or Sobol indices")
    ics: str = choice("small_ics", ics_options(),
                      "system of every run (an archetype, england or icb/<slug>)")
    weeks: int = param(_WEEKS["default"], *_WEEKS["range"], _WEEKS["unit"],
                       "horizon of every run", "-")
    scenario: str = choice("baseline", group_options("scenario"), "scenario of every run")
    parameters: list[str] = choice([], tuple(uncertain_parameters()),
                                   "uncertain parameters analysed (none: all of them)")
    screen: Path | None = None  # a Morris screening whose ``top`` parameters are analysed
    top: int = param(10, 1, 1000, "parameters", "parameters kept from the Morris screening", "-")
    outcomes: list[str] = choice(list(DEFAULT_OUTCOMES), tuple(OUTPUTS), "outputs analysed")
    samples: int = param(None, 2, 65536, "points",
                         f"Morris trajectories r (default {DEFAULT_SAMPLES['morris']}) or Sobol "
                         f"base samples N, a power of 2 (default {DEFAULT_SAMPLES['sobol']})", "-")
    levels: int = param(4, 2, 100, "levels", "Morris grid levels", "-")
    seeds: int = param(1, 1, 1000, "seeds", "seeds per design point, averaged", "-")
    sample_seed: int = param(0, 0, 2**32 - 1, "seed", "seed of the design and the bootstrap",
                             "-")
    n_jobs: int = param(2, 1, 1024, "processes", "worker processes", "-")
    bounds: str = choice("prior", BOUNDS,
                         "draw each parameter from its plausible prior (the schema's), or "
                         "uniformly over its allowed range")
    span: float = param(None, 0.001, 100.0, "share of each default",
                        "instead of --bounds: each default +/- this share of it, uniformly, "
                        "within its allowed range", "-")
    transform: str = choice("none", TRANSFORMS,
                            "analyse each outcome as it is, or as its rank across the design "
                            "(robust when a few extreme points dominate; Sobol only)")

    def __post_init__(self) -> None:
        self.parameters, self.outcomes = list(self.parameters or ()), list(self.outcomes)
        validate(self)
        if self.samples is None:
            self.samples = DEFAULT_SAMPLES[self.method]
        if self.screen is not None and self.parameters:
            raise ConfigError("give parameters or screen, not both")
        if self.transform != "none" and self.method != "sobol":
            raise ConfigError(f"transform = {self.transform!r} applies to Sobol indices only "
                              "(method = 'sobol')")
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ConfigError(f"samples = {self.samples} must be a power of 2 for Sobol "
                              "sampling")


def problem_from_schema(parameters: list[str] | None = None, span: float | None = None,
                        bounds: str = "prior") -> dict:
    """A SALib problem over the unit cube for the schema's uncertain parameters (or the named
    subset), with the distribution each coordinate is mapped through (``priors``, see
    :func:`design_values`): the plausible prior of each parameter (``bounds="prior"``), a
    uniform over its allowed range (``"allowed"``) or, with ``span``, a uniform over its
    default +/- that share of it, within the allowed range (a local look around the defaults).
    ``distributions`` and ``support`` describe them for the report."""
    specs = uncertain_parameters()
    names = list(specs) if not parameters else list(parameters)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ConfigError(f"{unknown} are not uncertain parameters of the schema; choose from "
                          f"{list(specs)}")
    if bounds not in BOUNDS:
        raise ConfigError(f"bounds = {bounds!r} is not one of {list(BOUNDS)}")
    if span is not None and not span > 0:
        raise ConfigError(f"--span = {span} must be positive (a share of each default)")
    chosen = []
    for name in names:
        low, high = specs[name]["range"]
        if span is not None:
            default = specs[name]["default"]
            low, high = max(low, default * (1 - span)), min(high, default * (1 + span))
            if not low < high:
                raise ConfigError(f"{name}: default {default} +/- {span:.0%} leaves no range "
                                  f"within {specs[name]['range']}")
            chosen.append(priors.uniform(low, high, f"default +/- {span:.0%}"))
        elif bounds == "allowed":
            chosen.append(priors.uniform(low, high, "the allowed range"))
        else:
            chosen.append(specs[name]["prior"])
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names),
            "priors": chosen, "distributions": [p.describe() for p in chosen],
            "support": [[p.low, p.high] for p in chosen]}


def design_values(problem: dict, X: np.ndarray) -> np.ndarray:
    """The parameter values of design points ``X`` (in the unit cube): each column through its
    distribution's quantile function."""
    return np.column_stack([prior.ppf(X[:, j]) for j, prior in enumerate(problem["priors"])])


def design(method: str, problem: dict, *, samples: int, levels: int = 4,
           seed: int = 0) -> np.ndarray:
    """The design points: Morris trajectories (``samples`` = r) or Saltelli's Sobol sequence
    (``samples`` = N, a power of 2, as :class:`SensitivitySettings` checks; first-order and total
    indices only)."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    if method == "morris":
        return morris_sample.sample(problem, samples, num_levels=levels, seed=seed)
    return sobol_sample.sample(problem, samples, calc_second_order=False, seed=seed)


def analyse_morris(problem: dict, X: np.ndarray, Y: np.ndarray, *, levels: int = 4,
                   seed: int = 0) -> pd.DataFrame:
    """Morris indices of one outcome: mu, mu* with its 95% CI half-width, sigma."""
    from SALib.analyze import morris

    result = morris.analyze(problem, X, Y, num_levels=levels, conf_level=0.95, seed=seed)
    return pd.DataFrame({"parameter": problem["names"], "mu": result["mu"],
                         "mu_star": result["mu_star"], "mu_star_conf": result["mu_star_conf"],
                         "sigma": result["sigma"]})


def analyse_sobol(problem: dict, Y: np.ndarray, *, seed: int = 0) -> pd.DataFrame:
    """Sobol indices of one outcome: S1 and ST with their 95% CI half-widths."""
    from SALib.analyze import sobol

    result = sobol.analyze(problem, Y, calc_second_order=False, conf_level=0.95, seed=seed)
    return pd.DataFrame({"parameter": problem["names"], "S1": result["S1"],
                         "S1_conf": result["S1_conf"], "ST": result["ST"],
                         "ST_conf": result["ST_conf"]})


def design_jobs(problem: dict, X: np.ndarray, seeds: int, base: list[str]) -> list[list[str]]:
    """``slsim`` overrides of every run: each design point with each seed."""
    specs = uncertain_parameters()
    jobs = []
    for point in design_values(problem, X):
        values = [override(name, round(v) if isinstance(specs[name]["default"], int) else v)
                  for name, v in zip(problem["names"], point, strict=True)]
        jobs += [[*base, f"seed={seed}", *values] for seed in range(seeds)]
    return jobs


@dataclass
class Sensitivity:
    """The result of one analysis: the indices of every outcome, and what went into them."""

    method: str
    problem: dict
    outcomes: list[Output]
    indices: pd.DataFrame  # long: outcome, parameter, indices
    noise_share: dict[str, float]  # outcome -> share of the design's variance that is seed noise
    runs: int
    seeds: int
    settings: dict = field(default_factory=dict)
    out_dir: Path | None = None


def screen(morris: Path, top: int) -> list[str]:
    """The ``top`` parameters of a Morris screening (its ``indices.csv``, or a folder holding it
    or ``sensitivity/morris/indices.csv``): ranked by their largest mu* relative to the largest
    mu* of the same outcome."""
    morris = Path(morris)
    candidates = [morris, morris / "indices.csv", morris / RESULTS_DIR / "morris" / "indices.csv"]
    path = next((p for p in candidates if p.is_file()), candidates[-1])
    if not path.exists():
        raise FileNotFoundError(f"no Morris indices.csv at {morris}: run the Morris screening "
                                f"first (slsim-sensitivity OUT_DIR --method morris)")
    indices = pd.read_csv(path)
    indices["relative"] = indices["mu_star"] / indices.groupby("outcome")["mu_star"].transform(
        "max")
    ranked = indices.groupby("parameter")["relative"].max().sort_values(ascending=False)
    return list(ranked.index[:top])


def run_sensitivity(out_dir: Path, method: str = "morris", *, progress_interval: float = 10.0,
                    report_dir: Path | None = None, **settings) -> Sensitivity:
    """:func:`run_analysis` with the settings as keywords: ``method`` and the other fields of
    :class:`SensitivitySettings` (``ics``, ``weeks``, ``parameters``, ``samples``, ...)."""
    return run_analysis(out_dir, SensitivitySettings(method=method, **settings),
                        progress_interval=progress_interval, report_dir=report_dir)


def run_analysis(out_dir: Path, s: SensitivitySettings, *, progress_interval: float = 10.0,
                 report_dir: Path | None = None) -> Sensitivity:
    """Design, run (resumably) and analyse; write the results to ``report_dir`` (default
    ``out_dir/sensitivity/<method>``)."""
    method = s.method
    out_dir = Path(out_dir)
    items = [outcome(name) for name in s.outcomes]
    parameters = s.parameters
    if s.screen is not None:
        parameters = screen(s.screen, s.top)
        log.info("screened parameters (top %d of the Morris run in %s): %s", s.top, s.screen,
                 ", ".join(parameters))
    problem = problem_from_schema(parameters, s.span, s.bounds)
    X = design(method, problem, samples=s.samples, levels=s.levels, seed=s.sample_seed)
    base = [f"ics={s.ics}", f"weeks={s.weeks}", f"scenario={s.scenario}"]
    jobs = design_jobs(problem, X, s.seeds, base)
    log.info("%s design: %d points x %d seeds = %d runs of %s", method, len(X), s.seeds,
             len(jobs), s.ics)
    batch = plan_jobs(jobs, out_dir)
    outcome_of_sweep = run_batch(batch, n_jobs=s.n_jobs, progress_interval=progress_interval)
    values = run_values(batch, items)
    seeds = s.seeds
    hashes = np.array(batch.hashes).reshape(len(X), seeds)
    missing = [h for h in hashes.ravel() if h not in values.index]
    if missing:
        raise RuntimeError(
            f"{len(set(missing))} of {len(batch.plan.runs)} runs did not succeed "
            f"({outcome_of_sweep.failed} failed, {outcome_of_sweep.unfinished} unfinished); "
            f"the analysis needs every design point. Re-run the same command to retry them, or "
            f"see {status_files(out_dir)}")
    frames, noise = [], {}
    for item in items:
        per_seed = values.loc[hashes.ravel(), column_name(item)].to_numpy(float).reshape(
            hashes.shape)
        Y = per_seed.mean(axis=1)
        noise[item.name] = (float(per_seed.var(axis=1, ddof=1).mean() / seeds / Y.var(ddof=1))
                            if seeds > 1 and Y.var(ddof=1) > 0 else math.nan)
        if s.transform == "rank":
            Y = stats.rankdata(Y)
        if method == "morris":
            frame = analyse_morris(problem, X, Y, levels=s.levels, seed=s.sample_seed)
        else:
            frame = analyse_sobol(problem, Y, seed=s.sample_seed)
        frame.insert(0, "outcome", item.name)
        frames.append(frame)
    result = Sensitivity(method, problem, items, pd.concat(frames, ignore_index=True), noise,
                         len(batch.plan.runs), seeds,
                         {"ics": s.ics, "weeks": s.weeks, "scenario": s.scenario,
                          "samples": s.samples, "levels": s.levels,
                          "sample_seed": s.sample_seed, "design_points": len(X), "span": s.span,
                          "bounds": s.bounds, "transform": s.transform},
                         out_dir)
    folder = Path(report_dir) if report_dir else out_dir / RESULTS_DIR / method
    design_table = pd.DataFrame(design_values(problem, X), columns=problem["names"])
    for seed in range(seeds):
        design_table[f"config_hash_seed{seed}"] = hashes[:, seed]
    write_parquet(folder / "design.parquet", design_table)
    saved_problem = {key: value for key, value in problem.items() if key != "priors"}
    write_json(folder / "problem.json", {**saved_problem, "method": method, **result.settings,
                                        "seeds": seeds, "outcomes": s.outcomes,
                                        "runs": result.runs, "noise_share": noise})
    write_report(result, folder)
    return result


def load_result(folder: Path) -> Sensitivity:
    """A finished analysis from its folder (``problem.json`` and ``indices.csv``), to write its
    report again without re-planning its runs."""
    folder = Path(folder)
    try:
        saved = json.loads((folder / "problem.json").read_text())
        indices = pd.read_csv(folder / "indices.csv")
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder} holds no finished analysis (problem.json and "
                                "indices.csv)") from None
    problem = {key: saved[key] for key in ("num_vars", "names", "bounds", "distributions",
                                           "support")}
    settings = {key: saved.get(key) for key in ("ics", "weeks", "scenario", "samples", "levels",
                                                "sample_seed", "design_points", "span",
                                                "bounds", "transform")}
    noise = {k: (math.nan if v is None else v) for k, v in saved.get("noise_share", {}).items()}
    return Sensitivity(saved["method"], problem, [outcome(o) for o in saved["outcomes"]],
                       indices, noise, saved.get("runs", saved["design_points"] * saved["seeds"]),
                       saved["seeds"], settings, folder)


# --- Reporting ----------------------------------------------------------------------------------

def _ranked(result: Sensitivity, item: Output) -> pd.DataFrame:
    rows = result.indices[result.indices["outcome"] == item.name].copy()
    if result.method == "sobol":
        rows["importance"] = rows["ST"]
    else:
        top = rows["mu_star"].max()
        rows["importance"] = rows["mu_star"] / top if top > 0 else 0.0
    return rows.sort_values("importance", ascending=False)


def drivers(result: Sensitivity, item: Output, share: float = DRIVER_SHARE,
            most: int = 5) -> pd.DataFrame:
    """The parameters that drive ``item``: ST at least ``share`` (Sobol), or mu* at least
    ``share`` of the largest mu* (Morris); at least the top one, at most ``most``."""
    rows = _ranked(result, item)
    chosen = rows[rows["importance"] >= share]
    return chosen.head(most) if not chosen.empty else rows.head(1)


def bar_figure(result: Sensitivity, item: Output, top: int = 15):
    """Bar chart of one outcome's indices (the ``top`` parameters), with 95% CIs."""
    rows = _ranked(result, item).head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8.5, 0.9 + 0.34 * len(rows)))
    y = np.arange(len(rows))
    if result.method == "sobol":
        ax.barh(y + 0.2, rows["ST"], height=0.4, xerr=rows["ST_conf"], color="tab:blue",
                label="ST (total, with interactions)", capsize=2)
        ax.barh(y - 0.2, rows["S1"], height=0.4, xerr=rows["S1_conf"], color="tab:orange",
                label="S1 (first order, alone)", capsize=2)
        ax.set_xlabel("Sobol index: share of the outcome's variance across the design")
        ax.axvline(0, color="grey", lw=1)
    else:
        low = np.minimum(rows["mu_star_conf"], rows["mu_star"])  # mu* is never negative
        ax.barh(y + 0.2, rows["mu_star"] * item.scale, height=0.4,
                xerr=[low * item.scale, rows["mu_star_conf"] * item.scale], color="tab:blue",
                label="mu* (mean |elementary effect|)", capsize=2)
        ax.barh(y - 0.2, rows["sigma"] * item.scale, height=0.4, color="tab:grey",
                label="sigma (non-linearity, interactions)")
        ax.set_xlabel(f"change in {item.label} ({item.unit}) across a parameter's range")
    ax.set_yticks(y, rows["parameter"], fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    s = result.settings
    ranks = " (its rank)" if s.get("transform") == "rank" else ""
    ax.set_title(f"{result.method.capitalize()} sensitivity of {item.label}{ranks} "
                 f"({item.horizon}, week {s['weeks']})\n{s['ics']}, {s['scenario']}, "
                 f"{result.runs} runs, mean of {result.seeds} seed"
                 f"{'s' if result.seeds > 1 else ''} per point, 95% CIs",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _describe(name: str) -> str:
    spec = uncertain_parameters()[name]
    low, high = spec["range"]
    return (f"`{name}` ({spec['doc'][0].lower()}{spec['doc'][1:].rstrip('.')}; default "
            f"{spec['default']:g}, prior {spec['prior'].describe()} within the allowed "
            f"{low:g}-{high:g} {spec['unit']}; {spec['source']})")


def unreliable(rows: pd.DataFrame) -> bool:
    """Whether Sobol indices of one outcome are not to be trusted: an ST well above 1, or a
    confidence interval too wide to rank by."""
    return bool((rows["ST"] > 1.1).any() or (rows["ST_conf"] > 0.5).any()
                or rows["S1"].sum() > 1.1)


def summary_text(result: Sensitivity) -> list[str]:
    """Short text naming the assumptions that drive each outcome."""
    lines = []
    everywhere: dict[str, int] = {}
    for item in result.outcomes:
        chosen = drivers(result, item)
        for name in chosen["parameter"]:
            everywhere[name] = everywhere.get(name, 0) + 1
        if result.method == "sobol":
            parts = [f"`{r.parameter}` (ST {r.ST:.2f} ± {r.ST_conf:.2f}, S1 {r.S1:.2f})"
                     for r in chosen.itertuples()]
            rows = result.indices[result.indices["outcome"] == item.name]
            if unreliable(rows):
                tail = (" **These estimates are unreliable** (an ST above 1, or a CI wider "
                        "than ±0.5): a few extreme design points dominate the variance of this "
                        "outcome; analyse its ranks (`--transform rank`), use more samples, or "
                        "narrow the bounds (`--span`).")
            else:
                first_order = float(rows["S1"].clip(lower=0).sum())
                tail = (f" First-order effects explain about {min(first_order, 1):.0%} of the "
                        f"variance (sum of S1); interactions the other "
                        f"{max(1 - first_order, 0):.0%}.")
        else:
            parts = [f"`{r.parameter}` (mu* {item.display(r.mu_star)} {item.unit}, "
                     f"sigma {item.display(r.sigma)})" for r in chosen.itertuples()]
            tail = (" Their sigma exceeds their mu*: each one's effect depends strongly on the "
                    "others (interactions or non-linearity), which Sobol's ST measures."
                    if (chosen["sigma"] > chosen["mu_star"]).all() else "")
        noise = result.noise_share.get(item.name, math.nan)
        noise_text = (f" Seed noise is {noise:.1%} of the variance across the design."
                      if np.isfinite(noise) else "")
        others = int((_ranked(result, item)["importance"] >= DRIVER_SHARE).sum()) - len(chosen)
        threshold = (f"have an ST of {DRIVER_SHARE:g} or more" if result.method == "sobol"
                     else f"reach {DRIVER_SHARE:.0%} of the largest mu*")
        more = f" {others} more parameters {threshold}." if others > 0 else ""
        lines.append(f"* **{item.label}** ({item.horizon}) is driven most by {', '.join(parts)}."
                     f"{more}{tail}{noise_text}")
    ranked = sorted(everywhere, key=lambda n: -everywhere[n])
    lines += ["", "The assumptions that drive the results, for at least one outcome:", ""]
    lines += [f"* {_describe(name)}" for name in ranked]
    return lines


def write_report(result: Sensitivity, folder: Path) -> dict[str, Path]:
    """``indices.csv``, one bar chart per outcome and ``report.md`` in ``folder``."""
    folder = Path(folder)
    paths = {"indices.csv": write_streamed(
        folder / "indices.csv", lambda tmp: result.indices.to_csv(tmp, index=False))}
    s = result.settings
    method = ("Morris elementary effects (screening)" if result.method == "morris"
              else "Sobol indices (variance decomposition)")
    size = (f"{s['samples']} trajectories of {len(result.problem['names']) + 1} points, "
            f"{s['levels']} levels" if result.method == "morris"
            else f"N = {s['samples']} base samples, Saltelli's design of N (k + 2) points")
    lines = [f"# Sensitivity analysis: {method}", "",
             f"{len(result.problem['names'])} uncertain parameters (from the schema: "
             f"`simulation.params.uncertain_parameters()`; drawn from "
             + (f"a uniform over each default ±{s['span']:.0%}, within its allowed range"
                if s.get("span") is not None else
                "a uniform over each allowed range" if s.get("bounds") == "allowed" else
                "each parameter's plausible prior") + "), "
             f"{s['design_points']} design points ({size}), {result.seeds} seed"
             f"{'s' if result.seeds > 1 else ''} each, {result.runs} runs of {s['ics']}, "
             f"scenario {s['scenario']}, {s['weeks']} weeks. 95% confidence intervals by "
             "bootstrap."
             + (" Each outcome is analysed as its rank across the design points (rank-based "
                "indices: robust to the few extreme points that dominate its raw variance)."
                if s.get("transform") == "rank" else ""),
             "", "## What drives the results", "", *summary_text(result), ""]
    specs = uncertain_parameters()
    lines += ["## Parameters and the distributions analysed", "",
              markdown_table(["parameter", "default", "distribution", "unit"],
                             [[f"`{name}`", f"{specs[name]['default']:g}", distribution,
                               specs[name]["unit"]]
                              for name, distribution in zip(result.problem["names"],
                                                            result.problem["distributions"],
                                                            strict=True)]), ""]
    for item in result.outcomes:
        name = f"{result.method}_{item.name}.png"
        fig = bar_figure(result, item)
        paths[name] = write_figure(folder / name, fig)
        plt.close(fig)
        rows = _ranked(result, item)
        if result.method == "sobol":
            headers = ["parameter", "ST (95% CI)", "S1 (95% CI)"]
            table = [[r.parameter, f"{r.ST:.3f} ± {r.ST_conf:.3f}", f"{r.S1:.3f} ± {r.S1_conf:.3f}"]
                     for r in rows.itertuples()]
        else:
            headers = ["parameter", f"mu* ({item.unit}, 95% CI)", f"mu ({item.unit})",
                       f"sigma ({item.unit})"]
            table = [[r.parameter, f"{item.display(r.mu_star)} ± "
                                   f"{format_number(r.mu_star_conf * item.scale)}",
                      item.display(r.mu), item.display(r.sigma)] for r in rows.itertuples()]
        lines += [f"## {item.label} ({item.unit}, {item.horizon})", "",
                  f"![{result.method} indices of {item.label}]({name})", "",
                  markdown_table(headers, table), ""]
    text = "\n".join(lines)
    paths["report.md"] = write_streamed(folder / "report.md",
                                        lambda tmp: Path(tmp).write_text(text))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = sweep_parser(
        PROG, "Global sensitivity analysis of the schema's uncertain parameters (SALib): Morris "
              "screening or Sobol indices, run through the resumable sweep engine.",
        folder_help="folder of the runs and results (a sweep folder; re-running resumes)")

    def option(flag: str, name: str, **kwargs) -> None:
        parser.add_argument(flag, help=setting_help(SensitivitySettings, name), **kwargs)

    option("--method", "method")
    option("--ics", "ics")
    option("--weeks", "weeks", type=int)
    option("--scenario", "scenario")
    option("--parameters", "parameters", type=comma_list, metavar="A,B,...")
    parser.add_argument("--screen", type=Path, metavar="MORRIS",
                        help="take the --top parameters of a Morris screening: its report "
                             "folder, indices.csv, or the folder it ran in")
    option("--top", "top", type=int)
    option("--outcomes", "outcomes", type=comma_list, metavar="A,B,...")
    option("--samples", "samples", type=int)
    option("--levels", "levels", type=int)
    option("--seeds", "seeds", type=int)
    option("--sample-seed", "sample_seed", type=int)
    option("--n-jobs", "n_jobs", type=int)
    option("--bounds", "bounds")
    option("--span", "span", type=float, metavar="SHARE")
    option("--transform", "transform")
    parser.add_argument("--report-dir", type=Path, default=None,
                        help="where the results go (default SWEEP_DIR/sensitivity/METHOD)")
    parser.add_argument("--report-only", action="store_true", default=False,
                        help="write the report of the finished analysis in the report folder "
                             "again (its figures and text), without planning any run")
    args = parser.parse_args(argv)
    progress_logging()
    with reported_errors(PROG, ValueError, OSError, RuntimeError):
        settings = settings_from(SensitivitySettings, args)
        folder = args.report_dir or args.sweep_dir / RESULTS_DIR / settings.method
        if args.report_only:
            result = load_result(folder)
            write_report(result, folder)
        else:
            result = run_analysis(args.sweep_dir, settings, report_dir=args.report_dir)
    print("\n".join(summary_text(result)))
    print(f"\nReport: {folder / 'report.md'}"
          + ("" if args.report_only else f" (indices in {folder / 'indices.csv'})"))
