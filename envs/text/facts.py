"""A synthetic knowledge base whose facts occur in the corpus with Zipf frequencies.

Each fact is an (entity, relation) pair with one value: ``"kelo pet=dog"``. The facts
are ranked at random; a training document states fact of rank ``r`` with probability
proportional to ``(r + 1) ** -exponent`` (Zipf), and a share of the facts never occurs
at all. So a corpus holds facts seen often, many seen once and some never, the mix that
bounds a model's hallucination rate on facts from below (Kalai et al. 2025, "Why
Language Models Hallucinate": at least the share of facts seen once).

Example:
    >>> kb = KnowledgeBase(facts=40, seed=0)
    >>> kb.prompts[0], kb.answers[0]
    ('tago pet=', 'moz')
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from envs.text.families import Items

__all__ = ["BUCKETS", "RELATIONS", "KnowledgeBase", "bucket_of"]

#: The relations every entity has a value for.
RELATIONS = ("pet", "city", "job", "col")
#: Values per relation.
_VALUES = 16
#: How often a fact occurred in training, by bucket: (name, least count, most count).
BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("never", 0, 0),
    ("once", 1, 1),
    ("few", 2, 9),
    ("often", 10, 2**62),
)


def bucket_of(counts: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The index in ``BUCKETS`` of each training count.

    Example:
        >>> bucket_of([0, 1, 5, 10]).tolist()
        [0, 1, 2, 3]
    """
    edges = np.asarray([low for _, low, _ in BUCKETS[1:]])
    return np.searchsorted(edges, np.asarray(counts), side="right").astype(np.int64)


def _names(rng: np.random.Generator, n: int, length: int) -> list[str]:
    """``n`` distinct random consonant-vowel names of ``length`` letters."""
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    names: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = "".join(rng.choice(list(vowels if k % 2 else consonants)) for k in range(length))
        if name not in names:
            names.add(name)
            out.append(name)
    return out


class KnowledgeBase:
    """``facts`` facts about made-up entities, a Zipf sampler over them, and the share
    that never occurs in training.

    ``prompts[i]`` and ``answers[i]`` state fact ``i``; ``rank[i]`` is its place in the
    Zipf order; facts with ``never[i]`` are kept out of the training corpus.
    """

    def __init__(
        self, facts: int = 2000, seed: int = 0, exponent: float = 1.1, never_share: float = 0.1
    ) -> None:
        if facts < len(RELATIONS):
            raise ValueError(f"facts={facts!r}; accepted: at least {len(RELATIONS)}")
        if not exponent > 0:
            raise ValueError(f"zipf_exponent={exponent!r}; accepted: a number > 0")
        if not 0 <= never_share < 1:
            raise ValueError(f"facts_never_share={never_share!r}; accepted: 0 <= share < 1")
        rng = np.random.default_rng([seed, 7])
        entities = _names(rng, -(-facts // len(RELATIONS)), 4)
        values = {r: _names(rng, _VALUES, 3) for r in RELATIONS}
        self.prompts: list[str] = []
        self.answers: list[str] = []
        for k in range(facts):
            entity, relation = entities[k // len(RELATIONS)], RELATIONS[k % len(RELATIONS)]
            self.prompts.append(f"{entity} {relation}=")
            self.answers.append(values[relation][int(rng.integers(_VALUES))])
        self.exponent = float(exponent)
        self.never = np.zeros(facts, dtype=bool)
        self.never[rng.permutation(facts)[: round(never_share * facts)]] = True
        self.rank = np.empty(facts, dtype=np.int64)
        self.rank[~self.never] = rng.permutation(int((~self.never).sum()))
        self.rank[self.never] = -1

    def __len__(self) -> int:
        return len(self.prompts)

    def probabilities(self) -> npt.NDArray[np.float64]:
        """Each fact's probability of being the one a training document states."""
        p = np.zeros(len(self))
        p[~self.never] = (self.rank[~self.never] + 1.0) ** -self.exponent
        return p / p.sum()

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """``n`` fact indices drawn by their Zipf probabilities (never the ``never`` ones)."""
        return rng.choice(len(self), size=n, p=self.probabilities())

    def items(self, indices: npt.ArrayLike) -> Items:
        """The documents stating the facts at ``indices``."""
        picked = np.asarray(indices, dtype=np.int64).tolist()
        return Items([self.prompts[i] for i in picked], [self.answers[i] for i in picked])
