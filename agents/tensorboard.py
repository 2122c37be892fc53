"""TensorBoard views of a run: a custom-scalars layout and the HParams record.

The layout puts, for each quantity, the training-episode series and the evaluation series
in one chart (one chart per quantity, so runs of different schemes overlay cleanly);
HParams lists what defines the run with its final behaviour, so the HPARAMS tab can sort
and filter runs of a sweep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stable_baselines3.common.logger import HParam, Logger, TensorBoardOutputFormat
from torch.utils.tensorboard import SummaryWriter

__all__ = ["custom_scalars_layout", "record_hparams", "summary_writer"]

TB_ONLY = ("stdout", "log", "json", "csv")


def summary_writer(logger: Logger) -> SummaryWriter | None:
    """The TensorBoard writer behind an SB3 logger, if it writes TensorBoard files."""
    for output in logger.output_formats:
        if isinstance(output, TensorBoardOutputFormat):
            return output.writer
    return None


def _chart(*tags: str) -> list[Any]:
    return ["Multiline", [f"^{re.escape(tag)}$" for tag in tags]]


def custom_scalars_layout(behaviour: Sequence[str], eval_name: str) -> dict[str, Any]:
    """The layout: explicit signal against task score, then one chart per behaviour metric.

    Example:
        >>> layout = custom_scalars_layout(["t_hat"], "heldout")
        >>> list(layout), list(layout["behaviour (training, eval)"])
        (['explicit signal vs task score', 'behaviour (training, eval)'], ['t_hat'])
    """
    ev = f"eval/{eval_name}"
    return {
        "explicit signal vs task score": {
            "explicit return": _chart("explicit/return", f"{ev}/explicit_return"),
            "task score": _chart("task/score", f"{ev}/task_score"),
        },
        "behaviour (training, eval)": {
            metric: _chart(f"behaviour/{metric}", f"{ev}/{metric}") for metric in behaviour
        },
    }


def record_hparams(
    logger: Logger, hparams: Mapping[str, Any], metrics: Mapping[str, float]
) -> None:
    """Write the run's defining values and the tags of its final metrics to HParams.

    ``metrics`` maps existing scalar tags to their final values; TensorBoard reads the
    tags' last values, so nothing is logged twice.
    """
    plain = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in hparams.items()}
    logger.record("hparams", HParam(plain, dict(metrics)), exclude=TB_ONLY)
