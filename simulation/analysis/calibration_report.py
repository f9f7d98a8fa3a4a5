"""The validation report of a calibration (``slsim-calibrate OUT --report DIR``).

From a finished calibration's folder (``calibration.json``, ``particles.csv``, ``draws.csv``):

* prior against posterior for every fitted parameter (``prior_posterior.png``), and how much
  the data pin each one down: the posterior's 90% interval over the prior's;
* correlations between the fitted parameters (``correlations.png``);
* the posterior predictive against every target, fitted and held out (``predictive.png``): draws
  of the posterior run on replicate seeds, each target's statistic read as in fitting;
* the calibrated point on several systems, with each target's implausibility, to show whether the
  fit depends on system size;
* the history-matching waves and the share of the prior space each left, and every generation.
"""

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..params import uncertain_parameters
from ..results_io import write_streamed
from .calibration import CalibrationSettings, Simulator
from .targets import TARGETS_FILE, Target, load_targets, seed_variance_of_mean

log = logging.getLogger(__name__)
# A parameter the data pin down: its posterior 90% interval is under half the prior's [A: a
# convention of reporting, plausible from a third (strict) to two-thirds (lenient)].
IDENTIFIED_BELOW = 0.5


@dataclass
class Calibration:
    """A finished calibration read from its folder."""

    record: dict
    particles: pd.DataFrame  # fitted parameters and ``weight``
    draws: pd.DataFrame  # the equal-weight resample, indexed by draw
    parameters: list[str]

    @classmethod
    def read(cls, folder: Path) -> "Calibration":
        folder = Path(folder)
        record = json.loads((folder / "calibration.json").read_text())
        particles = pd.read_csv(folder / "particles.csv")
        draws = pd.read_csv(folder / "draws.csv", index_col="draw")
        return cls(record, particles, draws, list(draws.columns))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of weighted values (the step function of the weighted CDF)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cumulative, q), len(values) - 1)])


def identification(cal: Calibration) -> pd.DataFrame:
    """Per fitted parameter: prior and posterior 90% intervals, the posterior median, and the
    width ratio (posterior over prior): how much the data pin it down."""
    specs = uncertain_parameters()
    weights = cal.particles["weight"].to_numpy()
    rows = []
    for name in cal.parameters:
        prior = specs[name]["prior"]
        p_low, p_high = (float(x) for x in prior.ppf([0.05, 0.95]))
        values = cal.particles[name].to_numpy()
        low, mid, high = (weighted_quantile(values, weights, q) for q in (0.05, 0.5, 0.95))
        ratio = (high - low) / (p_high - p_low)
        rows.append({"parameter": name, "prior": prior.describe(), "prior_low": p_low,
                     "prior_high": p_high, "default": specs[name]["default"],
                     "point": cal.record["point"][name], "median": mid, "low": low,
                     "high": high, "width_ratio": ratio,
                     "identified": bool(ratio < IDENTIFIED_BELOW)})
    return pd.DataFrame(rows)


def correlations(cal: Calibration) -> pd.DataFrame:
    """Weighted Pearson correlations between the fitted parameters."""
    weights = cal.particles["weight"].to_numpy()
    covariance = np.cov(cal.particles[cal.parameters].to_numpy().T, aweights=weights)
    sd = np.sqrt(np.diag(covariance))
    return pd.DataFrame(covariance / np.outer(sd, sd), index=cal.parameters,
                        columns=cal.parameters)


def simulator(cal: Calibration, targets: list[Target], ics: str | None = None,
              seeds: int | None = None) -> Simulator:
    """Runs of the calibration's set-up (on ``ics`` and with ``seeds`` replicates if given),
    reading ``targets``."""
    s = cal.record["settings"]
    settings = CalibrationSettings(ics=ics or s["ics"], weeks=s["weeks"],
                                   parameters=cal.parameters, seeds=seeds or s["seeds"])
    return Simulator(settings, targets)


