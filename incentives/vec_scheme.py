"""A reward scheme on a stable-baselines3 ``VecEnv``: the batched envs' form of the wrapper.

Kept apart from ``incentives.scheme`` so that the Gymnasium wrapper costs no more than
Gymnasium does: this module loads stable-baselines3 (and torch), and only code that has a
``VecEnv`` in hand needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from incentives.signal import ExplicitSignal

__all__ = ["VecRewardScheme"]


class VecRewardScheme(VecEnvWrapper):
    """A stable-baselines3 ``VecEnv`` wrapper whose rewards are a scheme's explicit signal.

    Put a ``VecMonitor`` inside it to record the task score per episode.
    """

    def __init__(self, venv: VecEnv, signal: ExplicitSignal) -> None:
        super().__init__(venv)
        self.signal = self._shared(signal)

    @staticmethod
    def _shared(signal: ExplicitSignal) -> ExplicitSignal:
        """``signal``, if one copy can serve every env (it keeps no per-episode state)."""
        if signal.stateful:
            raise ValueError(
                f"scheme {signal.name!r} keeps per-episode state, so one copy cannot serve a "
                "vector env; accepted: its Gymnasium wrapper around each env "
                "(make_vec_env(..., wrapper_class=...))"
            )
        return signal

    def use_signal(self, signal: ExplicitSignal) -> None:
        """Switch to another signal, e.g. at a phase boundary of a reward schedule."""
        self.signal = self._shared(signal)

    def reset(self) -> Any:
        """Reset the wrapped vector env."""
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env and replace each reward by the explicit signal of its events."""
        obs, _task_scores, dones, infos = self.venv.step_wait()
        rewards = np.empty(len(infos), dtype=np.float32)
        incentive = self.signal.incentive
        for i, (info, done) in enumerate(zip(infos, dones, strict=True)):
            given = incentive(info, bool(done))
            info["incentive"] = given.as_info()
            rewards[i] = given.reward
        return obs, rewards, dones, infos
