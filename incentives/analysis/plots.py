"""Figures of induced behaviour: learning curves, answering against confidence, endings.

Drawn with matplotlib's Agg backend (no display needed), for TensorBoard images and for
the PNGs ``incentives-compare`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from incentives.analysis.aggregate import Estimate, estimate

__all__ = [
    "binned_rows",
    "curves_figure",
    "emergence_figure",
    "mode_rates_figure",
    "rates_by_p_figure",
    "termination_figure",
]

Band = tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]]


def mode_rates_figure(
    centres: Sequence[float],
    rates: Mapping[str, Sequence[float]],
    thresholds: Sequence[float],
    title: str,
) -> Figure:
    """Answer, hedge and abstain rates against p*, the scheme's thresholds drawn in."""
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for mode, values in rates.items():
        ax.plot(centres, values, marker="o", label=mode)
    for t in thresholds:
        ax.axvline(t, color="grey", linestyle="--", linewidth=1)
        ax.annotate(f"theory {t:.2f}", (t, 1.02), ha="center", fontsize=8, color="grey")
    ax.set(xlabel="p* (probability the best answer is right)", ylabel="rate", title=title)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.08)
    ax.legend(fontsize=8)
    return fig


def _band(points: Sequence[Sequence[tuple[float, float]]], grid: np.ndarray) -> Band:
    """Mean and 95% bootstrap band over runs of curves interpolated on ``grid``."""
    values = np.array([np.interp(grid, *np.array(p).T) for p in points])
    stats = [estimate(list(column), resamples=500) for column in values.T]
    return list(grid), [s.mean for s in stats], [s.low for s in stats], [s.high for s in stats]


def curves_figure(
    curves: Mapping[str, Sequence[Sequence[tuple[float, float]]]], metric: str
) -> Figure:
    """One line per group, with a 95% band across seeds, of ``metric`` over env steps."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    for label, runs in curves.items():
        runs = [r for r in runs if len(r) >= 1]
        if not runs:
            continue
        end = min(max(s for s, _ in r) for r in runs)
        start = max(min(s for s, _ in r) for r in runs)
        grid = np.linspace(start, end, 60) if end > start else np.array([end])
        x, mean, low, high = _band(runs, grid)
        (line,) = ax.plot(x, mean, label=f"{label} (n={len(runs)})")
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="environment steps", ylabel=metric, title=metric)
    ax.legend(fontsize=7)
    return fig


def binned_rows(
    groups: Mapping[str, tuple[Sequence[Mapping[str, float]], Mapping[str, object]]],
    prefix: str,
    thresholds: bool = True,
) -> dict[str, tuple[list[float], list[list[float]], list[float]]]:
    """Per group, the metrics named ``<prefix><lo>-<hi>``: bin centres, one row per seed
    and the scheme's thresholds (none with ``thresholds=False``), as
    ``rates_by_p_figure`` draws them; groups without such metrics are left out.

    Example:
        >>> binned_rows({"a": ([{"x/0.0-0.5": 1.0}], {"thresholds": [0.8]})}, "x/")
        {'a': ([0.25], [[1.0]], [0.8])}
    """
    out = {}
    for label, (results, theory) in groups.items():
        keys = sorted({k for r in results for k in r if k.startswith(prefix)})
        if not keys:
            continue
        centres = [sum(map(float, k[len(prefix) :].split("-"))) / 2 for k in keys]
        rows = [[r.get(k, float("nan")) for k in keys] for r in results]
        lines = list(theory.get("thresholds", [])) if thresholds else []  # type: ignore[call-overload]
        out[label] = (centres, rows, [float(t) for t in lines])
    return out


def rates_by_p_figure(
    groups: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]], Sequence[float]]],
) -> Figure:
    """Answered rate against p* per group (mean and 95% band over seeds), with thresholds.

    ``groups`` maps a label to (bin centres, one row of rates per seed, thresholds).
    """
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    for label, (centres, per_seed, thresholds) in groups.items():
        stats = [estimate(list(col)) for col in np.array(per_seed, dtype=float).T]
        (line,) = ax.plot(centres, [s.mean for s in stats], marker="o", label=label)
        ax.fill_between(
            centres, [s.low for s in stats], [s.high for s in stats],
            color=line.get_color(), alpha=0.2,
        )  # fmt: skip
        for t in thresholds:
            ax.axvline(t, color=line.get_color(), linestyle="--", linewidth=1)
    ax.set(
        xlabel="p* (probability the best answer is right)",
        ylabel="answered (plain or hedged)",
        title="Answering against confidence (dashed: theory)",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    return fig


def termination_figure(rates: Mapping[str, Mapping[str, float]]) -> Figure:
    """Stacked bars of how games ended (checkmate, stalemate, …), one bar per group."""
    kinds = sorted({k for r in rates.values() for k in r})
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    bottom = np.zeros(len(rates))
    labels = list(rates)
    for kind in kinds:
        heights = np.array([rates[g].get(kind, 0.0) for g in labels])
        ax.bar(labels, heights, bottom=bottom, label=kind)
        bottom += heights
    ax.set(ylabel="share of games", title="How the games ended")
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)
    ax.legend(fontsize=7)
    return fig


def emergence_figure(
    lines: Mapping[str, Sequence[tuple[float, int, Estimate]]],
    metric: str,
    axis: str,
    reference: tuple[float, str] | None = None,
) -> Figure:
    """``metric`` against parameters or compute (log scale), one colour per scheme.

    ``lines`` maps a label to its (x, parameters, across-seed estimate) points; bands are
    the 95% bootstrap interval of the mean. Against compute, the points of one network
    size (its budgets) are joined, one marker per size, so each scheme shows a curve per
    size and where the sizes overtake one another. ``reference`` (value, label) draws
    theory's value as a dashed line.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    sizes = sorted({p for points in lines.values() for _, p, _ in points})
    markers = dict(zip(sizes, "os^Dvp*hX<>", strict=False))
    for label, points in lines.items():
        n = max(e.n for _, _, e in points)
        runs = [list(points)] if axis == "parameters" else [
            [q for q in points if q[1] == size] for size in sizes
        ]  # fmt: skip
        color = None
        for run in (r for r in runs if r):
            xs = [x for x, _, _ in run]
            marker = "o" if axis == "parameters" else markers.get(run[0][1], "o")
            (line,) = ax.plot(
                xs, [e.mean for _, _, e in run], marker=marker, color=color,
                label=f"{label} (n≤{n})" if color is None else None,
            )  # fmt: skip
            color = line.get_color()
            ax.fill_between(
                xs, [e.low for _, _, e in run], [e.high for _, _, e in run],
                color=color, alpha=0.2,
            )  # fmt: skip
    if axis != "parameters" and len(sizes) > 1:
        for size in sizes:
            ax.plot([], [], color="black", linestyle="none", marker=markers.get(size, "o"),
                    label=f"{size:,} parameters")  # fmt: skip
    if reference is not None:
        ax.axhline(reference[0], color="grey", linestyle="--", linewidth=1, label=reference[1])
    xlabel = "parameters" if axis == "parameters" else "compute (parameters × env steps)"
    ax.set(xlabel=xlabel, ylabel=metric, title=f"{metric} against {axis}")
    ax.set_xscale("log")
    ax.legend(fontsize=7)
    return fig
