"""What a scheme with a finite outcome table pays, before anything is trained.

A scheme of this kind pays each action one amount when the outcome is right and another
when it is wrong (the QA grids, binary grading, confidence targets). For an agent that is
right with probability ``p``, each action's expected reward is a line in ``p`` and its
variance ``(right - wrong)^2 p (1 - p)``; the best response at each ``p`` is the upper
envelope of the lines. This module reads off that envelope: where the best response
changes (thresholds), where several actions tie for it, which actions are never strictly
optimal or strictly dominated, and which pay a fixed multiple of another.

Example:
    >>> grid = analyze_outcomes({"answer": (-4.0, 1.0), "hedge": (-2.0, 0.5),
    ...                          "abstain": (0.0, 0.0)})
    >>> grid.thresholds, grid.never_strictly_optimal, grid.proportional
    ((0.8,), ('hedge',), (('hedge', 'answer', 0.5),))
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["OutcomeAnalysis", "analyze_outcomes"]

_EPS = 1e-12


@dataclass(frozen=True)
class OutcomeAnalysis:
    """The decision problem of a finite outcome table, solved for every confidence p.

    ``payoffs`` maps each action to its (wrong, right) payoffs; ``tie_order`` says which
    of tied actions is taken as *the* best response (the first listed).
    """

    payoffs: Mapping[str, tuple[float, float]]
    tie_order: tuple[str, ...]
    #: (low, high, best response) over [0, 1], adjacent intervals merged.
    regions: tuple[tuple[float, float, str], ...]
    #: Confidences in (0, 1) where the best response changes.
    thresholds: tuple[float, ...]
    #: (p, actions) where two or more actions tie for the best at a single point.
    tie_points: tuple[tuple[float, tuple[str, ...]], ...]
    #: (low, high, actions) where actions tie for the best over a whole interval.
    tie_intervals: tuple[tuple[float, float, tuple[str, ...]], ...]
    #: Actions that are the only best response at no confidence (at most tied).
    never_strictly_optimal: tuple[str, ...]
    #: (action, by): ``by`` pays strictly more than ``action`` at every p in [0, 1].
    strictly_dominated: tuple[tuple[str, str], ...]
    #: (action, by): ``by`` pays at least as much everywhere and strictly more somewhere,
    #: and the two are not strictly ordered.
    weakly_dominated: tuple[tuple[str, str], ...]
    #: (action, of, ratio): ``action`` pays ``ratio`` times ``of`` at every p.
    proportional: tuple[tuple[str, str, float], ...]

    def expected(self, action: str, p: float) -> float:
        """The expected reward of ``action`` when right with probability p."""
        wrong, right = self.payoffs[action]
        return wrong + (right - wrong) * p

    def variance(self, action: str, p: float) -> float:
        """The variance of ``action``'s reward when right with probability p.

        Example:
            >>> table = analyze_outcomes({"answer": (-4.0, 1.0), "abstain": (0.0, 0.0)})
            >>> round(table.variance("answer", 0.8), 12)
            4.0
        """
        wrong, right = self.payoffs[action]
        return (right - wrong) ** 2 * p * (1.0 - p)

    def best(self, p: float) -> str:
        """The best response at confidence p (ties broken by ``tie_order``)."""
        return _best(self.payoffs, self.tie_order, p)[0]

    def curve(self, ps: Sequence[float]) -> list[dict[str, Any]]:
        """Theory's curve: at each p, the best response and each action's expected
        reward and variance."""
        rows = []
        for p in ps:
            row: dict[str, Any] = {"p": p, "best": self.best(p)}
            for action in self.payoffs:
                row[f"E[{action}]"] = self.expected(action, p)
                row[f"Var[{action}]"] = self.variance(action, p)
            rows.append(row)
        return rows

    def as_dict(self) -> dict[str, Any]:
        """Everything above in a JSON-friendly form."""
        return {
            "payoffs": {a: {"wrong": w, "right": r} for a, (w, r) in self.payoffs.items()},
            "regions": [list(r) for r in self.regions],
            "thresholds": list(self.thresholds),
            "tie_points": [[p, list(a)] for p, a in self.tie_points],
            "tie_intervals": [[lo, hi, list(a)] for lo, hi, a in self.tie_intervals],
            "never_strictly_optimal": list(self.never_strictly_optimal),
            "strictly_dominated": [list(d) for d in self.strictly_dominated],
            "weakly_dominated": [list(d) for d in self.weakly_dominated],
            "proportional": [list(x) for x in self.proportional],
        }


def _best(
    payoffs: Mapping[str, tuple[float, float]], order: Sequence[str], p: float
) -> tuple[str, ...]:
    """The actions that tie for the best at p, in ``order``."""
    values = {a: w + (r - w) * p for a, (w, r) in payoffs.items()}
    top = max(values.values())
    return tuple(a for a in order if values[a] >= top - _EPS)


def analyze_outcomes(
    payoffs: Mapping[str, tuple[float, float]], tie_order: Sequence[str] | None = None
) -> OutcomeAnalysis:
    """Solve the outcome table ``payoffs`` (action -> (wrong, right)) for every p in [0, 1].

    Example:
        >>> binary = analyze_outcomes({"abstain": (0.0, 0.0), "answer": (0.0, 1.0),
        ...                            "hedge": (0.0, 1.0)})
        >>> binary.thresholds, binary.tie_intervals, binary.never_strictly_optimal
        ((), ((0.0, 1.0, ('answer', 'hedge')),), ('abstain', 'answer', 'hedge'))
    """
    if len(payoffs) < 2:
        raise ValueError(f"payoffs for {len(payoffs)} action(s); accepted: two or more actions")
    order = tuple(tie_order or payoffs)
    if sorted(order) != sorted(payoffs):
        raise ValueError(f"tie_order {order}; accepted: the actions {tuple(payoffs)} in any order")
    lines = {a: (w, r - w) for a, (w, r) in payoffs.items()}
    points = {0.0, 1.0}
    for (ia, sa), (ib, sb) in itertools.combinations(lines.values(), 2):
        if abs(sa - sb) > _EPS:
            p = (ib - ia) / (sa - sb)
            if 0.0 < p < 1.0:
                points.add(round(p, 12))
    cuts = sorted(points)
    intervals = [
        (lo, hi, _best(payoffs, order, (lo + hi) / 2)) for lo, hi in itertools.pairwise(cuts)
    ]
    regions: list[tuple[float, float, str]] = []
    for lo, hi, tied in intervals:
        if regions and regions[-1][2] == tied[0]:
            regions[-1] = (regions[-1][0], hi, tied[0])
        else:
            regions.append((lo, hi, tied[0]))
    thresholds = tuple(r[0] for r in regions[1:])
    tie_points = tuple((p, tied) for p in cuts if len(tied := _best(payoffs, order, p)) > 1)
    tie_intervals = tuple((lo, hi, tied) for lo, hi, tied in intervals if len(tied) > 1)
    alone = {tied[0] for _, _, tied in intervals if len(tied) == 1}
    never = tuple(a for a in payoffs if a not in alone)
    dominated = tuple(
        (a, b)
        for a, b in itertools.permutations(payoffs, 2)
        if all(_line(lines[b], p) > _line(lines[a], p) + _EPS for p in (0.0, 1.0))
    )
    weakly = tuple(
        (a, b)
        for a, b in itertools.permutations(payoffs, 2)
        if (a, b) not in dominated
        and all(_line(lines[b], p) >= _line(lines[a], p) - _EPS for p in (0.0, 1.0))
        and any(_line(lines[b], p) > _line(lines[a], p) + _EPS for p in (0.0, 1.0))
    )
    return OutcomeAnalysis(
        payoffs=dict(payoffs),
        tie_order=order,
        regions=tuple(regions),
        thresholds=thresholds,
        tie_points=tie_points,
        tie_intervals=tie_intervals,
        never_strictly_optimal=never,
        strictly_dominated=dominated,
        weakly_dominated=weakly,
        proportional=_proportional(lines),
    )


def _line(line: tuple[float, float], p: float) -> float:
    return line[0] + line[1] * p


def _proportional(lines: Mapping[str, tuple[float, float]]) -> tuple[tuple[str, str, float], ...]:
    """Pairs where one action's line is a positive multiple (< 1) of another's."""
    found = []
    for a, b in itertools.permutations(lines, 2):
        (ia, sa), (ib, sb) = lines[a], lines[b]
        if abs(ib) < _EPS and abs(sb) < _EPS:
            continue
        ratio = ia / ib if abs(ib) > _EPS else sa / sb
        if 0.0 < ratio < 1.0 and abs(ia - ratio * ib) < 1e-9 and abs(sa - ratio * sb) < 1e-9:
            found.append((a, b, round(ratio, 12)))
    return tuple(found)
