"""The task families of the generated corpus, each written as text documents.

A document is ``^<prompt>=<answer>$``: the prompt says what is asked in a form a reader
can parse (``"rev abc="``), the answer follows the one ``=`` of the document. Each family
is a generator of items, ``(rng, n, shape) -> Items``, drawing ``n`` prompts and their
correct answers. Compositions (``COMPOSITIONS``) chain two families in a way no training
document does (``"rev sort dcab="``); the corpus uses them only for evaluation.

Example:
    >>> import numpy as np
    >>> items = FAMILIES["reversal"].generate(np.random.default_rng(0), 2, Shape())
    >>> [p + a for p, a in zip(items.prompts, items.answers)]
    ['rev nhibbae=eabbihn', 'rev qxnpzs=szpnxq']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "COMPOSITIONS",
    "FAMILIES",
    "Family",
    "Generator",
    "Items",
    "Shape",
    "balanced",
]

_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


@dataclass(frozen=True)
class Shape:
    """How large the items are: operands of up to ``max_digits`` digits, words of 2 to
    ``max_length`` letters."""

    max_digits: int = 3
    max_length: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.max_digits <= 6:
            raise ValueError(f"max_digits={self.max_digits!r}; accepted: 1 to 6")
        if not 2 <= self.max_length <= 12:
            raise ValueError(f"max_length={self.max_length!r}; accepted: 2 to 12")


@dataclass
class Items:
    """Prompts (ending in ``=``) and their correct answers."""

    prompts: list[str]
    answers: list[str]

    def __len__(self) -> int:
        return len(self.prompts)


Generator = Callable[[np.random.Generator, int, Shape], Items]


@dataclass(frozen=True)
class Family:
    """A task family: its name (a metric prefix), what it asks and its item generator."""

    name: str
    description: str
    generate: Generator


def _numbers(rng: np.random.Generator, n: int, max_digits: int) -> np.ndarray:
    """``n`` numbers whose digit count is uniform in 1..max_digits (so short ones occur)."""
    digits = rng.integers(1, max_digits + 1, size=n)
    low = np.where(digits == 1, 0, 10 ** (digits - 1))
    return rng.integers(low, 10**digits)


def _words(
    rng: np.random.Generator, n: int, max_length: int, letters: int = 26, min_length: int = 2
) -> list[str]:
    """``n`` random words of ``min_length`` to ``max_length`` of the first ``letters``."""
    lengths = rng.integers(min_length, max_length + 1, size=n)
    chars = _LETTERS[rng.integers(0, letters, size=(n, max_length))]
    rows = chars.tobytes()
    return [
        rows[k * max_length : k * max_length + length].decode("ascii")
        for k, length in enumerate(lengths.tolist())
    ]


def addition(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"12+345="`` → ``"357"``."""
    a, b = _numbers(rng, n, shape.max_digits), _numbers(rng, n, shape.max_digits)
    return Items(
        [f"{x}+{y}=" for x, y in zip(a.tolist(), b.tolist(), strict=True)],
        [str(s) for s in (a + b).tolist()],
    )


#: The moduli of modular arithmetic: small primes, so every residue is reachable.
MODULI = (5, 7, 11, 13, 17, 19, 23)


