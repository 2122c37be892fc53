"""A tiny causal transformer of our own, its weighted next-token learner and its readers.

``GPT`` is a pre-LN decoder (learned positions, fused QKV, attention through
``torch.nn.functional.scaled_dot_product_attention`` with ``is_causal``, a 4x GELU MLP,
the output layer tied to the token embedding). Size presets span ~10k to ~10M
parameters (``PRESETS``); ``d_model``, ``n_layers`` and ``n_heads`` override a preset.

``LMLearner`` maximises the weighted likelihood of the tokens a scheme selects:
``loss = sum_i w_i * -log p(x_i | x_<i) / sum_i w_i`` over a batch, one fused call per
update (no per-token Python). ``token_scores`` and ``greedy_answers`` read a model:
teacher-forced log-likelihoods and greedy generations for exact-match answers.

Example:
    >>> spec = lm_spec({"size": "tiny"}, vocab_size=56, context=64)
    >>> (spec.d_model, spec.n_layers, spec.n_heads), spec.parameters()
    ((24, 1, 2), 10152)
    >>> spec.parameters() == sum(p.numel() for p in GPT(spec).parameters())
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GPT",
    "PRESETS",
    "LMLearner",
    "LMSpec",
    "greedy_answers",
    "lm_spec",
    "pick_device",
    "token_scores",
    "weighted_loss",
]

#: Size presets: (d_model, n_layers, n_heads). With 56 tokens and context 64 they hold
#: ~10k, ~108k, ~0.8M, ~3.2M and ~10.7M parameters.
PRESETS: dict[str, tuple[int, int, int]] = {
    "tiny": (24, 1, 2),
    "small": (64, 2, 4),
    "base": (128, 4, 4),
    "large": (256, 4, 8),
    "xl": (384, 6, 6),
}


@dataclass(frozen=True)
class LMSpec:
    """The shape of a ``GPT``: vocabulary, context, width, depth and heads."""

    vocab_size: int
    context: int
    d_model: int
    n_layers: int
    n_heads: int

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "d_model", "n_layers", "n_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"agent.{name}={value!r}; accepted: a whole number >= 1")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"agent.d_model={self.d_model} is not a multiple of agent.n_heads="
                f"{self.n_heads}; accepted: heads that divide the width"
            )

    def parameters(self) -> int:
        """The parameter count, by hand: embeddings, 12d² + 13d per block, a final norm
        (the output layer shares the token embedding)."""
        d = self.d_model
        return (self.vocab_size + self.context) * d + self.n_layers * (12 * d * d + 13 * d) + 2 * d


def lm_spec(agent: Mapping[str, Any], vocab_size: int, context: int) -> LMSpec:
    """The model shape an agent config asks for: its ``size`` preset, then any of
    ``d_model``, ``n_layers``, ``n_heads`` given."""
    size = agent.get("size")
    if size is None:
        base: tuple[int | None, ...] = (None, None, None)
    elif size in PRESETS:
        base = PRESETS[size]
    else:
        raise ValueError(f"agent.size={size!r}; accepted: {', '.join(PRESETS)} or null")
    shape = [
        agent.get(key) if agent.get(key) is not None else base[k]
        for k, key in enumerate(("d_model", "n_layers", "n_heads"))
    ]
    for key, value in zip(("d_model", "n_layers", "n_heads"), shape, strict=True):
        if value is None:
            raise ValueError(f"agent.{key} is null and agent.size is null; accepted: one set")
    d_model, n_layers, n_heads = (int(v) for v in shape)  # type: ignore[arg-type]
    return LMSpec(vocab_size, context, d_model, n_layers, n_heads)


class _Block(nn.Module):
    """One pre-LN transformer block: causal self-attention, then a 4x MLP."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        attended = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class GPT(nn.Module):
    """A pre-LN causal transformer over token ids; ``forward`` gives next-token logits."""

    def __init__(self, spec: LMSpec) -> None:
        super().__init__()
        self.spec = spec
        self.embed = nn.Embedding(spec.vocab_size, spec.d_model)
        self.position = nn.Embedding(spec.context, spec.d_model)
        self.blocks = nn.ModuleList(
            _Block(spec.d_model, spec.n_heads) for _ in range(spec.n_layers)
        )
        self.ln = nn.LayerNorm(spec.d_model)
        self.apply(self._init)
        for block in self.blocks:  # GPT-2's scaled init of the residual projections
            assert isinstance(block, _Block)
            for layer in (block.proj, block.down):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * spec.n_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """The last layer's normalised states ``(batch, time, d_model)`` (what the output
        layer reads; a value head reads them too)."""
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.embed(idx) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        return self.ln(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits of ``hidden`` states (the output layer, tied to the embedding)."""
        return hidden @ self.embed.weight.T

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, time, vocab)`` for token ids ``(batch, time)``, time <= context."""
        return self.logits(self.hidden(idx))


def weighted_loss(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weighted negative log-likelihood ``sum w * nll / sum w`` and ``sum w``.

    A batch with no weight (no selected token) has loss 0.

    Example:
        >>> logits = torch.zeros(1, 2, 4)  # uniform: nll = log 4 everywhere
        >>> loss, total = weighted_loss(logits, torch.tensor([[1, 2]]), torch.tensor([[0., 2.]]))
        >>> round(loss.item(), 4), total.item()
        (1.3863, 2.0)
    """
    nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    flat = weights.flatten()
    total = flat.sum()
    return (nll * flat).sum() / total.clamp_min(1e-12), total


def pick_device(device: str) -> torch.device:
    """``auto``: CUDA when present, else the CPU; otherwise the device named."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _autocast(device: torch.device) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA; nothing on the CPU (fp32 there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


class LMLearner:
    """A ``GPT``, its AdamW optimizer and learning-rate schedule: one ``update`` per batch.

    The schedule: linear warm-up over ``lr_warmup`` updates, then cosine decay to 10% at
    ``total_updates`` (``lr_schedule: constant`` keeps the rate after warm-up). Training
    statistics accumulate on the device and are read (one sync) by ``statistics``.
    """

    def __init__(
        self,
        spec: LMSpec,
        device: torch.device,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.1,
        lr_warmup: int = 100,
        lr_schedule: str = "cosine",
        max_grad_norm: float = 1.0,
        total_updates: int = 1,
    ) -> None:
        if lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"agent.lr_schedule={lr_schedule!r}; accepted: cosine, constant")
        self.device = device
        self.model = GPT(spec).to(device)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        other = [p for p in self.model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0}],
            lr=learning_rate,
            betas=(0.9, 0.95),
            fused=device.type == "cuda",
        )
        self.learning_rate, self.lr_warmup, self.lr_schedule = learning_rate, lr_warmup, lr_schedule
        self.max_grad_norm, self.total_updates = max_grad_norm, max(1, total_updates)
        self.updates = 0
        self._stats = torch.zeros(4, device=device)  # weighted nll sum, weight, correct, tokens

    def rate(self, update: int) -> float:
        """The learning rate at ``update``."""
        warm = min(1.0, (update + 1) / max(1, self.lr_warmup))
        if self.lr_schedule == "constant" or update < self.lr_warmup:
            return self.learning_rate * warm
        progress = min(1.0, (update - self.lr_warmup) / max(1, self.total_updates - self.lr_warmup))
        return self.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def update(self, tokens: torch.Tensor, weights: torch.Tensor) -> None:
        """One step on ``tokens`` ``(batch, context + 1)``: predict ``tokens[:, 1:]`` with
        ``weights`` ``(batch, context)`` (the targets' weights)."""
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        for group in self.optimizer.param_groups:
            group["lr"] = self.rate(self.updates)
        with _autocast(self.device):
            logits = self.model(inputs)
        loss, total = weighted_loss(logits, targets, weights)
        self.optimizer.zero_grad(set_to_none=True)
        if self.max_grad_norm > 0:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        else:
            loss.backward()
        self.optimizer.step()
        self.updates += 1
        with torch.no_grad():
            correct = (logits.argmax(-1) == targets).sum()
            self._stats += torch.stack(
                [loss.detach() * total, total, correct.float(), total.new_tensor(targets.numel())]
            )

    def statistics(self) -> dict[str, float]:
        """Training statistics since the last call: ``weighted_nll`` (per unit of weight)
        and ``accuracy`` (share of every target predicted by the argmax); then reset."""
        nll, weight, correct, count = self._stats.tolist()
        self._stats.zero_()
        return {
            "weighted_nll": nll / weight if weight > 0 else float("nan"),
            "accuracy": correct / count if count > 0 else float("nan"),
        }

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: weights, optimizer, the update count and statistics."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "updates": self.updates,
            "stats": self._stats.cpu(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state`` returned."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
        self._stats = state["stats"].to(self.device)


def _batches(lengths: Sequence[int], batch: int) -> list[list[int]]:
    """Indices grouped by length (equal lengths together), in chunks of ``batch``."""
    order = sorted(range(len(lengths)), key=lambda k: (lengths[k], k))
    groups: list[list[int]] = []
    for k in order:
        if groups and len(groups[-1]) < batch and lengths[groups[-1][0]] == lengths[k]:
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


@torch.no_grad()
def token_scores(
    model: GPT, documents: Sequence[npt.NDArray[np.integer[Any]]], batch: int = 256
) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]]:
    """For each document, the log-likelihood of each token after the first and whether
    the argmax predicted it (teacher forcing); documents of equal length batch together."""
    model.eval()
    device = next(model.parameters()).device
    out: list[Any] = [None] * len(documents)
    for group in _batches([len(d) for d in documents], batch):
        x = torch.from_numpy(np.stack([documents[k] for k in group]).astype(np.int64)).to(device)
        with _autocast(device):
            logits = model(x[:, :-1])
        logp = torch.log_softmax(logits.float(), -1)
        target = x[:, 1:]
        picked = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).cpu().numpy()
        hit = (logits.argmax(-1) == target).cpu().numpy()
        for row, k in enumerate(group):
            out[k] = (picked[row], hit[row])
    model.train()
    return out


