"""Tests of the chess env's fast paths: the ``Events`` info copy and the castling planes."""

from __future__ import annotations

import copy

import chess
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.chess import ChessEnv, board_planes
from envs.chess.env import Events


def test_events_copy_as_deepcopy_does() -> None:
    shared = {"a": 1}
    terminal = np.arange(6, dtype=np.uint8)
    info = Events(
        ply=3,
        learner_move="e2e4",
        gave_check=False,
        outcome=None,
        score=0.5,
        incentive={"scheme": "sparse_win", "reward": 1.0, "terms": {"win": 1.0}},
        x=shared,
        y=shared,
        terminal_observation=terminal,
        value=np.float64(2.5),
    )
    ours, reference = copy.deepcopy(info), copy.deepcopy(dict(info))  # deepcopy's own path
    assert type(ours) is Events
    assert set(ours) == set(reference) and list(ours) == list(info)
    for key, value in reference.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(ours[key], value)
        else:
            assert ours[key] == value and type(ours[key]) is type(value)
    # copies, not the same objects: changing the copy leaves the original alone
    assert ours["incentive"] is not info["incentive"]
    assert ours["incentive"]["terms"] is not info["incentive"]["terms"]
    assert ours["terminal_observation"] is not terminal
    ours["incentive"]["terms"]["win"] = 0.0
    ours["terminal_observation"][0] = 9
    assert info["incentive"]["terms"]["win"] == 1.0 and terminal[0] == 0
    # one object referenced twice stays one object, as deepcopy's memo keeps it
    assert ours["x"] is ours["y"] and ours["x"] is not shared


def test_vec_env_infos_are_events_with_the_terminal_observation_copied() -> None:
    venv = DummyVecEnv([lambda: ChessEnv(start="kqk", max_plies=4)] * 2)
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    ended = False
    for _ in range(6):
        masks = np.stack(venv.env_method("action_masks"))
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in masks])
        _, _, dones, infos = venv.step(actions)
        assert all(type(info) is Events for info in infos)
        for i in np.flatnonzero(dones):
            ended = True
            terminal = infos[i]["terminal_observation"]
            assert terminal.shape == (19, 8, 8) and terminal.dtype == np.uint8
            assert infos[i]["termination"] and infos[i]["pgn"].startswith("[Event")
    assert ended
    venv.close()


def test_castling_planes_follow_python_chess() -> None:
    rng = np.random.default_rng(3)
    seen_rights = seen_none = 0
    for _ in range(40):  # random games from the start: rights held, then lost
        board = chess.Board()
        for _ in range(int(rng.integers(0, 120))):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(moves[int(rng.integers(len(moves)))])
        planes = board_planes(board)
        us = board.turn
        expected = [
            board.has_kingside_castling_rights(us),
            board.has_queenside_castling_rights(us),
            board.has_kingside_castling_rights(not us),
            board.has_queenside_castling_rights(not us),
        ]
        for plane, held in zip(planes[12:16], expected, strict=True):
            assert (plane == int(held)).all()
        seen_rights += any(expected)
        seen_none += board.castling_rights == 0
    endgame = chess.Board("8/8/8/4k3/8/8/8/3QK3 w - - 0 1")
    assert board_planes(endgame)[12:16].sum() == 0
    assert seen_rights and seen_none  # both branches of board_planes were taken


def test_the_reset_fen_is_the_position_the_learner_sees() -> None:
    first_moves = set()
    for color, plies in (("white", 2), ("white", 3), ("black", 2), ("random", 3)):
        env = ChessEnv(start="random_opening", opening_plies=plies, learner_color=color)
        for seed in range(4):
            _, info = env.reset(seed=seed)
            assert info["fen"] == env.board.fen()
            first_moves.add(info["opponent_move"] is not None)
    assert first_moves == {True, False}  # with and without an opponent's move first


def test_the_repetition_plane_counts_as_python_chess() -> None:
    # KQK against the random defender repeats positions often; 100 plies let it happen
    env = ChessEnv(start="kqk", max_plies=100)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    counts = set()
    for _ in range(600):
        obs, _, terminated, truncated, _ = env.step(rng.choice(np.flatnonzero(env.action_masks())))
        board = env.board
        expected = 2 if board.is_repetition(3) else 1 if board.is_repetition(2) else 0
        assert (obs[17] == expected).all()
        counts.add(expected)
        if terminated or truncated:
            env.reset()
    assert {0, 1} <= counts
