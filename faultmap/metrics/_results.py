"""Shared plumbing of the metric results: the JSON stack of :mod:`faultmap._serialize` and
small text tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from faultmap._serialize import Record, read_json, record_dict, to_plain, write_json

__all__ = [
    "DocumentedKeys",
    "Result",
    "as_plain",
    "dataclass_dict",
    "find_row",
    "format_table",
    "label_text",
    "read_json",
    "write_json",
]

#: JSON-safe copy (tuples and arrays -> lists, numpy scalars -> Python, NaN/inf -> None); the
#: names stay importable from here.
as_plain = to_plain
#: ``as_plain`` of every field of a dataclass (nested results included).
dataclass_dict = record_dict


class Result(Record):
    """Base of the metric results (frozen dataclasses): the :class:`~faultmap._serialize.Record`
    JSON round trip, ``to_dict()`` in plain JSON types (NaN becomes ``None``, nested results
    their own ``to_dict()``), ``from_dict()``, ``to_json()`` and ``from_json()``."""


class DocumentedKeys:
    """Read-only mapping access by the key names a result is documented with elsewhere
    (faultmap 0.5.0's), beside its attributes: ``result["error_rate"]``, ``"gap" in result``,
    ``result.keys()``, ``dict(result.items())``. A subclass sets ``_KEYS`` (key -> attribute)
    or overrides :meth:`_lookup` and :meth:`keys`. Not a :class:`collections.abc.Mapping`:
    ``to_dict()`` and equality stay the dataclass's."""

    _KEYS: ClassVar[dict[str, str]] = {}

    def _lookup(self, key: Any) -> Any:
        if isinstance(key, str) and key in self._KEYS:
            return getattr(self, self._KEYS[key])
        raise KeyError(key)

    def keys(self) -> list[Any]:
        """The documented keys, in order."""
        return list(self._KEYS)

    def __getitem__(self, key: Any) -> Any:
        return self._lookup(key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Any:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def get(self, key: Any, default: Any = None) -> Any:
        """``self[key]``, or ``default`` for a key it does not have."""
        try:
            return self._lookup(key)
        except KeyError:
            return default

    def values(self) -> list[Any]:
        """The values of :meth:`keys`, in order."""
        return [self._lookup(k) for k in self.keys()]

    def items(self) -> list[tuple[Any, Any]]:
        """``(key, value)`` pairs of :meth:`keys`, in order."""
        return [(k, self._lookup(k)) for k in self.keys()]


def find_row(rows: Sequence[Any], attribute: str, key: Any) -> Any:
    """The first row whose ``attribute`` equals ``key``, else :class:`KeyError`."""
    for row in rows:
        if getattr(row, attribute) == key:
            return row
    raise KeyError(key)


def label_text(label: Any) -> str:
    """A class label or group value as display text (numpy scalars unwrapped)."""
    if isinstance(label, np.generic):
        label = label.item()
    return str(label)


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "-" if not math.isfinite(float(value)) else f"{float(value):.3f}"
    return label_text(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain monospace table: first column left-aligned, the others right-aligned.

    Example:
        >>> print(format_table(["class", "n"], [["cat", 3], ["dog", 12]]))
        class   n
        cat     3
        dog    12
    """
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(header))]
    lines = []
    for row in cells:
        rest = zip(row[1:], widths[1:], strict=True)
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in rest]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
