"""Question answering: "know what you don't know".

The hedging grid and its rivals (``schemes``), and what they induce: answer, hedge and
abstain rates, hallucination, the answering threshold and regret against the scheme's
Bayes-optimal policy (``behaviour``). The env is ``envs.qa`` (``incentives/QA-v0``).
"""

from incentives.domain import Domain
from incentives.domains.qa.schemes import (
    MODES,
    Binary,
    BinarySignal,
    ConfidenceTarget,
    ConfidenceTargetSignal,
    HedgingGrid,
    HedgingGridSignal,
    QAScheme,
    QASignal,
)

__all__ = [
    "DOMAIN",
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

DOMAIN = Domain(
    name="qa",
    description="question answering with known Bayes posteriors: answer, hedge or abstain",
    behaviour="incentives.domains.qa.behaviour:QABehaviour",
)
