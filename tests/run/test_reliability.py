"""Reliability: resume after a crash, reproducible runs, one clear line for bad input.

Killing real runs and resuming them exactly: tests/run/test_resume.py.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from tests.conftest import ROOT, TINY, refuse_in_process, run_cli


def steps_by_tag(run_dir: Path) -> dict[str, list[int]]:
    """Every scalar tag's steps across all event files of a run, raw (no purging)."""
    steps: dict[str, list[int]] = collections.defaultdict(list)
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                steps[value.tag].append(event.step)
    return steps


def test_finished_run_is_not_trained_again(finished_run: Path) -> None:
    args = [*TINY, f"hydra.run.dir={finished_run}"]
    before = (finished_run / "summary.json").read_text()
    again = run_cli(*args, cwd=ROOT)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert (finished_run / "summary.json").read_text() == before

    fresh = run_cli(*args, "resume=false", cwd=ROOT)
    assert fresh.returncode == 0, fresh.stderr
    assert (finished_run / "summary.json").read_text() == before, "the old run is kept"
    assert (finished_run.with_name(finished_run.name + ".1") / "summary.json").is_file()


def test_same_seed_same_summary(tmp_path: Path) -> None:
    """On CPU, the same config and seed give the same final metrics, also with single gym
    envs in subprocesses (the scheme as a Gymnasium wrapper in each, switched at the
    warm-up's end). (The batched env and chess: tests/run/test_resume.py, where a killed
    and resumed run ends as an uninterrupted one.)"""
    from tests.run.test_cli import scalar_tags

    extra = ["agent.device=cpu", "seed=3", "env.batched=null", "env.vec_env=subproc",
             "eval.every=0", "env.n_envs=2", "budget=256", "agent.n_steps=64",
             "agent.batch_size=64", "eval.n_envs=2", "eval.episodes=32",
             "warmup=[{reward: binary, steps: 128}]", "reward=confidence_target",
             "reward.t=0.6"]  # fmt: skip
    # the two runs side by side: each spends seconds waiting for its env workers to
    # start (about 40% of its wall time idle), which the other fills
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "incentives.run.cli",
                *TINY,
                *extra,
                f"hydra.run.dir={tmp_path / str(k)}",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(2)
    ]
    results = []
    for k, run in enumerate(runs):
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        summary = json.loads((tmp_path / str(k) / "summary.json").read_text())
        results.append((summary["explicit_return"], summary["behaviour"]))
    assert results[0] == results[1]
    assert summary["reward"] == {"name": "confidence_target", "params": {"t": 0.6}}
    assert summary["theory"]["thresholds"] == [0.6]
    tags = scalar_tags(tmp_path / "1")
    assert "explicit/terms/correct" in tags or "explicit/terms/wrong" in tags


def _checkpoint(run_dir: Path, config_change: str = "", model: bytes = b"not a zip") -> None:
    """A run folder with a checkpoint: its model file holds ``model``."""
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint-8.zip").write_bytes(model)
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from incentives.run.cli import config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=[*TINY, *([config_change] if config_change else [])])
    checkpoint = {
        "model": "checkpoint-8.zip", "num_timesteps": 8, "phase": 0, "phase_start": 0,
        "eval_last_at": 0, "wall_time_s": 1.0, "config": OmegaConf.to_container(cfg),
    }  # fmt: skip
    (run_dir / "checkpoint.json").write_text(json.dumps(checkpoint))


