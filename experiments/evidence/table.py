"""The model's outputs, measured as the evidence is, beside the published figures.

    python experiments/evidence/table.py experiments/evidence/sweep

reads the aggregated sweep (``slsim-aggregate`` runs first if needed) and prints the Markdown
table of docs/ODD.md, section 7.13: each output's mean over seeds with its 95% t interval, the
published figure and its source. The sweep command is in experiments/evidence/README.md.
Nothing here is fitted: the published figures are the targets of the calibration to come.
"""

import sys
from pathlib import Path

import pandas as pd

from simulation.analysis.stats import mean_ci
from simulation.layout import RESULTS_FILE, SWEEP_TIMESERIES_FILE
from simulation.outputs import OUTPUTS
from simulation.sweeps.aggregate import aggregate

# output -> (how the model's figure is read, published figure, source)
PUBLISHED = {
    "team_sl_density": (
        "final week", "no published value read for a dichotomised leadership rating; a binary "
        "advice network in 14 school teams: 0.41-0.86, mean 0.67",
        "Carson et al. 2007 (valued density of 1-5 ratings); de Jong, thesis ch. 4, Table 4.5"),
    "team_sl_centralisation": ("final week", "not found", "Mehra et al. 2006; Small & Rentsch "
                               "2010 (centralisation used, values not read)"),
    "team_sl_delivery_corr": ("mean of the last 13 weeks", "rho = .34 (teams)",
                              "Wang, Waldman & Zhang 2014 (42 samples); credibility interval "
                              "not read"),
    "burnout_share": ("final week", "30.0% often or always burnt out (all staff)",
                      "NHS Staff Survey 2024, Q12b"),
    "time_pressure_share": ("final week", "27% rarely or never, so at most 73% "
                            "sometimes, often or always (all staff)",
                            "NHS Staff Survey 2024, Q5a"),
    "leaver_rate": ("final week", "10.1% a year (2022: 12.5%), hospital and community staff",
                    "NHS England, year to September 2024"),
    "bureaucracy_share": ("mean of the last 13 weeks", "GPs 10.9% of time on administration; "
                          "nurses 17-20% on paperwork", "GP Worklife Survey 2012; RCN 2008, 2013"),
    "bureaucracy_share_clinical": ("mean of the last 13 weeks", "as above", "as above"),
    "bureaucracy_share_nonclinical": ("mean of the last 13 weeks", "senior managers: over "
                                      "two-thirds of time in meetings (not all bureaucracy)",
                                      "NHS Institute, Productive Leader, about 2009"),
    "clinical_leadership_share": ("final week", "about a third of trust chief executives have "
                                  "a clinical background", "NHS Providers and the Leadership "
                                  "Academy, 2018"),
    "promotions": ("total over the run", "no published count; related: 54% of directors "
                   "appointed within the last 3 years", "King's Fund and NHS Providers 2018 (a "
                   "validation target, not used to set a rate)"),
    "established_recent_share": ("mean of the last 13 weeks", "54% of trust directors "
                                 "appointed within the previous 3 years", "King's Fund and NHS "
                                 "Providers 2018 (a held-out validation target)"),
}


def model_values(timeseries: pd.DataFrame, name: str, reading: str) -> pd.Series:
    """One value per run of ``name``, read as ``reading`` says."""
    runs = timeseries.sort_values(["config_hash", "week"]).groupby("config_hash")[name]
    if reading == "final week":
        return runs.last()
    if reading == "total over the run":
        return runs.sum()
    return runs.apply(lambda s: s.iloc[-13:].mean())


def table(sweep_dir: Path) -> str:
    if not (sweep_dir / RESULTS_FILE).exists():
        aggregate(sweep_dir)
    series = pd.read_parquet(sweep_dir / SWEEP_TIMESERIES_FILE)
    groups = (series.groupby("measurement.rating_threshold")
              if "measurement.rating_threshold" in series else [(None, series)])
    lines = ["| output | theta | model (mean, 95% CI over seeds) | published | source |",
             "|---|---|---|---|---|"]
    for name, (reading, published, source) in PUBLISHED.items():
        output = OUTPUTS[name]
        for theta, rows in groups:
            if theta is not None and not name.startswith(("team_sl", "clinical_leadership")) \
                    and theta != max(t for t, _ in groups):
                continue  # outputs that do not depend on theta: one row
            e = mean_ci(model_values(rows, name, reading).dropna())
            shown = (f"{output.text(e.mean)} ({output.text(e.low)} to {output.text(e.high)}), "
                     f"{reading}")
            theta_text = f"{theta:g}" if name.startswith(("team_sl", "clinical_leadership")) \
                else "-"
            lines.append(f"| `{name}` | {theta_text} | {shown} | {published} | {source} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(Path(sys.argv[1])))
