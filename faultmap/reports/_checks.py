"""Report files checked on load: the shipped schema (types, required fields, value ranges) and
the facts that tie one field to another (row numbers below the number of rows, one map entry
per mapped point, failures at most the size).

:func:`check_report` runs before a report is rebuilt from JSON (``from_json``,
``from_dict``, ``faultmap diff``, :func:`~faultmap.reports.validate_report`), so a file that
was edited by hand, cut short or written by something else raises one
:class:`~faultmap.exceptions.DataError` naming the field (``AnalysisReport.slices[0].
failure_rate: 7.5 is above the maximum 1``) instead of loading numbers no view can show.

The schema (``schema/report.schema.json``, JSON Schema 2020-12) is read by the small
interpreter here, which knows the keywords that file uses (``type``, ``$ref``, ``anyOf``,
``allOf``, ``properties``, ``required``, ``items``, ``minItems``, ``maxItems``, ``minimum``,
``maximum``, ``enum``, ``pattern``, ``dependentRequired``), so loading needs no jsonschema.
JSON has no NaN or infinity (faultmap writes ``null``), so a non-finite number is refused
wherever it stands. Fields a later faultmap adds are allowed.

Example:
    >>> try:
    ...     check_report({"total_failures": 3, "slices": {}}, "analysis")
    ... except DataError as exc:
    ...     print(str(exc)[:70])
    AnalysisReport: the required field 'total_prompts' is missing. Was the
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from faultmap.exceptions import DataError

__all__ = ["KINDS", "check_report", "problem", "report_kind", "schema"]

#: report kind -> its definition in the schema
KINDS = {
    "analysis": "analysis_report",
    "coverage": "coverage_report",
    "comparison": "comparison_report",
}
_CLASSES = {
    "analysis": "AnalysisReport",
    "coverage": "CoverageReport",
    "comparison": "ComparisonReport",
}

_A = {"analysis": "an analysis", "coverage": "a coverage", "comparison": "a comparison"}
_SCHEMA = Path(__file__).resolve().parent / "schema" / "report.schema.json"
_MAP_COLUMNS = ("x", "y", "z", "index", "label", "text", "failed", "covered", "outcome")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The shipped report schema (read once; do not change the dict)."""
    return json.loads(_SCHEMA.read_text(encoding="utf-8"))


def report_kind(data: Mapping[str, Any]) -> str | None:
    """Which report ``data`` (a ``to_dict()``) claims to be, from its distinctive fields, or
    None when it has none of them.

    Example:
        >>> report_kind({"model_a_name": "x"})
        'comparison'
    """
    if "overall_coverage_score" in data:
        return "coverage"
    if "model_a_name" in data:
        return "comparison"
    if "total_failures" in data or "num_significant" in data:
        return "analysis"
    return None


class _Invalid(Exception):
    def __init__(self, path: tuple[Any, ...], problem: str) -> None:
        self.path, self.problem = path, problem


def _where(owner: str, path: tuple[Any, ...]) -> str:
    return owner + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _shown(value: Any) -> str:
    text = json.dumps(value, allow_nan=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, (list, tuple)),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "integer": "an integer",
    "number": "a number",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    for name, is_kind in _TYPES.items():
        if name != "integer" and is_kind(value):
            return _NAMES[name]
    return f"a {type(value).__name__}"


