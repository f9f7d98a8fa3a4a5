"""Interventions: the paper's recommendations as small, composable policy levers.

Each lever is a class with one job: what happens to a participant when they are enrolled. The base
class does the rest, the same way for every lever:

* **when**: enrolment runs from ``start_week`` to ``end_week`` (0: no end);
* **whom**: a target selector (clinical or non-clinical, career stages, organisation types,
  professions);
* **how many**: ``coverage``, the share of the eligible group reached per year, as a weekly
  enrolment chance; each person enrols once; draws come from the intervention's own stream, one
  uniform per unit every week (common random numbers);
* **how long**: effects given through :meth:`Intervention.give` fade with ``half_life_weeks``;
* **cost**: ``unit_cost`` per participant (levers may charge per hour instead).

Levers change the model only through these documented hooks:

* :meth:`Intervention.enrol` (override): the effect on this week's new participants;
* :meth:`Intervention.ongoing` (override if needed): effects and costs of every week;
* :meth:`Intervention.give`: add to a manager or organisation state array, with fading;
* ``model.managers`` / ``model.organisations`` arrays and ``model.ties.open`` are the state they
  may touch; the weekly rules never special-case an intervention.

A lever lives in one place, here: the dataclass of its knobs (each declared with
:func:`~simulation.params.param`, so it is validated and documented like every other parameter),
its class, and the :func:`register` decorator that adds it to :data:`REGISTRY`, the one registry
of levers. Which class runs is resolved only from there, by the config's ``kind``; code (never a
config) adds a lever. Its config file in ``configs/intervention/`` is the only other file: the
one-lever scenarios and the policy search's levers are derived from those files.
"""

import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from omegaconf import OmegaConf

from . import rules
from .params import (
    CAREER_STAGES,
    COVERAGE_PRIOR,
    GROUPS,
    HALF_LIFE_PRIOR,
    ORG_TYPES,
    PROFESSIONS,
    UNIT_COST_PRIOR,
    ConfigError,
    InterventionParams,
    choice,
    key_hint,
    param,
    validate,
)
from .priors import fixed, relative, triangular

WEEKS_PER_YEAR = 52
# Tiers of the leadership programme, modelled on the NHS Leadership Academy's programmes.
PROGRAMME_TIERS = ("foundations", "first_time", "mid_level", "board")
REGISTRY: dict[str, type["Intervention"]] = {}
UNIT_STATES = ("leader_identity", "sl_skill", "understanding", "support", "duty", "motivation",
               "stress", "clarity")


