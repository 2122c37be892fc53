"""A composite reward through the real ``incentives-train``: the schedule's clock reaches
every wrapper copy in the vector env, its weights are logged, bad parts exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import ROOT, refuse_in_process, run_cli

#: QA through gym.make'd envs in a DummyVecEnv (one Compose wrapper per env), 8 envs x 64
#: steps = 512 env steps a rollout, 3 rollouts; binary's weight falls from 1 to 0 over
#: the first 1024 steps.
RUN = [
    "reward=mix",
    "reward.parts.1.weight.steps=1024",
    "env.batched=null",
    "env.n_envs=8",
    "agent.n_steps=64",
    "agent.batch_size=512",
    "agent.n_epochs=1",
    "budget=1536",
    "eval.every=0",
    "eval.episodes=16",
    "eval.n_envs=8",
    "checkpoint.every=0",
    "progress_bar=false",
    "agent.device=cpu",
    "agent.torch_threads=1",
]
ANNEALED = {"start": 1.0, "end": 0.0, "steps": 100}


def test_weights_follow_the_run_steps_in_every_env_copy(tmp_path: Path) -> None:
    done = run_cli(*RUN, f"hydra.run.dir={tmp_path}", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["reward"]["name"] == "mix" and summary["timesteps"] == 1536

    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()

    def curve(tag: str) -> dict[int, float]:
        return {s.step: s.value for s in events.Scalars(tag)}

    # logged with the rollout that ends at each step; set at its start, by hand:
    # 1 - start/1024, not below 0
    weight = {512: 1.0, 1024: 0.5, 1536: 0.0}
    assert curve("explicit/weight/binary") == weight
    assert curve("explicit/weight/hedging_grid") == dict.fromkeys(weight, 1.0)
    # binary pays 1 where the grid pays 1 (a right answer): the mean of the weighted terms
    # over all 8 envs' episodes is the weight times the grid's, so every copy had it
    grid, binary = (
        curve("explicit/terms/hedging_grid.correct"),
        curve("explicit/terms/binary.correct"),
    )
    checked = [step for step in grid if grid[step] > 0]
    assert checked, grid
    for step in checked:
        assert binary.get(step, 0.0) == pytest.approx(weight[step] * grid[step], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["reward=mix", "reward.parts.1.scheme=binray"], "'binray'"),
        (["reward=mix", "reward.parts.1.weight.steps=-5"], "steps=-5"),
        (["reward=mix", "reward.parts.1.weight.shape=exp"], "shape='exp'"),
        (["reward=mix", "+reward.parts.0.params={wong: 1}"], "'wong'"),
        (["reward=mix", "reward.parts.0.weight=lots"], "weight='lots'"),
    ],
)
def test_bad_parts_are_one_line_and_exit_2(tmp_path: Path, args: list[str], named: str) -> None:
    done = refuse_in_process(*args, f"hydra.run.dir={tmp_path}/run", cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("incentives-train: error: "), done.stderr
    assert named in lines[0] and "accepted" in lines[0] and "parts[" in lines[0]
    assert not (tmp_path / "run").exists()


def test_a_scheduled_weight_is_refused_where_no_clock_moves() -> None:
    from incentives.run.build import ConfigError, phases

    reward = {"name": "mix", "parts": [{"scheme": "binary", "weight": ANNEALED}]}
    schedule = phases({"reward": reward, "budget": 10, "agent": {"algo": "ppo"}})
    assert schedule[0].signal.scheduled()
    with pytest.raises(ConfigError, match=r"agent\.algo=lm; accepted: constant weights"):
        phases({"reward": reward, "budget": 10, "agent": {"algo": "lm"}})
