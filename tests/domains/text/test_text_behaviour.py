"""Text behaviour: metrics declared once from the corpus's lists, measured on a hand-built
case, and the runner's evaluation helpers turning scores into the three views."""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs.text import BUCKETS, COMPOSITIONS, FAMILY_NAMES
from envs.text.corpus import EvalSet
from envs.text.families import Items
from incentives.domains.text.behaviour import TextBehaviour
from incentives.domains.text.evaluation import EncodedSet, document_events, text_scores
from incentives.domains.text.schemes import AnswerOnlySignal, NextTokenSignal
from incentives.registry import load_domain


def test_metrics_are_declared_for_every_family_bucket_and_composition() -> None:
    names = set(TextBehaviour.names())
    for family in FAMILY_NAMES:
        assert {f"{family}_exact", f"{family}_logprob", f"{family}_token_acc"} <= names
    assert {f"facts_{b}_exact" for b, _, _ in BUCKETS} <= names
    assert {f"{c}_exact" for c in COMPOSITIONS} <= names
    assert set(TextBehaviour.names(headline=True)) == {
        "exact_mean", "logprob_mean", "composition_exact", "induction_exact",
        "abstain_rate", "hallucination_rate", "t_hat", "ece",  # answering in its own words
    }  # fmt: skip
    emergence = set(TextBehaviour.names(emergence=True))
    assert {"exact_mean", "logprob_mean", "addition_exact", "addition_logprob"} <= emergence
    assert len(names) == len(TextBehaviour.METRICS)  # each declared once
    assert load_domain("text").behaviour_type() is TextBehaviour


def test_metrics_of_a_hand_built_case() -> None:
    behaviour = TextBehaviour(NextTokenSignal())
    for group, exact, logprob, acc in (
        ("addition", True, -0.1, 1.0),
        ("addition", False, -2.1, 0.5),
        ("facts/once", False, -3.0, 0.0),
        ("facts/often", True, -1.0, 1.0),
        ("facts/never", False, -5.0, 0.0),
        ("rev_sort", True, -1.0, 1.0),
        ("next_add", False, -3.0, 0.0),
        ("next_add", False, -3.0, 0.0),
    ):
        behaviour.add({"group": group, "exact": exact, "answer_logprob": logprob,
                       "answer_token_acc": acc})  # fmt: skip
    m = behaviour.metrics()
    assert len(behaviour) == 8
    assert m["addition_exact"] == 0.5 and m["addition_logprob"] == pytest.approx(-1.1)
    assert m["facts_exact"] == 0.5 and m["facts_never_exact"] == 0.0  # never: not pooled
    assert m["exact_mean"] == pytest.approx(0.5)  # two families measured, 0.5 each
    assert m["composition_exact"] == pytest.approx(0.5)  # each composition weighs alike
    assert m["rev_sort_exact"] == 1.0 and m["next_add_exact"] == 0.0
    assert set(m) <= set(TextBehaviour.names())
    behaviour.clear()
    assert behaviour.metrics() == {} and len(behaviour) == 0
    behaviour.add({"group": "copying", "exact": True, "answer_token_acc": 1.0})  # env episode
    assert "copying_logprob" not in behaviour.metrics()


def test_events_and_three_views_from_model_scores() -> None:
    evalset = EvalSet()
    evalset.add(Items(["1+1="], ["2"]), "addition")
    evalset.add(Items(["rev 1+1="], ["2"]), "rev_add")
    encoded = EncodedSet.of(evalset)
    # document ^1+1=2$: 6 targets, the answer's two ("2", "$") at 4 and 5
    scores = [
        (np.log(np.array([0.5, 0.5, 0.5, 0.5, 0.25, 1.0], dtype=np.float32)),
         np.array([1, 1, 0, 1, 0, 1], dtype=bool)),
        (np.zeros(10, dtype=np.float32), np.ones(10, dtype=bool)),
    ]  # fmt: skip
    generated = [encoded.answers[0], np.array([9])]
    first, second = document_events(encoded, scores, generated)
    assert first == {"group": "addition", "exact": True,
                     "answer_logprob": pytest.approx(math.log(0.25) / 2),
                     "answer_token_acc": 0.5}  # fmt: skip
    assert second["exact"] is False and second["group"] == "rev_add"
    views = text_scores(encoded, scores, NextTokenSignal())  # compositions left out
    assert views["task_score"] == pytest.approx(4 / 6)
    assert views["explicit_return"] == pytest.approx(float(np.mean(scores[0][0])))
    answers = text_scores(encoded, scores, AnswerOnlySignal())
    assert answers["explicit_return"] == pytest.approx(math.log(0.25) / 2)
