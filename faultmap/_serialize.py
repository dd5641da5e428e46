"""One way to turn results into plain JSON and back: frozen dataclasses built on :class:`Record`.

A result is a frozen dataclass that subclasses :class:`Record`. It gets

* ``to_dict()``: plain JSON types only (tuples and arrays become lists, numpy scalars Python
  numbers, NaN and infinities ``None``, nested records their own ``to_dict()``);
* ``from_dict(data)``: the result rebuilt from that dict, read through the field type hints
  (nested records, ``tuple[...]``, ``X | None``, ``list[X]``, ``dict[str, X]``). Keys the
  class does not know are ignored, so files written by a newer faultmap still load; a value
  of the wrong shape raises :class:`~faultmap.exceptions.DataError` naming the field, e.g.
  ``AnalysisReport.slices[0].examples: expected a list, got an object``;
* ``to_json(path=None, *, indent=2)`` and ``from_json(source)`` (JSON text or a path; plain
  JSON, never pickle).

A field typed as a record (or a list, tuple or dict of records) also accepts plain dicts when
the result is built, and turns them into records, so code that builds a result from dicts
keeps working and every result holds typed payloads. A field typed ``float`` reads JSON
``null`` back as NaN (``to_dict`` wrote NaN as ``null``). The writing half (:func:`to_plain`,
the markers, JSON text in and out) is :mod:`faultmap._plain`, re-exported here; the reading
half, through the type hints, is :mod:`faultmap._coerce`.

Two field markers (``dataclasses.field(metadata=...)``) change the JSON shape of a record:

* :data:`OMIT_NONE` (on a field that defaults to ``None``): the key is left out of
  ``to_dict()`` while the value is ``None``, for keys the writer only sometimes sets;
* :data:`EXTRA` (on one ``dict[str, Any]`` field of JSON values): the keys the class does not
  declare. ``from_dict`` puts every undeclared key there instead of dropping it, and
  ``to_dict`` writes them back at the top level, so the JSON shape is unchanged.

:class:`MappingRecord` adds read-only mapping access over the same keys as ``to_dict()``
(``x["prompt"]``, ``x.get("z")``, ``"z" in x``, ``dict(x)``), for payloads that are documented
as dicts, and compares equal to a dict with the same items.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Point(MappingRecord):
    ...     x: float
    ...     label: str | None = field(default=None, metadata=OMIT_NONE)
    >>> p = Point.from_dict({"x": float("nan"), "added_later": 1})
    >>> p.to_dict(), dict(Point(1.0, "a"))
    ({'x': None}, {'x': 1.0, 'label': 'a'})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from faultmap._coerce import Plan, read_record, shape_error
from faultmap._coerce import plan as _plan
from faultmap._plain import (
    EXTRA,
    OMIT_NONE,
    Writable,
    read_json,
    record_dict,
    to_plain,
    write_json,
)
from faultmap.exceptions import DataError

__all__ = [
    "EXTRA",
    "OMIT_NONE",
    "MappingRecord",
    "Record",
    "read_json",
    "record_dict",
    "to_plain",
    "write_json",
]

R = TypeVar("R", bound="Record")


# -- the base classes -------------------------------------------------------------------------


class Record(Writable):
    """Base of faultmap's results: frozen dataclasses with one JSON round trip (see the module
    docstring). Subclasses are ``@dataclass(frozen=True)``; a subclass that defines
    ``__post_init__`` calls ``super().__post_init__()``."""

    def __post_init__(self) -> None:
        plan = _plan(type(self))
        name = type(self).__name__
        for f in plan.fields:
            if f.on_build:
                value = getattr(self, f.name)
                converted = f.convert(value, f"{name}.{f.name}")
                if converted is not value:
                    object.__setattr__(self, f.name, converted)
        if plan.extra is not None:
            object.__setattr__(self, plan.extra, _extra(plan, getattr(self, plan.extra), name))

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """Rebuild a result from :meth:`to_dict` output (plain JSON, no pickle); keys a newer
        faultmap added are ignored (or kept in the record's extra keys, if it has them)."""
        cls._check_plain(data)
        return read_record(cls, data, cls.__name__)

    @classmethod
    def from_json(cls: type[R], source: str | Path) -> R:
        """Rebuild a result from a JSON string or the path of a JSON file (plain JSON, no
        pickle)."""
        data = read_json(source)
        cls._check_plain(data)
        return read_record(cls, data, cls.__name__)

    @classmethod
    def _check_plain(cls, data: Any) -> None:
        """Check plain JSON before it is read into ``cls`` (a report checks its file's
        values against the schema here); raise :class:`DataError` naming the field."""


def _extra(plan: Plan, extra: Any, owner: str) -> dict[str, Any]:
    if not isinstance(extra, Mapping):
        raise shape_error(f"{owner}.{plan.extra}", "an object", extra)
    clash = sorted(str(k) for k in extra if k in plan.names)
    if clash:
        raise DataError(
            f"{owner}.{plan.extra}: the keys {clash} are fields of {owner}; pass them as fields."
        )
    return {str(k): to_plain(v) for k, v in extra.items()}


class MappingRecord(Record, Mapping[str, Any]):
    """A :class:`Record` that also reads as a read-only mapping over the keys of its
    ``to_dict()``: declared fields in order (an :data:`OMIT_NONE` field only while it is not
    ``None``), then its extra keys. Values are the fields themselves (nested records stay
    records). It compares equal to any mapping with the same items, e.g. ``{}``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # set on the class itself, so that @dataclass does not write its field-wise __eq__
        if "__eq__" not in vars(cls):
            cls.__eq__ = MappingRecord.__eq__  # type: ignore[method-assign]

    def _present(self) -> Iterator[tuple[str, Any]]:
        plan = _plan(type(self))
        for f in plan.fields:
            value = getattr(self, f.name)
            if not (f.omit_none and value is None):
                yield f.name, value
        if plan.extra is not None:
            yield from getattr(self, plan.extra).items()

    def __getitem__(self, key: str) -> Any:
        plan = _plan(type(self))
        if key in plan.names:
            value = getattr(self, key)
            if value is None and any(f.omit_none for f in plan.fields if f.name == key):
                raise KeyError(key)
            return value
        if plan.extra is not None:
            return getattr(self, plan.extra)[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._present())

    def __len__(self) -> int:
        return sum(1 for _ in self._present())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self._present()) == dict(other.items())
