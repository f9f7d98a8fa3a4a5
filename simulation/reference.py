"""The reference engine: the weekly rules of :mod:`simulation.model` written as idiomatic Mesa.

One Python agent per post (a manager's, or a doctor in postgraduate training's), each with its
own ``step()``; every rule is the same function of ``rules.py``, called with one agent's or one
tie's scalars. Each agent holds its own ties, one :class:`Tie` per partner post: its role ties
(the professional network, also a Mesa ``Network`` space) and the *carried ties* a person keeps
after changing post, which are not in that graph.

It serves three purposes:

* a readable statement of the rules, one agent and one relationship at a time;
* a test oracle: ``tests/test_reference.py`` docks the vectorised engine against it;
* the baseline of the speed ratio in ``docs/benchmarks.md``.

It starts from exactly the vectorised engine's state: the same config, the same population,
team and network builders and the same population and network streams. From then on it draws
from Mesa's own generators (``model.random``, ``model.rng``), one draw at a time, so the two
engines agree in distribution, not draw for draw.

A week
------
First the agents' week (the schedule below): work, time budget, claims on their open ties
(carried ties at ``carried_tie_contact`` times a role tie's rate), the outcomes, wellbeing and
exits, the fading of their ties, and the week in the survey windows (burnt out, pressed for
time, tasks completed), noted at the end of each person's own week, so that someone who then
changes post takes that week's answers with them. Then two model-level steps, as in the
vectorised engine's phases 8 and 9:

* ``careers``: the HR process, not an agent's behaviour. On changeover weeks completing trainees
  take vacant aspiring doctor posts of their system or leave, the others rotate along a random
  cycle of their system's trainee posts, and new trainees fill the empty trainee posts; every
  week, vacant manager posts whose recruitment lag has passed are filled by promotion or by an
  outside hire. The decisions are the pure functions of ``careers.py`` applied to arrays
  gathered from the agents, with uniforms from ``model.rng``; the moves are then applied to the
  agents: the person's attributes pass from one agent to another, and their relationships move
  with them one at a time (:meth:`ReferenceModel.move`), the rule of ``relationships.py``:
  each takes the new posts' role tie where there is one, else becomes a carried tie in the same
  fixed pool of slots as the vectorised engine's (the ones exercised longest ago closing when
  it is full); the posts left keep their role ties at rest.
* carried ties with no interaction for more than ``tie_dormancy_weeks`` close.

Trainees are not managers: no governance hours, their exits are not leavers, and the outputs
(``metrics.compute``, ``measurement.measured_outputs``, run unchanged on :meth:`state`) leave them
out.

Schedules
---------
``"sequential"`` (the default, idiomatic Mesa): ``model.agents.shuffle_do("step")``. Each agent in
turn runs their whole week. One who steps later sees partners already changed this week (their
time, how unled their work is, their skill); what happens to an agent as someone else's partner
after their own step counts toward their next week.

``"staged"``: ``shuffle_do("plan")``, then ``shuffle_do("interact")``, then ``shuffle_do("settle")``
(Mesa's staged activation). Everyone finishes a stage before anyone starts the next, as in the
vectorised engine's phases; what remains sequential is that a claim sees trust already moved by an
earlier interaction on the same pair in the same week. The docking test runs this schedule,
so that it compares the rules; the sequential one raises team SL density by about 7% (in part
because leadership granted on a tie after its holder has settled escapes that week's fading).

The vectorised engine is synchronous: every phase reads the state all posts had when the phase
began. Interventions are not part of the reference: a scenario with interventions is refused.
"""

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

import mesa
import numpy as np
import pandas as pd
from mesa.discrete_space import FixedAgent, Network
from scipy import stats

from . import careers, measurement, relationships, rules
from .config import RunConfig, build_config
from .metrics import OUTPUTS, WeekCounts, compute, observe_ties
from .model import SharedLeadershipModel, _reporter
from .network import build_ties, role_tie_count, to_networkx
from .params import ConfigError
from .population import DOCTOR, build_managers, build_organisations, draw_people
from .state import PERSON_FIELDS, Managers, Ties
from .streams import RandomStreams

