"""The generative model of QA questions: witnesses vote, and the exact posterior is known.

A question has ``K`` candidate answers, one of them true (uniformly). An answerable question
has ``m`` witnesses; each has a reliability ``r`` drawn from a discrete set of levels, votes
for the truth with probability ``r`` and otherwise for one of the other ``K - 1`` candidates
uniformly. An unanswerable question has no witnesses. The agent sees the vote counts per
candidate and reliability level; the environment also knows the exact Bayes posterior, so
"knowing what you don't know" can be measured against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_RELIABILITIES",
    "QuestionGenerator",
    "QuestionStream",
    "Questions",
]

DEFAULT_RELIABILITIES: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

# Part of a stream's identity: the same seed with another block size gives other questions.
BLOCK_SIZE = 1024


@dataclass(frozen=True)
class Questions:
    """A batch of ``n`` questions: what the agent may see and what only the grader knows.

    Attributes:
        evidence: ``(n, K, L)`` int64, votes for candidate ``k`` from witnesses of level ``l``.
        truth: ``(n,)`` int64, the true candidate.
        posterior: ``(n, K)`` float64, the exact posterior over candidates given the evidence.
        answerable: ``(n,)`` bool, whether the question has witnesses at all.
    """

    evidence: NDArray[np.int64]
    truth: NDArray[np.int64]
    posterior: NDArray[np.float64]
    answerable: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.truth.shape[0])

    @property
    def p_star(self) -> NDArray[np.float64]:
        """The probability that the best available answer is right, ``(n,)``."""
        return self.posterior.max(axis=1)

    @property
    def best(self) -> NDArray[np.int64]:
        """The most probable candidate, lowest index on ties, ``(n,)``."""
        return self.posterior.argmax(axis=1)

    def slice(self, start: int, stop: int) -> Questions:
        """Return questions ``start`` to ``stop - 1`` as views, without copying."""
        return Questions(
            self.evidence[start:stop],
            self.truth[start:stop],
            self.posterior[start:stop],
            self.answerable[start:stop],
        )

    @staticmethod
    def concatenate(parts: Sequence[Questions]) -> Questions:
        """Join batches in order into one."""
        if len(parts) == 1:
            return parts[0]
        return Questions(
            np.concatenate([p.evidence for p in parts]),
            np.concatenate([p.truth for p in parts]),
            np.concatenate([p.posterior for p in parts]),
            np.concatenate([p.answerable for p in parts]),
        )


def _check_int(name: str, value: object, lowest: int, accepted: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lowest:
        raise ValueError(f"{name}={value!r} is invalid; accepted: {accepted}")
    return int(value)


class QuestionGenerator:
    """Samples questions from the witness model and computes their exact posterior.

    Args:
        n_candidates: ``K``, the number of candidate answers, at least 2.
        reliabilities: the witness reliability levels, each in (0, 1).
        min_witnesses: fewest witnesses of an answerable question, at least 1.
        max_witnesses: most witnesses of an answerable question, at least ``min_witnesses``.
        unanswerable_share: probability that a question has no witnesses, in [0, 1].

    Raises:
        ValueError: a parameter is out of range; the message names it.

    Example:
        >>> gen = QuestionGenerator(n_candidates=3, reliabilities=(0.6, 0.9))
        >>> qs = gen.sample(np.random.default_rng(0), 5)
        >>> qs.evidence.shape, gen.observe(qs).shape
        ((5, 3, 2), (5, 6))
        >>> bool(np.allclose(qs.posterior.sum(axis=1), 1.0))
        True
    """

    def __init__(
        self,
        n_candidates: int = 4,
        reliabilities: Sequence[float] = DEFAULT_RELIABILITIES,
        min_witnesses: int = 1,
        max_witnesses: int = 8,
        unanswerable_share: float = 0.2,
    ) -> None:
        self.n_candidates = _check_int("n_candidates", n_candidates, 2, "an integer >= 2")
        self.min_witnesses = _check_int("min_witnesses", min_witnesses, 1, "an integer >= 1")
        self.max_witnesses = _check_int(
            "max_witnesses",
            max_witnesses,
            self.min_witnesses,
            f"an integer >= min_witnesses ({self.min_witnesses})",
        )
        if isinstance(reliabilities, str | bytes) or len(reliabilities) == 0:
            raise ValueError(
                f"reliabilities={reliabilities!r} is invalid; accepted: a non-empty sequence "
                "of floats in (0, 1)"
            )
        for r in reliabilities:
            if not isinstance(r, int | float | np.floating) or not 0.0 < float(r) < 1.0:
                raise ValueError(
                    f"reliabilities contains {r!r}; accepted: floats strictly between 0 and 1"
                )
        self.reliabilities: tuple[float, ...] = tuple(float(r) for r in reliabilities)
        share = unanswerable_share
        if not isinstance(share, int | float | np.floating) or not 0.0 <= float(share) <= 1.0:
            raise ValueError(
                f"unanswerable_share={share!r} is invalid; accepted: a float in [0, 1]"
            )
        self.unanswerable_share = float(share)

        k = self.n_candidates
        r_levels = np.asarray(self.reliabilities)
        # A vote for c multiplies c's likelihood by r and every other candidate's by
        # (1 - r) / (K - 1); only the ratio matters after normalisation.
        self.log_likelihood_ratio: NDArray[np.float64] = np.log(r_levels * (k - 1) / (1 - r_levels))
        self._reliability = r_levels

    @property
    def n_levels(self) -> int:
        """``L``, the number of reliability levels."""
        return len(self.reliabilities)

    @property
    def n_features(self) -> int:
        """Length of an observation, ``K * L``."""
        return self.n_candidates * self.n_levels

    def params(self) -> dict[str, object]:
        """The constructor arguments, to build an equal generator."""
        return {
            "n_candidates": self.n_candidates,
            "reliabilities": self.reliabilities,
            "min_witnesses": self.min_witnesses,
            "max_witnesses": self.max_witnesses,
            "unanswerable_share": self.unanswerable_share,
        }

    def posterior(self, evidence: NDArray[np.integer]) -> NDArray[np.float64]:
        """Exact posterior over candidates for ``(n, K, L)`` vote counts, uniform prior.

        No votes gives the uniform posterior ``1 / K``.
        """
        log_w = evidence @ self.log_likelihood_ratio
        log_w -= log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        w /= w.sum(axis=1, keepdims=True)
        return w

    def sample(self, rng: np.random.Generator, n: int) -> Questions:
        """Draw ``n`` independent questions, vectorised over questions and witnesses."""
        k, n_levels, most = self.n_candidates, self.n_levels, self.max_witnesses
        truth = rng.integers(k, size=n, dtype=np.int64)
        answerable = rng.random(n) >= self.unanswerable_share
        n_witnesses = rng.integers(self.min_witnesses, most + 1, size=n)
        level = rng.integers(n_levels, size=(n, most))
        honest = rng.random((n, most)) < self._reliability[level]
        # Adding 1..K-1 modulo K picks one of the other candidates uniformly.
        other = (truth[:, None] + rng.integers(1, k, size=(n, most))) % k
        vote = np.where(honest, truth[:, None], other)
        present = (np.arange(most) < n_witnesses[:, None]) & answerable[:, None]

        question = np.broadcast_to(np.arange(n)[:, None], (n, most))
        cell = (question * k + vote) * n_levels + level
        counts = np.bincount(cell[present], minlength=n * k * n_levels)
        evidence = counts.reshape(n, k, n_levels).astype(np.int64, copy=False)
        return Questions(evidence, truth, self.posterior(evidence), answerable)

    def observe(self, questions: Questions) -> NDArray[np.float32]:
        """What the agent sees: ``(n, K * L)`` float32 vote counts scaled into [0, 1]."""
        flat = questions.evidence.reshape(len(questions), self.n_features)
        return (flat / np.float32(self.max_witnesses)).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"QuestionGenerator({args})"


class QuestionStream:
    """A seeded, endless sequence of questions that does not depend on how it is read.

    Questions are generated in blocks of ``block_size``; block ``b`` comes from
    ``np.random.default_rng([seed, b])``. ``take(8)`` and eight ``take(1)`` therefore return
    the same questions, which is what lets the single and the batched env agree.

    Example:
        >>> gen = QuestionGenerator()
        >>> a = QuestionStream(gen, seed=7).take(8)
        >>> s = QuestionStream(gen, seed=7)
        >>> b = Questions.concatenate([s.take(3), s.take(5)])
        >>> bool((a.evidence == b.evidence).all() and (a.truth == b.truth).all())
        True
    """

    def __init__(
        self, generator: QuestionGenerator, seed: int, block_size: int = BLOCK_SIZE
    ) -> None:
        self.generator = generator
        self.seed = _check_int("seed", seed, 0, "an integer >= 0")
        self.block_size = _check_int("block_size", block_size, 1, "an integer >= 1")
        self._next_block = 0
        self._buffer = generator.sample(np.random.default_rng([self.seed, 0]), 0)
        self._position = 0
        self.served = 0
        """How many questions have been taken so far."""

    def _refill(self) -> None:
        rng = np.random.default_rng([self.seed, self._next_block])
        self._buffer = self.generator.sample(rng, self.block_size)
        self._position = 0
        self._next_block += 1

    def take(self, n: int) -> Questions:
        """Return the next ``n`` questions of the stream."""
        n = _check_int("n", n, 0, "an integer >= 0")
        parts = [self._buffer.slice(self._position, self._position)]
        remaining = n
        while remaining > 0:
            if self._position == len(self._buffer):
                self._refill()
            stop = min(self._position + remaining, len(self._buffer))
            parts.append(self._buffer.slice(self._position, stop))
            remaining -= stop - self._position
            self._position = stop
        self.served += n
        return Questions.concatenate(parts[1:] if n else parts)

    def get_state(self) -> dict[str, int]:
        """Where the stream stands: its seed, block size and the questions served.

        Plain integers, so a checkpoint can store them; ``set_state`` goes back there.
        """
        return {"seed": self.seed, "block_size": self.block_size, "served": self.served}

    def set_state(self, state: dict[str, int]) -> None:
        """Continue from a ``get_state()``: the next ``take`` returns what it would have.

        Example:
            >>> gen = QuestionGenerator()
            >>> s = QuestionStream(gen, seed=3)
            >>> _ = s.take(1500)
            >>> t = QuestionStream(gen, seed=0)
            >>> t.set_state(s.get_state())
            >>> bool((t.take(700).truth == s.take(700).truth).all())
            True
        """
        self.seed = _check_int("seed", state["seed"], 0, "an integer >= 0")
        self.block_size = _check_int("block_size", state["block_size"], 1, "an integer >= 1")
        served = _check_int("served", state["served"], 0, "an integer >= 0")
        self._next_block = 0
        self._buffer = self.generator.sample(np.random.default_rng([self.seed, 0]), 0)
        self._position = 0
        if served:
            # the block holding the last question served, read up to it
            self._next_block = (served - 1) // self.block_size
            self._refill()
            self._position = served - (self._next_block - 1) * self.block_size
        self.served = served
