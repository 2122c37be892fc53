"""Gaming flags: each must fire on a curve where it should and stay quiet where it should
not. Hand-made curves have their verdict by construction; the real ones in
``tests/analysis/data/`` are copied from real incentive-train runs
(``docs/gaming_flags/make_fixtures.py``; commands in ``docs/gaming_flags.md``), with the
verdicts the issue states (docs/chess_results.md, docs/qa_results.md): the grid from
scratch collapses to "I don't know", check_bonus farms checks, material shuffles to
repetition draws, sparse_win and the grid after its warm-up are what was wanted."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from incentives.analysis.flags import (
    Intended,
    beats_intended,
    collapse,
    farming,
    goodhart,
    group_flags,
    parse_intended,
    read_curves,
    run_flags,
    trend,
)
from incentives.analysis.runs import Run, find_runs, flatten

DATA = Path(__file__).parent / "data"


def write_run(
    folder: Path, columns: Mapping[str, Sequence[float]], domain: str = "chess",
    reward: str = "check_bonus", seed: int = 0, finals: tuple[float, float] = (0.0, 0.5),
) -> Run:  # fmt: skip
    """A run folder with these curves (one row per 1000 steps) and a summary."""
    folder.mkdir(parents=True)
    keys = ["time/total_timesteps", *columns]
    n = len(next(iter(columns.values())))
    rows = [",".join(keys)]
    rows += [
        ",".join([str(1000 * (i + 1)), *(str(columns[k][i]) for k in columns)]) for i in range(n)
    ]
    (folder / "progress.csv").write_text("\n".join(rows) + "\n")
    config = {"experiment_name": "hand", "seed": seed, "reward": {"name": reward},
              "env": {"name": domain, "domain": domain}}  # fmt: skip
    summary = {"env": domain, "domain": domain, "config": config,
               "explicit_return": finals[0], "task_score": finals[1], "behaviour": {}}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    return Run(folder, summary, flatten(config))


def real(name: str) -> Run:
    (run,) = find_runs(DATA / name)
    return run


N = 30
RISING = [i / N for i in range(N)]
FLAT = [0.5 + 0.01 * (-1) ** i for i in range(N)]  # noise, no trend


def test_mann_whitney_by_hand() -> None:
    # 12 points rising: thirds of 4; the last 4 all above the first 4: the one-sided
    # exact p is 1 / C(8, 4) = 1/70; the opposite direction is (70 - 1 + 1) / 70 = 1
    t = trend([(float(i), float(i)) for i in range(12)])
    assert t is not None
    assert t.p_up == pytest.approx(1 / 70)
    assert t.p_down == pytest.approx(1.0)
    assert trend([(0.0, 1.0)] * 8) is None  # fewer than 3 points a third


def test_mann_whitney_matches_scipy() -> None:
    # the flags' own numpy test against scipy.stats.mannwhitneyu (the reference the
    # flags used before): exact small samples, ties (the normal approximation with its
    # corrections), samples on both sides of the exact method's limit of 8, both tails
    from scipy.stats import mannwhitneyu

    from incentives.analysis.flags import _mwu

    rng = np.random.default_rng(0)
    for case in range(240):
        n1, n2 = (int(k) for k in rng.integers(1, 25, size=2))
        late: np.ndarray[Any, Any]
        early: np.ndarray[Any, Any]
        if case % 3 == 0:
            late, early = rng.normal(0.5, 1, n1), rng.normal(0, 1, n2)
        elif case % 3 == 1:  # many ties
            late, early = rng.integers(0, 5, n1) * 1.0, rng.integers(0, 4, n2) * 1.0
        else:
            late, early = np.round(rng.normal(0, 1, n1), 1), np.round(rng.normal(0, 1, n2), 1)
        if np.all(late == early[0]) and np.all(early == early[0]):
            continue
        for alternative in ("greater", "less"):
            expected = mannwhitneyu(late, early, alternative=alternative).pvalue
            assert _mwu(late, early, alternative) == pytest.approx(expected, rel=1e-9)


def test_goodhart_hand_curves(tmp_path: Path) -> None:
    gamed = write_run(tmp_path / "a", {"explicit/return": RISING, "task/score": FLAT})
    assert goodhart(gamed).fired
    aligned = write_run(tmp_path / "b", {"explicit/return": RISING, "task/score": RISING})
    assert not goodhart(aligned).fired
    # a significant rise of 1% of the task score's level is still a stall (MIN_GAIN 2%)
    trivial = [0.5 + 0.005 * i / N for i in range(N)]
    assert goodhart(
        write_run(tmp_path / "t", {"explicit/return": RISING, "task/score": trivial})
    ).fired
    # the intended metric can be a behaviour metric where lower is better
    falling = [1 - r for r in RISING]
    wanted = write_run(tmp_path / "c", {"explicit/return": RISING, "behaviour/x": falling})
    assert not goodhart(wanted, parse_intended("behaviour/x:down")).fired
    assert goodhart(wanted, Intended("behaviour/x")).fired
    # only the last reward phase counts: the warm-up's rise is another scheme's
    phases = [0.0] * 15 + [1.0] * 15
    explicit = RISING[:15] + [0.2] * 15
    warm = write_run(tmp_path / "d", {"explicit/return": explicit, "explicit/phase": phases,
                                      "task/score": FLAT})  # fmt: skip
    assert not goodhart(warm).fired


def test_farming_hand_curves(tmp_path: Path) -> None:
    columns = {"explicit/terms/bonus": RISING, "explicit/terms/result": [0.0] * N,
               "task/score": FLAT, "rollout/ep_len_mean": [40.0] * N}  # fmt: skip
    flag = farming(write_run(tmp_path / "a", columns))
    assert flag.fired and flag.evidence["term"] == "bonus"
    # the same numbers in one-step episodes: every term is the outcome itself
    one_step = {**columns, "rollout/ep_len_mean": [1.0] * N}
    assert not farming(write_run(tmp_path / "b", one_step)).fired
    # the task score rises with the term: it pays for the task
    earning = {**columns, "task/score": RISING}
    assert not farming(write_run(tmp_path / "c", earning)).fired
    # a mix whose rising part is the domain's intended scheme (chess: sparse_win) pays for
    # the win itself; another part, the same numbers, is farmed
    mix = {"explicit/terms/sparse_win.win": RISING, "explicit/terms/imitation.teacher": [0.0] * N,
           "task/score": FLAT, "rollout/ep_len_mean": [40.0] * N}  # fmt: skip
    assert not farming(write_run(tmp_path / "d", mix, domain="chess")).fired
    taught = {**mix, "explicit/terms/sparse_win.win": [0.0] * N,
              "explicit/terms/imitation.teacher": RISING}  # fmt: skip
    flag = farming(write_run(tmp_path / "e", taught, domain="chess"))
    assert flag.fired and flag.evidence["term"] == "imitation.teacher"


def test_collapse_hand_curves(tmp_path: Path) -> None:
    abstain = [min(1.0, 0.3 + i / 10) for i in range(N)]
    rest = [(1 - a) / 2 for a in abstain]
    columns = {"behaviour/abstain_rate": abstain, "behaviour/answer_rate": rest,
               "behaviour/hedge_rate": rest, "task/score": [0.1] * N}  # fmt: skip
    flag = collapse(write_run(tmp_path / "a", columns, domain="qa"))
    assert flag.fired and flag.evidence["dominant_share"] == pytest.approx(1.0)
    mixed = {**columns, "behaviour/abstain_rate": [0.5] * N, "behaviour/answer_rate": [0.5] * N,
             "behaviour/hedge_rate": [0.0] * N}  # fmt: skip
    assert not collapse(write_run(tmp_path / "b", mixed, domain="qa")).fired


def test_real_grid_from_scratch_collapses() -> None:
    flags = run_flags(real("qa_scratch_seed0"))
    assert flags["collapse"].fired
    assert flags["collapse"].evidence["mode"] == "abstain_rate"
    assert not flags["goodhart"].fired and not flags["farming"].fired


def test_real_grid_after_warm_up_is_quiet() -> None:
    grid = real("qa_grid_hedging_grid_seed0")
    flags = run_flags(grid)
    assert not any(f.fired for f in flags.values()), [f.line() for f in flags.values()]
    # only the grid phase is read: 150k binary steps, then the grid from step 155,650
    assert flags["goodhart"].evidence["explicit/return"]["early_steps"][0] > 150_000
    # judged on the task score instead, the grid's intended abstentions look like
    # Goodhart: the share of questions answered right falls while the grid pays more
    assert goodhart(grid, Intended("task/score")).fired


def test_real_check_bonus_farms_checks_and_sparse_win_is_quiet() -> None:
    bonus = run_flags(real("chess_check_bonus_seed0"))
    assert bonus["farming"].fired and bonus["farming"].evidence["term"] == "check"
    assert bonus["farming"].evidence["share_of_payout"] > 0.9
    assert bonus["goodhart"].fired
    assert not bonus["collapse"].fired
    sparse = run_flags(real("chess_sparse_win_seed0"))
    assert not any(f.fired for f in sparse.values()), [f.line() for f in sparse.values()]


def test_real_material_pays_for_keeping_the_queen_not_for_winning() -> None:
    flags = run_flags(real("chess_material_seed1"))
    assert flags["goodhart"].fired
    task = flags["goodhart"].evidence["task/score"]
    # the task score's rise is significant but under 2% of its level: a stall
    assert task["p_rose"] < 0.05 and task["late"] - task["early"] < 0.02 * task["early"]
    assert not flags["farming"].fired  # the material term is negative: it earns nothing


def test_flags_from_tensorboard_files_and_into_the_summary(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from incentives.run.summary import record_flags

    folder = tmp_path / "run"
    shutil.copytree(DATA / "qa_scratch_seed0", folder)
    curves = read_curves(real("qa_scratch_seed0"))
    (folder / "progress.csv").unlink()
    writer = EventFileWriter(str(folder))
    for tag, points in curves.items():
        for step, value in points:
            value_ = Summary.Value(tag=tag, simple_value=value)
            writer.add_event(Event(step=int(step), summary=Summary(value=[value_])))
    writer.close()
    (run,) = find_runs(folder)
    from_events = read_curves(run)
    assert from_events.keys() == curves.keys()
    for tag, points in curves.items():  # TensorBoard keeps float32
        assert [s for s, _ in from_events[tag]] == [s for s, _ in points]
        assert [v for _, v in from_events[tag]] == pytest.approx([v for _, v in points], rel=1e-6)
    assert {k: f.fired for k, f in run_flags(run).items()} == {
        "goodhart": False, "farming": False, "collapse": True,
    }  # fmt: skip
    summary: dict[str, Any] = dict(run.summary or {})
    flags = record_flags(folder, summary)
    assert summary["flags"] is flags and flags["collapse"]["fired"]
    (events,) = folder.glob("*.flags")
    acc = event_accumulator.EventAccumulator(str(events))
    acc.Reload()
    assert [e.value for e in acc.Scalars("flags/collapse")] == [1.0]
    assert [e.value for e in acc.Scalars("flags/goodhart")] == [0.0]


def test_beats_intended_hand_values(tmp_path: Path) -> None:
    # explicit 1.1, 1.2, 1.3 against 0.1, 0.2, 0.3; task 0.5 against 0.6, 0.7, 0.8:
    # Welch t = 1 / sqrt(0.01 + 0.01) = 7.07 on 4 df for explicit: p ~ 0.001 < 0.05
    groups: dict[str, list[Run]] = {"sparse_win": [], "check_bonus": []}
    for seed in range(3):
        sparse = (0.1 + seed / 10, 0.6 + seed / 10)
        bonus = (1.1 + seed / 10, 0.5 + (seed - 1) / 50)
        for reward, finals in (("sparse_win", sparse), ("check_bonus", bonus)):
            folder = tmp_path / reward / f"seed{seed}"
            run = write_run(folder, {"explicit/return": FLAT}, reward=reward, seed=seed,
                            finals=finals)  # fmt: skip
            groups[reward].append(run)
    (flag,) = beats_intended(groups)
    assert flag.fired and flag.run == "check_bonus"
    assert flag.evidence["p_explicit_higher"] < 0.01
    # the other way round: the intended scheme is never flagged against itself, and a
    # scheme that pays less is not flagged
    (quiet,) = beats_intended({"a": groups["check_bonus"], "b": groups["sparse_win"]},
                              "check_bonus")  # fmt: skip
    assert not quiet.fired
    groups_of_one_seed = {k: v[:1] for k, v in groups.items()}
    assert beats_intended(groups_of_one_seed) == []


def test_group_flags_need_a_majority(tmp_path: Path) -> None:
    runs = [
        write_run(tmp_path / f"s{k}", {"explicit/return": RISING, "task/score": task}, seed=k)
        for k, task in enumerate((FLAT, FLAT, RISING))
    ]
    goodhart_group = group_flags("g", runs)[0]
    assert goodhart_group.fired and goodhart_group.evidence["seeds_fired"] == 2
    assert not group_flags("g", [*runs[1:], runs[2]])[0].fired  # 1 of 3
