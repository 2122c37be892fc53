"""Calibration statistics: how far a model's stated confidence is from its accuracy.

``reliability`` bins confidences and reports, per bin, the mean confidence, the accuracy
and the count (the reliability diagram); ``expected_calibration_error`` is their
count-weighted gap (ECE, Naeini et al. 2015; Guo et al. 2017), ``brier_score`` the mean
squared error of the confidence as a forecast of being right (Brier 1950).
``answer_threshold`` fits where an agent starts to answer as its confidence grows, to
compare with a scheme's theory.

Example:
    >>> conf, right = [0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0]
    >>> ece, brier = expected_calibration_error(conf, right), brier_score(conf, right)
    >>> round(ece, 3), round(brier, 3)
    (0.3, 0.225)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "answer_threshold",
    "answering_threshold_reference",
    "brier_score",
    "expected_calibration_error",
    "reliability",
]


def _bins(
    confidence: npt.ArrayLike, bins: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    c = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    return c, np.minimum((c * bins).astype(np.int64), bins - 1)


def reliability(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, bins: int = 10
) -> list[tuple[float, float, float, int]]:
    """Per equal-width confidence bin with data: (bin centre, mean confidence,
    accuracy, count).

    Example:
        >>> reliability([0.05, 0.95, 0.97], [0, 1, 0], bins=2)
        [(0.25, 0.05, 0.0, 1), (0.75, 0.96, 0.5, 2)]
    """
    c, which = _bins(confidence, bins)
    right = np.asarray(correct, dtype=np.float64)
    out = []
    for b in np.unique(which).tolist():
        chosen = which == b
        out.append(
            (
                (b + 0.5) / bins,
                round(float(c[chosen].mean()), 12),
                float(right[chosen].mean()),
                int(chosen.sum()),
            )
        )
    return out


def expected_calibration_error(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, bins: int = 10
) -> float:
    """The count-weighted mean |accuracy - confidence| over the bins (NaN with no data)."""
    table = reliability(confidence, correct, bins)
    total = sum(n for *_, n in table)
    if not total:
        return float("nan")
    return float(sum(n * abs(acc - conf) for _, conf, acc, n in table) / total)


def brier_score(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> float:
    """The mean of (confidence - right)² (NaN with no data)."""
    c = np.asarray(confidence, dtype=np.float64)
    if not c.size:
        return float("nan")
    return float(np.mean((c - np.asarray(correct, dtype=np.float64)) ** 2))


def answer_threshold(p: npt.ArrayLike, answered: npt.ArrayLike, ridge: float = 1e-3) -> float:
    """The confidence ``t_hat`` at which the probability of answering crosses one half.

    Fits a logistic regression of "answered" on p* by Newton's method (a small ridge keeps
    it finite when the data separate perfectly) and returns where it crosses 0.5, clipped
    to [0, 1]. An agent that always answers gets 0, one that never does gets 1, and one
    that answers *less* as its evidence gets stronger has no such threshold: NaN.

    Example:
        >>> p = np.linspace(0.25, 1.0, 301)
        >>> round(answer_threshold(p, p > 0.8), 2)
        0.8
    """
    x = np.asarray(p, dtype=np.float64)
    y = np.asarray(answered, dtype=np.float64)
    if y.size == 0 or y.min() == 1.0:
        return 0.0
    if y.max() == 0.0:
        return 1.0
    mean, scale = x.mean(), x.std() or 1.0
    design = np.column_stack([np.ones_like(x), (x - mean) / scale])
    penalty = np.diag([0.0, ridge * len(x)])
    w = np.zeros(2)
    for _ in range(100):
        prob = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = design.T @ (y - prob) - penalty @ w
        hess = (design.T * (prob * (1 - prob))) @ design + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w += step
        if np.abs(step).max() < 1e-8:
            break
    if w[1] <= 0.0:
        return float("nan")
    return float(np.clip(mean - scale * w[0] / w[1], 0.0, 1.0))


def answering_threshold_reference(
    theories: Mapping[str, Mapping[str, Any]],
) -> tuple[float, str] | None:
    """Theory's ``t_hat``: where answering starts to pay (a scheme's highest threshold),
    with the schemes it is theirs, when every compared scheme with thresholds agrees.

    Example:
        >>> answering_threshold_reference({"hedging_grid": {"thresholds": [0.8]},
        ...                                "binary": {"thresholds": []}})
        (0.8, 'theory (hedging_grid)')
    """
    answer_at = {
        (name, max(thresholds))
        for name, theory in theories.items()
        if (thresholds := theory.get("thresholds"))
    }
    if len({t for _, t in answer_at}) != 1:
        return None
    names = ", ".join(sorted({name for name, _ in answer_at}))
    return float(answer_at.pop()[1]), f"theory ({names})"
