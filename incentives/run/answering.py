"""Answer phases of a text run: the model answers questions in its own words.

After next-token pretraining (the text run's ``warmup``), a phase whose scheme judges
*answers* (``outcome``, ``binary``, ``hedging_grid``, ``confidence_target``: any scheme
whose events ``envs.text.answering`` reports) trains the model by PPO on its sampled
answers (``agents.sequence_ppo``); a ``teach_idk`` phase trains it by supervised
fine-tuning on taught answers instead (the teaching contrast). Both count their steps
in answer tokens: generated (PPO) or taught (supervised), so a budget compares them.

The answering evaluation (``measure``) asks fixed questions of the *evaluation* half
(never asked in training) and, for ``behaviour/*``, of the training half: the greedy
answer gives the mode and correctness; the greedy answer with "I don't know" and the
hedge ruled out gives the model's best answer and its probability (``confidence``); the
teacher-forced probability of the right answer is ``p_truth``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.text.answering import ANSWER_EVENTS
from incentives.run.build import ConfigError
from incentives.signal import ExplicitSignal

__all__ = [
    "ANSWERING_EVENTS",
    "Answering",
    "AnsweringSettings",
    "check_answer_signal",
    "phase_kind",
    "pretraining_key",
]

#: The events of an answer a scheme may read: the env's, the model's confidence in its
#: best answer, whether that answer is right, its probability of the right one.
ANSWERING_EVENTS: tuple[str, ...] = (*ANSWER_EVENTS, "confidence", "best_correct", "p_truth")


def phase_kind(signal: ExplicitSignal) -> str:
    """``pretrain`` (a text scheme weighing the corpus), ``teach`` (supervised answers)
    or ``reinforce`` (a scheme judging generated answers)."""
    from incentives.domains.text.schemes import TeachIDKSignal, TextSignal

    if isinstance(signal, TextSignal):
        return "pretrain"
    if isinstance(signal, TeachIDKSignal):
        return "teach"
    return "reinforce"


def check_answer_signal(signal: ExplicitSignal) -> None:
    """A one-line ``ConfigError`` if ``signal`` needs an event answers do not report."""
    for event in (*signal.required_events, *signal.final_events):
        if event not in ANSWERING_EVENTS:
            raise ConfigError(
                f"reward {signal.name!r} needs the event {event!r}, which neither the corpus "
                "nor a text answer reports; accepted: next_token, answer_only, "
                "answer_weighted, teach_idk, or a scheme judging answers by "
                f"{', '.join(ANSWERING_EVENTS)} (outcome, binary, hedging_grid, ...)"
            )


@dataclass(frozen=True)
class AnsweringSettings:
    """``env.answering``: which questions, how long an answer, how many measured."""

    evaluate: bool = False
    families: tuple[str, ...] = ("facts", "addition")
    weights: tuple[float, ...] | None = (3.0, 1.0)
    max_tokens: int = 8
    questions: int = 1024

    @classmethod
    def from_config(
        cls, env: Mapping[str, Any], schedule: Sequence[Any]
    ) -> AnsweringSettings | None:
        """The settings, or None when no phase judges answers and ``evaluate`` is off."""
        given = dict(env.get("answering") or {})
        answers = any(phase_kind(p.signal) != "pretrain" for p in schedule)
        if not (answers or given.get("evaluate", False)):
            return None
        defaults = cls()
        weights = given.get("weights", defaults.weights)
        return cls(
            evaluate=True,
            families=tuple(given.get("families", defaults.families)),
            weights=None if weights is None else tuple(float(w) for w in weights),
            max_tokens=int(given.get("max_tokens", defaults.max_tokens)),
            questions=int(given.get("questions", defaults.questions)),
        )


@dataclass
class Answering:
    """The question pools, the measured questions, and the answer phase's learner."""

    settings: AnsweringSettings
    train: Any
    eval: Any
    eval_ids: np.ndarray
    probe_ids: np.ndarray
    rng: np.random.Generator
    ppo: Any = None
    ppo_phase: int = -1
    p_truth: np.ndarray | None = None
    #: Rollout statistics since the last log (sums, and the count).
    window: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, corpus: Any, settings: AnsweringSettings, seed: int) -> Answering:
        """Pools from ``corpus`` (the same for every run seed); ``seed`` orders the
        training questions."""
        from envs.text.answering import QuestionPool

        families, weights = settings.families, settings.weights
        train = QuestionPool(corpus, "train", families, weights, seed=corpus.seed)
        evaluation = QuestionPool(corpus, "eval", families, weights, seed=corpus.seed)
        fixed = np.random.default_rng([corpus.seed, 19])
        return cls(
            settings=settings,
            train=train,
            eval=evaluation,
            eval_ids=evaluation.sample(fixed, settings.questions),
            probe_ids=train.sample(fixed, max(1, settings.questions // 4)),
            rng=np.random.default_rng([seed, 23]),
        )

    def longest(self) -> int:
        """Tokens of the longest question and its answer."""
        return max(self.train.longest(self.settings.max_tokens),
                   self.eval.longest(self.settings.max_tokens))  # fmt: skip

    # -- the phase's learner -------------------------------------------------------------

    def start_phase(self, k: int, model: Any, rl: Mapping[str, Any], signal: Any) -> None:
        """A fresh learner for phase ``k`` (its reference: the model now); ``teach_idk``'s
        targets from the model's probability of each training question's right answer."""
        if self.ppo_phase == k:
            return
        self._learner(k, model, rl)
        self.p_truth = None
        if "p_truth" in signal.required_events:
            self.p_truth = truth_probability(model, self.train, np.arange(len(self.train)))

    def _learner(self, k: int, model: Any, rl: Mapping[str, Any]) -> None:
        """Phase ``k``'s PPO learner (``agent.rl``) on ``model``, its statistics reset."""
        from agents.sequence_ppo import SequencePPO

        self.ppo = SequencePPO(
            model,
            learning_rate=float(rl.get("learning_rate", 3e-5)),
            n_epochs=int(rl.get("n_epochs", 4)),
            minibatch_size=int(rl.get("minibatch_size", 64)),
            clip_range=float(rl.get("clip_range", 0.2)),
            gae_lambda=float(rl.get("gae_lambda", 0.95)),
            ent_coef=float(rl.get("ent_coef", 0.0)),
            vf_coef=float(rl.get("vf_coef", 0.5)),
            kl_coef=float(rl.get("kl_coef", 0.2)),
        )
        self.ppo_phase = k
        self.window.clear()

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of an answer phase."""
        return {
            "phase": self.ppo_phase,
            "ppo": self.ppo.state() if self.ppo is not None else None,
            "rng": self.rng.bit_generator.state,
            "p_truth": self.p_truth,
        }

    def load_state(self, state: Mapping[str, Any], model: Any, rl: Mapping[str, Any]) -> None:
        """Restore what ``state`` returned (the learner of its phase)."""
        self.rng.bit_generator.state = state["rng"]
        if state["ppo"] is not None:
            self._learner(int(state["phase"]), model, rl)
            self.ppo.load_state(state["ppo"])
            self.p_truth = state["p_truth"]

    # -- one step of a phase ---------------------------------------------------------------

    def reinforce(self, signal: ExplicitSignal, batch: int) -> int:
        """One PPO rollout and update on ``batch`` training questions; tokens generated."""
        import torch

        from agents.sequence_ppo import answer_logprob, sample
        from envs.text.tokenizer import EOS, HEDGE

        ids = self.train.sample(self.rng, batch)
        model = self.ppo.model
        answers = sample(model, [self.train.encoded[i] for i in ids], self.settings.max_tokens,
                         EOS)  # fmt: skip
        confidence = answer_logprob(answers, skip_marker=(HEDGE,)).exp().cpu().numpy()
        rewards, right, modes = [], [], []
        for row, k in enumerate(ids.tolist()):
            events = self.train.events(k, answers.answer(row))
            events["confidence"] = float(confidence[row])
            if self.p_truth is not None:
                events["p_truth"] = float(self.p_truth[k])
            rewards.append(signal.incentive(events).reward)
            right.append(events["correct"])
            modes.append(events["mode"])
        stats = self.ppo.update(answers, torch.tensor(rewards, device=self.ppo.device))
        stats["return"] = float(np.mean(rewards))
        stats["correct"] = float(np.mean(right))
        stats["abstain_rate"] = float(np.mean([m == "abstain" for m in modes]))
        stats["hedge_rate"] = float(np.mean([m == "hedge" for m in modes]))
        self._accumulate(stats)
        return int(answers.mask.sum())

    def teach(self, signal: Any, batch: int) -> int:
        """Supervised steps on ``batch`` training questions answered with the taught
        targets, as many as PPO takes on a rollout of that size (``n_epochs`` passes in
        minibatches): the same optimizer steps on as many answer tokens, so a budget of
        answer tokens compares the two. Answer tokens taught back."""
        import torch

        from envs.text.tokenizer import encode_many

        assert self.p_truth is not None
        ids = self.train.sample(self.rng, batch)
        documents = [
            encode_many(f"^{self.train.prompts[k]}"
                        f"{signal.target(self.train.answers[k], float(self.p_truth[k]))}$")
            for k in ids.tolist()
        ]  # fmt: skip
        width = max(len(d) for d in documents)
        tokens = torch.zeros(len(documents), width, dtype=torch.long)
        weights = torch.zeros(len(documents), width - 1)
        for row, (k, document) in enumerate(zip(ids.tolist(), documents, strict=True)):
            tokens[row, : len(document)] = torch.from_numpy(document.astype(np.int64))
            start = len(self.train.encoded[k])  # the answer's first token's index
            weights[row, start - 1 : len(document) - 1] = 1.0
        device = self.ppo.device
        tokens, weights = tokens.to(device), weights.to(device)
        losses = []
        for _ in range(self.ppo.n_epochs):
            for chunk in torch.randperm(len(documents)).split(self.ppo.minibatch_size):
                losses.append(self.ppo.teach(tokens[chunk.to(device)], weights[chunk.to(device)]))
        loss = float(np.mean(losses))
        said = [signal.target(self.train.answers[k], float(self.p_truth[k])) == "?"
                for k in ids.tolist()]  # fmt: skip
        self._accumulate({"return": -loss, "taught_idk": float(np.mean(said))})
        return int(weights.sum())

    def _accumulate(self, stats: Mapping[str, float]) -> None:
        for key, value in stats.items():
            self.window[key] = self.window.get(key, 0.0) + value
        self.window["_count"] = self.window.get("_count", 0.0) + 1

    def drain(self) -> dict[str, float]:
        """The mean of each statistic since the last call; then reset."""
        count = self.window.pop("_count", 0.0)
        out = {k: v / count for k, v in self.window.items()} if count else {}
        self.window.clear()
        return out

    # -- measuring ---------------------------------------------------------------------------

    def measure(
        self, model: Any, signal: ExplicitSignal | None, heldout: bool, batch: int
    ) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """The events of the measured questions (evaluation half, or the training-half
        probe) and, under an answer phase's ``signal``, the explicit return (its mean
        reward) and the task score (the share answered right)."""
        from agents.sequence_ppo import answer_logprob, sample
        from envs.text.answering import grade
        from envs.text.tokenizer import EOS, HEDGE, IDK

        pool, ids = (self.eval, self.eval_ids) if heldout else (self.train, self.probe_ids)
        p_truth = truth_probability(model, pool, ids, batch)
        events: list[dict[str, Any]] = []
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            prompts = [pool.encoded[k] for k in chunk]
            said = sample(model, prompts, self.settings.max_tokens, EOS, greedy=True)
            best = sample(model, prompts, self.settings.max_tokens, EOS, greedy=True,
                          forbid_first=(IDK, HEDGE))  # fmt: skip
            confidence = answer_logprob(best).exp().cpu().numpy()
            for row, k in enumerate(chunk.tolist()):
                event = pool.events(k, said.answer(row))
                event["confidence"] = float(confidence[row])
                event["best_correct"] = grade(best.answer(row), pool.answers[k])["correct"]
                event["p_truth"] = float(p_truth[start + row])
                events.append(event)
        scores: dict[str, float] = {}
        if signal is not None and phase_kind(signal) != "pretrain":
            scores["explicit_return"] = float(np.mean([signal.incentive(e).reward
                                                       for e in events]))  # fmt: skip
            scores["task_score"] = float(np.mean([e["correct"] for e in events]))
        return events, scores


def truth_probability(model: Any, pool: Any, ids: np.ndarray, batch: int = 256) -> np.ndarray:
    """The model's probability of each question's right answer (``$`` included),
    teacher forced."""
    from agents.lm import token_scores
    from envs.text.tokenizer import encode_many

    documents = [encode_many(f"^{pool.prompts[k]}{pool.answers[k]}$") for k in ids.tolist()]
    scores = token_scores(model, documents, batch)
    out = np.empty(len(ids))
    for row, k in enumerate(ids.tolist()):
        start = len(pool.encoded[k]) - 1  # targets are document[1:]: the answer's first
        out[row] = float(np.exp(scores[row][0][start:].sum()))
    return out


def pretraining_key(config: Mapping[str, Any], spec: Any, schedule: Sequence[Any]) -> str:
    """A digest of everything that decides the pretrained model: corpus, model shape,
    learner settings, the pretraining phases and the seed (``agent.pretrained_cache``)."""
    import torch

    agent = config["agent"]
    learner = {k: agent.get(k) for k in ("learning_rate", "batch_size", "weight_decay",
                                         "lr_warmup", "lr_schedule", "max_grad_norm",
                                         "context")}  # fmt: skip
    phases = [
        {"reward": p.signal.name, "params": p.signal.params(), "steps": p.steps}
        for p in schedule
        if phase_kind(p.signal) == "pretrain"
    ]
    record = {
        "corpus": config["env"].get("kwargs") or {},
        "spec": spec.__dict__,
        "learner": learner,
        "phases": phases,
        "seed": config["seed"],
        "torch": torch.__version__,
        "device": str(agent.get("device")),
    }
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_path(config: Mapping[str, Any], key: str) -> Path | None:
    """Where the pretrained model of ``key`` is kept (None: no cache)."""
    folder = config["agent"].get("pretrained_cache")
    return Path(str(folder)) / f"{key}.pt" if folder else None
