"""The behavioural rules: small, pure functions vectorised over managers or ties.

Each takes arrays (or scalars: the reference engine calls them one agent at a time) and returns
new arrays; none reads the model or draws random numbers. The docstring of each names its
grounding: a theme (T1-T4) or table of Aufegger et al. 2020, a study, or "assumption".
"""

import numpy as np


def clip01(x):
    """Clip to the unit interval (probabilities and [0, 1] states)."""
    return np.clip(x, 0.0, 1.0)


def leadership_hours(base_hours, stage_factor, time_scale, boost):
    """Weekly hours a manager can give to leadership before any deduction.

    Clinicians get a small protected share (one programmed activity of 4 h), managers more; the
    career stage scales both. ``boost`` carries protected time from interventions.
    Grounding: T4 "extreme constraints of time"; consultant contract PAs (facts.md); the stage
    factors are an assumption.
    """
    return base_hours * stage_factor * time_scale + boost


def task_arrivals_mean(task_rate, hours, reference_hours):
    """Mean new cross-functional tasks a week, in proportion to the manager's leadership hours.

    Grounding: assumption (part-time contributors are handed proportionally less).
    """
    return task_rate * hours / reference_hours


def bureaucracy_hours(bureaucracy_load, layers, governance_hours, signoff_hours_per_layer,
                      new_tasks):
    """Hours lost to bureaucracy this week: fixed governance plus sign-offs per new task.

    The fixed part is the same for everyone, so it hits part-time clinical leaders hardest.
    Grounding: T4 bureaucracy and governance set-ups; up to 10 h/week on data tasks (NHS
    Confederation); the per-task sign-off form is an assumption.
    """
    return bureaucracy_load * (governance_hours * layers / 3.0
                               + signoff_hours_per_layer * layers * new_tasks)


def available_hours(hours, stress, stress_time_penalty, bureaucracy, backlog,
                    carry_hours_per_task):
    """Hours left for claiming and collaborating after bureaucracy and carried-over work.

    High stress also lowers usable time. Never negative.
    Grounding: model brief step 3; T4 lack of time; the stress penalty is an assumption.
    """
    usable = hours * (1.0 - stress_time_penalty * stress)
    return np.maximum(0.0, usable - bureaucracy - carry_hours_per_task * backlog)


def time_factor(available, expected_interactions, collaboration_hours):
    """Share of the week's expected leadership interactions a manager has time for, in [0, 1].

    With no time, a manager can neither claim nor collaborate.
    Grounding: T4 "extreme constraints of time"; the linear form is an assumption.
    """
    needed = expected_interactions * collaboration_hours
    return np.where(needed > 0, clip01(available / np.maximum(needed, 1e-12)), 1.0)


def interaction_probability(interaction_rate, time_i, time_j):
    """Chance a tie carries a leadership interaction this week: both partners need time.

    Grounding: assumption (the scarcer partner's time limits the pair).
    """
    return interaction_rate * np.minimum(time_i, time_j)


def duty_gap(perceived_leadership, leadership_need):
    """How unled a manager's work is: 1 with no leadership recognised around them, 0 at the need.

    The need is the larger of a floor and the leadership the manager is used to, so a leader's
    departure opens a gap at once. Grounding: T1 "everyone ran and I was left standing there";
    the form is an assumption.
    """
    return clip01(1.0 - perceived_leadership / leadership_need)


def claim_probability(identity, motivation, gap, claim_base, identity_weight, duty_weight):
    """Chance a manager claims leadership in an interaction with a partner (stepping up).

    Propensity rises with the claimant's leader identity and motivation (acton ABM: P(claim) =
    match x 0.7), plus a duty term, scaled by the claimant's motivation, when nobody leads the
    partner's work (``gap``).
    Grounding: DeRue & Ashford 2010 claim-grant; T1 motivation as duty and the need to step up,
    Table 1; the additive duty form is an assumption.
    """
    propensity = claim_base * (identity_weight * identity + (1.0 - identity_weight) * motivation)
    duty = duty_weight * motivation * gap
    return clip01(propensity + duty)


def conflict_damping(value_conflict, cross_group, understanding):
    """Factor (<= 1) on a grant across the clinical/non-clinical line, eased by understanding.

    Grounding: T2 conflicts from different values and expertise, Table 2 ("we speak a different
    language"); T3(a) mutual understanding.
    """
    return 1.0 - value_conflict * cross_group * (1.0 - understanding)


def misalignment_damping(goal_misalignment, cross_org, clarity):
    """Factor (<= 1) on a grant across organisations, eased by clear lines of communication.

    Grounding: T4 goals misaligned when partners are not in the same organisation, Table 4;
    the recommendation of clear lines of communication.
    """
    return 1.0 - goal_misalignment * cross_org * (1.0 - clarity)


def grant_probability(trust, claimant_skill, grant_base, trust_weight, skill_weight,
                      conflict, misalignment):
    """Chance a partner grants a claim: rises with trust and the claimant's SL skill, falls with
    value conflict and goal misalignment (the two damping factors).

    Grounding: DeRue & Ashford 2010; acton ABM grants when match > 0.5; T3 skills (Table 3);
    T2 and T4 barriers.
    """
    base = clip01(grant_base + trust_weight * (trust - 0.5) + skill_weight * (claimant_skill - 0.5))
    return base * conflict * misalignment


