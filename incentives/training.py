"""One training run, start to finish: the reward schedule, checkpoints, the summary.

``train(config, run_dir)`` trains the configured agent through the reward phases, logging
the three views of the run, checkpointing every ``checkpoint.every`` steps; called again
on the same folder it resumes from the last checkpoint (or, with ``resume: false``, starts
over in a new folder beside it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from incentives.chess_extras import (
    curriculum_callback,
    ladder_extra,
    selfplay_pool,
    selfplay_settings,
)
from incentives.experiment import build_behaviour, build_env, phases, use_signal
from incentives.resume import (
    Checkpoint,
    ResumeError,
    config_difference,
    restart_folder,
    set_aside_logs,
    truncate_logs,
)
from incentives.summary import git_revision, package_versions, write_json

__all__ = ["train"]


def _has_logs(run_dir: Path) -> bool:
    return any(run_dir.glob("events.out.tfevents.*")) or any(run_dir.glob("progress*.csv"))


def _claim_folder(
    run_dir: Path, config: dict[str, Any]
) -> tuple[Path, Checkpoint | None, dict[str, Any] | None]:
    """Where this run writes, the checkpoint it resumes from, or the summary it already has.

    With ``resume`` (the default) a finished run of the same config is reported, not
    trained again; a checkpoint is resumed; logs left by a run that crashed before its
    first checkpoint are set aside in ``crashed-<k>/``. With ``resume: false`` a folder
    that holds anything of an earlier run is left alone: the run goes to a new folder.
    """
    finished = run_dir / "summary.json"
    started = finished.exists() or (run_dir / "checkpoint.json").exists() or _has_logs(run_dir)
    if not config.get("resume", True):
        return (restart_folder(run_dir) if started else run_dir), None, None
    if finished.exists():
        summary: dict[str, Any] = json.loads(finished.read_text())
        changed = config_difference(summary.get("config", {}), config)
        if changed:
            raise ResumeError(
                f"{run_dir} holds a finished run of another config ({changed}); accepted: "
                "the same config, or resume=false to start over in a new folder"
            )
        return run_dir, None, {**summary, "already_finished": True}
    checkpoint = Checkpoint.load(run_dir)
    if checkpoint is not None:
        changed = config_difference(checkpoint.config, config, budget=False)
        if changed:
            raise ResumeError(
                f"{run_dir} holds a checkpoint of another config ({changed}); accepted: the "
                "same command to resume, or resume=false to start over in a new folder"
            )
    elif _has_logs(run_dir):
        set_aside_logs(run_dir)
    return run_dir, checkpoint, None


def _size_label(agent: dict[str, Any]) -> str:
    """The network's size as HParams shows it: explicit widths/shape, else the preset."""
    if agent.get("policy") == "chess_resnet" and (agent.get("channels") or agent.get("blocks")):
        return f"{agent.get('size')} channels={agent.get('channels')} blocks={agent.get('blocks')}"
    return str(agent.get("layers") or agent.get("size"))


def _scale(model: Any, parameters: int, wall_time_s: float) -> dict[str, Any]:
    """What a run cost: network size, env steps, compute (their product), time and device.

    ``compute`` is parameters x environment steps (warm-up phases included), the x-axis
    of ``incentives-compare``'s emergence curves; ``wall_time_s`` includes evaluations.
    """
    import torch

    device = str(model.device)
    steps = int(model.num_timesteps)
    return {
        "parameters": parameters,
        "env_steps": steps,
        "compute": parameters * steps,
        "wall_time_s": round(wall_time_s, 2),
        "device": device,
        "device_name": (
            torch.cuda.get_device_name(model.device) if device.startswith("cuda") else "cpu"
        ),
        "torch_threads": torch.get_num_threads(),
    }


