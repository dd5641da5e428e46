"""Row identity: which input rows an analysis looked at, which it left out, and why.

Every analysis takes ``n`` input rows and may leave some out (a row that could not be
scored, say). :class:`Rows` is the one value that knows this: it maps positions among the
analysed rows back to input row numbers, spreads per-analysed-row values over all input
rows (left-out rows get a fill value, e.g. the cluster label :data:`LEFT_OUT`), and says
why each left-out row is missing. Nothing else in faultmap invents label codes for rows.

Example:
    >>> import numpy as np
    >>> rows = Rows.keeping(np.array([True, False, True, True]), reason="unscored")
    >>> rows.analysed.tolist(), rows.input_index([0, 2]).tolist()
    ([0, 2, 3], [0, 3])
    >>> rows.spread(np.array([5, 6, 7])).tolist()
    [5, -2, 6, 7]
    >>> rows.reasons()
    {'unscored': [1]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from faultmap._serialize import Record

__all__ = ["LEFT_OUT", "NOISE", "LeftOut", "Rows", "failed"]

#: Cluster label of a row that was in no cluster (HDBSCAN noise).
NOISE = -1
#: Label of an input row that was left out of the analysis (see :meth:`Rows.spread`).
LEFT_OUT = -2

T = TypeVar("T")


@dataclass(frozen=True)
class LeftOut(Record):
    """Input rows left out of an analysis for one ``reason`` (e.g. "unscored")."""

    reason: str
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Rows(Record):
    """``total`` input rows, of which those in ``left_out`` were not analysed.

    Build it with :meth:`all` or :meth:`keeping`; :attr:`analysed` lists the analysed
    rows' input numbers in ascending order.
    """

    total: int
    left_out: tuple[LeftOut, ...] = field(default=())

    @classmethod
    def all(cls, total: int) -> Rows:
        """Every one of ``total`` input rows analysed."""
        return cls(int(total))

    @classmethod
    def keeping(cls, keep: np.ndarray, *, reason: str) -> Rows:
        """The rows where the boolean mask ``keep`` is true; the others left out for
        ``reason``."""
        keep = np.asarray(keep, dtype=bool)
        dropped = tuple(int(i) for i in np.flatnonzero(~keep))
        return cls(int(keep.size), (LeftOut(reason, dropped),) if dropped else ())

    @cached_property
    def analysed(self) -> np.ndarray:
        """Input row numbers of the analysed rows, ascending."""
        mask = np.ones(self.total, dtype=bool)
        for group in self.left_out:
            mask[list(group.indices)] = False
        return np.flatnonzero(mask)

    @property
    def num_analysed(self) -> int:
        return int(self.analysed.size)

    @property
    def is_subset(self) -> bool:
        """True when some input rows were left out."""
        return any(group.indices for group in self.left_out)

    def input_index(self, positions: Any) -> np.ndarray:
        """Input row numbers of the analysed rows at ``positions`` (int array)."""
        return self.analysed[np.asarray(positions, dtype=np.int64)]

    def take(self, values: Sequence[T] | np.ndarray) -> Any:
        """The analysed rows of ``values`` (one entry per input row): an array for an array,
        a list otherwise; ``values`` itself when nothing was left out."""
        if not self.is_subset:
            return values
        if isinstance(values, np.ndarray):
            return values[self.analysed]
        return [values[i] for i in self.analysed]

    def spread(self, values: Any, fill: Any = LEFT_OUT) -> np.ndarray:
        """One entry per input row: ``values`` (one per analysed row) in place, ``fill``
        for the rows left out."""
        values = np.asarray(values)
        if not self.is_subset:
            return values
        out = np.full(self.total, fill, dtype=np.result_type(values, np.asarray(fill)))
        out[self.analysed] = values
        return out

    def reasons(self) -> dict[str, list[int]]:
        """Left-out input rows by reason."""
        return {group.reason: list(group.indices) for group in self.left_out if group.indices}


def failed(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The one definition of failure: a score below ``threshold`` (NaN never fails).

    Example:
        >>> failed(np.array([0.2, 0.5, 0.9]), 0.5).tolist()
        [True, False, False]
    """
    return np.asarray(scores, dtype=np.float64) < threshold
