"""``incentives-train``: train one agent under one reward scheme (Hydra app).

    incentives-train env=qa reward=hedging_grid
    incentives-train -m reward=hedging_grid,binary,confidence_target seed=0,1,2
    incentives-train +experiment=qa_grid reward.wrong=-3

Each run writes ``runs/<experiment>/<env>/<reward>/seed<k>/``: the Hydra config,
TensorBoard events (``explicit/*``, ``task/*``, ``behaviour/*``, ``eval/*``), ``model.zip``
and ``summary.json``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

__all__ = ["config_dir", "main", "train"]


def config_dir() -> str:
    """The Hydra config folder: inside the package when installed, else the checkout's."""
    here = Path(__file__).resolve().parent
    packaged = here / "_conf"
    return str(packaged if packaged.is_dir() else here.parent / "conf")


def train(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Train the configured agent through the reward schedule; return the summary."""
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import set_random_seed

    from agents.callbacks import IncentiveLogger, PeriodicEvaluation
    from agents.ppo import build_ppo
    from agents.tensorboard import custom_scalars_layout, record_hparams, summary_writer
    from incentives.experiment import build_behaviour, build_env, phases, use_signal
    from incentives.summary import git_revision, package_versions, write_json

    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    schedule = phases(config)
    seed = int(config["seed"])
    env_cfg, eval_cfg = config["env"], config["eval"]
    set_random_seed(seed)
    started = time.perf_counter()

    venv = build_env(env_cfg, schedule[0].signal, int(env_cfg["n_envs"]), seed)
    model = build_ppo(config["agent"], venv, seed)
    model.set_logger(configure(str(run_dir), ["tensorboard", "csv"]))
    current = {"signal": schedule[0].signal}
    behaviour = build_behaviour(env_cfg, current["signal"])
    headline = list(getattr(behaviour, "HEADLINE", ()))
    writer = summary_writer(model.logger)
    if writer is not None:
        writer.add_custom_scalars(custom_scalars_layout(headline, str(eval_cfg["name"])))
    evaluation = PeriodicEvaluation(
        make_env=lambda: build_env(
            env_cfg, current["signal"], int(eval_cfg["n_envs"]), int(eval_cfg["seed"])
        ),
        make_behaviour=lambda: build_behaviour(env_cfg, current["signal"]),
        every=int(eval_cfg["every"]),
        episodes=int(eval_cfg["episodes"]),
        seed=int(eval_cfg["seed"]),
        name=str(eval_cfg["name"]),
    )
    for k, phase in enumerate(schedule):
        current["signal"] = phase.signal
        use_signal(venv, phase.signal)
        behaviour.use_signal(phase.signal)
        model.logger.record("explicit/phase", k)
        model.learn(
            total_timesteps=phase.steps,
            callback=[IncentiveLogger(behaviour), evaluation],
            reset_num_timesteps=k == 0,
            progress_bar=bool(config.get("progress_bar", False)),
        )
    final = evaluation.run()
    signal = schedule[-1].signal
    record_hparams(
        model.logger,
        {
            "experiment": config["experiment_name"],
            "env": env_cfg["name"],
            "reward": signal.name,
            **{f"reward.{k}": v for k, v in signal.params().items()},
            "warmup": " + ".join(f"{p.signal.name}:{p.steps}" for p in schedule[:-1]) or "none",
            "budget": schedule[-1].steps,
            "agent.size": str(config["agent"].get("layers") or config["agent"].get("size")),
            "seed": seed,
        },
        {
            f"eval/{eval_cfg['name']}/{k}": final[k]
            for k in ("explicit_return", "task_score", *headline)
            if k in final
        },
    )
    model.logger.dump(model.num_timesteps)
    model.save(run_dir / "model.zip")
    venv.close()

    theory = signal.theory() if hasattr(signal, "theory") else {}
    if "optimal_reward" in final:
        theory["optimal_reward"] = final["optimal_reward"]
    summary = {
        "experiment": config["experiment_name"],
        "env": env_cfg["name"],
        "reward": {"name": signal.name, "params": signal.params()},
        "seed": seed,
        "phases": [{"reward": p.signal.name, "steps": p.steps} for p in schedule],
        "timesteps": int(model.num_timesteps),
        "wall_time_s": round(time.perf_counter() - started, 2),
        "explicit_return": final["explicit_return"],
        "task_score": final["task_score"],
        "behaviour": {k: v for k, v in final.items() if k not in ("explicit_return", "task_score")},
        "theory": theory,
        "config": config,
        "versions": package_versions(),
        "git_revision": git_revision(),
    }
    write_json(run_dir / "summary.json", summary)
    return summary


def _report(run_dir: Path, summary: dict[str, Any]) -> None:
    """One line for the console: where the run is and what it learned."""
    b = summary["behaviour"]
    keys = ("answer_rate", "hedge_rate", "abstain_rate", "t_hat", "regret_relative")
    shown = "  ".join(f"{k}={b[k]:.3f}" for k in keys if isinstance(b.get(k), float))
    print(
        f"{summary['reward']['name']} seed{summary['seed']}: "
        f"explicit_return={summary['explicit_return']:.3f} "
        f"task_score={summary['task_score']:.3f}  {shown}\n  -> {run_dir}",
        flush=True,
    )


GROUPS = ("env", "reward", "agent", "experiment")


def unknown_choice(args: list[str], conf: Path) -> str | None:
    """A one-line error for a config group option that does not exist, else ``None``.

    Hydra's own message for this is a multi-line report; ours names the value and the
    accepted options, as every user error of the CLI does.

    Example:
        >>> unknown_choice(["reward=binray"], Path(config_dir()))
        "unknown reward 'binray'; accepted: binary, confidence_target, hedging_grid"
    """
    for arg in args:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key not in GROUPS:
            continue
        accepted = sorted(p.stem for p in (conf / key).glob("*.yaml"))
        for choice in value.split(","):
            if choice.strip() and choice.strip() not in accepted:
                return f"unknown {key} {choice.strip()!r}; accepted: {', '.join(accepted)}"
    return None


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def _hydra_main(cfg: DictConfig) -> None:
    """Hydra entry point: one run per call, one call per job of a multirun.

    A bad value prints one line and exits 2; ``INCENTIVES_DEBUG=1`` shows the traceback.
    """
    from incentives.experiment import ConfigError

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = train(cfg, run_dir)
    except (ConfigError, ValueError) as error:
        if os.environ.get("INCENTIVES_DEBUG"):
            raise
        print(f"incentives-train: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    _report(run_dir, summary)


def main() -> None:
    """Console entry point: check the group choices, then hand over to Hydra."""
    problem = unknown_choice(sys.argv[1:], Path(config_dir()))
    if problem:
        print(f"incentives-train: error: {problem}", file=sys.stderr)
        sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()