def posterior_predictive(cal: Calibration, targets: list[Target], draws: int) -> pd.DataFrame:
    """Every target's statistic (mean over the calibration's replicate seeds) at the first
    ``draws`` draws of the posterior's equal-weight resample."""
    sim = simulator(cal, targets)
    rows = []
    for k in range(min(draws, len(cal.draws))):
        values = {p: float(cal.draws.loc[k, p]) for p in cal.parameters}
        rows.append(dict(zip([t.name for t in targets], np.nanmean(sim.statistics(values), axis=0),
                             strict=True), draw=k))
    return pd.DataFrame(rows)


def point_on_systems(cal: Calibration, targets: list[Target], systems: list[str],
                     seeds: int) -> pd.DataFrame:
    """The calibrated point on each system over ``seeds`` replicate seeds: each target's mean,
    standard error over seeds and implausibility."""
    rows = []
    for ics in systems:
        sim = simulator(cal, targets, ics, seeds)
        stats = sim.statistics(dict(cal.record["point"]))
        for j, t in enumerate(targets):
            variance = seed_variance_of_mean(stats[:, j])
            rows.append({"system": ics, "target": t.name, "use": t.use,
                         "mean": float(stats[:, j].mean()), "se": float(np.sqrt(variance)),
                         "total_sd": float(np.sqrt(t.variance(variance))),
                         "implausibility": t.implausibility(float(stats[:, j].mean()), variance)})
    return pd.DataFrame(rows)


def predictive_table(targets: list[Target], predictive: pd.DataFrame) -> pd.DataFrame:
    """Each target against the posterior predictive: its 90% interval and median, the target's
    interval (value +- 2 total SD), and whether the two overlap."""
    rows = []
    for t in targets:
        values = predictive[t.name].dropna().to_numpy()  # a ratio may be missing in a draw
        low, mid, high = np.quantile(values, [0.05, 0.5, 0.95])
        sd = float(np.sqrt(t.variance(0.0)))
        target_low = -np.inf if t.kind == "upper_bound" else t.value - 2 * sd
        target_high = t.value + 2 * sd
        rows.append({"target": t.name, "use": t.use, "kind": t.kind, "value": t.value,
                     "target_low": target_low, "target_high": target_high,
                     "median": mid, "low": low, "high": high,
                     "hit": bool(high >= target_low and low <= target_high)})
    return pd.DataFrame(rows)


