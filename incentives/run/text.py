"""One run of the text domain, start to finish: a language model trained on the corpus.

``train_text(config, run_dir)`` tells the same story as ``incentives.run.train`` with a
supervised learner in place of PPO (``agents.lm``), and writes the same run folder:

1. **plan**: check every key against the schema (``agent.algo: lm``'s keys), the
   reward phases (text schemes only) and the corpus (``env.kwargs``), before anything
   is written;
2. **claim** the run folder (``incentives.run.resume.claimed_folder``: locked for this
   process; a finished run is reported, a checkpoint resumed);
3. **build** the corpus, the model and its optimizer, the held-out and seen-item
   evaluation sets, the logger (TensorBoard + ``progress.csv``);
4. train through the reward **phases**: each phase's scheme weighs the tokens
   (``signal.weights``), batches of windows are drawn from the corpus, one update each;
   the budget counts tokens (``timesteps`` = tokens trained);
5. **evaluate** periodically and at the end: held-out items of every family, facts by
   how often they were seen, held-out compositions (``eval/<name>/*``), and the same
   measures on items of training documents (``behaviour/*``: the seen-items probe);
6. **summarise**: ``model.pt`` and ``summary.json`` with the keys of every run.

The three views: ``explicit/return`` is the mean weighted log-likelihood of the tokens
the scheme selects (nats per unit of weight, the negative of the learner's loss);
``task/score`` is next-token accuracy over every token; behaviour is each skill.

Answer phases (``incentives.run.answering``): a phase whose scheme judges answers the
model writes (``outcome``, the QA grids) trains it by PPO, ``teach_idk`` by supervised
answers; their steps are answer tokens, their explicit return the scheme's mean reward
on the measured questions and their task score the share answered right. With
``agent.pretrained_cache`` set, the pretraining phases before them are kept on disk by
a digest of all that decides them, and a run with the same digest starts from there.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from incentives.domain import Domain
from incentives.run.answering import (
    Answering,
    AnsweringSettings,
    cache_path,
    check_answer_signal,
    phase_kind,
    pretraining_key,
)
from incentives.run.build import ConfigError, Phase, env_domain, phases
from incentives.run.resume import Checkpoint, ResumeError, claimed_folder, truncate_logs
from incentives.run.schema import check
from incentives.run.summary import (
    git_revision,
    hparams,
    package_versions,
    scale_record,
    write_json,
)

__all__ = ["TextPlan", "is_text_run", "plan_text", "train_text"]


#: The share of ``eval.episodes`` drawn from training documents for ``behaviour/*``.
_SEEN_SHARE = 0.25


def is_text_run(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` trains the language-model learner (``agent.algo: lm``)."""
    agent = config.get("agent")
    return isinstance(agent, Mapping) and agent.get("algo") == "lm"


@dataclass(frozen=True)
class TextPlan:
    """What a text run will do, every part checked, before it writes anything."""

    config: dict[str, Any]
    schedule: list[Phase]
    domain: Domain
    corpus: Any
    spec: Any
    seed: int
    checkpoint_every: int
    #: The answering questions (``Answering``), built once with the plan; None without.
    answering: Any = None

    @property
    def pretraining(self) -> list[Phase]:
        """The phases that train on the corpus (next-token schemes), in order."""
        return [p for p in self.schedule if phase_kind(p.signal) == "pretrain"]


