"""The decision under uncertainty: the PSA tables of a sweep run on draws (issue 15, sections 2
and 3), from the loaded sweep's runs and weekly series.

For every option and draw (averaged over the draw's seeds): its discounted cost to the NHS and
PSS, tasks delivered and leavers (:mod:`.economics`), and the ranking outcome at the horizon.
From those, with the statistics of :mod:`.psa`:

* **differences**: each option minus the baseline over draws (credible interval, P(diff > 0));
* **best**: P(best) and P(top two) for the ranking outcome and for net benefit, with MCSEs;
* **ceac**: the acceptability curves over willingness to pay, and the frontier;
* **value**: expected net benefit, EVPI per system and for England;
* **evppi**: EVPPI of each group of drawn parameters (:func:`parameter_groups`);
* **thresholds**: the price per unit of the ranking outcome at which each option is chosen;
* **plane**: the cost-effectiveness plane's points;
* **tornado**: how the net benefit of the leading option over the next moves with each drawn
  parameter, low against high, and the value at which the choice between them switches;
* **knob_thresholds**: the same for the cost and effect knobs of those two options' levers and
  the prices alone: the threshold analysis of the leading options.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import params
from ..outputs import Output
from . import economics, psa
from .load import DRAW, SweepTables
from .outcomes import column_name

WTP_GRID = np.arange(0.0, 20000.0 + 1e-9, 250.0)  # GBP per task: the CEAC's span (economics)
# Fewest draws for EVPPI: a regression on fewer draws than 10 per input (Harrell, *Regression
# Modeling Strategies*, 2nd ed. 2015, section 4.4: 10 to 20 observations per parameter) fits
# noise, and an overfitted metamodel returns EVPI for any group; 30 in all [A]: the least anyone
# would fit a smooth curve to (Strong et al. 2014 used thousands).
EVPPI_DRAWS_PER_PARAMETER = 10
EVPPI_MIN_DRAWS = 30
# The barrier parameters (simulation.params.BARRIERS), one EVPPI group apart from the rest of
# ``model``, by their swept names.
BARRIERS = tuple(f"model.{name}" for name in params.BARRIERS)
BARRIER_GROUP = "barriers (model)"


@dataclass
class PSAComparison:
    """The PSA tables of a sweep with draws (see the module docstring)."""

    options: list[str]  # the baseline first
    draws: int
    wtp: float  # the headline willingness to pay per task
    differences: pd.DataFrame  # option x outcome: mean, credible interval, P(diff > 0), clear
    best: pd.DataFrame  # option x measure: P(best), P(top two), MCSEs
    ceac: pd.DataFrame  # wtp x option: P(highest net benefit); 'chosen' (CEAF)
    value: dict  # expected net benefit by option, EVPI per system and for England
    evppi: pd.Series  # parameter group -> EVPPI (GBP per system per decision)
    thresholds: pd.DataFrame  # option: the price range per unit of the ranking outcome
    plane: pd.DataFrame  # draw x option: incremental effect and cost
    tornado: pd.DataFrame  # parameter: NMB of the leader over the next, low, high, switch
    knob_thresholds: pd.DataFrame  # the tornado's rows of the leading options' knobs, prices
    about: dict = field(default_factory=dict)


def complete_draws(runs: pd.DataFrame, options: list[str]) -> list:
    """The draws every option ran with the same seeds (a failed run leaves its draw out of the
    paired analysis)."""
    runs = runs[runs["group"].isin(options)]
    by_draw = runs.groupby(DRAW)
    pairs, seeds = by_draw.size(), by_draw["seed"].nunique()
    complete = (pairs == seeds * len(options)) & (by_draw["group"].nunique() == len(options))
    return sorted(complete.index[complete])


def _arrays(tables: SweepTables, primary: Output, rate: float
            ) -> tuple[dict[str, np.ndarray], list[str], list]:
    """Each measure as a (draws, options) array, seeds averaged, options in table order, over
    the draws every option ran."""
    totals = economics.discounted_totals(tables.timeseries, rate)
    runs = tables.runs[tables.runs[DRAW].isin(complete_draws(tables.runs, tables.groups))]
    runs = runs.join(totals, on="config_hash").rename(columns={"group": "option"})
    measures = {}
    for name in ("intervention_cost", "tasks", "leavers", column_name(primary)):
        measures[name], options, draws = psa.by_draw(runs, name, tables.groups)
    return measures, options, draws


def distinct_inputs(inputs: pd.DataFrame) -> pd.DataFrame:
    """The drawn inputs that tell draws apart: a column with one value (a parameter the sweep
    held fixed) goes, and so does one that orders the draws exactly as an earlier column does
    (the tiers of one lever share its draw, so their knobs move together), since a regression
    on both learns nothing more than on one."""
    varied = inputs.loc[:, inputs.nunique() > 1]
    return varied.loc[:, ~varied.rank().T.duplicated().to_numpy()]


def parameter_groups(columns) -> dict[str, list[str]]:
    """The drawn parameters grouped for EVPPI: the costs (every unit cost, the replacement
    cost), each lever's other knobs (``intervention.<kind>.<knob>``, :mod:`.load`), the barrier
    parameters (:data:`BARRIERS`), the rest of ``model``, and each other config section
    (careers, population, ...)."""
    groups: dict[str, list[str]] = {}
    for column in columns:
        parts = column.split(".")
        if parts[-1] in ("unit_cost", "replacement_cost"):
            name = "costs"
        elif parts[0] == "intervention" and len(parts) > 2:
            name = f"lever {parts[1]}: effects and coverage"
        elif column in BARRIERS:
            name = BARRIER_GROUP
        elif parts[0] == "model":
            name = "model: the rest"
        else:
            name = parts[0]
        groups.setdefault(name, []).append(column)
    return groups


def _best_table(options: list[str], measures: dict[str, np.ndarray]) -> pd.DataFrame:
    """P(best) and P(top two), with their MCSEs, of each option on each measure (higher is
    better)."""
    rows = []
    for measure, values in measures.items():
        p, p_se = psa.probability_best(values)
        top, top_se = psa.probability_top(values, min(2, len(options)))
        rows.append(pd.DataFrame({"option": options, "measure": measure, "p_best": p,
                                  "p_best_mcse": p_se, "p_top_two": top,
                                  "p_top_two_mcse": top_se}))
    return pd.concat(rows, ignore_index=True)


def _ceac_table(tasks: np.ndarray, cost: np.ndarray, options: list[str]) -> pd.DataFrame:
    """The CEAC over :data:`WTP_GRID`, one column per option, and the CEAF's choice."""
    chosen, _ = psa.ceaf(tasks, cost, WTP_GRID)
    table = pd.DataFrame(psa.ceac(tasks, cost, WTP_GRID), columns=options).assign(wtp=WTP_GRID)
    table["chosen"] = np.asarray(options)[chosen]
    return table


