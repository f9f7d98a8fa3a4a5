"""The sweep layer: many runs of :func:`simulation.runner.run_one`, planned, watched and collected.

* :mod:`.engine`: plan and validate a sweep, key its runs by config hash, skip what is done,
  launch, watch and summarise (the ``resumable`` Hydra sweeper and
  :mod:`simulation.analysis.batch` drive it);
* :mod:`.aggregate`: ``slsim-aggregate``, the run folders of a sweep collected into tables.

It sits between one run (:mod:`simulation.runner`, which imports nothing from here) and the
analysis commands (:mod:`simulation.analysis`).
"""
