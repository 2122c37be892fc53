"""Shared test helpers: the repository root and running the real CLI."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
import warnings
from contextlib import redirect_stderr, redirect_stdout
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


def refuse_in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``incentives-train`` with ``args`` through its ``main()`` in this process, for a
    command the CLI must refuse before any run starts.

    The same code path as the console script but for the interpreter's start (about 4 s
    of imports a call), for the many bad-input cases; real subprocess runs of the CLI
    cover the path as a whole (tests/run/test_cli.py, test_schema.py). A command that
    gets past the checks into Hydra fails the test: use ``run_cli`` for it.
    """
    from incentives.run import cli

    def reached_hydra() -> None:
        raise AssertionError(f"not refused before the run started: {args}; use run_cli")

    out, err = io.StringIO(), io.StringIO()
    saved = (sys.argv, os.getcwd(), warnings.showwarning, threading.excepthook)
    run_hydra, cli._hydra_main = cli._hydra_main, reached_hydra  # type: ignore[assignment]
    code: int = 0
    try:
        sys.argv = ["incentives-train", *args]
        os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
    finally:
        cli._hydra_main = run_hydra  # type: ignore[assignment]
        sys.argv, cwd_before, warnings.showwarning, threading.excepthook = saved
        os.chdir(cwd_before)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def _finished_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real CLI run of ``TINY`` to its end, made once per test worker."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    done = run_cli(*TINY, f"hydra.run.dir={run_dir}", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return run_dir


@pytest.fixture
def finished_run(_finished_tiny: Path, tmp_path: Path) -> Path:
    """A copy, in this test's own folder, of a finished ``TINY`` run: tests that start
    from a finished run share one CLI run instead of each training its own."""
    run_dir = tmp_path / "run"
    shutil.copytree(_finished_tiny, run_dir)
    return run_dir


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    """The ``run_cli`` helper, for tests that run the real CLI as a subprocess."""
    return run_cli


def compare_quietly(root: Path) -> None:
    """``incentives-compare``'s work on ``root`` in this process, its table printed to
    nowhere (the console script itself is run in tests/analysis/test_compare.py)."""
    from rich.console import Console

    from incentives.analysis.compare import compare

    compare(root, console=Console(file=io.StringIO(), width=200))


#: Test files whose tests run the real CLI or train (seconds each, not milliseconds).
_HEAVY = ("tests/run/", "tests/core/test_plugin.py", "tests/analysis/test_compare.py",
          "tests/domains/chess/test_chess_training.py", "tests/core/test_packaging.py")  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``-n N`` workers, deal the heavy tests out first, round robin, so that each
    worker's share (xdist's worksteal splits the list into N runs) starts with its slow
    tests and ends with quick ones an idle worker can steal: the last minute is not one
    worker finishing a CLI run while the other waits."""
    workers = config.getoption("numprocesses", default=None)
    if not isinstance(workers, int) or workers < 2:
        return
    heavy = [i for i in items if i.nodeid.startswith(_HEAVY)]
    light = [i for i in items if not i.nodeid.startswith(_HEAVY)]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for k, item in enumerate(heavy + light):
        shares[k % workers].append(item)
    items[:] = [item for share in shares for item in share]
