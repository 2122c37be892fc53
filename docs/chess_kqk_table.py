"""The tables of docs/chess_results.md: chess_kqk runs compared at equal env steps.

Reads each run's ``progress.csv`` (the periodic evaluations: the held-out games against the
random defender, the ladder, move quality) and prints, for each scheme and each asked
step, the mean over seeds with the half-width of a 95% t-interval.

    python docs/chess_kqk_table.py RUNS_ROOT 100000 300000 1500000

RUNS_ROOT holds ``<scheme>/seed<k>/progress.csv``.
"""

from __future__ import annotations

import csv
import math
import statistics
import sys
from pathlib import Path

from scipy import stats

COLUMNS = {
    "mate rate (random)": "eval/heldout/termination/checkmate",
    "stalemate": "eval/heldout/termination/stalemate",
    "queen lost": "eval/heldout/termination/insufficient_material",
    "repetition": "eval/heldout/termination/repetition",
    "checks/game": "eval/heldout/checks_per_game",
    "plies to mate": "eval/heldout/plies_to_mate",
    "win vs greedy": "eval/ladder/greedy/win_rate",
    "win vs SF d1": "eval/ladder/stockfish_d1/win_rate",
    "ACPL": "eval/move_quality/acpl",
    "best move": "eval/move_quality/best_move",
}


def _evaluations(path: Path) -> dict[int, dict[str, float]]:
    """Each evaluation's metrics by step."""
    out: dict[int, dict[str, float]] = {}
    with path.open() as file:
        for row in csv.DictReader(file):
            if not row.get("eval/heldout/win_rate"):
                continue
            step = int(float(row["time/total_timesteps"]))
            out[step] = {k: float(v) for k, v in row.items() if v and k.startswith("eval/")}
    return out


def _cell(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.3g}"
    sd = statistics.stdev(values)
    half = stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values))
    return f"{mean:.3g} ± {half:.2g}"


def main(root: Path, steps: list[int]) -> None:
    """Print one markdown table per step."""
    schemes = sorted(p.name for p in root.iterdir() if p.is_dir())
    for step in steps:
        print(f"\n### At {step:,} env steps\n")
        print("| scheme | seeds | " + " | ".join(COLUMNS) + " |")
        print("|---" * (len(COLUMNS) + 2) + "|")
        for scheme in schemes:
            rows = []
            for progress in sorted((root / scheme).glob("seed*/progress.csv")):
                evaluations = _evaluations(progress)
                # the evaluation nearest the step (they fall at rollout boundaries)
                near = [s for s in evaluations if abs(s - step) <= 0.05 * step]
                if near:
                    rows.append(evaluations[min(near, key=lambda s: abs(s - step))])
            if not rows:
                continue
            cells = [_cell([r.get(key, math.nan) for r in rows]) for key in COLUMNS.values()]
            print(f"| {scheme} | {len(rows)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [int(s) for s in sys.argv[2:]])
