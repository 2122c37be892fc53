"""Behaviour metrics of the QA env: hand-built episodes, and policies played on real questions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from envs.qa import MODES, QuestionGenerator, Questions, grade
from incentives import BinarySignal, ConfidenceTargetSignal, HedgingGridSignal
from incentives.domains.qa.behaviour import QABehaviour, answer_threshold
from incentives.domains.qa.schemes import QASignal


def episode(
    mode: str, correct: bool, p_star: float, p_chosen: float, stratum: str
) -> dict[str, Any]:
    """The last info of one QA episode, with the extra keys a vector env adds."""
    return {
        "mode": mode,
        "answer": -1 if mode == "abstain" else 0,
        "correct": correct,
        "p_star": p_star,
        "p_chosen": p_chosen,
        "stratum": stratum,
        "TimeLimit.truncated": False,
    }


# Eight episodes, p values kept off the bin edges (0.1, 0.2, ...) except p = 1.0.
HAND_MADE = [
    episode("answer", True, 0.92, 0.92, "answerable"),  # 1
    episode("answer", False, 0.62, 0.62, "answerable"),  # 2
    episode("hedge", True, 0.96, 0.96, "answerable"),  # 3
    episode("hedge", False, 0.72, 0.50, "answerable"),  # 4: hedged a worse candidate
    episode("abstain", False, 0.25, 0.25, "unanswerable"),  # 5
    episode("answer", False, 0.25, 0.25, "unanswerable"),  # 6
    episode("abstain", False, 1.00, 1.00, "answerable"),  # 7
    episode("answer", False, 0.85, 0.10, "answerable"),  # 8: answered an unlikely one
]


def collect(signal: QASignal, infos: list[dict[str, Any]]) -> QABehaviour:
    behaviour = QABehaviour(signal)
    for info in infos:
        behaviour.add(info)
    return behaviour


def test_hand_made_rates() -> None:
    metrics = collect(HedgingGridSignal(), HAND_MADE).metrics()
    assert metrics["answer_rate"] == pytest.approx(4 / 8)  # episodes 1, 2, 6, 8
    assert metrics["hedge_rate"] == pytest.approx(2 / 8)  # 3, 4
    assert metrics["abstain_rate"] == pytest.approx(2 / 8)  # 5, 7
    # answered (hedged or not): 1, 2, 3, 4, 6, 8; right: 1, 3
    assert metrics["accuracy_answered"] == pytest.approx(2 / 6)
    # unhedged and wrong: 2, 6, 8, over all eight episodes (hedged-wrong 4 does not count)
    assert metrics["hallucination_rate"] == pytest.approx(3 / 8)
    # unanswerable: 5 (abstained), 6 (answered)
    assert metrics["abstain_rate_unanswerable"] == pytest.approx(1 / 2)


def test_hand_made_regret_under_the_grid() -> None:
    # Bayes-optimal expected reward at p*: max(-4 + 5p, -2 + 2.5p, 0)
    #   0.92 -> 0.6, 0.62 -> 0, 0.96 -> 0.8, 0.72 -> 0, 0.25 -> 0, 0.25 -> 0, 1.0 -> 1.0,
    #   0.85 -> 0.25; sum 2.65, mean 0.33125
    # expected reward of the chosen mode at p_chosen:
    #   answer 0.92 -> 0.6, answer 0.62 -> -0.9, hedge 0.96 -> 0.4, hedge 0.5 -> -0.75,
    #   abstain -> 0, answer 0.25 -> -2.75, abstain -> 0, answer 0.1 -> -3.5;
    #   sum -6.9, mean -0.8625
    metrics = collect(HedgingGridSignal(), HAND_MADE).metrics()
    assert metrics["optimal_reward"] == pytest.approx(0.33125)
    assert metrics["expected_reward"] == pytest.approx(-0.8625)
    assert metrics["regret"] == pytest.approx(0.33125 + 0.8625)
    assert metrics["regret_relative"] == pytest.approx((0.33125 + 0.8625) / 0.33125)


def test_hand_made_regret_under_binary_after_use_signal() -> None:
    # binary: optimal = p*, chosen = p_chosen if answered (hedged or not), else 0
    #   optimal sum 0.92 + 0.62 + 0.96 + 0.72 + 0.25 + 0.25 + 1.0 + 0.85 = 5.57
    #   chosen sum  0.92 + 0.62 + 0.96 + 0.50 + 0 + 0.25 + 0 + 0.10 = 3.35
    behaviour = collect(HedgingGridSignal(), HAND_MADE)
    behaviour.use_signal(BinarySignal())
    metrics = behaviour.metrics()
    assert metrics["optimal_reward"] == pytest.approx(5.57 / 8)
    assert metrics["expected_reward"] == pytest.approx(3.35 / 8)
    assert metrics["regret"] == pytest.approx((5.57 - 3.35) / 8)


def test_hand_made_answered_by_p() -> None:
    metrics = collect(HedgingGridSignal(), HAND_MADE).metrics()
    by_p = {k: v for k, v in metrics.items() if k.startswith("answered_by_p/")}
    assert by_p == {
        "answered_by_p/0.2-0.3": pytest.approx(1 / 2),  # 5 abstained, 6 answered
        "answered_by_p/0.6-0.7": 1.0,  # 2
        "answered_by_p/0.7-0.8": 1.0,  # 4 (hedged counts as answered)
        "answered_by_p/0.8-0.9": 1.0,  # 8
        "answered_by_p/0.9-1.0": pytest.approx(2 / 3),  # 1, 3 answered; 7 (p = 1) abstained
    }


def test_no_unanswerable_questions_gives_nan() -> None:
    answerable = [i for i in HAND_MADE if i["stratum"] == "answerable"]
    metrics = collect(HedgingGridSignal(), answerable).metrics()
    assert math.isnan(metrics["abstain_rate_unanswerable"])


def test_none_answered_gives_nan_accuracy() -> None:
    metrics = collect(HedgingGridSignal(), [HAND_MADE[4], HAND_MADE[6]]).metrics()
    assert metrics["abstain_rate"] == 1.0
    assert math.isnan(metrics["accuracy_answered"])
    assert metrics["t_hat"] == 1.0
    assert metrics["hallucination_rate"] == 0.0


def test_empty_clear_and_len() -> None:
    behaviour = QABehaviour(HedgingGridSignal())
    assert len(behaviour) == 0
    assert behaviour.metrics() == {}
    for info in HAND_MADE:
        behaviour.add(info)
    assert len(behaviour) == 8
    behaviour.clear()
    assert len(behaviour) == 0
    assert behaviour.metrics() == {}
    behaviour.add(HAND_MADE[0])
    assert behaviour.metrics()["answer_rate"] == 1.0


# --- answer_threshold --------------------------------------------------------------------
@pytest.mark.parametrize("t", [0.3, 0.5, 0.7, 0.85])
def test_answer_threshold_recovers_a_logistic_crossing(t: float) -> None:
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    answered = rng.random(20_000) < 1.0 / (1.0 + np.exp(-30.0 * (p - t)))
    assert answer_threshold(p, answered) == pytest.approx(t, abs=0.01)


def test_answer_threshold_of_a_step() -> None:
    p = np.linspace(0.25, 1.0, 301)
    assert answer_threshold(p, p > 0.6) == pytest.approx(0.6, abs=0.01)


@pytest.mark.parametrize(
    ("answered", "t_hat"), [([True] * 5, 0.0), ([False] * 5, 1.0), ([1, 1, 1, 1, 1], 0.0)]
)
def test_answer_threshold_extremes(answered: list[bool], t_hat: float) -> None:
    assert answer_threshold([0.1, 0.3, 0.5, 0.7, 0.9], answered) == t_hat


def test_answer_threshold_of_no_data() -> None:
    assert answer_threshold([], []) == 0.0


# --- policies played on the real env's questions -----------------------------------------
K = 4


@pytest.fixture(scope="module")
def questions() -> Questions:
    return QuestionGenerator(n_candidates=K).sample(np.random.default_rng(0), 20_000)


def play(signal: QASignal, questions: Questions, modes: list[str]) -> dict[str, float]:
    """Give the most likely candidate in each question's mode; measure under ``signal``."""
    code = {"answer": 0, "hedge": K, "abstain": 2 * K}
    best = questions.best
    actions = np.array(
        [2 * K if m == "abstain" else best[i] + code[m] for i, m in enumerate(modes)]
    )
    grades = grade(questions, actions)
    behaviour = QABehaviour(signal)
    strata = np.where(questions.answerable, "answerable", "unanswerable")
    for i in range(len(questions)):
        behaviour.add(
            {
                "mode": MODES[grades["mode"][i]],
                "correct": bool(grades["correct"][i]),
                "p_star": float(grades["p_star"][i]),
                "p_chosen": float(grades["p_chosen"][i]),
                "stratum": str(strata[i]),
            }
        )
    return behaviour.metrics()


