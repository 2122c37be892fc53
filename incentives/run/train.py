"""One training run, start to finish, told in the order it happens.

``train(config, run_dir)``:

1. **plan**: check everything the config says (reward phases, agent, the domain's
   additions) before anything is written;
2. **claim** the run folder: a finished run is reported, a checkpoint resumed, a crashed
   run's logs set aside (or, with ``resume: false``, a new folder beside it);
3. **build** the env, the agent, the logger and the callbacks that watch training;
4. train through the reward **phases**, checkpointing every ``checkpoint.every`` steps;
5. **evaluate** the final policy and record HParams;
6. **summarise**: ``model.zip`` and ``summary.json``.

Everything a step needs is passed to it; the one thing that changes while training runs,
where the run stands in its reward schedule, is a :class:`Progress` that the checkpoint
and the evaluation read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from incentives.behaviour import Behaviour
from incentives.compose import CompositeSignal
from incentives.domain import Domain, RunExtension
from incentives.run.build import (
    ConfigError,
    Phase,
    build_behaviour,
    build_env,
    env_domain,
    phases,
    scheduled_weights,
    set_progress,
    use_signal,
)
from incentives.run.resume import (
    Checkpoint,
    ResumeError,
    claimed_folder,
    generator_states,
    read_run_state,
    restore_generators,
    restore_venv,
    truncate_logs,
    venv_state,
    write_run_state,
)
from incentives.run.summary import (
    git_revision,
    hparams,
    package_versions,
    record_flags,
    scale_record,
    write_json,
)
from incentives.run.text import is_text_run, train_text
from incentives.signal import ExplicitSignal

__all__ = ["Plan", "Progress", "train"]


@dataclass(frozen=True)
class Plan:
    """What a run will do, every part checked, before it writes anything."""

    config: dict[str, Any]
    schedule: list[Phase]
    domain: Domain
    extension: RunExtension
    seed: int
    checkpoint_every: int


@dataclass
class Progress:
    """Where a run stands in its reward schedule: what checkpoints record."""

    phase: int
    phase_start: int
    signal: ExplicitSignal
    #: the env steps the reward's schedules were last set for (``ScheduleClock``)
    env_steps: int = 0


class ScheduleClock(BaseCallback):
    """Sets the reward's schedule clock to the run's env steps (all envs together, the
    count ``budget`` and the phases use) at the start of every rollout, in every copy of
    the signal (``ExplicitSignal.progress``); logs a composite's weights as its copies
    hold them (``explicit/weight/<part>``, with the rollout they were in force for)."""

    def __init__(self, venv: Any, progress: Progress) -> None:
        super().__init__()
        self.venv, self.progress = venv, progress

    def _on_rollout_start(self) -> None:
        step = int(self.num_timesteps)
        self.progress.env_steps = step
        self.progress.signal.progress(step)  # the phase's own copy: evaluations build on it
        set_progress(self.venv, step)
        if isinstance(self.progress.signal, CompositeSignal):
            for label, weight in scheduled_weights(self.venv).items():
                self.logger.record(f"explicit/weight/{label}", weight)

    def _on_step(self) -> bool:
        return True


@dataclass
class Trainer:
    """The built run: its agent and env, the callbacks watching it, and its clock."""

    plan: Plan
    run_dir: Path
    checkpoint: Checkpoint | None
    model: Any
    venv: Any
    behaviour: Behaviour
    logger: Any
    evaluation: Any
    callbacks: list[Any]
    progress: Progress
    started: float = field(default_factory=time.perf_counter)

    @property
    def wall_time_s(self) -> float:
        """Seconds trained, with those before a resume."""
        earlier = self.checkpoint.wall_time_s if self.checkpoint else 0.0
        return earlier + time.perf_counter() - self.started


def train(config: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Train the configured agent through the reward schedule; return the summary.

    A language model (``agent.algo: lm``) has a story of its own, told the same way
    (``incentives.run.text``).
    """
    if is_text_run(config):
        return train_text(config, run_dir)
    plan = plan_run(config)
    with claimed_folder(run_dir, config) as (run_dir, checkpoint, finished):
        if finished is not None:
            return finished
        trainer = build(plan, run_dir, checkpoint)
        run_phases(trainer)
        final = evaluate_final(trainer)
        return summarise(trainer, final)


