"""Organisations and managers drawn from an ICS archetype (docs/ODD.md, section 5)."""

import numpy as np

from .params import (
    CAREER_STAGES,
    CLINICAL_PROFESSIONS,
    ORG_TYPES,
    ICSConfig,
    ModelParams,
    PopulationParams,
)
from .state import Managers, Organisations


def build_organisations(ics: ICSConfig, clarity: float) -> tuple[Organisations, np.ndarray,
                                                                 np.ndarray]:
    """Expand the archetype into organisations.

    Returns the organisations, the managers per organisation and each organisation's clinical
    share. The archetype is repeated ``ics.systems`` times (42 for England).
    """
    type_code, system, layers, sizes, clinical_share = [], [], [], [], []
    for s in range(ics.systems):
        for spec in ics.organisations:
            for _ in range(spec.count):
                type_code.append(ORG_TYPES.index(spec.type))
                system.append(s)
                layers.append(spec.bureaucracy_layers)
                sizes.append(spec.managers)
                clinical_share.append(spec.clinical_share)
    orgs = Organisations(
        type_code=np.array(type_code, dtype=np.int64),
        system=np.array(system, dtype=np.int64),
        layers=np.array(layers, dtype=float),
        clarity=np.full(len(type_code), clarity, dtype=float),
    )
    return orgs, np.array(sizes, dtype=np.int64), np.array(clinical_share, dtype=float)


def _trait(rng: np.random.Generator, mean, spread: float, n: int) -> np.ndarray:
    """Normal draws around ``mean`` clipped to [0, 1]: always ``n`` draws (fixed shape)."""
    return np.clip(mean + spread * rng.standard_normal(n), 0.0, 1.0)


def draw_people(rng: np.random.Generator, org: np.ndarray, is_clinical: np.ndarray,
                career_stage: np.ndarray, pop: PopulationParams, model: ModelParams) -> Managers:
    """Draw the people who hold the given posts: professions and starting traits.

    Used both at the start and for replacements, so new managers come from the same
    distributions. Clinicians start with lower leader identity (Table 1, "saw myself as a
    clinician and not a leader").
    """
    n = len(org)
    clinical_prof = rng.choice(len(CLINICAL_PROFESSIONS), size=n, p=pop.clinical_profession_shares)
    other_prof = len(CLINICAL_PROFESSIONS) + rng.choice(
        len(pop.nonclinical_profession_shares), size=n, p=pop.nonclinical_profession_shares)
    identity_mean = (np.asarray(pop.identity_by_stage)[career_stage]
                     - pop.clinician_identity_gap * is_clinical)
    duty = _trait(rng, pop.motivation_mean, pop.trait_spread, n)
    base_hours = np.where(is_clinical, model.clinical_leadership_hours,
                          model.nonclinical_leadership_hours)
    return Managers(
        org=org.copy(),
        is_clinical=is_clinical.copy(),
        profession=np.where(is_clinical, clinical_prof, other_prof),
        career_stage=career_stage.copy(),
        duty=duty,
        motivation=duty.copy(),
        leader_identity=_trait(rng, identity_mean, pop.trait_spread, n),
        sl_skill=_trait(rng, np.asarray(pop.skill_by_stage)[career_stage], pop.trait_spread, n),
        understanding=_trait(rng, pop.understanding_mean, pop.trait_spread, n),
        base_hours=base_hours.astype(float),
        hours_boost=np.zeros(n),
        support=np.full(n, model.support),
        stress=np.zeros(n),
        active=np.ones(n, dtype=bool),
        vacant_weeks=np.zeros(n, dtype=np.int64),
        backlog=np.zeros(n),
        backlog_age=np.zeros(n),
        completed=np.zeros(n),
        formal_leader=np.zeros(n, dtype=bool),
        expected_leadership=np.zeros(n),
        hired_week=np.zeros(n, dtype=np.int64),
    )


def build_managers(rng: np.random.Generator, sizes: np.ndarray, clinical_share: np.ndarray,
                   pop: PopulationParams, model: ModelParams) -> Managers:
    """Fill every organisation's posts, then set the initial leadership hierarchy.

    Clinical posts are drawn per organisation from its clinical share (boards: about 26%
    clinicians, facts.md). With ``initial_hierarchy`` h, a share ``formal_leader_share`` of
    managers (the established first) hold formal roles: every identity is pulled a share h of the
    way toward 0.9 for formal leaders and 0.1 for everyone else (Nunez Barahona 2025 contrast a
    hierarchical with a homogeneous start; the numbers are assumptions).
    """
    org = np.repeat(np.arange(len(sizes)), sizes)
    n = len(org)
    is_clinical = rng.random(n) < clinical_share[org]
    career_stage = rng.choice(len(CAREER_STAGES), size=n, p=pop.stage_shares)
    people = draw_people(rng, org, is_clinical, career_stage, pop, model)

    n_formal = max(1, round(model.formal_leader_share * n))
    # Established managers first, then the rest, in random order within each stage.
    order = np.lexsort((rng.random(n), -career_stage))
    people.formal_leader[order[:n_formal]] = True
    target = np.where(people.formal_leader, 0.9, 0.1)
    h = model.initial_hierarchy
    people.leader_identity = (1.0 - h) * people.leader_identity + h * target
    return people
