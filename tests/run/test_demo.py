"""``make demo``'s output: live progress of its runs, and a table that reads in 100 columns."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from incentives.run import demo
from incentives.run.demo import ProgressReader
from tests.conftest import TINY


def test_progress_reader_reports_complete_rows_once(tmp_path: Path) -> None:
    header = "time/total_timesteps,explicit/return,eval/heldout/explicit_return,eval/heldout/t_hat"
    table = tmp_path / "progress.csv"
    table.write_text(f"{header}\n0,,0.25,nan\n512,0.1,,\n1024,0.2,0.5,0.7\n2048,0.3,0.6")
    (tmp_path / "config.yaml").write_text(
        "budget: 4096\nwarmup:\n- {reward: binary, steps: 1024}\n"
    )
    reader = ProgressReader(tmp_path)
    first = reader.evaluations()
    assert [r.step for r in first] == [0, 1024]  # the row being written (2048) waits
    assert first[1].values["explicit"] == 0.5 and first[1].values["t_hat"] == 0.7
    assert reader.evaluations() == []  # nothing twice
    latest = reader.latest_training()
    assert latest is not None and (latest.step, latest.values["explicit"]) == (1024, 0.2)
    assert reader.latest_training() is None
    table.write_text(table.read_text() + ",0.8\n")  # the row is complete now
    assert [r.step for r in reader.evaluations()] == [2048]
    assert reader.total_steps() == 5120


def test_demo_shows_each_runs_progress_live_and_a_100_column_table(tmp_path: Path) -> None:
    """Two short real runs through the demo's loop: started, evaluations as they come (from
    each run's progress.csv), done; every line within 100 columns, table included."""
    lines: list[str] = []
    console = Console(width=100, record=True, file=io.StringIO())
    runs = (("binary", ("reward=binary", *TINY)), ("hedging_grid", ("reward=hedging_grid", *TINY)))
    demo.main(runs=runs, root=tmp_path / "demo", console=console, write=lines.append,
              train_every_s=0.0, poll_s=0.3)  # fmt: skip
    shown = [line for line in lines if "->" not in line]  # but a folder's name
    assert all(len(line) <= 100 for line in shown), lines
    assert lines[0].split() == ["time", "run", "step", *(h for h, _, _ in demo.COLUMNS)]
    for name, _ in runs:
        mine = [line.split() for line in lines if line.split()[1:2] == [name]]
        assert mine[0][2:4] == ["started", "->"]
        assert mine[-1][2:4] == ["done", "in"]
        evals = [row[2] for row in mine if row[3:4] == ["eval"]]
        assert evals[-1] == "2.05k/2.05k", evals
        steps = [float(re.sub("k", "e3", s.split("/")[0])) for s in evals]
        assert steps == sorted(set(steps)) and len(steps) >= 2  # each evaluation once
        assert any(row[3:4] == ["train"] for row in mine)
    text = console.export_text()
    assert "Comparison of" in text and "hedging_grid" in text
    table = [line for line in text.splitlines() if not line.startswith(("wrote", "TensorBoard"))]
    assert max(len(line) for line in table) <= 100
    assert (tmp_path / "demo" / "comparison.csv").read_text().count("\n") == 3


def test_demo_stops_at_a_failed_run_and_shows_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    runs = (("nope", ("env=nope",)),)
    with pytest.raises(SystemExit, match="demo: run failed: env=nope"):
        demo.run_all(runs, root=tmp_path, write=lines.append, poll_s=0.1)
    assert "failed (exit code 2)" in lines[-1]
    assert "unknown env 'nope'" in capsys.readouterr().err


def test_progress_lines_of_the_real_demo_fit_100_columns() -> None:
    lines: list[str] = []
    shown = demo._Lines([name for name, _ in demo.DEMO_RUNS], lines.append)
    shown.header()
    worst = demo.Report(1_234_567, "train", {h: -12.345 for h, _, _ in demo.COLUMNS})
    shown.report("hedging_grid_from_scratch", worst, 1_350_000)
    assert all(len(line) <= 100 for line in lines), [len(line) for line in lines]
    assert lines[1].split()[2:] == ["1.23M/1.35M", "train", *["-12.345"] * len(demo.COLUMNS)]
