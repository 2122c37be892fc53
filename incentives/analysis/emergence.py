"""Emergence curves: what a scheme induces as the network and the compute grow.

The talk's claim is that an incentive works only from some scale on. A scale sweep
(``conf/experiment/qa_scale.yaml``, ``chess_scale.yaml``) trains each scheme at several
network sizes and budgets over seeds; here each behaviour metric becomes one line per
scheme against the parameter count, and one against compute (parameters x environment
steps), with the across-seed mean and its 95% bootstrap interval at every point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from incentives.analysis.aggregate import Estimate, estimate
from incentives.analysis.runs import Run, group_runs
from incentives.behaviour import Behaviour

__all__ = ["AXES", "SIZE_KEYS", "Point", "curves", "emergence_metrics", "scale_of"]

#: Config keys that set the network's size: pooled into one line, spread along the x-axis.
SIZE_KEYS = (
    "agent.size", "agent.layers", "agent.channels", "agent.blocks", "agent.d_model",
    "agent.n_layers", "agent.n_heads",
)  # fmt: skip
Axis = Literal["parameters", "compute"]
#: The x-axes: what each pools into one line besides the network size.
AXES: dict[Axis, tuple[str, ...]] = {"parameters": SIZE_KEYS, "compute": (*SIZE_KEYS, "budget")}


@dataclass(frozen=True)
class Point:
    """One network size (and budget) of a line: x, the runs' values and their estimate."""

    x: float
    parameters: int
    values: tuple[float, ...]
    estimate: Estimate


def scale_of(run: Run) -> dict[str, Any]:
    """The run's ``scale`` record (parameters, env_steps, compute, ...), or ``{}``."""
    scale = (run.summary or {}).get("scale")
    return dict(scale) if isinstance(scale, dict) else {}


def emergence_metrics(behaviour: type[Behaviour] | None, runs: Sequence[Run]) -> tuple[str, ...]:
    """The metrics to draw: those the domain's behaviour declares for emergence curves
    (none for runs of an unknown or mixed domain), among the keys the runs reported.

    Example:
        >>> from incentives.domains.qa.behaviour import QABehaviour
        >>> emergence_metrics(QABehaviour, [])
        ('abstain_rate', 'hallucination_rate', 't_hat', 'regret_relative')
    """
    if behaviour is None:
        return ()
    keys = sorted({k for r in runs for k in (r.summary or {}).get("behaviour", {})})
    wanted = behaviour.emergence_metrics(keys)
    return tuple(m for m in wanted if m in keys or not runs)


def curves(runs: Sequence[Run], metric: str, axis: Axis) -> dict[str, list[Point]]:
    """One line per scheme (and per other varying key): ``metric`` at each x, over seeds.

    Lines pool the network sizes (and, against compute, the budgets) of a scheme; points
    are the runs of one parameter count (against compute: one parameter count and one
    number of env steps), x their parameters or compute. Runs without a ``scale``
    record (written before it existed) are left out. A line needs two points.
    """
    usable = [r for r in runs if r.finished and scale_of(r).get("parameters")]
    lines: dict[str, list[Point]] = {}
    for label, members in group_runs(usable, ignore=AXES[axis]).items():
        by_x: dict[tuple[int, ...], list[Run]] = defaultdict(list)
        for run in members:
            scale = scale_of(run)
            key: tuple[int, ...] = (int(scale["parameters"]),)
            if axis == "compute":
                key = (*key, int(scale["env_steps"]))
            by_x[key].append(run)
        points = []
        for x_key, point_runs in sorted(by_x.items(), key=lambda item: math.prod(item[0])):
            values = [v for v in (r.metric(metric) for r in point_runs) if v is not None]
            if values:
                x = float(math.prod(x_key))
                points.append(Point(x, x_key[0], tuple(values), estimate(values)))
        if len(points) >= 2:
            lines[label] = points
    return lines
