"""Across-seed statistics of a metric: mean, interquartile mean, bootstrap interval.

Reported the way Agarwal et al. (2021, "Deep RL at the Edge of the Statistical Precipice")
recommend for few runs: the interquartile mean (IQM) beside the mean, and 95% bootstrap
confidence intervals rather than a single number. Uses ``scipy.stats`` (rliable does not
import with pandas 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "estimate"]


@dataclass(frozen=True)
class Estimate:
    """A metric over seeds: its mean, IQM, 95% bootstrap interval of the mean, and n."""

    mean: float
    iqm: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1 or math.isclose(self.low, self.high):
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def estimate(values: Sequence[float | None], resamples: int = 2000, seed: int = 0) -> Estimate:
    """The mean, IQM and 95% percentile-bootstrap interval of the finite ``values``.

    Missing (``None``) and non-finite values are left out; the bootstrap is seeded so the
    same values give the same interval.

    Example:
        >>> e = estimate([1.0, 2.0, 3.0, 4.0])
        >>> e.mean, e.iqm, e.n, e.low <= e.mean <= e.high
        (2.5, 2.5, 4, True)
    """
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, nan, 0)
    mean = float(x.mean())
    # scipy.stats costs over a second to import: only an aggregate pays for it, not every
    # training run that draws a figure with this module's help
    from scipy import stats

    iqm = float(stats.trim_mean(x, 0.25))
    if x.size == 1 or np.all(x == x[0]):
        return Estimate(mean, iqm, mean, mean, int(x.size))
    interval = stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=0.95,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    return Estimate(mean, iqm, float(interval.low), float(interval.high), int(x.size))
