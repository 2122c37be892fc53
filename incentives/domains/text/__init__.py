"""Next-token prediction as a weak incentive: the text domain.

A generated corpus of task families (``envs.text``) is the data; a scheme (``schemes``)
says which tokens the learner maximises the likelihood of, and with what weight; the
behaviour (``behaviour``) is each family's skill on held-out items, held-out
compositions and in-context induction, measured by exact match and by continuous
measures side by side; ``evaluation`` turns a model's scores into those views. The
learner is ``agents.lm``, trained by ``incentives.run.text``. Answering questions in the
model's own words (``envs.text.answering``) is judged by event schemes (``outcome``,
the QA grids) and taught by ``teach_idk``; ``answers`` measures what it says.
"""

from incentives.domain import Domain
from incentives.domains.text.schemes import (
    AnswerOnly,
    AnswerOnlySignal,
    AnswerWeighted,
    AnswerWeightedSignal,
    NextToken,
    NextTokenSignal,
    Outcome,
    OutcomeSignal,
    TeachIDK,
    TeachIDKSignal,
    TextScheme,
    TextSignal,
)

__all__ = [
    "DOMAIN",
    "AnswerOnly",
    "AnswerOnlySignal",
    "AnswerWeighted",
    "AnswerWeightedSignal",
    "NextToken",
    "NextTokenSignal",
    "Outcome",
    "OutcomeSignal",
    "TeachIDK",
    "TeachIDKSignal",
    "TextScheme",
    "TextSignal",
]

DOMAIN = Domain(
    name="text",
    description="next-token prediction on a generated corpus of task families",
    behaviour="incentives.domains.text.behaviour:TextBehaviour",
    env_settings="incentives.domains.text.settings:ENV_SETTINGS",
)
