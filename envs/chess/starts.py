"""Start positions: the standard one, random openings, random endgames, a FEN file."""

from __future__ import annotations

from pathlib import Path

import chess
import numpy as np

__all__ = ["ENDGAMES", "STARTS", "FenFileError", "load_fens", "random_endgame", "random_opening"]

#: The learner's extra piece in each random endgame (besides both kings).
ENDGAMES: dict[str, chess.PieceType] = {"kqk": chess.QUEEN, "krk": chess.ROOK, "kpk": chess.PAWN}
STARTS = ("standard", "random_opening", *ENDGAMES, "fen_file")


class FenFileError(ValueError):
    """A FEN file that is missing, empty, or has a line that is not a playable position."""


def load_fens(path: str | Path) -> list[str]:
    """The positions of a FEN file, one per line (blank lines and ``#`` comments skipped)."""
    file = Path(path)
    if not file.is_file():
        raise FenFileError(f"fen_file {str(file)!r} does not exist; accepted: a file of FENs")
    fens = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            board = chess.Board(text)
        except ValueError as error:
            raise FenFileError(f"{file}:{number}: bad FEN {text!r}: {error}") from None
        if not board.is_valid():
            raise FenFileError(
                f"{file}:{number}: FEN {text!r} is not a legal position ({board.status()!r})"
            )
        if board.is_game_over():
            raise FenFileError(f"{file}:{number}: FEN {text!r} is a finished game")
        fens.append(board.fen())
    if not fens:
        raise FenFileError(f"fen_file {str(file)!r} holds no FEN; accepted: one FEN per line")
    return fens


def random_opening(rng: np.random.Generator, plies: int) -> chess.Board:
    """The standard start after ``plies`` uniformly random legal plies, not yet over."""
    while True:
        board = chess.Board()
        for _ in range(plies):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(moves[rng.integers(len(moves))])
        if not board.is_game_over():
            return board


def random_endgame(rng: np.random.Generator, kind: str, learner: chess.Color) -> chess.Board:
    """A random legal position of ``kind`` (kqk, krk, kpk), the learner to move with the
    extra piece, that is not already over."""
    piece = ENDGAMES[kind]
    while True:
        squares = rng.choice(64, size=3, replace=False)
        board = chess.Board(None)
        board.set_piece_at(int(squares[0]), chess.Piece(chess.KING, learner))
        board.set_piece_at(int(squares[1]), chess.Piece(piece, learner))
        board.set_piece_at(int(squares[2]), chess.Piece(chess.KING, not learner))
        board.turn = learner
        if board.is_valid() and not board.is_game_over():
            return board
