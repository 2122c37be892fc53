"""The tables of docs/text_grid_results.md: the text_grid sweep, per scheme and size.

Reads every ``summary.json`` under RUNS_ROOT and prints, for each (scheme, size), the
mean over seeds with the half-width of a 95% t-interval of the final held-out answering
measures, then the pretrained models (``phase_starts["1"]``, the same for every scheme
of a size and seed: one row per size) beside the share of the asked facts seen once.
``regret_own`` and ``optimal_own`` are the runs' own (runs from before those measures
show "–").

    python docs/text_grid_table.py runs/text_grid
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from scale_table import _cell as cell

SIZES = ("tiny", "small", "base", "large", "xl")
FINAL = ("abstain_rate", "hedge_rate", "hallucination_rate", "abstain_never", "abstain_once",
         "abstain_often", "hallucination_often", "accuracy_answered", "t_hat", "ece",
         "explicit_return", "task_score", "regret_own")  # fmt: skip
PRETRAINED = ("singleton_share", "facts_error_rate", "hallucination_never",
              "hallucination_once", "hallucination_few", "hallucination_often", "abstain_rate",
              "ece", "brier", "optimal_own", "regret_own")  # fmt: skip


def _num(value: float | None) -> float:
    """A summary's number; NaN where JSON holds null (a NaN written by the run)."""
    return math.nan if value is None else float(value)


def _own(summary: dict[str, Any], which: str) -> dict[str, float]:
    """``regret_own`` and ``optimal_own`` as the run measured them (``final``: its
    behaviour; ``pretrained``: its first answer phase's start)."""
    measured = summary["behaviour"] if which == "final" else summary["phase_starts"]["1"]
    return {k: measured[k] for k in ("regret_own", "optimal_own") if k in measured}


def table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(root: Path) -> None:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(root.rglob("summary.json")):
        summary = json.loads(path.read_text())
        runs[(summary["reward"]["name"], summary["config"]["agent"]["size"])].append(summary)
    keys = sorted(runs, key=lambda k: (SIZES.index(k[1]), k[0]))
    rows = []
    for scheme, size in keys:
        group = runs[(scheme, size)]
        finals = [{**s["behaviour"], "explicit_return": s["explicit_return"],
                   "task_score": s["task_score"], **_own(s, "final")}
                  for s in group]  # fmt: skip
        rows.append([scheme, size, str(len(group)),
                     *(cell([_num(f.get(k)) for f in finals]) for k in FINAL)])  # fmt: skip
    print("Final, held-out questions (mean ± 95% t-interval over seeds):\n")
    print(table(("scheme", "size", "seeds", *FINAL), rows))
    pretrained: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
    for (_, size), group in runs.items():
        for s in group:
            start = s.get("phase_starts", {}).get("1")
            if start and s["reward"]["name"] == "hedging_grid":
                pretrained[size][s["seed"]] = {**start, **_own(s, "pretrained")}
    rows = []
    for size in sorted(pretrained, key=SIZES.index):
        starts = list(pretrained[size].values())
        cells = [cell([_num(p.get(k)) for p in starts]) for k in PRETRAINED]
        rows.append([size, str(len(starts)), *cells])
    print("\nAfter pretraining alone (greedy answers, held-out questions):\n")
    print(table(("size", "seeds", *PRETRAINED), rows))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/text_grid"))
