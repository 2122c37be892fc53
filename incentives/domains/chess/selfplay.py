"""Self-play: frozen snapshots of the learner, drawn per game as its chess opponent.

A ``SelfPlayPool`` keeps the snapshots in a folder: ``snapshot-<step>.zip`` files (saved
with ``model.save``) and an index, ``pool.json``, that lists the members with the step
each was taken at and the evaluation win rate that admitted it. The folder, not a Python
object, is what the training process and its vector-env workers share: a
``PoolOpponent`` (opponent ``pool``) re-reads the index at a game's reset when it changed,
and draws the random opponent with probability ``random_weight`` or else a uniformly
chosen snapshot. ``SelfPlayPromotion`` decides when the learner joins the pool: its
evaluation win rate reaches a threshold, and enough steps passed since the last time.
``SelfPlaySettings`` is a run's ``env.selfplay``; ``PromotionExtra`` promotes after each
periodic evaluation of the run.

The opponents ``policy`` (``PolicyOpponent``, any saved agent) and ``pool`` are declared
as entry points (group ``incentives.opponents``), so the chess env, which imports nothing
of ours, finds them by name in any process, a subprocess worker included.

A snapshot plays from its own side: observation planes and action layout are in the
mover's frame (``envs.chess.observation``, ``envs.chess.actions``), so a policy trained as
white plays black as well.

Example:
    >>> import tempfile
    >>> from envs.chess import make_opponent
    >>> folder = Path(tempfile.mkdtemp())
    >>> pool = SelfPlayPool(folder / "selfplay", max_size=4, random_weight=0.5)
    >>> pool.members()
    []
    >>> spec = pool.opponent_spec()
    >>> spec["name"], spec["random_weight"]
    ('pool', 0.5)
    >>> opponent = make_opponent(spec)
    >>> opponent.reset(np.random.default_rng(0))
    >>> opponent.current  # an empty pool: always the random opponent
    'random'
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import chess
import numpy as np

from envs.chess.actions import N_ACTIONS, legal_actions
from envs.chess.observation import board_planes
from envs.chess.opponents import Opponent, RandomOpponent

__all__ = [
    "POOL_INDEX",
    "PolicyOpponent",
    "PoolMember",
    "PoolOpponent",
    "PromotionExtra",
    "SelfPlayPool",
    "SelfPlayPromotion",
    "SelfPlaySettings",
    "SnapshotMissingError",
    "read_index",
]

#: The pool's index file, in the pool folder.
POOL_INDEX = "pool.json"
#: The default probability that a game is played against the random opponent instead of
#: a snapshot: half the games keep the learner honest against a fixed, weak baseline.
RANDOM_WEIGHT = 0.5


class SnapshotMissingError(FileNotFoundError):
    """A pool member's snapshot file is not on disk (an ``OSError``: the CLI prints it as
    one line and exits 2)."""


@dataclass(frozen=True)
class PoolMember:
    """One snapshot in the pool: its file (in the pool folder), the training step it was
    taken at, and the evaluation win rate that admitted it."""

    file: str
    step: int
    win_rate: float

    @property
    def label(self) -> str:
        """The member's name in metrics and logs: ``snapshot-<step>``."""
        return Path(self.file).stem

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> PoolMember:
        """A member from its index entry; ``ValueError`` naming ``where`` if malformed."""
        try:
            member = cls(str(data["file"]), int(data["step"]), float(data["win_rate"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{where}: pool member {dict(data)!r} is malformed ({error!r}); accepted: "
                "{'file': 'snapshot-<step>.zip', 'step': <int>, 'win_rate': <float>}"
            ) from None
        if Path(member.file).name != member.file:
            raise ValueError(f"{where}: pool member file {member.file!r} is not a file name")
        return member


def _check_fraction(name: str, value: float) -> float:
    """``value`` as a float if it is a number in [0, 1], else a ``ValueError`` naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and 0 <= number <= 1):
        raise ValueError(f"self-play {name}={value!r}; accepted: a number from 0 to 1")
    return number


def _check_count(name: str, value: int, low: int) -> int:
    """``value`` if it is an integer >= ``low``, else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"self-play {name}={value!r}; accepted: an integer >= {low}")
    return value


def read_index(folder: Path) -> list[PoolMember]:
    """The members listed in ``folder``'s ``pool.json``, oldest first; none if it has none."""
    path = folder / POOL_INDEX
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError as error:
        raise ValueError(f"self-play index {str(path)!r} is corrupt ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("members"), list):
        raise ValueError(
            f"self-play index {str(path)!r} is malformed; accepted: {{'members': [...]}}"
        )
    return [PoolMember.from_dict(entry, str(path)) for entry in data["members"]]


class SelfPlayPool:
    """The learner's frozen snapshots in ``folder``, the index the opponents read.

    Args:
        folder: where the snapshots and ``pool.json`` live (created if missing); an index
            already there is read.
        max_size: the most snapshots kept; adding one more drops the oldest.
        random_weight: the probability that a game is played against the random opponent
            rather than a snapshot; carried into ``opponent_spec``.

    Only the training process writes the pool. A snapshot file is complete before the
    index lists it, and the index is replaced atomically, so a reader never sees half of
    either. The file of an evicted member stays on disk while one of the last two
    recorded ``state()``s lists it: a run resumed from its last checkpoint finds every
    member, even one evicted after that checkpoint.
    """

    def __init__(
        self, folder: Path | str, max_size: int = 8, random_weight: float = RANDOM_WEIGHT
    ) -> None:
        self.folder = Path(folder)
        self.max_size = _check_count("max_size", max_size, 1)
        self.random_weight = _check_fraction("random_weight", random_weight)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._members = read_index(self.folder)
        self._recorded: list[frozenset[str]] = []  # member files of the last two states
        self._evicted: set[str] = set()  # files dropped from the index, still on disk

    def members(self) -> list[PoolMember]:
        """The snapshots in the pool, oldest first (the random opponent is not one)."""
        return list(self._members)

    def path(self, member: PoolMember) -> Path:
        """Where ``member``'s snapshot file is."""
        return self.folder / member.file

    def opponent_spec(self, deterministic: bool = False) -> dict[str, Any]:
        """The opponent spec (``ChessEnv(opponent=...)``) of a ``PoolOpponent`` on this pool:
        plain data, so it goes into configs, JSON and subprocess workers alike."""
        return {
            "name": PoolOpponent.name,
            "folder": str(self.folder),
            "random_weight": self.random_weight,
            "deterministic": deterministic,
        }

    def add(self, model: Any, step: int, win_rate: float) -> Path:
        """Save ``model`` (an SB3 algorithm) as the snapshot of ``step``; return its path.

        A member of the same step is replaced; beyond ``max_size`` the oldest is dropped,
        from the index and from disk.
        """
        step = _check_count("step", int(step), 0)
        win_rate = _check_fraction("win_rate", win_rate)
        member = PoolMember(f"snapshot-{step}.zip", step, win_rate)
        tmp = self.folder / f".{member.file}.tmp"  # a suffix, so SB3 adds no ".zip"
        model.save(tmp)
        os.replace(tmp, self.path(member))
        members = sorted(
            [m for m in self._members if m.step != step] + [member], key=lambda m: m.step
        )
        dropped = members[: -self.max_size]
        self._members = members[-self.max_size :]
        self._write_index()
        self._evicted.update(old.file for old in dropped)
        self._delete_unrecorded()
        return self.path(member)

    def clear(self) -> None:
        """Empty the pool, index and snapshot files (a fresh run in a used folder)."""
        self._members = []
        self._write_index()
        self._recorded = []
        self._evicted = set()
        self._delete_strays()

    def state(self) -> dict[str, Any]:
        """The pool's membership, for a training checkpoint; ``load_state`` restores it.

        Recording a state also deletes the files of evicted members that neither this
        state nor the one before lists.
        """
        self._recorded = [*self._recorded[-1:], frozenset(m.file for m in self._members)]
        self._delete_unrecorded()
        return {"members": [asdict(m) for m in self._members]}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Make the pool what ``state`` recorded: a resumed run sees the same opponents.

        Snapshot files that the state does not list (taken after it was recorded) are
        deleted. A listed file that is missing raises ``SnapshotMissingError`` naming it.
        """
        where = f"self-play state for {str(self.folder)!r}"
        entries = state.get("members") if isinstance(state, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError(f"{where} is malformed; accepted: {{'members': [...]}}")
        members = [PoolMember.from_dict(entry, where) for entry in entries]
        for member in members:
            if not self.path(member).is_file():
                raise SnapshotMissingError(
                    f"self-play snapshot {str(self.path(member))!r} (pool member of step "
                    f"{member.step}) is missing; accepted: the run folder as the checkpoint "
                    "left it, or resume=false to start over"
                )
        self._members = sorted(members, key=lambda m: m.step)
        self._write_index()
        self._recorded = [frozenset(m.file for m in self._members)]
        self._evicted = set()
        self._delete_strays()

    def _write_index(self) -> None:
        tmp = self.folder / (POOL_INDEX + ".tmp")
        tmp.write_text(json.dumps({"members": [asdict(m) for m in self._members]}, indent=1))
        os.replace(tmp, self.folder / POOL_INDEX)

    def _delete_unrecorded(self) -> None:
        """Delete evicted members' files that neither the pool nor a recorded state needs."""
        needed = {m.file for m in self._members}.union(*self._recorded)
        for file in sorted(self._evicted - needed):
            (self.folder / file).unlink(missing_ok=True)
            self._evicted.discard(file)

    def _delete_strays(self) -> None:
        """Delete snapshot files (and leftover temporary ones) the index does not list."""
        listed = {m.file for m in self._members}
        for path in [*self.folder.glob("snapshot-*.zip"), *self.folder.glob(".snapshot-*.tmp")]:
            if path.name not in listed:
                path.unlink(missing_ok=True)


class PolicyOpponent(RandomOpponent):
    """A saved agent (an SB3 ``.zip``; MaskablePPO or PPO) playing the other side.

    Opponent ``policy``. The model sees the position from its own side, through the same
    planes and action layout as the learner; with a model that cannot mask, an illegal
    choice is replaced by a random legal move. It is loaded at its first move, and a
    pickled copy carries no model (each worker loads its own).
    """

    name = "policy"

    def __init__(self, path: str, deterministic: bool = False, device: str = "cpu") -> None:
        super().__init__()
        if not Path(path).is_file():
            raise FileNotFoundError(f"policy opponent: no saved agent at {path!r}")
        self.path, self.deterministic, self.device = path, deterministic, device
        self.model: Any = None
        self.maskable = False

    def _load(self) -> Any:
        import random

        import torch
        from sb3_contrib import MaskablePPO
        from stable_baselines3 import PPO

        # SB3's load seeds python's, numpy's and torch's generators with the saved agent's
        # seed: put them back, so that when a snapshot is loaded changes nothing else.
        states = random.getstate(), np.random.get_state(), torch.get_rng_state()  # noqa: NPY002
        try:
            self.model = MaskablePPO.load(self.path, device=self.device)
            self.maskable = True
        except (KeyError, ValueError, TypeError):
            self.model = PPO.load(self.path, device=self.device)
            self.maskable = False
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])  # noqa: NPY002
            torch.set_rng_state(states[2])
        return self.model

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """The saved agent's move."""
        model = self.model or self._load()
        by_action = legal_actions(board, moves)
        obs = board_planes(board)
        kwargs: dict[str, Any] = {"deterministic": self.deterministic}
        if self.maskable:
            mask = np.zeros(N_ACTIONS, dtype=bool)
            mask[list(by_action)] = True
            kwargs["action_masks"] = mask
        action, _ = model.predict(obs, **kwargs)
        move = by_action.get(int(action))
        return move if move is not None else moves[self.rng.integers(len(moves))]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["model"] = None
        return state


