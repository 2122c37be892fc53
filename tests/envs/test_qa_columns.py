"""The batched QA env's columns against its dicts, and the layers that read the columns.

Expected values come from the dict path (the per-slot dicts the env built before issue
20, the per-dict scheme, ``VecMonitor``, ``QABehaviour.add``) and from the grid's cells
written out by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecMonitor

from agents.callbacks import EpisodeTally
from envs.qa import MODES, QAVecEnv
from envs.qa.columns import EventInfos
from incentives import BinarySignal, ConfidenceTargetSignal, HedgingGridSignal
from incentives.domains.qa.behaviour import QABehaviour
from incentives.signal import ExplicitSignal
from incentives.vec_scheme import VecRewardScheme, VecTaskMonitor

N = 32
#: The hedging grid's cells, by hand: (mode, correct) -> (term, reward)
GRID = {
    ("answer", True): ("correct", 1.0),
    ("answer", False): ("wrong", -4.0),
    ("hedge", True): ("hedged_correct", 0.5),
    ("hedge", False): ("hedged_wrong", -2.0),
    ("abstain", True): ("abstain", 0.0),
    ("abstain", False): ("abstain", 0.0),
}


def actions(steps: int) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 9, size=(steps, N))


def step_both(signal: ExplicitSignal, steps: int = 4) -> list[tuple[Any, Any]]:
    """The same questions and actions through the columnar and the dict path."""
    columnar = VecRewardScheme(VecTaskMonitor(QAVecEnv(N)), signal)
    dicts = VecRewardScheme(VecMonitor(_Dicts(QAVecEnv(N))), signal)
    out = []
    for venv in (columnar, dicts):
        venv.seed(7)
        venv.reset()
    for row in actions(steps):
        out.append((columnar.step(row), dicts.step(row)))
    return out


class _Dicts:
    """The batched env with its infos turned into a list of dicts (as before columns)."""

    def __init__(self, venv: QAVecEnv) -> None:
        self.venv = venv

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venv, name)

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, rewards, dones, [dict(info) for info in infos]


@pytest.mark.parametrize("signal", [HedgingGridSignal(), BinarySignal(), ConfidenceTargetSignal()])
def test_columns_give_what_the_dicts_give(signal: ExplicitSignal) -> None:
    for (obs_c, rew_c, done_c, infos_c), (obs_d, rew_d, done_d, infos_d) in step_both(signal):
        np.testing.assert_array_equal(obs_c, obs_d)
        np.testing.assert_array_equal(rew_c, rew_d)
        assert rew_c.dtype == rew_d.dtype == np.float32
        np.testing.assert_array_equal(done_c, done_d)
        assert isinstance(infos_c, EventInfos)
        for c, d in zip(infos_c, infos_d, strict=True):
            assert c.keys() == d.keys()
            np.testing.assert_array_equal(
                c.pop("terminal_observation"), d.pop("terminal_observation")
            )
            c_episode, d_episode = c.pop("episode"), d.pop("episode")
            assert (c_episode["r"], c_episode["l"]) == (d_episode["r"], d_episode["l"])
            assert c == d


def test_grid_cells_by_hand_in_both_forms() -> None:
    signal = HedgingGridSignal()
    codes = {mode: code for code, mode in enumerate(MODES)}
    cells = list(GRID)
    columns = {
        "mode": np.array([codes[m] for m, _ in cells], dtype=np.int8),
        "correct": np.array([c for _, c in cells]),
    }
    batch = signal.batch_incentive(columns, np.ones(len(cells), dtype=bool))
    assert batch is not None
    for i, (mode, correct) in enumerate(cells):
        name, value = GRID[mode, correct]
        assert signal.terms({"mode": mode, "correct": correct}) == {name: value}
        assert batch.rewards[i] == value
        assert batch.as_info(i) == {
            "scheme": "hedging_grid",
            "reward": value,
            "terms": {name: value},
        }
    # mode words in a column work too; a mode outside the vocabulary is refused by name
    words = {**columns, "mode": np.array([m for m, _ in cells])}
    np.testing.assert_array_equal(
        signal.batch_incentive(words, np.ones(6, bool)).rewards, batch.rewards
    )  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="mode='maybe'"):
        signal.batch_terms({"mode": np.array(["maybe"]), "correct": np.array([True])})
    with pytest.raises(ValueError, match="mode code 7"):
        signal.batch_terms({"mode": np.array([7]), "correct": np.array([True])})


def test_a_missing_column_is_named() -> None:
    venv = VecRewardScheme(VecTaskMonitor(QAVecEnv(4)), HedgingGridSignal())
    venv.reset()
    inner = venv.venv.venv
    real = inner.step_wait

    def without_correct() -> Any:
        obs, rewards, dones, infos = real()
        del infos.columns["correct"]
        return obs, rewards, dones, infos

    inner.step_wait = without_correct  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="needs the event 'correct'"):
        venv.step(np.zeros(4, dtype=int))


@dataclass(frozen=True)
class PerEpisodeOnly(ExplicitSignal):
    """A plugin's signal with only the per-episode form: +2 for any answer that is right."""

    name: ClassVar[str] = "per_episode_only"
    statement: ClassVar[str] = "2 if right"
    required_events: ClassVar[tuple[str, ...]] = ("correct",)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        return {"right": 2.0 if events["correct"] else 0.0}


