"""Answering questions as an RL env: a language model writes its answer token by token.

A question is a prompt of the corpus's families (mainly the key-value facts, plus
arithmetic): ``^kelo pet=``. The answer is the tokens generated after it, up to ``$``
(or ``max_tokens``). How it is given is read from its first token, as the QA env's
``mode`` event: ``?`` is "I don't know" (``abstain``), ``~`` hedges the answer after it
(``hedge``), anything else is a plain ``answer``. So the QA schemes (``hedging_grid``,
``binary``, ``confidence_target``) judge a language model's answers unchanged.

Events of a finished answer (``grade``): ``mode``, ``correct`` (the answer, marker
aside, is exactly right; never for "I don't know"), ``family``, ``group`` (the family or
``facts/<bucket>``), ``count`` (how often the corpus stated the fact; -1 for other
families), ``answer`` (the text). The learner adds the model's own probability of its
answer (``confidence``), which only it knows.

Questions are split in two by a hash of the prompt, the same for every run seed:
``train`` questions are asked while learning, ``eval`` questions only when measuring,
so abstaining on unknown facts must be learned as a rule of the model's own knowledge,
not fact by fact. Both halves hold facts of every frequency.

Example:
    >>> corpus = TextCorpus(documents=300, facts=40)
    >>> pool = QuestionPool(corpus, "eval")
    >>> grade(encode_many("?$"), pool.answers[0])["mode"], grade(
    ...     encode_many("~" + pool.answers[0] + "$"), pool.answers[0])["correct"]
    ('abstain', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from envs.text.corpus import FAMILY_NAMES, TextCorpus, is_heldout
from envs.text.env import left_padded
from envs.text.facts import BUCKETS, bucket_of
from envs.text.tokenizer import BOS, EOS, HEDGE, IDK, VOCAB_SIZE, decode, encode_many

__all__ = [
    "ANSWER_EVENTS",
    "MODES",
    "SPLITS",
    "QuestionPool",
    "TextAnswerEnv",
    "grade",
]

#: How an answer is given: the QA env's ``mode`` vocabulary.
MODES: tuple[str, ...] = ("answer", "hedge", "abstain")
#: The events of every finished answer (the learner adds ``confidence``).
ANSWER_EVENTS: tuple[str, ...] = ("mode", "correct", "family", "group", "count", "answer")
#: The two halves of the questions.
SPLITS = ("train", "eval")
_SALT = 16  # the split's hash salt: independent of the corpus's held-out items


def grade(tokens: npt.ArrayLike, truth: str) -> dict[str, Any]:
    """The mode and correctness of generated ``tokens`` (``$`` and what follows ignored)
    against the right answer ``truth``.

    Example:
        >>> grade(encode_many("moz$"), "moz"), grade(encode_many("~mo$"), "moz")["correct"]
        ({'mode': 'answer', 'correct': True, 'answer': 'moz'}, False)
    """
    ids = np.asarray(tokens, dtype=np.int64)
    ends = np.flatnonzero(ids == EOS)
    body = ids[: ends[0]] if ends.size else ids
    if body.size and body[0] == IDK:
        return {"mode": "abstain", "correct": False, "answer": "?"}
    hedged = bool(body.size and body[0] == HEDGE)
    text = decode(body[1:] if hedged else body)
    return {
        "mode": "hedge" if hedged else "answer",
        "correct": bool(ends.size) and text == truth,
        "answer": text,
    }


class QuestionPool:
    """The questions of one split: prompts, right answers, families, fact counts.

    ``families`` are those asked (``facts`` and rule families); ``weights`` their shares
    when sampling (default: alike). Facts are asked uniformly over the knowledge base's
    facts of the split (each fact alike, whatever its frequency in the corpus: the
    population of Kalai et al.'s argument); a rule family's questions are its held-out
    items for ``eval`` and fresh items of its training form for ``train``.
    """

    def __init__(
        self,
        corpus: TextCorpus,
        split: str,
        families: Sequence[str] = ("facts", "addition"),
        weights: Sequence[float] | None = None,
        per_family: int = 512,
        seed: int = 0,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r}; accepted: {', '.join(SPLITS)}")
        if isinstance(families, str) or not families:
            raise ValueError(f"answering families={families!r}; accepted: a non-empty list")
        for name in families:
            if name not in FAMILY_NAMES:
                raise ValueError(
                    f"answering families has {name!r}; accepted: {', '.join(FAMILY_NAMES)}"
                )
        self.families = tuple(families)
        shares = np.ones(len(families)) if weights is None else np.asarray(weights, float)
        if shares.shape != (len(families),) or not np.all(shares >= 0) or shares.sum() <= 0:
            raise ValueError(f"answering weights={weights!r}; accepted: one share >= 0 a family")
        self.shares = shares / shares.sum()
        self.prompts: list[str] = []
        self.answers: list[str] = []
        self.family: list[str] = []
        counts: list[int] = []
        rng = np.random.default_rng([seed, 17, SPLITS.index(split)])
        self._members: list[npt.NDArray[np.int64]] = []
        for name in self.families:
            start = len(self.prompts)
            if name == "facts":
                kb = corpus.kb
                mine = is_heldout(kb.prompts, 0.5, _SALT) == (split == "eval")
                picked = np.flatnonzero(mine).tolist()
                self.prompts += [kb.prompts[i] for i in picked]
                self.answers += [kb.answers[i] for i in picked]
                counts += corpus.fact_counts[picked].tolist()
            else:
                items = corpus.draw(rng, name, per_family, heldout=split == "eval")
                self.prompts += items.prompts
                self.answers += items.answers
                counts += [-1] * len(items)
            self.family += [name] * (len(self.prompts) - start)
            self._members.append(np.arange(start, len(self.prompts)))
        self.counts = np.asarray(counts, dtype=np.int64)
        self.encoded = [encode_many(f"^{p}") for p in self.prompts]

    def __len__(self) -> int:
        return len(self.prompts)

    def group(self, k: int) -> str:
        """Question ``k``'s scoring group: its family, or ``facts/<bucket>``."""
        if self.family[k] != "facts":
            return self.family[k]
        return f"facts/{BUCKETS[int(bucket_of(self.counts[k]))][0]}"

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """``n`` question indices: a family by its share, then a question of it alike."""
        which = rng.choice(len(self.families), size=n, p=self.shares)
        out = np.empty(n, dtype=np.int64)
        for f, members in enumerate(self._members):
            chosen = np.flatnonzero(which == f)
            out[chosen] = members[rng.integers(0, len(members), size=chosen.size)]
        return out

    def events(self, k: int, tokens: npt.ArrayLike) -> dict[str, Any]:
        """The events of question ``k`` answered with ``tokens``."""
        return {
            **grade(tokens, self.answers[k]),
            "family": self.family[k],
            "group": self.group(k),
            "count": int(self.counts[k]),
        }

    def longest(self, max_tokens: int) -> int:
        """Tokens of the longest prompt plus ``max_tokens`` of answer."""
        return max(len(e) for e in self.encoded) + max_tokens


class TextAnswerEnv(gym.Env[npt.NDArray[np.int64], int]):
    """``incentives/TextAnswer-v0``: answer one question per episode, a token a step.

    The observation is the last ``context`` tokens (prompt and answer so far, padded
    with 0 on the left); the action names the next token. The episode ends at ``$`` or
    after ``max_tokens``; the task score is 1 for a right answer (hedged or not), and
    the last step's info holds the events (``ANSWER_EVENTS``). ``corpus`` knobs as
    ``TextCorpus``; ``families``/``weights`` as ``QuestionPool``.

    Example:
        >>> env = TextAnswerEnv(documents=300, facts=40)
        >>> _ = env.reset(seed=0)
        >>> _, score, done, _, info = env.step(IDK)
        >>> _, score, done, _, info = env.step(EOS)
        >>> done, score, info["mode"]
        (True, 0.0, 'abstain')
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium style

    def __init__(
        self,
        context: int = 64,
        max_tokens: int = 8,
        split: str = "train",
        families: Sequence[str] = ("facts", "addition"),
        weights: Sequence[float] | None = None,
        **corpus: Any,
    ) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens={max_tokens!r}; accepted: a whole number >= 1")
        self.pool = QuestionPool(TextCorpus(**corpus), split, families, weights)
        if context < self.pool.longest(max_tokens):
            raise ValueError(
                f"context={context!r}; accepted: at least {self.pool.longest(max_tokens)} "
                "(the longest prompt and its answer)"
            )
        self.context, self.max_tokens = context, max_tokens
        self.observation_space = gym.spaces.MultiDiscrete(np.full(context, VOCAB_SIZE))
        self.action_space = gym.spaces.Discrete(VOCAB_SIZE)  # type: ignore[assignment]
        self._question = 0
        self._tokens: list[int] = []
        self._answer: list[int] = []

    def _observe(self) -> npt.NDArray[np.int64]:
        return left_padded(self._tokens, self.context)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.int64], dict[str, Any]]:
        """Ask a question: its prompt is the observation."""
        super().reset(seed=seed)
        self._question = int(self.pool.sample(self.np_random, 1)[0])
        self._tokens = self.pool.encoded[self._question].astype(np.int64).tolist()
        self._answer = []
        assert self._tokens[0] == BOS
        return self._observe(), {"family": self.pool.family[self._question]}

    def step(
        self, action: int
    ) -> tuple[npt.NDArray[np.int64], SupportsFloat, bool, bool, dict[str, Any]]:
        """Write one token of the answer; grade it once it ends."""
        token = int(action)
        self._tokens.append(token)
        self._answer.append(token)
        if token != EOS and len(self._answer) < self.max_tokens:
            return self._observe(), 0.0, False, False, {}
        info = self.pool.events(self._question, self._answer)
        return self._observe(), float(info["correct"]), True, False, info
