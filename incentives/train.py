"""``incentives-train``: train one agent under one reward scheme (Hydra app).

    incentives-train env=qa reward=hedging_grid
    incentives-train -m reward=hedging_grid,binary,confidence_target seed=0,1,2
    incentives-train +experiment=qa_grid reward.wrong=-3

Each run writes ``runs/<experiment>/<env>/<reward>/seed<k>/``: the Hydra config,
TensorBoard events (``explicit/*``, ``task/*``, ``behaviour/*``, ``eval/*``), checkpoints,
``model.zip`` and ``summary.json``. The same command again resumes an interrupted run.
A mistake a user can make prints one line and exits 2 (``INCENTIVES_DEBUG=1`` shows the
traceback).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

__all__ = ["config_dir", "main", "unknown_choice", "unwritable_folder"]

GROUPS = ("env", "reward", "agent", "experiment")
#: Hydra's own groups a user picks on the command line; plugins add their options.
HYDRA_GROUPS = ("hydra/launcher", "hydra/sweeper")


def config_dir() -> str:
    """The Hydra config folder: inside the package when installed, else the checkout's."""
    here = Path(__file__).resolve().parent
    packaged = here / "_conf"
    return str(packaged if packaged.is_dir() else here.parent / "conf")


def unknown_choice(args: list[str], conf: Path) -> str | None:
    """A one-line error for a config group option that does not exist, else ``None``.

    Hydra's own message for this is a multi-line report; ours names the value and the
    accepted options, as every user error of the CLI does.

    Example:
        >>> unknown_choice(["env=chezz"], Path(config_dir()))
        "unknown env 'chezz'; accepted: chess, qa"
        >>> unknown_choice(["hydra/launcher=jobli"], Path(config_dir()))[:40]
        "unknown hydra/launcher 'jobli'; accepted"
    """
    for arg in args:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key not in (*GROUPS, *HYDRA_GROUPS):
            continue
        if any(c in value for c in "()[]'\"*"):
            continue  # a sweep expression (choice(...), glob(...), quoting): Hydra's to read
        if key in HYDRA_GROUPS:
            accepted = _hydra_options(key, conf)
        else:
            accepted = sorted(p.stem for p in (conf / key).glob("*.yaml"))
        for choice in value.split(","):
            if choice.strip() and choice.strip() not in accepted:
                return f"unknown {key} {choice.strip()!r}; accepted: {', '.join(accepted)}"
    return None


def _hydra_options(group: str, conf: Path) -> list[str]:
    """The options of one of Hydra's groups, with those the installed plugins add."""
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.utils import create_config_search_path
    from hydra.core.object_type import ObjectType
    from hydra.core.plugins import Plugins

    Plugins.instance()  # registers the plugins' configs (joblib, ray, submitit, ...)
    repository = ConfigRepository(create_config_search_path(str(conf)))
    return sorted(repository.get_group_options(group, ObjectType.CONFIG))


def unwritable_folder(args: list[str], cwd: Path) -> str | None:
    """A one-line error when the folder runs would be written to cannot be written.

    Creates the folder (as Hydra would) and a probe file in it, then removes the probe.
    """
    target = cwd / "runs"
    for arg in args:
        key, _, value = arg.lstrip("+").partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            target = cwd / value
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as error:
        return (
            f"run folder {str(target)!r} cannot be written ({error.strerror or error}); "
            "accepted: a folder you can write to (hydra.run.dir=... or hydra.sweep.dir=...)"
        )
    return None


def _report(run_dir: Path, summary: dict[str, Any]) -> None:
    """One line for the console: where the run is and what it learned."""
    b = summary["behaviour"]
    keys = ("answer_rate", "hedge_rate", "abstain_rate", "t_hat", "regret_relative",
            "win_rate", "draw_rate", "loss_rate", "termination/checkmate")  # fmt: skip
    shown = "  ".join(f"{k}={b[k]:.3f}" for k in keys if isinstance(b.get(k), float))
    status = " (already finished; resume=false starts over in a new folder)" if summary.get(
        "already_finished"
    ) else ""  # fmt: skip
    print(
        f"{summary['reward']['name']} seed{summary['seed']}{status}: "
        f"explicit_return={summary['explicit_return']:.3f} "
        f"task_score={summary['task_score']:.3f}  {shown}\n"
        f"  -> {summary.get('run_dir', run_dir)}",
        flush=True,
    )


def _one_line_warnings(message: Any, category: Any, *_: Any, **__: Any) -> None:
    print(f"incentives-train: warning: {message}", file=sys.stderr, flush=True)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    """Hydra entry point: one run per call, one call per job of a multirun."""
    from incentives.training import train

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    try:
        summary = train(config, run_dir)
    except (ValueError, OSError) as error:  # the errors a user's input can cause
        if os.environ.get("INCENTIVES_DEBUG"):
            raise
        print(f"incentives-train: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    _report(run_dir, summary)


def main() -> None:
    """Console entry point: check what Hydra would report at length, then run."""
    args = sys.argv[1:]
    informative = {"--help", "-h", "--hydra-help", "--info", "--cfg", "-c", "--version"}
    problem = unknown_choice(args, Path(config_dir()))
    if not problem and not informative & set(args):
        problem = unwritable_folder(args, Path.cwd())
    if problem:
        print(f"incentives-train: error: {problem}", file=sys.stderr)
        sys.exit(2)
    warnings.showwarning = _one_line_warnings
    _hydra_main()


if __name__ == "__main__":
    main()