class Intervention:
    """Base class: enrolment, targeting, fading effects and costs (see the module docstring)."""

    kind: ClassVar[str]
    params_class: ClassVar[type[InterventionParams]]
    per_organisation: ClassVar[bool] = False  # participants are organisations, not managers
    charged_per_participant: ClassVar[bool] = True  # else the lever charges in ongoing()

    def __init__(self, name: str, params: InterventionParams, model: Any):
        self.name = name
        self.params = params
        self.stream_key = zlib.crc32(name.encode())
        units = len(model.organisations) if self.per_organisation else len(model.managers)
        self.enrolled_week = np.full(units, -1, dtype=np.int64)
        self.participants = 0
        self.fade = float(rules.half_life_factor(np.asarray(params.half_life_weeks)))
        self.given: dict[tuple[str, str], np.ndarray] = {}  # (owner, state) -> amount given
        # Organisations in the targeted systems (None: every system).
        self.system_ok = None
        if params.target_systems:
            systems = [i for i, name in enumerate(model.system_names)
                       if name in params.target_systems]
            self.system_ok = np.isin(model.organisations.system, systems)

    # ---------------------------------------------------------------- the weekly call
    def apply(self, model: Any, week: int, rng: np.random.Generator) -> float:
        """Fade earlier effects, enrol this week's participants, return this week's cost (GBP)."""
        self._fade_given(model)
        draws = rng.random(len(self.enrolled_week))
        new = np.flatnonzero(self._enrolling(week) & self._eligible(model)
                             & ~self._enrolled_now(model) & (draws < self._weekly_chance()))
        self.enrolled_week[new] = week
        self.participants += len(new)
        self.enrol(model, week, new)
        enrolment_cost = self.params.unit_cost * len(new) if self.charged_per_participant else 0.0
        return enrolment_cost + self.ongoing(model, week)

    # ---------------------------------------------------------------- hooks for levers
    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        """Apply the lever's effect to this week's new participants (override)."""
        raise NotImplementedError

    def ongoing(self, model: Any, week: int) -> float:
        """Effects of every week after enrolment; returns extra cost this week (override)."""
        return 0.0

    def give(self, model: Any, state: str, units: np.ndarray, amount,
             owner: str = "managers") -> None:
        """Add ``amount`` to ``model.<owner>.<state>`` for ``units``. The gift fades with the
        half-life; a manager's gift is withdrawn when they leave. [0, 1] states stay in [0, 1]."""
        values = getattr(getattr(model, owner), state)
        before = values[units].copy()
        values[units] = self._bounded(state, before + amount)
        given = self.given.setdefault((owner, state), np.zeros(len(values)))
        given[units] += values[units] - before

    def move_people(self, origin: np.ndarray, destination: np.ndarray) -> None:
        """People at posts ``origin`` took posts ``destination``: what this lever gave them, and
        their enrolment, go with them; the posts they left hold nothing of it."""
        if self.per_organisation:
            return
        for records in (self.enrolled_week, *(given for (owner, _), given in self.given.items()
                                              if owner == "managers")):
            moved = records[origin].copy()
            records[origin] = -1 if records is self.enrolled_week else 0.0
            records[destination] = moved

    # ---------------------------------------------------------------- helpers
    def _weekly_chance(self) -> float:
        return 1.0 - (1.0 - self.params.coverage) ** (1.0 / WEEKS_PER_YEAR)

    def _enrolling(self, week: int) -> bool:
        p = self.params
        return week >= p.start_week and (p.end_week == 0 or week <= p.end_week)

    def _enrolled_now(self, model: Any) -> np.ndarray:
        """Units whose current holder has enrolled (a new manager in a post may enrol again)."""
        if self.per_organisation:
            return self.enrolled_week >= 0
        return (self.enrolled_week >= 0) & (self.enrolled_week >= model.managers.hired_week)

    def _eligible(self, model: Any) -> np.ndarray:
        p = self.params
        m, orgs = model.managers, model.organisations
        org_ok = np.isin(orgs.type_code, [ORG_TYPES.index(t) for t in p.target_org_types])
        if self.system_ok is not None:
            org_ok &= self.system_ok
        if self.per_organisation:
            return org_ok
        managers = ~m.is_trainee
        group_ok = {"all": managers, "clinical": managers & m.is_clinical,
                    "non_clinical": managers & ~m.is_clinical,
                    "trainees": m.is_trainee}[p.target_group]
        return (m.active & group_ok & org_ok[m.org]
                & np.isin(m.career_stage, [CAREER_STAGES.index(s) for s in p.target_stages])
                & np.isin(m.profession, [PROFESSIONS.index(s) for s in p.target_professions]))

    @staticmethod
    def _bounded(state: str, values: np.ndarray) -> np.ndarray:
        return rules.clip01(values) if state in UNIT_STATES else values

    def _fade_given(self, model: Any) -> None:
        for (owner, state), given in self.given.items():
            if owner == "managers":
                given[~self._enrolled_now(model)] = 0.0  # the person who received it has left
            faded = given * self.fade
            values = getattr(getattr(model, owner), state)
            values[:] = self._bounded(state, values + faded - given)
            given[:] = faded


def register(cls: type[Intervention]) -> type[Intervention]:
    """Class decorator: add a lever (its class, and through it the schema of its knobs) to
    :data:`REGISTRY`."""
    REGISTRY[cls.kind] = cls
    return cls


# The training levers' effect sizes: relative to each tier's configured delta (priors.py).
TRAINING_EFFECT_PRIOR = relative(triangular(
    0.5, 1.0, 1.5, "Lacerenza et al. 2017: the effect varies with design and delivery, from half "
    "to one and a half times"))


