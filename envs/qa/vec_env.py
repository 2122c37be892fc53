"""The batched QA environment: N questions answered per call, in numpy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from envs.qa.actions import MODES
from envs.qa.columns import EventInfos
from envs.qa.grading import STRATA, grade
from envs.qa.questions import DEFAULT_RELIABILITIES, QuestionGenerator, Questions, QuestionStream

__all__ = ["QAVecEnv"]


class QAVecEnv(VecEnv):
    """``num_envs`` copies of ``QAEnv`` in one: every slot ends its episode on every step.

    Slot ``i`` at step ``t`` (counting ``reset()`` as step 0) gets question ``t * N + i`` of
    the stream, so a ``QAEnv`` reset with the same seed and then stepped ``N * T`` times sees
    the same questions in the same order. Infos hold the ``QAEnv`` events plus SB3's
    ``terminal_observation`` and ``TimeLimit.truncated`` (always False); they come as an
    ``EventInfos``, whose ``columns`` hold each event as an array (``mode`` and ``stratum``
    as codes into ``MODES`` and ``STRATA``) and whose dicts are built only if a caller
    indexes it.

    Args:
        num_envs: ``N``, questions answered per step.
        n_candidates, reliabilities, min_witnesses, max_witnesses, unanswerable_share: the
            ``QuestionGenerator`` parameters.

    Example:
        >>> venv = QAVecEnv(4)
        >>> venv.seed(0)
        [0, 0, 0, 0]
        >>> venv.reset().shape
        (4, 28)
        >>> obs, rewards, dones, infos = venv.step(np.full(4, 8))
        >>> rewards.tolist(), dones.all().item(), infos[0]["mode"]
        ([0.0, 0.0, 0.0, 0.0], True, 'abstain')
    """

    def __init__(
        self,
        num_envs: int,
        n_candidates: int = 4,
        reliabilities: Sequence[float] = DEFAULT_RELIABILITIES,
        min_witnesses: int = 1,
        max_witnesses: int = 8,
        unanswerable_share: float = 0.2,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} is invalid; accepted: an integer >= 1")
        self.generator = QuestionGenerator(
            n_candidates, reliabilities, min_witnesses, max_witnesses, unanswerable_share
        )
        self.render_mode: str | None = None
        observation_space = spaces.Box(
            0.0, 1.0, shape=(self.generator.n_features,), dtype=np.float32
        )
        super().__init__(num_envs, observation_space, spaces.Discrete(2 * n_candidates + 1))
        self._next_seed: int | None = None
        self._stream: QuestionStream | None = None
        self._questions: Questions | None = None
        self._obs = np.zeros((num_envs, self.generator.n_features), dtype=np.float32)
        self._actions: NDArray[Any] | None = None
        self._dones = np.ones(num_envs, dtype=bool)

    @property
    def stream_seed(self) -> int | None:
        """The seed of the question stream, None before the first reset."""
        return None if self._stream is None else self._stream.seed

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Set the stream seed used at the next ``reset()``; all slots share it."""
        if seed is None:
            seed = int(np.random.default_rng().integers(0, np.iinfo(np.int64).max))
        self._next_seed = seed
        return [seed] * self.num_envs

    def reset(self) -> NDArray[np.float32]:
        """Load the next ``N`` questions, restarting the stream if ``seed()`` was called."""
        if self._next_seed is not None:
            self._stream = QuestionStream(self.generator, self._next_seed)
            self._next_seed = None
        elif self._stream is None:
            self.seed()
            return self.reset()
        self._load(self._stream)
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self._obs

    def _load(self, stream: QuestionStream) -> None:
        self._questions = stream.take(self.num_envs)
        self._obs = self.generator.observe(self._questions)

    def step_async(self, actions: np.ndarray) -> None:
        """Store the ``(N,)`` actions for ``step_wait``."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Grade all ``N`` answers, then load the next ``N`` questions."""
        if self._stream is None or self._questions is None or self._actions is None:
            raise RuntimeError("QAVecEnv.step() called before reset()")
        questions, terminal_obs = self._questions, self._obs
        grades = grade(questions, self._actions)
        self._actions = None
        self._load(self._stream)
        # Columns, not dicts: see ``EventInfos``; a caller that indexes it gets the dicts.
        infos = EventInfos(
            {
                "mode": grades["mode"],
                "answer": grades["answer"],
                "correct": grades["correct"],
                "p_star": grades["p_star"],
                "p_chosen": grades["p_chosen"],
                "stratum": questions.answerable.astype(np.int8),
                "terminal_observation": terminal_obs,
                "TimeLimit.truncated": np.zeros(self.num_envs, dtype=bool),
            },
            {"mode": MODES, "stratum": STRATA},
        )
        rewards = grades["task_score"].astype(np.float32)
        # an EventInfos is a Sequence of the info dicts, not SB3's list
        return self._obs, rewards, self._dones.copy(), infos  # type: ignore[return-value]

    def get_state(self) -> dict[str, Any]:
        """Where the env stands: the stream, the questions shown, a seed set for the next
        reset. ``set_state`` on a new ``QAVecEnv`` of the same arguments continues from it."""
        return {
            "next_seed": self._next_seed,
            "stream": None if self._stream is None else self._stream.get_state(),
            "questions": self._questions,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from a ``get_state()`` of a ``QAVecEnv`` built with the same arguments.

        Example:
            >>> a, b = QAVecEnv(4), QAVecEnv(4)
            >>> _ = a.seed(1), a.reset(), a.step(np.zeros(4, dtype=int))
            >>> b.set_state(a.get_state())
            >>> bool((a.step(np.zeros(4, dtype=int))[0] == b.step(np.zeros(4, dtype=int))[0]).all())
            True
        """
        self._next_seed = state["next_seed"]
        self._stream = None
        if state["stream"] is not None:
            self._stream = QuestionStream(self.generator, state["stream"]["seed"])
            self._stream.set_state(state["stream"])
        self._questions = state["questions"]
        if self._questions is not None:
            self._obs = self.generator.observe(self._questions)
        self._actions = None

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The batched env's attribute, once per requested slot."""
        value = getattr(self, attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute; the slots share one, so only all of them at once."""
        if len(self._indices(indices)) != self.num_envs:
            raise ValueError("QAVecEnv slots share their attributes; set them for all slots")
        setattr(self, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of the batched env once, its result repeated per requested slot."""
        method = getattr(self, method_name, None)
        if not callable(method):
            raise NotImplementedError(f"QAVecEnv has no method {method_name!r}")
        result = method(*method_args, **method_kwargs)
        return [result] * len(self._indices(indices))

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: VecEnvIndices = None
    ) -> list[bool]:
        """No slot is wrapped: there are no per-slot envs."""
        return [False] * len(self._indices(indices))

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        chosen: Iterable[int] = self._get_indices(indices)
        return list(chosen)