def test_a_signal_without_a_batch_form_takes_the_slow_path_with_one_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="incentives.vec_scheme"):
        steps = step_both(PerEpisodeOnly(), steps=3)
    notes = [r.getMessage() for r in caplog.records if "slow path" in r.getMessage()]
    assert len(notes) == 1 and "per_episode_only" in notes[0]
    for (_, rew_c, _, infos_c), (_, rew_d, _, _) in steps:
        np.testing.assert_array_equal(rew_c, rew_d)
        expected = [2.0 if info["correct"] else 0.0 for info in infos_c]
        assert rew_c.tolist() == expected


def test_tally_and_behaviour_read_columns_as_they_read_dicts() -> None:
    signal = HedgingGridSignal()
    tallies = [EpisodeTally(N), EpisodeTally(N)]
    behaviours = [QABehaviour(signal), QABehaviour(signal)]
    rng = np.random.default_rng(1)
    for pair in step_both(signal, steps=6):
        keep = rng.random(N) < 0.7  # as evaluate() closes only some episodes
        for (_, rewards, _, infos), tally, behaviour in zip(pair, tallies, behaviours, strict=True):
            tally.step(rewards, keep, infos, behaviour)
    # the columnar tally built no dict: its infos were never indexed
    assert tallies[0].summary() == pytest.approx(tallies[1].summary())
    assert tallies[0].task_scores == tallies[1].task_scores
    assert behaviours[0].metrics() == pytest.approx(behaviours[1].metrics(), nan_ok=True)
    assert len(behaviours[0]) == len(behaviours[1]) == tallies[0].episodes


def test_event_infos_build_dicts_only_when_asked() -> None:
    venv = VecRewardScheme(VecTaskMonitor(QAVecEnv(4)), HedgingGridSignal())
    venv.seed(0)
    venv.reset()
    _, rewards, _, infos = venv.step(np.full(4, 8))  # "I don't know" everywhere
    assert infos._rows is None  # nothing built yet
    assert infos.derived["incentive"].rewards.tolist() == [0.0] * 4
    assert infos.columns["mode"].tolist() == [2] * 4
    first = infos[0]
    assert first["mode"] == "abstain" and first["incentive"]["terms"] == {"abstain": 0.0}
    first["mine"] = 1
    assert infos[0]["mine"] == 1  # the same dict each time
    assert len(list(infos)) == 4 and rewards.tolist() == [0.0] * 4
