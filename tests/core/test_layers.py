"""The layers of the code, checked from its import statements.

Dependencies point one way (docs/architecture.md): ``envs`` import nothing of ours; the
scheme core (``incentives``' own modules) only itself; ``agents`` the core and the envs'
action layouts; the analysis the core; a domain the core, the envs and the analysis'
plots and statistics, never another domain; the runner (``incentives.run``) anything.
Every import counts, also one inside a function: it is a dependency all the same. And
the scheme core must cost what Gymnasium costs: no torch on ``import incentives``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("incentives", "envs", "agents")

#: What each layer may import, besides itself.
ALLOWED: dict[str, set[str]] = {
    "envs": set(),
    "core": set(),
    "agents": {"core", "envs"},
    "analysis": {"core"},
    "domain": {"core", "envs", "analysis"},
    "run": {"core", "envs", "agents", "analysis", "domain"},
}


def layer(module: str) -> str:
    """The layer a module of ours belongs to.

    Example:
        >>> layer("incentives.registry"), layer("incentives.domains.qa.schemes")
        ('core', 'domain')
    """
    parts = module.split(".")
    if parts[0] in ("envs", "agents"):
        return parts[0]
    if len(parts) > 1 and parts[1] == "domains":
        return "domain"
    if len(parts) > 1 and parts[1] in ("analysis", "run"):
        return parts[1]
    return "core"


def domain_of(module: str) -> str | None:
    """The domain a module belongs to (``incentives.domains.<name>...``), if any."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "domains" else None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of our packages under ``root``, by dotted name."""
    return {
        module_name(path, root): path
        for package in PACKAGES
        if (root / package).is_dir()
        for path in sorted((root / package).rglob("*.py"))
    }


def imports(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """The modules of ours that the file imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                yield target


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports."""
    found = modules(root)
    known = set(found)
    return {name: set(imports(path, name, known)) for name, path in found.items()}


def back_edges(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go against the layers, or from one domain into another."""
    wrong = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = layer(source), layer(target)
            if a != b and b not in ALLOWED[a]:
                wrong.append(f"{source} ({a}) imports {target} ({b})")
            elif (
                a == b == "domain" and domain_of(source) != domain_of(target) and domain_of(target)
            ):
                wrong.append(f"{source} imports another domain's {target}")
    return wrong


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles between modules (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_goes_against_the_layers() -> None:
    graph = import_graph(ROOT)
    assert len(graph) > 50  # the scan sees the code
    assert back_edges(graph) == []


def test_no_import_circle_between_modules() -> None:
    assert circles(import_graph(ROOT)) == []


def test_the_checks_catch_a_back_edge_and_a_circle(tmp_path: Path) -> None:
    """The checks fail where they should: a tree with a back-edge and a circle."""
    for module, text in {
        "envs/__init__.py": "",
        "envs/world.py": "def make():\n    from incentives.domains.toy import rules\n",
        "incentives/__init__.py": "",
        "incentives/signal.py": "from incentives import registry\n",
        "incentives/registry.py": "import incentives.signal\n",
        "incentives/domains/__init__.py": "",
        "incentives/domains/toy/__init__.py": "",
        "incentives/domains/toy/rules.py": "from incentives.domains.other import x\n",
        "incentives/domains/other/__init__.py": "",
        "incentives/domains/other/x.py": "from ..toy import rules\n",
    }.items():
        path = tmp_path / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    graph = import_graph(tmp_path)
    assert back_edges(graph) == [
        "envs.world (envs) imports incentives.domains.toy.rules (domain)",
        "incentives.domains.other.x imports another domain's incentives.domains.toy.rules",
        "incentives.domains.toy.rules imports another domain's incentives.domains.other.x",
    ]
    assert sorted(circles(graph)) == [
        ["incentives.domains.other.x", "incentives.domains.toy.rules"],
        ["incentives.registry", "incentives.signal"],
    ]


HEAVY = ("torch", "stable_baselines3", "sb3_contrib", "matplotlib", "hydra", "tensorboard")


@pytest.mark.parametrize(
    "code",
    [
        "import incentives",
        "import gymnasium as gym, envs; gym.make('incentives/QA-v0')",
        "import gymnasium as gym, envs, incentives\n"
        "env = incentives.make('hedging_grid', gym.make('incentives/QA-v0'))\n"
        "env.reset(seed=0); env.step(0); incentives.schemes(); incentives.domain_names()",
        "import gymnasium as gym, envs, incentives\n"
        "env = incentives.SparseWin(gym.make('incentives/Chess-v0'))\n"
        "env.reset(seed=0); env.step(int(env.unwrapped.action_masks().argmax()))",
    ],
)
def test_the_scheme_core_loads_no_torch(code: str) -> None:
    """A wrapper library costs what Gymnasium costs: no torch, SB3, plotting or Hydra."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    assert "gymnasium" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    timed = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert "torch" not in timed
