"""The one parameter schema: typed dataclasses with defaults, ranges, units, meaning and grounding.

Every parameter is declared once, with :func:`param` (a number, or a list of numbers, in a range)
or :func:`choice` (a name, or a list of names, from a fixed set). The schema drives:

* validation (:func:`validate`, called before anything runs);
* the Hydra configs (``config.py`` registers the root dataclass with Hydra's ConfigStore);
* the Solara sliders of the browser app;
* the priors of sensitivity analysis, calibration and probabilistic sensitivity analysis
  (``prior=``: each assumption [A] has a plausible prior, or says why it is fixed; ``priors.py``);
* the parameter tables of the documentation (``documentation.py``).

The knobs of each policy lever are declared beside its behaviour, in ``interventions.py``, on
the common :class:`InterventionParams` defined here.

Grounding strings start with ``G:`` (a source in ``docs/ODD.md``) or ``A:`` (an assumption).
"""

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from omegaconf import MISSING

from .priors import Fixed, Prior, fixed, loguniform, relative, triangular, uniform

ORG_TYPES = (
    "icb",
    "acute_trust",
    "community_trust",
    "mental_health_trust",
    "pcn",
    "social_care",
)
CAREER_STAGES = ("aspiring", "emerging", "established")
CLINICAL_PROFESSIONS = ("doctor", "nurse", "allied_health")
NON_CLINICAL_PROFESSIONS = ("finance", "operations", "commissioning", "hr")
PROFESSIONS = CLINICAL_PROFESSIONS + NON_CLINICAL_PROFESSIONS
# Whom a lever targets: all managers, clinical or non-clinical managers, or the doctors in
# postgraduate training (who are not managers).
GROUPS = ("all", "clinical", "non_clinical", "trainees")


class ConfigError(ValueError):
    """A configuration value is of the wrong type, out of range, or unknown."""


def param(
    default: Any,
    low: float,
    high: float,
    unit: str,
    doc: str,
    source: str,
    *,
    prior: Prior | Fixed | None = None,
) -> Any:
    """Declare a parameter: its default, inclusive range, unit, meaning and grounding.

    ``prior`` is the plausible prior of an assumption (:mod:`simulation.priors`), inside the
    allowed range and holding the default; or :func:`simulation.priors.fixed` with the reason an
    assumption is not sampled. The allowed range stays what validation enforces.
    List defaults (one value per category) have each element checked against the range.
    A default of ``None`` makes the setting optional: ``None`` (not set) passes validation.
    """
    metadata = {
        "range": (low, high),
        "unit": unit,
        "doc": doc,
        "source": source,
        "prior": prior,
    }
    if isinstance(prior, Prior) and not prior.relative:
        values = default if isinstance(default, list) else [default]
        if not low <= prior.low < prior.high <= high:
            raise ValueError(f"{doc!r}: prior [{prior.low}, {prior.high}] is outside the allowed "
                             f"range [{low}, {high}]")
        if not all(prior.low <= v <= prior.high for v in values):
            raise ValueError(f"{doc!r}: default {default} is outside its prior "
                             f"[{prior.low}, {prior.high}]")
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def choice(default: Any, allowed: Sequence[str], doc: str) -> Any:
    """Declare a categorical setting: a name from ``allowed`` or, with a list default, a list of
    names from it. Validation names the key and the allowed values."""
    metadata = {"choices": tuple(allowed), "doc": doc}
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


# The barriers the paper's managers name (theme 4, and theme 2's conflicts) and the two
# conditions that soften them: the "Barriers" section of ModelParams, in its order. The app's
# sliders and the PSA report's barrier EVPPI group.
BARRIERS = ("bureaucracy_load", "value_conflict", "goal_misalignment", "communication_clarity",
            "support", "time_scale")


