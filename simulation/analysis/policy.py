"""``slsim-policy``: search intervention mixes for the best gain under a budget, with Optuna.

A *mix* is the coverage of each lever (:mod:`simulation.analysis.levers`: every entry of the files
in ``configs/intervention/``, so a new lever file is searched without any edit here). A trial runs
its mix and the baseline with the same seeds (``seeds``, common random numbers) through the sweep
engine (:mod:`simulation.analysis.batch`: validated, cached by config hash under ``OUT/runs``)
and scores the **mean paired gain** in the ``objective`` outcome, in % of the baseline mean and
signed so that higher is better, never one noisy run. A mix whose mean incremental cost over the
run exceeds ``budget`` (GBP) has every coverage scaled down by the share of its cost the budget
allows and runs again (``budget_repairs`` times at most), so trials explore the proportions of a
mix within the budget.

**Over draws** (``draws`` > 0, issue 15). The objective becomes the mix's **expected net
monetary benefit** over the baseline (GBP per system, at the stated willingness to pay per task;
:mod:`.economics`): each mix and the baseline run on draws ``0 .. draws - 1`` of every uncertain
quantity (:mod:`simulation.posterior`, "What a draw holds"), one seed each, tied to the draw, and
the score is the mean over draws of the paired difference in NMB, so the search picks the mix
that is best on average over plausible worlds, not the one that is best at the calibrated point
alone. The budget still bounds the mean incremental cost; the validation re-runs the best mix
on fresh draws.

**The study.** One Optuna study per study folder ``OUT``, maximising the gain, with the budget as
a constraint (``trial.set_constraint``: the overspend in shares of the budget, feasible at zero or
below). Optuna's TPE sampler then ranks every mix over budget below every mix within it, by its
overspend. Each lever takes one of the coverages ``levels`` (0: the lever is unused). When the
study is created, one trial per lever on its own at the top level is queued (``enqueue_trial``),
so the search knows from the start what each lever buys alone.

The front is computed from the trials, not searched for: the analyst's question is one point of
it (the best gain the budget buys), and a two-objective study (gain up, cost down) would spread
its trials along the whole front, most of them far cheaper or far dearer than the budget.
Every evaluation, over budget or not (repairs included), goes on the cost-gain front.

**Storage: Optuna's journal file, always** (``OUT/study.journal``,
:class:`optuna.storages.JournalStorage` on a :class:`~optuna.storages.journal.JournalFileBackend`):

* ``n_jobs`` trials run at once, one worker process each, all writing to the study; Optuna's
  maintainers advise against SQLite for concurrent writers, and the journal is built for them (an
  append-only log, each append under a file lock and synced to disk);
* one storage whatever ``n_jobs`` is keeps one code path, and a study started with one worker
  resumes with several;
* it is plain JSON lines, needing no database; ``optuna-dashboard OUT/study.journal`` watches
  it.

**Resume.** Re-running the same command on the same folder continues the study: completed trials
are kept and count towards ``trials``. The journal has no heartbeat (Optuna fails stale trials
only in its RDB storage), so the search holds a lock on the folder (``.search.lock``, ``flock``:
the kernel releases it when the last process holding it dies, even on SIGKILL). A search that
takes it knows that no process works on the study, so every trial still marked running was
killed: it is marked failed and its mix queued again, and its finished runs come from the run
cache. Settings that define the study (:data:`STUDY_KEYS`) cannot change on resume; ``trials``,
``n_jobs`` and the others can (more trials extend a finished study).

**Outputs.** ``OUT/policy/``: ``trials.csv`` (every distinct mix evaluated), ``pareto.csv`` and
``pareto.png`` (the cost-gain front), ``report.md``, and ``validation.json``: the best mix within
budget re-run on fresh seeds (``validation_seeds``), to estimate its gain without the optimism of
having been picked as the best. ``slsim-policy report OUT`` writes them again.
"""

import argparse
import contextlib
import dataclasses
import fcntl
import logging
import math
import multiprocessing
import os
import sys
import typing
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution
from optuna.samplers import TPESampler
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from ..commands import comma_list, progress_logging, reported_errors, setting_help
from ..config import ics_options
from ..layout import status_files
from ..outputs import format_gbp
from ..params import ConfigError, choice, param, validate
from ..posterior import posterior
from ..results_io import write_figure, write_json, write_streamed
from . import economics
from .batch import load_results, plan_jobs, run_batch, run_values
from .levers import check_mix, lever_files, mix_overrides
from .outcomes import OUTCOMES, outcome
from .stats import paired_difference
from .tables import markdown_table

