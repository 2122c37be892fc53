"""Tests of self-play: a saved agent as the opponent, the pool on disk, its opponent in
real games, promotion, resuming.

The snapshots are real (an untrained sb3-contrib MaskablePPO on KQK, saved with
``model.save``); the games are real ``ChessEnv`` games, checked through their PGN.
"""

from __future__ import annotations

import io
import json
import pickle
import re
from pathlib import Path
from typing import Any

import chess
import chess.pgn
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from envs.chess import ChessEnv, board_planes, legal_actions, make_opponent, opponents
from incentives.domains.chess.selfplay import (
    POOL_INDEX,
    PolicyOpponent,
    PoolMember,
    PoolOpponent,
    SelfPlayPool,
    SelfPlayPromotion,
    SnapshotMissingError,
)
from incentives.run.build import make_registered
from tests.envs.test_chess_opponents import CheckedOpponent


@pytest.fixture(scope="module")
def model() -> MaskablePPO:
    """An untrained MaskablePPO on KQK: enough for snapshots that play legal moves."""
    venv = DummyVecEnv([lambda: ChessEnv(start="kqk", max_plies=20)])
    return MaskablePPO(
        "MlpPolicy",
        venv,
        n_steps=16,
        batch_size=16,
        policy_kwargs={"net_arch": [16]},
        device="cpu",
        seed=0,
    )


def index(folder: Path) -> list[dict[str, Any]]:
    """The members that ``pool.json`` lists."""
    entries: list[dict[str, Any]] = json.loads((folder / POOL_INDEX).read_text())["members"]
    return entries


def snapshot_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("snapshot-*.zip"))


