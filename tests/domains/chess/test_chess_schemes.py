"""Chess reward schemes on hand-built positions: a capture, a check, a mate, a stalemate,
a draw. Values are derived in the comments."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import chess
import pytest

import incentives
from envs.chess import encode_move
from incentives.domains.chess.schemes import (
    CheckBonus,
    EngineTeacher,
    MaterialShaped,
    PotentialShaped,
    SparseWin,
    WinDrawLoss,
    win_probability,
)
from tests.envs.test_chess_env import fen_env

# White: Kg1, Ra1; black: Kg8, pawns f7 g7 h7 and a rook on a8 to take: Rxa8# is mate.
MATE_BY_CAPTURE = "r5k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1"
# Qb6 stalemates the black king on a8 (no check, no legal move).
STALEMATE = "k7/8/2K5/8/8/8/8/1Q6 w - - 0 1"
# Rook check, then the black king steps aside.
CHECK = "6k1/8/8/8/8/8/8/R5K1 w - - 0 1"
# The white king, checked by the pawn on d2, takes it: king and knight against king is a
# draw by insufficient material.
DRAW_BY_CAPTURE = "7k/8/8/8/8/8/3pn3/4K3 w - - 0 1"


def play(tmp_path: Path, scheme: type, fen: str, moves: list[str], script: list[str] = (),
         **params: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Play ``moves`` under ``scheme``; the infos of each step."""
    env = scheme(fen_env(tmp_path, fen, script), **params)
    env.reset(seed=0)
    infos = []
    for uci in moves:
        action = encode_move(env.unwrapped.board, chess.Move.from_uci(uci))
        infos.append(env.step(action)[-1])
    env.close()
    return infos


def rewards(infos: list[dict[str, Any]]) -> list[float]:
    return [info["incentive"]["reward"] for info in infos]


def test_mate_by_capture(tmp_path: Path) -> None:
    (info,) = play(tmp_path, SparseWin, MATE_BY_CAPTURE, ["a1a8"])
    assert info["outcome"] == "win" and info["incentive"]["terms"] == {"win": 1.0}
    (info,) = play(tmp_path, WinDrawLoss, MATE_BY_CAPTURE, ["a1a8"])
    assert info["incentive"]["terms"] == {"result": 1.0}
    # material: a rook (5) taken, times the scale 0.1, plus the win (+1)
    (info,) = play(tmp_path, MaterialShaped, MATE_BY_CAPTURE, ["a1a8"])
    assert info["incentive"]["terms"] == pytest.approx({"material": 0.5, "result": 1.0})
    # potential: balance 5-5-3 = -3 before (white R vs black R + 3 pawns), Phi = -0.3;
    # after the game Phi = 0: shaping = 0.99 * 0 - (-0.3) = 0.3
    (info,) = play(tmp_path, PotentialShaped, MATE_BY_CAPTURE, ["a1a8"])
    assert info["incentive"]["terms"] == pytest.approx({"shaping": 0.3, "result": 1.0})


def test_stalemate_is_a_draw_not_a_win(tmp_path: Path) -> None:
    (info,) = play(tmp_path, SparseWin, STALEMATE, ["b1b6"])
    assert info["termination"] == "stalemate" and info["incentive"]["reward"] == 0.0
    (info,) = play(tmp_path, WinDrawLoss, STALEMATE, ["b1b6"], draw=-0.5)
    assert info["incentive"]["terms"] == {"result": -0.5}
    # material shaping pays nothing for the stalemate (no capture, result 0)
    (info,) = play(tmp_path, MaterialShaped, STALEMATE, ["b1b6"])
    assert info["incentive"]["reward"] == 0.0


