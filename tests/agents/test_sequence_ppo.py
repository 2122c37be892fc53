"""The sequence PPO: GAE as stable-baselines3 computes it, each row's tokens scored at
its own positions (checked row by row without padding), the rollout's log-probabilities
equal to the update's before any step, and learning that moves the policy the way the
reward says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer

from agents.lm import GPT, lm_spec
from agents.sequence_ppo import SequencePPO, answer_logprob, sample, token_gae

VOCAB, STOP = 12, 2


@pytest.fixture(autouse=True)
def one_thread() -> object:
    """One torch thread: two test workers share two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(lm_spec({"size": "tiny"}, VOCAB, 24))


@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 0.95), (0.9, 0.5), (1.0, 1.0)])
def test_advantages_are_stable_baselines3s(gamma: float, lam: float) -> None:
    rng = np.random.default_rng(1)
    lengths = [3, 1, 4, 2]
    n = max(lengths)
    rewards = rng.normal(size=(len(lengths), n))
    values = rng.normal(size=(len(lengths), n))
    mask = np.arange(n)[None, :] < np.array(lengths)[:, None]
    rewards, values = rewards * mask, values * mask
    adv, ret = token_gae(
        torch.tensor(rewards), torch.tensor(values), torch.tensor(mask), gamma, lam
    )
    # the same answers laid end to end as episodes of one SB3 env
    total = sum(lengths)
    buffer = RolloutBuffer(total, spaces.Discrete(2), spaces.Discrete(2), gamma=gamma,
                           gae_lambda=lam, n_envs=1)  # fmt: skip
    for row, length in enumerate(lengths):
        for t in range(length):
            buffer.add(np.zeros((1, 1)), np.zeros((1, 1)), np.array([rewards[row, t]]),
                       np.array([t == 0]), torch.tensor([values[row, t]]),
                       torch.zeros(1))  # fmt: skip
    buffer.compute_returns_and_advantage(torch.zeros(1), np.array([True]))
    ours = np.concatenate([adv[row, :length].numpy() for row, length in enumerate(lengths)])
    returns = np.concatenate([ret[row, :length].numpy() for row, length in enumerate(lengths)])
    np.testing.assert_allclose(ours, buffer.advantages[:, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(returns, buffer.returns[:, 0], rtol=1e-6, atol=1e-9)


def test_each_row_is_scored_at_its_own_positions() -> None:
    gpt = model()
    prompts = [np.array([1, 5, 6]), np.array([1, 7]), np.array([1, 3, 4, 8, 9])]
    answers = sample(gpt, prompts, 5, STOP, torch.Generator().manual_seed(0))
    for row, prompt in enumerate(prompts):
        said = answers.answer(row)
        sequence = torch.tensor(np.concatenate([prompt, said]))[None]
        with torch.no_grad():  # the row alone, no padding anywhere
            logp = torch.log_softmax(gpt(sequence)[0].float(), -1)
        expected = [float(logp[len(prompt) - 1 + t, a]) for t, a in enumerate(said)]
        np.testing.assert_allclose(answers.logp[row, : len(said)].numpy(), expected, atol=1e-5)
        assert len(said) == 5 or said[-1] == STOP
    ppo = SequencePPO(gpt)
    rows = torch.arange(len(prompts))
    with torch.no_grad():
        again, _, _ = ppo._evaluate(gpt, answers, rows)
    np.testing.assert_allclose((again * answers.mask).numpy(),
                               (answers.logp * answers.mask).numpy(), atol=1e-5)  # fmt: skip


def test_forbidden_openings_renormalise_the_first_token() -> None:
    gpt = model()
    prompt = [np.array([1, 5, 6])]
    best = sample(gpt, prompt, 1, STOP, greedy=True, forbid_first=(3, 4))
    with torch.no_grad():
        logits = gpt(torch.tensor(prompt[0])[None])[0, -1].float()
    keep = [k for k in range(VOCAB) if k not in (3, 4)]
    renormalised = torch.log_softmax(logits[keep], -1)
    token = int(best.actions[0, 0])
    assert token not in (3, 4) and token == keep[int(renormalised.argmax())]
    assert float(answer_logprob(best)[0]) == pytest.approx(float(renormalised.max()), abs=1e-5)


def test_ppo_learns_the_rewarded_first_token_and_keeps_near_its_reference() -> None:
    torch.manual_seed(0)
    gpt = model()
    ppo = SequencePPO(gpt, learning_rate=3e-3, minibatch_size=32, kl_coef=0.0)
    prompts = [np.array([1, 5])] * 64

    def share_of_target() -> float:
        with torch.no_grad():
            return float(torch.softmax(gpt(torch.tensor(prompts[0])[None])[0, -1], -1)[7])

    before = share_of_target()
    for _ in range(12):
        answers = sample(gpt, prompts, 2, STOP)
        rewards = (answers.actions[:, 0] == 7).float()
        stats = ppo.update(answers, rewards)
    after = share_of_target()
    assert before < 0.2 and after > 0.8
    assert stats["clip_fraction"] >= 0.0 and stats["kl"] > 0.0  # it moved from its start


def test_teaching_lowers_the_loss_on_the_taught_tokens() -> None:
    gpt = model()
    ppo = SequencePPO(gpt, learning_rate=3e-3)
    tokens = torch.tensor([[1, 5, 6, 9, STOP], [1, 7, 9, STOP, 0]])
    weights = torch.tensor([[0, 0, 1, 1.0], [0, 1, 1, 0.0]])
    first = ppo.teach(tokens, weights)
    for _ in range(20):
        last = ppo.teach(tokens, weights)
    assert last < first / 2
