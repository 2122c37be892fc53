"""Start positions: the standard one, random openings, random endgames (optionally with a
short forced mate, for a curriculum), a FEN file."""

from __future__ import annotations

from pathlib import Path

import chess
import numpy as np

__all__ = [
    "ENDGAMES",
    "MAX_MATE_IN",
    "STARTS",
    "FenFileError",
    "load_fens",
    "mating_move",
    "random_endgame",
    "random_opening",
]

#: The learner's extra piece in each random endgame (besides both kings).
ENDGAMES: dict[str, chess.PieceType] = {"kqk": chess.QUEEN, "krk": chess.ROOK, "kpk": chess.PAWN}
STARTS = ("standard", "random_opening", *ENDGAMES, "fen_file")
#: The deepest forced mate ``random_endgame`` serves: ~100 mate-in-3 kqk positions a
#: second, deeper ones too slow for an env reset.
MAX_MATE_IN = 3


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


def _edge_distance(square: chess.Square) -> int:
    """Kings' moves from ``square`` to the nearest edge of the board (0 on the edge)."""
    file, rank = chess.square_file(square), chess.square_rank(square)
    return min(file, 7 - file, rank, 7 - rank)


#: The squares at most ``d`` king moves from an edge (index ``d``; 3: every square).
_NEAR_EDGE = [
    np.array([s for s in chess.SQUARES if _edge_distance(s) <= d], dtype=np.int64) for d in range(4)
]
_NEAR_EDGE_BB = [sum(chess.BB_SQUARES[int(s)] for s in near) for near in _NEAR_EDGE]


def mating_move(board: chess.Board, n: int) -> chess.Move | None:
    """A move of the side to move that forces checkmate within ``n`` of its moves, if any.

    An exact search (every move of the side to move, every reply; checking moves first)
    that a curriculum uses to serve positions with a short forced mate. ``board`` is
    restored afterwards. Draw claims cannot arise within ``n`` <= 3 moves of a fresh
    position and are not looked at. Endgames of a bare king against a king and one piece
    (kqk, krk, kpk) take a fast path on bitboards, ``_forced_mate``: on one core, ~10 µs
    a random kqk position for mate in 1, ~60 µs for mate in 2, ~1 ms for mate in 3,
    ~20 ms for mate in 4; other positions a plain search, some 100 times slower.

    Example:
        >>> mating_move(chess.Board("6k1/8/6K1/8/8/8/8/R7 w - - 0 1"), 1)
        Move.from_uci('a1a8')
        >>> mating_move(chess.Board("7k/8/8/8/8/8/8/K6Q w - - 0 1"), 2) is None
        True
    """
    if n < 1:
        return None
    piece = _lone_piece(board)
    if piece is not None:
        return _bare_king_mate(board, n, *piece)
    checks = [move for move in board.legal_moves if board.gives_check(move)]
    for move in checks:
        board.push(move)
        mate = board.is_checkmate()
        board.pop()
        if mate:
            return move
    if n == 1:
        return None
    for move in sorted(board.legal_moves, key=lambda move: move not in checks):
        board.push(move)
        forced = _mate_after_every_reply(board, n - 1)
        board.pop()
        if forced:
            return move
    return None


def _mate_after_every_reply(board: chess.Board, n: int) -> bool:
    """Whether the side to move has a reply (it is not mated) and each allows mate in ``n``."""
    replies = list(board.legal_moves)
    if not replies:  # stalemate: the mates were found before
        return False
    for reply in replies:
        board.push(reply)
        forced = mating_move(board, n) is not None
        board.pop()
        if not forced:
            return False
    return True


def _lone_piece(board: chess.Board) -> tuple[chess.Square, chess.PieceType] | None:
    """The square and type of the one piece besides its king of the side to move, when the
    other side has a bare king and neither can castle; otherwise ``None``."""
    us = board.turn
    pieces = board.occupied_co[us] & ~board.kings
    if (
        chess.popcount(board.occupied_co[not us]) != 1
        or chess.popcount(pieces) != 1
        or board.castling_rights
    ):
        return None
    square = chess.lsb(pieces)
    return square, board.piece_type_at(square) or chess.PAWN


