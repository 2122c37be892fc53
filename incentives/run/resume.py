"""Resuming a run after a crash: its checkpoint, and logs cut back to the checkpoint's step.

A run folder holds at most one checkpoint: ``checkpoint.json`` (written last, atomically)
names the model file and the run-state file it belongs to and says where the reward
schedule stood. A crash while writing leaves the previous checkpoint usable: the new
files have new names, and the index names them only once they are complete.

The run state (``checkpoint-<step>.state``, a versioned pickle) holds what the rest of the
run depends on besides the model: every random generator (python's, numpy's, torch's),
each env's state (its generator and stream, the game under way, the monitors' running
episodes, the scheme's per-episode state), the agent's last observation and episode
starts, the logger's running per-env tallies and the values logged but not yet written.
With it, a run killed at any point and started again writes, on CPU, the summary an
uninterrupted run writes.

On resume, whatever the crashed process logged after its checkpoint is removed from the
TensorBoard event files and the progress table, so that every step appears once.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from incentives.errors import UserError

__all__ = [
    "RUN_STATE_VERSION",
    "Checkpoint",
    "ResumeError",
    "claim_folder",
    "claimed_folder",
    "generator_states",
    "read_run_state",
    "restart_folder",
    "restore_generators",
    "restore_venv",
    "truncate_logs",
    "venv_state",
    "write_run_state",
]

CHECKPOINT = "checkpoint.json"
#: The layout of a run-state file; a file of another version is refused.
RUN_STATE_VERSION = 1


class ResumeError(UserError):
    """A checkpoint that cannot be used; the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stood: its model file, steps, reward phase, and the config it ran."""

    model: str
    num_timesteps: int
    phase: int
    phase_start: int
    eval_last_at: int
    wall_time_s: float
    config: dict[str, Any]
    #: What the domain's run extension keeps (chess: the self-play pool), or None.
    domain_state: Any = None
    #: The run-state file (generators, envs, tallies), None in checkpoints written before.
    state: str | None = None

    def save(self, run_dir: Path) -> None:
        """Write ``checkpoint.json`` atomically (the model and state files it names are
        already written), then remove older model and state files."""
        _write_atomic(run_dir / CHECKPOINT, json.dumps(asdict(self), indent=1).encode())
        for old in [*run_dir.glob("checkpoint-*.zip"), *run_dir.glob("checkpoint-*.state")]:
            if old.name not in (self.model, self.state):
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, run_dir: Path) -> Checkpoint | None:
        """The run folder's checkpoint, None if it has none, ``ResumeError`` if unusable."""
        path = run_dir / CHECKPOINT
        if not path.exists():
            return None
        try:
            fields = json.loads(path.read_text())
            if "selfplay" in fields:  # written before domains kept their own state
                fields["domain_state"] = fields.pop("selfplay")
            checkpoint = cls(**fields)
        except (OSError, ValueError, TypeError) as error:
            raise ResumeError(
                f"checkpoint {str(path)!r} is corrupt ({error}); accepted: a checkpoint "
                "written by incentives-train, or resume=false to start over in a new folder"
            ) from None
        for named in (checkpoint.model, checkpoint.state):
            if named is not None and not (run_dir / named).is_file():
                raise ResumeError(
                    f"checkpoint {str(path)!r} names {named!r}, which is missing; "
                    "accepted: resume=false to start over in a new folder"
                )
        return checkpoint


def config_difference(
    old: dict[str, Any], new: dict[str, Any], *, budget: bool = True
) -> str | None:
    """The first setting that differs between two run configs, or None.

    Bookkeeping keys (``incentives.analysis.runs.BOOKKEEPING_KEYS``) never count; the budget counts
    unless ``budget`` is False (a resumed run may be given a larger one).
    """
    from incentives.analysis.runs import BOOKKEEPING_KEYS, flatten

    a, b = flatten(old), flatten(new)
    for key in sorted(a.keys() | b.keys()):
        if key in BOOKKEEPING_KEYS or (key == "budget" and not budget):
            continue
        if a.get(key) != b.get(key):
            return f"{key}: {a.get(key)!r} -> {b.get(key)!r}"
    return None


def restart_folder(run_dir: Path) -> Path:
    """A new sibling folder ``<name>.1``, ``<name>.2``…"""
    for k in range(1, 10_000):
        fresh = run_dir.with_name(f"{run_dir.name}.{k}")
        if not fresh.exists():
            fresh.mkdir(parents=True)
            return fresh
    raise ResumeError(f"no free folder beside {str(run_dir)!r}")  # pragma: no cover


def set_aside_logs(run_dir: Path) -> Path | None:
    """Move the logs of a run that crashed before its first checkpoint into
    ``crashed-<k>/``, so that it can start over in its folder without losing them."""
    logs = [*run_dir.glob("events.out.tfevents.*"), *run_dir.glob("progress*.csv")]
    if not logs:
        return None
    k = 1 + len(list(run_dir.glob("crashed-*")))
    aside = run_dir / f"crashed-{k}"
    aside.mkdir()
    for path in logs:
        shutil.move(str(path), aside / path.name)
    return aside


