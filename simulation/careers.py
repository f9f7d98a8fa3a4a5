"""Careers: promotion into vacant posts, doctors in postgraduate training, a stationary start.

NHS management posts are established posts at a band: a manager moves up by taking a vacant post
of the next stage. So progression here is vacancy-driven (grounding: NHS posts are banded, and
promotion is appointment to a vacant post at a higher band, Agenda for Change):

* a vacant emerging or established post, once its recruitment lag has passed, is filled by
  promoting a manager of the stage below from the same system, with chance
  ``internal_promotion_share``, or else by an outside hire; candidates must share the post's
  group (clinical or not) and have held their own post for ``min_weeks_in_post``, and the one
  with the highest leader identity plus a random component wins, from the same organisation if
  anyone there is eligible (assumptions, with ranges in the schema);
* the promoted manager's old post falls vacant and is refilled in its turn, so one vacancy can
  start a chain of promotions;
* aspiring posts are filled from outside, except that doctors completing training take vacant
  aspiring doctor posts of their system.

Doctors in postgraduate training are a group of their own, in trainee posts. All trainees rotate
at once on changeover days, every ``rotation_weeks`` (NHS rotations change over on fixed dates),
each to the next trainee post of their system in a random cycle. A trainee whose training is done
at a changeover takes a vacant aspiring doctor post of the system if there is one, and otherwise
leaves the system; the trainee posts left empty are filled by new trainees. A rotation is not an
exit, nor is a completion.

Every rule here is a function of arrays and of uniforms drawn by the model from its ``careers``
stream, in fixed shapes, so a baseline and a scenario share those draws.
"""

from dataclasses import dataclass, field

import numpy as np

from . import kernels

ASPIRING, EMERGING, ESTABLISHED = 0, 1, 2


def weeks_in_post_at_start(u: np.ndarray, weekly_exit: float) -> np.ndarray:
    """Weeks each starting manager has already held their post, from the stationary tenure.

    With a constant weekly chance ``weekly_exit`` of leaving the post, tenure is geometric; the
    draw inverts its distribution at uniforms ``u``. Grounding: the stationary state of the
    career process, so a run has no start-up artefact in tenure (assumption: the model passes the
    background turnover rate; promotion out of a post, which adds to the hazard, is left out).
    """
    if weekly_exit <= 0:
        return np.zeros(len(u), dtype=np.int64)
    weeks = np.floor(np.log1p(-u) / np.log1p(-weekly_exit))
    # A tiny chance (the schema allows any above 0) makes tenures past what int64 holds; capped
    # at 2**53 weeks, exact as a float, so the cast never wraps to a negative tenure.
    return np.minimum(weeks, 2.0**53).astype(np.int64)


def is_changeover(week: int, rotation_weeks: int) -> bool:
    """Whether trainees rotate this week: every ``rotation_weeks`` weeks from the start."""
    return week > 0 and week % rotation_weeks == 0


def rotation_destinations(posts: np.ndarray, system: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The post each trainee post's holder rotates to: the next post of a random cycle over the
    trainee posts of their own system (the cycle's order is that of the uniforms ``u``).

    Grounding: trainees rotate between departments and organisations of their region
    (assumption: a random cycle over the system's trainee posts).
    """
    destination = np.empty(len(posts), dtype=np.int64)
    order = np.lexsort((u, system))
    cuts = np.flatnonzero(np.diff(system[order])) + 1
    for cycle in np.split(order, cuts):
        destination[cycle] = posts[np.roll(cycle, -1)]
    return destination


@dataclass
class Appointments:
    """How this week's due vacancies are filled."""

    promoted_from: list[int] = field(default_factory=list)  # the promoted manager's old post
    promoted_to: list[int] = field(default_factory=list)  # the post they take
    hired: list[int] = field(default_factory=list)  # posts filled from outside


def fill_vacancies(due: np.ndarray, u_route: np.ndarray, u_merit: np.ndarray,
                   active: np.ndarray, stage: np.ndarray, is_clinical: np.ndarray,
                   is_trainee: np.ndarray, org: np.ndarray, system: np.ndarray,
                   weeks_in_post: np.ndarray, leader_identity: np.ndarray,
                   internal_share: float, min_weeks_in_post: int,
                   merit_noise: float) -> Appointments:
    """Decide, post by post in the order of ``due``, how each due vacancy is filled.

    ``u_route`` and ``u_merit`` are this week's uniforms, one per post: ``u_route[post] <
    internal_share`` sends a senior post to internal promotion; each candidate's score is their
    leader identity plus ``merit_noise * u_merit[candidate]``. A manager promoted this week is
    not a candidate again this week, and their old post is not filled this week (it is vacant
    from now, with its own recruitment lag).
    """
    available = active & ~is_trainee & (weeks_in_post >= min_weeks_in_post)
    score = leader_identity + merit_noise * u_merit
    due = np.asarray(due, dtype=np.int64)
    internal = (stage[due] != ASPIRING) & (u_route[due] < internal_share)
    promoted_from, promoted_to, hired = (np.empty(len(due), dtype=np.int64) for _ in range(3))
    n_promoted, n_hired = kernels.best_candidates(
        due, internal, stage, is_clinical, org, system, score, available, promoted_from,
        promoted_to, hired)
    return Appointments(promoted_from=promoted_from[:n_promoted].tolist(),
                        promoted_to=promoted_to[:n_promoted].tolist(),
                        hired=hired[:n_hired].tolist())


def completing(training_week: np.ndarray, is_trainee: np.ndarray, active: np.ndarray,
               training_weeks: int) -> np.ndarray:
    """Trainee posts whose trainee has finished training (checked at changeovers).

    Grounding: specialty training to the certificate of completion of training takes several
    years after the foundation years (``training_weeks`` in the schema).
    """
    return np.flatnonzero(is_trainee & active & (training_week >= training_weeks))


def match_completers(completers: np.ndarray, vacant_posts: np.ndarray,
                     system: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair completing trainees with vacant aspiring doctor posts of their own system, in the
    orders given; returns (trainee posts, manager posts). Unmatched completers leave."""
    taken = np.zeros(len(vacant_posts), dtype=bool)
    origin, destination = [], []
    for trainee in completers.tolist():
        free = np.flatnonzero(~taken & (system[vacant_posts] == system[trainee]))
        if len(free):
            taken[free[0]] = True
            origin.append(trainee)
            destination.append(int(vacant_posts[free[0]]))
    return np.array(origin, dtype=np.int64), np.array(destination, dtype=np.int64)
