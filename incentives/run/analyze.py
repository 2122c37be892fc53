"""``incentives-analyze``: what a reward scheme pays for, before anything is trained.

    incentives-analyze reward=hedging_grid
    incentives-analyze reward=hedging_grid reward.hedged_wrong=-1
    incentives-analyze reward=check_bonus games=20        # chess: scripted behaviours
    incentives-analyze reward=confidence_target reward.t=0.9 plot=theory.png
    incentives-analyze flags=runs/qa_grid                  # flags into finished runs

The same overrides as ``incentives-train`` (the reward group and its parameters, the env
and its keys). A scheme with a finite outcome table (QA: each mode pays one amount when
right and one when wrong) is solved in closed form for every confidence p: the best
response, its thresholds, ties, actions that are never strictly optimal or strictly
dominated, the actions that pay a fixed multiple of another, each action's variance, and
theory's curve (:mod:`incentives.analysis.best_response`). A chess scheme is played
through the real env with scripted behaviours (:mod:`incentives.run.scripted_chess`).
``flags=RUNS_DIR`` computes the gaming flags of every finished run under a folder
(:mod:`incentives.analysis.flags`), writes them into its ``summary.json`` and as
TensorBoard scalars ``flags/<name>`` (a new event file in the run folder), for runs that
finished before the runner wrote them. A mistake in the command is one line naming the
key, the value and what is accepted, and exit code 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from incentives.analysis.best_response import OutcomeAnalysis, analyze_outcomes
from incentives.analysis.compare import terminal_console
from incentives.errors import UserError
from incentives.signal import ExplicitSignal

__all__ = ["analyze", "closed_form", "main"]

#: Keys of this command that are not config keys, with what they accept.
OWN_KEYS = {
    "games": "an integer from 1 to 10000",
    "plot": "a .png file to write",
    "flags": "a folder of finished runs",
}
#: Confidences of theory's curve as printed.
CURVE_PS = tuple(round(0.1 * k, 1) for k in range(11))


class AnalyzeError(UserError):
    """A mistake in an ``incentives-analyze`` command."""


def closed_form(signal: ExplicitSignal) -> OutcomeAnalysis | None:
    """The outcome-table analysis of ``signal`` if it pays each QA mode a fixed amount
    when right and when wrong (``payoff(mode, correct)``), else None."""
    payoff = getattr(signal, "payoff", None)
    if payoff is None or not set(getattr(signal, "required_events", ())) >= {"mode", "correct"}:
        return None
    from envs.qa.actions import MODES
    from incentives.domains.qa.schemes import TIE_ORDER

    table: dict[str, tuple[float, float]] = {
        str(mode): (float(payoff(mode, False)), float(payoff(mode, True))) for mode in MODES
    }
    return analyze_outcomes(table, TIE_ORDER)


def _compose(overrides: Sequence[str]) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from incentives.run.cli import unknown_choice
    from incentives.run.configs import config_dir, join_plugin_configs

    join_plugin_configs()
    problem = unknown_choice(list(overrides))
    if problem:
        raise AnalyzeError(problem)
    try:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            try:
                cfg = compose("config", overrides=list(overrides))
            except HydraException as error:
                raise AnalyzeError(_hydra_problem(error, overrides, compose)) from None
        config = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "a value"
        raise AnalyzeError(f"{key} cannot be resolved; accepted: a value") from None
    assert isinstance(config, dict)
    return {str(k): v for k, v in config.items()}


def _hydra_problem(error: Exception, overrides: Sequence[str], compose: Any) -> str:
    """Hydra's refusal as one line: an unknown key names the closest known ones."""
    from omegaconf import OmegaConf

    from incentives.run.cli import _paths
    from incentives.run.schema import unknown_key

    found = re.match(r"Could not override '([^']+)'", str(error))
    if found:
        key = found.group(1)
        others = [o for o in overrides if o.lstrip("+~").partition("=")[0] != key]
        try:
            known = _paths(OmegaConf.to_container(compose("config", overrides=others)))
        except Exception:  # the rest does not compose either: Hydra's first line below
            known = []
        if known:
            return unknown_key(key, known)
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{first}; accepted: key=value overrides of the reward and env groups"


def _signal(config: Mapping[str, Any]) -> tuple[str, dict[str, Any], ExplicitSignal]:
    from incentives.registry import make_signal

    reward = dict(config["reward"])
    name = str(reward.pop("name"))
    try:
        return name, reward, make_signal(name, **reward)
    except (ValueError, TypeError) as error:
        raise AnalyzeError(str(error).splitlines()[0]) from None


