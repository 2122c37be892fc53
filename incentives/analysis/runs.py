"""Finding finished runs in a folder tree and grouping them by what varies between them."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from incentives.behaviour import Behaviour
from incentives.registry import load_domain
from incentives.run_folder import LOCK_FILE, Holder, holder

__all__ = [
    "BOOKKEEPING_KEYS",
    "EventPoint",
    "Run",
    "domain_name",
    "event_scalars",
    "find_runs",
    "flatten",
    "group_runs",
    "runs_behaviour",
]

#: Config keys that change how a run is carried out, not what it is: they neither split
#: runs into groups, nor stop a resume, nor name a sweep's folders (conf/config.yaml's
#: ``override_dirname.exclude_keys`` lists them too, with the keys that name folders).
BOOKKEEPING_KEYS = (
    "progress_bar", "resume", "checkpoint.every", "eval.every", "agent.torch_threads",
    "agent.device",
)  # fmt: skip


@dataclass
class Run:
    """One run folder: its ``summary.json`` (None while unfinished) and its curves.

    ``holder`` is the process writing the folder (its lock held, see
    :mod:`incentives.run_folder`): such a run is *running*, its summary is not read, and
    it counts as unfinished.
    """

    path: Path
    summary: dict[str, Any] | None
    config: dict[str, Any] = field(default_factory=dict)
    holder: Holder | None = None

    @property
    def finished(self) -> bool:
        """Whether the run wrote its ``summary.json`` and no process is writing it."""
        return self.summary is not None and self.holder is None

    @property
    def running(self) -> bool:
        """Whether a process holds the folder's lock: it is being written."""
        return self.holder is not None

    def metric(self, name: str) -> float | None:
        """A final metric of the run (top level of the summary or under ``behaviour``);
        ``None`` when the run lacks it or it is not a finite number."""
        summary = self.summary or {}
        value = summary.get(name, summary.get("behaviour", {}).get(name))
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        return None

    def curves(self) -> dict[str, list[tuple[float, float]]]:
        """Each logged scalar as (timestep, value) points, in step order.

        Reads ``progress.csv`` and the parts a resumed run left (``progress.<k>.csv``).
        """
        tables = sorted(self.path.glob("progress*.csv"))
        series: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for table in tables:
            with table.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    step = _number(row.get("time/total_timesteps"))
                    if step is None:
                        continue
                    for key, text in row.items():
                        value = _number(text)
                        if value is not None and key != "time/total_timesteps":
                            series[key].append((step, value))
        return {key: sorted(points) for key, points in series.items()}


@dataclass(frozen=True)
class EventPoint:
    """One scalar of a TensorBoard event file: its step, value, and when it was written,
    in seconds of the run's wall time (see :func:`event_scalars`)."""

    step: float
    value: float
    wall_s: float


def event_scalars(folder: Path, prefix: str = "") -> dict[str, list[EventPoint]]:
    """The scalars (tags starting with ``prefix``) of the TensorBoard event files directly
    in ``folder``, in step order, each with the run's wall time when it was written.

    Wall time is counted from the run's first event (the logger's creation: the imports,
    config checks and env construction before it are not counted) and includes
    everything after it: training, evaluations, logging, checkpoints. A resumed run has
    one event file per session; the files are read in the order their sessions started,
    and the gap between one session's last event and the next one's first is left out:
    the stop, the restart, and the work the crash lost (the resume removed its events).
    Non-finite values are left out.
    """
    files = sorted(
        p for p in folder.glob("events.out.tfevents.*") if p.is_file() and p.suffix != ".tmp"
    )
    if not files:
        return {}
    from tensorboard.backend.event_processing import event_accumulator

    sessions = []
    for path in files:
        events = event_accumulator.EventAccumulator(
            str(path),
            size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 1,
                           event_accumulator.TENSORS: 1},
        )  # fmt: skip
        events.Reload()
        try:
            first = events.FirstEventTimestamp()
        except ValueError:  # an empty file
            continue
        scalars = {tag: events.Scalars(tag) for tag in events.Tags().get("scalars", [])}
        last = max((e.wall_time for found in scalars.values() for e in found), default=first)
        sessions.append((first, last, scalars))
    sessions.sort(key=lambda session: session[0])
    series: dict[str, list[EventPoint]] = defaultdict(list)
    origin, lost, previous_last = sessions[0][0] if sessions else 0.0, 0.0, None
    for first, last, scalars in sessions:
        if previous_last is not None:
            lost += max(0.0, first - previous_last)
        previous_last = max(last, previous_last or last)
        for tag, found in scalars.items():
            if tag.startswith(prefix):
                series[tag] += [
                    EventPoint(float(e.step), float(e.value), e.wall_time - origin - lost)
                    for e in found
                    if math.isfinite(e.value)
                ]
    return {tag: sorted(points, key=lambda p: (p.step, p.wall_s)) for tag, points in series.items()}


def domain_name(summary: Mapping[str, Any]) -> str | None:
    """The domain a run's summary names; runs from before domains had one were named by
    their env (``qa``, ``chess``)."""
    name = summary.get("domain") or summary.get("config", {}).get("env", {}).get("domain")
    return str(name or summary.get("env") or "") or None