def plan_run(config: dict[str, Any]) -> Plan:
    """The run's plan, every setting checked before anything is written.

    First the schema (``incentives.run.schema``: every key known, every value of its kind
    and range), then the classes that own a rule: the env (built once, ``env.kwargs``),
    the schemes (``reward``, ``warmup``), the agent's builder, the domain's extension.
    Any ``ValueError`` here is the user's: it leaves as a one-line ``ConfigError``.
    """
    from agents.ppo import policy_setup
    from incentives.errors import UserError
    from incentives.run.build import check_env
    from incentives.run.schema import check

    try:
        check(config)
        env_cfg, agent_cfg = config["env"], config["agent"]
        if int(agent_cfg["n_steps"]) * int(env_cfg["n_envs"]) < 2:
            raise ConfigError(
                f"agent.n_steps={agent_cfg['n_steps']!r}; accepted: n_steps x env.n_envs "
                f"(={env_cfg['n_envs']}) of at least 2"
            )
        check_env(env_cfg)
        schedule = phases(config)
        policy_setup(agent_cfg)
        if env_cfg.get("needs_masks") and agent_cfg.get("algo") != "maskable_ppo":
            raise ConfigError(
                f"env {env_cfg['name']!r} needs an agent that plays legal moves only; "
                f"accepted: agent=maskable_ppo (not agent.algo={agent_cfg.get('algo')!r})"
            )
        domain = env_domain(env_cfg)
        extension = domain.run_extension(config)
    except UserError:
        raise
    except ValueError as error:  # a class's check of a setting: the user's to fix
        raise ConfigError(str(error)) from error
    return Plan(
        config=config,
        schedule=schedule,
        domain=domain,
        extension=extension,
        seed=int(config["seed"]),
        checkpoint_every=int(config["checkpoint"]["every"]),
    )


def build(plan: Plan, run_dir: Path, checkpoint: Checkpoint | None) -> Trainer:
    """The env, the agent (new, or loaded from the checkpoint), its logger and callbacks."""
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.utils import set_random_seed

    from agents.callbacks import IncentiveLogger

    env_cfg = plan.config["env"]
    # read before anything changes: an unreadable state leaves the folder as it is
    state = read_run_state(run_dir / checkpoint.state) if checkpoint and checkpoint.state else None
    set_random_seed(plan.seed)
    started = time.perf_counter()
    first = checkpoint.phase if checkpoint else 0
    progress = Progress(
        phase=first,
        phase_start=checkpoint.phase_start if checkpoint else 0,
        signal=plan.schedule[first].signal,
    )
    train_env_cfg = plan.extension.train_env_config(
        env_cfg, run_dir, checkpoint.domain_state if checkpoint else None, checkpoint is not None
    )
    venv = build_env(train_env_cfg, progress.signal, int(env_cfg["n_envs"]), plan.seed)
    model = _agent(plan, run_dir, checkpoint, venv)
    model.set_logger(configure(str(run_dir), ["tensorboard", "csv"]))
    behaviour = build_behaviour(env_cfg, progress.signal)
    trainer = Trainer(
        plan=plan,
        run_dir=run_dir,
        checkpoint=checkpoint,
        model=model,
        venv=venv,
        behaviour=behaviour,
        logger=IncentiveLogger(behaviour),
        evaluation=_evaluation(plan, progress, checkpoint),
        callbacks=[],
        progress=progress,
        started=started,
    )
    if state is not None:  # before the callbacks first see the envs
        _restore_run_state(trainer, state)
    trainer.callbacks = _callbacks(trainer)
    if checkpoint is None:
        _tensorboard_layout(trainer)
    if state is not None:  # last: nothing may draw a random number after this
        restore_generators(state["generators"])
    return trainer


#: What the agent carries from one rollout to the next besides its weights and optimizer
#: (saved in its zip): the observation and episode starts the next rollout begins from.
_MODEL_STATE = (
    "_last_obs",
    "_last_episode_starts",
    "_last_original_obs",
    "ep_info_buffer",
    "ep_success_buffer",
    "_episode_num",
    "_n_updates",
    "_current_progress_remaining",
)


def _pending_logs(logger: Any) -> dict[str, Any]:
    """Values recorded but not yet written (an update's ``train/*``), the plain ones."""
    plain = (bool, int, float, str, np.number)
    kept = {k: v for k, v in logger.name_to_value.items() if isinstance(v, plain)}
    return {
        "values": kept,
        "counts": {k: logger.name_to_count[k] for k in kept if k in logger.name_to_count},
        "excluded": {k: logger.name_to_excluded[k] for k in kept if k in logger.name_to_excluded},
    }


def _run_state(trainer: Trainer) -> dict[str, Any]:
    """What the rest of the run depends on besides the model: see ``incentives.run.resume``."""
    model = trainer.model
    return {
        "generators": generator_states(),
        "venv": venv_state(trainer.venv),
        "model": {name: getattr(model, name, None) for name in _MODEL_STATE},
        "tally": trainer.logger.tally,
        "logs": _pending_logs(model.logger),
    }


