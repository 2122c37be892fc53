"""The tables of docs/scale_results.md: a scale sweep's final behaviour per size and budget.

Reads every ``summary.json`` under RUNS_ROOT and prints, for each (warm-up, size, budget),
the mean over seeds with the half-width of a 95% t-interval, how many seeds took the
grid's mode (answer some, abstain on some, hedge under 5%), the per-seed ``t_hat``, and
what the policy did at the end of its warm-up (from ``progress.csv``: the abstain rate of
the training episodes and the policy entropy), which is what the grid has to start from.

    python docs/scale_table.py runs/qa_scale
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from scipy import stats

SIZES = {"tiny": 0, "small": 1, "base": 2, "large": 3}
COLUMNS = ("t_hat", "regret_relative", "answer_rate", "hedge_rate", "abstain_rate",
           "hallucination_rate")  # fmt: skip


def _cell(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def _grid_mode(behaviour: dict[str, float]) -> bool:
    """Whether a run behaves as the grid pays: answers some, abstains on some, barely hedges."""
    return (
        behaviour["hedge_rate"] < 0.05
        and behaviour["answer_rate"] > 0
        and 0 < behaviour["abstain_rate"] < 1
    )


def _end_of_warmup(run_dir: Path, steps: int) -> tuple[float, float]:
    """The training episodes' abstain rate and the policy entropy at the warm-up's end."""
    best: tuple[int, float, float] | None = None
    for table in sorted(run_dir.glob("progress*.csv")):
        with table.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if not (row.get("behaviour/abstain_rate") and row.get("train/entropy_loss")):
                    continue
                step = int(float(row["time/total_timesteps"]))
                if step <= steps and (best is None or step > best[0]):
                    entropy = -float(row["train/entropy_loss"])
                    best = (step, float(row["behaviour/abstain_rate"]), entropy)
    return (best[1], best[2]) if best else (math.nan, math.nan)


def main(root: Path) -> None:
    """Print the table for the runs under ``root``."""
    groups: dict[tuple[Any, ...], list[tuple[dict[str, Any], Path]]] = {}
    for path in sorted(root.rglob("summary.json")):
        s = json.loads(path.read_text())
        config = s["config"]
        warmup = sum(int(p["steps"]) for p in config["warmup"])
        size = str(config["agent"].get("layers") or config["agent"]["size"])
        key = (s["reward"]["name"], warmup, SIZES.get(size, 9), size, int(config["budget"]))
        groups.setdefault(key, []).append((s, path.parent))
    header = ["scheme", "warm-up", "size", "parameters", "budget", "n", "grid's mode", *COLUMNS,
              "t_hat per seed", "abstain at warm-up end", "entropy at warm-up end"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for (scheme, warmup, _, size, budget), runs in sorted(groups.items()):
        behaviour = [s["behaviour"] for s, _ in runs]
        cells = [scheme, f"{warmup:,}", size, f"{runs[0][0]['scale']['parameters']:,}",
                 f"{budget:,}", str(len(runs))]  # fmt: skip
        learned = sum(_grid_mode(b) for b in behaviour)
        cells.append(f"{learned}/{len(runs)}")
        cells += [_cell([float(b[c]) for b in behaviour]) for c in COLUMNS]
        cells.append(", ".join(f"{b['t_hat']:.3f}" for b in behaviour))
        if warmup:
            ends = [_end_of_warmup(d, warmup) for _, d in runs]
            cells += [_cell([a for a, _ in ends]), _cell([e for _, e in ends], 2)]
        else:
            cells += ["–", "–"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
