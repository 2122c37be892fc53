"""The chess policy for MaskablePPO: the public 4672 layout outside, 1,858 moves inside.

Only 1,858 of the layout's 4,672 actions can ever be legal (``envs.chess.actions``), so
the policy scores just those, masks once per batch with ``FastMaskedCategorical``, and
maps its choice back to the layout: the env, the rollout buffer's actions, ``predict`` and
saved agents all keep speaking the 4672 layout. ``CompactMaskRolloutBuffer`` stores the
legal masks as 1,858 booleans per step instead of 4,672 float32s (10× less memory to
fill, copy and shuffle). Both plug into sb3-contrib through its extension points
(``policy=``, ``rollout_buffer_class=``), so users keep MaskablePPO's API.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from sb3_contrib.common.maskable.buffers import MaskableRolloutBuffer
from sb3_contrib.common.maskable.distributions import MaybeMasks
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn

from agents.chess_networks import ChessResNet, ConvPolicyHead, ConvValueHead
from agents.distributions import FastMaskedCategorical
from envs.chess.actions import COMPACT_ACTIONS, N_ACTIONS, N_COMPACT, TO_COMPACT

__all__ = ["ChessPolicy", "CompactMaskRolloutBuffer", "compact_masks"]


def compact_masks(masks: np.ndarray) -> np.ndarray:
    """Legal masks of the 4672 layout (any leading shape) cut to the 1,858 compact moves.

    Example:
        >>> import chess
        >>> from envs.chess.actions import legal_action_mask
        >>> compact_masks(legal_action_mask(chess.Board())[None]).shape
        (1, 1858)
    """
    # np.take, not fancy indexing: the same columns in half the time
    return np.take(np.asarray(masks, dtype=bool).reshape(-1, N_ACTIONS), COMPACT_ACTIONS, axis=1)


class CompactMaskRolloutBuffer(MaskableRolloutBuffer):
    """MaskablePPO's rollout buffer with masks kept as compact booleans."""

    def reset(self) -> None:
        """Allocate the (steps, envs, 1858) boolean masks, then the usual arrays."""
        # Not MaskableRolloutBuffer.reset: it would first fill float32 masks of 4672.
        RolloutBuffer.reset(self)
        self.mask_dims = N_COMPACT
        self.action_masks = np.ones((self.buffer_size, self.n_envs, N_COMPACT), dtype=bool)

    def add(self, *args: Any, action_masks: np.ndarray | None = None, **kwargs: Any) -> None:
        """Store one vector step; masks may come in the 4672 layout or compact."""
        if action_masks is not None:
            masks = np.asarray(action_masks, dtype=bool).reshape(self.n_envs, -1)
            if masks.shape[1] == N_ACTIONS:  # cut straight into the buffer's row
                np.take(masks, COMPACT_ACTIONS, axis=1, out=self.action_masks[self.pos])
            else:
                self.action_masks[self.pos] = masks
        super().add(*args, action_masks=None, **kwargs)


