"""``make demo``: the QA incentive experiment, end to end, in a few minutes on a laptop.

Trains the same PPO agent under binary grading, the hedging grid and a confidence target
(each after the same binary warm-up), plus the grid from scratch, as real
``incentives-train`` runs side by side in ``runs/demo/``; then compares what each scheme
induced with what its decision theory predicts (``incentives-compare runs/demo``).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console

from incentives.analysis.compare import compare

__all__ = ["DEMO_DIR", "DEMO_RUNS", "main"]

DEMO_DIR = Path("runs/demo")

#: (folder, CLI overrides) of each demo run.
DEMO_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("binary", ("+experiment=qa_demo", "reward=binary")),
    ("hedging_grid", ("+experiment=qa_demo", "reward=hedging_grid")),
    ("confidence_target", ("+experiment=qa_demo", "reward=confidence_target")),
    ("hedging_grid_from_scratch", ("+experiment=qa_scratch", "budget=1000000")),
)


def _run(folder: str, overrides: tuple[str, ...], seed: int) -> None:
    """One ``incentives-train`` run as a subprocess, into ``runs/demo/<folder>/seed<k>``."""
    run_dir = DEMO_DIR / folder / f"seed{seed}"
    cmd = [
        sys.executable,
        "-m",
        "incentives.run.cli",
        *overrides,
        f"seed={seed}",
        "progress_bar=false",
        "agent.torch_threads=1",
        f"hydra.run.dir={run_dir}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"demo: run failed: {' '.join(overrides)}")
    print(done.stdout.strip(), flush=True)


def main(seed: int = 0, workers: int = 2) -> None:
    """Run the demo's trainings two at a time, then compare them."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda run: _run(run[0], run[1], seed), DEMO_RUNS))
    console = Console(width=220)
    compare(DEMO_DIR, console)
    console.print(
        "t_hat: the p* above which the agent answers; theory: where the scheme's optimal "
        "mode changes. regret (rel.): share of the Bayes-optimal expected reward lost.\n"
        f"TensorBoard: .venv/bin/tensorboard --logdir {DEMO_DIR}"
    )


if __name__ == "__main__":
    main()
