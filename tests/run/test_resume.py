"""Exact resume: a run killed with SIGKILL at a random moment after its first checkpoint,
and started again with the same command, writes the summary an uninterrupted run writes,
bit for bit (CPU), and ends with the same weights.

The kill moments are random (``kill_at_random``): in a rollout, an update, an evaluation,
a checkpoint or the summary being written. The generator is seeded with
``RESUME_TEST_SEED`` (random if unset); every test prints the seed and its kill points, so
``RESUME_TEST_SEED=<seed> pytest tests/run/test_resume.py`` tries the same moments again
(as near as the machine's timing allows). The uninterrupted run of each case runs once a
session, beside the first test that needs it.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from tests.run.test_reliability import steps_by_tag

SEED = int(os.environ.get("RESUME_TEST_SEED") or random.SystemRandom().randrange(10**6))

#: Small runs with a checkpoint at every rollout's start: the cases of the tests, each
#: with the steps of its reward phases.
_QA = ["env.n_envs=16", "agent.n_steps=32", "agent.batch_size=128", "agent.n_epochs=2",
       "eval.episodes=256", "eval.n_envs=64", "eval.every=1024", "checkpoint.every=512",
       "progress_bar=false", "agent.device=cpu", "seed=3"]  # fmt: skip
CASES: dict[str, tuple[list[str], list[int]]] = {
    # the batched QAVecEnv, hedging grid
    "qa": ([*_QA, "budget=4096"], [4096]),
    # gym.make'd QAEnvs in a DummyVecEnv, a binary warm-up then the grid
    "qa_warmup": (
        [*_QA, "env.batched=null", "warmup=[{reward: binary, steps: 1024}]", "budget=2048"],
        [1024, 2048],
    ),
    # MaskablePPO on KQK against the random defender, DummyVecEnv; a Stockfish rung
    "chess": (
        ["+experiment=chess_kqk", "budget=512", "env.n_envs=4", "agent.n_steps=32",
         "agent.batch_size=64", "agent.n_epochs=2", "agent.size=tiny", "eval.every=256",
         "eval.episodes=8", "eval.ladder.opponents=[{name: stockfish, depth: 1}]",
         "eval.ladder.episodes=4", "eval.ladder.pgns=1", "eval.ladder.move_quality.positions=8",
         "checkpoint.every=128", "progress_bar=false", "agent.device=cpu"],
        [512],
    ),
}  # fmt: skip

METRICS = ("explicit_return", "task_score", "behaviour", "timesteps", "phases")


@dataclass(frozen=True)
class Finished:
    """An uninterrupted run: its summary and its final weights."""

    summary: dict[str, Any]
    weights: dict[str, Any]


def _weights(run_dir: Path) -> dict[str, Any]:
    """The policy's parameters in ``model.zip``."""
    import torch

    with zipfile.ZipFile(run_dir / "model.zip") as archive:
        state: dict[str, Any] = torch.load(
            io.BytesIO(archive.read("policy.pth")), weights_only=True
        )
    return state


def _command(case: str, run_dir: Path) -> list[str]:
    args = CASES[case][0]
    return [sys.executable, "-m", "incentives.run.cli", *args, f"hydra.run.dir={run_dir}"]


def _start(case: str, run_dir: Path) -> subprocess.Popen[bytes]:
    """The case's command, started; its stderr goes to a file beside ``run_dir``."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    errors = run_dir.parent / f"{run_dir.name}.stderr-{time.monotonic_ns()}.txt"
    with errors.open("wb") as handle:
        process = subprocess.Popen(
            _command(case, run_dir), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=handle,
        )  # fmt: skip
    process.errors = errors  # type: ignore[attr-defined]
    return process


def _wait(process: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Wait for a process that is to succeed; its stderr is the failure message."""
    process.wait(timeout=timeout)
    assert process.returncode == 0, process.errors.read_text()  # type: ignore[attr-defined]


class Uninterrupted:
    """The uninterrupted run of each case, started in the background when a test first
    asks (it runs beside the test's own processes), shared by the session's tests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.done: dict[str, Finished] = {}

    def start(self, case: str) -> None:
        if case not in self.running:
            self.running[case] = _start(case, self.folder / case)

    def get(self, case: str) -> Finished:
        if case not in self.done:
            self.start(case)
            _wait(self.running[case])
            run_dir = self.folder / case
            summary = json.loads((run_dir / "summary.json").read_text())
            self.done[case] = Finished(summary, _weights(run_dir))
        return self.done[case]


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Uninterrupted:
    """The uninterrupted runs of the cases (each run once per session)."""
    return Uninterrupted(tmp_path_factory.mktemp("uninterrupted"))


def _checkpoint(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "checkpoint.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _files(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def _unchanged(run_dir: Path, before: dict[str, bytes]) -> bool:
    """Every file as it was; the one new file allowed is Hydra's empty job log."""
    now = _files(run_dir)
    return all(now.get(name) == content for name, content in before.items()) and all(
        name in before or (name == "train.log" and not content) for name, content in now.items()
    )


