"""The Mesa model of shared leadership in an integrated care system.

One step is one week. Each week runs these phases, in this order (docs/ODD.md, section 3):

1. ``apply_interventions``  interventions due this week act through their hooks
2. ``arrive_work``          cross-functional tasks arrive (Poisson); bureaucracy costs hours
3. ``budget_time``          hours left after bureaucracy and carried-over work
4. ``claim``                managers claim leadership, stepping up where work is unled
5. ``grant``                partners grant claims, damped by value conflict and misalignment
6. ``collaborate``          granted claims become joint work that succeeds or fails
7. ``wellbeing``            stress, motivation and exits from the system
8. ``careers``              trainees rotate and complete; vacancies filled by promotion or hire
9. ``decay``                granted leadership and trust fade; unexercised carried ties close
10. ``observe``             outputs and the DataCollector

Every rule is a pure function in ``rules.py``; the phases below only gather its inputs from the
state arrays, call it, and store its result. Every draw comes from the run's seeded streams.
The loops over ties (phases 3-6, 9 and 10) and the career steps' loop over posts are compiled
(``kernels.py``): each is one pass that calls the same rules on every tie (grant and joint work
on the week's claimed ties only), with no temporary arrays.
"""

from dataclasses import dataclass

import mesa
import numpy as np

from . import careers, kernels, measurement, relationships, rules
from .agents import Manager
from .config import RunConfig, build_config
from .interventions import build_interventions
from .metrics import (
    OUTPUTS,
    WeekCounts,
    compute,
    group_breakdown,
    observe_ties,
)
from .network import build_ties, role_tie_count
from .params import ConfigError
from .population import DOCTOR, build_managers, build_organisations, draw_people
from .state import PERSON_FIELDS, POST_FIELDS
from .streams import RandomStreams, poisson_from_uniform


@dataclass
class Week:
    """Intermediate arrays of the current week, passed from phase to phase."""

    hours: np.ndarray
    new_tasks: np.ndarray
    bureaucracy: np.ndarray
    time: np.ndarray | None = None
    usable: np.ndarray | None = None
    perceived: np.ndarray | None = None  # leadership each manager recognises around them
    outcome: np.ndarray | None = None  # per tie: kernels.QUIET, MET, ..., SUCCEEDED
    claimed_ties: np.ndarray | None = None  # the ties that carried a claim, in tie order
    conflict_events: np.ndarray | None = None
    used_hours: np.ndarray | None = None
    load: np.ndarray | None = None
    done: np.ndarray | None = None

    @property
    def interacting(self) -> np.ndarray:
        """Ties that carried a leadership interaction this week."""
        return self.outcome >= kernels.MET

    @property
    def claimed(self) -> np.ndarray:
        """Ties on which the target claimed leadership."""
        return self.outcome >= kernels.CLAIMED

    @property
    def granted(self) -> np.ndarray:
        """Ties on which the claim was granted."""
        return self.outcome >= kernels.GRANTED

    @property
    def refused(self) -> np.ndarray:
        """Ties on which the claim was refused."""
        return self.outcome == kernels.REFUSED


class Events:
    """Each manager's counts of the week's events on their ties (filled by the tie loops)."""

    def __init__(self, n: int):
        self.table = np.zeros((7, n), dtype=np.int64)
        (self.claims, self.met, self.granted, self.refused, self.conflicts, self.won,
         self.cross_won) = self.table

    def __setitem__(self, key, value) -> None:
        self.table[key] = value


class OutputCollector(mesa.DataCollector):
    """Mesa's DataCollector, handed each week's outputs as they are: they are plain floats in
    ``model.latest``, so the deep copy Mesa makes of every reporter's value (most of what
    collecting costs a small system's week) is left out. Agent-level reporters are Mesa's own."""

    def collect(self, model: "SharedLeadershipModel") -> None:
        self._collection_steps.append(model.time)  # as Mesa's collect does (batch_run reads it)
        for name, values in self.model_vars.items():
            values.append(model.latest[name])
        if self.agent_reporters:
            model_reporters, self.model_reporters = self.model_reporters, {}
            super().collect(model)
            self.model_reporters = model_reporters


