"""Organisations, managers and doctors in training drawn from an ICS archetype (docs/ODD.md,
section 5)."""

from dataclasses import dataclass

import numpy as np

from . import careers
from .params import (
    CAREER_STAGES,
    CLINICAL_PROFESSIONS,
    ORG_TYPES,
    PROFESSIONS,
    CareerParams,
    ICSConfig,
    MeasurementParams,
    ModelParams,
    NetworkParams,
    PopulationParams,
)
from .state import Managers, Organisations
from .teams import build_teams

DOCTOR = PROFESSIONS.index("doctor")


@dataclass
class Roster:
    """Posts per organisation: managers, their clinical share, and doctors in training."""

    managers: np.ndarray  # int, manager posts per organisation
    clinical_share: np.ndarray  # float
    trainees: np.ndarray  # int, trainee posts per organisation


def build_organisations(ics: ICSConfig, clarity: float) -> tuple[Organisations, Roster]:
    """Expand the systems into organisations and the posts they hold.

    Systems come in the order of :meth:`ICSConfig.system_list` (an archetype's one system,
    repeated ``ics.systems`` times, or each listed system: the 42 ICBs for England).
    """
    type_code, system, layers, sizes, clinical_share, trainees = [], [], [], [], [], []
    for s, member in enumerate(ics.system_list()):
        for spec in member.organisations:
            for _ in range(spec.count):
                type_code.append(ORG_TYPES.index(spec.type))
                system.append(s)
                layers.append(spec.bureaucracy_layers)
                sizes.append(spec.managers)
                clinical_share.append(spec.clinical_share)
                trainees.append(spec.trainees)
    orgs = Organisations(
        type_code=np.array(type_code, dtype=np.int64),
        system=np.array(system, dtype=np.int64),
        layers=np.array(layers, dtype=float),
        clarity=np.full(len(type_code), clarity, dtype=float),
    )
    roster = Roster(managers=np.array(sizes, dtype=np.int64),
                    clinical_share=np.array(clinical_share, dtype=float),
                    trainees=np.array(trainees, dtype=np.int64))
    return orgs, roster


def _trait(rng: np.random.Generator, mean, spread: float, n: int, at: np.ndarray) -> np.ndarray:
    """Normal draws around ``mean`` clipped to [0, 1]: always ``n`` draws (fixed shape), those
    ``at`` kept."""
    return np.clip(mean + spread * rng.standard_normal(n)[at], 0.0, 1.0)


def draw_people(rng: np.random.Generator, org: np.ndarray, is_clinical: np.ndarray,
                is_trainee: np.ndarray, career_stage: np.ndarray, understaffed: np.ndarray,
                pop: PopulationParams,
                model: ModelParams, career: CareerParams, window: int,
                at: np.ndarray | None = None) -> Managers:
    """Draw the people who hold the given posts: professions and starting traits.

    Used both at the start and for new hires, so newcomers come from the same distributions.
    Clinicians start with lower leader identity (Table 1, "saw myself as a clinician and not a
    leader"). Doctors in training are doctors with a trainee's leadership hours; they start
    their training.

    Draws are made for every post given, whatever ``at`` says, so a post's draws never depend
    on which other posts are filled (common random numbers); the people returned are those of
    the posts ``at`` (all of them by default), in that order.
    """
    n = len(org)
    at = np.arange(n) if at is None else at
    k = len(at)
    clinical_prof = rng.choice(len(CLINICAL_PROFESSIONS), size=n,
                               p=pop.clinical_profession_shares)[at]
    other_prof = len(CLINICAL_PROFESSIONS) + rng.choice(
        len(pop.nonclinical_profession_shares), size=n, p=pop.nonclinical_profession_shares)[at]
    org, is_clinical, is_trainee, career_stage, understaffed = (
        org[at], is_clinical[at], is_trainee[at], career_stage[at], understaffed[at])
    identity_mean = (np.asarray(pop.identity_by_stage)[career_stage]
                     - pop.clinician_identity_gap * is_clinical)
    duty = _trait(rng, pop.motivation_mean, pop.trait_spread, n, at)
    base_hours = np.where(is_clinical, model.clinical_leadership_hours,
                          model.nonclinical_leadership_hours)
    return Managers(
        org=org,
        is_clinical=is_clinical,
        profession=np.where(is_trainee, DOCTOR, np.where(is_clinical, clinical_prof, other_prof)),
        career_stage=career_stage,
        duty=duty,
        motivation=duty.copy(),
        leader_identity=_trait(rng, identity_mean, pop.trait_spread, n, at),
        sl_skill=_trait(rng, np.asarray(pop.skill_by_stage)[career_stage], pop.trait_spread, n,
                        at),
        understanding=_trait(rng, pop.understanding_mean, pop.trait_spread, n, at),
        base_hours=np.where(is_trainee, career.trainee_leadership_hours, base_hours).astype(float),
        hours_boost=np.zeros(k),
        support=np.full(k, model.support),
        stress=np.zeros(k),
        active=np.ones(k, dtype=bool),
        vacant_weeks=np.zeros(k, dtype=np.int64),
        backlog=np.zeros(k),
        backlog_age=np.zeros(k),
        completed=np.zeros(k),
        formal_leader=np.zeros(k, dtype=bool),
        expected_leadership=np.zeros(k),
        hired_week=np.zeros(k, dtype=np.int64),
        team=np.zeros(k, dtype=np.int64),
        is_trainee=is_trainee,
        understaffed=understaffed,
        post_since=np.zeros(k, dtype=np.int64),
        training_week=np.zeros(k, dtype=np.int64),
        completed_weeks=np.zeros((k, window)),
        burnt_weeks=np.zeros((k, window), dtype=bool),
        pressed_weeks=np.zeros((k, window), dtype=bool),
    )