BAD_INPUT = [
    # (case, CLI arguments, what the one line must name)
    ("unknown env", ["env=nope"], "unknown env 'nope'; accepted: chess, qa"),
    ("unknown scheme", ["reward=nope"], "unknown reward 'nope'; accepted: "),
    ("unknown agent", ["agent=nope"], "unknown agent 'nope'; accepted: "),
    (
        "unknown experiment",
        ["+experiment=nope"],
        "unknown experiment 'nope'; accepted: chess_full, chess_kqk, chess_scale, chess_teach",
    ),
    ("unknown in a sweep", ["-m", "reward=binary,nope"], "unknown reward 'nope'"),
    ("unknown scheme parameter", ["+reward.wong=1"], "unknown parameter 'wong'; accepted: correct"),
    ("parameter not a number", ["reward.wrong=abc"], "wrong='abc' is not a number"),
    ("parameter NaN", ["reward.wrong=nan"], "wrong=nan is not finite"),
    ("parameter infinite", ["reward.wrong=-inf"], "wrong=-inf is not finite"),
    ("grid: wrong pays more", ["reward.wrong=2"], "correct=1.0 must be greater than wrong=2.0"),
    ("grid: abstain pays most", ["reward.abstain=1"], "abstain=1.0 pays at least as much"),
    ("confidence target out of range", ["reward=confidence_target", "reward.t=1"], "t=1"),
    ("budget zero", ["budget=0"], "budget=0; accepted: a positive whole number"),
    ("budget negative", ["budget=-5"], "budget=-5"),
    ("warm-up steps", ["warmup=[{reward: binary, steps: 0}]"], "warmup[0].steps=0"),
    ("network size", ["agent.size=huge"], "unknown network size 'huge'; accepted: tiny"),
    ("vector env kind", ["env.batched=null", "env.vec_env=threads"], "env.vec_env='threads'"),
    (
        "a mapping given new keys",
        ["+experiment=chess_teach_vs_incentive", "eval.ladder.transfer={kqk: {start: kqk}}"],
        "can only set keys eval.ladder.transfer already has; accepted: '~eval.ladder.transfer'",
    ),
]