def plan_text(config: dict[str, Any]) -> TextPlan:
    """The run's plan: the keys, the reward phases, the corpus and the model's shape."""
    from agents.lm import lm_spec
    from envs.text.tokenizer import VOCAB_SIZE
    from incentives.errors import UserError

    try:
        check(config)
        schedule = phases(config)
        for phase in schedule:
            if phase_kind(phase.signal) != "pretrain":
                check_answer_signal(phase.signal)
        agent = config["agent"]
        spec = lm_spec(agent, VOCAB_SIZE, int(agent["context"]))
        corpus = _corpus(json.dumps(config["env"].get("kwargs") or {}, sort_keys=True))
        longest = max(corpus.max_document, _longest_evaluation(corpus))
        settings = AnsweringSettings.from_config(config["env"], schedule)
        answering = None
        if settings is not None:
            answering = Answering.build(corpus, settings, int(config["seed"]))
            longest = max(longest, answering.longest())
        if spec.context < longest:
            raise ConfigError(
                f"agent.context={spec.context} is shorter than the longest document "
                f"({longest} tokens); accepted: a context of at least {longest}"
            )
        domain = env_domain(config["env"])
    except UserError:
        raise
    except (ValueError, TypeError) as error:  # a class's check of a setting: the user's
        raise ConfigError(str(error)) from error
    return TextPlan(
        config=config,
        schedule=schedule,
        domain=domain,
        corpus=corpus,
        spec=spec,
        seed=int(config["seed"]),
        checkpoint_every=int(config["checkpoint"]["every"]),
        answering=answering,
    )


def _corpus(kwargs: str) -> Any:
    """The corpus of ``env.kwargs`` (JSON), built once per process (the CLI plans a run
    before Hydra starts it)."""
    from envs.text.corpus import TextCorpus

    return TextCorpus(**json.loads(kwargs))


def _longest_evaluation(corpus: Any) -> int:
    """Tokens in the longest document an evaluation may hold (compositions included)."""
    from envs.text.families import COMPOSITIONS

    rng = np.random.default_rng(0)
    longest = 0
    for composition in COMPOSITIONS.values():
        items = composition.generate(rng, 256, corpus.shape)
        longest = max(longest, *(len(p) + len(a) + 2 for p, a in zip(*_pa(items), strict=True)))
    return longest


def _pa(items: Any) -> tuple[list[str], list[str]]:
    return items.prompts, items.answers


@dataclass
class TextProgress:
    """Where a run stands: its phase, the phase's first token, tokens trained, the last
    evaluation; with the data order's generator, what a checkpoint records."""

    phase: int = 0
    phase_start: int = 0
    timesteps: int = 0
    eval_last_at: int = 0


@dataclass
class TextTrainer:
    """The built run: corpus on the device, learner, evaluation sets, logger and clock."""

    plan: TextPlan
    run_dir: Path
    checkpoint: Checkpoint | None
    learner: Any
    tokens: Any
    rng: np.random.Generator
    heldout: Any
    seen: Any
    logger: Any
    progress: TextProgress
    started: float = field(default_factory=time.perf_counter)
    checkpointed_at: int = -1
    weights: Any = None
    #: The answering questions and the answer phases' learner (None: no answering).
    answering: Answering | None = None
    #: The digest of a pretrained model taken from the cache (None: trained here).
    pretrained_from: str | None = None
    #: The held-out results at the start of each answer phase, by phase index: what the
    #: model did before the phase's scheme trained it (after pretraining, for the first).
    phase_starts: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Tokens and seconds since the last training scalars (tokens per second).
    window: list[float] = field(default_factory=lambda: [0.0, time.perf_counter()])

    @property
    def wall_time_s(self) -> float:
        """Seconds trained, with those before a resume."""
        earlier = self.checkpoint.wall_time_s if self.checkpoint else 0.0
        return earlier + time.perf_counter() - self.started

    @property
    def tokens_per_update(self) -> int:
        """Tokens one update trains on: batch x context."""
        agent = self.plan.config["agent"]
        return int(agent["batch_size"]) * int(agent["context"])