class SnapshotOpponent(PolicyOpponent):
    """A pool member playing: a ``PolicyOpponent`` that can be loaded before its first
    move, so that a snapshot evicted from the pool mid-game still plays the game out."""

    def load(self) -> None:
        """Load the saved agent now (``FileNotFoundError`` if its file is gone)."""
        if self.model is None:
            self._load()


class PoolOpponent:
    """Chess opponent drawn per game from a self-play pool: a snapshot or the random one.

    Args:
        folder: the pool's folder (a ``SelfPlayPool``'s, created before the envs).
        random_weight: the probability of the random opponent for a game (1 when the pool
            is empty); otherwise a snapshot is drawn uniformly.
        deterministic: whether snapshots play their most likely move instead of sampling.
        device: where snapshots run (``cpu``: one position at a time).
        cache_size: how many loaded snapshots to keep; the least recently drawn goes.

    At each ``reset`` the index is re-read if its file changed (modification time, size
    or inode). ``current`` names the opponent of the game (``random`` or
    ``snapshot-<step>``), ``current_member`` its pool entry (None for random). A pickled
    ``PoolOpponent`` carries no loaded model, so vector-env workers load their own; a copy
    pickled mid-game loads the same member again at its next move.
    """

    name = "pool"

    def __init__(
        self,
        folder: Path | str,
        random_weight: float = RANDOM_WEIGHT,
        deterministic: bool = False,
        device: str = "cpu",
        cache_size: int = 4,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(
                f"pool opponent: no self-play folder at {str(self.folder)!r}; accepted: the "
                "folder of a SelfPlayPool, created before the envs"
            )
        self.random_weight = _check_fraction("random_weight", random_weight)
        self.deterministic, self.device = bool(deterministic), device
        self.cache_size = _check_count("cache_size", cache_size, 1)
        self.random = RandomOpponent()
        self.members: list[PoolMember] = []
        self.current = RandomOpponent.name
        self.current_member: PoolMember | None = None
        self._playing: Opponent | None = self.random  # None: to load again after unpickling
        self._index_key: tuple[int, int, int] | None = None
        self._cache: OrderedDict[tuple[str, int], SnapshotOpponent] = OrderedDict()

    def reset(self, rng: np.random.Generator) -> None:
        """Pick this game's opponent with the env's generator; see the pool's changes."""
        self._refresh()
        self.random.reset(rng)
        self._play_random()
        if not self.members or rng.random() < self.random_weight:
            return
        member = self.members[int(rng.integers(len(self.members)))]
        snapshot = self._snapshot(member)
        if snapshot is None:  # evicted since the index was read: this game is random's
            return
        snapshot.reset(rng)
        self._playing, self.current, self.current_member = snapshot, member.label, member

    def choose(self, board: chess.Board, moves: list[chess.Move]) -> chess.Move:
        """The move of this game's opponent."""
        playing = self._playing if self._playing is not None else self._resume()
        return playing.choose(board, moves)

    def get_state(self, env_rng: np.random.Generator) -> dict[str, Any]:
        """This game's opponent and the random one's generator (None: the env's), for an
        exact resume; a snapshot playing draws from the same generator."""
        return {
            "random": self.random.get_state(env_rng),
            "current": self.current,
            "current_member": self.current_member,
        }

    def set_state(self, state: Mapping[str, Any], env_rng: np.random.Generator) -> None:
        """Continue from a ``get_state``: the same member plays on (loaded at its next move,
        as after unpickling), drawing from the same generator."""
        self.random.set_state(state["random"], env_rng)
        self.current, self.current_member = state["current"], state["current_member"]
        self._playing = self.random if self.current_member is None else None

    def _resume(self) -> Opponent:
        """The game's opponent again after unpickling (random if its snapshot is gone)."""
        member = self.current_member
        snapshot = self._snapshot(member) if member is not None else None
        if snapshot is None:
            return self._play_random()
        snapshot.reset(self.random.rng)
        self._playing = snapshot
        return snapshot

    def close(self) -> None:
        """Drop the loaded snapshots."""
        for snapshot in self._cache.values():
            snapshot.close()
        self._cache.clear()
        self._play_random()

    def _play_random(self) -> Opponent:
        """Make the random opponent this game's."""
        self._playing, self.current, self.current_member = self.random, self.random.name, None
        return self.random

    def _refresh(self) -> None:
        try:
            stat = (self.folder / POOL_INDEX).stat()
        except FileNotFoundError:
            self.members, self._index_key = [], None
            return
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if key != self._index_key:
            self.members, self._index_key = read_index(self.folder), key

    def _snapshot(self, member: PoolMember) -> SnapshotOpponent | None:
        """``member`` loaded (from the cache when its file is unchanged); None if gone."""
        path = self.folder / member.file
        try:
            key = (member.file, path.stat().st_mtime_ns)
        except FileNotFoundError:
            return None
        snapshot = self._cache.get(key)
        if snapshot is not None:
            self._cache.move_to_end(key)
            return snapshot
        try:
            snapshot = SnapshotOpponent(str(path), self.deterministic, self.device)
            snapshot.load()
        except FileNotFoundError:
            return None
        self._cache[key] = snapshot
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)[1].close()
        return snapshot

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # The loaded models stay behind; ``current`` goes along, to be loaded again.
        state.update(_cache=OrderedDict(), _playing=None, _index_key=None, members=[])
        return state


