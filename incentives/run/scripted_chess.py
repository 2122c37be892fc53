"""What a chess scheme pays for scripted behaviours, played through the real env.

Chess schemes have no closed form, so the incentive analysis plays fixed behaviours (no
learning) through ``incentives/Chess-v0`` wrapped in the scheme, and reports what each
earned: a user sees what a scheme rewards before spending compute on it. The behaviours:

- ``mate_fast``: Stockfish's move at a fixed depth (mates as soon as it can);
- ``mate_slowly``: safe quiet moves (no check, no capture offered) for ``SLOW_MOVES``
  moves, then Stockfish;
- ``checks_never_mate``: a safe check whenever there is one, never a mating move;
- ``material_then_repeat``: take any safe capture, otherwise steer back to a position
  already seen (threefold repetition), never a mating move;
- ``stalemate``: a stalemating move when there is one, otherwise the safe move that
  leaves the defender's king the fewest moves, never a mating move;
- ``random``: a uniformly random legal move (the baseline).

"Safe" means no reply of the opponent captures anything. The scheme's explicit return,
its terms, the env's task score and how each game ended are recorded per game.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import chess
import chess.engine
import gymnasium as gym
import numpy as np
from gymnasium.wrappers import RecordEpisodeStatistics

import envs  # noqa: F401 - registers incentives/Chess-v0
from envs.chess import encode_move
from envs.chess.engine import start_engine
from incentives.registry import make

__all__ = [
    "BEHAVIOURS",
    "SLOW_MOVES",
    "BehaviourPay",
    "Game",
    "pay_table",
    "play_behaviour",
]

#: Quiet moves ``mate_slowly`` plays before it starts mating.
SLOW_MOVES = 20
#: Stockfish's search depth for the mating moves.
ENGINE_DEPTH = 10

Chooser = Callable[[chess.Board, np.random.Generator, "chess.engine.SimpleEngine", int], chess.Move]


@dataclass(frozen=True)
class _After:
    """What a candidate move leads to."""

    move: chess.Move
    mate: bool
    stalemate: bool
    check: bool
    safe: bool
    seen: int  # times the resulting position occurred before
    capture: int  # value captured (pawn 1 ... queen 9)
    defender_moves: int


_VALUES = {chess.PAWN: 1, chess.KNIGHT: 3, chess.BISHOP: 3, chess.ROOK: 5, chess.QUEEN: 9}


def _after(board: chess.Board, move: chess.Move) -> _After:
    captured = board.piece_at(move.to_square)
    value = _VALUES.get(captured.piece_type, 0) if captured else 0
    board.push(move)
    try:
        replies = list(board.legal_moves)
        safe = not any(board.is_capture(r) for r in replies)
        seen = 2 if board.is_repetition(3) else 1 if board.is_repetition(2) else 0
        return _After(
            move,
            board.is_checkmate(),
            board.is_stalemate(),
            board.is_check(),
            safe,
            seen,
            value,
            len(replies),
        )
    finally:
        board.pop()


def _candidates(board: chess.Board) -> list[_After]:
    return [_after(board, m) for m in board.legal_moves]


def _pick(rng: np.random.Generator, options: Sequence[_After]) -> chess.Move:
    return options[int(rng.integers(len(options)))].move


def _engine_move(board: chess.Board, engine: chess.engine.SimpleEngine) -> chess.Move:
    move = engine.play(board, chess.engine.Limit(depth=ENGINE_DEPTH)).move
    assert move is not None  # the engine always answers a position with legal moves
    return move


def _first(rng: np.random.Generator, *tiers: Sequence[_After]) -> chess.Move:
    """A random move of the first non-empty tier."""
    for tier in tiers:
        if tier:
            return _pick(rng, tier)
    raise AssertionError("no tier has a move: the last tier must be every legal move")


def mate_fast(board: chess.Board, rng: np.random.Generator, engine: Any, moves: int) -> chess.Move:
    """Stockfish's move: mate as soon as possible."""
    return _engine_move(board, engine)


def mate_slowly(
    board: chess.Board, rng: np.random.Generator, engine: Any, moves: int
) -> chess.Move:
    """Quiet safe moves for ``SLOW_MOVES`` moves, then Stockfish's."""
    if moves >= SLOW_MOVES:
        return _engine_move(board, engine)
    options = _candidates(board)
    calm = [o for o in options if o.safe and not (o.mate or o.stalemate or o.check)]
    return _first(rng, [o for o in calm if o.seen == 0], calm, [o for o in options if o.safe],
                  options)  # fmt: skip


def checks_never_mate(
    board: chess.Board, rng: np.random.Generator, engine: Any, moves: int
) -> chess.Move:
    """A safe check that does not mate whenever there is one; never mate."""
    options = _candidates(board)
    allowed = [o for o in options if o.safe and not (o.mate or o.stalemate)]
    checks = [o for o in allowed if o.check]
    return _first(rng, [o for o in checks if o.seen == 0], checks, allowed,
                  [o for o in options if not o.mate], options)  # fmt: skip


