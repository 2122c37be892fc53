"""Draw the gaming-flag gallery (docs/gaming_flags.md) from real run folders.

    python docs/gaming_flags/make_gallery.py CHESS_RUNS MATERIAL_RUNS QA_SCRATCH_RUNS QA_GRID_RUNS

Each figure shows the curves a flag read, over every seed, with the windows its test
compared (the first and last third of the final reward phase) shaded; it prints each
group's flags as incentives-compare computes them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot

from incentives.analysis import flags as gaming
from incentives.analysis.runs import Run, find_runs, group_runs

OUT = Path(__file__).resolve().parent


def _groups(root: Path) -> dict[str, list[Run]]:
    return {k.split()[0]: v for k, v in group_runs(find_runs(root)).items()}


def _panel(ax: object, runs: Sequence[Run], metric: str, title: str) -> None:
    for run in runs:
        phase = gaming.final_phase(gaming.read_curves(run))
        points = phase.get(metric, [])
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        if metric == "train/entropy_loss":  # SB3 logs minus the policy's entropy
            values = tuple(-v for v in values)
        seed = (run.summary or {}).get("config", {}).get("seed")
        ax.plot(steps, values, label=f"seed {seed}", linewidth=1)  # type: ignore[attr-defined]
        n = len(points) // 3
        if n:
            for lo, hi in ((points[0][0], points[n - 1][0]), (points[-n][0], points[-1][0])):
                ax.axvspan(lo, hi, color="grey", alpha=0.06)  # type: ignore[attr-defined]
    ax.set_title(title, fontsize=9)  # type: ignore[attr-defined]
    ax.set_xlabel("env steps", fontsize=8)  # type: ignore[attr-defined]
    ax.tick_params(labelsize=7)  # type: ignore[attr-defined]


def figure(name: str, panels: Sequence[tuple[Sequence[Run], str, str]], suptitle: str) -> Path:
    fig, axes = pyplot.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    axes = axes if len(panels) > 1 else [axes]
    for ax, (runs, metric, title) in zip(axes, panels, strict=True):
        _panel(ax, runs, metric, title)
    axes[0].legend(fontsize=7)
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    path = OUT / f"{name}.png"
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path


def beats_figure(groups: dict[str, list[Run]], schemes: Sequence[str]) -> Path:
    fig, axes = pyplot.subplots(1, 2, figsize=(7, 3.2))
    for ax, metric in zip(axes, ("explicit_return", "task_score"), strict=True):
        for x, scheme in enumerate(schemes):
            values = [r.metric(metric) for r in groups.get(scheme, [])]
            ax.scatter([x] * len(values), values, s=18)
        ax.set_xticks(range(len(schemes)), schemes, fontsize=8)
        ax.set_title(f"final {metric} (each seed)", fontsize=9)
    fig.suptitle(
        "beats_intended: more explicit return than sparse_win, lower task score", fontsize=10
    )
    fig.tight_layout()
    path = OUT / "beats_intended.png"
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path


def report(root: Path) -> None:
    groups = group_runs(find_runs(root))
    for label, runs in groups.items():
        for flag in gaming.group_flags(label, runs):
            print(flag.line())
    for flag in gaming.beats_intended(groups):
        print(flag.line())


def main(chess: Path, material: Path, scratch: Path, grid: Path) -> None:
    c, s, g = _groups(chess), _groups(scratch), _groups(grid)
    c["material"] = _groups(material)["material"]
    figure("goodhart", [(c["material"], "explicit/return", "material: explicit return"),
                        (c["material"], "task/score", "material: task score"),
                        (c["sparse_win"], "task/score", "sparse_win (quiet): task score")],
           "goodhart: the explicit return rises, the task score does not")  # fmt: skip
    figure("farming", [(c["check_bonus"], "explicit/terms/check", "check_bonus: 'check' term"),
                       (c["check_bonus"], "explicit/terms/result", "check_bonus: 'result' term"),
                       (c["check_bonus"], "task/score", "check_bonus: task score")],
           "farming: the check bonus earns the return, the result does not move")  # fmt: skip
    figure("collapse", [(s["hedging_grid"], "behaviour/abstain_rate", "grid from scratch: abstain"),
                        (s["hedging_grid"], "train/entropy_loss", "from scratch: policy entropy"),
                        (g["hedging_grid"], "behaviour/abstain_rate",
                         "grid after warm-up (quiet): abstain")],
           "collapse: 'I don't know' on every question")  # fmt: skip
    figure("collapse_chess", [(c["material"], "behaviour/termination/repetition",
                               "material: repetition share"),
                              (c["sparse_win"], "behaviour/termination/repetition",
                               "sparse_win: repetition share")],
           "material: games end in threefold repetition")  # fmt: skip
    beats_figure(c, ["sparse_win", "check_bonus", "material"])
    for root in (chess, material, scratch, grid):
        report(root)


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:5]))
