"""The QA mode x candidate head, the reset at a phase change, and the mode entropy bonus.

Expected values are computed by hand from the head's two softmaxes, or are what a zero
layer means (uniform modes, a value of 0).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.networks import ModeCandidateHead, ModeCandidatePolicy
from agents.ppo import LeanPPO, build_ppo, qa_mode_entropy
from incentives import BinarySignal, HedgingGridSignal
from incentives.run.build import ConfigError, build_env, use_signal
from incentives.run.train import plan_run

QA_ENV = {"name": "qa", "batched": "envs.qa.vec_env.QAVecEnv", "domain": "qa", "kwargs": {}}
AGENT = {
    "algo": "ppo",
    "size": "tiny",
    "device": "cpu",
    "torch_threads": 1,
    "learning_rate": 1e-3,
    "n_steps": 4,
    "batch_size": 32,
    "n_epochs": 1,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "head": "mode_candidate",
    "phase_reset": ["mode_head", "value_head"],
}


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def test_head_is_the_product_of_a_mode_and_a_candidate_softmax() -> None:
    torch.manual_seed(0)
    head = ModeCandidateHead(3, 4)
    latent = torch.randn(5, 3)
    probs = head(latent).exp()
    mode = torch.softmax(latent @ head.mode.weight.T + head.mode.bias, -1)
    cand = torch.softmax(latent @ head.candidate.weight.T + head.candidate.bias, -1)
    by_hand = torch.cat([mode[:, :1] * cand, mode[:, 1:2] * cand, mode[:, 2:]], -1)
    assert torch.allclose(probs, by_hand, atol=1e-6)
    assert torch.allclose(probs.sum(-1), torch.ones(5), atol=1e-6)


def test_mode_entropy_by_hand() -> None:
    # K = 2: answer 0.1 + 0.2, hedge 0.3 + 0.1, abstain 0.3
    log_probs = torch.tensor([[0.1, 0.2, 0.3, 0.1, 0.3]]).log()
    by_hand = -sum(p * np.log(p) for p in (0.3, 0.4, 0.3))
    assert float(qa_mode_entropy(log_probs)[0]) == pytest.approx(by_hand, abs=1e-6)


def probe(model: LeanPPO, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        latent_pi, latent_vf = model.policy.mlp_extractor(model.policy.extract_features(obs))
        probs = model.policy.action_net(latent_pi).exp()
        value = model.policy.value_net(latent_vf).squeeze(-1)
    modes = torch.stack([probs[:, :4].sum(-1), probs[:, 4:8].sum(-1), probs[:, 8]], -1)
    return modes, value


def test_scheme_change_resets_mode_and_value_heads_once(tmp_path) -> None:
    venv = build_env(QA_ENV, BinarySignal(), 8, seed=0)
    model = build_ppo(AGENT, venv, seed=0)
    assert isinstance(model, LeanPPO) and isinstance(model.policy, ModeCandidatePolicy)
    model.learn(64)
    obs = torch.as_tensor(venv.reset())
    before, _ = probe(model, obs)
    assert not torch.allclose(before, torch.full_like(before, 1 / 3), atol=1e-4)
    candidate = model.policy.action_net.candidate.weight.clone()
    use_signal(venv, HedgingGridSignal())
    model.learn(0, reset_num_timesteps=False)  # the reset, no training
    modes, value = probe(model, obs)
    assert torch.allclose(modes, torch.full_like(modes, 1 / 3))
    assert torch.all(value == 0)
    assert torch.equal(model.policy.action_net.candidate.weight, candidate)  # kept
    model.learn(64, reset_num_timesteps=False)
    # the same scheme again: trained on, not reset; and the scheme is saved with the agent
    model.learn(0, reset_num_timesteps=False)
    assert not torch.allclose(probe(model, obs)[0], modes, atol=1e-4)
    model.save(tmp_path / "model.zip")
    loaded = LeanPPO.load(tmp_path / "model.zip", env=venv, device="cpu")
    assert loaded.trained_scheme == model.trained_scheme
    assert loaded.trained_scheme.startswith("hedging_grid:")
    assert list(loaded.phase_reset) == ["mode_head", "value_head"]


def test_mode_entropy_bonus_trains_and_is_logged() -> None:
    venv = build_env(QA_ENV, BinarySignal(), 8, seed=0)
    model = build_ppo({**AGENT, "mode_ent_coef": 0.1, "mode_ent_decay": "phase"}, venv, seed=0)
    assert model.mode_ent_coef == 0.1
    model.learn(64)
    assert "train/mode_entropy" in model.logger.name_to_value
    # falls linearly from 0.1 to 0 over the phase: the phase spans steps 0 to 64
    assert tuple(model.phase_span) == (0, 64)
    model.num_timesteps = 16
    assert model._mode_ent_weight() == pytest.approx(0.1 * 48 / 64)
    # a resumed phase (same end) keeps its start; a new one starts where it is
    model.learn(48, reset_num_timesteps=False)
    assert tuple(model.phase_span) == (0, 64)


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ({"head": "tree"}, "agent.head='tree'; accepted: flat, mode_candidate"),
        ({"phase_reset": ["trunk"]}, "agent.phase_reset: 'trunk'; accepted: a list of"),
        (
            {"head": "flat", "phase_reset": ["mode_head"]},
            "agent.phase_reset: 'mode_head' needs agent.head=mode_candidate",
        ),
    ],
)
def test_bad_settings_are_one_line(agent, message) -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from incentives.run.configs import config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        config = OmegaConf.to_container(compose("config", overrides=["+experiment=qa_grid"]))
    config["agent"].update(agent)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        plan_run(config)
