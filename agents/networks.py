"""Network size presets (the same agent at several sizes, for scale experiments), the
QA action head factorised as mode x candidate, and the QA set network (``qa_set``)."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

__all__ = [
    "HEADS",
    "MLP_SIZES",
    "ModeCandidateHead",
    "ModeCandidatePolicy",
    "QASetExtractor",
    "QASetHead",
    "QASetPolicy",
    "mlp_layers",
]

#: The action heads ``agent.head`` may name: ``flat`` (one softmax over every action) or
#: ``mode_candidate`` (QA: ``ModeCandidateHead``).
HEADS = ("flat", "mode_candidate")

#: Hidden layer widths of the MLP policy and value networks, by preset name.
MLP_SIZES: dict[str, tuple[int, ...]] = {
    "tiny": (16, 16),
    "small": (64, 64),
    "base": (256, 256),
    "large": (512, 512, 512),
}


def mlp_layers(size: str, layers: list[int] | None = None) -> list[int]:
    """Hidden layer widths for preset ``size``, or ``layers`` when given explicitly.

    Example:
        >>> mlp_layers("small"), mlp_layers("small", [8])
        ([64, 64], [8])
    """
    if layers:
        if not all(isinstance(w, int) and w > 0 for w in layers):
            raise ValueError(f"agent.layers={layers!r}; accepted: a list of positive integers")
        return list(layers)
    if size not in MLP_SIZES:
        raise ValueError(
            f"unknown network size {size!r}; accepted: {', '.join(MLP_SIZES)} "
            "(or agent.layers=[w1,w2,...])"
        )
    return list(MLP_SIZES[size])


class ModeCandidateHead(nn.Module):
    """The QA action head factorised as mode x candidate: the logits of
    ``Discrete(2K + 1)`` (answer ``k``, hedge ``k``, abstain; ``envs.qa.actions``) are
    ``log pi(mode) + log pi(candidate)``, with one softmax over the three modes and one
    over the ``K`` candidates.

    What a warm-up teaches about *which* answer is right lives in ``candidate``; what a
    scheme asks the agent to *do* with it (answer, hedge or say "I don't know") lives in
    ``mode``, which a phase change can reset alone (``LeanPPO.reset_parts``).

    Example:
        >>> head = ModeCandidateHead(4, 3)
        >>> _ = [nn.init.zeros_(p) for p in head.parameters()]
        >>> [round(float(x), 4) for x in head(torch.zeros(1, 4)).exp()[0]]
        [0.1111, 0.1111, 0.1111, 0.1111, 0.1111, 0.1111, 0.3333]
    """

    def __init__(self, latent_dim: int, n_candidates: int) -> None:
        super().__init__()
        self.n_candidates = n_candidates
        self.mode = nn.Linear(latent_dim, 3)  # answer, hedge, abstain (MODES' order)
        self.candidate = nn.Linear(latent_dim, n_candidates)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Normalised log-probabilities of the ``2K + 1`` actions, one row per input."""
        mode = torch.log_softmax(self.mode(latent), dim=-1)
        candidate = torch.log_softmax(self.candidate(latent), dim=-1)
        return torch.cat([mode[:, :1] + candidate, mode[:, 1:2] + candidate, mode[:, 2:]], -1)


