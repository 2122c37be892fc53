"""The chess behaviour metrics on scripted games played through the real env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chess
import numpy as np
import pytest

from envs.chess.actions import encode_move
from envs.chess.env import TERMINATIONS, ChessEnv
from incentives.behaviour import GroupResults
from incentives.domains.chess.behaviour import ChessBehaviour


class Scripted:
    """An opponent that plays the given moves in order (UCI)."""

    name = "scripted"

    def __init__(self, moves: list[str]) -> None:
        self.moves = moves
        self.k = 0

    def reset(self, rng: np.random.Generator) -> None:
        self.k = 0

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        move = chess.Move.from_uci(self.moves[self.k])
        assert move in moves
        self.k += 1
        return move

    def close(self) -> None:
        pass


def _play(env: ChessEnv, moves: list[str]) -> dict[str, Any]:
    env.reset(seed=0)
    info: dict[str, Any] = {}
    for uci in moves:
        action = encode_move(env.board, chess.Move.from_uci(uci))
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert terminated or truncated
    return info


def test_scholars_mate(tmp_path: Path) -> None:
    env = ChessEnv(start="standard", opponent=Scripted(["e7e5", "b8c6", "g8f6"]))
    info = _play(env, ["e2e4", "d1h5", "f1c4", "h5f7"])
    behaviour = ChessBehaviour()
    behaviour.add(info)
    m = behaviour.metrics()
    assert (m["win_rate"], m["draw_rate"], m["loss_rate"]) == (1.0, 0.0, 0.0)
    assert m["termination/checkmate"] == 1.0 and m["termination/stalemate"] == 0.0
    assert m["game_length"] == 7 and m["plies_to_mate"] == 7
    assert m["checks_per_game"] == 1 and m["captures_per_game"] == 1
    assert m["final_material"] == 1  # a pawn up
    assert m["win_rate_low"] < 1.0 == m["win_rate_high"]  # one game proves little


def test_stalemate_and_a_mate_together(tmp_path: Path) -> None:
    fens = tmp_path / "stalemate.fen"
    fens.write_text("7k/4Q3/6K1/8/8/8/8/8 w - - 0 1\n")  # Qf7 leaves black no move
    stalemate = _play(ChessEnv(start="fen_file", fen_file=str(fens)), ["e7f7"])
    mate = _play(
        ChessEnv(start="standard", opponent=Scripted(["e7e5", "b8c6", "g8f6"])),
        ["e2e4", "d1h5", "f1c4", "h5f7"],
    )
    behaviour = ChessBehaviour()
    for info in (stalemate, mate):
        behaviour.add(info)
    m = behaviour.metrics()
    assert stalemate["termination"] == "stalemate" and stalemate["outcome"] == "draw"
    assert m["win_rate"] == m["draw_rate"] == 0.5
    assert m["termination/stalemate"] == m["termination/checkmate"] == 0.5
    assert m["game_length"] == pytest.approx((1 + 7) / 2)
    assert m["final_material"] == pytest.approx((9 + 1) / 2)
    assert m["plies_to_mate"] == 7  # the stalemate is no mate
    assert m["checks_per_game"] == 0.5 and m["captures_per_game"] == 0.5
    behaviour.clear()
    assert behaviour.metrics() == {}


# -- the declaration that compare, emergence curves and TensorBoard read ------------------


def test_every_metric_reported_is_declared_once(tmp_path: Path) -> None:
    fens = tmp_path / "stalemate.fen"
    fens.write_text("7k/4Q3/6K1/8/8/8/8/8 w - - 0 1\n")
    behaviour = ChessBehaviour()
    behaviour.add(_play(ChessEnv(start="fen_file", fen_file=str(fens)), ["e7f7"]))
    behaviour.add({"outcome": "win", "termination": "checkmate", "ply": 1, "curriculum": True})
    names = ChessBehaviour.names()
    assert len(names) == len(set(names))
    assert set(behaviour.metrics()) <= set(names)
    assert {f"termination/{kind}" for kind in TERMINATIONS} <= set(names)


def test_compared_and_headline_metrics_in_their_order() -> None:
    columns = (
        "win_rate", "draw_rate", "loss_rate", "termination/checkmate", "termination/stalemate",
        "checks_per_game", "captures_per_game", "game_length",
    )  # fmt: skip
    assert ChessBehaviour.names(compared=True) == columns
    assert ChessBehaviour.names(headline=True) == columns
    assert ChessBehaviour.headers()["termination/checkmate"] == "checkmate"
    assert not hasattr(ChessBehaviour, "HEADLINE")


def test_emergence_metrics_add_each_ladder_rung_that_was_reported() -> None:
    reported = ["termination/checkmate", "win_rate", "ladder/random/win_rate",
                "ladder/greedy/win_rate", "ladder/greedy/win_rate_low"]  # fmt: skip
    assert ChessBehaviour.emergence_metrics(reported) == (
        "win_rate", "termination/checkmate", "ladder/greedy/win_rate", "ladder/random/win_rate",
    )  # fmt: skip
    assert ChessBehaviour.emergence_metrics([]) == (
        "win_rate", "termination/checkmate", "move_quality/acpl", "tablebase/keeps_win",
        "tablebase/optimal",
    )  # fmt: skip
    assert ChessBehaviour.emergence_metrics(["move_quality/acpl"]) == ("move_quality/acpl",)


def test_comparison_figures_draw_the_mean_endings_per_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import incentives.analysis.plots as plots

    drawn: list[dict[str, dict[str, float]]] = []

    def termination_figure(rates: dict[str, dict[str, float]]) -> str:
        drawn.append(rates)
        return "fig"

    monkeypatch.setattr(plots, "termination_figure", termination_figure)
    groups: GroupResults = {
        "sparse_win": (
            [{"termination/checkmate": 0.2, "termination/stalemate": 0.4},
             {"termination/checkmate": 0.4},  # a run without the key: left out, not 0
             {"termination/checkmate": float("nan"), "win_rate": 1.0}],
            {},
        ),
        "material": ([{"termination/stalemate": 1.0}], {}),
        "nothing": ([{"win_rate": 0.5}], {}),
    }  # fmt: skip
    assert ChessBehaviour.comparison_figures(groups) == {"terminations": "fig"}
    rates = drawn[0]
    assert list(rates) == ["sparse_win", "material"]
    assert rates["sparse_win"] == {"checkmate": pytest.approx(0.3), "stalemate": 0.4}
    assert rates["material"] == {"stalemate": 1.0}
    assert ChessBehaviour.comparison_figures({"nothing": groups["nothing"]}) == {}
    monkeypatch.undo()
    figure = ChessBehaviour.comparison_figures({"material": groups["material"]})["terminations"]
    assert figure.axes[0].get_title() == "How the games ended"