def kill_at_random(
    case: str, run_dir: Path, rng: random.Random, phase: int = 0, interval: float = 0.0
) -> dict[str, Any]:
    """Start the case's command and SIGKILL it at a random moment after its first
    checkpoint (one of reward phase ``phase`` or later).

    The moment: a checkpoint drawn among those left to the run (one at every rollout's
    start), then a random time up to 1.5 times that between the last two checkpoints
    (``interval`` when this process has written but one: its first comes after its
    start-up); so in a rollout, an update, an evaluation, a checkpoint or the summary
    being written. Returns where it was killed, and the interval.
    """
    before = _checkpoint(run_dir)
    last = before["num_timesteps"] if before else -1
    args, steps = CASES[case]
    every = int(next(a for a in args if a.startswith("checkpoint.every=")).split("=")[1])
    first = max(last + 1, sum(steps[:phase]) + 1, every)
    target = rng.choice(range(first, max(first, sum(steps) - every) + 1))
    start = time.monotonic()
    process = _start(case, run_dir)
    seen: float | None = None
    try:
        while process.poll() is None:
            checkpoint = _checkpoint(run_dir)
            if checkpoint and checkpoint["num_timesteps"] > last:
                now = time.monotonic()
                if seen is not None or not interval:
                    interval = now - (seen if seen is not None else start)
                seen, last = now, checkpoint["num_timesteps"]
                if last >= target:
                    break
            time.sleep(0.005)
        delay = rng.uniform(0.0, interval * 1.5)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:  # a failed assertion: leave no process behind
            process.kill()
            process.wait()
    killed = process.returncode == -signal.SIGKILL
    if not killed:
        assert process.returncode == 0, process.errors.read_text()  # type: ignore[attr-defined]
    checkpoint = _checkpoint(run_dir)
    return {
        "target": target,
        "delay_s": round(delay, 3),
        "killed": killed,
        "checkpoint": checkpoint["num_timesteps"] if checkpoint else None,
        "finished": (run_dir / "summary.json").exists(),
        "interval_s": round(interval, 3),
    }


def _resume_and_compare(
    case: str, run_dir: Path, uninterrupted: Uninterrupted, kills: list[dict[str, Any]]
) -> dict[str, Any]:
    """Run the same command to the end; its metrics and weights are the uninterrupted
    run's."""
    print(f"RESUME_TEST_SEED={SEED} case={case} kills={kills}")
    last = _checkpoint(run_dir)
    done = run_cli(*_command(case, run_dir)[3:], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    whole = uninterrupted.get(case)
    for key in METRICS:  # bit for bit: JSON floats compare exactly
        assert summary[key] == whole.summary[key], (key, SEED, kills)
    weights = _weights(run_dir)
    assert weights.keys() == whole.weights.keys()
    for name, tensor in whole.weights.items():
        assert (weights[name] == tensor).all(), (name, SEED, kills)
    if last is not None and not kills[-1]["finished"]:
        assert summary["resumed_from"] == last["num_timesteps"]
    assert not list(run_dir.glob("checkpoint*")), "checkpoints are removed at the end"
    return summary


def test_qa_killed_twice_ends_as_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    """The batched QA env: killed, resumed and killed again, then resumed to the end.

    Also what the logs show: one event file per process, every step once, no gap.
    """
    uninterrupted.start("qa")
    rng = random.Random(SEED)
    run_dir = tmp_path / "run"
    kills = [kill_at_random("qa", run_dir, rng)]
    kills.append(kill_at_random("qa", run_dir, rng, interval=kills[0]["interval_s"]))
    summary = _resume_and_compare("qa", run_dir, uninterrupted, kills)

    trained = 1 + sum(not k["finished"] for k in kills)  # processes started before the end
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == trained
    steps = steps_by_tag(run_dir)
    for tag, seen in steps.items():
        assert len(seen) == len(set(seen)), f"{tag} logged twice at a step"
    curve = sorted(steps["explicit/return"])
    assert curve[-1] == summary["timesteps"]
    assert set(np.diff(curve)) == {curve[0]}, "a gap in the curve"  # one point per rollout


def test_killed_in_the_second_phase_ends_as_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    """QA through gym.make and a DummyVecEnv: a binary warm-up, then the grid; killed
    after a checkpoint of the grid phase (the reward schedule is in the checkpoint)."""
    uninterrupted.start("qa_warmup")
    rng = random.Random(SEED + 1)
    run_dir = tmp_path / "run"
    kill = kill_at_random("qa_warmup", run_dir, rng, phase=1)
    assert kill["finished"] or _checkpoint(run_dir)["phase"] == 1  # type: ignore[index]
    summary = _resume_and_compare("qa_warmup", run_dir, uninterrupted, [kill])
    assert [p["steps"] for p in summary["phases"]] == [1024, 2048]
    for tag, seen in steps_by_tag(run_dir).items():
        assert len(seen) == len(set(seen)), tag


def test_chess_killed_ends_as_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: Uninterrupted
) -> None:
    """MaskablePPO on chess (DummyVecEnv): games under way at the checkpoint, the
    defender's generator, the monitors' running episodes; the evaluation ladder's
    Stockfish rung comes out the same too."""
    uninterrupted.start("chess")
    rng = random.Random(SEED + 2)
    run_dir = tmp_path / "run"
    kill = kill_at_random("chess", run_dir, rng)
    summary = _resume_and_compare("chess", run_dir, uninterrupted, [kill])
    behaviour = summary["behaviour"]
    assert behaviour["win_rate"] + behaviour["draw_rate"] + behaviour["loss_rate"] == 1.0
    assert sum(v for k, v in behaviour.items() if k.startswith("termination/")) == 1.0
    assert any(k.startswith("ladder/stockfish") for k in behaviour), sorted(behaviour)
    tags = steps_by_tag(run_dir)
    assert "eval/heldout/win_rate" in tags and "explicit/terms/win" in tags
    for tag, seen in tags.items():
        assert len(seen) == len(set(seen)), tag