@dataclass
class ModelParams:
    """Behavioural parameters of the weekly rules (docs/ODD.md, section 7)."""

    # --- Barriers (theme 4 and theme 2) ---
    bureaucracy_load: float = param(
        0.3, 0.0, 1.0, "share",
        "Strength of bureaucracy: share of full governance overhead and sign-off work in force.",
        "A: size; G: direction (T4 bureaucracy and governance set-ups)",
        prior=triangular(0.1, 0.3, 0.6, "T4 names bureaucracy a main barrier, so well above none; "
                         "full overhead everywhere is implausible"))
    value_conflict: float = param(
        0.4, 0.0, 1.0, "probability",
        "Most a clinical/non-clinical value clash can cut a grant's chance, before understanding.",
        "A: size; G: direction (T2 different values, 'them and us')",
        prior=triangular(0.1, 0.4, 0.7, "T2 value clashes are common but do not stop most "
                         "cross-profession work"))
    goal_misalignment: float = param(
        0.4, 0.0, 1.0, "probability",
        "Most a cross-organisation goal clash can cut a grant's chance, before clear lines.",
        "A: size; G: direction (T4 partners not in the same organisation)",
        prior=triangular(0.1, 0.4, 0.7, "T4 partners pull different ways, yet most joint work "
                         "across organisations goes ahead"))
    communication_clarity: float = param(
        0.2, 0.0, 1.0, "share",
        "Clarity of communication between organisations: the share of misalignment it cancels.",
        "A: size; G: recommendation (clear lines of communication)",
        prior=triangular(0.0, 0.2, 0.5, "clear lines are recommended because they are lacking; at "
                         "most half of misalignment cancelled today"))
    support: float = param(
        0.3, 0.0, 1.0, "share",
        "Organisational support: the share of work pressure that does not turn into stress.",
        "A: size; G: direction (T4 lack of support)",
        prior=triangular(0.1, 0.3, 0.6, "T4 lack of support: some exists, but most pressure still "
                         "becomes stress"))
    time_scale: float = param(
        1.0, 0.1, 3.0, "multiplier",
        "Multiplier on every manager's leadership hours: the 'lack of time' barrier.",
        "A: a sweep knob for the time barrier (T4 extreme constraints of time)",
        prior=fixed("a sweep knob for the time barrier; 1 is the model as described"))

    # --- Time budget ---
    clinical_leadership_hours: float = param(
        4.0, 0.5, 20.0, "h/week",
        "Leadership hours of an emerging clinical manager: one programmed activity.",
        "G: a PA is 4 h; clinicians are part-time contributors (T4)")
    nonclinical_leadership_hours: float = param(
        15.0, 2.0, 37.5, "h/week",
        "Leadership hours of an emerging non-clinical manager (of a 37.5 h week).",
        "A: full-time managers give about 40% of the week to cross-boundary leadership",
        prior=triangular(8.0, 15.0, 22.0, "a fifth to three-fifths of a 37.5 h week on "
                         "cross-boundary leadership"))
    stage_hours_factor: list[float] = param(
        [0.75, 1.0, 1.5], 0.1, 5.0, "multiplier",
        "Leadership hours by career stage (aspiring, emerging, established), times the base.",
        "A: established leaders hold larger portfolios (G: director roles are extra PAs)",
        prior=fixed("ratios between stages; the base hours carry the uncertainty"))
    governance_hours: float = param(
        8.0, 0.0, 30.0, "h/week",
        "Governance and data work a manager in a 3-layer organisation does at full bureaucracy.",
        "A: size; G: clinical staff spend up to 10 h/week on data tasks, a third not useful",
        prior=triangular(3.0, 8.0, 13.0, "around the up-to-10 h/week of data tasks reported for "
                         "clinical staff"))
    signoff_hours_per_layer: float = param(
        0.5, 0.0, 5.0, "h/task/layer",
        "Hours of sign-off each new cross-boundary task needs per layer, at full bureaucracy.",
        "A: size; G: direction (T4 bureaucracy)",
        prior=triangular(0.1, 0.5, 1.5, "minutes to an hour and a half per layer per task"))
    collaboration_hours: float = param(
        1.5, 0.1, 10.0, "h/interaction",
        "Hours one leadership interaction (claim, grant and joint work) takes from each partner.",
        "A",
        prior=triangular(0.5, 1.5, 3.0, "a meeting and its follow-up: half an hour to three hours"))
    stress_time_penalty: float = param(
        0.3, 0.0, 1.0, "share",
        "Share of leadership hours lost by a fully stressed manager.",
        "A: high stress lowers time (model brief, wellbeing)",
        prior=triangular(0.1, 0.3, 0.5, "a fully stressed manager loses a tenth to half of their "
                         "leadership time"))
    carry_hours_per_task: float = param(
        0.25, 0.0, 4.0, "h/task/week",
        "Hours each task waiting in the backlog costs every week (chasing, re-planning).",
        "A",
        prior=triangular(0.05, 0.25, 0.75, "a few minutes to most of an hour a week per waiting "
                         "task"))

    # --- Work ---
    task_rate: float = param(
        0.06, 0.0, 5.0, "tasks/week",
        "Mean new integrated-care tasks a week for a manager with the non-clinical base hours; "
        "scaled by each manager's own hours.",
        "A",
        prior=loguniform(0.03, 0.12, "known within a factor of two either way"))
    single_group_completion: float = param(
        0.5, 0.0, 1.0, "tasks/success",
        "Tasks a successful collaboration completes when both partners are from the same group "
        "(clinical or non-clinical); a mixed pair completes one.",
        "A: size; G: tasks need clinical and non-clinical input (T2, Waring et al. 2023)",
        prior=triangular(0.2, 0.5, 0.8, "single-group work completes part of an integrated-care "
                         "task (T2), neither none nor all"))
    formal_route_rate: float = param(
        0.03, 0.0, 1.0, "per week",
        "Share of waiting tasks a manager with full time clears through formal routes each week.",
        "A: size; G: traditional leadership also delivers (Wang et al. 2014)",
        prior=loguniform(0.01, 0.09, "known within a factor of three either way"))

    # --- Claiming (theme 1; DeRue & Ashford 2010) ---
    interaction_rate: float = param(
        0.15, 0.0, 1.0, "per tie-week",
        "Chance a professional tie carries a leadership interaction in a week, with time to spare.",
        "A",
        prior=triangular(0.05, 0.15, 0.3, "a working tie carries leadership every 3 to 20 weeks"))
    claim_base: float = param(
        0.7, 0.0, 1.0, "probability",
        "Claim propensity of a manager whose identity and motivation are both 1.",
        "G: acton ABM P(claim) = match x 0.7")
    identity_weight: float = param(
        0.7, 0.0, 1.0, "share",
        "Weight of leader identity against motivation in the claim propensity.",
        "A",
        prior=triangular(0.4, 0.7, 0.9, "identity drives claiming more than motivation (DeRue & "
                         "Ashford 2010)"))
    duty_weight: float = param(
        1.0, 0.0, 1.0, "probability",
        "Extra claim propensity of a fully motivated manager toward a partner whose work is unled.",
        "A: form; G: direction (T1 the need to step up, a sense of duty)",
        prior=triangular(0.5, 1.0, 1.0, "T1 duty is a main motive to step up; the default is the "
                         "top of its range"))
    leadership_need: float = param(
        0.5, 0.01, 10.0, "granted units",
        "Leadership a manager must recognise around them before the duty gap closes.",
        "A",
        prior=loguniform(0.2, 1.25, "known within a factor of 2.5 either way"))
    expectation_rate: float = param(
        0.05, 0.0, 1.0, "per week",
        "Speed at which the leadership a manager is used to follows what they recognise now.",
        "A: a departed leader leaves a gap for some months",
        prior=loguniform(0.02, 0.125, "a departed leader leaves a gap for 8 to 50 weeks"))

    # --- Granting (themes 2 and 3) ---
    grant_base: float = param(
        0.5, 0.0, 1.0, "probability",
        "Grant chance for a claimant of average trust and skill, before conflict and misalignment.",
        "G: acton ABM grants when match > 0.5")
    trust_weight: float = param(
        0.6, 0.0, 2.0, "per unit trust",
        "Rise in grant chance per unit of the partner's trust above 0.5.",
        "A: size; G: direction (T2 trust takes practice; Aufegger et al. 2019)",
        prior=triangular(0.2, 0.6, 1.2, "trust matters to granting (T2) without deciding it alone"))
    skill_weight: float = param(
        0.4, 0.0, 2.0, "per unit skill",
        "Rise in grant chance per unit of the claimant's SL skill above 0.5.",
        "A: size; G: direction (T3 shared-leadership skills)",
        prior=triangular(0.1, 0.4, 0.8, "skill matters to granting (T3), less than trust"))

    # --- Collaboration ---
    success_base: float = param(
        0.3, 0.0, 1.0, "probability",
        "Success chance of joint work between two partners with no SL skill.",
        "A",
        prior=triangular(0.1, 0.3, 0.5, "unskilled joint work succeeds sometimes, rarely more "
                         "than half the time"))
    success_skill_weight: float = param(
        0.6, 0.0, 1.0, "probability",
        "Extra success chance when both partners have full SL skill.",
        "A: size; G: direction (T3 communication and collaboration)",
        prior=triangular(0.3, 0.6, 0.9, "skill is what makes joint work succeed (T3)"))
    signoff_delay: float = param(
        0.5, 0.0, 1.0, "probability",
        "Share of cross-organisation joint work stalled by sign-off at full bureaucracy.",
        "A: size; G: direction (T4 bureaucracy)",
        prior=triangular(0.2, 0.5, 0.8, "full sign-off stalls some, not all, cross-organisation "
                         "work (T4)"))
    grant_gain: float = param(
        0.15, 0.0, 1.0, "share of gap",
        "Step of granted leadership toward 1 after a successful joint piece of work.",
        "A",
        prior=triangular(0.05, 0.15, 0.3, "recognition builds over 3 to 20 successes"))
    trust_gain: float = param(
        0.1, 0.0, 1.0, "share of gap",
        "Step of trust toward 1 after success (both directions).",
        "A: size; G: direction (T2 trust is earned with practice)",
        prior=triangular(0.03, 0.1, 0.2, "trust builds over 5 to 30 successes (T2: trust takes "
                         "practice)"))
    trust_loss: float = param(
        0.1, 0.0, 1.0, "share",
        "Share of trust lost after a refusal or failed joint work.",
        "A",
        prior=triangular(0.03, 0.1, 0.2, "one refusal costs some trust, not most of it"))
    understanding_gain: float = param(
        0.05, 0.0, 1.0, "share of gap",
        "Step of understanding toward 1 per successful clinical/non-clinical collaboration.",
        "A: size; G: direction (T2 'different language'; T3 mutual understanding)",
        prior=loguniform(0.02, 0.125, "known within a factor of 2.5 either way"))
    skill_gain: float = param(
        0.01, 0.0, 0.5, "share of gap",
        "Step of SL skill toward 1 per successful collaboration (learning by doing).",
        "A: size; G: direction (T3; Lacerenza et al. 2017 practice raises transfer)",
        prior=loguniform(0.004, 0.025, "learning by doing is slow: known within a factor of 2.5"))
    identity_boost: float = param(
        0.05, 0.0, 1.0, "share of gap",
        "Step of leader identity toward 1 per granted claim.",
        "G: acton ABM success boost 5 on a 0-100 scale; DeRue & Ashford 2010")
    identity_penalty: float = param(
        0.03, 0.0, 1.0, "share",
        "Share of leader identity lost per refused claim.",
        "G: acton ABM failure penalty 3 on a 0-100 scale")
    identity_inertia: float = param(
        0.2, 0.0, 1.0, "share",
        "Share of each identity change absorbed by inertia.",
        "G: acton ABM identity inertia 0.2")

    # --- Wellbeing ---
    stress_rate: float = param(
        0.1, 0.0, 1.0, "per week",
        "Speed at which stress moves toward current pressure.",
        "A",
        prior=triangular(0.03, 0.1, 0.25, "stress follows pressure over 4 to 30 weeks"))
    conflict_stress: float = param(
        0.05, 0.0, 1.0, "per event",
        "Pressure added by each refusal or failed collaboration.",
        "A: size; G: direction (T2 conflicts)",
        prior=triangular(0.01, 0.05, 0.1, "one conflict adds a little pressure (T2)"))
    understaffing_pressure: float = param(
        0.15, 0.0, 1.0, "pressure",
        "Pressure added each week in a post without enough staff: the demands of the job beyond "
        "its leadership work.",
        "A: size; direction from the job demands-resources model (Demerouti et al. 2001, J Appl "
        "Psychol 86:499: job demands drive exhaustion); which posts, NHS Staff Survey 2024",
        prior=triangular(0.0, 0.15, 0.4, "from none to most of the pressure of a week whose "
                         "demand equals its hours (0.5)"))
    burnout_threshold: float = param(
        0.35, 0.05, 1.0, "stress",
        "Stress above which motivation erodes and the burnout exit rate applies.",
        "A: the stress of a manager whose demand equals their hours, at the default support "
        "(pressure 1/2 less 30% support)",
        prior=fixed("defined by its meaning, the stress at which demand equals hours at the "
                    "default support; the exit rate carries the uncertainty"))
    burnout_exit_rate: float = param(
        0.005, 0.0, 1.0, "per week",
        "Weekly chance that a burnt-out manager leaves (about a quarter a year).",
        "A",
        prior=loguniform(0.002, 0.0125, "a tenth to half of burnt-out managers leave within a "
                         "year"))
    turnover_rate: float = param(
        0.002, 0.0, 0.1, "per week",
        "Weekly chance that any manager leaves for other reasons (about 10% a year).",
        "A: near NHS annual turnover of about 10%",
        prior=triangular(0.001, 0.002, 0.003, "exits for other reasons of 5% to 15% a year, about "
                         "the order of NHS leaver rates"))
    recruitment_lag: int = param(
        12, 0, 104, "weeks",
        "Weeks a post stays vacant before an aspiring manager fills it.",
        "A",
        prior=triangular(4, 12, 26, "NHS posts take one to six months to fill"))
    motivation_erosion: float = param(
        0.05, 0.0, 1.0, "per week",
        "Loss of motivation per week per unit of stress above the burnout threshold.",
        "A: size; G: direction (T4 lack of support)",
        prior=triangular(0.01, 0.05, 0.1, "burnout wears motivation down over months (T4)"))
    motivation_recovery: float = param(
        0.02, 0.0, 1.0, "per week",
        "Speed at which motivation returns to the manager's own sense of duty.",
        "A",
        prior=loguniform(0.008, 0.05, "motivation returns over 20 to 125 weeks"))

    # --- Decay ---
    granted_decay: float = param(
        0.02, 0.0, 1.0, "per week",
        "Weekly decay of granted leadership (half-life about 35 weeks).",
        "A",
        prior=loguniform(0.008, 0.05, "unexercised recognition halves in 14 to 87 weeks"))
    trust_decay: float = param(
        0.01, 0.0, 1.0, "per week",
        "Weekly drift of trust toward its baseline.",
        "A",
        prior=loguniform(0.004, 0.025, "trust drifts back over 40 to 250 weeks"))
    trust_baseline: float = param(
        0.5, 0.0, 1.0, "trust",
        "Trust between colleagues of the same group and organisation, and its resting level.",
        "A",
        prior=fixed("the middle of the trust scale: its resting level anchors the scale"))
    boundary_trust_gap: float = param(
        0.1, 0.0, 0.5, "trust",
        "Lower starting trust across each boundary (group, organisation).",
        "A: size; G: direction (T2 'them and us')",
        prior=triangular(0.0, 0.1, 0.25, "T2 them and us: lower trust across a boundary, by up to "
                         "a quarter"))

    # --- Initial leadership structure ---
    initial_hierarchy: float = param(
        0.5, 0.0, 1.0, "share",
        "How hierarchical the start is: 0 homogeneous identities, 1 a few formal leaders only.",
        "A: NHS structures are hierarchical (Nunez Barahona 2025 contrasts the two)",
        prior=uniform(0.2, 0.8, "how hierarchical the start is has no measure; only the extremes "
                      "are ruled out"))
    formal_leader_share: float = param(
        0.05, 0.001, 0.5, "share",
        "Share of managers holding formal leadership roles at the start (drawn from established).",
        "A: about 1 in 20 managers sits on a board or leads a directorate",
        prior=triangular(0.02, 0.05, 0.1, "1 in 50 to 1 in 10 managers on a board or leading a "
                         "directorate"))


