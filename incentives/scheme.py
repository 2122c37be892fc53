"""Reward schemes as wrappers: replace an environment's task score by an explicit signal.

``RewardScheme`` wraps one Gymnasium env (``incentives.vec_scheme.VecRewardScheme`` wraps a
stable-baselines3 ``VecEnv`` with the same signal). Both put the scheme's view
of each step in ``info["incentive"] = {"scheme", "reward", "terms"}`` and leave the env's
events in ``info`` untouched, so the task score stays visible to a ``Monitor`` placed
innermost and behaviour can be measured from the events.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Generic, SupportsFloat, TypeVar

import gymnasium as gym

from incentives.signal import ExplicitSignal, param_names, unknown_params

__all__ = ["RewardScheme", "build_signal"]

SignalT = TypeVar("SignalT", bound=ExplicitSignal)


def build_signal(signal_type: type[SignalT], params: dict[str, Any]) -> SignalT:
    """Construct ``signal_type`` from ``params``, refusing unknown names with a clear error."""
    unknown = unknown_params(signal_type, params)
    if unknown:
        accepted = ", ".join(param_names(signal_type)) or "none"
        raise ValueError(
            f"{signal_type.name}: unknown parameter {unknown[0]!r}; accepted: {accepted}"
        )
    return signal_type(**params)


class RewardScheme(
    gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs, Generic[SignalT]
):
    """A Gymnasium wrapper whose reward is the explicit signal of a scheme.

    Subclasses set ``signal_type``; their constructor takes the env and the signal's
    parameters by keyword. The wrapped env's own reward (its task score) is discarded
    here, so wrap a ``Monitor`` *inside* the scheme to keep recording it.

    Example:
        >>> import gymnasium as gym
        >>> import envs  # registers incentives/QA-v0
        >>> from incentives import HedgingGrid
        >>> env = HedgingGrid(gym.make("incentives/QA-v0"), wrong=-3.0)
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(8)  # "I don't know"
        >>> reward, info["incentive"]["terms"]
        (0.0, {'abstain': 0.0})
    """

    signal_type: ClassVar[type[ExplicitSignal]]

    def __init__(self, env: gym.Env[Any, Any], **params: Any) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, **params)
        gym.Wrapper.__init__(self, env)
        self.signal: SignalT = build_signal(self.signal_type, params)  # type: ignore[assignment]
        self._pending: ExplicitSignal | None = None

    def use_signal(self, signal: ExplicitSignal) -> None:
        """Switch to another signal, e.g. at a phase boundary of a reward schedule.

        This env gets its own copy. A signal that keeps per-episode state takes over at the
        next reset, when it can see the episode from its start.
        """
        if signal == self.signal:
            return
        if signal.stateful:
            self._pending = copy.deepcopy(signal)
        else:
            self.signal = signal  # type: ignore[assignment]

    def progress(self, step: int) -> None:
        """Move the signal's schedule clock (``ExplicitSignal.progress``), the pending
        signal's too."""
        self.signal.progress(step)
        if self._pending is not None:
            self._pending.progress(step)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and the signal's per-episode state."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self._pending is not None:
            self.signal, self._pending = self._pending, None  # type: ignore[assignment]
        self.signal.reset(info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and replace its reward by the scheme's explicit signal."""
        obs, _task_score, terminated, truncated, info = self.env.step(action)
        incentive = self.signal.incentive(info, terminated or truncated)
        info["incentive"] = incentive.as_info()
        return obs, incentive.reward, terminated, truncated, info
