"""Shared test helpers: the repository root and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Overrides that make a CLI run take seconds: a tiny budget, a small eval set.
TINY = (
    "budget=2048",
    "env.n_envs=16",
    "agent.n_steps=32",
    "agent.batch_size=128",
    "agent.n_epochs=2",
    "eval.episodes=256",
    "eval.n_envs=64",
    "eval.every=1024",
    "progress_bar=false",
)


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m incentives.run.cli`` with ``args`` in ``cwd``; return the result."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "incentives.run.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    """The ``run_cli`` helper, for tests that run the real CLI as a subprocess."""
    return run_cli
