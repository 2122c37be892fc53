"""Stockfish: where the binary is and how a UCI engine process is started.

Everything of ours that asks Stockfish (the ``stockfish`` opponent, the engine-teacher
scheme, the ladder's move quality) finds and starts it here, so the search order and the
error a user sees when it is missing are the same everywhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import chess.engine

__all__ = [
    "DEBIAN_STOCKFISH",
    "EngineNotFoundError",
    "EngineStoppedError",
    "find_stockfish",
    "start_engine",
]

#: Where Debian's ``stockfish`` package installs the engine (not on PATH).
DEBIAN_STOCKFISH = "/usr/games/stockfish"


class EngineNotFoundError(FileNotFoundError):
    """No Stockfish binary where one was looked for."""


class EngineStoppedError(ChildProcessError):
    """The engine process died again after one restart (an ``OSError``: a failing program
    the user configured, not a bug)."""


def find_stockfish(path: str | None = None) -> str:
    """The Stockfish binary: ``path`` if given, else ``stockfish`` on PATH, else Debian's.

    Raises:
        EngineNotFoundError: ``path`` is not an executable file, or no binary was found.
    """
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise EngineNotFoundError(
                f"stockfish path {path!r} is not an executable file; accepted: the path of "
                "a Stockfish binary (Debian: apt-get install stockfish)"
            )
        return path
    found = shutil.which("stockfish")
    if found:
        return found
    if os.access(DEBIAN_STOCKFISH, os.X_OK):
        return DEBIAN_STOCKFISH
    raise EngineNotFoundError(
        f"no Stockfish binary: not on PATH, not at {DEBIAN_STOCKFISH}; install it "
        "(apt-get install stockfish) or give its path"
    )


def start_engine(
    path: str | None = None, options: Mapping[str, Any] | None = None
) -> chess.engine.SimpleEngine:
    """A running UCI engine: the binary ``find_stockfish(path)`` names, configured with
    ``options`` (UCI option values by name). The caller quits it.

    Example:
        >>> engine = start_engine(options={"Threads": 1})
        >>> engine.play(chess.Board(), chess.engine.Limit(depth=1)).move is not None
        True
        >>> engine.quit()
    """
    engine = chess.engine.SimpleEngine.popen_uci(find_stockfish(path))
    if options:
        try:
            engine.configure(dict(options))
        except BaseException:
            engine.close()  # an option refused: no process left behind
            raise
    return engine