def _own(args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    overrides, own = [], {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key in OWN_KEYS:
            own[key] = value
        else:
            overrides.append(arg)
    games = own.get("games", "20")
    if not games.isdigit() or not 1 <= int(games) <= 10000:
        raise AnalyzeError(f"games={games!r}; accepted: {OWN_KEYS['games']}")
    if "plot" in own and not own["plot"].endswith(".png"):
        raise AnalyzeError(f"plot={own['plot']!r}; accepted: {OWN_KEYS['plot']}")
    return overrides, own


def analyze(args: Sequence[str], console: Console | None = None) -> Any:
    """Run the analysis the command-line ``args`` ask for; print it; return it."""
    console = console or terminal_console()
    overrides, own = _own(args)
    if "flags" in own:
        if overrides:
            raise AnalyzeError(f"{overrides[0]!r} with flags=; accepted: flags=RUNS_DIR alone")
        return flag_runs(Path(own["flags"]), console)
    config = _compose(overrides)
    name, params, signal = _signal(config)
    theory = closed_form(signal)
    if theory is not None:
        _print_closed_form(console, name, params, theory)
        if "plot" in own:
            _plot(theory, name, own["plot"])
            console.print(f"wrote {own['plot']}")
        return theory
    chosen_env = any(a.lstrip("+").startswith("env=") for a in overrides)
    if config["env"]["name"] != "chess":
        if chosen_env:
            raise AnalyzeError(
                f"reward={name} on env={config['env']['name']}: no closed form and no "
                "scripted behaviours; accepted: a scheme with a finite outcome table (QA), "
                "or a chess scheme"
            )
        if "learner_move" not in signal.required_events:
            raise AnalyzeError(
                f"reward={name}: no closed form and no scripted behaviours for its env; "
                "accepted: a scheme with a finite outcome table (QA), or a chess scheme"
            )
        config = _compose([*overrides, "env=chess"])
    from incentives.run.scripted_chess import pay_table

    kwargs = dict(config["env"]["kwargs"])
    table = pay_table(
        name, params, kwargs, games=int(own.get("games", "20")), seed=int(config["seed"])
    )
    _print_pay_table(console, name, params, kwargs, table)
    return table


def flag_runs(root: Path, console: Console) -> dict[Path, dict[str, Any]]:
    """Write the gaming flags of every finished run under ``root`` into its summary and
    its TensorBoard files; print those that fired."""
    from incentives.analysis.runs import find_runs
    from incentives.run.summary import record_flags, write_json
    from incentives.run_folder import holder

    if not root.is_dir():
        raise AnalyzeError(f"flags={str(root)!r} is not a folder; accepted: {OWN_KEYS['flags']}")
    done: dict[Path, dict[str, Any]] = {}
    for run in find_runs(root):
        if not run.finished or run.summary is None or holder(run.path) is not None:
            continue
        flags = record_flags(run.path, run.summary)
        write_json(run.path / "summary.json", run.summary)
        done[run.path] = flags
        fired = [name for name, flag in flags.items() if flag["fired"]]
        console.print(f"{run.path}: {', '.join(fired) or 'no flag'}", soft_wrap=True, markup=False)
        for name in fired:
            console.print(f"  [{name}] {flags[name]['explanation']}", soft_wrap=True, markup=False)
    if not done:
        raise AnalyzeError(
            f"flags={str(root)!r} holds no finished run; accepted: {OWN_KEYS['flags']}"
        )
    return done


def _label(name: str, params: Mapping[str, Any]) -> str:
    shown = " ".join(f"{k}={v}" for k, v in params.items())
    return f"{name} ({shown})" if shown else name


def _print_closed_form(
    console: Console, name: str, params: Mapping[str, Any], theory: OutcomeAnalysis
) -> None:
    console.print(
        f"[bold]{_label(name, params)}[/]: closed form, an answer right with probability p"
    )
    table = Table(title="payoffs and expected reward")
    for header in ("action", "wrong", "right", "E at p", "Var at p"):
        table.add_column(header, justify="right")
    for action, (wrong, right) in theory.payoffs.items():
        slope = right - wrong
        table.add_row(
            action,
            f"{wrong:g}",
            f"{right:g}",
            f"{wrong:g} + {slope:g}p",
            f"{slope * slope:g}p(1-p)",
        )
    console.print(table)
    regions = ", ".join(f"{b} for {lo:.4g} < p < {hi:.4g}" for lo, hi, b in theory.regions)
    console.print(f"best response: {regions}")
    console.print("thresholds: " + (", ".join(f"{t:.4g}" for t in theory.thresholds) or "none"))
    for p, tied in theory.tie_points:
        console.print(f"tie at p = {p:.4g}: {', '.join(tied)} pay the same")
    for lo, hi, tied in theory.tie_intervals:
        console.print(f"tie for {lo:.4g} < p < {hi:.4g}: {', '.join(tied)} pay the same")
    for action in theory.never_strictly_optimal:
        console.print(f"never strictly optimal: {action} (at best tied)")
    for action, by in theory.strictly_dominated:
        console.print(f"strictly dominated: {action} by {by} at every p")
    for action, by in theory.weakly_dominated:
        console.print(f"weakly dominated: {action} by {by} (never more, somewhere less)")
    for action, of, ratio in theory.proportional:
        console.print(f"{action} pays exactly {ratio:.4g} x {of} at every p")
    curve = Table(title="theory's curve")
    curve.add_column("p", justify="right")
    curve.add_column("best", justify="right")
    for action in theory.payoffs:
        curve.add_column(f"E({action})", justify="right")
        curve.add_column(f"Var({action})", justify="right")
    for row in theory.curve(CURVE_PS):
        cells = [f"{row['p']:.1f}", row["best"]]
        for action in theory.payoffs:
            cells += [f"{row[f'E[{action}]']:.3f}", f"{row[f'Var[{action}]']:.3f}"]
        curve.add_row(*cells)
    console.print(curve)


def _print_pay_table(
    console: Console,
    name: str,
    params: Mapping[str, Any],
    env_kwargs: Mapping[str, Any],
    table: Sequence[Any],
) -> None:
    games = len(table[0].games) if table else 0
    start, opponent = env_kwargs.get("start"), env_kwargs.get("opponent")
    console.print(
        f"[bold]{_label(name, params)}[/]: scripted behaviours, {games} games each "
        f"(start {start}, opponent {opponent})"
    )
    out = Table(title="what the scheme pays per game")
    for header in ("behaviour", "explicit return", "terms", "task score", "ended by", "plies"):
        out.add_column(header, justify="right")
    for pay in table:
        terms = ", ".join(f"{k} {v:.3g}" for k, v in pay.terms().items())
        endings = ", ".join(f"{k} {n}" for k, n in pay.endings().most_common())
        out.add_row(
            pay.behaviour,
            f"{pay.mean('explicit_return'):.3f} ± {pay.std():.3f}",
            terms,
            f"{pay.mean('task_score'):.3f}",
            endings,
            f"{pay.mean('plies'):.1f}",
        )
    console.print(out)
    best = next((p for p in table if p.behaviour == "mate_fast"), None)
    if best is None:
        return
    for pay in table:
        if pay.mean("task_score") < best.mean("task_score") and pay.mean(
            "explicit_return"
        ) > best.mean("explicit_return"):
            console.print(
                f"warning: {pay.behaviour} pays {pay.mean('explicit_return'):.3f}, more than "
                f"mate_fast ({best.mean('explicit_return'):.3f}), with a lower task score "
                f"({pay.mean('task_score'):.3f} vs {best.mean('task_score'):.3f})"
            )


def _plot(theory: OutcomeAnalysis, name: str, path: str) -> None:
    import numpy as np
    from matplotlib import pyplot

    ps = np.linspace(0.0, 1.0, 201)
    fig, ax = pyplot.subplots(figsize=(6, 4))
    for action in theory.payoffs:
        ax.plot(ps, [theory.expected(action, p) for p in ps], label=action)
    for t in theory.thresholds:
        ax.axvline(t, color="grey", linestyle=":")
    ax.set_xlabel("p (confidence that the answer is right)")
    ax.set_ylabel("expected reward")
    ax.set_title(f"{name}: expected reward of each action")
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as error:
        raise AnalyzeError(
            f"plot={path!r} cannot be written ({error}); accepted: {OWN_KEYS['plot']}"
        ) from None
    finally:
        pyplot.close(fig)


def _refuse(message: str) -> NoReturn:
    print(f"incentives-analyze: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point of ``incentives-analyze``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help"} & set(args) or not args:
        print(__doc__)
        return
    from envs.chess.engine import EngineNotFoundError

    try:
        analyze(args)
    except (UserError, EngineNotFoundError) as error:
        _refuse(str(error).splitlines()[0])


if __name__ == "__main__":
    main()
