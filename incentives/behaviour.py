"""The behaviour interface: what a domain measures of what a scheme induced.

A behaviour collector plays the role of AI Safety Gridworlds' hidden performance function:
it reads the events of finished episodes, never the reward, and turns them into metrics
that are logged beside the explicit return and the task score, never fed to the agent.
Each domain has one, a :class:`Behaviour` subclass that declares its metrics *once*, in
``METRICS``; TensorBoard's custom scalars, HParams, the console line of
``incentives-train``, ``incentives-compare``'s columns and the emergence curves all read
that declaration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from incentives.signal import ExplicitSignal

__all__ = ["Behaviour", "GroupResults", "Metric"]


@dataclass(frozen=True)
class Metric:
    """One behaviour metric a domain reports, and where it is shown.

    ``name`` is its key in the collector's ``metrics()`` (logged as ``behaviour/<name>``
    and ``eval/<set>/<name>``); ``short`` its column header. ``headline`` metrics get a
    chart each in TensorBoard's custom scalars, an HParams column and a place in the
    console line; ``compared`` ones a column in ``incentives-compare``; ``emergence`` ones
    a curve against network size and compute.
    """

    name: str
    description: str
    short: str | None = None
    headline: bool = False
    compared: bool = True
    emergence: bool = False

    @property
    def header(self) -> str:
        """The column header: ``short`` or the name."""
        return self.short or self.name


#: Per group of runs (a scheme, a size...): each run's final ``behaviour`` dict and the
#: scheme's ``theory`` as ``summary.json`` recorded them. What comparison figures draw.
GroupResults = Mapping[str, tuple[Sequence[Mapping[str, Any]], Mapping[str, Any]]]


class Behaviour(ABC):
    """Collects finished episodes from their last step's ``info`` and measures them.

    Subclasses declare ``METRICS`` and implement ``add``, ``metrics``, ``clear`` and
    ``__len__``; ``signal`` is the scheme in force (a metric such as regret is measured
    against its decision theory), switched with ``use_signal`` at a phase boundary.
    The class methods serve ``incentives-compare``, which has run folders, not episodes.
    """

    #: Every metric the domain reports by a fixed name, declared once.
    METRICS: ClassVar[tuple[Metric, ...]] = ()

    def __init__(self, signal: ExplicitSignal | None = None) -> None:
        self.signal = signal

    def use_signal(self, signal: ExplicitSignal) -> None:
        """Measure under another scheme from now on."""
        self.signal = signal

    @abstractmethod
    def add(self, info: Mapping[str, Any]) -> None:
        """Record one finished episode from its last step's info."""

    @abstractmethod
    def metrics(self) -> dict[str, float]:
        """The metrics of the episodes recorded so far (empty if there are none)."""

    @abstractmethod
    def clear(self) -> None:
        """Forget the recorded episodes."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of episodes recorded."""

    def figure(self, title: str) -> Any | None:
        """A matplotlib figure of the recorded episodes for TensorBoard, or None."""
        return None

    @classmethod
    def names(
        cls, *, headline: bool = False, compared: bool = False, emergence: bool = False
    ) -> tuple[str, ...]:
        """The declared metric names, those with every flag asked for.

        Example:
            >>> class Coin(Behaviour):
            ...     METRICS = (Metric("heads", "share of heads", headline=True),
            ...                Metric("flips", "flips per episode", compared=False))
            ...     add = metrics = clear = __len__ = None
            >>> Coin.names(), Coin.names(headline=True), Coin.names(compared=True)
            (('heads', 'flips'), ('heads',), ('heads',))
        """
        return tuple(
            m.name
            for m in cls.METRICS
            if (m.headline or not headline)
            and (m.compared or not compared)
            and (m.emergence or not emergence)
        )

    @classmethod
    def headers(cls) -> dict[str, str]:
        """Column headers by metric name."""
        return {m.name: m.header for m in cls.METRICS}

    @classmethod
    def emergence_metrics(cls, reported: Sequence[str]) -> tuple[str, ...]:
        """The metrics to draw against scale, given every key the runs ``reported``.

        The declared ones; a domain adds metrics named at run time (chess: each ladder
        rung's win rate).
        """
        return cls.names(emergence=True)

    @classmethod
    def reference(
        cls, metric: str, theories: Mapping[str, Mapping[str, Any]]
    ) -> tuple[float, str] | None:
        """Theory's value of ``metric`` and whose it is, given each scheme's ``theory``
        record by scheme name; None where theory says nothing (or the schemes disagree)."""
        return None

    @classmethod
    def comparison_figures(cls, groups: GroupResults) -> dict[str, Any]:
        """Figures ``incentives-compare`` draws from the groups' final results, by file
        stem (e.g. ``{"answered_by_p": figure}``)."""
        return {}