def play(env: ChessEnv, seed: int) -> dict[str, Any]:
    """One game with uniformly random legal learner moves; the last step's info."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    while True:
        action = rng.choice(np.flatnonzero(env.action_masks()))
        *_, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return info


def replay(pgn: str) -> tuple[chess.pgn.Game, list[chess.Board]]:
    """The game of ``pgn`` (refused if a move is illegal) and the board before each move."""
    game = chess.pgn.read_game(io.StringIO(pgn))
    assert game is not None
    assert not game.errors, game.errors
    board, before = game.board(), []
    for move in game.mainline_moves():
        assert move in board.legal_moves
        before.append(board.copy())
        board.push(move)
    return game, before


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


# -- promotion and the pool on disk -------------------------------------------------------


def test_promotion_needs_the_threshold(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    promotion = SelfPlayPromotion(pool, threshold=0.6)
    assert not promotion.consider(model, 1000, 0.59)
    assert not promotion.consider(model, 1000, float("nan"))
    assert pool.members() == [] and snapshot_files(pool.folder) == []
    assert promotion.consider(model, 1000, 0.6)  # at the threshold
    assert pool.members() == [PoolMember("snapshot-1000.zip", 1000, 0.6)]
    assert snapshot_files(pool.folder) == ["snapshot-1000.zip"]
    assert index(pool.folder) == [{"file": "snapshot-1000.zip", "step": 1000, "win_rate": 0.6}]
    assert MaskablePPO.load(pool.folder / "snapshot-1000.zip", device="cpu").n_envs == 1
    assert not list(pool.folder.glob("*.tmp"))


def test_promotion_keeps_the_gap(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    promotion = SelfPlayPromotion(pool, threshold=0.5, min_gap=1000)
    assert promotion.consider(model, 500, 0.9)
    assert not promotion.consider(model, 1499, 0.9)
    assert promotion.consider(model, 1500, 0.7)
    assert [m.step for m in pool.members()] == [500, 1500]
    # A promotion restored with its pool (a resumed run) keeps the gap too.
    again = SelfPlayPromotion(SelfPlayPool(pool.folder), threshold=0.5, min_gap=1000)
    assert again.last_step == 1500
    assert not again.consider(model, 2000, 1.0)


def test_max_size_evicts_the_oldest(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool", max_size=2)
    for step in (100, 200, 300, 400):
        pool.add(model, step, 0.8)
    assert [m.step for m in pool.members()] == [300, 400]
    assert [entry["step"] for entry in index(pool.folder)] == [300, 400]
    assert snapshot_files(pool.folder) == ["snapshot-300.zip", "snapshot-400.zip"]
    pool.add(model, 50, 0.9)  # older than every member: out at once
    assert [m.step for m in pool.members()] == [300, 400]
    assert snapshot_files(pool.folder) == ["snapshot-300.zip", "snapshot-400.zip"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [("max_size", 0), ("random_weight", 1.5), ("random_weight", float("nan"))],
)
def test_bad_pool_settings_are_refused(tmp_path: Path, setting: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"{setting}=.*accepted"):
        SelfPlayPool(tmp_path, **{setting: value})


def test_bad_promotion_settings_are_refused(tmp_path: Path) -> None:
    pool = SelfPlayPool(tmp_path)
    with pytest.raises(ValueError, match=r"threshold=2.*accepted"):
        SelfPlayPromotion(pool, threshold=2)
    with pytest.raises(ValueError, match=r"min_gap=-1.*accepted"):
        SelfPlayPromotion(pool, min_gap=-1)


# -- the pool opponent in real games ------------------------------------------------------


def test_pool_is_a_registered_opponent(tmp_path: Path) -> None:
    assert "pool" in opponents()
    pool = SelfPlayPool(tmp_path / "pool", random_weight=0.25)
    opponent = make_opponent(pool.opponent_spec(deterministic=True))
    assert isinstance(opponent, PoolOpponent)
    assert (opponent.folder, opponent.random_weight, opponent.deterministic) == (
        pool.folder,
        0.25,
        True,
    )
    with pytest.raises(FileNotFoundError, match="no self-play folder"):
        make_opponent({"name": "pool", "folder": str(tmp_path / "nowhere")})


def test_snapshots_play_legal_games_from_either_side(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 64, 0.75)
    spec = {**pool.opponent_spec(deterministic=True), "random_weight": 0.0}
    env = ChessEnv(start="kqk", max_plies=20, opponent=spec, learner_color="random")
    opponent = env.opponent
    assert isinstance(opponent, PoolOpponent)
    snapshot = MaskablePPO.load(pool.folder / "snapshot-64.zip", device="cpu")
    colors, opponent_moves = set(), 0
    for seed in range(6):
        info = play(env, seed)
        assert opponent.current == "snapshot-64"
        assert opponent.current_member == pool.members()[0]
        game, before = replay(info["pgn"])
        learner = chess.WHITE if game.headers["White"] == "learner" else chess.BLACK
        assert game.headers["White" if learner == chess.BLACK else "Black"] == "pool"
        colors.add(learner)
        for board, move in zip(before, game.mainline_moves(), strict=True):
            if board.turn == learner:
                continue
            # The snapshot's own masked choice, from the mover's side: never a fallback.
            by_action = legal_actions(board, list(board.legal_moves))
            mask = np.zeros(4672, dtype=bool)
            mask[list(by_action)] = True
            action, _ = snapshot.predict(board_planes(board), action_masks=mask, deterministic=True)
            assert by_action[int(action)] == move
            opponent_moves += 1
    assert colors == {chess.WHITE, chess.BLACK}
    assert opponent_moves > 20
    env.close()


def test_random_weight_mixes_random_games_in(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 1, 0.9)
    pool.add(model, 2, 0.9)
    opponent = PoolOpponent(pool.folder, random_weight=0.5)
    rng = np.random.default_rng(0)
    drawn = []
    for _ in range(200):
        opponent.reset(rng)
        drawn.append(opponent.current)
    counts = {name: drawn.count(name) for name in set(drawn)}
    assert set(counts) == {"random", "snapshot-1", "snapshot-2"}
    assert 70 <= counts["random"] <= 130
    assert len(opponent._cache) == 2  # each snapshot loaded once


def test_an_empty_pool_plays_random(tmp_path: Path) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    env = ChessEnv(start="kqk", max_plies=20, opponent={**pool.opponent_spec(), "random_weight": 0})
    for seed in range(2):
        info = play(env, seed)
        replay(info["pgn"])
        assert env.opponent.current == "random"  # type: ignore[attr-defined]


def test_the_opponent_sees_membership_change_at_its_next_reset(
    tmp_path: Path, model: MaskablePPO
) -> None:
    pool = SelfPlayPool(tmp_path / "pool", max_size=1)
    opponent = PoolOpponent(pool.folder, random_weight=0.0)
    rng = np.random.default_rng(0)
    opponent.reset(rng)
    assert opponent.current == "random"
    pool.add(model, 10, 0.8)
    assert opponent.current == "random"  # until the next game
    opponent.reset(rng)
    assert opponent.current == "snapshot-10"
    pool.add(model, 20, 0.8)  # evicts snapshot-10, whose game goes on
    board = chess.Board("4k3/8/8/8/8/8/8/Q3K3 w - - 0 1")
    assert opponent.choose(board, list(board.legal_moves)) in board.legal_moves
    opponent.reset(rng)
    assert opponent.current == "snapshot-20"
    assert [m.step for m in opponent.members] == [20]


def test_the_opponent_pickles_without_models(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 5, 0.7)
    env = ChessEnv(start="kqk", max_plies=20, opponent={**pool.opponent_spec(), "random_weight": 0})
    play(env, 0)  # loads the snapshot
    data = pickle.dumps(env)
    size = (pool.folder / "snapshot-5.zip").stat().st_size
    assert len(data) < size / 4, (len(data), size)
    copy: ChessEnv = pickle.loads(data)
    opponent = copy.opponent
    assert isinstance(opponent, PoolOpponent)
    assert opponent._cache == {} and opponent.current == "snapshot-5"
    for seed in range(2):
        replay(play(copy, seed)["pgn"])
        assert opponent.current == "snapshot-5"
    pool.add(model, 6, 0.7)
    copy2: PoolOpponent = pickle.loads(pickle.dumps(opponent))
    seen = set()
    for seed in range(20):
        copy2.reset(np.random.default_rng(seed))
        seen.add(copy2.current)
    assert seen == {"snapshot-5", "snapshot-6"}


def test_a_copy_pickled_mid_game_plays_on_with_its_snapshot(
    tmp_path: Path, model: MaskablePPO
) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 7, 0.7)
    opponent = PoolOpponent(pool.folder, random_weight=0.0, deterministic=True)
    opponent.reset(np.random.default_rng(0))
    copy: PoolOpponent = pickle.loads(pickle.dumps(opponent))
    board = chess.Board("4k3/8/8/8/8/8/8/Q3K3 b - - 0 1")
    moves = list(board.legal_moves)
    assert copy.choose(board, moves) == opponent.choose(board, moves)
    assert copy.current == "snapshot-7" and len(copy._cache) == 1


def test_subprocess_workers_play_the_pool_the_folder_shares(
    tmp_path: Path, model: MaskablePPO
) -> None:
    """As training runs it: a fresh worker process builds its env from the spec."""
    pool = SelfPlayPool(tmp_path / "pool", random_weight=0.0)
    spec = pool.opponent_spec()
    assert json.loads(json.dumps(spec)) == spec  # a plain mapping, for configs and JSON
    venv = make_vec_env(
        make_registered,
        n_envs=1,
        seed=0,
        vec_env_cls=SubprocVecEnv,
        env_kwargs={"env_id": "incentives/Chess-v0", "module": "envs", "start": "kqk",
                    "max_plies": 20, "learner_color": "random", "opponent": spec},
    )  # fmt: skip
    try:
        venv.reset()
        assert venv.get_attr("opponent")[0].current == "random"  # the pool is empty
        pool.add(model, 32, 0.8)  # promoted while the worker runs
        venv.reset()
        assert venv.get_attr("opponent")[0].current == "snapshot-32"
        rng, games = np.random.default_rng(0), 0
        while games < 2:
            mask = venv.env_method("action_masks")[0]
            _, _, dones, infos = venv.step(np.array([rng.choice(np.flatnonzero(mask))]))
            if dones[0]:
                game, _ = replay(infos[0]["pgn"])
                assert "pool" in (game.headers["White"], game.headers["Black"])
                games += 1
    finally:
        venv.close()


# -- checkpoints: state and load_state ----------------------------------------------------


def test_state_round_trip_restores_the_pool(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 100, 0.6)
    pool.add(model, 200, 0.7)
    state = json.loads(json.dumps(pool.state()))  # as a checkpoint stores it
    pool.add(model, 300, 0.8)  # after the checkpoint: the run then crashes
    opponent = PoolOpponent(pool.folder, random_weight=0.0)
    opponent.reset(np.random.default_rng(0))
    assert len(opponent.members) == 3

    resumed = SelfPlayPool(pool.folder)
    assert [m.step for m in resumed.members()] == [100, 200, 300]
    resumed.load_state(state)
    assert resumed.members() == [
        PoolMember("snapshot-100.zip", 100, 0.6),
        PoolMember("snapshot-200.zip", 200, 0.7),
    ]
    assert [entry["step"] for entry in index(pool.folder)] == [100, 200]
    assert snapshot_files(pool.folder) == ["snapshot-100.zip", "snapshot-200.zip"]
    opponent.reset(np.random.default_rng(0))
    assert [m.step for m in opponent.members] == [100, 200]


def test_a_member_evicted_after_the_checkpoint_is_still_there_to_resume(
    tmp_path: Path, model: MaskablePPO
) -> None:
    pool = SelfPlayPool(tmp_path / "pool", max_size=2)
    pool.add(model, 1, 0.9)
    pool.add(model, 2, 0.9)
    state = pool.state()
    pool.add(model, 3, 0.9)  # evicts 1 from the index; its file waits for the checkpoint
    assert [m.step for m in pool.members()] == [2, 3]
    assert "snapshot-1.zip" in snapshot_files(pool.folder)
    SelfPlayPool(pool.folder, max_size=2).load_state(state)
    assert snapshot_files(pool.folder) == ["snapshot-1.zip", "snapshot-2.zip"]

    pool = SelfPlayPool(pool.folder, max_size=2)
    pool.load_state(state)
    pool.add(model, 3, 0.9)
    pool.state()  # a newer checkpoint; the one before still lists snapshot-1
    assert "snapshot-1.zip" in snapshot_files(pool.folder)
    pool.state()
    assert snapshot_files(pool.folder) == ["snapshot-2.zip", "snapshot-3.zip"]


def test_a_missing_member_file_is_a_clear_error(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 100, 0.6)
    state = pool.state()
    missing = pool.folder / "snapshot-100.zip"
    missing.unlink()
    with pytest.raises(SnapshotMissingError, match=r"snapshot-100\.zip.*missing") as caught:
        SelfPlayPool(pool.folder).load_state(state)
    assert str(missing) in str(caught.value)
    assert isinstance(caught.value, OSError)  # the CLI's one line and exit 2
    with pytest.raises(ValueError, match="malformed"):
        pool.load_state({"members": [{"file": "snapshot-1.zip"}]})


def test_clear_empties_folder_and_index(tmp_path: Path, model: MaskablePPO) -> None:
    pool = SelfPlayPool(tmp_path / "pool")
    pool.add(model, 1, 0.9)
    pool.clear()
    assert pool.members() == [] and index(pool.folder) == []
    assert snapshot_files(pool.folder) == []