log = logging.getLogger(__name__)
PROG = "slsim-policy"
STUDY_FILE = "study.journal"
STUDY_NAME = "slsim_policy"
SEARCH_LOCK = ".search.lock"  # held by every process of a search, while it runs
CLAIM_LOCK = ".claim.lock"  # held by a worker while it checks the trial count and asks a trial
SETTINGS_ATTR = "settings"  # the study's user attribute holding its settings
EVALUATIONS_ATTR = "evaluations"  # a trial's user attribute: its evaluations, the final one last
BUDGET_CONSTRAINT = "over_budget"  # (cost - budget) / budget: feasible at zero or below
REPORT_DIR = "policy"
REPAIR_MARGIN = 0.95  # aim a little under the budget: costs grow less than linearly in coverage


# --- Settings -----------------------------------------------------------------------------------

OBJECTIVES = tuple(name for name, item in OUTCOMES.items() if item.sign())
# Coverage levels on a log grid with zero (lever unused): a budget affords most levers only at
# low coverage and the best mix may use few levers. (Uniform draws in [0, 1] cost several times
# the budget.)
DEFAULT_LEVELS = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]


@dataclass
class PolicySettings:
    """The settings of a policy search, declared with the schema's field factories and checked
    on creation by :func:`simulation.params.validate` (an error names the key and its allowed
    values). The command line's options are made from these fields."""

    ics: str = choice("default_ics", ics_options(),
                      "System the mixes run on (an archetype, england or icb/<slug>).")
    weeks: int = param(156, 1, 2080, "weeks", "Horizon of every run.", "-")
    seeds: int = param(5, 2, 1000, "seeds",
                       "Seeds 0..seeds-1 per mix: the objective is their mean paired gain.", "-")
    objective: str = choice("sl_density", OBJECTIVES,
                            "Outcome whose gain over the baseline the search maximises.")
    budget: float = param(1_000_000.0, 1.0, 1e12, "GBP",
                          "Mean incremental cost over the run a mix may spend.", "-")
    levers: list[str] = choice(list(lever_files()), list(lever_files()),
                               "Levers the search varies, comma-separated (by default every "
                               "entry of configs/intervention/).")
    levels: list[float] = param(DEFAULT_LEVELS, 0.0, 1.0, "share per year",
                                "Coverages a lever may take, comma-separated (0: the lever is "
                                "unused).", "-")
    budget_repairs: int = param(2, 0, 10, "evaluations",
                                "Times an over-budget mix is scaled down to the budget and "
                                "re-run.", "-")
    trials: int = param(60, 1, 100_000, "trials", "Completed trials the study is to have.", "-")
    n_jobs: int = param(2, 1, 256, "processes",
                        "Trials at once, one process each; also the processes of the baseline "
                        "and validation runs.", "-")
    sampler_seed: int = param(0, 0, 2**32 - 1, "seed", "Seed of the TPE sampler (worker i: "
                              "seed + i).", "-")
    startup_trials: int = param(16, 0, 100_000, "trials",
                                "Completed trials (the single-lever ones included) before TPE "
                                "models the results instead of sampling at random.", "-")
    validation_seeds: int = param(10, 0, 1000, "seeds",
                                  "Fresh seeds (with draws: fresh draws) the best mix is re-run "
                                  "on after the search (0: skip).", "-")
    draws: int = param(0, 0, len(posterior().draws), "draws",
                       "Score each mix by its expected net benefit over draws 0..draws-1 of "
                       "every uncertain quantity, one seed each (0: the gain at the calibrated "
                       "point over the seeds).", "-")

    def __post_init__(self) -> None:
        validate(self)
        if not self.levers or len(set(self.levers)) != len(self.levers):
            raise ConfigError(f"levers = {self.levers} must name at least one lever, each once; "
                              f"allowed values are {list(lever_files())}")
        if self.draws and self.draws + self.validation_seeds > len(posterior().draws):
            raise ConfigError(f"draws + validation_seeds = {self.draws + self.validation_seeds}"
                              f": allowed values are at most {len(posterior().draws)}, the "
                              "posterior's draws (the validation takes fresh ones)")
        if 0.0 not in self.levels or max(self.levels) == 0 \
                or len(set(self.levels)) != len(self.levels):
            raise ConfigError(f"levels = {self.levels} must hold 0 (the lever unused) and at "
                              "least one positive coverage, each once")

    @property
    def base(self) -> list[str]:
        """The ``slsim`` overrides every run of the search starts from."""
        return [f"ics={self.ics}", f"weeks={self.weeks}"]

    @property
    def replicates(self) -> range:
        """What a mix is scored over: the draws 0..draws-1 if there are draws, else the
        seeds."""
        return range(self.draws or self.seeds)

    def replicate(self, k: int) -> str:
        """The override of replicate ``k``: draw ``k`` (its seed tied to it) or seed ``k``."""
        return f"draw={k}" if self.draws else f"seed={k}"


