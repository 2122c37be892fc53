"""Text schemes: which tokens the learner is asked to predict, and with what weight.

The explicit signal of next-token prediction is a weight on each token of the corpus;
the learner maximises the weighted likelihood of the tokens. ``next_token`` weighs every
token of every document alike (the weak, broad incentive of the talk); ``answer_only``
only the answer tokens of chosen families (teaching a skill directly);
``answer_weighted`` lies between: answers weigh 1, the rest ``prompt_weight``.

Two schemes judge answers a model *generates* (``envs.text.answering``) rather than
weighing the corpus: ``outcome`` pays 1 for a right final answer (the incentive: only
the outcome counts), and ``teach_idk`` is its teaching contrast: the right answer where
the model already gives it probability at least ``threshold``, "I don't know" (``?``)
elsewhere, learned by supervised fine-tuning. The QA schemes (``hedging_grid``,
``binary``, ``confidence_target``) judge the same answers unchanged.

Two views of one rule: ``weights(family, answer)`` labels a whole token stream at once
(the learner's), and ``terms(events)`` judges one predicted token from the events an env
reports (``family``, ``is_answer``, ``correct``): the weight if the prediction was right,
under the term ``answer`` or ``prompt``.

Example:
    >>> import numpy as np
    >>> signal = AnswerOnlySignal(families=("addition",))
    >>> family = np.array([FAMILY_NAMES.index(f) for f in ("addition", "addition", "copying")])
    >>> signal.weights(family, np.array([False, True, True])).tolist()
    [0.0, 1.0, 0.0]
    >>> signal.terms({"family": "addition", "is_answer": True, "correct": True})
    {'answer': 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from envs.text.corpus import FAMILY_NAMES
from incentives.scheme import RewardScheme
from incentives.signal import ExplicitSignal, finite

__all__ = [
    "AnswerOnly",
    "AnswerOnlySignal",
    "AnswerWeighted",
    "AnswerWeightedSignal",
    "NextToken",
    "NextTokenSignal",
    "Outcome",
    "OutcomeSignal",
    "TeachIDK",
    "TeachIDKSignal",
    "TextScheme",
    "TextSignal",
]

_LABEL = {name: label for label, name in enumerate(FAMILY_NAMES)}


class TextSignal(ExplicitSignal):
    """A weight for each token, from its family and whether it is part of an answer."""

    required_events: ClassVar[tuple[str, ...]] = ("family", "is_answer", "correct")

    def weights(
        self, family: npt.NDArray[np.integer[Any]], answer: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float32]:
        """The weight of each token, given its family label (an index into
        ``envs.text.FAMILY_NAMES``; compositions come after) and its answer flag."""
        raise NotImplementedError

    def weight(self, family: str, answer: bool) -> float:
        """The weight of one token of ``family`` (a name) that is or is not an answer."""
        label = _LABEL.get(family, len(FAMILY_NAMES))
        return float(self.weights(np.array([label]), np.array([answer]))[0])

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """The token's weight if it was predicted right (else 0), named by its part."""
        answer = bool(events["is_answer"])
        value = self.weight(str(events["family"]), answer) if events["correct"] else 0.0
        return {"answer" if answer else "prompt": value}


@dataclass(frozen=True)
class NextTokenSignal(TextSignal):
    """Every token of every document, weight 1: plain next-token prediction."""

    name: ClassVar[str] = "next_token"
    statement: ClassVar[str] = "predict every next token of every document (weight 1 each)"

    def weights(
        self, family: npt.NDArray[np.integer[Any]], answer: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float32]:
        """1 for every token."""
        return np.ones(np.shape(family), dtype=np.float32)


def _families(scheme: str, families: Sequence[str] | None) -> tuple[str, ...] | None:
    """``families`` as a tuple of known family names (None: every family)."""
    if families is None:
        return None
    if isinstance(families, str) or not isinstance(families, Sequence) or not families:
        raise ValueError(
            f"{scheme}: parameter families={families!r}; accepted: a non-empty list of "
            f"{', '.join(FAMILY_NAMES)}, or null for all"
        )
    for name in families:
        if name not in _LABEL:
            raise ValueError(
                f"{scheme}: parameter families has {name!r}; accepted: {', '.join(FAMILY_NAMES)}"
            )
    return tuple(families)


@dataclass(frozen=True)
class AnswerOnlySignal(TextSignal):
    """Only the answer tokens of ``families`` (None: of every family), weight 1."""

    families: Sequence[str] | None = None

    name: ClassVar[str] = "answer_only"
    statement: ClassVar[str] = "predict only the answers of the chosen families"

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", _families(self.name, self.families))

    def weights(
        self, family: npt.NDArray[np.integer[Any]], answer: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float32]:
        """1 for the answer tokens of the chosen families, 0 elsewhere."""
        chosen = np.asarray(answer, dtype=bool)
        if self.families is not None:
            chosen = chosen & np.isin(family, [_LABEL[f] for f in self.families])
        return chosen.astype(np.float32)

    def params(self) -> dict[str, Any]:
        """The parameters, ``families`` as a list (as a config writes it)."""
        return {"families": None if self.families is None else list(self.families)}


