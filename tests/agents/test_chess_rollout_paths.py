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