# Settings that define a study: changing one would mix trials that answer different questions.
STUDY_KEYS = ("ics", "weeks", "seeds", "objective", "budget", "levers", "levels",
              "budget_repairs", "draws")


def resolve_settings(given: Mapping[str, Any], stored: Mapping[str, Any] | None) -> PolicySettings:
    """The settings of a search: those ``stored`` with an existing study (else the defaults),
    with ``given`` on top; a :class:`ConfigError` names a bad value, or a setting of
    :data:`STUDY_KEYS` that differs from the stored study's."""
    settings = PolicySettings(**{**(stored or {}), **given})
    if stored:  # a study from before a setting existed has that setting's default
        stored = {**asdict(PolicySettings(**stored)), **stored}
        changed = [key for key in STUDY_KEYS if getattr(settings, key) != stored[key]]
        if changed:
            key = changed[0]
            raise ConfigError(f"{key} = {getattr(settings, key)!r} differs from the study "
                              f"already in this folder ({key} = {stored[key]!r}); the settings "
                              f"{list(STUDY_KEYS)} are fixed when a study starts: resume with "
                              "them unchanged, or use another folder")
    return settings


# --- Evaluating a mix ---------------------------------------------------------------------------

def baseline_jobs(settings: PolicySettings, replicates: range) -> list[list[str]]:
    """The baseline's runs on ``replicates`` (seeds, or draws), as ``slsim`` overrides."""
    return [[*settings.base, settings.replicate(k), "scenario=baseline"] for k in replicates]


def net_benefit_gain(batch: Any, n: int, draws: range) -> Any:
    """The paired difference, draw by draw, in net monetary benefit between the first ``n``
    runs of ``batch`` (the mix, on ``draws``) and the next ``n`` (the baseline), each run's
    costs and tasks discounted and priced at its draw (:mod:`.economics`)."""
    _, series = load_results(batch)
    prices = economics.EconomicParams()
    totals = economics.discounted_totals(series, prices.discount_rate).loc[batch.hashes]
    replacement = economics.prices_at(draws)["economics.replacement_cost"].to_numpy(float)
    cost = economics.total_cost(totals["intervention_cost"].to_numpy(),
                                totals["leavers"].to_numpy(), np.tile(replacement, 2))
    nmb = economics.net_monetary_benefit(totals["tasks"].to_numpy(), cost, prices.wtp_per_task)
    return paired_difference(nmb[:n], nmb[n:])