def train(config: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Train the configured agent through the reward schedule; return the summary."""
    from omegaconf import OmegaConf
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import set_random_seed

    from agents.callbacks import Checkpointer, IncentiveLogger, PeriodicEvaluation
    from agents.ppo import build_ppo, load_ppo, parameter_count, policy_setup
    from agents.tensorboard import custom_scalars_layout, record_hparams, summary_writer

    schedule = phases(config)
    # Everything that can be checked is checked before anything is written.
    policy_setup(config["agent"])
    selfplay_settings(config["env"])
    ladder = ladder_extra(config)
    curriculum = curriculum_callback(config["env"])
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir, checkpoint, done = _claim_folder(run_dir, config)
    if done is not None:
        return done
    seed = int(config["seed"])
    env_cfg, eval_cfg, agent_cfg = config["env"], config["eval"], config["agent"]
    if env_cfg.get("needs_masks") and agent_cfg.get("algo") != "maskable_ppo":
        raise ValueError(
            f"env {env_cfg['name']!r} needs an agent that plays legal moves only; accepted: "
            f"agent=maskable_ppo (not agent.algo={agent_cfg.get('algo')!r})"
        )
    every = int(config.get("checkpoint", {}).get("every", 0))
    set_random_seed(seed)
    started = time.perf_counter()

    first = checkpoint.phase if checkpoint else 0
    train_env_cfg, pool, promotion = selfplay_pool(
        env_cfg, run_dir, checkpoint.selfplay if checkpoint else None, checkpoint is not None
    )
    venv = build_env(train_env_cfg, schedule[first].signal, int(env_cfg["n_envs"]), seed)
    if checkpoint is not None:
        try:
            model = load_ppo(agent_cfg, str(run_dir / checkpoint.model), venv)
        except Exception as error:  # SB3 raises many kinds for a bad or foreign zip
            venv.close()
            raise ResumeError(
                f"checkpoint {str(run_dir / checkpoint.model)!r} cannot be loaded ({error}); "
                "accepted: resume=false to start over in a new folder"
            ) from None
        truncate_logs(run_dir, checkpoint.num_timesteps)  # only once it is sure to resume
    else:
        model = build_ppo(agent_cfg, venv, seed)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    model.set_logger(configure(str(run_dir), ["tensorboard", "csv"]))
    current = {"signal": schedule[first].signal}
    behaviour = build_behaviour(env_cfg, current["signal"])
    headline = list(getattr(behaviour, "HEADLINE", ()))
    writer = summary_writer(model.logger)
    if writer is not None and checkpoint is None:
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
        extras=[extra for extra in (ladder, promotion) if extra is not None],
    )
    evaluation.last_at = checkpoint.eval_last_at if checkpoint else 0
    earlier_wall = checkpoint.wall_time_s if checkpoint else 0.0
    where = {"phase": first, "phase_start": checkpoint.phase_start if checkpoint else 0}

    def save_checkpoint(model: Any) -> None:
        model.logger.record("time/total_timesteps", model.num_timesteps, exclude="tensorboard")
        model.logger.dump(model.num_timesteps)
        name = f"checkpoint-{model.num_timesteps}.zip"
        model.save(run_dir / name)
        Checkpoint(
            model=name,
            num_timesteps=int(model.num_timesteps),
            phase=where["phase"],
            phase_start=where["phase_start"],
            eval_last_at=evaluation.last_at,
            wall_time_s=earlier_wall + time.perf_counter() - started,
            config=config,
            selfplay=pool.state() if pool is not None else None,
        ).save(run_dir)

    checkpointer = Checkpointer(every, save_checkpoint, int(model.num_timesteps))
    logger = IncentiveLogger(behaviour)
    callbacks: list[Any] = [logger, evaluation, checkpointer]
    if curriculum is not None:
        callbacks.insert(0, curriculum)
    for callback in callbacks:  # also when no phase is left to run
        callback.init_callback(model)
    for k in range(first, len(schedule)):
        phase = schedule[k]
        if k != first or checkpoint is None:
            where["phase_start"] = int(model.num_timesteps)
        where["phase"] = k
        remaining = phase.steps - (int(model.num_timesteps) - where["phase_start"])
        current["signal"] = phase.signal
        use_signal(venv, phase.signal)
        behaviour.use_signal(phase.signal)
        if remaining <= 0:
            continue
        logger.phase = k
        evaluation.final = k == len(schedule) - 1
        model.learn(
            total_timesteps=remaining,
            callback=callbacks,
            reset_num_timesteps=k == 0 and checkpoint is None,
            progress_bar=bool(config.get("progress_bar", False)),
        )
    # The last update's train/* statistics are never dumped (SB3 drops them too): their
    # step is the last rollout's, which already holds the update before.
    for pending in (model.logger.name_to_value, model.logger.name_to_count):
        pending.clear()
    model.logger.name_to_excluded.clear()
    final = evaluation.run()  # after the last update: the policy saved in model.zip
    signal = schedule[-1].signal
    params = signal.params()
    scale = _scale(model, parameter_count(model), earlier_wall + time.perf_counter() - started)
    record_hparams(
        model.logger,
        {
            "experiment": config["experiment_name"],
            "env": env_cfg["name"],
            "reward": signal.name,
            # one string, so every run of a sweep has the same HParams columns
            "reward.params": " ".join(f"{k}={v}" for k, v in params.items()) or "none",
            "warmup": " + ".join(f"{p.signal.name}:{p.steps}" for p in schedule[:-1]) or "none",
            "budget": schedule[-1].steps,
            "agent.size": _size_label(agent_cfg),
            "parameters": scale["parameters"],
            "compute": float(scale["compute"]),
            "device": scale["device"],
            "seed": seed,
        },
        {
            f"eval/{eval_cfg['name']}/{k}": final[k]
            for k in (*headline, "explicit_return", "task_score")
            if k in final
        },
    )
    model.logger.record("time/total_timesteps", model.num_timesteps, exclude="tensorboard")
    model.logger.dump(model.num_timesteps)
    model.save(run_dir / "model.zip")
    venv.close()

    theory = signal.theory() if hasattr(signal, "theory") else {}
    if "optimal_reward" in final:
        theory["optimal_reward"] = final["optimal_reward"]
    summary = {
        "experiment": config["experiment_name"],
        "env": env_cfg["name"],
        "reward": {"name": signal.name, "params": params},
        "seed": seed,
        "phases": [{"reward": p.signal.name, "steps": p.steps} for p in schedule],
        "timesteps": int(model.num_timesteps),
        "wall_time_s": round(earlier_wall + time.perf_counter() - started, 2),
        "scale": scale,
        "resumed_from": checkpoint.num_timesteps if checkpoint else None,
        "run_dir": str(run_dir),
        "explicit_return": final["explicit_return"],
        "task_score": final["task_score"],
        "behaviour": {k: v for k, v in final.items() if k not in ("explicit_return", "task_score")},
        "selfplay": [vars(m) for m in pool.members()] if pool is not None else None,
        "theory": theory,
        "config": config,
        "versions": package_versions(),
        "git_revision": git_revision(),
    }
    write_json(run_dir / "summary.json", summary)
    for old in run_dir.glob("checkpoint*"):
        old.unlink()
    return summary
