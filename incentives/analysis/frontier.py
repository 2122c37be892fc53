"""Compute frontiers: which reward scheme is ahead at each compute, and where they cross.

The talk's claim is that methods with more human structure (dense teaching rewards) win
with little compute, and less structure (a sparse incentive) wins once there is enough.
Here each scheme's best behaviour is drawn against the compute spent, its network sizes
and budgets pooled, as Hilton et al. (2023, "Scaling laws for single-agent reinforcement
learning") draw the compute-efficient frontier, and the computes where one scheme
overtakes another, or reaches a target score, are measured with their intervals.

Definitions (the tests check each by hand):

- **Points.** A run's periodic evaluations ``eval/<set>/<metric>`` (its progress table,
  else its TensorBoard events). Against compute, the evaluation at env step t sits at
  parameters × t (``scale.parameters`` of ``summary.json``; env steps include any
  warm-up). An evaluation is logged with the rollout it precedes, at the step where that
  rollout ends, so compute is overstated by at most one rollout, never understated.
  Against wall time, it sits at the seconds since the run's first TensorBoard event, see
  :func:`incentives.analysis.runs.event_scalars` for what is counted.
- **Lines.** A scheme's runs are pooled over network sizes and budgets (the keys of
  ``emergence.AXES["compute"]``); any other config key that varies (a warm-up) makes a
  line of its own.
- **Frontier of one seed** at c: the best value that any run of the line with that seed
  reached at compute ≤ c: a step function, carried forward from one evaluation to the
  next (nothing is interpolated: "best so far" is only known at evaluations). It is known
  from the seed's first evaluation to its last (its largest run's end).
- **Frontier of a line**: the mean over its seeds where every seed is known, with a 95%
  interval: percentile bootstrap over seeds (``scipy.stats.bootstrap``) for n ≥ 3,
  Student's t for n = 2, none for n = 1; the interval is a point where the seeds agree.
- **Crossover** of two lines, compared where both are known: B, the line strictly ahead
  at the largest shared compute, overtakes A at the least compute from which B stays
  strictly ahead at every evaluation up to that largest compute, provided A was strictly
  ahead somewhere before it (the *last* crossing, so that an early wobble does not count
  as the overtaking). Its interval: resample each line's seeds with replacement,
  recompute the crossover of B over A; the 2.5% and 97.5% quantiles of the resamples
  that cross, beside the share that do not. One ``seed`` fixes a run's initial network
  and evaluation episodes whatever its scheme, so two lines of the same seeds are
  resampled together (paired: seed k of A with seed k of B); lines of different seeds
  independently.
- **Intrinsic performance** of a line for a target score (Hilton et al. 2023): the least
  compute at which its frontier reaches the target; its interval as the crossover's.
  Default targets: 50% and 80% of the way from the worst to the best value evaluated in
  the comparison.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from incentives.analysis.emergence import AXES, scale_of
from incentives.analysis.flags import INTENDED_METRIC
from incentives.analysis.runs import Run, event_scalars, group_runs

__all__ = [
    "AXIS_WORDS",
    "CROSSOVER_COLUMNS",
    "CSV_COLUMNS",
    "FRONTIER_AXES",
    "TARGET_COLUMNS",
    "TARGET_LEVELS",
    "Axis",
    "Band",
    "Crossover",
    "Frontier",
    "FrontierMetric",
    "Line",
    "Reach",
    "crossover_index",
    "crossover_rows",
    "crossover_text",
    "csv_rows",
    "default_metric",
    "format_x",
    "frontier_figure",
    "lines_from_runs",
    "markdown",
    "mean_interval",
    "parse_axis",
    "parse_metric",
    "parse_target",
    "reach_index",
    "resample_weights",
    "run_points",
    "target_rows",
]

Axis = Literal["compute", "wall"]
#: The x-axes a frontier is drawn against, and how they are labelled.
FRONTIER_AXES: dict[str, str] = {
    "compute": "compute (parameters × env steps)",
    "wall": "wall time since the run's first event (s)",
}
#: The axes in a sentence.
AXIS_WORDS: dict[str, str] = {"compute": "compute", "wall": "wall time"}
#: Default targets of intrinsic performance: these shares of the way from the worst to the
#: best value evaluated in the comparison.
TARGET_LEVELS = (0.5, 0.8)
#: Resamples of the bootstraps over seeds.
RESAMPLES = 2000
#: Points of the log-spaced grid on which the frontiers are written and drawn.
GRID_POINTS = 48


@dataclass(frozen=True)
class FrontierMetric:
    """A metric to rank evaluations by: its name under ``eval/<set>/`` (or a whole
    ``eval/...`` tag) and which way is better."""

    name: str
    higher_is_better: bool = True

    def tag(self, eval_name: str) -> str:
        """The TensorBoard tag of the metric in a run whose evaluation set is ``eval_name``.

        Example:
            >>> FrontierMetric("task_score").tag("heldout"), FrontierMetric("eval/ladder/random/score").tag("heldout")
            ('eval/heldout/task_score', 'eval/ladder/random/score')
        """  # noqa: E501
        return self.name if self.name.startswith("eval/") else f"eval/{eval_name}/{self.name}"

    @property
    def stem(self) -> str:
        """The metric in a file name."""
        return self.name.removeprefix("eval/").replace("/", "_")

    def __str__(self) -> str:
        return self.name + ("" if self.higher_is_better else " (lower is better)")


#: The frontier's metric where a domain's intended metric (``flags.INTENDED_METRIC``) is
#: not the one to rank by: text's task score is next-token accuracy, which ``next_token``
#: trains on directly; the teach-or-incentivize question is about the answers.
_DOMAIN_METRIC: dict[str, FrontierMetric] = {"text": FrontierMetric("exact_mean")}
#: Training-curve tags of the intended metrics and their names among the evaluations.
_VIEWS = {"task/score": "task_score", "explicit/return": "explicit_return"}


def default_metric(domain: str | None) -> FrontierMetric:
    """The metric a domain's frontier ranks by unless told: what its rewards are meant to
    improve (``flags.INTENDED_METRIC``, the task score where a domain names none), text's
    exact match over the families.

    Example:
        >>> default_metric("qa"), default_metric("chess"), default_metric("text")
        (FrontierMetric(name='hallucination_rate', higher_is_better=False), FrontierMetric(name='task_score', higher_is_better=True), FrontierMetric(name='exact_mean', higher_is_better=True))
    """  # noqa: E501
    if domain in _DOMAIN_METRIC:
        return _DOMAIN_METRIC[domain]
    intended = INTENDED_METRIC.get(domain or "")
    if intended is None:
        return FrontierMetric("task_score")
    name = _VIEWS.get(intended.metric, intended.metric.removeprefix("behaviour/"))
    return FrontierMetric(name, intended.higher_is_better)


def parse_metric(text: str) -> FrontierMetric:
    """``METRIC``, ``METRIC:up`` or ``METRIC:down`` (lower is better).

    Example:
        >>> parse_metric("hallucination_rate:down")
        FrontierMetric(name='hallucination_rate', higher_is_better=False)
    """
    name, _, way = text.partition(":")
    if not name or way not in ("", "up", "down") or name.strip() != name:
        raise ValueError(
            f"--frontier {text!r}; accepted: METRIC, METRIC:up or METRIC:down (lower is "
            "better), METRIC an evaluation metric (task_score, exact_mean) or an eval/... tag"
        )
    return FrontierMetric(name, way != "down")


def parse_target(text: str) -> float:
    """A target score: a finite number.

    Example:
        >>> parse_target("0.25")
        0.25
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"--target {text!r}; accepted: a finite number, e.g. 0.5")
    return value


