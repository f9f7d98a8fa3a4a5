"""Agent, organisation and tie state as numpy arrays (struct of arrays).

One index per *post* (a manager's post, or a doctor in training's): when its holder leaves, the
post is vacant for a while and then someone else takes the same index, so array shapes never
change during a run. A person who is promoted or rotates moves to another index, taking the
person's fields (:data:`PERSON_FIELDS`) with them; the post keeps its own (:data:`POST_FIELDS`).
Ties are parallel edge arrays; every tie i -> j has its reverse j -> i at ``reverse``.
"""

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class Organisations:
    """Partner organisations of the system(s)."""

    type_code: np.ndarray  # int, index into params.ORG_TYPES
    system: np.ndarray  # int, which ICS
    layers: np.ndarray  # float, sign-off layers for a cross-boundary decision
    clarity: np.ndarray  # float, communication clarity (system value plus intervention boosts)

    def __len__(self) -> int:
        return len(self.type_code)


@dataclass
class Managers:
    """State variables of the managers (docs/ODD.md, section 2)."""

    org: np.ndarray  # int
    is_clinical: np.ndarray  # bool
    profession: np.ndarray  # int, index into params.PROFESSIONS
    career_stage: np.ndarray  # int, index into params.CAREER_STAGES
    duty: np.ndarray  # float, the manager's own sense of duty (motivation's resting level)
    motivation: np.ndarray  # float [0, 1]
    leader_identity: np.ndarray  # float [0, 1]
    sl_skill: np.ndarray  # float [0, 1]
    understanding: np.ndarray  # float [0, 1]
    base_hours: np.ndarray  # float h/week before the stage factor and time scale
    hours_boost: np.ndarray  # float h/week, protected time from interventions
    support: np.ndarray  # float [0, 1]
    stress: np.ndarray  # float [0, 1]
    active: np.ndarray  # bool, False while the post is vacant
    vacant_weeks: np.ndarray  # int, weeks the post stays vacant
    backlog: np.ndarray  # float, tasks waiting
    backlog_age: np.ndarray  # float, summed age (weeks) of the tasks waiting
    completed: np.ndarray  # float, tasks the post has completed since the start
    formal_leader: np.ndarray  # bool, held a formal leadership role at the start
    expected_leadership: np.ndarray  # float, leadership the manager is used to recognising
    hired_week: np.ndarray  # int, week the holder joined the system (<= 0 at the start)
    team: np.ndarray  # int, the post's home team
    is_trainee: np.ndarray  # bool, a doctor in postgraduate training's post
    understaffed: np.ndarray  # bool, the post's service lacks the staff to do the job properly
    post_since: np.ndarray  # int, week the holder took this post (<= 0 at the start)
    training_week: np.ndarray  # int, weeks of training a trainee has done
    completed_weeks: np.ndarray  # float (posts x survey window), tasks completed each week
    burnt_weeks: np.ndarray  # bool (posts x survey window), weeks with stress above threshold
    pressed_weeks: np.ndarray  # bool (posts x survey window), weeks with demand above hours

    def __len__(self) -> int:
        return len(self.org)

    def take(self, index: np.ndarray) -> "Managers":
        """A copy of the rows at ``index`` (used to draw replacements)."""
        return Managers(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def assign(self, index: np.ndarray, other: "Managers") -> None:
        """Overwrite the rows at ``index`` with ``other``'s rows."""
        for f in fields(self):
            getattr(self, f.name)[index] = getattr(other, f.name)


# What belongs to the post, not to the person holding it: its place in the system, its role,
# whether it is held, and the work waiting at it. Everything else moves with the person.
POST_FIELDS = ("org", "is_clinical", "career_stage", "base_hours", "team", "is_trainee", "active",
               "vacant_weeks", "backlog", "backlog_age", "completed", "completed_weeks",
               "understaffed")
PERSON_FIELDS = tuple(f.name for f in fields(Managers) if f.name not in POST_FIELDS)


@dataclass
class Ties:
    """Directed ties of the professional network; ``granted`` forms the SL network."""

    source: np.ndarray  # intp, i: the manager who perceives and grants
    target: np.ndarray  # intp, j: the manager who claims and is granted leadership
    reverse: np.ndarray  # int64, index of the tie j -> i
    cross_group: np.ndarray  # bool, clinical <-> non-clinical
    cross_org: np.ndarray  # bool, between organisations
    open: np.ndarray  # bool, False for latent forum ties and free carried-tie slots
    trust: np.ndarray  # float [0, 1], i's trust in j
    granted: np.ndarray  # float [0, 1], leadership i recognises in j
    personal: np.ndarray  # bool, a carried tie (after the role ties: relationships.py)
    last_contact: np.ndarray  # int, the last week the tie carried an interaction

    def __len__(self) -> int:
        return len(self.source)