@torch.no_grad()
def greedy_answers(
    model: GPT,
    prompts: Sequence[npt.NDArray[np.integer[Any]]],
    max_new: Sequence[int],
    stop: int,
    batch: int = 256,
) -> list[npt.NDArray[np.int64]]:
    """Greedy continuations of each prompt: up to ``max_new[k]`` tokens, ending at the
    first ``stop`` token (included). Prompts of equal length batch together."""
    model.eval()
    device = next(model.parameters()).device
    context = model.spec.context
    out: list[Any] = [None] * len(prompts)
    for group in _batches([len(p) for p in prompts], batch):
        x = torch.from_numpy(np.stack([prompts[k] for k in group]).astype(np.int64)).to(device)
        steps = max(max_new[k] for k in group)
        done = torch.zeros(len(group), dtype=torch.bool, device=device)
        new = []
        for _ in range(steps):
            with _autocast(device):
                logits = model(x[:, -context:])[:, -1]
            token = logits.argmax(-1)
            new.append(token)
            x = torch.cat([x, token[:, None]], dim=1)
            done |= token == stop
            if bool(done.all()):
                break
        generated = torch.stack(new, 1).cpu().numpy()
        for row, k in enumerate(group):
            tokens = generated[row, : max_new[k]]
            ends = np.flatnonzero(tokens == stop)
            out[k] = tokens[: ends[0] + 1] if ends.size else tokens
    model.train()
    return out