def parse_axis(text: str) -> Axis:
    """``compute`` or ``wall``."""
    if text == "compute":
        return "compute"
    if text == "wall":
        return "wall"
    raise ValueError(f"--axis {text!r}; accepted: one of {', '.join(FRONTIER_AXES)}")


# -- lines and their frontiers ---------------------------------------------------------------

Points = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Line:
    """One scheme's evaluations, its sizes and budgets pooled: per seed, every (x, value)
    point of its runs with that seed, in x order."""

    label: str
    seeds: Mapping[int, Points]
    runs: int = 0

    @property
    def start(self) -> float:
        """The least x from which every seed's frontier is known."""
        return max(points[0][0] for points in self.seeds.values())

    @property
    def first_positive(self) -> float | None:
        """The least x > 0 from which every seed's frontier is known (on a log axis, the
        line begins there); None if the line has no x > 0."""
        if self.start > 0:
            return self.start
        xs = [x for points in self.seeds.values() for x, _ in points if x > 0]
        return min(xs) if xs else None

    @property
    def end(self) -> float:
        """The largest x up to which every seed was evaluated."""
        return min(points[-1][0] for points in self.seeds.values())

    def per_seed(self, xs: Sequence[float] | np.ndarray, higher_is_better: bool) -> np.ndarray:
        """Each seed's frontier at each of ``xs`` (rows: seeds in order): the best value
        evaluated at x ≤ each; NaN before the seed's first evaluation.

        Example:
            >>> line = Line("a", {0: ((1.0, 0.2), (2.0, 0.1), (4.0, 0.5))})
            >>> line.per_seed([0.5, 1.0, 3.0, 4.0], higher_is_better=True).tolist()
            [[nan, 0.2, 0.2, 0.5]]
        """
        grid = np.asarray(xs, dtype=np.float64)
        rows = []
        for seed in sorted(self.seeds):
            x, v = np.array(self.seeds[seed], dtype=np.float64).T
            best = np.maximum.accumulate(v) if higher_is_better else np.minimum.accumulate(v)
            # the last evaluation at x' <= each grid x (ties of x: the best so far)
            found = np.searchsorted(x, grid, side="right") - 1
            rows.append(np.where(found >= 0, best[np.maximum(found, 0)], np.nan))
        return np.array(rows)

    def breakpoints(self, low: float, high: float) -> np.ndarray:
        """Every x in [low, high] where some seed was evaluated, and ``low``: where the
        line's mean frontier can change."""
        xs = {x for points in self.seeds.values() for x, _ in points if low <= x <= high}
        return np.array(sorted(xs | {low}), dtype=np.float64)


