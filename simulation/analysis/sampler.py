"""The policy search's Optuna sampler (``configs/policy/policy_search.yaml``). A module of its own
so that importing the policy app does not import Optuna."""

import warnings

from optuna.exceptions import ExperimentalWarning
from optuna.samplers import TPESampler

from .levers import lever_files


class WarmStartTPESampler(TPESampler):
    """Optuna's TPE sampler, starting from every lever on its own.

    Before its first trial it queues one trial per lever at full coverage, every other lever at
    zero (a trial scales a mix over budget down to it), so the search knows from the start what
    each lever buys alone and explores mixes from there. Parameters are those of TPESampler.
    """

    QUEUED = "slsim_single_levers_queued"

    def infer_relative_search_space(self, study, trial):
        if not study.system_attrs.get(self.QUEUED):
            study.set_system_attr(self.QUEUED, True)
            with warnings.catch_warnings():  # enqueue_trial is "experimental" in Optuna 2
                warnings.simplefilter("ignore", ExperimentalWarning)
                for lever in lever_files():
                    study.enqueue_trial({f"coverage.{entry}": 1.0 if entry == lever else 0.0
                                         for entry in lever_files()})
        return super().infer_relative_search_space(study, trial)
