"""A question-answering env whose exact Bayes posterior is known: ``incentives/QA-v0``.

The agent sees witnesses' votes and answers, hedges, or says "I don't know"; the env's
events say how likely the chosen answer was to be right, so a reward scheme's induced
behaviour (e.g. abstaining below a confidence threshold) can be measured.

``QAVecEnv``, the batched form, is a stable-baselines3 ``VecEnv`` and loads on first use,
so that ``gym.make("incentives/QA-v0")`` costs what Gymnasium costs.
"""

from typing import Any

from envs.qa.actions import MODES, Mode, decode_action, encode_action
from envs.qa.env import QAEnv
from envs.qa.grading import EVENT_KEYS, Grades, grade
from envs.qa.questions import QuestionGenerator, Questions, QuestionStream

__all__ = [
    "EVENT_KEYS",
    "MODES",
    "Grades",
    "Mode",
    "QAEnv",
    "QAVecEnv",
    "QuestionGenerator",
    "QuestionStream",
    "Questions",
    "decode_action",
    "encode_action",
    "grade",
]


def __getattr__(name: str) -> Any:
    """``QAVecEnv``, imported on first use (it loads stable-baselines3 and torch)."""
    if name == "QAVecEnv":
        from envs.qa.vec_env import QAVecEnv

        return QAVecEnv
    raise AttributeError(f"module 'envs.qa' has no attribute {name!r}")
