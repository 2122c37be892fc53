"""Tests of the KQK/KRK tablebases (``envs.chess.tablebase``) against independent sources.

Expected values come from python-chess's move generator and game-end rules, from the
published longest mates (KQK: mate in 10 moves, KRK: mate in 16, the strong side to move)
and from Stockfish; never from the table itself. The tables are built once per session
into a temporary cache.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import chess
import chess.engine
import numpy as np
import pytest

from envs.chess.tablebase import HALF, Tablebase, material_of, tablebase

# The package exports the function ``tablebase``, which hides the module of that name.
tb_module = importlib.import_module("envs.chess.tablebase")

STOCKFISH = "/usr/games/stockfish"
PIECES = {"KQK": chess.QUEEN, "KRK": chess.ROOK, "KPK": chess.PAWN}
#: Published: the longest forced mates with the strong side to move, in moves; a mate in
#: m moves by the side to move is 2m - 1 plies.
LONGEST_MATE_MOVES = {"KQK": 10, "KRK": 16, "KPK": 28}


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tablebase")


@pytest.fixture(scope="session")
def tables(cache: Path) -> dict[str, Tablebase]:
    return {material: tablebase(material, cache) for material in PIECES}


def random_boards(material: str, n: int, seed: int) -> list[chess.Board]:
    """``n`` legal boards of ``material``, either colour strong, either side to move."""
    rng = np.random.default_rng(seed)
    boards: list[chess.Board] = []
    while len(boards) < n:
        squares = rng.choice(64, size=3, replace=False)
        strong = bool(rng.integers(2))
        board = chess.Board(None)
        board.set_piece_at(int(squares[0]), chess.Piece(chess.KING, strong))
        board.set_piece_at(int(squares[1]), chess.Piece(PIECES[material], strong))
        board.set_piece_at(int(squares[2]), chess.Piece(chess.KING, not strong))
        board.turn = bool(rng.integers(2))
        if board.is_valid():
            boards.append(board)
    return boards


def mover_value(
    board: chess.Board, tables: dict[str, Tablebase], move: chess.Move
) -> tuple[int, int | None]:
    """The value of ``move`` for the mover, from python-chess's push and a probe of the table
    of the new material (KQK or KRK after a promotion; bare kings or a minor piece: a draw)."""
    board.push(move)
    try:
        material = material_of(board)
        if material in ("KK", "KBK", "KNK"):
            return 0, None
        assert material is not None
        wdl, dtm = tables[material].probe(board)
    finally:
        board.pop()
    return -wdl, None if dtm is None else dtm + 1


def rank(value: tuple[int, int | None]) -> tuple[int, int]:
    """Faster wins, then draws, then slower losses: how a player picks among moves."""
    wdl, dtm = value
    if wdl > 0:
        assert dtm is not None
        return (2, -dtm)
    if wdl < 0:
        assert dtm is not None
        return (0, dtm)
    return (1, 0)


@pytest.mark.parametrize("material", list(PIECES))
def test_agrees_with_python_chess_and_the_bellman_equation(
    tables: dict[str, Tablebase], material: str
) -> None:
    tb = tables[material]
    for board in random_boards(material, 800, seed=len(material) + PIECES[material]):
        value = tb.probe(board)
        legal = list(board.legal_moves)
        values = tb.move_values(board)
        assert set(values) == set(legal), board.fen()
        if board.is_checkmate():
            assert value == (-1, 0), board.fen()
            continue
        if board.is_stalemate():
            assert value == (0, None), board.fen()
            continue
        assert value != (-1, 0), board.fen()
        successors = {move: mover_value(board, tables, move) for move in legal}
        assert values == successors, board.fen()
        best = max(rank(v) for v in successors.values())
        expected = next(v for v in successors.values() if rank(v) == best)
        assert value == expected, board.fen()
        optimal = {move for move, v in successors.items() if rank(v) == best}
        assert set(tb.best_moves(board)) == optimal, board.fen()
        assert tb.probe(board.mirror()) == value  # python-chess's own colour mirror
        if material == "KPK":
            continue
        # The strong side always wins; the weak side draws exactly when it can take the
        # undefended piece (stalemates were handled above), else it loses.
        strong_to_move = bool(board.pieces(PIECES[material], board.turn))
        can_capture = any(board.is_capture(move) for move in legal)
        assert value[0] == (1 if strong_to_move else 0 if can_capture else -1), board.fen()


@pytest.mark.parametrize("material", list(PIECES))
def test_longest_mates_are_the_published_ones(tables: dict[str, Tablebase], material: str) -> None:
    strong_to_move = tables[material].dtm[:HALF]
    assert strong_to_move.max() == 2 * LONGEST_MATE_MOVES[material] - 1
    if material != "KPK":  # every legal position is a win for the strong side
        assert not (strong_to_move == -1).any()


def stockfish_score(engine: chess.engine.SimpleEngine, board: chess.Board) -> chess.engine.Score:
    # A fixed node count on one thread makes the search, and so the test, deterministic.
    info = engine.analyse(board, chess.engine.Limit(nodes=50_000))
    return info["score"].pov(board.turn)


def test_stockfish_agrees(tables: dict[str, Tablebase]) -> None:
    if not os.access(STOCKFISH, os.X_OK):
        pytest.skip(f"Stockfish is not installed at {STOCKFISH} (apt-get install stockfish)")
    engine = chess.engine.SimpleEngine.popen_uci(STOCKFISH)
    mates = short = 0
    try:
        engine.configure({"Threads": 1, "Hash": 16})
        for material in ("KQK", "KRK"):  # Stockfish's KPK draws score a few cp, not 0
            tb = tables[material]
            boards = [b for b in random_boards(material, 40, seed=7) if not b.is_game_over()]
            for board in boards[:10]:
                wdl, dtm = tb.probe(board)
                score = stockfish_score(engine, board)
                mate = score.mate()
                if wdl == 0:
                    # A draw scores about 0 (a shallow search may leave a centipawn or two).
                    cp = score.score()
                    assert cp is not None and abs(cp) <= 10, board.fen()
                    continue
                if mate is None:  # no mate found within the limit: the sign must still agree
                    cp = score.score()
                    assert cp is not None and (cp > 0) == (wdl > 0), board.fen()
                    continue
                assert dtm is not None and (mate > 0) == (wdl > 0), board.fen()
                mates += 1
                our_moves = (dtm + 1) // 2  # plies to moves of the side to move
                # Stockfish's mates are the first it finds, often longer than the shortest;
                # none can be shorter, and short ones it finds exactly.
                assert abs(mate) >= our_moves, board.fen()
                if our_moves <= 3:
                    assert abs(mate) == our_moves, board.fen()
                    short += 1
    finally:
        engine.quit()
    assert mates >= 8 and short >= 3, (mates, short)


def test_material_signatures() -> None:
    assert material_of(chess.Board("8/8/8/3k4/8/8/1r6/4K3 w - - 0 1")) == "KRK"
    assert material_of(chess.Board("8/8/8/3k4/8/8/8/4K3 w - - 0 1")) == "KK"
    assert material_of(chess.Board("8/8/8/3k4/8/8/1P6/4K3 w - - 0 1")) == "KPK"
    assert material_of(chess.Board("8/2r5/8/3k4/8/8/1Q6/4K3 w - - 0 1")) == "KQKR"
    assert material_of(chess.Board("8/8/8/8/8/8/8/4K3 w - - 0 1")) is None
    assert material_of(chess.Board()) == "KQRRBBNNPPPPPPPPKQRRBBNNPPPPPPPP"


def test_bare_kings_are_a_draw_and_other_material_is_refused(
    tables: dict[str, Tablebase],
) -> None:
    tb = tables["KQK"]
    kk = chess.Board("8/8/8/3k4/8/8/8/4K3 b - - 0 1")
    assert tb.probe(kk) == (0, None)
    assert tb.move_values(kk) == dict.fromkeys(kk.legal_moves, (0, None))
    with pytest.raises(ValueError, match=r"'KRK'.*'KQK'"):
        tb.probe(chess.Board("8/8/8/3k4/8/8/1R6/4K3 w - - 0 1"))
    with pytest.raises(ValueError, match=r"'KBK'.*accepted: KQK, KRK, KPK"):
        tablebase("KBK")
    with pytest.raises(ValueError, match="not a legal position"):
        tb.probe(chess.Board("3k4/8/8/8/8/8/3Q4/4K3 w - - 0 1"))  # Black in check, White to move


def test_captures_and_mates_from_the_movers_view(tables: dict[str, Tablebase]) -> None:
    tb = tables["KQK"]
    # Black to move can take the undefended queen: a draw, and the only move that holds it.
    board = chess.Board("8/8/8/8/8/2k5/2Q5/6K1 b - - 0 1")
    take = chess.Move.from_uci("c3c2")
    assert tb.probe(board) == (0, None)
    assert tb.move_values(board)[take] == (0, None)
    assert tb.best_moves(board) == [take]
    # Strong side Black: Qb1-b8 mirrored is ...Qb8-b1#.
    board = chess.Board("1q6/8/8/8/8/6k1/8/7K b - - 0 1")
    mate = chess.Move.from_uci("b8b1")
    assert tb.move_values(board)[mate] == (1, 1)
    assert tb.best_moves(board) == [mate] and tb.probe(board) == (1, 1)


def test_cache_is_reused_and_a_stale_or_corrupt_file_rebuilt(
    tables: dict[str, Tablebase], cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = cache / "KRK.npz"
    monkeypatch.setattr(tb_module, "_TABLES", {})

    def no_build(material: str, promotions: object = None) -> np.ndarray:
        raise AssertionError(f"{material} was rebuilt although the cache holds it")

    built: list[str] = []

    def known_build(material: str, promotions: object = None) -> np.ndarray:
        # Records the rebuild and skips recomputing the table the fixture already built.
        built.append(material)
        return tables[material].dtm.copy()

    with monkeypatch.context() as patch:
        patch.setattr(tb_module, "build_dtm", no_build)
        loaded = tablebase("KRK", path.parent)
    assert np.array_equal(loaded.dtm, tables["KRK"].dtm)
    assert tablebase("KRK", path.parent) is loaded  # memoised

    stale = tmp_path / "stale.npz"
    np.savez_compressed(stale, version=np.int64(0), dtm=tables["KRK"].dtm)
    assert tb_module._load(stale) is None
    corrupt = tmp_path / "KRK.npz"
    corrupt.write_bytes(path.read_bytes()[:1000])
    assert tb_module._load(corrupt) is None
    monkeypatch.setattr(tb_module, "build_dtm", known_build)
    rebuilt = tablebase("KRK", tmp_path)
    assert built == ["KRK"]
    assert np.array_equal(rebuilt.dtm, tables["KRK"].dtm)
    assert np.array_equal(tb_module._load(corrupt), tables["KRK"].dtm)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_default_cache_dir_follows_incentives_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCENTIVES_CACHE", str(tmp_path))
    assert tb_module._cache_dir(None) == tmp_path / "tablebase"
    monkeypatch.delenv("INCENTIVES_CACHE")
    assert tb_module._cache_dir(None) == Path.home() / ".cache" / "incentives" / "tablebase"