@dataclass
class PopulationParams:
    """How managers are drawn (docs/ODD.md, section 5)."""

    stage_shares: list[float] = param(
        [0.4, 0.35, 0.25], 0.0, 1.0, "share",
        "Shares of aspiring, emerging and established managers.",
        "A: the paper's three development audiences (aspiring, emerging, established)",
        prior=fixed("the workforce composition of the archetype, taken as given"))
    clinical_profession_shares: list[float] = param(
        [0.54, 0.3, 0.16], 0.0, 1.0, "share",
        "Shares of doctors, nurses and allied health professionals among clinical managers.",
        "G: doctors are about 14% of board members of 26% clinicians; nurse/AHP split A")
    nonclinical_profession_shares: list[float] = param(
        [0.2, 0.4, 0.25, 0.15], 0.0, 1.0, "share",
        "Shares of finance, operations, commissioning and HR among non-clinical managers.",
        "A",
        prior=fixed("the workforce composition of the archetype, taken as given"))
    understaffed_share: float = param(
        0.66, 0.0, 1.0, "share",
        "Share of posts in services without enough staff to do the job properly.",
        "G: NHS Staff Survey 2024, 34.0% say there are enough staff (32.3% in 2023; facts.md); "
        "all staff, managers' own share not found")
    identity_by_stage: list[float] = param(
        [0.3, 0.5, 0.7], 0.0, 1.0, "identity",
        "Mean leader identity of non-clinical managers by career stage.",
        "A",
        prior=fixed("a profile by stage; its level is shifted by clinician_identity_gap and moved "
                    "by identity_weight"))
    clinician_identity_gap: float = param(
        0.2, 0.0, 1.0, "identity",
        "How much lower clinicians' leader identity starts.",
        "A: size; G: Table 1, 'saw myself as a clinician and not a leader'",
        prior=triangular(0.05, 0.2, 0.35, "Table 1: clinicians saw themselves as clinicians, not "
                         "leaders"))
    skill_by_stage: list[float] = param(
        [0.3, 0.45, 0.6], 0.0, 1.0, "skill",
        "Mean SL skill by career stage.",
        "A: G direction (T3 skills grow with practice)",
        prior=fixed("a profile by stage; learning (skill_gain) and training carry the uncertainty"))
    understanding_mean: float = param(
        0.3, 0.0, 1.0, "understanding",
        "Mean understanding of the other group's values and language.",
        "A: G direction (Table 2, 'we speak a different language')",
        prior=triangular(0.15, 0.3, 0.5, "Table 2: we speak a different language, so low, not "
                         "none"))
    motivation_mean: float = param(
        0.6, 0.0, 1.0, "motivation",
        "Mean sense of duty.",
        "A: G direction (T1 leading as duty)",
        prior=triangular(0.4, 0.6, 0.8, "T1 leading as duty: most managers are motivated"))
    trait_spread: float = param(
        0.15, 0.0, 0.5, "SD",
        "Standard deviation of initial traits around their means (clipped to [0, 1]).",
        "A",
        prior=triangular(0.08, 0.15, 0.25, "managers differ, within a bounded scale"))


