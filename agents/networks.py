"""Network size presets (the same agent at several sizes, for scale experiments) and the
QA action head factorised as mode x candidate."""

from __future__ import annotations

from functools import partial

import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

__all__ = ["HEADS", "MLP_SIZES", "ModeCandidateHead", "ModeCandidatePolicy", "mlp_layers"]

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
