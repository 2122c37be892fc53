"""The keys the text domain adds to its env config (``env.answering``).

Declared for the runner's config schema (``incentives.run.schema``); the values are
checked where they are read: ``envs.text.answering.QuestionPool`` (families, weights).
"""

from __future__ import annotations

from incentives.domain import Setting

__all__ = ["ENV_SETTINGS"]

_POOL = "envs.text.answering.QuestionPool"

#: Keys relative to ``env``: what ``conf/env/text.yaml`` documents beside ``kwargs``.
ENV_SETTINGS: dict[str, Setting] = {
    "answering": Setting(
        "mapping",
        "questions the model answers in its own words (answer phases, answering evaluation)",
        required=False,
        nullable=True,
    ),
    "answering.evaluate": Setting(
        "bool",
        "measure answering at every evaluation (on whenever a phase judges answers)",
        required=False,
    ),
    "answering.families": Setting(
        "list", "families asked: facts and rule families", required=False, checked_by=_POOL
    ),
    "answering.weights": Setting(
        "list",
        "share of each asked family (null: alike)",
        required=False,
        nullable=True,
        checked_by=_POOL,
    ),
    "answering.max_tokens": Setting(
        "int", "longest answer in tokens ($ included)", 1, 32, required=False
    ),
    "answering.questions": Setting(
        "int", "questions of the evaluation half measured at each evaluation", 1, required=False
    ),
}
