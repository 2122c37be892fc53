"""The generated text corpus: deterministic, every family present and right (checked by
parsing each document's text independently), held-out items and compositions never in
training, facts at Zipf frequencies, the knobs doing what they say."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401 - registers incentives/Text-v0
from envs.text import (
    BUCKETS,
    COMPOSITION,
    COMPOSITIONS,
    FAMILY_NAMES,
    TextCorpus,
    decode,
    encode,
    is_heldout,
)
from envs.text.tokenizer import ALPHABET, BOS, EOS, VOCAB_SIZE


@cache
def corpus(**knobs: object) -> TextCorpus:
    return TextCorpus(**{"documents": 6000, "facts": 400, **knobs})  # type: ignore[arg-type]


def documents(c: TextCorpus) -> list[str]:
    return decode(c.tokens).split("$^")


def check(prompt: str, answer: str, kb: dict[str, str]) -> bool:
    """An independent solver of every family's prompt, by regular expressions."""
    if m := re.fullmatch(r"(\d+)\+(\d+)=", prompt):
        return answer == str(int(m[1]) + int(m[2]))
    if m := re.fullmatch(r"(\d+)\*(\d+)%(\d+)=", prompt):
        return answer == str(int(m[1]) * int(m[2]) % int(m[3]))
    if m := re.fullmatch(r"copy ([a-z]+)=", prompt):
        return answer == m[1]
    if m := re.fullmatch(r"rev ([a-z]+)=", prompt):
        return answer == "".join(reversed(m[1]))
    if m := re.fullmatch(r"sort ([a-z]+)=", prompt):
        return list(answer) == sorted(m[1])
    if m := re.fullmatch(r"brk ([\(\)\[\]]+)=", prompt):
        text = m[1]
        while "()" in text or "[]" in text:
            text = text.replace("()", "").replace("[]", "")
        return answer == ("yes" if text == "" else "no")
    if m := re.fullmatch(r"next (\d+)=", prompt):
        return answer == str(int(m[1]) + 1)
    if m := re.fullmatch(r"count ([a-z]) ([a-z]+)=", prompt):
        return answer == str(sum(c == m[1] for c in m[2]))
    if m := re.fullmatch(r"ind ((?:[a-z]>[a-z],?)+);([a-z]+)=", prompt):
        pairs = dict(p.split(">") for p in m[1].split(","))
        return answer == "".join(pairs[c] for c in m[2])
    if m := re.fullmatch(r"([a-z]+ [a-z]+)=", prompt):
        return kb[prompt] == answer
    raise AssertionError(f"no family reads {prompt!r}")


def test_tokenizer_round_trip_and_tiny_vocabulary() -> None:
    assert VOCAB_SIZE == len(ALPHABET) < 64
    text = "^rev abc=cba$^12+3=15$"
    assert decode(encode(text)) == text
    with pytest.raises(ValueError, match="accepted"):
        encode("ABC")


def test_same_knobs_same_corpus_and_another_seed_another() -> None:
    a, b = TextCorpus(documents=500, facts=40), TextCorpus(documents=500, facts=40)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.family, b.family)
    assert not np.array_equal(a.tokens, TextCorpus(documents=500, facts=40, corpus_seed=1).tokens)


def test_every_family_present_and_every_answer_right() -> None:
    c = corpus()
    kb = dict(zip(c.kb.prompts, c.kb.answers, strict=True))
    texts = documents(c)
    assert len(texts) == len(c.doc_starts)
    assert set(np.unique(c.doc_family).tolist()) == set(range(len(FAMILY_NAMES)))
    for text in texts:
        prompt, _, answer = text.strip("^$").partition("=")
        assert check(prompt + "=", answer, kb), text


def test_labels_are_aligned_with_the_tokens() -> None:
    c = corpus()
    assert len(c.tokens) == len(c.family) == len(c.answer)
    assert np.all(c.tokens[c.doc_starts] == BOS)
    # answers: after the '=' up to and including the '$', per document
    for k in range(50):
        end = c.doc_starts[k + 1]
        text = decode(c.tokens[c.doc_starts[k] : end])
        cut = text.index("=") + 1
        assert c.answer[c.doc_starts[k] : end].tolist() == [i >= cut for i in range(len(text))]
        assert c.tokens[end - 1] == EOS
        assert set(c.family[c.doc_starts[k] : end].tolist()) == {c.doc_family[k]}


