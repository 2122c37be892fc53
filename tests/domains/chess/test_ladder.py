"""Tests of the chess evaluation ladder: rung names, move quality, and whole evaluations.

Real games and the real Stockfish (Debian's ``stockfish`` package, as in CI); without it
these tests fail, they do not skip. The "models" are a scripted policy (a legal move
chosen from a hash of the observation: deterministic, and varied unlike "the first legal
action") and an untrained MaskablePPO, through the same ``predict`` API.
"""

from __future__ import annotations

import io
import math
import zlib
from typing import Any

import chess
import chess.pgn
import numpy as np
import numpy.typing as npt
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.chess import TERMINATIONS, ChessEnv, decode_action
from incentives.domains.chess.ladder import (
    ChessLadder,
    LadderResult,
    LearnerMove,
    MoveQuality,
    Rung,
    move_quality,
    parse_ladder,
)

MATE_IN_ONE = "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1"  # Ra8#; Kf1 keeps a rook for three pawns
SCANDINAVIAN = "rnbqkbnr/ppp1pppp/8/3p4/4P3/8/PPPP1PPP/RNBQKBNR w KQkq d6 0 2"  # Qg4?? Bxg4
SKILL0 = {"name": "stockfish", "depth": 1, "skill_level": 0}
ENV = {"start": "kqk", "max_plies": 40}
BEHAVIOUR_KEYS = [
    *(f"{o}_rate{s}" for o in ("win", "draw", "loss") for s in ("", "_low", "_high")),
    *(f"termination/{t}" for t in TERMINATIONS),
    "game_length", "checks_per_game", "captures_per_game", "final_material", "plies_to_mate",
    "score",
]  # fmt: skip


class HashPolicy:
    """A scripted model: the legal action picked by a CRC of the observation's bytes."""

    def predict(
        self,
        observation: npt.NDArray[np.uint8],
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
        action_masks: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[npt.NDArray[np.int64], None]:
        assert action_masks is not None and deterministic
        assert observation.shape[1:] == (19, 8, 8) and len(observation) == len(action_masks)
        actions = [
            np.flatnonzero(mask)[zlib.crc32(obs.tobytes()) % int(mask.sum())]
            for obs, mask in zip(observation, action_masks, strict=True)
        ]
        return np.array(actions, dtype=np.int64), None


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal metrics, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def check_rungs(result: LadderResult, names: list[str], episodes: int) -> None:
    """Every rung's metrics are there and consistent; its first games parse as PGN."""
    for name in names:
        m = {key: result.metrics[f"ladder/{name}/{key}"] for key in BEHAVIOUR_KEYS}
        assert m["win_rate"] + m["draw_rate"] + m["loss_rate"] == pytest.approx(1.0)
        for outcome in ("win", "draw", "loss"):
            rate = m[f"{outcome}_rate"]
            assert m[f"{outcome}_rate_low"] <= rate <= m[f"{outcome}_rate_high"] + 1e-12
            assert rate * episodes == pytest.approx(round(rate * episodes))
        assert sum(m[f"termination/{t}"] for t in TERMINATIONS) == pytest.approx(1.0)
        assert m["score"] == pytest.approx(m["win_rate"] + 0.5 * m["draw_rate"])
        assert 0 < m["game_length"] <= ENV["max_plies"]
    opponents = {name: "stockfish" if "stockfish" in name else name for name in names}
    assert [name for name, _ in result.pgns] == [n for n in names for _ in range(2)]
    for name, text in result.pgns:
        game = chess.pgn.read_game(io.StringIO(text))
        assert game is not None and not game.errors, text
        assert (game.headers["White"], game.headers["Black"]) == ("learner", opponents[name])
        assert game.headers["Result"] in ("1-0", "0-1", "1/2-1/2", "*")
        assert 0 < len(list(game.mainline_moves())) <= ENV["max_plies"]


# -- parse_ladder --------------------------------------------------------------------------
def test_rung_names_from_opponents_options_and_labels() -> None:
    rungs = parse_ladder(
        [
            "random",
            "greedy",
            SKILL0,
            {"name": "stockfish", "depth": 1},
            {"name": "stockfish", "elo": 1400, "epsilon": 0.1, "path": "/usr/games/stockfish"},
            {"name": "stockfish", "depth": 3, "label": "club"},
            {"name": "policy", "path": "runs/x/model.zip", "deterministic": True},
        ]
    )
    assert [r.name for r in rungs] == [
        "random",
        "greedy",
        "stockfish_skill0_d1",
        "stockfish_d1",
        "stockfish_elo1400_eps0.1",
        "club",
        "policy_deterministic_model",
    ]
    assert rungs[0] == Rung("random", {"name": "random"})
    assert rungs[5].opponent == {"name": "stockfish", "depth": 3}  # the label is no option


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["random", "greedy", "foo"],
         "eval.ladder[2]='foo'; accepted: "),
        ([{"name": "stokfish", "depth": 1}],
         "eval.ladder[0].name='stokfish'; accepted: "),
        ([{"depth": 1}], "eval.ladder[0].name=None; accepted: "),
        ([3], "eval.ladder[0]=3; accepted: an opponent name or a mapping"),
        (["random", "greedy", {"name": "random"}],
         "eval.ladder[2] is named 'random', as eval.ladder[0] is; accepted: rungs with "
         "distinct names (set a label)"),
        (["random", {"name": "greedy", "label": "random"}], "as eval.ladder[0] is"),
        ([{"name": "random", "label": "a/b"}],
         "eval.ladder[0].label='a/b'; accepted: a name without '/' or spaces"),
        ([], "eval.ladder=[]; accepted: a non-empty list of opponents"),
        ("random", "eval.ladder='random'; accepted: a non-empty list of opponents"),
    ],
)  # fmt: skip
def test_bad_ladders_fail_with_one_line(spec: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]+$") as error:
        parse_ladder(spec)
    assert message in str(error.value)
    if message.endswith("accepted: "):  # the registered opponents (tests may add more)
        accepted = str(error.value).split("accepted: ")[1].split(", ")
        assert {"random", "greedy", "stockfish", "policy"} <= set(accepted)
        assert accepted == sorted(accepted)


