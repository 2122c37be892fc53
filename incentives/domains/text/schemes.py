"""Text schemes: which tokens the learner is asked to predict, and with what weight.

The explicit signal of next-token prediction is a weight on each token of the corpus;
the learner maximises the weighted likelihood of the tokens. ``next_token`` weighs every
token of every document alike (the weak, broad incentive of the talk); ``answer_only``
only the answer tokens of chosen families (teaching a skill directly);
``answer_weighted`` lies between: answers weigh 1, the rest ``prompt_weight``.

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
