"""The chess action layout: ``Discrete(4672)`` = from-square × 73 move planes.

Squares use python-chess numbering (a1 = 0, b1 = 1, …, h8 = 63) in the *mover's frame*:
for black the board is mirrored top to bottom, so every position looks as if white were to
move. The 73 planes of a from-square (after AlphaZero, Silver et al. 2018):

- 0–55: queen-direction moves, ``direction * 7 + (distance - 1)`` with directions N, NE, E,
  SE, S, SW, W, NW and distances 1–7. A pawn reaching the last rank this way promotes to
  a queen.
- 56–63: knight moves, in the order of ``KNIGHT_STEPS``.
- 64–72: underpromotions, ``64 + piece * 3 + direction`` with pieces N, B, R and
  directions left capture, push, right capture.

Action ``from_square * 73 + plane``.
"""

from __future__ import annotations

import chess
import numpy as np
import numpy.typing as npt

__all__ = [
    "COMPACT_ACTIONS",
    "N_ACTIONS",
    "N_COMPACT",
    "N_PLANES",
    "TO_COMPACT",
    "decode_action",
    "encode_move",
    "legal_action_mask",
    "legal_actions",
]

N_PLANES = 73
N_ACTIONS = 64 * N_PLANES  # 4672

#: (file step, rank step) of the eight queen directions: N, NE, E, SE, S, SW, W, NW.
QUEEN_DIRECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1),
)  # fmt: skip
#: (file step, rank step) of the eight knight moves, in plane order.
KNIGHT_STEPS: tuple[tuple[int, int], ...] = (
    (1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2),
)  # fmt: skip
UNDERPROMOTIONS: tuple[chess.PieceType, ...] = (chess.KNIGHT, chess.BISHOP, chess.ROOK)


def _tables() -> tuple[list[list[int]], list[tuple[int, int, chess.PieceType | None]]]:
    """The move tables: action of (from, to) in the mover's frame, and the reverse.

    ``by_squares[from][to]`` is the action of a non-underpromoting move (-1 where no plane
    reaches); ``by_action[a]`` is (from, to, underpromotion piece or None), with to = -1
    for an action that leaves the board.
    """
    by_squares = [[-1] * 64 for _ in range(64)]
    by_action: list[tuple[int, int, chess.PieceType | None]] = []
    for origin in range(64):
        file, rank = chess.square_file(origin), chess.square_rank(origin)
        steps = [(df * d, dr * d) for df, dr in QUEEN_DIRECTIONS for d in range(1, 8)]
        for plane, (df, dr) in enumerate(steps + list(KNIGHT_STEPS)):
            f, r = file + df, rank + dr
            target = chess.square(f, r) if 0 <= f < 8 and 0 <= r < 8 else -1
            if target >= 0:
                by_squares[origin][target] = origin * N_PLANES + plane
            by_action.append((origin, target, None))
        for piece in UNDERPROMOTIONS:
            for df in (-1, 0, 1):
                f, r = file + df, rank + 1
                target = chess.square(f, r) if 0 <= f < 8 and r < 8 else -1
                by_action.append((origin, target, piece))
    return by_squares, by_action


_BY_SQUARES, _BY_ACTION = _tables()

#: The actions of the 4672 layout that can ever be legal, ascending: the 1,792 queen-direction
#: and knight moves that stay on the board plus the 66 underpromotions from the seventh rank.
#: A policy may score only these and map back: ``COMPACT_ACTIONS[i]`` is a layout action.
COMPACT_ACTIONS: npt.NDArray[np.int64] = np.array(
    [
        action
        for action, (origin, target, promotion) in enumerate(_BY_ACTION)
        if target >= 0 and (promotion is None or chess.square_rank(origin) == 6)
    ],
    dtype=np.int64,
)
N_COMPACT = len(COMPACT_ACTIONS)  # 1858
#: The compact index of each layout action, -1 for those that can never be legal.
TO_COMPACT: npt.NDArray[np.int64] = np.full(N_ACTIONS, -1, dtype=np.int64)
TO_COMPACT[COMPACT_ACTIONS] = np.arange(N_COMPACT)


def encode_move(board: chess.Board, move: chess.Move) -> int:
    """The action of ``move`` in the position ``board`` (whose side to move makes it).

    Example:
        >>> encode_move(chess.Board(), chess.Move.from_uci("e2e4"))
        877
    """
    flip = 0 if board.turn == chess.WHITE else 56
    origin, target = move.from_square ^ flip, move.to_square ^ flip
    if move.promotion and move.promotion != chess.QUEEN:
        piece = UNDERPROMOTIONS.index(move.promotion)
        direction = chess.square_file(target) - chess.square_file(origin) + 1
        return origin * N_PLANES + 64 + piece * 3 + direction
    action = _BY_SQUARES[origin][target]
    if action < 0:
        raise ValueError(f"move {move.uci()} has no action in the 4672 layout")
    return action


def decode_action(board: chess.Board, action: int) -> chess.Move:
    """The move that ``action`` stands for in ``board``; it may be illegal there.

    A queen-direction move of a pawn onto the last rank is a queen promotion.

    Example:
        >>> decode_action(chess.Board(), 877).uci()
        'e2e4'
    """
    if not 0 <= action < N_ACTIONS:
        raise ValueError(f"action {action} is outside the layout; accepted: 0..{N_ACTIONS - 1}")
    origin, target, promotion = _BY_ACTION[action]
    if target < 0:
        return chess.Move.null()  # leaves the board: never legal
    flip = 0 if board.turn == chess.WHITE else 56
    from_square, to_square = origin ^ flip, target ^ flip
    if (
        promotion is None
        and chess.square_rank(target) == 7
        and board.pawns & chess.BB_SQUARES[from_square]
    ):
        promotion = chess.QUEEN
    return chess.Move(from_square, to_square, promotion)


def legal_actions(board: chess.Board, moves: list[chess.Move]) -> dict[int, chess.Move]:
    """Each of ``moves`` (the legal moves of ``board``) by its action."""
    flip = 0 if board.turn == chess.WHITE else 56
    by_squares = _BY_SQUARES
    out: dict[int, chess.Move] = {}
    for move in moves:
        promotion = move.promotion
        if promotion and promotion != chess.QUEEN:
            out[encode_move(board, move)] = move
        else:
            out[by_squares[move.from_square ^ flip][move.to_square ^ flip]] = move
    return out


def legal_action_mask(board: chess.Board) -> npt.NDArray[np.bool_]:
    """A boolean mask of the 4672 actions, True exactly for the legal moves of ``board``.

    Example:
        >>> int(legal_action_mask(chess.Board()).sum())
        20
    """
    mask = np.zeros(N_ACTIONS, dtype=bool)
    mask[list(legal_actions(board, list(board.legal_moves)))] = True
    return mask