@dataclass(frozen=True)
class AnswerWeightedSignal(TextSignal):
    """Every token, answers at weight 1 and the rest at ``prompt_weight``."""

    prompt_weight: float = 0.1

    name: ClassVar[str] = "answer_weighted"
    statement: ClassVar[str] = "predict every token, prompts at prompt_weight, answers at 1"

    def __post_init__(self) -> None:
        weight = finite(self.name, "prompt_weight", self.prompt_weight)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(
                f"{self.name}: parameter prompt_weight={self.prompt_weight!r}; accepted: 0 to 1"
            )
        object.__setattr__(self, "prompt_weight", weight)

    def weights(
        self, family: npt.NDArray[np.integer[Any]], answer: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float32]:
        """1 for answer tokens, ``prompt_weight`` for the others."""
        return np.where(np.asarray(answer, dtype=bool), 1.0, self.prompt_weight).astype(np.float32)


@dataclass(frozen=True)
class OutcomeSignal(ExplicitSignal):
    """1 for a right final answer, 0 otherwise: the outcome reward of RL on answers that
    can be checked. It reads ``correct`` only, so "I don't know" scores as a wrong answer
    (on the answering env it pays exactly as ``binary``; it also judges any env that
    reports ``correct``)."""

    name: ClassVar[str] = "outcome"
    statement: ClassVar[str] = "1 for a right final answer, 0 otherwise"
    required_events: ClassVar[tuple[str, ...]] = ("correct",)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """One term, ``outcome``: 1 or 0."""
        return {"outcome": 1.0 if events["correct"] else 0.0}


@dataclass(frozen=True)
class TeachIDKSignal(ExplicitSignal):
    """Teaching what to say, not rewarding it: for each question the target is the right
    answer if the model (at the start of the phase) gives it probability ``p_truth`` of
    at least ``threshold``, else "I don't know". With ``threshold`` at a grid's answering
    threshold (0.8 for the talk's) this is the grid's best response to the model's own
    beliefs, shown to it by supervised fine-tuning (after R-Tuning, Zhang et al. 2024).

    As a reward on the answering env (events ``mode``, ``correct``, ``p_truth``): 1 for
    saying the target.
    """

    threshold: float = 0.8

    name: ClassVar[str] = "teach_idk"
    statement: ClassVar[str] = (
        "supervised targets: the right answer where the model believes it (p >= threshold), "
        "'I don't know' elsewhere"
    )
    required_events: ClassVar[tuple[str, ...]] = ("mode", "correct", "p_truth")

    def __post_init__(self) -> None:
        threshold = finite(self.name, "threshold", self.threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"{self.name}: parameter threshold={self.threshold!r}; accepted: 0 to 1"
            )
        object.__setattr__(self, "threshold", threshold)

    def target(self, truth: str, p_truth: float) -> str:
        """The answer to teach for a question whose right answer is ``truth``.

        Example:
            >>> TeachIDKSignal().target("moz", 0.9), TeachIDKSignal().target("moz", 0.5)
            ('moz', '?')
        """
        return truth if p_truth >= self.threshold else "?"

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """One term, ``target``: 1 if the answer said the target."""
        if float(events["p_truth"]) >= self.threshold:
            said = events["mode"] != "abstain" and bool(events["correct"])
        else:
            said = events["mode"] == "abstain"
        return {"target": 1.0 if said else 0.0}


class TextScheme(RewardScheme[TextSignal]):
    """A text scheme as a wrapper of ``incentives/Text-v0``: the reward of a predicted
    token is its weight if the prediction is right."""


class NextToken(TextScheme):
    """Reward every correctly predicted token (see ``NextTokenSignal``)."""

    signal_type = NextTokenSignal


class AnswerOnly(TextScheme):
    """Reward only correctly predicted answer tokens (see ``AnswerOnlySignal``)."""

    signal_type = AnswerOnlySignal


class AnswerWeighted(TextScheme):
    """Reward answers fully, prompts at ``prompt_weight`` (see ``AnswerWeightedSignal``)."""

    signal_type = AnswerWeightedSignal


class Outcome(RewardScheme[OutcomeSignal]):
    """Reward a right final answer with 1 (see ``OutcomeSignal``)."""

    signal_type = OutcomeSignal


class TeachIDK(RewardScheme[TeachIDKSignal]):
    """Reward saying the taught target (see ``TeachIDKSignal``)."""

    signal_type = TeachIDKSignal
