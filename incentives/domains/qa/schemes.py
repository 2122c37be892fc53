"""Question-answering reward schemes and their decision theory.

Each scheme grades one answer by its mode ("answer", "hedge" or "abstain", i.e. "I don't
know") and whether it was right. For a question whose best answer is right with
probability ``p``, the expected reward of each mode is linear in ``p``; the Bayes-optimal
policy takes the upper envelope of those lines, and ``thresholds()`` are its kinks. That
is what lets a run's learned behaviour be compared with what the scheme actually asks for.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from envs.qa.actions import MODES
from incentives.scheme import RewardScheme
from incentives.signal import ExplicitSignal, finite

__all__ = [
    "MODES",
    "Binary",
    "BinarySignal",
    "ConfidenceTarget",
    "ConfidenceTargetSignal",
    "HedgingGrid",
    "HedgingGridSignal",
    "QAScheme",
    "QASignal",
]

#: When modes of an answer (``MODES``, the vocabulary of the ``mode`` event, stated by the
#: env that reports it) tie in expected reward, the earlier one in ``TIE_ORDER`` is taken
#: as optimal: abstaining at a threshold, answering over hedging.
TIE_ORDER: tuple[str, ...] = ("abstain", "answer", "hedge")

_MODE_CODE = {mode: code for code, mode in enumerate(MODES)}


class QASignal(ExplicitSignal):
    """A QA scheme: a reward for each (mode, right or wrong) cell, and its decision theory."""

    required_events: ClassVar[tuple[str, ...]] = ("mode", "correct")

    def cell(self, mode: str, correct: bool) -> tuple[str, float]:
        """The name and reward of the grid cell that an answer falls in."""
        if mode == "abstain":
            return "abstain", self.payoff("abstain", True)
        name = ("hedged_" if mode == "hedge" else "") + ("correct" if correct else "wrong")
        return name, self.payoff(mode, correct)

    def payoff(self, mode: str, correct: bool) -> float:
        """The reward for an answer of ``mode`` that is right (``correct``) or wrong."""
        raise NotImplementedError

    @functools.cached_property
    def _table(self) -> tuple[tuple[tuple[str, ...], ...], npt.NDArray[np.float64]]:
        """The grid as a table, computed once: cell names and rewards indexed by
        ``[mode code, correct]`` (codes into ``MODES``). Both ``terms`` (one answer) and
        ``batch_terms`` (a batch of answers) read it, so the two cannot disagree."""
        cells = [[self.cell(mode, bool(right)) for right in (0, 1)] for mode in MODES]
        names = tuple(tuple(name for name, _ in row) for row in cells)
        values = np.array([[value for _, value in row] for row in cells], dtype=np.float64)
        return names, values

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """One term, named after the cell of the grid the answer fell in."""
        code = _MODE_CODE.get(events["mode"])
        if code is None:
            raise ValueError(
                f"{self.name}: event mode={events['mode']!r}; accepted: {', '.join(MODES)}"
            )
        names, values = self._table
        right = int(bool(events["correct"]))
        return {names[code][right]: float(values[code, right])}

    def batch_terms(
        self, columns: Mapping[str, npt.NDArray[Any]]
    ) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]]:
        """``terms`` for a batch of answers: ``mode`` as codes into ``MODES`` (or words),
        ``correct`` as booleans, one term per cell of the grid that some answer fell in."""
        mode = np.asarray(columns["mode"])
        if mode.dtype.kind not in "iu":
            try:
                mode = np.array([_MODE_CODE[m] for m in mode.tolist()], dtype=np.int64)
            except KeyError as error:
                raise ValueError(
                    f"{self.name}: event mode={error.args[0]!r}; accepted: {', '.join(MODES)}"
                ) from None
        elif mode.size and (mode.min() < 0 or mode.max() >= len(MODES)):
            raise ValueError(
                f"{self.name}: event mode code {int(mode.max())}; accepted: codes 0-"
                f"{len(MODES) - 1} of {', '.join(MODES)}"
            )
        right = np.asarray(columns["correct"]).astype(bool)
        names, values = self._table
        cell = mode.astype(np.int64) * 2 + right
        flat_values = values.reshape(-1)[cell]
        flat_names = [name for row in names for name in row]
        out: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]] = {}
        for index in np.unique(cell).tolist():
            present = cell == index
            name = flat_names[index]
            if name in out:  # two cells of one name (abstain, right or not)
                present = present | out[name][1]
            out[name] = (np.where(present, flat_values, 0.0), present)
        return out

    def line(self, mode: str) -> tuple[float, float]:
        """Intercept and slope of the expected reward of ``mode`` as a function of p."""
        wrong, right = self.payoff(mode, False), self.payoff(mode, True)
        return wrong, right - wrong

    def expected_reward(self, mode: str, p: float) -> float:
        """Expected reward of answering in ``mode`` when the answer is right with prob. p.

        Example:
            >>> HedgingGridSignal().expected_reward("answer", 0.9)
            0.5
        """
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not a QA mode; accepted: {', '.join(MODES)}")
        intercept, slope = self.line(mode)
        return intercept + slope * p

    def optimal_mode(self, p: float) -> str:
        """The Bayes-optimal mode at confidence p; ties go to abstain, then answer.

        Example:
            >>> ConfidenceTargetSignal(t=0.75).optimal_mode(0.8)
            'answer'
        """
        values = {mode: self.expected_reward(mode, p) for mode in TIE_ORDER}
        best = max(values.values())
        return next(mode for mode in TIE_ORDER if values[mode] >= best - 1e-12)

    def thresholds(self) -> tuple[float, ...]:
        """The confidences in (0, 1) where the optimal mode changes, in increasing order.

        Example:
            >>> HedgingGridSignal().thresholds()
            (0.8,)
            >>> [round(t, 4) for t in HedgingGridSignal(hedged_wrong=-1.0).thresholds()]
            [0.6667, 0.8571]
        """
        crossings = {0.0, 1.0}
        for a, b in itertools.combinations(MODES, 2):
            (ia, sa), (ib, sb) = self.line(a), self.line(b)
            if sa != sb:
                p = (ib - ia) / (sa - sb)
                if 0.0 < p < 1.0:
                    crossings.add(p)
        points = sorted(crossings)
        modes = [self.optimal_mode((lo + hi) / 2) for lo, hi in itertools.pairwise(points)]
        return tuple(
            round(points[i + 1], 12) for i in range(len(modes) - 1) if modes[i] != modes[i + 1]
        )

    def optimal_rewards(self, p: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The Bayes-optimal expected reward for each confidence in ``p`` (vectorized)."""
        p = np.asarray(p, dtype=np.float64)
        lines = [self.line(mode) for mode in MODES]
        return np.max([i + s * p for i, s in lines], axis=0)

    def theory(self) -> dict[str, Any]:
        """The scheme's decision theory in a form fit for ``summary.json``."""
        return {
            "thresholds": list(self.thresholds()),
            "payoffs": {
                self.cell(mode, right)[0]: self.payoff(mode, right)
                for mode in MODES
                for right in (True, False)
            },
        }


