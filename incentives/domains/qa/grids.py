"""A seeded family of QA grids: the grids a recipe must hold on, not only the talk's.

``grid_family(seed, n)`` draws ``n`` valid grids of three kinds, in a fixed cycle
(``KINDS_CYCLE``): a **band** hedging grid (abstain below ``t1``, hedge on ``[t1, t2]``,
answer above ``t2``), a **single** threshold hedging grid (abstain below ``t``, answer
above, a hedge that never pays), and a Kalai **confidence target** ``t``. The
thresholds of each kind are spread over their range by stratified draws (one per
stratum, strata shuffled), so a family of a dozen grids covers single thresholds
anywhere in (0.3, 0.95) and bands of several widths and positions.

Each grid is a ``(scheme name, parameters)`` pair that ``make_signal`` builds; its
thresholds are the built signal's own ``thresholds()`` (the generator's intended ones are
checked against them). The config ``reward=grid_family reward.index=i`` trains member
``i`` (``incentives.run.build`` resolves it); ``python -m incentives.domains.qa.grids``
lists a family, with the command that reruns each grid by itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from incentives.domains.qa.schemes import (
    MODES,
    ConfidenceTargetSignal,
    HedgingGridSignal,
    QASignal,
)

__all__ = [
    "FAMILY_NAME",
    "KINDS_CYCLE",
    "Grid",
    "family_member",
    "grid_family",
    "learned_boundaries",
    "mode_order",
]

#: The reward name that stands for a member of the family (``conf/reward/grid_family.yaml``).
FAMILY_NAME = "grid_family"

#: The kind of grid ``i`` is ``KINDS_CYCLE[i % len(KINDS_CYCLE)]``: bands twice as often,
#: as they are where a recipe tuned on a single threshold is least tested.
KINDS_CYCLE: tuple[str, ...] = ("band", "single", "band", "target")

#: Where thresholds are drawn: single thresholds and targets in (LOW, HIGH); a band's
#: edges t1 < t2 inside it, its width in BAND_WIDTH.
LOW, HIGH = 0.3, 0.95
BAND_WIDTH = (0.08, 0.3)
#: Digits the payoffs are rounded to (theory is recomputed from the rounded grid).
DIGITS = 4


@dataclass(frozen=True)
class Grid:
    """One member of the family: what to build and what theory says of it."""

    index: int
    kind: str
    scheme: str
    params: dict[str, float]
    thresholds: tuple[float, ...]
    modes: tuple[str, ...] = field(default=())

    def signal(self) -> QASignal:
        """The grid's explicit signal."""
        if self.scheme == "confidence_target":
            return ConfidenceTargetSignal(**self.params)
        return HedgingGridSignal(**self.params)

    def record(self, family_seed: int) -> dict[str, Any]:
        """The grid as plain data, with the overrides that train it alone."""
        out = asdict(self)
        out["thresholds"] = list(self.thresholds)
        out["modes"] = list(self.modes)
        out["rerun"] = (
            f"+experiment=qa_grids reward.family_seed={family_seed} reward.index={self.index}"
        )
        out["explicit"] = f"reward={self.scheme} " + " ".join(
            f"reward.{k}={v}" for k, v in self.params.items()
        )
        return out


def mode_order(signal: QASignal) -> tuple[str, ...]:
    """The optimal modes from low to high confidence, one per region between thresholds."""
    cuts = (0.0, *signal.thresholds(), 1.0)
    return tuple(signal.optimal_mode((lo + hi) / 2) for lo, hi in itertools.pairwise(cuts))


def _stratified(rng: np.random.Generator, n: int, low: float, high: float) -> list[float]:
    """``n`` draws in (low, high), one in each of ``n`` equal strata, in shuffled order."""
    edges = np.linspace(low, high, n + 1)
    draws = [float(rng.uniform(a, b)) for a, b in itertools.pairwise(edges)]
    return [draws[k] for k in rng.permutation(n)]


