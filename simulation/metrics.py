"""How the model's outputs are computed (docs/ODD.md, "Observation"): shared-leadership structure,
collaboration, delivery, people, barriers and cost. Pure functions of the state arrays and the
week's counts.

The outputs themselves (names, meaning, units, display) are described once, in
:mod:`simulation.outputs`; :func:`compute` returns one value for each of them.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Re-exported: the model's reporters, the runner and the readers of results import it from here.
from . import kernels
from .measurement import leaver_category, often_share
from .outputs import OUTPUTS as OUTPUTS
from .params import ORG_TYPES
from .state import Managers, Organisations, Ties


@dataclass
class WeekCounts:
    """What happened this week, per manager where the breakdowns need it."""

    claims: np.ndarray  # per manager, as claimant
    grants: int = 0
    cross_claims: int = 0  # claims on clinical <-> non-clinical ties
    cross_grants: int = 0
    refusals: int = 0
    conflicts: int = 0
    successes: int = 0
    tasks_completed: float = 0.0
    exits: int = 0  # managers (not trainees) who left the system
    bureaucracy_hours: float = 0.0
    leavers: np.ndarray | None = None  # managers who left the system, per leaver category
    promotions: int = 0
    carried_ties_evicted: int = 0  # carried ties closed early because the pool was full


def gini(x: np.ndarray, work: np.ndarray | None = None) -> float:
    """Gini coefficient of non-negative values (0 when all are equal or all zero)
    (:func:`simulation.kernels.gini`; ``work``, at least as long as ``x``, is reused if given)."""
    x = np.ascontiguousarray(x, dtype=float)
    work = np.empty(len(x)) if work is None else work
    return float(kernels.gini(x, len(x), np.sort(x[x > 0]), work))


def freeman_centralisation(strength: np.ndarray) -> float:
    """Freeman in-degree centralisation of a valued network with tie weights in [0, 1].

    Sum of (max - s_k) over the most it can be, (N - 1)^2, reached by a star
    (:func:`simulation.kernels.centralisation`).
    """
    strength = np.ascontiguousarray(strength, dtype=float)
    return float(kernels.centralisation(strength, len(strength), np.empty(len(strength))))


def top_share(x: np.ndarray, fraction: float) -> float:
    """Share of the total held by the top ``fraction`` of values (at least one value)."""
    total = x.sum()
    if total <= 0:
        return 0.0
    k = max(1, round(fraction * len(x)))
    return float(np.partition(x, len(x) - k)[len(x) - k:].sum() / total)


@dataclass
class TieTotals:
    """The week's sums over the usable ties between members (active managers, not doctors in
    training), from the one pass over the ties that :func:`observe_ties` makes."""

    granted: float  # leadership granted, all of it
    cross_granted: float  # on clinical <-> non-clinical ties
    org_granted: float  # on ties between organisations
    trust: float
    between: int  # usable ties between members
    leadership: int  # of them, leadership ties (granted at least the rating threshold)
    held_by_clinical: int  # leadership ties a clinical member receives
    in_degree: np.ndarray  # per post: leadership ties to it from its own team
    team_ties: np.ndarray  # per team: leadership ties within it


def observe_ties(ties: Ties, managers: Managers, theta: float,
                 n_teams: int) -> tuple[np.ndarray, np.ndarray, TieTotals]:
    """The usable ties (open, both ends filled posts), each manager's leadership received over
    them (in-strength in the granted-leadership network) and the :class:`TieTotals` of the
    outputs (a leadership tie: granted at least ``theta``), in one pass over the ties
    (:func:`simulation.kernels.observe_ties`)."""
    posts = len(managers.active)
    usable = np.empty(len(ties.source), dtype=bool)
    received = np.zeros(posts)
    in_degree = np.zeros(posts, dtype=np.int64)
    team_ties = np.zeros(n_teams)
    sums = kernels.observe_ties(
        ties.source, ties.target, ties.open, managers.active, managers.is_trainee,
        managers.is_clinical, managers.team, ties.granted, ties.trust, ties.cross_group,
        ties.cross_org, theta, usable, received, in_degree, team_ties)
    return usable, received, TieTotals(*sums, in_degree=in_degree, team_ties=team_ties)


def _ratio(part: float, whole: float) -> float:
    return float(part / whole) if whole else 0.0


def _mean(total: float, n: int) -> float:
    return float(total / n) if n else 0.0


def compute(managers: Managers, totals: TieTotals, received: np.ndarray, counts: WeekCounts,
            cost: float, participants: int) -> dict[str, float]:
    """The outputs of the model's state this week, over managers (doctors in training are not
    managers), as plain floats; :func:`simulation.measurement.measured_outputs` gives the rest
    of the registry (:data:`simulation.outputs.OUTPUTS`).

    ``totals`` and ``received`` come from :func:`observe_ties`; the post sums are one compiled
    pass over the posts (:func:`simulation.kernels.member_sums`).
    """
    work = kernels.scratch("member posts", (kernels.MEMBER_WORK_ROWS, len(managers)))
    (n_posts, n_active, n_clinical, n_nonclinical, waiting, waiting_age, understanding,
     received_clinical, received_nonclinical, claims, claims_clinical, claims_nonclinical,
     centralisation) = kernels.member_sums(
        managers.active, managers.is_trainee, managers.is_clinical, received, managers.backlog,
        managers.backlog_age, managers.understanding, counts.claims, work)
    strength = work[kernels.RECEIVED, :n_active]
    gini_received = gini(strength, work[kernels.WEIGHTED])
    pairs = n_active * (n_active - 1)
    return {
        "sl_density": float(totals.granted / pairs) if pairs else 0.0,
        "sl_centralisation": centralisation,
        "leadership_gini": gini_received,
        "top_leader_share": top_share(strength, 0.05),
        "cross_profession_share": _ratio(totals.cross_granted, totals.granted),
        "cross_profession_density": float(totals.cross_granted / pairs) if pairs else 0.0,
        "cross_org_share": _ratio(totals.org_granted, totals.granted),
        "grant_rate_cross_profession": _ratio(counts.cross_grants, counts.cross_claims),
        "grant_rate_same_profession": _ratio(counts.grants - counts.cross_grants,
                                             claims - counts.cross_claims),
        "collaboration_success_rate": _ratio(counts.successes, counts.grants),
        "claims": float(claims),
        "refusals": float(counts.refusals),
        "conflicts": float(counts.conflicts),
        "tasks_completed": float(counts.tasks_completed),
        "backlog": float(waiting),
        "backlog_age": float(waiting_age / waiting) if waiting > 0 else 0.0,
        "mean_trust": float(totals.trust / totals.between) if totals.between else 0.0,
        "mean_understanding": _mean(understanding, n_active),
        "exits": float(counts.exits),
        "vacancies": float(n_posts - n_active),
        "bureaucracy_hours": float(counts.bureaucracy_hours),
        "cost": float(cost),
        "participants": float(participants),
        "leadership_received_clinical": _mean(received_clinical, n_clinical),
        "leadership_received_nonclinical": _mean(received_nonclinical, n_nonclinical),
        "claim_rate_clinical": _mean(float(claims_clinical), n_clinical),
        "claim_rate_nonclinical": _mean(float(claims_nonclinical), n_nonclinical),
    }


def group_breakdown(managers: Managers, orgs: Organisations, received: np.ndarray,
                    counts: WeekCounts, leaver_rates: np.ndarray, weeks_observed: int,
                    system_names: list[str] | None = None,
                    system_regions: list[str] | None = None) -> pd.DataFrame:
    """One row per system x organisation type x clinical/non-clinical group: the state of its
    managers (not doctors in training), with the system's name (``icb``) and NHS England
    ``region`` ("" for an archetype), and the group's annual leaver rate across all systems
    (``leaver_rates``, by :func:`simulation.measurement.leaver_category`)."""
    org_type = orgs.type_code[managers.org]
    system = orgs.system[managers.org]
    n_systems = int(orgs.system.max()) + 1
    names = system_names or [str(s) for s in range(n_systems)]
    regions = system_regions or [""] * n_systems
    held = managers.active & ~managers.is_trainee
    rows = []
    for s in range(n_systems):
        in_system = held & (system == s)
        for code, type_name in enumerate(ORG_TYPES):
            for clinical, group in ((True, "clinical"), (False, "non_clinical")):
                members = in_system & (org_type == code) & (managers.is_clinical == clinical)
                if not members.any():
                    continue
                rows.append({
                    "system": s,
                    "icb": names[s],
                    "region": regions[s],
                    "org_type": type_name,
                    "group": group,
                    "managers": int(members.sum()),
                    "leadership_received": float(received[members].mean()),
                    "claims_per_manager": float(counts.claims[members].mean()),
                    "leader_identity": float(managers.leader_identity[members].mean()),
                    "sl_skill": float(managers.sl_skill[members].mean()),
                    "understanding": float(managers.understanding[members].mean()),
                    "stress": float(managers.stress[members].mean()),
                    "burnout_share": often_share(managers.burnt_weeks, members,
                                                 weeks_observed),
                    "leaver_rate": float(leaver_rates[leaver_category(np.array(code),
                                                                      np.array(clinical))]),
                    "backlog_per_manager": float(managers.backlog[members].mean()),
                })
    return pd.DataFrame(rows)