@dataclass(frozen=True)
class HedgingGridSignal(QASignal):
    """The hedging-penalty grid of Chung's talk, after Schulman (2023).

    +1 right, +0.5 right but hedged, 0 "I don't know", -2 hedged and wrong, -4 wrong.
    """

    correct: float = 1.0
    hedged_correct: float = 0.5
    abstain: float = 0.0
    hedged_wrong: float = -2.0
    wrong: float = -4.0

    name: ClassVar[str] = "hedging_grid"
    statement: ClassVar[str] = (
        "+1 right, +0.5 right but hedged, 0 'I don't know', -2 hedged and wrong, -4 wrong"
    )

    def __post_init__(self) -> None:
        for key in ("correct", "hedged_correct", "abstain", "hedged_wrong", "wrong"):
            object.__setattr__(self, key, finite(self.name, key, getattr(self, key)))
        if self.correct <= self.wrong:
            raise ValueError(
                f"{self.name}: correct={self.correct} must be greater than wrong={self.wrong}; "
                "accepted: a grid that pays more for a right answer than a wrong one"
            )
        if self.hedged_correct <= self.hedged_wrong:
            raise ValueError(
                f"{self.name}: hedged_correct={self.hedged_correct} must be greater than "
                f"hedged_wrong={self.hedged_wrong}; accepted: a grid that pays more for a "
                "right hedged answer than a wrong one"
            )
        if self.abstain >= self.correct:
            raise ValueError(
                f"{self.name}: abstain={self.abstain} pays at least as much as correct="
                f"{self.correct}, so no answer is ever worth giving; accepted: abstain < correct"
            )
        for unusual in self.oddities():
            warnings.warn(f"{self.name}: {unusual}", UserWarning, stacklevel=3)

    def oddities(self) -> list[str]:
        """What is allowed but unusual about this grid, in words."""
        odd = []
        if self.hedged_correct > self.correct:
            odd.append(
                f"hedged_correct={self.hedged_correct} > correct={self.correct}: a right "
                "answer pays more hedged than stated"
            )
        if self.hedged_wrong < self.wrong:
            odd.append(
                f"hedged_wrong={self.hedged_wrong} < wrong={self.wrong}: a wrong answer costs "
                "more hedged than stated"
            )
        if self.wrong >= self.abstain:
            odd.append(
                f"wrong={self.wrong} >= abstain={self.abstain}: guessing never loses to "
                "'I don't know', so the grid cannot teach abstaining"
            )
        return odd

    def payoff(self, mode: str, correct: bool) -> float:
        """The grid's cell for ``mode`` and correctness."""
        if mode == "abstain":
            return self.abstain
        if mode == "hedge":
            return self.hedged_correct if correct else self.hedged_wrong
        return self.correct if correct else self.wrong


