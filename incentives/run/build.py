"""The parts of one run, built from its config: the reward phases, the env, the domain.

This is where the layers meet: ``envs`` (what happens), the scheme core and a domain
(what is rewarded, what is measured) and, in ``train``, ``agents`` (who learns).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from incentives.behaviour import Behaviour
from incentives.compose import CompositeSignal
from incentives.domain import Domain
from incentives.registry import load_domain, make_signal, scheme_type
from incentives.run.schema import ConfigError, check_env_kwargs
from incentives.signal import ExplicitSignal
from incentives.vec_scheme import VecRewardScheme, VecTaskMonitor

__all__ = [
    "ConfigError",
    "Phase",
    "build_behaviour",
    "build_env",
    "check_env",
    "env_domain",
    "make_registered",
    "phases",
    "scheduled_weights",
    "set_progress",
    "use_signal",
]

VEC_ENV_KINDS: dict[str, type[DummyVecEnv] | type[SubprocVecEnv]] = {
    "dummy": DummyVecEnv,
    "subproc": SubprocVecEnv,
}


@dataclass(frozen=True)
class Phase:
    """One stretch of training under one explicit signal."""

    signal: ExplicitSignal
    steps: int


def _scheme_params(entry: Any, where: str) -> tuple[str, dict[str, Any]]:
    """The scheme name and its parameters from a ``reward`` or ``warmup`` config entry."""
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"{where}={entry!r}; accepted: a mapping {{reward: <scheme>, steps: <n>, <params>}}"
        )
    params = dict(entry)
    name = str(params.pop("name", params.pop("reward", "")))
    params.update(params.pop("params", None) or {})
    params.pop("steps", None)
    if name == "grid_family":  # a member of the QA grid family stands for its own scheme
        from incentives.domains.qa.grids import family_member

        try:
            return family_member(
                params.pop("family_seed", None), params.pop("index", None), params.pop("size", 12)
            )
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
    return name, params


def _steps(where: str, value: Any) -> int:
    """A positive whole number of environment steps, or a ``ConfigError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}={value!r}; accepted: a positive whole number of env steps")
    return value


def phases(config: Mapping[str, Any]) -> list[Phase]:
    """The reward schedule: the ``warmup`` phases, then ``reward`` for ``budget`` steps.

    Example:
        >>> [(p.signal.name, p.steps) for p in phases({
        ...     "warmup": [{"reward": "binary", "steps": 10}],
        ...     "reward": {"name": "hedging_grid", "wrong": -3.0}, "budget": 20})]
        [('binary', 10), ('hedging_grid', 20)]
    """
    schedule = []
    for k, entry in enumerate(config.get("warmup") or []):
        name, params = _scheme_params(entry, f"warmup[{k}]")
        schedule.append(
            Phase(make_signal(name, **params), _steps(f"warmup[{k}].steps", entry.get("steps")))
        )
    name, params = _scheme_params(config["reward"], "reward")
    schedule.append(Phase(make_signal(name, **params), _steps("budget", config["budget"])))
    agent = config.get("agent")
    if isinstance(agent, Mapping) and agent.get("algo") == "lm":
        for phase in schedule:  # the language-model runner moves no schedule clock
            if isinstance(phase.signal, CompositeSignal) and phase.signal.scheduled():
                raise ConfigError(
                    f"{phase.signal.name}: a weight on a schedule with agent.algo=lm; "
                    "accepted: constant weights (the lm runner does not move the clock)"
                )
    return schedule


def make_registered(env_id: str, module: str, **kwargs: Any) -> gym.Env[Any, Any]:
    """``gymnasium.make(env_id)`` after importing ``module``, which registers the id.

    A module-level function so that subprocess vector envs can rebuild the env.
    """
    importlib.import_module(module)
    return gym.make(env_id, **kwargs)


