"""Outputs measured the way the evidence measures them (docs/ODD.md, section 7.13).

Each function turns the model's state into a figure that can be held against a published one:

* shared leadership within teams, from a dichotomised rating (a granted tie counts when
  ``granted >= theta``), as Carson et al. 2007, Mathieu et al. 2015 and D'Innocenzo et al. 2016
  measure density and centralisation;
* the team-level correlation of SL density with delivery, the quantity the meta-analytic rho of
  Wang, Waldman & Zhang 2014 describes;
* the share of managers who would answer "often" or "always" to the NHS Staff Survey's items on
  burnout (Q12b, "How often, if at all, do you feel burnt out because of your work?") and on
  time pressure (Q5a, "I have unrealistic time pressures"): a condition met in at least half of
  the weeks of the survey window;
* the annual leaver rate as NHS England reports it: leavers from the system over 12 months
  divided by the mean number of staff in post;
* the share of working hours lost to bureaucracy and governance.

Functions are pure and vectorised over ties, posts or teams. Doctors in postgraduate training
are not managers: callers pass ``members`` (active managers) to leave them out.
"""

from dataclasses import dataclass

import numpy as np

from . import kernels
from .careers import ESTABLISHED
from .params import ORG_TYPES

WEEKS_PER_YEAR = 52
LEAVER_CATEGORIES = 2 * len(ORG_TYPES)  # organisation type x clinical / non-clinical


def leadership_ties(granted: np.ndarray, usable: np.ndarray, theta: float) -> np.ndarray:
    """Ties that count as leadership ties: usable, with granted leadership at least ``theta``.

    Grounding: SL network studies dichotomise ratings of each member's leadership (Carson et
    al. 2007; Mathieu et al. 2015); theta is an assumption, compared at two values in the ODD.
    """
    return usable & (granted >= theta)


@dataclass
class TeamMeasures:
    """Per-team shared leadership and delivery (teams with two or more members only)."""

    size: np.ndarray  # members (active managers) of each team
    density: np.ndarray  # share of ordered member pairs with a leadership tie
    centralisation: np.ndarray  # Freeman in-degree centralisation of the leadership ties
    delivery: np.ndarray  # tasks completed per member over the window


def team_measures(source: np.ndarray, target: np.ndarray, measured: np.ndarray,
                  team: np.ndarray, members: np.ndarray, completed_window: np.ndarray,
                  n_teams: int) -> TeamMeasures:
    """Density, centralisation and delivery of each team, over its active managers.

    A team's density is its leadership ties between members over n(n - 1); its Freeman
    in-degree centralisation is sum(max - d_k) over (n - 1)^2, the most it can be (a star);
    delivery is the tasks its members' posts completed over the window (``completed_window``:
    posts x weeks), per member. Teams with fewer than two members are left out.
    """
    size, ties, most, total, delivered = kernels.team_sums(
        source, target, measured, team, members, completed_window, n_teams)
    kept = size >= 2
    n = size[kept].astype(float)
    return TeamMeasures(
        size=size[kept],
        density=ties[kept] / (n * (n - 1.0)),
        centralisation=(n * most[kept] - total[kept]) / (n - 1.0) ** 2,
        delivery=delivered[kept] / n,
    )


def size_weighted_mean(values: np.ndarray, size: np.ndarray) -> float:
    """Mean over teams weighted by team size (0 with no team).

    The steps of ``np.average(values, weights=size)``, so the same bits, without its checks
    (which cost more than the sums on a few hundred teams, every week)."""
    total = size.sum(dtype=float)
    return float(np.multiply(values, size, dtype=float).sum() / total) if total > 0 else 0.0


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation across teams; NaN with fewer than three teams or no variation.

    The steps of ``np.corrcoef(x, y)[0, 1]`` (centre, the same matrix product, scale, divide by
    both deviations, clip), so the same bits, without its checks."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    centred = np.array((x, y), dtype=float)
    centred -= centred.mean(axis=1)[:, None]
    cov = np.dot(centred, centred.T.conj())
    cov *= np.true_divide(1, len(x) - 1)
    deviation = np.sqrt(cov.diagonal())
    return float(min(max(cov[0, 1] / deviation[0] / deviation[1], -1.0), 1.0))


def often_share(flags: np.ndarray, members: np.ndarray, weeks_observed: int) -> float:
    """Share of ``members`` whose weekly condition (``flags``: posts x window, one column a
    week) held in at least half of the weeks observed so far in the window.

    Grounding: the NHS Staff Survey asks how often; "often" or "always" is taken as at least
    half of the weeks of the window (assumption).
    """
    weeks = min(weeks_observed, flags.shape[1])
    n = int(np.count_nonzero(members))
    if weeks == 0 or n == 0:
        return 0.0
    return float(kernels.often_count(flags, members, weeks) / n)


# "Appointed within the previous 3 years" (King's Fund and NHS Providers 2018, facts.md).
APPOINTMENT_WINDOW_WEEKS = 156


