"""The grid family's figure: learned boundaries and regret against theory, per grid."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from incentives.behaviour import GroupResults

__all__ = ["BOUNDARY_TOLERANCE", "REGRET_TARGET", "boundaries_figure", "short_label"]

#: The family's targets: every learned boundary within this of theory's threshold ...
BOUNDARY_TOLERANCE = 0.05
#: ... and the relative regret at most this.
REGRET_TARGET = 0.05


def short_label(label: str) -> str:
    """A group's label as the figure shows it: ``g<index>`` for a member of the family.

    Example:
        >>> short_label("grid_family reward.index=3"), short_label("hedging_grid")
        ('g3', 'hedging_grid')
    """
    found = re.search(r"reward\.index=(\d+)", label)
    if found is None:
        return label
    rest = re.sub(r"grid_family|reward\.index=\d+", "", label).strip()
    return f"g{found.group(1)}" + (f" {rest}" if rest else "")


def _index(label: str) -> tuple[int, str]:
    found = re.search(r"reward\.index=(\d+)", label)
    return (int(found.group(1)) if found else 10**6, label)


def boundaries_figure(groups: GroupResults) -> Any | None:
    """Left: each group's learned boundaries (seed mean, min-max bar) against theory's
    thresholds, the diagonal and its tolerance band; right: each group's relative regret
    (seed mean, seeds as dots) with the target. None when under two groups have both."""
    rows = []
    for label, (behaviours, theory) in sorted(groups.items(), key=lambda kv: _index(kv[0])):
        cuts = list(theory.get("thresholds") or [])
        learned = [[b.get(f"boundary/{k}") for b in behaviours] for k in range(1, len(cuts) + 1)]
        regret = [b.get("regret_relative") for b in behaviours]
        if cuts and all(v is not None for values in learned for v in values) and behaviours:
            rows.append((label, cuts, learned, [float(r) for r in regret if r is not None]))
    if len(rows) < 2:
        return None
    from matplotlib import pyplot

    fig, (left, right) = pyplot.subplots(1, 2, figsize=(12, 5))
    line = np.array([0.2, 1.0])
    left.plot(line, line, color="black", linewidth=1)
    left.fill_between(
        line,
        line - BOUNDARY_TOLERANCE,
        line + BOUNDARY_TOLERANCE,
        color="grey",
        alpha=0.25,
        label=f"theory ± {BOUNDARY_TOLERANCE}",
    )
    colours = pyplot.get_cmap("tab20")
    for n, (label, cuts, learned, _) in enumerate(rows):
        for k, (cut, values) in enumerate(zip(cuts, learned, strict=True)):
            v = np.asarray(values, dtype=float)
            left.errorbar(
                [cut],
                [v.mean()],
                yerr=[[v.mean() - v.min()], [v.max() - v.mean()]],
                fmt="os"[k % 2],
                color=colours(n % 20),
                capsize=3,
                label=short_label(label) if k == 0 else None,
            )
    left.set_xlabel("theory's threshold (p*)")
    left.set_ylabel("learned boundary (p*), mean over seeds, min-max")
    left.set_xlim(0.2, 1.0)
    left.set_ylim(0.2, 1.02)
    left.set_title("boundaries (o: first, s: second of a band)")
    left.legend(fontsize=7, ncol=2, loc="upper left")
    names = [short_label(label) for label, *_ in rows]
    means = [float(np.mean(r)) if r else np.nan for *_, r in rows]
    right.bar(range(len(rows)), means, color=[colours(n % 20) for n in range(len(rows))])
    for n, (*_, regrets) in enumerate(rows):
        right.scatter([n] * len(regrets), regrets, color="black", s=10, zorder=3)
    right.axhline(REGRET_TARGET, color="red", linestyle="--", label=f"target {REGRET_TARGET:.0%}")
    right.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=8)
    right.set_ylabel("relative regret (seeds as dots)")
    right.set_title("regret against the scheme's optimum")
    right.legend()
    fig.tight_layout()
    return fig


def passes(behaviour: Mapping[str, Any]) -> bool:
    """Whether one run meets both targets."""
    return (
        float(behaviour.get("regret_relative", np.inf)) <= REGRET_TARGET
        and float(behaviour.get("boundary_error", np.inf)) <= BOUNDARY_TOLERANCE
    )
