"""A vector step's infos as columns: one array per event, dicts only when asked for.

A batched env that answers ``n`` questions per call reports its events as ``n``-long
arrays (``EventInfos.columns``) rather than ``n`` dicts. Code that knows about columns
(the scheme wrappers, the task-score monitor, the behaviour tally, the rollout loop of
``agents.ppo.LeanPPO``) reads the arrays; code that does not (stable-baselines3's own
loops, a plugin's callback) indexes or iterates it as the usual list of info dicts, which
are built then, once, and kept, so that what a caller writes into one stays there.

The protocol other layers rely on is duck-typed (``envs`` imports nothing of ours and
nothing imports ``envs`` for it): ``infos.columns`` (a dict of arrays, ``n`` rows),
``infos.vocabularies`` (a column of integer codes whose row value is a word of this
tuple), ``infos.derived`` (what wrappers computed from the columns, kept out of the
dicts) and ``infos.set_rows(key, value_of_row, rows)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

__all__ = ["EventInfos"]


class EventInfos(Sequence[dict[str, Any]]):
    """The infos of one vector step: event columns, and the per-slot dicts on demand.

    Args:
        columns: event name -> array whose first axis is the slot (``n`` rows).
        vocabularies: for columns of integer codes, the words they stand for; a row's dict
            holds the word.

    Example:
        >>> infos = EventInfos({"mode": np.array([0, 2], dtype=np.int8),
        ...                     "correct": np.array([True, False])},
        ...                    {"mode": ("answer", "hedge", "abstain")})
        >>> infos.columns["correct"].tolist(), len(infos)
        ([True, False], 2)
        >>> infos[1]
        {'mode': 'abstain', 'correct': False}
    """

    def __init__(
        self,
        columns: dict[str, NDArray[Any]],
        vocabularies: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.columns = columns
        self.vocabularies = dict(vocabularies or {})
        #: What wrappers derived from the columns (the monitor's episode sums, a scheme's
        #: batch of rewards), by name: read by code that knows it, never put in the dicts.
        self.derived: dict[str, Any] = {}
        self._n = len(next(iter(columns.values()))) if columns else 0
        self._lazy: list[tuple[str, Callable[[int], Any], NDArray[np.bool_] | None]] = []
        self._rows: list[dict[str, Any]] | None = None

    def set_rows(
        self, key: str, value_of_row: Callable[[int], Any], rows: NDArray[np.bool_] | None = None
    ) -> None:
        """Give ``dict[key] = value_of_row(i)`` to the slots in ``rows`` (all if None),
        computed only if the dicts are ever built."""
        if self._rows is None:
            self._lazy.append((key, value_of_row, rows))
        else:
            self._fill(key, value_of_row, rows)

    def _fill(
        self, key: str, value_of_row: Callable[[int], Any], rows: NDArray[np.bool_] | None
    ) -> None:
        assert self._rows is not None
        chosen = range(self._n) if rows is None else np.flatnonzero(rows).tolist()
        for i in chosen:
            self._rows[i][key] = value_of_row(i)

    def rows(self) -> list[dict[str, Any]]:
        """The per-slot info dicts (built on the first call, then the same objects)."""
        if self._rows is None:
            keys = list(self.columns)
            values = []
            for key in keys:
                column = self.columns[key]
                words = self.vocabularies.get(key)
                if words is not None:
                    values.append([words[code] for code in column.tolist()])
                elif column.ndim > 1:
                    values.append(list(column))
                else:
                    values.append(column.tolist())
            self._rows = [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]
            if not keys:
                self._rows = [{} for _ in range(self._n)]
            for key, value_of_row, rows in self._lazy:
                self._fill(key, value_of_row, rows)
            self._lazy.clear()
        return self._rows

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self.rows()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventInfos):
            return self.rows() == other.rows()
        if isinstance(other, list):
            return self.rows() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EventInfos({len(self)} rows, columns={list(self.columns)})"