def train_text(config: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Train the language model through the reward schedule; return the summary."""
    plan = plan_text(config)
    with claimed_folder(run_dir, config) as (run_dir, checkpoint, finished):
        if finished is not None:
            return finished
        trainer = build(plan, run_dir, checkpoint)
        run_phases(trainer)
        if plan.checkpoint_every > 0 and trainer.checkpointed_at != trainer.progress.timesteps:
            save_checkpoint(trainer)
        final = evaluate(trainer, final=True)
        return summarise(trainer, final)


def build(plan: TextPlan, run_dir: Path, checkpoint: Checkpoint | None) -> TextTrainer:
    """The learner (new, or the checkpoint's), the corpus on its device, the evaluation
    sets and the logger."""
    import torch
    from omegaconf import OmegaConf
    from stable_baselines3.common.logger import configure

    from agents.lm import LMLearner, pick_device
    from incentives.domains.text.evaluation import EncodedSet

    config, agent = plan.config, plan.config["agent"]
    threads = agent.get("torch_threads")
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(plan.seed)
    device = pick_device(str(agent["device"]))
    per_update = int(agent["batch_size"]) * int(agent["context"])
    learner = LMLearner(
        plan.spec,
        device,
        learning_rate=float(agent["learning_rate"]),
        weight_decay=float(agent["weight_decay"]),
        lr_warmup=int(agent["lr_warmup"]),
        lr_schedule=str(agent["lr_schedule"]),
        max_grad_norm=float(agent["max_grad_norm"]),
        total_updates=sum(math.ceil(p.steps / per_update) for p in plan.pretraining),
    )
    rng = np.random.default_rng([plan.seed, 11])
    answering = plan.answering
    progress, starts = TextProgress(), dict[str, dict[str, float]]()
    if checkpoint is not None:
        progress, starts = _resume(learner, rng, run_dir, checkpoint, answering, plan)
    else:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(config))
    corpus, ev = plan.corpus, config["eval"]
    episodes, seed = int(ev["episodes"]), int(ev["seed"])
    trainer = TextTrainer(
        plan=plan,
        run_dir=run_dir,
        checkpoint=checkpoint,
        learner=learner,
        tokens=torch.from_numpy(corpus.tokens).to(device),
        rng=rng,
        heldout=EncodedSet.of(corpus.evaluation_set(episodes, seed)),
        seen=EncodedSet.of(corpus.training_sample(max(1, int(episodes * _SEEN_SHARE)), seed)),
        logger=configure(str(run_dir), ["tensorboard", "csv"]),
        progress=progress,
        checkpointed_at=checkpoint.num_timesteps if checkpoint else -1,
        answering=answering,
        phase_starts=starts,
    )
    if checkpoint is None:
        _tensorboard_layout(trainer)
    return trainer


def _resume(
    learner: Any,
    rng: np.random.Generator,
    run_dir: Path,
    checkpoint: Checkpoint,
    answering: Answering | None,
    plan: TextPlan,
) -> tuple[TextProgress, dict[str, dict[str, float]]]:
    """Load the checkpoint's learner, data order and answer phase; cut the logs back."""
    import torch

    path = run_dir / checkpoint.model
    try:
        state = torch.load(path, map_location=learner.device, weights_only=False)
        learner.load_state(state["learner"])
        rng.bit_generator.state = state["data_order"]
        if answering is not None and state.get("answering") is not None:
            answering.load_state(
                state["answering"], learner.model, plan.config["agent"].get("rl") or {}
            )
        # last: building the phase's learner above draws from torch's generator
        torch.set_rng_state(state["torch_rng"])
    except Exception as error:  # torch raises many kinds for a bad or foreign file
        raise ResumeError(
            f"checkpoint {str(path)!r} cannot be loaded ({error}); accepted: resume=false "
            "to start over in a new folder"
        ) from None
    truncate_logs(run_dir, checkpoint.num_timesteps)
    progress = TextProgress(
        phase=checkpoint.phase,
        phase_start=checkpoint.phase_start,
        timesteps=checkpoint.num_timesteps,
        eval_last_at=checkpoint.eval_last_at,
    )
    return progress, dict(state.get("phase_starts") or {})


def _tensorboard_layout(trainer: TextTrainer) -> None:
    """TensorBoard's custom-scalars layout: one chart per headline metric."""
    from agents.tensorboard import custom_scalars_layout, summary_writer

    writer = summary_writer(trainer.logger)
    if writer is not None:
        headline = trainer.plan.domain.behaviour_type().names(headline=True)
        eval_name = str(trainer.plan.config["eval"]["name"])
        writer.add_custom_scalars(custom_scalars_layout(headline, eval_name))


def run_phases(trainer: TextTrainer) -> None:
    """Train through the reward phases left: a pretraining phase's scheme weighs the
    corpus's tokens, then updates draw windows until the phase's tokens are trained; an
    answer phase asks questions until its answer tokens are trained."""
    import torch

    plan, progress = trainer.plan, trainer.progress
    corpus, context = plan.corpus, int(plan.config["agent"]["context"])
    batch = int(plan.config["agent"]["batch_size"])
    resumed = trainer.checkpoint is not None
    prefix = _pretrained_prefix(trainer)
    first = progress.phase
    bar = _progress_bar(trainer)
    for k in range(first, len(plan.schedule)):
        phase = plan.schedule[k]
        if k != first or not resumed:
            progress.phase_start = progress.timesteps
        progress.phase = k
        if k == prefix[0] and k != first and prefix[1] is not None:  # pretrained here
            _save_pretrained(trainer, prefix[1])
        if phase_kind(phase.signal) != "pretrain":
            _answer_phase(trainer, k, phase, bar)
            continue
        weights = phase.signal.weights(corpus.family, corpus.answer)  # type: ignore[attr-defined]
        trainer.weights = torch.from_numpy(weights).to(trainer.learner.device)
        while progress.timesteps - progress.phase_start < phase.steps:
            index = torch.from_numpy(corpus.windows(trainer.rng, batch, context + 1))
            index = index.to(trainer.learner.device)
            trainer.learner.update(trainer.tokens[index].long(), trainer.weights[index[:, 1:]])
            progress.timesteps += trainer.tokens_per_update
            trainer.window[0] += trainer.tokens_per_update
            if bar is not None:
                bar.update(trainer.tokens_per_update)
            _after_update(trainer)
    if bar is not None:
        bar.close()


def _pretrained_prefix(trainer: TextTrainer) -> tuple[int, Path | None]:
    """The index of the first answer phase after the pretraining phases, and the cache
    file of their model (None: no cache). A new run whose file exists starts from it."""
    import torch

    plan, progress = trainer.plan, trainer.progress
    kinds = [phase_kind(p.signal) for p in plan.schedule]
    first_answer = next((k for k, kind in enumerate(kinds) if kind != "pretrain"), len(kinds))
    if (
        first_answer == 0
        or first_answer == len(kinds)
        or any(kind == "pretrain" for kind in kinds[first_answer:])
    ):
        return first_answer, None
    key = pretraining_key(plan.config, plan.spec, plan.schedule)
    path = cache_path(plan.config, key)
    if path is None or trainer.checkpoint is not None or progress.timesteps:
        return first_answer, path
    if path.is_file():
        state = torch.load(path, map_location=trainer.learner.device, weights_only=False)
        trainer.learner.load_state(state["learner"])
        torch.set_rng_state(state["torch_rng"])
        trainer.rng.bit_generator.state = state["data_order"]
        progress.timesteps = sum(p.steps for p in plan.schedule[:first_answer])
        progress.phase = first_answer
        progress.eval_last_at = progress.timesteps
        trainer.pretrained_from = key
    return first_answer, path


def _save_pretrained(trainer: TextTrainer, path: Path) -> None:
    """Keep the pretrained model for runs with the same digest (written whole, then
    renamed: two runs writing it at once leave one complete file)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{time.time_ns()}.tmp")
    torch.save(
        {
            "learner": trainer.learner.state(),
            "torch_rng": torch.get_rng_state(),
            "data_order": trainer.rng.bit_generator.state,
        },
        tmp,
    )
    tmp.replace(path)


def _answer_phase(trainer: TextTrainer, k: int, phase: Phase, bar: Any) -> None:
    """Ask training questions until the phase's answer tokens are trained: PPO rollouts
    under a scheme judging answers, supervised steps under ``teach_idk``."""
    plan, progress, answering = trainer.plan, trainer.progress, trainer.answering
    assert answering is not None
    rl = plan.config["agent"].get("rl") or {}
    answering.start_phase(k, trainer.learner.model, rl, phase.signal)
    if progress.timesteps == progress.phase_start:
        trainer.phase_starts[str(k)] = evaluate(trainer, final=False)
    batch = int(rl.get("batch_size", 256))
    teach = phase_kind(phase.signal) == "teach"
    while progress.timesteps - progress.phase_start < phase.steps:
        if teach:
            tokens = answering.teach(phase.signal, batch)
        else:
            tokens = answering.reinforce(phase.signal, batch)
        progress.timesteps += tokens
        trainer.window[0] += tokens
        if bar is not None:
            bar.update(tokens)
        _log_answering(trainer)
        _periodic(trainer)


def _log_answering(trainer: TextTrainer) -> None:
    """An answer step's training scalars: the scheme's mean reward on the rollout (the
    taught answers' log-likelihood when teaching), the share right, PPO's statistics."""
    assert trainer.answering is not None
    stats = trainer.answering.drain()
    logger, now = trainer.logger, time.perf_counter()
    logger.record("explicit/return", stats.pop("return"))
    if "correct" in stats:
        logger.record("task/score", stats.pop("correct"))
    for key, value in stats.items():
        logger.record(f"train/{key}", value)
    logger.record("train/phase", trainer.progress.phase)
    logger.record("time/tokens_per_s", trainer.window[0] / max(1e-9, now - trainer.window[1]))
    logger.record("time/total_timesteps", trainer.progress.timesteps)
    logger.dump(trainer.progress.timesteps)
    trainer.window[:] = [0.0, now]


def _progress_bar(trainer: TextTrainer) -> Any:
    if not trainer.plan.config.get("progress_bar", False):
        return None
    from tqdm import tqdm

    total = sum(p.steps for p in trainer.plan.schedule)
    return tqdm(total=total, initial=trainer.progress.timesteps, unit="tok", unit_scale=True)


def _after_update(trainer: TextTrainer) -> None:
    """Training scalars every ``agent.log_every`` updates; a periodic evaluation and a
    checkpoint when their steps come."""
    plan, progress, learner = trainer.plan, trainer.progress, trainer.learner
    every_eval = int(plan.config["eval"]["every"])
    evaluating = every_eval > 0 and progress.timesteps - progress.eval_last_at >= every_eval
    if learner.updates % int(plan.config["agent"]["log_every"]) == 0 or evaluating:
        _log_training(trainer, dump=not evaluating)
    _periodic(trainer)


def _periodic(trainer: TextTrainer) -> None:
    """A periodic evaluation and a checkpoint when their steps come."""
    plan, progress = trainer.plan, trainer.progress
    every_eval = int(plan.config["eval"]["every"])
    if every_eval > 0 and progress.timesteps - progress.eval_last_at >= every_eval:
        evaluate(trainer, final=False)
    if plan.checkpoint_every > 0 and progress.timesteps - max(0, trainer.checkpointed_at) >= (
        plan.checkpoint_every
    ):
        save_checkpoint(trainer)


def _log_training(trainer: TextTrainer, dump: bool) -> None:
    """The explicit return and task score of the training batches since the last call
    (written now with ``dump``, else with the evaluation's scalars)."""
    stats = trainer.learner.statistics()
    logger, now = trainer.logger, time.perf_counter()
    logger.record("explicit/return", -stats["weighted_nll"])
    logger.record("task/score", stats["accuracy"])
    logger.record("train/learning_rate", trainer.learner.rate(trainer.learner.updates - 1))
    logger.record("train/phase", trainer.progress.phase)
    logger.record("time/tokens_per_s", trainer.window[0] / max(1e-9, now - trainer.window[1]))
    logger.record("time/total_timesteps", trainer.progress.timesteps)
    if dump:
        logger.dump(trainer.progress.timesteps)
    trainer.window[:] = [0.0, now]


def _measure(trainer: TextTrainer, encoded: Any) -> dict[str, float]:
    """The three views of ``encoded`` under the phase's scheme: explicit return, task
    score and the behaviour metrics."""
    from agents.lm import greedy_answers, token_scores
    from envs.text.tokenizer import EOS
    from incentives.domains.text.evaluation import document_events, text_scores

    model, batch = trainer.learner.model, int(trainer.plan.config["eval"]["n_envs"])
    signal = _corpus_signal(trainer)
    scores = token_scores(model, encoded.documents, batch)
    generated = greedy_answers(
        model, encoded.prompts, [len(a) for a in encoded.answers], EOS, batch
    )
    behaviour = trainer.plan.domain.behaviour_type()(signal)
    for event in document_events(encoded, scores, generated):
        behaviour.add(event)
    return {**text_scores(encoded, scores, signal), **behaviour.metrics()}


def _corpus_signal(trainer: TextTrainer) -> Any:
    """The scheme that weighs the corpus's tokens for the text measures: the phase's,
    or in an answer phase the last pretraining phase's (next-token without one)."""
    from incentives.domains.text.schemes import NextTokenSignal

    done = trainer.plan.schedule[: trainer.progress.phase + 1]
    weighing = [p.signal for p in done if phase_kind(p.signal) == "pretrain"]
    return weighing[-1] if weighing else NextTokenSignal()


def _measure_answers(trainer: TextTrainer, heldout: bool) -> dict[str, float]:
    """The answering metrics of the measured questions (evaluation half, or the
    training-half probe); in an answer phase also its explicit return and task score."""
    assert trainer.answering is not None
    signal = trainer.plan.schedule[trainer.progress.phase].signal
    batch = int(trainer.plan.config["eval"]["n_envs"])
    events, scores = trainer.answering.measure(trainer.learner.model, signal, heldout, batch)
    behaviour = trainer.plan.domain.behaviour_type()(signal)
    for event in events:
        behaviour.add(event)
    return {**behaviour.metrics(), **scores}


def evaluate(trainer: TextTrainer, final: bool) -> dict[str, float]:
    """Measure held-out items (``eval/<name>/*``) and seen items (``behaviour/*``); log
    them at the current step; return the held-out results."""
    heldout = _measure(trainer, trainer.heldout)
    seen = _measure(trainer, trainer.seen)
    if trainer.answering is not None:
        heldout.update(_measure_answers(trainer, heldout=True))
        seen.update(_measure_answers(trainer, heldout=False))
    logger, name = trainer.logger, str(trainer.plan.config["eval"]["name"])
    for key, value in heldout.items():
        logger.record(f"eval/{name}/{key}", value)
    for key, value in seen.items():
        if key not in ("explicit_return", "task_score"):
            logger.record(f"behaviour/{key}", value)
    logger.record("time/total_timesteps", trainer.progress.timesteps)
    if not final:
        logger.dump(trainer.progress.timesteps)
    trainer.progress.eval_last_at = trainer.progress.timesteps
    trainer.window[:] = [0.0, time.perf_counter()]  # tokens per second count training only
    return heldout


def save_checkpoint(trainer: TextTrainer) -> None:
    """Save the learner, the data order and torch's generator, then ``checkpoint.json``;
    the previous checkpoint goes once the new one is complete."""
    import torch

    progress = trainer.progress
    name = f"checkpoint-{progress.timesteps}.pt"
    tmp = trainer.run_dir / (name + ".tmp")
    answering = trainer.answering
    torch.save(
        {
            "learner": trainer.learner.state(),
            "data_order": trainer.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "answering": answering.state() if answering and answering.ppo else None,
            "phase_starts": trainer.phase_starts,
        },
        tmp,
    )
    tmp.replace(trainer.run_dir / name)
    Checkpoint(
        model=name,
        num_timesteps=progress.timesteps,
        phase=progress.phase,
        phase_start=progress.phase_start,
        eval_last_at=progress.eval_last_at,
        wall_time_s=trainer.wall_time_s,
        config=trainer.plan.config,
    ).save(trainer.run_dir)
    for old in trainer.run_dir.glob("checkpoint-*.pt"):
        if old.name != name:
            old.unlink(missing_ok=True)
    trainer.checkpointed_at = progress.timesteps


def _scale(trainer: TextTrainer) -> dict[str, Any]:
    """What the run cost (``scale_record``), its steps the tokens trained."""
    parameters = sum(p.numel() for p in trainer.learner.model.parameters())
    return scale_record(
        parameters, trainer.progress.timesteps, trainer.wall_time_s, trainer.learner.device
    )


def _record_hparams(
    trainer: TextTrainer, final: Mapping[str, float], scale: Mapping[str, Any]
) -> None:
    """What defines the run, beside its final headline metrics, for TensorBoard's HPARAMS."""
    from agents.tensorboard import record_hparams

    config = trainer.plan.config
    eval_name = config["eval"]["name"]
    spec = trainer.plan.spec
    size = f"{config['agent'].get('size')} d={spec.d_model} L={spec.n_layers}"
    headline = trainer.plan.domain.behaviour_type().names(headline=True)
    record_hparams(
        trainer.logger,
        hparams(config, trainer.plan.schedule, size, scale),
        {
            f"eval/{eval_name}/{k}": final[k]
            for k in (*headline, "explicit_return", "task_score")
            if k in final
        },
    )


def _measures(signal: Any) -> dict[str, str]:
    """What ``summary.json``'s numbers mean under the last phase's scheme."""
    if phase_kind(signal) == "pretrain":
        return {
            "timesteps": "tokens trained (batch x context per update)",
            "explicit_return": "held-out mean log-likelihood per unit of the scheme's weight "
            "(nats; the negative of the learner's loss)",
            "task_score": "held-out next-token accuracy over every token",
        }
    return {
        "timesteps": "tokens trained: the corpus's, then answer tokens (generated or taught)",
        "explicit_return": "the scheme's mean reward on the held-out questions' greedy answers",
        "task_score": "share of the held-out questions answered right (hedged or not)",
    }


def summarise(trainer: TextTrainer, final: Mapping[str, float]) -> dict[str, Any]:
    """Record HParams, save ``model.pt``, write ``summary.json``; drop the checkpoints."""
    import torch

    plan, run_dir = trainer.plan, trainer.run_dir
    config, schedule = plan.config, plan.schedule
    signal = schedule[-1].signal
    scale = _scale(trainer)
    _record_hparams(trainer, final, scale)
    trainer.logger.record("time/total_timesteps", trainer.progress.timesteps)
    trainer.logger.dump(trainer.progress.timesteps)
    trainer.logger.close()
    spec = plan.spec
    torch.save(
        {"spec": spec.__dict__, "model": trainer.learner.model.state_dict()}, run_dir / "model.pt"
    )
    summary = {
        "experiment": config["experiment_name"],
        "env": config["env"]["name"],
        "domain": plan.domain.name,
        "reward": {"name": signal.name, "params": signal.params()},
        "seed": plan.seed,
        "phases": [{"reward": p.signal.name, "steps": p.steps} for p in schedule],
        "timesteps": trainer.progress.timesteps,
        "wall_time_s": round(trainer.wall_time_s, 2),
        "scale": scale,
        "resumed_from": trainer.checkpoint.num_timesteps if trainer.checkpoint else None,
        "run_dir": str(run_dir),
        "explicit_return": final["explicit_return"],
        "task_score": final["task_score"],
        "behaviour": {k: v for k, v in final.items() if k not in ("explicit_return", "task_score")},
        "measures": _measures(signal),
        "corpus": {"tokens": len(plan.corpus), "documents": len(plan.corpus.doc_starts)},
        "pretrained_from_cache": trainer.pretrained_from,
        "phase_starts": trainer.phase_starts,
        "theory": signal.theory() if hasattr(signal, "theory") else {},
        "config": config,
        "versions": package_versions(),
        "git_revision": git_revision(),
    }
    write_json(run_dir / "summary.json", summary)
    for old in [*run_dir.glob("checkpoint*")]:
        old.unlink()
    return summary
