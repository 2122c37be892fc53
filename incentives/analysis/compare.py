"""``incentives-compare RUNS_DIR``: what each reward scheme induced, across seeds.

Finds the runs under a folder (a Hydra multirun or any tree of run folders), groups them
by scheme and by any other config key that varies, aggregates the final metrics across
seeds (mean, interquartile mean, 95% bootstrap interval) and shows them next to what the
scheme's theory predicts. Writes ``comparison.md``, ``comparison.csv`` and PNG plots into
the folder. When the runs span several network sizes (a scale sweep), it also draws the
emergence curves, each behaviour metric against parameters and against compute, and
writes their points to ``emergence.csv``. When the runs logged periodic evaluations, it
draws each scheme's compute frontier (:mod:`incentives.analysis.frontier`: the best score
its runs reached at each compute, sizes and budgets pooled), where the schemes cross, and
the compute at which each reaches a target score: ``frontier*.csv``, a section of
``comparison.md`` and ``frontier_<metric>_vs_<axis>.png``.

It ends with the gaming flags (:mod:`incentives.analysis.flags`): per group, whether the
explicit return rose while the intended metric did not (goodhart), one term earned the
return (farming), the policy settled on one mode (collapse), and, across groups, a
scheme that pays more than the intended one for a lower task score (beats_intended).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from incentives.analysis import emergence
from incentives.analysis import flags as gaming
from incentives.analysis import frontier as frontier_analysis
from incentives.analysis.aggregate import Estimate, estimate
from incentives.analysis.runs import domain_name, find_runs, group_runs, runs_behaviour
from incentives.behaviour import Behaviour

__all__ = ["Comparison", "FrontierOptions", "compare", "main"]

#: The two views every run has, before its domain's behaviour metrics, and their headers.
VIEWS = {"explicit_return": "explicit", "task_score": "task"}
#: Learning curves drawn for every env (progress.csv columns).
CURVES = ("explicit/return", "task/score")


@dataclass(frozen=True)
class FrontierOptions:
    """What the frontier section draws: its metrics (none: the domain's default, see
    :func:`frontier.default_metric`), the target scores of intrinsic performance (none:
    ``frontier.TARGET_LEVELS`` of the way from worst to best) and the x-axis."""

    metrics: tuple[frontier_analysis.FrontierMetric, ...] = ()
    targets: tuple[float, ...] = ()
    axis: frontier_analysis.Axis = "compute"


class Comparison:
    """The grouped runs of a folder and their across-seed estimates."""

    def __init__(
        self,
        root: Path,
        intended: gaming.Intended | None = None,
        intended_scheme: str | None = None,
        frontier: FrontierOptions | None = None,
    ) -> None:
        self.root = root
        self.frontier_options = frontier or FrontierOptions()
        self._frontiers: dict[str, frontier_analysis.Frontier] | None = None
        #: What the flags take as intended: a metric, and the scheme that pays for it
        #: (None: the domain's, see ``incentives.analysis.flags``).
        self.intended, self.intended_scheme = intended, intended_scheme
        self._flags: list[gaming.Flag] | None = None
        self.runs = find_runs(root)
        #: Runs whose folder a process is writing (its lock held): left out, not read.
        self.running = [r for r in self.runs if r.running]
        #: Runs without a summary that nobody is writing: crashed or stopped.
        self.unfinished = [r for r in self.runs if not r.finished and not r.running]
        self.groups = group_runs(self.runs)
        finished = [r.summary for r in self.runs if r.summary]
        envs = {str(s.get("env")) for s in finished}
        self.env = envs.pop() if len(envs) == 1 else "mixed"
        #: The runs' domain's behaviour collector; None for runs of several domains or of
        #: one that is not installed here (then every numeric metric is a column).
        self.behaviour: type[Behaviour] | None = runs_behaviour(self.runs)
        self.metrics = (*VIEWS, *self._behaviour_keys(finished))
        self._emergence: dict[tuple[str, str], dict[str, list[emergence.Point]]] | None = None

    def _behaviour_keys(self, summaries: Sequence[dict[str, Any]]) -> tuple[str, ...]:
        if self.behaviour is not None:
            return self.behaviour.names(compared=True)
        keys = {
            k
            for s in summaries
            for k, v in s.get("behaviour", {}).items()
            if "/" not in k and isinstance(v, (int, float))
        }
        return tuple(sorted(keys))

    def _header(self, metric: str) -> str:
        declared = self.behaviour.headers() if self.behaviour is not None else {}
        return VIEWS.get(metric) or declared.get(metric, metric)

    def estimates(self) -> dict[str, dict[str, Estimate]]:
        """Each group's estimate of each metric."""
        return {
            label: {m: estimate([r.metric(m) for r in runs]) for m in self.metrics}
            for label, runs in self.groups.items()
        }

    def theory(self, label: str) -> dict[str, Any]:
        """The scheme's theory as the group's first run recorded it."""
        summary = self.groups[label][0].summary or {}
        return dict(summary.get("theory", {}))

    def cells(self) -> tuple[list[str], dict[str, list[str]]]:
        """The column headers and each group's cells: n, each metric's estimate, and
        theory's thresholds and optimal reward when some group has a theory."""
        headers = ["n", *(self._header(m) for m in self.metrics)]
        has_theory = any(self.theory(g) for g in self.groups)
        if has_theory:
            headers += ["theory: thresholds", "theory: optimal reward"]
        rows: dict[str, list[str]] = {}
        for label, row in self.estimates().items():
            cells = [str(len(self.groups[label])), *(str(row[m]) for m in self.metrics)]
            if has_theory:
                theory = self.theory(label)
                cells.append(", ".join(f"{t:.3f}" for t in theory.get("thresholds", [])) or "–")
                optimal = theory.get("optimal_reward")
                cells.append(f"{optimal:.3f}" if isinstance(optimal, float) else "–")
            rows[label] = cells
        return headers, rows

    def _title(self) -> str:
        return f"Comparison of {self.root} ({len(self.groups)} groups)"

    def table(
        self,
        columns: Sequence[int] | None = None,
        title: str | None = None,
        group_width: int | None = None,
    ) -> Table:
        """A rich table with one row per group, theory beside the learned values;
        ``columns`` picks some of :meth:`cells`' columns (by index), the group's label and
        n always shown; labels longer than ``group_width`` are wrapped."""
        headers, rows = self.cells()
        picked = [0, *(c for c in columns if c != 0)] if columns else range(len(headers))
        table = Table(title=self._title() if title is None else title)
        table.add_column("group", overflow="fold", max_width=group_width)
        for c in picked:
            table.add_column(headers[c], justify="right", no_wrap=True)
        for label, cells in rows.items():
            table.add_row(label, *(cells[c] for c in picked))
        return table

    def transposed(self) -> Table:
        """A rich table with one column per group and one row per metric (and theory's);
        group labels are broken at ``/`` and spaces."""
        headers, rows = self.cells()
        table = Table(title=self._title())
        table.add_column("metric")
        for label in rows:
            parts = label.replace("/", "/\n").replace(" ", "\n")
            table.add_column(parts, justify="right", no_wrap=True)
        for c, header in enumerate(headers):
            table.add_row(header, *(cells[c] for cells in rows.values()))
        return table

    def tables(self, width: int) -> list[Table]:
        """The comparison as tables no wider than ``width`` columns (a terminal's).

        One row per group when that fits; else one column per group (metrics as rows)
        when that fits; else the metrics split over several tables of one row per
        group, each beginning with the group's label and n.
        """
        wide = self.table()
        if _width(wide) <= width:
            return [wide]
        transposed = self.transposed()
        if _width(transposed) <= width:
            return [transposed]
        headers, rows = self.cells()
        cap = max(16, width * 2 // 5)
        group_width = cap if max(map(len, rows)) > cap else None
        chunks: list[list[int]] = []
        for c in range(1, len(headers)):
            if chunks and _width(self.table([*chunks[-1], c], "", group_width)) <= width:
                chunks[-1].append(c)
            else:
                chunks.append([c])
        return [
            self.table(
                chunk, None if k == 0 else f"(continued, {k + 1}/{len(chunks)})", group_width
            )
            for k, chunk in enumerate(chunks)
        ]

    def write_csv(self, path: Path) -> None:
        """One row per group: n, and mean, IQM, low and high of each metric."""
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            header = ["group", "n"]
            for m in self.metrics:
                header += [f"{m}_mean", f"{m}_iqm", f"{m}_low", f"{m}_high"]
            out.writerow([*header, "theory_thresholds", "theory_optimal_reward"])
            for label, row in self.estimates().items():
                cells: list[Any] = [label, len(self.groups[label])]
                for m in self.metrics:
                    e = row[m]
                    cells += [e.mean, e.iqm, e.low, e.high]
                theory = self.theory(label)
                thresholds = " ".join(f"{t:.6g}" for t in theory.get("thresholds", []))
                out.writerow([*cells, thresholds, theory.get("optimal_reward", "")])

    def write_markdown(self, path: Path, plots: Sequence[Path]) -> None:
        """The comparison as a Markdown report with its plots."""
        lines = [
            f"# Comparison of `{self.root}`",
            "",
            "Final deterministic evaluation of each run; per group: the mean over seeds and "
            "its 95% bootstrap interval [low, high]; n is the number of seeds.",
            "",
        ]
        header = ["group", "n", *self.metrics, "theory: thresholds"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for label, row in self.estimates().items():
            thresholds = self.theory(label).get("thresholds", [])
            cells = [label, str(len(self.groups[label])), *(str(row[m]) for m in self.metrics)]
            cells.append(", ".join(f"{t:.3f}" for t in thresholds) or "–")
            lines.append("| " + " | ".join(cells) + " |")
        lines += self._emergence_markdown()
        for frontier in self.frontiers().values():
            figure = self._frontier_png(frontier)
            shown = figure if any(p.name == figure for p in plots) else None
            lines += frontier_analysis.markdown(frontier, self.targets(frontier), shown)
        lines += self.flags_markdown()
        if self.running:
            lines += ["", "Left out, running (being written by a process):", ""]
            lines += [f"- `{r.path}` ({r.holder})" for r in self.running]
        if self.unfinished:
            lines += ["", "Left out (no summary.json: crashed or stopped):", ""]
            lines += [f"- `{r.path}`" for r in self.unfinished]
        rest = [p for p in plots if not p.name.startswith("frontier_")]  # shown in their section
        lines += ["", *(f"![{p.stem}]({p.name})" for p in rest), ""]
        path.write_text("\n".join(lines))

    def write_plots(self) -> list[Path]:
        """Learning curves, QA answering against p*, chess endings: the PNGs written."""
        from matplotlib import pyplot

        from incentives.analysis import plots

        written: list[Path] = []

        def save(fig: Any, name: str) -> None:
            path = self.root / name
            fig.savefig(path, dpi=110)
            pyplot.close(fig)
            written.append(path)

        all_curves = {label: [r.curves() for r in runs] for label, runs in self.groups.items()}
        for metric in CURVES:
            series = {
                label: [c[metric] for c in curves if metric in c]
                for label, curves in all_curves.items()
            }
            if any(series.values()):
                save(plots.curves_figure(series, metric), f"curve_{metric.replace('/', '_')}.png")
        if self.behaviour is not None:
            results = {
                label: ([(r.summary or {}).get("behaviour", {}) for r in runs], self.theory(label))
                for label, runs in self.groups.items()
            }
            for stem, figure in self.behaviour.comparison_figures(results).items():
                save(figure, f"{stem}.png")
        for (metric, axis), lines in self.emergence().items():
            points = {
                label: [(p.x, p.parameters, p.estimate) for p in pts]
                for label, pts in lines.items()
            }
            figure = plots.emergence_figure(points, metric, axis, self._reference(metric))
            save(figure, f"emergence_{metric.replace('/', '_')}_vs_{axis}.png")
        for frontier in self.frontiers().values():
            figure = frontier_analysis.frontier_figure(frontier, self.targets(frontier))
            save(figure, self._frontier_png(frontier))
        return written

    def frontiers(self) -> dict[str, frontier_analysis.Frontier]:
        """The compute (or wall-time) frontiers of the asked metrics, by metric name;
        without ``--frontier``, the domain's default metric where two lines (schemes) or
        more have evaluations of it. A metric asked for that no run evaluated is a
        ValueError."""
        if self._frontiers is None:
            options = self.frontier_options
            domains = {domain_name(r.summary) for r in self.runs if r.summary is not None}
            domain = domains.pop() if len(domains) == 1 else None
            found: dict[str, frontier_analysis.Frontier] = {}
            for metric in options.metrics or (frontier_analysis.default_metric(domain),):
                lines = frontier_analysis.lines_from_runs(self.runs, metric, options.axis)
                # unasked, a frontier is drawn where schemes can cross: two lines or more
                if len(lines) >= (1 if options.metrics else 2):
                    found[metric.name] = frontier_analysis.Frontier(metric, options.axis, lines)
                elif options.metrics:
                    raise ValueError(self._no_curve(metric))
            self._frontiers = found
        return self._frontiers

    def _no_curve(self, metric: frontier_analysis.FrontierMetric) -> str:
        """The error line for a ``--frontier`` metric no finished run has points of."""
        first = next((r for r in self.runs if r.finished), None)
        known = sorted((first.summary or {}).get("behaviour", {})) if first else []
        known = ["task_score", "explicit_return", *(k for k in known if "/" not in k)]
        where = (
            "TensorBoard events with wall times" if self.frontier_options.axis == "wall"
            else "a parameter count in summary.json's scale"
        )  # fmt: skip
        return (
            f"--frontier {metric.name!r}: no finished run under {str(self.root)!r} has "
            f"evaluations {metric.tag('<set>')} with {where}; accepted: a metric the runs "
            f"evaluated, e.g. {', '.join(known[:8])}"
        )

    def targets(self, frontier: frontier_analysis.Frontier) -> list[float]:
        """The target scores of intrinsic performance: ``--target``, else the defaults."""
        return list(self.frontier_options.targets) or frontier.default_targets()

    @staticmethod
    def _frontier_png(frontier: frontier_analysis.Frontier) -> str:
        return f"frontier_{frontier.metric.stem}_vs_{frontier.axis}.png"

    def write_frontier_csv(self) -> list[Path]:
        """``frontier.csv`` (each scheme's frontier on the grid), ``frontier_crossovers.csv``
        and ``frontier_targets.csv``: the paths written, none without frontiers."""
        found = self.frontiers()
        if not found:
            return []
        tables: dict[str, tuple[tuple[str, ...], list[list[Any]]]] = {
            "frontier.csv": (frontier_analysis.CSV_COLUMNS, []),
            "frontier_crossovers.csv": (frontier_analysis.CROSSOVER_COLUMNS, []),
            "frontier_targets.csv": (frontier_analysis.TARGET_COLUMNS, []),
        }
        for frontier in found.values():
            tables["frontier.csv"][1].extend(frontier_analysis.csv_rows(frontier))
            tables["frontier_crossovers.csv"][1].extend(frontier_analysis.crossover_rows(frontier))
            rows = frontier_analysis.target_rows(frontier, self.targets(frontier))
            tables["frontier_targets.csv"][1].extend(rows)
        written = []
        for name, (header, rows) in tables.items():
            path = self.root / name
            with path.open("w", newline="") as handle:
                out = csv.writer(handle)
                out.writerow(header)
                out.writerows(rows)
            written.append(path)
        return written

    def flags(self) -> list[gaming.Flag]:
        """Every gaming flag of every group (fired or quiet), then the groups that beat
        the intended scheme on its own terms."""
        if self._flags is None:
            found: list[gaming.Flag] = []
            for label, runs in self.groups.items():
                found += gaming.group_flags(label, runs, self.intended)
            found += gaming.beats_intended(self.groups, self.intended_scheme)
            self._flags = found
        return self._flags

    def flags_markdown(self) -> list[str]:
        """The flags section of ``comparison.md``: those that fired, then the quiet ones."""
        flags = self.flags()
        if not flags:
            return []
        lines = [
            "",
            "## Gaming flags",
            "",
            "What the reward taught that nobody wanted (tests at the 5% level; "
            "incentives.analysis.flags says how each is computed).",
            "",
            "| flag | group | fired | metric | evidence |",
            "|---|---|---|---|---|",
        ]
        for flag in sorted(flags, key=lambda f: not f.fired):
            text = flag.explanation.replace("|", "/")
            lines.append(
                f"| {flag.name} | {flag.run} | {'yes' if flag.fired else 'no'} | "
                f"{flag.metric} | {text} |"
            )
        return lines

    def emergence(self) -> dict[tuple[str, str], dict[str, list[emergence.Point]]]:
        """The emergence curves: per (metric, axis), each line's points; empty without a
        scale sweep (runs of one network size have no curve against parameters)."""
        if self._emergence is None:
            self._emergence = {}
            for metric in emergence.emergence_metrics(self.behaviour, self.runs):
                for axis in emergence.AXES:
                    lines = emergence.curves(self.runs, metric, axis)
                    if lines:
                        self._emergence[(metric, axis)] = lines
        return self._emergence

    def _reference(self, metric: str) -> tuple[float, str] | None:
        """Theory's value of ``metric`` (and whose), from the domain, given each scheme's
        theory as its groups recorded it."""
        if self.behaviour is None:
            return None
        theories = {
            str(runs[0].config.get("reward.name")): self.theory(label)
            for label, runs in self.groups.items()
        }
        return self.behaviour.reference(metric, theories)

    def write_emergence_csv(self, path: Path) -> bool:
        """The emergence curves' points, one row per (metric, axis, line, x); False if none."""
        curves = self.emergence()
        if not curves:
            return False
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["metric", "axis", "line", "x", "n", "mean", "iqm", "low", "high"])
            for (metric, axis), lines in curves.items():
                for label, points in lines.items():
                    for p in points:
                        e = p.estimate
                        out.writerow([metric, axis, label, p.x, e.n, e.mean, e.iqm, e.low, e.high])
        return True

    def _emergence_markdown(self) -> list[str]:
        """A table per line of the scale sweep: each metric at each parameter count."""
        curves = {m: lines for (m, axis), lines in self.emergence().items() if axis == "parameters"}
        if not curves:
            return []
        lines = [
            "",
            "## Emergence: behaviour against network size",
            "",
            "Mean over seeds [95% bootstrap interval] at each parameter count; the plots "
            "below also draw each metric against compute (parameters × env steps).",
            "",
        ]
        labels = sorted({label for by_line in curves.values() for label in by_line})
        metrics = list(curves)
        lines += ["| line | parameters | " + " | ".join(metrics) + " |"]
        lines += ["|" + "---|" * (len(metrics) + 2)]
        for label in labels:
            xs = sorted({p.x for by_line in curves.values() for p in by_line.get(label, [])})
            for x in xs:
                cells = []
                for metric in metrics:
                    found = [p for p in curves[metric].get(label, []) if p.x == x]
                    cells.append(str(found[0].estimate) if found else "–")
                lines.append(f"| {label} | {int(x):,} | " + " | ".join(cells) + " |")
        return lines


def _width(table: Table) -> int:
    """The columns ``table`` takes when nothing in it is wrapped."""
    console = Console(width=100_000, file=io.StringIO())
    return console.measure(table).maximum


def compare(
    root: Path,
    console: Console | None = None,
    intended: gaming.Intended | None = None,
    intended_scheme: str | None = None,
    frontier: FrontierOptions | None = None,
) -> Comparison:
    """Compare the runs under ``root``: print the table, the crossovers of the frontiers
    and the gaming flags, write the report files."""
    console = console or terminal_console()
    if not root.is_dir():
        raise ValueError(f"RUNS_DIR {str(root)!r} is not a folder; accepted: a folder of runs")
    comparison = Comparison(root, intended, intended_scheme, frontier)
    for run in comparison.running:
        console.print(f"left out, running ({run.holder}): {run.path}", soft_wrap=True)
    for run in comparison.unfinished:
        console.print(f"left out, no summary.json (crashed or stopped): {run.path}", soft_wrap=True)
    if not comparison.groups:
        running = f" ({len(comparison.running)} still running)" if comparison.running else ""
        raise ValueError(
            f"RUNS_DIR {str(root)!r} holds no finished run{running}; accepted: a folder with "
            "run folders that have a summary.json (written by incentives-train)"
        )
    found = comparison.frontiers()  # a --frontier metric no run evaluated stops here
    for table in comparison.tables(console.width):
        console.print(table)
    for name, line in found.items():
        for c in line.crossovers():
            crossing = 1.0 - c.no_crossover
            where = "" if c.low is None else f", 95% interval [{c.low:.3g}, {c.high:.3g}]"
            console.print(
                f"frontier {name} against {line.axis}: "
                f"{frontier_analysis.crossover_text(c, line.axis)}; {crossing:.0%} of "
                f"{c.resamples} resamples over seeds cross{where}",
                markup=False,
            )
    fired = [f for f in comparison.flags() if f.fired]
    console.print(f"gaming flags: {len(fired)} fired of {len(comparison.flags())}", soft_wrap=True)
    for flag in fired:
        console.print(flag.line(), soft_wrap=True, markup=False)
    plots = comparison.write_plots()
    comparison.write_csv(root / "comparison.csv")
    comparison.write_markdown(root / "comparison.md", plots)
    console.print(f"wrote {root / 'comparison.md'} and {root / 'comparison.csv'}", soft_wrap=True)
    if comparison.write_emergence_csv(root / "emergence.csv"):
        console.print(f"wrote {root / 'emergence.csv'}", soft_wrap=True)
    for path in comparison.write_frontier_csv():
        console.print(f"wrote {path}", soft_wrap=True)
    for path in plots:
        console.print(f"wrote {path}", soft_wrap=True)
    return comparison


def terminal_console() -> Console:
    """A console as wide as the terminal; 100 columns when the output is not a terminal
    (a file, a CI log) and ``COLUMNS`` does not say."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(width=100)
    return console


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point of ``incentives-compare``."""
    parser = argparse.ArgumentParser(
        prog="incentives-compare",
        description="Compare the runs under a folder: schemes side by side, across seeds.",
    )
    parser.add_argument("runs_dir", type=Path, help="a folder of runs, e.g. runs/qa_grid")
    parser.add_argument(
        "--intended",
        metavar="METRIC[:down]",
        help="the logged metric the reward is meant to improve, for the goodhart flag "
        "(default: the domain's; chess task/score, QA behaviour/hallucination_rate:down)",
    )
    parser.add_argument(
        "--intended-scheme",
        metavar="SCHEME",
        help="the scheme that pays for what is wanted, for beats_intended "
        "(default: chess sparse_win, QA binary)",
    )
    parser.add_argument(
        "--frontier",
        metavar="METRIC[:down]",
        action="append",
        default=[],
        help="an evaluation metric to draw each scheme's frontier of (best so far against "
        "compute, sizes and budgets pooled), ':down' if lower is better; repeatable "
        "(default: the domain's; QA hallucination_rate:down, chess task_score, text "
        "exact_mean)",
    )
    parser.add_argument(
        "--target",
        metavar="X",
        action="append",
        default=[],
        help="a score whose least compute to reach is reported per scheme; repeatable "
        "(default: 50%% and 80%% of the way from the worst value evaluated to the best)",
    )
    parser.add_argument(
        "--axis",
        metavar="compute|wall",
        default="compute",
        help="the frontiers' x-axis: compute (parameters × env steps, the default) or "
        "wall (seconds since each run's first TensorBoard event)",
    )
    args = parser.parse_args(argv)
    try:
        intended = gaming.parse_intended(args.intended) if args.intended else None
        options = FrontierOptions(
            tuple(frontier_analysis.parse_metric(m) for m in args.frontier),
            tuple(frontier_analysis.parse_target(t) for t in args.target),
            frontier_analysis.parse_axis(args.axis),
        )
        compare(
            args.runs_dir,
            intended=intended,
            intended_scheme=args.intended_scheme,
            frontier=options,
        )
    except ValueError as error:
        print(f"incentives-compare: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
