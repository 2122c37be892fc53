"""A non-editable install carries the Hydra configs and runs from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_install_finds_configs(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    conf = target / "incentives" / "_conf"
    assert (conf / "config.yaml").is_file()
    for group in ("env", "reward", "agent", "experiment"):
        assert list((conf / group).glob("*.yaml")), group
    # Run from an empty folder with only the installed copy on the path (site-packages of
    # this interpreter supply the dependencies; the checkout is not importable from here).
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-m", "incentives.run.cli", "reward=binary", "--cfg", "job"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "name: binary" in done.stdout
    located = subprocess.run(
        [sys.executable, "-c", "import incentives.run.cli as t; print(t.config_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert Path(located.stdout.strip()) == conf
