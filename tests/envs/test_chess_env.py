"""Tests of ``incentives/Chess-v0``: API checks, observation planes, endings, events, starts."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import chess
import chess.pgn
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import envs  # noqa: F401 - registers incentives/Chess-v0
from envs.chess import (
    N_ACTIONS,
    TERMINATIONS,
    ChessEnv,
    FenFileError,
    board_planes,
    encode_move,
    legal_action_mask,
    load_fens,
)

STEP_EVENTS = (
    "learner_move",
    "opponent_move",
    "captured_by_learner",
    "captured_by_opponent",
    "gave_check",
    "material_balance",
    "ply",
)
END_EVENTS = ("outcome", "termination", "pgn")


class ScriptedOpponent:
    """Plays the given UCI moves in order; fails the test if one is not legal."""

    name = "scripted"

    def __init__(self, moves: Iterable[str]) -> None:
        self.script = list(moves)
        self.played = 0

    def reset(self, rng: np.random.Generator) -> None:
        self.played = 0

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        move = chess.Move.from_uci(self.script[self.played])
        assert move in moves, f"scripted {move} is not legal in {board.fen()}"
        assert set(moves) == set(board.legal_moves)
        self.played += 1
        return move

    def close(self) -> None:
        pass


def fen_env(tmp_path: Path, fen: str, script: Iterable[str] = (), **kwargs: Any) -> ChessEnv:
    """A ChessEnv that starts from ``fen``, the learner the side to move."""
    path = tmp_path / "start.fen"
    path.write_text(fen + "\n")
    kwargs.setdefault("learner_color", "to_move")
    return ChessEnv(
        start="fen_file", fen_file=str(path), opponent=ScriptedOpponent(script), **kwargs
    )


def act(env: ChessEnv, uci: str) -> tuple[Any, ...]:
    """Step ``env`` with the action of ``uci``, checking the mask allows it."""
    action = encode_move(env.board, chess.Move.from_uci(uci))
    assert env.action_masks()[action], f"{uci} is masked in {env.board.fen()}"
    return env.step(action)


def random_legal(env: ChessEnv, rng: np.random.Generator) -> int:
    return int(rng.choice(np.flatnonzero(env.action_masks())))


def check_final_pgn(info: dict[str, Any], board: chess.Board) -> chess.pgn.Game:
    """The PGN of ``info`` parses and replays to ``board``."""
    game = chess.pgn.read_game(io.StringIO(info["pgn"]))
    assert game is not None and not game.errors
    assert game.end().board().fen() == board.fen()
    return game


# -- API checks ---------------------------------------------------------------------------
# Both checkers step with unmasked samples of the action space, nearly always illegal
# moves: the env as registered (illegal_action="lose") ends the game instead of raising.


def test_gymnasium_check_env_on_the_registered_env() -> None:
    check_env(gym.make("incentives/Chess-v0").unwrapped, skip_render_check=True)


def test_sb3_check_env_on_the_registered_env() -> None:
    sb3_check_env(gym.make("incentives/Chess-v0"), warn=False)


def test_an_unmasked_random_step_of_the_registered_env_ends_the_game_as_a_loss() -> None:
    env = gym.make("incentives/Chess-v0")
    env.reset(seed=0)
    legal = set(np.flatnonzero(env.unwrapped.action_masks()).tolist())
    illegal = next(a for a in range(4672) if a not in legal)
    _, score, terminated, _, info = env.step(illegal)
    assert (score, terminated, info["termination"], info["outcome"]) == (
        0.0, True, "illegal_move", "loss",
    )  # fmt: skip


def test_gymnasium_make_after_import_envs() -> None:
    env = gym.make("incentives/Chess-v0", start="krk", max_plies=30)
    obs, info = env.reset(seed=3)
    assert obs.shape == (19, 8, 8) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    mask = env.unwrapped.action_masks()
    _, reward, terminated, truncated, info = env.step(int(np.flatnonzero(mask)[0]))
    assert set(STEP_EVENTS) <= set(info)
    assert reward == 0.0 and not terminated and not truncated
    env.close()


# -- observation planes ---------------------------------------------------------------------


def test_planes_of_the_start_position() -> None:
    planes = board_planes(chess.Board())
    assert planes.shape == (19, 8, 8) and planes.dtype == np.uint8
    assert planes[0][1].all() and planes[0].sum() == 8  # own pawns on the 2nd rank
    assert planes[6][6].all() and planes[6].sum() == 8  # theirs on the 7th
    assert planes[5][0, 4] == 1 and planes[11][7, 4] == 1  # kings on e1, e8
    assert planes[3][0, 0] == planes[3][0, 7] == 1 and planes[3].sum() == 2
    assert planes[12:16].all()
    assert not planes[16:].any()


def test_planes_for_black_are_in_the_movers_frame() -> None:
    # White just played e2e4 past the black pawn on d4, which may take on e3 en passant.
    board = chess.Board("rnbqkbnr/ppp1pppp/8/8/3pP3/8/PPPP1PPP/RNBQKBNR b KQkq e3 0 3")
    planes = board_planes(board)
    own_pawns = np.zeros((8, 8), dtype=np.uint8)
    own_pawns[1] = 1
    own_pawns[1, 3] = 0
    own_pawns[4, 3] = 1  # d4 is rank index 3 → mirrored row 4
    np.testing.assert_array_equal(planes[0], own_pawns)  # black's pawns, seen from below
    assert planes[5][0, 4] == 1 and planes[5].sum() == 1  # own king e8 → row 0
    assert planes[4][0, 3] == 1  # own queen d8 → row 0, file d
    their_pawns = np.zeros((8, 8), dtype=np.uint8)
    their_pawns[6] = 1
    their_pawns[6, 4] = 0
    their_pawns[4, 4] = 1  # e4 is rank index 3 → mirrored row 4
    np.testing.assert_array_equal(planes[6], their_pawns)
    assert planes[11][7, 4] == 1  # their king e1 → row 7
    assert planes[16][5, 4] == 1 and planes[16].sum() == 1  # e3 → row 5
    # The same position with colours swapped and the board flipped looks the same.
    np.testing.assert_array_equal(planes, board_planes(board.mirror()))


@pytest.mark.parametrize(
    ("fen", "rights"),
    [
        ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", (1, 1, 1, 1)),
        ("r3k2r/8/8/8/8/8/8/R3K2R w Kq - 0 1", (1, 0, 0, 1)),
        ("r3k2r/8/8/8/8/8/8/R3K2R b Kq - 0 1", (0, 1, 1, 0)),
        ("r3k2r/8/8/8/8/8/8/R3K2R b Q - 0 1", (0, 0, 0, 1)),
        ("r3k2r/8/8/8/8/8/8/R3K2R w - - 0 1", (0, 0, 0, 0)),
    ],
)
def test_castling_planes(fen: str, rights: tuple[int, ...]) -> None:
    planes = board_planes(chess.Board(fen))
    for plane, held in zip(planes[12:16], rights, strict=True):
        assert (plane == held).all()


def test_en_passant_plane() -> None:
    planes = board_planes(chess.Board("4k3/8/8/3pP3/8/8/8/4K3 w - d6 0 2"))
    assert planes[16][5, 3] == 1 and planes[16].sum() == 1  # d6
    planes = board_planes(chess.Board("4k3/8/8/8/3pP3/8/8/4K3 b - e3 0 1"))
    assert planes[16][5, 4] == 1 and planes[16].sum() == 1  # e3 from black's side: e6


@pytest.mark.parametrize(("clock", "plane"), [(0, 0), (37, 37), (99, 99), (300, 255)])
def test_halfmove_clock_plane(clock: int, plane: int) -> None:
    planes = board_planes(chess.Board(f"4k3/8/8/8/8/8/8/R3K3 w - - {clock} 200"))
    assert (planes[18] == plane).all()


@pytest.mark.parametrize("clock", [0, 30])  # 30: a twofold repetition must not end it
def test_repetition_plane_and_threefold_repetition(tmp_path: Path, clock: int) -> None:
    shuffle = ["g8f6", "f6g8", "g8f6", "f6g8"]
    fen = chess.STARTING_FEN.replace(" 0 1", f" {clock} 20")
    env = fen_env(tmp_path, fen, shuffle)
    obs, _ = env.reset(seed=0)
    assert not obs[17].any()
    seen = []
    for uci in ("g1f3", "f3g1", "g1f3", "f3g1"):
        obs, reward, terminated, truncated, info = act(env, uci)
        seen.append(int(obs[17].max()))
        assert (obs[17] == obs[17][0, 0]).all()
    # After 2, 4, 6, 8 plies: new, start position again, Nf3 Nf6 again, start a third time.
    assert seen == [0, 1, 1, 2]
    assert terminated and not truncated and reward == 0.5
    assert info["termination"] == "repetition" and info["outcome"] == "draw"


# -- how a game ends ---------------------------------------------------------------------


def test_checkmate_by_the_learner_is_a_win(tmp_path: Path) -> None:
    env = fen_env(tmp_path, "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = act(env, "a1a8")
    assert (terminated, truncated, reward) == (True, False, 1.0)
    assert info["termination"] == "checkmate" and info["outcome"] == "win"
    assert info["gave_check"] is True and info["opponent_move"] is None
    game = check_final_pgn(info, env.board)
    assert game.headers["Result"] == "1-0" and game.headers["White"] == "learner"


def test_checkmate_by_the_opponent_is_a_loss(tmp_path: Path) -> None:
    env = fen_env(tmp_path, "6k1/r7/8/8/8/8/1P3PPP/6K1 w - - 0 1", ["a7a1"])
    env.reset(seed=0)
    _, reward, terminated, truncated, info = act(env, "b2b3")
    assert (terminated, truncated, reward) == (True, False, 0.0)
    assert info["termination"] == "checkmate" and info["outcome"] == "loss"
    assert info["opponent_move"] == "a7a1"
    assert check_final_pgn(info, env.board).headers["Result"] == "0-1"


def test_black_learner_wins_and_loses_by_checkmate() -> None:
    # Fool's mate, the learner black: white (the opponent) moves first, in reset.
    env = ChessEnv(learner_color="black", opponent=ScriptedOpponent(["f2f3", "g2g4"]))
    obs, info = env.reset(seed=0)
    assert info["opponent_move"] == "f2f3" and info["ply"] == 1
    assert info["learner_color"] == "black" and env.board.turn == chess.BLACK
    assert obs[0][1].all()  # black's pawns seen from its own side
    _, reward, terminated, _, info = act(env, "e7e5")
    assert (reward, terminated, info["ply"]) == (0.0, False, 3)
    _, reward, terminated, _, info = act(env, "d8h4")
    assert (reward, terminated, info["outcome"], info["termination"]) == (
        1.0,
        True,
        "win",
        "checkmate",
    )
    game = check_final_pgn(info, env.board)
    assert game.headers["Result"] == "0-1" and game.headers["Black"] == "learner"

    env = ChessEnv(learner_color="black", opponent=ScriptedOpponent(["e2e4", "d2d3", "d1h5"]))
    env.reset(seed=0)
    act(env, "f7f6")
    _, reward, terminated, _, info = act(env, "g7g5")
    assert (reward, terminated, info["outcome"]) == (0.0, True, "loss")
    assert check_final_pgn(info, env.board).headers["Result"] == "1-0"


def test_stalemate_is_a_draw(tmp_path: Path) -> None:
    env = fen_env(tmp_path, "7k/8/8/6Q1/8/8/8/6K1 w - - 0 1")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = act(env, "g5g6")
    assert (reward, terminated, truncated) == (0.5, True, False)
    assert info["termination"] == "stalemate" and info["outcome"] == "draw"
    assert check_final_pgn(info, env.board).headers["Result"] == "1/2-1/2"


def test_capturing_the_last_piece_ends_in_insufficient_material(tmp_path: Path) -> None:
    env = fen_env(tmp_path, "4k3/8/8/8/8/2r5/8/1N2K3 w - - 0 1")
    _, info = env.reset(seed=0)
    assert info["material_balance"] == 3 - 5
    _, reward, terminated, _, info = act(env, "b1c3")
    assert info["captured_by_learner"] == 5  # a rook
    assert info["material_balance"] == 3
    assert (reward, terminated, info["termination"]) == (0.5, True, "insufficient_material")


def test_fifty_moves(tmp_path: Path) -> None:
    env = fen_env(tmp_path, "4k3/8/8/8/8/8/8/R3K3 w - - 99 80")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = act(env, "a1a2")
    assert (reward, terminated, truncated) == (0.5, True, False)
    assert info["termination"] == "fifty_moves"


def test_max_plies_truncates() -> None:
    env = ChessEnv(max_plies=4)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    _, reward, terminated, truncated, info = env.step(random_legal(env, rng))
    assert (reward, terminated, truncated, info["ply"]) == (0.0, False, False, 2)
    _, reward, terminated, truncated, info = env.step(random_legal(env, rng))
    assert (reward, terminated, truncated) == (0.5, False, True)
    assert info["termination"] == "max_plies" and info["outcome"] == "draw"
    # scored as a draw, but the PGN says what it is: an unfinished game
    assert check_final_pgn(info, env.board).headers["Result"] == "*"


def test_odd_max_plies_ends_after_the_learner_move() -> None:
    env = ChessEnv(max_plies=3)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    env.step(random_legal(env, rng))
    _, _, terminated, truncated, info = env.step(random_legal(env, rng))
    assert (terminated, truncated, info["ply"], info["opponent_move"]) == (False, True, 3, None)


def test_illegal_action_lose() -> None:
    env = ChessEnv(illegal_action="lose")
    env.reset(seed=0)
    action = 12 * 73 + 2  # e2e5: N, distance 3
    assert not env.action_masks()[action]
    _, reward, terminated, truncated, info = env.step(action)
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["illegal_action"] is True and info["learner_move"] == "e2e5"
    assert info["termination"] == "illegal_move" and info["outcome"] == "loss"
    assert check_final_pgn(info, env.board).headers["Result"] == "0-1"


def test_illegal_action_raise_names_the_action_the_move_and_the_fen() -> None:
    env = ChessEnv(illegal_action="raise")
    env.reset(seed=0)
    fen = env.board.fen()
    with pytest.raises(ValueError, match="e2e5") as caught:
        env.step(12 * 73 + 2)
    assert str(12 * 73 + 2) in str(caught.value) and fen in str(caught.value)


def test_every_termination_reason_is_listed() -> None:
    assert set(TERMINATIONS) == {
        "checkmate",
        "stalemate",
        "insufficient_material",
        "repetition",
        "fifty_moves",
        "max_plies",
        "illegal_move",
    }


def test_stepping_after_the_end_raises(tmp_path: Path) -> None:
    env = fen_env(tmp_path, "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1")
    env.reset(seed=0)
    act(env, "a1a8")
    assert not env.action_masks().any()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


# -- events -------------------------------------------------------------------------------


def test_events_of_each_step() -> None:
    script = ["d7d5", "d8d5", "c7c6"]
    env = ChessEnv(opponent=ScriptedOpponent(script))
    _, info = env.reset(seed=0)
    assert info["opponent_move"] is None and info["ply"] == 0 and info["material_balance"] == 0
    _, reward, _, _, info = act(env, "e2e4")
    assert reward == 0.0 and set(STEP_EVENTS) <= set(info)
    assert not set(END_EVENTS) & set(info)
    assert (info["learner_move"], info["opponent_move"]) == ("e2e4", "d7d5")
    _, _, _, _, info = act(env, "e4d5")
    assert info["captured_by_learner"] == 1 and info["captured_by_opponent"] == 1
    assert info["material_balance"] == 0 and info["ply"] == 4
    _, _, _, _, info = act(env, "f1b5")
    assert info["gave_check"] is True and info["captured_by_learner"] == 0
    assert info["opponent_move"] == "c7c6" and info["ply"] == 6


def test_events_and_score_over_random_games() -> None:
    env = ChessEnv(start="random_opening", learner_color="random", max_plies=120)
    rng = np.random.default_rng(1)
    endings = set()
    for seed in range(6):
        env.reset(seed=seed)
        done = False
        while not done:
            np.testing.assert_array_equal(env.action_masks(), legal_action_mask(env.board))
            obs, reward, terminated, truncated, info = env.step(random_legal(env, rng))
            done = terminated or truncated
            assert set(STEP_EVENTS) <= set(info)
            np.testing.assert_array_equal(obs, board_planes(env.board))
            if not done:
                assert reward == 0.0 and not set(END_EVENTS) & set(info)
        assert reward == {"win": 1.0, "draw": 0.5, "loss": 0.0}[info["outcome"]]
        assert info["termination"] in TERMINATIONS
        assert info["material_balance"] == material(env.board, env.learner)
        check_final_pgn(info, env.board)
        endings.add(info["termination"])
    assert endings  # at least one game was played


def material(board: chess.Board, color: chess.Color) -> int:
    values = {chess.PAWN: 1, chess.KNIGHT: 3, chess.BISHOP: 3, chess.ROOK: 5, chess.QUEEN: 9}
    total = 0
    for piece in board.piece_map().values():
        value = values.get(piece.piece_type, 0)
        total += value if piece.color == color else -value
    return total


# -- colours and starts ---------------------------------------------------------------------


def test_random_colour_gives_both_colours() -> None:
    env = ChessEnv(learner_color="random")
    colours = set()
    for seed in range(16):
        _, info = env.reset(seed=seed)
        colours.add(info["learner_color"])
        assert env.board.turn == env.learner
        assert (info["opponent_move"] is not None) == (env.learner == chess.BLACK)
    assert colours == {"white", "black"}


@pytest.mark.parametrize(("turn", "colour"), [("w", "white"), ("b", "black")])
def test_to_move_follows_the_fen(tmp_path: Path, turn: str, colour: str) -> None:
    env = fen_env(tmp_path, f"r3k2r/8/8/8/8/8/8/R3K2R {turn} KQkq - 0 1")
    _, info = env.reset(seed=0)
    assert info["learner_color"] == colour and info["opponent_move"] is None


@pytest.mark.parametrize(
    ("start", "piece", "value"), [("kqk", "Q", 9), ("krk", "R", 5), ("kpk", "P", 1)]
)
@pytest.mark.parametrize("colour", ["white", "black", "random"])
def test_endgame_starts(start: str, piece: str, value: int, colour: str) -> None:
    env = ChessEnv(start=start, learner_color=colour)
    for seed in range(10):
        _, info = env.reset(seed=seed)
        board = env.board
        assert board.is_valid() and not board.is_game_over()
        assert board.turn == env.learner and info["opponent_move"] is None
        mine = piece if env.learner == chess.WHITE else piece.lower()
        king = "K" if env.learner == chess.WHITE else "k"
        pieces = sorted(p.symbol() for p in board.piece_map().values())
        assert pieces == sorted([king, mine, "k" if king == "K" else "K"])
        assert info["material_balance"] == value


@pytest.mark.parametrize("plies", [0, 5, 8])
def test_random_opening_plays_n_plies(plies: int) -> None:
    env = ChessEnv(start="random_opening", opening_plies=plies)
    boards = set()
    for seed in range(5):
        _, info = env.reset(seed=seed)
        opponent_moved = info["opponent_move"] is not None
        assert opponent_moved == (plies % 2 == 1)  # learner white: black to move after odd N
        assert len(env.board.move_stack) == plies + opponent_moved == info["ply"] + plies
        boards.add(env.board.fen())
    assert len(boards) == (1 if plies == 0 else 5)


def play(env: ChessEnv, seed: int, max_steps: int = 200) -> list[tuple[Any, ...]]:
    """A game of learner actions drawn from a fixed generator; what each step returned."""
    rng = np.random.default_rng(99)
    obs, info = env.reset(seed=seed)
    trace: list[tuple[Any, ...]] = [(obs.tobytes(), info["opponent_move"], env.board.fen())]
    for _ in range(max_steps):
        action = random_legal(env, rng)
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((action, obs.tobytes(), reward, info["learner_move"], info["opponent_move"]))
        if terminated or truncated:
            break
    return trace


def test_same_seed_same_game() -> None:
    env = ChessEnv(start="random_opening", learner_color="random", max_plies=80)
    first, again = play(env, seed=5), play(env, seed=5)
    assert first == again
    assert play(ChessEnv(start="random_opening", learner_color="random", max_plies=80), 5) == first
    assert play(env, seed=6) != first  # the seed matters, so the comparison above can fail


# -- fen files ------------------------------------------------------------------------------


def test_fen_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "starts.fen"
    path.write_text(
        "# endgames\n\n4k3/8/8/8/8/8/8/R3K3 w - - 0 1\n4k3/8/8/8/8/8/8/Q3K3 b - - 0 1\n"
    )
    assert len(load_fens(path)) == 2
    env = ChessEnv(start="fen_file", fen_file=str(path), learner_color="to_move")
    fens = set()
    for seed in range(12):
        env.reset(seed=seed)
        fens.add(env.board.board_fen())
    assert fens == {"4k3/8/8/8/8/8/8/R3K3", "4k3/8/8/8/8/8/8/Q3K3"}


def test_missing_fen_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.fen"
    with pytest.raises(FenFileError, match=re.escape(str(path))) as caught:
        ChessEnv(start="fen_file", fen_file=str(path))
    assert isinstance(caught.value, ValueError)


def test_empty_fen_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.fen"
    path.write_text("# nothing here\n\n")
    with pytest.raises(FenFileError, match=re.escape(str(path))):
        ChessEnv(start="fen_file", fen_file=str(path))


@pytest.mark.parametrize(
    "bad",
    [
        "not a fen",
        "4k3/8/8/8/8/8/8/R3K3 x - - 0 1",  # no side to move
        "8/8/8/8/8/8/8/R3K3 w - - 0 1",  # no black king: not a legal position
        "R5k1/5ppp/8/8/8/8/8/6K1 b - - 0 1",  # black is mated: a finished game
    ],
)
def test_bad_line_in_fen_file(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "starts.fen"
    path.write_text(f"4k3/8/8/8/8/8/8/R3K3 w - - 0 1\n# comment\n{bad}\n")
    with pytest.raises(FenFileError, match=re.escape(f"{path}:3")) as caught:
        ChessEnv(start="fen_file", fen_file=str(path))
    assert isinstance(caught.value, ValueError)


def test_fen_file_start_needs_a_path() -> None:
    with pytest.raises(ValueError, match="fen_file"):
        ChessEnv(start="fen_file")


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"start": "middlegame"}, "middlegame"),
        ({"learner_color": "green"}, "green"),
        ({"illegal_action": "ignore"}, "ignore"),
        ({"max_plies": 0}, "max_plies=0"),
        ({"max_plies": -3}, "max_plies=-3"),
        ({"opening_plies": -1}, "opening_plies=-1"),
        ({"render_mode": "human"}, "human"),
        ({"opponent": "grandmaster"}, "grandmaster"),
    ],
)
def test_bad_constructor_values(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        ChessEnv(**kwargs)


def test_render_ansi() -> None:
    env = ChessEnv(render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == str(chess.Board())


# -- vectorised ------------------------------------------------------------------------------


def make_kqk_env() -> gym.Env[Any, Any]:
    """A module-level factory: SubprocVecEnv's workers import this module (and so ``envs``)
    to find it."""
    return gym.make("incentives/Chess-v0", start="kqk", max_plies=20)


# A forkserver worker imports the parent's ``__main__`` only when it is a script: under
# pytest it is not, so a partial of ``gym.make("incentives/Chess-v0")`` finds no such id
# there. The ``module:id`` form makes gymnasium import ``envs`` in the worker first.
@pytest.mark.parametrize(
    "factory",
    [
        make_kqk_env,
        functools.partial(gym.make, "envs:incentives/Chess-v0", start="kqk", max_plies=20),
    ],
    ids=["function", "partial"],
)
def test_action_masks_through_subprocess_vec_env(factory: Any) -> None:
    venv = SubprocVecEnv([factory, factory])  # forkserver where available
    try:
        venv.seed(0)
        venv.reset()
        rng = np.random.default_rng(0)
        for _ in range(25):  # past the end of some games: masks after the auto-reset too
            masks = np.array(venv.env_method("action_masks"))
            assert masks.shape == (2, N_ACTIONS) and masks.dtype == np.bool_
            assert (masks.sum(axis=1) > 0).all()
            np.testing.assert_array_equal(get_action_masks(venv), masks)
            venv.step(np.array([rng.choice(np.flatnonzero(row)) for row in masks]))
    finally:
        venv.close()


# -- exact resume: the env's state ------------------------------------------------------


@pytest.mark.parametrize("opponent", ["random", "greedy"])
def test_state_continues_a_game_under_way(opponent: str) -> None:
    """A copy given ``get_state`` mid-game plays on exactly as the env: the same board,
    the same opponent replies (the generator they share), the same events and PGN."""
    import pickle

    env = ChessEnv(start="kqk", opponent=opponent, max_plies=60, learner_color="random")
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(7):  # a few plies into the game
        env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    assert not env._over
    copy = ChessEnv(start="kqk", opponent=opponent, max_plies=60, learner_color="random")
    copy.set_state(pickle.loads(pickle.dumps(env.get_state())))
    assert copy.board.fen() == env.board.fen()
    assert (copy.action_masks() == env.action_masks()).all()
    for _ in range(300):  # to the end of this game and through later ones
        action = int(rng.choice(np.flatnonzero(env.action_masks())))
        a, b = env.step(action), copy.step(action)
        assert (a[0] == b[0]).all() and a[1:4] == b[1:4] and a[4] == b[4]
        if a[2] or a[3]:
            obs, info = env.reset()
            obs_copy, info_copy = copy.reset()
            assert (obs == obs_copy).all() and info == info_copy
