"""Compute frontiers: hand-computed frontiers, crossovers, intrinsic performance and their
bootstrap intervals on synthetic curves; the CLI's options; a real sweep read back from
its TensorBoard files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from incentives.analysis.compare import Comparison, FrontierOptions, main
from incentives.analysis.frontier import (
    Axis,
    Frontier,
    FrontierMetric,
    Line,
    crossover_index,
    lines_from_runs,
    mean_interval,
    parse_metric,
)
from incentives.analysis.runs import find_runs

UP, DOWN = FrontierMetric("score"), FrontierMetric("score", higher_is_better=False)

# A (dense teaching) is ahead early and stops at 0.6; B (the sparse incentive) is behind
# early, ahead for a moment at x=50 (0.52 > 0.5), behind again at x=100 (0.55 < 0.6),
# and ahead for good from x=300 (0.7 > 0.6).
A = ((0.0, 0.0), (10.0, 0.5), (100.0, 0.6), (1000.0, 0.58))
B = ((0.0, 0.0), (10.0, 0.1), (50.0, 0.52), (100.0, 0.55), (200.0, 0.5), (300.0, 0.7),
     (1000.0, 0.8))  # fmt: skip


def negated(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    return tuple((x, -v) for x, v in points)


def test_one_seed_frontier_is_the_best_so_far_carried_forward() -> None:
    line = Line("b", {0: B})
    xs = [0.0, 5.0, 10.0, 49.0, 50.0, 150.0, 200.0, 250.0, 300.0, 5000.0]
    # by hand: max of the values at x' <= x (200's 0.5 does not lower the best, 0.55)
    assert line.per_seed(xs, True).tolist() == [
        [0.0, 0.0, 0.1, 0.1, 0.52, 0.55, 0.55, 0.55, 0.7, 0.8]
    ]
    # lower is better: the least so far
    assert Line("b", {0: negated(B)}).per_seed(xs, False).tolist() == [
        [-0.0, -0.0, -0.1, -0.1, -0.52, -0.55, -0.55, -0.55, -0.7, -0.8]
    ]
    assert np.isnan(Line("late", {0: ((10.0, 1.0),)}).per_seed([9.0], True)).all()


@pytest.mark.parametrize("metric", [UP, DOWN])
def test_crossover_is_where_b_stays_ahead_after_a_led(metric: FrontierMetric) -> None:
    sign = 1.0 if metric.higher_is_better else -1.0
    a, b = (A, B) if sign > 0 else (negated(A), negated(B))
    frontier = Frontier(metric, "compute", {"dense": Line("dense", {0: a}),
                                            "sparse": Line("sparse", {0: b})})  # fmt: skip
    (c,) = frontier.crossovers()
    # by hand: tied at 0, dense ahead at 10, sparse at 50 (a wobble), dense at 100 and
    # 200, sparse from 300 to 1000: the last crossing, 300
    assert (c.a, c.b, c.start, c.end) == ("dense", "sparse", 0.0, 1000.0)
    assert (c.ahead_start, c.ahead_end, c.at) == (None, "sparse", 300.0)
    # one seed: every resample is the seed itself
    assert (c.low, c.high, c.no_crossover) == (300.0, 300.0, 0.0)


def test_no_crossover_up_to_the_largest_shared_compute() -> None:
    # sparse overtakes only at 5000, beyond dense's largest compute (1000): not compared
    late = ((0.0, 0.0), (10.0, 0.1), (1000.0, 0.55), (5000.0, 0.9))
    frontier = Frontier(UP, "compute", {"dense": Line("dense", {0: A}),
                                        "sparse": Line("sparse", {0: late})})  # fmt: skip
    (c,) = frontier.crossovers()
    assert (c.end, c.ahead_start, c.ahead_end, c.at, c.no_crossover) == (
        1000.0, None, "dense", None, 1.0,
    )  # fmt: skip
    # ahead throughout (never behind) is no crossover either
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 3.0, 4.0]])
    assert crossover_index(a, b, True).tolist() == [-1]
    assert crossover_index(b, a, False).tolist() == [-1]


def three_seeds() -> Frontier:
    """Dense: the same in every seed. Sparse: seed k overtakes (0.8) at 200, 300, 400."""
    dense = {k: ((0.0, 0.0), (10.0, 0.5), (100.0, 0.6), (1000.0, 0.6)) for k in range(3)}
    sparse = {
        k: ((0.0, 0.0), (10.0, 0.1), (100.0, 0.55), (200.0 + 100 * k, 0.8), (1000.0, 0.8))
        for k in range(3)
    }
    return Frontier(
        UP, "compute", {"dense": Line("dense", dense), "sparse": Line("sparse", sparse)}
    )


def test_crossover_interval_over_seeds_by_hand() -> None:
    """The mean of sparse at 200 is (0.8 + 0.55 + 0.55)/3 = 0.633 > 0.6: the crossover is
    at 200. A resample of the seeds with weights w crosses at 200 iff w0 > 0.2 (seed 0
    drawn), else at 300 iff seed 1 drawn, else (only seed 2: chance 1/27 = 3.7%) at 400.
    So P(<= 200) = 19/27, P(<= 300) = 26/27 = 96.3% < 97.5%: the interval is [200, 400]."""
    (c,) = three_seeds().crossovers()
    assert (c.at, c.low, c.high, c.no_crossover) == (200.0, 200.0, 400.0, 0.0)
    assert c.low <= c.at <= c.high


def test_intrinsic_performance_by_hand() -> None:
    frontier = three_seeds()
    # sparse's mean: 0.633 at 200, (0.8 + 0.8 + 0.55)/3 = 0.717 at 300, 0.8 at 400
    reach = frontier.reach("sparse", 0.7)
    assert (reach.at, reach.end) == (300.0, 1000.0)
    # resamples reach 0.7 at 200 iff w0 >= 2/3, at 300 iff w0 + w1 >= 2/3, else 400
    assert reach.low == 200.0 and reach.high == 400.0 and reach.not_reached == 0.0
    assert frontier.reach("dense", 0.5).at == 10.0
    missed = frontier.reach("dense", 0.7)
    assert (missed.at, missed.low, missed.high, missed.not_reached) == (None, None, None, 1.0)
    # default targets: half and 80% of the way from the worst (0.0) to the best (0.8)
    assert frontier.default_targets() == pytest.approx([0.4, 0.64])


def test_band_interval_contains_the_mean_and_collapses_when_seeds_agree() -> None:
    frontier = three_seeds()
    values = frontier.lines["sparse"].per_seed([200.0], True)
    mean, low, high = mean_interval(values)
    assert mean[0] == pytest.approx(1.9 / 3)
    # resample means of {0.55, 0.55, 0.8}: 0.55 (8/27), 0.633, 0.717 (6/27), 0.8 (1/27)
    assert low[0] == pytest.approx(0.55)
    assert 0.7166 <= high[0] <= 0.8 + 1e-12
    band = frontier.bands()["sparse"]  # on the grid: 3 seeds, the mean within its band
    assert band.n == 3 and np.all(band.low <= band.mean) and np.all(band.mean <= band.high)
    dense = frontier.bands()["dense"]
    assert np.array_equal(dense.low, dense.mean) and np.array_equal(dense.high, dense.mean)
    # two seeds: Student's t with 1 degree of freedom, t(0.975) = 12.706 (tables)
    mean, low, high = mean_interval(np.array([[1.0], [3.0]]))
    assert mean[0] == 2.0
    assert low[0] == pytest.approx(2.0 - 12.706, abs=1e-3)
    assert high[0] == pytest.approx(2.0 + 12.706, abs=1e-3)


def fake_run(root: Path, reward: str, size: str, params: int, seed: int,
             curve: list[tuple[int, float]]) -> None:  # fmt: skip
    """A finished run folder: eval/heldout/score at each step in progress.csv."""
    folder = root / reward / size / f"seed{seed}"
    folder.mkdir(parents=True)
    rows = ["time/total_timesteps,eval/heldout/score,train/loss"]
    rows += [f"{step},{value}," for step, value in curve] + ["99,,1.0"]
    (folder / "progress.csv").write_text("\n".join(rows) + "\n")
    config: dict[str, Any] = {"reward": {"name": reward}, "agent": {"size": size},
                              "budget": curve[-1][0], "seed": seed}  # fmt: skip
    summary = {"env": "qa", "config": config, "scale": {"parameters": params}}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_lines_pool_sizes_and_budgets_per_seed(tmp_path: Path) -> None:
    for seed in (0, 1):
        fake_run(tmp_path, "dense", "tiny", 10, seed, [(0, 0.0), (10, 0.5 + seed / 10)])
        fake_run(tmp_path, "dense", "base", 100, seed, [(0, 0.0), (10, 0.4), (20, 0.9)])
        fake_run(tmp_path, "sparse", "tiny", 10, seed, [(0, 0.0), (20, 0.3)])
    lines = lines_from_runs(find_runs(tmp_path), UP, "compute")
    assert sorted(lines) == ["dense", "sparse"]
    dense = lines["dense"]
    assert dense.runs == 4 and sorted(dense.seeds) == [0, 1]
    # compute = parameters x step; both sizes' evaluations in one seed's points
    assert dense.seeds[1] == ((0.0, 0.0), (0.0, 0.0), (100.0, 0.6), (1000.0, 0.4), (2000.0, 0.9))
    # by hand: the tiny network's 0.6 (at 100) stays the best until the base's 0.9 at 2000
    xs = [50.0, 100.0, 1000.0, 1999.0, 2000.0]
    assert dense.per_seed(xs, True).tolist() == [
        [0.0, 0.5, 0.5, 0.5, 0.9],
        [0.0, 0.6, 0.6, 0.6, 0.9],
    ]
    assert (dense.start, dense.end, lines["sparse"].end) == (0.0, 2000.0, 200.0)


def test_default_frontier_needs_two_schemes_with_curves(tmp_path: Path) -> None:
    """Unasked, compare draws the domain's metric (QA: hallucination rate, lower is
    better) where two schemes have its evaluations; asked, one scheme is enough."""
    for seed in (0, 1, 2):
        fake_run(tmp_path, "dense", "tiny", 10, seed, [(0, 0.0), (10, 0.5)])
    assert Comparison(tmp_path).frontiers() == {}  # only "eval/heldout/score" is logged
    asked = Comparison(tmp_path, frontier=FrontierOptions((UP,)))
    assert list(asked.frontiers()) == ["score"]
    for seed in (0, 1, 2):
        folder = tmp_path / "binary" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "progress.csv").write_text(
            "time/total_timesteps,eval/heldout/hallucination_rate\n0,0.4\n10,0.1\n"
        )
        config = {"reward": {"name": "binary"}, "seed": seed}
        (folder / "summary.json").write_text(
            json.dumps({"env": "qa", "config": config, "scale": {"parameters": 7}})
        )
    lonely = Comparison(tmp_path).frontiers()  # hallucination_rate: one scheme has it
    assert lonely == {}
    fake_run(tmp_path / "more", "grid", "tiny", 10, 0, [(0, 0.0)])
    (tmp_path / "more" / "grid" / "tiny" / "seed0" / "progress.csv").write_text(
        "time/total_timesteps,eval/heldout/hallucination_rate\n0,0.4\n10,0.0\n"
    )
    (found,) = Comparison(tmp_path).frontiers().values()
    assert found.metric == FrontierMetric("hallucination_rate", higher_is_better=False)
    assert sorted(found.lines) == ["binary", "grid"]
    assert found.lines["binary"].seeds[2] == ((0.0, 0.4), (70.0, 0.1))


def test_cli_bad_values_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_run(tmp_path, "dense", "tiny", 10, 0, [(0, 0.0), (10, 0.5)])
    cases = {
        ("--axis", "moon"): "--axis 'moon'; accepted: one of compute, wall",
        ("--target", "high"): "--target 'high'; accepted: a finite number",
        ("--target", "nan"): "--target 'nan'; accepted: a finite number",
        ("--frontier", "score:sideways"): "--frontier 'score:sideways'; accepted: METRIC",
        ("--frontier", "nothing"): "--frontier 'nothing': no finished run under",
    }
    for args, expected in cases.items():
        with pytest.raises(SystemExit) as stop:
            main([str(tmp_path), *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and len(err) == 1, (args, err)
        assert err[0].startswith(f"incentives-compare: error: {expected}"), err
        assert "accepted" in err[0]
    assert not (tmp_path / "comparison.md").exists()  # refused before writing anything
    assert parse_metric("x:down") == FrontierMetric("x", higher_is_better=False)


def write_events(path: Path, first: float, scalars: list[tuple[int, float, float]]) -> None:
    """A TensorBoard event file: its first event (the file version) at wall time
    ``first``, then (step, value, wall time) scalars of ``eval/heldout/score``."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    with path.open("wb") as handle:
        writer = RecordWriter(handle)
        events = [event_pb2.Event(wall_time=first, file_version="brain.Event:2")]
        for step, value, wall in scalars:
            summary = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag="eval/heldout/score", simple_value=value)]
            )
            events.append(event_pb2.Event(wall_time=wall, step=step, summary=summary))
        for event in events:
            writer.write(event.SerializeToString())
        writer.flush()


