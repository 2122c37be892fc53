"""Opponents: who moves for the other side inside ``ChessEnv.step``.

An opponent is anything with ``name``, ``reset(rng)``, ``choose(board, moves)`` and
``close()`` (the ``Opponent`` protocol). Configs ask for one by name. Built in:
``random``, ``greedy``, ``stockfish`` and ``tablebase`` (perfect play in the 3-piece
endings, from our own tablebase); others are declared by packages as entry points
of the group ``incentives.opponents`` (ours: ``policy``, a saved agent, and ``pool``,
self-play's snapshots, both in ``incentives.domains.chess.selfplay``)::

    [project.entry-points."incentives.opponents"]
    policy = "incentives.domains.chess.selfplay:PolicyOpponent"

and are imported the first time their name is asked for, in whichever process asks (a
subprocess vector env's worker as well). A name of the form ``"module:attribute"`` names
an opponent without declaring it, and ``register_opponent`` adds one by hand (in a
notebook, say). This package imports none of those: the envs need nothing but chess.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol, runtime_checkable

import chess
import chess.engine
import numpy as np

from envs.chess.engine import EngineStoppedError, find_stockfish, start_engine
from envs.chess.material import PIECE_VALUES, capture_value

__all__ = [
    "OPPONENT_GROUP",
    "GreedyOpponent",
    "Opponent",
    "RandomOpponent",
    "StockfishOpponent",
    "TablebaseOpponent",
    "make_opponent",
    "opponent_factory",
    "opponents",
    "register_opponent",
]

#: The entry point group where packages declare opponents: ``name = "module:attribute"``.
OPPONENT_GROUP = "incentives.opponents"


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

    def get_state(self, env_rng: np.random.Generator) -> dict[str, Any]:
        """The generator's state, or None where it is the env's ``env_rng`` (after a
        ``reset``): the env keeps that one. For an exact resume (``ChessEnv.get_state``)."""
        return {"rng": None if self.rng is env_rng else self.rng.bit_generator.state}

    def set_state(self, state: Mapping[str, Any], env_rng: np.random.Generator) -> None:
        """Continue from a ``get_state``: draw from ``env_rng`` again, or from a generator
        put back in the state it had."""
        if state["rng"] is None:
            self.rng = env_rng
        else:
            self.rng = np.random.default_rng()
            self.rng.bit_generator.state = state["rng"]

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
        self.engine = start_engine(self.path, self.options)
        return self.engine

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


class TablebaseOpponent(RandomOpponent):
    """Perfect play in the endings our tablebase holds (``envs.chess.tablebase``): one of
    the distance-to-mate optimal moves, ties broken at random. As the bare king's side it
    is the strongest defender (the longest resistance); as the strong side, the teacher.

    A position whose material the tablebase does not hold is a ``ValueError`` naming it.
    """

    name = "tablebase"

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """A random one among the tablebase's best moves (any move once only kings are left)."""
        from envs.chess.tablebase import material_of, tablebase

        material = material_of(board)
        if material == "KK":
            return moves[self.rng.integers(len(moves))]
        if material is None:
            raise ValueError(f"tablebase opponent: no table for {board.fen()!r}")
        best = tablebase(material).best_moves(board)
        return best[self.rng.integers(len(best))]


_OPPONENTS: dict[str, Callable[..., Opponent]] = {
    "random": RandomOpponent,
    "greedy": GreedyOpponent,
    "stockfish": StockfishOpponent,
    "tablebase": TablebaseOpponent,
}


@cache
def _declared() -> dict[str, EntryPoint]:
    """The installed packages' opponents by name; a name two packages declare differently
    is an error naming both."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=OPPONENT_GROUP):
        other = found.get(point.name)
        if other is not None and other.value != point.value:
            raise ValueError(
                f"{OPPONENT_GROUP}: the name {point.name!r} is declared twice ({other.value} "
                f"and {point.value}); accepted: one package per name"
            )
        found[point.name] = point
    return found


def register_opponent(name: str, factory: Callable[..., Opponent]) -> None:
    """Make ``factory(**options)`` available as opponent ``name`` in this process.

    Subprocess workers do not see it; declare an entry point (or name the factory as
    ``"module:attribute"``) for an opponent they must build.
    """
    _OPPONENTS[name] = factory


def opponents() -> list[str]:
    """The names of the built-in, registered and declared opponents."""
    return sorted({*_OPPONENTS, *_declared()})


def opponent_factory(name: str) -> Callable[..., Opponent]:
    """What builds opponent ``name``: a known name's factory (a declared one imported now)
    or the object a ``"module:attribute"`` reference names.

    Raises:
        ValueError: an unknown name, or a reference to a module or attribute that does not
            exist; the message lists the names accepted.

    Example:
        >>> opponent_factory("greedy").__name__
        'GreedyOpponent'
        >>> opponent_factory("envs.chess.opponents:RandomOpponent").__name__
        'RandomOpponent'
    """
    factory = _OPPONENTS.get(name)
    if factory is not None:
        return factory
    point = _declared().get(name)
    if point is not None:
        factory = point.load()
        _OPPONENTS[name] = factory
        return factory
    accepted = f"{', '.join(opponents())}, or 'package.module:attribute'"
    module_name, colon, attribute = name.partition(":")
    if not colon:
        raise ValueError(f"unknown opponent {name!r}; accepted: {accepted}")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only the module named is the user's to fix; a module it imports that is
        # missing is a broken install, and keeps its traceback.
        if error.name is None or not f"{module_name}.".startswith(f"{error.name}."):
            raise
        raise ValueError(
            f"opponent {name!r}: no module {module_name!r}; accepted: {accepted}"
        ) from None
    except (TypeError, ValueError):  # an empty or relative module name
        raise ValueError(f"opponent {name!r}; accepted: {accepted}") from None
    for part in attribute.split("."):
        if not part or not hasattr(target, part):
            raise ValueError(
                f"opponent {name!r}: {module_name} has no {attribute!r}; accepted: {accepted}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"opponent {name!r} is not callable; accepted: {accepted}")
    return target


def make_opponent(spec: str | Mapping[str, Any] | Opponent) -> Opponent:
    """An opponent from a name, a mapping ``{"name": ..., **options}``, or an instance.

    A name is any of ``opponents()`` or a ``"module:attribute"`` reference.
    """
    if isinstance(spec, Opponent) and not isinstance(spec, (str, Mapping)):
        return spec
    options = {"name": spec} if isinstance(spec, str) else dict(spec)
    return opponent_factory(str(options.pop("name", "")))(**options)