def mean_interval(
    values: np.ndarray, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means of ``values`` (rows: seeds) and their 95% interval: a percentile
    bootstrap over the rows (``scipy.stats.bootstrap``) for n ≥ 3, Student's t for n = 2,
    the mean itself for n = 1 or where every row agrees.

    Example:
        >>> mean, low, high = mean_interval(np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 6.0]]))
        >>> mean.tolist(), float(low[0]), float(high[0]), bool(2.0 <= low[1] < 4.0 < high[1] <= 6.0)
        ([1.0, 4.0], 1.0, 1.0, True)
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    mean = values.mean(axis=0)
    low, high = mean.copy(), mean.copy()
    spread = np.ptp(values, axis=0) > 0
    if n < 2 or not spread.any():
        return mean, low, high
    from scipy import stats

    varying = values[:, spread]
    if n == 2:
        half = stats.t.ppf(0.975, 1) * varying.std(axis=0, ddof=1) / math.sqrt(2)
        low[spread], high[spread] = varying.mean(axis=0) - half, varying.mean(axis=0) + half
        return mean, low, high
    interval = stats.bootstrap(
        (varying,),
        np.mean,
        axis=0,
        vectorized=True,
        confidence_level=0.95,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    ).confidence_interval
    low[spread], high[spread] = interval.low, interval.high
    return mean, low, high


