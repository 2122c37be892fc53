"""The chess observation: ``uint8`` planes ``(19, 8, 8)`` from the side to move.

Planes 0–5 the mover's pawns, knights, bishops, rooks, queens, king; 6–11 the opponent's;
12–15 castling rights (own king side, own queen side, opponent king side, opponent queen
side; all ones when held); 16 the en-passant square (when a capture there is legal); 17 how
often the position occurred before (0–2); 18 the halfmove clock. Rows are ranks and columns
files, in the mover's frame: for black the board is mirrored top to bottom, as in the action
layout.
"""

from __future__ import annotations

import chess
import numpy as np
import numpy.typing as npt

__all__ = ["N_PLANES_OBS", "PLANE_HIGH", "board_planes", "repetitions"]

N_PLANES_OBS = 19
#: The largest value of each plane: 1 for the bit planes, 2 repetitions, 255 the clock.
#: (Not 255 everywhere, so SB3 does not take the planes for an image and divide by 255.)
PLANE_HIGH = np.ones((N_PLANES_OBS, 8, 8), dtype=np.uint8)
PLANE_HIGH[17], PLANE_HIGH[18] = 2, 255
_PIECE_BBS = ("pawns", "knights", "bishops", "rooks", "queens", "kings")


def repetitions(board: chess.Board, below_three: bool = False) -> int:
    """How many times the current position occurred before, capped at 2.

    ``below_three``: the caller knows the position has not occurred three times (the game
    goes on after its threefold check), so one ``is_repetition`` walk answers.
    """
    if board.halfmove_clock < 4 or not board.is_repetition(2):
        return 0
    return 1 if below_three or not board.is_repetition(3) else 2


def board_planes(board: chess.Board, repeated: int | None = None) -> npt.NDArray[np.uint8]:
    """The observation planes of ``board`` from its side to move (bitboards + unpackbits).

    ``repeated`` is the repetition count when the caller already knows it.

    Example:
        >>> planes = board_planes(chess.Board())
        >>> planes.shape, int(planes[0].sum()), int(planes[11][7, 4])  # pawns, their king
        ((19, 8, 8), 8, 1)
    """
    us = board.turn
    own, opp = board.occupied_co[us], board.occupied_co[not us]
    pieces = [getattr(board, name) for name in _PIECE_BBS]
    bbs = [bb & own for bb in pieces] + [bb & opp for bb in pieces]
    ep = board.ep_square if board.has_legal_en_passant() else None
    bbs.append(chess.BB_SQUARES[ep] if ep is not None else 0)
    if us == chess.BLACK:
        bbs = [chess.flip_vertical(bb) for bb in bbs]
    planes = np.empty((N_PLANES_OBS, 8, 8), dtype=np.uint8)
    bits = np.unpackbits(np.array(bbs, dtype=np.uint64).view(np.uint8), bitorder="little")
    planes[:12] = bits[: 12 * 64].reshape(12, 8, 8)
    planes[16] = bits[12 * 64 :].reshape(8, 8)
    if board.castling_rights:
        planes[12] = board.has_kingside_castling_rights(us)
        planes[13] = board.has_queenside_castling_rights(us)
        planes[14] = board.has_kingside_castling_rights(not us)
        planes[15] = board.has_queenside_castling_rights(not us)
    else:  # no right left (every endgame): the four tests above can only say False
        planes[12:16] = 0
    planes[17] = repetitions(board) if repeated is None else repeated
    planes[18] = min(board.halfmove_clock, 255)
    return planes
