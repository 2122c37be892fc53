"""Networks over the chess planes: a residual tower, a flat trunk, and the move/value heads.

The residual tower keeps the 8×8 board through every layer, as AlphaZero's does (Silver et
al. 2018), and its policy head is a 1×1 convolution to the 73 move planes of each
from-square: the 4672 layout scored where the move starts, then cut to the 1,858 moves
that can ever be legal. Sizes come in presets (``tiny`` … ``large``: channels × blocks)
so scale experiments vary one knob.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from envs.chess.actions import COMPACT_ACTIONS, N_PLANES
from envs.chess.observation import PLANE_HIGH

__all__ = [
    "RESNET_SIZES",
    "ChessFlatten",
    "ChessResNet",
    "ConvPolicyHead",
    "ConvValueHead",
    "resnet_shape",
]

#: (channels, residual blocks) of the convolutional tower, by preset name.
RESNET_SIZES: dict[str, tuple[int, int]] = {
    "tiny": (16, 1),
    "small": (32, 2),
    "base": (64, 4),
    "large": (128, 8),
}


def resnet_shape(
    size: str, channels: int | None = None, blocks: int | None = None
) -> tuple[int, int]:
    """(channels, blocks) of preset ``size``, each replaced by an explicit value when given.

    Example:
        >>> resnet_shape("small"), resnet_shape("small", blocks=6)
        ((32, 2), (32, 6))
    """
    if size not in RESNET_SIZES:
        raise ValueError(
            f"unknown network size {size!r}; accepted: {', '.join(RESNET_SIZES)} "
            "(or agent.channels=C agent.blocks=B)"
        )
    preset_channels, preset_blocks = RESNET_SIZES[size]
    for name, value in (("channels", channels), ("blocks", blocks)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"agent.{name}={value!r}; accepted: a positive integer")
    return channels or preset_channels, blocks or preset_blocks


def _scale(observation_space: gym.Space[np.ndarray]) -> torch.Tensor:
    """1 / the largest value of each plane, so every input lies in [0, 1]."""
    shape = observation_space.shape or ()
    if tuple(shape) != PLANE_HIGH.shape:
        raise ValueError(
            f"chess networks need observations of shape {PLANE_HIGH.shape}, got {shape}"
        )
    return torch.as_tensor(1.0 / PLANE_HIGH, dtype=torch.float32)


class ChessFlatten(BaseFeaturesExtractor):
    """The planes scaled to [0, 1] and flattened: the trunk of an MLP chess policy."""

    scale: torch.Tensor

    def __init__(self, observation_space: gym.Space[np.ndarray]) -> None:
        super().__init__(observation_space, features_dim=int(np.prod(PLANE_HIGH.shape)))
        self.register_buffer("scale", _scale(observation_space))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """(batch, 19, 8, 8) planes -> (batch, 1216) features."""
        return (observations * self.scale).flatten(1)


class _Block(nn.Module):
    """Two 3×3 convolutions and a skip connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class ChessResNet(BaseFeaturesExtractor):
    """A residual convolutional tower over the planes; features are its flattened output.

    No batch normalisation: PPO's rollouts and updates see different batches, and the
    tower is shallow enough to train without it.
    """

    scale: torch.Tensor

    def __init__(
        self, observation_space: gym.Space[np.ndarray], channels: int = 32, blocks: int = 2
    ) -> None:
        super().__init__(observation_space, features_dim=channels * 64)
        self.channels = channels
        self.register_buffer("scale", _scale(observation_space))
        self.stem = nn.Conv2d(PLANE_HIGH.shape[0], channels, 3, padding=1)
        self.tower = nn.Sequential(*(_Block(channels) for _ in range(blocks)))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """(batch, 19, 8, 8) planes -> (batch, channels · 64) features."""
        x = torch.relu(self.stem(observations * self.scale))
        return self.tower(x).flatten(1)


class ConvPolicyHead(nn.Module):
    """Logits of the 1,858 compact moves: a 1×1 convolution to the 73 planes per square."""

    index: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, N_PLANES, 1)
        self.register_buffer("index", torch.as_tensor(COMPACT_ACTIONS))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, channels · 64) -> (batch, 1858), in ``COMPACT_ACTIONS`` order."""
        planes = self.conv(features.view(-1, self.channels, 8, 8))
        # (batch, 73, rank, file) -> (batch, square * 73 + plane), the layout's order.
        layout = planes.permute(0, 2, 3, 1).reshape(planes.shape[0], -1)
        return layout.index_select(1, self.index)


class ConvValueHead(nn.Module):
    """The state value: a 1×1 convolution to two planes, then a small MLP."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, 2, 1)
        self.mlp = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(128, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, channels · 64) -> (batch, 1)."""
        return self.out(self.mlp(self.conv(features.view(-1, self.channels, 8, 8))))