# -- move quality ------------------------------------------------------------------------
def test_the_mate_in_one_loses_nothing_and_agrees() -> None:
    out = move_quality([LearnerMove(MATE_IN_ONE, "a1a8")], MoveQuality(depth=8), seed=0)
    assert out == {"move_quality/acpl": 0.0, "move_quality/best_move": 1.0,
                   "move_quality/positions": 1.0}  # fmt: skip


def test_missing_the_mate_costs_up_to_the_cap() -> None:
    missed = [LearnerMove(MATE_IN_ONE, "g1f1")]
    out = move_quality(missed, MoveQuality(depth=8), seed=0)
    # mate counts as +1000; a rook for three pawns is worth less
    assert 0 < out["move_quality/acpl"] < 1000 and out["move_quality/best_move"] == 0.0
    # with a cap below the rook's worth both are "won": no loss, but no agreement either
    out = move_quality(missed, MoveQuality(depth=8, cap=100), seed=0)
    assert out["move_quality/acpl"] == 0.0 and out["move_quality/best_move"] == 0.0


def test_hanging_the_queen_is_a_large_loss_clipped_at_the_cap() -> None:
    hang = [LearnerMove(SCANDINAVIAN, "d1g4")]
    assert move_quality(hang, MoveQuality(depth=8), seed=0)["move_quality/acpl"] > 500
    out = move_quality(hang, MoveQuality(depth=8, cap=300), seed=0)
    assert out["move_quality/acpl"] == 300.0 and out["move_quality/best_move"] == 0.0


def test_a_seeded_sample_of_the_moves_is_judged() -> None:
    moves = [LearnerMove(MATE_IN_ONE, "a1a8"), LearnerMove(SCANDINAVIAN, "d1g4"),
             LearnerMove(SCANDINAVIAN, "e4d5"), LearnerMove(MATE_IN_ONE, "g1f1")]  # fmt: skip
    settings = MoveQuality(positions=2, depth=6, cap=300)
    first = move_quality(moves, settings, seed=3)
    assert first["move_quality/positions"] == 2.0
    assert first == move_quality(moves, settings, seed=3)
    every = move_quality(moves, MoveQuality(positions=10, depth=6, cap=300), seed=0)
    assert every["move_quality/positions"] == 4.0
    assert every["move_quality/best_move"] == 0.5  # the mate and the recapture
    empty = move_quality([], settings, seed=0)
    assert empty["move_quality/positions"] == 0.0 and math.isnan(empty["move_quality/acpl"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"positions": 0}, "move_quality.positions=0; accepted: an integer from 1"),
     ({"depth": 0}, "move_quality.depth=0"), ({"cap": 2.5}, "move_quality.cap=2.5")],
)  # fmt: skip
def test_bad_move_quality_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MoveQuality(**kwargs)


