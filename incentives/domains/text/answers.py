"""What a language model does when asked: answer, hedge or say "I don't know", and how
that sits with what it knows.

Each measured question (``incentives.run.answering``'s evaluation) is an event with the
answer's ``mode`` and ``correct`` (``envs.text.answering``), its ``group`` (a family or
``facts/<bucket>``, by how often the corpus stated the fact), and two readings of the
model's knowledge: ``confidence``, the probability it gives its best answer when made to
answer (the greedy answer with "I don't know" and the hedge ruled out), and
``best_correct``, whether that best answer is right.

Metrics (declared once in ``METRICS``):

- the modes: ``answer_rate``, ``hedge_rate``, ``abstain_rate``; ``hallucination_rate``
  (answered wrongly without a hedge, a confident falsehood), ``wrong_answer_rate``
  (hedged or not), ``accuracy_answered``;
- by how often a fact was seen: ``hallucination_<bucket>`` and ``abstain_<bucket>``
  (``never``, ``once``, ``few``, ``often``), and the rule families pooled (``_rules``);
- Kalai et al. (2025): ``singleton_share``, the share of the asked facts stated exactly
  once in the corpus, beside ``facts_error_rate``, the share of facts answered wrongly
  (hedged or not): their argument bounds the second from below by about the first for a
  model that does not abstain;
- calibration of ``confidence`` against ``best_correct``: ``ece`` (10 bins) and
  ``brier``;
- against the scheme's decision theory (a scheme with ``line(mode)``, the QA grids),
  taking the model's ``confidence`` as the probability its answer is right:
  ``optimal_own``, the best expected reward a mode could get on each question, and
  ``regret_own``, that minus the expected reward of the mode the model chose (0: it
  answers, hedges and abstains exactly where the scheme says, given what it believes);
- the learned threshold: ``t_hat``, where answering (plain or hedged) starts as the
  confidence grows (a logistic fit), to compare with the scheme's ``thresholds()``; and
  ``answered_by_conf/<lo>-<hi>``, the answered rate in each confidence bin (the figure
  ``incentives-compare`` draws, theory's threshold dashed), and ``reliability/<lo>-<hi>``,
  the best answer's accuracy in each bin (the reliability diagram).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.text.facts import BUCKETS
from incentives.analysis.calibration import (
    answer_threshold,
    brier_score,
    expected_calibration_error,
    reliability,
)
from incentives.behaviour import Metric

__all__ = ["ANSWER_METRICS", "CONFIDENCE_BINS", "AnswerTally"]

#: Edges of the confidence bins of ``answered_by_conf``.
CONFIDENCE_BINS = 10
_BUCKET_NAMES = tuple(name for name, _, _ in BUCKETS)
_GROUPS = (*_BUCKET_NAMES, "rules")
_COMPARED = {"abstain_rate", "hallucination_rate", "facts_error_rate", "t_hat", "ece",
             "regret_own"}  # fmt: skip
_HEADLINE = {"abstain_rate", "hallucination_rate", "t_hat", "ece"}


def _declare() -> tuple[Metric, ...]:
    plain = (
        ("answer_rate", "share of questions answered without a hedge", "answer"),
        ("hedge_rate", "share answered with a hedge", "hedge"),
        ("abstain_rate", "share answered 'I don't know'", "abstain"),
        ("hallucination_rate", "share answered wrongly without a hedge", "halluc."),
        ("wrong_answer_rate", "share answered wrongly, hedged or not", "wrong"),
        ("accuracy_answered", "share right among those answered (hedged or not)", "acc|ans."),
        ("singleton_share", "share of the asked facts stated exactly once in the corpus",
         "singletons"),
        ("facts_error_rate", "share of facts questions answered wrongly (hedged or not)",
         "facts wrong"),
        ("ece", "expected calibration error of the best answer's probability (10 bins)", None),
        ("brier", "Brier score of the best answer's probability", None),
        ("t_hat", "the confidence above which the model answers (logistic fit)", None),
        ("optimal_own", "the scheme's best expected reward given the model's confidence",
         None),
        ("regret_own", "optimal_own minus the expected reward of the modes chosen", None),
    )  # fmt: skip
    metrics = [
        Metric(
            name,
            text,
            short,
            headline=name in _HEADLINE,
            compared=name in _COMPARED,
            emergence=name in ("abstain_rate", "hallucination_rate", "t_hat"),
        )
        for name, text, short in plain
    ]
    for group in _GROUPS:
        what = "the rule families' questions" if group == "rules" else f"facts seen {group}"
        metrics.append(
            Metric(
                f"hallucination_{group}",
                f"share answered wrongly without a hedge: {what}",
                compared=group in ("never", "once"),
                emergence=group == "once",
            )
        )
        metrics.append(
            Metric(
                f"abstain_{group}",
                f"share answered 'I don't know': {what}",
                compared=group in ("never", "often"),
            )
        )
    return tuple(metrics)


ANSWER_METRICS = _declare()


class AnswerTally:
    """Collects measured questions (events as the module docstring says) into metrics."""

    def __init__(self) -> None:
        self._rows: list[tuple[str, bool, float, bool, str]] = []

    def add(self, info: Mapping[str, Any]) -> None:
        """Record one measured question."""
        self._rows.append(
            (
                str(info["mode"]),
                bool(info["correct"]),
                float(info["confidence"]),
                bool(info["best_correct"]),
                str(info["group"]),
            )
        )

    def clear(self) -> None:
        """Forget the recorded questions."""
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)

    def metrics(self, signal: Any = None) -> dict[str, float]:
        """The metrics of the recorded questions (empty if there are none); with a
        ``signal`` that has a decision theory (``line(mode)``), the regret against it."""
        if not self._rows:
            return {}
        mode = np.array([r[0] for r in self._rows])
        correct = np.array([r[1] for r in self._rows])
        confidence = np.array([r[2] for r in self._rows])
        best = np.array([r[3] for r in self._rows])
        group = np.array([r[4] for r in self._rows])
        answered = mode != "abstain"
        hallucinated = (mode == "answer") & ~correct
        out = {
            "answer_rate": float(np.mean(mode == "answer")),
            "hedge_rate": float(np.mean(mode == "hedge")),
            "abstain_rate": float(np.mean(~answered)),
            "hallucination_rate": float(np.mean(hallucinated)),
            "wrong_answer_rate": float(np.mean(answered & ~correct)),
            "ece": expected_calibration_error(confidence, best, CONFIDENCE_BINS),
            "brier": brier_score(confidence, best),
            "t_hat": answer_threshold(confidence, answered),
        }
        if answered.any():
            out["accuracy_answered"] = float(np.mean(correct[answered]))
        if hasattr(signal, "line"):
            lines = {m: signal.line(m) for m in ("answer", "hedge", "abstain")}
            value = {m: i + s * confidence for m, (i, s) in lines.items()}
            chosen = np.select([mode == m for m in value], list(value.values()))
            best_value = np.max(list(value.values()), axis=0)
            out["optimal_own"] = float(best_value.mean())
            out["regret_own"] = float((best_value - chosen).mean())
        facts = np.char.startswith(group.astype(str), "facts/")
        if facts.any():
            out["singleton_share"] = float(np.mean(group[facts] == "facts/once"))
            out["facts_error_rate"] = float(np.mean((answered & ~correct)[facts]))
        for name in _GROUPS:
            chosen = ~facts if name == "rules" else group == f"facts/{name}"
            if chosen.any():
                out[f"hallucination_{name}"] = float(np.mean(hallucinated[chosen]))
                out[f"abstain_{name}"] = float(np.mean(~answered[chosen]))
        which = np.minimum((confidence * CONFIDENCE_BINS).astype(int), CONFIDENCE_BINS - 1)
        for b in np.unique(which).tolist():
            lo, hi = b / CONFIDENCE_BINS, (b + 1) / CONFIDENCE_BINS
            out[f"answered_by_conf/{lo:.1f}-{hi:.1f}"] = float(np.mean(answered[which == b]))
        for centre, _, accuracy, _ in reliability(confidence, best, CONFIDENCE_BINS):
            lo = centre - 0.5 / CONFIDENCE_BINS
            out[f"reliability/{lo:.1f}-{lo + 1 / CONFIDENCE_BINS:.1f}"] = accuracy
        return out
