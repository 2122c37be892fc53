"""What a chess scheme induced: results, how games ended, and how they were played.

Measured from the chess env's end-of-game events (``outcome``, ``termination``, ``ply``,
``checks_given``, ``captures``, ``material_balance``), logged, never rewarded. Stalemate
is how a material-greedy agent "wins" badly; checks per game against the mate rate show
what a check bonus buys. Games that started from a curriculum position (a forced mate
served early in training) are counted apart, as ``curriculum/*``, so the main rates always
describe the plain start positions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.chess.env import TERMINATIONS
from incentives.behaviour import Behaviour, GroupResults, Metric
from incentives.signal import ExplicitSignal

__all__ = ["ChessBehaviour", "wilson_interval"]

# How games ended that get a compare column; the others are kept in the figure of endings.
_COMPARED_ENDINGS = ("checkmate", "stalemate")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate (95% by default).

    Example:
        >>> [round(x, 3) for x in wilson_interval(8, 10)]
        [0.49, 0.943]
    """
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


class ChessBehaviour(Behaviour):
    """Collects finished games and turns them into behaviour metrics.

    Besides ``METRICS``, games from curriculum positions give ``curriculum/share`` and
    ``curriculum/win_rate``; the ladder reports these metrics per rung, as
    ``ladder/<rung>/<metric>``, and judges moves (``move_quality/*``).
    """

    METRICS = (
        Metric("win_rate", "share of games won", "win", headline=True, emergence=True),
        Metric("draw_rate", "share of games drawn", "draw", headline=True),
        Metric("loss_rate", "share of games lost", "loss", headline=True),
        *(
            Metric(f"termination/{kind}", f"share of games ended by {kind}", kind,
                   headline=True, emergence=kind == "checkmate")
            for kind in _COMPARED_ENDINGS
        ),
        Metric("checks_per_game", "checks the learner gave per game", "checks", headline=True),
        Metric("captures_per_game", "captures by the learner per game", "captures",
               headline=True),
        Metric("game_length", "plies per game, both sides", "plies", headline=True),
        *(
            Metric(f"{outcome}_rate_{end}", f"{outcome} rate, Wilson 95% {end} bound",
                   compared=False)
            for outcome in ("win", "draw", "loss")
            for end in ("low", "high")
        ),
        *(
            Metric(f"termination/{kind}", f"share of games ended by {kind}", compared=False)
            for kind in TERMINATIONS
            if kind not in _COMPARED_ENDINGS
        ),
        Metric("final_material", "material balance at the end (learner minus opponent)",
               compared=False),
        Metric("plies_to_mate", "plies of the games the learner won by mate", compared=False),
        Metric("curriculum/share", "share of training games from curriculum positions",
               compared=False),
        Metric("curriculum/win_rate", "win rate of the curriculum games", compared=False),
        Metric("move_quality/acpl", "the learner's average centipawn loss (ladder, Stockfish)",
               "acpl", compared=False, emergence=True),
        Metric("move_quality/best_move", "share of the learner's moves as good as Stockfish's",
               compared=False),
        Metric("move_quality/positions", "learner moves judged for move quality",
               compared=False),
        Metric("tablebase/keeps_win", "share of the learner's moves in won positions that "
               "keep the win (ladder, our tablebase)", compared=False, emergence=True),
        Metric("tablebase/optimal", "share of the learner's moves that are distance-to-mate "
               "optimal (ladder, our tablebase)", compared=False, emergence=True),
        Metric("tablebase/positions", "learner moves judged by the tablebase", compared=False),
    )  # fmt: skip

    def __init__(self, signal: ExplicitSignal | None = None) -> None:
        super().__init__(signal)
        self._games: list[Mapping[str, Any]] = []
        self._curriculum: list[str] = []  # outcomes of games from curriculum positions

    def add(self, info: Mapping[str, Any]) -> None:
        """Record one finished game from its last step's info."""
        if info.get("curriculum"):
            self._curriculum.append(str(info.get("outcome")))
            return
        self._games.append(
            {
                k: info.get(k)
                for k in (
                    "outcome",
                    "termination",
                    "ply",
                    "checks_given",
                    "captures",
                    "material_balance",
                )
            }
        )

    def clear(self) -> None:
        """Forget the recorded games."""
        self._games.clear()
        self._curriculum.clear()

    def __len__(self) -> int:
        return len(self._games)

    def metrics(self) -> dict[str, float]:
        """Win/draw/loss rates with Wilson 95% intervals, endings, length, checks, captures
        (plain starts), and the curriculum games' share and win rate."""
        out: dict[str, float] = {}
        if self._curriculum:
            total = len(self._curriculum) + len(self._games)
            out["curriculum/share"] = len(self._curriculum) / total
            out["curriculum/win_rate"] = self._curriculum.count("win") / len(self._curriculum)
        n = len(self._games)
        if n == 0:
            return out
        outcomes = Counter(g["outcome"] for g in self._games)
        endings = Counter(g["termination"] for g in self._games)
        for outcome in ("win", "draw", "loss"):
            low, high = wilson_interval(outcomes[outcome], n)
            out.update({f"{outcome}_rate": outcomes[outcome] / n,
                        f"{outcome}_rate_low": low, f"{outcome}_rate_high": high})  # fmt: skip
        for kind in TERMINATIONS:
            out[f"termination/{kind}"] = endings[kind] / n
        for key, name in (("ply", "game_length"), ("checks_given", "checks_per_game"),
                          ("captures", "captures_per_game"),
                          ("material_balance", "final_material")):  # fmt: skip
            out[name] = float(np.mean([g[key] or 0 for g in self._games]))
        mates = [g["ply"] for g in self._games if g["termination"] == "checkmate"
                 and g["outcome"] == "win"]  # fmt: skip
        out["plies_to_mate"] = float(np.mean(mates)) if mates else float("nan")
        return out

    def figure(self, title: str) -> Any:
        """How the games ended, as a bar."""
        from incentives.analysis.plots import termination_figure

        m = self.metrics()
        shares = {k.split("/", 1)[1]: v for k, v in m.items() if k.startswith("termination/")}
        return termination_figure({title: shares})

    @classmethod
    def emergence_metrics(cls, reported: Sequence[str]) -> tuple[str, ...]:
        """The declared emergence metrics, then each ladder rung's win rate, of those the
        runs ``reported`` (all declared ones when nothing was reported).

        Example:
            >>> ChessBehaviour.emergence_metrics(
            ...     ["win_rate", "ladder/random/win_rate", "ladder/random/win_rate_low"])
            ('win_rate', 'ladder/random/win_rate')
        """
        rungs = sorted(k for k in reported if k.startswith("ladder/") and k.endswith("/win_rate"))
        wanted = (*cls.names(emergence=True), *rungs)
        keys = set(reported)
        return tuple(m for m in wanted if m in keys or not keys)

    @classmethod
    def comparison_figures(cls, groups: GroupResults) -> dict[str, Any]:
        """How the games ended, one stacked bar per group: each ending's mean over runs."""
        from incentives.analysis.aggregate import estimate
        from incentives.analysis.plots import termination_figure

        rates: dict[str, dict[str, float]] = {}
        for label, (results, _) in groups.items():
            keys = sorted({k for r in results for k in r if k.startswith("termination/")})
            if keys:
                rates[label] = {
                    k.split("/", 1)[1]: estimate([r.get(k) for r in results]).mean for k in keys
                }
        return {"terminations": termination_figure(rates)} if rates else {}