def crossover_index(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Per row of two lines' mean frontiers on the same increasing x's: the index from
    which ``b`` is strictly ahead of ``a`` at every x to the last, where ``a`` was
    strictly ahead at some x before it; -1 where ``b`` does not overtake ``a`` so.

    Example:
        >>> a = np.array([[3.0, 3.0, 2.0, 2.0, 2.0]])
        >>> b = np.array([[1.0, 4.0, 1.0, 3.0, 5.0]])  # ahead at x1, behind at x2, ahead from x3
        >>> crossover_index(a, b, True).tolist(), crossover_index(b, a, True).tolist()
        ([3], [-1])
    """
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    b_ahead = b > a if higher_is_better else b < a
    a_ahead = a > b if higher_is_better else a < b
    count = b_ahead.shape[1]
    behind = ~b_ahead
    last_behind = count - 1 - np.argmax(behind[:, ::-1], axis=1)
    start = np.where(behind.any(axis=1), last_behind + 1, 0)
    a_led = np.maximum.accumulate(a_ahead, axis=1)  # a ahead at some x <= each
    led_before = a_led[np.arange(len(start)), np.maximum(start - 1, 0)] & (start > 0)
    return np.where((start < count) & led_before, start, -1)


def reach_index(means: np.ndarray, target: float, higher_is_better: bool) -> np.ndarray:
    """Per row of mean frontiers: the first index where it reaches ``target``; -1 where
    it never does.

    Example:
        >>> reach_index(np.array([[0.1, 0.4, 0.6], [0.1, 0.2, 0.3]]), 0.4, True).tolist()
        [1, -1]
    """
    means = np.atleast_2d(means)
    hit = means >= target if higher_is_better else means <= target
    return np.where(hit.any(axis=1), np.argmax(hit, axis=1), -1)


def resample_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap resamples of n seeds as weights (resamples × n): the share of each seed
    in a resample of n drawn with replacement. ``weights @ values`` are the resampled
    means of ``values``' columns."""
    picks = rng.integers(0, n, size=(resamples, n))
    weights = np.zeros((resamples, n))
    np.add.at(weights, (np.arange(resamples)[:, None], picks), 1.0 / n)
    return weights


def _quantiles(found: np.ndarray) -> tuple[float | None, float | None]:
    """The 2.5% and 97.5% quantiles of the x's found (order statistics), or None."""
    if found.size == 0:
        return None, None
    low, high = np.quantile(found, [0.025, 0.975], method="inverted_cdf")
    return float(low), float(high)


@dataclass(frozen=True)
class Crossover:
    """Two lines compared where both are known, ``start`` to ``end``: which is strictly
    ahead at each end (None: tied), and where the one ahead at ``end`` overtook.

    ``at`` is None without a crossover; ``low``/``high`` the 95% bootstrap interval of
    the resamples that cross (None when none does), ``no_crossover`` the share of
    resamples without one (of ``ahead_end`` over the other).
    """

    a: str
    b: str
    start: float
    end: float
    ahead_start: str | None
    ahead_end: str | None
    at: float | None
    low: float | None
    high: float | None
    no_crossover: float
    resamples: int


@dataclass(frozen=True)
class Reach:
    """Intrinsic performance of a line: the least x at which its frontier reaches
    ``target`` (None: not reached by ``end``), the 95% bootstrap interval over seeds of
    the resamples that reach it, and the share that do not."""

    label: str
    target: float
    end: float
    at: float | None
    low: float | None
    high: float | None
    not_reached: float
    resamples: int


@dataclass(frozen=True)
class Band:
    """A line's frontier on the grid where every seed is known: x, mean, 95% interval."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int


@dataclass
class Frontier:
    """One metric's frontiers on one axis: a line per scheme, their crossovers and the
    computes at which each reaches a target."""

    metric: FrontierMetric
    axis: Axis
    lines: dict[str, Line]
    resamples: int = RESAMPLES
    seed: int = 0
    _bands: dict[str, Band] | None = field(default=None, repr=False)

    def grid(self, points: int = GRID_POINTS) -> np.ndarray:
        """A log-spaced grid from the least x > 0 at which some line is known to the
        largest x up to which some line is known."""
        ranges = [
            (line.first_positive, line.end)
            for line in self.lines.values()
            if line.first_positive is not None and line.first_positive <= line.end
        ]
        if not ranges:
            return np.array([], dtype=np.float64)
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
        if low == high:
            return np.array([low])
        return np.geomspace(low, high, points)

    def bands(self) -> dict[str, Band]:
        """Each line's frontier on the grid and at its own evaluations' x's (where it
        steps), where every seed is known: mean over seeds and its 95% interval."""
        if self._bands is None:
            grid = self.grid()
            self._bands = {}
            for label, line in self.lines.items():
                xs = grid[(grid >= line.start) & (grid <= line.end)]
                if line.first_positive is not None and line.first_positive <= line.end:
                    # and the x's where the line's steps are, so a step is drawn where it
                    # happens, not at the next grid point
                    own = line.breakpoints(line.first_positive, line.end)
                    xs = np.union1d(xs, [*own, line.end])
                values = line.per_seed(xs, self.metric.higher_is_better)
                mean, low, high = mean_interval(values, self.resamples, self.seed)
                self._bands[label] = Band(xs, mean, low, high, len(line.seeds))
        return self._bands

    def _means(self, line: Line, xs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The line's mean frontier at ``xs``: first row the seeds' mean, then the means
        of the bootstrap resamples of its seeds that ``weights`` give."""
        values = line.per_seed(xs, self.metric.higher_is_better)
        return np.vstack([values.mean(axis=0), weights @ values])

    def crossover(self, a: str, b: str) -> Crossover | None:
        """The crossover of lines ``a`` and ``b``; None when they share no x."""
        first, second = self.lines[a], self.lines[b]
        start, end = max(first.start, second.start), min(first.end, second.end)
        if start > end:
            return None
        xs = np.union1d(first.breakpoints(start, end), second.breakpoints(start, end))
        rng = np.random.default_rng(self.seed)
        weights_a = resample_weights(len(first.seeds), self.resamples, rng)
        # one seed fixes a run's initial network and evaluation episodes whatever its
        # scheme (the lines tie at step 0): lines of the same seeds are resampled together
        paired = sorted(first.seeds) == sorted(second.seeds)
        weights_b = (
            weights_a if paired else resample_weights(len(second.seeds), self.resamples, rng)
        )
        mean_a, mean_b = self._means(first, xs, weights_a), self._means(second, xs, weights_b)
        better = np.greater if self.metric.higher_is_better else np.less

        def ahead(k: int) -> str | None:
            if better(mean_a[0, k], mean_b[0, k]):
                return a
            return b if better(mean_b[0, k], mean_a[0, k]) else None

        ahead_start, ahead_end = ahead(0), ahead(len(xs) - 1)
        at = low = high = None
        share = 1.0
        if ahead_end is not None:
            lag, lead = (mean_a, mean_b) if ahead_end == b else (mean_b, mean_a)
            found = crossover_index(lag, lead, self.metric.higher_is_better)
            at = float(xs[found[0]]) if found[0] >= 0 else None
            crossed = found[1:] >= 0
            low, high = _quantiles(xs[found[1:][crossed]])
            share = float(1.0 - crossed.mean())
        return Crossover(
            a, b, float(start), float(end), ahead_start, ahead_end, at, low, high, share,
            self.resamples,
        )  # fmt: skip

    def crossovers(self) -> list[Crossover]:
        """The crossover of every pair of lines (in label order) that share an x."""
        labels = sorted(self.lines)
        found = (self.crossover(a, b) for k, a in enumerate(labels) for b in labels[k + 1 :])
        return [c for c in found if c is not None]

    def reach(self, label: str, target: float) -> Reach:
        """Intrinsic performance of line ``label`` for ``target``."""
        line = self.lines[label]
        xs = line.breakpoints(line.start, line.end)
        rng = np.random.default_rng(self.seed)
        means = self._means(line, xs, resample_weights(len(line.seeds), self.resamples, rng))
        found = reach_index(means, target, self.metric.higher_is_better)
        at = float(xs[found[0]]) if found[0] >= 0 else None
        hit = found[1:] >= 0
        low, high = _quantiles(xs[found[1:][hit]])
        return Reach(
            label, target, line.end, at, low, high, float(1.0 - hit.mean()), self.resamples
        )

    def default_targets(self, levels: Sequence[float] = TARGET_LEVELS) -> list[float]:
        """Scores ``levels`` of the way from the worst value evaluated to the best."""
        values = [v for line in self.lines.values() for p in line.seeds.values() for _, v in p]
        if not values:
            return []
        worst, best = min(values), max(values)
        if not self.metric.higher_is_better:
            worst, best = best, worst
        return [worst + level * (best - worst) for level in levels]

    def reaches(self, targets: Sequence[float]) -> list[Reach]:
        """Intrinsic performance of every line for every target."""
        return [self.reach(label, t) for t in targets for label in sorted(self.lines)]


