"""Tests of what chess adds to a training run: built from the config before anything is
written, then the training env's opponent, callbacks, evaluation extras, state, summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.chess import ChessEnv, make_opponent
from incentives.domains.chess import DOMAIN
from incentives.domains.chess.curriculum import CurriculumCallback, curriculum_callback
from incentives.domains.chess.extension import ChessRunExtension
from incentives.domains.chess.ladder import LadderExtra, ladder_extra
from incentives.domains.chess.selfplay import (
    POOL_INDEX,
    PoolOpponent,
    PromotionExtra,
    SelfPlayPool,
    SelfPlaySettings,
)
from incentives.registry import load_domain


def config(
    selfplay: dict[str, Any] | None = None,
    ladder: dict[str, Any] | None = None,
    curriculum: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The parts of a run's config that the chess extension reads (all off by default)."""
    return {
        "env": {
            "name": "chess",
            "kwargs": {"start": "kqk", "max_plies": 20, "opponent": {"name": "random"}},
            "selfplay": {"enabled": False, **(selfplay or {})},
            "curriculum": curriculum or [],
        },
        "eval": {"seed": 0, "n_envs": 2, "ladder": ladder or {"opponents": []}},
    }


SELFPLAY = {"enabled": True, "threshold": 0.0, "min_gap": 0, "max_size": 2,
            "random_weight": 0.25, "deterministic": True}  # fmt: skip


@pytest.fixture(scope="module")
def model() -> MaskablePPO:
    """An untrained MaskablePPO on KQK: enough to be a snapshot and climb a ladder."""
    venv = DummyVecEnv([lambda: ChessEnv(start="kqk", max_plies=20)])
    return MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16,
                       policy_kwargs={"net_arch": [16]}, device="cpu", seed=0)  # fmt: skip


def test_the_domain_names_the_extension() -> None:
    assert load_domain("chess") is DOMAIN
    extension = DOMAIN.run_extension(config())
    assert isinstance(extension, ChessRunExtension)


def test_off_by_default_it_adds_nothing(tmp_path: Path) -> None:
    extension = ChessRunExtension(config())
    env_config = config()["env"]
    assert extension.train_env_config(env_config, tmp_path, None, False) == env_config
    assert extension.callbacks() == []
    assert extension.evaluation_extras() == []
    assert extension.state() is None
    assert extension.summary() == {"selfplay": None}
    assert not (tmp_path / "selfplay").exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (config(selfplay={"enabled": True, "threshold": 2}), "env.selfplay.threshold=2"),
        (config(selfplay={"enabled": True, "random_weight": -1}), "env.selfplay.random_weight=-1"),
        (config(selfplay={"enabled": True, "max_size": 0}), "env.selfplay.max_size=0"),
        (config(selfplay={"enabled": True, "min_gap": 1.5}), "env.selfplay.min_gap=1.5"),
        (config(ladder={"opponents": ["random", "nope"], "episodes": 2}),
         "eval.ladder.opponents[1]='nope'; accepted:"),
        (config(ladder={"opponents": ["random"], "episodes": 0}),
         "eval.ladder.episodes=0; accepted: a positive integer"),
        (config(curriculum=[{"until": 10, "mate_in": 9}]), "curriculum[0].mate_in=9"),
    ],
)  # fmt: skip
def test_a_bad_setting_fails_at_construction(tmp_path: Path, bad: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]+$") as caught:
        ChessRunExtension(bad)
    assert message in str(caught.value)


def test_selfplay_settings_from_config() -> None:
    assert SelfPlaySettings.from_config(config()["env"]) is None
    settings = SelfPlaySettings.from_config(config(selfplay=SELFPLAY)["env"])
    assert settings == SelfPlaySettings(0.0, 0.25, 2, 0, True)
    defaults = SelfPlaySettings.from_config(config(selfplay={"enabled": True})["env"])
    assert defaults == SelfPlaySettings(threshold=0.6, random_weight=0.5, max_size=8, min_gap=0)


