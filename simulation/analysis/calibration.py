"""Calibration to the published figures: history matching, then ABC-SMC with pyabc.

1. **History matching** (McCulloch et al. 2022): waves of design points drawn from the priors
   (inside the region not yet ruled out), each run on ``seeds`` replicate seeds; a Gaussian
   process emulates each fitted target's statistic over the parameters (in the priors' unit
   cube), and points whose implausibility exceeds ``cutoff`` (3) on any target are ruled out.
   The implausibility holds the target's observation and discrepancy variance, the emulator's
   variance and the seed variance of the mean (:class:`simulation.analysis.targets.Target`).
2. **ABC-SMC** (pyabc) inside the region not ruled out: the prior is the schema's priors
   restricted to that region; the distance scales each target by its total standard deviation;
   populations run until epsilon changes by less than ``min_eps_change`` or the acceptance rate
   falls below ``min_acceptance``. Every generation is stored in pyabc's SQLite history, so a
   calibration stopped at any point resumes where it stopped: each generation is run on its own,
   with numpy's global generator (which pyabc draws from) seeded from ``(sample_seed, t)``, so
   a resumed calibration with the single-core sampler ends bit-identical to an uninterrupted one.

Runs go through the model's fast path (one composed config, copied and changed per particle),
not a Hydra job each. Replicate seeds of a particle come from a hash of its values, so the same
particle always meets the same seeds.
"""

import copy
import dataclasses
import json
import logging
import math
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from ..commands import (
    comma_list,
    progress_logging,
    reported_errors,
    setting_help,
    settings_from,
    sweep_parser,
)
from ..config import RunConfig, build_config, group_options
from ..model import SharedLeadershipModel
from ..params import ConfigError, choice, param, uncertain_parameters, validate
from ..posterior import FILES, POSTERIOR_DIR, UNCALIBRATED, posterior
from ..priors import Prior
from ..results_io import write_json, write_streamed
from .sensitivity import screen
from .targets import (
    TARGETS_FILE,
    Target,
    chosen_targets,
    load_targets,
    seed_variance_of_mean,
)

log = logging.getLogger(__name__)
PROG = "slsim-calibrate"
HISTORY_FILE = "history.db"
WAVES_FILE = "waves.json"  # the history-matching waves, read back on a resume
GENERATIONS_FILE = "generations.json"  # each ABC-SMC generation's figures, across resumes


