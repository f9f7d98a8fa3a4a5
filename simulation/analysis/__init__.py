"""The analyst's toolkit, on top of the sweeps: statistics, scenario comparison reports,
sensitivity analysis, policy search and the EMA Workbench adapter (docs/analysis.md).

* :mod:`.outcomes`: the model's outputs (:mod:`simulation.outputs`) read at the horizon;
* :mod:`.stats`: confidence intervals, paired differences, effect sizes, replication adequacy;
* :mod:`.batch`: run lists of configurations from Python with the sweep engine's conventions;
* :mod:`.compare`: ``slsim-compare SWEEP_DIR``, the scenario comparison report, made by
  :mod:`.load` (the sweep's tables, grouped), :mod:`.comparison` (the statistics) and
  :mod:`.report` (Markdown, HTML, figures); :mod:`.tables` writes text tables;
* :mod:`.sensitivity`: ``slsim-sensitivity``, Morris screening and Sobol indices (SALib);
* :mod:`.levers`: intervention mixes as coverages of the levers in ``configs/intervention``;
* :mod:`.policy`: ``slsim-policy``, the Optuna search for the best mix under a budget;
* :mod:`.ema`: the model as an EMA Workbench model (optional extra ``[ema]``).
"""
