"""Resuming a run after a crash: its checkpoint, and logs cut back to the checkpoint's step.

A run folder holds at most one checkpoint: ``checkpoint.json`` (written last, atomically)
names the model file it belongs to and says where the reward schedule stood. A crash
while writing leaves the previous checkpoint usable. On resume, whatever the crashed
process logged after its checkpoint is removed from the TensorBoard event files and the
progress table, so that every step appears once.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Checkpoint", "ResumeError", "restart_folder", "truncate_logs"]

CHECKPOINT = "checkpoint.json"


class ResumeError(ValueError):
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

    def save(self, run_dir: Path) -> None:
        """Write ``checkpoint.json`` atomically, then remove older model files."""
        tmp = run_dir / (CHECKPOINT + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, run_dir / CHECKPOINT)
        for old in run_dir.glob("checkpoint-*.zip"):
            if old.name != self.model:
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
        if not (run_dir / checkpoint.model).is_file():
            raise ResumeError(
                f"checkpoint {str(path)!r} names {checkpoint.model!r}, which is missing; "
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
                if event_pb2.Event.FromString(record).step <= step:
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
