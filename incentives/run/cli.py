"""``incentives-train``: train one agent under one reward scheme (Hydra app).

    incentives-train env=qa reward=hedging_grid
    incentives-train -m reward=hedging_grid,binary,confidence_target seed=0,1,2
    incentives-train +experiment=qa_grid reward.wrong=-3

Each run writes ``runs/<experiment>/<env>/<reward>/seed<k>/``: the Hydra config,
TensorBoard events (``explicit/*``, ``task/*``, ``behaviour/*``, ``eval/*``), checkpoints,
``model.zip`` and ``summary.json``. The same command again resumes an interrupted run.
The config groups are ours joined by every installed plugin's (``incentives.run.configs``).
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

from incentives.run.configs import GROUPS, config_dir, group_options, join_plugin_configs

__all__ = [
    "GROUPS",
    "config_dir",
    "headline_metrics",
    "main",
    "unknown_choice",
    "unwritable_folder",
]

#: Hydra's own groups a user picks on the command line; plugins add their options.
HYDRA_GROUPS = ("hydra/launcher", "hydra/sweeper")


def _user_searchpath(args: list[str]) -> list[str]:
    """The folders a ``hydra.searchpath=[...]`` argument adds, if there is one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for arg in args:
        if arg.lstrip("+").startswith("hydra.searchpath="):
            try:
                value = OverridesParser.create().parse_override(arg).value()
            except HydraException:
                return []  # Hydra reports a malformed override itself
            return [str(v) for v in value] if isinstance(value, list) else []
    return []


def unknown_choice(args: list[str], conf: Path | None = None) -> str | None:
    """A one-line error for a config group option that does not exist, else ``None``.

    Hydra's own message for this is a multi-line report; ours names the value and the
    accepted options (ours, the installed plugins' and those on a ``hydra.searchpath``
    given in ``args``), as every user error of the CLI does.

    Example:
        >>> unknown_choice(["env=chezz"])
        "unknown env 'chezz'; accepted: chess, qa"
        >>> unknown_choice(["hydra/launcher=jobli"])[:40]
        "unknown hydra/launcher 'jobli'; accepted"
    """
    extra: list[str] | None = None
    for arg in args:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key not in (*GROUPS, *HYDRA_GROUPS):
            continue
        if any(c in value for c in "()[]'\"*"):
            continue  # a sweep expression (choice(...), glob(...), quoting): Hydra's to read
        if extra is None:
            extra = _user_searchpath(args)
        accepted = group_options(key, conf, extra)
        for choice in value.split(","):
            if choice.strip() and choice.strip() not in accepted:
                return f"unknown {key} {choice.strip()!r}; accepted: {', '.join(accepted)}"
    return None


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


def headline_metrics(summary: dict[str, Any]) -> tuple[str, ...]:
    """The headline metrics of a run's domain (none if that domain is not installed)."""
    from incentives.analysis.runs import domain_name
    from incentives.registry import load_domain

    name = domain_name(summary)
    try:
        domain = load_domain(name) if name else None
    except ValueError:
        domain = None
    if domain is None:
        return ()
    return domain.behaviour_type().names(headline=True)


def _report(run_dir: Path, summary: dict[str, Any]) -> None:
    """One line for the console: where the run is and what it learned."""
    b = summary["behaviour"]
    shown = "  ".join(
        f"{k}={b[k]:.3f}" for k in headline_metrics(summary) if isinstance(b.get(k), float)
    )
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
    from incentives.run.train import train

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
    try:
        join_plugin_configs()
        problem = unknown_choice(args)
    except ValueError as error:  # a plugin that declares its configs wrongly
        problem = str(error)
    if not problem and not informative & set(args):
        problem = unwritable_folder(args, Path.cwd())
    if problem:
        print(f"incentives-train: error: {problem}", file=sys.stderr)
        sys.exit(2)
    warnings.showwarning = _one_line_warnings
    _hydra_main()


if __name__ == "__main__":
    main()
