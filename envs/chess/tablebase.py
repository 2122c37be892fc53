"""Exact distance-to-mate tablebases for KQK, KRK and KPK, built by backward induction in numpy.

Teaching rewards and yardsticks ask of an endgame position "how far is mate, and which moves
keep to the fastest one?" far more often than a game is stepped; a probe is an array lookup.

A table holds every placement of the strong king, the strong piece and the weak king with
either side to move, in the strong side's frame (strong side = White; a board whose strong
side is Black is read with its ranks mirrored). KPK's promotions lead into the KQK and KRK
tables (a bishop or knight: a draw), so KPK is built and loaded after them. Each entry is
the distance to mate in plies with best play by both sides (odd: the side to move mates;
even: it is mated; 0: it is checkmated), -1 for a draw, -2 for an illegal placement. The
strong side never loses, so the parity of the distance is the result. The 50-move rule and
repetitions are ignored.

Example (builds the tables into the cache on first use, a few seconds)::

    tb = tablebase("KQK")
    tb.probe(chess.Board("7k/8/6K1/8/8/8/8/1Q6 w - - 0 1"))  # (1, 1): Qb8 mates
    tb.probe(chess.Board("k7/2Q5/1K6/8/8/8/8/8 b - - 0 1"))  # (0, None): stalemate
    tb.best_moves(chess.Board("7k/8/6K1/8/8/8/8/1Q6 w - - 0 1"))  # [Move.from_uci('b1b8')]
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import chess
import numpy as np

__all__ = ["MATERIALS", "Tablebase", "material_of", "tablebase"]

#: The endings a table can be built for, with the strong side's piece.
MATERIALS: dict[str, chess.PieceType] = {"KQK": chess.QUEEN, "KRK": chess.ROOK, "KPK": chess.PAWN}
#: Bumped whenever the layout or meaning of a saved table changes: older files are rebuilt.
FORMAT_VERSION = 1

DRAW, ILLEGAL = -1, -2
N_SQUARES = 64
HALF = N_SQUARES**3  # placements per side to move
#: The order of a material signature's pieces after the king.
_SIGNATURE_ORDER = (chess.QUEEN, chess.ROOK, chess.BISHOP, chess.KNIGHT, chess.PAWN)

_KING_STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
_ROOK_DIRS = ((1, 0), (0, 1), (-1, 0), (0, -1))
_SLIDER_DIRS: dict[chess.PieceType, tuple[tuple[int, int], ...]] = {
    chess.ROOK: _ROOK_DIRS,
    chess.QUEEN: _KING_STEPS,
}


def _step_table(steps: tuple[tuple[int, int], ...], length: int) -> np.ndarray:
    """``[square, direction, distance-1]``: the square reached, or -1 off the board."""
    table = np.full((N_SQUARES, len(steps), length), -1, dtype=np.int64)
    for sq in range(N_SQUARES):
        file, rank = sq % 8, sq // 8
        for k, (df, dr) in enumerate(steps):
            for d in range(length):
                f, r = file + df * (d + 1), rank + dr * (d + 1)
                if not (0 <= f < 8 and 0 <= r < 8):
                    break
                table[sq, k, d] = r * 8 + f
    return table


_KING_MOVES = _step_table(_KING_STEPS, 1)[:, :, 0]  # [square, 8]
_SQ_FILE, _SQ_RANK = np.arange(N_SQUARES) % 8, np.arange(N_SQUARES) // 8
#: ``[a, b]``: the kings on a and b would touch (or share a square).
_NEAR = (np.abs(_SQ_FILE[:, None] - _SQ_FILE[None, :]) <= 1) & (
    np.abs(_SQ_RANK[:, None] - _SQ_RANK[None, :]) <= 1
)


def _attack_table(rays: np.ndarray) -> np.ndarray:
    """``[piece, blocker, target]``: a slider on piece attacks target, one blocker on the board."""
    attacks = np.zeros((N_SQUARES, N_SQUARES, N_SQUARES), dtype=bool)
    squares = np.arange(N_SQUARES)
    for p in range(N_SQUARES):
        for ray in rays[p]:
            blocked = np.zeros(N_SQUARES, dtype=bool)
            for t in ray[ray >= 0]:
                attacks[p, :, t] |= ~blocked
                blocked |= squares == t
    return attacks


def _index(stm: int | np.ndarray, wk: object, p: object, bk: object) -> np.ndarray:
    """The table index of a placement; stm 0 = strong side to move, 1 = weak side."""
    return np.asarray(stm) * HALF + np.asarray(wk) * 4096 + np.asarray(p) * 64 + np.asarray(bk)


#: ``[pawn, target]``: a strong (white) pawn on pawn attacks target.
_PAWN_ATTACKS = np.zeros((N_SQUARES, N_SQUARES), dtype=bool)
for _sq in range(8, 56):
    if _sq % 8 > 0:
        _PAWN_ATTACKS[_sq, _sq + 7] = True
    if _sq % 8 < 7:
        _PAWN_ATTACKS[_sq, _sq + 9] = True
#: KPK's promotions, each with the table it leads to (None: a bare minor piece, a draw).
_PROMOTIONS: tuple[tuple[chess.PieceType, str | None], ...] = (
    (chess.QUEEN, "KQK"),
    (chess.ROOK, "KRK"),
    (chess.BISHOP, None),
    (chess.KNIGHT, None),
)


def _attacks(piece: chess.PieceType) -> np.ndarray:
    """``[piece square, strong king, target]``: the strong piece attacks target."""
    if piece == chess.PAWN:
        return np.broadcast_to(_PAWN_ATTACKS[:, None, :], (N_SQUARES,) * 3)
    return _attack_table(_step_table(_SLIDER_DIRS[piece], 7))


def _piece_moves(
    piece: chess.PieceType, wk: np.ndarray, p: np.ndarray, bk: np.ndarray, kk: int
) -> list[np.ndarray]:
    """Successor columns of the strong piece's moves (``kk`` where there is no move).

    A pawn's promotions lead into the KQK and KRK tables, which follow this one in the
    induction's value array (at ``2 * HALF`` and ``4 * HALF``); minor promotions are draws.
    """
    cols = []
    if piece == chess.PAWN:
        one, two = p + 8, p + 16
        free = (one != wk) & (one != bk)
        promotes = one >= 56
        cols.append(np.where(free & ~promotes, _index(1, wk, one, bk), kk))
        for _, table in _PROMOTIONS:
            offset = 2 * HALF * (1 + list(MATERIALS).index(table)) if table else 0
            target = _index(1, wk, one, bk) + offset if table else kk
            cols.append(np.where(free & promotes, target, kk))
        double = free & (p < 16) & (two != wk) & (two != bk)
        cols.append(np.where(double, _index(1, wk, np.minimum(two, 63), bk), kk))
        return cols
    rays = _step_table(_SLIDER_DIRS[piece], 7)
    for direction in range(rays.shape[1]):
        blocked = np.zeros(len(p), dtype=bool)
        for d in range(7):
            t = rays[p, direction, d]
            blocked |= (t < 0) | (t == wk) | (t == bk)
            cols.append(np.where(blocked, kk, _index(1, wk, t, bk)))
    return cols


def _successors(
    piece: chess.PieceType, attacks: np.ndarray, kk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Legal placements and their successors, for the whole table at once.

    Returns the strong side's legal states and their successor indices (padded with
    ``kk``, bare kings, a draw), and the same for the weak side, whose captures of the
    undefended piece lead to ``kk`` and whose padding is ``kk + 1``.
    """
    wk, p, bk = (a.ravel() for a in np.indices((N_SQUARES,) * 3))
    apart = (wk != p) & (p != bk) & ~_NEAR[wk, bk]
    if piece == chess.PAWN:
        apart &= (p >= 8) & (p < 56)  # never on the first or last rank
    pad = kk + 1

    # Strong side to move: legal unless the weak king is in check.
    s = np.flatnonzero(apart & ~attacks[p, wk, bk])
    swk, sp, sbk = wk[s], p[s], bk[s]
    cols = []
    for k in range(8):
        t = _KING_MOVES[swk, k]
        ok = (t >= 0) & (t != sp) & ~_NEAR[t, sbk]
        cols.append(np.where(ok, _index(1, t, sp, sbk), kk))
    strong_succ = np.stack(cols + _piece_moves(piece, swk, sp, sbk, kk), axis=1, dtype=np.int32)

    # Weak side to move: every placement with the kings apart is legal.
    w = np.flatnonzero(apart)
    wwk, wp, wbk = wk[w], p[w], bk[w]
    cols = []
    for k in range(8):
        t = _KING_MOVES[wbk, k]
        tt = np.maximum(t, 0)
        safe = (t >= 0) & ~_NEAR[tt, wwk]
        # The weak king's own square is empty once it moves: only the strong king blocks.
        capture = safe & (tt == wp)
        quiet = safe & (tt != wp) & ~attacks[wp, wwk, tt]
        cols.append(np.where(capture, kk, np.where(quiet, _index(0, wwk, wp, tt), pad)))
    weak_succ = np.stack(cols, axis=1, dtype=np.int32)
    return s, strong_succ, w + HALF, weak_succ


