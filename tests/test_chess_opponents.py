"""Tests of the chess opponents: legal play, their choices, Stockfish's life, the registry.

Stockfish is required (Debian's ``stockfish`` package, as in CI): without it these tests
fail, they do not skip.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import chess
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.chess import (
    ChessEnv,
    EngineNotFoundError,
    EngineStoppedError,
    GreedyOpponent,
    Opponent,
    PolicyOpponent,
    RandomOpponent,
    StockfishOpponent,
    board_planes,
    find_stockfish,
    legal_actions,
    make_opponent,
    opponents,
    register_opponent,
)
from envs.chess.opponents import DEBIAN_STOCKFISH

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


def test_find_stockfish() -> None:
    path = find_stockfish()
    assert os.access(path, os.X_OK)
    assert path in (shutil.which("stockfish"), DEBIAN_STOCKFISH)


def test_find_stockfish_falls_back_to_debian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_stockfish() == DEBIAN_STOCKFISH


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


def test_register_opponent() -> None:
    register_opponent("first_move_test", FirstMove)
    assert "first_move_test" in opponents()
    for spec, index in (("first_move_test", 0), ({"name": "first_move_test", "last": True}, -1)):
        env = ChessEnv(opponent=spec, learner_color="black")
        _, info = env.reset(seed=0)
        assert isinstance(env.opponent, FirstMove)
        assert info["opponent_move"] == list(chess.Board().legal_moves)[index].uci()


# -- a saved agent as the opponent --------------------------------------------------------


@pytest.fixture(scope="module")
def saved_policy(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An untrained MaskablePPO on KQK, saved: enough to play legal moves."""
    venv = DummyVecEnv([lambda: ChessEnv(start="kqk", max_plies=20)])
    model = MaskablePPO(
        "MlpPolicy",
        venv,
        n_steps=16,
        batch_size=16,
        policy_kwargs={"net_arch": [16]},
        device="cpu",
        seed=0,
    )
    path = tmp_path_factory.mktemp("policy") / "policy.zip"
    model.save(path)
    return str(path)


def test_policy_opponent_plays_legal_moves(saved_policy: str) -> None:
    spec = {"name": "policy", "path": saved_policy}
    opponent = CheckedOpponent(make_opponent(spec))
    env = ChessEnv(start="kqk", max_plies=20, opponent=opponent, learner_color="random")
    rng = np.random.default_rng(0)
    for seed in range(3):
        env.reset(seed=seed)
        done = False
        while not done:
            *_, terminated, truncated, _ = env.step(rng.choice(np.flatnonzero(env.action_masks())))
            done = terminated or truncated
    assert opponent.moves > 5
    assert opponent.inner.maskable  # the masked prediction, not the random fallback


def test_deterministic_policy_opponent_plays_the_models_masked_choice(saved_policy: str) -> None:
    opponent = make_opponent({"name": "policy", "path": saved_policy, "deterministic": True})
    assert isinstance(opponent, PolicyOpponent)
    model = MaskablePPO.load(saved_policy, device="cpu")
    for fen in ("4k3/8/8/8/8/8/8/Q3K3 b - - 0 1", "4k3/8/8/8/8/8/8/Q3K3 w - - 0 1"):
        board = chess.Board(fen)
        moves = list(board.legal_moves)
        by_action = legal_actions(board, moves)
        mask = np.zeros(4672, dtype=bool)
        mask[list(by_action)] = True
        action, _ = model.predict(board_planes(board), action_masks=mask, deterministic=True)
        assert opponent.choose(board, moves) == by_action[int(action)]
    env = ChessEnv(opponent=opponent)
    assert pickle.loads(pickle.dumps(env)).opponent.model is None  # the model is not pickled


def test_policy_opponent_needs_a_saved_agent(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("nothing.zip")):
        make_opponent({"name": "policy", "path": str(tmp_path / "nothing.zip")})
