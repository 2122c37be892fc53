"""``incentives/Text-v0``: the corpus as a Gymnasium env, one document per episode.

Each step the agent sees the last ``context`` tokens of the document so far (padded with
0 on the left) and names the next token; the true token is revealed whatever it named
(teacher forcing). The task score is 1 for a correct prediction. Events, every step:
``family`` (the document's family), ``is_answer`` (whether the predicted token is part
of the answer) and ``correct``; at the episode's end also ``group`` (the family, or
``facts/<bucket>``), ``exact`` (every answer token right) and ``answer_token_acc``.

The language-model learner (``agents.lm``) trains on batches of the corpus directly;
this env is for agents that learn from rewards, and lets the text schemes wrap it.

Example:
    >>> env = TextEnv(documents=50, facts=40)
    >>> obs, info = env.reset(seed=0)
    >>> bool(obs[-1] == BOS), int(env.action_space.n)
    (True, 56)
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from envs.text.corpus import FAMILY_NAMES, TextCorpus
from envs.text.facts import BUCKETS, bucket_of
from envs.text.tokenizer import BOS, PAD, VOCAB_SIZE, decode

__all__ = ["TextEnv", "left_padded"]


def left_padded(tokens: npt.ArrayLike, context: int) -> npt.NDArray[np.int64]:
    """The last ``context`` of ``tokens``, padded with 0 on the left: an observation.

    Example:
        >>> left_padded([5, 6], 4).tolist(), left_padded([1, 2, 3], 2).tolist()
        ([0, 0, 5, 6], [2, 3])
    """
    seen = np.asarray(tokens, dtype=np.int64)[-context:]
    obs = np.full(context, PAD, dtype=np.int64)
    obs[context - len(seen) :] = seen
    return obs


class TextEnv(gym.Env[npt.NDArray[np.int64], int]):
    """Predict each next token of a corpus document; ``corpus`` knobs as ``TextCorpus``."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium style

    def __init__(self, context: int = 64, **corpus: Any) -> None:
        if isinstance(context, bool) or not isinstance(context, int) or context < 1:
            raise ValueError(f"context={context!r}; accepted: a whole number >= 1")
        self.corpus = TextCorpus(**corpus)
        self.context = context
        self.observation_space = gym.spaces.MultiDiscrete(np.full(context, VOCAB_SIZE))
        self.action_space = gym.spaces.Discrete(VOCAB_SIZE)  # type: ignore[assignment]
        self._start = self._end = self._at = 0
        self._answers: list[bool] = []

    def _observe(self) -> npt.NDArray[np.int64]:
        seen = self.corpus.tokens[max(self._start, self._at - self.context + 1) : self._at + 1]
        return left_padded(seen, self.context)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.int64], dict[str, Any]]:
        """Start a random training document at its ``^``."""
        super().reset(seed=seed)
        k = int(self.np_random.integers(len(self.corpus.doc_starts)))
        starts = self.corpus.doc_starts
        self._start = int(starts[k])
        self._end = int(starts[k + 1]) if k + 1 < len(starts) else len(self.corpus.tokens)
        self._at = self._start
        self._answers = []
        assert self.corpus.tokens[self._start] == BOS
        return self._observe(), {"family": FAMILY_NAMES[self.corpus.family[self._start]]}

    def step(
        self, action: int
    ) -> tuple[npt.NDArray[np.int64], SupportsFloat, bool, bool, dict[str, Any]]:
        """Judge the predicted next token, then reveal the true one."""
        target = self._at + 1
        correct = int(action) == int(self.corpus.tokens[target])
        is_answer = bool(self.corpus.answer[target])
        family = FAMILY_NAMES[self.corpus.family[target]]
        if is_answer:
            self._answers.append(correct)
        self._at = target
        terminated = self._at == self._end - 1
        info: dict[str, Any] = {"family": family, "is_answer": is_answer, "correct": correct}
        if terminated:
            info["group"] = self._group(family)
            info["exact"] = all(self._answers)
            info["answer_token_acc"] = float(np.mean(self._answers)) if self._answers else 0.0
        return self._observe(), float(correct), terminated, False, info

    def _group(self, family: str) -> str:
        """The document's scoring group: its family, or its facts bucket."""
        if family != "facts":
            return family
        prompt = decode(self.corpus.tokens[self._start + 1 : self._end - 1]).partition("=")[0]
        index = self.corpus.kb.prompts.index(prompt + "=")
        return f"facts/{BUCKETS[int(bucket_of(self.corpus.fact_counts[index]))][0]}"
