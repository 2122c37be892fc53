"""Standard algebraic notation written during play, so a game's PGN costs nothing extra.

python-chess's ``Board.san`` regenerates legal moves for each move; the env already has
the legal moves of every ply (for the mask) and of the reply (for the game-end test), which
is all that notation needs: the disambiguation and the check or mate suffix.
"""

from __future__ import annotations

import chess

__all__ = ["movetext", "san_without_suffix", "suffix"]

_LETTERS = {
    chess.KNIGHT: "N", chess.BISHOP: "B", chess.ROOK: "R", chess.QUEEN: "Q", chess.KING: "K",
}  # fmt: skip


def san_without_suffix(board: chess.Board, move: chess.Move, legal: list[chess.Move]) -> str:
    """The SAN of ``move`` in ``board`` (before it is made), without ``+`` or ``#``.

    ``legal`` are the legal moves of ``board``, for disambiguation.

    Example:
        >>> b = chess.Board()
        >>> san_without_suffix(b, chess.Move.from_uci("g1f3"), list(b.legal_moves))
        'Nf3'
    """
    if board.is_castling(move):
        return "O-O" if chess.square_file(move.to_square) > chess.square_file(move.from_square) \
            else "O-O-O"  # fmt: skip
    piece = board.piece_type_at(move.from_square)
    capture = board.is_capture(move)
    target = chess.SQUARE_NAMES[move.to_square]
    if piece == chess.PAWN or piece is None:
        text = chess.FILE_NAMES[chess.square_file(move.from_square)] + "x" if capture else ""
        text += target
        if move.promotion:
            text += "=" + chess.piece_symbol(move.promotion).upper()
        return text
    rivals = [
        m.from_square
        for m in legal
        if m.to_square == move.to_square
        and m.from_square != move.from_square
        and board.piece_type_at(m.from_square) == piece
    ]
    hint = ""
    if rivals:
        file, rank = chess.square_file(move.from_square), chess.square_rank(move.from_square)
        if all(chess.square_file(s) != file for s in rivals):
            hint = chess.FILE_NAMES[file]
        elif all(chess.square_rank(s) != rank for s in rivals):
            hint = chess.RANK_NAMES[rank]
        else:
            hint = chess.SQUARE_NAMES[move.from_square]
    return _LETTERS[piece] + hint + ("x" if capture else "") + target


def suffix(board: chess.Board, replies: list[chess.Move]) -> str:
    """``#`` or ``+`` for the move just made in ``board``, given the opponent's replies."""
    if not board.is_check():
        return ""
    return "#" if not replies else "+"


def movetext(sans: list[str], first_turn: chess.Color, first_number: int, result: str) -> str:
    """The PGN movetext of ``sans`` played from a position with ``first_turn`` to move.

    Example:
        >>> movetext(["e5", "Nf3", "Nc6"], chess.BLACK, 1, "*")
        '1... e5 2. Nf3 Nc6 *'
    """
    parts: list[str] = []
    number, turn = first_number, first_turn
    for i, san in enumerate(sans):
        if turn == chess.WHITE:
            parts.append(f"{number}. {san}")
        elif i == 0:
            parts.append(f"{number}... {san}")
        else:
            parts.append(san)
        if turn == chess.BLACK:
            number += 1
        turn = not turn
    return " ".join([*parts, result])