def _check(value: Any, rule: Any, path: tuple[Any, ...], defs: Mapping[str, Any]) -> None:
    """Raise :class:`_Invalid` at the first place ``value`` breaks ``rule``."""
    if rule is True or not isinstance(rule, Mapping):
        return
    if "$ref" in rule:
        _check(value, defs[rule["$ref"].rsplit("/", 1)[-1]], path, defs)
    if "anyOf" in rule:
        failures = []
        for option in rule["anyOf"]:
            try:
                _check(value, option, path, defs)
                break
            except _Invalid as exc:
                failures.append(exc)
        else:  # the failure that got furthest says most
            raise max(failures, key=lambda e: len(e.path))
    for part in rule.get("allOf", ()):
        _check(value, part, path, defs)
    if "type" in rule:
        kinds = [rule["type"]] if isinstance(rule["type"], str) else rule["type"]
        if not any(_TYPES[k](value) for k in kinds):
            expected = " or ".join(_NAMES[k] for k in kinds)
            raise _Invalid(path, f"expected {expected}, got {_kind(value)} ({_shown(value)})")
    if "enum" in rule and not any(value == v and type(value) is type(v) for v in rule["enum"]):
        options = ", ".join(json.dumps(v) for v in rule["enum"])
        raise _Invalid(path, f"{_shown(value)} is not one of {options}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            raise _Invalid(path, f"{value!r} is below the minimum {rule['minimum']}")
        if "maximum" in rule and value > rule["maximum"]:
            raise _Invalid(path, f"{value!r} is above the maximum {rule['maximum']}")
    if isinstance(value, str) and "pattern" in rule and not re.search(rule["pattern"], value):
        raise _Invalid(path, f"{_shown(value)} does not match {rule['pattern']!r}")
    if isinstance(value, (list, tuple)):
        if rule.get("minItems", -1) == rule.get("maxItems") != len(value):
            raise _Invalid(path, f"expected a list of {rule['minItems']} values, got {len(value)}")
        if "minItems" in rule and len(value) < rule["minItems"]:
            raise _Invalid(path, f"expected at least {rule['minItems']} entries, got {len(value)}")
        if "maxItems" in rule and len(value) > rule["maxItems"]:
            raise _Invalid(path, f"expected at most {rule['maxItems']} entries, got {len(value)}")
        if "items" in rule:
            for i, item in enumerate(value):
                _check(item, rule["items"], (*path, i), defs)
    if isinstance(value, Mapping):
        for name in rule.get("required", ()):
            if name not in value:
                raise _Invalid(path, f"the required field {name!r} is missing")
        for name, needs in rule.get("dependentRequired", {}).items():
            if name in value:
                for other in needs:
                    if other not in value:
                        raise _Invalid(
                            path, f"the required field {other!r} is missing (it goes with {name!r})"
                        )
        for name, sub in rule.get("properties", {}).items():
            if name in value:
                _check(value[name], sub, (*path, name), defs)


def _non_finite(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _non_finite(v, (*path, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _non_finite(v, (*path, i))


def _rows(items: Any, key: str) -> Iterator[tuple[int, Any]]:
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                yield i, item.get(key)


def _consistent(data: Mapping[str, Any], kind: str) -> None:
    """Raise :class:`_Invalid` where one field contradicts another (after the schema
    passed: the fields have their types)."""
    items = "gaps" if kind == "coverage" else "slices"
    total = data.get("num_production_prompts" if kind == "coverage" else "total_prompts")
    indices = "prompt_indices" if kind == "coverage" else "sample_indices"
    lists = [(items, indices)] + ([("failure_modes", indices)] if kind == "analysis" else [])
    if isinstance(total, int):
        for group, field_name in lists:
            for i, rows in _rows(data.get(group), field_name):
                for j, row in enumerate(rows or ()):
                    if isinstance(row, int) and row >= total:
                        raise _Invalid(
                            (group, i, field_name, j),
                            f"row {row} does not exist: the report has {total} rows",
                        )
        labels = data.get("cluster_labels")
        # cluster_labels has one entry per input row: the analysed rows plus those left out
        rows = data.get("rows")
        inputs = rows.get("total") if isinstance(rows, Mapping) else None
        inputs = inputs if isinstance(inputs, int) else total
        if kind == "analysis" and isinstance(labels, list) and labels and len(labels) != inputs:
            raise _Invalid(
                ("cluster_labels",), f"{len(labels)} labels for the report's {inputs} input rows"
            )
        for key in ("row_scores", "row_scores_a", "row_scores_b"):
            scores = data.get(key)
            known = isinstance(labels, list) and labels and isinstance(scores, list)
            if known and len(scores) != len(labels):
                raise _Invalid((key,), f"{len(scores)} scores for the report's {len(labels)} rows")
        failures = data.get("total_failures")
        if kind == "analysis" and isinstance(failures, int) and failures > total:
            raise _Invalid(("total_failures",), f"more failures than the {total} rows")
    for group in (items, "clusters", "failure_modes", "mode_nodes"):
        for i, item in enumerate(data.get(group) or ()):
            if not isinstance(item, Mapping):
                continue
            size, failures = item.get("size"), item.get("num_failures")
            if isinstance(size, int) and isinstance(failures, int) and failures > size:
                raise _Invalid((group, i, "num_failures"), f"{failures} failures among {size}")
    if kind == "analysis":
        count = len(data.get("slices") or ())
        for i, refs in _rows(data.get("failure_modes"), "slices"):
            for j, ref in enumerate(refs or ()):
                if isinstance(ref, int) and ref >= count:
                    raise _Invalid(
                        ("failure_modes", i, "slices", j),
                        f"slice {ref} does not exist: the report has {count} slices",
                    )
    points = data.get("map")
    if isinstance(points, Mapping):
        lengths = {c: len(points[c]) for c in _MAP_COLUMNS if isinstance(points.get(c), list)}
        if len(set(lengths.values())) > 1:
            n = len(points.get("x") or ())
            short = next(c for c, length in lengths.items() if length != n)
            raise _Invalid(
                ("map", short), f"{lengths[short]} entries where 'x' has {n}: one per point"
            )
        if isinstance(total, int):
            for j, row in enumerate(points.get("index") or ()):
                if isinstance(row, int) and row >= total:
                    raise _Invalid(
                        ("map", "index", j),
                        f"row {row} does not exist: the report has {total} rows",
                    )


def problem(data: Mapping[str, Any], kind: str) -> tuple[tuple[Any, ...], str] | None:
    """The first problem of the report ``data`` of ``kind``: its place (a path of keys and
    positions) and what is wrong there; None when there is none."""
    bad = next(_non_finite(data, ()), None)
    try:
        if bad is not None:
            raise _Invalid(bad, "NaN and infinity are not JSON numbers (faultmap writes null)")
        defs = schema()["$defs"]
        _check(data, defs[KINDS[kind]], (), defs)
        _consistent(data, kind)
    except _Invalid as exc:
        return exc.path, exc.problem
    return None


def check_report(data: Any, kind: str, owner: str | None = None) -> None:
    """Raise :class:`~faultmap.exceptions.DataError` naming the field unless ``data`` is a
    faultmap report of ``kind`` ("analysis", "coverage" or "comparison"): the schema's
    types, required fields and ranges, no NaN or infinity, and fields that agree with one
    another. ``owner`` starts every field's name (the class being read)."""
    owner = owner or _CLASSES[kind]
    if not isinstance(data, Mapping):
        raise DataError(
            f"{owner}: expected an object, got {_kind(data)} ({_shown(data)}); a report file "
            "holds one JSON object, written by report.to_json()."
        )
    claimed = report_kind(data)
    if claimed is not None and claimed != kind:
        raise DataError(
            f"{owner}: this is {_A[claimed]} report, not {_A[kind]} report; read it with "
            f"{_CLASSES[claimed]}.from_json()."
        )
    found = problem(data, kind)
    if found is None:
        return
    path, what = found
    if "missing" in what:
        hint = ". Was the file written by faultmap's to_json()?"
    else:
        hint = ". Was the file edited by hand, or written by something other than report.to_json()?"
    raise DataError(f"{_where(owner, path)}: {what}{hint}")
