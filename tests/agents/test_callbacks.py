"""The callbacks' bookkeeping: episode tallies and the seeded deterministic evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import yaml
from stable_baselines3 import PPO

from agents.callbacks import EpisodeTally, evaluate
from incentives import HedgingGridSignal
from incentives.behaviour import Behaviour
from incentives.domains.qa.behaviour import QABehaviour
from incentives.run.build import build_env
from tests.conftest import ROOT


class Recorder(Behaviour):
    """A ``Behaviour`` that keeps the infos it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.infos: list[Mapping[str, Any]] = []

    def __len__(self) -> int:
        return len(self.infos)

    def add(self, info: Mapping[str, Any]) -> None:
        self.infos.append(info)

    def metrics(self) -> dict[str, float]:
        return {"episodes": float(len(self.infos))}

    def clear(self) -> None:
        self.infos.clear()


def paid(terms: dict[str, float], **extra: Any) -> dict[str, Any]:
    """A step's info with the scheme's terms in it."""
    return {"incentive": {"scheme": "test", "reward": sum(terms.values()), "terms": terms}, **extra}


# Two envs, four steps. env 0 plays episode A (steps 0-1) then B (steps 2-3); env 1 plays
# C (steps 0-2) and starts D at step 3, which stays open.
STEPS = [
    # (rewards, dones, infos)
    ([1.0, -2.0], [False, False], [paid({"correct": 1.0}), paid({"hedged_wrong": -2.0})]),
    (
        [-4.0, 0.5],
        [True, False],
        [paid({"wrong": -4.0}, id="A", episode={"r": 1.0, "l": 2}), paid({"hedged_correct": 0.5})],
    ),
    (
        [0.0, 1.0],
        [False, True],
        [paid({"abstain": 0.0}), paid({"correct": 1.0}, id="C", episode={"r": 2.0, "l": 3})],
    ),
    (
        [1.0, -4.0],
        [True, False],
        [paid({"correct": 1.0}, id="B", episode={"r": 1.0, "l": 2}), paid({"wrong": -4.0})],
    ),
]


def run_tally(steps: list[Any]) -> tuple[EpisodeTally, Recorder]:
    tally, recorder = EpisodeTally(2), Recorder()
    for rewards, dones, infos in steps:
        tally.step(np.array(rewards, dtype=np.float32), np.array(dones), infos, recorder)
    return tally, recorder


def test_episode_tally_closes_episodes_in_order() -> None:
    tally, recorder = run_tally(STEPS)
    assert tally.episodes == 3
    assert [info["id"] for info in recorder.infos] == ["A", "C", "B"]
    # A: 1 - 4 = -3; C: -2 + 0.5 + 1 = -0.5; B: 0 + 1 = 1
    assert tally.finished_returns == [-3.0, -0.5, 1.0]
    # per term: its sum over the closed episodes A, C, B and how many of them had it
    assert tally.finished_terms == {
        "correct": [3.0, 3],
        "wrong": [-4.0, 1],
        "hedged_wrong": [-2.0, 1],
        "hedged_correct": [0.5, 1],
        "abstain": [0.0, 1],
    }
    assert tally.task_scores == [1.0, 2.0, 1.0]
    # D, still open on env 1, has paid -4 so far; env 0 starts afresh
    np.testing.assert_allclose(tally.returns, [0.0, -4.0])


def test_episode_tally_summary() -> None:
    tally, _ = run_tally(STEPS)
    summary = tally.summary()
    assert summary == {
        "explicit/return": pytest.approx((-3.0 - 0.5 + 1.0) / 3),
        # a term absent from an episode counts as zero: means over all three episodes
        "explicit/terms/correct": pytest.approx(3.0 / 3),
        "explicit/terms/wrong": pytest.approx(-4.0 / 3),
        "explicit/terms/hedged_wrong": pytest.approx(-2.0 / 3),
        "explicit/terms/hedged_correct": pytest.approx(0.5 / 3),
        "explicit/terms/abstain": 0.0,
        "task/score": pytest.approx(4.0 / 3),
    }


