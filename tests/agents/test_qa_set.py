"""The QA set network (``agent.policy: qa_set``): candidates read by one shared network.

Expected values come from the symmetry of the question (relabelling the candidates must
relabel the candidate probabilities and leave the mode alone), from the features'
definition recomputed in numpy, and from what a zero output layer means (uniform modes).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from agents.networks import QASetExtractor, QASetPolicy
from agents.ppo import LeanPPO, build_ppo
from incentives import BinarySignal, HedgingGridSignal
from incentives.run.build import ConfigError, build_env, use_signal
from incentives.run.train import plan_run
from tests.agents.test_mode_head import AGENT as MODE_HEAD_AGENT
from tests.agents.test_mode_head import QA_ENV

# the mode head tests' small agent, with the set network and the recipe's mode reset
AGENT = {**MODE_HEAD_AGENT, "policy": "qa_set", "phase_reset": ["mode_head"]}
K, L = 4, 7


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained() -> tuple[LeanPPO, np.ndarray]:
    """A small qa_set agent trained a little (weights away from their initial values)."""
    torch.set_num_threads(1)
    venv = build_env(QA_ENV, BinarySignal(), 8, seed=0)
    model = build_ppo(AGENT, venv, seed=0)
    model.learn(512)
    return model, venv.reset()


def probabilities(model: LeanPPO, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(candidate probabilities given answering, mode probabilities) per row."""
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(obs)).distribution
        probs = dist.probs.double().numpy()
    modes = np.stack([probs[:, :K].sum(1), probs[:, K : 2 * K].sum(1), probs[:, 2 * K]], 1)
    return probs[:, :K] / modes[:, :1], modes


def test_relabelling_the_candidates_relabels_the_answer_and_keeps_the_mode(trained) -> None:
    model, obs = trained
    assert isinstance(model.policy, QASetPolicy)
    candidates, modes = probabilities(model, obs)
    rng = np.random.default_rng(3)
    for _ in range(3):
        order = rng.permutation(K)
        shuffled = obs.reshape(-1, K, L)[:, order].reshape(len(obs), K * L)
        candidates2, modes2 = probabilities(model, shuffled)
        assert np.allclose(candidates2, candidates[:, order], atol=1e-5)
        assert np.allclose(modes2, modes, atol=1e-5)


def test_features_by_hand(trained) -> None:
    model, obs = trained
    extractor = model.policy.features_extractor
    assert isinstance(extractor, QASetExtractor)
    with torch.no_grad():
        features = extractor(torch.as_tensor(obs)).double().numpy()
        votes = torch.as_tensor(obs).reshape(-1, K, L)
        layers = [m for m in extractor.embed if isinstance(m, torch.nn.Linear)]
        hidden = votes
        for layer in layers:
            hidden = torch.tanh(hidden @ layer.weight.T + layer.bias)
        scores = (hidden @ extractor.score.weight.T + extractor.score.bias)[..., 0]
    scores, hidden = scores.double().numpy(), hidden.double().numpy()
    ordered = -np.sort(-scores, axis=1)
    ranked = np.exp(ordered - ordered[:, :1])
    ranked /= ranked.sum(1, keepdims=True)
    expected = np.concatenate(
        [scores, ranked, ordered[:, 1:] - ordered[:, :1], hidden.sum(1)], axis=1
    )
    assert features.shape == (len(obs), 3 * K - 1 + 16)
    assert np.allclose(features, expected, atol=1e-5)


def test_scheme_change_resets_the_mode_and_keeps_the_candidates(tmp_path) -> None:
    venv = build_env(QA_ENV, BinarySignal(), 8, seed=1)
    model = build_ppo(AGENT, venv, seed=1)
    model.learn(256)
    obs = venv.reset()
    candidates, modes = probabilities(model, obs)
    assert not np.allclose(modes, 1 / 3, atol=1e-4)
    use_signal(venv, HedgingGridSignal())
    model.learn(0, reset_num_timesteps=False)  # the reset, no training
    candidates2, modes2 = probabilities(model, obs)
    assert np.allclose(modes2, 1 / 3)
    assert np.allclose(candidates2, candidates)
    model.save(tmp_path / "model.zip")
    loaded = LeanPPO.load(tmp_path / "model.zip", device="cpu")
    assert isinstance(loaded.policy, QASetPolicy)
    assert np.array_equal(probabilities(loaded, obs)[0], candidates2)


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        (
            {"policy": "qa_set", "head": "flat"},
            "agent.policy=qa_set needs agent.head=mode_candidate; got 'flat'",
        ),
        (
            {"algo": "maskable_ppo", "policy": "qa_set", "head": "mode_candidate"},
            "agent.head='mode_candidate' needs agent.algo=ppo",
        ),
    ],
)
def test_qa_set_needs_its_head_and_ppo(agent, message) -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from incentives.run.configs import config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        config = OmegaConf.to_container(compose("config", overrides=["+experiment=qa_grid"]))
    config["agent"].update(agent)
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan_run(config)