@pytest.mark.parametrize(
    "signal",
    [
        HedgingGridSignal(),
        HedgingGridSignal(hedged_wrong=-1.0),
        ConfidenceTargetSignal(t=0.5),
        BinarySignal(),
    ],
    ids=repr,
)
def test_bayes_optimal_policy_has_no_regret(signal: QASignal, questions: Questions) -> None:
    modes = [signal.optimal_mode(float(p)) for p in questions.p_star]
    metrics = play(signal, questions, modes)
    assert abs(metrics["regret"]) < 1e-9
    assert metrics["optimal_reward"] == pytest.approx(
        float(signal.optimal_rewards(questions.p_star).mean())
    )
    assert metrics["hedge_rate"] == pytest.approx(modes.count("hedge") / len(modes))


def test_bayes_optimal_policy_under_the_grid(questions: Questions) -> None:
    signal = HedgingGridSignal()
    modes = [signal.optimal_mode(float(p)) for p in questions.p_star]
    metrics = play(signal, questions, modes)
    assert metrics["t_hat"] == pytest.approx(0.8, abs=0.03)
    assert metrics["hedge_rate"] == 0.0
    # unanswerable questions have p* = 1/4 < 0.8: all declined
    assert metrics["abstain_rate_unanswerable"] == 1.0
    # the posterior is calibrated: accuracy of the answers is their mean p* (> 0.8)
    answered = questions.p_star[np.array(modes) == "answer"]
    assert metrics["accuracy_answered"] == pytest.approx(answered.mean(), abs=0.01)
    assert metrics["accuracy_answered"] > 0.8
    assert 0.0 < metrics["answer_rate"] < 1.0


