"""A start-position curriculum for chess endgames: easy starts first, never a changed reward.

A sparse win reward teaches little while random play rarely wins (a random learner mates in
about 1.5% of random kqk games against a random defender). A ``Curriculum`` serves, early
in training, a fraction of the episodes from positions with a short forced mate
(``ChessEnv(mate_in=...)``), then longer ones, then plain positions; the reward stays the
scheme's. ``CurriculumCallback`` applies it to the training envs as training goes on;
``curriculum_callback`` builds it from a run's ``env.curriculum``.

The config is a list of stages, each applying until a number of timesteps; after the last
stage there is no curriculum::

    curriculum:
      - {until: 100000, mate_in: 1, fraction: 0.5}
      - {until: 300000, mate_in: 2, fraction: 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from envs.chess.starts import MAX_MATE_IN

__all__ = ["Curriculum", "CurriculumCallback", "CurriculumStage", "curriculum_callback"]

_KEYS = ("until", "mate_in", "fraction")


@dataclass(frozen=True)
class CurriculumStage:
    """What the training envs serve while ``num_timesteps < until``.

    Attributes:
        until: the timestep at which the stage ends (the next one begins).
        mate_in: starts with a forced mate in at most this many moves; ``None`` for plain
            starts during the stage.
        fraction: the fraction of episodes that start from such positions.
    """

    until: int
    mate_in: int | None
    fraction: float


def _integer(value: Any) -> int | None:
    """``value`` as an ``int`` if it is a whole number (``1e5`` from YAML included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return None


class Curriculum:
    """A schedule of start positions by timestep: a list of ``CurriculumStage``.

    Example:
        >>> curriculum = Curriculum.from_config(
        ...     [{"until": 1000, "mate_in": 1, "fraction": 0.5}, {"until": 3000, "mate_in": 2}]
        ... )
        >>> curriculum.at(0), curriculum.at(1000), curriculum.at(3000)
        ((1, 0.5), (2, 1.0), (None, 0.0))
    """

    def __init__(self, stages: Sequence[CurriculumStage]) -> None:
        self.stages = tuple(stages)

    @classmethod
    def from_config(cls, config: Sequence[Mapping[str, Any]] | None) -> Curriculum:
        """The curriculum of a config list (``None`` or ``[]``: none), checked.

        Each stage is a mapping with ``until`` (a timestep greater than the previous
        stage's), ``mate_in`` (``null`` or 1 to ``MAX_MATE_IN``) and optionally
        ``fraction`` (0 to 1, default 1). A bad value raises a one-line ``ValueError``
        naming it and what is accepted.
        """
        if config is None:
            return cls(())
        if isinstance(config, (str, bytes)) or not isinstance(config, Sequence):
            raise ValueError(
                f"curriculum={config!r}; accepted: a list of stages {{until, mate_in, fraction}}"
            )
        stages: list[CurriculumStage] = []
        for k, stage in enumerate(config):
            where = f"curriculum[{k}]"
            if not isinstance(stage, Mapping):
                raise ValueError(
                    f"{where}={stage!r}; accepted: a mapping {{until, mate_in, fraction}}"
                )
            unknown = [key for key in stage if key not in _KEYS]
            if unknown:
                raise ValueError(
                    f"{where} has unknown key {unknown[0]!r}; accepted: {', '.join(_KEYS)}"
                )
            for key in ("until", "mate_in"):
                if key not in stage:
                    raise ValueError(f"{where} has no {key!r}; accepted: {', '.join(_KEYS)}")
            previous = stages[-1].until if stages else 0
            until = _integer(stage["until"])
            if until is None or until <= previous:
                above = f"the previous stage's until ({previous})" if stages else "0"
                raise ValueError(
                    f"{where}.until={stage['until']!r}; accepted: an integer timestep "
                    f"greater than {above}"
                )
            mate_in = stage["mate_in"]
            if mate_in is not None:
                mate_in = _integer(mate_in)
                if mate_in is None or not 1 <= mate_in <= MAX_MATE_IN:
                    raise ValueError(
                        f"{where}.mate_in={stage['mate_in']!r}; accepted: null or an integer "
                        f"from 1 to {MAX_MATE_IN}"
                    )
            fraction = stage.get("fraction", 1.0)
            if (
                isinstance(fraction, bool)
                or not isinstance(fraction, (int, float, np.integer, np.floating))
                or not 0 <= fraction <= 1
            ):
                raise ValueError(f"{where}.fraction={fraction!r}; accepted: a number from 0 to 1")
            stages.append(CurriculumStage(until, mate_in, float(fraction)))
        return cls(stages)

    def at(self, num_timesteps: int) -> tuple[int | None, float]:
        """``(mate_in, fraction)`` at ``num_timesteps``: ``(None, 0.0)`` after the last stage."""
        for stage in self.stages:
            if num_timesteps < stage.until:
                if stage.mate_in is None:
                    return None, 0.0
                return stage.mate_in, stage.fraction
        return None, 0.0

    def __bool__(self) -> bool:
        return bool(self.stages)

    def __repr__(self) -> str:
        return f"Curriculum({list(self.stages)!r})"


class CurriculumCallback(BaseCallback):
    """Applies a ``Curriculum`` to every env of the training ``VecEnv`` as training goes on.

    At initialisation and at each rollout start it looks up the stage for the model's
    ``num_timesteps``; when it differs from the one the envs have, it calls
    ``set_curriculum(mate_in, fraction)`` on each env through ``VecEnv.env_method`` (which
    reaches the env inside Gymnasium wrappers, and in subprocesses). An env takes it up at
    its next reset, so a stage begins within a rollout (``n_steps`` per env) of its
    timestep, and each env finishes the game it is playing. It records
    ``curriculum/mate_in`` (0: none) and ``curriculum/fraction`` at each rollout.

    Call ``init_callback(model)`` before ``model.learn`` for the very first episodes to
    follow the first stage: ``learn`` resets the envs before it initialises its callbacks.
    """

    def __init__(self, curriculum: Curriculum, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.curriculum = curriculum
        self._applied: tuple[VecEnv, tuple[int | None, float]] | None = None

    def _init_callback(self) -> None:
        self._apply()

    def _on_rollout_start(self) -> None:
        mate_in, fraction = self._apply()
        self.logger.record("curriculum/mate_in", mate_in or 0)
        self.logger.record("curriculum/fraction", fraction)

    def _on_step(self) -> bool:
        return True

    def _apply(self) -> tuple[int | None, float]:
        """Give the envs the stage of now, unless they have it already; return it."""
        stage = self.curriculum.at(int(self.model.num_timesteps))
        venv = self.training_env
        if self._applied is not None and self._applied[0] is venv and self._applied[1] == stage:
            return stage
        try:
            venv.env_method("set_curriculum", *stage)
        except AttributeError:
            raise ValueError(
                "the curriculum needs envs with set_curriculum(mate_in, fraction); accepted: "
                "ChessEnv with start kqk, krk or kpk"
            ) from None
        self._applied = (venv, stage)
        if self.verbose:
            print(f"curriculum at {self.model.num_timesteps}: mate_in={stage[0]}, {stage[1]}")
        return stage


def curriculum_callback(env_config: Mapping[str, Any]) -> CurriculumCallback | None:
    """The callback of a run's ``env.curriculum``, checked now; None when it has no stage."""
    curriculum = Curriculum.from_config(list(env_config.get("curriculum") or []))
    return CurriculumCallback(curriculum) if curriculum else None
