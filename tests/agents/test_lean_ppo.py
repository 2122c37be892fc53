"""``LeanPPO`` against stable-baselines3's ``PPO``: the same update on the same data.

The expected values come from plain SB3, run beside it from the same seed on tiny
buffers: the same weights after the same updates, the same logged losses, a ``model.zip``
that plain ``PPO.load`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnvWrapper, VecMonitor

from agents.ppo import LeanPPO, build_ppo
from envs.qa.vec_env import QAVecEnv
from incentives import HedgingGridSignal
from incentives.run.build import build_env
from incentives.vec_scheme import VecRewardScheme

# a short last minibatch on purpose (SB3 warns about it)
pytestmark = pytest.mark.filterwarnings("ignore:You have specified a mini-batch size")

QA_ENV = {"name": "qa", "batched": "envs.qa.vec_env.QAVecEnv", "domain": "qa", "kwargs": {}}


class Dicts(VecEnvWrapper):
    """The batched env's infos as a plain list of dicts (the path before columns)."""

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, rewards, dones, [dict(info) for info in infos]


def dict_env(n: int, seed: int) -> VecRewardScheme:
    batched = QAVecEnv(n)
    batched.seed(seed)
    return VecRewardScheme(VecMonitor(Dicts(batched)), HedgingGridSignal())


def model(cls: type[PPO], venv: Any, **extra: Any) -> PPO:
    return cls(
        "MlpPolicy",
        venv,
        n_steps=8,
        batch_size=24,  # 64 steps a rollout: two full minibatches and a short one
        n_epochs=2,
        learning_rate=1e-3,
        policy_kwargs={"net_arch": {"pi": [16, 16], "vf": [16, 16]}},
        device="cpu",
        seed=3,
        **extra,
    )


def logged(agent: PPO) -> dict[str, float]:
    return {k: float(v) for k, v in agent.logger.name_to_value.items() if k.startswith("train/")}


@pytest.mark.parametrize("extra", [{}, {"clip_range_vf": 0.1, "target_kl": 0.002}])
def test_same_update_on_the_same_data(extra: dict[str, Any]) -> None:
    """Three rollouts and updates each: plain SB3 on dict infos, ours on columns."""
    torch.set_num_threads(1)
    stock = model(PPO, dict_env(8, 0), **extra)
    stock.learn(3 * 64)
    lean = model(LeanPPO, build_env(QA_ENV, HedgingGridSignal(), 8, 0), **extra)
    lean.learn(3 * 64)
    for a, b in zip(stock.policy.parameters(), lean.policy.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(stock.rollout_buffer.actions, lean.rollout_buffer.actions)
    np.testing.assert_allclose(stock.rollout_buffer.returns, lean.rollout_buffer.returns)
    mine, theirs = logged(lean), logged(stock)
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert mine[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert [e["r"] for e in lean.ep_info_buffer] == [e["r"] for e in stock.ep_info_buffer]


def test_adam_multi_tensor_step_is_the_same_arithmetic() -> None:
    """``LeanPPO`` switches Adam to its foreach step: the same numbers as the loop."""
    torch.manual_seed(0)
    nets = [torch.nn.Linear(5, 3) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [
        torch.optim.Adam(nets[0].parameters(), lr=1e-2, eps=1e-5, foreach=False),
        torch.optim.Adam(nets[1].parameters(), lr=1e-2, eps=1e-5, foreach=True),
    ]
    x = torch.randn(32, 5)
    for _ in range(20):
        for net, optimizer in zip(nets, optimizers, strict=True):
            optimizer.zero_grad()
            (net(x) ** 2).mean().backward()
            optimizer.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_model_trained_by_the_fast_path_loads_in_plain_sb3(tmp_path: Path) -> None:
    venv = build_env(QA_ENV, HedgingGridSignal(), 8, 0)
    agent = build_ppo(
        {"algo": "ppo", "size": "tiny", "device": "cpu", "learning_rate": 1e-3, "n_steps": 8,
         "batch_size": 32, "n_epochs": 1, "gamma": 0.99, "gae_lambda": 0.95, "clip_range": 0.2,
         "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5},
        venv,
        seed=0,
    )  # fmt: skip
    assert type(agent) is LeanPPO
    agent.learn(64)
    agent.save(tmp_path / "model.zip")
    plain = PPO.load(tmp_path / "model.zip", device="cpu")
    assert type(plain) is PPO
    obs = np.random.default_rng(0).random((16, 28), dtype=np.float32)
    np.testing.assert_array_equal(
        plain.predict(obs, deterministic=True)[0], agent.predict(obs, deterministic=True)[0]
    )
    for a, b in zip(plain.policy.parameters(), agent.policy.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