class ChessPolicy(MaskableActorCriticPolicy):
    """An actor-critic over the chess planes whose action head covers the compact moves.

    With the residual tower (``features_extractor_class=ChessResNet``, ``net_arch=[]``) the
    move logits come from a 1×1 convolution per from-square and the value from a small
    convolutional head; with any other trunk, from linear layers after the MLP.
    """

    to_layout: torch.Tensor  # compact index -> layout action
    to_compact: torch.Tensor  # layout action -> compact index (-1: never legal)

    def _build(self, lr_schedule: Schedule) -> None:
        """Create the networks (compact action head) and the optimizer."""
        self.action_dist = FastMaskedCategorical(N_COMPACT)
        self._build_mlp_extractor()
        trunk = self.features_extractor
        if isinstance(trunk, ChessResNet) and not self.net_arch:
            self.action_net = ConvPolicyHead(trunk.channels)
            self.value_net = ConvValueHead(trunk.channels)  # type: ignore[assignment]
        else:
            self.action_net = nn.Linear(self.mlp_extractor.latent_dim_pi, N_COMPACT)
            self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        self.register_buffer("to_layout", torch.as_tensor(COMPACT_ACTIONS), persistent=False)
        self.register_buffer("to_compact", torch.as_tensor(TO_COMPACT), persistent=False)
        if self.ortho_init:
            gains: dict[nn.Module, float] = {
                self.mlp_extractor: np.sqrt(2),
                self.action_net: 0.01,
                self.value_net: 1.0,
            }
            if self.share_features_extractor:
                gains[self.features_extractor] = np.sqrt(2)
            else:
                gains[self.pi_features_extractor] = np.sqrt(2)
                gains[self.vf_features_extractor] = np.sqrt(2)
            for module, gain in gains.items():
                module.apply(partial(self.init_weights, gain=gain))
        self.optimizer = self.optimizer_class(
            self.parameters(),
            lr=lr_schedule(1),  # type: ignore[call-arg]
            **self.optimizer_kwargs,
        )

    def _masks(self, masks: MaybeMasks) -> torch.Tensor | None:
        """Masks as compact booleans on the policy's device."""
        if masks is None:
            return None
        if isinstance(masks, np.ndarray):
            if masks.shape[-1] == N_ACTIONS:
                masks = compact_masks(masks)
            return torch.as_tensor(masks, dtype=torch.bool, device=self.device)
        out = masks.to(device=self.device, dtype=torch.bool)
        if out.shape[-1] == N_ACTIONS:
            out = out.reshape(-1, N_ACTIONS).index_select(1, self.to_layout)
        return out

    def _latents(self, obs: PyTorchObs) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.extract_features(obs)
        if self.share_features_extractor:
            latent_pi, latent_vf = self.mlp_extractor(features)
        else:
            pi_features, vf_features = features
            latent_pi = self.mlp_extractor.forward_actor(pi_features)
            latent_vf = self.mlp_extractor.forward_critic(vf_features)
        return latent_pi, latent_vf

    def _distribution(self, latent_pi: torch.Tensor, masks: MaybeMasks) -> FastMaskedCategorical:
        dist = self.action_dist
        assert isinstance(dist, FastMaskedCategorical)
        dist.proba_distribution(self.action_net(latent_pi))
        dist.apply_masking(self._masks(masks))
        return dist

    def forward(
        self, obs: torch.Tensor, deterministic: bool = False, action_masks: MaybeMasks = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Layout actions, values and log-probabilities for a batch of observations.

        Without gradients (the rollout's ``no_grad``) it runs in ``inference_mode``: the
        same operations and numbers, without autograd's bookkeeping per operation. Its
        outputs are then inference tensors: read them (copy, ``.numpy()``), as the
        rollout does; they cannot be saved for a backward pass.
        """
        if torch.is_grad_enabled():
            return self._forward(obs, deterministic, action_masks)
        with torch.inference_mode():
            return self._forward(obs, deterministic, action_masks)

    def _forward(
        self, obs: torch.Tensor, deterministic: bool, action_masks: MaybeMasks
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        latent_pi, latent_vf = self._latents(obs)
        dist = self._distribution(latent_pi, action_masks)
        compact = dist.get_actions(deterministic=deterministic)
        layout = self.to_layout.index_select(0, compact)
        return layout, self.value_net(latent_vf), dist.log_prob(compact)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor, action_masks: MaybeMasks = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Values, log-probabilities of the (layout) ``actions`` and entropies."""
        latent_pi, latent_vf = self._latents(obs)
        dist = self._distribution(latent_pi, action_masks)
        compact = self.to_compact.index_select(0, actions.long().flatten())
        return self.value_net(latent_vf), dist.log_prob(compact), dist.entropy()

    def get_distribution(
        self, obs: PyTorchObs, action_masks: MaybeMasks = None
    ) -> FastMaskedCategorical:
        """The masked distribution over the *compact* moves (map with ``to_layout``)."""
        features = self.extract_features(obs)
        pi_features = features[0] if isinstance(features, tuple) else features
        return self._distribution(self.mlp_extractor.forward_actor(pi_features), action_masks)

    def _predict(
        self, observation: PyTorchObs, deterministic: bool = False, action_masks: MaybeMasks = None
    ) -> torch.Tensor:
        """Layout actions for ``predict``."""
        dist = self.get_distribution(observation, action_masks)
        return self.to_layout[dist.get_actions(deterministic=deterministic)]
