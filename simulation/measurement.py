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

Functions are pure. Doctors in postgraduate training are not managers: the week's outputs
(:func:`measured_outputs`) are over active managers, from the week's one compiled pass over the
ties (:func:`simulation.metrics.observe_ties`) and one over the posts
(:func:`simulation.kernels.measured_sums`); :func:`often_share` takes the ``members`` to count.
"""

from dataclasses import dataclass

import numpy as np

from . import kernels
from .careers import ESTABLISHED
from .params import ORG_TYPES

WEEKS_PER_YEAR = 52
LEAVER_CATEGORIES = 2 * len(ORG_TYPES)  # organisation type x clinical / non-clinical


@dataclass
class TeamMeasures:
    """Per-team shared leadership and delivery (teams with two or more members only)."""

    size: np.ndarray  # members (active managers) of each team
    density: np.ndarray  # share of ordered member pairs with a leadership tie
    centralisation: np.ndarray  # Freeman in-degree centralisation of the leadership ties
    delivery: np.ndarray  # tasks completed per member over the window


def team_measures(size: np.ndarray, ties: np.ndarray, most: np.ndarray, total: np.ndarray,
                  delivered: np.ndarray) -> TeamMeasures:
    """Density, centralisation and delivery of each team, over its active managers, from its
    sums (:func:`simulation.kernels.observe_ties`, :func:`simulation.kernels.measured_sums`):
    members, leadership ties between them, the largest and the summed in-degree, tasks its
    members' posts completed over the window.

    A team's density is its leadership ties between members over n(n - 1); its Freeman
    in-degree centralisation is sum(max - d_k) over (n - 1)^2, the most it can be (a star);
    delivery is per member. Teams with fewer than two members are left out.
    """
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


# "Appointed within the previous 3 years" (King's Fund and NHS Providers 2018, facts.md).
APPOINTMENT_WINDOW_WEEKS = 156


def _share(part: int, whole: int) -> float:
    return float(part / whole) if whole else 0.0


def measured_outputs(managers, totals, bureaucracy: np.ndarray, week: int,
                     contracted_hours: float, leavers: RollingWindow, in_post: RollingWindow,
                     promotions: int, n_teams: int) -> dict[str, float]:
    """This week's outputs measured as the evidence is, over active managers (not trainees).

    ``totals`` are the week's :class:`simulation.metrics.TieTotals`, counted at the rating
    threshold theta; ``bureaucracy`` is this week's hours lost per post; ``leavers`` and
    ``in_post`` hold the weekly leavers and staff in post of the last year, by
    :func:`leaver_category`. The post sums are one compiled pass over the posts
    (:func:`simulation.kernels.measured_sums`).

    Grounding:

    * a leadership tie is a usable tie with granted leadership at least theta: SL network
      studies dichotomise ratings of each member's leadership (Carson et al. 2007; Mathieu et
      al. 2015); theta is an assumption, compared at two values in the ODD;
    * "often" or "always" (burnout, time pressure) is a condition held in at least half of the
      weeks of the survey window observed so far (:func:`often_share`);
    * the bureaucracy share is hours lost this week over the members' contracted hours: time-use
      figures report admin and paperwork as a share of working time (GP Worklife Survey 2012;
      RCN 2013); contracted hours from Agenda for Change (37.5 h);
    * recent appointments: members in established (senior) posts who took them within the last
      :data:`APPOINTMENT_WINDOW_WEEKS` weeks, as 54% of trust directors were appointed within
      the previous 3 years (King's Fund and NHS Providers 2018).
    """
    observed = min(week, managers.burnt_weeks.shape[1])
    size, most, total, delivered, c, hours = kernels.measured_sums(
        managers.active, managers.is_trainee, managers.is_clinical, managers.team, n_teams,
        totals.in_degree, managers.completed_weeks, managers.burnt_weeks, managers.pressed_weeks,
        observed, bureaucracy, managers.career_stage, ESTABLISHED, managers.post_since, week,
        APPOINTMENT_WINDOW_WEEKS,
        kernels.scratch("measured posts", (kernels.MEASURED_WORK_ROWS, len(managers.active))))
    teams = team_measures(size, totals.team_ties, most, total, delivered)
    members, clinical, nonclinical = (int(c[kernels.MEMBERS]), int(c[kernels.CLINICAL]),
                                      int(c[kernels.NONCLINICAL]))
    surveyed = observed > 0  # no week observed yet: no one "often"
    left, staffed = leavers.filled(), in_post.filled()
    return {
        "team_sl_density": size_weighted_mean(teams.density, teams.size),
        "team_sl_centralisation": size_weighted_mean(teams.centralisation, teams.size),
        "team_sl_delivery_corr": correlation(teams.density, teams.delivery),
        "clinical_leadership_share": _share(totals.held_by_clinical, totals.leadership),
        "burnout_share": _share(c[kernels.BURNT], members) if surveyed else 0.0,
        "burnout_share_clinical": (_share(c[kernels.BURNT_CLINICAL], clinical) if surveyed
                                   else 0.0),
        "burnout_share_nonclinical": (_share(c[kernels.BURNT_NONCLINICAL], nonclinical)
                                      if surveyed else 0.0),
        "time_pressure_share": _share(c[kernels.PRESSED], members) if surveyed else 0.0,
        "leaver_rate": float(leaver_rate(left.sum(axis=1, keepdims=True),
                                         staffed.sum(axis=1, keepdims=True))[0]),
        "bureaucracy_share": _hours_share(hours[0], members, contracted_hours),
        "bureaucracy_share_clinical": _hours_share(hours[1], clinical, contracted_hours),
        "bureaucracy_share_nonclinical": _hours_share(hours[2], nonclinical, contracted_hours),
        "established_recent_share": _share(c[kernels.RECENT], c[kernels.ESTABLISHED_POSTS]),
        "promotions": float(promotions),
        "trainees": float(c[kernels.TRAINEES]),
    }


def _hours_share(hours: float, n: int, contracted_hours: float) -> float:
    return float(hours / (n * contracted_hours)) if n else 0.0
