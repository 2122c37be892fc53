"""The tables of docs/teach_vs_incentive.md: the chess_teach_vs_incentive sweep, per
ending and scheme, and the teacher's own line ("give the fish").

Reads every ``summary.json`` under RUNS_ROOT and prints, for each (ending, scheme), the
mean over seeds with the half-width of a 95% t-interval of the final evaluation: win
rate against the random defender (the training opponent), against the tablebase's
perfect defender, the tablebase yardsticks of the learner's moves, and the same policy
in the other ending (transfer). Then the teacher (``TeacherPolicy``: our tablebase plays
the learner's moves) through the same evaluation, three tie-break seeds.

    python docs/teach_vs_incentive_table.py runs/chess_teach_vs_incentive
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

SCHEMES = ("sparse_win", "dtm_shaping", "imitation", "teach_then_let_go")
OTHER = {"kqk": "krk", "krk": "kqk"}


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _row(behaviour: dict[str, Any], ending: str) -> dict[str, float]:
    other = OTHER[ending]
    moved = f"transfer/{other}/"
    return {
        "win vs random": _num(behaviour.get("win_rate")),
        "win vs perfect defender": _num(behaviour.get("ladder/tablebase/win_rate")),
        "moves keeping the win": _num(behaviour.get("tablebase/keeps_win")),
        "mate-distance optimal": _num(behaviour.get("tablebase/optimal")),
        f"in {other.upper()}: win": _num(behaviour.get(moved + "ladder/tablebase/win_rate")),
        f"in {other.upper()}: keeps win": _num(behaviour.get(moved + "tablebase/keeps_win")),
        f"in {other.upper()}: optimal": _num(behaviour.get(moved + "tablebase/optimal")),
    }


def teacher(ending: str, seed: int) -> dict[str, float]:
    """The teacher through the experiment's evaluation (64 games against the random
    defender, 48 against the perfect one, 48 in the other ending)."""
    from incentives.domains.chess.ladder import ChessLadder, TeacherPolicy, parse_ladder

    env = {"start": ending, "max_plies": 100}
    policy = TeacherPolicy(seed=seed)
    random = ChessLadder(env, parse_ladder(["random"]), episodes=64, seed=0, n_envs=8)
    perfect = ChessLadder(env, parse_ladder(["tablebase"]), episodes=48, seed=0, n_envs=8)
    other = ChessLadder({**env, "start": OTHER[ending]}, parse_ladder(["tablebase"]),
                        episodes=48, seed=0, n_envs=8)  # fmt: skip
    behaviour: dict[str, Any] = {
        "win_rate": random.evaluate(policy).metrics["ladder/random/win_rate"]
    }
    behaviour.update(perfect.evaluate(policy).metrics)
    behaviour.update(
        {f"transfer/{OTHER[ending]}/{k}": v for k, v in other.evaluate(policy).metrics.items()}
    )
    return _row(behaviour, ending)


def main(root: Path) -> None:
    rows: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    budgets: dict[tuple[str, str], set[int]] = defaultdict(set)
    for path in sorted(root.rglob("summary.json")):
        summary = json.loads(path.read_text())
        config = summary["config"]
        ending = config["env"]["kwargs"]["start"]
        scheme = config["reward"].get("label") or config["reward"]["name"]
        rows[(ending, scheme)].append(_row(summary["behaviour"], ending))
        budgets[(ending, scheme)].add(int(summary["timesteps"]))
    for ending in ("kqk", "krk"):
        found = [s for s in SCHEMES if (ending, s) in rows]
        if not found:
            continue
        keys = list(rows[(ending, found[0])][0])
        print(f"\n### {ending.upper()}\n")
        print("| scheme | seeds | env steps | " + " | ".join(keys) + " |")
        print("|---|---|---|" + "---|" * len(keys))
        for scheme in found:
            runs = rows[(ending, scheme)]
            steps = ",".join(str(b) for b in sorted(budgets[(ending, scheme)]))
            cells = [cell([r[k] for r in runs]) for k in keys]
            print(f"| {scheme} | {len(runs)} | {steps} | " + " | ".join(cells) + " |")
        taught = [teacher(ending, seed) for seed in (0, 1, 2)]
        cells = [cell([r[k] for r in taught]) for k in keys]
        print("| give the fish (the teacher plays) | 3 | 0 | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
