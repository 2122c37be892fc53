"""Why does the QA policy not move from hedging to abstaining after the warm-up? Measure it.

Trains one configuration (Hydra overrides, as ``incentives-train``) through its reward
phases in-process and, after every rollout, probes the policy on a fixed set of questions:
the probability of each mode in each of the final scheme's regions of p* (below its first
threshold, between, above its last), the policy's entropy, the value head's error against
the policy's exact expected reward under the scheme in force (the env knows the
posterior), and from the rollout just collected the raw advantages' spread and the share
of "I don't know" actually sampled. One CSV row per rollout; at the end the deterministic
policy's regret and learned boundaries on the probe set.

    python docs/qa_grids/diagnose.py OUT.csv +experiment=qa_grid reward.hedged_wrong=-1.0
    python docs/qa_grids/diagnose.py OUT.csv --no-advantage-norm ...   # SB3's off
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import set_random_seed

from agents.ppo import build_ppo
from envs.qa.questions import QuestionGenerator
from incentives.domains.qa.behaviour import QABehaviour
from incentives.run.build import build_env, phases, use_signal
from incentives.run.configs import config_dir

MODES = ("answer", "hedge", "abstain")


class Probe(BaseCallback):
    """Measures the policy on fixed questions after each rollout (see the module)."""

    def __init__(
        self,
        obs: torch.Tensor,
        posterior: np.ndarray,
        regions: np.ndarray,
        names: list[str],
        rows: list[dict[str, Any]],
        phase: int,
        signal: Any,
    ) -> None:
        super().__init__()
        self.obs, self.posterior, self.regions, self.names = obs, posterior, regions, names
        self.rows, self.phase, self.signal = rows, phase, signal

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        policy = self.model.policy
        k = self.posterior.shape[1]
        with torch.no_grad():
            features = policy.extract_features(self.obs)
            latent_pi, latent_vf = policy.mlp_extractor(features)
            logp = torch.log_softmax(policy.action_net(latent_pi), -1)
            value = policy.value_net(latent_vf).squeeze(-1).numpy()
        probs = logp.exp().numpy()
        mode_p = np.stack([probs[:, :k].sum(1), probs[:, k : 2 * k].sum(1), probs[:, 2 * k]], 1)
        entropy = float(-(probs * logp.numpy()).sum(1).mean())
        # the policy's exact expected reward per question under the scheme in force
        expected = np.zeros(len(probs))
        for m, name in enumerate(MODES):
            intercept, slope = self.signal.line(name)
            if name == "abstain":
                expected += probs[:, 2 * k] * intercept
            else:
                block = probs[:, m * k : (m + 1) * k]
                expected += (block * (intercept + slope * self.posterior)).sum(1)
        buffer = self.model.rollout_buffer
        actions = buffer.actions.reshape(-1)
        row: dict[str, Any] = {
            "step": int(self.model.num_timesteps),
            "phase": self.phase,
            "entropy": entropy,
            "value_bias": float((value - expected).mean()),
            "value_abs_error": float(np.abs(value - expected).mean()),
            "adv_std_raw": float(buffer.advantages.std()),
            "sampled_abstain": float((actions == 2 * k).mean()),
            "sampled_hedge": float(((actions >= k) & (actions < 2 * k)).mean()),
        }
        # how often the candidate the policy samples, given that it answers, is right
        # (q), against the best candidate's p*: the gap is what exploring candidates costs
        answering = probs[:, :k] + probs[:, k : 2 * k]
        q = (answering * self.posterior).sum(1) / np.maximum(answering.sum(1), 1e-12)
        gap = self.posterior.max(1) - q
        for r, region in enumerate(self.names):
            row[f"{region}/candidate_gap"] = float(gap[self.regions == r].mean())
        for r, region in enumerate(self.names):
            inside = self.regions == r
            for m, name in enumerate(MODES):
                row[f"{region}/{name}"] = (
                    float(mode_p[inside, m].mean()) if inside.any() else np.nan
                )
            row[f"{region}/abstain_min"] = (
                float(mode_p[inside, 2].min()) if inside.any() else np.nan
            )
        self.rows.append(row)


def main(argv: list[str]) -> None:
    out, overrides = Path(argv[0]), [a for a in argv[1:] if a != "--no-advantage-norm"]
    normalize_advantage = "--no-advantage-norm" not in argv
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        config: dict[str, Any] = OmegaConf.to_container(  # type: ignore[assignment]
            compose("config", overrides=overrides), resolve=True
        )
    torch.set_num_threads(1)
    seed = int(config["seed"])
    set_random_seed(seed)
    schedule = phases(config)
    env_cfg = config["env"]
    venv = build_env(env_cfg, schedule[0].signal, int(env_cfg["n_envs"]), seed)
    model = build_ppo(config["agent"], venv, seed)
    model.normalize_advantage = normalize_advantage  # SB3's per-minibatch normalisation
    kwargs = dict(env_cfg["kwargs"])
    generator = QuestionGenerator(**kwargs)
    questions = generator.sample(np.random.default_rng(4242), 4096)
    obs = torch.as_tensor(generator.observe(questions))
    final = schedule[-1].signal
    cuts = final.thresholds()
    regions = np.digitize(questions.p_star, cuts)
    names = ["below", "band", "above"] if len(cuts) == 2 else ["below", "above"]
    rows: list[dict[str, Any]] = []
    for k, phase in enumerate(schedule):
        use_signal(venv, phase.signal)
        probe = Probe(obs, questions.posterior, regions, names, rows, k, phase.signal)
        model.learn(phase.steps, callback=probe, reset_num_timesteps=k == 0)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    actions, _ = model.predict(obs.numpy(), deterministic=True)
    from envs.qa.grading import grade

    grades = grade(questions, actions)
    behaviour = QABehaviour(final)
    stratum = questions.answerable.astype(np.int64)
    behaviour.add_columns(
        {
            "mode": grades["mode"],
            "correct": grades["correct"],
            "p_star": grades["p_star"],
            "p_chosen": grades["p_chosen"],
            "stratum": stratum,
        },
        np.arange(len(questions)),
    )
    metrics = behaviour.metrics()
    keys = (
        "regret_relative",
        "boundary_error",
        "boundary/1",
        "boundary/2",
        "abstain_rate",
        "hedge_rate",
        "answer_rate",
    )
    print(
        out.stem,
        "thresholds",
        [round(c, 3) for c in cuts],
        {k: round(metrics[k], 3) for k in keys if k in metrics},
    )
    warm = [r for r in rows if r["phase"] == 0]
    if len(schedule) > 1 and warm:
        end = warm[-1]
        print(
            "  end of warm-up:",
            {k: round(v, 4) for k, v in end.items() if k not in ("step", "phase")},
        )


if __name__ == "__main__":
    main(sys.argv[1:])
