"""Chess training through the real CLI: the policies, the evaluation ladder with move
quality and PGN text, self-play, and the start-position curriculum."""

from __future__ import annotations

import io
import json
from pathlib import Path

import chess.pgn
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import refuse_in_process, run_cli

BASE = [
    "+experiment=chess_kqk",
    "budget=512",
    "agent.n_steps=32",
    "agent.batch_size=64",
    "agent.size=tiny",
    "eval.every=256",
    "eval.episodes=8",
    "eval.ladder.episodes=4",
    "eval.ladder.move_quality.positions=8",
    "progress_bar=false",
]


def _run(tmp_path: Path, *extra: str) -> tuple[Path, dict[str, object]]:
    out = tmp_path / "run"
    result = run_cli(*BASE, *extra, f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads((out / "summary.json").read_text())


def _events(run_dir: Path) -> EventAccumulator:
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    return events


def test_ladder_move_quality_and_pgn_text_are_logged(tmp_path: Path) -> None:
    run_dir, summary = _run(tmp_path)
    behaviour = summary["behaviour"]
    assert isinstance(behaviour, dict)
    for rung in ("random", "greedy", "stockfish_d1"):
        rates = [behaviour[f"ladder/{rung}/{k}_rate"] for k in ("win", "draw", "loss")]
        assert sum(rates) == pytest.approx(1.0)
        assert (
            behaviour[f"ladder/{rung}/win_rate_low"]
            <= rates[0]
            <= behaviour[f"ladder/{rung}/win_rate_high"]
        )
    assert behaviour["move_quality/positions"] == 8
    assert 0 <= behaviour["move_quality/acpl"] <= 1000
    assert 0 <= behaviour["move_quality/best_move"] <= 1
    events = _events(run_dir)
    scalars = set(events.Tags()["scalars"])
    assert {"eval/ladder/stockfish_d1/win_rate", "eval/move_quality/acpl"} <= scalars
    steps = [e.step for e in events.Scalars("eval/ladder/random/win_rate")]
    assert steps == sorted(set(steps)) and len(steps) >= 2  # step 0 and the final evaluation
    texts = [tag for tag in events.Tags()["tensors"] if tag.startswith("eval/pgn/")]
    assert {"eval/pgn/random/0/text_summary", "eval/pgn/stockfish_d1/1/text_summary"} <= set(texts)
    pgn = events.Tensors("eval/pgn/greedy/0/text_summary")[-1].tensor_proto.string_val[0].decode()
    game = chess.pgn.read_game(io.StringIO("\n".join(line.strip() for line in pgn.splitlines())))
    assert game is not None and not game.errors and game.headers["Black"] == "greedy"
    assert len(list(game.mainline_moves())) > 0


def test_residual_policy_trains_through_the_cli(tmp_path: Path) -> None:
    _, summary = _run(tmp_path, "agent.policy=chess_resnet", "eval.ladder.opponents=[random]")
    config = summary["config"]
    assert isinstance(config, dict) and config["agent"]["policy"] == "chess_resnet"
    assert summary["timesteps"] == 512


def test_self_play_promotes_snapshots_into_the_training_opponent_pool(tmp_path: Path) -> None:
    run_dir, summary = _run(
        tmp_path,
        "env.selfplay.enabled=true",
        "env.selfplay.threshold=0",  # every evaluation promotes, min_gap apart
        "env.selfplay.min_gap=256",  # evaluations at 0 and (final) 512
        "env.selfplay.random_weight=0",
        "eval.ladder.opponents=[]",
    )
    members = summary["selfplay"]
    assert isinstance(members, list) and [m["step"] for m in members] == [0, 512]
    index = json.loads((run_dir / "selfplay" / "pool.json").read_text())
    assert [m["step"] for m in index["members"]] == [0, 512]
    assert all((run_dir / "selfplay" / m["file"]).is_file() for m in index["members"])
    events = _events(run_dir)
    assert [e.value for e in events.Scalars("eval/selfplay/pool_size")] == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval.ladder.opponents=[random,nope]"], "eval.ladder.opponents[1]='nope'; accepted:"),
        (["eval.ladder.episodes=0"], "eval.ladder.episodes=0; accepted: a positive integer"),
        (["env.selfplay.enabled=true", "env.selfplay.threshold=2"], "env.selfplay.threshold=2"),
        (
            ["agent.policy=chess_cnn"],
            "agent.policy='chess_cnn'; accepted: mlp, qa_set, chess_mlp, chess_resnet",
        ),
        (
            ["agent.policy=chess_resnet", "agent.channels=0"],
            "agent.channels=0; accepted: a positive integer",
        ),
    ],
)
def test_bad_chess_training_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "run"
    result = refuse_in_process(*BASE, *args, f"hydra.run.dir={out}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    # Hydra's empty job log at most: no config, no logs, no pool.
    assert sorted(p.name for p in out.iterdir()) in ([], ["train.log"]) if out.exists() else True


def test_curriculum_serves_mates_first_and_is_counted_apart(tmp_path: Path) -> None:
    run_dir, summary = _run(
        tmp_path,
        "env.curriculum=[{until: 256, mate_in: 1, fraction: 1.0}]",
        "eval.ladder.opponents=[]",
    )
    events = _events(run_dir)
    stages = [(e.step, e.value) for e in events.Scalars("curriculum/mate_in")]
    assert stages == [(256, 1.0), (512, 0.0)]  # logged at each rollout's end
    share = events.Scalars("behaviour/curriculum/share")
    assert share[0].value == 1.0  # the first rollout: curriculum games only
    behaviour = summary["behaviour"]
    assert isinstance(behaviour, dict) and "curriculum/share" not in behaviour  # eval: plain


def test_behaviour_counts_curriculum_games_apart() -> None:
    from incentives.domains.chess.behaviour import ChessBehaviour

    behaviour = ChessBehaviour()
    behaviour.add({"outcome": "win", "termination": "checkmate", "ply": 1, "curriculum": True})
    behaviour.add({"outcome": "win", "termination": "checkmate", "ply": 1, "curriculum": True})
    behaviour.add({"outcome": "draw", "termination": "stalemate", "ply": 30, "curriculum": False})
    metrics = behaviour.metrics()
    assert metrics["curriculum/share"] == pytest.approx(2 / 3)
    assert metrics["curriculum/win_rate"] == 1.0
    assert metrics["win_rate"] == 0.0 and metrics["termination/stalemate"] == 1.0