def evaluate_mix(settings: PolicySettings, coverage: Mapping[str, float], out_dir: Path,
                 replicates: range | None = None, n_jobs: int = 1) -> dict[str, Any]:
    """Run a mix and the baseline on ``replicates`` (default :attr:`PolicySettings.replicates`:
    the seeds, or the draws) into ``out_dir`` on ``n_jobs`` processes and score the mix; returns
    its record (plain JSON)."""
    seeds = replicates if replicates is not None else settings.replicates
    mix = mix_overrides(coverage)
    jobs = ([[*settings.base, settings.replicate(k), *mix] for k in seeds]
            + baseline_jobs(settings, seeds))
    batch = plan_jobs(jobs, out_dir)
    run_batch(batch, n_jobs=n_jobs, record=False, progress_interval=60.0)
    item = outcome(settings.objective)
    values = run_values(batch, [item, OUTCOMES["cost"]])
    hashes = batch.hashes
    missing = [h for h in hashes if h not in values.index]
    if missing:
        raise RuntimeError(f"{len(missing)} runs of the mix did not succeed (see "
                           f"{status_files(out_dir)}); the mix cannot be scored")
    n = len(seeds)
    mix_values, base_values = values.loc[hashes[:n]], values.loc[hashes[n:]]
    gain = paired_difference(mix_values[item.name].to_numpy(), base_values[item.name].to_numpy())
    cost = paired_difference(mix_values["cost"].to_numpy(), base_values["cost"].to_numpy())
    sign = item.sign()
    low, high = sorted((sign * gain.relative.low * 100, sign * gain.relative.high * 100))
    record = {
        "coverage": check_mix(coverage),
        "mix_hash": hashes[0], "seeds": [seeds.start, seeds.stop - 1],
        "objective": item.name, "objective_mean": float(gain.treatment_mean),
        "baseline_mean": float(gain.baseline_mean),
        "gain": float(sign * gain.relative.mean * 100), "gain_low": float(low),
        "gain_high": float(high), "gain_clear": bool(gain.clear()),
        "cost": float(cost.difference.mean), "cost_low": float(cost.difference.low),
        "cost_high": float(cost.difference.high), "budget": settings.budget,
    }
    if settings.draws:  # the expected net benefit over draws is the score
        nmb = net_benefit_gain(batch, n, seeds)
        record.update({"objective": "net_benefit", "gain": float(nmb.difference.mean),
                       "gain_low": float(nmb.difference.low),
                       "gain_high": float(nmb.difference.high), "gain_clear": bool(nmb.clear()),
                       "draws": record.pop("seeds")})
    record["feasible"] = record["cost"] <= settings.budget
    return record


def evaluate_within_budget(settings: PolicySettings, coverage: Mapping[str, float],
                           out_dir: Path) -> list[dict[str, Any]]:
    """Evaluate a mix; while it is over budget (at most ``budget_repairs`` times), scale every
    coverage down by the share of its cost the budget allows, and evaluate again.

    The search then explores the *proportions* of a mix, and spends the budget, instead of
    wasting trials over it. Returns every evaluation, the final one last: the earlier ones
    belong on the cost-gain front too.
    """
    evaluations = [evaluate_mix(settings, coverage, out_dir)]
    for _ in range(settings.budget_repairs):
        last = evaluations[-1]
        if last["feasible"] or last["cost"] <= 0:
            break
        factor = REPAIR_MARGIN * settings.budget / last["cost"]
        scaled = {k: v * factor for k, v in last["coverage"].items()}
        evaluations.append(evaluate_mix(settings, scaled, out_dir))
    return evaluations


def over_budget(cost: float, budget: float) -> float:
    """The budget constraint of a trial: its overspend in shares of the budget (zero or below:
    within budget)."""
    return (cost - budget) / budget


def gain_text(record: Mapping[str, Any]) -> str:
    """A mix's score with its 95% CI: % of the baseline, or GBP of expected net benefit."""
    write = (format_gbp if record["objective"] == "net_benefit"
             else (lambda value: f"{value:+.2f}%"))
    return (f"{write(record['gain'])} ({write(record['gain_low'])} to "
            f"{write(record['gain_high'])})")


def describe(record: Mapping[str, Any]) -> str:
    """One line on an evaluated mix: its levers, gain with 95% CI, cost and budget."""
    levers = {k: round(v, 4) for k, v in record["coverage"].items() if v} or "none (baseline)"
    return (f"mix {levers}: {record['objective']} gain {gain_text(record)}, cost GBP "
            f"{record['cost']:,.0f} ({'within' if record['feasible'] else 'over'} the budget "
            f"of GBP {record['budget']:,.0f})")


# --- The study ----------------------------------------------------------------------------------

def lever_param(lever: str) -> str:
    """The Optuna parameter of a lever's coverage."""
    return f"coverage.{lever}"


def search_space(settings: PolicySettings) -> dict[str, CategoricalDistribution]:
    """Each lever's coverage, one of ``settings.levels``."""
    return {lever_param(lever): CategoricalDistribution(settings.levels)
            for lever in settings.levers}


