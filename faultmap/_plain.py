"""Results as plain JSON: the JSON-safe copy of a value, the JSON shape of a dataclass, and
JSON text in and out. The writing half of :mod:`faultmap._serialize` (which reads it back).

:func:`to_plain` copies a value into plain JSON types: tuples and arrays become lists, numpy
scalars Python numbers, NaN and infinities ``None``, dataclasses dicts. A dataclass is written
field by field (:func:`record_dict`); two field markers (``dataclasses.field(metadata=...)``)
change its JSON shape:

* :data:`OMIT_NONE` (on a field that defaults to ``None``): the key is left out while the
  value is ``None``, for keys the writer only sometimes sets;
* :data:`EXTRA` (on one ``dict[str, Any]`` field of JSON values): the keys the class does not
  declare, written back at the top level, so the JSON shape is unchanged.

:class:`Writable` is the base of the dataclasses that write themselves this way
(``to_dict()``, ``to_json()``); :class:`~faultmap._serialize.Record` builds on it.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Point(Writable):
    ...     x: float
    ...     label: str | None = field(default=None, metadata=OMIT_NONE)
    >>> Point(float("nan")).to_dict(), Point(1.0, "a").to_json(indent=None)
    ({'x': None}, '{"x": 1.0, "label": "a"}')
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._secrets import redact
from faultmap.exceptions import DataError

__all__ = [
    "EXTRA",
    "OMIT_NONE",
    "JSONShape",
    "MissingFileError",
    "Writable",
    "json_shape",
    "read_json",
    "record_dict",
    "to_plain",
    "write_json",
]

#: Field-metadata keys of the two markers.
_OMIT_NONE = "faultmap.omit_none"
_EXTRA = "faultmap.extra"


#: ``field(default=None, metadata=OMIT_NONE)``: a key left out of ``to_dict()`` (and of a
#: :class:`~faultmap._serialize.MappingRecord`'s keys) while its value is ``None``.
OMIT_NONE: Mapping[str, bool] = types.MappingProxyType({_OMIT_NONE: True})

#: ``field(default_factory=dict, metadata=EXTRA)`` on a ``dict[str, Any]`` field: the keys a
#: record does not declare, as JSON values. ``from_dict`` puts every undeclared key there;
#: ``to_dict()`` and the mapping view put them back at the top level.
EXTRA: Mapping[str, bool] = types.MappingProxyType({_EXTRA: True})


# -- the JSON shape of a dataclass -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JSONShape:
    """The keys a dataclass writes: its fields in order (``names``, the :data:`EXTRA` field
    left out), those left out while ``None`` (``omit_none``) and the field holding the
    undeclared keys (``extra``)."""

    names: tuple[str, ...]
    omit_none: frozenset[str]
    extra: str | None


_SHAPES: dict[type, JSONShape] = {}


def json_shape(cls: type) -> JSONShape:
    """The :class:`JSONShape` of the dataclass ``cls``, read from its field markers once."""
    shape = _SHAPES.get(cls)
    if shape is not None:
        return shape
    names, omit_none, extra = [], set(), None
    for f in dataclasses.fields(cls):
        if f.metadata.get(_EXTRA):
            extra = f.name
            continue
        names.append(f.name)
        if f.metadata.get(_OMIT_NONE):
            omit_none.add(f.name)
    shape = JSONShape(tuple(names), frozenset(omit_none), extra)
    _SHAPES[cls] = shape
    return shape


class Writable:
    """Base of the dataclasses written as JSON objects field by field (:func:`record_dict`):
    ``to_dict()`` and ``to_json()``; :func:`to_plain` writes one with its ``to_dict()``.
    :class:`~faultmap._serialize.Record` adds the way back."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON-types dict of every field (``from_dict`` rebuilds the result)."""
        return record_dict(self)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Return the result as JSON (plain types, no NaN), and write it to ``path`` when given.

        Example:
            >>> report.to_json("report.json")  # doctest: +SKIP
        """
        return write_json(self.to_dict(), path, indent)


# -- plain JSON ------------------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """JSON-safe copy: tuples and arrays -> lists, numpy scalars -> Python, non-finite floats
    -> ``None``, records and other dataclasses -> dicts, mapping keys -> str.

    Example:
        >>> to_plain({"a": (np.int64(1), float("nan")), 2: np.array([0.5])})
        {'a': [1, None], '2': [0.5]}
    """
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return to_plain(value.item())
    if isinstance(value, (str, int)):  # str and int subclasses (enums) as they are
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Writable):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record_dict(value)
    if callable(getattr(value, "to_dict", None)):
        return to_plain(value.to_dict())
    if callable(getattr(value, "tolist", None)):  # array-likes (pandas, torch)
        return to_plain(value.tolist())
    return value


def record_dict(obj: Any) -> dict[str, Any]:
    """``to_dict()`` of any dataclass instance: :func:`to_plain` of every field, following the
    :data:`OMIT_NONE` and :data:`EXTRA` markers."""
    shape = json_shape(type(obj))
    out: dict[str, Any] = {}
    for name in shape.names:
        value = getattr(obj, name)
        if not (value is None and name in shape.omit_none):
            out[name] = to_plain(value)
    if shape.extra is not None:
        for key, value in getattr(obj, shape.extra).items():
            out[key] = to_plain(value)
    return out


def write_json(data: Any, path: str | Path | None = None, indent: int | None = 2) -> str:
    """``data`` (plain JSON types) as JSON text, also written to ``path`` when given."""
    text = redact(json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False))
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text


class MissingFileError(DataError, FileNotFoundError):
    """A file to read does not exist: a :class:`DataError` that ``except FileNotFoundError``
    code also catches."""


def read_json(source: str | Path) -> Any:
    """The JSON value in ``source``: JSON text (a ``str`` starting with ``{`` or ``[``, or any
    other JSON text that is not the name of a file) or the path of a JSON file. Plain JSON,
    never pickle. Text that is not JSON, or a file that cannot be read, raises
    :class:`~faultmap.exceptions.DataError`; a missing file raises :class:`MissingFileError`
    (also a ``FileNotFoundError``)."""
    if isinstance(source, str) and source.lstrip().startswith(("{", "[")):
        text, where = source, "the JSON text"
    else:
        where = repr(str(source))
        try:
            text = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            if isinstance(source, str):
                try:
                    return json.loads(source)  # "null", "3": JSON text, read as such
                except json.JSONDecodeError:
                    pass
            raise MissingFileError(
                f"No such file {where}; pass the path of a JSON file written by to_json(), "
                "or the JSON text itself."
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(
                f"Could not read {where} ({exc}); pass the path of a UTF-8 JSON file written "
                "by to_json(), or the JSON text itself."
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"Could not read {where} as JSON: {exc}.") from exc