class SelfPlayPromotion:
    """Decides, after each periodic evaluation, whether the learner joins the pool.

    Args:
        pool: the pool to add snapshots to.
        threshold: the evaluation win rate at which the learner is promoted.
        min_gap: the fewest training steps between two promotions.

    The last promotion's step is the newest pool member's, so a resumed run, whose pool
    was restored with ``load_state``, keeps the gap.
    """

    def __init__(self, pool: SelfPlayPool, threshold: float = 0.6, min_gap: int = 0) -> None:
        self.pool = pool
        self.threshold = _check_fraction("threshold", threshold)
        self.min_gap = _check_count("min_gap", min_gap, 0)

    @property
    def last_step(self) -> int | None:
        """The step of the last promotion (the newest member), None if there was none."""
        members = self.pool.members()
        return members[-1].step if members else None

    def consider(self, model: Any, step: int, win_rate: float) -> bool:
        """Add ``model`` as the snapshot of ``step`` if ``win_rate`` earns it; say if it did."""
        if not (math.isfinite(win_rate) and win_rate >= self.threshold):
            return False
        last = self.last_step
        if last is not None and step - last < self.min_gap:
            return False
        self.pool.add(model, step, win_rate)
        return True


class PromotionExtra:
    """After each periodic evaluation, lets the learner join its self-play pool when its
    evaluation win rate passes the threshold."""

    def __init__(self, promotion: SelfPlayPromotion) -> None:
        self.promotion = promotion

    def __call__(
        self, model: Any, results: Mapping[str, float], step: int
    ) -> dict[str, float | str]:
        """Promote if due; log the pool's size and whether this evaluation promoted."""
        promoted = self.promotion.consider(model, step, float(results.get("win_rate", 0.0)))
        return {
            "selfplay/promoted": float(promoted),
            "selfplay/pool_size": float(len(self.promotion.pool.members())),
        }


