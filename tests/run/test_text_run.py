"""A text-domain run: the LM learner through the runner's story, its run folder, its
exact resume, and the real CLI once ``train()`` dispatches ``agent.algo: lm``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import incentives.run.text as text_run
from incentives.run.configs import config_dir
from incentives.run.schema import ConfigError
from incentives.run.text import plan_text, train_text
from tests.conftest import compare_quietly, run_cli

#: A run of seconds: the tiny model, 5 updates of 16 x 48 tokens, 10 documents a group.
TINY_TEXT = (
    "env=text",
    "agent=lm",
    "reward=next_token",
    "agent.size=tiny",
    "agent.batch_size=16",
    "agent.context=48",
    "agent.log_every=2",
    "budget=3840",
    "env.kwargs.documents=2000",
    "env.kwargs.facts=200",
    "eval.episodes=140",
    "eval.n_envs=64",
    "eval.every=1536",
    "checkpoint.every=0",
    "progress_bar=false",
)


def text_config(*overrides: str) -> dict[str, Any]:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=[*TINY_TEXT, *overrides])
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def test_a_run_writes_the_folder_of_every_run(tmp_path: Path) -> None:
    summary = train_text(text_config("reward=answer_only", "+reward.families=[addition]"), tmp_path)
    assert {"experiment", "env", "domain", "reward", "seed", "phases", "timesteps", "scale",
            "explicit_return", "task_score", "behaviour", "theory", "config", "versions",
            "git_revision"} <= set(summary)  # fmt: skip
    assert summary["domain"] == "text" and summary["timesteps"] == 3840
    assert summary["reward"] == {"name": "answer_only", "params": {"families": ["addition"]}}
    scale = summary["scale"]
    assert scale["env_steps"] == 3840 and scale["compute"] == scale["parameters"] * 3840
    assert {"exact_mean", "logprob_mean", "induction_exact", "composition_exact"} <= set(
        summary["behaviour"]
    )
    assert json.loads((tmp_path / "summary.json").read_text())["timesteps"] == 3840
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "config.yaml").is_file()
    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    steps = [int(float(r["time/total_timesteps"])) for r in rows]
    assert steps == sorted(steps) and steps[-1] == 3840
    keys = set(rows[0])
    assert {"explicit/return", "task/score", "eval/heldout/exact_mean",
            "behaviour/exact_mean", "eval/heldout/task_score"} <= keys  # fmt: skip
    assert train_text(text_config("reward=answer_only", "+reward.families=[addition]"),
                      tmp_path)["already_finished"]  # fmt: skip


def test_a_killed_run_resumes_to_the_same_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = text_config("checkpoint.every=1536", "warmup=[{reward: next_token, steps: 1536}]",
                         "reward=answer_only")  # fmt: skip
    whole = train_text(config, tmp_path / "whole")
    save = text_run.save_checkpoint

    def save_then_die(trainer: Any) -> None:
        save(trainer)
        raise KeyboardInterrupt

    monkeypatch.setattr(text_run, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_text(config, tmp_path / "killed")
    assert (tmp_path / "killed" / "checkpoint.json").is_file()
    monkeypatch.setattr(text_run, "save_checkpoint", save)
    resumed = train_text(config, tmp_path / "killed")
    assert resumed["resumed_from"] == 1536
    assert resumed["behaviour"] == whole["behaviour"]
    assert resumed["explicit_return"] == whole["explicit_return"]
    assert [p["reward"] for p in resumed["phases"]] == ["next_token", "answer_only"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("agent.context=20", "agent.context=20 is shorter than the longest document"),
        ("reward=sparse_win", "needs the event 'learner_move', which neither the corpus"),
        ("agent.size=huge", "agent.size='huge'; accepted"),
        ("+agent.n_steps=64", "unknown key 'agent.n_steps'"),
        ("env.kwargs.noise=3", "noise=3; accepted"),
    ],
)
def test_bad_settings_are_one_line_config_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_text(text_config(override))


def test_a_short_text_multitask_sweep_trains_and_compares(tmp_path: Path) -> None:
    """``+experiment=text_multitask`` through the real CLI with tiny axes (both signals,
    two sizes, one seed), then ``incentives-compare``: the experiment's story in seconds."""
    tiny = [a for a in TINY_TEXT if a.split("=")[0] not in ("env", "agent", "reward")]
    sweep = tmp_path / "sweep"
    result = run_cli("-m", "+experiment=text_multitask", *tiny, "reward=next_token,answer_only",
                     "agent.size=tiny,small", "budget=3840", "seed=0",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    summaries = [json.loads(p.read_text()) for p in sweep.rglob("summary.json")]
    assert sorted((s["reward"]["name"], s["config"]["agent"]["size"]) for s in summaries) == [
        ("answer_only", "small"), ("answer_only", "tiny"),
        ("next_token", "small"), ("next_token", "tiny"),
    ]  # fmt: skip
    assert all(s["domain"] == "text" and s["timesteps"] == 3840 for s in summaries)
    compare_quietly(sweep)
    header = (sweep / "comparison.csv").read_text().splitlines()[0]
    assert "exact_mean_mean" in header and "logprob_mean_mean" in header
    assert (sweep / "emergence_exact_mean_vs_parameters.png").is_file()


@pytest.mark.parametrize("experiment", ["text_multitask", "text_specialists", "text_diversity"])
def test_text_experiments_compose_and_plan_at_each_sweep_end(experiment: str) -> None:
    """Each sweep's first and last values compose and pass the plan (a small corpus)."""
    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = Path(config_dir()) / "experiment" / f"{experiment}.yaml"
    params = yaml.safe_load(path.read_text())["hydra"]["sweeper"]["params"]
    parser = OverridesParser.create()
    values = {}
    for key, value in params.items():
        (override,) = parser.parse_overrides([f"{key}={value}"])
        values[key] = list(override.sweep_string_iterator())
    for pick in (0, -1):
        chosen = [f"{k}={v[pick]}" for k, v in values.items()]
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            cfg = compose("config", overrides=[f"+experiment={experiment}", *chosen,
                                               "env.kwargs.documents=500"])  # fmt: skip
        plan = plan_text(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
        assert plan.config["experiment_name"] == experiment