SCHEDULES = ("sequential", "staged")
STAGES = ("plan", "interact", "settle")
WINDOW_FIELDS = ("completed_weeks", "burnt_weeks", "pressed_weeks")  # one row per post


@dataclass(slots=True)
class Tie:
    """One direction of a relationship, held by the agent who perceives it: their trust in the
    partner and the leadership they recognise in them."""

    index: int  # position in the vectorised engine's tie arrays
    cross_group: bool
    cross_org: bool
    open: bool
    resting_trust: float
    trust: float
    granted: float
    personal: bool = False  # a carried tie (a former colleague), not a role tie
    contact: float = 1.0  # interaction rate, as a share of a role tie's
    last_contact: int = 0  # the last week this direction carried an interaction


@dataclass(slots=True)
class Relationship:
    """Two people's relationship while one or both change post: who, and both directions."""

    one: int  # the posts the two people hold before the move
    other: int
    there: tuple[float, float, int]  # one -> other: trust, granted, last contact
    back: tuple[float, float, int]  # other -> one

    @property
    def last_exercised(self) -> int:
        return max(self.there[2], self.back[2])


@dataclass(slots=True)
class Ledger:
    """What happened to an agent since they last settled up."""

    granted_claims: int = 0
    refused_claims: int = 0
    successes: int = 0
    cross_group_successes: int = 0
    shared_tasks: float = 0.0  # task completions owed to successful joint work
    conflicts: int = 0  # refusals of my claims and failed joint work
    interactions: int = 0


