"""The reference engine: the weekly rules of :mod:`simulation.model` written as idiomatic Mesa.

One Python agent per manager post, each with its own ``step()``; neighbours come from the
network (a Mesa ``Network`` space over the professional graph); every rule is the same function
of ``rules.py``, called with one manager's or one tie's scalars.

It serves three purposes:

* a readable statement of the rules, one manager at a time;
* a test oracle: ``tests/test_reference.py`` docks the vectorised engine against it;
* the baseline of the speed ratio in ``docs/benchmarks.md``.

It starts from exactly the vectorised engine's state: the same config, the same population and
network builders and the same population and network streams. From then on it draws from Mesa's
own generators (``model.random``, ``model.rng``), one draw at a time, so the two engines agree in
distribution, not draw for draw.

Schedules
---------
``"sequential"`` (the default, idiomatic Mesa): ``model.agents.shuffle_do("step")``. Each manager
in turn runs their whole week: work, time budget, claims on their ties, the outcomes, wellbeing and
the fading of their ties. A manager who steps later sees partners already changed this week (their
time, how unled their work is, their skill); what happens to a manager as someone else's partner
after their own step counts toward their next week.

``"staged"``: ``shuffle_do("plan")``, then ``shuffle_do("interact")``, then ``shuffle_do("settle")``
(Mesa's staged activation). Everyone finishes a stage before anyone starts the next, as in the
vectorised engine's phases; what remains sequential is that a claim sees trust already moved by an
earlier interaction on the same pair in the same week.

The vectorised engine is synchronous: every phase reads the state all managers had when the phase
began. Interventions are not part of the reference: a scenario with interventions is refused.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

import mesa
import numpy as np
import pandas as pd
from mesa.discrete_space import FixedAgent, Network
from scipy import stats

from . import rules
from .config import RunConfig, build_config
from .metrics import OUTPUTS, WeekCounts, compute, leadership_received, usable_ties
from .model import SharedLeadershipModel, _reporter
from .network import build_ties, to_networkx
from .params import ConfigError
from .population import build_managers, build_organisations, draw_people
from .state import Managers, Ties
from .streams import RandomStreams

SCHEDULES = ("sequential", "staged")
STAGES = ("plan", "interact", "settle")
# A post keeps its profession and its waiting work when a new manager fills it (as model.recruit).
POST_STATE = ("profession", "backlog", "backlog_age", "completed")


@dataclass(slots=True)
class Tie:
    """One direction of a professional tie, held by the manager who perceives it: their trust in
    the partner and the leadership they recognise in them."""

    index: int  # position in the vectorised engine's tie arrays
    cross_group: bool
    cross_org: bool
    open: bool
    resting_trust: float
    trust: float
    granted: float


@dataclass(slots=True)
class Ledger:
    """What happened to a manager since they last settled up."""

    granted_claims: int = 0
    refused_claims: int = 0
    successes: int = 0
    cross_group_successes: int = 0
    shared_tasks: float = 0.0  # task completions owed to successful joint work
    conflicts: int = 0  # refusals of my claims and failed joint work
    interactions: int = 0


class ReferenceManager(FixedAgent):
    """A manager post: the person who holds it, their ties, and what they do each week.

    When the manager leaves, the agent stands for the vacant post until a new aspiring manager
    fills it. State variables are plain attributes named as the fields of ``state.Managers``.
    """

    def __init__(self, model: "ReferenceModel", post: int, person: dict):
        super().__init__(model)
        self.post = post
        self.cell = model.network[post]
        for name, value in person.items():
            setattr(self, name, value)
        self.ties: dict[int, Tie] = {}  # my ties, keyed by the partner's post
        self.ledger = Ledger()
        self.hours = self.bureaucracy = self.time = self.unled = 0.0

    def step(self) -> None:
        self.plan()
        self.interact()
        self.settle()

    def partners(self) -> list[tuple["ReferenceManager", Tie]]:
        """Neighbours in post on open ties, with my tie to each."""
        return [(partner, self.ties[partner.post]) for partner in self.cell.neighborhood.agents
                if partner.active and self.ties[partner.post].open]

    # ------------------------------------------------------------------ phases 2-4: plan
    def plan(self) -> None:
        """Work arrives, hours are budgeted, and I sense how unled my work is."""
        model, p = self.model, self.model.params
        self.backlog_age += self.backlog  # waiting work ages, whether or not the post is filled
        if not self.active:
            return
        self.hours = rules.leadership_hours(
            self.base_hours, model.stage_hours_factor[self.career_stage], p.time_scale,
            self.hours_boost)
        mean_tasks = rules.task_arrivals_mean(p.task_rate, self.hours,
                                              p.nonclinical_leadership_hours)
        new_tasks = int(model.rng.poisson(mean_tasks))
        self.backlog += new_tasks
        self.bureaucracy = rules.bureaucracy_hours(
            p.bureaucracy_load, model.organisations.layers[self.org], p.governance_hours,
            p.signoff_hours_per_layer, new_tasks)
        model.counts.bureaucracy_hours += self.bureaucracy

        partners = self.partners()
        available = rules.available_hours(self.hours, self.stress, p.stress_time_penalty,
                                          self.bureaucracy, self.backlog, p.carry_hours_per_task)
        self.time = float(rules.time_factor(available, 2.0 * p.interaction_rate * len(partners),
                                            p.collaboration_hours))
        perceived = sum(tie.granted for _, tie in partners)
        self.unled = float(rules.duty_gap(perceived, max(self.expected_leadership,
                                                         p.leadership_need)))
        self.expected_leadership = rules.toward(self.expected_leadership, perceived,
                                                p.expectation_rate)

    # ------------------------------------------------------------------ phases 4-6: interact
    def interact(self) -> None:
        """On each tie partner -> me that carries an interaction, I may claim leadership."""
        if not self.active:
            return
        p = self.model.params
        for partner, mine in self.partners():
            theirs = partner.ties[self.post]
            if self.random.random() < rules.interaction_probability(
                    p.interaction_rate, partner.time, self.time):
                self.meet(partner, theirs, mine)

    def meet(self, partner: "ReferenceManager", theirs: Tie, mine: Tie) -> None:
        """One interaction: my claim, the partner's grant, and our joint work.

        ``theirs`` is the partner's tie to me (their trust in me, the leadership they recognise
        in me); ``mine`` is my tie to them.
        """
        model, p, counts = self.model, self.model.params, self.model.counts
        self.ledger.interactions += 1
        partner.ledger.interactions += 1
        if self.random.random() >= rules.claim_probability(
                self.leader_identity, self.motivation, partner.unled, p.claim_base,
                p.identity_weight, p.duty_weight):
            return
        counts.claims[self.post] += 1
        counts.cross_claims += theirs.cross_group

        clarity = model.organisations.clarity
        p_grant = rules.grant_probability(
            theirs.trust, self.sl_skill, p.grant_base, p.trust_weight, p.skill_weight,
            rules.conflict_damping(p.value_conflict, theirs.cross_group, partner.understanding),
            rules.misalignment_damping(p.goal_misalignment, theirs.cross_org,
                                       0.5 * (clarity[partner.org] + clarity[self.org])))
        if self.random.random() >= p_grant:
            # Refused: I trust the refuser less.
            counts.refusals += 1
            counts.conflicts += theirs.cross_group
            self.ledger.refused_claims += 1
            self.ledger.conflicts += 1
            mine.trust *= 1.0 - p.trust_loss
            return
        counts.grants += 1
        counts.cross_grants += theirs.cross_group
        self.ledger.granted_claims += 1

        if self.random.random() < rules.success_probability(
                partner.sl_skill, self.sl_skill, partner.time, self.time, p.success_base,
                p.success_skill_weight, p.signoff_delay, p.bureaucracy_load, theirs.cross_org):
            # Success builds the leadership they recognise in me, and trust both ways.
            counts.successes += 1
            theirs.granted = rules.toward(theirs.granted, 1.0, p.grant_gain)
            task_share = 1.0 if theirs.cross_group else p.single_group_completion
            for tie, manager in ((theirs, self), (mine, partner)):
                tie.trust = rules.toward(tie.trust, 1.0, p.trust_gain)
                manager.ledger.successes += 1
                manager.ledger.cross_group_successes += theirs.cross_group
                manager.ledger.shared_tasks += task_share
        else:
            # Failed joint work costs trust both ways.
            for tie, manager in ((theirs, self), (mine, partner)):
                tie.trust *= 1.0 - p.trust_loss
                manager.ledger.conflicts += 1

    # ------------------------------------------------------------------ phases 6-8: settle
    def settle(self) -> None:
        """Outcomes since I last settled change me; then wellbeing, exit, and my ties fade."""
        ledger, self.ledger = self.ledger, Ledger()
        if self.active:
            self.learn_and_deliver(ledger)
            self.cope(ledger)
        if not self.active:
            self.count_down_vacancy()
        p = self.model.params
        for tie in self.ties.values():
            tie.granted = rules.decay(tie.granted, p.granted_decay)
            tie.trust = rules.toward(tie.trust, tie.resting_trust, p.trust_decay)

    def learn_and_deliver(self, ledger: Ledger) -> None:
        """Identity, understanding and skill after my claims and joint work; tasks completed."""
        p, counts = self.model.params, self.model.counts
        self.leader_identity = float(rules.identity_update(
            self.leader_identity, ledger.granted_claims, ledger.refused_claims,
            p.identity_boost, p.identity_penalty, p.identity_inertia))
        self.understanding = rules.repeated_step_toward_one(
            self.understanding, p.understanding_gain, ledger.cross_group_successes)
        self.sl_skill = rules.repeated_step_toward_one(self.sl_skill, p.skill_gain,
                                                       ledger.successes)
        shared = min(self.backlog, 0.5 * ledger.shared_tasks)
        done = shared + rules.formal_completions(self.backlog - shared, self.time,
                                                 p.formal_route_rate)
        mean_age = self.backlog_age / self.backlog if self.backlog > 0 else 0.0
        self.backlog_age -= done * mean_age
        self.backlog -= done
        self.completed += done
        counts.tasks_completed += done

    def cope(self, ledger: Ledger) -> None:
        """Stress follows pressure, burnout erodes motivation, and I may leave."""
        p = self.model.params
        demand = (self.bureaucracy + p.carry_hours_per_task * self.backlog
                  + ledger.interactions * p.collaboration_hours)
        load = demand / self.hours if self.hours > 0 else 0.0
        pressure = rules.workload_pressure(load) + p.conflict_stress * ledger.conflicts
        self.stress = float(rules.stress_update(self.stress, pressure, self.support,
                                                p.stress_rate))
        self.motivation = float(rules.motivation_update(
            self.motivation, self.duty, self.stress, p.burnout_threshold, p.motivation_erosion,
            p.motivation_recovery))
        if self.random.random() < rules.exit_probability(
                self.stress, p.burnout_threshold, p.burnout_exit_rate, p.turnover_rate):
            self.leave()

    def leave(self) -> None:
        """The post falls vacant; leadership granted to or by me is lost; my work stays."""
        self.model.counts.exits += 1
        self.active = False
        self.stress = self.time = 0.0
        self.vacant_weeks = self.model.params.recruitment_lag
        for partner in self.cell.neighborhood.agents:
            for tie in (self.ties[partner.post], partner.ties[self.post]):
                tie.granted = 0.0
                tie.trust = tie.resting_trust

    def count_down_vacancy(self) -> None:
        """A vacant post is filled by a new aspiring manager after the recruitment lag."""
        self.vacant_weeks -= 1
        if self.vacant_weeks > 0:
            return
        model = self.model
        person = draw_people(model.rng, np.array([self.org]), np.array([self.is_clinical]),
                             np.zeros(1, dtype=np.int64), model.config.population, model.params)
        for f in fields(Managers):
            if f.name not in POST_STATE:
                setattr(self, f.name, getattr(person, f.name)[0].item())
        self.hired_week = model.steps


class ReferenceModel(mesa.Model):
    """The reference engine. Build it as :class:`SharedLeadershipModel`: from a validated
    :class:`RunConfig`, or with keyword arguments (``ReferenceModel(ics="small_ics", seed=3)``);
    ``schedule`` is ``"sequential"`` (default) or ``"staged"``."""

    def __init__(self, config: RunConfig | None = None, *, seed: int = 0,
                 schedule: str = "sequential", **kwargs):
        if config is None:
            config = build_config(seed=seed, **kwargs)
        if schedule not in SCHEDULES:
            raise ConfigError(f"schedule = {schedule!r} is not one of {list(SCHEDULES)}")
        if config.scenario.interventions:
            raise ConfigError(f"scenario = {config.scenario.name!r}: the reference engine runs "
                              "the weekly rules only; use a scenario without interventions")
        super().__init__(rng=config.seed)
        self.config = config
        self.params = config.model
        self.schedule = schedule
        streams = RandomStreams(config.seed)
        self.organisations, sizes, clinical_share = build_organisations(
            config.ics, self.params.communication_clarity)
        managers = build_managers(streams.population, sizes, clinical_share, config.population,
                                  self.params)
        ties = build_ties(streams.network, managers, self.organisations, config.network,
                          self.params)
        self.stage_hours_factor = list(self.params.stage_hours_factor)
        self.tie_columns = ties  # the fixed columns (ends, reverse, boundaries) for observation
        self.network = Network(to_networkx(ties, len(managers), only_open=False), layout=None,
                               random=self.random)
        self.posts = [ReferenceManager(self, post, {f.name: getattr(managers, f.name)[post].item()
                                                    for f in fields(Managers)})
                      for post in range(len(managers))]
        resting = rules.boundary_trust(self.params.trust_baseline, self.params.boundary_trust_gap,
                                       ties.cross_group, ties.cross_org)
        for k, (i, j) in enumerate(zip(ties.source.tolist(), ties.target.tolist(), strict=True)):
            self.posts[i].ties[j] = Tie(
                index=k, cross_group=bool(ties.cross_group[k]), cross_org=bool(ties.cross_org[k]),
                open=bool(ties.open[k]), resting_trust=float(resting[k]),
                trust=float(ties.trust[k]), granted=float(ties.granted[k]))

        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in OUTPUTS})
        self.counts = WeekCounts(claims=np.zeros(len(self.posts), dtype=np.int64))
        self.latest: dict[str, float] = {}
        self.observe()

    def step(self) -> None:
        self.counts = WeekCounts(claims=np.zeros(len(self.posts), dtype=np.int64))
        if self.schedule == "sequential":
            self.agents.shuffle_do("step")
        else:
            for stage in STAGES:
                self.agents.shuffle_do(stage)
        self.observe()
        if self.steps >= self.config.weeks:
            self.running = False

    def run(self) -> None:
        """Run to the configured horizon."""
        while self.running:
            self.step()

    def state(self) -> tuple[Managers, Ties]:
        """The agents' state as the vectorised engine's arrays (for observation and tests)."""
        columns = {f.name: np.array([getattr(a, f.name) for a in self.posts])
                   for f in fields(Managers)}
        managers = Managers(**columns)
        n_ties = len(self.tie_columns)
        open_, trust, granted = np.zeros(n_ties, bool), np.zeros(n_ties), np.zeros(n_ties)
        for agent in self.posts:
            for tie in agent.ties.values():
                open_[tie.index], trust[tie.index], granted[tie.index] = (
                    tie.open, tie.trust, tie.granted)
        return managers, replace(self.tie_columns, open=open_, trust=trust, granted=granted)

    def observe(self) -> None:
        """This week's outputs, by the same definitions as the vectorised engine's."""
        managers, ties = self.state()
        usable = usable_ties(ties, managers)
        received = leadership_received(ties, usable, len(managers))
        self.latest = compute(managers, ties, usable, received, self.counts,
                              self.params.burnout_threshold, 0.0, 0)
        self.datacollector.collect(self)


# ---------------------------------------------------------------------- docking
QUARTER = 13  # weeks
# The outputs docked, and how one run's value is read from its weekly series. Stocks are read in
# the final week; the weekly flow of completed tasks is averaged over the final quarter, since a
# single week's count is mostly Poisson noise.
DOCKED_OUTPUTS = {
    "sl_density": lambda series: series.iloc[-1],
    "cross_profession_share": lambda series: series.iloc[-1],
    "tasks_completed": lambda series: series.iloc[-QUARTER:].mean(),
    "mean_trust": lambda series: series.iloc[-1],
}


def docking_runs(seeds: Iterable[int], weeks: int = 52, ics: str = "small_ics",
                 engines: Iterable[str] = ("vectorised", "sequential")) -> pd.DataFrame:
    """One row per engine and seed with the docked outputs. ``engines`` names
    ``"vectorised"`` or a reference schedule; every engine runs the same config per seed, so
    each seed starts every engine from the same population and network."""
    rows = []
    base = build_config(ics=ics, weeks=weeks)
    for seed in seeds:
        config = replace(base, seed=seed)
        for engine in engines:
            model = (SharedLeadershipModel(config) if engine == "vectorised"
                     else ReferenceModel(config, schedule=engine))
            model.run()
            series = model.datacollector.get_model_vars_dataframe()
            rows.append({"engine": engine, "seed": seed,
                         **{name: float(read(series[name]))
                            for name, read in DOCKED_OUTPUTS.items()}})
    return pd.DataFrame(rows)


def equivalence(runs: pd.DataFrame, engine: str, reference: str = "sequential",
                margin: float = 0.10, alpha: float = 0.05) -> pd.DataFrame:
    """Paired two one-sided tests (TOST) of ``engine`` against ``reference``, per docked output.

    Runs pair by seed (the same starting state). The two engines are equivalent on an output when
    the mean paired difference is shown, at level ``alpha``, to lie within ``margin`` times the
    reference mean: the (1 - 2 alpha) confidence interval of the difference lies inside the
    margin. Differences are reported as percentages of the reference mean.
    """
    a = runs[runs.engine == engine].set_index("seed").sort_index()
    b = runs[runs.engine == reference].set_index("seed").sort_index()
    if len(a) < 2 or not a.index.equals(b.index):
        raise ValueError(f"equivalence needs the same two or more seeds for {engine!r} and "
                         f"{reference!r}")
    n = len(a)
    rows = []
    for name in DOCKED_OUTPUTS:
        diff = a[name] - b[name]
        scale = abs(b[name].mean())
        bound = margin * scale
        se = diff.std(ddof=1) / np.sqrt(n)
        half_width = stats.t.ppf(1.0 - alpha, n - 1) * se
        if se > 0:
            p_value = max(stats.t.sf((diff.mean() + bound) / se, n - 1),
                          stats.t.cdf((diff.mean() - bound) / se, n - 1))
        else:
            p_value = 0.0 if abs(diff.mean()) < bound else 1.0
        rows.append({
            "output": name,
            f"mean_{engine}": a[name].mean(),
            f"mean_{reference}": b[name].mean(),
            "difference_pct": 100.0 * diff.mean() / scale,
            "ci_low_pct": 100.0 * (diff.mean() - half_width) / scale,
            "ci_high_pct": 100.0 * (diff.mean() + half_width) / scale,
            "p_tost": float(p_value),
            "equivalent": bool(p_value < alpha),
        })
    return pd.DataFrame(rows)
