"""Chess reward schemes: the sparse incentive of the talk against dense "teaching" rewards.

``SparseWin`` is Chung's example: 1 for winning, at the end, and nothing else; what it
induces (learning which moves are good) is never taught. The others teach: material
counts (``MaterialShaped``), the same hint in the policy-invariant form of Ng, Harada &
Russell (1999) (``PotentialShaped``), a bonus for checks that invites specification gaming
(``CheckBonus``), an expert's opinion of every move (``EngineTeacher``), and, in the
3-piece endings, the exact teacher of our own tablebase: a reward for playing its move
(``Imitation``, teaching as imitation) and distance-to-mate shaping on top of the win
(``DistanceToMate``).

They read the chess env's events: ``outcome`` at the end, ``material_balance`` and
``material_change``, ``gave_check``, ``learner_move`` and ``opponent_move``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from incentives.scheme import RewardScheme
from incentives.signal import ExplicitSignal, finite

__all__ = [
    "CheckBonus",
    "CheckBonusSignal",
    "DistanceToMate",
    "DistanceToMateSignal",
    "EngineTeacher",
    "EngineTeacherSignal",
    "Imitation",
    "ImitationSignal",
    "MaterialShaped",
    "MaterialShapedSignal",
    "PotentialShaped",
    "PotentialShapedSignal",
    "SparseWin",
    "SparseWinSignal",
    "WinDrawLoss",
    "WinDrawLossSignal",
    "win_probability",
]

_RESULT = {"win": 1.0, "draw": 0.0, "loss": -1.0}


class ChessSignal(ExplicitSignal):
    """A chess scheme: it needs the moves each step and the outcome at the end."""

    required_events: ClassVar[tuple[str, ...]] = ("learner_move", "material_balance")
    final_events: ClassVar[tuple[str, ...]] = ("outcome",)

    def result(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``{"result": +1 win, 0 draw, -1 loss}`` on the last step, else nothing."""
        outcome = events.get("outcome")
        return {"result": _RESULT[outcome]} if outcome else {}


def _check_shaping(signal: Any) -> None:
    """Check a potential-shaping scheme's ``gamma`` (0 < g <= 1) and ``scale`` (finite)."""
    gamma = finite(signal.name, "gamma", signal.gamma)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"{signal.name}: parameter gamma={signal.gamma!r}; accepted: 0 < g <= 1")
    object.__setattr__(signal, "gamma", gamma)
    object.__setattr__(signal, "scale", finite(signal.name, "scale", signal.scale))


@dataclass(frozen=True)
class SparseWinSignal(ChessSignal):
    """1 if the learner wins, 0 otherwise, given only at the end of the game."""

    name: ClassVar[str] = "sparse_win"
    statement: ClassVar[str] = "1 for a win at the end of the game, nothing else"
    required_events: ClassVar[tuple[str, ...]] = ("learner_move",)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``{"win": 1.0}`` on a won game's last step, ``{"win": 0.0}`` on a lost or drawn
        one's, nothing before."""
        outcome = events.get("outcome")
        return {"win": 1.0 if outcome == "win" else 0.0} if outcome else {}


@dataclass(frozen=True)
class WinDrawLossSignal(ChessSignal):
    """+1 for a win, ``draw`` for a draw, -1 for a loss, at the end."""

    draw: float = 0.0

    name: ClassVar[str] = "win_draw_loss"
    statement: ClassVar[str] = "+1 win, `draw` for a draw, -1 loss, at the end of the game"
    required_events: ClassVar[tuple[str, ...]] = ("learner_move",)

    def __post_init__(self) -> None:
        draw = finite(self.name, "draw", self.draw)
        if not -1.0 <= draw <= 1.0:
            raise ValueError(f"{self.name}: parameter draw={self.draw!r}; accepted: -1 to 1")
        object.__setattr__(self, "draw", draw)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """The result of the game on its last step."""
        outcome = events.get("outcome")
        if not outcome:
            return {}
        return {"result": self.draw if outcome == "draw" else _RESULT[outcome]}


