"""How a trained QA agent decides, by p* and by the number of witnesses.

Loads a run's ``model.zip``, draws 200,000 fresh questions from the env's default
generator and prints, per bin of p* (the exact posterior of the best answer), the
deterministic policy's mode shares and its answer rate split by how many witnesses
voted (1, 2, 3, 4-8). A policy that reads p* answers alike across a row; one that reads
"many votes" as "sure" answers more to the right of a row (docs/qa_grids_results.md).

    python docs/qa_grids/by_witnesses.py RUN_DIR
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from agents.ppo import LeanPPO
from envs.qa.actions import ABSTAIN, ANSWER, HEDGE
from envs.qa.questions import QuestionGenerator


def main(run: str) -> None:
    model = LeanPPO.load(f"{run}/model.zip", device="cpu")
    gen = QuestionGenerator()
    k = gen.n_candidates
    questions = gen.sample(np.random.default_rng(5), 200_000)
    actions, _ = model.predict(gen.observe(questions), deterministic=True)
    mode = np.where(actions < k, ANSWER, np.where(actions < 2 * k, HEDGE, ABSTAIN))
    p = questions.posterior.max(1)
    witnesses = questions.evidence.sum((1, 2))
    print("p*          n   answer hedge abstain | answered with 1, 2, 3, 4-8 witnesses (n)")
    edges = np.arange(0.25, 1.001, 0.05)
    for lo, hi in itertools.pairwise(edges):
        row = (p >= lo) & (p < hi) & questions.answerable
        if not row.any():
            continue
        shares = " ".join(f"{(mode[row] == m).mean():.2f}" for m in (ANSWER, HEDGE, ABSTAIN))
        split = []
        for few, most in ((1, 1), (2, 2), (3, 3), (4, 8)):
            cell = row & (witnesses >= few) & (witnesses <= most)
            split.append(
                f"{(mode[cell] == ANSWER).mean():.2f}({cell.sum()})" if cell.any() else "-"
            )
        print(f"{lo:.2f}-{hi:.2f} {row.sum():6d}  {shares} | {' '.join(split)}")


if __name__ == "__main__":
    main(sys.argv[1])