def _attacks(
    piece: chess.PieceType, color: chess.Color, square: chess.Square, occupied: int
) -> int:
    """The squares (a bitboard) that a ``piece`` of ``color`` on ``square`` attacks."""
    if piece == chess.PAWN:
        return chess.BB_PAWN_ATTACKS[color][square]
    if piece == chess.KNIGHT:
        return chess.BB_KNIGHT_ATTACKS[square]
    if piece == chess.KING:
        return chess.BB_KING_ATTACKS[square]
    attacks = 0
    if piece in (chess.BISHOP, chess.QUEEN):
        attacks = chess.BB_DIAG_ATTACKS[square][chess.BB_DIAG_MASKS[square] & occupied]
    if piece in (chess.ROOK, chess.QUEEN):
        attacks |= chess.BB_RANK_ATTACKS[square][chess.BB_RANK_MASKS[square] & occupied]
        attacks |= chess.BB_FILE_ATTACKS[square][chess.BB_FILE_MASKS[square] & occupied]
    return attacks


#: A move as the bare-king search sees it: from-square, to-square, promotion (or None).
_Move = tuple[chess.Square, chess.Square, chess.PieceType | None]
_PROMOTIONS = (chess.QUEEN, chess.ROOK, chess.BISHOP, chess.KNIGHT)


def _bare_king_mate(
    board: chess.Board, n: int, square: chess.Square, piece: chess.PieceType
) -> chess.Move | None:
    """``mating_move`` against a bare king, the side to move having a king and ``piece``
    on ``square``: the search of ``_forced_mate`` on bitboards, no ``Board`` involved."""
    us = board.turn
    king, bare = board.king(us), board.king(not us)
    if king is None or bare is None:
        return None
    move = _forced_mate(us, king, square, piece, bare, n)
    return None if move is None else chess.Move(*move)


def _legal_moves(
    us: chess.Color,
    king: chess.Square,
    square: chess.Square,
    piece: chess.PieceType,
    bare: chess.Square,
    king_moves: bool,
) -> list[_Move]:
    """The legal moves of a king and one ``piece`` on ``square`` against a bare king.

    Nothing can pin the piece or check the king, so the piece moves wherever it could
    (it cannot take the king, and a pawn has nothing else to take), and the king to any
    free square away from the bare king's. ``king_moves=False`` leaves out the king's.
    """
    bb = chess.BB_SQUARES
    occupied = bb[king] | bb[square] | bb[bare]
    moves: list[_Move] = []
    if piece == chess.PAWN:
        step = 8 if us == chess.WHITE else -8
        to = square + step
        if not bb[to] & occupied:
            if chess.square_rank(to) in (0, 7):
                moves += [(square, to, promotion) for promotion in _PROMOTIONS]
            else:
                moves.append((square, to, None))
                home = 1 if us == chess.WHITE else 6
                if chess.square_rank(square) == home and not bb[to + step] & occupied:
                    moves.append((square, to + step, None))
    else:
        targets = _attacks(piece, us, square, occupied) & ~bb[king] & ~bb[bare]
        moves += [(square, to, None) for to in chess.scan_forward(targets)]
    if king_moves:
        free = chess.BB_KING_ATTACKS[king] & ~bb[square] & ~chess.BB_KING_ATTACKS[bare]
        moves += [(king, to, None) for to in chess.scan_forward(free)]
    return moves