def journal(study_dir: Path) -> JournalStorage:
    """The study folder's Optuna storage (the journal file is created if missing)."""
    return JournalStorage(JournalFileBackend(str(Path(study_dir) / STUDY_FILE)))


def stored_settings(study_dir: Path) -> dict[str, Any] | None:
    """The settings of the study in ``study_dir``, or None if it holds none (yet)."""
    if not (Path(study_dir) / STUDY_FILE).exists():
        return None
    try:
        study = optuna.load_study(study_name=STUDY_NAME, storage=journal(study_dir))
    except KeyError:  # the journal was made but the study not created in it
        return None
    return study.user_attrs.get(SETTINGS_ATTR)


def load_study(study_dir: Path) -> tuple[optuna.Study, PolicySettings]:
    """The study in ``study_dir`` and its settings; FileNotFoundError if there is none."""
    stored = stored_settings(study_dir)
    if stored is None:
        raise FileNotFoundError(f"no policy search in {study_dir} (no {STUDY_FILE} with a "
                                f"study): run `{PROG} search {study_dir}` first")
    study = optuna.load_study(study_name=STUDY_NAME, storage=journal(study_dir))
    return study, PolicySettings(**stored)


def open_study(study_dir: Path, settings: PolicySettings) -> optuna.Study:
    """Create the study (queueing one trial per lever on its own) or load it, and store
    ``settings`` in it (those of :data:`STUDY_KEYS` are the study's own, by
    :func:`resolve_settings`; the others are the latest search's, for the report)."""
    study = optuna.create_study(study_name=STUDY_NAME, storage=journal(study_dir),
                                direction="maximize", load_if_exists=True)
    if SETTINGS_ATTR not in study.user_attrs:  # new, or killed before its settings were stored
        top = max(settings.levels)
        for lever in settings.levers:
            study.enqueue_trial({lever_param(other): top if other == lever else 0.0
                                 for other in settings.levers}, skip_if_exists=True)
    study.set_user_attr(SETTINGS_ATTR, asdict(settings))  # last: the study is set up
    return study


def requeue_unfinished(study: optuna.Study) -> list[int]:
    """Mark every trial still running as failed and queue its mix again; returns their numbers.

    Called only under the search's exclusive lock, when no process works on the study: a trial
    still running was killed. Its finished runs are in the run cache, so re-running it is cheap.
    """
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params)
    return [trial.number for trial in stale]


@contextlib.contextmanager
def folder_lock(path: Path, *, shared: bool = False, wait: bool = True) -> Iterator[Any]:
    """Hold an ``flock`` on ``path`` (created if missing) and yield its open file; the kernel
    releases the lock when every process holding it has closed it or died. ``wait=False``
    raises BlockingIOError if another process holds it."""
    with open(path, "a") as handle:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                    | (0 if wait else fcntl.LOCK_NB))
        yield handle


def run_trial(study: optuna.Study, trial: optuna.Trial, settings: PolicySettings,
              study_dir: Path) -> None:
    """Evaluate a trial's mix (with budget repairs) and tell Optuna its gain and constraint.

    A trial that raises (a run failed, Ctrl-C) is marked failed and its mix queued again, so the
    next search on the folder retries it, with the runs it finished from the cache.
    """
    coverage = {lever: trial.params[lever_param(lever)] for lever in settings.levers}
    try:
        evaluations = evaluate_within_budget(settings, coverage, study_dir)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        study.enqueue_trial(trial.params)
        raise
    final = evaluations[-1]
    trial.set_user_attr(EVALUATIONS_ATTR, evaluations)
    trial.set_constraint(BUDGET_CONSTRAINT, over_budget(final["cost"], settings.budget))
    study.tell(trial, final["gain"])
    repairs = len(evaluations) - 1
    log.info("trial %d (%d budget repairs): %s", trial.number, repairs, describe(final))


