"""The chess evaluation ladder: the deterministic policy against opponents of rising strength.

What a trained chess agent does, measured, never rewarded. Each rung of the ladder is an
opponent (``random``, ``greedy``, Stockfish at some strength, a saved policy); the learner
plays a fixed, seeded set of games against each, and every rung is summarised by
``ChessBehaviour`` (result rates with Wilson intervals, how games ended, length, checks,
captures) under ``ladder/<rung>/<metric>``. Move quality adds what results cannot show:
Stockfish at a fixed depth judges a sample of the learner's moves in one rung's games
(average centipawn loss and agreement with the engine's best move, ``move_quality/*``);
in the 3-piece endings our tablebase judges every unforced move of the first rung's games
exactly (``tablebase/*``: the share that keep the win, the share that are mate-distance
optimal).

Games are played by ``n_envs`` envs in lockstep, so the policy sees one stacked batch per
ply, and game ``k`` of every rung is reset with seed ``seed + k``: the same start
positions on every rung, the same games on every evaluation of the same model (but for
Stockfish with ``skill_level`` or ``elo``, whose weakening draws on a clock-seeded random
generator inside the engine).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import chess
import chess.engine
import numpy as np
import numpy.typing as npt

from envs.chess.engine import find_stockfish, start_engine
from envs.chess.env import ChessEnv
from envs.chess.opponents import make_opponent, opponent_factory, opponents
from incentives.domains.chess.behaviour import ChessBehaviour

__all__ = [
    "ChessLadder",
    "LadderExtra",
    "LadderResult",
    "LearnerMove",
    "MaskedPolicy",
    "MoveQuality",
    "Rung",
    "TeacherPolicy",
    "ladder_extra",
    "move_quality",
    "parse_ladder",
    "tablebase_quality",
]

# How a rung's default name spells the options that set an opponent's strength, in order.
_NAME_PARTS = {"skill_level": "skill", "elo": "elo", "depth": "d", "time": "t", "epsilon": "eps"}
# Options that change how an opponent runs, not how it plays: left out of default names.
_NOT_IN_NAME = frozenset({"path", "device"})


@dataclass(frozen=True)
class Rung:
    """One opponent of the ladder: its name in metric keys and its ``make_opponent`` spec.

    ``opponent`` holds ``name`` and the opponent's options, as ``ChessEnv`` takes them.
    """

    name: str
    opponent: dict[str, Any]


def _spelled(value: Any) -> str:
    """An option's value as a name part: numbers short (``0.1``, ``1``), the rest as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)


def _rung_name(options: Mapping[str, Any]) -> str:
    """The default name of a rung: the opponent's name and the options that tell it apart."""
    parts = [str(options["name"])]
    for key, short in _NAME_PARTS.items():
        if options.get(key) is not None:
            parts.append(f"{short}{_spelled(options[key])}")
    for key, value in options.items():
        if key == "name" or key in _NAME_PARTS or key in _NOT_IN_NAME or value is None:
            continue
        if value is True:
            parts.append(key)
        elif value is not False:
            parts.append(f"{key}{_spelled(value)}")
    if options["name"] == "policy" and options.get("path"):
        parts.append(Path(str(options["path"])).stem)
    return "_".join(parts)


