"""A domain: what one kind of task (QA, chess, a plugin's) adds to the toolkit.

The scheme core knows nothing of any task. A domain brings its behaviour collector (what
is measured of an agent there) and, optionally, what it adds to a training run (chess:
the evaluation ladder, self-play, the start-position curriculum). Its schemes are
registered apart (entry point group ``incentives.schemes``), since a scheme is defined on
events, not on a domain: the QA schemes judge any env that reports ``mode`` and
``correct``.

Domains are found by entry point, ours as a third party's::

    [project.entry-points."incentives.domains"]
    qa = "incentives.domains.qa:DOMAIN"

An env config names its domain (``env.domain: qa``). Heavy parts are named by
``"module:attribute"`` strings and imported on first use, so that listing the domains
costs no more than Gymnasium does.

A domain whose run extension reads keys of its own in the env config (chess:
``env.selfplay``, ``env.curriculum``) declares them as :class:`Setting` entries
(``Domain.env_settings``), so the runner's config schema (``incentives.run.schema``)
knows them: a mistyped key is named, and ``incentives-train --schema`` lists them.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incentives.behaviour import Behaviour

__all__ = ["Domain", "RunExtension", "Setting", "load_object"]


def load_object(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` string names (Gymnasium's entry-point
    form), imported now.

    Example:
        >>> load_object("incentives.signal:Incentive").__name__
        'Incentive'
    """
    module, sep, attribute = reference.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"reference {reference!r}; accepted: 'package.module:attribute'")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


#: What a ``Setting``'s ``kind`` admits, and how ``accepted`` says it.
_KINDS: dict[str, str] = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list",
    "mapping": "a mapping",
    "any": "any value",
}


@dataclass(frozen=True)
class Setting:
    """One config key: the values it takes and what it is for.

    The unit of the config schema. ``kind`` is one of ``int``, ``float`` (an integer is
    a number too), ``bool``, ``str``, ``list``, ``mapping`` and ``any``; ``low`` and
    ``high`` bound a number (inclusive), ``choices`` lists the strings accepted,
    ``nullable`` admits ``null``, ``required`` says the key must be present, ``pattern``
    is a regular expression a string matches in full. Where a
    class checks the value further (a scheme its parameters, an env its arguments),
    ``checked_by`` names it and the rule stays there, stated once.

    Example:
        >>> gamma = Setting("float", "discount of future rewards", low=0, high=1)
        >>> gamma.accepts(0.99), gamma.accepts(2), gamma.accepts(True)
        (True, False, False)
        >>> gamma.accepted()
        'a number in [0, 1]'
    """

    kind: str
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    required: bool = True
    checked_by: str = ""
    #: A regular expression a string must match in full (say it in ``accepted_text``).
    pattern: str = ""
    #: ``low`` itself is refused (a learning rate > 0).
    exclusive_low: bool = False
    #: Says what is accepted in words, where the generated text would not (optional).
    accepted_text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Setting kind={self.kind!r}; accepted: {', '.join(_KINDS)}")

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has the kind and lies in the range and choices."""
        if value is None:
            return self.nullable
        if self.kind in ("int", "float"):
            number = (int,) if self.kind == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, number):
                return False
            if not math.isfinite(value):
                return False
            above = (
                self.low is None
                or value > self.low
                or (value == self.low and not self.exclusive_low)
            )
            return above and (self.high is None or value <= self.high)
        expected = {"bool": bool, "str": str, "list": list, "mapping": Mapping}.get(self.kind)
        if expected is not None and not isinstance(value, expected):
            return False
        if self.pattern and not re.fullmatch(self.pattern, value):
            return False
        return not self.choices or value in self.choices

    def accepted(self) -> str:
        """What the key accepts, in words: the ``accepted:`` part of an error line."""
        if self.accepted_text:
            text = self.accepted_text
        elif self.choices:
            text = "one of " + ", ".join(self.choices)
        else:
            text = _KINDS[self.kind]
            opening = "(" if self.exclusive_low else "["
            if self.low is not None and self.high is not None:
                text += f" in {opening}{_number(self.low)}, {_number(self.high)}]"
            elif self.low is not None:
                text += f" {'>' if self.exclusive_low else '>='} {_number(self.low)}"
            elif self.high is not None:
                text += f" <= {_number(self.high)}"
        if self.checked_by:
            text += f" (checked by {self.checked_by})"
        return text + (", or null" if self.nullable else "")


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


class RunExtension:
    """What a domain adds to one training run; by default, nothing.

    Built from the run's config before the run writes anything, so a constructor that
    checks its settings stops a bad run with one line and nothing touched. The runner
    then asks it, in order of the run's story, for the training env's config, the
    callbacks that watch training, the measurements after each periodic evaluation, the
    state a checkpoint keeps, and what goes into ``summary.json``.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def train_env_config(
        self, env_config: Mapping[str, Any], run_dir: Path, state: Any, resuming: bool
    ) -> dict[str, Any]:
        """The config of the training env (self-play swaps its opponent); ``state`` is
        what ``state()`` returned at the checkpoint resumed from, if any."""
        return dict(env_config)

    def callbacks(self) -> list[Any]:
        """stable-baselines3 callbacks that run during training (a curriculum)."""
        return []

    def evaluation_extras(self) -> list[Any]:
        """Measurements (or actions) after each periodic evaluation: callables
        ``(model, results, step) -> {name: float | str}`` logged under ``eval/``."""
        return []

    def state(self) -> Any:
        """What a checkpoint must keep for a resumed run to go on (JSON), or None."""
        return None

    def summary(self) -> dict[str, Any]:
        """Entries added to ``summary.json``."""
        return {}