def build_dtm(material: str, promotions: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The distance-to-mate array of ``material`` (see the module docstring), by induction.

    Mates are the weak side's positions without moves and in check; from there ply n marks
    the strong side's positions with a move to a loss in n-1 (odd n) and the weak side's
    positions all of whose moves lead to wins (even n), until a ply adds nothing and no
    promotion target is still deeper. KPK needs ``promotions``: the KQK and KRK arrays.
    """
    piece = _piece_of(material)
    after = (
        [] if piece != chess.PAWN else [_need(promotions, m) for m in MATERIALS if m != material]
    )
    kk = 2 * HALF * (1 + len(after))
    attacks = _attacks(piece)
    strong, strong_succ, weak, weak_succ = _successors(piece, attacks, kk)
    dtm = np.full(kk + 2, ILLEGAL, dtype=np.int8)
    for k, table in enumerate(after):
        dtm[2 * HALF * (k + 1) : 2 * HALF * (k + 2)] = table
    dtm[strong] = DRAW
    dtm[weak] = DRAW
    dtm[kk] = DRAW  # bare kings (or king and a minor piece)
    dtm[kk + 1] = np.int8(127)  # padding: counts as a won move for the strong side
    moves = (weak_succ != kk + 1).sum(axis=1)
    wk, p, bk = (weak - HALF) // 4096, (weak // 64) % 64, weak % 64
    dtm[weak[(moves == 0) & attacks[p, wk, bk]]] = 0

    deepest = max((int(table.max()) for table in after), default=0)
    open_strong, open_weak = np.arange(len(strong)), np.flatnonzero(moves > 0)
    n, quiet_plies = 0, 0
    while quiet_plies < 2 or n <= deepest:
        n += 1
        if n % 2:
            reached = (dtm[strong_succ[open_strong]] == n - 1).any(axis=1)
            newly, open_strong = open_strong[reached], open_strong[~reached]
            dtm[strong[newly]] = n
        else:
            reached = (dtm[weak_succ[open_weak]] >= 0).all(axis=1)
            newly, open_weak = open_weak[reached], open_weak[~reached]
            dtm[weak[newly]] = n
        quiet_plies = 0 if len(newly) else quiet_plies + 1
    return dtm[: 2 * HALF].copy()


def _need(promotions: dict[str, np.ndarray] | None, material: str) -> np.ndarray:
    if promotions is None or material not in promotions:
        raise ValueError(f"promotions: KPK needs the {material} table; accepted: KQK and KRK")
    return promotions[material]


def _piece_of(material: str) -> chess.PieceType:
    if material not in MATERIALS:
        raise ValueError(f"material={material!r}: accepted: {', '.join(MATERIALS)}")
    return MATERIALS[material]


def material_of(board: chess.Board) -> str | None:
    """The board's material signature, strong side first ("KQK", "KRK", "KK", "KQKR"...).

    The strong side has more material by the conventional values (White on a tie). None
    when a side does not have exactly one king.

    Example:
        >>> material_of(chess.Board("8/8/8/3k4/8/8/1r6/4K3 w - - 0 1"))
        'KRK'
    """
    values = {chess.QUEEN: 9, chess.ROOK: 5, chess.BISHOP: 3, chess.KNIGHT: 3, chess.PAWN: 1}
    sides = []
    for color in (chess.WHITE, chess.BLACK):
        if len(board.pieces(chess.KING, color)) != 1:
            return None
        counts = {pt: len(board.pieces(pt, color)) for pt in _SIGNATURE_ORDER}
        name = "K" + "".join(chess.piece_symbol(pt).upper() * counts[pt] for pt in counts)
        sides.append((sum(values[pt] * c for pt, c in counts.items()), name))
    white, black = sides
    strong, weak = (black, white) if black[0] > white[0] else (white, black)
    return strong[1] + weak[1]


class Tablebase:
    """One ending's exact table: the value of any of its positions and the optimal moves."""

    def __init__(
        self, material: str, dtm: np.ndarray, promotions: dict[str, np.ndarray] | None = None
    ) -> None:
        self.piece = _piece_of(material)
        self.material = material
        if dtm.shape != (2 * HALF,) or dtm.dtype != np.int8:
            raise ValueError(f"dtm: shape {dtm.shape} {dtm.dtype}; accepted: ({2 * HALF},) int8")
        self.dtm = dtm
        # A list lookup is ~5x faster than an array's; KPK's promotions index past its own
        # entries into the KQK and KRK tables, laid out as in the induction.
        self._dtm: list[int] = dtm.tolist()
        if self.piece == chess.PAWN:
            for other in MATERIALS:
                if other != material:
                    self._dtm += _need(promotions, other).tolist()
        self._pawn_attacks = [set(np.flatnonzero(row).tolist()) for row in _PAWN_ATTACKS]
        slider = _SLIDER_DIRS.get(self.piece, ())
        rays = _step_table(slider, 7) if slider else np.zeros((N_SQUARES, 0, 7), dtype=np.int64)
        # Plain lists: per-position lookups in Python are faster on them than on arrays.
        self._rays = [[[int(t) for t in ray if t >= 0] for ray in sq] for sq in rays]
        self._kmoves = [[int(t) for t in sq if t >= 0] for sq in _KING_MOVES]
        self._near = _NEAR

    def _state(self, board: chess.Board) -> tuple[int, int, int, int, bool] | None:
        """(stm, strong king, piece, weak king, mirrored) in the table's frame; None for KK."""
        kings, others = board.kings, board.occupied & ~board.kings
        piece_bb = board.pieces_mask(self.piece, chess.WHITE) | board.pieces_mask(
            self.piece, chess.BLACK
        )
        one_each = bool(kings & board.occupied_co[chess.WHITE]) and chess.popcount(kings) == 2
        one_each = one_each and bool(kings & board.occupied_co[chess.BLACK])
        if not (one_each and (others == 0 or (others == piece_bb and chess.popcount(others) == 1))):
            material = material_of(board)
            raise ValueError(
                f"board material {material!r}: this table holds {self.material!r} (and 'KK')"
            )
        if others == 0:
            return None
        piece = chess.lsb(piece_bb)
        strong = bool(board.occupied_co[chess.WHITE] & piece_bb)
        flip = 0 if strong else 56  # mirror the ranks when the strong side is Black
        wk = chess.lsb(board.kings & board.occupied_co[strong]) ^ flip
        bk = chess.lsb(board.kings & board.occupied_co[not strong]) ^ flip
        return (0 if board.turn == strong else 1), wk, piece ^ flip, bk, not strong

    def _value(self, index: int) -> tuple[int, int | None]:
        d = self._dtm[index]
        if d == ILLEGAL:
            raise ValueError("board: not a legal position (the side not to move is in check)")
        if d == DRAW:
            return 0, None
        return (1 if d % 2 else -1), d

    def probe(self, board: chess.Board) -> tuple[int, int | None]:
        """(wdl, dtm) from the side to move: wdl 1 win, 0 draw, -1 loss; dtm = plies to mate
        with best play by both sides (0 for a checkmated side to move, None for a draw)."""
        state = self._state(board)
        if state is None:
            return 0, None
        stm, wk, p, bk, _ = state
        return self._value(stm * HALF + wk * 4096 + p * 64 + bk)

    def _moves(self, stm: int, wk: int, p: int, bk: int) -> list[tuple[int, int, int, int]]:
        """(from, to, promotion or 0, successor index or -1 for a draw by material) of every
        legal move: our own generator, independent of python-chess."""
        near = self._near
        if stm == 0:
            out = [
                (wk, t, 0, HALF + t * 4096 + p * 64 + bk)
                for t in self._kmoves[wk]
                if t != p and not near[t, bk]
            ]
            if self.piece == chess.PAWN:
                return out + self._pawn_moves(wk, p, bk)
            for ray in self._rays[p]:
                for t in ray:
                    if t in (wk, bk):
                        break
                    out.append((p, t, 0, HALF + wk * 4096 + t * 64 + bk))
            return out
        out = []
        for t in self._kmoves[bk]:
            if near[t, wk]:
                continue
            if t == p:
                out.append((bk, t, 0, -1))
            elif not self._attacks(p, wk, t):
                out.append((bk, t, 0, wk * 4096 + p * 64 + t))
        return out

    def _pawn_moves(self, wk: int, p: int, bk: int) -> list[tuple[int, int, int, int]]:
        one = p + 8
        if one in (wk, bk):
            return []
        if one >= 56:
            out = []
            for piece, table in _PROMOTIONS:
                offset = 2 * HALF * (1 + list(MATERIALS).index(table)) if table else 0
                out.append((p, one, piece, HALF + wk * 4096 + one * 64 + bk + offset))
                if not table:
                    out[-1] = (p, one, piece, -1)
            return out
        out = [(p, one, 0, HALF + wk * 4096 + one * 64 + bk)]
        if p < 16 and p + 16 not in (wk, bk):
            out.append((p, p + 16, 0, HALF + wk * 4096 + (p + 16) * 64 + bk))
        return out

    def _attacks(self, p: int, wk: int, t: int) -> bool:
        """The strong piece on p attacks t, the strong king on wk the only blocker."""
        if self.piece == chess.PAWN:
            return t in self._pawn_attacks[p]
        for ray in self._rays[p]:
            for sq in ray:
                if sq == t:
                    return True
                if sq == wk:
                    break
        return False

    def move_values(self, board: chess.Board) -> dict[chess.Move, tuple[int, int | None]]:
        """For every legal move: (wdl, dtm) of the resulting position FROM THE MOVER's view
        (a capture of the strong piece → KK → (0, None); mate → (1, 1))."""
        state = self._state(board)
        if state is None:
            return {move: (0, None) for move in board.legal_moves}
        stm, wk, p, bk, mirrored = state
        self._value(stm * HALF + wk * 4096 + p * 64 + bk)  # refuses an illegal board
        flip = 56 if mirrored else 0
        values: dict[chess.Move, tuple[int, int | None]] = {}
        for frm, to, promotion, index in self._moves(stm, wk, p, bk):
            wdl, dtm = (0, None) if index < 0 else self._value(index)
            move = chess.Move(frm ^ flip, to ^ flip, promotion or None)
            values[move] = (-wdl, None if dtm is None else dtm + 1)
        return values

    def best_moves(self, board: chess.Board) -> list[chess.Move]:
        """The DTM-optimal moves: winning side = fastest mate; losing side = longest
        resistance; drawn position = moves that keep the draw."""
        state = self._state(board)
        if state is None:
            return list(board.legal_moves)
        stm, wk, p, bk, mirrored = state
        self._value(stm * HALF + wk * 4096 + p * 64 + bk)  # refuses an illegal board
        # Straight from the successors' raw entries: this runs once per agent step.
        table = self._dtm
        scored = [
            (_mover_score(DRAW if index < 0 else table[index]), frm, to, promotion)
            for frm, to, promotion, index in self._moves(stm, wk, p, bk)
        ]
        if not scored:
            return []
        best, flip = max(scored)[0], 56 if mirrored else 0
        return [
            chess.Move(frm ^ flip, to ^ flip, promotion or None)
            for score, frm, to, promotion in scored
            if score == best
        ]


def _mover_score(successor: int) -> int:
    """How much the mover likes a successor's raw entry: faster wins, draws, slower losses."""
    if successor == DRAW:
        return 0
    if successor % 2 == 0:  # the opponent is mated in that many plies
        return 1000 - successor
    return successor - 1000


def _cache_dir(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get("INCENTIVES_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "incentives"
    return base / "tablebase"


def _load(path: Path) -> np.ndarray | None:
    """The saved table at ``path``, or None if it is missing, stale or corrupt."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            version, dtm = int(saved["version"]), saved["dtm"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    except Exception:  # zipfile.BadZipFile and friends from a truncated file
        return None
    if version != FORMAT_VERSION or dtm.shape != (2 * HALF,) or dtm.dtype != np.int8:
        return None
    return dtm


def _save(path: Path, dtm: np.ndarray) -> None:
    """Write atomically: parallel processes building the same table never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, version=np.int64(FORMAT_VERSION), dtm=dtm)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_TABLES: dict[tuple[str, Path], Tablebase] = {}
_LOCK = threading.RLock()  # KPK loads KQK and KRK while holding it


def tablebase(material: str, cache_dir: str | Path | None = None) -> Tablebase:
    """The table of ``material`` ("KQK", "KRK" or "KPK"): loaded from the on-disk cache or
    built (and saved); memoised per process. The cache is ``cache_dir``, else
    ``$INCENTIVES_CACHE/tablebase``, else ``~/.cache/incentives/tablebase``. KPK loads (or
    builds) KQK and KRK first: its promotions lead there."""
    _piece_of(material)
    path = _cache_dir(cache_dir).expanduser().resolve() / f"{material}.npz"
    with _LOCK:
        key = (material, path)
        if key not in _TABLES:
            promotions = None
            if MATERIALS[material] == chess.PAWN:
                promotions = {
                    other: tablebase(other, cache_dir).dtm
                    for other in MATERIALS
                    if other != material
                }
            dtm = _load(path)
            if dtm is None:
                dtm = build_dtm(material, promotions)
                _save(path, dtm)
            _TABLES[key] = Tablebase(material, dtm, promotions)
        return _TABLES[key]