def parse_ladder(spec: Sequence[str | Mapping[str, Any]], where: str = "eval.ladder") -> list[Rung]:
    """The rungs of a ladder from its config: opponent names or ``{name: ..., **options}``.

    A rung is named after its opponent and the options that set its strength (``random``,
    ``stockfish_skill0_d1``), or by an explicit ``label`` key. An opponent is one of
    ``envs.chess.opponents()`` or a ``"module:attribute"`` reference. Only the names are
    checked here; ``ChessLadder`` builds each opponent, which checks its options.

    Args:
        spec: the ladder, in order (weakest first, by convention).
        where: the config path of ``spec``, for error messages.

    Raises:
        ValueError: an empty ladder, an unknown opponent, a bad label or two rungs with
            one name; one line naming the value and what is accepted.

    Example:
        >>> [r.name for r in parse_ladder(["random", {"name": "stockfish", "depth": 1,
        ...                                            "skill_level": 0}])]
        ['random', 'stockfish_skill0_d1']
        >>> parse_ladder(["random", "foo"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: eval.ladder[1]='foo'; accepted: ...greedy, policy, ...stockfish, tablebase
    """
    if isinstance(spec, (str, Mapping)) or not len(spec):
        raise ValueError(f"{where}={spec!r}; accepted: a non-empty list of opponents")
    known = opponents()
    rungs: list[Rung] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(spec):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            options: dict[str, Any] = {"name": item}
            name_at = at
        elif isinstance(item, Mapping):
            options = {str(k): v for k, v in item.items()}
            name_at = f"{at}.name"
        else:
            raise ValueError(f"{at}={item!r}; accepted: an opponent name or a mapping")
        name = options.get("name")
        if not isinstance(name, str) or not _is_opponent(name):
            raise ValueError(f"{name_at}={name!r}; accepted: {', '.join(known)}")
        label = options.pop("label", None)
        if label is not None and (
            not isinstance(label, str) or not label or "/" in label or label.split() != [label]
        ):
            raise ValueError(f"{at}.label={label!r}; accepted: a name without '/' or spaces")
        rung_name = label if label is not None else _rung_name(options)
        if rung_name in seen:
            raise ValueError(
                f"{at} is named {rung_name!r}, as {where}[{seen[rung_name]}] is; accepted: "
                "rungs with distinct names (set a label)"
            )
        seen[rung_name] = i
        rungs.append(Rung(rung_name, options))
    return rungs


def _is_opponent(name: str) -> bool:
    """Whether ``name`` names an opponent: a known one, or a ``"module:attribute"`` that
    exists (imported now: a typo fails here, not at the first evaluation)."""
    if name in opponents():
        return True
    try:
        opponent_factory(name)
    except ValueError:
        return False
    return True


# -- move quality ------------------------------------------------------------------------
@dataclass(frozen=True)
class LearnerMove:
    """A move the learner played: the position before it (FEN) and the move (UCI)."""

    fen: str
    move: str


