"""A reward scheme on a stable-baselines3 ``VecEnv``: the batched envs' form of the wrapper.

Kept apart from ``incentives.scheme`` so that the Gymnasium wrapper costs no more than
Gymnasium does: this module loads stable-baselines3 (and torch), and only code that has a
``VecEnv`` in hand needs it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from incentives.signal import ExplicitSignal

__all__ = ["VecRewardScheme", "VecTaskMonitor"]

log = logging.getLogger(__name__)


class VecTaskMonitor(VecMonitor):
    """SB3's ``VecMonitor`` that also reads columns: the task score of each episode.

    On a vector env whose infos carry event columns (``infos.columns``, as the batched
    QA env's ``EventInfos`` do) it keeps the episode sums as arrays and puts them in
    ``infos.derived`` as ``episode.r``, ``episode.l``, ``episode.t`` (meaningful where an
    episode ended); each
    ended slot's dict gets SB3's ``info["episode"]`` only if a caller builds the dicts.
    Otherwise it is ``VecMonitor`` as it comes.
    """

    def step_wait(self) -> VecEnvStepReturn:
        """Step the env; add each ended episode's return, length and time."""
        obs, rewards, dones, infos = self.venv.step_wait()
        self.episode_returns += rewards
        self.episode_lengths += 1
        elapsed = round(time.time() - self.t_start, 6)
        ended = np.asarray(dones, dtype=bool)
        n_ended = int(ended.sum())
        derived = getattr(infos, "derived", None)
        columnar: Any = infos  # an EventInfos when it has ``derived``
        if derived is None:  # dicts: VecMonitor's own loop
            infos = list(infos)
            for i in np.flatnonzero(ended).tolist():
                infos[i] = self._end(i, elapsed, dict(infos[i]))
            return obs, rewards, dones, infos
        returns = self.episode_returns.copy()
        lengths = self.episode_lengths.copy()
        derived["episode.r"] = returns
        derived["episode.l"] = lengths
        derived["episode.t"] = np.full(len(ended), elapsed)
        if n_ended:
            self.episode_count += n_ended
            self.episode_returns[ended] = 0
            self.episode_lengths[ended] = 0
            columnar.set_rows(
                "episode", lambda i: {"r": returns[i], "l": lengths[i], "t": elapsed}, ended
            )
            if self.results_writer:
                for i in np.flatnonzero(ended).tolist():
                    self.results_writer.write_row({"r": returns[i], "l": lengths[i], "t": elapsed})
        return obs, rewards, dones, infos

    def _end(self, i: int, elapsed: float, info: dict[str, Any]) -> dict[str, Any]:
        """Close env ``i``'s episode in ``info`` (a copy), as ``VecMonitor`` does."""
        episode = {"r": self.episode_returns[i], "l": self.episode_lengths[i], "t": elapsed}
        for key in self.info_keywords:
            episode[key] = info[key]
        info["episode"] = episode
        self.episode_count += 1
        self.episode_returns[i] = 0
        self.episode_lengths[i] = 0
        if self.results_writer:
            self.results_writer.write_row(episode)
        return info


class VecRewardScheme(VecEnvWrapper):
    """A stable-baselines3 ``VecEnv`` wrapper whose rewards are a scheme's explicit signal.

    Put a ``VecTaskMonitor`` (or ``VecMonitor``) inside it to record the task score per
    episode.
    """

    def __init__(self, venv: VecEnv, signal: ExplicitSignal) -> None:
        super().__init__(venv)
        self.signal = self._shared(signal)
        self._noted = ""

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

    def progress(self, step: int) -> None:
        """Move the signal's schedule clock (``ExplicitSignal.progress``)."""
        self.signal.progress(step)

    def reset(self) -> Any:
        """Reset the wrapped vector env."""
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env and replace each reward by the explicit signal of its events.

        With event columns (``infos.columns``) and a signal that has a batched form
        (``ExplicitSignal.batch_terms``) the rewards are one numpy computation; the
        ``BatchIncentive`` goes into ``infos.derived["incentive"]``, and each env's
        ``info["incentive"]`` is written only if a caller builds the dicts. Otherwise,
        each env's dict in turn (the slow path; said once in the log).
        """
        obs, _task_scores, dones, infos = self.venv.step_wait()
        columns = getattr(infos, "columns", None)
        if columns is not None:
            batch = self.signal.batch_incentive(columns, dones)
            if batch is not None:
                columnar: Any = infos  # an EventInfos: see envs.qa.columns
                columnar.derived["incentive"] = batch
                columnar.set_rows("incentive", batch.as_info)
                return obs, batch.rewards.astype(np.float32), dones, infos
            if self._noted != self.signal.name:
                self._noted = self.signal.name
                log.info(
                    "scheme %r has no batched form (ExplicitSignal.batch_terms): rewarding "
                    "each env's info dict in turn, the slow path",
                    self.signal.name,
                )
        rewards = np.empty(len(infos), dtype=np.float32)
        incentive = self.signal.incentive
        for i, (info, done) in enumerate(zip(infos, dones, strict=True)):
            given = incentive(info, bool(done))
            info["incentive"] = given.as_info()
            rewards[i] = given.reward
        return obs, rewards, dones, infos
