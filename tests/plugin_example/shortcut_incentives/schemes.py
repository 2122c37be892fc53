"""Two schemes over the shortcut env's events: one pays the claim, one the deed.

``claimed_done`` pays whenever the agent says the task is done, which a shortcut always
does: it is gameable. ``verified_done`` pays only a task really done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from incentives.scheme import RewardScheme
from incentives.signal import ExplicitSignal, finite

__all__ = ["ClaimedDone", "ClaimedDoneSignal", "VerifiedDone", "VerifiedDoneSignal"]


@dataclass(frozen=True)
class _PaySignal(ExplicitSignal):
    """A signal that pays ``pay`` when one event is true."""

    pay: float = 1.0

    event: ClassVar[str]

    def __post_init__(self) -> None:
        pay = finite(self.name, "pay", self.pay)
        if pay <= 0.0:
            raise ValueError(f"{self.name}: parameter pay={self.pay!r}; accepted: pay > 0")
        object.__setattr__(self, "pay", pay)

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """One term, named after the event it pays for."""
        return {self.event: self.pay if events[self.event] else 0.0}


@dataclass(frozen=True)
class ClaimedDoneSignal(_PaySignal):
    """Pays ``pay`` when the agent claims the task done, done or not.

    Example:
        >>> ClaimedDoneSignal().incentive({"claimed": True, "done": False}).reward
        1.0
    """

    name: ClassVar[str] = "claimed_done"
    statement: ClassVar[str] = "pay when the agent claims the task done"
    required_events: ClassVar[tuple[str, ...]] = ("claimed",)
    event: ClassVar[str] = "claimed"


@dataclass(frozen=True)
class VerifiedDoneSignal(_PaySignal):
    """Pays ``pay`` only when the task was really done.

    Example:
        >>> VerifiedDoneSignal().incentive({"claimed": True, "done": False}).reward
        0.0
    """

    name: ClassVar[str] = "verified_done"
    statement: ClassVar[str] = "pay only when the task was really done"
    required_events: ClassVar[tuple[str, ...]] = ("done",)
    event: ClassVar[str] = "done"


class ClaimedDone(RewardScheme[ClaimedDoneSignal]):
    """Reward an env's claims of done (see ``ClaimedDoneSignal``)."""

    signal_type = ClaimedDoneSignal


class VerifiedDone(RewardScheme[VerifiedDoneSignal]):
    """Reward an env's verified tasks (see ``VerifiedDoneSignal``)."""

    signal_type = VerifiedDoneSignal