@dataclass
class TrainingParams(InterventionParams):
    """Shared-leadership training: gains in skill, understanding and identity, and less
    stereotyping of the other group."""

    skill_effect_sd: float = param(
        0.73, 0.0, 3.0, "SD", "Gain in SL skill, in SDs of skill across managers.",
        "G: Lacerenza et al. 2017, delta = .73 (learning)",
        prior=TRAINING_EFFECT_PRIOR)
    understanding_effect_sd: float = param(
        0.6, 0.0, 3.0, "SD", "Gain in understanding of the other group, in SDs.",
        "A: G range delta .6-.8 (model brief)",
        prior=TRAINING_EFFECT_PRIOR)
    identity_effect_sd: float = param(
        0.6, 0.0, 3.0, "SD", "Gain in leader identity, in SDs.",
        "A: G range delta .6-.8 (model brief)",
        prior=TRAINING_EFFECT_PRIOR)
    cross_group_trust_effect: float = param(
        0.1, 0.0, 1.0, "trust",
        "Rise in a participant's trust in the colleagues they know from the other group.",
        "A: size; G: interprofessional education reduced stereotyping (Ekmekci 2013)",
        prior=relative(triangular(0.5, 1.0, 1.5, "Ekmekci 2013: interprofessional education "
                       "reduces stereotyping; its size is unknown")))


class TrainingIntervention(Intervention):
    """Training that raises SL skill, understanding and leader identity by effect sizes in SDs,
    and the participant's trust in the colleagues they know from the other group (trust then
    drifts back at the model's trust decay rate)."""

    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        spread = model.config.population.trait_spread
        p = self.params
        for state, effect_sd in (("sl_skill", p.skill_effect_sd),
                                 ("understanding", p.understanding_effect_sd),
                                 ("leader_identity", p.identity_effect_sd)):
            self.give(model, state, units, effect_sd * spread)
        ties = model.ties
        joined = np.zeros(len(model.managers), bool)
        joined[units] = True
        known = np.flatnonzero(joined[ties.source] & ties.cross_group)
        ties.trust[known] = rules.clip01(ties.trust[known] + p.cross_group_trust_effect)


@dataclass
class PostgradTrainingParams(TrainingParams):
    """Shared-leadership training for doctors in postgraduate training: it reaches today's
    managers only through the trainees who later take clinical leadership posts."""

    target_group: str = choice("trainees", GROUPS, "Doctors in postgraduate training.")
    coverage: float = param(
        0.5, 0.0, 1.0, "share per year", "Share of eligible trainees reached each year.",
        "A: part of the postgraduate curriculum (the paper's first recommendation)",
        prior=COVERAGE_PRIOR)
    unit_cost: float = param(
        1500.0, 0.0, 1e6, "GBP per participant", "Cost of training one doctor.",
        "A: a few study days of a deanery leadership module",
        prior=UNIT_COST_PRIOR)


@register
class PostgradSLTraining(TrainingIntervention):
    """Shared-leadership training for doctors in postgraduate training (the paper's first
    recommendation; effect sizes from Lacerenza et al. 2017)."""

    kind = "postgrad_sl_training"
    params_class = PostgradTrainingParams


@dataclass
class LeadershipProgrammeParams(TrainingParams):
    """A development programme tier, modelled on the NHS Leadership Academy's programmes."""

    tier: str = choice("first_time", PROGRAMME_TIERS, "Programme tier.")
    target_stages: list[str] = choice(["emerging"], CAREER_STAGES, "Career stages targeted.")
    coverage: float = param(
        0.1, 0.0, 1.0, "share per year", "Share of the tier's eligible managers reached a year.",
        "A",
        prior=COVERAGE_PRIOR)
    duration_weeks: int = param(
        26, 1, 208, "weeks", "Weeks a participant studies.",
        "G: Mary Seacole 6 months; Rosalind Franklin 9 months; EGA MSc 24 months",
        prior=fixed("the design of the programme (the Academy's programmes)"))
    study_hours: float = param(
        1.0, 0.0, 20.0, "h/week",
        "Leadership hours a participant gives up to study while enrolled.",
        "A: a quarter of the study time (G: Mary Seacole about 100 h over 6 months; Rosalind "
        "Franklin 4-5 h/week); the rest backfilled or in the participant's own time",
        prior=relative(triangular(0.5, 1.0, 1.5, "how much study displaces leadership work varies "
                       "with backfill")))
    understanding_effect_sd: float = param(
        0.5, 0.0, 3.0, "SD", "Gain in understanding, in SDs.", "A",
        prior=TRAINING_EFFECT_PRIOR)
    unit_cost: float = param(
        2000.0, 0.0, 1e6, "GBP per participant", "Programme fee per participant.", "A",
        prior=UNIT_COST_PRIOR)