class ReferenceManager(FixedAgent):
    """A post: the person who holds it, their ties, and what they do each week.

    State variables are plain attributes named as the fields of ``state.Managers``: those of
    ``state.POST_FIELDS`` belong to the post, the others (``state.PERSON_FIELDS``) to the person
    holding it, and move with them. The survey windows are small per-agent arrays. When the
    person leaves, the agent stands for the vacant post until someone fills it.
    """

    def __init__(self, model: "ReferenceModel", post: int, person: dict):
        super().__init__(model)
        self.post = post
        self.cell = model.network[post]
        for name, value in person.items():
            setattr(self, name, value)
        self.ties: dict[int, Tie] = {}  # my ties, keyed by the partner's post
        self.ledger = Ledger()
        self.clear_week()

    def clear_week(self) -> None:
        """This week's working quantities, zero while the post is vacant."""
        self.hours = self.bureaucracy = self.time = self.unled = self.load = self.done = 0.0
        self.week_partners: list[tuple[ReferenceManager, Tie]] = []

    def step(self) -> None:
        self.plan()
        self.interact()
        self.settle()

    def partners(self) -> list[tuple["ReferenceManager", Tie]]:
        """Partners in post on my open ties (role and carried), with my tie to each."""
        posts = self.model.posts
        return [(posts[j], tie) for j, tie in self.ties.items() if tie.open and posts[j].active]

    # ------------------------------------------------------------------ phases 2-4: plan
    def plan(self) -> None:
        """Work arrives, hours are budgeted, and I sense how unled my work is."""
        model, p = self.model, self.model.params
        self.backlog_age += self.backlog  # waiting work ages, whether or not the post is filled
        self.clear_week()
        if not self.active:
            return
        self.hours = rules.leadership_hours(
            self.base_hours, model.stage_hours_factor[self.career_stage], p.time_scale,
            self.hours_boost)
        mean_tasks = rules.task_arrivals_mean(p.task_rate, self.hours,
                                              p.nonclinical_leadership_hours)
        new_tasks = int(model.rng.poisson(mean_tasks))
        self.backlog += new_tasks
        # A trainee's governance and data work is clinical, outside the leadership time modelled.
        governance = 0.0 if self.is_trainee else p.governance_hours
        self.bureaucracy = float(rules.bureaucracy_hours(
            p.bureaucracy_load, model.organisations.layers[self.org], governance,
            p.signoff_hours_per_layer, new_tasks))
        model.counts.bureaucracy_hours += self.bureaucracy

        # Who is in post does not change between my plan and my interactions.
        self.week_partners = partners = self.partners()
        available = rules.available_hours(self.hours, self.stress, p.stress_time_penalty,
                                          self.bureaucracy, self.backlog, p.carry_hours_per_task)
        expected = 2.0 * p.interaction_rate * sum(tie.contact for _, tie in partners)
        self.time = float(rules.time_factor(available, expected, p.collaboration_hours))
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
        p, week = self.model.params, self.model.steps
        for partner, mine in self.week_partners:
            theirs = partner.ties[self.post]
            if self.random.random() < theirs.contact * rules.interaction_probability(
                    p.interaction_rate, partner.time, self.time):
                theirs.last_contact = week
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

    # ------------------------------------------------------------------ phases 6-9: settle
    def settle(self) -> None:
        """Outcomes since I last settled change me; then wellbeing and exit; my ties fade; and
        I note this week for the survey."""
        ledger, self.ledger = self.ledger, Ledger()
        if self.active:
            self.learn_and_deliver(ledger)
            self.cope(ledger)
        p = self.model.params
        for tie in self.ties.values():
            tie.granted = rules.decay(tie.granted, p.granted_decay)
            tie.trust = rules.toward(tie.trust, tie.resting_trust, p.trust_decay)
        self.note_week()

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
        self.done = shared + rules.formal_completions(self.backlog - shared, self.time,
                                                      p.formal_route_rate)
        mean_age = self.backlog_age / self.backlog if self.backlog > 0 else 0.0
        self.backlog_age -= self.done * mean_age
        self.backlog -= self.done
        self.completed += self.done
        counts.tasks_completed += self.done

    def cope(self, ledger: Ledger) -> None:
        """Stress follows pressure, burnout erodes motivation, and I may leave."""
        p = self.model.params
        demand = (self.bureaucracy + p.carry_hours_per_task * self.backlog
                  + ledger.interactions * p.collaboration_hours)
        self.load = demand / self.hours if self.hours > 0 else 0.0
        pressure = (rules.workload_pressure(self.load) + p.conflict_stress * ledger.conflicts
                    + rules.understaffing_pressure(self.understaffed, p.understaffing_pressure))
        self.stress = float(rules.stress_update(self.stress, pressure, self.support,
                                                p.stress_rate))
        self.motivation = float(rules.motivation_update(
            self.motivation, self.duty, self.stress, p.burnout_threshold, p.motivation_erosion,
            p.motivation_recovery))
        if self.random.random() < rules.exit_probability(
                self.stress, p.burnout_threshold, p.burnout_exit_rate, p.turnover_rate):
            self.leave()

    def note_week(self) -> None:
        """This week in the survey windows: the post's completed tasks; whether I felt burnt
        out, and whether demand outran my hours (the staff survey's items, ``measurement.py``)."""
        measure = self.model.config.measurement
        column = (self.model.steps - 1) % measure.survey_window_weeks
        self.completed_weeks[column] = self.done
        self.burnt_weeks[column] = self.active and self.stress > measure.burnout_report_threshold
        self.pressed_weeks[column] = self.active and self.load > 1.0

    def leave(self) -> None:
        """I leave the system: the post falls vacant; my role ties rest (leadership granted to
        or by me is lost) and my carried ties close; my work stays with the post. A trainee's
        exit, or a completing trainee's departure, is not a manager leaver."""
        model = self.model
        if not self.is_trainee:
            model.counts.exits += 1
            model.counts.leavers[model.leaver_category[self.post]] += 1
        for j, tie in list(self.ties.items()):
            back = model.posts[j].ties[self.post]
            for one in (tie, back):
                one.granted = 0.0
                one.trust = one.resting_trust
            if tie.personal:
                model.close_carried(self.post, j)
        self.fall_vacant()

    def fall_vacant(self) -> None:
        """Nobody holds the post now; it is refilled once the recruitment lag has passed."""
        self.active = False
        self.stress = self.time = self.unled = 0.0
        self.vacant_weeks = self.model.params.recruitment_lag

    # ------------------------------------------------------------------ changes of post
    def person(self) -> dict:
        """The person in post, as the values of ``state.PERSON_FIELDS`` (copies)."""
        return {name: np.copy(value) if isinstance(value := getattr(self, name), np.ndarray)
                else value for name in PERSON_FIELDS}

    def take_up(self, person: dict) -> None:
        """``person`` takes this post this week."""
        for name, value in person.items():
            setattr(self, name, value)
        self.active = True
        self.vacant_weeks = 0
        self.post_since = self.model.steps

    def release_ties(self) -> None:
        """The person is leaving this post for another: its role ties rest, at resting trust
        and no leadership, for whoever fills it; the person's carried ties close here (they are
        opened again at the new post)."""
        model = self.model
        for j, tie in list(self.ties.items()):
            if tie.personal:
                model.close_carried(self.post, j)
                continue
            for one in (tie, model.posts[j].ties[self.post]):
                one.trust, one.granted, one.last_contact = one.resting_trust, 0.0, model.steps


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
        self.params = p = config.model
        self.careers_params = config.careers
        self.schedule = schedule
        streams = RandomStreams(config.seed)
        self.organisations, roster = build_organisations(config.ics, p.communication_clarity)
        managers = build_managers(streams.population, self.organisations, roster,
                                  config.population, p, config.network, config.careers,
                                  config.measurement)
        ties = build_ties(streams.network, managers, self.organisations, config.network, p,
                          config.careers)
        self.stage_hours_factor = list(p.stage_hours_factor)
        self.tie_columns = ties  # the starting arrays: fixed columns and free carried slots
        self.n_role_ties = role_tie_count(ties)
        self.system_of_post = self.organisations.system[managers.org]
        self.trainee_posts = np.flatnonzero(managers.is_trainee)
        self.n_teams = int(managers.team.max()) + 1
        # Posts keep their organisation and group, so each post's leaver category is fixed.
        self.leaver_category = measurement.leaver_category(
            self.organisations.type_code[managers.org], managers.is_clinical)
        self.leavers = measurement.RollingWindow(measurement.WEEKS_PER_YEAR,
                                                 measurement.LEAVER_CATEGORIES)
        self.in_post = measurement.RollingWindow(measurement.WEEKS_PER_YEAR,
                                                 measurement.LEAVER_CATEGORIES)

        self.network = Network(to_networkx(ties, len(managers), only_open=False), layout=None,
                               random=self.random)
        self.posts = [ReferenceManager(self, post, {
            f.name: (getattr(managers, f.name)[post].copy() if f.name in WINDOW_FIELDS
                     else getattr(managers, f.name)[post].item()) for f in fields(Managers)})
            for post in range(len(managers))]
        resting = rules.boundary_trust(p.trust_baseline, p.boundary_trust_gap, ties.cross_group,
                                       ties.cross_org)
        self.role_ties: list[Tie] = []  # in index order
        for k in range(self.n_role_ties):
            tie = Tie(index=k, cross_group=bool(ties.cross_group[k]),
                      cross_org=bool(ties.cross_org[k]), open=bool(ties.open[k]),
                      resting_trust=float(resting[k]), trust=float(ties.trust[k]),
                      granted=float(ties.granted[k]), last_contact=int(ties.last_contact[k]))
            self.posts[int(ties.source[k])].ties[int(ties.target[k])] = tie
            self.role_ties.append(tie)
        # Carried ties: the pool's pairs of slots (k, k + 1), free ones in a heap, open ones
        # with the posts they join (slot k is ``one -> other``, k + 1 the way back).
        self.free_slots = list(range(self.n_role_ties, len(ties), 2))
        self.carried: dict[int, tuple[int, int]] = {}

        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in OUTPUTS})
        self.counts = self.new_counts()
        self.latest: dict[str, float] = {}
        self.observe()

    def new_counts(self) -> WeekCounts:
        return WeekCounts(claims=np.zeros(len(self.posts), dtype=np.int64),
                          leavers=np.zeros(measurement.LEAVER_CATEGORIES, dtype=np.int64))

    def step(self) -> None:
        self.counts = self.new_counts()
        if self.schedule == "sequential":
            self.agents.shuffle_do("step")
        else:
            for stage in STAGES:
                self.agents.shuffle_do(stage)
        self.careers()
        self.close_dormant_ties()
        self.observe()
        if self.steps >= self.config.weeks:
            self.running = False

    def run(self) -> None:
        """Run to the configured horizon."""
        while self.running:
            self.step()

    # ------------------------------------------------------------------ careers (HR)
    def column(self, name: str) -> np.ndarray:
        """One state variable of every post, gathered from the agents."""
        return np.array([getattr(agent, name) for agent in self.posts])

    def careers(self) -> None:
        """Trainees rotate and complete on changeover weeks; vacant manager posts whose
        recruitment lag has passed are filled by promotion or by outside hires."""
        week, c = self.steps, self.careers_params
        u_route, u_merit, u_order = self.rng.random((3, len(self.posts)))
        for agent in self.posts:
            if not agent.active:
                agent.vacant_weeks -= 1
            elif agent.is_trainee:
                agent.training_week += 1
        if careers.is_changeover(week, c.rotation_weeks):
            self.changeover(u_order)

        active, trainee = self.column("active"), self.column("is_trainee")
        due = np.flatnonzero(~active & ~trainee & (self.column("vacant_weeks") <= 0))
        filled = careers.fill_vacancies(
            due[np.argsort(u_order[due], kind="stable")], u_route, u_merit, active,
            self.column("career_stage"), self.column("is_clinical"), trainee,
            self.column("org"), self.system_of_post, week - self.column("post_since"),
            self.column("leader_identity"), c.internal_promotion_share, c.min_weeks_in_post,
            c.merit_noise)
        self.counts.promotions = len(filled.promoted_to)
        self.move(filled.promoted_from, filled.promoted_to)
        self.recruit(filled.hired)

    def changeover(self, u_order: np.ndarray) -> None:
        """Completing trainees take vacant aspiring doctor posts of their system or leave; the
        others rotate to the next trainee post of a random cycle; new trainees fill the trainee
        posts left empty."""
        c = self.careers_params
        active, trainee = self.column("active"), self.column("is_trainee")
        done = careers.completing(self.column("training_week"), trainee, active,
                                  c.training_weeks)
        vacant_doctor_posts = np.flatnonzero(
            ~active & ~trainee & (self.column("career_stage") == careers.ASPIRING)
            & (self.column("profession") == DOCTOR) & self.column("is_clinical"))
        origin, destination = careers.match_completers(done, vacant_doctor_posts,
                                                       self.system_of_post)
        self.move(origin, destination)
        for post in np.setdiff1d(done, origin).tolist():  # no post for them here: they leave
            self.posts[post].leave()

        posts = self.trainee_posts
        next_post = careers.rotation_destinations(posts, self.system_of_post[posts],
                                                  u_order[posts])
        held = self.column("active")[posts]
        self.move(posts[held], next_post[held])
        self.recruit(posts[~self.column("active")[posts]])

    def move(self, origin: Iterable[int], destination: Iterable[int]) -> None:
        """The people at posts ``origin`` take posts ``destination`` (vacant, or left by another
        mover in the same move), with their traits and their relationships. The posts they
        leave, and nobody takes, fall vacant, to be refilled in their turn."""
        origin, destination = [int(o) for o in origin], [int(d) for d in destination]
        if not origin:
            return
        people = [self.posts[o].person() for o in origin]
        moving = self.relationships_of(origin)
        for o in origin:
            self.posts[o].release_ties()
        for o in set(origin) - set(destination):
            self.posts[o].fall_vacant()
        for d, person in zip(destination, people, strict=True):
            self.posts[d].take_up(person)
        new_post = dict(zip(origin, destination, strict=True))
        self.counts.carried_ties_evicted += self.tie_again(moving, new_post)

    def relationships_of(self, movers: list[int]) -> list[Relationship]:
        """The open relationships of the people at posts ``movers`` with people in post (other
        movers included, once per pair)."""
        posts, found = self.posts, {}
        for o in movers:
            for j, tie in posts[o].ties.items():
                if tie.open and posts[j].active and (j, o) not in found:
                    back = posts[j].ties[o]
                    found[o, j] = Relationship(
                        o, j, (tie.trust, tie.granted, tie.last_contact),
                        (back.trust, back.granted, back.last_contact))
        return list(found.values())

    def tie_again(self, moving: list[Relationship], new_post: dict[int, int]) -> int:
        """Re-tie each moved relationship between the two people's new posts: on the posts' role
        tie where there is one (opening it, if latent: the two already know each other), else
        as a carried tie. Returns how many relationships were closed or not carried for want of
        room in the pool."""
        posts, carried = self.posts, []
        for rel in moving:
            one, other = new_post.get(rel.one, rel.one), new_post.get(rel.other, rel.other)
            if one == other:
                continue
            role = posts[one].ties.get(other)
            if role is None:
                carried.append((one, other, rel))
                continue
            back = posts[other].ties[one]
            for tie, (trust, granted, last) in ((role, rel.there), (back, rel.back)):
                tie.trust, tie.granted, tie.last_contact, tie.open = trust, granted, last, True
        # The most recently exercised first, when the pool cannot hold them all.
        carried.sort(key=lambda item: -item[2].last_exercised)
        short = max(0, len(carried) - len(self.free_slots))
        # Room is made by closing the carried ties exercised longest ago; any relationship the
        # whole pool cannot hold is not carried.
        for slot in sorted(self.carried, key=self.slot_last_exercised)[:short]:
            self.close_carried(*self.carried[slot])
        for one, other, rel in carried[:len(self.free_slots)]:
            self.open_carried(one, other, rel)
        return short

    def slot_last_exercised(self, slot: int) -> int:
        one, other = self.carried[slot]
        return max(self.posts[one].ties[other].last_contact,
                   self.posts[other].ties[one].last_contact)

    def open_carried(self, one: int, other: int, rel: Relationship) -> None:
        """Carry ``rel`` as a carried tie between posts ``one`` and ``other``."""
        p, c = self.params, self.careers_params
        slot = heapq.heappop(self.free_slots)
        a, b = self.posts[one], self.posts[other]
        cross_group, cross_org = a.is_clinical != b.is_clinical, a.org != b.org
        resting = float(rules.boundary_trust(p.trust_baseline, p.boundary_trust_gap,
                                             cross_group, cross_org))
        contact = float(relationships.carried_contact(True, c.carried_tie_contact))
        for holder, partner, index, (trust, granted, last) in (
                (a, other, slot, rel.there), (b, one, slot + 1, rel.back)):
            holder.ties[partner] = Tie(index=index, cross_group=cross_group, cross_org=cross_org,
                                       open=True, resting_trust=resting, trust=trust,
                                       granted=granted, personal=True, contact=contact,
                                       last_contact=last)
        self.carried[slot] = (one, other)

    def close_carried(self, one: int, other: int) -> None:
        """The carried tie between posts ``one`` and ``other`` closes; its slots are free."""
        tie = self.posts[one].ties.pop(other)
        back = self.posts[other].ties.pop(one)
        slot = min(tie.index, back.index)
        del self.carried[slot]
        heapq.heappush(self.free_slots, slot)

    def recruit(self, posts: Iterable[int]) -> None:
        """Fill vacant ``posts`` with new people from outside the system, drawn for the post's
        stage (new trainees at the start of their training)."""
        posts = [int(post) for post in posts]
        if not posts:
            return
        agents = [self.posts[post] for post in posts]
        people = draw_people(
            self.rng, *(np.array([getattr(a, name) for a in agents])
                        for name in ("org", "is_clinical", "is_trainee", "career_stage",
                                     "understaffed")),
            self.config.population, self.params, self.careers_params,
            self.config.measurement.survey_window_weeks)
        for k, agent in enumerate(agents):
            person = {name: (getattr(people, name)[k].copy() if name in WINDOW_FIELDS
                             else getattr(people, name)[k].item()) for name in PERSON_FIELDS}
            # The post keeps its profession (a trainee post's is always a doctor's).
            person["profession"] = DOCTOR if agent.is_trainee else agent.profession
            person["hired_week"] = self.steps
            agent.take_up(person)

    # ------------------------------------------------------------------ phase 9
    def close_dormant_ties(self) -> None:
        """Carried ties with no interaction, either way, for ``tie_dormancy_weeks`` close."""
        week, dormancy = self.steps, self.careers_params.tie_dormancy_weeks
        for slot, (one, other) in list(self.carried.items()):
            if relationships.dormant(True, True, self.slot_last_exercised(slot), week, dormancy):
                self.close_carried(one, other)

    # ------------------------------------------------------------------ observation
    def state(self) -> tuple[Managers, Ties]:
        """The agents' state as the vectorised engine's arrays (for observation and tests):
        role ties at their indices, carried ties in their pool slots after them."""
        managers = Managers(**{f.name: self.column(f.name) for f in fields(Managers)})
        t = self.tie_columns
        ties = replace(t, **{name: getattr(t, name).copy() for name in (
            "source", "target", "cross_group", "cross_org", "open", "trust", "granted",
            "last_contact")})
        n = self.n_role_ties
        ties.open[:n] = [tie.open for tie in self.role_ties]
        ties.trust[:n] = [tie.trust for tie in self.role_ties]
        ties.granted[:n] = [tie.granted for tie in self.role_ties]
        ties.last_contact[:n] = [tie.last_contact for tie in self.role_ties]
        for one, other in self.carried.values():
            for a, b in ((one, other), (other, one)):
                tie = self.posts[a].ties[b]
                k = tie.index
                ties.source[k], ties.target[k] = a, b
                ties.cross_group[k], ties.cross_org[k] = tie.cross_group, tie.cross_org
                ties.open[k], ties.trust[k], ties.granted[k] = True, tie.trust, tie.granted
                ties.last_contact[k] = tie.last_contact
        return managers, ties

    def observe(self) -> None:
        """This week's outputs, by the same definitions as the vectorised engine's."""
        managers, ties = self.state()
        measure, week = self.config.measurement, self.steps
        if week > 0:
            self.leavers.push(self.counts.leavers)
            members = managers.active & ~managers.is_trainee
            self.in_post.push(np.bincount(self.leaver_category[members],
                                          minlength=measurement.LEAVER_CATEGORIES))
        _, received, totals = observe_ties(ties, managers, measure.rating_threshold, self.n_teams)
        self.latest = compute(managers, totals, received, self.counts, 0.0, 0)
        self.latest.update(measurement.measured_outputs(
            managers, totals, self.column("bureaucracy"), week, measure.contracted_hours,
            self.leavers, self.in_post, self.counts.promotions, self.n_teams))
        self.datacollector.collect(self)


