"""A third party's plugin, installed with pip, trains through our CLI and is compared.

``tests/plugin_example`` is a real package (``incentives-plugin-example``): a reward-gaming
env, two schemes over its events, a behaviour metric, a domain and Hydra configs, all
declared as entry points. It is pip-installed into a fresh virtual environment that sees
the project's packages but not the other way round, and no file of ours names it.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

PLUGIN = ROOT / "tests" / "plugin_example"
#: A budget in which PPO learns the deterministic policy each scheme asks for.
TINY = (
    "budget=2048",
    "agent.n_steps=32",
    "agent.batch_size=128",
    "agent.n_epochs=2",
    "eval.episodes=256",
    "eval.n_envs=16",
    "eval.every=0",
    "checkpoint.every=0",
    "progress_bar=false",
)


def _run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment with the example plugin pip-installed.

    The environment sees the project's own (a ``.pth`` file adds its site-packages, whose
    editable install of ``incentives`` is processed as usual), so only the plugin is new.
    """
    venv = tmp_path_factory.mktemp("plugin") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "_incentives_project.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    # Offline when the build backend is at hand; else pip fetches it into an isolated build.
    offline = (
        ["--no-build-isolation", "--no-index"] if importlib.util.find_spec("hatchling") else []
    )
    done = _run(
        python,
        *("-m", "pip", "install", "--disable-pip-version-check", "--no-input", *offline),
        str(PLUGIN),
        cwd=venv,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def test_plugin_is_installed_in_its_environment_only(python: Path, tmp_path: Path) -> None:
    where = _run(python, "-c", "import shortcut_incentives as s; print(s.__file__)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(python.parents[1]), "a real install"
    ours = _run(
        Path(sys.executable),
        "-c",
        "import importlib.metadata as m, importlib.util as u; print("
        "u.find_spec('shortcut_incentives'), list(m.entry_points(group='incentives.configs')))",
        cwd=tmp_path,
    )
    assert ours.stdout.strip() == "None []", "the project's own environment is untouched"
    # the example's own doctests, as installed
    package = str(Path(where.stdout.strip()).parent)
    doctests = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                    "--doctest-modules", package, cwd=tmp_path)  # fmt: skip
    assert doctests.returncode == 0, doctests.stdout


def test_plugin_options_join_the_config_groups(python: Path, tmp_path: Path) -> None:
    shown = _run(python, "-m", "incentives.run.cli", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "env: chess, qa, shortcut, text\n" in shown.stdout
    assert "claimed_done" in shown.stdout and "verified_done" in shown.stdout
    assert "shortcut_demo" in shown.stdout

    mistyped = _run(python, "-m", "incentives.run.cli", "env=shortcutt", cwd=tmp_path)
    assert mistyped.returncode == 2
    assert mistyped.stderr.strip() == (
        "incentives-train: error: unknown env 'shortcutt'; accepted: chess, qa, shortcut, text"
    )

    composed = _run(
        python,
        "-m",
        "incentives.run.cli",
        "--cfg",
        "job",
        "+experiment=shortcut_demo",
        cwd=tmp_path,
    )
    assert composed.returncode == 0, composed.stderr
    assert "id: shortcut/Shortcut-v0" in composed.stdout
    assert "experiment_name: shortcut_demo" in composed.stdout


def test_gameable_scheme_induces_shortcuts(python: Path, tmp_path: Path) -> None:
    trained = _run(
        python,
        *("-m", "incentives.run.cli", "-m", "env=shortcut"),
        *("reward=claimed_done,verified_done", "seed=0,1", *TINY),
        *("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweep.dir=runs"),
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    assert "claimed_done seed0:" in trained.stdout and "shortcut_rate=" in trained.stdout
    rates: dict[str, list[float]] = {"claimed_done": [], "verified_done": []}
    for found in (tmp_path / "runs").glob("shortcut/*/*/seed*/summary.json"):
        summary = json.loads(found.read_text())
        rates[summary["reward"]["name"]].append(summary["behaviour"]["shortcut_rate"])
    assert all(len(r) == 2 for r in rates.values()), rates

    compared = _run(python, "-m", "incentives.analysis.compare", "runs", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert "shortcut" in compared.stdout
    with (tmp_path / "runs" / "comparison.csv").open(newline="") as handle:
        rows = {row["group"]: row for row in csv.DictReader(handle)}
    gamed = float(rows["claimed_done"]["shortcut_rate_mean"])
    verified = float(rows["verified_done"]["shortcut_rate_mean"])
    # paying the claim makes the shortcut pay; paying the deed makes it worthless
    assert gamed >= 0.8 and verified <= 0.2, (rates, gamed, verified)
    assert min(rates["claimed_done"]) > max(rates["verified_done"])
