"""The text domain's tokenizer: one token per character of a small, fixed alphabet.

Generated documents use only these characters, so the vocabulary is tiny (56 tokens) and
every token id is a character: a model's output can be read as text without any merge
table. ``^`` starts a document and ``$`` ends it; token 0 pads. Two tokens mark how an
answer is given (``envs.text.answering``): ``?`` is "I don't know" and ``~`` a hedge
("probably ...") before the answer.

Example:
    >>> ids = encode("^12+3=15$")
    >>> decode(ids)
    '^12+3=15$'
    >>> VOCAB_SIZE
    56
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALPHABET",
    "BOS",
    "EOS",
    "EQUALS",
    "HEDGE",
    "IDK",
    "PAD",
    "VOCAB_SIZE",
    "decode",
    "encode",
    "encode_many",
]

#: Every character a document may hold, in token order; "\0" is padding.
ALPHABET = "\0^$0123456789abcdefghijklmnopqrstuvwxyz =+*%()[]<>,;:.?~"
VOCAB_SIZE = len(ALPHABET)
PAD, BOS, EOS = 0, ALPHABET.index("^"), ALPHABET.index("$")
#: "I don't know" (an answer of its own) and the hedge marker (it precedes an answer).
IDK, HEDGE = ALPHABET.index("?"), ALPHABET.index("~")
#: The answer marker: every document holds exactly one, and its answer follows it.
EQUALS = ALPHABET.index("=")

_UNKNOWN = 255
_LOOKUP = np.full(256, _UNKNOWN, dtype=np.uint8)
_LOOKUP[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(
    VOCAB_SIZE, dtype=np.uint8
)
_CHARS = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)


def encode_many(text: str) -> npt.NDArray[np.uint8]:
    """The token ids of ``text`` (any length, one per character), vectorised.

    Raises ``ValueError`` naming the first character outside ``ALPHABET``.
    """
    try:
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as error:
        raise ValueError(f"text holds {text[error.start]!r}; accepted: {ALPHABET[1:]!r}") from None
    ids = _LOOKUP[raw]
    bad = np.flatnonzero(ids == _UNKNOWN)
    if bad.size:
        raise ValueError(f"text holds {text[bad[0]]!r}; accepted: characters of {ALPHABET[1:]!r}")
    return ids


def encode(text: str) -> list[int]:
    """The token ids of ``text`` as a list."""
    return [int(i) for i in encode_many(text)]


def decode(ids: npt.ArrayLike) -> str:
    """The text of token ids (padding included as ``"\\0"``)."""
    return _CHARS[np.asarray(ids, dtype=np.int64)].tobytes().decode("ascii")
