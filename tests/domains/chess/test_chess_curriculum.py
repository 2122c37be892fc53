"""The start-position curriculum: mate-in-n endgames, the env's curriculum, the callback.

Generated positions are checked by a small brute-force solver written here (every move,
every reply, python-chess only) and, for mate in 3, by Stockfish; the callback trains a
real MaskablePPO on wrapped envs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chess
import chess.engine
import chess.pgn
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.chess import ChessEnv, encode_move, find_stockfish
from envs.chess.starts import ENDGAMES, mating_move, random_endgame
from incentives.domains.chess.curriculum import Curriculum, CurriculumCallback, CurriculumStage

# ---------------------------------------------------------------------------------------
# An independent solver: no pruning, no move ordering, no bitboards.


def forced_mate(board: chess.Board, n: int) -> bool:
    """Whether the side to move mates within ``n`` moves whatever the replies."""
    for move in list(board.legal_moves):
        board.push(move)
        if board.is_checkmate():
            wins = True
        elif n == 1:
            wins = False
        else:
            replies = list(board.legal_moves)
            wins = bool(replies)  # no reply and no mate: stalemate
            for reply in replies:
                board.push(reply)
                wins = forced_mate(board, n - 1)
                board.pop()
                if not wins:
                    break
        board.pop()
        if wins:
            return True
    return False


def has_mate_in_one(board: chess.Board) -> bool:
    """Some legal move checkmates (tried on a copy, move by move)."""
    for move in board.legal_moves:
        after = board.copy(stack=False)
        after.push(move)
        if after.is_checkmate():
            return True
    return False


def check_endgame(board: chess.Board, kind: str, learner: chess.Color) -> None:
    """A legal, unfinished position of ``kind``, the learner to move."""
    assert board.is_valid() and not board.is_game_over() and board.turn == learner
    mine = {board.piece_type_at(s) for s in chess.SquareSet(board.occupied_co[learner])}
    assert mine == {chess.KING, ENDGAMES[kind]} and len(board.piece_map()) == 3
    assert chess.popcount(board.occupied_co[not learner] & board.kings) == 1


# ---------------------------------------------------------------------------------------
# The generator and the search


@pytest.mark.parametrize("kind", ["kqk", "krk", "kpk"])
@pytest.mark.parametrize("learner", [chess.WHITE, chess.BLACK])
def test_mate_in_one_positions(kind: str, learner: chess.Color) -> None:
    rng = np.random.default_rng(1)
    for _ in range(8):
        board = random_endgame(rng, kind, learner, mate_in=1)
        fen = board.fen()
        check_endgame(board, kind, learner)
        assert has_mate_in_one(board)
        move = mating_move(board, 1)
        assert board.fen() == fen and move in board.legal_moves
        board.push(move)
        assert board.is_checkmate()


@pytest.mark.parametrize("kind", ["kqk", "krk"])
def test_mate_in_two_positions_by_brute_force(kind: str) -> None:
    rng = np.random.default_rng(2)
    for _ in range(3):
        board = random_endgame(rng, kind, chess.BLACK, mate_in=2)
        check_endgame(board, kind, chess.BLACK)
        assert forced_mate(board, 2)


def test_search_agrees_with_brute_force() -> None:
    """Near-mate positions, both answers: the bare king on or next to an edge, the kings
    close."""
    rng = np.random.default_rng(3)
    near_edge = [s for s in chess.SQUARES if min(chess.square_file(s), chess.square_rank(s),
                 7 - chess.square_file(s), 7 - chess.square_rank(s)) <= 1]  # fmt: skip
    found = {1: 0, 2: 0}
    checked = 0
    while checked < 24:
        kind = ("kqk", "krk", "kpk")[checked % 3]
        bare = int(rng.choice(near_edge))
        king = int(rng.choice([s for s in chess.SQUARES if chess.square_distance(s, bare) == 2]))
        board = chess.Board(None)
        board.set_piece_at(king, chess.Piece(chess.KING, chess.WHITE))
        board.set_piece_at(int(rng.integers(64)), chess.Piece(ENDGAMES[kind], chess.WHITE))
        board.set_piece_at(bare, chess.Piece(chess.KING, chess.BLACK))
        if len(board.piece_map()) < 3 or not board.is_valid() or board.is_game_over():
            continue
        checked += 1
        for n in (1, 2):
            mate = forced_mate(board, n)
            assert (mating_move(board, n) is not None) == mate, (board.fen(), n)
            found[n] += mate
    assert found[1] and found[2] > found[1]  # both answers were tested


def test_known_positions() -> None:
    assert mating_move(chess.Board("6k1/8/6K1/8/8/8/8/R7 w - - 0 1"), 1) == chess.Move.from_uci(
        "a1a8"
    )
    # no mate in 1; mate in 2 by a quiet king move: Kc7 Ka7 Ra1#
    boxed = chess.Board("k7/8/2K5/8/8/8/8/1R6 w - - 0 1")
    assert mating_move(boxed, 1) is None
    assert mating_move(boxed, 2) == chess.Move.from_uci("c6c7")
    # mate in 3, not in 2
    far = chess.Board("k7/8/K7/8/8/8/8/1R6 w - - 0 1")
    assert mating_move(far, 2) is None and mating_move(far, 3) is not None
    # Qc7 leaves no reply but stalemates; Qc8 mates
    trap = chess.Board("k7/8/1K6/8/8/8/8/2Q5 w - - 0 1")
    move = mating_move(trap, 1)
    assert move is not None
    trap.push(move)
    assert trap.is_checkmate()


def test_mate_in_three_by_stockfish() -> None:
    rng = np.random.default_rng(4)
    with chess.engine.SimpleEngine.popen_uci(find_stockfish()) as engine:
        for kind in ("kqk", "krk"):
            board = random_endgame(rng, kind, chess.WHITE, mate_in=3)
            info = engine.analyse(board, chess.engine.Limit(mate=3), game=object())
            mate = info["score"].relative.mate()
            assert mate is not None and 1 <= mate <= 3, (board.fen(), info["score"])


def test_generation_is_seeded() -> None:
    def fens(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [random_endgame(rng, "krk", chess.WHITE, mate_in=2).fen() for _ in range(4)]

    assert fens(5) == fens(5) and fens(5) != fens(6)


@pytest.mark.parametrize("mate_in", [0, 4, True])
def test_random_endgame_rejects_bad_depth(mate_in: int) -> None:
    with pytest.raises(ValueError, match=r"^mate_in=.*; accepted: None or an integer from 1 to 3$"):
        random_endgame(np.random.default_rng(0), "kqk", chess.WHITE, mate_in=mate_in)


def test_plain_endgames_unchanged() -> None:
    """Without ``mate_in``, the same positions as before the curriculum existed."""
    rng = np.random.default_rng(0)
    assert [random_endgame(rng, "kqk", chess.WHITE).fen() for _ in range(2)] == [
        "8/4k3/K7/Q7/8/8/8/8 w - - 0 1",
        "1k6/8/K7/Q7/8/8/8/8 w - - 0 1",
    ]


# ---------------------------------------------------------------------------------------
# The env


def test_env_serves_mate_in_one() -> None:
    env = ChessEnv(start="kqk", learner_color="random", mate_in=1)
    for k in range(8):
        _, info = env.reset(seed=k)
        assert info["curriculum"] is True
        check_endgame(env.board, "kqk", env.learner)
        assert has_mate_in_one(env.board)


def test_env_fraction_zero_is_the_plain_env() -> None:
    plain = ChessEnv(start="krk", learner_color="random", max_plies=6)
    idle = ChessEnv(start="krk", learner_color="random", max_plies=6, mate_in=2,
                    mate_in_fraction=0.0)  # fmt: skip
    for env in (plain, idle):
        env.reset(seed=11)
    for _ in range(6):
        (obs_a, info_a), (obs_b, info_b) = plain.reset(), idle.reset()
        assert info_a == info_b and info_b["curriculum"] is False
        assert np.array_equal(obs_a, obs_b)
        done = False
        while not done:  # the same opponent replies too: one random stream
            action = int(np.flatnonzero(plain.action_masks())[0])
            obs_a, reward_a, term, trunc, info_a = plain.step(action)
            obs_b, reward_b, *_, info_b = idle.step(action)
            assert info_a == info_b and reward_a == reward_b
            done = term or trunc
    assert info_b["curriculum"] is False and "Curriculum" not in info_b["pgn"]
    _, info = ChessEnv(start="kqk").reset(seed=0)
    assert info["fen"] == "8/4k3/K7/Q7/8/8/8/8 w - - 0 1"  # as before the curriculum


def test_env_fraction_mixes() -> None:
    env = ChessEnv(start="kqk", mate_in=1, mate_in_fraction=0.5)
    env.reset(seed=0)
    served = [env.reset()[1]["curriculum"] for _ in range(40)]
    assert 8 <= sum(served) <= 32


def test_set_curriculum_takes_effect_at_next_reset() -> None:
    env = ChessEnv(start="krk", max_plies=20)
    _, info = env.reset(seed=3)
    assert info["curriculum"] is False
    fen = env.board.fen()
    env.set_curriculum(1, 1.0)
    assert env.board.fen() == fen  # the game under way is untouched
    env.step(int(np.flatnonzero(env.action_masks())[0]))
    _, info = env.reset()
    assert info["curriculum"] is True and has_mate_in_one(env.board)
    move = mating_move(env.board, 1)
    assert move is not None
    *_, terminated, _, info = env.step(encode_move(env.board, move))
    assert terminated and info["outcome"] == "win" and info["curriculum"] is True
    game = chess.pgn.read_game(io.StringIO(info["pgn"]))
    assert game is not None and game.headers["Curriculum"] == "mate_in=1"
    assert game.end().board().is_checkmate()
    env.set_curriculum(None, 1.0)
    assert env.reset()[1]["curriculum"] is False


def test_env_with_curriculum_passes_check_env() -> None:
    env = ChessEnv(start="krk", mate_in=2, mate_in_fraction=0.5, illegal_action="lose")
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mate_in": 0}, "chess mate_in=0; accepted: null or an integer from 1 to 3"),
        ({"mate_in": 4}, "chess mate_in=4; accepted: null or an integer from 1 to 3"),
        ({"mate_in": 1.5}, "chess mate_in=1.5; accepted: null or an integer from 1 to 3"),
        ({"mate_in": True}, "chess mate_in=True; accepted: null or an integer from 1 to 3"),
        (
            {"mate_in": 1, "start": "standard"},
            "chess mate_in=1 with start='standard'; accepted: mate_in=null, or start kqk, krk, kpk",
        ),
        (
            {"mate_in": 1, "mate_in_fraction": 1.5},
            "chess mate_in_fraction=1.5; accepted: a number from 0 to 1",
        ),
        (
            {"mate_in_fraction": -0.1},
            "chess mate_in_fraction=-0.1; accepted: a number from 0 to 1",
        ),
    ],
)
def test_bad_curriculum_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        ChessEnv(**{"start": "kqk", **kwargs})
    assert str(error.value) == message
    env = ChessEnv(start=kwargs.get("start", "kqk"))
    with pytest.raises(ValueError) as error:
        env.set_curriculum(kwargs.get("mate_in"), kwargs.get("mate_in_fraction", 1.0))
    assert str(error.value) == message


# ---------------------------------------------------------------------------------------
# The schedule and the callback


def test_curriculum_from_config() -> None:
    curriculum = Curriculum.from_config(
        [{"until": 100, "mate_in": 1, "fraction": 0.5}, {"until": 3e2, "mate_in": 2}]
    )
    assert curriculum.stages == (CurriculumStage(100, 1, 0.5), CurriculumStage(300, 2, 1.0))
    assert [curriculum.at(t) for t in (0, 99, 100, 299, 300)] == [
        (1, 0.5), (1, 0.5), (2, 1.0), (2, 1.0), (None, 0.0)
    ]  # fmt: skip
    assert not Curriculum.from_config(None) and not Curriculum.from_config([])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("mate_in_1", "curriculum='mate_in_1'; accepted: a list of stages"),
        ([{"until": 10, "mate_in": 1, "fraktion": 1}],
         "curriculum[0] has unknown key 'fraktion'; accepted: until, mate_in, fraction"),
        ([{"mate_in": 1}], "curriculum[0] has no 'until'"),
        ([{"until": 0, "mate_in": 1}], "curriculum[0].until=0; accepted: an integer timestep "
         "greater than 0"),
        ([{"until": 10, "mate_in": 1}, {"until": 10, "mate_in": 2}],
         "curriculum[1].until=10; accepted: an integer timestep greater than the previous "
         "stage's until (10)"),
        ([{"until": 10, "mate_in": 0}], "curriculum[0].mate_in=0; accepted: null or an "
         "integer from 1 to 3"),
        ([{"until": 10, "mate_in": 1, "fraction": 2}],
         "curriculum[0].fraction=2; accepted: a number from 0 to 1"),
        (["x"], "curriculum[0]='x'; accepted: a mapping"),
    ],
)  # fmt: skip
def test_bad_curriculum_config(config: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)) as error:
        Curriculum.from_config(config)
    assert "\n" not in str(error.value)


class CountingChessEnv(ChessEnv):
    """A ``ChessEnv`` that counts the calls of ``set_curriculum``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.curriculum_calls: list[tuple[int | None, float]] = []

    def set_curriculum(self, mate_in: int | None, fraction: float = 1.0) -> None:
        self.curriculum_calls.append((mate_in, fraction))
        super().set_curriculum(mate_in, fraction)