def build_managers(rng: np.random.Generator, orgs: Organisations, roster: Roster,
                   pop: PopulationParams, model: ModelParams, net: NetworkParams,
                   career: CareerParams, measure: MeasurementParams) -> Managers:
    """Fill every organisation's posts, set the initial leadership hierarchy, the teams and the
    stationary start of careers.

    Manager posts come first (organisation by organisation), then trainee posts. Clinical posts
    are drawn per organisation from its clinical share (boards: about 26% clinicians,
    facts.md). With ``initial_hierarchy`` h, a share ``formal_leader_share`` of managers (the
    established first) hold formal roles: every identity is pulled a share h of the way toward
    0.9 for formal leaders and 0.1 for everyone else (Nunez Barahona 2025 contrast a
    hierarchical with a homogeneous start; the numbers are assumptions). Tenures in post and
    trainees' progress through training are drawn from the career process's stationary
    distribution, so a run starts with no artefact in careers.
    """
    org = np.concatenate([np.repeat(np.arange(len(roster.managers)), roster.managers),
                          np.repeat(np.arange(len(roster.trainees)), roster.trainees)])
    n, n_trainees = len(org), int(roster.trainees.sum())
    is_trainee = np.arange(n) >= n - n_trainees
    is_clinical = is_trainee | (rng.random(n) < roster.clinical_share[org])
    career_stage = np.where(is_trainee, careers.ASPIRING,
                            rng.choice(len(CAREER_STAGES), size=n, p=pop.stage_shares))
    understaffed = rng.random(n) < pop.understaffed_share
    people = draw_people(rng, org, is_clinical, is_trainee, career_stage, understaffed, pop, model,
                         career, measure.survey_window_weeks)

    managers = np.flatnonzero(~is_trainee)
    n_formal = max(1, round(model.formal_leader_share * len(managers)))
    # Established managers first, then the rest, in random order within each stage.
    order = managers[np.lexsort((rng.random(len(managers)), -career_stage[managers]))]
    people.formal_leader[order[:n_formal]] = True
    target = np.where(people.formal_leader, 0.9, 0.1)
    h = model.initial_hierarchy
    people.leader_identity = np.where(
        is_trainee, people.leader_identity, (1.0 - h) * people.leader_identity + h * target)

    people.team = build_teams(rng, org, orgs.system[org], net.team_size_min, net.team_size_max,
                              net.cross_org_team_share)
    tenure = careers.weeks_in_post_at_start(rng.random(n), model.turnover_rate)
    training = rng.integers(0, career.training_weeks, size=n)
    people.training_week = np.where(is_trainee, training, 0)
    # Trainees took their post at the last changeover (week 0) and joined when training began.
    people.post_since = np.where(is_trainee, 0, -tenure)
    people.hired_week = np.where(is_trainee, -training, -tenure)
    return people