def test_check_then_nothing(tmp_path: Path) -> None:
    infos = play(tmp_path, CheckBonus, CHECK, ["a1a8", "a8a1"], script=["g8h7", "h7g8"],
                 bonus=0.25)  # fmt: skip
    assert [i["gave_check"] for i in infos] == [True, False]
    assert rewards(infos) == [0.25, 0.0]
    assert infos[0]["incentive"]["terms"] == {"check": 0.25}
    # sparse and material rewards see nothing in a check
    assert rewards(play(tmp_path, SparseWin, CHECK, ["a1a8"], script=["g8h7"])) == [0.0]
    assert rewards(play(tmp_path, MaterialShaped, CHECK, ["a1a8"], script=["g8h7"])) == [0.0]


def test_capture_into_a_draw(tmp_path: Path) -> None:
    (info,) = play(tmp_path, MaterialShaped, DRAW_BY_CAPTURE, ["e1d2"], scale=1.0)
    assert info["termination"] == "insufficient_material"
    # a pawn (1) won, result 0 for the draw
    assert info["incentive"]["terms"] == {"material": 1.0, "result": 0.0}
    (info,) = play(tmp_path, SparseWin, DRAW_BY_CAPTURE, ["e1d2"])
    assert info["incentive"]["terms"] == {"win": 0.0}


def test_potential_shaping_telescopes(tmp_path: Path) -> None:
    """Over a game the shaping sums to -Phi(start) + (gamma - 1) * sum of later Phi."""
    infos = play(tmp_path, PotentialShaped, CHECK, ["a1a8", "a8a1", "a1a8"],
                 script=["g8h7", "h7g8", "g8h7"], gamma=0.9, scale=1.0)  # fmt: skip
    shaping = [i["incentive"]["terms"]["shaping"] for i in infos]
    # balance +5 throughout: each step 0.9 * 5 - 5 = -0.5
    assert shaping == pytest.approx([-0.5, -0.5, -0.5])


def test_engine_teacher(tmp_path: Path) -> None:
    # A mate ends the game: the result pays, the engine is not asked.
    (info,) = play(tmp_path, EngineTeacher, MATE_BY_CAPTURE, ["a1a8"], depth=4)
    assert info["incentive"]["terms"] == {"result": 1.0}
    # White Kg1, Qd1 against Kg8, Rd8. Taking the rook keeps a won game (about 0 change);
    # Qd1-d7?? gives the queen away to ...Rxd7 (a large negative change).
    fen = "3r2k1/8/8/8/8/8/8/3Q2K1 w - - 0 1"
    (good,) = play(tmp_path, EngineTeacher, fen, ["d1d8"], script=["g8g7"], depth=8)
    (bad,) = play(tmp_path, EngineTeacher, fen, ["d1d7"], script=["d8d7"], depth=8)
    assert good["incentive"]["terms"]["teacher"] > -0.02
    assert bad["incentive"]["terms"]["teacher"] < -0.3


def test_win_probability_is_symmetric() -> None:
    assert win_probability(250) + win_probability(-250) == pytest.approx(1.0)


def test_registry_and_bad_parameters() -> None:
    names = incentives.schemes()
    for name in ("sparse_win", "win_draw_loss", "material", "potential", "check_bonus",
                 "engine_teacher"):  # fmt: skip
        assert names[name]
    with pytest.raises(ValueError, match="draw=2"):
        incentives.make_signal("win_draw_loss", draw=2)
    with pytest.raises(ValueError, match="gamma=0"):
        incentives.make_signal("potential", gamma=0)
    with pytest.raises(ValueError, match="depth=0"):
        incentives.make_signal("engine_teacher", depth=0)
    with pytest.raises(ValueError, match="unknown parameter '_engine'"):
        incentives.make_signal("engine_teacher", _engine=1)


def test_stateful_teacher_is_refused_by_the_vector_wrapper() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from envs.chess import ChessEnv

    venv = DummyVecEnv([lambda: ChessEnv(start="kqk")])
    with pytest.raises(ValueError, match="per-episode state"):
        incentives.make("engine_teacher", venv)
    signal = incentives.make_signal("engine_teacher", depth=2)
    assert pickle.loads(pickle.dumps(signal)).params() == {"depth": 2, "scale": 1.0, "path": None}
