"""Microseconds per tablebase probe and per optimal-move lookup, against one chess env step.

A teaching reward or yardstick that asks the KQK/KRK/KPK tablebase about every position an
agent reaches must cost far less than the step that reached it. All three are timed in the
same process on the same positions: those ``incentives/Chess-v0`` (``start=kqk``, ``krk`` or
``kpk``, random opponent) visits when its learner plays uniformly random legal actions, of
the table's material.

- env step: ``env.step(action)`` for a pre-chosen legal action (the learner's ply, the
  opponent's reply, events, observation), resets excluded.
- ``probe``: ``Tablebase.probe(board)`` on the boards the env showed the learner.
- ``best_moves``: ``Tablebase.best_moves(board)`` on the same boards.

    python benchmarks/tablebase_probe.py                 # kqk, 3 rounds of 2 s each
    python benchmarks/tablebase_probe.py --start krk --seconds 1 --rounds 5

The tables are loaded from the cache (``$INCENTIVES_CACHE/tablebase`` or
``~/.cache/incentives/tablebase``), or built and saved first; the time that takes is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import chess
import gymnasium
import numpy as np

import envs  # noqa: F401  (registers incentives/Chess-v0)
from envs.chess import material_of, tablebase

__all__ = ["env_step_seconds", "per_call_seconds"]


def env_step_seconds(start: str, seconds: float, seed: int) -> tuple[float, list[chess.Board]]:
    """Seconds per env step while stepping random legal actions; the boards the learner saw."""
    env = gymnasium.make("incentives/Chess-v0", start=start)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    inner = env.unwrapped
    boards: list[chess.Board] = []
    spent, steps = 0.0, 0
    while spent < seconds:
        boards.append(inner.board.copy(stack=False))  # type: ignore[attr-defined]
        legal = np.flatnonzero(inner.action_masks())  # type: ignore[attr-defined]
        action = int(legal[rng.integers(len(legal))])
        tick = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        spent += time.perf_counter() - tick
        steps += 1
        if terminated or truncated:
            env.reset()
    env.close()
    return spent / steps, boards


def per_call_seconds(call: Callable[[chess.Board], object], boards: list[chess.Board]) -> float:
    """Seconds per ``call(board)``, over all ``boards``."""
    tick = time.perf_counter()
    for board in boards:
        call(board)
    return (time.perf_counter() - tick) / len(boards)


def main() -> None:
    """Print the three costs and the ratios of the env step to the two lookups."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", choices=("kqk", "krk", "kpk"), default="kqk")
    parser.add_argument("--seconds", type=float, default=2.0, help="env stepping per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(
        f"python {platform.python_version()}, chess {chess.__version__}, numpy "
        f"{np.__version__}, gymnasium {gymnasium.__version__}; {os.cpu_count()} CPUs"
    )
    tick = time.perf_counter()
    table = tablebase(args.start.upper())
    print(
        f"{args.start.upper()} table ready (loaded or built) in {time.perf_counter() - tick:.2f} s"
    )
    rows: dict[str, list[float]] = {"env step": [], "probe": [], "best_moves": []}
    # Rounds interleave the three, so a load change on a shared machine hits them all; the
    # best round of each is its figure (interference only ever slows a loop down).
    for round_ in range(args.rounds):
        step, boards = env_step_seconds(args.start, args.seconds, args.seed + round_)
        rows["env step"].append(step)
        # Only the table's own material (a kpk game may promote, a piece may be taken).
        boards = [board for board in boards if material_of(board) == table.material]
        rows["probe"].append(per_call_seconds(table.probe, boards))
        rows["best_moves"].append(per_call_seconds(table.best_moves, boards))
    best = {name: min(values) for name, values in rows.items()}
    for name, value in best.items():
        spread = f"(median {np.median(rows[name]) * 1e6:.1f}, worst {max(rows[name]) * 1e6:.1f})"
        print(f"{name:<12}{value * 1e6:>9.1f} µs  {spread}")
    step = best["env step"]
    print(
        f"one env step = {step / best['probe']:.0f}x a probe, "
        f"{step / best['best_moves']:.1f}x a best_moves"
    )


if __name__ == "__main__":
    main()
