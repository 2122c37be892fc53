"""Answering on text: the metrics of a handful of answers worked out by hand, the schemes
that judge answers (outcome, teach_idk, and the QA grids unchanged) on hand-built
answers, and calibration against values computed by hand."""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401 - registers incentives/TextAnswer-v0
from envs.text.tokenizer import EOS, HEDGE, IDK, encode_many
from incentives import make
from incentives.analysis.calibration import (
    brier_score,
    expected_calibration_error,
    reliability,
)
from incentives.domains.qa.schemes import HedgingGridSignal
from incentives.domains.text.behaviour import TextBehaviour
from incentives.domains.text.schemes import OutcomeSignal, TeachIDKSignal


def answer(mode: str, correct: bool, confidence: float, best: bool, group: str) -> dict:
    return {"mode": mode, "correct": correct, "confidence": confidence, "best_correct": best,
            "group": group}  # fmt: skip


#: Eight questions: (mode, right, confidence, best answer right, group).
EIGHT = [
    answer("answer", True, 0.95, True, "facts/often"),
    answer("answer", False, 0.85, False, "facts/often"),
    answer("hedge", True, 0.6, True, "facts/few"),
    answer("abstain", False, 0.3, False, "facts/once"),
    answer("answer", False, 0.4, False, "facts/once"),
    answer("abstain", False, 0.05, False, "facts/never"),
    answer("answer", False, 0.15, False, "facts/never"),
    answer("answer", True, 0.9, True, "addition"),
]


def test_answer_metrics_by_hand() -> None:
    behaviour = TextBehaviour()
    for event in EIGHT:
        behaviour.add(event)
    got = behaviour.metrics()
    expected = {
        "answer_rate": 5 / 8,
        "hedge_rate": 1 / 8,
        "abstain_rate": 2 / 8,
        "hallucination_rate": 3 / 8,  # plain and wrong: 2nd, 5th, 7th
        "wrong_answer_rate": 3 / 8,
        "accuracy_answered": 3 / 6,
        "singleton_share": 2 / 7,  # of the seven facts questions, two seen once
        "facts_error_rate": 3 / 7,
        "hallucination_once": 1 / 2,
        "abstain_once": 1 / 2,
        "hallucination_never": 1 / 2,
        "abstain_never": 1 / 2,
        "hallucination_often": 1 / 2,
        "abstain_often": 0.0,
        "hallucination_rules": 0.0,
        "abstain_rules": 0.0,
        "answered_by_conf/0.0-0.1": 0.0,
        "answered_by_conf/0.3-0.4": 0.0,
        "answered_by_conf/0.4-0.5": 1.0,
        "answered_by_conf/0.9-1.0": 1.0,
        "reliability/0.9-1.0": 1.0,  # the best answers at 0.95 and 0.9 are right
        "reliability/0.8-0.9": 0.0,
        "reliability/0.6-0.7": 1.0,
        "reliability/0.0-0.1": 0.0,
    }
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key
    # Brier by hand: (.05² + .85² + .4² + .3² + .4² + .05² + .15² + .1²) / 8
    brier = (0.0025 + 0.7225 + 0.16 + 0.09 + 0.16 + 0.0025 + 0.0225 + 0.01) / 8
    assert got["brier"] == pytest.approx(brier)
    assert len(behaviour) == 8
    assert "regret_own" not in got  # no scheme in force: no theory to measure against
    # under the talk's grid, with the confidence as the chance of being right: answering
    # pays 5c - 4, a hedge 2.5c - 2, "I don't know" 0 (the best: max(0, 5c - 4))
    graded = TextBehaviour(HedgingGridSignal())
    for event in EIGHT:
        graded.add(event)
    confidences = [e["confidence"] for e in EIGHT]
    best = [max(0.0, 5 * c - 4) for c in confidences]
    chosen = [5 * c - 4 if e["mode"] == "answer" else 2.5 * c - 2 if e["mode"] == "hedge"
              else 0.0 for e, c in zip(EIGHT, confidences, strict=True)]  # fmt: skip
    measured = graded.metrics()
    assert measured["optimal_own"] == pytest.approx(sum(best) / 8)
    assert measured["regret_own"] == pytest.approx((sum(best) - sum(chosen)) / 8)
    behaviour.clear()
    assert behaviour.metrics() == {}


def test_calibration_by_hand() -> None:
    confidence, right = [0.1, 0.15, 0.55, 0.6, 0.95], [0, 1, 1, 0, 1]
    table = reliability(confidence, right, bins=2)
    assert table == [(0.25, pytest.approx(0.125), 0.5, 2), (0.75, pytest.approx(0.7), 2 / 3, 3)]
    # ECE = (2 |0.5 - 0.125| + 3 |2/3 - 0.7|) / 5
    ece = (2 * 0.375 + 3 * (0.7 - 2 / 3)) / 5
    assert expected_calibration_error(confidence, right, bins=2) == pytest.approx(ece)
    assert brier_score(confidence, right) == pytest.approx(
        (0.01 + 0.85**2 + 0.45**2 + 0.36 + 0.0025) / 5
    )
    assert expected_calibration_error([], []) != expected_calibration_error([], [])  # NaN


def test_outcome_and_teaching_on_hand_built_answers() -> None:
    outcome = OutcomeSignal()
    assert outcome.incentive({"correct": True}).reward == 1.0
    assert outcome.incentive({"correct": False, "mode": "abstain"}).reward == 0.0
    teach = TeachIDKSignal(threshold=0.8)
    known, unknown = {"p_truth": 0.9}, {"p_truth": 0.3}
    assert teach.incentive({**known, "mode": "answer", "correct": True}).reward == 1.0
    assert teach.incentive({**known, "mode": "abstain", "correct": False}).reward == 0.0
    assert teach.incentive({**unknown, "mode": "abstain", "correct": False}).reward == 1.0
    assert teach.incentive({**unknown, "mode": "answer", "correct": True}).reward == 0.0
    assert teach.target("moz", 0.8) == "moz" and teach.target("moz", 0.79) == "?"
    with pytest.raises(ValueError, match=r"threshold=1\.5"):
        TeachIDKSignal(threshold=1.5)


@pytest.mark.parametrize(
    ("spoken", "grid", "binary"),
    [("right", 1.0, 1.0), ("~right", 0.5, 1.0), ("?", 0.0, 0.0), ("~wrong", -2.0, 0.0),
     ("wrong", -4.0, 0.0)],
)  # fmt: skip
def test_the_talks_grid_judges_a_spoken_answer_unchanged(
    spoken: str, grid: float, binary: float
) -> None:
    """The talk's cells: +1, +0.5 hedged, 0 "I don't know", -2 hedged wrong, -4 wrong."""
    for scheme, expected in (("hedging_grid", grid), ("binary", binary)):
        env = make(scheme, gym.make("incentives/TextAnswer-v0", documents=1500, facts=120,
                                    families=["facts"]))  # fmt: skip
        env.reset(seed=0)
        truth = env.unwrapped.pool.answers[env.unwrapped._question]
        text = spoken.replace("right", truth).replace("wrong", "zzzzzz"[: len(truth)])
        tokens = [*encode_many(text).tolist(), EOS]
        assert tokens[0] != HEDGE or spoken.startswith("~")
        assert tokens[0] != IDK or spoken == "?"
        for token in tokens:
            _, reward, done, _, info = env.step(token)
        assert done and reward == expected and info["incentive"]["scheme"] == scheme
