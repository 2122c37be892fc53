"""Composite reward schemes: a weighted sum of registered schemes' terms.

"Teach first, then let go": a sparse incentive plus a teaching term whose weight anneals
to zero over the run, declared in a reward config::

    name: mix
    parts:
      - {scheme: sparse_win, weight: 1.0}
      - {scheme: material, params: {scale: 0.1},
         weight: {start: 1.0, end: 0.0, steps: 200000, shape: linear}}

Each part's terms keep their origin in their name (``material.material``,
``sparse_win.win``) and are weighted, so ``explicit/terms/<part>.<term>`` shows what each
part contributed. A weight's clock is the number of env steps the run has taken (all envs
together, the count ``budget`` and the phases use): the runner moves it with
:meth:`CompositeSignal.progress` at the start of every rollout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from incentives.scheme import RewardScheme
from incentives.signal import ExplicitSignal, Incentive

__all__ = ["SHAPES", "CompositeSignal", "Mix", "Schedule"]

#: How a scheduled weight goes from ``start`` to ``end`` over ``steps`` env steps.
SHAPES: tuple[str, ...] = ("linear", "cosine", "step")

_PART_KEYS = ("scheme", "params", "weight", "name")
_SCHEDULE_KEYS = ("start", "end", "steps", "shape")


@dataclass(frozen=True)
class Schedule:
    """A weight that moves from ``start`` to ``end`` over the run's first ``steps`` env
    steps, then stays at ``end``.

    ``linear`` moves at a constant rate; ``cosine`` is half a cosine wave (slow at both
    ends); ``step`` holds ``start`` until ``steps``, then jumps to ``end``.

    Example:
        >>> s = Schedule(1.0, 0.0, 100, "linear")
        >>> s.value(0), s.value(25), s.value(100), s.value(10**6)
        (1.0, 0.75, 0.0, 0.0)
        >>> Schedule(1.0, 0.0, 100, "cosine").value(50)
        0.5
        >>> Schedule(1.0, 0.0, 100, "step").value(99), Schedule(1.0, 0.0, 100, "step").value(100)
        (1.0, 0.0)
    """

    start: float
    end: float
    steps: int
    shape: str = "linear"

    def value(self, step: int) -> float:
        """The weight after ``step`` env steps of the run."""
        done = min(max(step, 0) / self.steps, 1.0)
        if self.shape == "step":
            return self.start if step < self.steps else self.end
        if self.shape == "cosine":
            done = (1.0 - math.cos(math.pi * done)) / 2.0
        return self.start + (self.end - self.start) * done


def _schedule(where: str, value: Any) -> float | Schedule:
    """A part's ``weight``: a finite number, or a mapping that makes a :class:`Schedule`."""
    accepted = (
        "a finite number or {start: <number>, end: <number>, steps: <positive whole number>, "
        f"shape: {' | '.join(SHAPES)}}}"
    )
    if not isinstance(value, Mapping):
        if not _finite(value):
            raise ValueError(f"{where}={value!r}; accepted: {accepted}")
        return float(value)
    unknown = [key for key in value if key not in _SCHEDULE_KEYS]
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key; accepted: {accepted}")
    for key in ("start", "end", "steps"):
        if key not in value:
            raise ValueError(f"{where}.{key} is missing; accepted: {accepted}")
    numbers = []
    for key in ("start", "end"):
        number = value[key]
        if not _finite(number):
            raise ValueError(f"{where}.{key}={number!r}; accepted: a finite number")
        numbers.append(float(number))
    steps = value["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"{where}.steps={steps!r}; accepted: a positive whole number of env steps")
    shape = value.get("shape", "linear")
    if shape not in SHAPES:
        raise ValueError(f"{where}.shape={shape!r}; accepted: {', '.join(SHAPES)}")
    return Schedule(numbers[0], numbers[1], steps, str(shape))


def _finite(value: Any) -> bool:
    """Whether ``value`` is a finite real number (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _plain(value: Any) -> Any:
    """``value`` with mappings as dicts and sequences as lists (a Hydra config's
    containers included), so parameters compare, pickle and go to JSON as plain data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class _Part:
    """One part of a composite: its label, its signal and its weight."""

    label: str
    signal: ExplicitSignal
    weight: float | Schedule

    def weight_at(self, step: int) -> float:
        return self.weight.value(step) if isinstance(self.weight, Schedule) else self.weight

    def final_weight(self) -> float:
        return self.weight.end if isinstance(self.weight, Schedule) else self.weight


@dataclass(frozen=True)
class CompositeSignal(ExplicitSignal):
    """A weighted sum of registered schemes' terms; a weight may follow a :class:`Schedule`.

    ``parts`` lists ``{scheme, params, weight, name}``: a registered scheme's name, its
    parameters (default none), its weight (a number, default 1, or ``{start, end, steps,
    shape}``) and a label for its terms (default the scheme's name; two parts of one
    scheme need labels). ``label`` names the composite itself in run folders and
    comparisons (``runs/.../<label>/seed0``; default ``mix``), so that several mixes can
    share a sweep. Events needed are the parts' together; the composite keeps
    per-episode state if any part does. The clock of the schedules is set by
    :meth:`progress`; a decision theory (QA's ``thresholds()``, ``theory()``...) is the
    one of the part that weighs most once every schedule has ended: the incentive
    left standing.

    Example:
        >>> s = CompositeSignal([{"scheme": "hedging_grid"},
        ...     {"scheme": "binary", "weight": {"start": 2.0, "end": 0.0, "steps": 100}}])
        >>> s.terms({"mode": "answer", "correct": True})
        {'hedging_grid.correct': 1.0, 'binary.correct': 2.0}
        >>> s.progress(75)
        >>> s.part_weights()
        {'hedging_grid': 1.0, 'binary': 0.5}
    """

    parts: Any = field(hash=False)
    label: str | None = None

    name: ClassVar[str] = "mix"
    statement: ClassVar[str] = (
        "a weighted sum of other schemes' terms; a weight can follow a schedule over the "
        "run's env steps (teach first, then let go)"
    )
    required_events: ClassVar[tuple[str, ...]] = ()

    _parts: tuple[_Part, ...] = field(init=False, repr=False, compare=False, hash=False)
    _step: int = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        from incentives.registry import make_signal  # the registry imports the schemes

        if self.label is not None and not (
            isinstance(self.label, str) and self.label.replace("_", "").isalnum()
        ):
            raise ValueError(
                f"{self.name}: parameter label={self.label!r}; accepted: a name of letters, "
                "digits and underscores (it names the run folder)"
            )
        parts = _plain(self.parts)
        if not isinstance(parts, list) or not parts:
            raise ValueError(
                f"{self.name}: parameter parts={self.parts!r}; accepted: a non-empty list of "
                "{scheme: <name>, params: {...}, weight: <number or schedule>, name: <label>}"
            )
        built: list[_Part] = []
        for k, part in enumerate(parts):
            where = f"{self.name}: parts[{k}]"
            if not isinstance(part, dict) or "scheme" not in part:
                raise ValueError(
                    f"{where}={part!r}; accepted: a mapping {{scheme: <registered name>, "
                    "params: {...}, weight: <number or schedule>, name: <label>}"
                )
            unknown = [key for key in part if key not in _PART_KEYS]
            if unknown:
                raise ValueError(
                    f"{where}: unknown key {unknown[0]!r}; accepted: {', '.join(_PART_KEYS)}"
                )
            params = part.get("params") or {}
            if not isinstance(params, dict):
                raise ValueError(f"{where}.params={params!r}; accepted: a mapping of parameters")
            try:
                signal = make_signal(str(part["scheme"]), **params)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
            label = str(part.get("name") or signal.name)
            if any(other.label == label for other in built):
                raise ValueError(
                    f"{where}: name={label!r} is taken by another part; accepted: a "
                    "distinct name: <label> for each part"
                )
            weight = _schedule(f"{where}.weight", part.get("weight", 1.0))
            built.append(_Part(label, signal, weight))
        object.__setattr__(self, "parts", parts)
        object.__setattr__(self, "_parts", tuple(built))
        object.__setattr__(self, "_step", 0)
        # what the parts need, read per instance (the class's ClassVars are the defaults)
        object.__setattr__(self, "required_events", _union(p.signal.required_events for p in built))
        object.__setattr__(self, "final_events", _union(p.signal.final_events for p in built))
        object.__setattr__(self, "stateful", any(p.signal.stateful for p in built))

    def __getattr__(self, name: str) -> Any:
        # only reached for what the composite lacks: a part's decision theory
        parts = self.__dict__.get("_parts")
        if name.startswith("_") or not parts:
            raise AttributeError(name)
        return getattr(max(parts, key=_Part.final_weight).signal, name)

    @property
    def step(self) -> int:
        """The env steps of the run the weights are set for (see :meth:`progress`)."""
        return self._step

    def progress(self, step: int) -> None:
        """Set the weights for a run that has taken ``step`` env steps (all envs)."""
        object.__setattr__(self, "_step", int(step))
        for part in self._parts:
            part.signal.progress(step)

    def part_weights(self) -> dict[str, float]:
        """Each part's weight now, by label."""
        return {part.label: part.weight_at(self._step) for part in self._parts}

    def scheduled(self) -> bool:
        """Whether some part's weight follows a schedule (then it needs a clock)."""
        return any(isinstance(part.weight, Schedule) for part in self._parts)

    def reset(self, info: Mapping[str, Any]) -> None:
        """Start an episode in every part."""
        for part in self._parts:
            part.signal.reset(info)

    def close(self) -> None:
        """Release what the parts hold (an engine a teacher started)."""
        for part in self._parts:
            close = getattr(part.signal, "close", None)
            if callable(close):
                close()

    def terms(self, events: Mapping[str, Any]) -> dict[str, float]:
        """Every part's terms, weighted, named ``<part>.<term>``."""
        return self._weighted([part.signal.terms(events) for part in self._parts])

    def incentive(self, events: Mapping[str, Any], ended: bool = True) -> Incentive:
        """Each part judges the step as it would alone (its own events, its own rule for a
        step before the end); the reward is the weighted sum."""
        given = [part.signal.incentive(events, ended).terms for part in self._parts]
        terms = self._weighted(given)
        return Incentive(self.name, float(sum(terms.values())), terms)

    def _weighted(self, part_terms: list[Mapping[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for part, terms in zip(self._parts, part_terms, strict=True):
            weight = part.weight_at(self._step)
            for term, value in terms.items():
                out[f"{part.label}.{term}"] = weight * float(value)
        return out

    def batch_terms(
        self, columns: Mapping[str, NDArray[Any]]
    ) -> dict[str, tuple[NDArray[np.float64], NDArray[np.bool_]]] | None:
        """The weighted terms of ``n`` steps at once, if every part has a batched form."""
        out: dict[str, tuple[NDArray[np.float64], NDArray[np.bool_]]] = {}
        for part in self._parts:
            batch = part.signal.batch_terms(columns)
            if batch is None:
                return None
            weight = part.weight_at(self._step)
            for term, (values, present) in batch.items():
                out[f"{part.label}.{term}"] = (weight * np.asarray(values, np.float64), present)
        return out


def _union(groups: Any) -> tuple[str, ...]:
    """The names of ``groups`` together, each once, in first-seen order."""
    return tuple(dict.fromkeys(name for group in groups for name in group))


class Mix(RewardScheme[CompositeSignal]):
    """The composite scheme as a Gymnasium wrapper: ``Mix(env, parts=[...])``.

    Example:
        >>> import gymnasium as gym
        >>> import envs  # registers incentives/QA-v0
        >>> env = Mix(gym.make("incentives/QA-v0"), parts=[
        ...     {"scheme": "hedging_grid"}, {"scheme": "binary", "weight": 0.5}])
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(8)  # "I don't know"
        >>> reward, info["incentive"]["terms"]
        (0.0, {'hedging_grid.abstain': 0.0, 'binary.abstain': 0.0})
    """

    signal_type = CompositeSignal
