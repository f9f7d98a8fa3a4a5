"""``slsim-policy -m``: search intervention mixes for the best gain under a budget (Optuna).

The Hydra app ``slsim-policy`` (config ``configs/policy/policy_search.yaml``) evaluates one
*mix*: the coverage of each lever (:mod:`simulation.analysis.levers`). A trial runs the mix and the
baseline with the same seeds (``seeds``, common random numbers) and scores the **mean paired
gain** in the ``objective`` outcome, in % of the baseline mean and signed so that higher is
better, never one noisy run. A mix whose mean incremental cost over the run exceeds ``budget``
(GBP) has every coverage scaled down by the share of its cost the budget allows and runs again
(``budget_repairs`` times at most), so trials explore the proportions of a mix within the budget;
a mix still over budget scores ``INFEASIBLE`` minus its overspend in % of the budget, below every
feasible mix.

With ``-m`` the Optuna sweeper (``hydra-optuna-sweeper``, TPE by default) searches the coverages
named in ``hydra.sweeper.params``. Every run goes through the sweep engine into
``<sweep dir>/runs/`` keyed by config hash, so repeated mixes, the shared baseline and a re-run
of the same search (same sampler seed: the same trials) come from disk. At the end, and with
``slsim-policy-report SWEEP_DIR``, ``<sweep dir>/policy/`` gets the cost-gain Pareto front
(``pareto.csv``, ``pareto.png``), every trial (``trials.csv``) and ``report.md``; the best
feasible mix is re-run on fresh seeds (``validation_seeds``) to estimate its gain without the
optimism of having been picked as the best.
"""

import json
import logging
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import hydra
import matplotlib.pyplot as plt
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ..config import CONFIG_DIR
from ..params import ConfigError
from ..results_io import write_figure, write_json, write_streamed
from .batch import plan_jobs, run_batch, run_values
from .compare import markdown_table
from .levers import check_mix, mix_overrides
from .outcomes import OUTCOMES, format_gbp, outcome
from .stats import paired_difference

log = logging.getLogger(__name__)
INFEASIBLE = -1000.0
TRIAL_FILE = "trial.json"
SETTINGS_FILE = "policy_search.json"
REPORT_DIR = "policy"


@dataclass
class PolicySettings:
    """The validated settings of a policy search (the app's config without ``hydra``)."""

    ics: str
    weeks: int
    seeds: int
    objective: str
    budget: float
    n_jobs: int
    validation_seeds: int
    budget_repairs: int = 2
    coverage: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: DictConfig | dict) -> "PolicySettings":
        if OmegaConf.is_config(cfg):  # resolve the app's keys only (hydra's need a job)
            data = {k: OmegaConf.to_container(cfg[k], resolve=True)
                    if OmegaConf.is_config(cfg[k]) else cfg[k] for k in cfg if k != "hydra"}
        else:
            data = dict(cfg)
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]} is not a setting of the policy search; the "
                              f"settings are {sorted(known)}")
        settings = cls(**data)
        for name, low in (("weeks", 1), ("seeds", 2), ("n_jobs", 1), ("validation_seeds", 0),
                          ("budget_repairs", 0)):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} = {value!r} must be an integer of at least {low}")
        if isinstance(settings.budget, bool) or not isinstance(settings.budget, int | float) \
                or settings.budget <= 0:
            raise ConfigError(f"budget = {settings.budget!r} must be a positive amount of GBP")
        try:
            item = outcome(settings.objective)
        except ValueError as exc:
            raise ConfigError(f"objective: {exc}") from None
        if item.sign() == 0:
            raise ConfigError(f"objective = {settings.objective!r} has no better direction; "
                              f"choose one of {[n for n, o in OUTCOMES.items() if o.sign()]}")
        settings.coverage = check_mix(settings.coverage)
        return settings

    @property
    def base(self) -> list[str]:
        return [f"ics={self.ics}", f"weeks={self.weeks}"]


def baseline_jobs(settings: PolicySettings, seeds: range) -> list[list[str]]:
    return [[*settings.base, f"seed={s}", "scenario=baseline"] for s in seeds]