def test_crash_between_the_model_file_and_its_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uninterrupted: Uninterrupted
) -> None:
    """A process that dies after writing a checkpoint's model and state files but before
    ``checkpoint.json``: the previous checkpoint still loads, and the same command
    resumes from it to the uninterrupted run's summary."""
    from incentives.run import resume, train
    from tests.run.test_reliability import _compose

    uninterrupted.start("qa")
    run_dir = tmp_path / "run"
    original = resume._write_atomic

    def die_before_the_last_index(path: Path, data: bytes) -> None:
        if path.name == "checkpoint.json" and json.loads(data)["num_timesteps"] == 3584:
            raise KeyboardInterrupt  # the process dies before the index names the new files
        original(path, data)

    monkeypatch.setattr(resume, "_write_atomic", die_before_the_last_index)
    with pytest.raises(KeyboardInterrupt):
        train.train(_compose(*CASES["qa"][0]), run_dir)
    monkeypatch.undo()
    previous = resume.Checkpoint.load(run_dir)
    assert previous is not None and previous.num_timesteps == 3072
    assert (run_dir / "checkpoint-3584.zip").is_file()  # written, never indexed
    assert (run_dir / "checkpoint-3584.state").is_file()
    kill = {"killed": True, "checkpoint": 3072, "finished": False}
    _resume_and_compare("qa", run_dir, uninterrupted, [kill])


def test_refused_commands_touch_no_file_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a folder with a checkpoint: bad values, another config, a corrupt run
    state: one line, exit 2, every file as it was."""
    from incentives.run import train
    from tests.run.test_reliability import _compose

    run_dir = tmp_path / "run"
    command = [*_QA, "budget=1024", f"hydra.run.dir={run_dir}"]
    with monkeypatch.context() as patch:  # dies before its summary, after its checkpoint
        patch.setattr(train, "write_json", lambda *_: (_ for _ in ()).throw(OSError("disk")))
        with pytest.raises(OSError):
            train.train(_compose(*command[:-1]), run_dir)
    before = _files(run_dir)
    state = _checkpoint(run_dir)
    assert state is not None and state["state"] in before
    for extra, named in [
        (["budget=0"], "budget=0"),
        (["reward.wrong=-3"], "checkpoint of another config (reward.wrong"),
    ]:
        done = run_cli(*command, *extra, cwd=ROOT)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert named in line, line
        assert _unchanged(run_dir, before), extra
    (run_dir / state["state"]).write_bytes(before[state["state"]][:100])  # cut short
    before = _files(run_dir)
    done = run_cli(*command, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "cannot be read" in line, line
    assert _unchanged(run_dir, before)