def _evppi(nmb: np.ndarray, inputs: pd.DataFrame) -> tuple[pd.Series, dict[str, int]]:
    """EVPPI of each parameter group with enough draws to fit, and the draws each other group
    would need."""
    groups = parameter_groups(inputs.columns)
    needed = {name: max(EVPPI_MIN_DRAWS, EVPPI_DRAWS_PER_PARAMETER * len(columns))
              for name, columns in groups.items()}
    valued = {name: columns for name, columns in groups.items() if len(nmb) >= needed[name]}
    values = (psa.evppi_groups(nmb, inputs, valued) if valued
              else pd.Series(dtype=float, name="evppi"))
    return values, {name: n for name, n in needed.items() if name not in valued}


def _tornado(nmb: np.ndarray, inputs: pd.DataFrame) -> tuple[pd.DataFrame, tuple[int, int]]:
    """The tornado of the net benefit of the option of highest expected NMB over the next, with
    each input's switching value, and those two options (empty below :data:`EVPPI_MIN_DRAWS`
    draws)."""
    leader, runner_up = np.argsort(nmb.mean(axis=0))[::-1][:2]
    if len(nmb) < EVPPI_MIN_DRAWS or inputs.empty:
        return pd.DataFrame(columns=["parameter", "at_low", "at_high", "switch_at", "switches",
                                     "width"]), (leader, runner_up)
    return psa.one_way_ranges(nmb[:, leader] - nmb[:, runner_up], inputs), (leader, runner_up)


