"""Copy the curves the flag tests need out of real run folders into tests/analysis/data/.

    python docs/gaming_flags/make_fixtures.py RUN_DIR NAME [RUN_DIR NAME ...]

Keeps the columns the flags read (explicit return, phase and terms, task score, the
modes, hallucination rate, entropy, episode length; values to 5 significant digits) and
a summary.json trimmed to what the flags and the grouping read. The runs were real
incentives-train runs (see docs/gaming_flags.md for the commands).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "analysis" / "data"
KEEP = ("time/total_timesteps", "explicit/", "task/score", "train/entropy_loss",
        "rollout/ep_len_mean", "behaviour/answer_rate", "behaviour/hedge_rate",
        "behaviour/abstain_rate", "behaviour/hallucination_rate", "behaviour/termination/",
        "behaviour/checks_per_game", "behaviour/win_rate")  # fmt: skip
CONFIG = ("experiment_name", "seed", "reward", "env", "warmup", "budget")


def _short(text: str) -> str:
    try:
        return f"{float(text):.5g}"
    except ValueError:
        return text


def extract(run: Path, name: str) -> None:
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    with (run / "progress.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in rows[0] if k.startswith(KEEP)]
    with (out / "progress.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        for row in rows:
            writer.writerow([_short(row.get(k, "")) for k in keys])
    summary = json.loads((run / "summary.json").read_text())
    config = summary["config"]
    env = {"name": config["env"]["name"], "domain": config["env"].get("domain")}
    trimmed = {
        "experiment": summary.get("experiment"),
        "env": summary.get("env"),
        "domain": summary.get("domain"),
        "reward": summary.get("reward"),
        "seed": summary.get("seed"),
        "timesteps": summary.get("timesteps"),
        "explicit_return": summary.get("explicit_return"),
        "task_score": summary.get("task_score"),
        "behaviour": {
            k: v
            for k, v in summary.get("behaviour", {}).items()
            if not k.startswith("answered_by_p")
        },
        "config": {**{k: config[k] for k in CONFIG if k in config}, "env": env},
    }
    (out / "summary.json").write_text(json.dumps(trimmed, indent=1) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    for run, name in zip(args[::2], args[1::2], strict=True):
        extract(Path(run), name)