@dataclass
class NetworkParams:
    """The professional network (docs/ODD.md, section 2)."""

    within_org_degree: float = param(
        4.0, 0.0, 200.0, "ties",
        "Mean professional ties of a manager inside their organisation but outside their team.",
        "A: with a team of about 9, a working circle of about 12 in the organisation",
        prior=triangular(2.0, 4.0, 8.0, "a working circle of 10 to 20 with the team of about 9"))
    team_size_min: int = param(
        4, 2, 30, "managers", "Smallest team (an organisation with fewer posts is one team).",
        "A: the teams the SL studies measured had about 4-15 members",
        prior=fixed("the team sizes of the SL studies the outputs are compared with"))
    team_size_max: int = param(
        15, 3, 60, "managers", "Largest team (at least 2 x team_size_min - 1).",
        "A: the teams the SL studies measured had about 4-15 members",
        prior=fixed("the team sizes of the SL studies the outputs are compared with"))
    team_tie_density: float = param(
        0.9, 0.0, 1.0, "share of pairs", "Share of a team's pairs of members who are tied.",
        "A: team members work together every week",
        prior=triangular(0.7, 0.9, 1.0, "team members work together every week"))
    cross_org_team_share: float = param(
        0.1, 0.0, 1.0, "share of posts",
        "Share of posts in cross-organisation (place-based or programme) teams.",
        "A: ICSs work through places and programmes that span organisations",
        prior=triangular(0.02, 0.1, 0.25, "place and programme teams hold a minority of posts"))
    cross_org_degree: float = param(
        1.5, 0.0, 50.0, "ties",
        "Mean professional ties of a manager to other organisations of the same system.",
        "A: boundary spanning is sparse",
        prior=triangular(0.5, 1.5, 3.0, "boundary spanning is sparse: a few ties outside"))
    icb_spanning_factor: float = param(
        3.0, 1.0, 20.0, "multiplier",
        "How many more cross-organisation ties ICB managers have.",
        "A: the ICB convenes the system",
        prior=triangular(1.5, 3.0, 5.0, "the ICB convenes the system"))
    established_spanning_factor: float = param(
        2.0, 1.0, 20.0, "multiplier",
        "How many more cross-organisation ties established leaders have.",
        "A; G: clinical leaders broker relationships (Waring et al. 2023)",
        prior=triangular(1.2, 2.0, 3.5, "senior leaders broker relationships (Waring et al. 2023)"))
    forum_ties_per_manager: float = param(
        1.0, 0.0, 20.0, "ties",
        "Latent cross-organisation ties per manager that system forums can open.",
        "A: form of the 'clear lines of communication' recommendation",
        prior=fixed("the reach of the clear-communication lever, a design choice of that lever"))