@dataclass(frozen=True)
class MoveQuality:
    """How Stockfish judges the learner's moves.

    Args:
        positions: learner moves sampled per evaluation.
        depth: Stockfish's search depth for each judgement.
        cap: centipawns at which scores and losses are clipped; a mate counts as ``cap``.
        rung: the rung whose games supply the positions (default: the first). One rung,
            not all: the sample then comes from games against one opponent, and stays
            reproducible when a later rung is not (Stockfish with ``skill_level``).
        path: the Stockfish binary (default: ``stockfish`` on PATH, then Debian's).
    """

    positions: int = 32
    depth: int = 8
    cap: int = 1000
    rung: str | None = None
    path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name, low, high in (("positions", 1, 1_000_000), ("depth", 1, 100),
                                ("cap", 1, 100_000)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(
                    f"move_quality.{name}={value!r}; accepted: an integer from {low} to {high}"
                )


# Mate in n scores _MATE - n: above every centipawn score, the sooner the better.
_MATE = 1_000_000


def _score(info: Mapping[str, Any], mover: chess.Color) -> int:
    """The score of an analysis from ``mover``'s side, in centipawns, mates as ±(_MATE - n)."""
    score: int = info["score"].pov(mover).score(mate_score=_MATE)
    return score


def move_quality(
    moves: Sequence[LearnerMove], settings: MoveQuality, seed: int
) -> dict[str, float]:
    """Average centipawn loss and best-move agreement of a seeded sample of ``moves``.

    Up to ``settings.positions`` moves are drawn without replacement (``seed`` fixes which).
    Each position is searched twice at ``settings.depth``, with one engine for the whole
    sample: all moves (the engine's best move and score) and the played move alone (its
    score at the same depth, from the same root). Scores are from the mover's side,
    clipped to ``[-cap, cap]`` with a mate counting as ``±cap`` (so missing a mate in a
    won position costs little, missing one in a level position costs ``cap``); the loss is
    best minus played, clipped to ``[0, cap]``. A move agrees with the engine when it is
    the engine's move or scores no worse, before clipping (a mate in 3 where a mate in 1
    was on loses nothing but does not agree). The hash is cleared before each position,
    so a judgement does not depend on the others drawn with it.

    Returns:
        ``move_quality/acpl``, ``move_quality/best_move`` (NaN without positions) and
        ``move_quality/positions`` (how many were judged).

    Raises:
        EngineNotFoundError: no Stockfish binary.
    """
    out = {"move_quality/acpl": math.nan, "move_quality/best_move": math.nan,
           "move_quality/positions": 0.0}  # fmt: skip
    if not moves:
        return out
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(moves), size=min(settings.positions, len(moves)), replace=False)
    limit = chess.engine.Limit(depth=settings.depth)
    cap = settings.cap
    losses: list[float] = []
    agreed: list[bool] = []
    engine = start_engine(settings.path)
    try:
        for index in sorted(picked.tolist()):
            board = chess.Board(moves[index].fen)
            move = chess.Move.from_uci(moves[index].move)
            position = object()  # a new game for the engine: clears its hash
            best = engine.analyse(board, limit, game=position)
            if "score" not in best:  # pragma: no cover - only an engine that reports none
                continue
            best_score = played_score = _score(best, board.turn)
            if move != best.get("pv", [None])[0]:
                played = engine.analyse(board, limit, game=position, root_moves=[move])
                played_score = _score(played, board.turn)
            best_cp, played_cp = np.clip((best_score, played_score), -cap, cap)
            losses.append(float(np.clip(best_cp - played_cp, 0, cap)))
            agreed.append(played_score >= best_score)
    finally:
        engine.quit()
    if losses:
        out.update({"move_quality/acpl": float(np.mean(losses)),
                    "move_quality/best_move": float(np.mean(agreed)),
                    "move_quality/positions": float(len(losses))})  # fmt: skip
    return out


def tablebase_quality(moves: Sequence[LearnerMove]) -> dict[str, float]:
    """Our tablebase's judgement of every move in ``moves`` that it holds the position of.

    Returns:
        ``tablebase/keeps_win``: of the moves played in won positions, the share after
        which the position is still won; ``tablebase/optimal``: of all judged moves, the
        share among the distance-to-mate optimal ones (``Tablebase.best_moves``);
        ``tablebase/positions``: moves judged. NaN where nothing was judged. Positions
        with only the kings left, or material no table holds, are not judged.
    """
    from envs.chess.tablebase import MATERIALS, material_of, tablebase

    kept: list[bool] = []
    optimal: list[bool] = []
    for played in moves:
        board = chess.Board(played.fen)
        material = material_of(board)
        if material not in MATERIALS:
            continue
        table = tablebase(material)
        move = chess.Move.from_uci(played.move)
        if table.probe(board)[0] == 1:
            kept.append(table.move_values(board)[move][0] == 1)
        optimal.append(move in table.best_moves(board))
    return {
        "tablebase/keeps_win": float(np.mean(kept)) if kept else math.nan,
        "tablebase/optimal": float(np.mean(optimal)) if optimal else math.nan,
        "tablebase/positions": float(len(optimal)),
    }


