"""Sweeps through Hydra's launcher plugins: joblib and Ray for real, SLURM's config composed.

The scale experiment's own sweep axes (``conf/experiment/qa_scale.yaml``) are what these
sweeps run, with tiny budgets: four network sizes per scheme and seed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, TINY, compare_quietly, run_cli

#: The qa_scale sweep cut to seconds: one scheme, no warm-up, a tiny budget; the four
#: network sizes come from the experiment's sweep axes.
SMALL_SWEEP = (
    "+experiment=qa_scale",
    *TINY,
    "reward=hedging_grid",
    "warmup=[]",
    "eval.every=0",
)
SIZES = ("tiny", "small", "base", "large")


def summaries(root: Path) -> list[dict[str, Any]]:
    """Every summary.json under ``root``, read back."""
    return [json.loads(p.read_text()) for p in sorted(root.rglob("summary.json"))]


def test_joblib_sweep_runs_the_scale_axes_and_compare_draws_emergence(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = run_cli(
        "-m",
        *SMALL_SWEEP,
        "seed=0,1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in done.stdout + done.stderr
    runs = summaries(sweep)
    assert sorted((r["config"]["agent"]["size"], r["seed"]) for r in runs) == sorted(
        (size, seed) for size in SIZES for seed in (0, 1)
    )
    parameters = {r["config"]["agent"]["size"]: r["scale"]["parameters"] for r in runs}
    assert [parameters[s] for s in SIZES] == sorted(set(parameters.values()))  # grows
    for run in runs:
        scale = run["scale"]
        assert scale["torch_threads"] == 1  # one thread per job by default
        assert scale["env_steps"] == run["timesteps"]
        assert scale["compute"] == scale["parameters"] * scale["env_steps"]
        assert scale["device"] == "cpu" and scale["wall_time_s"] > 0

    compare_quietly(sweep)
    for metric in ("t_hat", "regret_relative", "hallucination_rate", "abstain_rate"):
        for axis in ("parameters", "compute"):
            assert (sweep / f"emergence_{metric}_vs_{axis}.png").stat().st_size > 0
    with (sweep / "emergence.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric"] == "abstain_rate"]
    by_axis = {a: [r for r in rows if r["axis"] == a] for a in ("parameters", "compute")}
    assert [float(r["x"]) for r in by_axis["parameters"]] == sorted(
        float(p) for p in parameters.values()
    )
    assert {r["line"] for r in rows} == {"hedging_grid"} and {r["n"] for r in rows} == {"2"}
    report = (sweep / "comparison.md").read_text()
    assert "## Emergence: behaviour against network size" in report
    assert f"| hedging_grid | {parameters['large']:,} |" in report


def _ray_script(sweep: Path) -> str:
    """Start a Ray head on loopback, sweep two jobs through the Ray launcher, stop it."""
    ray = Path(sys.executable).parent / "ray"
    train = [
        sys.executable, "-m", "incentives.run.cli", "-m", *SMALL_SWEEP, "agent.size=tiny,small",
        "seed=0", "hydra/launcher=ray", "hydra.launcher.ray.init.address=auto",
        # joining a running cluster: ray refuses the plugin's default object store size
        "+hydra.launcher.ray.init.object_store_memory=null", f"hydra.sweep.dir={sweep}",
    ]  # fmt: skip
    return "\n".join(
        [
            "set -e",
            "ip link set lo up",
            f"'{ray}' start --head --port=6399 --num-cpus=2 --include-dashboard=false "
            "--disable-usage-stats",
            f"trap \"'{ray}' stop --force >/dev/null 2>&1\" EXIT",
            " ".join(f"'{arg}'" for arg in train),
        ]
    )


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_ray_launcher_runs_a_sweep_on_a_local_cluster(tmp_path: Path) -> None:
    """A real Ray head in a network namespace of its own (only loopback exists there)."""
    sweep = tmp_path / "sweep"
    # Ray binds the machine's outward address even when told 127.0.0.1; in a fresh
    # namespace loopback is the only one. Root needs no user namespace for that.
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    done = subprocess.run(
        [*unshare, "bash", "-c", _ray_script(sweep)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0", "RAY_USAGE_STATS_ENABLED": "0"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Ray Launcher is launching 2 jobs" in output
    assert "Connected to Ray cluster" in output
    assert "(_run_job pid=" in output  # the jobs ran in Ray's workers
    runs = summaries(sweep)
    assert sorted(r["config"]["agent"]["size"] for r in runs) == ["small", "tiny"]
    assert all(r["scale"]["parameters"] > 0 for r in runs)


def test_submitit_slurm_launcher_config_composes() -> None:
    """The SLURM launcher's config composes with the scale sweep and builds its launcher."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from incentives.run.cli import config_dir

    overrides = [
        "+experiment=qa_scale",
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=1",
        "hydra.launcher.cpus_per_task=8",
        "hydra.launcher.timeout_min=120",
    ]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.cpus_per_task) == ("gpu", 1, 8)
    assert set(cfg.hydra.sweeper.params) == {"reward", "agent.size", "budget", "seed"}
    built = instantiate(launcher)
    assert type(built).__name__ == "SlurmLauncher"

    # and the CLI shows it as it would submit it (no SLURM is needed to compose)
    done = run_cli(*overrides, "--cfg", "hydra", "--package", "hydra.launcher", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "partition: gpu" in done.stdout and "SlurmLauncher" in done.stdout