@dataclass(frozen=True)
class Domain:
    """A domain's name, what it is about, its behaviour collector and its run extension.

    ``behaviour`` and ``extension`` are ``"module:attribute"`` references (or the objects
    themselves): a ``Behaviour`` subclass, and a ``RunExtension`` subclass (or None).
    ``env_settings`` declares the keys the domain adds to its env's config (dotted,
    relative to ``env``: ``"selfplay.threshold"``), as a mapping of :class:`Setting` or
    a ``"module:attribute"`` reference to one.
    """

    name: str
    description: str
    behaviour: str | type[Behaviour]
    extension: str | type[RunExtension] | None = None
    env_settings: str | Mapping[str, Setting] | None = None

    def behaviour_type(self) -> type[Behaviour]:
        """The domain's ``Behaviour`` subclass."""
        found = load_object(self.behaviour) if isinstance(self.behaviour, str) else self.behaviour
        if not (isinstance(found, type) and issubclass(found, Behaviour)):
            raise ValueError(
                f"domain {self.name!r}: behaviour={self.behaviour!r} is not a Behaviour "
                "subclass; accepted: an incentives.behaviour.Behaviour subclass"
            )
        return found

    def run_extension(self, config: Mapping[str, Any]) -> RunExtension:
        """What the domain adds to the run of ``config`` (checked now)."""
        if self.extension is None:
            return RunExtension(config)
        found = load_object(self.extension) if isinstance(self.extension, str) else self.extension
        if not (isinstance(found, type) and issubclass(found, RunExtension)):
            raise ValueError(
                f"domain {self.name!r}: extension={self.extension!r} is not a RunExtension "
                "subclass; accepted: an incentives.domain.RunExtension subclass or None"
            )
        return found(config)

    def settings(self) -> dict[str, Setting]:
        """The keys the domain adds to its env config (``env_settings``), by dotted name."""
        if self.env_settings is None:
            return {}
        found = (
            load_object(self.env_settings)
            if isinstance(self.env_settings, str)
            else self.env_settings
        )
        if not isinstance(found, Mapping) or not all(
            isinstance(s, Setting) for s in found.values()
        ):
            raise ValueError(
                f"domain {self.name!r}: env_settings={self.env_settings!r} is not a mapping "
                "of Setting; accepted: {'key': incentives.domain.Setting(...)}"
            )
        return dict(found)