def recent_appointment_share(post_since: np.ndarray, holders: np.ndarray, week: int,
                             window: int = APPOINTMENT_WINDOW_WEEKS) -> float:
    """Share of ``holders`` who took their current post within the last ``window`` weeks.

    Grounding: 54% of trust directors were appointed within the previous 3 years (King's Fund
    and NHS Providers 2018); the model's nearest posts are its established (senior) ones.
    """
    n = int(np.count_nonzero(holders))
    if n == 0:
        return 0.0
    return float(np.count_nonzero(holders & (week - post_since < window)) / n)


def share_of_hours(hours_lost: np.ndarray, members: np.ndarray, contracted_hours: float) -> float:
    """Hours lost to bureaucracy this week over the contracted hours of ``members``.

    Grounding: time-use figures report admin and paperwork as a share of working time (GP
    Worklife Survey 2012; RCN 2013); contracted hours from Agenda for Change (37.5 h).
    """
    n = int(np.count_nonzero(members))
    return float(hours_lost[members].sum() / (n * contracted_hours)) if n else 0.0


def leadership_share(measured: np.ndarray, members: np.ndarray, source: np.ndarray,
                     target: np.ndarray, receiving: np.ndarray) -> float:
    """Share of the leadership ties between ``members`` whose receiver is in ``receiving``."""
    total, held = kernels.between_counts(source, target, measured, members, receiving)
    return float(held / total) if total else 0.0


class RollingWindow:
    """The last ``weeks`` weekly rows of a count per category (for example leavers per
    organisation), pushed one week at a time."""

    def __init__(self, weeks: int, width: int):
        self.rows = np.zeros((weeks, width))
        self.pushed = 0

    def push(self, row: np.ndarray) -> None:
        self.rows[self.pushed % len(self.rows)] = row
        self.pushed += 1

    def filled(self) -> np.ndarray:
        """The rows pushed so far in the window (all of them once it is full)."""
        return self.rows[:min(self.pushed, len(self.rows))]


def leaver_rate(leavers: np.ndarray, in_post: np.ndarray) -> np.ndarray:
    """Annual leaver rate per column: leavers over the window, scaled to a year, divided by the
    mean staff in post over the same weeks (``leavers`` and ``in_post``: weeks x categories).

    Grounding: NHS England's leaver rate, leavers over 12 months divided by the average staff in
    post (headcount); moves within the system (promotions, rotations) are not leavers.
    """
    weeks = len(leavers)
    if weeks == 0:
        return np.zeros(leavers.shape[1])
    mean_in_post = in_post.mean(axis=0)
    yearly = leavers.sum(axis=0) * WEEKS_PER_YEAR / weeks
    return np.divide(yearly, mean_in_post, out=np.zeros_like(yearly), where=mean_in_post > 0)


def leaver_category(org_type: np.ndarray, is_clinical: np.ndarray) -> np.ndarray:
    """Category of each post for leaver counts: organisation type x group (clinical first)."""
    return 2 * org_type + ~is_clinical


def measured_outputs(managers, ties, usable: np.ndarray, bureaucracy: np.ndarray,
                     week: int, theta: float, contracted_hours: float,
                     leavers: RollingWindow, in_post: RollingWindow, promotions: int,
                     n_teams: int) -> dict[str, float]:
    """This week's outputs measured as the evidence is, over active managers (not trainees).

    ``bureaucracy`` is this week's hours lost per post; ``leavers`` and ``in_post`` hold the
    weekly leavers and staff in post of the last year, by :func:`leaver_category`.
    """
    members = managers.active & ~managers.is_trainee
    clinical, nonclinical = members & managers.is_clinical, members & ~managers.is_clinical
    measured = leadership_ties(ties.granted, usable, theta)
    teams = team_measures(ties.source, ties.target, measured, managers.team, members,
                          managers.completed_weeks, n_teams)
    observed = min(week, managers.burnt_weeks.shape[1])
    left, staffed = leavers.filled(), in_post.filled()
    return {
        "team_sl_density": size_weighted_mean(teams.density, teams.size),
        "team_sl_centralisation": size_weighted_mean(teams.centralisation, teams.size),
        "team_sl_delivery_corr": correlation(teams.density, teams.delivery),
        "clinical_leadership_share": leadership_share(measured, members, ties.source,
                                                      ties.target, managers.is_clinical),
        "burnout_share": often_share(managers.burnt_weeks, members, observed),
        "burnout_share_clinical": often_share(managers.burnt_weeks, clinical, observed),
        "burnout_share_nonclinical": often_share(managers.burnt_weeks, nonclinical, observed),
        "time_pressure_share": often_share(managers.pressed_weeks, members, observed),
        "leaver_rate": float(leaver_rate(left.sum(axis=1, keepdims=True),
                                         staffed.sum(axis=1, keepdims=True))[0]),
        "bureaucracy_share": share_of_hours(bureaucracy, members, contracted_hours),
        "bureaucracy_share_clinical": share_of_hours(bureaucracy, clinical, contracted_hours),
        "bureaucracy_share_nonclinical": share_of_hours(bureaucracy, nonclinical,
                                                        contracted_hours),
        "established_recent_share": recent_appointment_share(
            managers.post_since, members & (managers.career_stage == ESTABLISHED), week),
        "promotions": float(promotions),
        "trainees": float(np.count_nonzero(managers.active & managers.is_trainee)),
    }