def claim_and_run(study_dir: Path, settings: PolicySettings, worker: int,
                  parent: int | None = None) -> None:
    """Run trials until the study has ``settings.trials`` completed or running trials.

    A trial is claimed (``study.ask``) under the claim lock, so workers running at once never
    take more trials than that. ``parent``: stop before claiming another trial once the process
    that started this worker has gone (the search was killed).
    """
    sampler = TPESampler(seed=(settings.sampler_seed + worker) % 2**32,
                         n_startup_trials=settings.startup_trials)
    study = optuna.load_study(study_name=STUDY_NAME, storage=journal(study_dir), sampler=sampler)
    space = search_space(settings)
    while parent is None or os.getppid() == parent:
        with folder_lock(study_dir / CLAIM_LOCK):
            taken = study.get_trials(deepcopy=False,
                                     states=(TrialState.COMPLETE, TrialState.RUNNING))
            if len(taken) >= settings.trials:
                return
            trial = study.ask(space)
        run_trial(study, trial, settings, study_dir)


def worker_main(study_dir: str, settings: dict[str, Any], worker: int, parent: int) -> None:
    """A worker process of a search (spawned): it holds the search's lock shared, so a search
    killed while its workers finish their trials cannot be resumed under them."""
    configure_logging(f"worker {worker}: ")
    try:
        with folder_lock(Path(study_dir) / SEARCH_LOCK, shared=True):
            claim_and_run(Path(study_dir), PolicySettings(**settings), worker, parent)
    except KeyboardInterrupt:  # the search was stopped; its trial is marked failed and queued
        sys.exit(130)


def run_search(study_dir: Path, settings: PolicySettings) -> optuna.Study:
    """Create or resume the study in ``study_dir`` and run trials until ``settings.trials`` are
    complete, ``settings.n_jobs`` at a time."""
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            handle = stack.enter_context(folder_lock(study_dir / SEARCH_LOCK, wait=False))
        except BlockingIOError:
            raise RuntimeError(f"another {PROG} search is working on {study_dir} (it holds "
                               f"{study_dir / SEARCH_LOCK}); wait for it to end or stop it"
                               ) from None
        study = open_study(study_dir, settings)
        requeued = requeue_unfinished(study)
        complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if requeued:
            log.info("Trials %s were killed while running: marked failed, their mixes queued "
                     "again", requeued)
        log.info("Study %s: %d of %d trials complete", study_dir / STUDY_FILE, complete,
                 settings.trials)
        fcntl.flock(handle, fcntl.LOCK_SH)  # recovery done: let this search's workers share it
        # The baseline once, before trials running at once would race to write it.
        run_batch(plan_jobs(baseline_jobs(settings, settings.replicates), study_dir),
                  n_jobs=settings.n_jobs, record=False)
        workers = min(settings.n_jobs, settings.trials - complete)
        if workers == 1:
            claim_and_run(study_dir, settings, worker=0)
        elif workers > 1:
            # Spawned, not forked: this process has threads (the sweep monitor's, joblib's).
            context = multiprocessing.get_context("spawn")
            processes = [context.Process(target=worker_main, name=f"slsim-policy-worker-{i}",
                                         args=(str(study_dir), asdict(settings), i,
                                               os.getpid()))
                         for i in range(workers)]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            failed = [p.name for p in processes if p.exitcode != 0]
            if failed:
                raise RuntimeError(f"{len(failed)} of {workers} workers stopped with an error "
                                   "(above); completed trials are kept: re-run the same command "
                                   "to resume")
    return study


# --- Report -------------------------------------------------------------------------------------