def evaluate_mix(settings: PolicySettings, coverage: dict[str, float], sweep_dir: Path,
                 seeds: range | None = None) -> dict[str, Any]:
    """Run a mix and the baseline on ``seeds`` (default ``0 .. settings.seeds - 1``) into
    ``sweep_dir`` and score the mix; returns the trial record."""
    seeds = seeds if seeds is not None else range(settings.seeds)
    mix = mix_overrides(coverage)
    jobs = [[*settings.base, f"seed={s}", *mix] for s in seeds] + baseline_jobs(settings, seeds)
    batch = plan_jobs(jobs, sweep_dir)
    run_batch(batch, n_jobs=settings.n_jobs, record=False, progress_interval=60.0)
    item = outcome(settings.objective)
    cost_item = OUTCOMES["cost"]
    values = run_values(batch, [item, cost_item])
    hashes = batch.hashes
    missing = [h for h in hashes if h not in values.index]
    if missing:
        raise RuntimeError(f"{len(missing)} runs of the trial did not succeed (see "
                           f"{sweep_dir}/runs/*/status.json); the trial cannot be scored")
    n = len(seeds)
    mix_values, base_values = values.loc[hashes[:n]], values.loc[hashes[n:]]
    gain = paired_difference(mix_values[item.name].to_numpy(), base_values[item.name].to_numpy())
    cost = paired_difference(mix_values["cost"].to_numpy(), base_values["cost"].to_numpy())
    sign = item.sign()
    low, high = sorted((sign * gain.relative.low * 100, sign * gain.relative.high * 100))
    record = {
        "coverage": {k: v for k, v in check_mix(coverage).items()},
        "mix_hash": hashes[0], "seeds": [seeds.start, seeds.stop - 1],
        "objective": item.name, "objective_mean": gain.treatment_mean,
        "baseline_mean": gain.baseline_mean,
        "gain": sign * gain.relative.mean * 100, "gain_low": low, "gain_high": high,
        "gain_clear": gain.clear(),
        "cost": cost.difference.mean, "cost_low": cost.difference.low,
        "cost_high": cost.difference.high, "budget": settings.budget,
    }
    record["feasible"] = bool(record["cost"] <= settings.budget)
    record["score"] = score(record["gain"], record["cost"], settings.budget)
    return record


REPAIR_MARGIN = 0.95  # aim a little under the budget: costs grow less than linearly in coverage


def evaluate_within_budget(settings: PolicySettings, coverage: dict[str, float],
                           sweep_dir: Path) -> dict[str, Any]:
    """Evaluate a mix; while it is over budget (at most ``budget_repairs`` times), scale every
    coverage down by the share of its cost the budget allows, and evaluate again.

    The search then explores the *proportions* of a mix, and spends the budget, instead of
    wasting trials over it. The final record keeps the earlier evaluations (``evaluations``),
    which also belong on the cost-gain front.
    """
    record = evaluate_mix(settings, coverage, sweep_dir)
    earlier = []
    for _ in range(settings.budget_repairs):
        if record["feasible"] or record["cost"] <= 0:
            break
        earlier.append(record)
        factor = REPAIR_MARGIN * settings.budget / record["cost"]
        coverage = {k: v * factor for k, v in record["coverage"].items()}
        record = evaluate_mix(settings, coverage, sweep_dir)
    return {**record, "evaluations": earlier}


def score(gain: float, cost: float, budget: float) -> float:
    """The value Optuna maximises: the gain (%) if the mix is within budget, else ``INFEASIBLE``
    minus the overspend in % of the budget (so every feasible mix scores higher)."""
    if cost <= budget:
        return float(gain)
    return INFEASIBLE - 100.0 * (cost - budget) / budget


def _sweep_dir(cfg: DictConfig) -> Path:
    return Path(str(cfg.hydra.sweep.dir))


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR / "policy"),
            config_name="policy_search")
