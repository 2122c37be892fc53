"""Decision theory of the QA reward schemes, checked against values derived by hand.

Every scheme's expected reward for a mode is a line in p, the probability that the answer
is right: E[mode](p) = wrong_payoff + (right_payoff - wrong_payoff) * p, and abstaining
always pays its constant. The Bayes-optimal mode is the upper envelope of those lines.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401 - registers incentives/QA-v0
import incentives
from incentives import (
    Binary,
    BinarySignal,
    ConfidenceTarget,
    ConfidenceTargetSignal,
    HedgingGrid,
    HedgingGridSignal,
)

MODES = ("answer", "hedge", "abstain")
FINE_P = np.linspace(0.0, 1.0, 10_001)


# --- the default hedging grid: +1, +0.5, 0, -2, -4 -------------------------------------
#   answer:  -4 + 5.0 p      hedge: -2 + 2.5 p      abstain: 0
# answer = abstain at 5p = 4 -> p = 0.8; hedge = abstain at 2.5p = 2 -> p = 0.8;
# answer = hedge at 2.5p = 2 -> p = 0.8. All three lines cross at p = 0.8.
GRID_EXPECTED = [
    # (mode, p, value)
    ("answer", 0.0, -4.0),
    ("answer", 0.5, -1.5),  # -4 + 2.5
    ("answer", 0.8, 0.0),
    ("answer", 0.9, 0.5),  # 0.9 - 4 * 0.1
    ("answer", 1.0, 1.0),
    ("hedge", 0.0, -2.0),
    ("hedge", 0.5, -0.75),  # 0.5 * 0.5 - 2 * 0.5
    ("hedge", 0.8, 0.0),  # 0.4 - 0.4
    ("hedge", 0.9, 0.25),  # 0.45 - 0.2
    ("hedge", 1.0, 0.5),
    ("abstain", 0.0, 0.0),
    ("abstain", 0.5, 0.0),
    ("abstain", 1.0, 0.0),
]


@pytest.mark.parametrize(("mode", "p", "value"), GRID_EXPECTED)
def test_hedging_grid_expected_reward(mode: str, p: float, value: float) -> None:
    assert HedgingGridSignal().expected_reward(mode, p) == pytest.approx(value, abs=1e-12)


def test_hedging_grid_three_lines_cross_at_0_8() -> None:
    signal = HedgingGridSignal()
    values = [signal.expected_reward(mode, 0.8) for mode in MODES]
    assert values == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)
    assert signal.thresholds() == (0.8,)


def test_hedging_grid_never_hedges() -> None:
    # Below 0.8 abstaining (0) beats both negative lines; above it answering's steeper line
    # wins; at 0.8 the tie goes to abstain. So hedging is never strictly optimal.
    signal = HedgingGridSignal()
    chosen = [signal.optimal_mode(float(p)) for p in FINE_P]
    assert "hedge" not in chosen
    assert set(chosen) == {"abstain", "answer"}
    for p, mode in zip(FINE_P, chosen, strict=True):
        assert mode == ("answer" if p > 0.8 + 1e-9 else "abstain"), p


@pytest.mark.parametrize(
    ("p", "mode"),
    [
        (0.0, "abstain"),
        (0.5, "abstain"),
        (0.79, "abstain"),
        (0.8, "abstain"),
        (0.81, "answer"),
        (1.0, "answer"),
    ],
)
def test_hedging_grid_optimal_mode(p: float, mode: str) -> None:
    assert HedgingGridSignal().optimal_mode(p) == mode


def test_hedging_grid_with_milder_hedge_penalty_has_a_hedging_band() -> None:
    # hedged_wrong = -1:  hedge: -1 + 1.5 p
    # hedge = abstain at 1.5p = 1 -> p = 2/3; answer = hedge at -4 + 5p = -1 + 1.5p
    # -> 3.5p = 3 -> p = 6/7. Hedge is optimal strictly between them.
    signal = HedgingGridSignal(hedged_wrong=-1.0)
    assert signal.expected_reward("hedge", 0.75) == pytest.approx(0.125)  # -1 + 1.125
    lo, hi = signal.thresholds()
    assert lo == pytest.approx(2 / 3, abs=1e-9)
    assert hi == pytest.approx(6 / 7, abs=1e-9)
    for p in FINE_P:
        expected = "abstain" if p <= 2 / 3 + 1e-9 else "hedge" if p < 6 / 7 - 1e-9 else "answer"
        if abs(p - 6 / 7) > 1e-9:
            assert signal.optimal_mode(float(p)) == expected, p
    # at p = 6/7 answer and hedge tie; the tie goes to answer
    assert signal.optimal_mode(6 / 7) == "answer"


# --- the confidence target: +1 right, -t/(1-t) wrong, 0 abstain -------------------------
#   answer: -t/(1-t) + (1 + t/(1-t)) p = (p - t) / (1 - t): positive iff p > t.
@pytest.mark.parametrize("t", [0.0, 0.5, 0.75, 0.9])
def test_confidence_target_answers_iff_p_above_t(t: float) -> None:
    signal = ConfidenceTargetSignal(t=t)
    for p in FINE_P:
        if abs(p - t) < 1e-9:
            continue
        assert signal.optimal_mode(float(p)) == ("answer" if p > t else "abstain"), (t, p)
        assert signal.expected_reward("answer", float(p)) == pytest.approx(
            (p - t) / (1 - t), abs=1e-9
        )
    assert signal.optimal_mode(t) == "abstain"  # the tie at p = t goes to abstain
    assert signal.optimal_mode(min(t + 1e-6, 1.0)) == "answer"
    # a threshold inside (0, 1) only when t > 0; at t = 0 answering always pays
    assert signal.thresholds() == (() if t == 0.0 else (pytest.approx(t, abs=1e-9),))


@pytest.mark.parametrize(("t", "wrong"), [(0.0, 0.0), (0.5, -1.0), (0.75, -3.0), (0.9, -9.0)])
def test_confidence_target_payoffs(t: float, wrong: float) -> None:
    signal = ConfidenceTargetSignal(t=t)
    assert signal.payoff("answer", True) == 1.0
    assert signal.payoff("answer", False) == pytest.approx(wrong)
    # a hedged answer scores as an answer; "I don't know" scores 0
    assert signal.payoff("hedge", True) == 1.0
    assert signal.payoff("hedge", False) == pytest.approx(wrong)
    assert signal.payoff("abstain", True) == signal.payoff("abstain", False) == 0.0
    for p in (0.1, 0.5, 0.95):
        assert signal.expected_reward("hedge", p) == signal.expected_reward("answer", p)
        # answer and hedge tie everywhere; the tie goes to answer
        assert signal.optimal_mode(p) != "hedge"


def test_confidence_target_default_is_0_75() -> None:
    assert ConfidenceTargetSignal().t == 0.75
    assert ConfidenceTargetSignal().thresholds() == (0.75,)


# --- binary grading: 1 if right, 0 otherwise ---------------------------------------------
def test_binary_never_abstains_when_p_positive() -> None:
    # answer: p, hedge: p, abstain: 0. For p > 0 answering pays more than abstaining.
    signal = BinarySignal()
    assert all(signal.optimal_mode(float(p)) == "answer" for p in FINE_P[1:])
    assert signal.optimal_mode(0.0) == "abstain"  # 0 = 0, tie to abstain
    assert signal.expected_reward("answer", 0.3) == pytest.approx(0.3)
    assert signal.expected_reward("hedge", 0.3) == pytest.approx(0.3)
    assert signal.expected_reward("abstain", 0.3) == 0.0
    assert signal.thresholds() == ()


@pytest.mark.parametrize(
    ("mode", "correct", "payoff"),
    [
        ("answer", True, 1.0),
        ("answer", False, 0.0),
        ("hedge", True, 1.0),
        ("hedge", False, 0.0),
        ("abstain", True, 0.0),
        ("abstain", False, 0.0),
    ],
)
def test_binary_payoffs(mode: str, correct: bool, payoff: float) -> None:
    assert BinarySignal().payoff(mode, correct) == payoff


# --- shared behaviour ------------------------------------------------------------------
SIGNALS = [
    HedgingGridSignal(),
    HedgingGridSignal(hedged_wrong=-1.0),
    HedgingGridSignal(correct=2.0, hedged_correct=1.0, abstain=0.3, hedged_wrong=-0.5),
    ConfidenceTargetSignal(t=0.6),
    BinarySignal(),
]


@pytest.mark.parametrize("signal", SIGNALS, ids=repr)
def test_optimal_rewards_is_max_over_modes(signal: Any) -> None:
    p = np.linspace(0.0, 1.0, 257)
    got = signal.optimal_rewards(p)
    assert got.shape == p.shape
    want = [max(signal.expected_reward(mode, float(q)) for mode in MODES) for q in p]
    np.testing.assert_allclose(got, want, atol=1e-12)
    # and the optimal mode's own expected reward reaches that maximum
    chosen = [signal.expected_reward(signal.optimal_mode(float(q)), float(q)) for q in p]
    np.testing.assert_allclose(chosen, want, atol=1e-9)
    # a scalar p gives a scalar
    assert float(signal.optimal_rewards(0.9)) == pytest.approx(
        max(signal.expected_reward(mode, 0.9) for mode in MODES), abs=1e-12
    )


def test_optimal_rewards_hand_values() -> None:
    # default grid: max(-4 + 5p, -2 + 2.5p, 0)
    got = HedgingGridSignal().optimal_rewards([0.25, 0.8, 0.9, 1.0])
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 1.0], atol=1e-12)


def test_tie_order_at_the_crossing() -> None:
    assert HedgingGridSignal().optimal_mode(0.8) == "abstain"
    # a grid where answering and hedging tie above the abstain line: answer wins the tie
    same = HedgingGridSignal(hedged_correct=1.0, hedged_wrong=-4.0)
    assert same.optimal_mode(0.95) == "answer"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'guess'"):
        HedgingGridSignal().expected_reward("guess", 0.5)


def test_theory_lists_thresholds_and_payoffs() -> None:
    theory = HedgingGridSignal().theory()
    assert theory["thresholds"] == [0.8]
    assert theory["payoffs"] == {
        "correct": 1.0,
        "wrong": -4.0,
        "hedged_correct": 0.5,
        "hedged_wrong": -2.0,
        "abstain": 0.0,
    }


# --- parameter validation ----------------------------------------------------------------
BAD_PARAMS = [
    # (scheme, params, words the message must contain)
    ("hedging_grid", {"correct": math.nan}, ["correct", "nan"]),
    ("hedging_grid", {"wrong": -math.inf}, ["wrong", "-inf"]),
    ("hedging_grid", {"hedged_wrong": math.inf}, ["hedged_wrong", "inf"]),
    ("hedging_grid", {"abstain": "zero"}, ["abstain", "'zero'"]),
    ("hedging_grid", {"correct": True}, ["correct", "True"]),
    ("hedging_grid", {"hedged_correct": None}, ["hedged_correct", "None"]),
    ("hedging_grid", {"correct": -5.0}, ["correct=-5.0", "wrong=-4.0"]),
    ("hedging_grid", {"correct": -4.0}, ["correct=-4.0", "wrong=-4.0"]),
    ("hedging_grid", {"hedged_correct": -3.0}, ["hedged_correct=-3.0", "hedged_wrong=-2.0"]),
    ("hedging_grid", {"hedged_wrong": 0.5}, ["hedged_correct=0.5", "hedged_wrong=0.5"]),
    ("hedging_grid", {"bogus": 1.0}, ["bogus", "accepted", "hedged_wrong"]),
    ("confidence_target", {"t": 1}, ["t=1", "0 <= t < 1"]),
    ("confidence_target", {"t": 1.5}, ["t=1.5"]),
    ("confidence_target", {"t": -0.1}, ["t=-0.1"]),
    ("confidence_target", {"t": math.nan}, ["t=nan"]),
    ("confidence_target", {"t": "0.5"}, ["t='0.5'"]),
    ("confidence_target", {"t": False}, ["t=False"]),
    ("confidence_target", {"target": 0.5}, ["'target'", "accepted: t"]),
    ("binary", {"t": 0.5}, ["'t'", "accepted: none"]),
]


def _ids(case: tuple[str, dict[str, Any], list[str]]) -> str:
    return f"{case[0]}-{case[1]!r}"


@pytest.mark.parametrize("case", BAD_PARAMS, ids=[_ids(c) for c in BAD_PARAMS])
def test_bad_parameters_via_make_signal(case: tuple[str, dict[str, Any], list[str]]) -> None:
    name, params, words = case
    with pytest.raises(ValueError) as excinfo:
        incentives.make_signal(name, **params)
    message = str(excinfo.value)
    assert name in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("case", BAD_PARAMS, ids=[_ids(c) for c in BAD_PARAMS])
def test_bad_parameters_via_wrapper(case: tuple[str, dict[str, Any], list[str]]) -> None:
    name, params, words = case
    wrapper = {
        "hedging_grid": HedgingGrid,
        "confidence_target": ConfidenceTarget,
        "binary": Binary,
    }[name]
    env = gym.make("incentives/QA-v0")
    for build in (lambda: wrapper(env, **params), lambda: incentives.make(name, env, **params)):
        with pytest.raises(ValueError) as excinfo:
            build()
        for word in words:
            assert word in str(excinfo.value), str(excinfo.value)


@pytest.mark.parametrize("build", ["make", "make_signal"])
def test_unknown_scheme_name_lists_accepted(build: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        if build == "make":
            incentives.make("hedging", gym.make("incentives/QA-v0"))
        else:
            incentives.make_signal("hedging")
    message = str(excinfo.value)
    assert "'hedging'" in message
    for name in ("binary", "confidence_target", "hedging_grid"):
        assert name in message


def test_valid_parameters_are_kept_as_floats() -> None:
    with pytest.warns(UserWarning, match="hedged_wrong=-2.0 < wrong=-1.0"):
        signal = incentives.make_signal("hedging_grid", correct=2, wrong=-1)
    assert isinstance(signal, HedgingGridSignal)
    assert signal.params() == {
        "correct": 2.0,
        "hedged_correct": 0.5,
        "abstain": 0.0,
        "hedged_wrong": -2.0,
        "wrong": -1.0,
    }
    assert isinstance(signal.correct, float)
    assert incentives.make_signal("confidence_target", t=0).params() == {"t": 0.0}


# --- registry and wrappers ---------------------------------------------------------------
def test_schemes_lists_the_qa_schemes_with_statements() -> None:
    listed = incentives.schemes()
    assert {"binary", "confidence_target", "hedging_grid"} <= set(listed)
    assert list(listed) == sorted(listed)
    for statement in listed.values():
        assert isinstance(statement, str)
        assert statement.strip()


def test_scheme_type_and_make_signal_agree() -> None:
    assert incentives.scheme_type("hedging_grid") is HedgingGrid
    assert incentives.scheme_type("binary") is Binary
    assert incentives.scheme_type("confidence_target") is ConfidenceTarget
    assert type(incentives.make_signal("binary")) is BinarySignal


@pytest.mark.parametrize(
    ("wrapper", "params", "signal"),
    [
        (HedgingGrid, {}, HedgingGridSignal()),
        (HedgingGrid, {"hedged_wrong": -1.0}, HedgingGridSignal(hedged_wrong=-1.0)),
        (ConfidenceTarget, {"t": 0.9}, ConfidenceTargetSignal(t=0.9)),
        (Binary, {}, BinarySignal()),
    ],
    ids=["grid", "grid-mild", "target-0.9", "binary"],
)
def test_wrappers_expose_the_decision_theory(
    wrapper: Any, params: dict[str, Any], signal: Any
) -> None:
    env = wrapper(gym.make("incentives/QA-v0"), **params)
    assert env.signal == signal
    assert env.thresholds() == signal.thresholds()
    for p in (0.1, 0.5, 0.7, 0.8, 0.85, 0.95):
        assert env.optimal_mode(p) == signal.optimal_mode(p)
        for mode in MODES:
            assert env.expected_reward(mode, p) == signal.expected_reward(mode, p)


def test_wrapper_theory_hand_values() -> None:
    env = HedgingGrid(gym.make("incentives/QA-v0"), hedged_wrong=-1.0)
    assert env.optimal_mode(0.75) == "hedge"
    assert env.expected_reward("answer", 0.9) == pytest.approx(0.5)
    assert incentives.make(
        "confidence_target", gym.make("incentives/QA-v0"), t=0.9
    ).thresholds() == (0.9,)


@pytest.mark.parametrize(
    ("params", "unusual"),
    [
        ({"hedged_correct": 1.5}, "a right answer pays more hedged than stated"),
        ({"hedged_wrong": -5.0}, "a wrong answer costs more hedged than stated"),
        ({"wrong": 0.0, "hedged_wrong": 0.0}, "guessing never loses"),
    ],
)
def test_unusual_grids_warn_but_build(params: dict[str, float], unusual: str) -> None:
    with pytest.warns(UserWarning, match=unusual):
        signal = HedgingGridSignal(**params)
    assert signal.params()[next(iter(params))] == next(iter(params.values()))


def test_the_talks_grid_is_not_unusual() -> None:
    assert HedgingGridSignal().oddities() == []
