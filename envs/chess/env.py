"""``incentives/Chess-v0``: the learner plays one colour, the opponent moves inside ``step``.

Exact (every legal move and no other, the game-ending rules applied automatically) and
lean: the legal moves of each ply are generated once and serve the action mask, the
decoding of the learner's action and the test for the end of the game. Draws are never
*claimed* (``can_claim_draw`` is slow): threefold repetition and the fifty-move rule end
the game as soon as they occur.

The env's own reward is the task score, from the learner's side: 1 win, 0.5 draw, 0 loss,
given at the end (a game cut off at ``max_plies`` counts as a draw). Each step's ``info``
reports the events a reward scheme may use: ``learner_move`` and ``opponent_move`` (UCI),
``captured_by_learner`` and ``captured_by_opponent`` (the value of the piece taken, 0 if
none), ``gave_check``, ``material_balance`` (learner minus opponent), ``material_change`` (its
change over the step: captures and promotions of both sides) and ``ply``; at the end
also ``outcome`` (win, draw, loss), ``termination``, the learner's ``checks_given`` and
``captures`` over the game, and ``pgn`` (written during play). ``curriculum`` (at the
reset and at the end) says whether the game started from a curriculum position, one with a
forced mate in at most ``mate_in`` moves (see ``ChessEnv.set_curriculum``); its PGN then
carries a ``Curriculum`` header.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, SupportsFloat

import chess
import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from envs.chess.actions import N_ACTIONS, decode_action, legal_actions
from envs.chess.material import capture_value, material_balance
from envs.chess.notation import movetext, san_without_suffix, suffix
from envs.chess.observation import PLANE_HIGH, board_planes, repetitions
from envs.chess.opponents import Opponent, make_opponent
from envs.chess.starts import (
    ENDGAMES,
    MAX_MATE_IN,
    STARTS,
    load_fens,
    random_endgame,
    random_opening,
)

__all__ = ["COLORS", "TERMINATIONS", "ChessEnv", "Events"]

COLORS = ("white", "black", "random", "to_move")
#: How a game can end, as ``info["termination"]`` reports it.
TERMINATIONS = (
    "checkmate",
    "stalemate",
    "insufficient_material",
    "repetition",
    "fifty_moves",
    "max_plies",
    "illegal_move",
)
_SCORES = {"win": 1.0, "draw": 0.5, "loss": 0.0}
#: The types ``copy.deepcopy`` returns as they are (it copies nothing of them).
_ATOMIC = frozenset({str, int, float, bool, bytes, type(None)})


def _deepcopy(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value, memo)`` of a non-atom, without its dispatch for plain dicts
    (whose atoms, keys and values alike, are kept as they are)."""
    if type(value) is not dict:
        return copy.deepcopy(value, memo)
    done = memo.get(id(value))
    if done is not None:
        return done
    out: dict[Any, Any] = {}
    memo[id(value)] = out
    atomic = _ATOMIC
    for key, item in value.items():
        if type(key) not in atomic:
            key = _deepcopy(key, memo)
        out[key] = item if type(item) in atomic else _deepcopy(item, memo)
    return out