@dataclass(frozen=True)
class SelfPlaySettings:
    """A run's ``env.selfplay``: the training opponent drawn from the learner's snapshots.

    Attributes:
        threshold: the evaluation win rate that admits a snapshot (0: every evaluation,
            ``min_gap`` apart).
        random_weight: the probability of a game against the random opponent instead.
        max_size: the most snapshots kept.
        min_gap: the fewest training steps between two admissions.
        deterministic: whether snapshots play their most likely move.

    The evaluation keeps the configured opponent: a fixed yardstick.
    """

    threshold: float = 0.6
    random_weight: float = RANDOM_WEIGHT
    max_size: int = 8
    min_gap: int = 0
    deterministic: bool = False

    @classmethod
    def from_config(cls, env_config: Mapping[str, Any]) -> SelfPlaySettings | None:
        """``env.selfplay``, checked, when ``enabled``; None when off.

        Raises:
            ValueError: a setting out of range, in one line naming it.
        """
        settings = dict(env_config.get("selfplay") or {})
        if not settings.get("enabled"):
            return None
        threshold = float(settings.get("threshold", cls.threshold))
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"env.selfplay.threshold={settings.get('threshold')}; accepted: a win rate "
                "in [0, 1] (0: a snapshot at every evaluation, min_gap apart)"
            )
        weight = float(settings.get("random_weight", cls.random_weight))
        if not 0.0 <= weight <= 1.0:
            raise ValueError(
                f"env.selfplay.random_weight={settings.get('random_weight')}; accepted: a "
                "probability in [0, 1]"
            )
        counts = {}
        for key, default, low in (("max_size", cls.max_size, 1), ("min_gap", cls.min_gap, 0)):
            value = settings.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"env.selfplay.{key}={value!r}; accepted: an integer >= {low}")
            counts[key] = value
        return cls(
            threshold=threshold,
            random_weight=weight,
            deterministic=bool(settings.get("deterministic", False)),
            **counts,
        )

    def pool(self, folder: Path, state: Mapping[str, Any] | None, resuming: bool) -> SelfPlayPool:
        """The run's pool in ``folder``: emptied for a new run; for a resumed one, as the
        checkpoint's ``state`` recorded it (as the folder has it, without a state)."""
        pool = SelfPlayPool(folder, max_size=self.max_size, random_weight=self.random_weight)
        if not resuming:
            pool.clear()
        elif state is not None:
            pool.load_state(state)
        return pool

    def promotion(self, pool: SelfPlayPool) -> PromotionExtra:
        """What admits the learner into ``pool`` after each periodic evaluation."""
        return PromotionExtra(SelfPlayPromotion(pool, self.threshold, self.min_gap))

    def train_env_config(self, env_config: Mapping[str, Any], pool: SelfPlayPool) -> dict[str, Any]:
        """``env_config`` with ``pool``'s opponent in its ``kwargs``."""
        kwargs = {**dict(env_config["kwargs"]), "opponent": pool.opponent_spec(self.deterministic)}
        return {**dict(env_config), "kwargs": kwargs}