@dataclass
class CareerParams:
    """Promotion into vacant posts and doctors in postgraduate training (docs/ODD.md, 7.12)."""

    internal_promotion_share: float = param(
        0.5, 0.0, 1.0, "share",
        "Share of vacant emerging and established posts filled by promotion from within the "
        "system (the rest by outside hires).",
        "A: range 0.3-0.7",
        prior=triangular(0.3, 0.5, 0.7, "within the assumed range 0.3-0.7"))
    min_weeks_in_post: int = param(
        52, 0, 520, "weeks", "Weeks a manager holds a post before they can be promoted.",
        "A: range 26-156",
        prior=triangular(26, 52, 156, "within the assumed range 26-156"))
    merit_noise: float = param(
        0.3, 0.0, 5.0, "identity",
        "Spread of the random part of a candidate's score (the rest is leader identity).",
        "A: appointment panels weigh more than leadership identity",
        prior=triangular(0.1, 0.3, 1.0, "panels weigh more than leadership identity"))
    rotation_weeks: int = param(
        26, 4, 104, "weeks", "Weeks between trainees' rotations (changeover days).",
        "A: specialty rotations of 6-12 months, foundation posts of 4 months",
        prior=triangular(17, 26, 52, "foundation posts of 4 months to specialty rotations of 12"))
    training_weeks: int = param(
        156, 26, 780, "weeks",
        "Weeks a trainee spends in the model before completing training (CCT): the model "
        "follows doctors in their last years of specialty or GP training.",
        "A: the last 3 of the 3-8 years of specialty or GP training (GP 3 years, others 5-8)",
        prior=fixed("the span of training the model follows, a modelling choice"))
    trainee_leadership_hours: float = param(
        1.0, 0.0, 10.0, "h/week", "Leadership hours of a doctor in training.",
        "A: trainees' time is rostered clinical work",
        prior=triangular(0.25, 1.0, 2.5, "trainees time is rostered clinical work"))
    carried_tie_contact: float = param(
        0.25, 0.0, 1.0, "share",
        "Interaction rate of a carried tie (a former colleague), as a share of a role tie's.",
        "A: range 0.05-0.5",
        prior=triangular(0.05, 0.25, 0.5, "within the assumed range 0.05-0.5"))
    tie_dormancy_weeks: int = param(
        26, 1, 520, "weeks", "Weeks without an interaction after which a carried tie closes.",
        "A: range 8-104",
        prior=triangular(8, 26, 104, "within the assumed range 8-104"))
    carried_tie_pool: float = param(
        0.5, 0.01, 10.0, "share of role ties",
        "Spare tie slots kept for carried ties, as a share of the role ties (when full, the "
        "longest-unexercised close first).", "-: a memory bound, not behaviour")


