"""The registry of reward schemes: build one by name, list what each one asks for."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from stable_baselines3.common.vec_env import VecEnv

from incentives.scheme import RewardScheme, VecRewardScheme, build_signal
from incentives.signal import ExplicitSignal

__all__ = ["make", "make_signal", "register", "scheme_type", "schemes"]

_SCHEMES: dict[str, type[RewardScheme[Any]]] = {}


def register(scheme: type[RewardScheme[Any]]) -> type[RewardScheme[Any]]:
    """Add a scheme wrapper class to the registry under its signal's name."""
    name = scheme.signal_type.name
    if name in _SCHEMES and _SCHEMES[name] is not scheme:
        raise ValueError(f"a reward scheme named {name!r} is already registered")
    _SCHEMES[name] = scheme
    return scheme


def scheme_type(name: str) -> type[RewardScheme[Any]]:
    """The wrapper class registered as ``name``, or a ``ValueError`` listing the names."""
    try:
        return _SCHEMES[name]
    except KeyError:
        accepted = ", ".join(sorted(_SCHEMES))
        raise ValueError(f"unknown reward scheme {name!r}; accepted: {accepted}") from None


def make_signal(name: str, **params: Any) -> ExplicitSignal:
    """The explicit signal of scheme ``name`` with ``params``, without an env."""
    return build_signal(scheme_type(name).signal_type, params)


def make(name: str, env: gym.Env[Any, Any] | VecEnv, **params: Any) -> Any:
    """Wrap ``env`` in the reward scheme ``name`` with ``params``.

    A Gymnasium env gets the scheme's ``RewardScheme`` wrapper; a stable-baselines3
    ``VecEnv`` (such as the batched QA env) gets a ``VecRewardScheme`` with the same signal.

    Example:
        >>> import gymnasium as gym, envs, incentives
        >>> env = incentives.make("confidence_target", gym.make("incentives/QA-v0"), t=0.9)
        >>> env.thresholds()
        (0.9,)
    """
    if isinstance(env, VecEnv):
        return VecRewardScheme(env, make_signal(name, **params))
    return scheme_type(name)(env, **params)


def schemes() -> dict[str, str]:
    """Every registered scheme's name and a one-line statement of its explicit signal."""
    return {name: _SCHEMES[name].signal_type.statement for name in sorted(_SCHEMES)}
