"""The registries of reward schemes and domains, filled from Python entry points.

Our schemes and domains are found exactly as a third party's are: a package declares them
in its ``pyproject.toml``::

    [project.entry-points."incentives.schemes"]
    hedging_grid = "incentives.domains.qa.schemes:HedgingGrid"

    [project.entry-points."incentives.domains"]
    qa = "incentives.domains.qa:DOMAIN"

and, after ``pip install``, ``incentives.make("hedging_grid", env)`` and
``incentives-train reward=hedging_grid`` find them. An entry is imported the first time
its name is asked for. ``register`` adds a scheme class by hand (in a notebook, say).
"""

from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import gymnasium as gym

from incentives.domain import Domain
from incentives.scheme import RewardScheme, build_signal
from incentives.signal import ExplicitSignal

__all__ = [
    "DOMAIN_GROUP",
    "SCHEME_GROUP",
    "domain_names",
    "load_domain",
    "make",
    "make_signal",
    "register",
    "scheme_type",
    "schemes",
]

#: Entry point groups: ``name = "module:attribute"``.
SCHEME_GROUP = "incentives.schemes"
DOMAIN_GROUP = "incentives.domains"

_SCHEMES: dict[str, type[RewardScheme[Any]]] = {}
_DOMAINS: dict[str, Domain] = {}


@cache
def _declared(group: str) -> dict[str, EntryPoint]:
    """The installed packages' entry points of ``group`` by name; a name declared twice
    (two packages claiming one scheme) is an error naming both."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=group):
        other = found.get(point.name)
        if other is not None and other.value != point.value:
            raise ValueError(
                f"{group}: the name {point.name!r} is declared twice ({other.value} and "
                f"{point.value}); accepted: one package per name"
            )
        found[point.name] = point
    return found


def register(scheme: type[RewardScheme[Any]]) -> type[RewardScheme[Any]]:
    """Add a scheme wrapper class to the registry under its signal's name."""
    name = scheme.signal_type.name
    if name in _SCHEMES and _SCHEMES[name] is not scheme:
        raise ValueError(f"a reward scheme named {name!r} is already registered")
    _SCHEMES[name] = scheme
    return scheme


def _scheme_names() -> list[str]:
    return sorted({*_SCHEMES, *_declared(SCHEME_GROUP)})


def scheme_type(name: str) -> type[RewardScheme[Any]]:
    """The wrapper class registered as ``name``, or a ``ValueError`` listing the names."""
    if name not in _SCHEMES:
        point = _declared(SCHEME_GROUP).get(name)
        if point is None:
            accepted = ", ".join(_scheme_names())
            raise ValueError(f"unknown reward scheme {name!r}; accepted: {accepted}")
        scheme = point.load()
        if scheme.signal_type.name != name:
            raise ValueError(
                f"{SCHEME_GROUP}: entry point {name!r} loads a scheme named "
                f"{scheme.signal_type.name!r}; accepted: the scheme's own name"
            )
        register(scheme)
    return _SCHEMES[name]


def make_signal(name: str, **params: Any) -> ExplicitSignal:
    """The explicit signal of scheme ``name`` with ``params``, without an env."""
    return build_signal(scheme_type(name).signal_type, params)


def _is_vec_env(env: object) -> bool:
    """Whether ``env`` is a stable-baselines3 ``VecEnv`` (only if SB3 is loaded already:
    no VecEnv can exist before, and a wrapper library need not load it)."""
    vec_env = sys.modules.get("stable_baselines3.common.vec_env")
    return vec_env is not None and isinstance(env, vec_env.VecEnv)


def make(name: str, env: Any, **params: Any) -> Any:
    """Wrap ``env`` in the reward scheme ``name`` with ``params``.

    A Gymnasium env gets the scheme's ``RewardScheme`` wrapper; a stable-baselines3
    ``VecEnv`` (such as the batched QA env) gets a ``VecRewardScheme`` with the same signal.

    Example:
        >>> import gymnasium as gym, envs, incentives
        >>> env = incentives.make("confidence_target", gym.make("incentives/QA-v0"), t=0.9)
        >>> env.thresholds()
        (0.9,)
    """
    if _is_vec_env(env):
        from incentives.vec_scheme import VecRewardScheme

        return VecRewardScheme(env, make_signal(name, **params))
    if not isinstance(env, gym.Env):
        raise ValueError(
            f"incentives.make({name!r}, env): env is a {type(env).__name__}; accepted: a "
            "Gymnasium env or a stable-baselines3 VecEnv"
        )
    return scheme_type(name)(env, **params)


def schemes() -> dict[str, str]:
    """Every registered scheme's name and a one-line statement of its explicit signal."""
    return {name: scheme_type(name).signal_type.statement for name in _scheme_names()}


def load_domain(name: str) -> Domain:
    """The domain registered as ``name``, or a ``ValueError`` listing the names."""
    if name not in _DOMAINS:
        point = _declared(DOMAIN_GROUP).get(name)
        if point is None:
            accepted = ", ".join(domain_names()) or "none installed"
            raise ValueError(f"unknown domain {name!r}; accepted: {accepted}")
        found = point.load()
        if not isinstance(found, Domain) or found.name != name:
            raise ValueError(
                f"{DOMAIN_GROUP}: entry point {name!r} ({point.value}) is not a Domain "
                f"named {name!r}; accepted: an incentives.domain.Domain of that name"
            )
        _DOMAINS[name] = found
    return _DOMAINS[name]


def domain_names() -> list[str]:
    """The names of the installed domains."""
    return sorted({*_DOMAINS, *_declared(DOMAIN_GROUP)})
