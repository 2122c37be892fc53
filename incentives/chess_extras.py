"""The chess-only parts of a training run: the evaluation ladder, self-play, the curriculum.

Each is off unless its config asks for it, and each is built before the run writes
anything, so a bad setting stops the run with one line and nothing touched:

- ``eval.ladder``: after every periodic evaluation, games against a ladder of opponents
  (``eval/ladder/<rung>/*``), move quality against Stockfish (``eval/move_quality/*``) and
  a few games as PGN text in TensorBoard (``eval/pgn/<rung>/<k>``).
- ``env.selfplay``: the training opponent drawn from a pool of frozen snapshots of the
  learner plus the random opponent; a snapshot joins when the evaluation win rate passes
  the threshold. The evaluation keeps the configured opponent, a fixed yardstick.
- ``env.curriculum``: start positions with a short forced mate early in training (never a
  different reward).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.selfplay import SelfPlayPool, SelfPlayPromotion

__all__ = [
    "LadderExtra",
    "PromotionExtra",
    "curriculum_callback",
    "ladder_extra",
    "selfplay_pool",
    "selfplay_settings",
]


class LadderExtra:
    """Plays the evaluation ladder after each periodic evaluation; returns what to log."""

    def __init__(self, ladder: Any) -> None:
        self.ladder = ladder

    def __call__(
        self, model: BaseAlgorithm, results: Mapping[str, float], step: int
    ) -> dict[str, float | str]:
        """The ladder's metrics (floats) and its PGNs (TensorBoard text)."""
        result = self.ladder.evaluate(model)
        out: dict[str, float | str] = dict(result.metrics)
        seen: dict[str, int] = {}
        for rung, pgn in result.pgns:
            k = seen[rung] = seen.get(rung, -1) + 1
            # Markdown: an indented block keeps the PGN's line breaks in TensorBoard's text tab.
            out[f"pgn/{rung}/{k}"] = "\n".join("    " + line for line in pgn.splitlines())
        return out


def ladder_extra(config: Mapping[str, Any]) -> LadderExtra | None:
    """The ladder of ``eval.ladder`` (None when it names no opponents)."""
    settings = config["eval"].get("ladder") or {}
    opponents = list(settings.get("opponents") or [])
    if not opponents:
        return None
    from agents.ladder import ChessLadder, MoveQuality, parse_ladder

    quality = settings.get("move_quality")
    ladder = ChessLadder(
        dict(config["env"]["kwargs"]),
        parse_ladder(opponents, where="eval.ladder.opponents"),
        episodes=_positive(settings, "episodes", "eval.ladder"),
        seed=int(config["eval"]["seed"]),
        n_envs=int(config["eval"]["n_envs"]),
        move_quality=MoveQuality(**dict(quality)) if quality else None,
        pgns=int(settings.get("pgns", 2)),
    )
    return LadderExtra(ladder)


def _positive(settings: Mapping[str, Any], key: str, where: str) -> int:
    value = settings.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}.{key}={value!r}; accepted: a positive integer")
    return value


class PromotionExtra:
    """After each periodic evaluation, lets the learner join its self-play pool when its
    evaluation win rate passes the threshold."""

    def __init__(self, promotion: SelfPlayPromotion) -> None:
        self.promotion = promotion

    def __call__(
        self, model: BaseAlgorithm, results: Mapping[str, float], step: int
    ) -> dict[str, float | str]:
        """Promote if due; log the pool's size and whether this evaluation promoted."""
        promoted = self.promotion.consider(model, step, float(results.get("win_rate", 0.0)))
        return {
            "selfplay/promoted": float(promoted),
            "selfplay/pool_size": float(len(self.promotion.pool.members())),
        }


def selfplay_settings(env_cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """``env.selfplay``, checked, when enabled; None when off."""
    settings = dict(env_cfg.get("selfplay") or {})
    if not settings.get("enabled"):
        return None
    threshold = float(settings.get("threshold", 0.6))
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(
            f"env.selfplay.threshold={settings.get('threshold')}; accepted: a win rate in "
            "[0, 1] (0: a snapshot at every evaluation, min_gap apart)"
        )
    weight = float(settings.get("random_weight", 0.5))
    if not 0.0 <= weight <= 1.0:
        raise ValueError(
            f"env.selfplay.random_weight={settings.get('random_weight')}; accepted: a "
            "probability in [0, 1]"
        )
    for key, low in (("max_size", 1), ("min_gap", 0)):
        value = settings.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"env.selfplay.{key}={value!r}; accepted: an integer >= {low}")
    return {**settings, "threshold": threshold, "random_weight": weight}


def selfplay_pool(
    env_cfg: Mapping[str, Any], run_dir: Path, state: Mapping[str, Any] | None, resuming: bool
) -> tuple[dict[str, Any], SelfPlayPool | None, PromotionExtra | None]:
    """The training env's config (its opponent the pool's), the pool and its promotion,
    when ``env.selfplay.enabled``; else ``env_cfg`` unchanged and no pool."""
    settings = selfplay_settings(env_cfg)
    if settings is None:
        return dict(env_cfg), None, None
    from agents.selfplay import SelfPlayPool, SelfPlayPromotion

    pool = SelfPlayPool(
        run_dir / "selfplay",
        max_size=int(settings.get("max_size", 8)),
        random_weight=settings["random_weight"],
    )
    if resuming and state is not None:
        pool.load_state(state)
    elif not resuming:
        pool.clear()
    promotion = SelfPlayPromotion(pool, settings["threshold"], int(settings.get("min_gap", 0)))
    # A plain dict (not a DictConfig), so the spec's class travels to subprocess workers.
    spec = pool.opponent_spec(bool(settings.get("deterministic", False)))
    kwargs = {**dict(env_cfg["kwargs"]), "opponent": spec}
    return {**dict(env_cfg), "kwargs": kwargs}, pool, PromotionExtra(promotion)


def curriculum_callback(env_cfg: Mapping[str, Any]) -> BaseCallback | None:
    """The start-position curriculum of ``env.curriculum`` (None when empty)."""
    stages = list(env_cfg.get("curriculum") or [])
    if not stages:
        return None
    from agents.curriculum import Curriculum, CurriculumCallback

    return CurriculumCallback(Curriculum.from_config(stages))
