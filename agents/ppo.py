"""PPO built from a config: one agent for every reward scheme of an experiment.

``algo: ppo`` is stable-baselines3's PPO; ``algo: maskable_ppo`` is sb3-contrib's
MaskablePPO, which reads the legal actions from the env's ``action_masks()`` (chess).
``policy`` picks the network: ``mlp`` (the library's own MLP policy, any env), or for chess
``chess_mlp`` (the same MLP over scaled planes, with the compact move head, fast masking
and compact mask storage of ``agents.chess_policy``) and ``chess_resnet`` (a residual
tower with convolutional move and value heads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from agents.chess_networks import ChessFlatten, ChessResNet, resnet_shape
from agents.chess_policy import ChessPolicy, CompactMaskRolloutBuffer
from agents.networks import mlp_layers

__all__ = ["ALGORITHMS", "POLICIES", "build_ppo", "load_ppo", "parameter_count", "policy_setup"]

#: The networks ``agent.policy`` may name.
POLICIES = ("mlp", "chess_mlp", "chess_resnet")

ALGORITHMS: dict[str, type[PPO] | type[MaskablePPO]] = {"ppo": PPO, "maskable_ppo": MaskablePPO}


def _algorithm(config: Mapping[str, Any]) -> type[PPO] | type[MaskablePPO]:
    name = str(config.get("algo", "ppo"))
    if name not in ALGORITHMS:
        raise ValueError(f"agent.algo={name!r}; accepted: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def build_ppo(config: Mapping[str, Any], venv: VecEnv, seed: int) -> PPO | MaskablePPO:
    """A PPO (or MaskablePPO) agent with an MLP policy of the configured size.

    ``config`` holds ``algo``, ``size`` (a preset) or ``layers``, ``device`` (``auto``
    takes CUDA when present), ``torch_threads`` and PPO's own hyperparameters.
    """
    _threads(config)
    algorithm = _algorithm(config)
    policy, policy_kwargs, extra = policy_setup(config)
    return algorithm(
        policy,
        venv,
        learning_rate=float(config["learning_rate"]),
        n_steps=int(config["n_steps"]),
        batch_size=int(config["batch_size"]),
        n_epochs=int(config["n_epochs"]),
        gamma=float(config["gamma"]),
        gae_lambda=float(config["gae_lambda"]),
        clip_range=float(config["clip_range"]),
        ent_coef=float(config["ent_coef"]),
        vf_coef=float(config["vf_coef"]),
        max_grad_norm=float(config["max_grad_norm"]),
        policy_kwargs=policy_kwargs,
        device=str(config.get("device", "auto")),
        seed=seed,
        verbose=0,
        **extra,
    )


def policy_setup(config: Mapping[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The policy (class or name), its keyword arguments, and extra algorithm arguments.

    Example:
        >>> config = {"algo": "maskable_ppo", "policy": "chess_resnet", "size": "tiny"}
        >>> policy, kwargs, extra = policy_setup(config)
        >>> policy.__name__, kwargs["features_extractor_kwargs"], sorted(extra)
        ('ChessPolicy', {'channels': 16, 'blocks': 1}, ['rollout_buffer_class'])
    """
    name = str(config.get("policy") or "mlp")
    size = str(config.get("size", "small"))
    if name == "mlp":
        layers = mlp_layers(size, config.get("layers"))
        return "MlpPolicy", {"net_arch": {"pi": layers, "vf": layers}}, {}
    if name in POLICIES and _algorithm(config) is not MaskablePPO:
        raise ValueError(
            f"agent.policy={name!r} needs agent.algo=maskable_ppo; accepted with "
            f"agent.algo={config.get('algo', 'ppo')!r}: mlp"
        )
    extra = {"rollout_buffer_class": CompactMaskRolloutBuffer}
    # SB3's Adam epsilon, and torch's fused Adam step (one kernel for all parameters).
    adam = {"eps": 1e-5, "fused": True}
    if name == "chess_mlp":
        layers = mlp_layers(size, config.get("layers"))
        kwargs = {
            "net_arch": {"pi": layers, "vf": layers},
            "features_extractor_class": ChessFlatten,
            "optimizer_kwargs": adam,
        }
        return ChessPolicy, kwargs, extra
    if name == "chess_resnet":
        channels, blocks = resnet_shape(size, config.get("channels"), config.get("blocks"))
        kwargs = {
            "net_arch": [],
            "features_extractor_class": ChessResNet,
            "features_extractor_kwargs": {"channels": channels, "blocks": blocks},
            "optimizer_kwargs": adam,
        }
        return ChessPolicy, kwargs, extra
    raise ValueError(f"agent.policy={name!r}; accepted: {', '.join(POLICIES)}")


def _threads(config: Mapping[str, Any]) -> None:
    if config.get("torch_threads"):
        torch.set_num_threads(int(config["torch_threads"]))


def load_ppo(config: Mapping[str, Any], path: str, venv: VecEnv) -> PPO | MaskablePPO:
    """An agent saved at ``path`` (with its optimizer and step count), on ``venv``."""
    _threads(config)
    return _algorithm(config).load(path, env=venv, device=str(config.get("device", "auto")))


def parameter_count(model: PPO | MaskablePPO) -> int:
    """The trainable parameters of an agent's network: policy, value and shared layers.

    What a scale experiment reports as the model's size; the run's compute is this count
    times the environment steps it trained on (every step runs the whole network).
    """
    return sum(p.numel() for p in model.policy.parameters() if p.requires_grad)