@dataclass(frozen=True)
class BinarySignal(QASignal):
    """Binary grading: 1 if right, 0 otherwise, "I don't know" 0.

    The grading that Kalai et al. (2025, "Why Language Models Hallucinate") show rewards
    guessing: answering is never worse than abstaining.
    """

    name: ClassVar[str] = "binary"
    statement: ClassVar[str] = "1 if the answer is right (hedged or not), 0 otherwise"

    def payoff(self, mode: str, correct: bool) -> float:
        """1 for a right answer, hedged or not; 0 otherwise."""
        return 1.0 if mode != "abstain" and correct else 0.0


@dataclass(frozen=True)
class ConfidenceTargetSignal(QASignal):
    """Kalai et al. (2025)'s explicit confidence target t.

    +1 right, -t/(1-t) wrong, 0 for "I don't know"; a hedged answer scores as an answer.
    Answering pays exactly when the answer is right with probability above t.
    """

    t: float = 0.75

    name: ClassVar[str] = "confidence_target"
    statement: ClassVar[str] = "+1 right, -t/(1-t) wrong, 0 'I don't know': answer iff p > t"

    def __post_init__(self) -> None:
        t = finite(self.name, "t", self.t)
        if not 0.0 <= t < 1.0:
            raise ValueError(f"{self.name}: parameter t={self.t!r}; accepted: 0 <= t < 1")
        object.__setattr__(self, "t", t)

    def payoff(self, mode: str, correct: bool) -> float:
        """+1 right, -t/(1-t) wrong, 0 abstain; hedging changes nothing."""
        if mode == "abstain":
            return 0.0
        return 1.0 if correct else -self.t / (1.0 - self.t)


class QAScheme(RewardScheme[QASignal]):
    """A QA scheme wrapper, exposing its signal's decision theory."""

    def expected_reward(self, mode: str, p: float) -> float:
        """Expected reward of ``mode`` for an answer right with probability p."""
        return self.signal.expected_reward(mode, p)

    def optimal_mode(self, p: float) -> str:
        """The Bayes-optimal mode at confidence p."""
        return self.signal.optimal_mode(p)

    def thresholds(self) -> tuple[float, ...]:
        """The confidences where the optimal mode changes."""
        return self.signal.thresholds()


class HedgingGrid(QAScheme):
    """Reward an env's answers with the hedging-penalty grid (see ``HedgingGridSignal``).

    ``HedgingGrid(env, correct=1.0, hedged_correct=0.5, abstain=0.0, hedged_wrong=-2.0,
    wrong=-4.0)``: every value is configurable.

    Example:
        >>> import gymnasium as gym, envs
        >>> HedgingGrid(gym.make("incentives/QA-v0"), hedged_wrong=-1.0).optimal_mode(0.75)
        'hedge'
    """

    signal_type = HedgingGridSignal


class Binary(QAScheme):
    """Reward an env's answers with binary grading (see ``BinarySignal``)."""

    signal_type = BinarySignal


class ConfidenceTarget(QAScheme):
    """Reward an env's answers with an explicit confidence target ``t``.

    See ``ConfidenceTargetSignal``.
    """

    signal_type = ConfidenceTargetSignal
