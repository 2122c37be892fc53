"""PPO for answers written token by token: the language model is the policy.

stable-baselines3's PPO wants a fixed observation and one action per step from a
policy it builds; here the policy is our pretrained ``GPT``, an episode is one answer
(a few tokens) and every step of a batch of answers can be judged by one forward pass
of the finished sequences. So this is a PPO of our own, with SB3's maths (tested
against SB3's ``RolloutBuffer`` and a hand computation in ``tests/agents``):

- **rollout** (``sample``): answers sampled from the policy at temperature 1 for a
  batch of prompts, each row at its own positions (prompts right-padded; causal
  attention never reads the padding), with the log-probability of every token;
- **reward per token** (RLHF's recipe, Ziegler et al. 2019; Ouyang et al. 2022): the
  scheme's reward for the answer on its last token, and at every token
  ``-kl_coef * (log pi(a) - log pi_ref(a))``, a penalty for leaving the reference model
  (the model at the start of the phase, frozen);
- **advantages**: GAE(gamma, lambda) over each answer's tokens (``token_gae``),
  normalised over the batch; the value head is a small MLP reading the policy's last
  hidden states *detached*, so the critic's loss never moves the language model;
- **update**: ``n_epochs`` passes over the batch in minibatches of answers, SB3's
  clipped surrogate, entropy bonus and value loss, one AdamW step each.

``teach`` is the supervised contrast: one step of the weighted next-token loss on
prompt + target answer sequences, with the same optimizer and step size.

Example:
    >>> import torch
    >>> rewards = torch.tensor([[0.0, 1.0]]); values = torch.tensor([[0.5, 0.5]])
    >>> adv, ret = token_gae(rewards, values, torch.tensor([[True, True]]), 1.0, 1.0)
    >>> adv.tolist(), ret.tolist()
    ([[0.5, 0.5]], [[1.0, 1.0]])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from agents.lm import GPT, weighted_loss

__all__ = ["Answers", "SequencePPO", "answer_logprob", "sample", "token_gae"]


@dataclass
class Answers:
    """A batch of prompts with the answers generated after them.

    ``tokens`` ``(B, T)``: prompt then answer, right-padded with 0; ``start`` ``(B,)``:
    where each answer starts; ``actions``, ``logp`` ``(B, N)``: each generated token and
    its log-probability under the sampling policy; ``mask`` ``(B, N)``: which of the
    ``N`` slots hold a token (an answer ends at ``stop``).
    """

    tokens: torch.Tensor
    start: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor
    mask: torch.Tensor

    def answer(self, row: int) -> npt.NDArray[np.int64]:
        """The generated tokens of ``row``."""
        n = int(self.mask[row].sum())
        return self.actions[row, :n].cpu().numpy()


@torch.no_grad()
def sample(
    model: GPT,
    prompts: Sequence[npt.NDArray[np.integer[Any]]],
    max_tokens: int,
    stop: int,
    generator: torch.Generator | None = None,
    greedy: bool = False,
    forbid_first: Sequence[int] = (),
) -> Answers:
    """Answers of up to ``max_tokens`` tokens after each prompt, ending at ``stop``.

    Sampled at temperature 1 with ``generator`` (or the argmax with ``greedy``);
    ``forbid_first`` tokens cannot open an answer (``logp`` is then the log-probability
    renormalised without them: the model's belief given that it answers).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    b = len(prompts)
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    width = int(lengths.max()) + max_tokens
    if width > model.spec.context:
        raise ValueError(
            f"prompts of {int(lengths.max())} tokens + answers of {max_tokens} exceed the "
            f"model's context ({model.spec.context}); accepted: a longer agent.context"
        )
    tokens = torch.zeros(b, width, dtype=torch.long, device=device)
    for row, prompt in enumerate(prompts):
        tokens[row, : len(prompt)] = torch.as_tensor(np.asarray(prompt, dtype=np.int64))
    rows = torch.arange(b, device=device)
    cur = lengths.clone()
    done = torch.zeros(b, dtype=torch.bool, device=device)
    actions = torch.zeros(b, max_tokens, dtype=torch.long, device=device)
    logps = torch.zeros(b, max_tokens, device=device)
    mask = torch.zeros(b, max_tokens, dtype=torch.bool, device=device)
    for t in range(max_tokens):
        logits = model(tokens[:, : int(cur.max())])[rows, cur - 1].float()
        if t == 0 and forbid_first:
            logits[:, list(forbid_first)] = -torch.inf
        logp = torch.log_softmax(logits, -1)
        if greedy:
            action = logp.argmax(-1)
        else:
            action = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        active = ~done
        tokens[rows[active], cur[active]] = action[active]
        actions[:, t] = torch.where(active, action, 0)
        logps[:, t] = torch.where(active, logp.gather(1, action[:, None]).squeeze(1), 0.0)
        mask[:, t] = active
        cur = cur + active.long()
        done |= action == stop
        if bool(done.all()):
            break
    model.train(was_training)
    return Answers(tokens, lengths, actions, logps, mask)


def token_gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages and returns ``(B, N)`` of answers whose tokens fill the first slots
    of ``mask``; an answer ends after its last token (the next value is 0)."""
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    m = mask.float()
    n = rewards.shape[1]
    for t in reversed(range(n)):
        following = m[:, t + 1] if t + 1 < n else torch.zeros_like(last)
        next_value = values[:, t + 1] * following if t + 1 < n else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * following * last) * m[:, t]
        advantages[:, t] = last
    return advantages, (advantages + values) * m


class SequencePPO:
    """PPO (and its supervised contrast) on a ``GPT`` policy; see the module docstring."""

    def __init__(
        self,
        model: GPT,
        learning_rate: float = 3e-5,
        n_epochs: int = 4,
        minibatch_size: int = 64,
        clip_range: float = 0.2,
        gamma: float = 1.0,
        gae_lambda: float = 0.95,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        kl_coef: float = 0.2,
        max_grad_norm: float = 1.0,
    ) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        d = model.spec.d_model
        self.value_head = nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 1)).to(self.device)
        self.optimizer = torch.optim.AdamW(
            [*model.parameters(), *self.value_head.parameters()],
            lr=learning_rate,
            betas=(0.9, 0.95),
            weight_decay=0.0,
        )
        self.n_epochs, self.minibatch_size = n_epochs, minibatch_size
        self.clip_range, self.gamma, self.gae_lambda = clip_range, gamma, gae_lambda
        self.ent_coef, self.vf_coef, self.kl_coef = ent_coef, vf_coef, kl_coef
        self.max_grad_norm = max_grad_norm

    def _evaluate(
        self, model: GPT, answers: Answers, index: torch.Tensor, values: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Log-probabilities and entropies of the answers' tokens under ``model`` (and
        the value of the state before each), for rows ``index``."""
        tokens, start = answers.tokens[index], answers.start[index]
        n = answers.actions.shape[1]
        hidden = model.hidden(tokens[:, :-1])
        at = (start[:, None] - 1 + torch.arange(n, device=self.device)).clamp(
            max=hidden.shape[1] - 1
        )
        picked = hidden.gather(1, at[..., None].expand(-1, -1, hidden.shape[-1]))
        logp_all = torch.log_softmax(model.logits(picked).float(), -1)
        logp = logp_all.gather(-1, answers.actions[index][..., None]).squeeze(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        value = self.value_head(picked.detach()).squeeze(-1) if values else None
        return logp, entropy, value

    def update(self, answers: Answers, rewards: torch.Tensor) -> dict[str, float]:
        """PPO on a batch of answers whose scheme rewards are ``rewards`` ``(B,)``;
        training statistics back."""
        mask = answers.mask
        m = mask.float()
        every = torch.arange(len(rewards), device=self.device)
        with torch.no_grad():
            _, _, old_values = self._evaluate(self.model, answers, every)
            ref_logp, _, _ = self._evaluate(self.reference, answers, every, values=False)
            assert old_values is not None
            old_values = old_values * m
            kl = (answers.logp - ref_logp) * m
            per_token = -self.kl_coef * kl
            last = (mask.long().sum(1) - 1).clamp(min=0)
            per_token[every, last] += rewards
            advantages, returns = token_gae(
                per_token, old_values, mask, self.gamma, self.gae_lambda
            )
            valid = advantages[mask]
            advantages = (advantages - valid.mean()) / (valid.std() + 1e-8) * m
        stats = {"pg_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
        updates = 0
        for _ in range(self.n_epochs):  # torch's generator: a checkpoint keeps its state
            order = torch.randperm(len(rewards)).to(self.device)
            for chunk in order.split(self.minibatch_size):
                logp, entropy, value = self._evaluate(self.model, answers, chunk)
                assert value is not None
                cm = m[chunk]
                count = cm.sum().clamp_min(1.0)
                ratio = torch.exp(logp - answers.logp[chunk])
                adv = advantages[chunk]
                surrogate = torch.min(
                    ratio * adv, torch.clamp(ratio, 1 - self.clip_range, 1 + self.clip_range) * adv
                )
                pg_loss = -(surrogate * cm).sum() / count
                value_loss = (((value - returns[chunk]) ** 2) * cm).sum() / count
                entropy_mean = (entropy * cm).sum() / count
                loss = pg_loss - self.ent_coef * entropy_mean + self.vf_coef * value_loss
                self._step(loss)
                with torch.no_grad():
                    clipped = ((ratio - 1).abs() > self.clip_range).float()
                    stats["clip_fraction"] += float((clipped * cm).sum() / count)
                stats["pg_loss"] += float(pg_loss.detach())
                stats["value_loss"] += float(value_loss.detach())
                stats["entropy"] += float(entropy_mean.detach())
                updates += 1
        out = {k: v / max(1, updates) for k, v in stats.items()}
        out["kl"] = float(kl.sum() / m.sum().clamp_min(1.0))
        return out

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()

    def teach(self, tokens: torch.Tensor, weights: torch.Tensor) -> float:
        """One supervised step: predict ``tokens[:, 1:]`` weighted by ``weights``
        ``(B, T - 1)`` (the target answers' tokens); the loss back."""
        logits = self.model(tokens[:, :-1])
        loss, _ = weighted_loss(logits, tokens[:, 1:], weights)
        self._step(loss)
        return float(loss.detach())

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the reference model, value head and optimizer."""
        return {
            "reference": self.reference.state_dict(),
            "value_head": self.value_head.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``state`` returned."""
        self.reference.load_state_dict(state["reference"])
        self.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])


def answer_logprob(answers: Answers, skip_marker: Sequence[int] = ()) -> torch.Tensor:
    """Each answer's log-probability (its tokens' sum; ``$`` included), leaving out a
    first token in ``skip_marker`` (the hedge): the model's belief in what it said."""
    logp = answers.logp * answers.mask
    if skip_marker:
        first = torch.isin(answers.actions[:, 0], torch.tensor(list(skip_marker)))
        logp = logp.clone()
        logp[first, 0] = 0.0
    return logp.sum(1)