# -- the ladder --------------------------------------------------------------------------
class MaskedPolicy(Protocol):
    """What the ladder plays: a model whose ``predict`` takes action masks (MaskablePPO)."""

    def predict(
        self,
        observation: npt.NDArray[np.uint8],
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
        action_masks: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[Any, Any]:
        """Actions for a batch of observations (and the recurrent state, unused here)."""


class TeacherPolicy:
    """ "Give the fish": our tablebase plays the learner's moves (a distance-to-mate
    optimal one, ties broken by a seeded generator). No learning, no compute: the line a
    taught or incentivised learner is measured against, played through the same ladder.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, boards: Sequence[chess.Board]) -> npt.NDArray[np.int64]:
        """The teacher's action for each board (the learner to move)."""
        from envs.chess.actions import encode_move
        from envs.chess.tablebase import material_of, tablebase

        actions = []
        for board in boards:
            material = material_of(board)
            moves = (
                list(board.legal_moves) if material == "KK" else
                tablebase(str(material)).best_moves(board)
            )  # fmt: skip
            actions.append(encode_move(board, moves[int(self.rng.integers(len(moves)))]))
        return np.asarray(actions, dtype=np.int64)


@dataclass
class LadderResult:
    """One evaluation: metrics by key, and sample games as ``(rung name, PGN text)``."""

    metrics: dict[str, float]
    pgns: list[tuple[str, str]]


@dataclass
class _RungGames:
    """What one rung's games left: the final infos in game order and the learner's moves."""

    finals: list[dict[str, Any]]
    moves: list[LearnerMove]


class ChessLadder:
    """Plays the deterministic policy against each rung; measures results and move quality.

    Args:
        env_kwargs: ``ChessEnv`` arguments (start, learner_color, max_plies, ...); an
            ``opponent`` among them is replaced by each rung's.
        rungs: the opponents, from ``parse_ladder``.
        episodes: games per rung.
        seed: game ``k`` of every rung starts from ``reset(seed=seed + k)``.
        n_envs: envs stepped in lockstep (the policy's batch size).
        move_quality: how to judge the learner's moves; ``None``: not judged. The sample
            is drawn from the learner's moves in the games of one rung (``rung``, default
            the first), leaving out forced moves (a single legal move: no choice to judge).
        pgns: games of each rung, the first ones, kept as PGN in the result.
        tablebase: judge the first rung's unforced learner moves with our tablebase
            (``tablebase_quality``); on by default for the endgame starts it holds.

    Every rung's opponent is built once here, so a bad option or a missing engine fails
    at construction. Envs (and their engines) live for one ``evaluate`` call only, so each
    evaluation starts from fresh engines, as the first one did.

    Metrics: ``ladder/<rung>/<metric>`` for every ``ChessBehaviour`` metric, plus
    ``ladder/<rung>/score`` (the task score: 1 win, 0.5 draw, 0 loss, averaged), and
    ``move_quality/acpl``, ``move_quality/best_move``, ``move_quality/positions``, and
    with ``tablebase``, ``tablebase/keeps_win``, ``tablebase/optimal``,
    ``tablebase/positions``.
    """

    def __init__(
        self,
        env_kwargs: Mapping[str, Any],
        rungs: list[Rung],
        episodes: int,
        seed: int,
        n_envs: int = 8,
        move_quality: MoveQuality | None = None,
        pgns: int = 2,
        tablebase: bool | None = None,
    ) -> None:
        for name, value, low in (("episodes", episodes, 1), ("n_envs", n_envs, 1),
                                 ("pgns", pgns, 0), ("seed", seed, 0)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ladder {name}={value!r}; accepted: an integer >= {low}")
        if not rungs:
            raise ValueError("ladder rungs=[]; accepted: at least one rung (parse_ladder)")
        self.env_kwargs = {k: v for k, v in env_kwargs.items() if k != "opponent"}
        self.rungs = list(rungs)
        self.episodes, self.seed, self.n_envs, self.pgns = episodes, seed, n_envs, pgns
        self.move_quality = move_quality
        if tablebase is None:
            from envs.chess.tablebase import MATERIALS

            tablebase = str(self.env_kwargs.get("start", "")).upper() in MATERIALS
        self.tablebase = tablebase
        for rung in self.rungs:
            try:
                make_opponent(rung.opponent).close()
            except (ValueError, TypeError) as error:
                raise ValueError(f"ladder rung {rung.name!r}: {error}") from None
        ChessEnv(**self.env_kwargs).close()  # the env's own arguments, checked now
        self._judged: str | None = None  # the rung whose games supply move quality
        if move_quality is not None:
            names = [rung.name for rung in self.rungs]
            self._judged = move_quality.rung or names[0]
            if self._judged not in names:
                raise ValueError(
                    f"move_quality.rung={move_quality.rung!r}; accepted: {', '.join(names)}"
                )
            find_stockfish(move_quality.path)

    def evaluate(self, model: MaskedPolicy | TeacherPolicy) -> LadderResult:
        """Play every rung's games with ``model``'s deterministic policy (or the teacher's
        moves); measure them."""
        metrics: dict[str, float] = {}
        pgns: list[tuple[str, str]] = []
        moves: list[LearnerMove] = []
        judged_by_table: list[LearnerMove] = []
        for k, rung in enumerate(self.rungs):
            by_table = self.tablebase and k == 0
            games = self._play(model, rung, judged=rung.name == self._judged or by_table)
            behaviour = ChessBehaviour()
            for info in games.finals:
                behaviour.add(info)
            rung_metrics = behaviour.metrics()
            rung_metrics["score"] = rung_metrics["win_rate"] + 0.5 * rung_metrics["draw_rate"]
            metrics.update({f"ladder/{rung.name}/{k}": v for k, v in rung_metrics.items()})
            pgns += [(rung.name, info["pgn"]) for info in games.finals[: self.pgns]]
            if rung.name == self._judged:
                moves += games.moves
            if by_table:
                judged_by_table = games.moves
        if self.move_quality is not None:
            metrics.update(move_quality(moves, self.move_quality, self.seed))
        if self.tablebase:
            metrics.update(tablebase_quality(judged_by_table))
        return LadderResult(metrics, pgns)

    def _play(self, model: MaskedPolicy | TeacherPolicy, rung: Rung, judged: bool) -> _RungGames:
        """Play ``episodes`` games against ``rung``, the envs in lockstep, one batch a ply.

        With ``judged``, also note the learner's unforced moves, for move quality.
        """
        n = min(self.n_envs, self.episodes)
        envs = [ChessEnv(**self.env_kwargs, opponent=rung.opponent) for _ in range(n)]
        finals: list[dict[str, Any] | None] = [None] * self.episodes
        moves: list[LearnerMove] = []
        try:
            observations: list[npt.NDArray[np.uint8]] = []
            playing = list(range(n))  # the game each env plays; -1: done
            for env, game in zip(envs, playing, strict=True):
                observations.append(env.reset(seed=self.seed + game)[0])
            next_game = n
            while True:
                active = [i for i, game in enumerate(playing) if game >= 0]
                if not active:
                    break
                masks = np.stack([envs[i].action_masks() for i in active])
                if isinstance(model, TeacherPolicy):
                    actions = model.act([envs[i].board for i in active])
                else:
                    batch = np.stack([observations[i] for i in active])
                    actions, _ = model.predict(batch, action_masks=masks, deterministic=True)
                for i, action, mask in zip(active, np.asarray(actions), masks, strict=True):
                    env = envs[i]
                    fen = env.board.fen() if judged and mask.sum() > 1 else None
                    obs, _, terminated, truncated, info = env.step(int(action))
                    if fen is not None and not info.get("illegal_action"):
                        moves.append(LearnerMove(fen, str(info["learner_move"])))
                    observations[i] = obs
                    if terminated or truncated:
                        finals[playing[i]] = info
                        playing[i] = next_game if next_game < self.episodes else -1
                        if playing[i] >= 0:
                            observations[i] = env.reset(seed=self.seed + next_game)[0]
                            next_game += 1
        finally:
            for env in envs:
                env.close()
        done = [info for info in finals if info is not None]
        assert len(done) == self.episodes
        return _RungGames(done, moves)


# -- in a training run ---------------------------------------------------------------------
class LadderExtra:
    """Plays the evaluation ladder after each periodic evaluation; returns what to log.

    ``transfer``: more ladders by name, the same policy in other positions (another
    endgame, the other colour); their metrics are logged under ``transfer/<name>/``.
    """

    def __init__(
        self, ladder: ChessLadder, transfer: Mapping[str, ChessLadder] | None = None
    ) -> None:
        self.ladder = ladder
        self.transfer = dict(transfer or {})

    def __call__(
        self, model: Any, results: Mapping[str, float], step: int
    ) -> dict[str, float | str]:
        """The ladder's metrics (floats) and its PGNs (TensorBoard text)."""
        result = self.ladder.evaluate(model)
        out: dict[str, float | str] = dict(result.metrics)
        seen: dict[str, int] = {}
        for rung, pgn in result.pgns:
            k = seen[rung] = seen.get(rung, -1) + 1
            # Markdown: an indented block keeps the PGN's line breaks in TensorBoard's text tab.
            out[f"pgn/{rung}/{k}"] = "\n".join("    " + line for line in pgn.splitlines())
        for name, ladder in self.transfer.items():
            metrics = ladder.evaluate(model).metrics
            out.update({f"transfer/{name}/{key}": value for key, value in metrics.items()})
        return out


def _transfer(
    settings: Mapping[str, Any], env_kwargs: Mapping[str, Any], build: Any
) -> dict[str, ChessLadder]:
    """The transfer ladders ``eval.ladder.transfer`` asks for: ``{name: {env kwargs}}``,
    each the first rung only, with the run's env kwargs overridden."""
    spec = settings.get("transfer") or {}
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"eval.ladder.transfer={spec!r}; accepted: a mapping of names to env.kwargs, "
            "e.g. {krk: {start: krk}}"
        )
    ladders: dict[str, ChessLadder] = {}
    for name, overrides in spec.items():
        if not isinstance(overrides, Mapping) or not overrides:
            raise ValueError(
                f"eval.ladder.transfer.{name}={overrides!r}; accepted: env.kwargs to "
                "override, e.g. {start: krk}"
            )
        try:
            ladders[str(name)] = build({**env_kwargs, **overrides})
        except (TypeError, ValueError) as error:
            raise ValueError(f"eval.ladder.transfer.{name}: {error}") from None
    return ladders


def ladder_extra(config: Mapping[str, Any]) -> LadderExtra | None:
    """The ladder a run's ``eval.ladder`` asks for, built (so checked) now; None when it
    names no opponents.

    The games use the run's ``env.kwargs`` (but for the opponent), ``eval.seed`` and
    ``eval.n_envs``; ``eval.ladder`` holds ``opponents``, ``episodes`` (per rung),
    ``move_quality`` (``MoveQuality``'s fields; empty: not judged), ``pgns``,
    ``tablebase`` (``ChessLadder``'s) and ``transfer`` (``{name: env kwargs}``: the
    first rung in other positions, ``transfer/<name>/*``).
    """
    settings = config["eval"].get("ladder") or {}
    spec = list(settings.get("opponents") or [])
    if not spec:
        return None
    episodes = settings.get("episodes")
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"eval.ladder.episodes={episodes!r}; accepted: a positive integer")
    quality = settings.get("move_quality")
    rungs = parse_ladder(spec, where="eval.ladder.opponents")
    seed, n_envs = int(config["eval"]["seed"]), int(config["eval"]["n_envs"])
    env_kwargs = dict(config["env"]["kwargs"])
    ladder = ChessLadder(
        env_kwargs,
        rungs,
        episodes=episodes,
        seed=seed,
        n_envs=n_envs,
        move_quality=MoveQuality(**dict(quality)) if quality else None,
        pgns=int(settings.get("pgns", 2)),
        tablebase=settings.get("tablebase"),
    )

    def build(kwargs: Mapping[str, Any]) -> ChessLadder:
        return ChessLadder(kwargs, rungs[:1], episodes=episodes, seed=seed, n_envs=n_envs, pgns=0)

    return LadderExtra(ladder, _transfer(settings, env_kwargs, build))
