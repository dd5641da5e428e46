"""The JSON Schema of faultmap's report files, shipped with the package, and a validator.

``report.schema.json`` (JSON Schema 2020-12) describes what ``report.to_json()`` writes for an
:class:`~faultmap.AnalysisReport`, a :class:`~faultmap.CoverageReport` and a
:class:`~faultmap.ComparisonReport` (``$defs/analysis_report`` etc.): required fields, types,
and ranges (rates and p-values in [0, 1], counts >= 0, cosine distances in [0, 2]). Fields a
later faultmap adds are allowed, so older readers keep working.

Example:
    >>> from faultmap.reports import validate_report
    >>> validate_report("report.json")  # doctest: +SKIP
    'analysis'
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from faultmap.exceptions import ConfigurationError, DataError
from faultmap.reports import _checks
from faultmap.reports._checks import KINDS
from faultmap.reports.models import _read_json
from faultmap.reports.text import clip

__all__ = ["KINDS", "load_schema", "report_kind", "validate_report"]


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return files("faultmap.reports.schema").joinpath("report.schema.json").read_text("utf-8")


def load_schema(kind: str | None = None) -> dict[str, Any]:
    """The report schema (a fresh dict): the whole one, or the one for ``kind``
    ("analysis", "coverage" or "comparison").

    Example:
        >>> load_schema("analysis")["$ref"]
        '#/$defs/analysis_report'
    """
    schema = json.loads(_schema_text())
    if kind is None:
        return schema
    if kind not in KINDS:
        raise ConfigurationError(
            f"The 'kind' parameter of load_schema must be None or one of "
            f"{', '.join(map(repr, KINDS))}. Got {kind!r}."
        )
    keep = ("$schema", "$id", "$defs")
    return {**{k: schema[k] for k in keep}, "$ref": f"#/$defs/{KINDS[kind]}"}


def report_kind(data: dict[str, Any]) -> str:
    """Which report ``data`` (a ``to_dict()``) claims to be, from its distinctive fields.

    Example:
        >>> report_kind({"model_a_name": "x"})
        'comparison'
    """
    kind = _checks.report_kind(data)
    if kind is None:
        raise DataError(
            "This is not a faultmap report: it has none of 'total_failures' (an analysis), "
            "'overall_coverage_score' (a coverage audit) or 'model_a_name' (a model "
            "comparison). Pass the output of report.to_dict() or report.to_json()."
        )
    return kind


def validate_report(data: dict[str, Any] | str | Path, kind: str | None = None) -> str:
    """Check a report against the shipped schema and for fields that contradict one another
    (a row number past the last row, a map column of the wrong length); return its kind.

    ``data`` is a ``to_dict()`` result, a JSON string or the path of a JSON file; ``kind``
    ("analysis", "coverage", "comparison") defaults to the one the fields say. Raises
    :class:`~faultmap.DataError` naming the first problem and where it is. The same check
    runs whenever a report is read (``from_json``, ``from_dict``, ``faultmap diff``); it
    needs no jsonschema (:mod:`faultmap.reports._checks` reads the schema).

    Example:
        >>> validate_report(report.to_dict())  # doctest: +SKIP
        'analysis'
    """
    if not isinstance(data, dict):
        try:
            data = _read_json(data)
        except (OSError, ValueError) as exc:
            raise DataError(
                f"Could not read a report from {str(data)[:80]!r} ({exc}); pass a dict, a JSON "
                "string or the path of a JSON file written by report.to_json()."
            ) from exc
    if not isinstance(data, dict):
        raise DataError(f"A report is a JSON object; got {type(data).__name__}.")
    if kind is not None and kind not in KINDS:
        raise ConfigurationError(
            f"The 'kind' parameter of validate_report must be None or one of "
            f"{', '.join(map(repr, KINDS))}. Got {kind!r}."
        )
    kind = kind or report_kind(data)
    found = _checks.problem(data, kind)
    if found is not None:
        path, what = found
        where = "/".join(str(p) for p in path) or "the top level"
        raise DataError(
            f"This is not a valid faultmap {kind} report: {clip(what, 300)} (at {where}). "
            "Was the file edited by hand, or written by something other than "
            "report.to_json()?"
        )
    return kind