def load_trials(study: optuna.Study) -> pd.DataFrame:
    """Every evaluation of the study's completed trials, one row per distinct mix (its first
    evaluation kept), with its ``trial`` number, ``step`` and whether it is the trial's
    ``final`` evaluation."""
    rows = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        steps = trial.user_attrs[EVALUATIONS_ATTR]
        for step, record in enumerate(steps):
            rows.append({**{k: v for k, v in record.items() if k != "coverage"},
                         **{f"coverage.{k}": v for k, v in record["coverage"].items()},
                         "trial": trial.number, "step": step,
                         "final": step == len(steps) - 1})
    if not rows:
        raise RuntimeError("the study has no completed trial yet: has the search run?")
    frame = pd.DataFrame(rows).sort_values(["trial", "step"])
    frame = frame.drop_duplicates("mix_hash", keep="first")
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
    over = (f"{settings.draws} draws" if settings.draws else f"{settings.seeds} seeds")
    ax.set_ylabel("expected net benefit vs baseline, GBP (paired by draw)" if settings.draws
                  else f"gain in {item.label} vs baseline, % (paired by seed)")
    ax.set_title(f"Policy search: cost against {objective_words(settings)}\n{settings.ics}, "
                 f"{settings.weeks} weeks, {len(trials)} mixes, mean of {over} each",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def objective_words(settings: PolicySettings) -> str:
    """What the search maximises, in a few words."""
    return ("expected net benefit" if settings.draws
            else f"gain in {outcome(settings.objective).label}")


def _mix_text(row: pd.Series, levers: list[str]) -> str:
    parts = [f"{c.removeprefix('coverage.')} {row[c]:.2f}" for c in levers if row[c] > 0.005]
    return ", ".join(parts) or "nothing (baseline)"


def write_policy_report(study_dir: Path, validate: bool = True,
                        out: Path | None = None) -> dict[str, Path]:
    """The Pareto front, every trial, the validated best mix and ``report.md`` of the study in
    ``study_dir``, in ``out`` (default ``study_dir/policy``)."""
    study_dir = Path(study_dir)
    study, settings = load_study(study_dir)
    trials = load_trials(study)
    completed = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    front = pareto_front(trials)
    feasible = trials[trials["feasible"].astype(bool)]
    best = feasible.loc[feasible["gain"].idxmax()] if not feasible.empty else None
    out = Path(out) if out else study_dir / REPORT_DIR
    levers = [c for c in trials.columns if c.startswith("coverage.")]
    paths = {name: write_streamed(out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False))
             for name, frame in (("trials.csv", trials.sort_values(["feasible", "gain"],
                                                                   ascending=False)),
                                 ("pareto.csv", front))}
    fig = pareto_figure(trials, front, best, settings)
    paths["pareto.png"] = write_figure(out / "pareto.png", fig)
    plt.close(fig)
    validation = None
    if validate and best is not None and settings.validation_seeds:
        first = len(settings.replicates)
        fresh = range(first, first + settings.validation_seeds)
        coverage = {c.removeprefix("coverage."): float(best[c]) for c in levers}
        validation = evaluate_mix(settings, coverage, study_dir, fresh, n_jobs=settings.n_jobs)
        paths["validation.json"] = write_json(out / "validation.json", validation)
    item = outcome(settings.objective)
    interrupted = (f" ({failed} more trials failed or were interrupted; their mixes were queued "
                   "again)") if failed else ""
    objective = (
        f"the expected net monetary benefit over the baseline (GBP per system, at "
        f"{format_gbp(economics.EconomicParams().wtp_per_task)} per task delivered, costs net "
        f"of leavers' replacement), paired by draw and averaged over {settings.draws} draws "
        "of every uncertain quantity, one seed each" if settings.draws else
        f"the gain in {item.label} ({item.horizon}) over the baseline, in % of the baseline "
        f"mean, paired by seed and averaged over {settings.seeds} seeds per mix")
    lines = [f"# Policy search: the best mix under a budget of GBP {settings.budget:,.0f}", "",
             f"Objective: {objective}; {settings.ics}, {settings.weeks} weeks. {completed} "
             f"trials{interrupted} evaluated {len(trials)} distinct mixes, "
             f"{int(trials['feasible'].sum())} within budget: a trial whose mix costs more "
             "than the budget scales every coverage down in proportion and runs again (at most "
             f"{settings.budget_repairs} times). Cost is the mean incremental cost over the run "
             "(GBP).", ""]
    if best is not None:
        lines += ["## Best mix within budget", "",
                  f"* Mix (coverage per year): {_mix_text(best, levers)}.",
                  f"* Gain in the search: {gain_text(best)} (95% CI), cost GBP "
                  f"{best['cost']:,.0f}."]
        if validation is not None:
            fresh = "draws" if settings.draws else "seeds"
            lines.append(
                f"* Re-run on {settings.validation_seeds} fresh {fresh} "
                f"({validation[fresh][0]}-{validation[fresh][1]}): gain "
                f"{gain_text(validation)} (95% CI), cost GBP {validation['cost']:,.0f}. Picking "
                "the best of many noisy trials flatters it; this estimate does not.")
        lines.append("")
    else:
        lines += ["No mix evaluated was within budget.", ""]
    rows = [[format_gbp(r["cost"]), gain_text(r), "yes" if r["feasible"] else "no",
             _mix_text(r, levers)] for _, r in front.iterrows()]
    lines += ["## Cost-gain Pareto front", "",
              "Mixes that no other mix beats on both cost and gain, from the cheapest; what "
              "each extra pound buys. Mixes over budget are shown to say what more money would "
              "buy.", "", "![Pareto front](pareto.png)", "",
              markdown_table(["cost", f"{objective_words(settings)} (95% CI)", "within budget",
                              "mix (coverage per year)"], rows), "",
              f"Every mix evaluated: `trials.csv`. The study: `{STUDY_FILE}` (Optuna's journal; "
              "the sampler ranks mixes over budget below every mix within it, by overspend).",
              ""]
    text = "\n".join(lines)
    paths["report.md"] = write_streamed(out / "report.md", lambda tmp: Path(tmp).write_text(text))
    return paths


