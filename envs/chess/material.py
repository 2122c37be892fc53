"""Material: the conventional piece values and the balance between the two sides."""

from __future__ import annotations

import chess

__all__ = ["PIECE_VALUES", "capture_value", "material_balance"]

#: Pawn 1, knight and bishop 3, rook 5, queen 9; the king is not material.
PIECE_VALUES: dict[chess.PieceType, int] = {
    chess.PAWN: 1, chess.KNIGHT: 3, chess.BISHOP: 3, chess.ROOK: 5, chess.QUEEN: 9, chess.KING: 0,
}  # fmt: skip
_BBS = (("pawns", 1), ("knights", 3), ("bishops", 3), ("rooks", 5), ("queens", 9))


def material_balance(board: chess.Board, color: chess.Color) -> int:
    """The material of ``color`` minus that of its opponent.

    Example:
        >>> material_balance(chess.Board("4k3/8/8/8/8/8/8/3QK3 w - - 0 1"), chess.BLACK)
        -9
    """
    own, opp = board.occupied_co[color], board.occupied_co[not color]
    total = 0
    for name, value in _BBS:
        bb = getattr(board, name)
        total += value * ((bb & own).bit_count() - (bb & opp).bit_count())
    return total


def capture_value(board: chess.Board, move: chess.Move) -> int:
    """The value of the piece ``move`` captures in ``board`` (0 if none), before it is made."""
    if board.occupied_co[not board.turn] & chess.BB_SQUARES[move.to_square]:
        return PIECE_VALUES[board.piece_type_at(move.to_square) or chess.PAWN]
    if board.is_en_passant(move):
        return 1
    return 0