@dataclass
class CalibrationSettings:
    """What one calibration is asked, checked by the schema machinery when made."""

    ics: str = choice("small_ics", group_options("ics"), "ICS archetype of every run")
    weeks: int = param(156, 53, 2080, "weeks", "horizon of every run", "-")
    parameters: list[str] = choice([], tuple(uncertain_parameters()),
                                   "parameters fitted (the others stay at their defaults)")
    screen: Path | None = None  # a Morris screening on the priors whose ``top`` are fitted
    top: int = param(6, 1, 100, "parameters", "parameters kept from the Morris screening", "-")
    targets: list[str] = field(default_factory=list)  # fitted targets (none: every fit target)
    targets_file: Path = TARGETS_FILE
    seeds: int = param(2, 1, 100, "seeds", "replicate seeds per particle or design point", "-")
    wave_points: int = param(80, 10, 100000, "points", "design points of a history-matching "
                             "wave", "-")
    waves: int = param(2, 0, 20, "waves", "history-matching waves before ABC-SMC", "-")
    cutoff: float = param(3.0, 1.0, 10.0, "implausibility",
                          "implausibility above which a point is ruled out", "-")
    population_size: int = param(500, 10, 100000, "particles", "ABC-SMC population size", "-")
    max_generations: int = param(20, 1, 1000, "generations", "most ABC-SMC generations", "-")
    min_eps_change: float = param(0.05, 0.0, 1.0, "share", "stop when epsilon changes by less "
                                  "than this share between generations", "-")
    min_acceptance: float = param(0.02, 0.0, 1.0, "share", "stop when the acceptance rate falls "
                                  "below this", "-")
    # A time budget: no generation starts that the last one's length says would end past it.
    max_minutes: float | None = None
    # ABC-SMC's perturbation kernel, a Gaussian about each particle of the last generation. None:
    # pyabc's default, the population's weighted covariance shrunk by Silverman's rule on its
    # effective sample size (a factor of about 0.37 for 7 parameters at ESS 100): proposals stay
    # near the heavy particles, so the weights grow uneven and the ESS falls generation by
    # generation. A number: that multiple of the weighted covariance; 2 is Beaumont et al.'s
    # (2009, Biometrika 96:983) choice, wider, so fewer proposals are accepted but their weights
    # are more even (Filippi et al. 2013, Stat Appl Genet Mol Biol 12:87).
    kernel_scale: float | None = None
    sample_seed: int = param(0, 0, 2**32 - 1, "seed", "seed of the designs and of pyabc", "-")
    n_jobs: int = param(1, 1, 1024, "processes", "worker processes (1: pyabc's single-core "
                        "sampler, bit-identical on resume)", "-")
    draws: int = param(1000, 10, 1000000, "draws", "size of the equal-weight resample of the "
                       "posterior that draw=K indexes", "-")
    # A Dask scheduler's address (tcp://HOST:8786): particles run on its workers, on a cluster
    # (pyabc's DaskDistributedSampler; docs/calibration.md). None: this machine's processes.
    dask_scheduler: str | None = None

    def __post_init__(self) -> None:
        self.parameters, self.targets = list(self.parameters or ()), list(self.targets or ())
        validate(self)
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"max_minutes = {self.max_minutes!r}: allowed values are a positive "
                              "number of minutes, or None for no time budget")
        if self.kernel_scale is not None and not 0.1 <= self.kernel_scale <= 10:
            raise ConfigError(f"kernel_scale = {self.kernel_scale!r}: allowed values are a "
                              "number in [0.1, 10] (a multiple of the population's weighted "
                              "covariance), or None for pyabc's default (Silverman's rule)")
        if self.screen is not None:
            if self.parameters:
                raise ConfigError("give parameters or screen, not both")
            self.parameters = screen(self.screen, self.top)
        if not self.parameters:
            raise ConfigError("parameters is empty: name the parameters to fit, or give a "
                              "Morris screening on the priors (screen) to pick them")
        # Refused before any run: an unknown or held-out target, or a bad targets file.
        chosen_targets(load_targets(self.targets_file), self.targets or None, use="fit")


class Simulator:
    """Runs of one system on the fast path: the composed config is copied and the fitted
    parameters set on it, validated like any config."""

    def __init__(self, settings: CalibrationSettings, targets: list[Target]):
        self.settings, self.targets = settings, targets
        # The schema's stated values: unfitted parameters stay at them, whatever is installed.
        self.base: RunConfig = build_config(ics=settings.ics, weeks=settings.weeks,
                                            calibration=UNCALIBRATED)
        self.specs = uncertain_parameters()
        self.runs = 0

    def config(self, values: dict[str, float], seed: int) -> RunConfig:
        config = copy.deepcopy(self.base)
        config.seed = seed
        for path, value in values.items():
            group, name = path.split(".")
            value = float(value)
            setattr(getattr(config, group), name,
                    round(value) if isinstance(self.specs[path]["default"], int) else value)
        for group in {path.split(".")[0] for path in values}:
            validate(getattr(config, group), f"{group}.")
        return config

    def seeds(self, values: dict[str, float]) -> list[int]:
        """The replicate seeds of a particle: from a hash of its values."""
        key = np.array([values[p] for p in sorted(values)], dtype=float).tobytes()
        return [zlib.crc32(key + r.to_bytes(2, "little")) for r in range(self.settings.seeds)]

    def statistics(self, values: dict[str, float]) -> np.ndarray:
        """Each target's statistic in each replicate: an array (seeds, targets)."""
        rows = []
        for seed in self.seeds(values):
            model = SharedLeadershipModel(self.config(values, seed))
            model.run()
            series = model.datacollector.get_model_vars_dataframe()
            breakdown = model.breakdown()
            rows.append([t.read(series, breakdown) for t in self.targets])
            self.runs += 1
        return np.array(rows)


