"""Measure the text_grid sweep's models again with today's answering measures.

For every run under RUNS_ROOT: its final model (``model.pt``) and its pretrained model
(the ``agent.pretrained_cache`` file of its digest) answer the run's held-out questions
through the same code as a run's evaluation (``incentives.run.answering``), under the
run's scheme; the metrics are written to ``measured.json`` beside ``summary.json``
(``final`` and ``pretrained``). A measure added after the sweep (``regret_own``) is then
there for every run, without training again.

    python docs/text_grid_measure.py runs/text_grid
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from agents.lm import GPT
from incentives.run.answering import Answering, cache_path, pretraining_key
from incentives.run.text import plan_text


def measure(plan: Any, model: GPT) -> dict[str, float]:
    """Held-out answering metrics of ``model`` under the run's last scheme."""
    signal = plan.schedule[-1].signal
    answering = Answering.build(plan.corpus, plan.answering, plan.seed)
    events, scores = answering.measure(model, signal, heldout=True, batch=256)
    behaviour = plan.domain.behaviour_type()(signal)
    for event in events:
        behaviour.add(event)
    return {**behaviour.metrics(), **scores}


def main(root: Path) -> None:
    torch.set_num_threads(1)
    for summary_path in sorted(root.rglob("summary.json")):
        run = summary_path.parent
        config = yaml.safe_load((run / "config.yaml").read_text())
        plan = plan_text(config)
        model = GPT(plan.spec)
        model.load_state_dict(torch.load(run / "model.pt", weights_only=False)["model"])
        out = {"final": measure(plan, model)}
        cached = cache_path(config, pretraining_key(config, plan.spec, plan.schedule))
        if cached is not None and cached.is_file():
            state = torch.load(cached, weights_only=False)
            model.load_state_dict(state["learner"]["model"])
            out["pretrained"] = measure(plan, model)
        (run / "measured.json").write_text(json.dumps(out, indent=1, sort_keys=True))
        print(run, round(out["final"]["regret_own"], 4))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/text_grid"))
