"""Opponents: who moves for the other side inside ``ChessEnv.step``.

An opponent is anything with ``name``, ``reset(rng)``, ``choose(board, moves)`` and
``close()`` (the ``Opponent`` protocol); ``register_opponent`` adds one by name so that
configs can ask for it. Built in: ``random``, ``greedy``, ``stockfish`` and ``policy``.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import chess
import chess.engine
import numpy as np

from envs.chess.actions import legal_actions
from envs.chess.material import PIECE_VALUES, capture_value
from envs.chess.observation import board_planes

__all__ = [
    "DEBIAN_STOCKFISH",
    "EngineNotFoundError",
    "EngineStoppedError",
    "GreedyOpponent",
    "Opponent",
    "PolicyOpponent",
    "RandomOpponent",
    "StockfishOpponent",
    "find_stockfish",
    "make_opponent",
    "opponents",
    "register_opponent",
]

#: Where Debian's ``stockfish`` package installs the engine (not on PATH).
DEBIAN_STOCKFISH = "/usr/games/stockfish"


@runtime_checkable
class Opponent(Protocol):
    """Chooses the other side's moves."""

    name: str

    def reset(self, rng: np.random.Generator) -> None:
        """Start a new game; ``rng`` is the env's generator, for reproducible choices."""

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """One of ``moves`` (the legal moves of ``board``, never empty)."""

    def close(self) -> None:
        """Release what the opponent holds (an engine process, a model)."""


class RandomOpponent:
    """Plays a uniformly random legal move."""

    name = "random"

    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def reset(self, rng: np.random.Generator) -> None:
        """Use the env's generator."""
        self.rng = rng

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """A uniformly random one of ``moves``."""
        return moves[self.rng.integers(len(moves))]

    def close(self) -> None:
        """Nothing to release."""


class GreedyOpponent(RandomOpponent):
    """Plays the move with the best one-ply material outcome, ties broken at random.

    The outcome of a move is the value it captures plus what a promotion adds.
    """

    name = "greedy"

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """A random one among the moves that win the most material at once."""
        gains = [
            capture_value(board, m) + (PIECE_VALUES[m.promotion] - 1 if m.promotion else 0)
            for m in moves
        ]
        best = max(gains)
        ties = [m for m, g in zip(moves, gains, strict=True) if g == best]
        return ties[self.rng.integers(len(ties))]


class EngineNotFoundError(FileNotFoundError):
    """No Stockfish binary where one was looked for."""


class EngineStoppedError(ChildProcessError):
    """The engine process died again after one restart (an ``OSError``: a failing program
    the user configured, not a bug)."""


def find_stockfish(path: str | None = None) -> str:
    """The Stockfish binary: ``path`` if given, else ``stockfish`` on PATH, else Debian's."""
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


def _in_range(name: str, value: float | None, low: float, high: float) -> None:
    """Refuse a setting outside [low, high] with a ``ValueError`` naming it."""
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"stockfish {name}={value!r}; accepted: {low} to {high}")