def _forced_mate(
    us: chess.Color,
    king: chess.Square,
    square: chess.Square,
    piece: chess.PieceType,
    bare: chess.Square,
    n: int,
) -> _Move | None:
    """A move of ``us`` (a king, and ``piece`` on ``square``) that mates the bare king
    within ``n`` moves whatever it does, if any.

    The bare king's replies to a move are its own squares minus those the king and the
    piece attack after the move (the piece seen through the bare king, which cannot step
    back along a line of check). A move that leaves no reply mates if it checks (else it
    stalemates). One piece and a king cannot cover the nine squares of a king off the
    edge, so a bare king is only ever mated on the edge: a move after which the bare king
    can reach a square more than ``n - 2`` moves from an edge, or take the piece, cannot
    mate within ``n`` and is not searched. Checks are tried first.
    """
    bb = chess.BB_SQUARES
    target = bb[bare]
    if not target & _NEAR_EDGE_BB[min(n - 1, 3)]:
        return None
    # in a mate in 1, a king move can only mate by uncovering a line of the piece
    king_moves = n > 1 or bool(chess.between(square, bare) & bb[king])
    later: list[tuple[bool, _Move, chess.Square, chess.PieceType, chess.Square, int]] = []
    for move in _legal_moves(us, king, square, piece, bare, king_moves):
        start, to, promotion = move
        if start == square:
            at, what, king_at = to, promotion or piece, king
        else:
            at, what, king_at = square, piece, to
        attacked = chess.BB_KING_ATTACKS[king_at] | _attacks(what, us, at, bb[king_at] | bb[at])
        replies = chess.BB_KING_ATTACKS[bare] & ~attacked
        check = bool(attacked & target)
        if not replies:
            if check:
                return move
            continue  # stalemate
        if n > 1 and not replies & (bb[at] | ~_NEAR_EDGE_BB[min(n - 2, 3)]):
            later.append((not check, move, at, what, king_at, replies))
    later.sort(key=lambda candidate: candidate[0])
    for _, move, at, what, king_at, replies in later:
        if all(
            _forced_mate(us, king_at, at, what, reply, n - 1) is not None
            for reply in chess.scan_forward(replies)
        ):
            return move
    return None


def random_endgame(
    rng: np.random.Generator, kind: str, learner: chess.Color, mate_in: int | None = None
) -> chess.Board:
    """A random legal position of ``kind`` (kqk, krk, kpk), the learner to move with the
    extra piece, that is not already over.

    With ``mate_in`` = n (1 to ``MAX_MATE_IN``): drawn uniformly among the positions
    where the learner forces checkmate within n moves (``mating_move``), for a
    curriculum; ``None`` draws exactly as before (the same positions for the same ``rng``).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> board = random_endgame(rng, "kqk", chess.WHITE, mate_in=1)
        >>> board.turn == chess.WHITE and mating_move(board, 1) is not None
        True
    """
    if mate_in is not None:
        if isinstance(mate_in, bool) or not 1 <= mate_in <= MAX_MATE_IN:
            raise ValueError(
                f"mate_in={mate_in!r}; accepted: None or an integer from 1 to {MAX_MATE_IN}"
            )
        return _random_mate(rng, kind, learner, mate_in)
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


def _random_mate(
    rng: np.random.Generator, kind: str, learner: chess.Color, mate_in: int
) -> chess.Board:
    """``random_endgame`` among the positions with a forced mate in at most ``mate_in``.

    Rejection sampling from the plain distribution, except that the bare king is placed
    only where it can be mated in time (at most ``mate_in - 1`` moves from an edge): the
    other placements would all be rejected, so the distribution is the same, only faster.
    The legality test is ``Board.is_valid``'s for three pieces (kings apart, no pawn on
    a back rank, the bare king not in check), on squares, before any ``Board`` is made.
    """
    piece = ENDGAMES[kind]
    near = _NEAR_EDGE[mate_in - 1]
    while True:
        bare = int(near[rng.integers(len(near))])
        king, extra = (int(s) + int(s >= bare) for s in rng.choice(63, size=2, replace=False))
        if (
            chess.square_distance(king, bare) < 2
            or (piece == chess.PAWN and chess.square_rank(extra) in (0, 7))
            or _attacks(piece, learner, extra, chess.BB_SQUARES[king] | chess.BB_SQUARES[extra])
            & chess.BB_SQUARES[bare]
            or _forced_mate(learner, king, extra, piece, bare, mate_in) is None
        ):
            continue
        board = chess.Board(None)
        board.set_piece_at(king, chess.Piece(chess.KING, learner))
        board.set_piece_at(extra, chess.Piece(piece, learner))
        board.set_piece_at(bare, chess.Piece(chess.KING, not learner))
        board.turn = learner
        # A mating move is a legal move, and a queen, rook or pawn is mating material:
        # the position is not over.
        if board.is_valid():
            return board