@dataclass
class MeasurementParams:
    """How outputs are measured to match the evidence (docs/ODD.md, section 7.13). Nothing here
    changes the simulated system."""

    rating_threshold: float = param(
        0.25, 0.0, 1.0, "granted",
        "Granted leadership at or above which a tie counts as a leadership tie (theta): the "
        "dichotomised rating of the SL network studies.",
        "A: set from its meaning before comparison; the ODD compares two values",
        prior=fixed("a definition of the measurement, set from its meaning and never fitted"))
    burnout_report_threshold: float = param(
        0.35, 0.0, 1.0, "stress",
        "Stress above which a manager would feel burnt out in a week.",
        "A: the stress at which demand equals available hours at the default support",
        prior=fixed("a definition of the measurement, set from its meaning and never fitted"))
    survey_window_weeks: int = param(
        13, 1, 52, "weeks",
        "Weeks the survey items look back over; 'often' means in at least half of them.",
        "A: a quarter; NHS Staff Survey items ask how often",
        prior=fixed("a definition of the measurement: the survey asks about a quarter"))
    contracted_hours: float = param(
        37.5, 1.0, 60.0, "h/week", "Contracted hours of a full-time manager.",
        "G: Agenda for Change standard week of 37.5 h")


@dataclass
class OrgSpec:
    """A kind of partner organisation of a system: every field but ``trainees`` is required."""

    type: str = choice(MISSING, ORG_TYPES, "Type of partner organisation.")
    count: int = param(MISSING, 1, 1000, "organisations", "How many of this organisation.", "G")
    managers: int = param(
        MISSING, 1, 100000, "managers", "Managers in each such organisation.", "G: derived in ODD")
    clinical_share: float = param(
        MISSING, 0.0, 1.0, "share", "Share of clinical managers.", "G: boards ~26% clinicians")
    bureaucracy_layers: float = param(
        MISSING, 0.0, 10.0, "layers",
        "Sign-off layers for a cross-boundary decision.", "A: size; G: direction (T4)")
    trainees: int = param(
        0, 0, 100000, "doctors",
        "Doctors in postgraduate training based in each such organisation.", "G: derived in ODD")


