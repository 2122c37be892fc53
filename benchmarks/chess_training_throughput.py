"""End-to-end MaskablePPO training speed on chess KQK: our chess policy against sb3-contrib's.

Every contender trains from scratch for the same number of env steps in the same process;
the repeats interleave the contenders (the order rotates each repeat) so that load on a
shared machine hits them all, and each contender's ratio is taken against the reference
run of the same repeat. The reference is **sb3-contrib's MaskablePPO as it comes**: the
stock ``MlpPolicy`` (pi/vf 256×256, a 4672-way head, ``MaskableCategorical``), float32
masks in its rollout buffer, on the issue's settings: 8 ``DummyVecEnv`` KQK envs (random
defender, ``max_plies=100``), ``n_steps=512``, ``batch_size=512``, 10 epochs, one torch
thread, the library's other defaults.

Contenders (``--configs``, each as ``NAME[_subproc][@N]``: ``_subproc`` for
``SubprocVecEnv`` workers, one env per process, ``forkserver``; ``@N`` for ``N`` envs
instead of 8, ``n_steps`` scaled to keep 4096 steps per rollout and so the update's work):

- ``stock``: the reference above.
- ``chess_mlp``: ``agent.policy=chess_mlp size=base`` on the same settings: the same
  network over scaled planes, with the compact 1,858-move head, ``FastMaskedCategorical``
  and ``CompactMaskRolloutBuffer``.
- ``chess_mlp_defaults``: ``chess_mlp`` with the project's defaults
  (``conf/agent/maskable_ppo.yaml``: other ``n_steps``, epochs and ``ent_coef``).
- ``resnet_tiny`` … ``resnet_large``: ``chess_resnet`` presets on the same settings
  (convolutions: measured on CPU for the record, their device is the GPU).
- ``cli``: the issue's measure, the full CLI on the ``chess_kqk`` preset in a subprocess:
  ``incentives-train +experiment=chess_kqk budget=STEPS eval.every=0 checkpoint.every=0
  eval.episodes=8 eval.ladder.opponents=[]`` (the project's defaults, the scheme, monitor,
  behaviour logging); steps/s over the run's own ``wall_time_s`` (building the agent, the
  training and the 8-game final evaluation; not Python's start-up, which the process
  wall time in the repeat's line includes).
- ``cli_margin``: the same CLI run at ``STEPS`` and at ``4 × STEPS`` steps: the rate a
  long run sees (the preset trains 1.5M steps), ``3 × STEPS`` over the difference of the
  two ``wall_time_s``, so that the fixed cost of a run (building the agent, the final
  evaluation), shown in the repeat's line, cancels.

Time split, by timers wrapped around the pieces (behaviour unchanged): ``env`` (the vec
env's ``step``), ``masks`` (``env_method("action_masks")``), ``forward`` (the policy's
forward in the rollout), ``update`` (``model.train``: the epochs of minibatches) and
``other`` (the rest: the buffer, GAE, obs to tensor, callbacks, resets).

    python benchmarks/chess_training_throughput.py                      # CPU, 3 repeats
    python benchmarks/chess_training_throughput.py --steps 16384 --configs stock chess_mlp
    python benchmarks/chess_training_throughput.py --device cuda \\
        --configs stock resnet_small_subproc resnet_base_subproc --n-envs 8 16 32 64
    python benchmarks/chess_training_throughput.py --learning            # learning check

Below the table, the bounds each run implies (``× stock`` over a time share): with a
rollout that cost nothing (the update alone), and with a free policy forward, masks and
buffer (the env and the update alone). The update's maths is fixed (same results), so
the first is a ceiling for anything that keeps it.

``--n-envs`` runs each candidate (never the reference) with each number of envs, keeping
4096 steps per rollout (``n_steps = 4096 / n_envs``): on a GPU, the env count at which
steps/s stops rising is the one that saturates it.

``--learning`` trains ``stock`` and ``chess_mlp`` (the same settings) for a few minutes on
"find the mate in one": random KQK positions with a forced mate in one (``random_endgame``
with ``mate_in=1``, written to a FEN file), one learner move per game by default
(``--learning-plies 1``: a mate wins 1, any other move is cut off as a draw, 0.5). Over
three seeds it then plays each agent deterministically from held-out positions and
reports its mate rate with a Wilson interval, before and after training: speed must not
cost learning.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import chess
import gymnasium as gym
import numpy as np
import torch
from omegaconf import OmegaConf
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from agents.ppo import build_ppo
from envs.chess import ChessEnv
from envs.chess.starts import random_endgame
from incentives.domains.chess.behaviour import wilson_interval

__all__ = ["CONFIGS", "PIECES", "Contender", "Run", "measure", "timed"]

ROOT = Path(__file__).resolve().parents[1]
PIECES = ("env", "masks", "forward", "update")
#: The issue's envs: KQK against the random defender, at most 100 plies (a picklable factory).
KQK = functools.partial(ChessEnv, start="kqk", max_plies=100)

#: The issue's baseline settings; sb3's defaults for everything else.
BASELINE: dict[str, Any] = {
    "algo": "maskable_ppo",
    "size": "base",
    "torch_threads": 1,
    "learning_rate": 3e-4,
    "n_steps": 512,
    "batch_size": 512,
    "n_epochs": 10,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
}


def project_defaults() -> dict[str, Any]:
    """``conf/agent/maskable_ppo.yaml`` over ``conf/agent/ppo.yaml``, as Hydra composes them."""
    merged: dict[str, Any] = {}
    for name in ("ppo", "maskable_ppo"):
        loaded = OmegaConf.to_container(OmegaConf.load(ROOT / f"conf/agent/{name}.yaml"))
        assert isinstance(loaded, dict)
        merged.update({str(k): v for k, v in loaded.items() if k != "defaults"})
    return merged


@dataclass(frozen=True)
class Contender:
    """One way of training: an agent config, the vec env kind and its number of envs."""

    name: str
    agent: dict[str, Any]  # build_ppo's config; policy "stock" = MaskablePPO("MlpPolicy")
    subproc: bool = False
    n_envs: int = 8

    def build(self, device: str, seed: int, make: Callable[[], ChessEnv] = KQK) -> MaskablePPO:
        """A fresh agent on ``n_envs`` fresh envs made by ``make`` (not timed)."""
        fns: list[Callable[[], gym.Env[Any, Any]]] = [make] * self.n_envs
        venv: VecEnv = (
            SubprocVecEnv(fns, start_method="forkserver") if self.subproc else DummyVecEnv(fns)
        )
        agent = dict(self.agent, device=device)
        if self.n_envs != 8:  # keep the rollout's size, and so the update's work
            agent["n_steps"] = max(1, int(agent["n_steps"]) * 8 // self.n_envs)
        if agent["policy"] == "stock":
            torch.set_num_threads(int(agent["torch_threads"]))
            return MaskablePPO(
                "MlpPolicy",
                venv,
                n_steps=int(agent["n_steps"]),
                batch_size=int(agent["batch_size"]),
                n_epochs=int(agent["n_epochs"]),
                policy_kwargs={"net_arch": {"pi": [256, 256], "vf": [256, 256]}},
                device=device,
                seed=seed,
            )
        model = build_ppo(agent, venv, seed)
        assert isinstance(model, MaskablePPO)
        return model


def _resnet(size: str) -> dict[str, Any]:
    return dict(BASELINE, policy="chess_resnet", size=size)


CONFIGS: dict[str, Contender] = {
    "stock": Contender("stock", dict(BASELINE, policy="stock")),
    "chess_mlp": Contender("chess_mlp", dict(BASELINE, policy="chess_mlp")),
    "chess_mlp_defaults": Contender(
        "chess_mlp_defaults", dict(project_defaults(), policy="chess_mlp", size="base")
    ),
    **{
        f"resnet_{s}": Contender(f"resnet_{s}", _resnet(s))
        for s in ("tiny", "small", "base", "large")
    },
    "cli": Contender("cli", {"policy": "cli"}),
    "cli_margin": Contender("cli_margin", {"policy": "cli_margin"}),
}
DEFAULT_CONFIGS = (
    "stock",
    "chess_mlp",
    "chess_mlp_defaults",
    "chess_mlp_subproc",
    "chess_mlp_subproc@2",
    "resnet_tiny",
    "resnet_small",
)


def contender(name: str) -> Contender:
    """The contender ``name``: ``CONFIG[_subproc][@N]`` (subprocess envs, ``N`` envs).

    Example:
        >>> entry = contender("chess_mlp_subproc@2")
        >>> entry.subproc, entry.n_envs, entry.agent["policy"]
        (True, 2, 'chess_mlp')
    """
    spec, _, count = name.partition("@")
    base = spec.removesuffix("_subproc")
    if base not in CONFIGS or (count and not count.isdigit()) or count == "0":
        accepted = ", ".join(CONFIGS)
        raise SystemExit(
            f"unknown config {name!r}; accepted: {accepted}, each as NAME[_subproc][@N]"
        )
    entry = replace(CONFIGS[base], name=name, subproc=spec.endswith("_subproc"))
    return replace(entry, n_envs=int(count)) if count else entry


# -- timing -----------------------------------------------------------------------------
@dataclass
class Run:
    """One timed training run: steps, wall seconds and seconds per piece."""

    steps: int
    seconds: float
    pieces: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.steps / self.seconds

    def share(self, piece: str) -> float:
        """The fraction of the wall time spent in ``piece`` (``other``: the rest)."""
        if piece == "other":
            return 1.0 - sum(self.pieces.values()) / self.seconds
        return self.pieces.get(piece, 0.0) / self.seconds


def timed(
    function: Callable[..., Any], totals: dict[str, float], piece: str, sync: Callable[[], None]
) -> Callable[..., Any]:
    """``function``, adding its wall time to ``totals[piece]`` (``sync`` first: CUDA)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            result = function(*args, **kwargs)
            sync()
            return result
        finally:
            totals[piece] = totals.get(piece, 0.0) + time.perf_counter() - start

    return wrapper


