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
``null`` back as NaN (``to_dict`` wrote NaN as ``null``).

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

import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

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

#: Field-metadata keys of the two markers.
_OMIT_NONE = "faultmap.omit_none"
_EXTRA = "faultmap.extra"


#: ``field(default=None, metadata=OMIT_NONE)``: a key left out of ``to_dict()`` (and of a
#: :class:`MappingRecord`'s keys) while its value is ``None``.
OMIT_NONE: Mapping[str, bool] = types.MappingProxyType({_OMIT_NONE: True})

#: ``field(default_factory=dict, metadata=EXTRA)`` on a ``dict[str, Any]`` field: the keys a
#: record does not declare, as JSON values. ``from_dict`` puts every undeclared key there;
#: ``to_dict()`` and the mapping view put them back at the top level.
EXTRA: Mapping[str, bool] = types.MappingProxyType({_EXTRA: True})


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
    if isinstance(value, Record):
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
    plan = _plan(type(obj))
    out: dict[str, Any] = {}
    for f in plan.fields:
        value = getattr(obj, f.name)
        if not (f.omit_none and value is None):
            out[f.name] = to_plain(value)
    if plan.extra is not None:
        for key, value in getattr(obj, plan.extra).items():
            out[key] = to_plain(value)
    return out


def write_json(data: Any, path: str | Path | None = None, indent: int | None = 2) -> str:
    """``data`` (plain JSON types) as JSON text, also written to ``path`` when given."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text


def read_json(source: str | Path) -> Any:
    """The JSON value in ``source``: JSON text (a ``str`` starting with ``{`` or ``[``) or the
    path of a JSON file. Plain JSON, never pickle. Text that is not JSON raises
    :class:`~faultmap.exceptions.DataError`; a missing file raises ``FileNotFoundError``."""
    text = source if isinstance(source, str) else None
    where = "the JSON text"
    if text is None or not text.lstrip().startswith(("{", "[")):
        where = repr(str(source))
        text = Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"Could not read {where} as JSON: {exc}.") from exc


# -- reading values back through type hints ----------------------------------------------------

Converter = Callable[[Any, str], Any]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true/false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float, np.number)):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "a list"
    return f"a {type(value).__name__}"


def _fail(where: str, expected: str, value: Any) -> DataError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return DataError(f"{where}: expected {expected}, got {_kind(value)} ({shown}).")


def _any(value: Any, where: str) -> Any:
    return value


def _to_str(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    raise _fail(where, "a string", value)


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise _fail(where, "true or false", value)


def _to_int(value: Any, where: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise _fail(where, "an integer", value)


def _to_float(value: Any, where: str) -> float:
    if type(value) is float or type(value) is int:
        return value
    if value is None:  # to_dict writes NaN as null
        return math.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return value.item() if isinstance(value, np.generic) else value
    raise _fail(where, "a number", value)


def _to_none(value: Any, where: str) -> None:
    if value is None:
        return None
    raise _fail(where, "null", value)


def _to_array(value: Any, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise _fail(where, "a list", value)


def _describe(hint: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if hint in names:
        return names[hint]
    origin = typing.get_origin(hint)
    if origin in (list, tuple) or hint in (list, tuple):
        return "a list"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "an object"
    if isinstance(hint, type) and issubclass(hint, Record):
        return "an object"
    return getattr(hint, "__name__", str(hint))


def _union(args: tuple[Any, ...]) -> Converter:
    nullable = type(None) in args
    options = [a for a in args if a is not type(None)]
    converters = [_converter(a) for a in options]
    if len(converters) == 1:
        (only,) = converters

        def one(value: Any, where: str) -> Any:
            return None if value is None and nullable else only(value, where)

        return one
    expected = " or ".join([_describe(a) for a in options] + (["null"] if nullable else []))

    def several(value: Any, where: str) -> Any:
        if value is None and nullable:
            return None
        for convert in converters:
            try:
                return convert(value, where)
            except DataError:
                continue
        raise _fail(where, expected, value)

    return several


def _list(args: tuple[Any, ...]) -> Converter:
    item = _converter(args[0]) if args else _any

    def convert(value: Any, where: str) -> list[Any]:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise _fail(where, "a list", value)
        if item is _any:
            return value if isinstance(value, list) else list(value)
        out = [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
        same = isinstance(value, list) and all(a is b for a, b in zip(out, value, strict=True))
        return value if same else out

    return convert


def _tuple(args: tuple[Any, ...]) -> Converter:
    if not args or (len(args) == 2 and args[1] is Ellipsis):
        item = _converter(args[0]) if args else _any

        def variadic(value: Any, where: str) -> tuple[Any, ...]:
            if isinstance(value, np.ndarray):
                value = value.tolist()
            if not isinstance(value, (list, tuple)):
                raise _fail(where, "a list", value)
            return tuple(item(v, f"{where}[{i}]") for i, v in enumerate(value))

        return variadic
    items = [_converter(a) for a in args]

    def fixed(value: Any, where: str) -> tuple[Any, ...]:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise _fail(where, f"a list of {len(items)} values", value)
        pairs = enumerate(zip(items, value, strict=True))
        return tuple(convert(v, f"{where}[{i}]") for i, (convert, v) in pairs)

    return fixed


def _dict(args: tuple[Any, ...]) -> Converter:
    item = _converter(args[1]) if len(args) == 2 else _any

    def convert(value: Any, where: str) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise _fail(where, "an object", value)
        out = {k: item(v, f"{where}[{k!r}]") for k, v in value.items()}
        same = type(value) is dict and all(out[k] is v for k, v in value.items())
        return value if same else out

    return convert


def _record(cls: type[Record]) -> Converter:
    def convert(value: Any, where: str) -> Record:
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls._read(value, where)
        raise _fail(where, "an object", value)

    return convert


def _instance(cls: type) -> Converter:
    def convert(value: Any, where: str) -> Any:
        if isinstance(value, cls):
            return value
        raise _fail(where, f"a {cls.__name__}", value)

    return convert


def _converter(hint: Any) -> Converter:
    """A function ``(value, where) -> value`` that checks ``value`` against ``hint`` and
    rebuilds records, tuples and arrays; unchanged containers are returned as they are."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if origin is typing.ClassVar or origin is typing.Final:
        return _converter(args[0]) if args else _any
    if origin is list or hint is list:
        return _list(args)
    if origin is tuple or hint is tuple:
        return _tuple(args)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return _dict(args)
    simple: dict[Any, Converter] = {
        str: _to_str,
        bool: _to_bool,
        int: _to_int,
        float: _to_float,
        type(None): _to_none,
        None: _to_none,
        np.ndarray: _to_array,
    }
    if hint in simple:
        return simple[hint]
    if isinstance(hint, type) and issubclass(hint, Record):
        return _record(hint)
    if isinstance(hint, type) and hint.__module__ == "builtins" and hint is not object:
        return _instance(hint)
    return _any  # Any, TypeVars, Literal, classes we cannot check: taken as they are


def _holds_records(hint: Any) -> bool:
    """Whether ``hint`` mentions a record or a tuple (fields fixed when a result is built)."""
    if hint is tuple or typing.get_origin(hint) is tuple:
        return True
    if isinstance(hint, type) and issubclass(hint, Record):
        return True
    return any(_holds_records(a) for a in typing.get_args(hint) if a is not Ellipsis)


# -- the per-class plan, resolved once --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    convert: Converter
    required: bool
    omit_none: bool
    on_build: bool  # converted when the result is built (records, tuples)


@dataclasses.dataclass(frozen=True)
class _Plan:
    fields: tuple[_Field, ...]
    names: frozenset[str]
    extra: str | None


_PLANS: dict[type, _Plan] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field type hints of ``cls``; a hint that cannot be resolved (a name
    imported only for type checking) counts as ``Any``."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # resolve field by field below
        pass
    out: dict[str, Any] = {}
    for owner in reversed(cls.__mro__):
        module = vars(sys.modules.get(owner.__module__, types.ModuleType("_")))
        for name, hint in vars(owner).get("__annotations__", {}).items():
            if isinstance(hint, str):
                try:
                    hint = eval(hint, dict(module), dict(vars(owner)))  # as get_type_hints does
                except Exception:  # an unresolvable hint reads as Any
                    hint = Any
            out[name] = hint
    return out


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    hints = _hints(cls)
    fields, extra = [], None
    for f in dataclasses.fields(cls):
        if f.metadata.get(_EXTRA):
            extra = f.name
            continue
        hint = hints.get(f.name, Any)
        fields.append(
            _Field(
                name=f.name,
                convert=_converter(hint),
                required=f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING,
                omit_none=bool(f.metadata.get(_OMIT_NONE)),
                on_build=_holds_records(hint),
            )
        )
    plan = _Plan(tuple(fields), frozenset(f.name for f in fields), extra)
    _PLANS[cls] = plan
    return plan


# -- the base classes -------------------------------------------------------------------------


class Record:
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

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON-types dict of every field (``from_dict`` rebuilds the result)."""
        return record_dict(self)

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """Rebuild a result from :meth:`to_dict` output (plain JSON, no pickle); keys a newer
        faultmap added are ignored (or kept in the record's extra keys, if it has them)."""
        return cls._read(data, cls.__name__)

    @classmethod
    def _read(cls: type[R], data: Any, where: str) -> R:
        if not isinstance(data, Mapping):
            raise _fail(where, "an object", data)
        plan = _plan(cls)
        kwargs: dict[str, Any] = {}
        for f in plan.fields:
            if f.name in data:
                kwargs[f.name] = f.convert(data[f.name], f"{where}.{f.name}")
            elif f.required:
                raise DataError(
                    f"{where}: the required field {f.name!r} is missing. Was the file written "
                    "by faultmap's to_json()?"
                )
        if plan.extra is not None:
            kwargs[plan.extra] = {k: v for k, v in data.items() if k not in plan.names}
        try:
            return cls(**kwargs)
        except DataError:
            raise
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: {exc}") from exc

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Return the result as JSON (plain types, no NaN), and write it to ``path`` when given.

        Example:
            >>> report.to_json("report.json")  # doctest: +SKIP
        """
        return write_json(self.to_dict(), path, indent)

    @classmethod
    def from_json(cls: type[R], source: str | Path) -> R:
        """Rebuild a result from a JSON string or the path of a JSON file (plain JSON, no
        pickle)."""
        return cls._read(read_json(source), cls.__name__)


def _extra(plan: _Plan, extra: Any, owner: str) -> dict[str, Any]:
    if not isinstance(extra, Mapping):
        raise _fail(f"{owner}.{plan.extra}", "an object", extra)
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
