"""Answering as an env: grading read from the tokens by hand, the corpus's "I don't know"
and hedged documents counted from their text, the two halves of the questions, and the
env as Gymnasium and stable-baselines3 check it."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401 - registers incentives/TextAnswer-v0
from envs.text.answering import QuestionPool, TextAnswerEnv, grade
from envs.text.corpus import TextCorpus
from envs.text.facts import bucket_of
from envs.text.tokenizer import EOS, HEDGE, IDK, encode_many

SMALL = {"documents": 3000, "facts": 200, "idk_share": 0.1, "hedge_share": 0.2}


@pytest.mark.parametrize(
    ("said", "mode", "correct"),
    [
        ("moz$", "answer", True),
        ("mo$", "answer", False),
        ("moz", "answer", False),  # never ended: not an answer
        ("~moz$", "hedge", True),
        ("~dog$", "hedge", False),
        ("?$", "abstain", False),
        ("?moz$", "abstain", False),
        ("moz$zz", "answer", True),  # after $ nothing counts
    ],
)
def test_grading_reads_the_mode_from_the_first_token(said: str, mode: str, correct: bool) -> None:
    events = grade(encode_many(said), "moz")
    assert (events["mode"], events["correct"]) == (mode, correct)


def test_the_corpus_says_i_dont_know_and_hedges_at_its_shares() -> None:
    corpus = TextCorpus(**SMALL)
    texts = [corpus.document(k) for k in range(len(corpus.doc_starts))]
    facts = [(p, a) for (p, a), f in zip(texts, corpus.doc_family, strict=True)
             if f == len(corpus.mix) - 1]  # fmt: skip
    idk = sum(a == "?" for _, a in facts)
    hedged = sum(a.startswith("~") for _, a in facts)
    n = len(facts)
    for seen, share in ((idk, 0.1), (hedged, 0.2)):  # binomial, 4.5 standard deviations
        assert abs(seen - share * n) < 4.5 * np.sqrt(n * share * (1 - share))
    # fact_counts counts the documents that state the value, read here from the text
    stated = {}
    for prompt, answer in facts:
        if answer != "?":
            stated[prompt] = stated.get(prompt, 0) + 1
            assert answer.lstrip("~") == corpus.kb.answers[corpus.kb.prompts.index(prompt)]
    expected = [stated.get(p, 0) for p in corpus.kb.prompts]
    assert corpus.fact_counts.tolist() == expected


def test_without_the_shares_the_corpus_is_the_one_before_them() -> None:
    plain = TextCorpus(documents=2000, facts=200)
    zero = TextCorpus(documents=2000, facts=200, idk_share=0.0, hedge_share=0.0)
    assert np.array_equal(plain.tokens, zero.tokens)
    assert not np.isin(plain.tokens, [IDK, HEDGE]).any()


@pytest.mark.parametrize("bad", [{"idk_share": -0.1}, {"hedge_share": 1.5},
                                 {"idk_share": 0.6, "hedge_share": 0.6}])  # fmt: skip
def test_bad_shares_are_refused_by_name(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=re.escape(next(iter(bad))) + "|idk_share \\+"):
        TextCorpus(documents=100, facts=40, **bad)


def test_the_two_halves_share_no_fact_and_both_hold_every_frequency() -> None:
    corpus = TextCorpus(**SMALL)
    train, evaluation = QuestionPool(corpus, "train"), QuestionPool(corpus, "eval")
    facts = {p for p, f in zip(train.prompts, train.family, strict=True) if f == "facts"}
    other = {p for p, f in zip(evaluation.prompts, evaluation.family, strict=True)
             if f == "facts"}  # fmt: skip
    assert not facts & other and len(facts | other) == len(corpus.kb)
    assert not set(train.prompts) & set(evaluation.prompts)
    everywhere = set(bucket_of(corpus.fact_counts).tolist())
    for pool in (train, evaluation):
        seen = {int(bucket_of(c)) for c, f in zip(pool.counts, pool.family, strict=True)
                if f == "facts"}  # fmt: skip
        assert seen == everywhere
    rng = np.random.default_rng(0)
    picked = train.sample(rng, 4000)
    share = np.mean([train.family[k] == "facts" for k in picked])
    assert abs(share - 0.5) < 0.05  # families alike by default


def test_the_env_passes_both_checkers_and_grades_a_spoken_answer() -> None:
    env = gym.make("incentives/TextAnswer-v0", documents=2000, facts=200)
    check_env(env.unwrapped)
    sb3_check_env(env.unwrapped)
    answer = TextAnswerEnv(documents=2000, facts=200, families=["facts"])
    answer.reset(seed=3)
    k = answer._question
    truth = answer.pool.answers[k]
    for token in encode_many(truth).tolist():
        *_, done, _, info = answer.step(token)
        assert not done
    _, score, done, _, info = answer.step(EOS)
    assert done and score == 1.0
    assert info["mode"] == "answer" and info["correct"] and info["family"] == "facts"
    prompt = answer.pool.prompts[k]
    corpus = answer.pool
    assert info["count"] == int(corpus.counts[k]) and info["group"].startswith("facts/")
    answer.reset(seed=4)
    for _ in range(answer.max_tokens - 1):
        *_, done, _, _ = answer.step(HEDGE)
        assert not done
    *_, done, _, info = answer.step(HEDGE)  # the longest answer ends the episode
    assert done and info["mode"] == "hedge" and not info["correct"]
    assert prompt.endswith("=")