# -- the ladder --------------------------------------------------------------------------
def test_a_ladder_evaluation_measures_every_rung() -> None:
    rungs = parse_ladder(["random", SKILL0])
    settings = MoveQuality(positions=8, depth=6)
    ladder = ChessLadder(ENV, rungs, episodes=6, seed=11, n_envs=4, move_quality=settings)
    result = ladder.evaluate(HashPolicy())
    names = ["random", "stockfish_skill0_d1"]
    assert set(result.metrics) == {
        *(f"ladder/{n}/{k}" for n in names for k in BEHAVIOUR_KEYS),
        "move_quality/acpl", "move_quality/best_move", "move_quality/positions",
        # a KQK start: the tablebase judges the first rung's moves too
        "tablebase/keeps_win", "tablebase/optimal", "tablebase/positions",
    }  # fmt: skip
    check_rungs(result, names, episodes=6)
    assert result.metrics["move_quality/positions"] == 8.0
    assert 0.0 <= result.metrics["move_quality/acpl"] <= 1000.0
    assert 0.0 <= result.metrics["move_quality/best_move"] <= 1.0


def test_two_evaluations_of_one_model_are_identical() -> None:
    # Stockfish's skill levels draw on a clock-seeded generator: only full strength repeats.
    rungs = parse_ladder(["random", {"name": "stockfish", "depth": 1}])
    settings = MoveQuality(positions=6, depth=6, rung="stockfish_d1")
    ladder = ChessLadder(ENV, rungs, episodes=6, seed=5, n_envs=4, move_quality=settings)
    first, second = ladder.evaluate(HashPolicy()), ladder.evaluate(HashPolicy())
    assert same(first.metrics, second.metrics) and first.pgns == second.pgns
    # the same games, one env at a time
    alone = ChessLadder(ENV, rungs, episodes=6, seed=5, n_envs=1, move_quality=settings)
    assert alone.evaluate(HashPolicy()).pgns[:2] == first.pgns[:2]
    # every rung starts its game k from the same position
    fens = [chess.pgn.read_game(io.StringIO(t)).headers["FEN"] for _, t in first.pgns]  # type: ignore[union-attr]
    assert fens[:2] == fens[2:]


def test_an_untrained_maskable_ppo_climbs_the_ladder() -> None:
    venv = DummyVecEnv([lambda: ChessEnv(**ENV)])
    model = MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16, seed=0, device="cpu",
                        policy_kwargs={"net_arch": [32]})  # fmt: skip
    rungs = parse_ladder(["random", {"name": "stockfish", "depth": 1}])
    ladder = ChessLadder(ENV, rungs, episodes=4, seed=2, n_envs=3, move_quality=MoveQuality(4, 4))
    result = ladder.evaluate(model)
    check_rungs(result, ["random", "stockfish_d1"], episodes=4)
    assert result.metrics["move_quality/positions"] == 4.0
    assert same(result.metrics, ladder.evaluate(model).metrics)
    # the batch path fed each game its own observation and mask: game 0's first move is
    # the one the model picks for that position alone
    env = ChessEnv(**ENV)
    obs, _ = env.reset(seed=2)
    action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
    first = decode_action(env.board, int(action))
    game = chess.pgn.read_game(io.StringIO(result.pgns[0][1]))
    assert game is not None and next(iter(game.mainline_moves())) == first
    venv.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rungs": [Rung("weak", {"name": "stockfish", "depth": 0})]},
         "ladder rung 'weak': stockfish depth=0; accepted: 1 to 100"),
        ({"rungs": [Rung("sf", {"name": "stockfish", "dpth": 1})]},
         "ladder rung 'sf': .*unexpected keyword argument 'dpth'"),
        ({"episodes": 0}, "ladder episodes=0; accepted: an integer >= 1"),
        ({"n_envs": 0}, "ladder n_envs=0; accepted: an integer >= 1"),
        ({"move_quality": MoveQuality(rung="greedy")},
         "move_quality.rung='greedy'; accepted: random"),
        ({"env_kwargs": {"start": "kqq"}}, "chess start='kqq'"),
    ],
)  # fmt: skip
def test_a_bad_ladder_fails_at_construction(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"env_kwargs": ENV, "rungs": parse_ladder(["random"]),
                                 "episodes": 2, "seed": 0, **kwargs}  # fmt: skip
    with pytest.raises(ValueError, match=message):
        ChessLadder(**arguments)