@dataclass
class SystemSpec:
    """One integrated care system: its name, where it is, and its organisations."""

    name: str = MISSING
    region: str = ""  # NHS England region of a real ICB ("" for an archetype or your own)
    code: str = ""  # ODS code of a real ICB
    population: int = param(
        0, 0, 100_000_000, "people",
        "GP-registered patients aged 16 and over (0: not given).", "G: NHS England, Feb 2024")
    organisations: list[OrgSpec] = field(default_factory=list)


@dataclass
class ICSConfig:
    """What a run simulates: one system (``organisations``) or a list of systems (``members``),
    each with its own organisations; the whole repeated ``systems`` times."""

    name: str = MISSING
    systems: int = param(1, 1, 100, "copies",
                         "Copies of the system(s) to build (an archetype repeated).", "-")
    organisations: list[OrgSpec] = field(default_factory=list)
    members: list[SystemSpec] = field(default_factory=list)

    def system_list(self) -> list[SystemSpec]:
        """Every system of the run, copies included, in order."""
        one = self.members or [SystemSpec(name=self.name, organisations=self.organisations)]
        return [system for _ in range(self.systems) for system in one]


# --- Interventions: the knobs every policy lever shares (docs/interventions.md) ---


# Priors every lever's common knobs share: relative to each configuration's value (priors.py).
COVERAGE_PRIOR = relative(triangular(
    0.5, 1.0, 1.2, "uptake of development offers falls short of plan more often than it exceeds "
    "it"))
UNIT_COST_PRIOR = relative(triangular(
    0.7, 1.0, 1.5, "fees and backfill known within about a third, overruns likelier than savings"))
HALF_LIFE_PRIOR = relative(loguniform(
    0.5, 2.0, "effects fade without practice (Lacerenza et al. 2017); the half-life is known "
    "within a factor of two"))


@dataclass
class InterventionParams:
    """Knobs every intervention has: when, whom, how many, how long the effect lasts, cost."""

    kind: str = MISSING
    start_week: int = param(1, 1, 2080, "week", "First week participants are enrolled.", "A",
        prior=fixed("a decision of the option: when enrolment starts"))
    end_week: int = param(
        0, 0, 2080, "week", "Last week participants are enrolled (0: no end).", "A",
        prior=fixed("a decision of the option: when enrolment ends"))
    target_group: str = choice("all", GROUPS, "All managers, clinical, non-clinical, or "
                                              "doctors in postgraduate training.")
    target_stages: list[str] = choice(CAREER_STAGES, CAREER_STAGES, "Career stages targeted.")
    target_org_types: list[str] = choice(ORG_TYPES, ORG_TYPES, "Organisation types targeted.")
    target_professions: list[str] = choice(PROFESSIONS, PROFESSIONS, "Professions targeted.")
    # Names of the run's systems (``ics.members[*].name``, e.g. ICB slugs; empty: every
    # system). Checked against the run's systems when the config is built.
    target_systems: list[str] = field(default_factory=list, metadata={
        "doc": "Systems targeted, by name (empty: all)."})
    coverage: float = param(
        0.2, 0.0, 1.0, "share per year", "Share of the eligible group reached each year.", "A",
        prior=COVERAGE_PRIOR)
    half_life_weeks: float = param(
        104.0, 0.0, 1040.0, "weeks", "Half-life of the effect after enrolment (0: lasting).",
        "A: training effects fade without practice (Lacerenza et al. 2017)",
        prior=HALF_LIFE_PRIOR)
    unit_cost: float = param(
        1000.0, 0.0, 1e6, "GBP per participant", "Cost of enrolling one participant.", "A",
        prior=UNIT_COST_PRIOR)



def plain_value(value: Any) -> Any:
    """A numpy scalar or 0-d array as the Python number (or bool, or str) it holds; anything
    else unchanged. Samplers (SALib, scipy.qmc, EMA Workbench) and ``np.linspace`` grids hand
    over numpy numbers, which OmegaConf and the checks below take only as Python ones."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return value.item() if isinstance(value, np.generic) else value


def key_hint(exc: Any) -> str:
    """`` (key: a.b)`` for an OmegaConf error that names its key, else nothing."""
    key = getattr(exc, "full_key", None)
    return f" (key: {key})" if key else ""


def _check_value(path: str, value: Any, expected: type, spec: dict[str, Any]) -> None:
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{path} = {value!r} must be an integer")
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path} = {value!r} must be a number")
        if not math.isfinite(value):
            raise ConfigError(f"{path} = {value!r} must be finite")
    low, high = spec["range"]
    if not low <= value <= high:
        raise ConfigError(
            f"{path} = {value!r} is outside the allowed range [{low}, {high}] "
            f"({spec['unit']}: {spec['doc']})"
        )


def check_choice(path: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Refuse a name (or a list of names) outside ``allowed``, naming the key and the values."""
    if isinstance(value, list):
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ConfigError(f"{path} has {unknown}: allowed values are {list(allowed)}")
    elif value not in allowed:
        raise ConfigError(f"{path} = {value!r} is not one of {list(allowed)}")


