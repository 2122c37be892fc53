"""The scheme wrappers: the explicit signal replaces the task score, which stays recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import RecordEpisodeStatistics
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

import envs  # noqa: F401 - registers incentives/QA-v0
import incentives
from envs.qa import QAVecEnv, encode_action
from incentives import (
    Binary,
    BinarySignal,
    ConfidenceTarget,
    ConfidenceTargetSignal,
    HedgingGrid,
    HedgingGridSignal,
    MissingEventError,
    VecRewardScheme,
)

TASK_SCORE = 0.123  # a reward no scheme pays, so a leak of it would show


class ScriptedEnv(gym.Env[np.ndarray, np.int64]):
    """An env that reports scripted events, one dict per step, and pays ``TASK_SCORE``."""

    def __init__(self, events: Sequence[dict[str, Any]]) -> None:
        self.events = [dict(e) for e in events]
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        info = dict(self.events[self.t])
        self.t += 1
        done = self.t == len(self.events)
        return np.zeros(1, dtype=np.float32), TASK_SCORE, done, False, info


# (scheme, params, mode, correct, reward, term): the grid cell an answer falls in
CELLS = [
    ("hedging_grid", {}, "answer", True, 1.0, "correct"),
    ("hedging_grid", {}, "answer", False, -4.0, "wrong"),
    ("hedging_grid", {}, "hedge", True, 0.5, "hedged_correct"),
    ("hedging_grid", {}, "hedge", False, -2.0, "hedged_wrong"),
    ("hedging_grid", {}, "abstain", False, 0.0, "abstain"),
    ("hedging_grid", {"abstain": -0.25}, "abstain", False, -0.25, "abstain"),
    ("hedging_grid", {"wrong": -3.0}, "answer", False, -3.0, "wrong"),
    ("confidence_target", {"t": 0.75}, "answer", False, -3.0, "wrong"),  # -0.75 / 0.25
    ("confidence_target", {"t": 0.75}, "hedge", False, -3.0, "hedged_wrong"),
    ("confidence_target", {"t": 0.75}, "hedge", True, 1.0, "hedged_correct"),
    ("confidence_target", {"t": 0.5}, "abstain", False, 0.0, "abstain"),
    ("binary", {}, "answer", True, 1.0, "correct"),
    ("binary", {}, "hedge", True, 1.0, "hedged_correct"),
    ("binary", {}, "answer", False, 0.0, "wrong"),
    ("binary", {}, "abstain", False, 0.0, "abstain"),
]


@pytest.mark.parametrize(("scheme", "params", "mode", "correct", "reward", "term"), CELLS)
@pytest.mark.parametrize("monitor", ["gymnasium", "sb3"])
def test_reward_is_the_scheme_and_task_score_stays_recorded(
    scheme: str,
    params: dict[str, Any],
    mode: str,
    correct: bool,
    reward: float,
    term: str,
    monitor: str,
) -> None:
    inner = ScriptedEnv([{"mode": mode, "correct": correct, "other": "kept"}])
    recorded = RecordEpisodeStatistics(inner) if monitor == "gymnasium" else Monitor(inner)
    env = incentives.make(scheme, recorded, **params)
    env.reset(seed=0)
    _, got, terminated, truncated, info = env.step(0)
    assert got == pytest.approx(reward)
    assert got != pytest.approx(TASK_SCORE)
    assert (terminated, truncated) == (True, False)
    assert info["incentive"] == {
        "scheme": scheme,
        "reward": pytest.approx(reward),
        "terms": {term: pytest.approx(reward)},
    }
    # the env's events are left as they were
    assert (info["mode"], info["correct"], info["other"]) == (mode, correct, "kept")
    # the innermost monitor saw the task score, not the scheme's reward
    assert info["episode"]["r"] == pytest.approx(TASK_SCORE)
    assert info["episode"]["l"] == 1


def test_multi_step_episode_terms_per_step() -> None:
    events = [
        {"mode": "hedge", "correct": False},
        {"mode": "answer", "correct": True},
        {"mode": "abstain", "correct": False},
    ]
    env = HedgingGrid(RecordEpisodeStatistics(ScriptedEnv(events)))
    env.reset(seed=0)
    rewards, terms = [], []
    for _ in events:
        _, reward, terminated, _, info = env.step(0)
        rewards.append(reward)
        terms.append(info["incentive"]["terms"])
    assert rewards == [-2.0, 1.0, 0.0]
    assert terms == [{"hedged_wrong": -2.0}, {"correct": 1.0}, {"abstain": 0.0}]
    assert terminated
    assert info["episode"]["r"] == pytest.approx(3 * TASK_SCORE)
    assert info["episode"]["l"] == 3


@pytest.mark.parametrize(
    ("events", "missing"),
    [({"correct": True}, "mode"), ({"mode": "answer"}, "correct"), ({}, "mode")],
)
def test_missing_event_is_named(events: dict[str, Any], missing: str) -> None:
    env = HedgingGrid(ScriptedEnv([events]))
    env.reset(seed=0)
    with pytest.raises(MissingEventError) as excinfo:
        env.step(0)
    assert isinstance(excinfo.value, ValueError)
    assert f"'{missing}'" in str(excinfo.value)
    assert "hedging_grid" in str(excinfo.value)


def test_missing_event_in_a_vec_env_is_named() -> None:
    venv = VecRewardScheme(
        DummyVecEnv([lambda: ScriptedEnv([{"correct": True}])]), HedgingGridSignal()
    )
    venv.reset()
    with pytest.raises(MissingEventError, match="'mode'"):
        venv.step(np.zeros(1, dtype=np.int64))


def test_unknown_mode_event_is_refused() -> None:
    env = HedgingGrid(ScriptedEnv([{"mode": "guess", "correct": True}]))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="'guess'"):
        env.step(0)


@pytest.mark.parametrize(
    ("name", "wrapper", "params", "signal"),
    [
        ("hedging_grid", HedgingGrid, {"wrong": -3.0}, HedgingGridSignal(wrong=-3.0)),
        ("confidence_target", ConfidenceTarget, {"t": 0.9}, ConfidenceTargetSignal(t=0.9)),
        ("binary", Binary, {}, BinarySignal()),
    ],
)
def test_make_on_a_gymnasium_env_gives_the_wrapper(
    name: str, wrapper: type, params: dict[str, Any], signal: Any
) -> None:
    env = incentives.make(name, ScriptedEnv([{"mode": "answer", "correct": True}]), **params)
    assert type(env) is wrapper
    assert env.signal == signal


def test_wrapper_spec_records_its_parameters() -> None:
    env = HedgingGrid(gym.make("incentives/QA-v0"), wrong=-3.0)
    assert env.spec is not None
    assert env.spec.additional_wrappers[-1].kwargs == {"wrong": -3.0}


def test_use_signal_switches_the_reward() -> None:
    env = HedgingGrid(ScriptedEnv([{"mode": "answer", "correct": False}] * 2))
    env.reset(seed=0)
    assert env.step(0)[1] == -4.0
    env.use_signal(BinarySignal())
    _, reward, _, _, info = env.step(0)
    assert reward == 0.0
    assert info["incentive"]["scheme"] == "binary"
    assert env.thresholds() == ()


def _vec(n_envs: int, seed: int = 0) -> VecMonitor:
    """The batched QA env, seeded, with a monitor of its task score."""
    batched = QAVecEnv(n_envs)
    batched.seed(seed)
    return VecMonitor(batched)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("hedging_grid", {}),
        ("hedging_grid", {"hedged_wrong": -1.0}),
        ("confidence_target", {"t": 0.6}),
        ("binary", {}),
    ],
)
def test_make_on_a_vec_env_rewards_the_events(name: str, params: dict[str, Any]) -> None:
    monitored = _vec(8)
    venv = incentives.make(name, monitored, **params)
    assert isinstance(venv, VecRewardScheme)
    signal = incentives.make_signal(name, **params)
    assert venv.signal == signal
    venv.reset()
    rng = np.random.default_rng(1)
    seen: set[tuple[str, bool]] = set()
    for _ in range(25):
        actions = rng.integers(0, 9, size=8)
        _, rewards, dones, infos = venv.step(actions)
        assert rewards.shape == (8,)
        assert dones.all()
        for reward, info in zip(rewards, infos, strict=True):
            want = signal.payoff(info["mode"], info["correct"])
            assert reward == pytest.approx(want, abs=1e-6)
            assert info["incentive"]["reward"] == pytest.approx(want)
            assert info["incentive"]["scheme"] == name
            # the VecMonitor inside recorded the task score: 1 if right, else 0
            assert info["episode"]["r"] == (1.0 if info["correct"] else 0.0)
            seen.add((info["mode"], info["correct"]))
    # the random actions reached every cell of the grid
    assert seen >= {
        ("answer", True),
        ("answer", False),
        ("hedge", True),
        ("hedge", False),
        ("abstain", False),
    }


def test_vec_use_signal_switches_the_reward() -> None:
    monitored = _vec(8)
    venv = incentives.make("hedging_grid", monitored)
    venv.reset()
    answer_first = np.zeros(8, dtype=np.int64)
    _, rewards, _, infos = venv.step(answer_first)
    np.testing.assert_allclose(rewards, [1.0 if i["correct"] else -4.0 for i in infos])
    venv.use_signal(BinarySignal())
    _, rewards, _, infos = venv.step(answer_first)
    np.testing.assert_allclose(rewards, [1.0 if i["correct"] else 0.0 for i in infos])
    assert {i["incentive"]["scheme"] for i in infos} == {"binary"}


def test_real_qa_env_through_gymnasium_make() -> None:
    env = HedgingGrid(RecordEpisodeStatistics(gym.make("incentives/QA-v0")))
    assert env.action_space == spaces.Discrete(9)
    outcomes: dict[str, set[float]] = {"answer": set(), "hedge": set(), "abstain": set()}
    for seed in range(40):
        env.reset(seed=seed)
        question = env.unwrapped.question
        mode = ("answer", "hedge", "abstain")[seed % 3]
        # alternate the most and the least likely candidate so both right and wrong occur
        answer = int(question.best[0] if seed % 2 else question.posterior[0].argmin())
        action = encode_action(mode, answer, 4)
        if mode == "abstain":
            assert action == 8
        _, reward, terminated, _, info = env.step(action)
        assert terminated
        assert info["mode"] == mode
        cell = {
            ("answer", True): 1.0,
            ("answer", False): -4.0,
            ("hedge", True): 0.5,
            ("hedge", False): -2.0,
        }
        want = 0.0 if mode == "abstain" else cell[(mode, info["correct"])]
        assert reward == want
        assert info["episode"]["r"] == (1.0 if info["correct"] else 0.0)
        outcomes[mode].add(reward)
    assert outcomes == {"answer": {1.0, -4.0}, "hedge": {0.5, -2.0}, "abstain": {0.0}}


def _task_score_recorded(stats_key: str = "task_score") -> gym.Env[Any, Any]:
    """The README's pattern: the task score recorded inside the scheme, under its own key."""
    inner = RecordEpisodeStatistics(gym.make("incentives/QA-v0"), stats_key=stats_key)
    return HedgingGrid(inner)