def runs_behaviour(runs: Iterable[Run]) -> type[Behaviour] | None:
    """The behaviour collector of the finished runs' one domain, if it is installed;
    None for runs of several domains or of an unknown one."""
    names = {domain_name(r.summary) for r in runs if r.summary is not None}
    if len(names) != 1 or None in names:
        return None
    try:
        return load_domain(str(names.pop())).behaviour_type()
    except (ValueError, ImportError):
        return None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"a.b": value}``; lists become their JSON text.

    Example:
        >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"})
        {'a.b': 1, 'a.c': '[1, 2]', 'd': 'x'}
    """
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = json.dumps(value, sort_keys=True)
        else:
            out[name] = value
    return out


def find_runs(root: Path) -> list[Run]:
    """Every run folder under ``root``: finished ones, running ones (their lock held: not
    read) and those that never wrote a summary (crashed or stopped).

    A run folder holds ``summary.json``, or (unfinished) the ``config.yaml`` a run writes
    when it starts, or a progress table, or the lock a run takes before anything else.
    """
    folders = {p.parent for p in root.rglob("summary.json")}
    folders |= {p.parent for p in root.rglob("config.yaml") if p.parent.name != ".hydra"}
    folders |= {p.parent for p in root.rglob("progress*.csv")}
    folders |= {p.parent for p in root.rglob(LOCK_FILE)}
    runs = []
    for folder in sorted(folders):
        busy = holder(folder)
        if busy is not None:
            runs.append(Run(folder, None, {}, busy))
            continue
        summary_file = folder / "summary.json"
        summary = None
        if summary_file.is_file():
            try:
                summary = json.loads(summary_file.read_text())
            except (OSError, json.JSONDecodeError):
                summary = None
        config = flatten(summary.get("config", {})) if summary else {}
        runs.append(Run(folder, summary, config))
    return runs


def _shown(key: str, value: Any) -> Any:
    """A config value as a group label shows it: a warm-up as ``binary:150000``.

    Example:
        >>> _shown("warmup", '[{"reward": "binary", "steps": 150000}]'), _shown("warmup", "[]")
        ('binary:150000', 'none')
    """
    if key == "warmup" and isinstance(value, str):
        try:
            phases = json.loads(value)
            return " + ".join(f"{p['reward']}:{p['steps']}" for p in phases) or "none"
        except (ValueError, TypeError, KeyError):
            return value
    return value


def group_runs(runs: Iterable[Run], ignore: Iterable[str] = ()) -> dict[str, list[Run]]:
    """Finished runs grouped by scheme and by every other config key that varies.

    The label is the scheme's name, prefixed by the experiment when runs of several
    experiments are compared, followed by ``key=value`` for each other varying key that
    the experiment and scheme do not already determine (a network size, a budget).
    Keys in ``ignore`` do not split groups (the emergence curves pool the sizes of a
    scheme into one line).

    Example:
        >>> def run(name, size, seed):
        ...     config = {"reward": {"name": name}, "agent": {"size": size}, "seed": seed}
        ...     return Run(Path("."), {"config": config}, flatten(config))
        >>> sorted(group_runs([run("binary", "tiny", 0), run("binary", "base", 0),
        ...                    run("binary", "tiny", 1)]))
        ['binary agent.size=base', 'binary agent.size=tiny']
        >>> later = run("binary", "tiny", 2)  # a run made after the schema gained a key
        >>> later.config["agent.head"] = "flat"
        >>> sorted(group_runs([run("binary", "tiny", 0), later]))
        ['binary']
    """
    finished = [r for r in runs if r.finished]
    ignored = tuple(ignore)
    keys = sorted({k for r in finished for k in r.config})
    # A key only some runs record (one the schema gained later) splits groups only where
    # the values recorded differ: runs from before it ran with its default.
    varying = [
        k
        for k in keys
        if k not in (*BOOKKEEPING_KEYS, *ignored, "seed")
        and not k.startswith("hydra")
        and len({json.dumps(r.config[k], sort_keys=True) for r in finished if k in r.config}) > 1
    ]
    base = ["reward.name"]
    if "experiment_name" in varying:
        base.insert(0, "experiment_name")

    def head(run: Run) -> str:
        # a mix of schemes goes by its label (reward.label) where it has one
        return "/".join(
            str(run.config.get("reward.label") or run.config.get(k))
            if k == "reward.name"
            else str(run.config.get(k))
            for k in base
        )

    by_head: dict[str, list[Run]] = defaultdict(list)
    for run in finished:
        by_head[head(run)].append(run)
    extra = [
        k
        for k in varying
        if k not in base
        and any(
            len({json.dumps(r.config[k]) for r in rs if k in r.config}) > 1
            for rs in by_head.values()
        )
    ]
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in finished:
        label = " ".join([head(run), *(f"{k}={_shown(k, run.config.get(k))}" for k in extra)])
        groups[label].append(run)
    return dict(groups)