def success_probability(skill_i, skill_j, time_i, time_j, success_base, success_skill_weight,
                        signoff_delay, bureaucracy_load, cross_org):
    """Chance joint work succeeds: both skills and both partners' time, less sign-off stalls
    on cross-organisation work.

    Grounding: T3 communication and collaboration; T4 time and bureaucracy; the form is an
    assumption.
    """
    skill = success_base + success_skill_weight * 0.5 * (skill_i + skill_j)
    time = 0.5 + 0.5 * np.minimum(time_i, time_j)
    stall = 1.0 - signoff_delay * bureaucracy_load * cross_org
    return clip01(skill * time * stall)


def formal_completions(backlog, time, formal_route_rate):
    """Tasks cleared this week through formal, hierarchical routes rather than shared leadership:
    a share of the waiting work, for managers with time to push it through.

    Grounding: Wang, Waldman & Zhang 2014 (traditional leadership also relates to performance,
    rho = .18); the form and rate are assumptions.
    """
    return backlog * formal_route_rate * time


def toward(value, target, rate):
    """Move ``value`` a share ``rate`` of the way to ``target`` (learning and drift).

    Grounding: assumption (first-order adjustment).
    """
    return value + rate * (target - value)


def repeated_step_toward_one(value, rate, events):
    """Apply ``events`` successive steps of size ``rate`` toward 1: 1 - (1 - v)(1 - rate)^n.

    Grounding: assumption (saturating learning; used for identity, understanding, skill).
    """
    return 1.0 - (1.0 - value) * (1.0 - rate) ** events


def identity_update(identity, granted_claims, refused_claims, boost, penalty, inertia):
    """Leader identity after this week's granted and refused claims.

    Grounding: DeRue & Ashford 2010 (identity grows when claims are granted); acton ABM success
    boost 5, failure penalty 3 on a 0-100 scale, identity inertia 0.2.
    """
    grown = repeated_step_toward_one(identity, boost * (1.0 - inertia), granted_claims)
    return clip01(grown * (1.0 - penalty * (1.0 - inertia)) ** refused_claims)


def workload_pressure(load):
    """Pressure from the ratio of demand to available hours: one half when demand equals time,
    rising toward 1 as demand outgrows it.

    Grounding: model brief step 7 (stress rises with the ratio of demand to time); the
    saturating form is an assumption.
    """
    return load / (1.0 + load)


def understaffing_pressure(understaffed, pressure_when_understaffed):
    """Pressure from the rest of the job in a post whose service lacks the staff to do it
    properly: a source of stress beyond leadership work's demand over hours.

    Grounding: which posts, NHS Staff Survey 2024 (34.0% say there are enough staff); that job
    demands drive exhaustion, the job demands-resources model (Demerouti et al. 2001, J Appl
    Psychol 86:499); the constant size is an assumption.
    """
    return pressure_when_understaffed * np.asarray(understaffed, dtype=float)


def stress_update(stress, pressure, support, stress_rate):
    """Stress moves toward work pressure, less the share absorbed by support.

    Grounding: T4 lack of time and support; the smoothing form is an assumption.
    """
    return clip01(toward(stress, clip01(pressure * (1.0 - support)), stress_rate))


def motivation_update(motivation, duty, stress, burnout_threshold, erosion, recovery):
    """Motivation recovers toward the manager's own sense of duty and erodes under burnout.

    Grounding: T1 motivation as duty; T4 lack of support; rates are assumptions.
    """
    eroded = motivation - erosion * np.maximum(0.0, stress - burnout_threshold)
    return clip01(toward(eroded, duty, recovery))


def exit_probability(stress, burnout_threshold, burnout_exit_rate, turnover_rate):
    """Weekly chance of leaving: background turnover, plus a burnout exit rate.

    Grounding: assumption (burnt-out managers may leave, model brief).
    """
    return clip01(turnover_rate + burnout_exit_rate * (stress > burnout_threshold))


def boundary_trust(baseline, gap, cross_group, cross_org):
    """Resting trust of a tie: lower by ``gap`` for each boundary it crosses.

    Grounding: T2 "them and us", trust across groups takes practice and patience; sizes are
    assumptions.
    """
    return clip01(baseline - gap * (np.asarray(cross_group, float) + np.asarray(cross_org, float)))


def decay(value, rate):
    """Exponential decay toward zero by ``rate`` a week (granted leadership fades unused).

    Grounding: assumption.
    """
    return value * (1.0 - rate)


def half_life_factor(half_life_weeks):
    """Weekly multiplier that halves an effect every ``half_life_weeks`` (no decay if 0).

    Grounding: assumption (intervention effects fade; model brief).
    """
    return np.where(half_life_weeks > 0, 0.5 ** (1.0 / np.maximum(half_life_weeks, 1e-12)), 1.0)
