"""``incentives-train``: train one agent under one reward scheme (Hydra app).

    incentives-train env=qa reward=hedging_grid
    incentives-train -m reward=hedging_grid,binary,confidence_target seed=0,1,2
    incentives-train +experiment=qa_grid reward.wrong=-3

Each run writes ``runs/<experiment>/<env>/<reward>/seed<k>/``: the Hydra config,
TensorBoard events (``explicit/*``, ``task/*``, ``behaviour/*``, ``eval/*``), checkpoints,
``model.zip`` and ``summary.json``. The same command again resumes an interrupted run.
The config groups are ours joined by every installed plugin's (``incentives.run.configs``);
``incentives-train --schema`` lists every key, what it accepts and what it is for
(``incentives.run.schema``; also at the end of ``--help``).

Exit codes: a mistake the user can fix (a config key or value, a file or program the
config names, a run folder that cannot be resumed: ``user_fixable``) prints one line and
exits 2, before anything is written where the config is the cause (``INCENTIVES_DEBUG=1``
shows the traceback). Anything else is a bug: exit 1 with its traceback, which the run
folder's ``train.log`` keeps too.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from envs.chess.engine import EngineNotFoundError
from envs.chess.starts import FenFileError
from incentives.errors import UserError
from incentives.run.configs import GROUPS, config_dir, group_options, join_plugin_configs

__all__ = [
    "FILESYSTEM_FIXES",
    "GROUPS",
    "USER_FIXABLE",
    "config_dir",
    "config_problem",
    "filesystem_problem",
    "headline_metrics",
    "main",
    "unknown_choice",
    "unwritable_folder",
    "user_fixable",
]

#: The errors a user can fix besides the filesystem's (``FILESYSTEM_FIXES``). ``UserError``
#: is ours (``ConfigError``, ``ResumeError``, ``FolderBusyError``); ``envs`` cannot import
#: it, so its user-fixable errors are named here: a Stockfish binary that is not there, a
#: FEN file missing or empty.
USER_FIXABLE: tuple[type[BaseException], ...] = (
    UserError,
    EngineNotFoundError,
    FenFileError,
)

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
        >>> unknown_choice(["env=chezz"]).startswith("unknown env 'chezz'; accepted: chess, qa")
        True
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


#: Errors of the filesystem a user can fix, by errno, and what fixes each.
FILESYSTEM_FIXES: dict[int, str] = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "room within your disk quota",
    errno.EROFS: "a filesystem mounted writable (or another folder: hydra.run.dir=...)",
    errno.EACCES: "permission to write there (or another folder: hydra.run.dir=...)",
    errno.EPERM: "permission to write there (or another folder: hydra.run.dir=...)",
}


def filesystem_problem(error: BaseException, run_dir: Path) -> str | None:
    """The one-line message for a filesystem error the user can fix, else None.

    It names the file when the error does, else the run folder (a failed ``write()``
    names no file), and says that the last checkpoint survived: the run's writes are
    atomic, so the same command resumes once the cause is gone.

    Example:
        >>> full = OSError(errno.ENOSPC, "No space left on device")
        >>> filesystem_problem(full, Path("r")).split("; ")[0]
        "cannot write in 'r' (No space left on device)"
    """
    if not isinstance(error, OSError) or error.errno not in FILESYSTEM_FIXES:
        return None
    where = error.filename if error.filename is not None else run_dir
    return (
        f"cannot write in {str(where)!r} ({error.strerror or error}); accepted: "
        f"{FILESYSTEM_FIXES[error.errno]}, then the same command resumes from the run's "
        "last checkpoint"
    )


def _quiet_filesystem_errors_in_threads(args: threading.ExceptHookArgs) -> None:
    """Leave a filesystem error in a background thread to the run's own report.

    TensorBoard writes its events from a thread: a full disk kills that thread, and the
    writer raises the same error in the run at its next write, which reports it in one
    line; the thread's traceback would only repeat it. Anything else is printed as usual.
    """
    error = args.exc_value
    if isinstance(error, OSError) and error.errno in FILESYSTEM_FIXES:
        return
    threading.__excepthook__(args)


def user_fixable(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (one line, exit 2) rather than a bug (exit 1).

    Example:
        >>> from incentives.run.schema import ConfigError
        >>> user_fixable(ConfigError("seed='abc'; accepted: an integer")), user_fixable(
        ...     ValueError("logits contain NaN"))
        (True, False)
    """
    return isinstance(error, USER_FIXABLE) or (
        isinstance(error, OSError) and error.errno in FILESYSTEM_FIXES
    )


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _refuse(problem: str) -> NoReturn:
    print(f"incentives-train: error: {problem}", file=sys.stderr, flush=True)
    sys.exit(2)


def _log_to_files(message: str) -> None:
    """Log ``message`` and the exception being handled to the job's log files only (the
    console gets the traceback from Hydra): the run folder's ``train.log`` keeps it."""
    record = logging.LogRecord(__name__, logging.ERROR, __file__, 0, message, None, sys.exc_info())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    """Hydra entry point: one run per call, one call per job of a multirun."""
    from incentives.run.train import train

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
        summary = train(config, run_dir)
    except Exception as error:
        if user_fixable(error) and not os.environ.get("INCENTIVES_DEBUG"):
            _refuse(filesystem_problem(error, run_dir) or _one_line(error))
        _log_to_files("the run failed; the traceback follows")
        raise  # Hydra prints the traceback and exits 1
    _report(run_dir, summary)


