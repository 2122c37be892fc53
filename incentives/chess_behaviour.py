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
from collections.abc import Mapping
from typing import Any

import numpy as np

from incentives.signal import ExplicitSignal

__all__ = ["TERMINATIONS", "ChessBehaviour", "wilson_interval"]

TERMINATIONS = (
    "checkmate", "stalemate", "insufficient_material", "repetition", "fifty_moves",
    "max_plies", "illegal_move",
)  # fmt: skip


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


class ChessBehaviour:
    """Collects finished games and turns them into behaviour metrics."""

    #: The metrics shown side by side in TensorBoard's custom-scalars view.
    HEADLINE: tuple[str, ...] = (
        "win_rate", "draw_rate", "loss_rate", "termination/checkmate", "termination/stalemate",
        "checks_per_game", "captures_per_game", "game_length",
    )  # fmt: skip

    def __init__(self, signal: ExplicitSignal | None = None) -> None:
        self.signal = signal
        self._games: list[Mapping[str, Any]] = []
        self._curriculum: list[str] = []  # outcomes of games from curriculum positions

    def use_signal(self, signal: ExplicitSignal) -> None:
        """Nothing here depends on the scheme; kept for the common interface."""
        self.signal = signal

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
        from incentives.plots import termination_figure

        m = self.metrics()
        shares = {k.split("/", 1)[1]: v for k, v in m.items() if k.startswith("termination/")}
        return termination_figure({title: shares})