def _restore_run_state(trainer: Trainer, state: dict[str, Any]) -> None:
    """Put the envs, the agent's rollout state, the tally and the pending logs back."""
    restore_venv(trainer.venv, state["venv"])
    for name, value in state["model"].items():
        setattr(trainer.model, name, value)
    trainer.logger.tally = state["tally"]
    logger, logs = trainer.model.logger, state["logs"]
    logger.name_to_value.update(logs["values"])
    logger.name_to_count.update(logs["counts"])
    logger.name_to_excluded.update(logs["excluded"])


def _agent(plan: Plan, run_dir: Path, checkpoint: Checkpoint | None, venv: Any) -> Any:
    """A new agent, or the checkpoint's (then the logs are cut back to its step)."""
    from omegaconf import OmegaConf

    from agents.ppo import build_ppo, load_ppo

    agent_cfg = plan.config["agent"]
    if checkpoint is None:
        model = build_ppo(agent_cfg, venv, plan.seed)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(plan.config))
        return model
    try:
        model = load_ppo(agent_cfg, str(run_dir / checkpoint.model), venv)
    except Exception as error:  # SB3 raises many kinds for a bad or foreign zip
        venv.close()
        raise ResumeError(
            f"checkpoint {str(run_dir / checkpoint.model)!r} cannot be loaded ({error}); "
            "accepted: resume=false to start over in a new folder"
        ) from None
    truncate_logs(run_dir, checkpoint.num_timesteps)  # only once it is sure to resume
    return model


def _evaluation(plan: Plan, progress: Progress, checkpoint: Checkpoint | None) -> Any:
    """The periodic deterministic evaluation, on envs rewarded by the phase in force."""
    from agents.callbacks import PeriodicEvaluation

    env_cfg, eval_cfg = plan.config["env"], plan.config["eval"]

    def make_env() -> Any:  # rewarded with the weights in force in training
        venv = build_env(env_cfg, progress.signal, int(eval_cfg["n_envs"]), int(eval_cfg["seed"]))
        set_progress(venv, progress.env_steps)
        return venv

    evaluation = PeriodicEvaluation(
        make_env=make_env,
        make_behaviour=lambda: build_behaviour(env_cfg, progress.signal),
        every=int(eval_cfg["every"]),
        episodes=int(eval_cfg["episodes"]),
        seed=int(eval_cfg["seed"]),
        name=str(eval_cfg["name"]),
        extras=plan.extension.evaluation_extras(),
    )
    evaluation.last_at = checkpoint.eval_last_at if checkpoint else 0
    return evaluation


def _callbacks(trainer: Trainer) -> list[Any]:
    """The domain's callbacks, then the logger of the three views, the evaluation and the
    checkpointer, each bound to the model (also when no phase is left to run)."""
    from agents.callbacks import Checkpointer

    checkpointer = Checkpointer(
        trainer.plan.checkpoint_every,
        lambda model: save_checkpoint(trainer),
        int(trainer.model.num_timesteps),
    )
    callbacks = [  # the checkpointer first: see ``Checkpointer``; then the clock
        checkpointer,
        ScheduleClock(trainer.venv, trainer.progress),
        *trainer.plan.extension.callbacks(),
        trainer.logger,
        trainer.evaluation,
    ]
    for callback in callbacks:
        callback.init_callback(trainer.model)
    return callbacks


def _headline(trainer: Trainer) -> tuple[str, ...]:
    """The domain's headline metrics."""
    return type(trainer.behaviour).names(headline=True)


def _tensorboard_layout(trainer: Trainer) -> None:
    """TensorBoard's custom-scalars layout: one chart per headline metric."""
    from agents.tensorboard import custom_scalars_layout, summary_writer

    writer = summary_writer(trainer.model.logger)
    if writer is not None:
        eval_name = str(trainer.plan.config["eval"]["name"])
        writer.add_custom_scalars(custom_scalars_layout(_headline(trainer), eval_name))


def run_phases(trainer: Trainer) -> None:
    """Train through the reward phases left, switching the scheme at each boundary."""
    schedule, model, progress = trainer.plan.schedule, trainer.model, trainer.progress
    first = progress.phase
    resumed = trainer.checkpoint is not None
    for k in range(first, len(schedule)):
        phase = schedule[k]
        if k != first or not resumed:
            progress.phase_start = int(model.num_timesteps)
        progress.phase, progress.signal = k, phase.signal
        use_signal(trainer.venv, phase.signal)
        trainer.behaviour.use_signal(phase.signal)
        remaining = phase.steps - (int(model.num_timesteps) - progress.phase_start)
        if remaining <= 0:
            continue
        trainer.logger.phase = k
        trainer.evaluation.final = k == len(schedule) - 1
        model.learn(
            total_timesteps=remaining,
            callback=trainer.callbacks,
            reset_num_timesteps=k == 0 and not resumed,
            progress_bar=bool(trainer.plan.config.get("progress_bar", False)),
        )


