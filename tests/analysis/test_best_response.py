"""The closed-form incentive analysis against values computed by hand."""

from __future__ import annotations

import pytest

from incentives.analysis.best_response import analyze_outcomes

ORDER = ("abstain", "answer", "hedge")


def test_talk_grid_by_hand() -> None:
    # E[answer] = -4 + 5p, E[hedge] = -2 + 2.5p, E[abstain] = 0: all three cross at
    # p = 0.8 (5p = 4, 2.5p = 2, 2.5p = 2); below it abstain wins, above it answer.
    grid = analyze_outcomes(
        {"answer": (-4.0, 1.0), "hedge": (-2.0, 0.5), "abstain": (0.0, 0.0)}, ORDER
    )
    assert grid.thresholds == pytest.approx((0.8,))
    assert [(lo, hi, best) for lo, hi, best in grid.regions] == [
        (0.0, pytest.approx(0.8), "abstain"),
        (pytest.approx(0.8), 1.0, "answer"),
    ]
    (p, tied), *_ = grid.tie_points
    assert p == pytest.approx(0.8) and set(tied) == {"abstain", "answer", "hedge"}
    # hedging is never strictly optimal: it pays exactly half of answering
    assert grid.never_strictly_optimal == ("hedge",)
    assert grid.proportional == (("hedge", "answer", 0.5),)
    assert grid.strictly_dominated == ()
    assert grid.expected("hedge", 0.9) == pytest.approx(0.5 * grid.expected("answer", 0.9))
    # variance (right - wrong)^2 p (1 - p): answer 25 * 0.16 = 4, hedge 6.25 * 0.16 = 1
    assert grid.variance("answer", 0.8) == pytest.approx(4.0)
    assert grid.variance("hedge", 0.8) == pytest.approx(1.0)
    assert grid.variance("abstain", 0.8) == 0.0
    assert [row["best"] for row in grid.curve([0.5, 0.9])] == ["abstain", "answer"]


def test_softer_hedge_penalty_makes_hedging_pay_in_a_band() -> None:
    # hedged_wrong = -1: E[hedge] = -1 + 1.5p crosses 0 at 2/3 and -4 + 5p at 3/3.5 = 6/7
    grid = analyze_outcomes(
        {"answer": (-4.0, 1.0), "hedge": (-1.0, 0.5), "abstain": (0.0, 0.0)}, ORDER
    )
    assert grid.thresholds == pytest.approx((2 / 3, 6 / 7))
    assert [best for *_, best in grid.regions] == ["abstain", "hedge", "answer"]
    assert grid.never_strictly_optimal == ()
    assert grid.proportional == ()


def test_binary_grading_never_pays_abstaining() -> None:
    # answer and hedge both pay p, abstain 0: they tie everywhere, abstain only at p = 0
    binary = analyze_outcomes(
        {"abstain": (0.0, 0.0), "answer": (0.0, 1.0), "hedge": (0.0, 1.0)}, ORDER
    )
    assert binary.thresholds == ()
    assert binary.tie_intervals == ((0.0, 1.0, ("answer", "hedge")),)
    assert set(binary.never_strictly_optimal) == {"abstain", "answer", "hedge"}
    assert set(binary.weakly_dominated) == {("abstain", "answer"), ("abstain", "hedge")}
    assert binary.best(0.3) == "answer"


def test_confidence_target_and_strict_dominance() -> None:
    # t = 0.9: wrong costs 9; answering pays iff p > 0.9
    target = analyze_outcomes({"abstain": (0.0, 0.0), "answer": (-9.0, 1.0)}, ORDER[:2])
    assert target.thresholds == pytest.approx((0.9,))
    # a "shout" that pays 1 less than answering in every outcome is strictly dominated
    shout = analyze_outcomes({"answer": (-1.0, 1.0), "shout": (-2.0, 0.0)})
    assert shout.strictly_dominated == (("shout", "answer"),)


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="two or more actions"):
        analyze_outcomes({"answer": (0.0, 1.0)})
    with pytest.raises(ValueError, match="tie_order"):
        analyze_outcomes({"a": (0.0, 1.0), "b": (0.0, 0.0)}, ("a", "c"))