# -- from run folders ------------------------------------------------------------------------


def _eval_name(run: Run) -> str:
    return str(run.config.get("eval.name") or "heldout")


def run_points(run: Run, metric: FrontierMetric, axis: Axis) -> Points:
    """The run's evaluations of ``metric`` as (x, value): x its compute (parameters × env
    step) or its wall time; empty without the curve (or, for compute, a parameter count)."""
    tag = metric.tag(_eval_name(run))
    if axis == "wall":
        return tuple((p.wall_s, p.value) for p in event_scalars(run.path, tag).get(tag, []))
    parameters = scale_of(run).get("parameters")
    if not parameters:
        return ()
    curve = run.curves().get(tag)
    if curve is None:
        curve = [(p.step, p.value) for p in event_scalars(run.path, tag).get(tag, [])]
    return tuple((float(parameters) * step, value) for step, value in curve)


def lines_from_runs(runs: Iterable[Run], metric: FrontierMetric, axis: Axis) -> dict[str, Line]:
    """A line per scheme (and per other varying key), pooling sizes and budgets: each
    seed's evaluations of ``metric`` over all its runs. Runs without the curve are left
    out."""
    finished = [run for run in runs if run.finished]
    points = {id(run): run_points(run, metric, axis) for run in finished}
    usable = [run for run in finished if points[id(run)]]
    lines = {}
    for label, members in group_runs(usable, ignore=AXES["compute"]).items():
        by_seed: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for k, run in enumerate(members):
            seed = run.config.get("seed")
            by_seed[int(seed) if isinstance(seed, int) else -1 - k] += points[id(run)]
        seeds = {s: tuple(sorted(p)) for s, p in sorted(by_seed.items())}
        lines[label] = Line(label, seeds, len(members))
    return lines