def save_checkpoint(trainer: Trainer) -> None:
    """Save the model, the run state and where the run stands, ``checkpoint.json`` last;
    the previous checkpoint goes once the new one is complete."""
    model = trainer.model
    name = f"checkpoint-{model.num_timesteps}"
    model.save(trainer.run_dir / f"{name}.zip")
    write_run_state(trainer.run_dir / f"{name}.state", _run_state(trainer))
    Checkpoint(
        model=f"{name}.zip",
        state=f"{name}.state",
        num_timesteps=int(model.num_timesteps),
        phase=trainer.progress.phase,
        phase_start=trainer.progress.phase_start,
        eval_last_at=trainer.evaluation.last_at,
        wall_time_s=trainer.wall_time_s,
        config=trainer.plan.config,
        domain_state=trainer.plan.extension.state(),
    ).save(trainer.run_dir)


def evaluate_final(trainer: Trainer) -> dict[str, float]:
    """Evaluate the policy after the last update (the one saved in ``model.zip``)."""
    logger = trainer.model.logger
    # The last update's train/* statistics are never dumped (SB3 drops them too): their
    # step is the last rollout's, which already holds the update before.
    for pending in (logger.name_to_value, logger.name_to_count):
        pending.clear()
    logger.name_to_excluded.clear()
    steps = int(trainer.model.num_timesteps)  # the weights the last update ends at
    trainer.progress.env_steps = steps
    trainer.progress.signal.progress(steps)
    results: dict[str, float] = trainer.evaluation.run()
    return results


def _size_label(agent: Mapping[str, Any]) -> str:
    """The network's size as HParams shows it: explicit widths/shape, else the preset."""
    if agent.get("policy") == "chess_resnet" and (agent.get("channels") or agent.get("blocks")):
        return f"{agent.get('size')} channels={agent.get('channels')} blocks={agent.get('blocks')}"
    return str(agent.get("layers") or agent.get("size"))


def _scale(trainer: Trainer) -> dict[str, Any]:
    """What the run cost (``scale_record``); the steps include warm-up phases and the
    wall time the evaluations."""
    from agents.ppo import parameter_count

    model = trainer.model
    return scale_record(
        parameter_count(model), int(model.num_timesteps), trainer.wall_time_s, model.device
    )


def _record_hparams(trainer: Trainer, final: Mapping[str, float], scale: Mapping[str, Any]) -> None:
    """What defines the run, beside its final headline metrics, for TensorBoard's HPARAMS."""
    from agents.tensorboard import record_hparams

    config = trainer.plan.config
    eval_name = config["eval"]["name"]
    record_hparams(
        trainer.model.logger,
        hparams(config, trainer.plan.schedule, _size_label(config["agent"]), scale),
        {
            f"eval/{eval_name}/{k}": final[k]
            for k in (*_headline(trainer), "explicit_return", "task_score")
            if k in final
        },
    )


def summarise(trainer: Trainer, final: Mapping[str, float]) -> dict[str, Any]:
    """Record HParams, save ``model.zip``, write ``summary.json``; drop the checkpoints."""
    plan, model, run_dir = trainer.plan, trainer.model, trainer.run_dir
    config, schedule = plan.config, plan.schedule
    signal = schedule[-1].signal
    scale = _scale(trainer)
    _record_hparams(trainer, final, scale)
    model.logger.record("time/total_timesteps", model.num_timesteps, exclude="tensorboard")
    model.logger.dump(model.num_timesteps)
    model.save(run_dir / "model.zip")
    trainer.venv.close()

    theory = signal.theory() if hasattr(signal, "theory") else {}
    if "optimal_reward" in final:
        theory["optimal_reward"] = final["optimal_reward"]
    summary = {
        "experiment": config["experiment_name"],
        "env": config["env"]["name"],
        "domain": plan.domain.name,
        "reward": {"name": signal.name, "params": signal.params()},
        "seed": plan.seed,
        "phases": [{"reward": p.signal.name, "steps": p.steps} for p in schedule],
        "timesteps": int(model.num_timesteps),
        "wall_time_s": round(trainer.wall_time_s, 2),
        "scale": scale,
        "resumed_from": trainer.checkpoint.num_timesteps if trainer.checkpoint else None,
        "run_dir": str(run_dir),
        "explicit_return": final["explicit_return"],
        "task_score": final["task_score"],
        "behaviour": {k: v for k, v in final.items() if k not in ("explicit_return", "task_score")},
        **plan.extension.summary(),
        "theory": theory,
        "config": config,
        "versions": package_versions(),
        "git_revision": git_revision(),
    }
    # the gaming flags from the logged curves: summary.json and one scalar each
    from agents.tensorboard import summary_writer

    record_flags(run_dir, summary, summary_writer(model.logger))
    write_json(run_dir / "summary.json", summary)
    for old in run_dir.glob("checkpoint*"):
        old.unlink()
    return summary
