"""PPO built from a config: one agent for every reward scheme of an experiment.

``algo: ppo`` is stable-baselines3's PPO; ``algo: maskable_ppo`` is sb3-contrib's
MaskablePPO, which reads the legal actions from the env's ``action_masks()`` (chess).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from agents.networks import mlp_layers

__all__ = ["ALGORITHMS", "build_ppo", "load_ppo"]

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
    layers = mlp_layers(str(config.get("size", "small")), config.get("layers"))
    return _algorithm(config)(
        "MlpPolicy",
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
        policy_kwargs={"net_arch": {"pi": layers, "vf": layers}},
        device=str(config.get("device", "auto")),
        seed=seed,
        verbose=0,
    )


def _threads(config: Mapping[str, Any]) -> None:
    if config.get("torch_threads"):
        torch.set_num_threads(int(config["torch_threads"]))


def load_ppo(config: Mapping[str, Any], path: str, venv: VecEnv) -> PPO | MaskablePPO:
    """An agent saved at ``path`` (with its optimizer and step count), on ``venv``."""
    _threads(config)
    return _algorithm(config).load(path, env=venv, device=str(config.get("device", "auto")))