def test_selfplay_trains_against_the_pool_and_promotes(tmp_path: Path, model: MaskablePPO) -> None:
    extension = ChessRunExtension(config(selfplay=SELFPLAY))
    env_config = config(selfplay=SELFPLAY)["env"]
    train_config = extension.train_env_config(env_config, tmp_path, None, False)
    spec = train_config["kwargs"]["opponent"]
    assert spec == {"name": "pool", "folder": str(tmp_path / "selfplay"),
                    "random_weight": 0.25, "deterministic": True}  # fmt: skip
    assert json.loads(json.dumps(train_config)) == train_config  # plain data, for workers
    assert env_config["kwargs"]["opponent"] == {"name": "random"}  # the evaluation's, kept
    assert isinstance(make_opponent(spec), PoolOpponent)
    (promotion,) = extension.evaluation_extras()
    assert isinstance(promotion, PromotionExtra)
    logged = promotion(model, {"win_rate": 0.0}, 16)
    assert logged == {"selfplay/promoted": 1.0, "selfplay/pool_size": 1.0}
    assert extension.state() == {
        "members": [{"file": "snapshot-16.zip", "step": 16, "win_rate": 0.0}]
    }
    assert extension.summary() == {
        "selfplay": [{"file": "snapshot-16.zip", "step": 16, "win_rate": 0.0}]
    }


def test_a_new_run_empties_the_pool_a_resumed_one_restores_it(
    tmp_path: Path, model: MaskablePPO
) -> None:
    old = SelfPlayPool(tmp_path / "selfplay")
    old.add(model, 8, 0.7)
    state = old.state()
    old.add(model, 16, 0.8)  # after the checkpoint

    resumed = ChessRunExtension(config(selfplay=SELFPLAY))
    resumed.train_env_config(config(selfplay=SELFPLAY)["env"], tmp_path, state, True)
    assert resumed.pool is not None and [m.step for m in resumed.pool.members()] == [8]
    assert not (tmp_path / "selfplay" / "snapshot-16.zip").exists()  # taken after the state
    assert resumed.summary()["selfplay"] == [{"file": "snapshot-8.zip", "step": 8,
                                               "win_rate": 0.7}]  # fmt: skip

    fresh = ChessRunExtension(config(selfplay=SELFPLAY))
    fresh.train_env_config(config(selfplay=SELFPLAY)["env"], tmp_path, state, False)
    assert fresh.summary() == {"selfplay": []}
    assert json.loads((tmp_path / "selfplay" / POOL_INDEX).read_text()) == {"members": []}
    assert not list((tmp_path / "selfplay").glob("snapshot-*.zip"))


def test_the_ladder_is_played_after_each_evaluation(model: MaskablePPO) -> None:
    ladder = {"opponents": ["random", "greedy"], "episodes": 2, "pgns": 1}
    extension = ChessRunExtension(config(ladder=ladder))
    (extra,) = extension.evaluation_extras()
    assert isinstance(extra, LadderExtra)
    logged = extra(model, {}, 0)
    assert {"ladder/random/win_rate", "ladder/greedy/score"} <= set(logged)
    assert {k for k in logged if k.startswith("pgn/")} == {"pgn/random/0", "pgn/greedy/0"}
    pgn = logged["pgn/random/0"]
    assert isinstance(pgn, str) and all(line.startswith("    ") for line in pgn.splitlines())
    assert ladder_extra(config()) is None


def test_the_curriculum_is_a_training_callback() -> None:
    stages = [{"until": 100, "mate_in": 1, "fraction": 0.5}]
    (callback,) = ChessRunExtension(config(curriculum=stages)).callbacks()
    assert isinstance(callback, CurriculumCallback)
    assert callback.curriculum.at(0) == (1, 0.5)
    assert curriculum_callback(config()["env"]) is None
