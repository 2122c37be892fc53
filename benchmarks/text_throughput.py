"""Training speed of the text domain's LM learner: the toolkit against a plain loop.

Both train the same model shape (a pre-LN GPT, ``agents.lm``'s presets) on the same batch
and context for the same number of updates, in one process, interleaved (the order
alternates each repeat) so that load on a shared machine hits both:

- ``plain``: a minimal GPT and training loop written here, with no toolkit code: random
  windows of a random token array, plain cross-entropy, AdamW, gradient clipping.
- ``toolkit``: ``incentives.run.text``'s training loop as a run executes it (built by
  its ``build``, timed around ``run_phases``): windows drawn from the generated corpus,
  the scheme's per-token weights, the weighted loss, the learning-rate schedule, the
  training scalars every ``log_every`` updates (no evaluation).

Reported: tokens per second of each (the median over repeats) and their ratio (the
issue's target: the toolkit at >= 0.9x the plain loop).

    python benchmarks/text_throughput.py                        # CPU, small, 3 repeats
    python benchmarks/text_throughput.py --sizes tiny small base --updates 100
    python benchmarks/text_throughput.py --device cuda --sizes base large xl --batch 128
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: The presets' shapes, restated so that the plain side imports nothing of ours; the
#: toolkit's are checked against them at start.
SHAPES = {
    "tiny": (24, 1, 2),
    "small": (64, 2, 4),
    "base": (128, 4, 4),
    "large": (256, 4, 8),
    "xl": (384, 6, 6),
}
VOCAB = 56


class PlainBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class PlainGPT(nn.Module):
    def __init__(self, d: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(VOCAB, d), nn.Embedding(context, d)
        self.blocks = nn.Sequential(*(PlainBlock(d, heads) for _ in range(layers)))
        self.ln = nn.LayerNorm(d)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        return self.ln(self.blocks(x)) @ self.tok.weight.T


def plain(size: str, updates: int, batch: int, context: int, device: torch.device) -> float:
    """Tokens per second of the plain loop."""
    torch.manual_seed(0)
    model = PlainGPT(*SHAPES[size], context).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    data = torch.randint(0, VOCAB, (1_000_000,), device=device)
    autocast: Any = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else _Nothing()
    )

    def step() -> None:
        starts = torch.randint(0, len(data) - context - 1, (batch, 1), device=device)
        window = data[starts + torch.arange(context + 1, device=device)]
        with autocast:
            logits = model(window[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1).float(), window[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    _sync(device)
    start = time.perf_counter()
    for _ in range(updates):
        step()
    _sync(device)
    return updates * batch * context / (time.perf_counter() - start)


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def toolkit(
    size: str, updates: int, batch: int, context: int, device: str, documents: int
) -> float:
    """Tokens per second of the toolkit's training loop."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import incentives.run.text as text_run
    from incentives.run.configs import config_dir

    overrides = [
        "env=text",
        "agent=lm",
        "reward=next_token",
        f"agent.size={size}",
        f"agent.batch_size={batch}",
        f"agent.context={context}",
        f"agent.device={device}",
        "agent.torch_threads=0",  # the thread count set by main() stays
        f"env.kwargs.documents={documents}",
        "checkpoint.every=0",
        "eval.every=0",
        "progress_bar=false",
    ]
    tokens = batch * context
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, f"budget={updates * tokens}"])
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        plan = text_run.plan_text(config)
        trainer = text_run.build(plan, Path(folder), None)
        start = time.perf_counter()
        text_run.run_phases(trainer)
        _sync(trainer.learner.device)
        elapsed = time.perf_counter() - start
        trainer.logger.close()
    return updates * tokens / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small"], choices=list(SHAPES))
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--documents", type=int, default=20000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from agents.lm import PRESETS

    assert all(PRESETS[s] == SHAPES[s] for s in SHAPES), "presets changed: update SHAPES"
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else "cpu"
        if args.device == "auto"
        else args.device
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"device {device} ({name or platform.machine()}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), batch {args.batch} x context {args.context}, "
        f"{args.updates} updates x {args.repeats} repeats"
    )
    print(f"{'size':<6} {'params':>9} {'plain tok/s':>12} {'toolkit tok/s':>14} {'ratio':>6}")
    for size in args.sizes:
        plain(size, 3, args.batch, args.context, device)  # warm-up: allocators, kernels
        runs: dict[str, list[float]] = {"plain": [], "toolkit": []}
        for repeat in range(args.repeats):
            order = ("plain", "toolkit") if repeat % 2 == 0 else ("toolkit", "plain")
            for who in order:
                if who == "plain":
                    runs[who].append(plain(size, args.updates, args.batch, args.context, device))
                else:
                    runs[who].append(
                        toolkit(
                            size,
                            args.updates,
                            args.batch,
                            args.context,
                            str(device),
                            args.documents,
                        )
                    )
        ratios = [t / p for t, p in zip(runs["toolkit"], runs["plain"], strict=True)]
        d, layers, _ = SHAPES[size]
        params = (VOCAB + args.context) * d + layers * (12 * d * d + 13 * d) + 2 * d
        p, t = statistics.median(runs["plain"]), statistics.median(runs["toolkit"])
        print(
            f"{size:<6} {params:>9} {p:>12.0f} {t:>14.0f} {statistics.median(ratios):>6.2f}"
            f"   (ratios per repeat: {', '.join(f'{r:.2f}' for r in ratios)})",
            flush=True,
        )


if __name__ == "__main__":
    main()