def truncate_logs(run_dir: Path, step: int) -> None:
    """Drop what was logged after ``step``: TensorBoard events and progress-table rows.

    The progress table is kept as ``progress.<k>.csv`` (SB3 starts ``progress.csv`` anew).
    """
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    for events in run_dir.glob("events.out.tfevents.*"):
        tmp = events.with_name(events.name + ".tmp")
        with tmp.open("wb") as handle:
            writer = RecordWriter(handle)
            for record in RawEventFileLoader(str(events)).Load():
                event = event_pb2.Event.FromString(record)
                # HParams are written once, at the run's end, but at step 0: a run killed
                # after writing them writes them again when it resumes
                hparams = any(v.tag.startswith("_hparams_/") for v in event.summary.value)
                if event.step <= step and not hparams:
                    writer.write(record)
            writer.flush()
        os.replace(tmp, events)
    progress = run_dir / "progress.csv"
    if progress.is_file():
        with progress.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
            fields = list(rows[0]) if rows else []
        kept = [r for r in rows if float(r.get("time/total_timesteps") or 0) <= step]
        part = 1 + len(list(run_dir.glob("progress.*.csv")))
        with (run_dir / f"progress.{part}.csv").open("w", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=fields)
            out.writeheader()
            out.writerows(kept)
        progress.unlink()


# -- the run state --------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename: a crash
    leaves either the old file or the new one, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_run_state(path: Path, state: Mapping[str, Any]) -> None:
    """Write a run state (``venv_state``, ``generator_states``, …) atomically."""
    _write_atomic(path, pickle.dumps({"version": RUN_STATE_VERSION, **state}, protocol=5))


def read_run_state(path: Path) -> dict[str, Any]:
    """A run state written by ``write_run_state``; ``ResumeError`` if it cannot be read."""
    try:
        state = pickle.loads(path.read_bytes())
        version = state["version"] if isinstance(state, dict) else None
    except Exception as error:  # a truncated or foreign pickle raises many kinds
        raise ResumeError(
            f"run state {str(path)!r} cannot be read ({type(error).__name__}: {error}); "
            "accepted: resume=false to start over in a new folder"
        ) from None
    if version != RUN_STATE_VERSION:
        raise ResumeError(
            f"run state {str(path)!r} has version {version!r}; accepted: version "
            f"{RUN_STATE_VERSION} (this incentives), or resume=false to start over"
        )
    return state