def test_heldout_items_and_compositions_never_in_training() -> None:
    c = corpus()
    trained = {t.strip("^$").partition("=")[0] + "=" for t in documents(c)}
    heldout = c.evaluation_set(1400, seed=5)
    groups = Counter(heldout.groups)
    assert set(FAMILY_NAMES) - {"facts"} <= set(groups) and set(COMPOSITIONS) <= set(groups)
    for prompt, answer, group in zip(heldout.prompts, heldout.answers, heldout.groups, strict=True):
        if group in COMPOSITIONS:  # no training document chains two families
            assert prompt not in trained and prompt.count(" ") >= 1
        elif not group.startswith("facts/"):
            assert prompt not in trained, prompt
            assert check(prompt, answer, {})
    rule = [p for p, g in zip(heldout.prompts, heldout.groups, strict=True) if g in FAMILY_NAMES]
    assert is_heldout(rule, c.heldout_share, c.seed).all()
    # the held-out rule is the prompt's alone: the same for any corpus size or mix
    other = TextCorpus(documents=300, facts=400, families=["addition"])
    assert other.evaluation_set(1400, seed=5).prompts[:50] == heldout.prompts[:50]


def test_compositions_are_right() -> None:
    heldout = corpus().evaluation_set(1400, seed=2)
    solved = {
        "rev_sort": lambda p: "".join(sorted(p.split()[2][:-1], reverse=True)),
        "next_add": lambda p: str(eval(p[5:-1]) + 1),
        "rev_add": lambda p: str(eval(p[4:-1]))[::-1],
        "next_mod": lambda p: str(eval(p[5:-1]) + 1),
    }
    for prompt, answer, group in zip(heldout.prompts, heldout.answers, heldout.groups, strict=True):
        if group in solved:
            assert answer == solved[group](prompt), prompt


def test_facts_follow_zipf_some_often_many_once_some_never() -> None:
    c = TextCorpus(documents=20000, facts=2000, families=["facts"])
    counts = c.fact_counts
    assert counts.sum() == 20000 and counts[c.kb.never].sum() == 0
    buckets = {name: int(np.sum((counts >= lo) & (counts <= hi))) for name, lo, hi in BUCKETS}
    assert all(buckets[name] > 50 for name in ("never", "once", "often")), buckets
    # log count falls linearly in log rank with slope -exponent (fit on the head)
    seen = ~c.kb.never
    rank, n = c.kb.rank[seen], counts[seen]
    head = rank < 100
    slope = np.polyfit(np.log(rank[head] + 1), np.log(n[head] + 0.5), 1)[0]
    assert slope == pytest.approx(-c.kb.exponent, abs=0.15)


def test_knobs_mix_noise_and_size() -> None:
    only = TextCorpus(documents=2000, facts=40, families=["addition", "reversal"])
    assert {FAMILY_NAMES[f] for f in np.unique(only.doc_family)} == {"addition", "reversal"}
    skewed = TextCorpus(documents=4000, facts=40, weights={"addition": 9.0, "facts": 0})
    shares = np.bincount(skewed.doc_family, minlength=len(FAMILY_NAMES)) / 4000
    assert shares[FAMILY_NAMES.index("addition")] == pytest.approx(0.5, abs=0.03)
    assert shares[FAMILY_NAMES.index("facts")] == 0
    noisy = TextCorpus(documents=3000, facts=40, noise=0.5, families=["reversal"])
    wrong = [t for t in documents(noisy) if not check(*_split(t), {})]
    assert 0.4 < len(wrong) / 3000 < 0.55  # a donor answer is sometimes the right one
    assert len(TextCorpus(documents=4000, facts=40)) > 1.9 * len(
        TextCorpus(documents=2000, facts=40)
    )
    bad: dict[str, Any]
    for bad in ({"noise": 2.0}, {"families": ["poetry"]}, {"documents": 0}, {"weights": {"x": 1}}):
        with pytest.raises(ValueError, match="accepted"):
            TextCorpus(**bad)


def _split(text: str) -> tuple[str, str]:
    prompt, _, answer = text.strip("^$").partition("=")
    return prompt + "=", answer


def test_windows_start_at_documents_and_composition_label() -> None:
    c = corpus()
    index = c.windows(np.random.default_rng(0), 16, 65)
    assert index.shape == (16, 65) and np.all(c.tokens[index[:, 0]] == BOS)
    assert index.max() < len(c) and len(FAMILY_NAMES) == COMPOSITION


def test_a_million_tokens_in_about_a_second() -> None:
    import time

    start = time.perf_counter()
    c = TextCorpus(documents=60000)
    assert len(c) > 900_000 and time.perf_counter() - start < 6.0


def test_text_env_reveals_the_document_and_judges_predictions() -> None:
    env = gym.make("incentives/Text-v0", documents=200, facts=40)
    obs, info = env.reset(seed=3)
    text = [BOS]
    steps, answers = 0, []
    terminated = False
    while not terminated:
        obs, score, terminated, _, info = env.step(0)
        text.append(int(obs[-1]))
        answers.append(info["is_answer"])
        assert score == 0.0 and not info["correct"] and info["family"] == info["family"]
        steps += 1
    assert text[-1] == EOS and answers[-1] and info["group"] and info["exact"] is False
