"""The SAN the chess env writes during play equals python-chess's ``Board.san``."""

from __future__ import annotations

import chess
import numpy as np
import pytest

from envs.chess.notation import movetext, san_without_suffix, suffix

#: Positions rich in castling (both sides), en passant and (under)promotions with capture.
SPECIAL = (
    chess.STARTING_FEN,
    "r3k2r/pPp2ppp/8/3pP3/8/8/PpP2PPP/R3K2R w KQkq d6 0 1",
    "r3k2r/pPp2ppp/8/8/3pP3/8/PpP2PPP/R3K2R b KQkq e3 0 1",
    "1n2k3/P6P/8/8/8/8/p6p/1N2K3 w - - 0 1",
    # three knights and two rooks that can reach the same squares: full disambiguation
    "4k3/8/8/2N1N3/8/2N5/8/R3K2R w - - 0 1",
)


@pytest.mark.parametrize("fen", SPECIAL)
def test_san_matches_python_chess(fen: str) -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(40):
        board = chess.Board(fen)
        for _ in range(120):
            moves = list(board.legal_moves)
            if not moves:
                break
            move = moves[rng.integers(len(moves))]
            expected = board.san(move)
            ours = san_without_suffix(board, move, moves)
            board.push(move)
            assert ours + suffix(board, list(board.legal_moves)) == expected, board.fen()
            checked += 1
    assert checked > 1000


def test_movetext_numbers_moves_from_either_side() -> None:
    assert movetext(["e4", "e5", "Nf3"], chess.WHITE, 1, "*") == "1. e4 e5 2. Nf3 *"
    assert movetext(["Kd7", "Qb7#"], chess.BLACK, 40, "1-0") == "40... Kd7 41. Qb7# 1-0"
