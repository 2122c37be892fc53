"""Tests of finding and starting Stockfish (``envs.chess.engine``), the one place that does.

Stockfish is required (Debian's ``stockfish`` package, as in CI): without it these tests
fail, they do not skip.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import chess
import chess.engine
import pytest

from envs.chess import EngineNotFoundError, find_stockfish, start_engine
from envs.chess.engine import DEBIAN_STOCKFISH


def test_find_stockfish() -> None:
    path = find_stockfish()
    assert os.access(path, os.X_OK)
    assert path in (shutil.which("stockfish"), DEBIAN_STOCKFISH)


def test_find_stockfish_falls_back_to_debian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_stockfish() == DEBIAN_STOCKFISH


def test_no_stockfish_anywhere_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("envs.chess.engine.DEBIAN_STOCKFISH", "/nonexistent/stockfish")
    with pytest.raises(EngineNotFoundError, match="apt-get install stockfish"):
        find_stockfish()
    with pytest.raises(EngineNotFoundError):
        start_engine()


def test_start_engine_runs_the_binary_with_its_options() -> None:
    engine = start_engine(find_stockfish(), {"Skill Level": 3, "Threads": 1})
    try:
        assert engine.protocol.config["Skill Level"] == 3  # type: ignore[attr-defined]
        move = engine.play(chess.Board(), chess.engine.Limit(depth=1)).move
        assert move is not None and chess.Board().is_legal(move)
    finally:
        engine.quit()


def test_start_engine_refuses_a_path_that_is_no_program(tmp_path: Path) -> None:
    with pytest.raises(EngineNotFoundError, match="not an executable file"):
        start_engine(str(tmp_path / "stockfish"))


def test_an_option_the_engine_lacks_leaves_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[chess.engine.SimpleEngine] = []
    popen = chess.engine.SimpleEngine.popen_uci

    def remember(*args: object, **kwargs: object) -> chess.engine.SimpleEngine:
        started.append(popen(*args, **kwargs))  # type: ignore[arg-type]
        return started[-1]

    monkeypatch.setattr(chess.engine.SimpleEngine, "popen_uci", remember)
    with pytest.raises(chess.engine.EngineError, match="No Such Option"):
        start_engine(options={"No Such Option": 1})
    assert len(started) == 1
    deadline = time.monotonic() + 10
    while not started[0].protocol.returncode.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started[0].protocol.returncode.done()  # the process was stopped