class SharedLeadershipModel(mesa.Model):
    """Shared leadership between clinical and non-clinical managers across an ICS.

    Build it from a validated :class:`RunConfig`, or with keyword arguments as SolaraViz and
    ``mesa.batch_run`` do: ``SharedLeadershipModel(ics="small_ics", seed=7,
    bureaucracy_load=0.5)``. Unknown or out-of-range values raise ``ConfigError``. With
    ``batch_run``, give the seeds as ``rng=[0, 1, ...]``: it passes each one as ``seed``.
    """

    def __init__(self, config: RunConfig | None = None, *, seed: int = 0, **kwargs):
        if config is None:
            if seed is None:
                raise ConfigError("seed = None: every run needs an integer seed "
                                  "(with mesa.batch_run, pass rng=[0, 1, ...])")
            config = build_config(seed=seed, **kwargs)
        super().__init__(rng=config.seed)
        self.config = config
        self.params = config.model
        self.streams = RandomStreams(config.seed)

        self.careers_params = config.careers
        systems = config.ics.system_list()
        self.system_names = [s.name for s in systems]  # by organisations.system
        self.system_regions = [s.region for s in systems]
        self.organisations, roster = build_organisations(
            config.ics, self.params.communication_clarity)
        self.managers = build_managers(
            self.streams.population, self.organisations, roster, config.population, self.params,
            config.network, config.careers, config.measurement)
        self.ties = build_ties(self.streams.network, self.managers, self.organisations,
                               config.network, self.params, config.careers)
        self.n_role_ties = role_tie_count(self.ties)
        self.role_ties = relationships.RoleTieIndex.build(self.ties, self.n_role_ties,
                                                          len(self.managers))
        # Trust's resting level per tie (the parameters are fixed for the run; a carried tie's
        # is set when it opens).
        self.resting_trust = rules.boundary_trust(
            self.params.trust_baseline, self.params.boundary_trust_gap, self.ties.cross_group,
            self.ties.cross_org)
        # Each tie slot's interaction-rate factor: which slots are carried ties never changes.
        self.tie_contact = relationships.carried_contact(self.ties.personal,
                                                         config.careers.carried_tie_contact)
        self.trainee_posts = np.flatnonzero(self.managers.is_trainee)
        self.n_teams = int(self.managers.team.max()) + 1
        # Posts keep their organisation and group, so each post's leaver category is fixed.
        self.leaver_category = measurement.leaver_category(
            self.organisations.type_code[self.managers.org], self.managers.is_clinical)
        self.leavers = measurement.RollingWindow(measurement.WEEKS_PER_YEAR,
                                                 measurement.LEAVER_CATEGORIES)
        self.in_post = measurement.RollingWindow(measurement.WEEKS_PER_YEAR,
                                                 measurement.LEAVER_CATEGORIES)
        self.interventions = build_interventions(config.scenario, self)
        self.cost = 0.0
        self.received = np.zeros(len(self.managers))
        self.stage_hours_factor = np.asarray(self.params.stage_hours_factor)

        # The Mesa agent of each post (None while vacant). A list, not a numpy object array:
        # numpy's object arrays are invisible to Python's cycle collector, so the cycle model ->
        # agents -> model would keep every finished model alive (1.1 MB a small_ics run, which
        # grew a calibration's workers past 10 GB).
        self.agent_at: list[Manager | None] = [Manager(self, i) for i in range(len(self.managers))]
        self.datacollector = OutputCollector(
            model_reporters={name: _reporter(name) for name in OUTPUTS},
            agent_reporters=({"leader_identity": "leader_identity", "stress": "stress",
                              "leadership_received": "leadership_received"}
                             if config.collect_agents else None),
        )
        self.latest: dict[str, float] = {}
        self.counts = WeekCounts(claims=np.zeros(len(self.managers), dtype=np.int64))
        # Buffers the compiled phases fill every week: one uniform per tie for the meetings,
        # and each manager's counts of the week's events.
        self._u_meet = np.empty(len(self.ties))
        self._events = Events(len(self.managers))
        self.observe()

    # ------------------------------------------------------------------ the week
    def step(self) -> None:
        week = self.steps
        self.apply_interventions(week)
        current = self.arrive_work(week)
        self.budget_time(current)
        self.claim(week, current)
        self.grant(week, current)
        self.collaborate(week, current)
        self.current_week = current
        self.wellbeing(week, current)
        self.careers(week)
        self.decay(week)
        self.observe()
        if week >= self.config.weeks:
            self.running = False

    # 1
    def apply_interventions(self, week: int) -> None:
        """Each intervention due this week selects its participants and applies its effects."""
        for intervention in self.interventions:
            rng = self.streams.weekly("interventions", week, intervention.stream_key)
            self.cost += intervention.apply(self, week, rng)

    # 2
    def arrive_work(self, week: int) -> Week:
        """Tasks arrive in proportion to leadership hours; each needs sign-offs."""
        m, p = self.managers, self.params
        hours = rules.leadership_hours(m.base_hours, self.stage_hours_factor[m.career_stage],
                                       p.time_scale, m.hours_boost) * m.active
        mean_tasks = rules.task_arrivals_mean(p.task_rate, hours, p.nonclinical_leadership_hours)
        u = self.streams.weekly("work", week).random(len(m))
        new_tasks = poisson_from_uniform(u, mean_tasks)
        m.backlog_age += m.backlog
        m.backlog += new_tasks
        layers = self.organisations.layers[m.org]
        # Trainees' governance and data work is clinical, outside the leadership time modelled.
        governance = np.where(m.is_trainee, 0.0, p.governance_hours)
        bureaucracy = rules.bureaucracy_hours(p.bureaucracy_load, layers, governance,
                                              p.signoff_hours_per_layer, new_tasks) * m.active
        return Week(hours=hours, new_tasks=new_tasks, bureaucracy=bureaucracy)

    # 3
    def budget_time(self, current: Week) -> None:
        """Hours left for leadership, and the share of expected interactions they cover."""
        m, p, t = self.managers, self.params, self.ties
        n = len(m)
        current.usable = kernels.scratch("budget usable", len(t), bool)
        degree, current.perceived = np.zeros(n), np.zeros(n)
        kernels.tie_sums(t.source, t.target, t.open, m.active, t.granted, self.tie_contact,
                         current.usable, degree, current.perceived)
        available = rules.available_hours(current.hours, m.stress, p.stress_time_penalty,
                                          current.bureaucracy, m.backlog, p.carry_hours_per_task)
        expected = 2.0 * p.interaction_rate * degree
        current.time = rules.time_factor(available, expected, p.collaboration_hours) * m.active

    # 4
    def claim(self, week: int, current: Week) -> None:
        """On each interacting tie i -> j, manager j may claim leadership from i: more readily
        when i's work has lost the leadership it had (stepping up)."""
        m, p, t = self.managers, self.params, self.ties
        unled = rules.duty_gap(current.perceived,
                               np.maximum(m.expected_leadership, p.leadership_need))
        m.expected_leadership = rules.toward(m.expected_leadership, current.perceived,
                                             p.expectation_rate)
        u_meet = self.streams.weekly("interaction", week).random(out=self._u_meet)
        current.outcome = kernels.scratch("outcome", len(t), np.int8)
        self._events[:] = 0
        events = self._events
        claimed = kernels.scratch("claimed ties", len(t), np.int64)
        n_claimed = kernels.claim_ties(
            t.source, t.target, current.usable, self.tie_contact, current.time,
            m.leader_identity, m.motivation, unled, p.interaction_rate, p.claim_base,
            p.identity_weight, p.duty_weight, u_meet, self.streams.keyed("claim", week),
            t.last_contact, week, current.outcome, events.claims, events.met, claimed)
        current.claimed_ties = claimed[:n_claimed]

    # 5
    def grant(self, week: int, current: Week) -> None:
        """Partner i grants j's claim, or refuses it."""
        m, p, t, o = self.managers, self.params, self.ties, self.organisations
        events = self._events
        kernels.grant_ties(current.claimed_ties, t.source, t.target, t.cross_group, t.cross_org,
                           t.trust, m.understanding, o.clarity[m.org], m.sl_skill,
                           p.value_conflict, p.goal_misalignment, p.grant_base, p.trust_weight,
                           p.skill_weight, self.streams.keyed("grant", week), current.outcome,
                           events.granted, events.refused, events.conflicts)

    # 6
    def collaborate(self, week: int, current: Week) -> None:
        """Granted claims become joint work; its outcome moves trust, identity, skills and tasks."""
        m, p, t = self.managers, self.params, self.ties
        n = len(m)
        events = self._events
        shares = np.zeros((2, n))  # task shares of successes, as source and as target
        kernels.collaborate_ties(current.claimed_ties, t.source, t.target, t.cross_group,
                                 t.cross_org, current.time, m.sl_skill, p.success_base,
                                 p.success_skill_weight, p.signoff_delay, p.bureaucracy_load,
                                 p.single_group_completion,
                                 self.streams.keyed("collaboration", week),
                                 current.outcome, events.conflicts, events.won, events.cross_won,
                                 shares[0], shares[1])
        # Ties: success builds granted leadership and trust both ways; refusal costs the
        # claimant's trust in the refuser; failure costs trust both ways.
        k = kernels.tie_learning(current.claimed_ties, current.outcome, t.reverse, t.cross_group,
                                 t.granted, t.trust, p.grant_gain, p.trust_gain, p.trust_loss)

        # Managers: the events of the week, counted on their ties.
        m.leader_identity = rules.identity_update(
            m.leader_identity, events.granted.astype(float), events.refused.astype(float),
            p.identity_boost, p.identity_penalty, p.identity_inertia)
        m.understanding = rules.repeated_step_toward_one(m.understanding, p.understanding_gain,
                                                         events.cross_won.astype(float))
        m.sl_skill = rules.repeated_step_toward_one(m.sl_skill, p.skill_gain,
                                                    events.won.astype(float))
        # Joint work serves both partners' waiting tasks; formal routes clear some of the rest.
        shared = np.minimum(m.backlog, 0.5 * (shares[0] + shares[1]))
        done = shared + rules.formal_completions(m.backlog - shared, current.time,
                                                 p.formal_route_rate)
        mean_age = np.divide(m.backlog_age, m.backlog, out=np.zeros(n), where=m.backlog > 0)
        m.backlog_age -= done * mean_age
        m.backlog -= done
        m.completed += done
        current.done = done

        current.conflict_events = events.conflicts.astype(float)
        current.used_hours = events.met * p.collaboration_hours
        claims, grants = k[kernels.REFUSED:], k[kernels.FAILED:]
        self.counts = WeekCounts(
            claims=events.claims.copy(),
            grants=int(grants[:, 0].sum()),
            cross_claims=int(claims[:, 1].sum()),
            cross_grants=int(grants[:, 1].sum()),
            refusals=int(k[kernels.REFUSED, 0]),
            conflicts=int(k[kernels.REFUSED, 1]),
            successes=int(k[kernels.SUCCEEDED, 0]),
            tasks_completed=float(done.sum()),
            bureaucracy_hours=float(current.bureaucracy.sum()),
        )

    # 7
    def wellbeing(self, week: int, current: Week) -> None:
        """Stress follows pressure; burnout erodes motivation; leavers' posts fall vacant."""
        m, p = self.managers, self.params
        demand = current.bureaucracy + p.carry_hours_per_task * m.backlog + current.used_hours
        current.load = np.divide(demand, current.hours, out=np.zeros(len(m)),
                                 where=current.hours > 0)
        pressure = (rules.workload_pressure(current.load)
                    + p.conflict_stress * current.conflict_events
                    + rules.understaffing_pressure(m.understaffed, p.understaffing_pressure))
        m.stress = np.where(m.active, rules.stress_update(m.stress, pressure, m.support,
                                                          p.stress_rate), 0.0)
        # The survey-style measures record each person's own week now, before anyone moves.
        measure = self.config.measurement
        column = (week - 1) % measure.survey_window_weeks
        m.burnt_weeks[:, column] = m.active & (m.stress > measure.burnout_report_threshold)
        m.pressed_weeks[:, column] = m.active & (current.load > 1.0)
        m.motivation = rules.motivation_update(m.motivation, m.duty, m.stress,
                                               p.burnout_threshold, p.motivation_erosion,
                                               p.motivation_recovery)
        p_exit = rules.exit_probability(m.stress, p.burnout_threshold, p.burnout_exit_rate,
                                        p.turnover_rate)
        leaving = m.active & (self.streams.weekly("exit", week).random(len(m)) < p_exit)
        leavers = leaving & ~m.is_trainee
        self.counts.exits = int(np.count_nonzero(leavers))
        self.counts.leavers = np.bincount(self.leaver_category[leavers],
                                          minlength=measurement.LEAVER_CATEGORIES)
        self.vacate(np.flatnonzero(leaving))

    def vacate(self, posts: np.ndarray) -> None:
        """The people at ``posts`` leave the system: their posts fall vacant and the leadership
        granted to or by them is lost. Their waiting work stays with the post."""
        if len(posts) == 0:
            return
        m = self.managers
        m.active[posts] = False
        m.stress[posts] = 0.0
        m.vacant_weeks[posts] = self.params.recruitment_lag
        relationships.close_posts(self.ties, self.role_ties, self.n_role_ties, posts,
                                  self.resting_trust)
        for post in posts:
            self.agent_at[post].remove()
            self.agent_at[post] = None

    # 8
    def careers(self, week: int) -> None:
        """Trainees rotate and complete on changeover days; vacant posts whose recruitment lag
        has passed are filled by promotion or by outside hires (``careers.py``)."""
        m, c = self.managers, self.careers_params
        rng = self.streams.weekly("careers", week)
        u_route, u_merit, u_order = rng.random((3, len(m)))
        m.training_week[m.is_trainee & m.active] += 1
        m.vacant_weeks[~m.active] -= 1
        if careers.is_changeover(week, c.rotation_weeks):
            self.changeover(week, u_order)

        due = np.flatnonzero(~m.active & ~m.is_trainee & (m.vacant_weeks <= 0))
        filled = careers.fill_vacancies(
            due[np.argsort(u_order[due], kind="stable")], u_route, u_merit, m.active,
            m.career_stage, m.is_clinical, m.is_trainee, m.org,
            self.organisations.system[m.org], week - m.post_since, m.leader_identity,
            c.internal_promotion_share, c.min_weeks_in_post, c.merit_noise)
        self.counts.promotions = len(filled.promoted_to)
        self.move(week, np.array(filled.promoted_from, dtype=np.int64),
                  np.array(filled.promoted_to, dtype=np.int64))
        self.recruit(np.array(filled.hired, dtype=np.int64),
                     self.streams.weekly("recruitment", week), week)

    def changeover(self, week: int, u_order: np.ndarray) -> None:
        """Completing trainees take vacant aspiring doctor posts or leave; the others rotate to
        the next trainee post of a random cycle in their system; new trainees fill the trainee
        posts left empty."""
        m, c = self.managers, self.careers_params
        done = careers.completing(m.training_week, m.is_trainee, m.active, c.training_weeks)
        vacant_doctor_posts = np.flatnonzero(
            ~m.active & ~m.is_trainee & (m.career_stage == careers.ASPIRING)
            & (m.profession == DOCTOR) & m.is_clinical)
        origin, destination = careers.match_completers(
            done, vacant_doctor_posts, self.organisations.system[m.org])
        self.move(week, origin, destination)
        self.vacate(np.setdiff1d(done, origin))  # completers with no post here leave

        posts = self.trainee_posts
        next_post = careers.rotation_destinations(
            posts, self.organisations.system[m.org[posts]], u_order[posts])
        held = m.active[posts]
        self.move(week, posts[held], next_post[held])
        self.recruit(posts[~m.active[posts]], self.streams.weekly("recruitment", week, 1), week)

    def move(self, week: int, origin: np.ndarray, destination: np.ndarray) -> None:
        """The people at posts ``origin`` take posts ``destination`` (vacant, or left by another
        mover in the same move), with their traits, their interventions and their relationships.
        The posts they leave fall vacant, to be refilled in their turn."""
        if len(origin) == 0:
            return
        m = self.managers
        people = m.take(origin)
        left = np.setdiff1d(origin, destination)
        m.active[left] = False
        m.stress[left] = 0.0
        m.vacant_weeks[left] = self.params.recruitment_lag
        for name in PERSON_FIELDS:
            getattr(m, name)[destination] = getattr(people, name)
        m.active[destination] = True
        m.vacant_weeks[destination] = 0
        m.post_since[destination] = week
        self.counts.carried_ties_evicted += relationships.move_people(
            self.ties, self.role_ties, self.n_role_ties, origin, destination, m.active,
            m.is_clinical, m.org, self.resting_trust, self.params.trust_baseline,
            self.params.boundary_trust_gap, week)
        for intervention in self.interventions:
            intervention.move_people(origin, destination)
        # Each person's agent goes with them: the same Mesa agent, now a view of the new post.
        movers = [self.agent_at[post] for post in origin.tolist()]
        for post in left.tolist():
            self.agent_at[post] = None
        for agent, post in zip(movers, destination.tolist(), strict=True):
            agent.index = post
            self.agent_at[post] = agent

    def recruit(self, posts: np.ndarray, rng: np.random.Generator, week: int) -> None:
        """Fill vacant ``posts`` with new people from outside the system, drawn for the post's
        stage (new trainees at the start of their training).

        Candidates are drawn for every post from this week's stream, so who fills a post does
        not depend on which other posts happen to be vacant (common random numbers).
        """
        if len(posts) == 0:
            return
        m = self.managers
        candidates = draw_people(rng, m.org, m.is_clinical, m.is_trainee, m.career_stage,
                                 m.understaffed, self.config.population, self.params,
                                 self.careers_params, self.config.measurement.survey_window_weeks,
                                 at=posts)
        candidates.profession = np.where(m.is_trainee[posts], DOCTOR, m.profession[posts])
        candidates.hired_week[:] = week
        candidates.post_since[:] = week
        for post_state in POST_FIELDS:  # these belong to the post
            setattr(candidates, post_state, getattr(m, post_state)[posts])
        candidates.active[:] = True
        candidates.vacant_weeks[:] = 0
        m.assign(posts, candidates)
        for post in posts:
            self.agent_at[post] = Manager(self, int(post))

    # 9
    def decay(self, week: int) -> None:
        """Granted leadership fades and trust drifts back to its resting level; carried ties
        that no longer carry interactions close."""
        p, t = self.params, self.ties
        kernels.tie_decay(t.granted, t.trust, self.resting_trust, p.granted_decay, p.trust_decay,
                          t.open, t.personal, t.last_contact, t.reverse, self.n_role_ties, week,
                          self.careers_params.tie_dormancy_weeks)

    # 10
    def observe(self) -> None:
        """Record the week's tasks and leavers for the measured outputs, compute the week's
        outputs (keeping the usable ties, which the app draws) and hand them to the
        DataCollector."""
        m, measure = self.managers, self.config.measurement
        week = self.steps
        bureaucracy = np.zeros(len(m))
        if week > 0:
            current = self.current_week
            m.completed_weeks[:, (week - 1) % measure.survey_window_weeks] = current.done
            members = m.active & ~m.is_trainee
            self.leavers.push(self.counts.leavers)
            self.in_post.push(np.bincount(self.leaver_category[members],
                                          minlength=measurement.LEAVER_CATEGORIES))
            bureaucracy = current.bureaucracy
        self.usable, self.received, totals = observe_ties(
            self.ties, self.managers, measure.rating_threshold, self.n_teams)
        latest = compute(self.managers, totals, self.received, self.counts, self.cost,
                         sum(self.participants().values()))
        latest.update(measurement.measured_outputs(
            m, totals, bureaucracy, week, measure.contracted_hours, self.leavers, self.in_post,
            self.counts.promotions, self.n_teams))
        # Swapped in whole, so the app's page, which reads it while the week steps in a thread
        # of its own, never sees a week's outputs half written.
        self.latest = latest
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ helpers
    def breakdown(self):
        """The current state by system, organisation type and clinical/non-clinical group (a
        DataFrame with the system's name, ``icb``, and NHS England ``region``)."""
        rates = measurement.leaver_rate(self.leavers.filled(), self.in_post.filled())
        weeks = min(self.steps, self.config.measurement.survey_window_weeks)
        return group_breakdown(self.managers, self.organisations, self.received, self.counts,
                               rates, weeks, self.system_names, self.system_regions)

    def participants(self) -> dict[str, int]:
        """Participants enrolled so far, per intervention."""
        return {i.name: i.participants for i in self.interventions}

    def run(self) -> None:
        """Run to the configured horizon."""
        while self.running:
            self.step()


def _reporter(name: str):
    def report(model: SharedLeadershipModel) -> float:
        return model.latest[name]

    report.__name__ = name
    return report
