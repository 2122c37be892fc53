"""Tests of the chess opponents: legal play, their choices, Stockfish's life, the registry
(built-ins, entry points, ``module:attribute`` names; in a worker process too).

Stockfish is required (Debian's ``stockfish`` package, as in CI): without it these tests
fail, they do not skip.
"""

from __future__ import annotations

import functools
import importlib
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import chess
import numpy as np
import pytest
from stable_baselines3.common.vec_env import SubprocVecEnv

from envs.chess import (
    ChessEnv,
    EngineNotFoundError,
    EngineStoppedError,
    GreedyOpponent,
    Opponent,
    RandomOpponent,
    StockfishOpponent,
    find_stockfish,
    make_opponent,
    opponent_factory,
    opponents,
    register_opponent,
)
from envs.chess.opponents import OPPONENT_GROUP

# The module itself: in ``envs.chess`` the name ``opponents`` is the function.
REGISTRY = importlib.import_module("envs.chess.opponents")

MATE_IN_ONE = "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1"  # Ra8#
HANGING_QUEEN = "4k3/8/8/3q4/8/8/8/n2RK3 w - - 0 1"  # Rxd5 (9) or Rxa1 (3)
TWO_ROOKS = "4k3/8/2r1r3/8/3N4/8/8/7K w - - 0 1"  # Nxc6 or Nxe6, both 5


def self_play(opponent: Opponent, seed: int, plies: int) -> int:
    """``opponent`` plays both sides from a seeded random opening; checks every move."""
    rng = np.random.default_rng(seed)
    board = chess.Board()
    for _ in range(6):  # a different opening per seed
        board.push(list(board.legal_moves)[rng.integers(board.legal_moves.count())])
    opponent.reset(rng)
    played = 0
    while played < plies and not board.is_game_over():
        moves = list(board.legal_moves)
        move = opponent.choose(board, moves)
        assert move in moves, f"{opponent.name} played {move} in {board.fen()}"
        board.push(move)
        played += 1
    return played


STOCKFISH_SETTINGS = [
    {"depth": 1},
    {"depth": 1, "epsilon": 0.5},
    {"depth": 1, "skill_level": 0},
    {"depth": 1, "elo": 1350},
]


@pytest.mark.parametrize(
    "spec",
    [
        "random",
        "greedy",
        *({"name": "stockfish", **settings} for settings in STOCKFISH_SETTINGS),
    ],
    ids=["random", "greedy", "sf", "sf-epsilon", "sf-skill", "sf-elo"],
)
def test_opponents_play_only_legal_moves(spec: Any) -> None:
    opponent = make_opponent(spec)
    try:
        for seed in range(3):
            assert self_play(opponent, seed, plies=30) > 0
    finally:
        opponent.close()


class CheckedOpponent:
    """Wraps an opponent inside the env and checks each move it makes there."""

    def __init__(self, inner: Opponent) -> None:
        self.inner, self.name, self.moves = inner, inner.name, 0

    def reset(self, rng: np.random.Generator) -> None:
        self.inner.reset(rng)

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        assert set(moves) == set(board.legal_moves)
        move = self.inner.choose(board, moves)
        assert move in moves
        self.moves += 1
        return move

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("spec", ["greedy", {"name": "stockfish", "depth": 1}])
def test_opponents_inside_the_env(spec: Any) -> None:
    opponent = CheckedOpponent(make_opponent(spec))
    env = ChessEnv(start="random_opening", learner_color="random", opponent=opponent, max_plies=40)
    rng = np.random.default_rng(0)
    try:
        for seed in range(2):
            env.reset(seed=seed)
            done = False
            while not done:
                action = rng.choice(np.flatnonzero(env.action_masks()))
                *_, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()
    assert opponent.moves > 10


def test_epsilon_one_never_starts_the_engine() -> None:
    opponent = StockfishOpponent(epsilon=1.0)
    assert self_play(opponent, seed=0, plies=10) == 10
    assert opponent.engine is None


# -- what they choose -------------------------------------------------------------------------


def test_greedy_takes_the_hanging_queen() -> None:
    board = chess.Board(HANGING_QUEEN)
    greedy = GreedyOpponent()
    for seed in range(10):
        greedy.reset(np.random.default_rng(seed))
        assert greedy.choose(board, list(board.legal_moves)).uci() == "d1d5"


def test_greedy_breaks_ties_at_random() -> None:
    board = chess.Board(TWO_ROOKS)
    greedy = GreedyOpponent()
    chosen = set()
    for seed in range(20):
        greedy.reset(np.random.default_rng(seed))
        chosen.add(greedy.choose(board, list(board.legal_moves)).uci())
    assert chosen == {"d4c6", "d4e6"}


def test_greedy_prefers_promoting() -> None:
    board = chess.Board("4k3/P7/8/8/8/8/8/4K3 w - - 0 1")
    greedy = GreedyOpponent()
    greedy.reset(np.random.default_rng(0))
    assert greedy.choose(board, list(board.legal_moves)).uci() == "a7a8q"


