"""Shared plumbing of the metric results: JSON-safe dicts, JSON text, small text tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Result",
    "as_plain",
    "dataclass_dict",
    "find_row",
    "format_table",
    "label_text",
    "read_json",
    "write_json",
]


def as_plain(value: Any) -> Any:
    """JSON-safe copy: tuples and arrays -> lists, numpy scalars -> Python, NaN/inf -> None.

    Example:
        >>> as_plain({"a": (np.int64(1), float("nan"))})
        {'a': [1, None]}
    """
    if hasattr(value, "to_dict") and callable(value.to_dict) and not isinstance(value, dict):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): as_plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return as_plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dataclass_dict(obj: Any) -> dict[str, Any]:
    """``as_plain`` of every field of the dataclass ``obj`` (nested results included)."""
    return {f.name: as_plain(getattr(obj, f.name)) for f in fields(obj)}


def write_json(data: dict[str, Any], path: str | Path | None, indent: int | None) -> str:
    """Return ``data`` as JSON text, and write it to ``path`` when given."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text


def read_json(source: str | Path) -> dict[str, Any]:
    """A JSON object from a JSON string or a path to a JSON file (plain JSON, no pickle)."""
    text = str(source)
    if not text.lstrip().startswith("{"):
        text = Path(source).read_text(encoding="utf-8")
    return json.loads(text)


class Result:
    """Base of the metric results (frozen dataclasses): ``to_dict()`` in plain JSON types
    (NaN becomes ``None``, nested results their own ``to_dict()``) and ``to_json()``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON-types dict of every field (NaN becomes ``None``)."""
        return dataclass_dict(self)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Return the result as JSON, and write it to ``path`` when given.

        Example:
            >>> result.to_json("result.json")  # doctest: +SKIP
        """
        return write_json(self.to_dict(), path, indent)


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