def instrument(model: MaskablePPO, totals: dict[str, float]) -> None:
    """Wrap the env step, the mask query, the rollout's forward and the update with timers."""
    cuda = model.device.type == "cuda"
    sync: Callable[[], None] = torch.cuda.synchronize if cuda else lambda: None
    venv = model.get_env()
    assert venv is not None
    venv.step = timed(venv.step, totals, "env", lambda: None)  # type: ignore[method-assign]
    env_method = venv.env_method
    masks = timed(env_method, totals, "masks", lambda: None)

    def env_method_timed(name: str, *args: Any, **kwargs: Any) -> Any:
        return (masks if name == "action_masks" else env_method)(name, *args, **kwargs)

    venv.env_method = env_method_timed  # type: ignore[method-assign,assignment]
    # nn.Module.__call__ looks ``forward`` up on the instance: the rollout's call lands here.
    model.policy.forward = timed(model.policy.forward, totals, "forward", sync)  # type: ignore[method-assign]
    model.train = timed(model.train, totals, "update", sync)  # type: ignore[method-assign]


def cli_run(steps: int, device: str, seed: int) -> Run:
    """The CLI on the ``chess_kqk`` preset for ``steps`` env steps, in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [  # the console script's module: runs without a pip install too
            sys.executable,
            "-m",
            "incentives.run.cli",
            "+experiment=chess_kqk",
            f"budget={steps}",
            f"seed={seed}",
            f"agent.device={device}",
            "eval.every=0",
            "checkpoint.every=0",
            "eval.episodes=8",
            "eval.ladder.opponents=[]",
            "progress_bar=false",
            f"hydra.run.dir={tmp}/run",
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        process = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    run = Run(int(summary["scale"]["env_steps"]), float(summary["scale"]["wall_time_s"]))
    run.pieces["process"] = process  # shown in the repeat's line, not a share
    return run


def measure(entry: Contender, steps: int, device: str, seed: int) -> Run:
    """Train ``entry`` from scratch for ``steps`` env steps (whole rollouts) and time it."""
    if entry.agent["policy"] == "cli":
        return cli_run(steps, device, seed)
    if entry.agent["policy"] == "cli_margin":
        short, long = cli_run(steps, device, seed), cli_run(4 * steps, device, seed)
        run = Run(long.steps - short.steps, long.seconds - short.seconds)
        run.pieces["fixed"] = short.seconds - short.steps / run.rate
        return run
    model = entry.build(device, seed)
    totals: dict[str, float] = {}
    instrument(model, totals)
    start = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - start
    done = model.num_timesteps
    venv = model.get_env()
    assert venv is not None
    venv.close()
    return Run(done, seconds, totals)


def _rotations(names: Sequence[str], repeats: int) -> Iterator[list[str]]:
    for r in range(repeats):
        k = r % len(names)
        yield list(names[k:]) + list(names[:k])


def _versions(device: str) -> str:
    import sb3_contrib
    import stable_baselines3

    gpu = f", {torch.cuda.get_device_name()}" if device.startswith("cuda") else ""
    return (
        f"python {platform.python_version()}, torch {torch.__version__}, sb3 "
        f"{stable_baselines3.__version__}, sb3-contrib {sb3_contrib.__version__}, chess "
        f"{chess.__version__}; {os.cpu_count()} CPUs, {platform.machine()}{gpu}; device {device}"
    )


def throughput(args: argparse.Namespace, device: str) -> None:
    """Interleaved repeats of every contender; the table of medians."""
    entries = [contender(n) for n in args.configs]
    if args.n_envs:  # the sweep: every candidate at each env count
        entries = [e for e in entries if e.name == "stock"] + [
            replace(e, name=f"{e.name}@{n}", n_envs=n)
            for e in entries
            if e.name != "stock"
            for n in args.n_envs
        ]
    if not any(e.name == "stock" for e in entries):
        entries.insert(0, contender("stock"))
    by_name = {e.name: e for e in entries}
    runs: dict[str, list[Run]] = {name: [] for name in by_name}
    print(_versions(device))
    print(f"{args.steps} steps per run (whole rollouts), {args.repeats} interleaved repeats")
    for r, order in enumerate(_rotations(list(by_name), args.repeats)):
        for name in order:
            run = measure(by_name[name], args.steps, device, seed=args.seed + r)
            runs[name].append(run)
            process, fixed = run.pieces.pop("process", None), run.pieces.pop("fixed", None)
            extra = f"; process {process:.1f} s" if process is not None else ""
            extra += f"; fixed cost of a run {fixed:.1f} s" if fixed is not None else ""
            print(
                f"  repeat {r + 1}  {name:<28}{run.rate:8.0f} steps/s  "
                f"({run.seconds:.1f} s{extra})",
                flush=True,
            )
    print()
    head = f"{'config':<28}{'steps/s':>9}{'× stock':>9}{'(range)':>14}"
    print(head + "".join(f"{p:>9}" for p in (*PIECES, "other")))
    stock = runs["stock"]
    for name, done in runs.items():
        ratios = [run.rate / ref.rate for run, ref in zip(done, stock, strict=True)]
        spread = f"({min(ratios):.2f}–{max(ratios):.2f})"
        shares = [statistics.median(run.share(p) for run in done) for p in (*PIECES, "other")]
        cells = "".join(f"{s:9.0%}" for s in shares) if done[0].pieces else ""
        print(
            f"{name:<28}{statistics.median(r.rate for r in done):9.0f}"
            f"{statistics.median(ratios):8.2f}×{spread:>14}" + cells
        )
    print(
        "\nbounds (× stock, median over repeats): the update alone | the env and the update alone"
    )
    for name, done in runs.items():
        if name == "stock" or not done[0].pieces:
            continue
        pairs = list(zip(done, stock, strict=True))
        alone = [run.rate / ref.rate / run.share("update") for run, ref in pairs]
        both = [
            run.rate / ref.rate / (run.share("update") + run.share("env")) for run, ref in pairs
        ]
        print(f"{name:<28}{statistics.median(alone):8.2f}×{statistics.median(both):8.2f}×")


# -- learning check -----------------------------------------------------------------------
def mate_in_one_fens(count: int, seed: int) -> list[str]:
    """``count`` random KQK positions, white to move with a mate in one."""
    rng = np.random.default_rng(seed)
    return [random_endgame(rng, "kqk", chess.WHITE, mate_in=1).fen() for _ in range(count)]


def mate_rate(
    model: MaskablePPO, fens: Sequence[str], seed: int, max_plies: int
) -> tuple[int, int]:
    """(checkmates, games): deterministic play from each FEN against the random defender."""
    mates = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "position.fen"
        for game, fen in enumerate(fens):  # each held-out position once
            path.write_text(fen + "\n")
            env = ChessEnv(start="fen_file", fen_file=str(path), max_plies=max_plies)
            obs, _ = env.reset(seed=seed * len(fens) + game)
            while True:
                action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
                obs, _, terminated, truncated, info = env.step(int(action))
                if terminated or truncated:
                    mates += info["termination"] == "checkmate" and info["outcome"] == "win"
                    break
    return mates, len(fens)


def learning(args: argparse.Namespace, device: str) -> None:
    """stock and chess_mlp from mate-in-one KQK starts: final deterministic mate rates."""
    print(_versions(device))
    print(
        f"learning check: {args.learning_steps} steps per run, seeds 0-2, "
        f"{args.eval_games} held-out mate-in-one positions, {args.learning_plies} plies per game"
    )
    held_out = mate_in_one_fens(args.eval_games, seed=10_000)
    totals: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(3):
            path = Path(folder) / f"train{seed}.fen"
            path.write_text("\n".join(mate_in_one_fens(args.train_positions, seed)) + "\n")
            make = functools.partial(
                ChessEnv, start="fen_file", fen_file=str(path), max_plies=args.learning_plies
            )
            for name in ("stock", "chess_mlp"):
                model = contender(name).build(device, seed, make)
                untrained, _ = mate_rate(model, held_out, seed, args.learning_plies)
                start = time.perf_counter()
                model.learn(args.learning_steps)
                seconds = time.perf_counter() - start
                mates, games = mate_rate(model, held_out, seed, args.learning_plies)
                low, high = wilson_interval(mates, games)
                total = totals.setdefault(name, [0, 0])
                total[0] += mates
                total[1] += games
                print(
                    f"  seed {seed}  {name:<10} mate rate {mates / games:6.1%} "
                    f"[{low:.1%}, {high:.1%}]  (untrained {untrained / games:.1%}; "
                    f"{seconds:.0f} s training)",
                    flush=True,
                )
    print()
    for name, (mates, games) in totals.items():
        low, high = wilson_interval(mates, games)
        print(
            f"{name:<10} pooled over seeds: {mates}/{games} = {mates / games:.1%} "
            f"[{low:.1%}, {high:.1%}] (Wilson 95%)"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run the throughput table or the learning check."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=8192, help="env steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=list(DEFAULT_CONFIGS),
        help=f"among {', '.join(CONFIGS)}, each optionally with _subproc",
    )
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--n-envs",
        type=int,
        nargs="+",
        default=None,
        help="run each candidate at each of these env counts",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning", action="store_true", help="the learning check instead")
    parser.add_argument("--learning-steps", type=int, default=24576)
    parser.add_argument("--train-positions", type=int, default=4000)
    parser.add_argument(
        "--learning-plies",
        type=int,
        default=1,
        help="plies per game (1: the learner's move alone, mate or not; 100: play on)",
    )
    parser.add_argument("--eval-games", type=int, default=300)
    args = parser.parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(1)
    if args.learning:
        learning(args, device)
    else:
        throughput(args, device)


if __name__ == "__main__":
    main()
