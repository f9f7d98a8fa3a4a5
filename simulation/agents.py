"""Mesa agents as thin views onto the state arrays.

A :class:`Manager` holds only its post's index; every attribute reads (and writes) the model's
numpy arrays, so Mesa's AgentSet, DataCollector and SolaraViz work while the weekly rules run
vectorised over all managers at once.
"""

from dataclasses import fields

import mesa

from . import rules
from .params import CAREER_STAGES, ORG_TYPES, PROFESSIONS
from .state import Managers

_STATE_FIELDS = {f.name for f in fields(Managers)}


class Manager(mesa.Agent):
    """A clinical or non-clinical manager: a view onto row ``index`` of ``model.managers``."""

    def __init__(self, model: mesa.Model, index: int):
        super().__init__(model)
        self.index = index

    def __getattr__(self, name: str):
        # Only reached for names not set on the object: the state variables.
        if name in _STATE_FIELDS:
            return getattr(self.model.managers, name)[self.index].item()
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name in _STATE_FIELDS:
            getattr(self.model.managers, name)[self.index] = value
        else:
            super().__setattr__(name, value)

    @property
    def org_type(self) -> str:
        return ORG_TYPES[self.model.organisations.type_code[self.org]]

    @property
    def profession_name(self) -> str:
        return PROFESSIONS[self.profession]

    @property
    def career_stage_name(self) -> str:
        return CAREER_STAGES[self.career_stage]

    @property
    def leadership_hours(self) -> float:
        """Weekly hours for leadership before bureaucracy (0 while the post is vacant)."""
        m, i = self.model.managers, self.index
        hours = rules.leadership_hours(m.base_hours[i], self.model.stage_hours_factor[
            m.career_stage[i]], self.model.params.time_scale, m.hours_boost[i])
        return float(hours) if m.active[i] else 0.0

    @property
    def leadership_received(self) -> float:
        """Granted leadership this manager receives (in-strength in the SL network)."""
        return float(self.model.received[self.index])