def prior_posterior_figure(cal: Calibration, ident: pd.DataFrame):
    """One panel per fitted parameter: the prior's density and the posterior's histogram."""
    from .figures import _grid

    specs = uncertain_parameters()
    fig, axes = _grid(len(cal.parameters), 3, 4.2, 3.0)
    weights = cal.particles["weight"].to_numpy()
    for ax, name in zip(axes, cal.parameters, strict=True):
        prior = specs[name]["prior"]
        grid = np.linspace(prior.low, prior.high, 200)
        ax.plot(grid, prior.distribution().pdf(grid), color="0.4", label="prior")
        ax.hist(cal.particles[name], bins=25, weights=weights, density=True, alpha=0.6,
                color="tab:blue", label="posterior")
        ax.axvline(cal.record["point"][name], color="tab:red", lw=1, label="calibrated point")
        ax.axvline(specs[name]["default"], color="0.2", lw=1, ls=":", label="assumption")
        ratio = ident.set_index("parameter").loc[name, "width_ratio"]
        ax.set_title(f"{name}\n90% width {ratio:.2f} of the prior's", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def correlation_figure(corr: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 * len(corr) + 2, 1.0 * len(corr) + 1.5))
    image = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    labels = [c.split(".")[-1] for c in corr.columns]
    ax.set_xticks(range(len(corr)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(corr)), labels, fontsize=8)
    for i in range(len(corr)):
        for j in range(len(corr)):
            ax.text(j, i, f"{corr.iat[i, j]:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.8, label="posterior correlation")
    fig.tight_layout()
    return fig


def predictive_figure(table: pd.DataFrame):
    """Each target: its interval (value +- 2 total SD) and the posterior predictive's 90%."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(table) + 1.2))
    for i, row in enumerate(table.itertuples()):
        low = row.target_low if np.isfinite(row.target_low) else 0.0
        ax.plot([low, row.target_high], [i + 0.15] * 2, color="0.5", lw=6, alpha=0.5,
                solid_capstyle="butt", label="target +- 2 total SD" if i == 0 else None)
        ax.plot(row.value, i + 0.15, "k|", ms=12)
        colour = "tab:blue" if row.use == "fit" else "tab:orange"
        ax.plot([row.low, row.high], [i - 0.15] * 2, color=colour, lw=2)
        ax.plot(row.median, i - 0.15, "o", color=colour,
                label=f"posterior predictive, {row.use}" if row.use not in
                [r.use for r in table.iloc[:i].itertuples()] else None)
    ax.set_yticks(range(len(table)), [f"{r.target} ({r.use})" for r in table.itertuples()],
                  fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("statistic (share or ratio)")
    fig.tight_layout()
    return fig


def _md(frame: pd.DataFrame, digits: int = 3) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda x: f"{x:.{digits}g}")
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def write_report(calibration_dir: Path, report_dir: Path, *, draws: int = 100,
                 systems: tuple[str, ...] = ("small_ics", "default_ics"), seeds: int = 10,
                 targets_file: Path = TARGETS_FILE) -> Path:
    """The validation report of the calibration in ``calibration_dir``, into ``report_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cal = Calibration.read(calibration_dir)
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    targets = list(load_targets(targets_file).values())
    started = time.perf_counter()
    ident, corr = identification(cal), correlations(cal)
    log.info("posterior predictive: %d draws x %d seeds", draws, cal.record["settings"]["seeds"])
    predictive = posterior_predictive(cal, targets, draws)
    table = predictive_table(targets, predictive)
    log.info("the calibrated point on %s, %d seeds each", ", ".join(systems), seeds)
    points = point_on_systems(cal, targets, list(systems), seeds)
    for name, fig in (("prior_posterior.png", prior_posterior_figure(cal, ident)),
                      ("correlations.png", correlation_figure(corr)),
                      ("predictive.png", predictive_figure(table))):
        fig.savefig(report_dir / name, dpi=120)
        plt.close(fig)
    for name, frame in (("identification.csv", ident), ("predictive.csv", predictive),
                        ("predictive_summary.csv", table), ("point_on_systems.csv", points)):
        write_streamed(report_dir / name, lambda tmp, f=frame: f.to_csv(tmp, index=False))
    seconds = time.perf_counter() - started
    text = report_text(cal, ident, corr, table, points, draws, seeds, seconds)
    (report_dir / "report.md").write_text(text)
    return report_dir / "report.md"


def _eps_change(generations: pd.DataFrame) -> float:
    eps = generations["epsilon"].to_numpy()
    return float(abs(eps[-1] - eps[-2]) / eps[-2]) if len(eps) > 1 else float("nan")


def _point_verdict(points: pd.DataFrame, system: str) -> str:
    """Which targets the calibrated point misses on the calibration's system (implausibility
    above 2: outside the target's value +- 2 total SD)."""
    rows = points[points["system"] == system]
    missed = rows[rows["implausibility"] > 2]
    if missed.empty:
        return (f"At the calibrated point on `{system}` every target, fitted and held out, is "
                "within 2 total SD of its value.")
    return (f"At the calibrated point on `{system}` these targets lie more than 2 total SD from "
            "their value (implausibility): " + "; ".join(
                f"`{m.target}` ({m.use}, {m.mean:.3g} against the target, I = "
                f"{m.implausibility:.1f})" for m in missed.itertuples()) + ".")


def report_text(cal: Calibration, ident: pd.DataFrame, corr: pd.DataFrame,
                table: pd.DataFrame, points: pd.DataFrame, draws: int, seeds: int,
                seconds: float) -> str:
    r, s = cal.record, cal.record["settings"]
    waves = pd.DataFrame(r["waves"])
    generations = pd.DataFrame(r["generations"])
    pinned = ident[ident["identified"]]["parameter"].tolist()
    loose = ident[~ident["identified"]]["parameter"].tolist()
    strong = [(a, b, corr.loc[a, b]) for i, a in enumerate(corr.index)
              for b in corr.columns[i + 1:] if abs(corr.loc[a, b]) >= 0.5]
    misses = table[~table["hit"]]
    by_system = points.pivot(index="target", columns="system", values="mean")
    lines = [
        "# Calibration: validation report",
        "",
        f"Fitted **{len(cal.parameters)} parameters** "
        f"({', '.join(f'`{p}`' for p in cal.parameters)}) to **{len(r['targets'])} "
        f"targets** ({', '.join(r['targets'])}) on `{s['ics']}`, "
        f"{s['weeks']} weeks, {s['seeds']} replicate seeds per particle. History matching: "
        f"{len(waves)} waves; ABC-SMC (pyabc): {len(generations)} generations "
        f"({', '.join(str(n) for n in generations['particles'])} particles), stopped at "
        f"{r['stopped']}; the last epsilon change was "
        f"{_eps_change(generations):.0%}. "
        f"{r['runs']:,} runs in {r['seconds'] / 60:.0f} min. Final effective sample size "
        f"{r['final_ess']:.0f} of {r['final_particles']} particles. Targets file SHA-256 "
        f"`{r['targets_sha256'][:16]}...`; versions {r['versions']}.",
        "",
        "Unfitted parameters stay at their stated values (the schema's defaults, "
        "`docs/ODD.md` section 8); the screening that chose the fitted ones is "
        "[`screening/report.md`](screening/report.md).",
        "",
        "## History matching",
        "",
        _md(waves.rename(columns={"share_not_ruled_out": "share of prior space left"})),
        "",
        f"After the last wave {100 * waves['share_not_ruled_out'].iloc[-1]:.1f}% of the prior "
        "space is not ruled out (implausibility at most 3 on every fitted target).",
        "",
        "## ABC-SMC generations",
        "",
        _md(generations),
        "",
        "## Prior against posterior",
        "",
        "![prior and posterior](prior_posterior.png)",
        "",
        _md(ident[["parameter", "prior", "default", "point", "median", "low", "high",
                   "width_ratio", "identified"]]),
        "",
        f"`low`-`high` is the posterior's 90% interval; `width_ratio` its width over the "
        f"prior's 90% width. Pinned down by the data (ratio below {IDENTIFIED_BELOW}): "
        f"{', '.join(f'`{p}`' for p in pinned) or 'none'}. Left largely to their priors: "
        f"{', '.join(f'`{p}`' for p in loose) or 'none'}.",
        "",
        "## Correlations between the fitted parameters",
        "",
        "![correlations](correlations.png)",
        "",
        ("Strong posterior correlations (|r| >= 0.5): " + "; ".join(
            f"`{a}` and `{b}` ({c:+.2f})" for a, b, c in strong) + ". The data constrain "
         "these combinations rather than each parameter alone.") if strong else
        "No posterior correlation reaches |r| = 0.5.",
        "",
        "## Posterior predictive against every target",
        "",
        f"The first {draws} draws of the posterior's equal-weight resample, each on "
        f"{s['seeds']} seeds (the calibration's), every target read as in fitting.",
        "",
        "![posterior predictive](predictive.png)",
        "",
        _md(table),
        "",
        ("Every target's interval meets the posterior predictive's 90% interval." if
         misses.empty else "**The predictive misses:** " + "; ".join(
             f"`{m.target}` ({m.use}): predictive {m.low:.3g} to {m.high:.3g} against "
             f"{m.value:.3g} (interval {max(m.target_low, 0):.3g} to {m.target_high:.3g})"
             for m in misses.itertuples()) + "."),
        "",
        _point_verdict(points, s["ics"]),
        "",
        "## The calibrated point on other systems",
        "",
        f"The calibrated point, {seeds} seeds on each system: does the fit depend on system "
        "size? (Implausibility uses each target's total SD, seed variance included.)",
        "",
        _md(points),
        "",
        _md(by_system.reset_index()),
        "",
        f"Report made in {seconds / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)
