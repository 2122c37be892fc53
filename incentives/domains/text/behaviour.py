"""What a text scheme induced: skills measured on held-out items, never trained on.

One episode is one document scored by the evaluation: its ``group`` (a family, a facts
bucket ``facts/<bucket>``, or a composition), whether the greedy answer matched exactly
(``exact``), and two continuous measures of the same answer under teacher forcing: the
mean log-likelihood of its tokens (``answer_logprob``) and the share of them the argmax
predicts (``answer_token_acc``). Exact match is all-or-nothing, so a skill can look as if
it jumps into being; the continuous measures beside it show whether the jump is real or
made by the metric (Schaeffer et al. 2023, "Are Emergent Abilities of Large Language
Models a Mirage?").

Metrics, declared once from the corpus's family list: ``<family>_exact``,
``<family>_logprob``, ``<family>_token_acc`` for every family (``facts`` pooled over the
facts seen in training; ``facts_<bucket>_*`` by how often they were seen), their means
over the families (``exact_mean``, ...), and the held-out compositions
(``composition_*``, each composition's ``<name>_exact`` too). In-context induction is
the ``induction`` family.

Answering (``incentives.domains.text.answers``): a question the model answered in its
own words is an event with a ``mode``; those are tallied apart, into the answer, hedge
and "I don't know" rates, hallucination by how often a fact was seen, calibration and
the learned answering threshold (``ANSWER_METRICS``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from envs.text.corpus import FAMILY_NAMES
from envs.text.facts import BUCKETS
from envs.text.families import COMPOSITIONS
from incentives.analysis.calibration import answering_threshold_reference
from incentives.behaviour import Behaviour, GroupResults, Metric
from incentives.domains.text.answers import ANSWER_METRICS, AnswerTally

__all__ = ["MEASURES", "SEEN_BUCKETS", "TextBehaviour"]

#: What is measured of each answer: (suffix, description, event).
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("exact", "share of greedy answers exactly right", "exact"),
    ("logprob", "mean log-likelihood per answer token (teacher forced)", "answer_logprob"),
    ("token_acc", "share of answer tokens the argmax predicts", "answer_token_acc"),
)
#: The facts buckets pooled into ``facts_*``: the facts training stated at least once.
SEEN_BUCKETS = tuple(name for name, low, _ in BUCKETS if low > 0)
_HEADLINE = {"exact_mean", "logprob_mean", "composition_exact", "induction_exact"}


def _declare() -> tuple[Metric, ...]:
    """Every metric, from the family, bucket and composition lists."""
    metrics: list[Metric] = []
    for suffix, text, _ in MEASURES:
        exact = suffix == "exact"
        for name, what in (
            ("mean", "mean over the families"),
            ("composition", "held-out compositions of two families"),
        ):
            key = f"{name}_{suffix}" if name == "composition" else f"{suffix}_{name}"
            metrics.append(
                Metric(key, f"{text}, {what}", headline=key in _HEADLINE, emergence=True)
            )
        for family in FAMILY_NAMES:
            key = f"{family}_{suffix}"
            metrics.append(
                Metric(
                    key,
                    f"{text}: {family}",
                    headline=key in _HEADLINE,
                    compared=exact,
                    emergence=suffix != "token_acc",
                )
            )
        for bucket, low, high in BUCKETS:
            seen = "never" if high == 0 else f"{low}" if low == high else f"{low}+"
            metrics.append(
                Metric(
                    f"facts_{bucket}_{suffix}",
                    f"{text}: facts seen {seen} time(s)",
                    compared=exact,
                    emergence=exact,
                )
            )
    for name, composition in COMPOSITIONS.items():
        metrics.append(
            Metric(f"{name}_exact", f"exact answers: {composition.description}", compared=False)
        )
    return tuple(metrics)


class TextBehaviour(Behaviour):
    """Collects scored held-out documents and reports each family's skill."""

    METRICS = (*_declare(), *ANSWER_METRICS)

    def __init__(self, signal: Any = None) -> None:
        super().__init__(signal)
        self._values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self._count = 0
        self._answers = AnswerTally()

    def add(self, info: Mapping[str, Any]) -> None:
        """Record one scored document: ``group``, ``exact``, ``answer_token_acc`` and
        ``answer_logprob`` (absent where an agent names tokens without probabilities:
        ``incentives/Text-v0``'s episodes); or one answered question (with a ``mode``)."""
        if "mode" in info:
            self._answers.add(info)
            self._count += 1
            return
        group = str(info["group"])
        for suffix, _, event in MEASURES:
            if event in info:
                self._values[group][suffix].append(float(info[event]))
        self._count += 1

    def clear(self) -> None:
        """Forget the recorded documents."""
        self._values.clear()
        self._answers.clear()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _mean(self, groups: list[str], suffix: str) -> float | None:
        values = [v for g in groups for v in self._values.get(g, {}).get(suffix, [])]
        return float(np.mean(values)) if values else None

    def metrics(self) -> dict[str, float]:
        """Per family, per facts bucket and per composition, and their means."""
        out: dict[str, float] = {}
        for suffix, _, _ in MEASURES:
            families = []
            for family in FAMILY_NAMES:
                groups = [f"facts/{b}" for b in SEEN_BUCKETS] if family == "facts" else [family]
                value = self._mean(groups, suffix)
                if value is not None:
                    out[f"{family}_{suffix}"] = value
                    families.append(value)
            if families:
                out[f"{suffix}_mean"] = float(np.mean(families))
            for bucket, _, _ in BUCKETS:
                value = self._mean([f"facts/{bucket}"], suffix)
                if value is not None:
                    out[f"facts_{bucket}_{suffix}"] = value
            present = [c for c in COMPOSITIONS if c in self._values]
            if present:  # each composition weighs alike
                out[f"composition_{suffix}"] = float(
                    np.mean([self._mean([c], suffix) for c in present])
                )
        for name in COMPOSITIONS:
            value = self._mean([name], "exact")
            if value is not None:
                out[f"{name}_exact"] = value
        return {**out, **self._answers.metrics(self.signal)}

    @classmethod
    def reference(
        cls, metric: str, theories: Mapping[str, Mapping[str, Any]]
    ) -> tuple[float, str] | None:
        """``t_hat``'s theory: where answering starts to pay (the highest threshold),
        when every scheme compared that has thresholds agrees on it."""
        if metric != "t_hat":
            return None
        return answering_threshold_reference(theories)

    @classmethod
    def comparison_figures(cls, groups: GroupResults) -> dict[str, Any]:
        """Answered rate against the model's confidence per group, seeds as a band, the
        scheme's thresholds dashed (as the QA domain draws it)."""
        from incentives.analysis.plots import binned_rows, rates_by_p_figure

        figures = {}
        for prefix, name, ylabel, title in (
            ("answered_by_conf/", "answered_by_confidence", "answered (plain or hedged)",
             "Answering against confidence (dashed: theory)"),
            ("reliability/", "reliability", "the best answer is right",
             "Reliability: accuracy against confidence (dotted: calibrated)"),
        ):  # fmt: skip
            by_conf = binned_rows(groups, prefix, thresholds=name != "reliability")
            if not by_conf:
                continue
            figure = rates_by_p_figure(by_conf)
            axes = figure.axes[0]
            axes.set(xlabel="the model's probability of its best answer", ylabel=ylabel,
                     title=title)  # fmt: skip
            if name == "reliability":
                axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
            figures[name] = figure
        return figures
