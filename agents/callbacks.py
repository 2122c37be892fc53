"""Callbacks that watch training: the three views of a run, logged side by side.

For every finished training episode they record the explicit return (what the scheme
paid), the task score (the env's own reward, from the innermost ``Monitor``) and the
behaviour the events show; periodically they evaluate the deterministic policy on a fixed
set of episodes. Nothing here feeds back into the reward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Figure
from stable_baselines3.common.vec_env import VecEnv

from agents.tensorboard import TB_ONLY
from incentives.behaviour import Behaviour

__all__ = [
    "Checkpointer",
    "EvaluationExtra",
    "IncentiveLogger",
    "PeriodicEvaluation",
    "evaluate",
]


class EpisodeTally:
    """Per-env running sums of the explicit reward and its terms, closed at episode ends.

    Reads a step's infos as dicts, or, when they carry columns (``infos.columns``, with
    the scheme's ``BatchIncentive`` and the monitor's episode sums in ``infos.derived``),
    as arrays: then no per-env dict is built, and the behaviour collector gets the ended
    episodes' columns (``add_columns``) when it has that method.
    """

    def __init__(self, n_envs: int) -> None:
        self.n_envs = n_envs
        self.returns = np.zeros(n_envs)
        # term -> per-env running sum, and whether the running episode has had the term
        self.terms: dict[str, np.ndarray] = {}
        self.seen: dict[str, np.ndarray] = {}
        self.finished_returns: list[float] = []
        # term -> [its sum over the closed episodes, how many of them had it]
        self.finished_terms: dict[str, list[float]] = {}
        self.finished = 0
        self.task_scores: list[float] = []
        self.episodes = 0

    def _term(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.terms:
            self.terms[name] = np.zeros(self.n_envs)
            self.seen[name] = np.zeros(self.n_envs, dtype=bool)
        return self.terms[name], self.seen[name]

    def step(
        self,
        rewards: np.ndarray,
        dones: np.ndarray,
        infos: Sequence[dict[str, Any]],
        behaviour: Behaviour,
    ) -> None:
        """Add one vector step; close the episodes that ended in it."""
        self.returns += rewards
        derived = getattr(infos, "derived", None)
        batch = None if derived is None else derived.get("incentive")
        if batch is not None:
            for name, values in batch.terms.items():
                sums, seen = self._term(name)
                sums += values
                seen |= batch.present[name]
        else:
            for i, info in enumerate(infos):
                incentive = info.get("incentive")
                if incentive:
                    for name, value in incentive["terms"].items():
                        sums, seen = self._term(name)
                        sums[i] += value
                        seen[i] = True
        ended = np.flatnonzero(dones)
        if not len(ended):
            return
        self.finished_returns.extend(self.returns[ended].tolist())
        self.returns[ended] = 0.0
        for name, sums in self.terms.items():
            seen = self.seen[name]
            closing = seen[ended]
            if closing.any():
                entry = self.finished_terms.setdefault(name, [0.0, 0])
                entry[0] += float(sums[ended].sum())
                entry[1] += int(closing.sum())
            sums[ended] = 0.0
            seen[ended] = False
        self.finished += len(ended)
        if derived is not None and "episode.r" in derived:
            self.task_scores.extend(
                np.asarray(derived["episode.r"], dtype=np.float64)[ended].tolist()
            )
            self._behaviour_columns(infos, ended, behaviour)
        else:
            self.task_scores.extend(
                float(infos[i]["episode"]["r"]) for i in ended.tolist() if "episode" in infos[i]
            )
            for i in ended.tolist():
                behaviour.add(infos[i])
        self.episodes += len(ended)

    @staticmethod
    def _behaviour_columns(infos: Any, ended: np.ndarray, behaviour: Behaviour) -> None:
        add_columns = getattr(behaviour, "add_columns", None)
        if add_columns is None:
            for i in ended.tolist():
                behaviour.add(infos[i])
        else:
            add_columns(infos.columns, ended)

    def flush(self) -> dict[str, float]:
        """The summary of the episodes closed since the last flush; then forget them.

        Episodes still running keep their sums: an episode that spans two rollouts is
        counted whole in the one where it ends.
        """
        out = self.summary()
        self.finished_returns.clear()
        self.finished_terms.clear()
        self.finished = 0
        self.task_scores.clear()
        return out

    def summary(self) -> dict[str, float]:
        """Mean explicit return, mean of each term, mean task score of the closed episodes."""
        out: dict[str, float] = {}
        if self.finished:
            out["explicit/return"] = float(np.mean(self.finished_returns))
            # A term absent from an episode counts as zero in its mean.
            for name in sorted(self.finished_terms):
                out[f"explicit/terms/{name}"] = self.finished_terms[name][0] / self.finished
        if self.task_scores:
            out["task/score"] = float(np.mean(self.task_scores))
        return out


class IncentiveLogger(BaseCallback):
    """Logs explicit return, task score and behaviour of the training episodes.

    Written once per rollout, as means over the episodes that ended in it, under
    ``explicit/return``, ``explicit/terms/<term>``, ``task/score`` and
    ``behaviour/<metric>``.
    """

    def __init__(self, behaviour: Behaviour, phase: int = 0) -> None:
        super().__init__()
        self.behaviour = behaviour
        self.phase = phase
        self.tally: EpisodeTally | None = None

    def _on_training_start(self) -> None:
        if self.tally is None:  # kept across phases: episodes run on through a switch
            self.tally = EpisodeTally(self.training_env.num_envs)

    def _on_step(self) -> bool:
        assert self.tally is not None
        self.tally.step(
            self.locals["rewards"], self.locals["dones"], self.locals["infos"], self.behaviour
        )
        return True

    def _on_rollout_end(self) -> None:
        assert self.tally is not None
        for key, value in self.tally.flush().items():
            self.logger.record(key, value)
        for key, value in self.behaviour.metrics().items():
            self.logger.record(f"behaviour/{key}", value)
        self.logger.record("explicit/phase", self.phase)
        self.behaviour.clear()


def evaluate(
    model: BaseAlgorithm,
    venv: VecEnv,
    episodes: int,
    seed: int,
    behaviour: Behaviour,
) -> dict[str, float]:
    """Play ``episodes`` episodes with the deterministic policy on a seeded env.

    The same ``seed`` gives the same episodes each time, so successive evaluations of a
    run, and runs of different schemes, are measured on the same set. Returns the
    explicit return, the task score and the behaviour metrics, by name.
    """
    venv.seed(seed)
    obs = venv.reset()
    tally = EpisodeTally(venv.num_envs)
    behaviour.clear()
    # Each env plays its share of the episodes, as SB3's evaluate_policy does: counting the
    # first episodes to end would favour short ones.
    n = venv.num_envs
    quota = np.array([episodes // n + (i < episodes % n) for i in range(n)])
    counted = np.zeros(n, dtype=int)
    masked = isinstance(model, MaskablePPO)
    while (counted < quota).any():
        if masked:  # only legal actions, as in training
            masks = get_action_masks(venv)
            actions, _ = model.predict(obs, action_masks=masks, deterministic=True)  # type: ignore[arg-type,call-arg]
        else:
            actions, _ = model.predict(obs, deterministic=True)  # type: ignore[arg-type]
        obs, rewards, dones, infos = venv.step(actions)
        keep = dones & (counted < quota)
        counted += keep
        tally.step(rewards, keep, infos, behaviour)
    views = tally.summary()
    out = {
        "explicit_return": views.get("explicit/return", float("nan")),
        "task_score": views.get("task/score", float("nan")),
    }
    out.update({k.removeprefix("explicit/"): v for k, v in views.items() if "terms/" in k})
    out.update(behaviour.metrics())
    return out


class EvaluationExtra(Protocol):
    """More measurement (or an action) after each periodic evaluation.

    Called with the model, the evaluation's results and the step; returns what to log
    under ``eval/``: floats as scalars (in the progress table and the results too),
    strings as TensorBoard text.
    """

    def __call__(
        self, model: BaseAlgorithm, results: Mapping[str, float], step: int
    ) -> Mapping[str, float | str]:
        """Measure (or act on) the model just evaluated."""


class PeriodicEvaluation(BaseCallback):
    """Evaluates the deterministic policy every ``every`` steps; logs ``eval/<name>/*``.

    Evaluations happen at the start of the first rollout past each ``every`` steps, once at
    step 0, and (by the caller) after the last update; ``final`` marks the last phase, whose
    last rollout leaves its evaluation to that one.
    """

    def __init__(
        self,
        make_env: Callable[[], VecEnv],
        make_behaviour: Callable[[], Behaviour],
        every: int,
        episodes: int,
        seed: int,
        name: str,
        extras: list[EvaluationExtra] | None = None,
    ) -> None:
        super().__init__()
        self.extras = list(extras or [])
        self.make_env = make_env
        self.make_behaviour = make_behaviour
        self.every = every
        self.episodes = episodes
        self.seed = seed
        self.name = name
        self.last_at = 0
        self.final = True  # whether this learn() call ends the run (its last phase)
        self.results: dict[str, float] = {}

    def run(self) -> dict[str, float]:
        """Evaluate now, log the metrics and keep them in ``results``."""
        venv = self.make_env()
        behaviour = self.make_behaviour()
        try:
            self.results = evaluate(self.model, venv, self.episodes, self.seed, behaviour)
        finally:
            venv.close()
        for key, value in self.results.items():
            self.logger.record(f"eval/{self.name}/{key}", value)
        figure = behaviour.figure(f"{self.name}, step {self.num_timesteps}")
        if figure is not None:
            self.logger.record(
                f"eval/{self.name}/figure", Figure(figure, close=True), exclude=TB_ONLY
            )
        more: dict[str, float] = {}
        for extra in self.extras:
            for name, entry in extra(self.model, self.results, self.num_timesteps).items():
                if isinstance(entry, str):  # text: TensorBoard only
                    self.logger.record(f"eval/{name}", entry, exclude=TB_ONLY)
                else:
                    more[name] = float(entry)
                    self.logger.record(f"eval/{name}", float(entry))
        self.results.update(more)
        self.last_at = self.num_timesteps
        return self.results

    def _on_training_start(self) -> None:
        if self.every > 0 and self.num_timesteps == 0:  # the untrained policy, at step 0
            self.run()
            self.logger.record("time/total_timesteps", 0, exclude="tensorboard")
            self.logger.dump(0)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        # At a rollout's start the policy has had every update so far; the evaluation is
        # logged with that rollout, at the step where it ends.
        if self.every <= 0 or self.num_timesteps - self.last_at < self.every:
            return
        if self.final and self._last_rollout():
            return  # the evaluation after the last update stands for it
        self.run()

    def _last_rollout(self) -> bool:
        size = int(getattr(self.model, "n_steps", 1)) * self.model.n_envs
        return self.num_timesteps + size >= self.model._total_timesteps


class Checkpointer(BaseCallback):
    """Calls ``save(model)`` at the start of a rollout once ``every`` steps have passed.

    At a rollout's start the model has had the update of every rollout before it and has
    not begun the next one, so a run resumed from there repeats no step and skips none.
    Put it first among the callbacks: what the others do at a rollout's start (evaluate,
    change the curriculum) then happens after the checkpoint, and again on resume.
    """

    def __init__(self, every: int, save: Callable[[BaseAlgorithm], None], last_at: int) -> None:
        super().__init__()
        self.every, self.save, self.last_at = every, save, last_at

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        if self.every > 0 and self.num_timesteps - self.last_at >= self.every:
            self.save(self.model)
            self.last_at = self.num_timesteps