@dataclass(frozen=True)
class MaterialShapedSignal(ChessSignal):
    """The change in material each step (pawn 1, knight and bishop 3, rook 5, queen 9),
    times ``scale``, plus the result at the end: teaching how we think we think."""

    scale: float = 0.1

    name: ClassVar[str] = "material"
    statement: ClassVar[str] = "scale x the material won or lost each step, +1/0/-1 at the end"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", finite(self.name, "scale", self.scale))

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``material`` each step and ``result`` at the end."""
        return {"material": self.scale * events.get("material_change", 0), **self.result(events)}


@dataclass(frozen=True)
class PotentialShapedSignal(ChessSignal):
    """gamma * Phi(s') - Phi(s) with Phi = ``scale`` x the material balance, plus the result.

    Potential-based shaping (Ng, Harada & Russell 1999) leaves the optimal policy of the
    sparse result unchanged when ``gamma`` is the agent's discount and Phi of the final
    position is 0, as here.
    """

    gamma: float = 0.99
    scale: float = 0.1

    name: ClassVar[str] = "potential"
    statement: ClassVar[str] = "gamma*Phi(s')-Phi(s), Phi = scale x material, +1/0/-1 at the end"

    def __post_init__(self) -> None:
        _check_shaping(self)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``shaping`` each step and ``result`` at the end."""
        after = self.scale * events["material_balance"]
        before = after - self.scale * events.get("material_change", 0)
        if events.get("outcome"):
            after = 0.0  # Phi of the final position
        return {"shaping": self.gamma * after - before, **self.result(events)}


@dataclass(frozen=True)
class CheckBonusSignal(ChessSignal):
    """``bonus`` for each check the learner gives, plus the result: a proxy that invites
    specification gaming (checks that lead nowhere)."""

    bonus: float = 0.1

    name: ClassVar[str] = "check_bonus"
    statement: ClassVar[str] = "bonus for every check given, +1/0/-1 at the end"
    required_events: ClassVar[tuple[str, ...]] = ("learner_move", "gave_check")

    def __post_init__(self) -> None:
        object.__setattr__(self, "bonus", finite(self.name, "bonus", self.bonus))

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``check`` when the learner gave one, and ``result`` at the end."""
        check = {"check": self.bonus} if events.get("gave_check") else {}
        return {**check, **self.result(events)}


def win_probability(centipawns: float) -> float:
    """The expected score of a centipawn advantage (the logistic of Lichess's model).

    Example:
        >>> win_probability(0), round(win_probability(400), 3)
        (0.5, 0.909)
    """
    return 1.0 / (1.0 + 10.0 ** (-centipawns / 400.0))


@dataclass(frozen=True)
class EngineTeacherSignal(ChessSignal):
    """An expert's opinion of every learner move: the change in Stockfish's evaluation,
    as a win probability from the learner's side, times ``scale``, plus the result.

    The engine analyses the position before and after each learner move at ``depth``
    (``path``: the binary; default as ``envs.chess.find_stockfish`` finds it).
    """

    depth: int = 8
    scale: float = 1.0
    path: str | None = None
    _engine: Any = field(default=None, init=False, repr=False, compare=False)
    _board: Any = field(default=None, init=False, repr=False, compare=False)

    name: ClassVar[str] = "engine_teacher"
    statement: ClassVar[str] = "scale x the change in Stockfish's win probability per move"
    required_events: ClassVar[tuple[str, ...]] = ("learner_move", "opponent_move")
    stateful: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"{self.name}: parameter depth={self.depth!r}; accepted: 1 to 30")
        object.__setattr__(self, "scale", finite(self.name, "scale", self.scale))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_engine": None}  # each process starts its own engine

    def reset(self, info: Mapping[str, Any]) -> None:
        """Follow the new game from the position the env reports."""
        import chess

        object.__setattr__(self, "_board", chess.Board(info["fen"]))

    def _value(self, board: Any) -> float:
        """Win probability of the side to move in ``board``, by Stockfish."""
        import chess.engine

        from envs.chess.engine import start_engine

        if self._engine is None:
            object.__setattr__(self, "_engine", start_engine(self.path))
        info = self._engine.analyse(board, chess.engine.Limit(depth=self.depth))
        score = info["score"].relative.score(mate_score=100_000)
        return win_probability(float(score))

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``teacher`` for the learner's move, and ``result`` at the end."""
        import chess

        board = self._board
        if board is None:
            raise ValueError(f"{self.name}: no game to follow; reset the env first")
        if events.get("outcome"):  # the result says it all
            return self.result(events)
        before = self._value(board)
        board.push(chess.Move.from_uci(events["learner_move"]))
        after = 1.0 - self._value(board)  # the opponent is to move: its view, turned
        if events.get("opponent_move"):
            board.push(chess.Move.from_uci(events["opponent_move"]))
        return {"teacher": self.scale * (after - before)}

    def close(self) -> None:
        """Stop the engine."""
        if self._engine is not None:
            self._engine.quit()
            object.__setattr__(self, "_engine", None)


class _FollowsGame(ChessSignal):
    """A scheme that judges each learner move in its position: it follows the game from
    the reset's ``fen`` through ``learner_move`` and ``opponent_move``."""

    required_events: ClassVar[tuple[str, ...]] = ("learner_move", "opponent_move")
    stateful: ClassVar[bool] = True

    def reset(self, info: Mapping[str, Any]) -> None:
        """Follow the new game from the position the env reports."""
        import chess

        object.__setattr__(self, "_board", chess.Board(info["fen"]))

    def _game(self) -> Any:
        """The followed board (the learner to move), or an error before any reset."""
        board = getattr(self, "_board", None)
        if board is None:
            raise ValueError(f"{self.name}: no game to follow; reset the env first")
        return board

    def _advance(self, events: Mapping[str, Any]) -> None:
        """Play the step's two moves on the followed board."""
        import chess

        board = self._game()
        board.push(chess.Move.from_uci(events["learner_move"]))
        if events.get("opponent_move"):
            board.push(chess.Move.from_uci(events["opponent_move"]))


def _table(scheme: str, board: Any) -> Any:
    """The tablebase for ``board``'s material, or a ValueError that names what the scheme
    can judge (a game from another start, e.g. ``start=standard``)."""
    from envs.chess.tablebase import MATERIALS, material_of, tablebase

    material = material_of(board)
    if material not in MATERIALS:
        raise ValueError(
            f"{scheme}: a position with material {material or board.fen()!r} is not in the "
            f"tablebase; accepted: env.kwargs.start in {', '.join(m.lower() for m in MATERIALS)}"
        )
    return tablebase(material)


@dataclass(frozen=True)
class ImitationSignal(_FollowsGame):
    """``bonus`` for each learner move the tablebase rates optimal (the teacher's move),
    0 for any other: imitation of a perfect teacher, as a reward. Nothing for the result.

    "Optimal" is distance-to-mate optimal (``Tablebase.best_moves``: the fastest mate
    when winning, the longest resistance when losing, a move keeping the draw when
    drawn); with ``keeps_result`` any move that keeps the position's result counts (a
    weaker, easier teacher). After the strong piece is lost (king against king) no move
    is judged.
    """

    bonus: float = 0.1
    keeps_result: bool = False
    _board: Any = field(default=None, init=False, repr=False, compare=False)

    name: ClassVar[str] = "imitation"
    statement: ClassVar[str] = "bonus for each move the tablebase teacher would play, nothing else"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bonus", finite(self.name, "bonus", self.bonus))
        if not isinstance(self.keeps_result, bool):
            raise ValueError(
                f"{self.name}: parameter keeps_result={self.keeps_result!r}; accepted: true, false"
            )

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``teacher``: ``bonus`` for a teacher's move, 0 for another (none in king vs king)."""
        import chess

        board = self._game()
        move = chess.Move.from_uci(events["learner_move"])
        out: dict[str, float] = {}
        if chess.popcount(board.occupied) > 2:
            table = _table(self.name, board)
            if self.keeps_result:
                wdl, _ = table.probe(board)
                good = table.move_values(board)[move][0] == wdl
            else:
                good = move in table.best_moves(board)
            out["teacher"] = self.bonus if good else 0.0
        self._advance(events)
        return out


@dataclass(frozen=True)
class DistanceToMateSignal(_FollowsGame):
    """1 for a win at the end (``sparse_win``) plus potential-based shaping by the exact
    distance to mate: gamma * Phi(s') - Phi(s) with, for the learner to move,
    Phi = ``scale`` x (1 - dtm / 100) in a won position (dtm: plies to mate with best
    play), 0 in a drawn one, -``scale`` x (1 - dtm / 100) in a lost one, and Phi = 0 at
    the end. Telescoping (Ng, Harada & Russell 1999) keeps the optimal policies of the
    sparse win when ``gamma`` is the agent's discount: the teaching is all in the timing.
    """

    gamma: float = 0.99
    scale: float = 1.0
    _board: Any = field(default=None, init=False, repr=False, compare=False)
    _phi: float | None = field(default=None, init=False, repr=False, compare=False)

    name: ClassVar[str] = "dtm_shaping"
    statement: ClassVar[str] = (
        "1 for a win, plus gamma*Phi(s')-Phi(s), Phi from the exact distance to mate"
    )

    def __post_init__(self) -> None:
        _check_shaping(self)

    def reset(self, info: Mapping[str, Any]) -> None:
        """Follow the new game; its first position's Phi is probed at the first step."""
        super().reset(info)
        object.__setattr__(self, "_phi", None)

    def potential(self, board: Any) -> float:
        """Phi of a position with the learner to move (king against king: a draw, 0)."""
        import chess

        if chess.popcount(board.occupied) <= 2:
            return 0.0
        wdl, dtm = _table(self.name, board).probe(board)
        return 0.0 if wdl == 0 else wdl * self.scale * (1.0 - dtm / 100.0)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """``shaping`` each step, ``win`` (1 or 0) at the end."""
        # Phi(s) is the last step's Phi(s'): each position is probed once
        before = self._phi if self._phi is not None else self.potential(self._game())
        self._advance(events)
        outcome = events.get("outcome")
        after = 0.0 if outcome else self.potential(self._game())
        object.__setattr__(self, "_phi", after)
        win = {"win": 1.0 if outcome == "win" else 0.0} if outcome else {}
        return {"shaping": self.gamma * after - before, **win}


class SparseWin(RewardScheme[SparseWinSignal]):
    """Reward a chess env with 1 for a win at the end (see ``SparseWinSignal``)."""

    signal_type = SparseWinSignal


class WinDrawLoss(RewardScheme[WinDrawLossSignal]):
    """Reward a chess env with +1 / ``draw`` / -1 at the end (see ``WinDrawLossSignal``)."""

    signal_type = WinDrawLossSignal


class MaterialShaped(RewardScheme[MaterialShapedSignal]):
    """Reward a chess env for material won each step (see ``MaterialShapedSignal``)."""

    signal_type = MaterialShapedSignal


class PotentialShaped(RewardScheme[PotentialShapedSignal]):
    """Reward a chess env with potential-based material shaping (``PotentialShapedSignal``)."""

    signal_type = PotentialShapedSignal


class CheckBonus(RewardScheme[CheckBonusSignal]):
    """Reward a chess env for each check given (see ``CheckBonusSignal``)."""

    signal_type = CheckBonusSignal


class EngineTeacher(RewardScheme[EngineTeacherSignal]):
    """Reward a chess env with Stockfish's opinion of each move (``EngineTeacherSignal``)."""

    signal_type = EngineTeacherSignal

    def close(self) -> None:
        """Stop the engine and the env."""
        self.signal.close()
        super().close()


class Imitation(RewardScheme[ImitationSignal]):
    """Reward a chess endgame for playing the tablebase teacher's move (``ImitationSignal``)."""

    signal_type = ImitationSignal


class DistanceToMate(RewardScheme[DistanceToMateSignal]):
    """Reward a chess endgame with the win plus distance-to-mate shaping
    (``DistanceToMateSignal``)."""

    signal_type = DistanceToMateSignal
