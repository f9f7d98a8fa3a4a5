"""National results by system and by region: the by-ICB section of ``slsim-compare``.

When a sweep's runs hold several systems (``ics=england``, or a file of ``members``), each run's
``breakdown.parquet`` gives its managers' leadership received per system at the horizon. For each
option against the baseline, paired by seed:

* the gain per system and per NHS England region, with its 95% CI (Student t over seeds);
* which systems gain most and least, and the make-up feature their gains follow most closely
  (Spearman rank correlation across systems; the features come from the run's own config);
* which of those systems' inputs rest on apportioned or assumed numbers rather than real counts
  (``simulation/data/icb/makeup.csv``, via :func:`simulation.icb.apportioned_inputs`).
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .. import icb
from ..layout import BREAKDOWN_FILE, RUNS_DIR, SUMMARY_FILE
from .load import SweepTables
from .stats import paired_difference

OUTCOME = "leadership_received"
OUTCOME_LABEL = "leadership received per manager (final week)"
WEAK_RHO = 0.3  # below this, the report says no make-up feature follows the gains closely
# Make-up features of a system, from its organisations, with the inputs each one rests on.
FEATURES = {
    "managers": ("managers", ("count", "managers")),
    "clinical_share": ("share of managers in clinical posts", ("count", "managers")),
    "pcn_share": ("share of managers in PCNs", ("count", "managers")),
    "trainees_per_manager": ("doctors in training per manager", ("count", "managers",
                                                                  "trainees")),
    "mean_layers": ("mean sign-off layers", ("count", "managers")),
}


@dataclass
class SystemComparison:
    """The by-system and by-region gains of every option against the baseline."""

    systems: pd.DataFrame  # option x system: gain, CI, clear, region, features
    regions: pd.DataFrame  # option x region: gain, CI, clear
    national: pd.DataFrame  # option: gain, CI (manager-weighted over every system)
    features: pd.DataFrame  # system: make-up features
    drivers: pd.DataFrame  # option x feature: Spearman rho of gain against the feature


def makeup_features(ics: dict) -> pd.DataFrame:
    """One row per system of a run's ``ics`` config (as stored in ``summary.json``)."""
    members = ics.get("members") or [{"name": ics["name"], "region": "",
                                      "organisations": ics["organisations"]}]
    rows = []
    for m in members:
        orgs = m["organisations"]
        posts = [o["count"] * o["managers"] for o in orgs]
        total = sum(posts)
        rows.append({
            "icb": m["name"], "region": m.get("region", ""),
            "managers": total,
            "clinical_share": sum(p * o["clinical_share"] for p, o in zip(posts, orgs,
                                                                           strict=True)) / total,
            "pcn_share": sum(p for p, o in zip(posts, orgs, strict=True)
                             if o["type"] == "pcn") / total,
            "trainees_per_manager": sum(o["count"] * o.get("trainees", 0) for o in orgs) / total,
            "mean_layers": sum(p * o["bureaucracy_layers"] for p, o in zip(posts, orgs,
                                                                           strict=True)) / total,
        })
    return pd.DataFrame(rows).set_index("icb")


