"""Speed of the answer phases: PPO on a language model's own answers, against the
supervised update of the same model.

One process, interleaved repeats (the order alternates) so that load on a shared machine
hits every contender alike; each figure is the median over repeats:

- ``supervised``: ``agents.lm.LMLearner.update`` on batches of answer-length windows
  (the pretraining step): trained tokens per second, the reference;
- ``sample``: ``agents.sequence_ppo.sample``, a batch of answers generated token by token
  (no KV cache: an answer is a few tokens after a short prompt): generated tokens/s;
- ``ppo_update``: ``SequencePPO.update`` on those answers (reference log-probabilities,
  values, GAE, ``n_epochs`` passes in minibatches): answer tokens/s;
- ``rollout``: a whole answer step as a run does it (``Answering.reinforce``: questions
  drawn, answers sampled and graded by the scheme, the update): answer tokens/s.

Printed as ratios to the supervised update's tokens per second.

    python benchmarks/text_answer_throughput.py                 # CPU, small, 3 repeats
    python benchmarks/text_answer_throughput.py --size base --repeats 5
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

import numpy as np
import torch

from agents.lm import LMLearner, lm_spec
from agents.sequence_ppo import SequencePPO, sample
from envs.text.corpus import TextCorpus
from envs.text.tokenizer import EOS, VOCAB_SIZE
from incentives.domains.qa.schemes import HedgingGridSignal
from incentives.run.answering import Answering, AnsweringSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--batch", type=int, default=256, help="questions per rollout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    context = 32
    spec = lm_spec({"size": args.size}, VOCAB_SIZE, context)
    corpus = TextCorpus(documents=8000, facts=400, families=["facts", "addition"],
                        weights={"facts": 3}, idk_share=0.03, hedge_share=0.03)  # fmt: skip
    answering = Answering.build(corpus, AnsweringSettings(evaluate=True), seed=0)
    learner = LMLearner(spec, torch.device("cpu"), total_updates=10_000)
    ppo = SequencePPO(learner.model)
    answering.ppo, answering.ppo_phase = ppo, 0
    signal = HedgingGridSignal()
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(corpus.tokens.astype(np.int64))

    def supervised() -> int:
        index = torch.from_numpy(corpus.windows(rng, args.batch, 17))
        learner.update(tokens[index], torch.ones(args.batch, 16))
        return args.batch * 16

    held: list[Any] = []

    def sampled() -> int:
        ids = answering.train.sample(rng, args.batch)
        held[:] = [sample(learner.model, [answering.train.encoded[i] for i in ids], 8, EOS)]
        return int(held[0].mask.sum())

    def updated() -> int:
        answers = held[0]
        ppo.update(answers, torch.randn(args.batch))
        return int(answers.mask.sum())

    def rollout() -> int:
        return answering.reinforce(signal, args.batch)

    contenders = {"supervised": supervised, "sample": sampled, "ppo_update": updated,
                  "rollout": rollout}  # fmt: skip
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for repeat in range(args.repeats):
        order = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
        if "ppo_update" in order and order.index("ppo_update") < order.index("sample"):
            order.remove("ppo_update")
            order.insert(order.index("sample") + 1, "ppo_update")  # needs the answers
        for name in order:
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < 2.0:
                count += contenders[name]()
            rates[name].append(count / (time.perf_counter() - start))
    reference = statistics.median(rates["supervised"])
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s), size {args.size} ({spec.parameters():,} parameters), "
          f"batch {args.batch}")  # fmt: skip
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:>11}: {median:>10,.0f} tokens/s  {median / reference:5.2f}x supervised")


if __name__ == "__main__":
    main()
