"""Grading of QA actions against questions, vectorised; both envs use it.

Events (the info keys of a step):

- ``mode``: "answer", "hedge" or "abstain".
- ``answer``: the chosen candidate, -1 for abstain.
- ``correct``: the chosen candidate is the truth (False for abstain).
- ``p_star``: posterior probability that the best available answer is right.
- ``p_chosen``: posterior probability of the chosen candidate (``p_star`` for abstain).
- ``stratum``: "answerable" or "unanswerable" (no witnesses at all).
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray

from envs.qa.actions import ABSTAIN, ANSWER, HEDGE, MODES
from envs.qa.questions import Questions

__all__ = ["EVENT_KEYS", "STRATA", "Grades", "event_columns", "grade"]

EVENT_KEYS = ("mode", "answer", "correct", "p_star", "p_chosen", "stratum")
"""The info keys both QA envs emit on every step."""

STRATA = ("unanswerable", "answerable")
"""``stratum`` values, indexed by ``Questions.answerable``."""


class Grades(TypedDict):
    """What happened for each of ``n`` questions, as ``(n,)`` arrays.

    Keys:
        mode: int8 codes into ``MODES`` (0 answer, 1 hedge, 2 abstain).
        answer: int64 chosen candidate, -1 for abstain.
        correct: bool, the chosen candidate is the truth (False for abstain).
        p_star: float64, posterior probability of the best available answer.
        p_chosen: float64, posterior probability of the chosen candidate (``p_star`` for
            abstain).
        task_score: float64, the env's own reward: 1.0 if correct, else 0.0.
    """

    mode: NDArray[np.int8]
    answer: NDArray[np.int64]
    correct: NDArray[np.bool_]
    p_star: NDArray[np.float64]
    p_chosen: NDArray[np.float64]
    task_score: NDArray[np.float64]


def grade(questions: Questions, actions: ArrayLike) -> Grades:
    """Grade one action per question.

    Args:
        questions: ``n`` questions.
        actions: ``(n,)`` integer actions of ``Discrete(2K + 1)``.

    Raises:
        ValueError: an action is out of range, or the shapes disagree.

    Example:
        >>> from envs.qa.questions import QuestionGenerator
        >>> qs = QuestionGenerator(n_candidates=2).sample(np.random.default_rng(0), 3)
        >>> g = grade(qs, [qs.truth[0], 2 + 1 - qs.truth[1], 4])
        >>> g["correct"].tolist(), g["mode"].tolist(), g["answer"][2].item()
        ([True, False, False], [0, 1, 2], -1)
    """
    k = questions.posterior.shape[1]
    a = np.asarray(actions).reshape(-1)
    if a.shape[0] != len(questions):
        raise ValueError(f"got {a.shape[0]} actions for {len(questions)} questions")
    if a.dtype.kind not in "iu":
        raise ValueError(f"actions must be integers, got dtype {a.dtype}")
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() > 2 * k):
        bad = a[(a < 0) | (a > 2 * k)][0]
        raise ValueError(f"action={bad} is invalid; accepted: an integer in [0, {2 * k}]")

    abstain = a == 2 * k
    mode = np.where(abstain, ABSTAIN, np.where(a >= k, HEDGE, ANSWER)).astype(np.int8)
    answer = np.where(abstain, -1, a % k)
    correct = (answer == questions.truth) & ~abstain
    p_star = questions.p_star
    rows = np.arange(len(questions))
    p_chosen = np.where(abstain, p_star, questions.posterior[rows, np.where(abstain, 0, answer)])
    return Grades(
        mode=mode,
        answer=answer,
        correct=correct,
        p_star=p_star,
        p_chosen=p_chosen,
        task_score=correct.astype(np.float64),
    )


def event_columns(questions: Questions, grades: Grades) -> tuple[list[Any], ...]:
    """The info events of each question as Python columns, in the order of ``EVENT_KEYS``.

    Columns rather than dicts so that a batched env can add its own keys while building each
    info dict once.
    """
    return (
        [MODES[code] for code in grades["mode"].tolist()],
        grades["answer"].tolist(),
        grades["correct"].tolist(),
        grades["p_star"].tolist(),
        grades["p_chosen"].tolist(),
        [STRATA[flag] for flag in questions.answerable.tolist()],
    )
