"""``make demo``: the QA incentive experiment, end to end, in a few minutes on a laptop.

Trains the same PPO agent under binary grading, the hedging grid and a confidence target
(each after the same binary warm-up), plus the grid from scratch, as real
``incentives-train`` runs side by side; then prints what each scheme induced next to what
its decision theory predicts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["DEMO_RUNS", "main", "summary_table"]

#: (label, CLI overrides) of each demo run.
DEMO_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("binary", ("+experiment=qa_demo", "reward=binary")),
    ("hedging_grid (binary warm-up)", ("+experiment=qa_demo", "reward=hedging_grid")),
    ("confidence_target t=0.75", ("+experiment=qa_demo", "reward=confidence_target")),
    ("hedging_grid (from scratch)", ("+experiment=qa_scratch", "budget=1000000")),
)

_COLUMNS = (
    ("explicit", "explicit_return"),
    ("task", "task_score"),
    ("answer", "answer_rate"),
    ("hedge", "hedge_rate"),
    ("abstain", "abstain_rate"),
    ("acc|answered", "accuracy_answered"),
    ("halluc.", "hallucination_rate"),
    ("abstain|unans.", "abstain_rate_unanswerable"),
    ("t_hat", "t_hat"),
    ("regret %", "regret_relative"),
)


def _run(overrides: tuple[str, ...], seed: int) -> Path:
    """One ``incentives-train`` run as a subprocess; returns its run folder."""
    cmd = [
        sys.executable,
        "-m",
        "incentives.train",
        *overrides,
        f"seed={seed}",
        "progress_bar=false",
        "agent.torch_threads=1",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"demo: run failed: {' '.join(overrides)}")
    print(done.stdout.strip(), flush=True)
    return Path(done.stdout.strip().splitlines()[-1].split("-> ", 1)[1])


def _cell(key: str, value: Any) -> str:
    if not isinstance(value, float):
        return "–"
    return f"{100 * value:.1f}" if key == "regret_relative" else f"{value:.3f}"


def summary_table(rows: list[tuple[str, dict[str, Any]]]) -> Table:
    """A table of what each scheme induced, with its theoretical thresholds."""
    table = Table(title="What each reward scheme induced (final deterministic evaluation)")
    table.add_column("scheme")
    for header, _ in _COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("theory: thresholds", justify="right")
    for label, summary in rows:
        values = {
            "explicit_return": summary["explicit_return"],
            "task_score": summary["task_score"],
            **summary["behaviour"],
        }
        thresholds = summary["theory"].get("thresholds", [])
        table.add_row(
            label,
            *(_cell(k, values.get(k)) for _, k in _COLUMNS),
            ", ".join(f"{t:.3f}" for t in thresholds) or "none",
        )
    return table


def main(seed: int = 0, workers: int = 2) -> None:
    """Run the demo's trainings two at a time, then print the comparison."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        folders = list(pool.map(lambda run: _run(run[1], seed), DEMO_RUNS))
    rows = [
        (label, json.loads((folder / "summary.json").read_text()))
        for (label, _), folder in zip(DEMO_RUNS, folders, strict=True)
    ]
    console = Console(width=200)
    console.print(summary_table(rows))
    console.print(
        "t_hat: the p* where the agent starts answering; theory: where the optimal mode "
        "changes. regret %: Bayes-optimal expected reward lost, in % of the optimum.\n"
        "TensorBoard: tensorboard --logdir runs"
    )


if __name__ == "__main__":
    main()
