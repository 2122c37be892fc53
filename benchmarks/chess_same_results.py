"""Two checkouts, the same chess training: identical results, and how much faster.

Trains ``chess_mlp_defaults`` (``benchmarks/chess_training_throughput.py``: the chess MLP
with the project's MaskablePPO defaults on 8 KQK envs, one torch thread) from seed 0 with
the code of each checkout, in alternating subprocesses (``--pairs`` times), and prints:

- whether both give the same numbers: a SHA-256 of the final weights and of the last
  rollout buffer (observations, actions, rewards, values, log-probabilities, masks);
- each run's steps/s and its time in the rollout (everything but ``train``) and in the
  update (``train``), and per pair the ratio of this checkout's times to the other's.

Pairs taken back to back see nearly the same load on a shared machine, so their ratios
are steadier than rates measured minutes apart.

    git worktree add --detach /tmp/before <revision>
    python benchmarks/chess_same_results.py --before /tmp/before --pairs 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def worker(root: str, steps: int) -> dict[str, Any]:
    """Train with the code under ``root``; its fingerprint and timings."""
    sys.path[:0] = [root, f"{root}/benchmarks"]
    import numpy as np
    import torch

    torch.set_num_threads(1)
    import chess_training_throughput as bench

    model = bench.contender("chess_mlp_defaults").build("cpu", 0)
    spent = {"update": 0.0}
    train = model.train

    def timed_train() -> None:
        start = time.perf_counter()
        train()
        spent["update"] += time.perf_counter() - start

    model.train = timed_train  # type: ignore[method-assign]
    start = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - start
    buffer = model.rollout_buffer
    digest = hashlib.sha256()
    for _, tensor in sorted(model.policy.state_dict().items()):
        digest.update(tensor.numpy().tobytes())
    names = ("observations", "actions", "rewards", "values", "log_probs", "action_masks")
    for name in names:
        digest.update(np.ascontiguousarray(getattr(buffer, name)).tobytes())
    return {
        "fingerprint": digest.hexdigest()[:16],
        "steps_per_s": model.num_timesteps / seconds,
        "rollout_s": seconds - spent["update"],
        "update_s": spent["update"],
    }


def run(root: Path, steps: int) -> dict[str, Any]:
    """``worker`` in a fresh process (its imports are the checkout's own)."""
    command = [sys.executable, __file__, "--worker", str(root), "--steps", str(steps)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Alternate the two checkouts, then print fingerprints, rates and ratios."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", help="the other checkout (a git worktree)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8192, help="env steps per run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    if not args.before:
        parser.error("--before DIR is needed (git worktree add --detach DIR REVISION)")
    before, after = Path(args.before).resolve(), ROOT
    ratios: dict[str, list[float]] = {"total": [], "rollout": [], "update": []}
    prints: set[str] = set()
    for pair in range(args.pairs):
        old, new = run(before, args.steps), run(after, args.steps)
        prints.update((old["fingerprint"], new["fingerprint"]))
        for name, r in (("before", old), ("after", new)):
            print(
                f"pair {pair + 1} {name:<6} {r['steps_per_s']:7.0f} steps/s  rollout "
                f"{r['rollout_s']:6.2f} s  update {r['update_s']:6.2f} s  {r['fingerprint']}",
                flush=True,
            )
        ratios["total"].append(new["steps_per_s"] / old["steps_per_s"])
        ratios["rollout"].append(old["rollout_s"] / new["rollout_s"])
        ratios["update"].append(old["update_s"] / new["update_s"])
    same = "the same numbers" if len(prints) == 1 else "DIFFERENT numbers"
    print(f"\nresults: {same} (fingerprints {', '.join(sorted(prints))})")
    for name, values in ratios.items():
        print(
            f"after / before, {name:<7} speed: median {statistics.median(values):.3f} "
            f"(range {min(values):.3f}-{max(values):.3f})"
        )


if __name__ == "__main__":
    main()