class ModeCandidatePolicy(ActorCriticPolicy):
    """SB3's MLP actor-critic with a ``ModeCandidateHead`` as its action head; for an
    action space ``Discrete(2K + 1)`` laid out as the QA env's."""

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        n = int(getattr(self.action_space, "n", 0))
        if n < 5 or n % 2 == 0:
            raise ValueError(
                f"agent.head=mode_candidate needs the QA action layout Discrete(2K + 1), "
                f"K >= 2; got {self.action_space}; accepted: agent.head=flat for this env"
            )
        self.action_net = ModeCandidateHead(self.mlp_extractor.latent_dim_pi, (n - 1) // 2)
        if self.ortho_init:  # SB3's small initial output, as for its own action head
            self.action_net.apply(partial(self.init_weights, gain=0.01))
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


class QASetExtractor(BaseFeaturesExtractor):
    """The QA observation read as a *set* of candidates: the same small network reads each
    candidate's votes (its ``L`` counts, one per reliability level) and scores it.

    The candidates are exchangeable (a question's truth is any of them with equal prior),
    so one set of weights serves all ``K`` instead of each learning its own; what the
    scores must become (each candidate's log-odds, a weighted sum of its counts, so that
    their softmax is the posterior) is one function learnt ``K`` times as often. Features:
    the ``K`` scores; the scores sorted from the highest down, as their softmax (what the
    policy believes of its best candidate and the runners-up) and as the ``K - 1`` gaps
    to the top score (the softmax saturates as PPO sharpens the candidate policy, the
    gaps keep the differences of evidence); and the sum of the candidates' embeddings
    (how much evidence there is). docs/qa_grids_results.md measures why each is there.
    """

    def __init__(self, observation_space: spaces.Box, n_candidates: int, width: int = 64) -> None:
        size = int(observation_space.shape[0])
        if n_candidates < 2 or size % n_candidates:
            raise ValueError(
                f"agent.policy=qa_set needs an observation of K x L vote counts; got "
                f"{size} features for K={n_candidates}; accepted: the QA env's observation"
            )
        super().__init__(observation_space, features_dim=3 * n_candidates - 1 + width)
        self.n_candidates = n_candidates
        self.levels = size // n_candidates
        self.embed = nn.Sequential(
            nn.Linear(self.levels, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh()
        )
        self.score = nn.Linear(width, 1)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``(n, K * L)`` vote counts to ``(n, 3K - 1 + width)`` features (see the class)."""
        votes = observations.reshape(-1, self.n_candidates, self.levels)
        embedded = self.embed(votes)
        scores = self.score(embedded).squeeze(-1)
        ordered = scores.sort(dim=-1, descending=True).values
        ranked = torch.softmax(ordered, dim=-1)
        gaps = ordered[:, 1:] - ordered[:, :1]
        return torch.cat([scores, ranked, gaps, embedded.sum(dim=1)], dim=-1)


class QASetHead(nn.Module):
    """The mode x candidate head over ``QASetExtractor``'s features: the candidates'
    logits are their scores (the same for every candidate: exchangeable), the mode
    (answer, hedge, abstain) is read by a small MLP from the ranked beliefs and the
    evidence; ``mode`` is its output layer, which ``agent.phase_reset: [mode_head]``
    zeroes, as ``ModeCandidateHead``'s."""

    def __init__(self, n_candidates: int, n_features: int, hidden: int = 64) -> None:
        super().__init__()
        self.n_candidates = n_candidates
        # the mode reads every feature but the candidates' raw scores
        self.mode_hidden = nn.Sequential(nn.Linear(n_features - n_candidates, hidden), nn.Tanh())
        self.mode = nn.Linear(hidden, 3)  # answer, hedge, abstain (MODES' order)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised log-probabilities of the ``2K + 1`` actions, one row per input."""
        k = self.n_candidates
        candidate = torch.log_softmax(features[:, :k], dim=-1)
        mode = torch.log_softmax(self.mode(self.mode_hidden(features[:, k:])), dim=-1)
        return torch.cat([mode[:, :1] + candidate, mode[:, 1:2] + candidate, mode[:, 2:]], -1)


class QASetPolicy(ActorCriticPolicy):
    """``agent.policy: qa_set``: ``QASetExtractor`` and ``QASetHead`` as the actor, an MLP
    of the configured size on the same features as the critic. ``set_width`` (a policy
    keyword, from the size preset) is the width of the per-candidate network."""

    def __init__(self, observation_space: Any, action_space: Any, *args: Any, **kwargs: Any):
        n = int(getattr(action_space, "n", 0))
        if n < 5 or n % 2 == 0:
            raise ValueError(
                f"agent.policy=qa_set needs the QA action layout Discrete(2K + 1), K >= 2; "
                f"got {action_space}; accepted: agent.policy=mlp for this env"
            )
        width = int(kwargs.pop("set_width", 64))
        kwargs["features_extractor_class"] = QASetExtractor
        kwargs["features_extractor_kwargs"] = {"n_candidates": (n - 1) // 2, "width": width}
        super().__init__(observation_space, action_space, *args, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        extractor: Any = self.features_extractor
        self.action_net = QASetHead(extractor.n_candidates, self.features_dim)
        if self.ortho_init:  # SB3's gains: hidden layers 1, output layers 0.01
            self.action_net.mode_hidden.apply(partial(self.init_weights, gain=1))
            self.action_net.mode.apply(partial(self.init_weights, gain=0.01))
            extractor.score.apply(partial(self.init_weights, gain=0.01))
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )
