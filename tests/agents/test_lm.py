"""The tiny causal transformer: its size by hand, causality, the weighted loss by hand,
generation and scoring, and that it learns to copy."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from agents.lm import (
    GPT,
    PRESETS,
    LMLearner,
    greedy_answers,
    lm_spec,
    pick_device,
    token_scores,
    weighted_loss,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a busy two-core machine more threads spin and crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hand_count(vocab: int, context: int, d: int, layers: int) -> int:
    """Embeddings (tied output), per block LN 2d + QKV 3d²+3d + proj d²+d + LN 2d + MLP
    4d²+4d + 4d²+d, a final LN."""
    block = (
        2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d)
    )
    return vocab * d + context * d + layers * block + 2 * d


@pytest.mark.parametrize("size", list(PRESETS))
def test_presets_parameter_counts_match_the_hand_formula(size: str) -> None:
    spec = lm_spec({"size": size}, vocab_size=54, context=64)
    d, layers, _ = PRESETS[size]
    expected = hand_count(54, 64, d, layers)
    assert spec.parameters() == expected
    if d <= 128:  # building the big ones costs time, the formula is the same
        assert sum(p.numel() for p in GPT(spec).parameters()) == expected


def test_presets_span_ten_thousand_to_ten_million() -> None:
    counts = [lm_spec({"size": s}, 54, 64).parameters() for s in PRESETS]
    assert counts == sorted(counts) and 9_000 < counts[0] < 12_000 and 9e6 < counts[-1] < 12e6


def test_overrides_and_bad_shapes() -> None:
    spec = lm_spec({"size": "small", "d_model": 32, "n_heads": 2}, 54, 16)
    assert (spec.d_model, spec.n_layers, spec.n_heads) == (32, 2, 2)
    for bad in ({"size": "huge"}, {"size": None}, {"size": "tiny", "n_heads": 5}):
        with pytest.raises(ValueError, match="accepted"):
            lm_spec(bad, 54, 64)


def test_future_tokens_do_not_change_past_logits() -> None:
    torch.manual_seed(0)
    model = GPT(lm_spec({"size": "small"}, 54, 32))
    x = torch.randint(0, 54, (2, 20))
    y = x.clone()
    y[:, 12:] = torch.randint(0, 54, (2, 8))
    a, b = model(x), model(y)
    assert torch.allclose(a[:, :12], b[:, :12], atol=1e-6)
    assert not torch.allclose(a[:, 12:], b[:, 12:])


def test_weighted_loss_equals_a_hand_computation() -> None:
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[0, 4, 2], [1, 1, 3]])
    weights = torch.tensor([[1.0, 0.0, 2.0], [0.5, 0.0, 0.0]])
    loss, total = weighted_loss(logits, targets, weights)
    nll = [
        -math.log(math.exp(logits[b, t, targets[b, t]]) / logits[b, t].exp().sum().item())
        for b in range(2)
        for t in range(3)
    ]
    w = weights.flatten().tolist()
    assert total.item() == 3.5
    assert loss.item() == pytest.approx(sum(n * v for n, v in zip(nll, w, strict=True)) / 3.5)
    nothing, _ = weighted_loss(logits, targets, torch.zeros(2, 3))
    assert nothing.item() == 0.0


def test_tiny_model_learns_to_copy_and_generates_the_copy() -> None:
    """Sequences `^ a b c | a b c $` over 6 symbols, only the copy weighted: after a few
    hundred updates the greedy continuation of a new prefix is its copy."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    spec = lm_spec({"size": None, "d_model": 32, "n_layers": 2, "n_heads": 2}, 8, 8)
    learner = LMLearner(spec, pick_device("cpu"), learning_rate=1e-2, lr_warmup=10,
                        total_updates=250)  # fmt: skip
    weights = torch.tensor([0.0] * 3 + [1.0] * 4)  # targets 4..7: the copy and the stop
    for _ in range(250):
        body = rng.integers(0, 6, size=(32, 3))
        seq = np.concatenate([np.full((32, 1), 6), body, body, np.full((32, 1), 7)], axis=1)
        learner.update(torch.from_numpy(seq), weights.expand(32, 7))
    assert learner.statistics()["weighted_nll"] < 1.0
    prompts = [np.array([6, *row]) for row in rng.integers(0, 6, size=(32, 3))]
    answers = greedy_answers(learner.model, prompts, [4] * 32, stop=7, batch=16)
    right = [np.array_equal(a, [*p[1:], 7]) for a, p in zip(answers, prompts, strict=True)]
    assert np.mean(right) > 0.9


def test_scores_and_generation_batch_by_length_without_changing_results() -> None:
    torch.manual_seed(2)
    model = GPT(lm_spec({"size": "tiny"}, 54, 64))
    docs = [np.arange(1, n, dtype=np.uint8) for n in (5, 9, 5, 7)]
    together = token_scores(model, docs, batch=8)
    alone = [token_scores(model, [d], batch=1)[0] for d in docs]
    for (a, ha), (b, hb) in zip(together, alone, strict=True):
        assert np.allclose(a, b, atol=1e-5) and np.array_equal(ha, hb)
    logits = model(torch.from_numpy(docs[1][None, :-1].astype(np.int64)))
    targets = torch.from_numpy(docs[1][1:].astype(np.int64))
    expected = torch.log_softmax(logits, -1)[0, torch.arange(7), targets]
    assert np.allclose(together[1][0], expected.detach().numpy(), atol=1e-5)
    generated = greedy_answers(model, docs, [3, 3, 3, 3], stop=2)
    assert all(len(g) <= 3 for g in generated)
    assert np.array_equal(generated[0], generated[2])  # same prompt, same answer