@register
class LeadershipProgramme(TrainingIntervention):
    """A Leadership Academy-style programme tier: training effects, and study hours taken from
    leadership time while enrolled (the paper's second recommendation)."""

    kind = "leadership_programme"
    params_class = LeadershipProgrammeParams

    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        super().enrol(model, week, units)
        model.managers.hours_boost[units] -= self.params.study_hours

    def ongoing(self, model: Any, week: int) -> float:
        graduating = np.flatnonzero(self._enrolled_now(model) & (
            self.enrolled_week == week - self.params.duration_weeks))
        model.managers.hours_boost[graduating] += self.params.study_hours
        return 0.0


@dataclass
class ProtectedTimeParams(InterventionParams):
    """Funded hours a week for leadership, e.g. one extra programmed activity for clinicians."""

    target_group: str = choice("clinical", GROUPS, "Clinical managers.")
    coverage: float = param(
        0.3, 0.0, 1.0, "share per year", "Share of eligible managers given protected time a year.",
        "A",
        prior=COVERAGE_PRIOR)
    extra_hours: float = param(
        4.0, 0.0, 20.0, "h/week", "Protected leadership hours a week.",
        "G: one programmed activity is 4 h (consultant contract)",
        prior=fixed("a decision of the option: the hours funded"))
    half_life_weeks: float = param(
        0.0, 0.0, 1040.0, "weeks", "Half-life of the protected time (0: lasts while funded).",
        "A",
        prior=HALF_LIFE_PRIOR)
    unit_cost: float = param(
        55.0, 0.0, 1e4, "GBP per hour freed", "Cost of one protected hour (backfill).",
        "A: a consultant PA costs about GBP 11k a year, about GBP 55 an hour",
        prior=UNIT_COST_PRIOR)


@register
class ProtectedTime(Intervention):
    """Funded hours a week for leadership; charged per hour freed, every week it lasts."""

    kind = "protected_time"
    params_class = ProtectedTimeParams
    charged_per_participant = False

    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        self.give(model, "hours_boost", units, self.params.extra_hours)

    def ongoing(self, model: Any, week: int) -> float:
        """Charge every protected hour still given; withdraw them when funding ends."""
        hours = self.given.get(("managers", "hours_boost"))
        if hours is None:
            return 0.0
        if self.params.end_week and week > self.params.end_week:
            funded = np.flatnonzero(hours)
            self.give(model, "hours_boost", funded, -hours[funded])
        return float((hours * model.managers.active).sum()) * self.params.unit_cost


@dataclass
class ReduceBureaucracyParams(InterventionParams):
    """Fewer sign-off layers for cross-boundary decisions, one organisation at a time."""

    coverage: float = param(
        0.5, 0.0, 1.0, "share per year", "Share of eligible organisations redesigned a year.", "A",
        prior=COVERAGE_PRIOR)
    layers_removed: float = param(
        1.0, 0.0, 10.0, "layers", "Sign-off layers removed in a redesigned organisation.",
        "A: size; G: direction (T4 bureaucracy)",
        prior=fixed("a decision of the option: the layers removed"))
    half_life_weeks: float = param(
        0.0, 0.0, 1040.0, "weeks", "Half-life of the redesign (0: lasting).", "A",
        prior=HALF_LIFE_PRIOR)
    unit_cost: float = param(
        50000.0, 0.0, 1e7, "GBP per organisation", "Cost of a governance redesign.", "A",
        prior=UNIT_COST_PRIOR)


@register
class ReduceBureaucracy(Intervention):
    """Governance redesign: an organisation loses sign-off layers for cross-boundary decisions."""

    kind = "reduce_bureaucracy"
    params_class = ReduceBureaucracyParams
    per_organisation = True

    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        layers = model.organisations.layers[units]
        self.give(model, "layers", units, -np.minimum(layers, self.params.layers_removed),
                  owner="organisations")


@dataclass
class ClearCommunicationParams(InterventionParams):
    """System forums: new cross-organisation ties and clearer lines of communication."""

    coverage: float = param(
        0.3, 0.0, 1.0, "share per year", "Share of managers joining a system forum each year.",
        "A",
        prior=COVERAGE_PRIOR)
    clarity_effect: float = param(
        0.6, 0.0, 1.0, "clarity",
        "Gain in an organisation's communication clarity when all its managers have joined.",
        "A: size; G: recommendation (clear lines of communication)",
        prior=relative(triangular(0.5, 1.0, 1.5, "how much forums clarify is unmeasured")))
    half_life_weeks: float = param(
        0.0, 0.0, 1040.0, "weeks", "Half-life of the clarity gain (0: lasting).", "A",
        prior=HALF_LIFE_PRIOR)
    unit_cost: float = param(
        500.0, 0.0, 1e6, "GBP per participant", "Cost of a manager's forum time.", "A",
        prior=UNIT_COST_PRIOR)


