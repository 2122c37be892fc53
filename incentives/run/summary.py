"""``summary.json``: what a run was told, what it did, and what theory says it should do."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "flag_record",
    "git_revision",
    "hparams",
    "package_versions",
    "record_flags",
    "scale_record",
    "write_json",
]

_PACKAGES = (
    "incentives",
    "gymnasium",
    "stable-baselines3",
    "sb3-contrib",
    "torch",
    "numpy",
    "chess",
    "hydra-core",
    "tensorboard",
)


def package_versions() -> dict[str, str | None]:
    """The installed versions of the packages a run's result depends on."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """The git commit of the checkout this code runs from, if it runs from one."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _plain(value: Any) -> Any:
    """``value`` with non-finite floats turned into ``None``, so the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON atomically: a crash mid-write leaves the old file intact."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_plain(data), indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def scale_record(parameters: int, steps: int, wall_time_s: float, device: Any) -> dict[str, Any]:
    """What a run cost: network size, steps (env steps, or tokens for a language model),
    compute (their product: the x-axis of the emergence curves), time and device."""
    import torch

    name = str(device)
    return {
        "parameters": parameters,
        "env_steps": steps,
        "compute": parameters * steps,
        "wall_time_s": round(wall_time_s, 2),
        "device": name,
        "device_name": torch.cuda.get_device_name(device) if name.startswith("cuda") else "cpu",
        "torch_threads": torch.get_num_threads(),
    }


def hparams(
    config: Mapping[str, Any], schedule: Sequence[Any], size: str, scale: Mapping[str, Any]
) -> dict[str, Any]:
    """What defines a run, for TensorBoard's HPARAMS: the same columns for every run of a
    sweep (``schedule``: its reward phases, each with ``signal`` and ``steps``)."""
    signal = schedule[-1].signal
    return {
        "experiment": config["experiment_name"],
        "env": config["env"]["name"],
        "reward": signal.name,
        # one string, so every run of a sweep has the same HParams columns
        "reward.params": " ".join(f"{k}={v}" for k, v in signal.params().items()) or "none",
        "warmup": " + ".join(f"{p.signal.name}:{p.steps}" for p in schedule[:-1]) or "none",
        "budget": schedule[-1].steps,
        "agent.size": size,
        "parameters": scale["parameters"],
        "compute": float(scale["compute"]),
        "device": scale["device"],
        "seed": int(config["seed"]),
    }


def flag_record(run_dir: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The gaming flags of the run in ``run_dir`` (its curves as logged so far, and
    ``summary``), as ``summary.json`` keeps them: ``{name: {fired, metric, explanation,
    evidence}}`` (see :mod:`incentives.analysis.flags`)."""
    from incentives.analysis.flags import run_flags
    from incentives.analysis.runs import Run, flatten

    run = Run(Path(run_dir), dict(summary), flatten(summary.get("config", {})))
    return {name: flag.as_dict() for name, flag in run_flags(run).items()}


def record_flags(
    run_dir: Path, summary: dict[str, Any], writer: Any = None, step: int | None = None
) -> dict[str, Any]:
    """Compute the run's gaming flags, put them in ``summary["flags"]`` and write one
    TensorBoard scalar per flag (``flags/<name>``: 1 fired, 0 quiet) at ``step`` (default:
    the run's timesteps) through ``writer`` (a run's ``SummaryWriter``) or, without one,
    into a new event file in the folder, which TensorBoard reads with the run's others.
    Returns the flags.

    A runner calls it just before it writes ``summary.json``; ``incentives-analyze
    flags=RUNS`` calls it on finished runs and rewrites their ``summary.json``.
    """
    flags = flag_record(run_dir, summary)
    summary["flags"] = flags
    at = int(summary.get("timesteps") or 0) if step is None else step
    values = {f"flags/{name}": 1.0 if flag["fired"] else 0.0 for name, flag in flags.items()}
    if writer is not None:
        for tag, value in values.items():
            writer.add_scalar(tag, value, at)
        writer.flush()
        return flags
    # tensorboard's own writer: no torch to load for a run that has finished
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    events = EventFileWriter(str(run_dir), filename_suffix=".flags")
    for tag, value in values.items():
        scalar = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        events.add_event(Event(step=at, wall_time=time.time(), summary=scalar))
    events.close()
    return flags