def generator_states() -> dict[str, Any]:
    """The states of python's, numpy's (global) and torch's random generators."""
    import torch

    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the global one SB3 draws from
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_generators(states: Mapping[str, Any]) -> None:
    """Put the generators back in the states ``generator_states`` returned."""
    import torch

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    torch.set_rng_state(states["torch"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def _wrapper_fields() -> list[tuple[type, tuple[str, ...]]]:
    """Gymnasium and stable-baselines3 wrappers, and the attributes that hold their state.

    A layer of our own (an env, a wrapper) keeps its state with ``get_state`` and
    ``set_state`` instead.
    """
    from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import VecMonitor

    from incentives.scheme import RewardScheme

    return [
        (Monitor, ("needs_reset", "rewards", "episode_returns", "episode_lengths",
                   "episode_times", "total_steps", "current_reset_info")),
        (VecMonitor, ("episode_returns", "episode_lengths", "episode_count")),
        (RewardScheme, ("signal", "_pending")),
        (TimeLimit, ("_elapsed_steps",)),
        (OrderEnforcing, ("_has_reset",)),
        (PassiveEnvChecker, ("checked_reset", "checked_step", "checked_render",
                             "checked_data_reuse")),
    ]  # fmt: skip


def _layers(env: Any, inner: Callable[[Any], Any | None]) -> list[Any]:
    """``env`` and every layer inside it, outermost first (``inner`` finds the next)."""
    layers = [env]
    while (env := inner(env)) is not None:
        layers.append(env)
    return layers


def _layer_state(layer: Any, fields: list[tuple[type, tuple[str, ...]]]) -> Any:
    get_state = getattr(type(layer), "get_state", None)
    if callable(get_state):
        return {"get_state": layer.get_state()}
    for kind, names in fields:
        if isinstance(layer, kind):
            return {name: getattr(layer, name) for name in names if hasattr(layer, name)}
    return None


def _restore_layer(layer: Any, state: Any) -> None:
    if state is None:
        return
    if "get_state" in state:
        layer.set_state(state["get_state"])
        return
    for name, value in state.items():
        setattr(layer, name, value)


def _gym_inner(env: Any) -> Any | None:
    import gymnasium as gym

    return env.env if isinstance(env, gym.Wrapper) else None


def _vec_inner(venv: Any) -> Any | None:
    from stable_baselines3.common.vec_env import VecEnvWrapper

    return venv.venv if isinstance(venv, VecEnvWrapper) else None


def venv_state(venv: Any) -> dict[str, Any]:
    """The state of a training vector env, layer by layer, for ``restore_venv``.

    Exact for a batched env with ``get_state`` (QA's) and for a ``DummyVecEnv`` (every
    wrapper of every env: the monitor's running episode, the scheme's per-episode state,
    the env's own ``get_state``). In a ``SubprocVecEnv`` only each env's own
    ``get_state`` is reached (through ``env_method``): the wrappers around it in the
    worker start afresh, so an episode under way has a monitor that missed its start.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    fields = _wrapper_fields()
    layers = _layers(venv, _vec_inner)
    base = layers[-1]
    state: dict[str, Any] = {
        "kind": type(base).__name__,
        "vec_layers": [_layer_state(layer, fields) for layer in layers],
    }
    if isinstance(base, DummyVecEnv):
        state["envs"] = [
            [_layer_state(layer, fields) for layer in _layers(env, _gym_inner)] for env in base.envs
        ]
    elif state["vec_layers"][-1] is None:  # a subprocess vector env: each env's own state
        reachable = all(base.env_method("has_wrapper_attr", "get_state"))
        state["env_states"] = base.env_method("get_state") if reachable else None
    return state


def restore_venv(venv: Any, state: Mapping[str, Any]) -> None:
    """Put a freshly built vector env (the same config) in the state ``venv_state`` saw.

    The env is reset first, so that every layer nobody records is ready to step.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    layers = _layers(venv, _vec_inner)
    base = layers[-1]
    if state.get("kind") != type(base).__name__ or len(state["vec_layers"]) != len(layers):
        raise ResumeError(
            f"the run state holds a {state.get('kind')} vector env, the run builds a "
            f"{type(base).__name__}; accepted: the same config, or resume=false"
        )
    venv.reset()
    for layer, saved in zip(layers, state["vec_layers"], strict=True):
        _restore_layer(layer, saved)
    if isinstance(base, DummyVecEnv):
        for env, saved_env in zip(base.envs, state["envs"], strict=True):
            for layer, saved in zip(_layers(env, _gym_inner), saved_env, strict=True):
                _restore_layer(layer, saved)
    elif state.get("env_states") is not None:
        for i, saved in enumerate(state["env_states"]):
            base.env_method("set_state", saved, indices=[i])


def _has_logs(run_dir: Path) -> bool:
    return any(run_dir.glob("events.out.tfevents.*")) or any(run_dir.glob("progress*.csv"))


def claim_folder(
    run_dir: Path, config: dict[str, Any]
) -> tuple[Path, Checkpoint | None, dict[str, Any] | None]:
    """Where this run writes, the checkpoint it resumes from, or the summary it already has.

    With ``resume`` (the default) a finished run of the same config is reported, not
    trained again; a checkpoint is resumed; logs left by a run that crashed before its
    first checkpoint are set aside in ``crashed-<k>/``. With ``resume: false`` a folder
    that holds anything of an earlier run is left alone: the run goes to a new folder.
    """
    finished = run_dir / "summary.json"
    started = finished.exists() or (run_dir / "checkpoint.json").exists() or _has_logs(run_dir)
    if not config.get("resume", True):
        return (restart_folder(run_dir) if started else run_dir), None, None
    if finished.exists():
        summary: dict[str, Any] = json.loads(finished.read_text())
        changed = config_difference(summary.get("config", {}), config)
        if changed:
            raise ResumeError(
                f"{run_dir} holds a finished run of another config ({changed}); accepted: "
                "the same config, or resume=false to start over in a new folder"
            )
        for left in run_dir.glob("checkpoint*"):  # killed before it removed them
            left.unlink(missing_ok=True)
        return run_dir, None, {**summary, "already_finished": True}
    checkpoint = Checkpoint.load(run_dir)
    if checkpoint is not None:
        changed = config_difference(checkpoint.config, config, budget=False)
        if changed:
            raise ResumeError(
                f"{run_dir} holds a checkpoint of another config ({changed}); accepted: the "
                "same command to resume, or resume=false to start over in a new folder"
            )
    elif _has_logs(run_dir):
        set_aside_logs(run_dir)
    return run_dir, checkpoint, None


@contextmanager
def claimed_folder(
    run_dir: Path, config: dict[str, Any]
) -> Iterator[tuple[Path, Checkpoint | None, dict[str, Any] | None]]:
    """Hold the run folder for this process while the run writes it (an OS lock:
    ``incentives.run_folder``), and say what to do there (``claim_folder``).

    A second process on the same folder is refused at once (``FolderBusyError``: one line,
    exit 2) before it reads or writes anything; the OS releases the lock when the process
    ends, also when killed, so no stale lock is left. With ``resume: false`` the new
    folder beside it is held too.
    """
    from incentives.run_folder import claim

    run_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        held.enter_context(claim(run_dir))
        folder, checkpoint, finished = claim_folder(run_dir, config)
        if folder != run_dir:
            held.enter_context(claim(folder))
        yield folder, checkpoint, finished