@register
class ClearCommunication(Intervention):
    """System forums: participants' latent cross-organisation ties open, and each
    organisation's clarity rises with the share of its managers who have joined."""

    kind = "clear_communication"
    params_class = ClearCommunicationParams

    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        ties = model.ties
        joined = np.zeros(len(model.managers), bool)
        joined[units] = True
        # Forum ties are latent role ties (carried-tie slots are not forums).
        ties.open |= ~ties.personal & (joined[ties.source] | joined[ties.target])
        org = model.managers.org
        share = (np.bincount(org[units], minlength=len(model.organisations))
                 / np.bincount(org, minlength=len(model.organisations)))
        reached = np.flatnonzero(share > 0)
        self.give(model, "clarity", reached, self.params.clarity_effect * share[reached],
                  owner="organisations")


@dataclass
class CoachingSupportParams(InterventionParams):
    """Coaching and peer support: less stress, sustained motivation."""

    coverage: float = param(
        0.2, 0.0, 1.0, "share per year", "Share of eligible managers coached each year.", "A",
        prior=COVERAGE_PRIOR)
    support_effect: float = param(
        0.3, 0.0, 1.0, "support", "Rise in a participant's support.",
        "A: size; G: direction (T4 lack of support)",
        prior=relative(triangular(0.5, 1.0, 1.5,
                                  "coaching effects vary widely between programmes")))
    stress_relief: float = param(
        0.3, 0.0, 1.0, "share", "Share of a participant's stress relieved at enrolment.", "A",
        prior=relative(triangular(0.5, 1.0, 1.5,
                                  "coaching effects vary widely between programmes")))
    motivation_effect: float = param(
        0.1, 0.0, 1.0, "motivation", "Rise in a participant's sense of duty (motivation).", "A",
        prior=relative(triangular(0.5, 1.0, 1.5,
                                  "coaching effects vary widely between programmes")))
    unit_cost: float = param(
        1200.0, 0.0, 1e6, "GBP per participant", "Cost of a course of coaching.",
        "A: six sessions of executive coaching",
        prior=UNIT_COST_PRIOR)


@register
class CoachingSupport(Intervention):
    """Coaching and peer support: more support, stress relieved, motivation sustained."""

    kind = "coaching_support"
    params_class = CoachingSupportParams

    def enrol(self, model: Any, week: int, units: np.ndarray) -> None:
        p = self.params
        self.give(model, "support", units, p.support_effect)
        self.give(model, "duty", units, p.motivation_effect)
        model.managers.stress[units] *= 1.0 - p.stress_relief


def intervention_params(name: str, spec: Any) -> InterventionParams:
    """Validate one intervention's config against the schema of its ``kind``.

    Kinds resolve only from :data:`REGISTRY`: a config naming anything else (such as
    ``_target_: os.system``) is rejected, because scenario files are shared between analysts.
    """
    from omegaconf.errors import OmegaConfBaseException

    path = f"scenario.interventions.{name}"
    spec = dict(OmegaConf.to_container(spec, resolve=True) if OmegaConf.is_config(spec)
                else spec)
    if "_target_" in spec:
        raise ConfigError(f"{path}._target_ is not allowed: interventions are chosen by 'kind', "
                          f"one of {list(REGISTRY)}")
    kind = spec.get("kind")
    if kind not in REGISTRY:
        raise ConfigError(f"{path}.kind = {kind!r} is not one of {list(REGISTRY)}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(REGISTRY[kind].params_class), spec)
        params = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{path}: " + str(exc).splitlines()[0] + key_hint(exc)) from None
    validate(params, f"{path}.")
    return params




def build_interventions(scenario: Any, model: Any) -> list[Intervention]:
    """The scenario's interventions, in config order, each validated against its schema."""
    built = []
    for name, spec in scenario.interventions.items():
        params = intervention_params(name, spec)
        built.append(REGISTRY[params.kind](name, params, model))
    return built
