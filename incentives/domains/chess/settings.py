"""The keys chess adds to its env config (``env.selfplay``, ``env.curriculum``).

Declared for the runner's config schema (``incentives.run.schema``), which names a
mistyped key and lists these in ``incentives-train --schema``. Their values are checked
where they are read: ``SelfPlaySettings.from_config`` (ranges, when self-play is on) and
``Curriculum.from_config`` (each stage).
"""

from __future__ import annotations

from incentives.domain import Setting

__all__ = ["ENV_SETTINGS"]

_SELFPLAY = "SelfPlaySettings"

#: Keys relative to ``env``: what ``conf/env/chess.yaml`` documents beside ``kwargs``.
ENV_SETTINGS: dict[str, Setting] = {
    "curriculum": Setting(
        "list",
        "start positions with a short forced mate first: [{until, mate_in, fraction}]",
        required=False,
        nullable=True,
        checked_by="the chess curriculum",
    ),
    "selfplay": Setting(
        "mapping",
        "the training opponent drawn from snapshots of the learner and the random one",
        required=False,
        nullable=True,
    ),
    "selfplay.enabled": Setting("bool", "self-play on", required=False),
    "selfplay.threshold": Setting(
        "float",
        "evaluation win rate that admits a snapshot (0: every evaluation)",
        required=False,
        checked_by=_SELFPLAY,
    ),
    "selfplay.min_gap": Setting(
        "int", "fewest env steps between admissions", required=False, checked_by=_SELFPLAY
    ),
    "selfplay.max_size": Setting(
        "int", "snapshots kept (the oldest leaves)", required=False, checked_by=_SELFPLAY
    ),
    "selfplay.random_weight": Setting(
        "float",
        "chance a game is against the random opponent",
        required=False,
        checked_by=_SELFPLAY,
    ),
    "selfplay.deterministic": Setting(
        "bool", "snapshots play their most likely move", required=False
    ),
}
