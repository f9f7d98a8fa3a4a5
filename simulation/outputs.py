"""The model's outputs, described once (docs/ODD.md, "Observation").

Every output the model reports each week has one :class:`Output` entry in :data:`OUTPUTS`: its
name (a column of ``timeseries.parquet``), what it measures, its label in plain words, its unit,
display scale and number format, which way is better, how it is read at the horizon, and the
views that show it (the comparison report, ``slsim``'s summary table, the app's trend panels).
:data:`RUN_PANELS` lays out a run's figure (``metrics.png``) by output name.

Everything that names outputs reads this registry: the model's reporters, the run summary, the
figures, the reports, the app and the command line. A new output needs its entry here and its
computation in :func:`simulation.metrics.compute`, nothing else.

Money is written one way everywhere, by :func:`format_gbp`.
"""

from dataclasses import dataclass

import numpy as np

QUARTER = 13  # weeks: weekly flows are averaged over the last quarter, one week is noisy
BETTER = ("higher", "lower", None)  # None: neither way is better (cost), or it is not judged
# How a single value is written: numbers to 3 significant figures, shares in %, counts whole,
# money by format_gbp.
KINDS = ("number", "share", "count", "money")


def format_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, thousands separated ('n/a': not finite)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = int(np.floor(np.log10(abs(value))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def format_gbp(value: float) -> str:
    """Money: GBP 1.23m, GBP 456k or GBP 7,890 (n/a if not finite)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if abs(value) >= 1e6:
        return f"GBP {value / 1e6:,.2f}m"
    if abs(value) >= 1e4:
        return f"GBP {value / 1e3:,.0f}k"
    return f"GBP {value:,.0f}"


@dataclass(frozen=True)
class Output:
    """One model output: what it measures, how it is read at the horizon and how it is shown."""

    name: str  # column of timeseries.parquet, key of summary.json's "final"
    description: str  # one line: what is measured, and over whom
    label: str  # plain words, for tables, axes and sentences
    unit: str  # unit of the displayed value (the model value x ``scale``)
    scale: float = 1.0
    better: str | None = None  # one of BETTER
    kind: str = "number"  # one of KINDS: how a single value is written (text)
    window: int = 1  # weeks averaged at the horizon (1: the final week)
    total: bool = False  # read as the sum over every week of the run instead
    headline: bool = False  # a row of the comparison report (simulation.analysis.outcomes)
    summary: bool = False  # a row of the table `slsim` prints after a run
    trend: bool = False  # a trend panel and a row of the week's table in the app

    def __post_init__(self) -> None:
        if self.better not in BETTER:
            raise ValueError(f"output {self.name}: better = {self.better!r} is not one of "
                             f"{list(BETTER)}")
        if self.kind not in KINDS:
            raise ValueError(f"output {self.name}: kind = {self.kind!r} is not one of "
                             f"{list(KINDS)}")
        if self.window < 1:
            raise ValueError(f"output {self.name}: window = {self.window} must be at least 1")

    @property
    def horizon(self) -> str:
        """How the output is read at the horizon, in words."""
        if self.total:
            return "total over the run"
        if self.window > 1:
            return f"mean of the last {self.window} weeks"
        return "final week"

    def sign(self) -> int:
        """+1 if a rise is an improvement, -1 if a fall is, 0 if neither (cost)."""
        return {"higher": 1, "lower": -1}.get(self.better, 0)

    def display(self, value: float, digits: int = 3) -> str:
        """``value`` (in model units) as a number in :attr:`unit`, for a table whose header
        gives the unit."""
        return format_number(value * self.scale, digits)

    def text(self, value: float) -> str:
        """``value`` (in model units) written on its own: 12.3%, 1,234, GBP 1.23m, 0.000586."""
        if self.kind == "share":
            return f"{value:.1%}"
        if self.kind == "count":
            return f"{value:,.0f}"
        if self.kind == "money":
            return format_gbp(value)
        return f"{value:.3g}"

    def text_difference(self, value: float, reference: float) -> str:
        """``value`` minus ``reference``, signed: shares in percentage points, counts and money
        in their units, other numbers (density, centralisation) relative to ``reference``."""
        if self.kind == "number":
            if reference == 0:
                return "–"
            difference, write = value / reference - 1.0, "{:.1%}".format
        elif self.kind == "share":
            difference, write = 100 * (value - reference), "{:.1f} pp".format
        elif self.kind == "count":
            difference, write = value - reference, "{:,.0f}".format
        else:
            difference, write = value - reference, format_gbp
        shown = write(abs(difference))
        if not any(digit in "123456789" for digit in shown):  # no "−0"
            return write(0.0)
        return ("+" if difference > 0 else "−") + shown


OUTPUTS: dict[str, Output] = {o.name: o for o in (
    Output("sl_density",
           "SL density: sum of granted leadership / (N(N-1)) over active managers",
           "SL density", "x 10^-4", scale=1e4, better="higher", headline=True, summary=True,
           trend=True),
    Output("sl_centralisation", "Freeman in-degree centralisation of granted leadership",
           "Centralisation of leadership", "0-1 scale", summary=True, trend=True),
    Output("leadership_gini", "Gini coefficient of leadership received",
           "Gini coefficient of leadership received", "0-1 scale", summary=True),
    Output("top_leader_share",
           "Share of all leadership received that the top 5% of managers hold",
           "Share of leadership held by the top 5%", "%", scale=100, kind="share"),
    Output("cross_profession_share",
           "Share of granted leadership on clinical <-> non-clinical ties",
           "Clinical/non-clinical share of leadership", "%", scale=100, better="higher",
           kind="share", headline=True, summary=True, trend=True),
    Output("cross_profession_density",
           "Granted leadership on clinical <-> non-clinical ties / (N(N-1))",
           "Clinical/non-clinical SL density", "x 10^-4", scale=1e4),
    Output("cross_org_share", "Share of granted leadership on cross-organisation ties",
           "Cross-organisation share of leadership", "%", scale=100, better="higher",
           kind="share", headline=True, summary=True, trend=True),
    Output("grant_rate_cross_profession",
           "Share of clinical <-> non-clinical claims granted this week",
           "Grant rate of clinical/non-clinical claims", "%", scale=100, kind="share"),
    Output("grant_rate_same_profession",
           "Share of claims within the clinical or the non-clinical group granted this week",
           "Grant rate of claims within a group", "%", scale=100, kind="share"),
    Output("collaboration_success_rate",
           "Share of granted claims whose joint work succeeded this week",
           "Success rate of joint work", "%", scale=100, kind="share"),
    Output("claims", "Leadership claims made this week", "Leadership claims per week",
           "claims/week", kind="count"),
    Output("refusals", "Claims refused this week", "Claims refused per week", "claims/week",
           kind="count"),
    Output("conflicts", "Claims refused across the clinical/non-clinical line this week",
           "Clinical/non-clinical refusals per week", "claims/week", kind="count"),
    Output("tasks_completed", "Integrated-care tasks completed this week",
           "Tasks completed per week", "tasks/week", better="higher", kind="count",
           window=QUARTER, headline=True, summary=True, trend=True),
    Output("backlog", "Tasks waiting at the end of the week", "Backlog", "tasks waiting",
           better="lower", kind="count", headline=True, summary=True, trend=True),
    Output("backlog_age", "Mean age of waiting tasks (weeks)", "Mean age of waiting tasks",
           "weeks"),
    Output("mean_trust", "Mean trust over open ties between active managers", "Mean trust",
           "0-1 scale", better="higher", headline=True, summary=True),
    Output("mean_understanding", "Mean understanding of the other group, active managers",
           "Mean understanding of the other group", "0-1 scale"),
    Output("exits", "Managers who left this week", "Managers leaving per week",
           "managers/week", kind="count"),
    Output("vacancies", "Posts vacant at the end of the week", "Vacant posts", "posts",
           kind="count"),
    Output("bureaucracy_hours", "Hours lost to bureaucracy this week, all managers",
           "Hours lost to bureaucracy per week", "hours/week", kind="count"),
    Output("cost", "Cumulative intervention cost (GBP)", "Cumulative cost", "GBP",
           kind="money", headline=True, summary=True, trend=True),
    Output("participants", "Cumulative participants enrolled, all interventions",
           "Participants enrolled to date", "participants", kind="count"),
    Output("leadership_received_clinical", "Mean leadership received by a clinical manager",
           "Leadership received, clinical managers", "granted leadership per manager"),
    Output("leadership_received_nonclinical",
           "Mean leadership received by a non-clinical manager",
           "Leadership received, non-clinical managers", "granted leadership per manager"),
    Output("claim_rate_clinical", "Claims per active clinical manager this week",
           "Claims per clinical manager per week", "claims/manager/week"),
    Output("claim_rate_nonclinical", "Claims per active non-clinical manager this week",
           "Claims per non-clinical manager per week", "claims/manager/week"),
    # Measured as the evidence measures it (simulation/measurement.py; docs/ODD.md, 7.13).
    Output("team_sl_density",
           "SL density within teams: share of ordered pairs of team members with a leadership "
           "tie (granted >= theta), averaged over teams weighted by size",
           "SL density within teams", "%", scale=100, better="higher", kind="share",
           headline=True, summary=True, trend=True),
    Output("team_sl_centralisation",
           "Freeman in-degree centralisation of the leadership ties within teams, averaged over "
           "teams weighted by size", "Centralisation of leadership within teams", "0-1 scale"),
    Output("team_sl_delivery_corr",
           "Correlation across teams of SL density within the team and tasks completed per "
           "member over the last 13 weeks", "Team SL-delivery correlation", "r"),
    Output("clinical_leadership_share",
           "Share of the leadership ties between managers whose receiver is a clinical manager",
           "Clinical managers' share of leadership", "%", scale=100, better="higher",
           kind="share", headline=True, summary=True, trend=True),
    Output("burnout_share",
           "Share of active managers whose stress was above the report threshold in at least "
           "half of the last 13 weeks (would answer 'often' or 'always' to feeling burnt out)",
           "Burnout", "% of managers", scale=100, better="lower", kind="share", headline=True,
           summary=True, trend=True),
    Output("burnout_share_clinical", "Burnout share among active clinical managers",
           "Burnout, clinical managers", "% of managers", scale=100, kind="share"),
    Output("burnout_share_nonclinical", "Burnout share among active non-clinical managers",
           "Burnout, non-clinical managers", "% of managers", scale=100, kind="share"),
    Output("time_pressure_share",
           "Share of active managers whose demand exceeded their hours in at least half of the "
           "last 13 weeks (unrealistic time pressures 'often' or 'always')",
           "Unrealistic time pressure", "% of managers", scale=100, better="lower",
           kind="share"),
    Output("leaver_rate",
           "Managers who left the system over the last 52 weeks (not promotions or rotations), "
           "over the mean number of filled manager posts", "Leaver rate", "% a year",
           scale=100, better="lower", kind="share", summary=True),
    Output("bureaucracy_share",
           "Share of active managers' contracted hours lost to bureaucracy and governance this "
           "week", "Hours lost to bureaucracy", "% of hours", scale=100, better="lower",
           kind="share"),
    Output("bureaucracy_share_clinical", "Bureaucracy share of clinical managers' hours",
           "Hours lost to bureaucracy, clinical managers", "% of hours", scale=100,
           kind="share"),
    Output("bureaucracy_share_nonclinical", "Bureaucracy share of non-clinical managers' hours",
           "Hours lost to bureaucracy, non-clinical managers", "% of hours", scale=100,
           kind="share"),
    Output("established_recent_share",
           "Share of active managers in established (senior) posts who took their current post "
           "within the last 156 weeks (as 'directors appointed within the previous 3 years')",
           "Established posts filled within 3 years", "% of posts", scale=100, kind="share"),
    Output("promotions", "Managers promoted into a vacant post this week",
           "Promotions per week", "managers/week", kind="count"),
    Output("trainees", "Doctors in postgraduate training in post", "Doctors in training",
           "doctors", kind="count"),
)}


@dataclass(frozen=True)
class Panel:
    """One panel of a run's figure: outputs on one axis, and optionally one more (of another
    magnitude) on a second axis."""

    title: str
    outputs: tuple[str, ...]
    axis: str  # label of the first axis
    second: str | None = None  # output drawn dashed on a second axis

    def __post_init__(self) -> None:
        unknown = [n for n in (*self.outputs, self.second) if n is not None and n not in OUTPUTS]
        if unknown:
            raise ValueError(f"panel {self.title!r}: {unknown} are not outputs; choose from "
                             f"{list(OUTPUTS)}")


# The six panels of metrics.png, in reading order (two rows of three).
RUN_PANELS = (
    Panel("Shared-leadership network", ("sl_density", "sl_centralisation"), "value (0-1)"),
    Panel("Concentration of leadership", ("leadership_gini", "top_leader_share"), "value (0-1)"),
    Panel("Leadership across boundaries", ("cross_profession_share", "cross_org_share"),
          "share of granted leadership"),
    Panel("Integrated-care delivery", ("tasks_completed",), "tasks", second="backlog"),
    Panel("Relationships", ("mean_trust", "mean_understanding"), "value (0-1)"),
    Panel("Wellbeing", ("burnout_share", "burnout_share_clinical", "burnout_share_nonclinical"),
          "share of managers"),
)

HEADLINE = tuple(name for name, o in OUTPUTS.items() if o.headline)
SUMMARY = tuple(name for name, o in OUTPUTS.items() if o.summary)
TRENDS = tuple(name for name, o in OUTPUTS.items() if o.trend)
