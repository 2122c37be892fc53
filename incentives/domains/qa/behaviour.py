"""What a QA scheme induced: behaviour metrics computed from the QA env's events.

These play the role of a hidden performance function: they are measured from what the
agent did (the env's ``mode``, ``correct``, ``p_star``, ``p_chosen`` and ``stratum``
events) and logged, never fed back as reward or observation.

"Answering" means giving an answer, hedged or not; ``answer_rate`` counts plain answers,
``hedge_rate`` hedged ones and ``abstain_rate`` "I don't know", which add up to one.
``hallucination_rate`` is the share of questions answered wrongly *without* a hedge (a
confident falsehood); ``wrong_answer_rate`` counts every wrong answer, hedged or not.
Under schemes that pay hedged and plain answers alike (binary, confidence target) the
split between the two is arbitrary, so compare ``wrong_answer_rate`` there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from envs.qa.grading import STRATA
from incentives.analysis.calibration import answer_threshold, answering_threshold_reference
from incentives.behaviour import Behaviour, GroupResults, Metric
from incentives.domains.qa.grids import learned_boundaries
from incentives.domains.qa.schemes import MODES, QASignal

__all__ = ["BIN_EDGES", "QABehaviour", "answer_threshold"]

#: Edges of the p* bins in which the answered rate is reported.
BIN_EDGES: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))
_MODE_CODE = {mode: code for code, mode in enumerate(MODES)}
_ANSWER, _HEDGE, _ABSTAIN = (_MODE_CODE[m] for m in MODES)
_UNANSWERABLE = STRATA.index("unanswerable")


class QABehaviour(Behaviour):
    """Collects finished QA episodes and turns them into behaviour metrics.

    ``signal`` is the scheme in force; it supplies the Bayes-optimal expected reward that
    ``regret`` is measured against. Switch it with ``use_signal`` at a phase boundary.
    Besides ``METRICS``, it reports the answered rate in each p* bin as
    ``answered_by_p/<lo>-<hi>``.
    """

    METRICS = (
        Metric("answer_rate", "share of questions answered without a hedge", "answer",
               headline=True),
        Metric("hedge_rate", "share answered with a hedge", "hedge", headline=True),
        Metric("abstain_rate", "share answered 'I don't know'", "abstain", headline=True,
               emergence=True),
        Metric("accuracy_answered", "share right among those answered (hedged or not)",
               "acc|answered"),
        Metric("hallucination_rate", "share answered wrongly without a hedge", "halluc.",
               headline=True, emergence=True),
        Metric("wrong_answer_rate", "share answered wrongly, hedged or not", "wrong"),
        Metric("abstain_rate_unanswerable", "'I don't know' among questions with no evidence",
               "abstain|unans.", headline=True),
        Metric("t_hat", "the p* above which the agent answers (logistic fit)", headline=True,
               emergence=True),
        Metric("regret", "Bayes-optimal expected reward minus the agent's", headline=True,
               compared=False),
        Metric("regret_relative", "regret as a share of the optimal expected reward",
               "regret (rel.)", headline=True, emergence=True),
        Metric("boundary_error", "largest distance of a learned boundary from theory's "
               "threshold (decision stumps on p*, see grids.learned_boundaries)", "bound. err."),
        Metric("optimal_reward", "the scheme's Bayes-optimal expected reward", compared=False),
        Metric("expected_reward", "the agent's expected reward under the scheme",
               compared=False),
    )  # fmt: skip

    def __init__(self, signal: QASignal) -> None:
        super().__init__(signal)
        self.signal: QASignal = signal
        self._mode: list[int] = []
        self._correct: list[bool] = []
        self._p_star: list[float] = []
        self._p_chosen: list[float] = []
        self._unanswerable: list[bool] = []
        # episodes added as columns (``add_columns``), appended to the lists above on read
        self._batches: list[tuple[npt.NDArray[Any], ...]] = []

    def use_signal(self, signal: QASignal) -> None:  # type: ignore[override]
        """Measure regret against another scheme from now on."""
        self.signal = signal

    def add(self, info: Mapping[str, Any]) -> None:
        """Record the events of one finished episode (one answered question)."""
        self._mode.append(_MODE_CODE[info["mode"]])
        self._correct.append(bool(info["correct"]))
        self._p_star.append(float(info["p_star"]))
        self._p_chosen.append(float(info["p_chosen"]))
        self._unanswerable.append(info["stratum"] == "unanswerable")

    def add_columns(self, columns: Mapping[str, npt.NDArray[Any]], rows: npt.NDArray[Any]) -> None:
        """Record the finished episodes ``rows`` (indices) of a step's event columns, as the
        batched QA env reports them (``mode`` and ``stratum`` as codes into ``MODES`` and
        ``STRATA``): what ``add`` does for each, without a dict."""
        self._batches.append(
            (
                np.asarray(columns["mode"])[rows],
                np.asarray(columns["correct"])[rows],
                np.asarray(columns["p_star"])[rows],
                np.asarray(columns["p_chosen"])[rows],
                np.asarray(columns["stratum"])[rows] == _UNANSWERABLE,
            )
        )

    def _columns(self) -> tuple[npt.NDArray[Any], ...]:
        """Every recorded episode as arrays, in the order they were added."""
        if self._batches:
            mode, correct, p_star, p_chosen, unanswerable = (
                np.concatenate(parts) for parts in zip(*self._batches, strict=True)
            )
            self._batches.clear()
            self._mode.extend(mode.tolist())
            self._correct.extend(correct.tolist())
            self._p_star.extend(p_star.tolist())
            self._p_chosen.extend(p_chosen.tolist())
            self._unanswerable.extend(unanswerable.tolist())
        return (
            np.asarray(self._mode),
            np.asarray(self._correct, dtype=bool),
            np.asarray(self._p_star, dtype=np.float64),
            np.asarray(self._p_chosen, dtype=np.float64),
            np.asarray(self._unanswerable, dtype=bool),
        )

    def clear(self) -> None:
        """Forget the recorded episodes."""
        for store in (self._mode, self._correct, self._p_star, self._p_chosen):
            store.clear()
        self._unanswerable.clear()
        self._batches.clear()

    def __len__(self) -> int:
        return len(self._mode) + sum(len(batch[0]) for batch in self._batches)

    def rates_by_p(self) -> tuple[list[float], dict[str, list[float]]]:
        """Bin centres of p* (bins with data) and the rate of each mode in them."""
        mode, _, p_star, _, _ = self._columns()
        bins = np.digitize(p_star, BIN_EDGES[1:-1])
        present = np.unique(bins)
        centres = [(BIN_EDGES[b] + BIN_EDGES[b + 1]) / 2 for b in present]
        rates: dict[str, list[float]] = {
            name: [float(np.mean(mode[bins == b] == code)) for b in present]
            for code, name in enumerate(MODES)
        }
        return centres, rates

    def figure(self, title: str) -> Any:
        """Answer, hedge and abstain rates against p*, the scheme's thresholds drawn in."""
        from incentives.analysis.plots import mode_rates_figure

        centres, rates = self.rates_by_p()
        return mode_rates_figure(centres, rates, self.signal.thresholds(), title)

    def metrics(self) -> dict[str, float]:
        """The behaviour metrics of the recorded episodes (empty if there are none)."""
        if not len(self):
            return {}
        mode, correct, p_star, p_chosen, unanswerable = self._columns()
        answered = mode != _ABSTAIN

        out: dict[str, float] = {
            "answer_rate": float(np.mean(mode == _ANSWER)),
            "hedge_rate": float(np.mean(mode == _HEDGE)),
            "abstain_rate": float(np.mean(mode == _ABSTAIN)),
            "accuracy_answered": _mean(correct[answered]),
            "hallucination_rate": float(np.mean((mode == _ANSWER) & ~correct)),
            "wrong_answer_rate": float(np.mean(answered & ~correct)),
            "abstain_rate_unanswerable": _mean(~answered[unanswerable]),
            "t_hat": answer_threshold(p_star, answered),
        }
        optimal = self.signal.optimal_rewards(p_star)
        expected = np.empty_like(p_chosen)
        for code, name in enumerate(MODES):
            chosen = mode == code
            intercept, slope = self.signal.line(name)
            expected[chosen] = intercept + slope * p_chosen[chosen]
        out["optimal_reward"] = float(optimal.mean())
        out["expected_reward"] = float(expected.mean())
        out["regret"] = out["optimal_reward"] - out["expected_reward"]
        out["regret_relative"] = (
            out["regret"] / out["optimal_reward"] if out["optimal_reward"] > 0 else float("nan")
        )
        theory = self.signal.thresholds()
        learned = learned_boundaries(self.signal, p_star, mode)
        for k, value in enumerate(learned, start=1):
            out[f"boundary/{k}"] = value
        out["boundary_error"] = (
            max(abs(b - t) for b, t in zip(learned, theory, strict=True)) if theory else 0.0
        )
        bins = np.digitize(p_star, BIN_EDGES[1:-1])
        for b in np.unique(bins):
            lo, hi = BIN_EDGES[b], BIN_EDGES[b + 1]
            out[f"answered_by_p/{lo:.1f}-{hi:.1f}"] = float(np.mean(answered[bins == b]))
        return out

    @classmethod
    def reference(
        cls, metric: str, theories: Mapping[str, Mapping[str, Any]]
    ) -> tuple[float, str] | None:
        """Regret's theory is 0; ``t_hat``'s is where answering starts to pay (the highest
        threshold), when every scheme compared agrees on it."""
        if metric == "regret_relative":
            return 0.0, "theory (optimal policy)"
        if metric == "t_hat":
            return answering_threshold_reference(theories)
        return None

    @classmethod
    def comparison_figures(cls, groups: GroupResults) -> dict[str, Any]:
        """The answered rate against p* per group, seeds as a band, thresholds drawn in;
        with two groups or more that have thresholds (a grid family), their learned
        boundaries and regret against theory (``figures.boundaries_figure``)."""
        from incentives.analysis.plots import binned_rows, rates_by_p_figure
        from incentives.domains.qa.figures import boundaries_figure

        by_p = binned_rows(groups, "answered_by_p/")
        figures = {"answered_by_p": rates_by_p_figure(by_p)} if by_p else {}
        boundaries = boundaries_figure(groups)
        if boundaries is not None:
            figures["boundaries"] = boundaries
        return figures


def _mean(values: npt.NDArray[np.bool_]) -> float:
    """The mean of ``values``, NaN when there are none."""
    return float(values.mean()) if values.size else float("nan")
