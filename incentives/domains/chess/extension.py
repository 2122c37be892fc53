"""What chess adds to a training run: the evaluation ladder, self-play, the curriculum.

Each is off unless the run's config asks for it, and each is built (so checked) when the
extension is, before the run writes anything: a bad setting stops the run with one line
and nothing touched.

- ``eval.ladder`` (``ladder``): after every periodic evaluation, games against a ladder of
  opponents (``eval/ladder/<rung>/*``), move quality against Stockfish
  (``eval/move_quality/*``) and a few games as PGN text (``eval/pgn/<rung>/<k>``).
- ``env.selfplay`` (``selfplay``): the training opponent drawn from a pool of frozen
  snapshots of the learner plus the random opponent; a snapshot joins when the evaluation
  win rate passes the threshold. The evaluation keeps the configured opponent.
- ``env.curriculum`` (``curriculum``): start positions with a short forced mate early in
  training (never a different reward).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from incentives.domain import RunExtension
from incentives.domains.chess.curriculum import curriculum_callback
from incentives.domains.chess.ladder import ladder_extra
from incentives.domains.chess.selfplay import PromotionExtra, SelfPlayPool, SelfPlaySettings

__all__ = ["ChessRunExtension"]


class ChessRunExtension(RunExtension):
    """The ladder, self-play and curriculum of one chess training run.

    ``train_env_config`` opens the self-play pool (in the run folder's ``selfplay/``);
    ``evaluation_extras``, ``state`` and ``summary`` are asked after it.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.selfplay = SelfPlaySettings.from_config(config["env"])
        self.ladder = ladder_extra(config)
        self.curriculum = curriculum_callback(config["env"])
        self.pool: SelfPlayPool | None = None
        self.promotion: PromotionExtra | None = None

    def train_env_config(
        self, env_config: Mapping[str, Any], run_dir: Path, state: Any, resuming: bool
    ) -> dict[str, Any]:
        """With self-play, ``env_config`` with the pool as the opponent: the pool emptied
        for a new run, restored from ``state`` for a resumed one; else ``env_config``."""
        if self.selfplay is None:
            return dict(env_config)
        self.pool = self.selfplay.pool(run_dir / "selfplay", state, resuming)
        self.promotion = self.selfplay.promotion(self.pool)
        return self.selfplay.train_env_config(env_config, self.pool)

    def callbacks(self) -> list[Any]:
        """The curriculum's callback, if the run has one."""
        return [self.curriculum] if self.curriculum is not None else []

    def evaluation_extras(self) -> list[Any]:
        """The ladder, then self-play's promotion, those the run has."""
        return [extra for extra in (self.ladder, self.promotion) if extra is not None]

    def state(self) -> Any:
        """The self-play pool's membership (None without self-play)."""
        return self.pool.state() if self.pool is not None else None

    def summary(self) -> dict[str, Any]:
        """``selfplay``: the pool's members at the end (None without self-play)."""
        members = self.pool.members() if self.pool is not None else None
        return {"selfplay": [asdict(m) for m in members] if members is not None else None}