def _single(t: float, hc: float, u: float) -> dict[str, float]:
    """A hedging grid answering above ``t`` whose hedge never pays: the hedge line is at
    ``-m (1 - t)`` at ``t``, with ``m`` a share ``u`` of what keeps ``hedged_wrong`` at
    or above ``wrong`` (so the grid is not one of the oddities)."""
    wrong = -t / (1 - t)
    margin = u * (1 - hc) * t / (1 - t)
    return {
        "correct": 1.0,
        "hedged_correct": hc,
        "abstain": 0.0,
        "hedged_wrong": -hc * t / (1 - t) - margin,
        "wrong": wrong,
    }


def _band(t1: float, t2: float, hc: float) -> dict[str, float]:
    """A hedging grid that abstains below ``t1``, hedges on ``[t1, t2]``, answers above:
    the hedge line crosses 0 at ``t1`` and the answer line at ``t2``."""
    hedged_wrong = -hc * t1 / (1 - t1)
    return {
        "correct": 1.0,
        "hedged_correct": hc,
        "abstain": 0.0,
        "hedged_wrong": hedged_wrong,
        "wrong": hedged_wrong - (1 - hc) * t2 / (1 - t2),
    }


def _build(
    index: int, kind: str, scheme: str, raw: dict[str, float], intended: Sequence[float]
) -> Grid:
    params = {k: round(v, DIGITS) for k, v in raw.items()}
    grid = Grid(index, kind, scheme, params, ())
    signal = grid.signal()
    thresholds = tuple(round(t, 6) for t in signal.thresholds())
    if len(thresholds) != len(intended) or any(
        abs(a - b) > 1e-3 for a, b in zip(thresholds, intended, strict=True)
    ):  # a bug in the generator, never a user's input
        raise AssertionError(f"grid {index}: thresholds {thresholds}, intended {intended}")
    return Grid(index, kind, scheme, params, thresholds, mode_order(signal))