def test_task_score_recorder_lives_with_a_trainers_outer_recorder() -> None:
    """A trainer's own RecordEpisodeStatistics outside (CleanRL's) sees the explicit
    return; ours inside keeps the task score: each equals what the env reported."""
    env = RecordEpisodeStatistics(_task_score_recorded())
    env.reset(seed=0)
    for action in (0, 3, 8, 1, 4, 8):
        _, reward, terminated, _, info = env.step(action)
        assert terminated  # one question per episode
        assert info["episode"]["r"] == reward == info["incentive"]["reward"]
        assert info["task_score"]["r"] == float(info["correct"] and info["mode"] != "abstain")
        env.reset()


def test_task_score_recorder_lives_with_a_vector_recorder() -> None:
    """The same under Gymnasium's vector env and its vector RecordEpisodeStatistics."""
    from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecord

    venv = VectorRecord(gym.vector.SyncVectorEnv([_task_score_recorded] * 3))
    venv.reset(seed=0)
    _, rewards, terminated, _, infos = venv.step(np.array([0, 8, 4]))
    assert terminated.all()
    assert np.array_equal(infos["episode"]["r"], rewards)
    assert infos["task_score"]["r"][1] == 0.0  # "I don't know" scores nothing


def test_two_recorders_under_one_key_refuse_each_other() -> None:
    """Why the README gives ours its own key: Gymnasium refuses a second "episode"."""
    env = RecordEpisodeStatistics(_task_score_recorded(stats_key="episode"))
    env.reset(seed=0)
    with pytest.raises(AssertionError):
        env.step(0)
