"""The chess behaviour metrics on scripted games played through the real env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chess
import numpy as np
import pytest

from envs.chess.actions import encode_move
from envs.chess.env import ChessEnv
from incentives.chess_behaviour import ChessBehaviour


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
