"""Scale records and emergence curves: parameter counts, compute, and the curves' points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from incentives.analysis.emergence import curves, emergence_metrics
from incentives.analysis.runs import Run, flatten
from incentives.registry import load_domain
from tests.conftest import ROOT, compare_quietly, run_cli


def _run(reward: str, size: str, budget: int, seed: int, params: int, t_hat: float) -> Run:
    config = {"reward": {"name": reward}, "agent": {"size": size}, "budget": budget, "seed": seed}
    steps = budget + 1000
    summary: dict[str, Any] = {
        "config": config,
        "behaviour": {"t_hat": t_hat},
        "scale": {"parameters": params, "env_steps": steps, "compute": params * steps},
    }
    return Run(Path(f"{reward}/{size}/{budget}/{seed}"), summary, flatten(config))


def test_curves_pool_sizes_per_scheme_and_budgets_against_compute() -> None:
    runs = [
        _run(reward, size, budget, seed, params, t_hat=params / 1000 + seed + budget / 1e6)
        for reward in ("grid", "binary")
        for size, params in (("tiny", 100), ("base", 1000))
        for budget in (1000, 2000)
        for seed in (0, 1, 2)
    ]
    by_params = curves(runs, "t_hat", "parameters")
    assert sorted(by_params) == [
        "binary budget=1000", "binary budget=2000", "grid budget=1000", "grid budget=2000",
    ]  # fmt: skip
    points = by_params["grid budget=2000"]
    assert [p.x for p in points] == [100.0, 1000.0]
    assert points[0].values == pytest.approx((0.102, 1.102, 2.102))
    assert points[0].estimate.n == 3 and points[0].estimate.mean == pytest.approx(1.102)

    by_compute = curves(runs, "t_hat", "compute")
    assert sorted(by_compute) == ["binary", "grid"]
    assert [p.x for p in by_compute["grid"]] == [2e5, 3e5, 2e6, 3e6]
    # runs without a scale record (older runs) and one-point lines are left out
    old = [Run(r.path, {**(r.summary or {}), "scale": None}, r.config) for r in runs]
    assert curves(old, "t_hat", "parameters") == {}
    assert curves(runs[:3], "t_hat", "parameters") == {}


def test_emergence_metrics_add_each_ladder_rung() -> None:
    behaviour = {"termination/checkmate": 0.5, "win_rate": 0.5, "ladder/random/win_rate": 0.4,
                 "ladder/greedy/win_rate": 0.2, "ladder/greedy/win_rate_low": 0.1}  # fmt: skip
    run = Run(Path("."), {"behaviour": behaviour, "config": {}})
    chess = load_domain("chess").behaviour_type()
    assert emergence_metrics(chess, [run]) == (
        "win_rate", "termination/checkmate", "ladder/greedy/win_rate", "ladder/random/win_rate",
    )  # fmt: skip


def test_run_records_parameters_and_compute_in_summary_and_hparams(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    from tests.run.test_cli import tensorboard_views

    run_dir = tmp_path / "run"
    done = run_cli(
        "budget=2048", "agent.size=null", "agent.layers=[8]", "eval.episodes=256", "eval.every=0",
        "progress_bar=false", f"hydra.run.dir={run_dir}", cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    scale = summary["scale"]
    model = PPO.load(run_dir / "model.zip", device="cpu")
    assert scale["parameters"] == sum(p.numel() for p in model.policy.parameters())
    assert scale["env_steps"] == summary["timesteps"] == model.num_timesteps
    assert scale["compute"] == scale["parameters"] * scale["env_steps"]
    assert (scale["device"], scale["device_name"], scale["torch_threads"]) == ("cpu", "cpu", 1)
    _, hparams, _, _ = tensorboard_views(run_dir)
    assert {"parameters", "compute", "device", "agent.size"} <= hparams


def test_chess_scale_sweep_draws_mate_rate_ladder_and_acpl_against_size(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_cli(
        "-m", "+experiment=chess_scale", "reward=sparse_win", "agent.size=tiny,small",
        "budget=256", "seed=0", "agent.n_steps=32", "agent.batch_size=64", "eval.episodes=8",
        "eval.ladder.opponents=[random,greedy]", "eval.ladder.episodes=4",
        "eval.ladder.move_quality.positions=4", "eval.ladder.move_quality.depth=2",
        f"hydra.sweep.dir={sweep}", cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(p.read_text()) for p in sweep.rglob("summary.json")]
    assert sorted(r["config"]["agent"]["policy"] for r in runs) == ["chess_mlp"] * 2
    tiny, small = sorted(r["scale"]["parameters"] for r in runs)
    assert tiny < small
    compare_quietly(sweep)
    for metric in ("termination_checkmate", "win_rate", "move_quality_acpl",
                   "ladder_random_win_rate", "ladder_greedy_win_rate"):  # fmt: skip
        assert (sweep / f"emergence_{metric}_vs_parameters.png").is_file(), metric
        assert (sweep / f"emergence_{metric}_vs_compute.png").is_file(), metric