# --- Command line -------------------------------------------------------------------------------

def configure_logging(prefix: str = "") -> None:
    progress_logging(prefix)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # each trial gets our own line


def _option_type(field: dataclasses.Field):
    """How the command line reads a setting: a number, a name, or a comma-separated list."""
    if typing.get_origin(field.type) is list:
        item = typing.get_args(field.type)[0]
        return lambda text: [item(part) for part in comma_list(text)]
    return field.type


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per setting (``--n-jobs`` sets ``n_jobs``), left out of the namespace unless
    given: the defaults live in :class:`PolicySettings`, or in the study when it resumes."""
    group = parser.add_argument_group(
        f"settings (resuming, a study keeps its own; {', '.join(STUDY_KEYS)} cannot change)")
    for field in dataclasses.fields(PolicySettings):
        group.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name,
                           type=_option_type(field), metavar=field.name.upper(),
                           help=setting_help(PolicySettings, field.name))


def _parse_mix(items: list[str]) -> dict[str, float]:
    """``LEVER=COVERAGE`` items as a checked mix."""
    mix = {}
    for item in items:
        lever, _, value = item.partition("=")
        try:
            mix[lever] = float(value)
        except ValueError:
            raise ConfigError(f"{item!r} is not LEVER=COVERAGE (e.g. protected_time=0.1)"
                              ) from None
    return check_mix(mix)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Search mixes of levers for the best gain under a budget "
        "(Optuna); resumable: the same command on the same folder continues the study.")
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", argument_default=argparse.SUPPRESS,
                                 help="run or resume the search, then write the report")
    search.add_argument("study_dir", type=Path,
                        help="the study folder: its journal, runs and report")
    _add_settings(search)
    score = commands.add_parser("score", argument_default=argparse.SUPPRESS,
                                help="evaluate one mix as it is (no budget repair)")
    score.add_argument("study_dir", type=Path,
                       help="folder of the runs; in a study's folder, the study's settings")
    score.add_argument("mix", nargs="+", metavar="LEVER=COVERAGE",
                       help=f"coverage of a lever: {', '.join(lever_files())}")
    _add_settings(score)
    report = commands.add_parser("report", help="write the report of a study again")
    report.add_argument("study_dir", type=Path)
    report.add_argument("--no-validation", action="store_true",
                        help="skip re-running the best mix on fresh seeds")
    report.add_argument("--out", type=Path, default=None,
                        help="report folder (default STUDY_DIR/policy)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        with reported_errors(PROG, ValueError, OSError, RuntimeError):
            if args.command == "report":
                paths = write_policy_report(args.study_dir, validate=not args.no_validation,
                                            out=args.out)
            else:
                names = {f.name for f in dataclasses.fields(PolicySettings)}
                given = {k: v for k, v in vars(args).items() if k in names}
                settings = resolve_settings(given, stored_settings(args.study_dir))
                if args.command == "score":
                    mix = _parse_mix(args.mix)
                    record = evaluate_mix(settings, mix, args.study_dir, n_jobs=settings.n_jobs)
                    print(describe(record))
                    return
                run_search(args.study_dir, settings)
                paths = write_policy_report(args.study_dir)
            print(f"Policy search report: {paths['report.md']}")
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the same command resumes the search", file=sys.stderr)
        sys.exit(130)
