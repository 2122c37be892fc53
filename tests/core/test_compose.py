"""Composite schemes (``incentives.compose``): a weighted sum of registered schemes' terms,
a weight that follows a schedule of the run's env steps, checked at construction.

Expected values are worked out by hand from the schemes' published payoffs (hedging grid:
+1 right, +0.5 hedged right, 0 abstain, -2 hedged wrong, -4 wrong; binary: 1 if right).
"""

from __future__ import annotations

import copy
import math
import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401 - registers incentives/QA-v0
import incentives
from incentives.compose import CompositeSignal, Mix, Schedule

ANNEALED = {"start": 1.0, "end": 0.0, "steps": 100, "shape": "linear"}


def grid_plus_binary(weight: Any = None) -> CompositeSignal:
    """2 x the hedging grid with wrong=-3, plus binary weighted by ``weight``."""
    return CompositeSignal(
        [
            {"scheme": "hedging_grid", "params": {"wrong": -3.0}, "weight": 2.0},
            {"scheme": "binary", "weight": ANNEALED if weight is None else weight},
        ]
    )


@pytest.mark.parametrize(
    ("step", "mode", "correct", "expected"),
    [
        # binary's weight: 1 - step/100, then 0
        (0, "answer", True, {"hedging_grid.correct": 2.0, "binary.correct": 1.0}),
        (40, "answer", False, {"hedging_grid.wrong": -6.0, "binary.wrong": 0.0}),
        (40, "hedge", True, {"hedging_grid.hedged_correct": 1.0, "binary.hedged_correct": 0.6}),
        (75, "hedge", False, {"hedging_grid.hedged_wrong": -4.0, "binary.hedged_wrong": 0.0}),
        (75, "answer", True, {"hedging_grid.correct": 2.0, "binary.correct": 0.25}),
        (500, "answer", True, {"hedging_grid.correct": 2.0, "binary.correct": 0.0}),
        (10, "abstain", False, {"hedging_grid.abstain": 0.0, "binary.abstain": 0.0}),
    ],
)
def test_terms_are_the_weighted_terms_of_the_parts(
    step: int, mode: str, correct: bool, expected: dict[str, float]
) -> None:
    signal = grid_plus_binary()
    signal.progress(step)
    given = signal.incentive({"mode": mode, "correct": correct})
    assert given.scheme == "mix"
    assert given.terms == pytest.approx(expected, abs=1e-12)
    assert given.reward == pytest.approx(sum(expected.values()), abs=1e-12)


def test_batch_terms_equal_the_hand_computed_sum_per_slot() -> None:
    signal = grid_plus_binary()
    signal.progress(40)  # binary weighs 0.6
    # modes as codes into ("answer", "hedge", "abstain"), as the batched QA env reports them
    mode = np.array([0, 0, 1, 1, 2, 2])
    correct = np.array([True, False, True, False, True, False])
    batch = signal.batch_incentive({"mode": mode, "correct": correct}, np.ones(6, bool))
    assert batch is not None
    grid = [2 * 1.0, 2 * -3.0, 2 * 0.5, 2 * -2.0, 0.0, 0.0]
    binary = [0.6, 0.0, 0.6, 0.0, 0.0, 0.0]
    assert batch.rewards == pytest.approx(np.add(grid, binary), abs=1e-12)
    assert batch.as_info(2)["terms"] == pytest.approx(
        {"hedging_grid.hedged_correct": 1.0, "binary.hedged_correct": 0.6}
    )


@pytest.mark.parametrize(
    ("shape", "step", "expected"),
    [
        ("linear", 0, 2.0),
        ("linear", 30, 2.0 - 1.5 * 0.3),
        ("linear", 100, 0.5),
        ("linear", 10**7, 0.5),
        ("cosine", 0, 2.0),
        ("cosine", 25, 0.5 + 1.5 * (1 + math.cos(math.pi / 4)) / 2),
        ("cosine", 50, 1.25),
        ("cosine", 100, 0.5),
        ("step", 99, 2.0),
        ("step", 100, 0.5),
    ],
)
def test_schedule_values_by_hand(shape: str, step: int, expected: float) -> None:
    assert Schedule(2.0, 0.5, 100, shape).value(step) == pytest.approx(expected, abs=1e-12)