def test_random_follows_the_envs_generator() -> None:
    board = chess.Board()
    moves = list(board.legal_moves)
    first, again = RandomOpponent(), RandomOpponent()
    first.reset(np.random.default_rng(3))
    again.reset(np.random.default_rng(3))
    assert [first.choose(board, moves) for _ in range(10)] == [
        again.choose(board, moves) for _ in range(10)
    ]


def test_stockfish_finds_mate_in_one() -> None:
    board = chess.Board(MATE_IN_ONE)
    opponent = StockfishOpponent(depth=1)
    try:
        assert opponent.choose(board, list(board.legal_moves)).uci() == "a1a8"
    finally:
        opponent.close()
    assert opponent.engine is None


# -- finding and running the engine -------------------------------------------------------


def test_bad_stockfish_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-stockfish")
    with pytest.raises(EngineNotFoundError, match="no-stockfish"):
        find_stockfish(missing)
    with pytest.raises(EngineNotFoundError, match="no-stockfish"):
        StockfishOpponent(path=missing)
    not_executable = tmp_path / "stockfish.txt"
    not_executable.write_text("not a program\n")
    with pytest.raises(EngineNotFoundError, match=re.escape("stockfish.txt")):
        make_opponent({"name": "stockfish", "path": str(not_executable)})


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("skill_level", 25),
        ("skill_level", -1),
        ("elo", 1000),
        ("elo", 3000),
        ("epsilon", 1.5),
        ("epsilon", float("nan")),
        ("depth", 0),
        ("time", 0.0),
    ],
)
def test_bad_stockfish_settings(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{setting}={value!r}"):
        StockfishOpponent(**{setting: value})


def test_stockfish_restarts_once_after_its_process_dies() -> None:
    board = chess.Board()
    opponent = StockfishOpponent(depth=1)
    try:
        opponent.choose(board, list(board.legal_moves))
        assert opponent.engine is not None
        pid = opponent.engine.transport.get_pid()
        os.kill(pid, signal.SIGKILL)
        board.push_uci("e2e4")
        move = opponent.choose(board, list(board.legal_moves))
        assert move in board.legal_moves
        assert opponent.restarts == 1
        assert opponent.engine.transport.get_pid() != pid
    finally:
        opponent.close()


@pytest.mark.parametrize("kind", ["script", "false"])
def test_an_engine_that_dies_at_once_raises(tmp_path: Path, kind: str) -> None:
    if kind == "script":
        path = tmp_path / "dies.sh"
        path.write_text("#!/bin/sh\nexit 3\n")
        path.chmod(0o755)
    else:
        path = Path(shutil.which("false") or "/bin/false")
    board = chess.Board()
    opponent = StockfishOpponent(path=str(path))
    with pytest.raises(EngineStoppedError, match="stopped twice") as caught:
        opponent.choose(board, list(board.legal_moves))
    assert str(path) in str(caught.value) and board.fen() in str(caught.value)
    assert opponent.restarts == 1 and opponent.engine is None


def test_env_with_stockfish_pickles_without_the_engine() -> None:
    env = ChessEnv(opponent={"name": "stockfish", "depth": 1}, learner_color="black")
    try:
        env.reset(seed=0)  # stockfish (white) moved: its engine runs
        assert env.opponent.engine is not None
        copy = pickle.loads(pickle.dumps(env))
        assert copy.opponent.engine is None
        assert copy.board.fen() == env.board.fen()
        action = int(np.flatnonzero(copy.action_masks())[0])
        *_, info = copy.step(action)  # the copy starts its own engine
        assert info["opponent_move"] is not None and copy.opponent.engine is not None
        copy.close()
    finally:
        env.close()


# -- the registry ----------------------------------------------------------------------------


def test_make_opponent_from_name_mapping_and_instance() -> None:
    assert isinstance(make_opponent("random"), RandomOpponent)
    assert isinstance(make_opponent("greedy"), GreedyOpponent)
    stockfish = make_opponent({"name": "stockfish", "depth": 3, "epsilon": 0.25})
    assert isinstance(stockfish, StockfishOpponent)
    assert stockfish.limit.depth == 3 and stockfish.epsilon == 0.25
    mine = GreedyOpponent()
    assert make_opponent(mine) is mine


def test_unknown_opponent_lists_the_accepted_names() -> None:
    with pytest.raises(ValueError, match="grandmaster") as caught:
        make_opponent("grandmaster")
    for name in ("random", "greedy", "stockfish", "policy"):
        assert name in str(caught.value)
    with pytest.raises(ValueError, match="accepted"):
        make_opponent({"depth": 3})  # no name


class FirstMove:
    """A user's opponent: always the first legal move."""

    name = "first"

    def __init__(self, last: bool = False) -> None:
        self.last = last

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        return moves[-1] if self.last else moves[0]

    def close(self) -> None:
        pass


def test_register_opponent(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = sys.modules["envs.chess.opponents"]
    # the registry as it was afterwards: other tests in this process list the opponents
    monkeypatch.setattr(registry, "_OPPONENTS", dict(registry._OPPONENTS))
    register_opponent("first_move_test", FirstMove)
    assert "first_move_test" in opponents()
    for spec, index in (("first_move_test", 0), ({"name": "first_move_test", "last": True}, -1)):
        env = ChessEnv(opponent=spec, learner_color="black")
        _, info = env.reset(seed=0)
        assert isinstance(env.opponent, FirstMove)
        assert info["opponent_move"] == list(chess.Board().legal_moves)[index].uci()


def test_declared_opponents_are_listed_and_loaded_on_first_use() -> None:
    # ours, declared in pyproject.toml's "incentives.opponents" table
    assert {"random", "greedy", "stockfish", "policy", "pool"} <= set(opponents())
    assert opponent_factory("policy").__name__ == "PolicyOpponent"
    assert opponent_factory("pool").__module__ == "incentives.domains.chess.selfplay"


def test_an_entry_point_names_an_opponent(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(
        "first_by_entry_point", "tests.envs.test_chess_opponents:FirstMove", OPPONENT_GROUP
    )
    monkeypatch.setattr(REGISTRY, "entry_points", lambda group: [point])
    monkeypatch.setattr(REGISTRY, "_OPPONENTS", dict(REGISTRY._OPPONENTS))
    REGISTRY._declared.cache_clear()
    try:
        assert "first_by_entry_point" in opponents()
        opponent = make_opponent({"name": "first_by_entry_point", "last": True})
        assert isinstance(opponent, FirstMove) and opponent.last
    finally:
        REGISTRY._declared.cache_clear()


def test_two_packages_claiming_one_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [EntryPoint("twice", f"pkg{k}.mod:Opponent", OPPONENT_GROUP) for k in (1, 2)]
    monkeypatch.setattr(REGISTRY, "entry_points", lambda group: points)
    REGISTRY._declared.cache_clear()
    try:
        with pytest.raises(ValueError, match="'twice' is declared twice"):
            opponents()
    finally:
        REGISTRY._declared.cache_clear()


def test_a_module_attribute_name_needs_no_registration() -> None:
    name = "tests.envs.test_chess_opponents:FirstMove"
    assert name not in opponents()
    env = ChessEnv(opponent={"name": name, "last": True}, learner_color="black")
    _, info = env.reset(seed=0)
    assert isinstance(env.opponent, FirstMove)
    assert info["opponent_move"] == list(chess.Board().legal_moves)[-1].uci()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_module_here:Opponent", "no module 'no_such_module_here'"),
        ("tests.envs.test_chess_opponents:Nobody", "has no 'Nobody'"),
        ("tests.envs.test_chess_opponents:", "has no ''"),
        (":FirstMove", "accepted: "),
    ],
)
def test_a_bad_module_attribute_name_lists_the_accepted(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        make_opponent(name)
    assert message in str(caught.value) and "random" in str(caught.value)


def test_a_module_that_fails_to_import_keeps_its_traceback(tmp_path: Path) -> None:
    """A missing dependency of the module named is a broken install, not a bad name."""
    (tmp_path / "broken_opponent_module.py").write_text("import not_installed_anywhere\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="not_installed_anywhere"):
            make_opponent("broken_opponent_module:Opponent")
    finally:
        sys.path.remove(str(tmp_path))


def test_a_worker_process_finds_opponents_by_name() -> None:
    """A subprocess worker builds its env from plain data: it imports what the names say."""
    spec = {"name": "tests.envs.test_chess_opponents:FirstMove", "last": True}
    factory = functools.partial(ChessEnv, opponent=spec, learner_color="black")
    venv = SubprocVecEnv([factory])  # forkserver where available: a fresh interpreter
    try:
        venv.reset()
        assert type(venv.get_attr("opponent")[0]).__name__ == "FirstMove"
        assert venv.get_attr("board")[0].move_stack == [list(chess.Board().legal_moves)[-1]]
    finally:
        venv.close()


def test_the_envs_load_nothing_of_ours_and_no_learner() -> None:
    """``envs`` stands alone: no ``incentives``, ``agents``, stable-baselines3 or torch."""
    script = """
import sys
import gymnasium as gym
import envs
from envs.chess import make_opponent, opponents
for opponent in ("random", "greedy", {"name": "stockfish", "depth": 1}):
    env = gym.make("incentives/Chess-v0", start="kqk", opponent=opponent, max_plies=10)
    env.reset(seed=0)
    env.close()
opponents()
roots = {name.split(".")[0] for name in sys.modules}
print(sorted(roots & {"incentives", "agents", "stable_baselines3", "sb3_contrib", "torch"}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stderr