# -- the report ------------------------------------------------------------------------------


def format_x(x: float | None, axis: str) -> str:
    """An x as the report shows it: compute in 3 significant digits, wall time in s.

    Example:
        >>> format_x(31234567.0, "compute"), format_x(12.345, "wall"), format_x(None, "wall")
        ('3.12e+07', '12.3 s', '–')
    """
    if x is None:
        return "–"
    return f"{x:.3g} s" if axis == "wall" else f"{x:.3g}"


def _interval(low: float | None, high: float | None, axis: str) -> str:
    if low is None or high is None:
        return "–"
    return f"[{format_x(low, axis)}, {format_x(high, axis)}]"


def crossover_text(c: Crossover, axis: str) -> str:
    """A crossover in words (a table cell, a console line)."""
    if c.ahead_end is None:
        return f"tied at the largest {AXIS_WORDS[axis]} {format_x(c.end, axis)}: no crossover"
    other = c.a if c.ahead_end == c.b else c.b
    if c.at is None:
        return f"no crossover up to {format_x(c.end, axis)} ({c.ahead_end} never behind {other})"
    return f"{c.ahead_end} overtakes {other} at {format_x(c.at, axis)}"


def markdown(frontier: Frontier, targets: Sequence[float], figure: str | None) -> list[str]:
    """The section of ``comparison.md`` for one metric's frontiers."""
    axis, metric = frontier.axis, frontier.metric
    word = AXIS_WORDS[axis]
    bands = frontier.bands()
    lines = [
        "",
        f"## Frontier: {metric} against {axis}",
        "",
        f"Per scheme, its network sizes and budgets pooled: the best `{metric.name}` any of "
        f"its runs evaluated at {FRONTIER_AXES[axis]} ≤ x, per seed, carried forward from "
        "one evaluation to the next (a step function: best so far), then the mean over "
        "seeds [95% interval: bootstrap over seeds for n ≥ 3, t for n = 2]. Points in "
        "`frontier.csv`; the definitions are in `incentives/analysis/frontier.py`.",
        "",
    ]
    if axis == "wall":
        lines[-2] += (
            " Wall time counts from each run's first TensorBoard event (after the imports "
            "and the model's construction): training, evaluations, logging and checkpoints; "
            "a resumed run's time stopped is left out. Runs sharing a machine slow each other."
        )
    shown = _columns(frontier.grid())
    header = ["scheme", "seeds", "runs", *(format_x(x, axis) for x in shown), "at its end"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in sorted(frontier.lines):
        band, cells = bands[label], []
        for x in shown:
            k = np.flatnonzero(np.isclose(band.x, x, rtol=1e-12))
            cells.append(_cell(band, int(k[0])) if k.size else "–")
        end = f"{_cell(band, -1)} ({format_x(float(band.x[-1]), axis)})" if band.x.size else "–"
        runs = frontier.lines[label].runs
        lines.append(f"| {label} | {band.n} | {runs} | " + " | ".join([*cells, end]) + " |")
    crossovers = frontier.crossovers()
    if crossovers:
        lines += [
            "",
            f"Crossovers: the least {word} from which the scheme ahead at the largest shared "
            f"{word} stays ahead, after the other led; 95% interval over the bootstrap "
            "resamples of each scheme's seeds (schemes run on the same seeds resampled "
            "together) that cross, and the share that do not.",
            "",
            f"| schemes | ahead at the smallest {word} | ahead at the largest | crossover | "
            "95% interval | no crossover in resamples |",
            "|---|---|---|---|---|---|",
        ]
        for c in crossovers:
            lines.append(
                f"| {c.a} vs {c.b} | {c.ahead_start or 'tied'} ({format_x(c.start, axis)}) | "
                f"{c.ahead_end or 'tied'} ({format_x(c.end, axis)}) | {crossover_text(c, axis)} "
                f"| {_interval(c.low, c.high, axis)} | {c.no_crossover:.0%} |"
            )
    if targets:
        lines += [
            "",
            f"Intrinsic performance (Hilton et al. 2023): the least {word} at which the "
            "scheme's mean frontier reaches the target; 95% interval over the bootstrap "
            "resamples that reach it, and the share that do not.",
            "",
            f"| target | scheme | {word} | 95% interval | not reached in resamples |",
            "|---|---|---|---|---|",
        ]
        for r in frontier.reaches(targets):
            reached = (
                format_x(r.at, axis) if r.at is not None
                else f"not reached by {format_x(r.end, axis)}"
            )  # fmt: skip
            lines.append(
                f"| {r.target:.4g} | {r.label} | {reached} | {_interval(r.low, r.high, axis)} "
                f"| {r.not_reached:.0%} |"
            )
    if figure:
        lines += ["", f"![{figure}]({figure})"]
    return lines


def _columns(grid: np.ndarray, count: int = 6) -> list[float]:
    """Up to ``count`` grid points, evenly spaced on the log axis, for a table's columns."""
    if grid.size <= count:
        return [float(x) for x in grid]
    picks = np.unique(np.round(np.linspace(0, grid.size - 1, count)).astype(int))
    return [float(grid[k]) for k in picks]


def _cell(band: Band, k: int) -> str:
    mean, low, high = band.mean[k], band.low[k], band.high[k]
    if math.isclose(low, high):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


CSV_COLUMNS = ("metric", "axis", "scheme", "x", "n", "mean", "low", "high")
CROSSOVER_COLUMNS = (
    "metric", "axis", "scheme_a", "scheme_b", "start", "end", "ahead_start", "ahead_end",
    "crossover", "low", "high", "no_crossover_share", "resamples",
)  # fmt: skip
TARGET_COLUMNS = (
    "metric", "axis", "scheme", "target", "end", "reached_at", "low", "high",
    "not_reached_share", "resamples",
)  # fmt: skip


def csv_rows(frontier: Frontier) -> list[list[Any]]:
    """The bands' rows of ``frontier.csv`` (:data:`CSV_COLUMNS`)."""
    rows: list[list[Any]] = []
    for label, band in sorted(frontier.bands().items()):
        for k in range(band.x.size):
            rows.append(
                [frontier.metric.name, frontier.axis, label, float(band.x[k]), band.n,
                 float(band.mean[k]), float(band.low[k]), float(band.high[k])]
            )  # fmt: skip
    return rows


def crossover_rows(frontier: Frontier) -> list[list[Any]]:
    """The rows of ``frontier_crossovers.csv`` (:data:`CROSSOVER_COLUMNS`); empty cells
    where there is no crossover (or no resample crosses)."""
    return [
        [frontier.metric.name, frontier.axis, c.a, c.b, c.start, c.end, c.ahead_start or "",
         c.ahead_end or "", _blank(c.at), _blank(c.low), _blank(c.high), c.no_crossover,
         c.resamples]
        for c in frontier.crossovers()
    ]  # fmt: skip


def target_rows(frontier: Frontier, targets: Sequence[float]) -> list[list[Any]]:
    """The rows of ``frontier_targets.csv`` (:data:`TARGET_COLUMNS`)."""
    return [
        [frontier.metric.name, frontier.axis, r.label, r.target, r.end, _blank(r.at),
         _blank(r.low), _blank(r.high), r.not_reached, r.resamples]
        for r in frontier.reaches(targets)
    ]  # fmt: skip


def _blank(x: float | None) -> float | str:
    return "" if x is None else x


def frontier_figure(frontier: Frontier, targets: Sequence[float] = ()) -> Any:
    """Each line's mean frontier (steps: best so far) with its 95% band on a log x-axis;
    each crossover as a dotted line at its compute with its interval shaded; targets as
    thin horizontal lines."""
    import matplotlib.pyplot as plt

    from incentives.analysis import plots  # noqa: F401  (selects the Agg backend)

    fig, ax = plt.subplots(figsize=(6.8, 4.0), layout="constrained")
    colours = {}
    for label, band in sorted(frontier.bands().items()):
        keep = band.x > 0
        if not keep.any():
            continue
        x = band.x[keep]
        (drawn,) = ax.step(x, band.mean[keep], where="post", label=f"{label} (n={band.n})")
        colours[label] = drawn.get_color()
        ax.fill_between(
            x, band.low[keep], band.high[keep], step="post", color=colours[label], alpha=0.2
        )
    for c in frontier.crossovers():
        if c.at is None or c.at <= 0:
            continue
        colour = colours.get(c.ahead_end or "", "black")
        ax.axvline(c.at, color=colour, linestyle=":", linewidth=1.2)
        if c.low is not None and c.high is not None and c.low > 0:
            ax.axvspan(c.low, c.high, color=colour, alpha=0.08)
        other = c.a if c.ahead_end == c.b else c.b
        ax.annotate(
            f"{c.ahead_end} > {other}", (c.at, 1.0), xycoords=("data", "axes fraction"),
            rotation=90, va="top", ha="right", fontsize=7, color=colour,
        )  # fmt: skip
    for target in targets:
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.7)
        ax.annotate(
            f"target {target:.3g}", (0.0, target), xycoords=("axes fraction", "data"),
            va="bottom", fontsize=7, color="grey",
        )  # fmt: skip
    ax.set_xscale("log")
    ax.set(
        xlabel=FRONTIER_AXES[frontier.axis],
        ylabel=f"best {frontier.metric.name} so far",
        title=f"Frontier: {frontier.metric} against {frontier.axis}",
    )
    ax.legend(fontsize=7)
    return fig
