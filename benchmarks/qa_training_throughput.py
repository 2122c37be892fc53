"""End-to-end QA training speed, side by side in one run, printed as ratios.

Contenders, all on the default QA config (``QAVecEnv`` or 64 ``QAEnv``s, 64 envs, PPO
with an MLP 64x64, ``n_steps`` 64, batch 512, 4 epochs, one torch thread):

- ``env``: the batched env alone, random actions pre-generated (no learning).
- ``cli``: the full CLI run, ``incentives-train env=qa reward=binary budget=N
  eval.every=0 eval.episodes=256 checkpoint.every=0`` in a subprocess; steps/s is the
  env steps over the process's wall time (start-up and the final evaluation included)
  and, beside it, over ``scale.wall_time_s`` of its summary (training and evaluation).
- ``fast``: the same training in this process (``build_env`` + ``LeanPPO`` + the
  ``IncentiveLogger``), with the shares of the time in the env (a timer around the
  scheme's ``step_wait``: env, monitor and scheme) and in the update (``train``).
- ``stock``: the path before issue 20, in this process: SB3's ``PPO`` as it comes on the
  same env with per-slot info dicts (``VecMonitor``, the scheme's per-dict loop, the
  tally's per-dict loop).
- ``update``: the default config's update alone: ``LeanPPO.train()`` (SB3's PPO maths:
  4 epochs x 8 minibatches of 512 over one 4,096-step rollout) timed on a full rollout
  buffer of the real env's data, repeated. Its "steps/s" is the ceiling that update puts
  on any path that keeps SB3's maths: rollout steps / update seconds, with a rollout that
  costs nothing. Beside it, the share of the ``cli`` and ``fast`` runs' time this floor
  accounts for (their rate / the ceiling).
- ``plain``: a CleanRL-style PPO loop written here (``ppo.py``'s structure: a Gymnasium
  ``SyncVectorEnv`` of 64 ``QAEnv``, torch storage tensors, the same network and
  hyperparameters), the usual way to train on a Gymnasium env without a library.

    python benchmarks/qa_training_throughput.py                 # about 3 minutes
    python benchmarks/qa_training_throughput.py --steps 262144 --repeats 2
    python benchmarks/qa_training_throughput.py --device cuda --contenders update fast cli

``--device`` puts the network of ``update``, ``fast`` and ``cli`` there (``plain`` and
``stock`` stay on the CPU, the references).

Each ratio is taken within a repeat (contenders one after the other, order rotated), so
load on a shared machine hits all of them; the medians over repeats are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_ENVS, N_STEPS, BATCH, EPOCHS = 64, 64, 512, 4
AGENT = {
    "algo": "ppo",
    "policy": "mlp",
    "size": "small",
    "layers": None,
    "device": "cpu",
    "torch_threads": 1,
    "learning_rate": 3e-4,
    "n_steps": N_STEPS,
    "batch_size": BATCH,
    "n_epochs": EPOCHS,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
}
DEVICE = ["cpu"]  # --device: where update, fast and cli put the network
ENV = {"name": "qa", "batched": "envs.qa.vec_env.QAVecEnv", "domain": "qa", "kwargs": {}}


def env_alone(steps: int) -> dict[str, float]:
    """Steps/s of ``QAVecEnv(64)`` with the scheme and monitor, random actions."""
    from incentives.registry import make_signal
    from incentives.run.build import build_env

    venv = build_env(ENV, make_signal("binary"), N_ENVS, 0)
    venv.reset()
    actions = np.random.default_rng(0).integers(0, 9, size=(steps // N_ENVS, N_ENVS))
    start = time.perf_counter()
    for row in actions:
        venv.step(row)
    return {"steps_per_s": steps / (time.perf_counter() - start)}


class _Timed:
    """Adds up the time spent in one method of an object (a vector env's ``step_wait``)."""

    def __init__(self, owner: Any, method: str = "step_wait") -> None:
        self.seconds = 0.0
        inner = getattr(owner, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(owner, method, timed)


def _sync() -> None:
    """Wait for the GPU's queued work, so a timer around it measures it."""
    import torch

    if DEVICE[0] != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()


def update_floor(steps: int) -> dict[str, float]:
    """The update alone: ``LeanPPO.train()`` on one full rollout of the real env, repeated
    until ``steps`` env steps' worth of updates are done; its ceiling in env steps/s."""
    import torch

    from agents.ppo import LeanPPO, policy_setup
    from incentives.registry import make_signal
    from incentives.run.build import build_env

    torch.set_num_threads(1)
    policy, kwargs, _ = policy_setup(AGENT)
    venv = build_env(ENV, make_signal("binary"), N_ENVS, 0)
    model = LeanPPO(policy, venv, learning_rate=3e-4, n_steps=N_STEPS, batch_size=BATCH,
                    n_epochs=EPOCHS, ent_coef=0.01, policy_kwargs=kwargs, device=DEVICE[0],
                    seed=0)  # fmt: skip
    _, callback = model._setup_learn(N_STEPS * N_ENVS)
    model.collect_rollouts(venv, callback, model.rollout_buffer, N_STEPS)
    model.train()  # warm-up: the first call builds the tensors and the optimizer state
    rollout = N_STEPS * N_ENVS
    updates = max(1, steps // rollout)
    _sync()
    start = time.perf_counter()
    for _ in range(updates):
        model.train()
    _sync()
    seconds = (time.perf_counter() - start) / updates
    return {"steps_per_s": rollout / seconds, "update_ms": 1000 * seconds}


def _train_in_process(steps: int, lean: bool) -> dict[str, float]:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecMonitor

    from agents.callbacks import IncentiveLogger
    from agents.ppo import LeanPPO, policy_setup
    from envs.qa.vec_env import QAVecEnv
    from incentives.domains.qa.behaviour import QABehaviour
    from incentives.domains.qa.schemes import QASignal
    from incentives.registry import make_signal
    from incentives.run.build import build_env
    from incentives.vec_scheme import VecRewardScheme

    torch.set_num_threads(1)
    signal = make_signal("binary")
    assert isinstance(signal, QASignal)
    if lean:
        venv = build_env(ENV, signal, N_ENVS, 0)
    else:

        class Dicts(VecEnvWrapper):
            """Per-slot info dicts, as the batched env reported them before issue 20."""

            def reset(self) -> Any:
                return self.venv.reset()

            def step_wait(self) -> Any:
                obs, rewards, dones, infos = self.venv.step_wait()
                return obs, rewards, dones, list(infos)

        batched = QAVecEnv(N_ENVS)
        batched.seed(0)
        venv = VecRewardScheme(VecMonitor(Dicts(batched)), signal)
    timer = _Timed(venv)
    policy, kwargs, _ = policy_setup(AGENT)
    cls = LeanPPO if lean else PPO
    model = cls(
        policy,
        venv,
        learning_rate=3e-4,
        n_steps=N_STEPS,
        batch_size=BATCH,
        n_epochs=EPOCHS,
        ent_coef=0.01,
        policy_kwargs=kwargs,
        device=DEVICE[0] if lean else "cpu",
        seed=0,
    )
    update = _Timed(model, "train")
    start = time.perf_counter()
    model.learn(steps, callback=IncentiveLogger(QABehaviour(signal)))
    seconds = time.perf_counter() - start
    return {
        "steps_per_s": steps / seconds,
        "env_share": timer.seconds / seconds,
        "update_share": update.seconds / seconds,
    }


def fast(steps: int) -> dict[str, float]:
    """The columnar path and ``LeanPPO``, in this process."""
    return _train_in_process(steps, lean=True)


def stock(steps: int) -> dict[str, float]:
    """The path before issue 20: dict infos and SB3's own PPO loops."""
    return _train_in_process(steps, lean=False)


def cli(steps: int) -> dict[str, float]:
    """The full CLI run in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [  # the console script's module: runs without a pip install too
            sys.executable,
            "-m",
            "incentives.run.cli",
            "env=qa",
            "reward=binary",
            f"budget={steps}",
            "eval.every=0",
            "eval.episodes=256",
            "checkpoint.every=0",
            "progress_bar=false",
            f"agent.device={DEVICE[0]}",
            f"hydra.run.dir={tmp}/run",
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        wall = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    run_wall = float(summary["scale"]["wall_time_s"])
    return {"steps_per_s": steps / wall, "steps_per_s_run": steps / run_wall}


BEFORE: list[str] = []  # --before: a checkout of the code before issue 20


def cli_before(steps: int) -> dict[str, float]:
    """The full CLI run of another checkout (``--before``), the same command."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "incentives.run.cli", "env=qa", "reward=binary",
                   f"budget={steps}", "eval.every=0", "eval.episodes=256", "checkpoint.every=0",
                   "progress_bar=false", f"hydra.run.dir={tmp}/run"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": BEFORE[0]}
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=BEFORE[0], env=env)
        wall = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    return {"steps_per_s": steps / wall, "steps_per_s_run": steps / summary["scale"]["wall_time_s"]}


def plain(steps: int) -> dict[str, float]:
    """A CleanRL-style PPO loop (``ppo.py``'s structure) on 64 ``QAEnv``s."""
    import gymnasium as gym
    import torch
    from torch import nn

    from envs.qa import QAEnv

    torch.set_num_threads(1)
    torch.manual_seed(0)
    envs = gym.vector.SyncVectorEnv(
        [QAEnv for _ in range(N_ENVS)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    n_obs = int(np.prod(envs.single_observation_space.shape or (1,)))
    n_act = int(envs.single_action_space.n)  # type: ignore[attr-defined]

    def mlp(out: int, std: float) -> nn.Sequential:
        layers = [nn.Linear(n_obs, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, out)]
        for layer in layers:
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight, np.sqrt(2))
                nn.init.constant_(layer.bias, 0.0)
        nn.init.orthogonal_(layers[-1].weight, std)  # type: ignore[arg-type]
        return nn.Sequential(*layers)

    actor, critic = mlp(n_act, 0.01), mlp(1, 1.0)
    params = [*actor.parameters(), *critic.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-4, eps=1e-5)
    obs_buf = torch.zeros((N_STEPS, N_ENVS, n_obs))
    act_buf = torch.zeros((N_STEPS, N_ENVS), dtype=torch.long)
    logp_buf = torch.zeros((N_STEPS, N_ENVS))
    rew_buf = torch.zeros((N_STEPS, N_ENVS))
    done_buf = torch.zeros((N_STEPS, N_ENVS))
    val_buf = torch.zeros((N_STEPS, N_ENVS))
    next_obs = torch.Tensor(envs.reset(seed=0)[0])
    next_done = torch.zeros(N_ENVS)
    start = time.perf_counter()
    for _ in range(steps // (N_STEPS * N_ENVS)):
        for step in range(N_STEPS):
            obs_buf[step], done_buf[step] = next_obs, next_done
            with torch.no_grad():
                logits = actor(next_obs)
                dist = torch.distributions.Categorical(logits=logits)
                action = dist.sample()
                logp_buf[step], val_buf[step] = dist.log_prob(action), critic(next_obs).flatten()
            act_buf[step] = action
            obs, reward, term, trunc, _ = envs.step(action.cpu().numpy())
            rew_buf[step] = torch.tensor(reward).view(-1)
            next_obs, next_done = torch.Tensor(obs), torch.Tensor(np.logical_or(term, trunc))
        with torch.no_grad():
            next_value = critic(next_obs).reshape(1, -1)
            adv = torch.zeros_like(rew_buf)
            last = torch.zeros(N_ENVS)
            for t in reversed(range(N_STEPS)):
                nonterminal = 1.0 - (next_done if t == N_STEPS - 1 else done_buf[t + 1])
                next_v = next_value if t == N_STEPS - 1 else val_buf[t + 1]
                delta = rew_buf[t] + 0.99 * next_v * nonterminal - val_buf[t]
                adv[t] = last = delta + 0.99 * 0.95 * nonterminal * last
            ret = adv + val_buf
        b_obs, b_act = obs_buf.reshape(-1, n_obs), act_buf.reshape(-1)
        b_logp, b_adv, b_ret = logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        n = N_STEPS * N_ENVS
        for _epoch in range(EPOCHS):
            order = np.random.permutation(n)  # noqa: NPY002 - CleanRL's generator
            for lo in range(0, n, BATCH):
                mb = order[lo : lo + BATCH]
                dist = torch.distributions.Categorical(logits=actor(b_obs[mb]))
                logp, entropy = dist.log_prob(b_act[mb]), dist.entropy()
                ratio = (logp - b_logp[mb]).exp()
                mb_adv = (b_adv[mb] - b_adv[mb].mean()) / (b_adv[mb].std() + 1e-8)
                pg = torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(0.8, 1.2)).mean()
                v_loss = 0.5 * ((critic(b_obs[mb]).flatten() - b_ret[mb]) ** 2).mean()
                loss = pg - 0.01 * entropy.mean() + 0.5 * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, 0.5)
                optimizer.step()
    envs.close()
    return {"steps_per_s": steps / (time.perf_counter() - start)}


CONTENDERS = {
    "env": env_alone,
    "cli": cli,
    "fast": fast,
    "stock": stock,
    "plain": plain,
    "update": update_floor,
    "before": cli_before,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=262144, help="env steps: cli and fast")
    parser.add_argument("--stock-steps", type=int, default=65536, help="env steps: stock")
    parser.add_argument("--plain-steps", type=int, default=16384, help="env steps: plain")
    parser.add_argument("--env-steps", type=int, default=2**21, help="env steps: env alone")
    parser.add_argument(
        "--update-steps", type=int, default=65536, help="env steps' worth of updates: update"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--before",
        help="a checkout of the code before issue 20 (git worktree add DIR 74f8068): "
        "its CLI runs the same command as the contender 'before'",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="the network's device in update, fast and cli")  # fmt: skip
    parser.add_argument("--contenders", nargs="+", default=[c for c in CONTENDERS if c != "before"])
    args = parser.parse_args()
    DEVICE[0] = args.device
    if args.before:
        BEFORE.append(str(Path(args.before).resolve()))
        if "before" not in args.contenders:
            args.contenders.append("before")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    budget = {
        "env": args.env_steps,
        "cli": args.steps,
        "fast": args.steps,
        "stock": args.stock_steps,
        "plain": args.plain_steps,
        "update": args.update_steps,
        "before": args.steps,
    }
    rounds: list[dict[str, dict[str, float]]] = []
    for repeat in range(args.repeats):
        order = (
            args.contenders[repeat % len(args.contenders) :]
            + args.contenders[: repeat % len(args.contenders)]
        )
        results = {}
        for name in order:
            results[name] = CONTENDERS[name](budget[name])
            print(f"repeat {repeat}: {name:>5} {results[name]}", flush=True)
        rounds.append(results)

    def median(name: str, key: str = "steps_per_s") -> float:
        return statistics.median(r[name][key] for r in rounds if name in r and key in r[name])

    def within(a: str, b: str, key: str = "steps_per_s") -> float | None:
        """The median over repeats of ``a``'s ``key`` / ``b``'s steps/s in the same repeat."""
        values = [r[a][key] / r[b]["steps_per_s"] for r in rounds if a in r and b in r]
        return statistics.median(values) if values else None

    def ratio(a: str, b: str, key: str = "steps_per_s") -> str:
        value = within(a, b, key)
        return "-" if value is None else f"{value:.1f}x"

    def share(a: str, key: str = "steps_per_s") -> str:
        # a run's rate / the ceiling = the update floor's seconds / the run's seconds
        value = within(a, "update", key)
        return "-" if value is None else f"{value:.0%}"

    print(
        f"\nenv steps/s (median of {args.repeats}; one torch thread, {os.cpu_count()} cores; "
        f"network of update/fast/cli on {args.device})"
    )
    for name in args.contenders:
        line = f"  {name:>6}: {median(name):>10,.0f}"
        if name in ("cli", "before"):
            line += f"   (over the run's own wall time: {median(name, 'steps_per_s_run'):,.0f})"
        if name in ("fast", "stock"):
            line += (
                f"   (share of time left in the env: {median(name, 'env_share'):.0%}; "
                f"in the update: {median(name, 'update_share'):.0%})"
            )
        if name == "update":
            line += (
                f"   (ceiling: {N_STEPS * N_ENVS} rollout steps / {median(name, 'update_ms'):.0f}"
                " ms per update, with a rollout that costs nothing)"
            )
        print(line)
    print("ratios (within each repeat, median)")
    pairs = [("cli", "plain"), ("fast", "plain"), ("cli", "stock"), ("fast", "stock")]
    pairs += [("cli", "before"), ("before", "plain"), ("update", "plain")]
    for a, b in pairs:
        if a in args.contenders and b in args.contenders:
            print(f"  {a} / {b}: {ratio(a, b)}")
    if "env" in args.contenders:
        for a in ("cli", "fast", "stock", "plain", "before"):
            if a in args.contenders:
                print(f"  {a} / env alone: {median(a) / median('env'):.1%}")
    if "update" in args.contenders:
        print("the update floor (SB3's PPO maths alone) as a share of each run's time")
        for a in ("cli", "fast", "before"):
            if a in args.contenders:
                line = f"  {a}: {share(a)}"
                if a in ("cli", "before"):
                    line += f" (of the run's own wall time: {share(a, 'steps_per_s_run')})"
                print(line)


if __name__ == "__main__":
    main()
