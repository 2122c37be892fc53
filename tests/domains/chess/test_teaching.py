"""The tablebase's teaching in chess: the imitation and distance-to-mate schemes on
hand-built positions, the teacher and the perfect defender as players, the ladder's
tablebase yardsticks and transfer evaluation.

Expected values come from a brute-force mate search with python-chess's move generator
(``mate_in``), or from the theory of KQK (the queen's side to move wins unless the queen
can be taken or the bare king is stalemated), never from our tablebase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chess
import numpy as np
import pytest

from envs.chess.opponents import make_opponent
from incentives.domains.chess.ladder import (
    ChessLadder,
    LearnerMove,
    TeacherPolicy,
    ladder_extra,
    parse_ladder,
    tablebase_quality,
)
from incentives.domains.chess.schemes import DistanceToMate, Imitation
from tests.domains.chess.test_chess_schemes import play

# Kc6, Qh1 against Ka8, White to move: no mate in one, a mate in two (brute force below).
MATE_IN_TWO = "k7/8/2K5/8/8/8/8/7Q w - - 0 1"
# Kc7, Qh2 against Ka8: mate in one.
MATE_IN_ONE = "k7/2K5/8/8/8/8/7Q/8 w - - 0 1"


def mates(board: chess.Board) -> list[chess.Move]:
    """The moves that checkmate at once."""
    found = []
    for move in board.legal_moves:
        board.push(move)
        if board.is_checkmate():
            found.append(move)
        board.pop()
    return found


def mate_in(board: chess.Board, n: int) -> bool:
    """Brute force: the side to move forces checkmate within ``n`` of its moves."""
    if mates(board):
        return True
    if n <= 1:
        return False
    for move in list(board.legal_moves):
        board.push(move)
        forced = not board.is_game_over() and all(
            _mates_after(board, reply, n - 1) for reply in list(board.legal_moves)
        )
        board.pop()
        if forced:
            return True
    return False


def _mates_after(board: chess.Board, reply: chess.Move, n: int) -> bool:
    board.push(reply)
    try:
        return mate_in(board, n)
    finally:
        board.pop()


def queen_safe(board: chess.Board, move: chess.Move) -> bool:
    """KQK theory: after ``move`` the game is still won iff the bare king is not
    stalemated and cannot take the queen (taking it means it was undefended)."""
    after = board.copy()
    after.push(move)
    if after.is_stalemate():
        return False
    queen = next(iter(after.pieces(chess.QUEEN, chess.WHITE)))
    return not any(m.to_square == queen for m in after.legal_moves)


def test_imitation_rewards_exactly_the_teachers_moves(tmp_path: Path) -> None:
    board = chess.Board(MATE_IN_ONE)
    mating = mates(board)
    assert mating  # the position is what its comment says
    others = [m for m in board.legal_moves if m not in mating]
    for move in mating[:2]:
        (info,) = play(tmp_path, Imitation, MATE_IN_ONE, [move.uci()], bonus=0.25)
        assert info["incentive"]["terms"] == {"teacher": 0.25}
    # a move that does not mate at once is not the fastest mate: no bonus
    quiet = next(m for m in others if queen_safe(board, m))
    after = board.copy()
    after.push(quiet)
    reply = next(iter(after.legal_moves)).uci()
    (info,) = play(tmp_path, Imitation, MATE_IN_ONE, [quiet.uci()], script=[reply], bonus=0.25)
    assert info["incentive"]["terms"] == {"teacher": 0.0}


def test_imitation_keeps_result_is_kqk_theory(tmp_path: Path) -> None:
    board = chess.Board(MATE_IN_TWO)
    moves = list(board.legal_moves)
    rng = np.random.default_rng(0)
    for move in [moves[i] for i in rng.choice(len(moves), size=6, replace=False)]:
        after = board.copy()
        after.push(move)
        if after.is_game_over():
            continue
        reply = next(iter(after.legal_moves)).uci()
        (info,) = play(tmp_path, Imitation, MATE_IN_TWO, [move.uci()], script=[reply],
                       keeps_result=True)  # fmt: skip
        expected = 0.1 if queen_safe(board, move) else 0.0
        assert info["incentive"]["terms"] == {"teacher": expected}, move.uci()


def test_dtm_shaping_on_a_mate_in_two(tmp_path: Path) -> None:
    board = chess.Board(MATE_IN_TWO)
    assert not mate_in(board, 1) and mate_in(board, 2)  # 3 plies to mate
    # the first move of a forced mate in two, a reply, and the mate (all by brute force)
    first = next(
        m for m in board.legal_moves
        if not board.gives_check(m) and _forced_after(board, m)
    )  # fmt: skip
    board.push(first)
    reply = next(iter(board.legal_moves))
    board.push(reply)
    mate = mates(board)[0]
    infos = play(tmp_path, DistanceToMate, MATE_IN_TWO, [first.uci(), mate.uci()],
                 script=[reply.uci()], gamma=0.9, scale=2.0)  # fmt: skip
    phi = {3: 2.0 * (1 - 3 / 100), 1: 2.0 * (1 - 1 / 100)}  # Phi = scale (1 - dtm/100)
    assert infos[0]["incentive"]["terms"] == pytest.approx({"shaping": 0.9 * phi[1] - phi[3]})
    assert infos[1]["incentive"]["terms"] == pytest.approx({"shaping": -phi[1], "win": 1.0})


def _forced_after(board: chess.Board, move: chess.Move) -> bool:
    board.push(move)
    try:
        return not board.is_game_over() and all(
            _mates_after(board, reply, 1) for reply in list(board.legal_moves)
        )
    finally:
        board.pop()


def test_dtm_shaping_queen_lost_is_a_draw(tmp_path: Path) -> None:
    fen = "1k6/7Q/3K4/8/8/8/8/8 w - - 0 1"  # Kd6, Qh7 against Kb8
    board = chess.Board(fen)
    assert not mate_in(board, 1) and mate_in(board, 2)  # 3 plies to mate
    # a move after which the bare king can take the queen (KQK theory: the win is lost)
    losing = next(m for m in board.legal_moves if not queen_safe(board, m))
    after = board.copy()
    after.push(losing)
    queen = next(iter(after.pieces(chess.QUEEN, chess.WHITE)))
    take = next(m for m in after.legal_moves if m.to_square == queen)
    (info,) = play(tmp_path, DistanceToMate, fen, [losing.uci()], script=[take.uci()],
                   gamma=0.9, scale=1.0)  # fmt: skip
    # king against king ends the game: Phi after = 0, no win; Phi before: 3 plies to mate
    assert info["termination"] == "insufficient_material"
    assert info["incentive"]["terms"] == pytest.approx({"shaping": -(1 - 3 / 100), "win": 0.0})


def test_tablebase_opponent_resists_longest(tmp_path: Path) -> None:
    # In the mate-in-two line, every defence loses; the perfect defender never walks into a
    # mate in one when another reply avoids it (brute force says which replies do).
    board = chess.Board(MATE_IN_TWO)
    opponent = make_opponent("tablebase")
    opponent.reset(np.random.default_rng(0))
    for move in list(board.legal_moves):
        board.push(move)
        replies = list(board.legal_moves)
        if replies and not board.is_game_over():
            lasting = [r for r in replies if not _mates_after(board, r, 1)]
            chosen = opponent.choose(board, replies)
            if lasting:
                assert chosen in lasting, (move.uci(), chosen.uci())
        board.pop()


def ladder(start: str, opponents: list[Any], episodes: int = 16) -> ChessLadder:
    return ChessLadder({"start": start, "max_plies": 100}, parse_ladder(opponents),
                       episodes=episodes, seed=3, n_envs=8)  # fmt: skip


def test_teacher_wins_every_kqk_and_krk_game() -> None:
    """Give the fish: the teacher plays; theory: KQK and KRK are won with the strong side
    to move (the starts are never over), so perfect play wins every game."""
    for start in ("kqk", "krk"):
        result = ladder(start, ["random", "tablebase"]).evaluate(TeacherPolicy(seed=0))
        m = result.metrics
        assert m["ladder/random/win_rate"] == 1.0 and m["ladder/tablebase/win_rate"] == 1.0
        assert m["tablebase/optimal"] == 1.0 and m["tablebase/keeps_win"] == 1.0
        assert m["tablebase/positions"] > 0


def test_tablebase_quality_by_hand() -> None:
    board = chess.Board(MATE_IN_ONE)
    mate = mates(board)[0]
    hanging = next(m for m in board.legal_moves if not queen_safe(board, m))
    quiet = next(m for m in board.legal_moves if queen_safe(board, m) and m not in mates(board))
    moves = [LearnerMove(MATE_IN_ONE, m.uci()) for m in (mate, hanging, quiet)]
    moves.append(LearnerMove("8/8/3k4/8/8/3K4/8/8 w - - 0 1", "d3e3"))  # kings only: skipped
    # keeps the win: mate and quiet (2 of 3); optimal: only the mate (1 of 3)
    assert tablebase_quality(moves) == pytest.approx(
        {"tablebase/keeps_win": 2 / 3, "tablebase/optimal": 1 / 3, "tablebase/positions": 3.0}
    )


def test_transfer_ladders_and_their_errors() -> None:
    config = {
        "env": {"kwargs": {"start": "kqk", "max_plies": 100, "opponent": {"name": "random"}}},
        "eval": {"seed": 0, "n_envs": 4, "ladder": {
            "opponents": ["random"], "episodes": 4, "transfer": {"krk": {"start": "krk"}}}},
    }  # fmt: skip
    extra = ladder_extra(config)
    assert extra is not None
    out = extra(TeacherPolicy(seed=1), {}, 0)
    assert out["transfer/krk/ladder/random/win_rate"] == 1.0
    assert out["transfer/krk/tablebase/optimal"] == 1.0
    config["eval"]["ladder"]["transfer"] = {"krk": {"start": "nowhere"}}
    with pytest.raises(ValueError, match=r"eval.ladder.transfer.krk: .*nowhere"):
        ladder_extra(config)
    config["eval"]["ladder"]["transfer"] = {"krk": "krk"}
    with pytest.raises(ValueError, match=r"eval.ladder.transfer.krk='krk'; accepted"):
        ladder_extra(config)


def test_schemes_refuse_positions_without_a_table(tmp_path: Path) -> None:
    start = "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1"
    for scheme in (Imitation, DistanceToMate):
        with pytest.raises(ValueError, match=r"not in the tablebase; accepted: env\.kwargs\.start"):
            play(tmp_path, scheme, start, ["e2e4"], script=["e7e5"])