def test_bayes_optimal_policy_hedges_in_the_band(questions: Questions) -> None:
    # hedged_wrong = -1: hedging is optimal for 2/3 < p < 6/7 (see test_qa_schemes); some
    # posteriors are 2/3 up to rounding, where hedging ties with abstaining and abstain wins
    signal = HedgingGridSignal(hedged_wrong=-1.0)
    modes = [signal.optimal_mode(float(p)) for p in questions.p_star]
    metrics = play(signal, questions, modes)
    p = questions.p_star
    assert metrics["hedge_rate"] == pytest.approx(np.mean((p > 2 / 3 + 1e-9) & (p < 6 / 7 - 1e-9)))
    assert metrics["hedge_rate"] > 0.02
    assert abs(metrics["regret"]) < 1e-9


def test_always_answering_under_the_grid_has_regret(questions: Questions) -> None:
    metrics = play(HedgingGridSignal(), questions, ["answer"] * len(questions))
    # optimal - answer = max(-4 + 5p, 0) - (-4 + 5p) = max(0, 4 - 5p) per question
    want = np.maximum(0.0, 4.0 - 5.0 * questions.p_star).mean()
    assert metrics["regret"] == pytest.approx(want)
    assert metrics["regret"] > 0.5
    assert metrics["t_hat"] == 0.0
    assert metrics["answer_rate"] == 1.0
    assert metrics["abstain_rate_unanswerable"] == 0.0
    assert metrics["hallucination_rate"] == pytest.approx(1.0 - metrics["accuracy_answered"])


def test_always_answering_under_binary_has_no_regret(questions: Questions) -> None:
    # binary grading rewards guessing: answering the best candidate is Bayes-optimal
    metrics = play(BinarySignal(), questions, ["answer"] * len(questions))
    assert abs(metrics["regret"]) < 1e-9
