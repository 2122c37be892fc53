"""``make demo``: the QA incentive experiment, end to end, in a few minutes on a laptop.

Trains the same PPO agent under binary grading, the hedging grid and a confidence target
(each after the same binary warm-up), plus the grid from scratch, as real
``incentives-train`` runs side by side in ``runs/demo/``; then compares what each scheme
induced with what its decision theory predicts (``incentives-compare runs/demo``).

While the runs train, it prints a line per evaluation of each run (``eval/heldout/*``,
read from the run's ``progress.csv`` as the runner writes it) and, every
``train_every_s`` seconds, one with the latest training episodes' metrics: plain lines,
no wider than 100 columns, that read the same in a terminal and in a CI log.
"""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from incentives.analysis.compare import compare, terminal_console

__all__ = ["COLUMNS", "DEMO_DIR", "DEMO_RUNS", "ProgressReader", "Report", "main"]

DEMO_DIR = Path("runs/demo")

#: (folder, CLI overrides) of each demo run.
DEMO_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("binary", ("+experiment=qa_demo", "reward=binary")),
    ("hedging_grid", ("+experiment=qa_demo", "reward=hedging_grid")),
    ("confidence_target", ("+experiment=qa_demo", "reward=confidence_target")),
    ("hedging_grid_from_scratch", ("+experiment=qa_scratch", "budget=1000000")),
)

#: (header, evaluation key, training key) of each column of a progress line.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("explicit", "explicit_return", "explicit/return"),
    ("task", "task_score", "task/score"),
    ("answer", "answer_rate", "behaviour/answer_rate"),
    ("hedge", "hedge_rate", "behaviour/hedge_rate"),
    ("abstain", "abstain_rate", "behaviour/abstain_rate"),
    ("t_hat", "t_hat", "behaviour/t_hat"),
)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Report:
    """One progress line's content: a run's step, and what it measured there."""

    step: int
    kind: str  # "eval" (the periodic deterministic evaluation) or "train" (episodes)
    values: dict[str, float | None]


@dataclass
class ProgressReader:
    """Reads a run's progress table while the run writes it.

    SB3 appends a row per dump and rewrites the whole file when a new column appears, so
    each call reads the table again and keeps only complete lines; what was reported
    before is not reported again.
    """

    run_dir: Path
    eval_name: str = "heldout"
    last_eval: int = -1
    last_train: int = -1
    _total: int | None = field(default=None, repr=False)

    def rows(self) -> list[dict[str, str]]:
        """The complete rows of ``progress.csv`` (and of the parts a resume left)."""
        rows: list[dict[str, str]] = []
        for table in sorted(self.run_dir.glob("progress*.csv")):
            try:
                text = table.read_text()
            except OSError:
                continue
            if not text.endswith("\n"):  # a row being written: not yet
                text = text[: text.rfind("\n") + 1]
            try:
                rows += list(csv.DictReader(io.StringIO(text)))
            except csv.Error:  # caught mid-rewrite: next time
                continue
        return rows

    def _step(self, row: dict[str, str]) -> int | None:
        step = _number(row.get("time/total_timesteps"))
        return None if step is None else int(step)

    def evaluations(self) -> list[Report]:
        """The evaluations logged since the last call, in step order."""
        prefix = f"eval/{self.eval_name}/"
        found: dict[int, Report] = {}
        for row in self.rows():
            step = self._step(row)
            if step is None or step <= self.last_eval or not row.get(prefix + "explicit_return"):
                continue
            values = {header: _number(row.get(prefix + key)) for header, key, _ in COLUMNS}
            found[step] = Report(step, "eval", values)
        reports = [found[s] for s in sorted(found)]
        if reports:
            self.last_eval = reports[-1].step
        return reports

    def latest_training(self) -> Report | None:
        """The latest training row logged since the last call, if any."""
        latest: Report | None = None
        for row in self.rows():
            step = self._step(row)
            if step is None or step <= self.last_train or not row.get("explicit/return"):
                continue
            if latest is None or step > latest.step:
                values = {header: _number(row.get(key)) for header, _, key in COLUMNS}
                latest = Report(step, "train", values)
        if latest is not None:
            self.last_train = latest.step
        return latest

    def total_steps(self) -> int | None:
        """The run's env steps, warm-up included, from its ``config.yaml`` (once written)."""
        if self._total is None:
            import yaml

            try:
                config = yaml.safe_load((self.run_dir / "config.yaml").read_text())
                warmup = sum(int(p["steps"]) for p in config.get("warmup") or [])
                self._total = warmup + int(config["budget"])
            except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
                return None
        return self._total


def _steps(n: int | None) -> str:
    """A step count in a few characters.

    Example:
        >>> _steps(0), _steps(4096), _steps(307200), _steps(1350000), _steps(None)
        ('0', '4.1k', '307k', '1.35M', '?')
    """
    if n is None:
        return "?"
    if n >= 1_000_000:
        return f"{n / 1e6:.3g}M"
    if n >= 1_000:
        return f"{n / 1e3:.3g}k"
    return str(n)


def _value(v: float | None) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.3f}"


@dataclass
class _Job:
    name: str
    run_dir: Path
    process: subprocess.Popen[str]
    output: IO[str]
    reader: ProgressReader
    started: float
    shown_train_at: float