# --- History matching ----------------------------------------------------------------------------

@dataclass
class Wave:
    """One history-matching wave: its design (unit cube), the replicate means and seed
    variances of each target there, and the emulators fitted to them."""

    unit: np.ndarray
    means: np.ndarray
    seed_variance: np.ndarray
    emulators: list[Any]
    runs: int
    seconds: float
    left: float = 1.0  # share of the prior space not ruled out after this wave


def fit_emulators(unit: np.ndarray, means: np.ndarray, seed_variance: np.ndarray) -> list[Any]:
    """A Gaussian process per target over the unit cube (Matern 5/2 with a noise term), its
    mean and scale standardised."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    emulators = []
    for j in range(means.shape[1]):
        kernel = (ConstantKernel(1.0) * Matern(length_scale=np.full(unit.shape[1], 0.5), nu=2.5)
                  + WhiteKernel(1e-3))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2,
                                      random_state=0)
        emulators.append(gp.fit(unit, means[:, j]))
    return emulators


def implausibility(waves: list[Wave], targets: list[Target], unit: np.ndarray) -> np.ndarray:
    """The largest implausibility over targets and waves at points ``unit`` (each wave's
    emulators, with their variance and the wave's mean seed variance)."""
    worst = np.zeros(len(unit))
    for wave in waves:
        for j, (target, gp) in enumerate(zip(targets, wave.emulators, strict=True)):
            mean, sd = gp.predict(unit, return_std=True)
            seed_var = float(np.mean(wave.seed_variance[:, j]))
            variance = target.variance(seed_var) + sd ** 2
            gap = mean - target.value
            if target.kind == "upper_bound":
                gap = np.maximum(gap, 0.0)
            worst = np.maximum(worst, np.abs(gap) / np.sqrt(variance))
    return worst


def not_ruled_out(waves: list[Wave], targets: list[Target], cutoff: float,
                  rng: np.random.Generator, n: int, k: int, max_tries: int = 200) -> np.ndarray:
    """``n`` points of the unit cube not ruled out by the waves so far (rejection sampling)."""
    kept = np.empty((0, k))
    for _ in range(max_tries):
        candidates = rng.random((max(4 * n, 1000), k))
        if waves:
            candidates = candidates[implausibility(waves, targets, candidates) <= cutoff]
        kept = np.vstack([kept, candidates])
        if len(kept) >= n:
            return kept[:n]
    raise RuntimeError(f"history matching ruled out all but {len(kept)} of "
                       f"{max_tries * max(4 * n, 1000)} candidate points: the targets cannot be "
                       "met inside the priors; check the targets' uncertainty or the priors")


def to_values(names: list[str], priors: list[Prior], unit: np.ndarray) -> list[dict[str, float]]:
    """Unit-cube points as parameter values, each coordinate through its prior's quantiles."""
    columns = [prior.ppf(unit[:, j]) for j, prior in enumerate(priors)]
    return [{name: float(col[i]) for name, col in zip(names, columns, strict=True)}
            for i in range(len(unit))]


def history_match(simulator: Simulator, names: list[str], priors: list[Prior],
                  settings: CalibrationSettings, store: Path | None = None) -> list[Wave]:
    """The history-matching waves, each drawn inside the region the ones before left. With a
    ``store`` (``waves.npz``), finished waves are kept there and read back on a resume (their
    emulators refitted: the fit is deterministic), so a resumed calibration does not run them
    again."""
    rng = np.random.default_rng([settings.sample_seed, 0])
    waves: list[Wave] = []
    if store is not None and store.exists():
        saved = json.loads(store.read_text())
        rng.bit_generator.state = saved["rng_state"]  # the next wave draws as it would have
        for w in saved["waves"][:settings.waves]:
            unit, means, seed_var = (np.array(w[k]) for k in ("unit", "means", "seed_variance"))
            waves.append(Wave(unit, means, seed_var, fit_emulators(unit, means, seed_var),
                              w["runs"], w["seconds"], w["left"]))
        if waves:
            log.info("history matching: %d waves read back from %s", len(waves), store)
    for number in range(len(waves), settings.waves):
        start, runs = time.perf_counter(), simulator.runs
        unit = not_ruled_out(waves, simulator.targets, settings.cutoff, rng,
                             settings.wave_points, len(names))
        stats = [simulator.statistics(v) for v in to_values(names, priors, unit)]
        means = np.array([s.mean(axis=0) for s in stats])
        seed_var = np.array([[seed_variance_of_mean(s[:, j]) for j in range(s.shape[1])]
                             for s in stats])
        wave = Wave(unit, means, seed_var, fit_emulators(unit, means, seed_var),
                    simulator.runs - runs, time.perf_counter() - start)
        waves.append(wave)
        wave.left = float(np.mean(implausibility(waves, simulator.targets,
                                                 rng.random((20000, len(names))))
                                  <= settings.cutoff))
        log.info("history matching wave %d: %d points, %d runs, %.0f s; %.1f%% of the prior "
                 "space not ruled out", number + 1, len(unit), wave.runs, wave.seconds,
                 100 * wave.left)
        if store is not None:
            write_json(store, {"rng_state": rng.bit_generator.state, "waves": [
                {"unit": w.unit.tolist(), "means": w.means.tolist(),
                 "seed_variance": w.seed_variance.tolist(), "runs": w.runs,
                 "seconds": w.seconds, "left": w.left} for w in waves]})
    return waves


def seed_variance_near_fit(simulator: Simulator, names: list[str], priors: list[Prior],
                           waves: list[Wave]) -> np.ndarray:
    """Each target's seed variance of a particle's mean (over its replicate seeds), for the
    distance's total uncertainty: the mean over the last wave's points not ruled out (near
    where ABC-SMC will look), or, with no waves, measured at the priors' medians."""
    if waves:
        last = waves[-1]
        kept = implausibility(waves, simulator.targets, last.unit) <= simulator.settings.cutoff
        rows = last.seed_variance[kept] if kept.any() else last.seed_variance
        return rows.mean(axis=0)
    median = {n: float(p.ppf(np.array([0.5]))[0]) for n, p in zip(names, priors, strict=True)}
    stats = simulator.statistics(median)
    return np.array([seed_variance_of_mean(stats[:, j]) for j in range(stats.shape[1])])


# --- ABC-SMC with pyabc --------------------------------------------------------------------------

def pyabc_prior(names: list[str], priors: list[Prior], waves: list[Wave], targets: list[Target],
                cutoff: float) -> Any:
    """The priors as a pyabc distribution, restricted to the region history matching left
    (a constant factor on the density, which ABC-SMC's normalised weights do not see)."""
    import pyabc

    rvs = {}
    for name, prior in zip(names, priors, strict=True):
        d = prior.distribution()
        rvs[name] = pyabc.RV(d.dist.name, *d.args, **d.kwds)
    base = pyabc.Distribution(**rvs)
    if not waves:
        return base
    cdfs = [prior.distribution().cdf for prior in priors]

    class NotRuledOut(pyabc.Distribution):
        def _inside(self, x) -> bool:
            unit = np.array([[cdf(x[n]) for n, cdf in zip(names, cdfs, strict=True)]])
            return bool(implausibility(waves, targets, unit)[0] <= cutoff)

        def rvs(self, *args, **kwargs):
            while True:
                x = base.rvs()
                if self._inside(x):
                    return x

        def pdf(self, x):
            return base.pdf(x) if self._inside(x) else 0.0

    restricted = NotRuledOut(**rvs)
    return restricted


def _unit_bandwidth(effective_size: float, dimension: int) -> float:
    """No shrinking: the kernel's covariance is the weighted covariance times its scaling."""
    return 1.0


def transition(kernel_scale: float | None) -> Any:
    """ABC-SMC's perturbation kernel (``CalibrationSettings.kernel_scale``)."""
    import pyabc

    if kernel_scale is None:
        return pyabc.MultivariateNormalTransition()
    return pyabc.MultivariateNormalTransition(scaling=kernel_scale,
                                              bandwidth_selector=_unit_bandwidth)


def kernel_name(kernel_scale: float | None) -> str:
    return ("Silverman's rule" if kernel_scale is None
            else f"{kernel_scale:g} x weighted covariance")


@dataclass
class Generation:
    """One ABC-SMC generation, for the report and the progress lines."""

    t: int
    epsilon: float
    acceptance: float
    particles: int
    ess: float
    runs: int
    seconds: float
    kernel: str = kernel_name(None)  # the perturbation kernel that proposed it


def calibrate(out_dir: Path, settings: CalibrationSettings,
              targets: dict[str, Target] | None = None) -> dict[str, Any]:
    """History matching, then ABC-SMC, into ``out_dir`` (``history.db``: pyabc's SQLite history,
    resumable). Returns the waves, the generations and the final weighted particles."""
    import pyabc

    began = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fitted = chosen_targets(targets or load_targets(settings.targets_file),
                            settings.targets or None, use="fit")
    specs = uncertain_parameters()
    names = settings.parameters
    priors = [specs[n]["prior"] for n in names]
    simulator = Simulator(settings, fitted)
    waves = history_match(simulator, names, priors, settings, out_dir / WAVES_FILE)
    seed_var = seed_variance_near_fit(simulator, names, priors, waves)
    scale = {t.name: 1.0 / math.sqrt(t.variance(float(v)))
             for t, v in zip(fitted, seed_var, strict=True)}

    def model(particle: dict) -> dict[str, float]:
        means = simulator.statistics({n: particle[n] for n in names}).mean(axis=0)
        return {t.name: float(m) for t, m in zip(fitted, means, strict=True)}

    def distance(simulated: dict, observed: dict) -> float:
        total = 0.0
        for t in fitted:
            gap = simulated[t.name] - observed[t.name]
            if t.kind == "upper_bound":
                gap = max(gap, 0.0)
            total += (gap * scale[t.name]) ** 2
        return math.sqrt(total)

    prior = pyabc_prior(names, priors, waves, fitted, settings.cutoff)
    db = f"sqlite:///{out_dir / HISTORY_FILE}"
    observed = {t.name: t.value for t in fitted}

    def generation_runner() -> Any:
        """A fresh ABCSMC on the stored history: every generation, the first after a resume
        included, starts the same way (pyabc caches the sample it calibrates epsilon from)."""
        if settings.dask_scheduler:
            from distributed import Client

            sampler = pyabc.sampler.DaskDistributedSampler(
                dask_client=Client(settings.dask_scheduler))
        elif settings.n_jobs == 1:
            sampler = pyabc.sampler.SingleCoreSampler()
        else:
            sampler = pyabc.sampler.MulticoreEvalParallelSampler(n_procs=settings.n_jobs)
        return pyabc.ABCSMC(model, prior, distance, population_size=settings.population_size,
                            sampler=sampler, transitions=transition(settings.kernel_scale))

    if (out_dir / HISTORY_FILE).exists():
        history = generation_runner().load(db, 1)
        log.info("resuming the calibration in %s after generation %d", out_dir, history.max_t)
    else:
        history = generation_runner().new(db, observed)
    log_file = out_dir / GENERATIONS_FILE  # every generation's figures, across resumes
    generations = ([Generation(**g) for g in json.loads(log_file.read_text())]
                   if log_file.exists() else [])
    while True:
        done = stop_reason(history, settings) or over_budget(
            settings.max_minutes, time.perf_counter() - began,
            generations[-1].seconds if history.max_t >= 0 else None)
        if done:
            log.info("ABC-SMC stops after generation %d: %s", history.max_t, done)
            break
        t = history.max_t + 1
        abc = generation_runner()
        abc.load(db, 1)  # the stored history (new() made it, with no generation, at t = 0)
        # pyabc draws from numpy's global generator: seeded per generation, so a resumed
        # calibration draws as an uninterrupted one would.
        np.random.seed([settings.sample_seed, 2, t])  # noqa: NPY002
        start = time.perf_counter()
        history = abc.run(max_nr_populations=1)
        pops = history.get_all_populations()
        row = pops[pops["t"] == history.max_t].iloc[0]
        accepted = int(history.get_nr_particles_per_population().iloc[-1])
        samples = int(row["samples"])  # particles simulated, in whichever process ran them
        generation = Generation(int(row["t"]), float(row["epsilon"]),
                                accepted / max(samples, 1), accepted,
                                effective_sample_size(history), samples * settings.seeds,
                                time.perf_counter() - start, kernel_name(settings.kernel_scale))
        generations.append(generation)
        write_json(log_file, [dataclasses.asdict(g) for g in generations])
        runs = sum(w.runs for w in waves) + sum(g.runs for g in generations)
        left = settings.max_generations - history.max_t - 1
        log.info("generation %d: epsilon %.4g, acceptance %.1f%%, ESS %.0f, %d runs so far, "
                 "%.0f s; at most %d more generations (ETA at most %.0f s)", generation.t,
                 generation.epsilon, 100 * generation.acceptance, generation.ess,
                 runs, generation.seconds, left, left * generation.seconds)
    particles, weights = history.get_distribution()
    result = {"waves": waves, "generations": generations, "particles": particles[names],
              "weights": weights,
              "runs": sum(w.runs for w in waves) + sum(g.runs for g in generations),
              "stopped": done,
              "seconds": sum(w.seconds for w in waves) + sum(g.seconds for g in generations),
              "targets": fitted,
              "distance_sd": {t.name: 1.0 / scale[t.name] for t in fitted}}
    write_posterior(out_dir, result, settings)
    return result


def write_posterior(out_dir: Path, result: dict[str, Any], settings: CalibrationSettings) -> None:
    """``particles.csv`` (the weighted final population), ``draws.csv`` (a seeded equal-weight
    resample of ``settings.draws``, which ``draw=K`` indexes) and ``calibration.json`` (what
    went in: settings, the targets file's hash, versions, runs and wall time of each wave and
    generation, and why it stopped)."""
    import hashlib
    from importlib.metadata import version

    particles, weights = result["particles"], np.asarray(result["weights"], float)
    weights = weights / weights.sum()
    table = particles.reset_index(drop=True).assign(weight=weights)
    write_streamed(out_dir / "particles.csv", lambda tmp: table.to_csv(tmp, index=False))
    rng = np.random.default_rng([settings.sample_seed, 3])
    picks = rng.choice(len(table), size=settings.draws, p=weights)
    draws = particles.reset_index(drop=True).iloc[picks].reset_index(drop=True)
    draws.index.name = "draw"
    write_streamed(out_dir / "draws.csv", lambda tmp: draws.to_csv(tmp))
    settings_record = {f.name: (str(getattr(settings, f.name))
                                if isinstance(getattr(settings, f.name), Path)
                                else getattr(settings, f.name))
                       for f in dataclasses.fields(settings)}
    write_json(out_dir / "calibration.json", {
        "settings": settings_record,
        "point": calibrated_point(table),
        "distance_sd": result["distance_sd"],
        "targets": [t.name for t in result["targets"]],
        "targets_sha256": hashlib.sha256(Path(settings.targets_file).read_bytes()).hexdigest(),
        "versions": {name: version(name) for name in ("slsim", "mesa", "numpy", "pyabc",
                                                      "scikit-learn")},
        "runs": result["runs"], "seconds": result["seconds"], "stopped": result["stopped"],
        "final_particles": len(table),
        "final_ess": float(1.0 / (weights ** 2).sum()),
        "waves": [{"points": len(w.unit), "runs": w.runs, "seconds": w.seconds,
                   "share_not_ruled_out": w.left} for w in result["waves"]],
        "generations": [dataclasses.asdict(g) for g in result["generations"]],
    })


def calibrated_point(particles: "pd.DataFrame") -> dict[str, float]:
    """The posterior's weighted medoid: the particle with the least weighted mean distance to
    all others, each parameter scaled to its prior's unit interval. A joint point of the
    posterior, which the marginal medians need not be."""
    specs = uncertain_parameters()
    names = [c for c in particles.columns if c != "weight"]
    unit = np.column_stack([specs[n]["prior"].distribution().cdf(particles[n].to_numpy())
                            for n in names])
    weights = particles["weight"].to_numpy()
    gaps = np.sqrt(((unit[:, None, :] - unit[None, :, :]) ** 2).sum(axis=2))
    best = int(np.argmin(gaps @ weights))
    return {n: float(particles[n].iloc[best]) for n in names}


def effective_sample_size(history: Any) -> float:
    """Kish's effective sample size of the last generation's weights."""
    _, weights = history.get_distribution()
    return float(weights.sum() ** 2 / (weights ** 2).sum())


def stop_reason(history: Any, settings: CalibrationSettings) -> str | None:
    """Why ABC-SMC should stop now (epsilon settled, acceptance too low, or the generation
    limit), or None to go on."""
    if history.max_t < 0:
        return None
    if history.max_t + 1 >= settings.max_generations:
        return f"{settings.max_generations} generations"
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].sort_values("t")
    last = pops.iloc[-1]
    acceptance = history.get_nr_particles_per_population().iloc[-1] / max(last["samples"], 1)
    if acceptance < settings.min_acceptance:
        return f"acceptance {acceptance:.1%} below {settings.min_acceptance:.0%}"
    if len(pops) >= 2:
        before = pops.iloc[-2]["epsilon"]
        change = abs(before - last["epsilon"]) / before if before else 0.0
        if change < settings.min_eps_change:
            return f"epsilon changed by {change:.1%}, less than {settings.min_eps_change:.0%}"
    return None