def _import(path: str) -> Any:
    """The object at a dotted ``module.Name`` path (``env.batched``), or a ``ConfigError``."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(
            f"env.batched={path!r} cannot be imported ({error}); accepted: a dotted "
            "module.Name path of a VecEnv class, e.g. envs.qa.vec_env.QAVecEnv, or null"
        ) from None


def build_env(
    env_config: Mapping[str, Any], signal: ExplicitSignal, n_envs: int, seed: int
) -> VecEnv:
    """A vector env of ``n_envs`` copies of the configured env, rewarded by ``signal``.

    With ``batched`` set to a ``VecEnv`` class (the QA env's numpy implementation), that
    class runs all copies at once; otherwise ``gymnasium.make``'d envs run in a dummy or
    subprocess vector env. Either way a monitor sits innermost (it records the task
    score) and the scheme outermost. A batched env that reports its events as columns
    (the QA env's ``EventInfos``) is rewarded, monitored and tallied as arrays.
    """
    kwargs = dict(env_config.get("kwargs") or {})
    if env_config.get("batched"):
        batched = _import(str(env_config["batched"]))(num_envs=n_envs, **kwargs)
        batched.seed(seed)
        return VecRewardScheme(VecTaskMonitor(batched), signal)
    kind = str(env_config.get("vec_env", "dummy"))
    if kind not in VEC_ENV_KINDS:
        raise ConfigError(f"env.vec_env={kind!r}; accepted: {', '.join(VEC_ENV_KINDS)}")
    venv = make_vec_env(
        make_registered,
        n_envs=n_envs,
        seed=seed,
        vec_env_cls=VEC_ENV_KINDS[kind],
        env_kwargs={"env_id": env_config["id"], "module": env_config["module"], **kwargs},
        wrapper_class=scheme_type(signal.name),
        wrapper_kwargs=signal.params(),
    )
    return venv


def check_env(env_config: Mapping[str, Any]) -> None:
    """Build one copy of the configured env and close it: its class checks ``env.kwargs``.

    A key the env does not take is named with the closest it does (``ConfigError``); a
    value it refuses raises the env's own ``ValueError`` (an argument of the wrong type,
    a ``TypeError``, becomes a ``ConfigError``). Files and programs the arguments name
    are looked for now: a FEN file, a Stockfish binary.
    """
    if env_config.get("batched"):
        _import(str(env_config["batched"]))  # a path that does not import: one line
    check_env_kwargs(env_config)
    kwargs = dict(env_config.get("kwargs") or {})
    try:
        if env_config.get("batched"):
            env: Any = _import(str(env_config["batched"]))(num_envs=1, **kwargs)
        else:
            env = make_registered(str(env_config["id"]), str(env_config["module"]), **kwargs)
    except TypeError as error:  # Gymnasium adds where it was raised: not the user's news
        reason = str(error).split(" was raised from the environment creator")[0]
        raise ConfigError(
            f"env.kwargs: {reason}; accepted: the arguments the env (and what it builds) takes"
        ) from error
    env.close()


def use_signal(venv: VecEnv, signal: ExplicitSignal) -> None:
    """Switch the reward scheme of a vector env made by ``build_env`` to ``signal``."""
    if isinstance(venv, VecRewardScheme):
        venv.use_signal(signal)
    else:
        venv.env_method("use_signal", signal)


def set_progress(venv: VecEnv, step: int) -> None:
    """Move the schedule clock of every copy of the signal in a vector env made by
    ``build_env`` to ``step`` env steps of the run (``ExplicitSignal.progress``)."""
    if isinstance(venv, VecRewardScheme):
        venv.progress(step)
    else:
        venv.env_method("progress", step)


def scheduled_weights(venv: VecEnv) -> dict[str, float]:
    """The weights in force in the first env's copy of a composite signal ({} for another
    signal): what the copies themselves hold, read back through the vector env."""
    if isinstance(venv, VecRewardScheme):
        signal = venv.signal
    else:
        signal = venv.get_attr("signal", indices=[0])[0]
    return signal.part_weights() if isinstance(signal, CompositeSignal) else {}


def env_domain(env_config: Mapping[str, Any]) -> Domain:
    """The domain that measures the configured env (``env.domain``)."""
    name = env_config.get("domain")
    if not name:
        raise ConfigError(
            f"env {env_config.get('name')!r} names no domain; accepted: env.domain set to an "
            "installed domain (incentives.domain_names())"
        )
    try:
        return load_domain(str(name))
    except ValueError as error:
        raise ConfigError(f"env.domain: {error}") from None


def build_behaviour(env_config: Mapping[str, Any], signal: ExplicitSignal) -> Behaviour:
    """The env's behaviour-metrics collector (its domain's), measuring under ``signal``."""
    return env_domain(env_config).behaviour_type()(signal)