def test_wrapper_reports_weighted_terms_and_forwards_the_clock() -> None:
    env = incentives.make(
        "mix",
        gym.make("incentives/QA-v0"),
        parts=[{"scheme": "hedging_grid"}, {"scheme": "binary", "weight": ANNEALED}],
    )
    assert isinstance(env, Mix)
    env.progress(90)
    assert env.signal.part_weights() == pytest.approx({"hedging_grid": 1.0, "binary": 0.1})
    env.reset(seed=0)
    _, reward, _, _, info = env.step(8)  # "I don't know"
    assert reward == 0.0
    assert info["incentive"]["terms"] == {"hedging_grid.abstain": 0.0, "binary.abstain": 0.0}


def test_copies_keep_the_clock_and_compare_by_parameters() -> None:
    signal = grid_plus_binary()
    signal.progress(50)
    for other in (pickle.loads(pickle.dumps(signal)), copy.deepcopy(signal)):
        assert other.part_weights() == {"hedging_grid": 2.0, "binary": 0.5}
        assert other == signal
    rebuilt = incentives.make_signal("mix", **signal.params())
    assert rebuilt == signal and rebuilt.part_weights()["binary"] == 1.0  # a new copy starts at 0


def test_decision_theory_is_the_part_left_standing() -> None:
    # the grid ends at weight 1, binary at 0: thresholds are the grid's (answer from 0.8)
    signal = CompositeSignal([{"scheme": "binary", "weight": ANNEALED}, {"scheme": "hedging_grid"}])
    assert signal.thresholds() == incentives.make_signal("hedging_grid").thresholds()
    assert signal.required_events == ("mode", "correct") and not signal.stateful


def test_a_stateful_part_makes_a_stateful_composite() -> None:
    signal = CompositeSignal(
        [{"scheme": "sparse_win"}, {"scheme": "engine_teacher", "params": {"depth": 1}}]
    )
    assert signal.stateful
    assert set(signal.required_events) == {"learner_move", "opponent_move"}
    assert "outcome" in signal.final_events
    fen = "8/8/8/8/8/2k5/8/K6Q w - - 0 1"
    signal.reset({"fen": fen})
    teacher = signal._parts[1].signal
    assert teacher._board.fen() == fen  # reset reached the part
    again = pickle.loads(pickle.dumps(signal))  # as SubprocVecEnv sends it (no engine yet)
    assert again.stateful and again._parts[1].signal._board.fen() == fen


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ([], "parts=[]"),
        ([{"scheme": "binray"}], "'binray'"),
        ([{"scheme": "hedging_grid", "params": {"wong": 1}}], "'wong'"),
        ([{"scheme": "binary", "wieght": 1}], "'wieght'"),
        ([{"scheme": "binary", "weight": "lots"}], "weight='lots'"),
        ([{"scheme": "binary", "weight": float("nan")}], "weight=nan"),
        ([{"scheme": "binary", "weight": {**ANNEALED, "steps": -5}}], "steps=-5"),
        ([{"scheme": "binary", "weight": {**ANNEALED, "shape": "exp"}}], "shape='exp'"),
        ([{"scheme": "binary", "weight": {"start": 1, "end": 0}}], "steps is missing"),
        ([{"scheme": "binary", "weight": {**ANNEALED, "stop": 1}}], "stop"),
        ([{"scheme": "binary"}, {"scheme": "binary"}], "name='binary'"),
    ],
)
def test_bad_parts_are_refused_naming_key_and_value(parts: Any, named: str) -> None:
    with pytest.raises(ValueError, match="accepted") as error:
        CompositeSignal(parts)
    assert named in str(error.value) and str(error.value).startswith("mix: ")


def test_a_mix_label_names_its_folder_and_its_group(tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir

    from incentives.analysis.runs import Run, flatten, group_runs
    from incentives.run.configs import config_dir

    with pytest.raises(ValueError, match=r"label='a b'; accepted: a name of letters"):
        CompositeSignal([{"scheme": "binary"}], label="a b")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["reward=teach_then_let_go"],
                      return_hydra_config=True)  # fmt: skip
    assert "/teach_then_let_go/" in str(cfg.hydra.run.dir)
    runs = []
    for reward in ({"name": "mix", "label": "teach_then_let_go", "parts": []},
                   {"name": "sparse_win"}):  # fmt: skip
        config = {"reward": reward, "seed": 0}
        runs.append(Run(tmp_path, {"config": config}, flatten(config)))
    assert sorted(group_runs(runs)) == ["sparse_win", "teach_then_let_go"]
