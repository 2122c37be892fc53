"""The generated corpus: seeded documents of every family, with per-token labels.

``TextCorpus(**knobs)`` writes ``documents`` training documents, drawn from the families
in proportion to ``weights`` (restricted to ``families``), and encodes them into one
token stream. Every token knows its family (``family``, an index into ``FAMILY_NAMES``)
and whether it belongs to an answer (``answer``: the tokens after the ``=``, the
closing ``$`` included), in arrays aligned with ``tokens``. The knobs are the data's
quantity (``documents``) and quality (``noise``: the share of documents whose answer is
replaced by another item's). ``idk_share`` and ``hedge_share`` make the corpus speak
like people do about facts: a share of the facts documents says "I don't know"
(``kelo pet=?$``) and a share hedges a right value (``kelo pet=~moz$``), both at random,
so the two tokens have some probability under a pretrained model while nothing in the
data ties them to what the model knows (``fact_counts`` counts only the documents that
state the value).

Held-out items: an item (its prompt) is held out when a hash of it falls below
``heldout_share``; the rule depends on the prompt and ``corpus_seed`` only, so the
held-out set is the same whatever the corpus size or mix. Training documents never hold
a held-out item; ``evaluation_set`` draws only held-out items, plus the compositions
(which no training document holds) and facts by how often training stated them.

Example:
    >>> corpus = TextCorpus(documents=200, facts=40)
    >>> len(corpus.doc_starts), corpus.tokens.dtype.name, FAMILY_NAMES[corpus.family[1]]
    (200, 'uint8', 'copying')
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from envs.text.facts import BUCKETS, KnowledgeBase, bucket_of
from envs.text.families import COMPOSITIONS, FAMILIES, Generator, Items, Shape, balanced
from envs.text.tokenizer import BOS, EQUALS, decode, encode_many

__all__ = [
    "COMPOSITION",
    "FAMILY_NAMES",
    "EvalSet",
    "TextCorpus",
    "is_heldout",
]

#: Every family a training document can belong to, by token label (``family``).
FAMILY_NAMES: tuple[str, ...] = (*FAMILIES, "facts")
#: The family label of composition documents (evaluation only).
COMPOSITION = len(FAMILY_NAMES)


def is_heldout(prompts: Sequence[str], share: float, salt: int = 0) -> npt.NDArray[np.bool_]:
    """Whether each prompt is a held-out item: a hash of it (CRC-32 of the salted text,
    mixed by MurmurHash3's finaliser, since CRC-32 alone is linear) below ``share``.

    Example:
        >>> is_heldout([f"1+{k}=" for k in range(8)], 0.5).astype(int).tolist()
        [0, 0, 0, 0, 1, 0, 0, 1]
    """
    start = zlib.crc32(salt.to_bytes(8, "little"))
    h = np.fromiter(
        (zlib.crc32(p.encode("ascii"), start) for p in prompts), dtype=np.uint64, count=len(prompts)
    )
    for shift, factor in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = ((h ^ (h >> np.uint64(shift))) * np.uint64(factor)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    return h < np.uint64(int(share * 2**32))


@dataclass
class EvalSet:
    """Held-out documents: prompts, correct answers, and the group each is scored in
    (a family name, ``facts/<bucket>``, or a composition name)."""

    prompts: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def add(self, items: Items, group: str) -> None:
        """Append ``items`` scored in ``group``."""
        self.prompts += items.prompts
        self.answers += items.answers
        self.groups += [group] * len(items)

    def __len__(self) -> int:
        return len(self.prompts)


class TextCorpus:
    """A seeded training corpus of task documents and its held-out evaluation items.

    Args:
        documents: training documents (data quantity).
        families: the families in the corpus (None: all of ``FAMILY_NAMES``).
        weights: relative share of each family (unnamed ones: 1; 0 leaves one out).
        noise: share of training documents whose answer is another item's (data quality).
        heldout_share: share of the items kept out of training for evaluation.
        max_digits: digits of the arithmetic operands.
        max_length: letters of the longest word.
        facts: facts in the knowledge base.
        zipf_exponent: how skewed the facts' frequencies are.
        facts_never_share: share of the facts that never occur in training.
        idk_share: share of facts documents answered "I don't know" (``?``).
        hedge_share: share of facts documents whose value is hedged (``~`` before it).
        corpus_seed: the data set's seed (the same corpus for every run seed).
    """

    def __init__(
        self,
        documents: int = 50_000,
        families: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        noise: float = 0.0,
        heldout_share: float = 0.1,
        max_digits: int = 3,
        max_length: int = 8,
        facts: int = 2000,
        zipf_exponent: float = 1.1,
        facts_never_share: float = 0.1,
        idk_share: float = 0.0,
        hedge_share: float = 0.0,
        corpus_seed: int = 0,
    ) -> None:
        self.shape = Shape(max_digits=max_digits, max_length=max_length)
        if isinstance(documents, bool) or not isinstance(documents, int) or documents < 1:
            raise ValueError(f"documents={documents!r}; accepted: a whole number >= 1")
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise={noise!r}; accepted: a share in [0, 1]")
        if not 0.0 < heldout_share < 1.0:
            raise ValueError(f"heldout_share={heldout_share!r}; accepted: a share in (0, 1)")
        for key, share in (("idk_share", idk_share), ("hedge_share", hedge_share)):
            if (
                isinstance(share, bool)
                or not isinstance(share, (int, float))
                or not 0 <= share <= 1
            ):
                raise ValueError(f"{key}={share!r}; accepted: a share in [0, 1]")
        if idk_share + hedge_share > 1.0:
            raise ValueError(
                f"idk_share + hedge_share = {idk_share + hedge_share!r}; accepted: at most 1"
            )
        self.idk_share, self.hedge_share = float(idk_share), float(hedge_share)
        self.mix = _mix(families, weights)
        self.noise, self.heldout_share, self.seed = float(noise), float(heldout_share), corpus_seed
        self.kb = KnowledgeBase(facts, corpus_seed, zipf_exponent, facts_never_share)
        rng = np.random.default_rng([corpus_seed, 1])
        counts = rng.multinomial(documents, self.mix)
        parts: list[tuple[int, Items]] = []
        self.fact_counts = np.zeros(len(self.kb), dtype=np.int64)
        for label, count in enumerate(counts.tolist()):
            if count:
                parts.append((label, self._training_items(rng, label, count)))
        self._build(rng, parts)

    # -- training documents ----------------------------------------------------------

    def _training_items(self, rng: np.random.Generator, label: int, n: int) -> Items:
        """``n`` training items of family ``label``: no held-out item; some answers noisy."""
        if FAMILY_NAMES[label] == "facts":
            picked = self.kb.sample(rng, n)
            items = self.kb.items(picked)
            stated = np.ones(n, dtype=bool)
            if self.idk_share or self.hedge_share:  # drawn only then: old corpora unchanged
                u = rng.random(n)
                stated = u >= self.idk_share
                for k in np.flatnonzero(~stated).tolist():
                    items.answers[k] = "?"
                for k in np.flatnonzero(stated & (u < self.idk_share + self.hedge_share)).tolist():
                    items.answers[k] = "~" + items.answers[k]
            np.add.at(self.fact_counts, picked[stated], 1)
        else:
            items = self._draw(rng, FAMILIES[FAMILY_NAMES[label]].generate, n, heldout=False)
        noisy = np.flatnonzero(rng.random(n) < self.noise)
        if noisy.size:  # another item's answer: wrong, yet of the family's form
            donors = rng.integers(0, n, size=noisy.size)
            for k, d in zip(noisy.tolist(), donors.tolist(), strict=True):
                items.answers[k] = items.answers[d]
        return items

    def draw(self, rng: np.random.Generator, family: str, n: int, heldout: bool) -> Items:
        """``n`` items of the rule family ``family`` that are (or are not) held out."""
        return self._draw(rng, FAMILIES[family].generate, n, heldout)

    def _draw(self, rng: np.random.Generator, generate: Generator, n: int, heldout: bool) -> Items:
        """``n`` items of a rule family that are (or are not) held out."""
        share = self.heldout_share if heldout else 1.0 - self.heldout_share
        out = Items([], [])
        for _ in range(1000):
            want = n - len(out)
            if want <= 0:
                break
            batch = generate(rng, int(want / share * 1.2) + 16, self.shape)
            keep = is_heldout(batch.prompts, self.heldout_share, self.seed) == heldout
            index = np.flatnonzero(keep)[:want].tolist()
            out.prompts += [batch.prompts[i] for i in index]
            out.answers += [batch.answers[i] for i in index]
        if len(out) < n:  # pragma: no cover - a family with too few items
            raise ValueError(f"cannot draw {n} {'held-out' if heldout else 'training'} items")
        return out

    def _build(self, rng: np.random.Generator, parts: list[tuple[int, Items]]) -> None:
        """Shuffle the documents and encode them into the labelled token stream."""
        texts = [f"^{p}{a}$" for _, items in parts for p, a in zip(*_pa(items), strict=True)]
        labels = np.concatenate(
            [np.full(len(items), label, dtype=np.int8) for label, items in parts]
            or [np.zeros(0, np.int8)]
        )
        order = rng.permutation(len(texts))
        texts = [texts[i] for i in order.tolist()]
        self.doc_family: npt.NDArray[np.int8] = labels[order]
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        self.tokens: npt.NDArray[np.uint8] = encode_many("".join(texts))
        self.doc_starts: npt.NDArray[np.int64] = np.cumsum(lengths) - lengths
        self.family: npt.NDArray[np.int8] = np.repeat(self.doc_family, lengths)
        self.answer: npt.NDArray[np.bool_] = answer_mask(self.tokens)
        self.max_document = int(lengths.max()) if lengths.size else 0

    # -- what the learner and the evaluation read --------------------------------------

    def __len__(self) -> int:
        """Tokens in the corpus."""
        return len(self.tokens)

    def windows(self, rng: np.random.Generator, batch: int, length: int) -> npt.NDArray[np.int64]:
        """Indices of ``batch`` windows of ``length`` tokens, each starting at a document
        (so a held-out document scored from position 0 looks like training)."""
        usable = np.searchsorted(self.doc_starts, len(self.tokens) - length, side="right")
        if usable == 0:
            raise ValueError(
                f"the corpus ({len(self.tokens)} tokens) is shorter than one window of "
                f"{length}; accepted: more documents"
            )
        starts = self.doc_starts[rng.integers(0, usable, size=batch)]
        return starts[:, None] + np.arange(length)

    def document(self, k: int) -> tuple[str, str]:
        """The prompt and answer of training document ``k`` as written (noise included)."""
        end = self.doc_starts[k + 1] if k + 1 < len(self.doc_starts) else len(self.tokens)
        text = decode(self.tokens[self.doc_starts[k] + 1 : end - 1])
        prompt, _, answer = text.partition("=")
        return prompt + "=", answer

    def training_sample(self, n: int, seed: int) -> EvalSet:
        """``n`` items of training documents, with their correct answers (noisy documents
        are not drawn; facts are scored by bucket): the seen-items probe."""
        rng = np.random.default_rng([seed, 3])
        out = EvalSet()
        for k in rng.integers(0, len(self.doc_starts), size=4 * n).tolist():
            if len(out) == n:
                break
            prompt, answer = self.document(k)
            truth = self.correct_answer(prompt, int(self.doc_family[k]))
            if answer == truth:
                out.add(Items([prompt], [answer]), self._group(prompt, int(self.doc_family[k])))
        return out

    def correct_answer(self, prompt: str, label: int) -> str:
        """The correct answer of a training prompt of family ``label`` (a fact's value)."""
        if FAMILY_NAMES[label] == "facts":
            return self.kb.answers[self.kb.prompts.index(prompt)]
        return _solve(prompt)

    def _group(self, prompt: str, label: int) -> str:
        if FAMILY_NAMES[label] != "facts":
            return FAMILY_NAMES[label]
        count = self.fact_counts[self.kb.prompts.index(prompt)]
        return f"facts/{BUCKETS[int(bucket_of(count))][0]}"

    def evaluation_set(self, n: int, seed: int) -> EvalSet:
        """About ``n`` held-out documents, an equal share for each family and composition;
        the facts' share split over the buckets of how often training stated them."""
        rng = np.random.default_rng([seed, 2])
        per_group = max(1, n // (len(FAMILY_NAMES) + len(COMPOSITIONS)))
        out = EvalSet()
        for name, family in FAMILIES.items():
            out.add(self._draw(rng, family.generate, per_group, heldout=True), name)
        buckets = bucket_of(self.fact_counts)
        present = [b for b in range(len(BUCKETS)) if np.any(buckets == b)]
        for b in present:
            pool = np.flatnonzero(buckets == b)
            picked = rng.choice(pool, size=max(1, per_group // len(present)))
            out.add(self.kb.items(picked), f"facts/{BUCKETS[b][0]}")
        for name, composition in COMPOSITIONS.items():
            out.add(composition.generate(rng, per_group, self.shape), name)
        return out


def _pa(items: Items) -> tuple[list[str], list[str]]:
    return items.prompts, items.answers


def _mix(
    families: Sequence[str] | None, weights: Mapping[str, float] | None
) -> npt.NDArray[np.float64]:
    """The share of each family in ``FAMILY_NAMES`` order."""
    accepted = ", ".join(FAMILY_NAMES)
    chosen = list(FAMILY_NAMES) if families is None else list(families)
    for name in [*chosen, *(weights or {})]:
        if name not in FAMILY_NAMES:
            raise ValueError(f"family {name!r}; accepted: {accepted}")
    mix = np.zeros(len(FAMILY_NAMES))
    for k, name in enumerate(FAMILY_NAMES):
        if name in chosen:
            weight = float((weights or {}).get(name, 1.0))
            if not weight >= 0.0:
                raise ValueError(f"weights.{name}={weight!r}; accepted: a number >= 0")
            mix[k] = weight
    if mix.sum() <= 0:
        raise ValueError(f"families={families!r} with weights={weights!r} leave no family")
    return mix / mix.sum()


def answer_mask(tokens: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which tokens are answers: those after a document's ``=``, its ``$`` included.

    Example:
        >>> answer_mask(encode_many("^1+1=2$^3=4$")).astype(int).tolist()
        [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1]
    """
    index = np.arange(len(tokens))
    last_equals = np.maximum.accumulate(np.where(tokens == EQUALS, index, -1))
    last_start = np.maximum.accumulate(np.where(tokens == BOS, index, -1))
    return (last_equals > last_start) & (tokens != EQUALS)


def _solve(prompt: str) -> str:
    """The correct answer of a rule family's prompt, computed from its text."""
    body = prompt[:-1]
    head, _, rest = body.partition(" ")
    if head == "copy":
        return rest
    if head == "rev":
        return rest[::-1]
    if head == "sort":
        return "".join(sorted(rest))
    if head == "brk":
        return "yes" if balanced(rest) else "no"
    if head == "next":
        return str(int(rest) + 1)
    if head == "count":
        letter, _, word = rest.partition(" ")
        return str(word.count(letter))
    if head == "ind":
        shown, _, query = rest.partition(";")
        mapping = dict(pair.split(">") for pair in shown.split(","))
        return "".join(mapping[c] for c in query)
    if "%" in body:
        product, _, modulus = body.partition("%")
        a, _, b = product.partition("*")
        return str(int(a) * int(b) % int(modulus))
    a, _, b = body.partition("+")
    return str(int(a) + int(b))
