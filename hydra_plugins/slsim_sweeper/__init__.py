"""Hydra plugin of slsim: the ``resumable`` sweeper (``hydra/sweeper=resumable``)."""
