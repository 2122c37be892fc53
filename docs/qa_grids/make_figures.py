"""The figures and table of docs/qa_grids_results.md, from the run folders.

    python docs/qa_grids/make_figures.py /work/runs19   # before/, after/, set/, heldout/, diag/

Writes docs/qa_grids/family_{before,after,set,heldout}.png, lockin_trajectories.png and
prints the family table (markdown) for each family folder: ``before`` (the recipe as it
was), ``after`` (mode reset + annealed mode entropy, MLP), ``set`` (the same with
``agent.policy=qa_set``, the recipe now), ``heldout`` (the recipe now on family seed 7).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib import pyplot
from scipy import stats

from incentives.domains.qa.figures import BOUNDARY_TOLERANCE, REGRET_TARGET, boundaries_figure
from incentives.domains.qa.grids import grid_family

HERE = Path(__file__).parent


def runs(folder: Path) -> dict[int, list[dict]]:
    """Finished runs' summaries by grid index."""
    by_index: dict[int, list[dict]] = defaultdict(list)
    for path in sorted(folder.glob("qa/grid_family/*/seed*/summary.json")):
        summary = json.loads(path.read_text())
        by_index[int(summary["config"]["reward"]["index"])].append(summary)
    return dict(by_index)


def interval(values: list[float]) -> str:
    """Mean ± half-width of a 95% t-interval (the mean alone for one value)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return f"{v.mean():.3f}"
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return f"{v.mean():.3f} ± {half:.3f}"


def measured_optimum(grid) -> list[float]:
    """The boundaries the stump measures for the Bayes-optimal policy itself on 4,096
    questions of the env's generator: where theory's threshold falls between atoms of
    p*, the best any policy can show."""
    from envs.qa.questions import QuestionGenerator
    from incentives.domains.qa.grids import learned_boundaries

    questions = QuestionGenerator().sample(np.random.default_rng(1000003), 4096)
    signal = grid.signal()
    modes = [signal.optimal_mode(p) for p in questions.p_star.tolist()]
    return learned_boundaries(signal, questions.p_star, modes)


def table(folder: Path) -> str:
    found = runs(folder)
    reward = next(iter(found.values()))[0]["config"]["reward"]  # the family the runs drew
    family = grid_family(int(reward.get("family_seed", 19)), int(reward.get("size", 12)))
    grids = {g.index: g for g in family}
    lines = [
        "| grid | kind | theory | optimum as measured | learned boundaries | boundary error | "
        "regret (rel.) | abstain / hedge / answer | runs passing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    passed_grids = 0
    for index, summaries in sorted(found.items()):
        grid = grids[index]
        b = [s["behaviour"] for s in summaries]
        bounds = " / ".join(
            interval([x[f"boundary/{k}"] for x in b]) for k in range(1, len(grid.thresholds) + 1)
        )
        mean_regret = float(np.mean([x["regret_relative"] for x in b]))
        # the target: on the mean over seeds
        mean_bounds = [
            np.mean([x[f"boundary/{k}"] for x in b]) for k in range(1, len(grid.thresholds) + 1)
        ]
        ok = mean_regret <= REGRET_TARGET and all(
            abs(m - t) <= BOUNDARY_TOLERANCE
            for m, t in zip(mean_bounds, grid.thresholds, strict=True)
        )
        passed_grids += ok
        each = sum(
            x["regret_relative"] <= REGRET_TARGET and x["boundary_error"] <= BOUNDARY_TOLERANCE
            for x in b
        )
        modes = " / ".join(
            f"{np.mean([x[m] for x in b]):.2f}"
            for m in ("abstain_rate", "hedge_rate", "answer_rate")
        )
        lines.append(
            f"| g{index} | {grid.kind} | {', '.join(f'{t:.3f}' for t in grid.thresholds)} | "
            f"{', '.join(f'{t:.3f}' for t in measured_optimum(grid))} | {bounds} | "
            f"{interval([x['boundary_error'] for x in b])} | "
            f"{interval([x['regret_relative'] for x in b])} | {modes} | {each}/{len(b)}"
            f"{' ✓' if ok else ''} |"
        )
    lines.append("")
    lines.append(
        f"Grids meeting both targets on the mean over seeds: {passed_grids} of {len(found)}."
    )
    return "\n".join(lines)


def family_figure(folder: Path, name: str, title: str) -> None:
    found = runs(folder)
    groups = {
        f"grid_family reward.index={i}": ([s["behaviour"] for s in ss], ss[0]["theory"])
        for i, ss in found.items()
    }
    fig = boundaries_figure(groups)
    if fig is None:
        return
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(HERE / name, dpi=100)
    pyplot.close(fig)


def trajectories(diag: Path, pairs: list[tuple[str, str]]) -> None:
    """Mode probabilities per region of p* over training, one column per configuration."""
    fig, axes = pyplot.subplots(
        3, len(pairs), figsize=(5 * len(pairs), 9), sharex=True, squeeze=False
    )
    colours = {"answer": "tab:blue", "hedge": "tab:orange", "abstain": "tab:green"}
    for c, (stem, label) in enumerate(pairs):
        rows = list(csv.DictReader((diag / f"{stem}.csv").open()))
        steps = np.array([int(r["step"]) for r in rows]) / 1e3
        phase_change = steps[[int(r["phase"]) for r in rows].index(1)]
        places = {"below": "below the band", "band": "in the band", "above": "above the band"}
        for r, region in enumerate(("below", "band", "above")):
            ax = axes[r, c]
            for mode, colour in colours.items():
                ax.plot(
                    steps, [float(x[f"{region}/{mode}"]) for x in rows], color=colour, label=mode
                )
            ax.axvline(phase_change, color="black", linestyle=":", linewidth=1)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{label}: p* {places[region]}", fontsize=9)
            if c == 0:
                ax.set_ylabel("policy's mode probability")
        axes[2, c].set_xlabel("env steps (thousands); dotted: binary -> grid")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "lockin_trajectories.png", dpi=100)
    pyplot.close(fig)


def main(root: Path) -> None:
    titles = {
        "before": "grid family, the recipe as it was",
        "after": "grid family, mode reset + annealed mode entropy (MLP)",
        "set": "grid family, the recipe with the set network (qa_set)",
        "heldout": "a second family (seed 7), the recipe with the set network",
    }
    for kind, title in titles.items():
        folder = root / kind
        if folder.exists() and runs(folder):
            print(f"## {kind}\n\n{table(folder)}\n")
            family_figure(folder, f"family_{kind}.png", title)
    diag = root / "diag"
    if (diag / "A_flat.csv").exists() and (diag / "P_fact_resetM_ment50decay.csv").exists():
        trajectories(
            diag,
            [
                ("A_flat", "before: flat head, nothing reset"),
                ("P_fact_resetM_ment50decay", "after: mode reset + annealed mode entropy"),
            ],
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