def test_episode_tally_without_monitor_or_terms() -> None:
    # no "episode" (no monitor) and no "incentive" (no scheme): returns only
    steps = [([0.5, 2.0], [False, True], [{}, {}]), ([0.25, 1.0], [True, True], [{}, {}])]
    tally, recorder = run_tally(steps)
    assert tally.finished_returns == [2.0, 0.75, 1.0]
    assert tally.summary() == {"explicit/return": pytest.approx(3.75 / 3)}
    assert len(recorder.infos) == 3


def test_episode_tally_empty_summary() -> None:
    assert EpisodeTally(3).summary() == {}


# --- evaluate on the batched QA env --------------------------------------------------------
@pytest.fixture(scope="module")
def env_config() -> dict[str, Any]:
    with open(ROOT / "conf" / "env" / "qa.yaml") as f:
        config: dict[str, Any] = yaml.safe_load(f)
    return config


@pytest.fixture(scope="module")
def model(env_config: dict[str, Any]) -> PPO:
    venv = build_env(env_config, HedgingGridSignal(), 8, seed=0)
    return PPO("MlpPolicy", venv, n_steps=8, batch_size=8, device="cpu", seed=0)


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal keys and values, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def test_evaluate_is_repeatable_and_exact(model: PPO, env_config: dict[str, Any]) -> None:
    signal = HedgingGridSignal()
    venv = build_env(env_config, signal, 64, seed=0)
    behaviour = QABehaviour(signal)
    first = evaluate(model, venv, 100, seed=1234, behaviour=behaviour)
    assert len(behaviour) == 100  # 64 + 36 of the second step, not 128
    second = evaluate(model, venv, 100, seed=1234, behaviour=behaviour)
    assert len(behaviour) == 100
    assert same(first, second), (first, second)
    # a fresh env with the same evaluation seed plays the same questions
    fresh = evaluate(
        model, build_env(env_config, signal, 64, seed=7), 100, 1234, QABehaviour(signal)
    )
    assert same(first, fresh), (first, fresh)
    # another evaluation seed, other questions
    other = evaluate(model, venv, 100, seed=4321, behaviour=QABehaviour(signal))
    assert not same(first, other)


def test_evaluate_views_agree(model: PPO, env_config: dict[str, Any]) -> None:
    signal = HedgingGridSignal()
    venv = build_env(env_config, signal, 64, seed=0)
    metrics = evaluate(model, venv, 100, seed=99, behaviour=QABehaviour(signal))
    terms = {k: v for k, v in metrics.items() if k.startswith("terms/")}
    assert terms
    assert set(terms) <= {
        "terms/correct",
        "terms/wrong",
        "terms/hedged_correct",
        "terms/hedged_wrong",
        "terms/abstain",
    }
    # one question per episode: the return is the sum of the per-term means
    assert metrics["explicit_return"] == pytest.approx(sum(terms.values()))
    # the task score (1 if right) is the share of all episodes answered right
    answered = 1.0 - metrics["abstain_rate"]
    assert metrics["task_score"] == pytest.approx(metrics["accuracy_answered"] * answered)
    # unhedged wrong answers, each paid -4, are the hallucinations
    assert metrics.get("terms/wrong", 0.0) == pytest.approx(-4.0 * metrics["hallucination_rate"])


@pytest.mark.parametrize("episodes", [1, 64, 65, 128])
def test_evaluate_plays_exactly_the_asked_episodes(
    model: PPO, env_config: dict[str, Any], episodes: int
) -> None:
    signal = HedgingGridSignal()
    behaviour = QABehaviour(signal)
    evaluate(model, build_env(env_config, signal, 64, seed=0), episodes, 5, behaviour)
    assert len(behaviour) == episodes
