"""The text domain's generated corpus: task families written as documents, no download.

- ``tokenizer``: one token per character of a 56-character alphabet.
- ``families``: the rule families (addition, modular arithmetic, copying, reversal,
  sorting, brackets, successor, counting, in-context induction) and their compositions.
- ``facts``: a synthetic knowledge base stated with Zipf frequencies.
- ``corpus``: ``TextCorpus``, the labelled token stream and its held-out items.
- ``env``: ``incentives/Text-v0``, one document per episode, an action per next token.
"""

from envs.text.corpus import COMPOSITION, FAMILY_NAMES, EvalSet, TextCorpus, is_heldout
from envs.text.facts import BUCKETS, KnowledgeBase
from envs.text.families import COMPOSITIONS, FAMILIES
from envs.text.tokenizer import BOS, EOS, EQUALS, PAD, VOCAB_SIZE, decode, encode, encode_many

__all__ = [
    "BOS",
    "BUCKETS",
    "COMPOSITION",
    "COMPOSITIONS",
    "EOS",
    "EQUALS",
    "FAMILIES",
    "FAMILY_NAMES",
    "PAD",
    "VOCAB_SIZE",
    "EvalSet",
    "KnowledgeBase",
    "TextCorpus",
    "decode",
    "encode",
    "encode_many",
    "is_heldout",
]