def test_wall_time_leaves_out_the_gap_between_sessions(tmp_path: Path) -> None:
    """A run stopped after 10 s and resumed 90 s later: the second session's file (named
    first, so the files' order comes from their first events) counts from where the first
    session's last event was."""
    from incentives.analysis.runs import event_scalars

    write_events(tmp_path / "events.out.tfevents.2.b", 1100.0, [(200, 0.7, 1105.0)])
    write_events(tmp_path / "events.out.tfevents.9.a", 1000.0, [(0, 0.1, 1002.0),
                                                               (100, 0.5, 1010.0)])  # fmt: skip
    points = event_scalars(tmp_path)["eval/heldout/score"]
    # by hand: 1002 - 1000, 1010 - 1000, then 1105 - 1000 - (1100 - 1010)
    assert [(p.step, p.wall_s) for p in points] == [(0.0, 2.0), (100.0, 10.0), (200.0, 15.0)]
    assert [p.value for p in points] == pytest.approx([0.1, 0.5, 0.7])


# -- a real sweep --------------------------------------------------------------------------


def tensorboard_points(run_dir: Path, tag: str) -> list[tuple[int, float, float]]:
    """(step, value, wall time since the file's first event) of ``tag``, read back with
    TensorBoard's own EventAccumulator (a run that was never resumed has one file)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (path,) = run_dir.glob("events.out.tfevents.*")
    events = EventAccumulator(str(path))
    events.Reload()
    first = events.FirstEventTimestamp()
    return [(e.step, e.value, e.wall_time - first) for e in events.Scalars(tag)]


def check_points(sweep: Path, axis: Axis) -> None:
    """The frontier's points of each run are its evaluations as TensorBoard has them, at
    parameters x step or at the event's wall time; each seed's frontier their best so far."""
    metric = FrontierMetric("task_score")
    comparison = Comparison(sweep, frontier=FrontierOptions((metric,), (), axis))
    frontier = comparison.frontiers()["task_score"]
    assert sorted(frontier.lines) == ["binary", "hedging_grid"]
    for label, line in frontier.lines.items():
        assert sorted(line.seeds) == [0, 1, 2]
        for seed, points in line.seeds.items():
            (run_dir,) = (sweep / "qa" / label).glob(f"*/seed{seed}")
            parameters = json.loads((run_dir / "summary.json").read_text())["scale"]["parameters"]
            read = tensorboard_points(run_dir, "eval/heldout/task_score")
            assert [s for s, _, _ in read] == [0, 1536, 2048]  # periodic, then the final one
            xs = [parameters * s if axis == "compute" else w for s, _, w in read]
            assert [x for x, _ in points] == pytest.approx(xs, rel=1e-9, abs=1e-6)
            # TensorBoard stores float32, the progress table float64
            assert [v for _, v in points] == pytest.approx([v for _, v, _ in read], rel=1e-6)
            best = [max(v for _, v, _ in read[: k + 1]) for k in range(len(read))]
            seed_row = line.per_seed(xs, True)[sorted(line.seeds).index(seed)]
            assert seed_row.tolist() == pytest.approx(best, rel=1e-6)


def check_real_sweep(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The frontier on a real sweep (two QA schemes x three seeds, evaluated at steps 0,
    1536 and 2048): called by test_compare.py's real-sweep test, so the sweep runs once.
    The CLI's options go through ``main()`` in that process (the console script, whose
    default frontier is drawn, is run there first)."""
    capsys.readouterr()  # what the test printed before
    check_points(sweep, "compute")
    check_points(sweep, "wall")
    main([str(sweep), "--frontier", "task_score", "--frontier", "hallucination_rate:down",
          "--target", "0.5"])  # fmt: skip
    shown = capsys.readouterr()
    assert "frontier task_score against compute: " in shown.out
    for name in ("frontier.csv", "frontier_crossovers.csv", "frontier_targets.csv",
                 "frontier_task_score_vs_compute.png",
                 "frontier_hallucination_rate_vs_compute.png"):  # fmt: skip
        assert (sweep / name).is_file(), name
        assert str(sweep / name) in shown.out.replace("\n", ""), name
    png = (sweep / "frontier_task_score_vs_compute.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    rows = (sweep / "frontier.csv").read_text().splitlines()
    assert rows[0] == "metric,axis,scheme,x,n,mean,low,high"
    assert {r.split(",")[0] for r in rows[1:]} == {"task_score", "hallucination_rate"}
    for scheme in ("binary", "hedging_grid"):
        # at its largest compute, a scheme's frontier is the mean over seeds of each seed's
        # best evaluation, as TensorBoard has them
        mine = [r.split(",") for r in rows[1:] if r.startswith(f"task_score,compute,{scheme},")]
        last = max(mine, key=lambda r: float(r[3]))
        best = [
            max(v for _, v, _ in tensorboard_points(run_dir, "eval/heldout/task_score"))
            for run_dir in sorted((sweep / "qa" / scheme).glob("*/seed*"))
        ]
        assert (int(last[4]), float(last[5])) == (3, pytest.approx(np.mean(best), rel=1e-6))
    targets = (sweep / "frontier_targets.csv").read_text().splitlines()
    assert len(targets) == 1 + 2 * 2  # two metrics x two schemes, one target
    md = (sweep / "comparison.md").read_text()
    assert "## Frontier: task_score against compute" in md
    assert "## Frontier: hallucination_rate (lower is better) against compute" in md
    assert "![frontier_task_score_vs_compute.png](frontier_task_score_vs_compute.png)" in md
