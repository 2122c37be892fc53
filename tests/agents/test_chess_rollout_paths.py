"""The chess policy's cheaper operations give the numbers of the plain ones, bit for bit."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from agents.chess_policy import CompactMaskRolloutBuffer, compact_masks
from agents.distributions import FastMaskedCategorical
from envs.chess.actions import COMPACT_ACTIONS, N_ACTIONS, N_COMPACT


def test_masking_gives_the_values_and_gradients_of_masked_fill() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, N_COMPACT, generator=gen) * 3
    masks = torch.rand(64, N_COMPACT, generator=gen) < 0.02
    masks[:, 5] = True
    actions = torch.multinomial(masks.float(), 1, generator=gen).flatten()
    results = []
    for reference in (False, True):
        x = logits.clone().requires_grad_(True)
        if reference:  # the textbook form: fill the illegal logits, then normalise
            masked = x.masked_fill(~masks, torch.finfo(x.dtype).min)
            log_probs = torch.log_softmax(masked, dim=-1)
            log_prob = log_probs.gather(-1, actions[:, None]).squeeze(-1)
            entropy = -(torch.softmax(masked, dim=-1) * log_probs).sum(-1)
        else:
            dist = FastMaskedCategorical(N_COMPACT).proba_distribution(x)
            dist.apply_masking(masks)
            log_prob, entropy = dist.log_prob(actions), dist.entropy()
        loss = -(log_prob * torch.linspace(-1, 1, 64)).mean() - 0.01 * entropy.mean()
        loss.backward()
        assert x.grad is not None
        results.append((log_prob.detach(), entropy.detach(), x.grad))
    for ours, theirs in zip(*results, strict=True):
        assert torch.equal(ours, theirs)


def test_compact_masks_and_the_buffer_cut_the_same_columns() -> None:
    rng = np.random.default_rng(1)
    masks = rng.random((8, N_ACTIONS)) < 0.05
    expected = np.array([[row[a] for a in COMPACT_ACTIONS] for row in masks])
    np.testing.assert_array_equal(compact_masks(masks), expected)
    box = spaces.Box(0, 1, (19, 8, 8), np.uint8)
    buffer = CompactMaskRolloutBuffer(2, box, spaces.Discrete(N_ACTIONS), n_envs=8)
    for pos in range(2):
        buffer.add(
            np.zeros((8, 19, 8, 8), np.uint8),
            np.zeros((8, 1)),
            np.zeros(8),
            np.zeros(8),
            torch.zeros(8),
            torch.zeros(8),
            action_masks=masks if pos == 0 else expected,
        )
    np.testing.assert_array_equal(buffer.action_masks[0], expected)
    np.testing.assert_array_equal(buffer.action_masks[1], expected)


def test_the_rollout_forward_gives_the_numbers_of_the_grad_forward() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.ppo import build_ppo
    from envs.chess import ChessEnv

    venv = DummyVecEnv([lambda: ChessEnv(start="kqk", max_plies=20)] * 4)
    config = {"algo": "maskable_ppo", "policy": "chess_mlp", "size": "tiny", "device": "cpu",
              "learning_rate": 3e-4, "n_steps": 8, "batch_size": 32, "n_epochs": 1,
              "gamma": 0.99, "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.0,
              "vf_coef": 0.5, "max_grad_norm": 0.5}  # fmt: skip
    policy = build_ppo(config, venv, seed=0).policy
    obs = torch.as_tensor(venv.reset())
    masks = np.stack(venv.env_method("action_masks"))
    outputs = []
    for grad in (True, False):
        torch.manual_seed(7)  # the same Gumbel noise both times
        with torch.set_grad_enabled(grad):
            outputs.append(policy(obs, action_masks=masks))
    for with_grad, rollout in zip(*outputs, strict=True):
        assert torch.equal(with_grad.detach(), rollout)
    # what the rollout does with them: copies into numpy, arithmetic outside the mode
    values = outputs[1][1].clone().cpu().numpy().flatten()
    assert values.shape == (4,) and np.isfinite(values).all()
    assert torch.isfinite(outputs[1][2] * 2.0).all()
    venv.close()