class _Lines:
    """The demo's progress lines: elapsed time, run, step, what was measured."""

    def __init__(self, names: Sequence[str], write: Callable[[str], None]) -> None:
        self.width = max(len(n) for n in (*names, "run"))
        self.write = write
        self.start = time.monotonic()

    def _prefix(self, name: str) -> str:
        elapsed = int(time.monotonic() - self.start)
        return f"{elapsed // 60:2d}:{elapsed % 60:02d}  {name:<{self.width}}"

    def header(self) -> None:
        metrics = "".join(f"{header:>8}" for header, _, _ in COLUMNS)
        self.write(f"{'time':>5}  {'run':<{self.width}}  {'step':>11} {'':5}{metrics}")

    def report(self, name: str, report: Report, total: int | None) -> None:
        step = f"{_steps(report.step)}/{_steps(total)}"
        metrics = "".join(f"{_value(report.values.get(h)):>8}" for h, _, _ in COLUMNS)
        self.write(f"{self._prefix(name)}  {step:>11} {report.kind:<5}{metrics}")

    def note(self, name: str, text: str) -> None:
        self.write(f"{self._prefix(name)}  {text}")


def _start(name: str, overrides: tuple[str, ...], seed: int, root: Path) -> _Job:
    """One ``incentives-train`` run as a subprocess, into ``<root>/<name>/seed<k>``."""
    run_dir = root / name / f"seed{seed}"
    cmd = [
        sys.executable,
        "-m",
        "incentives.run.cli",
        *overrides,
        f"seed={seed}",
        "progress_bar=false",
        "agent.torch_threads=1",
        f"hydra.run.dir={run_dir}",
    ]
    output = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed when the run ends
    process = subprocess.Popen(cmd, stdout=output, stderr=subprocess.STDOUT, text=True)
    now = time.monotonic()
    return _Job(name, run_dir, process, output, ProgressReader(run_dir), now, now)


def _show(job: _Job, lines: _Lines, train_every_s: float) -> None:
    """Print what the run logged since the last look."""
    for report in job.reader.evaluations():
        lines.report(job.name, report, job.reader.total_steps())
    now = time.monotonic()
    if now - job.shown_train_at >= train_every_s:
        latest = job.reader.latest_training()
        if latest is not None:
            lines.report(job.name, latest, job.reader.total_steps())
            job.shown_train_at = now


def _finish(job: _Job, lines: _Lines) -> bool:
    """Report a run that ended; False (its output shown) if it failed."""
    job.output.seek(0)
    text = job.output.read()
    job.output.close()
    if job.process.returncode != 0:
        sys.stderr.write(text)
        lines.note(job.name, f"failed (exit code {job.process.returncode})")
        return False
    seconds = int(time.monotonic() - job.started)
    status = "already finished earlier" if "already finished" in text else f"done in {seconds} s"
    lines.note(job.name, f"{status} -> {job.run_dir}")
    return True


def run_all(
    runs: Sequence[tuple[str, tuple[str, ...]]],
    *,
    seed: int = 0,
    workers: int = 2,
    root: Path = DEMO_DIR,
    write: Callable[[str], None] | None = None,
    poll_s: float = 1.0,
    train_every_s: float = 20.0,
) -> None:
    """Train ``runs`` ``workers`` at a time, printing their progress as they go; a
    ``SystemExit`` naming the run if one fails (the others are stopped: the same
    command resumes them)."""
    lines = _Lines([name for name, _ in runs], write or (lambda s: print(s, flush=True)))
    lines.header()
    pending = list(runs)
    active: list[_Job] = []
    try:
        while pending or active:
            while pending and len(active) < workers:
                name, overrides = pending.pop(0)
                active.append(_start(name, overrides, seed, root))
                lines.note(name, f"started -> {active[-1].run_dir}")
            time.sleep(poll_s)
            for job in list(active):
                ended = job.process.poll() is not None
                _show(job, lines, math.inf if ended else train_every_s)
                if ended:
                    active.remove(job)
                    if not _finish(job, lines):
                        raise SystemExit(f"demo: run failed: {' '.join(dict(runs)[job.name])}")
    finally:
        for job in active:  # a failure or Ctrl-C: stop the others
            job.process.terminate()
            job.process.wait()
            job.output.close()


def main(
    seed: int = 0,
    workers: int = 2,
    runs: Sequence[tuple[str, tuple[str, ...]]] = DEMO_RUNS,
    root: Path = DEMO_DIR,
    console: Console | None = None,
    **options: Any,
) -> None:
    """Run the demo's trainings two at a time, showing their progress, then compare them."""
    console = console or terminal_console()
    every = options.get("train_every_s", 20.0)
    print(
        f"demo: {len(runs)} incentives-train runs, {workers} at a time, into {root}/\n"
        f"a line per evaluation (eval) and every {every:g} s per run (train: its latest "
        "training episodes)",
        flush=True,
    )
    try:
        run_all(runs, seed=seed, workers=workers, root=root, **options)
    except KeyboardInterrupt:
        raise SystemExit("demo: stopped; `make demo` again resumes its runs") from None
    compare(root, console)
    console.print(
        "t_hat: the p* above which the agent answers; theory: where the scheme's optimal\n"
        "mode changes. regret (rel.): share of the Bayes-optimal expected reward lost.\n"
        f"TensorBoard: .venv/bin/tensorboard --logdir {root}",
        soft_wrap=True,
    )


if __name__ == "__main__":
    main()
