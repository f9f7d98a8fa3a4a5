"""Benchmarks of slsim. ``make bench`` runs ``python -m benchmarks.run``, which writes
``docs/benchmarks.md``.

Each module of this package registers its sections with :func:`benchmarks.core.section`; the
runner imports every module, so a new benchmark is a new file here (the sweep benchmark adds
``sweep_throughput`` this way).
"""