def app(cfg: DictConfig) -> float:
    """One trial: evaluate the configured mix; returns its score (what Optuna maximises)."""
    logging.getLogger("MESA").setLevel(logging.WARNING)
    hydra_cfg = HydraConfig.get()
    try:
        settings = PolicySettings.from_config(cfg)
    except ConfigError as exc:
        if hydra_cfg.mode.name == "MULTIRUN":  # the callback has checked the sweep's own config
            raise
        print(f"slsim-policy: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    output_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode.name == "MULTIRUN"
    runs_home = Path(str(hydra_cfg.sweep.dir)) if multirun else output_dir
    record = evaluate_within_budget(settings, settings.coverage, runs_home)
    write_json(output_dir / TRIAL_FILE, record)
    if not multirun:
        levers = {k: v for k, v in record["coverage"].items() if v} or "none (the baseline)"
        print(f"mix {levers}: {settings.objective} gain "
              f"{record['gain']:+.2f}% ({record['gain_low']:+.2f}% to {record['gain_high']:+.2f}%)"
              f", cost GBP {record['cost']:,.0f} (budget GBP {settings.budget:,.0f}"
              f"{'' if record['feasible'] else ', over budget'}), score {record['score']:.3f}")
    return record["score"]


class PolicySearchCallback(Callback):
    """Before the trials: validate the settings and run the baseline once (so trials running at
    once never race to write it). After them: the Pareto front, validation and report."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            settings = PolicySettings.from_config(config)
        except ConfigError as exc:  # Hydra only warns when a callback raises: stop here
            print(f"slsim-policy: invalid configuration: {exc}", file=sys.stderr)
            sys.exit(2)
        sweep_dir = _sweep_dir(config)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_json(sweep_dir / SETTINGS_FILE, asdict(settings))
        log.info("Running the baseline on %d seeds before the trials", settings.seeds)
        batch = plan_jobs(baseline_jobs(settings, range(settings.seeds)), sweep_dir)
        run_batch(batch, n_jobs=int(config.hydra.launcher.get("n_jobs", 1) or 1), record=False)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        paths = write_policy_report(_sweep_dir(config))
        print(f"Policy search report: {paths['report.md']}")


# --- Report -------------------------------------------------------------------------------------

def load_trials(sweep_dir: Path) -> pd.DataFrame:
    """Every trial record under ``sweep_dir`` (one row per distinct mix, best record kept)."""
    rows = []
    for path in sorted(Path(sweep_dir).rglob(TRIAL_FILE)):
        final = json.loads(path.read_text())
        steps = [*final.pop("evaluations", []), final]
        for step, record in enumerate(steps):
            rows.append({**{k: v for k, v in record.items() if k != "coverage"},
                         **{f"coverage.{k}": v for k, v in record["coverage"].items()},
                         "trial": path.parent.name, "step": step,
                         "final": step == len(steps) - 1})
    if not rows:
        raise FileNotFoundError(f"no {TRIAL_FILE} under {sweep_dir}: has the search run?")
    frame = pd.DataFrame(rows)
    frame["trial"] = pd.to_numeric(frame["trial"], errors="coerce")
    frame = frame.sort_values(["trial", "step"]).drop_duplicates("mix_hash", keep="first")
    levers = [c for c in frame.columns if c.startswith("coverage.")]
    frame[levers] = frame[levers].fillna(0.0)
    return frame.reset_index(drop=True)


def pareto_front(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials no other trial beats on both cost (lower) and gain (higher), by cost."""
    ordered = trials.sort_values(["cost", "gain"], ascending=[True, False])
    best, keep = -math.inf, []
    for index, row in ordered.iterrows():
        if row["gain"] > best:
            keep.append(index)
            best = row["gain"]
    return ordered.loc[keep]


def pareto_figure(trials: pd.DataFrame, front: pd.DataFrame, best: pd.Series | None,
                  settings: PolicySettings):
    item = outcome(settings.objective)
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    feasible = trials["feasible"].astype(bool)
    ax.scatter(trials.loc[feasible, "cost"] / 1e3, trials.loc[feasible, "gain"], s=18,
               color="tab:grey", alpha=0.6, label="trial within budget")
    ax.scatter(trials.loc[~feasible, "cost"] / 1e3, trials.loc[~feasible, "gain"], s=18,
               color="tab:red", alpha=0.4, marker="x", label="trial over budget")
    ax.errorbar(front["cost"] / 1e3, front["gain"],
                yerr=[front["gain"] - front["gain_low"], front["gain_high"] - front["gain"]],
                fmt="o-", color="tab:blue", capsize=3, ms=5, drawstyle="steps-post",
                label="Pareto front (95% CI of the gain)")
    ax.axvline(settings.budget / 1e3, color="black", ls="--", lw=1,
               label=f"budget GBP {settings.budget / 1e3:,.0f}k")
    if best is not None:
        ax.plot(best["cost"] / 1e3, best["gain"], "*", color="gold", mec="black", ms=16,
                label="best mix within budget")
    ax.set_xlabel("incremental cost over the run vs baseline, GBP thousands (mean of seeds)")
    ax.set_ylabel(f"gain in {item.label} vs baseline, % (paired by seed)")
    ax.set_title(f"Policy search: cost against gain in {item.label}\n{settings.ics}, "
                 f"{settings.weeks} weeks, {len(trials)} mixes, mean of {settings.seeds} seeds "
                 "each", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _mix_text(row: pd.Series, levers: list[str]) -> str:
    parts = [f"{c.removeprefix('coverage.')} {row[c]:.2f}" for c in levers if row[c] > 0.005]
    return ", ".join(parts) or "nothing (baseline)"


def write_policy_report(sweep_dir: Path, validate: bool = True,
                        out: Path | None = None) -> dict[str, Path]:
    """The Pareto front, every trial, the validated best mix and ``report.md`` in ``out``
    (default ``sweep_dir/policy``)."""
    sweep_dir = Path(sweep_dir)
    settings = PolicySettings.from_config(json.loads((sweep_dir / SETTINGS_FILE).read_text()))
    trials = load_trials(sweep_dir)
    trial_count = len(list(sweep_dir.rglob(TRIAL_FILE)))  # a mix proposed twice counts once
    front = pareto_front(trials)
    feasible = trials[trials["feasible"].astype(bool)]
    best = feasible.loc[feasible["gain"].idxmax()] if not feasible.empty else None
    out = Path(out) if out else sweep_dir / REPORT_DIR
    levers = [c for c in trials.columns if c.startswith("coverage.")]
    paths = {name: write_streamed(out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False))
             for name, frame in (("trials.csv", trials.sort_values("score", ascending=False)),
                                 ("pareto.csv", front))}
    fig = pareto_figure(trials, front, best, settings)
    paths["pareto.png"] = write_figure(out / "pareto.png", fig)
    plt.close(fig)
    validation = None
    if validate and best is not None and settings.validation_seeds:
        fresh = range(settings.seeds, settings.seeds + settings.validation_seeds)
        coverage = {c.removeprefix("coverage."): float(best[c]) for c in levers}
        validation = evaluate_mix(settings, coverage, sweep_dir, fresh)
        write_json(out / "validation.json", validation)
    item = outcome(settings.objective)
    lines = [f"# Policy search: the best mix under a budget of GBP {settings.budget:,.0f}", "",
             f"Objective: the gain in {item.label} ({item.horizon}) over the baseline, in % of "
             f"the baseline mean, paired by seed and averaged over {settings.seeds} seeds per "
             f"mix; {settings.ics}, {settings.weeks} weeks. {trial_count} trials "
             f"evaluated {len(trials)} distinct mixes, {int(trials['feasible'].sum())} within "
             f"budget: a trial whose mix costs more than the budget scales every coverage down "
             f"in proportion and runs again (at most {settings.budget_repairs} times). Cost is "
             "the mean incremental cost over the run (GBP).", ""]
    if best is not None:
        lines += ["## Best mix within budget", "",
                  f"* Mix (coverage per year): {_mix_text(best, levers)}.",
                  f"* Gain in the search: {best['gain']:+.2f}% (95% CI {best['gain_low']:+.2f}% "
                  f"to {best['gain_high']:+.2f}%), cost GBP {best['cost']:,.0f}."]
        if validation is not None:
            lines.append(
                f"* Re-run on {settings.validation_seeds} fresh seeds "
                f"({validation['seeds'][0]}-{validation['seeds'][1]}): gain "
                f"{validation['gain']:+.2f}% (95% CI {validation['gain_low']:+.2f}% to "
                f"{validation['gain_high']:+.2f}%), cost GBP {validation['cost']:,.0f}. Picking "
                "the best of many noisy trials flatters it; this estimate does not.")
        lines.append("")
    else:
        lines += ["No mix evaluated was within budget.", ""]
    rows = [[format_gbp(r["cost"]), f"{r['gain']:+.2f}% ({r['gain_low']:+.2f}% to "
             f"{r['gain_high']:+.2f}%)", "yes" if r["feasible"] else "no",
             _mix_text(r, levers)] for _, r in front.iterrows()]
    lines += ["## Cost-gain Pareto front", "",
              "Mixes that no other mix beats on both cost and gain, from the cheapest; what "
              "each extra pound buys. Mixes over budget are shown to say what more money would "
              "buy.", "", "![Pareto front](pareto.png)", "",
              markdown_table(["cost", f"gain in {item.label} (95% CI)", "within budget",
                              "mix (coverage per year)"], rows), "",
              f"Every trial: `trials.csv`. Infeasible trials score {INFEASIBLE:g} minus their "
              "overspend in % of the budget.", ""]
    text = "\n".join(lines)
    paths["report.md"] = write_streamed(out / "report.md", lambda tmp: Path(tmp).write_text(text))
    return paths


def main() -> None:
    app()


def report_main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="slsim-policy-report",
        description="Write the Pareto front and report of an `slsim-policy -m` search.")
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--no-validation", action="store_true",
                        help="skip re-running the best mix on fresh seeds")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default SWEEP_DIR/policy)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    try:
        paths = write_policy_report(args.sweep_dir, validate=not args.no_validation,
                                    out=args.out)
    except (ConfigError, FileNotFoundError, RuntimeError) as exc:
        print(f"slsim-policy-report: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"Policy search report: {paths['report.md']}")