class Events(dict[str, Any]):
    """A step's ``info``: a plain dict of events that ``copy.deepcopy`` copies fast.

    stable-baselines3's ``DummyVecEnv`` deep-copies every env's info on every step. The
    events are strings, numbers, booleans and the small dicts wrappers add
    (``incentive``, ``episode``): this copies them as ``deepcopy`` does (atoms kept,
    dicts copied, shared references kept shared) without its per-item dispatch, and
    hands anything else (``terminal_observation``, an array) to ``deepcopy``.

    Example:
        >>> info = Events(ply=3, incentive={"reward": 1.0})
        >>> twin = copy.deepcopy(info)
        >>> twin == info, type(twin).__name__, twin["incentive"] is info["incentive"]
        (True, 'Events', False)
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Events:
        out = Events()
        memo[id(self)] = out
        for key, value in self.items():
            out[key] = value if type(value) in _ATOMIC else _deepcopy(value, memo)
        return out


def _choice(name: str, value: str, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        raise ValueError(f"chess {name}={value!r}; accepted: {', '.join(accepted)}")
    return value


def _curriculum(start: str, mate_in: Any, fraction: Any) -> tuple[int | None, float]:
    """``mate_in`` and ``mate_in_fraction``, checked; a one-line ``ValueError`` if bad."""
    if mate_in is not None:
        if (
            isinstance(mate_in, bool)
            or not isinstance(mate_in, (int, np.integer))
            or not 1 <= mate_in <= MAX_MATE_IN
        ):
            raise ValueError(
                f"chess mate_in={mate_in!r}; accepted: null or an integer from 1 to {MAX_MATE_IN}"
            )
        mate_in = int(mate_in)
        if start not in ENDGAMES:
            raise ValueError(
                f"chess mate_in={mate_in} with start={start!r}; accepted: mate_in=null, or "
                f"start {', '.join(ENDGAMES)}"
            )
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float, np.integer, np.floating))
        or not 0 <= fraction <= 1
    ):
        raise ValueError(f"chess mate_in_fraction={fraction!r}; accepted: a number from 0 to 1")
    return mate_in, float(fraction)


class ChessEnv(gym.Env[npt.NDArray[np.uint8], np.int64]):
    """Single-agent chess against an opponent that moves inside ``step``.

    Args:
        start: ``standard``, ``random_opening`` (``opening_plies`` random plies from the
            start), ``kqk``, ``krk``, ``kpk`` (random legal endgames, the learner to move
            with the extra piece) or ``fen_file`` (a random line of ``fen_file``).
        learner_color: ``white``, ``black``, ``random`` (per episode) or ``to_move`` (the
            side to move in the start position).
        opponent: a name (``random``, ``greedy``, ``stockfish``, one a package declares
            such as ``policy`` and ``pool``, or ``"module:attribute"``), a mapping
            ``{"name": ..., **options}``, or an ``Opponent`` (see ``envs.chess.opponents``).
        max_plies: plies (both sides) after which the episode is truncated.
        illegal_action: ``lose`` (the default: the episode ends as a loss,
            ``info["illegal_action"]``, as Gymnasium's and stable-baselines3's checkers and
            unmasked third-party trainers expect of a ``Discrete`` action space) or
            ``raise`` (a ``ValueError`` naming the action, its move and the FEN: for a
            masked agent, which never picks an illegal move, so one is a bug to surface).
        mate_in: for a curriculum with an endgame start: ``None`` (plain random
            positions) or n (1 to 3): start from random positions with a forced mate in
            at most n moves, drawn uniformly among them. Only the start changes, never the
            reward. ``set_curriculum`` changes it between episodes.
        mate_in_fraction: the fraction of episodes (a draw per reset) that start from
            such a position, the others from a plain one. With ``mate_in=None`` or ``0``
            the env draws exactly the positions it draws without a curriculum.

    Example:
        >>> env = ChessEnv(start="kqk", max_plies=50)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.action_space, int(env.action_masks().sum()) > 0
        ((19, 8, 8), Discrete(4672), True)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012 - gymnasium style

    def __init__(
        self,
        start: str = "standard",
        opening_plies: int = 8,
        fen_file: str | None = None,
        learner_color: str = "white",
        opponent: str | Mapping[str, Any] | Opponent = "random",
        max_plies: int = 400,
        illegal_action: str = "lose",
        render_mode: str | None = None,
        mate_in: int | None = None,
        mate_in_fraction: float = 1.0,
    ) -> None:
        self.start = _choice("start", start, STARTS)
        self.learner_color = _choice("learner_color", learner_color, COLORS)
        self.illegal_action = _choice("illegal_action", illegal_action, ("raise", "lose"))
        if render_mode is not None:
            _choice("render_mode", render_mode, ("ansi",))
        for name, value in (("max_plies", max_plies), ("opening_plies", opening_plies)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"chess {name}={value!r}; accepted: an integer >= 0")
        if max_plies < 1:
            raise ValueError(f"chess max_plies={max_plies!r}; accepted: an integer >= 1")
        if start == "fen_file" and fen_file is None:
            raise ValueError("chess start='fen_file' needs fen_file=<path>; accepted: a path")
        self.mate_in, self.mate_in_fraction = _curriculum(start, mate_in, mate_in_fraction)
        self.fens = load_fens(fen_file) if start == "fen_file" and fen_file else []
        self.opening_plies, self.max_plies = opening_plies, max_plies
        self.render_mode = render_mode
        self.opponent = make_opponent(opponent)
        self.observation_space = spaces.Box(0, PLANE_HIGH, dtype=np.uint8)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.board = chess.Board()
        self.learner: chess.Color = chess.WHITE
        self.plies = 0
        self._moves: list[chess.Move] = []
        self._actions: dict[int, chess.Move] = {}
        self._over = True
        self._sans: list[str] = []
        self._balance = 0
        self._checks = self._captures = 0  # the learner's, this game
        self._start: tuple[str, chess.Color, int] = (chess.STARTING_FEN, chess.WHITE, 1)
        self._start_mate_in: int | None = None  # the curriculum's bound for this game's start

    def set_curriculum(self, mate_in: int | None, fraction: float = 1.0) -> None:
        """Serve positions with a forced mate in at most ``mate_in`` moves in ``fraction`` of
        the episodes from the next reset on (``None``: plain positions only).

        For a curriculum that changes during training (the chess domain's curriculum
        callback), through ``VecEnv.env_method``; arguments as ``mate_in`` and
        ``mate_in_fraction``, checked the same way. The game under way is not touched.

        Example:
            >>> env = ChessEnv(start="krk")
            >>> env.set_curriculum(1, 0.5)
            >>> env.mate_in, env.mate_in_fraction
            (1, 0.5)
        """
        self.mate_in, self.mate_in_fraction = _curriculum(self.start, mate_in, fraction)

    # -- the game ---------------------------------------------------------------------
    def _start_board(self) -> chess.Board:
        rng = self.np_random
        self._start_mate_in = None
        if self.start == "standard":
            return chess.Board()
        if self.start == "random_opening":
            return random_opening(rng, self.opening_plies)
        if self.start in ENDGAMES:
            fraction = self.mate_in_fraction
            # no draw without a curriculum: the plain env's positions stay the same
            if (
                self.mate_in is not None
                and fraction > 0
                and (fraction >= 1 or rng.random() < fraction)
            ):
                self._start_mate_in = self.mate_in
            return random_endgame(rng, self.start, self.learner, self._start_mate_in)
        return chess.Board(self.fens[rng.integers(len(self.fens))])

    def _termination(self) -> str | None:
        """Generate the legal moves of the side to move; the reason the game ended, if so."""
        board = self.board
        self._moves = moves = list(board.legal_moves)
        if not moves:
            return "checkmate" if board.is_check() else "stalemate"
        if board.is_insufficient_material():
            return "insufficient_material"
        if board.halfmove_clock >= 100:
            return "fifty_moves"
        if board.halfmove_clock >= 8 and board.is_repetition(3):
            return "repetition"
        return None

    def _outcome(self, termination: str) -> str:
        if termination == "checkmate":
            return "loss" if self.board.turn == self.learner else "win"
        if termination == "illegal_move":
            return "loss"
        return "draw"

    def _play(self, move: chess.Move) -> str | None:
        """Make ``move``, note it in SAN; the reason the game ended with it, if so."""
        san = san_without_suffix(self.board, move, self._moves)
        self.board.push(move)
        self.plies += 1
        ended = self._termination()
        self._sans.append(san + suffix(self.board, self._moves))
        return ended

    def _opponent_move(self) -> tuple[str, int, str | None]:
        move = self.opponent.choose(self.board, self._moves)
        captured = capture_value(self.board, move)
        return move.uci(), captured, self._play(move)

    def _observe(self, playing: bool = False) -> npt.NDArray[np.uint8]:
        """The planes of the board; ``playing``: the game goes on after ``_termination``
        looked at this position, so it has not occurred three times and the repetition
        count is 0 or 1 (one ``is_repetition`` walk instead of two)."""
        return board_planes(self.board, repetitions(self.board, below_three=playing))

    def _pgn(self, outcome: str, finished: bool) -> str:
        """The game as PGN, from the notation written during play."""
        fen, turn, number = self._start
        names = ("learner", self.opponent.name)
        white, black = names if self.learner == chess.WHITE else names[::-1]
        result = "*"
        if finished:
            learner_won = {"win": True, "loss": False}.get(outcome)
            if learner_won is None:
                result = "1/2-1/2"
            else:
                result = "1-0" if learner_won == (self.learner == chess.WHITE) else "0-1"
        headers = [("Event", f"incentives/Chess-v0 {self.start}"), ("Site", "?"),
                   ("Date", "????.??.??"), ("Round", "?"), ("White", white), ("Black", black),
                   ("Result", result)]  # fmt: skip
        if self._start_mate_in is not None:
            headers.append(("Curriculum", f"mate_in={self._start_mate_in}"))
        if fen != chess.STARTING_FEN:
            headers += [("FEN", fen), ("SetUp", "1")]
        head = "\n".join(f'[{k} "{v}"]' for k, v in headers)
        return f"{head}\n\n{movetext(self._sans, turn, number, result)}\n"

    # -- gymnasium ----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.uint8], dict[str, Any]]:
        """Start a new game; the opponent moves first when it has the move."""
        super().reset(seed=seed)
        self.opponent.reset(self.np_random)
        for _ in range(1000):
            color = self.learner_color
            if color == "random":
                color = ("white", "black")[self.np_random.integers(2)]
            self.learner = chess.WHITE if color == "white" else chess.BLACK
            self.board = self._start_board()
            if color == "to_move":
                self.learner = self.board.turn
            self.plies = self._checks = self._captures = 0
            self._sans = []
            self._start = (self.board.fen(), self.board.turn, self.board.fullmove_number)
            ended = self._termination()
            opponent_move = None
            if ended is None and self.board.turn != self.learner:
                opponent_move, _, ended = self._opponent_move()
            if ended is None:
                break
        else:  # pragma: no cover - only a FEN file of positions that end at once
            raise RuntimeError("no start position left a game to play after 1000 tries")
        self._actions = legal_actions(self.board, self._moves)
        self._over = False
        self._balance = material_balance(self.board, self.learner)
        info = Events(
            opponent_move=opponent_move,
            material_balance=self._balance,
            ply=self.plies,
            learner_color="white" if self.learner == chess.WHITE else "black",
            # the start's FEN when the opponent did not move first (fen() is a 64-square loop)
            fen=self._start[0] if opponent_move is None else self.board.fen(),
            curriculum=self._start_mate_in is not None,
        )
        return self._observe(playing=True), info

    def action_masks(self) -> npt.NDArray[np.bool_]:
        """The legal actions of the learner now (for sb3-contrib's MaskablePPO)."""
        mask = np.zeros(N_ACTIONS, dtype=bool)
        mask[list(self._actions)] = True
        return mask

    def step(
        self, action: Any
    ) -> tuple[npt.NDArray[np.uint8], SupportsFloat, bool, bool, dict[str, Any]]:
        """Play the learner's move, then the opponent's; report what happened."""
        if self._over:
            raise RuntimeError("ChessEnv.step() called after the game ended; call reset()")
        board = self.board
        move = self._actions.get(int(action))
        if move is None:
            decoded = decode_action(board, int(action)) if 0 <= int(action) < N_ACTIONS else None
            uci = decoded.uci() if decoded else None
            if self.illegal_action == "raise":
                what = f"move {uci}" if decoded else "no move: off the board or the layout"
                raise ValueError(
                    f"illegal action {int(action)} ({what}) in {board.fen()!r}; "
                    "use action_masks() for the legal ones"
                )
            return self._finish(
                Events(learner_move=uci, illegal_action=True),
                "illegal_move",
                truncated=False,
            )
        info = Events(
            learner_move=move.uci(),
            captured_by_learner=capture_value(board, move),
            opponent_move=None,
            captured_by_opponent=0,
        )
        ended = self._play(move)
        info["gave_check"] = board.is_check()
        self._checks += info["gave_check"]
        self._captures += info["captured_by_learner"] > 0
        if ended is None and self.plies < self.max_plies:
            info["opponent_move"], info["captured_by_opponent"], ended = self._opponent_move()
        if ended is not None:
            return self._finish(info, ended, truncated=False)
        if self.plies >= self.max_plies:
            return self._finish(info, "max_plies", truncated=True)
        self._actions = legal_actions(board, self._moves)
        self._note_material(info)
        info["ply"] = self.plies
        return self._observe(playing=True), 0.0, False, False, info

    def _note_material(self, info: dict[str, Any]) -> None:
        """Add the material balance and its change over the step to ``info``."""
        balance = material_balance(self.board, self.learner)
        info["material_balance"], info["material_change"] = balance, balance - self._balance
        self._balance = balance

    def _finish(
        self, info: dict[str, Any], termination: str, truncated: bool
    ) -> tuple[npt.NDArray[np.uint8], SupportsFloat, bool, bool, dict[str, Any]]:
        self._over = True
        self._actions = {}
        outcome = self._outcome(termination)
        info.setdefault("captured_by_learner", 0)
        info.setdefault("captured_by_opponent", 0)
        info.setdefault("opponent_move", None)
        info.setdefault("gave_check", False)
        info["checks_given"], info["captures"] = self._checks, self._captures
        self._note_material(info)
        info.update(
            ply=self.plies,
            outcome=outcome,
            termination=termination,
            curriculum=self._start_mate_in is not None,
            pgn=self._pgn(outcome, finished=not truncated),
        )
        return self._observe(), _SCORES[outcome], not truncated, truncated, info

    # -- exact resume ---------------------------------------------------------------
    #: What ``get_state`` keeps besides the generator and the opponent: the game under way
    #: (board with its move stack, legal moves, notation, tallies) and the curriculum.
    _STATE = ("learner", "plies", "_moves", "_actions", "_over", "_sans", "_balance",
              "_checks", "_captures", "_start", "_start_mate_in", "mate_in",
              "mate_in_fraction")  # fmt: skip

    def get_state(self) -> dict[str, Any]:
        """Everything the env's future depends on, as picklable data: its generator, the
        game under way and the opponent's state where it has one (``get_state(rng)``).

        ``set_state`` on a new env built with the same arguments continues the game as
        this one would. A Stockfish opponent's engine is not part of it: an engine with
        ``skill_level`` or ``elo`` draws on its own clock-seeded generator.
        """
        rng = self.np_random
        opponent = getattr(self.opponent, "get_state", None)
        state = {name: getattr(self, name) for name in self._STATE}
        state.update(
            np_random=rng.bit_generator.state,
            np_random_seed=self._np_random_seed,
            board=self.board.copy(stack=True),
            opponent=opponent(rng) if callable(opponent) else None,
        )
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from a ``get_state()`` of an env built with the same arguments."""
        self.np_random.bit_generator.state = state["np_random"]
        self._np_random_seed = state["np_random_seed"]
        for name in self._STATE:
            setattr(self, name, state[name])
        self.board = state["board"].copy(stack=True)
        restore = getattr(self.opponent, "set_state", None)
        if state["opponent"] is not None and callable(restore):
            restore(state["opponent"], self.np_random)

    def render(self) -> str | None:
        """The board as text, white at the bottom."""
        return str(self.board) if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Stop the opponent (its engine process, if any)."""
        self.opponent.close()