# ---------------------------------------------------------------------- docking
QUARTER = 13  # weeks
# The outputs docked, and how one run's value is read from its weekly series. Stocks are read in
# the final week (the leaver rate is itself over the last year); the weekly flow of completed
# tasks is averaged over the final quarter, since a single week's count is mostly Poisson noise;
# promotions are the total over the run.
DOCKED_OUTPUTS = {
    "sl_density": lambda series: series.iloc[-1],
    "cross_profession_share": lambda series: series.iloc[-1],
    "tasks_completed": lambda series: series.iloc[-QUARTER:].mean(),
    "mean_trust": lambda series: series.iloc[-1],
    "team_sl_density": lambda series: series.iloc[-1],
    "leaver_rate": lambda series: series.iloc[-1],
    "promotions": lambda series: series.sum(),
}


def docking_runs(seeds: Iterable[int], weeks: int = 156, ics: str = "small_ics",
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
        else:  # no spread: equivalent when the two agree everywhere (say, no event in either)
            p_value = 0.0 if abs(diff.mean()) < bound or not diff.any() else 1.0
        # Percentages of the reference mean; with a zero mean, only exact agreement is 0%.
        percent = (100.0 / scale if scale > 0
                   else (0.0 if not diff.any() else float("inf")))
        rows.append({
            "output": name,
            f"mean_{engine}": a[name].mean(),
            f"mean_{reference}": b[name].mean(),
            "difference_pct": diff.mean() * percent,
            "ci_low_pct": (diff.mean() - half_width) * percent,
            "ci_high_pct": (diff.mean() + half_width) * percent,
            "p_tost": float(p_value),
            "equivalent": bool(p_value < alpha),
        })
    return pd.DataFrame(rows)