class StockfishOpponent(RandomOpponent):
    """Stockfish through UCI, with a strength and an epsilon of random moves.

    Args:
        path: the binary; default ``stockfish`` on PATH, then ``/usr/games/stockfish``.
        depth: search depth per move (default 1 when ``time`` is not given either).
        time: seconds per move instead of a depth.
        skill_level: Stockfish's ``Skill Level``, 0–20.
        elo: ``UCI_Elo`` with ``UCI_LimitStrength``, 1350–2850.
        epsilon: the probability of a uniformly random legal move instead.

    The engine starts on the first move asked of it. If its process dies, it is
    restarted once and the move asked again; a second failure raises
    ``EngineStoppedError``.
    """

    name = "stockfish"

    def __init__(
        self,
        path: str | None = None,
        depth: int | None = None,
        time: float | None = None,
        skill_level: int | None = None,
        elo: int | None = None,
        epsilon: float = 0.0,
    ) -> None:
        super().__init__()
        self.path = find_stockfish(path)
        _in_range("depth", depth, 1, 100)
        _in_range("time", time, 1e-4, 3600)
        _in_range("skill_level", skill_level, 0, 20)
        _in_range("elo", elo, 1350, 2850)
        _in_range("epsilon", epsilon, 0.0, 1.0)
        self.limit = chess.engine.Limit(
            depth=depth if depth is not None or time is not None else 1, time=time
        )
        self.options: dict[str, Any] = {}
        if skill_level is not None:
            self.options["Skill Level"] = skill_level
        if elo is not None:
            self.options.update({"UCI_LimitStrength": True, "UCI_Elo": elo})
        self.epsilon = epsilon
        self.engine: chess.engine.SimpleEngine | None = None
        self.restarts = 0

    def _start(self) -> chess.engine.SimpleEngine:
        engine = chess.engine.SimpleEngine.popen_uci(self.path)
        if self.options:
            engine.configure(self.options)
        self.engine = engine
        return engine

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """Stockfish's move, or a random one with probability ``epsilon``."""
        if self.epsilon and self.rng.random() < self.epsilon:
            return moves[self.rng.integers(len(moves))]
        try:
            return self._play(board)
        except (chess.engine.EngineError, chess.engine.EngineTerminatedError, OSError):
            self.restarts += 1
            self.close()
        try:
            return self._play(board)
        except (chess.engine.EngineError, chess.engine.EngineTerminatedError, OSError) as error:
            self.close()
            raise EngineStoppedError(
                f"Stockfish ({self.path}) stopped twice in one move at {board.fen()!r}: {error}"
            ) from error

    def _play(self, board: chess.Board) -> chess.Move:
        engine = self.engine or self._start()
        move = engine.play(board, self.limit).move
        if move is None:
            raise chess.engine.EngineError("the engine returned no move")
        return move

    def close(self) -> None:
        """Stop the engine process, if one runs."""
        if self.engine is not None:
            try:
                self.engine.quit()
            except (chess.engine.EngineError, chess.engine.EngineTerminatedError, OSError):
                pass
            except TimeoutError:  # pragma: no cover - a hung engine
                self.engine.close()
            self.engine = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["engine"] = None  # each process starts its own engine
        return state


class PolicyOpponent(RandomOpponent):
    """A saved agent (an SB3 ``.zip``; MaskablePPO or PPO) playing the other side.

    Used for self-play. The model sees the position from its own side, through the same
    planes and action layout as the learner; with a model that cannot mask, an illegal
    choice is replaced by a random legal move.
    """

    name = "policy"

    def __init__(self, path: str, deterministic: bool = False, device: str = "cpu") -> None:
        super().__init__()
        if not Path(path).is_file():
            raise FileNotFoundError(f"policy opponent: no saved agent at {path!r}")
        self.path, self.deterministic, self.device = path, deterministic, device
        self.model: Any = None
        self.maskable = False

    def _load(self) -> Any:
        from sb3_contrib import MaskablePPO
        from stable_baselines3 import PPO

        try:
            self.model = MaskablePPO.load(self.path, device=self.device)
            self.maskable = True
        except (KeyError, ValueError, TypeError):
            self.model = PPO.load(self.path, device=self.device)
            self.maskable = False
        return self.model

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """The saved agent's move."""
        model = self.model or self._load()
        by_action = legal_actions(board, moves)
        obs = board_planes(board)
        kwargs: dict[str, Any] = {"deterministic": self.deterministic}
        if self.maskable:
            mask = np.zeros(4672, dtype=bool)
            mask[list(by_action)] = True
            kwargs["action_masks"] = mask
        action, _ = model.predict(obs, **kwargs)
        move = by_action.get(int(action))
        return move if move is not None else moves[self.rng.integers(len(moves))]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["model"] = None
        return state


_OPPONENTS: dict[str, Callable[..., Opponent]] = {
    "random": RandomOpponent,
    "greedy": GreedyOpponent,
    "stockfish": StockfishOpponent,
    "policy": PolicyOpponent,
}


def register_opponent(name: str, factory: Callable[..., Opponent]) -> None:
    """Make ``factory(**options)`` available as opponent ``name``."""
    _OPPONENTS[name] = factory


def opponents() -> list[str]:
    """The names of the registered opponents."""
    return sorted(_OPPONENTS)


def make_opponent(spec: str | Mapping[str, Any] | Opponent) -> Opponent:
    """An opponent from a name, a mapping ``{"name": ..., **options}``, or an instance."""
    if isinstance(spec, Opponent) and not isinstance(spec, (str, Mapping)):
        return spec
    options = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = str(options.pop("name", ""))
    if name not in _OPPONENTS:
        raise ValueError(f"unknown opponent {name!r}; accepted: {', '.join(opponents())}")
    return _OPPONENTS[name](**options)