#: Flags ``config_problem`` reads; with any other flag Hydra does the reading.
_RUN_FLAGS = ("-m", "--multirun")


def config_problem(args: list[str]) -> str | None:
    """The one-line error for the config that the command-line ``args`` compose, or None.

    Composes the config as Hydra will (its compose API; in a multirun, with the first
    value of each sweep) and plans the run (``plan_run``: the schema, then the classes
    that own a rule), so that a mistake is reported before Hydra makes a folder, and an
    override of a key that does not exist (Hydra's five-line report) is one line naming
    the closest keys. Arguments it cannot place (other flags, a sweep outside a
    multirun) are left to Hydra; a bug in the config's classes raises.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    from incentives.run.text import is_text_run, plan_text
    from incentives.run.train import plan_run

    if any(arg.startswith("-") and arg not in _RUN_FLAGS for arg in args):
        return None
    multirun = any(arg in _RUN_FLAGS for arg in args)
    overrides = [arg for arg in args if arg not in _RUN_FLAGS]
    parser = OverridesParser.create()
    first: list[str] = []
    for arg in overrides:
        try:
            (override,) = parser.parse_overrides([arg])
        except OverrideParseException as error:
            reason = str(error).splitlines()[0] if str(error) else "cannot be parsed"
            return f"{arg!r}: {reason}; accepted: key=value in Hydra's override grammar"
        if not override.is_sweep_override():
            first.append(arg)
            continue
        if not multirun:
            return None  # Hydra says a sweep needs --multirun
        try:
            value = next(iter(override.sweep_string_iterator()))
        except (HydraException, StopIteration, TypeError, ValueError):
            return None  # a glob or a range Hydra expands itself
        first.append(f"{override.get_key_element()}={value}")
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            try:
                cfg = compose("config", overrides=first)
            except HydraException as error:
                return _missing_key(error, first, compose)
            config = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "a value"
        reason = str(error).splitlines()[0]
        return f"{key} cannot be resolved ({reason}); accepted: a value, or ${{key}} of a key"
    try:
        plan = plan_text if is_text_run(config) else plan_run  # type: ignore[arg-type]
        plan(config)  # type: ignore[arg-type]
    except Exception as error:
        if user_fixable(error):
            if os.environ.get("INCENTIVES_DEBUG"):
                raise
            return _one_line(error)
        raise
    return None


def _missing_key(error: Exception, overrides: list[str], compose: Any) -> str | None:
    """Hydra's "Could not override 'key'" as one line naming the closest keys, else None
    (Hydra then reports what it found itself)."""
    from incentives.run.schema import unknown_key

    found = re.match(r"Could not override '([^']+)'", str(error))
    if not found or "+" + found.group(1) not in str(error):
        return None
    key = found.group(1)
    others = [o for o in overrides if o.lstrip("+~").partition("=")[0] != key]
    try:
        known = _paths(OmegaConf.to_container(compose("config", overrides=others)))
    except Exception:  # the config without it does not compose either: Hydra's to say
        return None
    if key in known:  # a known mapping given keys it does not have: replace it instead
        given = next((o for o in overrides if o.partition("=")[0] == key), key)
        return (
            f"{given}: a mapping from the command line can only set keys {key} already has; "
            f"accepted: '~{key}' '+{given}' to replace it, or '+{key}.<name>=...' to add one"
        )
    return unknown_key(key, known)


def _paths(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping."""
    if not isinstance(node, dict):
        return []
    paths = []
    for key, value in node.items():
        paths.append(f"{prefix}{key}")
        paths += _paths(value, f"{prefix}{key}.")
    return paths


def main() -> None:
    """Console entry point: check what Hydra would report at length, then run.

    ``--schema`` prints every config key, what it accepts and what it is for; ``--help``
    prints Hydra's help followed by the same.
    """
    from incentives.run.schema import describe

    args = sys.argv[1:]
    informative = {"--help", "-h", "--hydra-help", "--info", "--cfg", "-c", "--version"}
    warnings.showwarning = _one_line_warnings  # the check below builds the schemes: they warn
    threading.excepthook = _quiet_filesystem_errors_in_threads
    try:
        join_plugin_configs()
        if "--schema" in args:
            print(describe())
            return
        problem = unknown_choice(args)
    except ValueError as error:  # a plugin that declares its configs (or keys) wrongly
        problem = str(error)
    if not problem and not informative & set(args):
        problem = config_problem(args) or unwritable_folder(args, Path.cwd())
    if problem:
        _refuse(problem)
    if {"--help", "-h"} & set(args):
        try:
            _hydra_main()
        finally:
            print("\n== Settings ==\n" + describe(), flush=True)
        return
    try:
        _hydra_main()
    except ValueError as error:
        if not str(error).startswith("Only one of"):
            raise
        # Hydra's check of its own flags (e.g. -m with --cfg), raised before any run
        _refuse(f"{error}; accepted: one of them per command")


if __name__ == "__main__":
    main()
