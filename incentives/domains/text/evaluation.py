"""Held-out documents as a model reads them, and their scores as behaviour events.

The runner asks a model two things of each held-out document: the log-likelihood of
every token after the first with whether the argmax predicted it (teacher forcing), and
a greedy continuation of its prompt. This module prepares the token arrays for both
(``EncodedSet``) and turns the answers into the three views: each document's events for
the behaviour collector (``document_events``), the explicit signal's mean weighted
log-likelihood, and the task score, next-token accuracy over every token
(``text_scores``).

Example:
    >>> from envs.text.corpus import EvalSet
    >>> from envs.text.families import Items
    >>> evalset = EvalSet()
    >>> evalset.add(Items(["1+1="], ["2"]), "addition")
    >>> encoded = EncodedSet.of(evalset)
    >>> encoded.documents[0].tolist(), encoded.answer_positions[0].tolist()
    ([1, 4, 41, 4, 40, 5, 2], [4, 5])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from envs.text.corpus import COMPOSITION, FAMILY_NAMES, EvalSet, answer_mask
from envs.text.tokenizer import encode_many
from incentives.domains.text.schemes import TextSignal

__all__ = ["EncodedSet", "document_events", "text_scores"]

Scores = Sequence[tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]]


@dataclass
class EncodedSet:
    """An evaluation set as token arrays: whole documents ``^prompt=answer$``, prompts
    ``^prompt=``, answers ``answer$``, where the answer's targets are among the
    document's targets (``answer_positions``, indices into ``document[1:]``), and each
    document's family label (``COMPOSITION`` for compositions) and group."""

    documents: list[npt.NDArray[np.uint8]]
    prompts: list[npt.NDArray[np.uint8]]
    answers: list[npt.NDArray[np.uint8]]
    answer_positions: list[npt.NDArray[np.int64]]
    labels: npt.NDArray[np.int64]
    groups: list[str]

    @classmethod
    def of(cls, evalset: EvalSet) -> EncodedSet:
        """Encode ``evalset``."""
        documents, prompts, answers, positions = [], [], [], []
        for prompt, answer in zip(evalset.prompts, evalset.answers, strict=True):
            document = encode_many(f"^{prompt}{answer}$")
            documents.append(document)
            prompts.append(document[: len(prompt) + 1])
            answers.append(document[len(prompt) + 1 :])
            positions.append(np.flatnonzero(answer_mask(document)[1:]))
        labels = np.asarray(
            [FAMILY_NAMES.index(g.split("/")[0]) if "/" in g or g in FAMILY_NAMES
             else COMPOSITION for g in evalset.groups],
            dtype=np.int64,
        )  # fmt: skip
        return cls(documents, prompts, answers, positions, labels, list(evalset.groups))

    def __len__(self) -> int:
        return len(self.documents)

    def longest_answer(self) -> int:
        """Tokens in the longest answer (``$`` included)."""
        return max((len(a) for a in self.answers), default=0)


def document_events(
    encoded: EncodedSet, scores: Scores, generated: Sequence[npt.NDArray[np.integer[Any]]]
) -> list[dict[str, Any]]:
    """Each document's behaviour events: its group, whether the greedy answer matched
    (up to and including ``$``), the answer's mean log-likelihood and token accuracy."""
    events = []
    for k, (logprob, hit) in enumerate(scores):
        at = encoded.answer_positions[k]
        answer = encoded.answers[k]
        output = np.asarray(generated[k])
        events.append(
            {
                "group": encoded.groups[k],
                "exact": len(output) == len(answer) and bool(np.all(output == answer)),
                "answer_logprob": float(logprob[at].mean()),
                "answer_token_acc": float(hit[at].mean()),
            }
        )
    return events


def text_scores(encoded: EncodedSet, scores: Scores, signal: TextSignal) -> dict[str, float]:
    """Over the family documents (compositions left out): the explicit signal's mean
    weighted log-likelihood per unit of weight (``explicit_return``, the negative of the
    learner's loss) and the next-token accuracy over every token (``task_score``)."""
    logprobs, hits, weights = [], [], []
    for k, (logprob, hit) in enumerate(scores):
        if encoded.labels[k] == COMPOSITION:
            continue
        answer = np.zeros(len(logprob), dtype=bool)
        answer[encoded.answer_positions[k]] = True
        family = np.full(len(logprob), encoded.labels[k])
        logprobs.append(logprob)
        hits.append(hit)
        weights.append(signal.weights(family, answer))
    if not logprobs:
        return {"explicit_return": float("nan"), "task_score": float("nan")}
    weight = np.concatenate(weights)
    total = float(weight.sum())
    weighted = float((np.concatenate(logprobs) * weight).sum())
    return {
        "explicit_return": weighted / total if total > 0 else float("nan"),
        "task_score": float(np.concatenate(hits).mean()),
    }