def material_then_repeat(
    board: chess.Board, rng: np.random.Generator, engine: Any, moves: int
) -> chess.Move:
    """Take a safe capture if there is one, else go back to a position already seen."""
    options = _candidates(board)
    allowed = [o for o in options if o.safe and not (o.mate or o.stalemate)]
    captures = [o for o in allowed if o.capture > 0]
    if captures:
        best = max(o.capture for o in captures)
        return _pick(rng, [o for o in captures if o.capture == best])
    most = max((o.seen for o in allowed), default=0)
    return _first(rng, [o for o in allowed if o.seen == most], [o for o in options if not o.mate],
                  options)  # fmt: skip


def stalemate(board: chess.Board, rng: np.random.Generator, engine: Any, moves: int) -> chess.Move:
    """Stalemate when possible, else box the king in (fewest replies); never mate."""
    options = _candidates(board)
    stalemating = [o for o in options if o.stalemate]
    allowed = [o for o in options if o.safe and not o.mate]
    fewest = min((o.defender_moves for o in allowed), default=0)
    return _first(rng, stalemating, [o for o in allowed if o.defender_moves == fewest],
                  [o for o in options if not o.mate], options)  # fmt: skip


def random_move(
    board: chess.Board, rng: np.random.Generator, engine: Any, moves: int
) -> chess.Move:
    """A uniformly random legal move."""
    return _pick(rng, _candidates(board))


#: The scripted behaviours by name, in the order of the table.
BEHAVIOURS: dict[str, Chooser] = {
    "mate_fast": mate_fast,
    "mate_slowly": mate_slowly,
    "checks_never_mate": checks_never_mate,
    "material_then_repeat": material_then_repeat,
    "stalemate": stalemate,
    "random": random_move,
}


@dataclass(frozen=True)
class Game:
    """One scripted game: what the scheme paid, the task score, how it ended."""

    explicit_return: float
    terms: dict[str, float]
    task_score: float
    outcome: str
    termination: str
    plies: int
    checks: int
    pgn: str


@dataclass(frozen=True)
class BehaviourPay:
    """A behaviour's games under one scheme, and their averages."""

    behaviour: str
    games: list[Game] = field(default_factory=list)

    def mean(self, attribute: str) -> float:
        """The mean of a numeric attribute of the games."""
        return float(np.mean([getattr(g, attribute) for g in self.games]))

    def std(self) -> float:
        """The standard deviation of the explicit return over the games."""
        values = [g.explicit_return for g in self.games]
        return statistics.pstdev(values) if len(values) > 1 else 0.0

    def terms(self) -> dict[str, float]:
        """Each term's mean per game."""
        sums: dict[str, float] = defaultdict(float)
        for game in self.games:
            for name, value in game.terms.items():
                sums[name] += value
        return {k: v / len(self.games) for k, v in sorted(sums.items())}

    def endings(self) -> Counter[str]:
        """How many games ended by each termination."""
        return Counter(g.termination for g in self.games)


def play_behaviour(
    behaviour: str,
    scheme: str,
    params: Mapping[str, Any],
    env_kwargs: Mapping[str, Any],
    games: int,
    seed: int,
    engine: chess.engine.SimpleEngine,
) -> BehaviourPay:
    """Play ``games`` games of ``behaviour`` under ``scheme`` through the real env."""
    choose = BEHAVIOURS[behaviour]
    kwargs = {**env_kwargs, "illegal_action": "raise"}
    base = RecordEpisodeStatistics(
        gym.make("incentives/Chess-v0", **kwargs), stats_key="task_score"
    )
    env = make(scheme, base, **params)
    rng = np.random.default_rng(seed)
    result = BehaviourPay(behaviour)
    try:
        for k in range(games):
            env.reset(seed=seed + k)
            board: chess.Board = env.unwrapped.board
            total, moves = 0.0, 0
            terms: dict[str, float] = defaultdict(float)
            while True:
                move = choose(board, rng, engine, moves)
                _, reward, terminated, truncated, info = env.step(encode_move(board, move))
                moves += 1
                total += float(reward)
                for name, value in info["incentive"]["terms"].items():
                    terms[name] += value
                if terminated or truncated:
                    break
            result.games.append(
                Game(
                    explicit_return=total,
                    terms=dict(terms),
                    task_score=float(info["task_score"]["r"]),
                    outcome=info["outcome"],
                    termination=info["termination"],
                    plies=int(info["ply"]),
                    checks=int(info["checks_given"]),
                    pgn=info["pgn"],
                )
            )
    finally:
        env.close()
    return result


def pay_table(
    scheme: str,
    params: Mapping[str, Any],
    env_kwargs: Mapping[str, Any],
    games: int = 20,
    seed: int = 0,
    behaviours: Sequence[str] | None = None,
) -> list[BehaviourPay]:
    """Each scripted behaviour's games under ``scheme`` (Stockfish plays the mates)."""
    engine = start_engine(options={"Threads": 1})
    try:
        return [
            play_behaviour(b, scheme, params, env_kwargs, games, seed, engine)
            for b in (behaviours or BEHAVIOURS)
        ]
    finally:
        engine.quit()
