"""``slsim-compare SWEEP_DIR [--baseline baseline]``: the scenario comparison report.

Reads a sweep's aggregated tables (running ``slsim-aggregate`` first when they are missing or
older than the runs), compares every group with the baseline and writes ``SWEEP_DIR/report/``:
``report.md``, ``report.html``, the figures and ``tables/*.csv``. The work is done by three
modules: :mod:`.load` (reading and grouping the sweep), :mod:`.comparison` (the statistics) and
:mod:`.report` (the documents and figures). This one parses the command line, checks its settings
with the schema machinery before anything is read, and prints the ranking.
"""

from dataclasses import dataclass
from pathlib import Path

from ..commands import reported_errors, setting_help, settings_from, sweep_parser
from ..outputs import OUTPUTS
from ..params import choice, param, validate
from .comparison import PRECISION, compare
from .load import load
from .outcomes import OUTCOMES, outcome
from .report import (
    has_seed_view,
    psa_ranking_rows,
    psa_sentence,
    ranking_rows,
    write_report,
)
from .tables import plain_table

PROG = "slsim-compare"


@dataclass
class CompareSettings:
    """What ``slsim-compare`` is asked, checked (:func:`simulation.params.validate`) when made."""

    baseline: str = "baseline"  # a group label, scenario or key=value pairs: the sweep decides
    rank_by: str = choice("sl_density", tuple(OUTPUTS), "outcome that ranks the options")
    precision: float = param(PRECISION, 0.001, 0.5, "share of the mean",
                             "target 95% CI half-width", "-")

    def __post_init__(self) -> None:
        validate(self)


def main(argv: list[str] | None = None) -> None:
    parser = sweep_parser(
        PROG, "Compare the scenarios of an `slsim -m` sweep against a baseline and write "
              "SWEEP_DIR/report/report.md, report.html, figures and tables.")
    parser.add_argument("--baseline", help=setting_help(
        CompareSettings, "baseline", "the group to compare against: a scenario name, a group "
                                     "label, or key=value pairs such as "
                                     "'bureaucracy_load=0.3,time_scale=1'"))
    parser.add_argument("--rank-by", metavar="OUTCOME",
                        help=setting_help(CompareSettings, "rank_by"))
    parser.add_argument("--precision", type=float,
                        help=setting_help(CompareSettings, "precision"))
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default SWEEP_DIR/report)")
    args = parser.parse_args(argv)
    with reported_errors(PROG, ValueError, OSError):
        settings = settings_from(CompareSettings, args)
        primary = outcome(settings.rank_by)
        outcomes = tuple(OUTCOMES.values())
        tables = load(args.sweep_dir, outcomes if primary in outcomes else (primary, *outcomes))
        comparison = compare(tables, settings.baseline, primary.name,
                             precision=settings.precision)
        paths = write_report(comparison, args.out)
    if comparison.psa is None:
        headers, rows = ranking_rows(comparison)
        print(f"Ranking by {comparison.primary.label} against {comparison.baseline} "
              f"({comparison.seeds} seeds, 95% CIs, paired by seed):")
    else:
        headers, rows = psa_ranking_rows(comparison)
        print(f"Ranking by expected net benefit over {comparison.psa.draws} draws of the "
              f"uncertain parameters ({comparison.psa.about['seeds_per_draw']} seed(s) a draw, "
              "parameters and seed; paired by draw and seed):")
    print(plain_table(headers, rows))
    if comparison.psa is not None:
        print(psa_sentence(comparison.psa, comparison.seed_only_draw
                           if has_seed_view(comparison) else None))
    print()
    print(f"Report: {paths['report.md']}")
    print(f"        {paths['report.html']} (figures embedded)")