def knob_thresholds(tornado: pd.DataFrame, inputs: pd.DataFrame, kinds) -> pd.DataFrame:
    """The threshold analysis of the leading options: the tornado's rows of the knobs of the
    levers ``kinds`` (``intervention.<kind>.<knob>``: effects, coverage, unit cost) and of the
    prices (``economics.*``), with each knob's range over the draws, in the tornado's order."""
    prefixes = (*(f"intervention.{kind}." for kind in kinds), "economics.")
    rows = tornado[tornado["parameter"].str.startswith(prefixes)]
    spans = inputs.agg(["min", "max"]).T.rename(columns={"min": "lowest", "max": "highest"})
    return rows.join(spans, on="parameter").reset_index(drop=True)


def compare_draws(tables: SweepTables, baseline: str, primary: Output,
                  prices: economics.EconomicParams | None = None) -> PSAComparison:
    """The PSA tables of ``tables`` (a sweep with a ``draw`` column), against ``baseline``."""
    if tables.draws is None:
        raise ValueError(f"{tables.sweep_dir} has no {DRAW!r} column: it is not a PSA sweep")
    if len(tables.groups) < 2:
        raise ValueError(f"a PSA compares options; the sweep has only {tables.groups}")
    prices = prices or economics.EconomicParams()
    groups = [baseline, *(g for g in tables.groups if g != baseline)]
    tables = dataclasses.replace(tables, groups=groups)
    measures, options, draws = _arrays(tables, primary, prices.discount_rate)
    prices_drawn = economics.prices_at(draws, prices)
    replacement = prices_drawn["economics.replacement_cost"].to_numpy(float)
    cost = economics.total_cost(measures["intervention_cost"], measures["leavers"],
                                replacement[:, None])
    tasks = measures["tasks"]
    nmb = economics.net_monetary_benefit(tasks, cost, prices.wtp_per_task)
    gain = (primary.sign() or 1) * measures[column_name(primary)]  # higher is better
    table = {primary.name: measures[column_name(primary)], "tasks": tasks,
             "leavers_averted": -measures["leavers"], "cost": cost, "net_benefit": nmb}
    differences = pd.concat(
        [psa.draw_differences(values).assign(option=options, outcome=name)
         for name, values in table.items()], ignore_index=True)
    differences = differences[differences["option"] != baseline].reset_index(drop=True)
    inputs = distinct_inputs(tables.draws.loc[draws].join(prices_drawn))
    evppi, skipped = _evppi(nmb, inputs)
    tornado, (leader, runner_up) = _tornado(nmb, inputs)
    prices_per_unit = economics.threshold_prices(gain.mean(axis=0), cost.mean(axis=0))
    per_system = psa.evpi(nmb)
    years = tables.weeks[0] / economics.WEEKS_PER_YEAR
    return PSAComparison(
        options, len(draws), prices.wtp_per_task, differences,
        _best_table(options, {primary.name: gain, "net_benefit": nmb}),
        _ceac_table(tasks, cost, options),
        {"expected_net_benefit": dict(zip(options, nmb.mean(axis=0), strict=True)),
         "evpi_per_system": per_system,
         "evpi_england": psa.population_evpi(per_system, horizon_years=years,
                                             decision_years=max(10.0, years),
                                             rate=prices.discount_rate),
         "horizon_years": years},
        evppi,
        pd.DataFrame({"option": options, "lowest": prices_per_unit[:, 0],
                      "highest": prices_per_unit[:, 1]}),
        psa.ce_plane(tasks, cost, options), tornado,
        knob_thresholds(tornado, inputs, sorted({
            kind for option in (options[leader], options[runner_up])
            for kind in (tables.levers or {}).get(option, [])})),
        about={"seeds_per_draw": int(tables.runs.groupby(["group", DRAW])["seed"].nunique()
                                     .min()),
               "evppi_skipped": skipped,
               "draws_left_out": int(tables.runs[DRAW].nunique()) - len(draws),
               "tornado_pair": (options[leader], options[runner_up])})
