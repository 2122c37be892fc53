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
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incentives.behaviour import Behaviour

__all__ = ["Domain", "RunExtension", "load_object"]


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
    """

    name: str
    description: str
    behaviour: str | type[Behaviour]
    extension: str | type[RunExtension] | None = None

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