def modular(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"7*5%11="`` → ``"2"``: a product of residues modulo a small prime."""
    m = np.asarray(MODULI)[rng.integers(0, len(MODULI), size=n)]
    a, b = rng.integers(0, m), rng.integers(0, m)
    return Items(
        [f"{x}*{y}%{z}=" for x, y, z in zip(a.tolist(), b.tolist(), m.tolist(), strict=True)],
        [str(r) for r in (a * b % m).tolist()],
    )


def copying(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"copy abc="`` → ``"abc"``."""
    words = _words(rng, n, shape.max_length)
    return Items([f"copy {w}=" for w in words], words)


def reversal(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"rev abc="`` → ``"cba"``."""
    words = _words(rng, n, shape.max_length)
    return Items([f"rev {w}=" for w in words], [w[::-1] for w in words])


def sorting(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"sort dcab="`` → ``"abcd"``."""
    words = _words(rng, n, shape.max_length)
    return Items([f"sort {w}=" for w in words], ["".join(sorted(w)) for w in words])


def balanced(text: str) -> bool:
    """Whether the brackets ``()`` and ``[]`` of ``text`` are matched.

    Example:
        >>> balanced("([])()"), balanced("([)]"), balanced("(")
        (True, False, False)
    """
    stack: list[str] = []
    for char in text:
        if char in "([":
            stack.append(")" if char == "(" else "]")
        elif not stack or stack.pop() != char:
            return False
    return not stack


@functools.cache
def _balanced_strings(pairs: int) -> tuple[str, ...]:
    """Every matched string of ``pairs`` pairs of ``()`` and ``[]``."""
    if pairs == 0:
        return ("",)
    return tuple(
        f"{o}{inner}{c}{rest}"
        for k in range(pairs)
        for o, c in ("()", "[]")
        for inner in _balanced_strings(k)
        for rest in _balanced_strings(pairs - 1 - k)
    )


_FLIP_KIND = str.maketrans("([)]", "[(])")
_FLIP_SIDE = str.maketrans("()[]", ")(][")


def brackets(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"brk ([])="`` → ``"yes"``; ``"brk ([)]="`` → ``"no"``: half of them matched, the
    others one edit away from matched (a bracket's kind or side changed, or one dropped)."""
    pairs = rng.integers(1, max(2, shape.max_length // 2) + 1, size=n)
    picks, edits, spots = rng.random(n), rng.integers(0, 3, size=n), rng.random(n)
    matched = rng.random(n) < 0.5
    texts = []
    for k, count in enumerate(pairs.tolist()):
        pool = _balanced_strings(count)
        text = pool[int(picks[k] * len(pool))]
        if not matched[k]:
            at = int(spots[k] * len(text))
            edit = int(edits[k])
            if edit == 2:
                text = text[:at] + text[at + 1 :]
            else:
                table = _FLIP_KIND if edit == 0 else _FLIP_SIDE
                text = text[:at] + text[at].translate(table) + text[at + 1 :]
        texts.append(text)
    return Items([f"brk {t}=" for t in texts], ["yes" if balanced(t) else "no" for t in texts])


def successor(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"next 199="`` → ``"200"``."""
    x = _numbers(rng, n, shape.max_digits + 1)
    return Items([f"next {v}=" for v in x.tolist()], [str(v + 1) for v in x.tolist()])


def counting(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"count b abcbb="`` → ``"3"``: how often a letter occurs in a word of a, b, c, d."""
    words = _words(rng, n, shape.max_length, letters=4, min_length=1)
    letters = _LETTERS[rng.integers(0, 4, size=n)].tobytes().decode("ascii")
    return Items(
        [f"count {c} {w}=" for c, w in zip(letters, words, strict=True)],
        [str(w.count(c)) for c, w in zip(letters, words, strict=True)],
    )


def induction(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    """``"ind a>q,b>x,c>m;cab="`` → ``"mqx"``: a letter mapping shown by examples, drawn
    afresh for each document, then applied: only the context can tell the answer."""
    letters = _LETTERS[np.argsort(rng.random((n, 26)), axis=1)[:, :10]]
    sizes = rng.integers(3, 6, size=n)
    query_lengths = rng.integers(2, 4, size=n)
    queries = (rng.random((n, 3)) * sizes[:, None]).astype(np.int64)
    rows = letters.tobytes().decode("ascii")
    prompts, answers = [], []
    for k, (size, length) in enumerate(zip(sizes.tolist(), query_lengths.tolist(), strict=True)):
        row = rows[10 * k : 10 * k + 10]
        source, target = row[:size], row[5 : 5 + size]
        query = queries[k, :length].tolist()
        shown = ",".join(f"{s}>{t}" for s, t in zip(source, target, strict=True))
        prompts.append(f"ind {shown};{''.join(source[q] for q in query)}=")
        answers.append("".join(target[q] for q in query))
    return Items(prompts, answers)


#: The families generated from rules (the facts family needs a knowledge base: ``facts``).
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("addition", "sum of two numbers", addition),
        Family("modular", "product of residues modulo a small prime", modular),
        Family("copying", "copy a word", copying),
        Family("reversal", "reverse a word", reversal),
        Family("sorting", "sort a word's letters", sorting),
        Family("brackets", "whether brackets are matched", brackets),
        Family("successor", "the number after a number", successor),
        Family("counting", "occurrences of a letter in a word", counting),
        Family("induction", "a letter mapping inferred from in-context examples", induction),
    )
}


def _rev_sort(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    words = _words(rng, n, shape.max_length)
    return Items([f"rev sort {w}=" for w in words], ["".join(sorted(w))[::-1] for w in words])


def _next_add(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    items = addition(rng, n, shape)
    return Items(["next " + p for p in items.prompts], [str(int(a) + 1) for a in items.answers])


def _rev_add(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    items = addition(rng, n, shape)
    return Items(["rev " + p for p in items.prompts], [a[::-1] for a in items.answers])


def _next_mod(rng: np.random.Generator, n: int, shape: Shape) -> Items:
    items = modular(rng, n, shape)
    return Items(["next " + p for p in items.prompts], [str(int(a) + 1) for a in items.answers])


#: Two families chained in a way no training document does: evaluation only.
COMPOSITIONS: dict[str, Family] = {
    f.name: f
    for f in (
        Family("rev_sort", "a word's letters sorted, then reversed", _rev_sort),
        Family("next_add", "the number after a sum", _next_add),
        Family("rev_add", "a sum's digits reversed", _rev_add),
        Family("next_mod", "the number after a modular product", _next_mod),
    )
}