@pytest.mark.parametrize(("case", "args", "named"), BAD_INPUT, ids=[c for c, *_ in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, case: str, args: list[str], named: str
) -> None:
    done = refuse_in_process(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=ROOT)
    assert done.returncode == 2, (case, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("incentives-train: error: ") and named in lines[0], lines[0]
    assert "accepted" in lines[0]


@pytest.mark.parametrize(
    ("case", "named"),
    [
        ("corrupt checkpoint", "is corrupt"),
        ("unloadable checkpoint", "cannot be loaded"),
        ("checkpoint of another config", "checkpoint of another config (reward.wrong"),
    ],
)
def test_bad_checkpoint_is_one_line_and_keeps_the_files(
    tmp_path: Path, case: str, named: str
) -> None:
    run_dir = tmp_path / "run"
    _checkpoint(run_dir, "reward.wrong=-3" if "config" in case else "")
    if case == "corrupt checkpoint":
        (run_dir / "checkpoint.json").write_text('{"model": "checkpoint-8.zip", "num_')
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    done = run_cli(*TINY, f"hydra.run.dir={run_dir}", cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], done.stderr
    for name, content in before.items():  # nothing already written is lost
        assert (run_dir / name).read_bytes() == content, name


def test_unwritable_run_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run_cli(*TINY, f"hydra.run.dir={blocker / 'run'}", cwd=ROOT)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "cannot be written" in line and str(blocker / "run") in line


def test_unusual_grid_warns_in_one_line_and_runs(tmp_path: Path) -> None:
    done = run_cli(*TINY, "reward.hedged_correct=2", f"hydra.run.dir={tmp_path}", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warned == [
        "incentives-train: warning: hedging_grid: hedged_correct=2.0 > correct=1.0: a right "
        "answer pays more hedged than stated"
    ]


def test_debug_switch_shows_the_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "INCENTIVES_DEBUG": "1", "HYDRA_FULL_ERROR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "incentives.run.cli", "budget=0", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" in done.stderr


def _compose(*overrides: str) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from incentives.run.cli import config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def test_crash_after_the_last_checkpoint_still_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint at the final rollout's start, then a crash writing summary.json: the
    old summary is untouched, and the run finishes from the checkpoint."""
    from incentives.run import train as training

    config = _compose(*TINY, "checkpoint.every=512")
    monkeypatch.setattr(training, "write_json", lambda *_: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        training.train(config, tmp_path)
    monkeypatch.undo()
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert checkpoint["num_timesteps"] == 2048 - 512  # the last rollout's start
    summary = training.train(config, tmp_path)
    assert summary["resumed_from"] == checkpoint["num_timesteps"]
    assert summary["timesteps"] == 2048
    assert (tmp_path / "summary.json").is_file()


def test_crash_before_the_first_checkpoint_sets_the_logs_aside(tmp_path: Path) -> None:
    from incentives.run import train as training

    config = _compose(*TINY, "checkpoint.every=0")
    training.train(config, tmp_path)
    (tmp_path / "summary.json").unlink()  # as if killed before the end
    old = sorted(p.name for p in tmp_path.glob("events.out.tfevents.*"))
    training.train(config, tmp_path)
    assert sorted(p.name for p in (tmp_path / "crashed-1").iterdir()) == sorted(
        [*old, "progress.csv"]
    )
    for tag, seen in steps_by_tag(tmp_path).items():
        assert len(seen) == len(set(seen)), tag


def test_summary_describes_the_saved_model(tmp_path: Path) -> None:
    """summary.json is the evaluation of the policy in model.zip, after the last update."""
    from stable_baselines3 import PPO

    from agents.callbacks import evaluate
    from incentives.run import train as training
    from incentives.run.build import build_behaviour, build_env, phases

    config = _compose(*TINY, "eval.every=2048")
    summary = training.train(config, tmp_path)
    signal = phases(config)[-1].signal
    venv = build_env(config["env"], signal, 64, config["eval"]["seed"])
    model = PPO.load(tmp_path / "model.zip", device="cpu")
    again = evaluate(
        model, venv, 256, config["eval"]["seed"], build_behaviour(config["env"], signal)
    )
    assert again["task_score"] == summary["task_score"]
    assert again["t_hat"] == summary["behaviour"]["t_hat"]


def test_refused_checkpoint_leaves_the_logs_alone(finished_run: Path) -> None:
    run_dir = finished_run
    (run_dir / "summary.json").unlink()
    (run_dir / "checkpoint-8.zip").write_bytes(b"not a zip")
    checkpoint = {"model": "checkpoint-8.zip", "num_timesteps": 8, "phase": 0,
                  "phase_start": 0, "eval_last_at": 0, "wall_time_s": 1.0,
                  "config": _compose(*TINY)}  # fmt: skip
    (run_dir / "checkpoint.json").write_text(json.dumps(checkpoint))
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    done = run_cli(*TINY, f"hydra.run.dir={run_dir}", cwd=ROOT)
    assert done.returncode == 2 and "cannot be loaded" in done.stderr
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_finished_run_of_another_config_is_refused(finished_run: Path) -> None:
    before = (finished_run / "summary.json").read_text()
    done = run_cli(*TINY, "reward.wrong=-3", f"hydra.run.dir={finished_run}", cwd=ROOT)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "finished run of another config (reward.wrong: -4.0 -> -3)" in line
    assert (finished_run / "summary.json").read_text() == before


def test_overrides_name_the_run_folder(tmp_path: Path) -> None:
    done = run_cli(*TINY, "reward.wrong=-3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (summary,) = tmp_path.glob("runs/default/qa/hedging_grid/*/seed0/summary.json")
    assert "reward.wrong=-3" in str(summary)


def test_sweep_expressions_reach_hydra(tmp_path: Path) -> None:
    done = run_cli("-m", *TINY, "reward=choice(binary,hedging_grid)",
                   f"hydra.sweep.dir={tmp_path}", cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.rglob("summary.json"))) == 2


def test_bookkeeping_keys_are_the_same_everywhere() -> None:
    """The keys that neither split groups, nor stop a resume, nor name sweep folders."""
    import yaml

    from incentives.analysis.runs import BOOKKEEPING_KEYS

    config = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())
    excluded = set(config["hydra"]["job"]["config"]["override_dirname"]["exclude_keys"])
    naming = {"seed", "env", "reward", "experiment", "experiment_name"}
    assert excluded == set(BOOKKEEPING_KEYS) | naming


def test_an_episode_across_rollouts_is_counted_whole() -> None:
    from agents.callbacks import EpisodeTally

    class Nothing:
        def add(self, info: Any) -> None:
            pass

    tally = EpisodeTally(1)
    ones, no, yes = np.ones(1), np.zeros(1, dtype=bool), np.ones(1, dtype=bool)
    tally.step(ones, no, [{}], Nothing())
    assert tally.flush() == {}  # a rollout ends mid-episode
    tally.step(ones, no, [{}], Nothing())
    tally.step(ones, yes, [{"episode": {"r": 3.0}}], Nothing())
    assert tally.flush() == {"explicit/return": 3.0, "task/score": 3.0}


CHESS = ["+experiment=chess_kqk", "budget=512", "agent.n_steps=32", "agent.batch_size=64",
         "agent.size=tiny", "eval.every=256", "eval.episodes=8", "progress_bar=false"]  # fmt: skip


def _dying_engine(tmp_path: Path) -> Path:
    script = tmp_path / "stockfish-that-dies"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize(
    ("case", "args", "named"),
    [
        ("FEN file missing", ["env.kwargs.start=fen_file", "+env.kwargs.fen_file={tmp}/no.fen"],
         "no.fen' does not exist"),
        ("FEN file empty", ["env.kwargs.start=fen_file", "+env.kwargs.fen_file={tmp}/empty.fen"],
         "holds no FEN"),
        ("FEN file bad line", ["env.kwargs.start=fen_file", "+env.kwargs.fen_file={tmp}/bad.fen"],
         "bad.fen:2: bad FEN 'not a position'"),
        ("Stockfish missing", ["env.kwargs.opponent.name=stockfish",
                               "+env.kwargs.opponent.path={tmp}/nope"],
         "nope' is not an executable file"),
        ("chess without masks", ["agent=ppo"], "accepted: agent=maskable_ppo"),
        ("unknown opponent", ["env.kwargs.opponent.name=magnus"],
         "unknown opponent 'magnus'; accepted: greedy, policy, pool, random, stockfish"),
    ],
)  # fmt: skip
def test_chess_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, case: str, args: list[str], named: str
) -> None:
    (tmp_path / "empty.fen").write_text("# nothing here\n")
    (tmp_path / "bad.fen").write_text("7k/8/8/8/8/8/8/KQ6 w - - 0 1\nnot a position\n")
    (tmp_path / "die").symlink_to(_dying_engine(tmp_path))
    filled = [a.format(tmp=tmp_path) for a in args]
    done = refuse_in_process(*CHESS, *filled, f"hydra.run.dir={tmp_path / 'run'}", cwd=ROOT)
    assert done.returncode == 2, (case, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("incentives-train: error: ") and named in lines[0], lines[0]


def test_stockfish_dying_mid_game_is_not_a_user_error(tmp_path: Path) -> None:
    """An engine that dies is no mistake of the user's: exit 1 with the traceback, which
    the run folder's log keeps too."""
    (tmp_path / "die").symlink_to(_dying_engine(tmp_path))
    run_dir = tmp_path / "run"
    args = ["env.kwargs.opponent.name=stockfish", f"+env.kwargs.opponent.path={tmp_path}/die"]
    done = run_cli(*CHESS, *args, f"hydra.run.dir={run_dir}", cwd=ROOT)
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "stopped twice in one move" in done.stderr
    assert "stopped twice in one move" in (run_dir / "train.log").read_text()
