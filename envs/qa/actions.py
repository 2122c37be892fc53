"""The QA action layout: answer, hedged answer, or "I don't know".

With ``K`` candidates the action space is ``Discrete(2K + 1)``: actions ``0..K-1`` answer
candidate ``k``, ``K..2K-1`` give candidate ``k - K`` as a hedged answer, and ``2K``
abstains.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ABSTAIN", "ANSWER", "HEDGE", "MODES", "Mode", "decode_action", "encode_action"]

Mode = Literal["answer", "hedge", "abstain"]

MODES: tuple[Mode, Mode, Mode] = ("answer", "hedge", "abstain")
"""The modes, in the order of their integer codes (see ``grade``)."""

ANSWER, HEDGE, ABSTAIN = 0, 1, 2


def _check_candidates(n_candidates: int) -> None:
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 2:
        raise ValueError(f"n_candidates={n_candidates!r} is invalid; accepted: an integer >= 2")


def decode_action(action: int, n_candidates: int) -> tuple[Mode, int]:
    """Split an action into its mode and the candidate it names (-1 for abstain).

    Example:
        >>> decode_action(1, 4), decode_action(5, 4), decode_action(8, 4)
        (('answer', 1), ('hedge', 1), ('abstain', -1))
    """
    _check_candidates(n_candidates)
    a = int(action)
    if not 0 <= a <= 2 * n_candidates:
        raise ValueError(
            f"action={action!r} is invalid; accepted: an integer in [0, {2 * n_candidates}]"
        )
    if a == 2 * n_candidates:
        return "abstain", -1
    if a >= n_candidates:
        return "hedge", a - n_candidates
    return "answer", a


def encode_action(mode: Mode, answer: int, n_candidates: int) -> int:
    """Build the action for a mode and candidate; ``answer`` is ignored when abstaining.

    Example:
        >>> encode_action("hedge", 1, 4), encode_action("abstain", -1, 4)
        (5, 8)
    """
    _check_candidates(n_candidates)
    if mode == "abstain":
        return 2 * n_candidates
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is invalid; accepted: one of {MODES}")
    if not 0 <= answer < n_candidates:
        raise ValueError(
            f"answer={answer!r} is invalid; accepted: an integer in [0, {n_candidates - 1}]"
        )
    return answer + (n_candidates if mode == "hedge" else 0)
