"""Answer phases of a text run: pretraining then a scheme judging the model's own
answers, in seconds with the tiny model. The run folder holds the answering measures
and the scheme's theory; a cached pretraining gives the same model as training it; a
run killed in its answer phase resumes to the same summary; bad settings are one line;
``incentives-compare`` draws answering against confidence."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

import incentives.run.text as text_run
from incentives.run.schema import ConfigError
from incentives.run.text import plan_text, train_text
from tests.conftest import refuse_in_process
from tests.run.test_text_run import text_config

#: Pretraining of 3072 tokens, then 400+ answer tokens in rollouts of 32 questions.
GRID = (
    "warmup=[{reward: next_token, steps: 3072}]",
    "reward=hedging_grid",
    "budget=400",
    "eval.every=0",
    "agent.rl.batch_size=32",
    "agent.rl.minibatch_size=16",
    "agent.rl.n_epochs=2",
    "env.answering.questions=64",
    "env.kwargs.idk_share=0.05",
    "env.kwargs.hedge_share=0.05",
)
ANSWERING = {"abstain_rate", "hallucination_rate", "hallucination_once", "singleton_share",
             "facts_error_rate", "ece", "brier", "t_hat"}  # fmt: skip


def grid_config(*overrides: str) -> dict[str, Any]:
    return text_config(*GRID, *overrides)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of one seed under ``sweep/``: the grid, then binary grading whose
    pretraining, the same, comes from the cache the first wrote."""
    root = tmp_path_factory.mktemp("grid")
    cache = "agent.pretrained_cache=" + str(root / "cache")
    train_text(grid_config(cache), root / "sweep" / "grid")
    train_text(grid_config("reward=binary", cache), root / "sweep" / "binary")
    return root / "sweep"


def summary_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())  # type: ignore[no-any-return]


def test_an_answer_phase_after_pretraining_writes_what_it_did(runs: Path) -> None:
    summary = summary_of(runs / "grid")
    assert [p["reward"] for p in summary["phases"]] == ["next_token", "hedging_grid"]
    assert summary["timesteps"] >= 3072 + 400
    assert summary["theory"]["thresholds"] == [0.8]  # the talk's grid answers from 0.8 on
    assert set(summary["behaviour"]) >= ANSWERING
    assert "answered_by_conf" in " ".join(summary["behaviour"])
    before = summary["phase_starts"]["1"]  # the pretrained model, measured the same way
    assert set(before) >= ANSWERING and before["explicit_return"] <= 1.0
    assert summary["measures"]["explicit_return"].startswith("the scheme's mean reward")
    rows = list(csv.DictReader((runs / "grid" / "progress.csv").open()))
    keys = set().union(*rows)
    assert {"train/kl", "train/abstain_rate", "train/clip_fraction", "explicit/return",
            "eval/heldout/abstain_rate"} <= keys  # fmt: skip


def test_a_cached_pretraining_is_the_model_trained_here(runs: Path) -> None:
    trained, cached = summary_of(runs / "grid"), summary_of(runs / "binary")
    assert cached["pretrained_from_cache"] and trained["pretrained_from_cache"] is None
    before, start = trained["phase_starts"]["1"], cached["phase_starts"]["1"]
    for key in ANSWERING:
        assert start[key] == pytest.approx(before[key]), key
    assert cached["theory"]["thresholds"] == []  # binary: answering always pays
    assert cached["timesteps"] >= 3072 + 400


def test_a_run_killed_in_its_answer_phase_resumes_to_the_same_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = grid_config("reward=teach_idk", "budget=600", "checkpoint.every=3200")
    whole = train_text(config, tmp_path / "whole")
    save = text_run.save_checkpoint
    saved: list[int] = []

    def save_then_die(trainer: Any) -> None:
        save(trainer)
        saved.append(trainer.progress.timesteps)
        if trainer.progress.phase == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(text_run, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_text(config, tmp_path / "killed")
    monkeypatch.setattr(text_run, "save_checkpoint", save)
    resumed = train_text(config, tmp_path / "killed")
    assert resumed["resumed_from"] == saved[-1] > 3072
    assert resumed["behaviour"] == whole["behaviour"]
    assert resumed["phase_starts"] == whole["phase_starts"]
    assert resumed["explicit_return"] == whole["explicit_return"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("env.answering.families=[chess]", "answering families has 'chess'"),
        ("env.answering.max_tokens=0", "env.answering.max_tokens=0; accepted"),
        ("agent.rl.kl_coef=-1", "agent.rl.kl_coef=-1; accepted"),
    ],
)
def test_bad_answering_settings_are_one_line(override: str, message: str, tmp_path: Path) -> None:
    if "families" in override:  # checked by the question pool, once the corpus is built
        with pytest.raises(ConfigError, match=message):
            plan_text(grid_config(override))
        return
    result = refuse_in_process("env=text", "agent=lm", *GRID, override, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_compare_draws_answering_against_confidence(runs: Path) -> None:
    from rich.console import Console

    from incentives.analysis.compare import compare

    compare(runs, console=Console(file=io.StringIO(), width=200))
    assert (runs / "answered_by_confidence.png").is_file()
    header = (runs / "comparison.csv").read_text().splitlines()[0]
    assert "abstain_rate" in header and "t_hat" in header