def over_budget(max_minutes: float | None, elapsed: float,
                generation_seconds: float | None) -> str | None:
    """Why the next generation should not start under a time budget of ``max_minutes``: the
    last generation's length says it would end past it. None to go on: with no budget, or
    before the first generation (``generation_seconds`` None), which always runs."""
    if (max_minutes is None or generation_seconds is None
            or elapsed + generation_seconds <= 60.0 * max_minutes):
        return None
    return (f"time budget of {max_minutes:g} minutes (after {elapsed / 60:.1f} minutes, a "
            f"generation takes about {generation_seconds / 60:.1f})")


def install(out_dir: Path, folder: Path = POSTERIOR_DIR) -> None:
    """Copy a finished calibration's posterior (:data:`simulation.posterior.FILES`) into
    ``folder`` (the package data by default) and regenerate the files made from it."""
    import shutil

    from .. import documentation

    missing = [name for name in FILES if not (Path(out_dir) / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{out_dir} holds no finished calibration (missing {missing})")
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(Path(out_dir) / name, folder / name)
    posterior.cache_clear()
    documentation.main()


def main(argv: list[str] | None = None) -> None:
    """``slsim-calibrate OUT --parameters a,b [...]``: history matching, then ABC-SMC, into OUT
    (resumable: the same command again continues where it stopped)."""
    parser = sweep_parser(PROG, "Calibrate the model to the published targets: history "
                          "matching, then ABC-SMC (pyabc), resumable.",
                          "the calibration's folder (history.db, particles.csv, draws.csv)")

    def option(flag: str, name: str, **kwargs) -> None:
        parser.add_argument(flag, help=setting_help(CalibrationSettings, name), **kwargs)

    option("--ics", "ics")
    option("--weeks", "weeks", type=int)
    option("--parameters", "parameters", type=comma_list, metavar="A,B,...")
    parser.add_argument("--screen", type=Path, metavar="MORRIS",
                        help="fit the --top parameters of a Morris screening on the priors "
                             "(slsim-sensitivity's report folder or indices.csv)")
    option("--top", "top", type=int)
    parser.add_argument("--targets", type=comma_list, metavar="A,B,...",
                        help="fitted targets (default: every `use: fit` target of the file)")
    parser.add_argument("--targets-file", type=Path, metavar="YAML",
                        help=f"the targets file (default: {TARGETS_FILE.name}, package data)")
    for flag, name in (("--seeds", "seeds"), ("--wave-points", "wave_points"),
                       ("--waves", "waves"), ("--population-size", "population_size"),
                       ("--max-generations", "max_generations"), ("--sample-seed", "sample_seed"),
                       ("--n-jobs", "n_jobs"), ("--draws", "draws")):
        option(flag, name, type=int)
    for flag, name in (("--cutoff", "cutoff"), ("--min-eps-change", "min_eps_change"),
                       ("--min-acceptance", "min_acceptance")):
        option(flag, name, type=float)
    parser.add_argument("--kernel-scale", type=float, metavar="FACTOR",
                        help="ABC-SMC's perturbation kernel: this multiple of the population's "
                             "weighted covariance (2: Beaumont et al. 2009; default: pyabc's, "
                             "shrunk by Silverman's rule)")
    parser.add_argument("--max-minutes", type=float, metavar="MINUTES",
                        help="time budget: start no generation that the last one's length says "
                             "would end past it (the history stays resumable)")
    parser.add_argument("--dask-scheduler", metavar="tcp://HOST:8786",
                        help="run the particles on a Dask cluster's workers (pyabc's "
                             "DaskDistributedSampler): the scheduler's address")
    parser.add_argument("--install", action="store_true", default=False,
                        help="make the finished calibration in the folder the model's own: "
                             "copy its posterior into the package data and regenerate "
                             "configs/calibration/calibrated.yaml (a development checkout)")
    parser.add_argument("--report", type=Path, metavar="DIR", default=None,
                        help="write the validation report of the finished calibration in the "
                             "folder into DIR (prior against posterior, posterior predictive "
                             "against every target, the calibrated point on other systems)")
    parser.add_argument("--report-draws", type=int, default=100, metavar="N",
                        help="posterior draws the report's predictive runs (default 100)")
    args = parser.parse_args(argv)
    if args.install:
        with reported_errors(PROG, ValueError, OSError):
            install(args.sweep_dir)
        return
    progress_logging()
    if args.report:
        from .calibration_report import write_report

        with reported_errors(PROG, ValueError, OSError):
            print(f"Report: {write_report(args.sweep_dir, args.report, draws=args.report_draws)}")
        return
    logging.getLogger("ABC").setLevel(logging.WARNING)  # pyabc's lines: ours say the same
    with reported_errors(PROG, ValueError, OSError, RuntimeError):
        settings = settings_from(CalibrationSettings, args)
        result = calibrate(args.sweep_dir, settings)
    print(f"{len(result['particles'])} particles after {len(result['generations'])} "
          f"generations ({result['stopped']}); {result['runs']} runs in "
          f"{result['seconds']:.0f} s. Posterior: {args.sweep_dir / 'particles.csv'}, draws: "
          f"{args.sweep_dir / 'draws.csv'}")