def grid_family(seed: int, n: int = 12) -> list[Grid]:
    """``n`` valid grids drawn from ``seed``; the same arguments give the same grids, and
    the first ``m`` grids of a family of ``n`` are not the first ``m`` of another size.

    Example:
        >>> [(g.kind, g.modes) for g in grid_family(19, 4)]  # doctest: +NORMALIZE_WHITESPACE
        [('band', ('abstain', 'hedge', 'answer')), ('single', ('abstain', 'answer')),
         ('band', ('abstain', 'hedge', 'answer')), ('target', ('abstain', 'answer'))]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r}; accepted: a whole number of grids >= 1")
    rng = np.random.default_rng([19_000, int(seed), n])
    kinds = [KINDS_CYCLE[i % len(KINDS_CYCLE)] for i in range(n)]
    count = {k: kinds.count(k) for k in set(kinds)}
    singles = iter(_stratified(rng, count.get("single", 0), LOW, HIGH))
    targets = iter(_stratified(rng, count.get("target", 0), LOW, HIGH))
    widths = iter(_stratified(rng, count.get("band", 0), *BAND_WIDTH))
    starts = iter(_stratified(rng, count.get("band", 0), 0.0, 1.0))
    grids = []
    for index, kind in enumerate(kinds):
        if kind == "single":
            t = next(singles)
            hc, u = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))
            grids.append(_build(index, kind, "hedging_grid", _single(t, hc, u), [t]))
        elif kind == "target":
            t = next(targets)
            grids.append(_build(index, kind, "confidence_target", {"t": t}, [t]))
        else:
            width = next(widths)
            t1 = LOW + next(starts) * (HIGH - LOW - width)
            hc = float(rng.uniform(0.3, 0.8))
            grids.append(
                _build(index, kind, "hedging_grid", _band(t1, t1 + width, hc), [t1, t1 + width])
            )
    return grids


def family_member(family_seed: Any, index: Any, size: Any = 12) -> tuple[str, dict[str, float]]:
    """The scheme name and parameters of grid ``index`` of the family ``(family_seed,
    size)``, or a ``ValueError`` naming the bad key."""
    for key, value, least in (("family_seed", family_seed, 0), ("size", size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"reward.{key}={value!r}; accepted: a whole number >= {least}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        raise ValueError(f"reward.index={index!r}; accepted: a whole number in [0, {size - 1}]")
    grid = grid_family(family_seed, size)[index]
    return grid.scheme, dict(grid.params)


def learned_boundaries(
    signal: QASignal, p_star: np.ndarray, modes: Sequence[str] | np.ndarray
) -> list[float]:
    """Where an agent's behaviour crosses each of the signal's thresholds.

    Modes are ranked by the slope of their expected-reward line (an upper envelope of
    lines takes steeper lines at higher confidence). Boundary ``k`` separates theory's
    ``k``-th and ``k+1``-th modes; the agent is "above" it on a question when its mode is
    at least as steep as theory's ``k+1``-th. The boundary is the cut ``b`` that best
    separates "above" (p* >= b) from "below": the fewest questions on the wrong side
    (a decision stump; ties take the middle of the best cuts). An agent always above
    gets the lowest p* seen, never above gets 1.

    Example:
        >>> s = HedgingGridSignal(hedged_wrong=-1.0)  # abstain < 2/3 < hedge < 6/7 < answer
        >>> p = np.round(np.linspace(0.3, 1.0, 71), 2)
        >>> m = np.where(p < 0.6, "abstain", np.where(p < 0.9, "hedge", "answer"))
        >>> [round(b, 3) for b in learned_boundaries(s, p, m)]
        [0.595, 0.895]
    """
    order = mode_order(signal)
    slope = {mode: signal.line(mode)[1] for mode in ("answer", "hedge", "abstain")}
    p = np.asarray(p_star, dtype=np.float64)
    given = np.asarray(modes)
    if given.dtype.kind in "iu":  # codes into MODES, as the env reports them
        agent = np.array([slope[m] for m in MODES])[given.astype(np.int64)]
    else:
        agent = np.array([slope[str(m)] for m in given.tolist()])
    sort = np.argsort(p, kind="stable")
    p, agent = p[sort], agent[sort]
    out = []
    for k in range(1, len(order)):
        above = agent >= slope[order[k]] - 1e-12
        # cut before position j: errors = above among the first j + below among the rest
        errors = np.concatenate([[0], np.cumsum(above)]) + np.concatenate(
            [np.cumsum((~above)[::-1])[::-1], [0]]
        )
        # cuts only between distinct p values
        valid = np.concatenate([[True], p[1:] > p[:-1], [True]])
        errors = np.where(valid, errors, np.iinfo(np.int64).max)
        best = np.flatnonzero(errors == errors.min())
        # a cut before position j lies halfway between the p* on either side of it
        cuts = [
            float(p[0]) if j == 0 else 1.0 if j == len(p) else float(p[j - 1] + p[j]) / 2
            for j in best
        ]
        out.append((min(cuts) + max(cuts)) / 2)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """List a family (JSON lines, or a table), optionally into ``--out/grids.json``."""
    parser = argparse.ArgumentParser(prog="python -m incentives.domains.qa.grids")
    parser.add_argument("--seed", type=int, default=19, help="the family's seed")
    parser.add_argument("--n", type=int, default=12, help="how many grids")
    parser.add_argument("--out", help="a folder to write grids.json into")
    args = parser.parse_args(argv)
    try:
        grids = grid_family(args.seed, args.n)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    records = [g.record(args.seed) for g in grids]
    for r in records:
        cuts = ", ".join(f"{t:.3f}" for t in r["thresholds"])
        print(
            f"{r['index']:>3} {r['kind']:<7} {'/'.join(r['modes']):<22} [{cuts}]  {r['explicit']}"
        )
    if args.out:
        from pathlib import Path

        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        listing = {
            "generator": "incentives.domains.qa.grids.grid_family",
            "seed": args.seed,
            "n": args.n,
            "grids": records,
        }
        (folder / "grids.json").write_text(json.dumps(listing, indent=1))


if __name__ == "__main__":
    main()
