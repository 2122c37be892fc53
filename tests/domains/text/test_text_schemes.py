"""Text schemes: the weights they put on tokens, their per-token terms, their checks."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401 - registers incentives/Text-v0
import incentives
from envs.text import COMPOSITION, FAMILY_NAMES, TextCorpus
from incentives.domains.text.schemes import (
    AnswerOnlySignal,
    AnswerWeightedSignal,
    NextTokenSignal,
    TextSignal,
)
from incentives.signal import MissingEventError

ADDITION, FACTS = FAMILY_NAMES.index("addition"), FAMILY_NAMES.index("facts")


def test_weights_on_a_hand_built_stream() -> None:
    family = np.array([ADDITION, ADDITION, FACTS, FACTS, COMPOSITION])
    answer = np.array([False, True, False, True, True])
    assert NextTokenSignal().weights(family, answer).tolist() == [1.0] * 5
    assert AnswerOnlySignal().weights(family, answer).tolist() == [0, 1, 0, 1, 1]
    assert AnswerOnlySignal(families=("facts",)).weights(family, answer).tolist() == [0, 0, 0, 1, 0]
    weighted = AnswerWeightedSignal(prompt_weight=0.25).weights(family, answer)
    assert weighted.tolist() == [0.25, 1, 0.25, 1, 1] and weighted.dtype == np.float32


def test_weights_of_a_corpus_select_its_answer_tokens() -> None:
    corpus = TextCorpus(documents=300, facts=40)
    weights = AnswerOnlySignal(families=["addition"]).weights(corpus.family, corpus.answer)
    chosen = weights > 0
    assert np.all(corpus.answer[chosen]) and np.all(corpus.family[chosen] == ADDITION)
    assert chosen.sum() == np.sum(corpus.answer & (corpus.family == ADDITION))


@pytest.mark.parametrize(
    ("signal", "events", "terms"),
    [
        (NextTokenSignal(), {"family": "copying", "is_answer": False, "correct": True},
         {"prompt": 1.0}),
        (AnswerOnlySignal(), {"family": "copying", "is_answer": False, "correct": True},
         {"prompt": 0.0}),
        (AnswerOnlySignal(families=("copying",)),
         {"family": "copying", "is_answer": True, "correct": True}, {"answer": 1.0}),
        (AnswerOnlySignal(families=("copying",)),
         {"family": "sorting", "is_answer": True, "correct": True}, {"answer": 0.0}),
        (AnswerWeightedSignal(prompt_weight=0.5),
         {"family": "sorting", "is_answer": False, "correct": True}, {"prompt": 0.5}),
        (NextTokenSignal(), {"family": "sorting", "is_answer": True, "correct": False},
         {"answer": 0.0}),
    ],
)  # fmt: skip
def test_terms_per_token(
    signal: TextSignal, events: dict[str, object], terms: dict[str, float]
) -> None:
    assert signal.terms(events) == terms
    assert signal.incentive(events).reward == sum(terms.values())


def test_parameters_are_checked_with_what_is_accepted() -> None:
    bad: dict[str, Any]
    for bad in ({"families": ["poetry"]}, {"families": []}, {"families": "addition"}):
        with pytest.raises(ValueError, match="accepted"):
            AnswerOnlySignal(**bad)
    with pytest.raises(ValueError, match=r"prompt_weight.*accepted"):
        AnswerWeightedSignal(prompt_weight=2.0)
    assert AnswerOnlySignal(families=["facts"]).params() == {"families": ["facts"]}


def test_schemes_wrap_the_text_env_and_name_missing_events() -> None:
    env = incentives.make("answer_only", gym.make("incentives/Text-v0", documents=100, facts=40))
    env.reset(seed=0)
    _, reward, _, _, info = env.step(0)
    assert info["incentive"]["scheme"] == "answer_only" and reward == 0.0
    with pytest.raises(MissingEventError, match="is_answer"):
        NextTokenSignal().incentive({"family": "copying", "correct": True})
    assert set(incentives.schemes()) >= {"next_token", "answer_only", "answer_weighted"}