def system_values(tables: SweepTables) -> pd.DataFrame:
    """Each run's outcome per system: group, seed, icb, region, managers and the
    manager-weighted mean of :data:`OUTCOME` over its organisation types and groups."""
    frames = []
    for run in tables.runs.itertuples():
        path = tables.sweep_dir / RUNS_DIR / run.run / BREAKDOWN_FILE
        frame = pd.read_parquet(path)
        if "icb" not in frame.columns:
            return pd.DataFrame()
        frame["weighted"] = frame[OUTCOME] * frame["managers"]
        per = frame.groupby(["system", "icb", "region"], as_index=False)[
            ["weighted", "managers"]].sum()
        per[OUTCOME] = per["weighted"] / per["managers"]
        per["group"], per["seed"] = run.group, run.seed
        frames.append(per.drop(columns="weighted"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def is_national(values: pd.DataFrame) -> bool:
    """Whether the runs hold several systems (a by-system section is worth writing)."""
    return not values.empty and values["system"].nunique() > 1


def _paired(values: pd.DataFrame, keys: list[str], group: str, baseline: str) -> pd.DataFrame:
    """Paired gain of ``group`` over ``baseline`` per value of ``keys`` (weighted by managers
    when several systems pool into one key)."""
    pooled = values.assign(weighted=values[OUTCOME] * values["managers"]).groupby(
        ["group", "seed", *keys], as_index=False)[["weighted", "managers"]].sum()
    pooled["value"] = pooled["weighted"] / pooled["managers"]
    wide = pooled.pivot_table(index=[*keys, "seed"], columns="group", values="value")
    rows = []
    for key, frame in wide.groupby(level=list(range(len(keys)))):
        frame = frame[[group, baseline]].dropna()
        result = paired_difference(frame[group].to_numpy(), frame[baseline].to_numpy())
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key, strict=True)), "option": group, "n": result.n,
                     "gain": result.difference.mean, "low": result.difference.low,
                     "high": result.difference.high, "clear": result.clear(),
                     "baseline": float(frame[baseline].mean())})
    return pd.DataFrame(rows)


def compare_systems(tables: SweepTables, baseline: str, values: pd.DataFrame | None = None
                    ) -> SystemComparison | None:
    """The by-system section's tables, or None if the sweep's runs hold one system each."""
    values = system_values(tables) if values is None else values
    if not is_national(values):
        return None
    first = tables.runs[tables.runs["group"] == baseline].sort_values("seed").iloc[0]
    summary = json.loads((tables.sweep_dir / RUNS_DIR / first["run"] / SUMMARY_FILE).read_text())
    features = makeup_features(summary["config"]["ics"])
    values = values.copy()
    values["region"] = values["region"].replace("", "(no region)")
    options = [g for g in tables.groups if g != baseline]
    systems = pd.concat([_paired(values, ["icb", "region"], g, baseline) for g in options],
                        ignore_index=True)
    systems = systems.join(features.drop(columns="region"), on="icb")
    regions = pd.concat([_paired(values, ["region"], g, baseline) for g in options],
                        ignore_index=True)
    national = pd.concat([_paired(values.assign(all="all"), ["all"], g, baseline)
                          for g in options], ignore_index=True)
    drivers = []
    for option, rows in systems.groupby("option", sort=False):
        for name in FEATURES:
            spread = rows[name].nunique() > 1 and rows["gain"].nunique() > 1
            rho = spearmanr(rows["gain"], rows[name])[0] if spread else np.nan
            drivers.append({"option": option, "feature": name, "rho": rho})
    return SystemComparison(systems, regions, national, features, pd.DataFrame(drivers))


def _ci(row) -> str:
    return f"{row['gain']:+.4f} ({row['low']:+.4f} to {row['high']:+.4f})"


def _names(rows: pd.DataFrame) -> str:
    return ", ".join(f"{r.icb} {r.gain:+.4f}" for r in rows.itertuples())


