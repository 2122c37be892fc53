"""Questions per second of the batched QA env against a loop of single QA envs.

Both run in the same process, one after the other, on the same number of slots and with
pre-generated random actions, so their ratio is what to compare across machines.

    python benchmarks/qa_env_throughput.py --num-envs 256 --seconds 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from envs.qa import QAEnv, QAVecEnv

__all__ = ["measure_batched", "measure_single_loop"]

ACTION_ROWS = 64  # distinct rows of pre-generated actions, reused cyclically


def _run(
    step: Callable[[int], None], questions_per_call: int, seconds: float, questions: int
) -> float:
    """Call ``step`` until the budget is spent; return questions per second."""
    step(0)  # warm-up: first blocks of the stream, caches
    done, calls, start = 0, 0, time.perf_counter()
    while True:
        step(calls)
        calls += 1
        done += questions_per_call
        elapsed = time.perf_counter() - start
        if (questions and done >= questions) or (not questions and elapsed >= seconds):
            return done / elapsed


def measure_batched(num_envs: int, seconds: float, questions: int, seed: int) -> float:
    """Questions per second of one ``QAVecEnv(num_envs)``."""
    venv = QAVecEnv(num_envs)
    venv.seed(seed)
    venv.reset()
    actions = np.random.default_rng(seed).integers(0, venv.action_space.n, (ACTION_ROWS, num_envs))

    def step(call: int) -> None:
        venv.step(actions[call % ACTION_ROWS])

    return _run(step, num_envs, seconds, questions)


def measure_single_loop(num_envs: int, seconds: float, questions: int, seed: int) -> float:
    """Questions per second of ``num_envs`` ``QAEnv`` stepped and reset in a Python loop."""
    envs = [QAEnv() for _ in range(num_envs)]
    for i, env in enumerate(envs):
        env.reset(seed=seed + i)
    n_actions = int(envs[0].action_space.n)
    actions = np.random.default_rng(seed).integers(0, n_actions, (ACTION_ROWS, num_envs)).tolist()

    def step(call: int) -> None:
        for env, action in zip(envs, actions[call % ACTION_ROWS], strict=True):
            env.step(action)
            env.reset()

    return _run(step, num_envs, seconds, questions)


def main() -> None:
    """Print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=256, help="slots N (default 256)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    budget.add_argument("--questions", type=int, default=0, help="questions per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    batched = measure_batched(args.num_envs, args.seconds, args.questions, args.seed)
    single = measure_single_loop(args.num_envs, args.seconds, args.questions, args.seed)
    print(f"QAVecEnv({args.num_envs}):        {batched:>12,.0f} questions/s")
    print(f"{args.num_envs} x QAEnv loop:      {single:>12,.0f} questions/s")
    print(f"ratio batched / single: {batched / single:>10.1f}x")


if __name__ == "__main__":
    main()
