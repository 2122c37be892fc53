"""The QA environment: one question per episode, answered, hedged, or declined."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from envs.qa.grading import EVENT_KEYS, event_columns, grade
from envs.qa.questions import DEFAULT_RELIABILITIES, QuestionGenerator, Questions, QuestionStream

__all__ = ["QAEnv"]

Obs = NDArray[np.float32]


class QAEnv(gym.Env[Obs, np.int64]):
    """A question-answering env whose exact Bayes posterior is known to the grader.

    Each episode is one step: the agent sees the witnesses' votes (see ``QuestionGenerator``)
    and picks an action of ``Discrete(2K + 1)`` (``decode_action``). The reward is the task
    score, 1.0 if the chosen candidate is the truth, hedged or not, else 0.0; the info holds
    the events ``mode``, ``answer``, ``correct``, ``p_star``, ``p_chosen``, ``stratum``.

    Questions come from a ``QuestionStream``: ``reset(seed=s)`` restarts it at seed ``s``,
    ``reset()`` moves on to the next question. ``QAVecEnv`` seeded with ``s`` serves the
    same questions in the same order.

    Args:
        n_candidates, reliabilities, min_witnesses, max_witnesses, unanswerable_share: the
            ``QuestionGenerator`` parameters.
        render_mode: None, or "ansi" for a text table of the current question.

    Example:
        >>> env = QAEnv()
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.action_space
        ((28,), Discrete(9))
        >>> _, reward, terminated, truncated, info = env.step(8)
        >>> reward, terminated, truncated, info["mode"], info["correct"]
        (0.0, True, False, 'abstain', False)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012 - gymnasium style

    def __init__(
        self,
        n_candidates: int = 4,
        reliabilities: Sequence[float] = DEFAULT_RELIABILITIES,
        min_witnesses: int = 1,
        max_witnesses: int = 8,
        unanswerable_share: float = 0.2,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r} is invalid; accepted: None or one of "
                f"{self.metadata['render_modes']}"
            )
        self.generator = QuestionGenerator(
            n_candidates, reliabilities, min_witnesses, max_witnesses, unanswerable_share
        )
        self.render_mode = render_mode
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(self.generator.n_features,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(2 * n_candidates + 1)
        self._stream: QuestionStream | None = None
        self._question: Questions | None = None
        self._done = True

    @property
    def question(self) -> Questions | None:
        """The current question as a batch of one, None before the first reset."""
        return self._question

    @property
    def stream_seed(self) -> int | None:
        """The seed of the question stream, None before the first reset."""
        return None if self._stream is None else self._stream.seed

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """Start an episode on the next question; a seed restarts the question stream."""
        super().reset(seed=seed)
        if seed is not None:
            self._stream = QuestionStream(self.generator, seed)
        elif self._stream is None:
            self._stream = QuestionStream(
                self.generator, int(self.np_random.integers(0, np.iinfo(np.int64).max))
            )
        self._question = self._stream.take(1)
        self._done = False
        return self.generator.observe(self._question)[0], {}

    def step(self, action: np.int64 | int) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        """Grade the action; the episode ends here whatever it is."""
        if self._done or self._question is None:
            raise RuntimeError("QAEnv.step() called on a finished episode; call reset() first")
        grades = grade(self._question, np.array([action]))
        self._done = True
        columns = event_columns(self._question, grades)
        info = {key: column[0] for key, column in zip(EVENT_KEYS, columns, strict=True)}
        obs = self.generator.observe(self._question)[0]
        return obs, float(grades["task_score"][0]), True, False, info

    def get_state(self) -> dict[str, Any]:
        """Everything the env's future depends on: its generator, stream and question.

        For an exact resume: ``set_state`` on a new ``QAEnv`` of the same arguments makes
        it continue as this one does. Plain data (numpy arrays and dicts), picklable.
        """
        return {
            "np_random": self.np_random.bit_generator.state,  # made now if never seeded
            "np_random_seed": self._np_random_seed,
            "stream": None if self._stream is None else self._stream.get_state(),
            "question": self._question,
            "done": self._done,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from a ``get_state()`` of an env built with the same arguments.

        Example:
            >>> env, copy = QAEnv(), QAEnv()
            >>> _ = env.reset(seed=5)
            >>> copy.set_state(env.get_state())
            >>> env.step(0)[4]["p_star"] == copy.step(0)[4]["p_star"]
            True
        """
        self.np_random.bit_generator.state = state["np_random"]
        self._np_random_seed = state["np_random_seed"]
        self._stream = None
        if state["stream"] is not None:
            self._stream = QuestionStream(self.generator, state["stream"]["seed"])
            self._stream.set_state(state["stream"])
        self._question = state["question"]
        self._done = bool(state["done"])

    def render(self) -> str | None:
        """The current question as text: votes per candidate and reliability level."""
        if self.render_mode != "ansi" or self._question is None:
            return None
        levels = " ".join(f"{r:>5.2f}" for r in self.generator.reliabilities)
        lines = [f"cand  {levels}   posterior"]
        q = self._question
        for k in range(self.generator.n_candidates):
            counts = " ".join(f"{c:>5d}" for c in q.evidence[0, k].tolist())
            lines.append(f"{k:>4}  {counts}   {q.posterior[0, k]:.3f}")
        return "\n".join(lines) + "\n"