def section_markdown(sc: SystemComparison, baseline: str, figure: str | None) -> list[str]:
    """The report's "By ICB and by region" section."""
    from .tables import markdown_table

    out = ["## By ICB and by region", "",
           f"The gain of each option over *{baseline}* in {OUTCOME_LABEL}, system by system "
           "and region by region (manager-weighted), paired by seed with its 95% CI. "
           "Full tables: `tables/systems.csv`, `tables/regions.csv`.", ""]
    for option, rows in sc.systems.groupby("option", sort=False):
        rows = rows.sort_values("gain", ascending=False)
        national = sc.national[sc.national["option"] == option].iloc[0]
        ends = min(3, len(rows) // 2)
        most, least = rows.head(ends), rows.tail(ends)
        out += [f"### {option}", "",
                f"* All {len(rows)} systems together: {_ci(national)}"
                + ("" if national["clear"] else " (within noise)") + ".",
                f"* Gains most: {_names(most)}; least: {_names(least)}. "
                f"{sum(rows['clear'])} of {len(rows)} systems' CIs exclude no change; "
                + ("the top and bottom systems' CIs overlap, so their order is within noise."
                   if most["low"].min() <= least["high"].max() else
                   "the top systems' CIs lie above the bottom ones'.")]
        drivers = sc.drivers[sc.drivers["option"] == option].dropna()
        if not drivers.empty:
            top = drivers.loc[drivers["rho"].abs().idxmax()]
            label, inputs = FEATURES[top["feature"]]
            direction = "rise" if top["rho"] > 0 else "fall"
            weak = ("; a weak link (|rho| < 0.3): no make-up feature follows the gains closely"
                    if abs(top["rho"]) < WEAK_RHO else "")
            ends = pd.concat([most, least])
            shown = ", ".join(f"{r.icb} {getattr(r, top['feature']):.3g}"
                              for r in ends.itertuples())
            out.append(f"* Why, in terms of make-up: gains {direction} with the {label} "
                       f"(Spearman rho {top['rho']:+.2f} across systems{weak}); at the ends: "
                       f"{shown}.")
            out.append("* " + _apportioned_sentence(ends["icb"].tolist(), inputs))
        region_rows = sc.regions[sc.regions["option"] == option].sort_values("gain",
                                                                             ascending=False)
        out += ["", markdown_table(
            ["region", "gain (95% CI)", "clear"],
            [[r["region"], _ci(r), "yes" if r["clear"] else "no"]
             for _, r in region_rows.iterrows()]), ""]
    if figure:
        out += [f"![Gain by system, ranked]({figure})", ""]
    return out


def _apportioned_sentence(names: list[str], inputs: tuple[str, ...]) -> str:
    known = set(icb.slugs())
    real = [n for n in names if n in known]
    if not real:
        return ("These systems are not real ICBs: their make-up is the config's, not data.")
    resting = {n: [i for i in icb.apportioned_inputs(n) if i.rsplit(".", 1)[1] in inputs]
               for n in real}
    leaning = [n for n, found in resting.items() if found]
    if not leaning:
        return "Those systems' make-up rests on real counts only."
    found = [i.rsplit(".", 1) for i in set().union(*resting.values())]
    which = "; ".join(f"{column} of {', '.join(sorted(k for k, c in found if c == column))}"
                      for column in inputs if any(c == column for _, c in found))
    return (f"That difference rests on apportioned or assumed inputs ({which}) for all "
            f"{len(real)} of these ICBs, not on real counts "
            "(simulation/data/icb/makeup.csv).") if len(leaning) == len(real) else (
            f"Apportioned or assumed inputs ({which}) under: {', '.join(leaning)}.")


def ranked_figure(sc: SystemComparison, baseline: str):
    """A ranked dot plot per option: every system's gain with its 95% CI, coloured by region."""
    import matplotlib.pyplot as plt

    options = list(dict.fromkeys(sc.systems["option"]))
    n = sc.systems["icb"].nunique()
    fig, axes = plt.subplots(1, len(options), figsize=(5.2 * len(options), 1.5 + 0.2 * n),
                             squeeze=False)
    regions = sorted(sc.systems["region"].unique())
    colours = dict(zip(regions, plt.get_cmap("tab10").colors, strict=False))
    for ax, option in zip(axes[0], options, strict=True):
        rows = sc.systems[sc.systems["option"] == option].sort_values("gain")
        y = np.arange(len(rows))
        ax.axvline(0, color="grey", lw=1)
        ax.hlines(y, rows["low"], rows["high"], color="lightgrey", lw=1.5)
        for region in regions:
            pick = (rows["region"] == region).to_numpy()
            ax.plot(rows["gain"].to_numpy()[pick], y[pick], "o", ms=5,
                    color=colours.get(region, "k"), label=region)
        ax.set_yticks(y)
        ax.set_yticklabels(rows["icb"], fontsize=7)
        ax.set_title(option, fontsize=10)
        ax.set_xlabel(f"gain vs {baseline}, {OUTCOME_LABEL}", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Gain by system, ranked: paired mean and 95% CI", fontsize=11)
    fig.tight_layout()
    return fig
