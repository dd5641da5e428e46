"""Plain JSON read back through type hints: the reading half of :mod:`faultmap._serialize`.

:func:`read_record` rebuilds a dataclass from a JSON object, each field read through its type
hint: nested records (subclasses of :class:`~faultmap._plain.Writable`, written field by field
and so read back field by field), ``tuple[...]``, ``X | None``, ``list[X]``, ``dict[str, X]``;
a field typed ``float`` reads ``null`` back as NaN (``to_dict`` wrote NaN as ``null``). Keys
the class does not know are ignored, or kept in its :data:`~faultmap._plain.EXTRA` field. A
value of the wrong shape raises :class:`~faultmap.exceptions.DataError` naming the field, e.g.
``AnalysisReport.slices[0].examples: expected a list, got an object``.

:func:`plan` resolves each class's fields, their converters and markers once.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from faultmap._plain import Writable, json_shape
from faultmap.exceptions import DataError

__all__ = ["FieldPlan", "Plan", "plan", "read_record", "shape_error"]

W = TypeVar("W", bound=Writable)

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


def shape_error(where: str, expected: str, value: Any) -> DataError:
    """The error for a JSON value of the wrong shape at ``where``."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return DataError(f"{where}: expected {expected}, got {_kind(value)} ({shown}).")


def _any(value: Any, where: str) -> Any:
    return value


def _to_str(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    raise shape_error(where, "a string", value)


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise shape_error(where, "true or false", value)


def _to_int(value: Any, where: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise shape_error(where, "an integer", value)


def _to_float(value: Any, where: str) -> float:
    if type(value) is float or type(value) is int:
        return value
    if value is None:  # to_dict writes NaN as null
        return math.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return value.item() if isinstance(value, np.generic) else value
    raise shape_error(where, "a number", value)


def _to_none(value: Any, where: str) -> None:
    if value is None:
        return None
    raise shape_error(where, "null", value)


def _to_array(value: Any, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise shape_error(where, "a list", value)


def _describe(hint: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if hint in names:
        return names[hint]
    origin = typing.get_origin(hint)
    if origin in (list, tuple) or hint in (list, tuple):
        return "a list"
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return "an object"
    if isinstance(hint, type) and issubclass(hint, Writable):
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
        raise shape_error(where, expected, value)

    return several


def _list(args: tuple[Any, ...]) -> Converter:
    item = _converter(args[0]) if args else _any

    def convert(value: Any, where: str) -> list[Any]:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise shape_error(where, "a list", value)
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
                raise shape_error(where, "a list", value)
            return tuple(item(v, f"{where}[{i}]") for i, v in enumerate(value))

        return variadic
    items = [_converter(a) for a in args]

    def fixed(value: Any, where: str) -> tuple[Any, ...]:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise shape_error(where, f"a list of {len(items)} values", value)
        pairs = enumerate(zip(items, value, strict=True))
        return tuple(convert(v, f"{where}[{i}]") for i, (convert, v) in pairs)

    return fixed


def _dict(args: tuple[Any, ...]) -> Converter:
    item = _converter(args[1]) if len(args) == 2 else _any

    def convert(value: Any, where: str) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise shape_error(where, "an object", value)
        out = {k: item(v, f"{where}[{k!r}]") for k, v in value.items()}
        same = type(value) is dict and all(out[k] is v for k, v in value.items())
        return value if same else out

    return convert


def _record(cls: type[Writable]) -> Converter:
    def convert(value: Any, where: str) -> Writable:
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return read_record(cls, value, where)
        raise shape_error(where, "an object", value)

    return convert


def _instance(cls: type) -> Converter:
    def convert(value: Any, where: str) -> Any:
        if isinstance(value, cls):
            return value
        raise shape_error(where, f"a {cls.__name__}", value)

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
    if isinstance(hint, type) and issubclass(hint, Writable):
        return _record(hint)
    if isinstance(hint, type) and hint.__module__ == "builtins" and hint is not object:
        return _instance(hint)
    return _any  # Any, TypeVars, Literal, classes we cannot check: taken as they are


def _holds_records(hint: Any) -> bool:
    """Whether ``hint`` mentions a record or a tuple (fields fixed when a result is built)."""
    if hint is tuple or typing.get_origin(hint) is tuple:
        return True
    if isinstance(hint, type) and issubclass(hint, Writable):
        return True
    return any(_holds_records(a) for a in typing.get_args(hint) if a is not Ellipsis)


# -- the per-class plan, resolved once --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldPlan:
    name: str
    convert: Converter
    required: bool
    omit_none: bool
    on_build: bool  # converted when the result is built (records, tuples)


@dataclasses.dataclass(frozen=True)
class Plan:
    fields: tuple[FieldPlan, ...]
    names: frozenset[str]
    extra: str | None


_PLANS: dict[type, Plan] = {}


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


def plan(cls: type) -> Plan:
    """How the dataclass ``cls`` is read: each field's converter, whether it is required,
    left out while ``None`` or converted when the result is built; resolved once."""
    known = _PLANS.get(cls)
    if known is not None:
        return known
    shape = json_shape(cls)
    hints = _hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        if f.name not in shape.names:  # the EXTRA field
            continue
        hint = hints.get(f.name, Any)
        fields.append(
            FieldPlan(
                name=f.name,
                convert=_converter(hint),
                required=f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING,
                omit_none=f.name in shape.omit_none,
                on_build=_holds_records(hint),
            )
        )
    known = Plan(tuple(fields), frozenset(shape.names), shape.extra)
    _PLANS[cls] = known
    return known


def read_record(cls: type[W], data: Any, where: str) -> W:
    """Rebuild ``cls`` from the JSON object ``data`` (``where`` names it in errors). A class
    with a ``_from_older(data)`` classmethod gets to rewrite ``data`` first (files written
    when one of its fields meant something else)."""
    if not isinstance(data, Mapping):
        raise shape_error(where, "an object", data)
    from_older = getattr(cls, "_from_older", None)
    if from_older is not None:  # a class that reads files written with older meanings
        data = from_older(data)
    layout = plan(cls)
    kwargs: dict[str, Any] = {}
    for f in layout.fields:
        if f.name in data:
            kwargs[f.name] = f.convert(data[f.name], f"{where}.{f.name}")
        elif f.required:
            raise DataError(
                f"{where}: the required field {f.name!r} is missing. Was the file written "
                "by faultmap's to_json()?"
            )
    if layout.extra is not None:
        kwargs[layout.extra] = {k: v for k, v in data.items() if k not in layout.names}
    try:
        return cls(**kwargs)
    except DataError:
        raise
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: {exc}") from exc