def validate(obj: Any, prefix: str = "") -> None:
    """Check every declared field of a dataclass tree; raise :class:`ConfigError` naming the key.

    Numpy scalars are accepted where a number is meant and stored as Python numbers; a bool is
    accepted only where a bool is meant.
    """
    for f in dataclasses.fields(obj):
        value = plain_value(getattr(obj, f.name))
        path = f"{prefix}{f.name}"
        if value is None and f.default is None:
            continue  # an optional setting, not set
        if isinstance(value, str) and value == MISSING and f.default == MISSING:
            allowed = (f"[{f.metadata['range'][0]}, {f.metadata['range'][1]}]"
                       if "range" in f.metadata else list(f.metadata.get("choices", ())))
            raise ConfigError(f"{path} is missing: it is required ({f.metadata.get('doc', '')}"
                              f" allowed: {allowed})")
        if isinstance(value, list):
            value = [plain_value(item) for item in value]
        if value is not getattr(obj, f.name):
            setattr(obj, f.name, value)
        if dataclasses.is_dataclass(value):
            validate(value, f"{path}.")
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                validate(item, f"{path}[{i}].")
        elif "range" in f.metadata:
            expected = f.type if f.type in (int, float) else float
            if isinstance(value, list):
                for i, item in enumerate(value):
                    _check_value(f"{path}[{i}]", item, float, f.metadata)
            else:
                _check_value(path, value, expected, f.metadata)
        elif "choices" in f.metadata:
            check_choice(path, value, f.metadata["choices"])
        elif f.type is bool and not isinstance(value, bool):
            raise ConfigError(f"{path} = {value!r} must be true or false")
    _check_spanning(obj, prefix)


def _check_spanning(obj: Any, prefix: str) -> None:
    """Checks that span fields: list lengths, shares that sum to one, week order."""
    if isinstance(obj, ICSConfig):
        if bool(obj.organisations) == bool(obj.members):
            raise ConfigError(
                f"{prefix}organisations and {prefix}members: give one of them, either the "
                "organisations of one system or a list of systems (members), each with its own")
        names = [m.name for m in obj.members]
        if len(set(names)) < len(names):
            raise ConfigError(f"{prefix}members: system names {names} must differ")
    if isinstance(obj, SystemSpec) and not obj.organisations:
        raise ConfigError(f"{prefix}organisations is empty: a system needs at least one "
                          "organisation")
    if isinstance(obj, NetworkParams) and obj.team_size_max < 2 * obj.team_size_min - 1:
        raise ConfigError(f"{prefix}team_size_max = {obj.team_size_max} must be at least "
                          f"2 x team_size_min - 1 = {2 * obj.team_size_min - 1}")
    if isinstance(obj, InterventionParams) and obj.end_week and obj.end_week < obj.start_week:
        raise ConfigError(f"{prefix}end_week = {obj.end_week} is before start_week = "
                          f"{obj.start_week}")
    expected_lengths = {
        "stage_hours_factor": len(CAREER_STAGES),
        "stage_shares": len(CAREER_STAGES),
        "identity_by_stage": len(CAREER_STAGES),
        "skill_by_stage": len(CAREER_STAGES),
        "clinical_profession_shares": len(CLINICAL_PROFESSIONS),
        "nonclinical_profession_shares": len(NON_CLINICAL_PROFESSIONS),
    }
    for name, length in expected_lengths.items():
        if hasattr(obj, name):
            values = getattr(obj, name)
            if len(values) != length:
                raise ConfigError(f"{prefix}{name} = {values} must have {length} values")
            if name.endswith("_shares") and not math.isclose(sum(values), 1.0, abs_tol=1e-6):
                raise ConfigError(f"{prefix}{name} = {values} must sum to 1")


def parameter_groups() -> dict[str, type]:
    """The config groups of behavioural and measurement parameters, by their config key."""
    return {"model": ModelParams, "population": PopulationParams, "network": NetworkParams,
            "careers": CareerParams, "measurement": MeasurementParams}


def parameter_specs(cls: type = ModelParams) -> dict[str, dict[str, Any]]:
    """Name -> metadata (default, range, unit, doc, source, prior) of a schema dataclass."""
    specs = {}
    for f in dataclasses.fields(cls):
        if "range" in f.metadata:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            specs[f.name] = {"default": default, **f.metadata}
    return specs


def uncertain_parameters() -> dict[str, dict[str, Any]]:
    """The parameters with a plausible prior (the assumptions sensitivity analysis and
    calibration vary), keyed by their config path."""
    out = {}
    for group, cls in parameter_groups().items():
        for name, spec in parameter_specs(cls).items():
            if isinstance(spec["prior"], Prior) and not isinstance(spec["default"], list):
                out[f"{group}.{name}"] = spec
    return out