class EpisodeLog(BaseCallback):
    """Notes, per rollout, the inner envs' curriculum, and each finished episode's flag with
    the stage its env had when it started."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[tuple[int, list[Any]]] = []
        self.episodes: list[tuple[tuple[int | None, float], bool]] = []
        self.stage: tuple[int | None, float] = (None, 0.0)
        self.started: list[tuple[int | None, float]] = []

    def _on_training_start(self) -> None:
        self.started = [self.current() for _ in range(self.training_env.num_envs)]

    def current(self) -> tuple[int | None, float]:
        """The curriculum of the first env (through its wrappers)."""
        env = self.training_env
        return env.get_attr("mate_in", [0])[0], env.get_attr("mate_in_fraction", [0])[0]

    def _on_rollout_start(self) -> None:
        self.stage = self.current()
        self.rollouts.append((self.model.num_timesteps, self.training_env.get_attr("mate_in")))

    def _on_step(self) -> bool:
        for i in np.flatnonzero(self.locals["dones"]).tolist():
            self.episodes.append((self.started[i], self.locals["infos"][i]["curriculum"]))
            self.started[i] = self.stage  # DummyVecEnv reset it within this step
        return True


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread: a tiny model on a shared machine is faster so."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_torch_thread")
def test_callback_applies_stages_through_wrappers(tmp_path: Path) -> None:
    def make() -> gym.Env[Any, Any]:
        env = CountingChessEnv(start="kqk", max_plies=8)
        return Monitor(gym.wrappers.RecordEpisodeStatistics(env))

    venv = DummyVecEnv([make, make])
    inner = [env.unwrapped for env in venv.envs if isinstance(env.unwrapped, CountingChessEnv)]
    assert len(inner) == 2 and all(isinstance(env, Monitor) for env in venv.envs)
    model = MaskablePPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0,
                        policy_kwargs={"net_arch": [16]}, device="cpu")  # fmt: skip
    model.set_logger(configure(str(tmp_path), ["csv"]))
    curriculum = Curriculum.from_config(
        [{"until": 128, "mate_in": 1, "fraction": 1.0}, {"until": 192, "mate_in": 2,
          "fraction": 0.5}]
    )  # fmt: skip
    callback, log = CurriculumCallback(curriculum), EpisodeLog()
    callback.init_callback(model)  # before learn, so the first episodes follow stage 0
    model.learn(total_timesteps=256, callback=[callback, log])

    assert log.rollouts == [(0, [1, 1]), (64, [1, 1]), (128, [2, 2]), (192, [None, None])]
    for env in inner:
        assert env.curriculum_calls == [(1, 1.0), (2, 0.5), (None, 0.0)]  # at changes only
    with (tmp_path / "progress.csv").open() as file:
        rows = list(csv.DictReader(file))
    logged = [
        (int(row["time/total_timesteps"]), float(row["curriculum/mate_in"]),
         float(row["curriculum/fraction"])) for row in rows
    ]  # fmt: skip
    assert logged == [(64, 1, 1.0), (128, 1, 1.0), (192, 2, 0.5), (256, 0, 0.0)]
    # each finished game says whether it started from a curriculum position
    assert log.episodes
    for (mate_in, fraction), served in log.episodes:
        if mate_in is None:
            assert not served
        elif fraction == 1.0:
            assert served
    stages = {stage for stage, _ in log.episodes}
    assert (1, 1.0) in stages and (None, 0.0) in stages
