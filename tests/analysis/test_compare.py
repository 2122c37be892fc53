"""``incentives-compare``: aggregation, grouping, partial runs, bad folders, the files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from incentives.analysis.aggregate import estimate
from incentives.analysis.compare import Comparison, compare
from incentives.analysis.runs import find_runs, group_runs


def fake_run(
    root: Path, name: str, *, reward: str, seed: int, t_hat: float, size: str = "small",
    finished: bool = True, curve: tuple[float, ...] = (0.1, 0.5),
) -> Path:  # fmt: skip
    """A run folder as incentives-train writes it: config, progress.csv, summary.json."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("seed: 0\n")
    rows = ["time/total_timesteps,explicit/return,task/score"]
    rows += [f"{1000 * (i + 1)},{v},{v / 2}" for i, v in enumerate(curve)]
    (folder / "progress.csv").write_text("\n".join(rows) + "\n")
    if finished:
        config: dict[str, Any] = {
            "experiment_name": "fake", "seed": seed, "reward": {"name": reward},
            "agent": {"size": size}, "env": {"name": "qa"},
        }  # fmt: skip
        summary = {
            "env": "qa",
            "explicit_return": t_hat / 2,
            "task_score": 0.5,
            "behaviour": {"t_hat": t_hat, "answer_rate": 0.5, "answered_by_p/0.7-0.8": t_hat},
            "theory": {"thresholds": [0.8], "optimal_reward": 0.42},
            "config": config,
        }
        (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_estimate_against_hand_values() -> None:
    e = estimate([0.2, 0.4, 0.6, 0.8, 1.0, 5.0])
    assert e.mean == pytest.approx(8.0 / 6)
    # IQM: drop the lowest and highest 25% (1 of 6 each side): mean of 0.4..1.0
    assert e.iqm == pytest.approx(0.7)
    assert e.low <= e.mean <= e.high
    assert e.low >= 0.2 and e.high <= 5.0
    assert estimate([0.2, 0.4, 0.6, 0.8, 1.0, 5.0]) == e  # seeded: the same interval
    single = estimate([0.3, None, float("nan")])
    assert (single.mean, single.n, single.low, single.high) == (0.3, 1, 0.3, 0.3)
    assert estimate([]).n == 0 and str(estimate([])) == "–"


def test_interval_has_about_95_percent_coverage() -> None:
    """Over repeated samples of 10 from N(0, 1), the interval holds the true mean ~95% of
    the time (a percentile bootstrap of 10 runs under-covers a little)."""
    rng = np.random.default_rng(0)
    hits = [
        (e := estimate(list(rng.normal(size=10)), resamples=1000, seed=k)).low <= 0.0 <= e.high
        for k in range(200)
    ]
    assert 0.85 <= float(np.mean(hits)) <= 0.99


def test_two_point_interval_by_hand() -> None:
    # resampling [0, 1] gives means 0, 0.5, 1 with chances 1/4, 1/2, 1/4: the 2.5% and
    # 97.5% percentiles are 0 and 1
    e = estimate([0.0, 1.0], resamples=4000)
    assert (e.low, e.high) == (0.0, 1.0)


def test_grouping_by_scheme_and_varying_keys(tmp_path: Path) -> None:
    for seed in range(3):
        fake_run(
            tmp_path, f"a/grid/s{seed}", reward="hedging_grid", seed=seed, t_hat=0.7 + seed / 100
        )
        fake_run(tmp_path, f"a/bin/s{seed}", reward="binary", seed=seed, t_hat=0.0)
        fake_run(
            tmp_path, f"b/grid/s{seed}", reward="hedging_grid", seed=seed, t_hat=0.8, size="base"
        )
    groups = group_runs(find_runs(tmp_path))
    assert sorted(groups) == [
        "binary agent.size=small",
        "hedging_grid agent.size=base",
        "hedging_grid agent.size=small",
    ]
    assert all(len(runs) == 3 for runs in groups.values())
    t_hat = Comparison(tmp_path).estimates()["hedging_grid agent.size=small"]["t_hat"]
    assert t_hat.mean == pytest.approx(0.71) and t_hat.n == 3


def test_partial_runs_are_reported_and_left_out(tmp_path: Path) -> None:
    fake_run(tmp_path, "grid/s0", reward="hedging_grid", seed=0, t_hat=0.7)
    fake_run(tmp_path, "grid/s1", reward="hedging_grid", seed=1, t_hat=0.9)
    crashed = fake_run(tmp_path, "grid/s2", reward="hedging_grid", seed=2, t_hat=0, finished=False)
    (tmp_path / "grid" / "s1" / "summary.json").write_text("{not json")  # cut off mid-write
    comparison = Comparison(tmp_path)
    assert {r.path for r in comparison.unfinished} == {crashed, tmp_path / "grid" / "s1"}
    assert [len(r) for r in comparison.groups.values()] == [1]


def test_compare_writes_table_files_and_plots(tmp_path: Path) -> None:
    for seed in range(3):
        fake_run(tmp_path, f"grid/s{seed}", reward="hedging_grid", seed=seed, t_hat=0.75,
                 curve=(0.1, 0.2 + seed / 10, 0.4))  # fmt: skip
        fake_run(tmp_path, f"bin/s{seed}", reward="binary", seed=seed, t_hat=0.0)
    compare(tmp_path)
    md = (tmp_path / "comparison.md").read_text()
    assert "| hedging_grid | 3 |" in md and "0.800" in md
    csv_lines = (tmp_path / "comparison.csv").read_text().splitlines()
    assert csv_lines[0].startswith("group,n,explicit_return_mean,explicit_return_iqm")
    assert len(csv_lines) == 3
    for png in ("curve_explicit_return.png", "curve_task_score.png", "answered_by_p.png"):
        data = (tmp_path / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, png


@pytest.mark.parametrize("setup", ["missing", "empty", "only_crashed", "a_file"])
def test_bad_folder_is_one_line_and_exit_2(tmp_path: Path, setup: str) -> None:
    target = tmp_path / "runs"
    if setup == "empty":
        target.mkdir()
    elif setup == "only_crashed":
        fake_run(target, "x/s0", reward="binary", seed=0, t_hat=0.0, finished=False)
    elif setup == "a_file":
        target.write_text("not a folder")
    done = subprocess.run(
        [sys.executable, "-m", "incentives.analysis.compare", str(target)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("incentives-compare: error: RUNS_DIR")
    assert "accepted" in lines[0]
    if setup == "only_crashed":
        assert "left out" in done.stdout


def test_real_sweep_two_schemes_three_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.analysis.test_frontier import check_real_sweep
    from tests.conftest import ROOT, TINY, run_cli

    sweep = tmp_path / "sweep"
    done = run_cli(
        "-m", *TINY, "reward=binary,hedging_grid", "seed=0,1,2", f"hydra.sweep.dir={sweep}",
        cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = Path(sys.executable).with_name("incentives-compare")
    shown = subprocess.run(
        [str(script), str(sweep)], capture_output=True, text=True, timeout=300, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "hedging_grid" in shown.stdout and "binary" in shown.stdout
    table = [line for line in shown.stdout.splitlines() if not line.startswith("wrote")]
    assert max(len(line) for line in table) <= 100  # off a terminal: 100 columns
    rows = (sweep / "comparison.csv").read_text().splitlines()
    assert [r.split(",")[:2] for r in rows[1:]] == [["binary", "3"], ["hedging_grid", "3"]]
    for name in ("comparison.md", "curve_explicit_return.png", "answered_by_p.png",
                 "frontier.csv", "frontier_hallucination_rate_vs_compute.png"):  # fmt: skip
        assert (sweep / name).is_file(), name
        assert str(sweep / name) in shown.stdout.replace("\n", "")
    check_real_sweep(sweep, capsys)  # the same sweep's compute frontiers, read back


def test_running_runs_are_left_out_and_listed_as_running(tmp_path: Path) -> None:
    from tests.run.test_run_folder import hold

    fake_run(tmp_path, "grid/s0", reward="hedging_grid", seed=0, t_hat=0.7)
    writing = fake_run(tmp_path, "grid/s1", reward="hedging_grid", seed=1, t_hat=0.9)
    crashed = fake_run(tmp_path, "grid/s2", reward="hedging_grid", seed=2, t_hat=0, finished=False)
    child = hold(writing)  # a process writes grid/s1 (its summary.json may be half-new)
    try:
        comparison = Comparison(tmp_path)
        assert [r.path for r in comparison.running] == [writing]
        assert [r.path for r in comparison.unfinished] == [crashed]
        assert [len(r) for r in comparison.groups.values()] == [1]
        done = subprocess.run(
            [sys.executable, "-m", "incentives.analysis.compare", str(tmp_path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        child.kill()
        child.wait()
    assert done.returncode == 0, done.stderr
    assert f"left out, running (process {child.pid}): {writing}" in done.stdout
    assert f"left out, no summary.json (crashed or stopped): {crashed}" in done.stdout
    md = (tmp_path / "comparison.md").read_text()
    assert f"Left out, running (being written by a process):\n\n- `{writing}`" in md
    assert "| hedging_grid | 1 |" in md
    assert Comparison(tmp_path).running == []  # the writer is gone: s1 counts again


def test_only_running_runs_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from tests.run.test_run_folder import hold

    child = hold(fake_run(tmp_path, "grid/s0", reward="hedging_grid", seed=0, t_hat=0.7))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "incentives.analysis.compare", str(tmp_path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        child.kill()
        child.wait()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds no finished run (1 still running)" in lines[0]


def rendered(comparison: Comparison, width: int) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO())
    for table in comparison.tables(width):
        console.print(table)
    return console.export_text()


@pytest.mark.parametrize(
    ("groups", "seeds", "layout"),
    [(2, 3, "transposed"), (4, 1, None), (6, 3, "split")],
)
def test_table_reads_in_100_columns(
    tmp_path: Path, groups: int, seeds: int, layout: str | None
) -> None:
    """No line wider than the terminal, and no number cut or wrapped."""
    rewards = ["binary", "hedging_grid", "confidence_target"]
    for g in range(groups):
        for seed in range(seeds):
            fake_run(
                tmp_path, f"g{g}/s{seed}", reward=rewards[g % 3], seed=seed,
                t_hat=0.7 + g / 100 + seed / 50, size=["small", "base"][g // 3],
            )  # fmt: skip
    comparison = Comparison(tmp_path)
    assert len(comparison.groups) == groups
    text = rendered(comparison, 100)
    assert max(len(line) for line in text.splitlines()) <= 100
    tables = comparison.tables(100)
    if layout is not None:
        assert (len(tables) > 1) == (layout == "split")
    _, rows = comparison.cells()
    for cells in rows.values():
        for cell in cells:
            assert cell in text, cell
    if layout == "split":
        for label in rows:  # whole labels: they fit in 40 columns
            assert label in text
    assert len(rendered(comparison, 1000).splitlines()) < len(text.splitlines())  # wide fits


def test_compare_console_is_the_terminal_or_100_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from incentives.analysis.compare import terminal_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal_console().width == 100  # pytest's output is not a terminal
    monkeypatch.setenv("COLUMNS", "77")
    assert terminal_console().width == 77
