"""The real ``incentives-train`` CLI, run as a subprocess with a tiny budget."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from incentives.domains.qa.behaviour import QABehaviour
from incentives.run.cli import _report, headline_metrics
from tests.conftest import ROOT, TINY, refuse_in_process, run_cli

BEHAVIOUR_KEYS = (
    "answer_rate",
    "hedge_rate",
    "abstain_rate",
    "accuracy_answered",
    "hallucination_rate",
    "abstain_rate_unanswerable",
    "t_hat",
    "regret",
)


def tensorboard_views(run_dir: Path) -> tuple[dict[str, Any], set[str], list[str], set[str]]:
    """A run's custom-scalars layout, HParams names and metric tags, images, read back."""
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "images": 0})
    events.Reload()
    (layout_event,) = events.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(layout_event.tensor_proto.string_val[0])
    charts = {
        category.title: {chart.title: list(chart.multiline.tag) for chart in category.chart}
        for category in layout.category
    }
    hparams: set[str] = set()
    metrics: list[str] = []
    for content in events.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            hparams |= set(data.session_start_info.hparams)
        if data.HasField("experiment"):
            metrics += [m.name.tag for m in data.experiment.metric_infos]
    return charts, hparams, metrics, set(events.Tags()["images"])


def scalar_tags(run_dir: Path) -> dict[str, list[float]]:
    """Every scalar series in a run folder's TensorBoard event files, read back."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_run_writes_events_and_summary(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = run_cli(
        *TINY,
        "reward=hedging_grid",
        "warmup=[{reward: binary, steps: 1024}]",
        f"hydra.run.dir={run_dir}",
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "hedging_grid seed0: explicit_return=" in done.stdout and " t_hat=" in done.stdout
    assert [p["reward"] for p in summary["phases"]] == ["binary", "hedging_grid"]
    assert summary["timesteps"] >= 1024 + 2048
    for key in BEHAVIOUR_KEYS:
        assert key in summary["behaviour"], key
    rates = sum(summary["behaviour"][k] for k in ("answer_rate", "hedge_rate", "abstain_rate"))
    assert math.isclose(rates, 1.0)
    assert summary["theory"]["thresholds"] == [0.8]
    assert summary["theory"]["optimal_reward"] > 0
    assert 0.0 <= summary["task_score"] <= 1.0
    assert summary["versions"]["gymnasium"]
    assert summary["config"]["reward"]["wrong"] == -4.0
    assert (run_dir / "model.zip").is_file()
    assert "wrong: -4.0" in (run_dir / "config.yaml").read_text()

    tags = scalar_tags(run_dir)
    for tag in ("explicit/return", "task/score", "behaviour/answer_rate", "behaviour/t_hat"):
        assert tag in tags, sorted(tags)
    assert any(tag.startswith("explicit/terms/") for tag in tags)
    assert "eval/heldout/regret" in tags and "eval/heldout/explicit_return" in tags
    # the final evaluation is the one in summary.json
    assert tags["eval/heldout/t_hat"][-1] == pytest.approx(summary["behaviour"]["t_hat"])
    # every evaluation row of the progress table has its step (so compare can draw it)
    with (run_dir / "progress.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("eval/heldout/t_hat")]
    assert rows and all(r["time/total_timesteps"] for r in rows)
    assert rows[0]["time/total_timesteps"] == "0"
    # the three views side by side in custom scalars, and the run's HParams
    charts, hparams, metrics, images = tensorboard_views(run_dir)
    assert charts["explicit signal vs task score"]["task score"] == [
        r"^task/score$",
        r"^eval/heldout/task_score$",
    ]
    behaviour = charts["behaviour (training, eval)"]
    for metric in ("answer_rate", "hedge_rate", "abstain_rate", "hallucination_rate", "t_hat"):
        assert behaviour[metric] == [f"^behaviour/{metric}$", f"^eval/heldout/{metric}$"]
    assert {"reward", "reward.params", "seed", "warmup", "env", "agent.size"} <= hparams
    assert "eval/heldout/t_hat" in metrics and "eval/heldout/regret" in metrics
    assert all(tag in tags for tag in metrics), "HParams metrics are logged scalars"
    assert "eval/heldout/figure" in images
    # the explicit return and the task score are different views: under the grid a
    # wrong answer costs -4 but scores 0
    assert all(-4.0 <= r <= 1.0 for r in tags["explicit/return"])
    assert all(0.0 <= s <= 1.0 for s in tags["task/score"])


def test_console_script_multirun(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("incentives-train")
    assert script.is_file(), "the console script is installed beside the interpreter"
    done = subprocess.run(
        [
            str(script),
            "-m",
            *TINY,
            "reward=binary,hedging_grid",
            "seed=0",
            f"hydra.sweep.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for scheme in ("binary", "hedging_grid"):
        # the fixed overrides name a folder between the scheme and the seed
        (found,) = (tmp_path / "qa" / scheme).glob("*/seed0/summary.json")
        assert json.loads(found.read_text())["reward"]["name"] == scheme


def test_parameter_sweep_keeps_every_run(tmp_path: Path) -> None:
    done = run_cli("-m", *TINY, "reward.wrong=-3,-2", f"hydra.sweep.dir={tmp_path}", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    found = sorted(tmp_path.glob("qa/hedging_grid/*/seed0/summary.json"))
    wrongs = [json.loads(f.read_text())["reward"]["params"]["wrong"] for f in found]
    assert sorted(wrongs) == [-3.0, -2.0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["reward=binray"], "'binray'"),
        (["reward.wrong=nan"], "wrong=nan"),
        (["reward.wrong=oops"], "wrong='oops'"),
        (["reward=confidence_target", "reward.t=1.5"], "t=1.5"),
        (["+reward.wong=1"], "'wong'"),
        (["budget=0"], "budget=0"),
        (["warmup=[{reward: nope, steps: 10}]"], "'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], named: str) -> None:
    # the console script's main() in this process; a real subprocess: the test after
    done = refuse_in_process(*args, f"hydra.run.dir={tmp_path}", cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("incentives-train: error:") and named in lines[0]
    assert "accepted" in lines[0]


@pytest.mark.parametrize(
    "args", [["reward.wrong=nan"], ["-m", "reward=binray"], ["-m", "--cfg", "job"]]
)
def test_bad_input_through_the_real_console_script(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("incentives-train")), *args,
         f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("incentives-train: error: "), done.stderr
    assert "accepted" in lines[0] and not (tmp_path / "run").exists()


def test_module_entry_point_shows_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "incentives.run.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0
    assert "reward: answer_only, answer_weighted, binary, check_bonus, confidence_target, " in (
        done.stdout
    )


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ({"domain": "qa"}, QABehaviour.names(headline=True)),
        ({"config": {"env": {"domain": "qa"}}}, QABehaviour.names(headline=True)),
        ({"domain": "not_installed"}, ()),
        ({"config": {}}, ()),
    ],
)
def test_console_line_shows_the_domains_headline_metrics(
    summary: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert headline_metrics(summary) == expected


def test_console_line_is_short(capsys: pytest.CaptureFixture[str]) -> None:
    summary = {
        "domain": "qa",
        "reward": {"name": "binary"},
        "seed": 3,
        "explicit_return": 0.5,
        "task_score": 0.25,
        "behaviour": {"t_hat": 0.81234, "answer_rate": 1, "accuracy_answered": 0.5},
    }
    _report(Path("runs/x"), summary)
    assert capsys.readouterr().out == (
        "binary seed3: explicit_return=0.500 task_score=0.250  t_hat=0.812\n  -> runs/x\n"
    )
