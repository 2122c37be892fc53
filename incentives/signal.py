"""The explicit signal of a reward scheme: a pure function of an environment's events.

A scheme never looks at an environment's own reward (its task score). It reads the *events*
the environment reports in ``info`` (what happened: the answer given, the piece captured)
and turns them into the reward the agent learns from, split into named terms.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BatchIncentive",
    "ExplicitSignal",
    "Incentive",
    "MissingEventError",
    "finite",
    "param_names",
]


class MissingEventError(ValueError):
    """An environment does not report an event that a scheme needs."""


@dataclass(frozen=True)
class Incentive:
    """The reward a scheme gave for one step, with the terms it is the sum of."""

    scheme: str
    reward: float
    terms: Mapping[str, float] = field(default_factory=dict)

    def as_info(self) -> dict[str, Any]:
        """The ``info["incentive"]`` entry written by the scheme wrappers."""
        return {"scheme": self.scheme, "reward": self.reward, "terms": dict(self.terms)}


@dataclass(frozen=True)
class BatchIncentive:
    """The rewards a scheme gave for one step of ``n`` envs, from their event columns.

    ``terms`` maps a term's name to its ``(n,)`` values and ``present`` to where the term
    was given (an env whose step has no such term has 0 there and False in ``present``):
    env ``i``'s ``Incentive`` has the terms present at ``i``.
    """

    scheme: str
    rewards: NDArray[np.float64]
    terms: Mapping[str, NDArray[np.float64]]
    present: Mapping[str, NDArray[np.bool_]]

    def as_info(self, i: int) -> dict[str, Any]:
        """Env ``i``'s ``info["incentive"]``, as ``Incentive.as_info`` writes it."""
        terms = {
            name: float(values[i]) for name, values in self.terms.items() if self.present[name][i]
        }
        return {"scheme": self.scheme, "reward": float(self.rewards[i]), "terms": terms}


class ExplicitSignal(ABC):
    """What a scheme rewards, computed from the events of one step.

    Subclasses are frozen dataclasses whose fields are the scheme's parameters, validated
    in ``__post_init__``; ``name`` is the registry name, ``statement`` says in one line
    what the signal asks for, and ``required_events`` lists the ``info`` keys it reads.
    """

    name: ClassVar[str]
    statement: ClassVar[str]
    required_events: ClassVar[tuple[str, ...]]
    #: Events needed on the last step of an episode only (e.g. a game's outcome).
    final_events: ClassVar[tuple[str, ...]] = ()
    #: Whether the signal keeps per-episode state (then each env needs its own copy).
    stateful: ClassVar[bool] = False

    @abstractmethod
    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """The named reward terms for one step; the reward is their sum."""

    def reset(self, info: Mapping[str, Any]) -> None:  # noqa: B027 - stateless: nothing
        """Start an episode; ``info`` is what the env's ``reset`` reported."""

    def progress(self, step: int) -> None:  # noqa: B027 - no schedule: nothing to move
        """Tell the signal the run has taken ``step`` env steps (all envs together).

        The runner calls it at the start of every rollout, on every copy of the signal;
        a signal whose terms follow a schedule (``incentives.compose``) reads its clock
        here.
        """

    def incentive(self, events: Mapping[str, Any], ended: bool = True) -> Incentive:
        """The reward for one step, checking that the events the signal needs are there.

        ``ended`` says whether the step ended the episode (then ``final_events`` must be
        there too). Before the end, a step that reports none of ``required_events`` is
        not judged (reward 0, no term): an env of several steps may report what a scheme
        reads only when there is something to judge (a text answer, at its last token);
        at the end every needed event must be there.
        """
        if not ended and not any(event in events for event in self.required_events):
            return Incentive(self.name, 0.0, {})
        self.check_events(events, ended)
        terms = self.terms(events)
        return Incentive(self.name, float(sum(terms.values())), terms)

    def batch_terms(
        self, columns: Mapping[str, NDArray[Any]]
    ) -> dict[str, tuple[NDArray[np.float64], NDArray[np.bool_]]] | None:
        """The terms of ``n`` envs' steps at once from their event columns, or None.

        Returns term name -> (values, present), ``(n,)`` arrays; a signal without a batched
        form returns None (the default), and the batched wrappers then build each env's
        info dict and call ``terms`` on it: the slow path. A signal that has one computes
        it with the same table or formula as ``terms``, so the two cannot drift.
        """
        return None

    def batch_incentive(
        self, columns: Mapping[str, NDArray[Any]], ended: NDArray[np.bool_]
    ) -> BatchIncentive | None:
        """The rewards of ``n`` envs' steps from their event columns (None: no batch form).

        ``ended`` says which steps ended their episode (then ``final_events`` must be
        there too). Raises :class:`MissingEventError` naming a needed column that is absent.
        """
        if self.stateful:
            return None
        needed = self.required_events + (self.final_events if bool(np.any(ended)) else ())
        for event in needed:
            if event not in columns:
                self.check_events(dict.fromkeys(columns), bool(np.any(ended)))
        batch = self.batch_terms(columns)
        if batch is None:
            return None
        n = len(ended)
        rewards = np.zeros(n)
        for values, present in batch.values():
            rewards += np.where(present, values, 0.0)
        return BatchIncentive(
            self.name,
            rewards,
            {name: values for name, (values, _) in batch.items()},
            {name: present for name, (_, present) in batch.items()},
        )

    def check_events(self, events: Mapping[str, Any], ended: bool = True) -> None:
        """Raise :class:`MissingEventError` naming the first needed event that is absent."""
        needed = self.required_events + (self.final_events if ended else ())
        for event in needed:
            if event not in events:
                have = ", ".join(sorted(k for k in events if not k.startswith("_"))) or "none"
                raise MissingEventError(
                    f"scheme {self.name!r} needs the event {event!r} in the env's info, "
                    f"which reports: {have}"
                )

    def params(self) -> dict[str, Any]:
        """The scheme's parameters by name, as given at construction."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}  # type: ignore[arg-type]


def finite(scheme: str, name: str, value: object) -> float:
    """``value`` as a float, or a ``ValueError`` naming the parameter if it is not finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"{scheme}: parameter {name}={value!r} is not a number; accepted: a finite real number"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(
            f"{scheme}: parameter {name}={value!r} is not finite; accepted: a finite real number"
        )
    return number


def param_names(signal_type: type[ExplicitSignal]) -> list[str]:
    """The parameter names a signal class accepts, in declaration order."""
    return [f.name for f in fields(signal_type) if f.init]  # type: ignore[arg-type]


def unknown_params(signal_type: type[ExplicitSignal], given: Iterable[str]) -> list[str]:
    """The names in ``given`` that ``signal_type`` does not accept."""
    accepted = set(param_names(signal_type))
    return [name for name in given if name not in accepted]
