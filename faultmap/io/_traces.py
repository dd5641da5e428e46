"""Prompts, responses and scores from LLM traces: OpenTelemetry GenAI spans, Langfuse and
Phoenix exports (see :func:`read_traces` for the fields read in each)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from faultmap.exceptions import ConfigurationError, DataError
from faultmap.io._files import read_table
from faultmap.io._table import Table

__all__ = ["TRACE_FORMATS", "read_traces"]

#: The trace formats :func:`read_traces` reads.
TRACE_FORMATS = ("otel", "langfuse", "phoenix")

_MISSING = object()


# -- reading the file ---------------------------------------------------------------------


def _json_documents(file: Path, name: str) -> list[Any]:
    """One JSON document, or JSON Lines (one document per line)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"'{name}' is not UTF-8 text ({exc.reason}); save it as UTF-8.") from None
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        pass
    docs = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"'{name}', line {number}: not JSON ({exc.msg}, column {exc.colno}); a "
                    "trace export is one JSON document or JSON Lines."
                ) from None
    return docs


def _records(docs: list[Any]) -> list[Any]:
    """The records of a JSON export: an array, an object with a ``data`` array (an API
    page), or one object per JSON line."""
    out: list[Any] = []
    for doc in docs:
        if isinstance(doc, list):
            out.extend(doc)
        elif isinstance(doc, Mapping) and isinstance(doc.get("data"), list):
            out.extend(doc["data"])
        else:
            out.append(doc)
    return out


def _table_records(file: Path) -> list[dict[str, Any]]:
    table = read_table(file)
    columns = {c: table._column(c, "column") for c in table.columns}
    return [{c: values[i] for c, values in columns.items()} for i in range(len(table))]


# -- values -------------------------------------------------------------------------------


def _lookup(record: Any, dotted: str) -> Any:
    """``record[dotted]`` (a flattened key, e.g. a column ``attributes.input.value``), else
    the nested path (``record["attributes"]["input"]["value"]``, or any mix of the two);
    :data:`_MISSING` when absent."""
    if not isinstance(record, Mapping):
        return _MISSING
    if dotted in record:
        return record[dotted]
    parts = dotted.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in record:
            found = _lookup(record[head], ".".join(parts[i:]))
            if found is not _MISSING:
                return found
    return _MISSING


def _parse_json_text(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _part_text(part: Any) -> str | None:
    if isinstance(part, str):
        return part
    if isinstance(part, Mapping):
        for key in ("content", "text"):
            if isinstance(part.get(key), str):
                return part[key]
    return None


def _message_text(message: Any) -> str | None:
    """The text of one chat message: ``content`` as a string or a list of parts
    (``{"type": "text", "text"|"content": ...}``), or OpenTelemetry's ``parts``."""
    if isinstance(message, str):
        return message
    if not isinstance(message, Mapping):
        return None
    for key in ("content", "parts"):
        value = message.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            texts = [t for t in map(_part_text, value) if t]
            if texts:
                return "\n".join(texts)
    return None


def _text(value: Any, *, role: str | None) -> str | None:
    """Text from a field that may be a string, a chat message list (the last message of
    ``role``, else the last one), an object with ``messages``, an OpenAI completion
    (``choices[0].message``) or one message; anything else as JSON."""
    value = _parse_json_text(value)
    if value is None or value is _MISSING:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if isinstance(value.get("messages"), list):
            return _text(value["messages"], role=role)
        choices = value.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            return _message_text(choices[0].get("message")) or _part_text(choices[0])
        found = _message_text(value)
        if found is not None:
            return found
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
    if isinstance(value, list) and value:
        chosen = [m for m in value if isinstance(m, Mapping) and m.get("role") == role]
        found = _message_text((chosen or value)[-1])
        if found is not None:
            return found
    return json.dumps(value, ensure_ascii=False, default=str)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# -- OpenTelemetry ------------------------------------------------------------------------


def _otel_value(value: Any) -> Any:
    """An OTLP JSON ``AnyValue`` as a Python value."""
    if not isinstance(value, Mapping):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])  # OTLP JSON writes 64-bit integers as strings
    if "arrayValue" in value:
        return [_otel_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _otel_attributes(value["kvlistValue"].get("values", []))
    return None


def _otel_attributes(items: Any) -> dict[str, Any]:
    if isinstance(items, Mapping):  # already a mapping (some SDK exporters write this)
        return dict(items)
    return {
        kv["key"]: _otel_value(kv.get("value"))
        for kv in items or ()
        if isinstance(kv, Mapping) and "key" in kv
    }


def _otel_spans(docs: list[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        for resource in doc.get("resourceSpans", []) if isinstance(doc, Mapping) else ():
            scopes = resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans")
            for scope in scopes or ():
                yield from scope.get("spans", [])


def _indexed(attrs: Mapping[str, Any], prefix: str, role: str | None) -> str | None:
    """OpenLLMetry's flattened messages: ``<prefix>.0.role``, ``<prefix>.0.content``, ..."""
    messages = []
    i = 0
    while f"{prefix}.{i}.content" in attrs or f"{prefix}.{i}.role" in attrs:
        messages.append(
            {"role": attrs.get(f"{prefix}.{i}.role"), "content": attrs.get(f"{prefix}.{i}.content")}
        )
        i += 1
    return _text(messages, role=role) if messages else None


def _otel_row(span: Mapping[str, Any]) -> dict[str, Any]:
    attrs = _otel_attributes(span.get("attributes"))
    events = [
        (e.get("name"), _otel_attributes(e.get("attributes")))
        for e in span.get("events", []) or ()
        if isinstance(e, Mapping)
    ]

    def from_events(names: tuple[str, ...], keys: tuple[str, ...], role: str) -> str | None:
        found = [a[k] for n, a in events if n in names for k in keys if a.get(k) not in (None, "")]
        return _text(found[-1], role=role) if found else None

    prompt = (
        _text(attrs.get("gen_ai.input.messages"), role="user")
        or _text(attrs.get("gen_ai.prompt"), role="user")
        or _indexed(attrs, "gen_ai.prompt", "user")
        or from_events(("gen_ai.user.message",), ("content",), "user")
        or from_events(("gen_ai.content.prompt",), ("gen_ai.prompt",), "user")
    )
    response = (
        _text(attrs.get("gen_ai.output.messages"), role="assistant")
        or _text(attrs.get("gen_ai.completion"), role="assistant")
        or _indexed(attrs, "gen_ai.completion", "assistant")
        or from_events(("gen_ai.choice",), ("message", "content"), "assistant")
        or from_events(("gen_ai.content.completion",), ("gen_ai.completion",), "assistant")
    )
    scores = dict(attrs)
    for name, a in events:  # OpenTelemetry GenAI evaluation events
        if name == "gen_ai.evaluation.result" and "gen_ai.evaluation.name" in a:
            scores.setdefault(a["gen_ai.evaluation.name"], a.get("gen_ai.evaluation.score.value"))
    return {
        "id": span.get("spanId"),
        "trace_id": span.get("traceId"),
        "prompt": prompt,
        "response": response,
        "scores": scores,
        "is_genai": prompt is not None
        or any(k.startswith("gen_ai.") for k in attrs)
        or any(str(n).startswith("gen_ai.") for n, _ in events),
    }


def _otel_rows(docs: list[Any], score: str | None) -> list[dict[str, Any]]:
    spans = [_otel_row(s) for s in _otel_spans(docs) if isinstance(s, Mapping)]
    if not spans:
        raise DataError(
            "No spans found: an OpenTelemetry export is OTLP JSON with "
            "resourceSpans[].scopeSpans[].spans[] (one document, or one per line)."
        )
    by_trace: dict[Any, dict[str, Any]] = {}
    for span in spans:  # a score set on another span of the trace (e.g. the root) counts
        for key, value in span["scores"].items():
            by_trace.setdefault(span["trace_id"], {}).setdefault(key, value)
    rows = [s for s in spans if s["is_genai"]]
    for row in rows:
        if score is not None and score not in row["scores"]:
            row["scores"] = {**row["scores"], **by_trace.get(row["trace_id"], {})}
    return rows


# -- Langfuse and Phoenix -----------------------------------------------------------------


def _named_score(scores: Any, name: str) -> Any:
    """A score by name from ``[{"name", "value"}]`` (Langfuse scores), ``[{"name",
    "result": {"score"}}]`` (Phoenix annotations) or ``{name: value}``."""
    scores = _parse_json_text(scores)
    if isinstance(scores, Mapping):
        value = scores.get(name, _MISSING)
        if isinstance(value, Mapping):
            return value.get("value", value.get("score", _MISSING))
        return value
    if isinstance(scores, list):
        for item in scores:
            if isinstance(item, Mapping) and item.get("name") == name:
                if "value" in item:
                    return item["value"]
                result = item.get("result")
                if isinstance(result, Mapping):
                    return result.get("score", _MISSING)
                return item.get("score", _MISSING)
    return _MISSING


def _langfuse_row(record: Mapping[str, Any], score: str | None) -> dict[str, Any]:
    value = _MISSING
    if score is not None:
        value = _named_score(record.get("scores"), score)
        if value is _MISSING:
            value = _lookup(record, score)
    return {
        "id": record.get("id"),
        "prompt": _text(record.get("input", _MISSING), role="user"),
        "response": _text(record.get("output", _MISSING), role="assistant"),
        "score": value,
    }


def _phoenix_row(record: Mapping[str, Any], score: str | None) -> dict[str, Any]:
    value = _MISSING
    if score is not None:
        for key in (score, f"attributes.{score}", f"eval.{score}.score", f"evals.{score}.score"):
            value = _lookup(record, key)
            if value is not _MISSING:
                break
        if value is _MISSING:
            for key in ("annotations", "span_annotations", "evaluations"):
                value = _named_score(_lookup(record, key), score)
                if value is not _MISSING:
                    break
    span_id = _lookup(record, "context.span_id")
    return {
        "id": None if span_id is _MISSING else span_id,
        "prompt": _text(_lookup(record, "attributes.input.value"), role="user"),
        "response": _text(_lookup(record, "attributes.output.value"), role="assistant"),
        "score": value,
        "span_kind": _lookup(record, "span_kind"),
    }


# -- the reader ---------------------------------------------------------------------------


def read_traces(
    path: str | os.PathLike[str],
    format: str,
    *,
    score: str | None = None,
    span_kind: str | None = "LLM",
) -> Table:
    """Read prompts, responses and scores from a trace export into a :class:`Table` with the
    columns ``id``, ``prompt``, ``response`` and, with ``score``, ``score``.

    ``score`` names where each row's score is (OpenTelemetry has no standard score field);
    without it there is no score column and faultmap scores the responses itself. Files are
    JSON or JSON Lines (Phoenix also CSV and Parquet); nothing is unpickled. Fields read:

    * ``"otel"``: OTLP JSON (``resourceSpans[].scopeSpans[].spans[]``, attributes as
      ``{key, value: {stringValue | intValue | ...}}``). One row per GenAI span (a span with
      a ``gen_ai.*`` attribute or event). Prompt: the last user message of
      ``gen_ai.input.messages``, else ``gen_ai.prompt`` (JSON or text, or OpenLLMetry's
      ``gen_ai.prompt.N.content``), else the ``gen_ai.user.message`` event's ``content`` or
      the ``gen_ai.content.prompt`` event's ``gen_ai.prompt``. Response: the same with
      ``gen_ai.output.messages``, ``gen_ai.completion``, the ``gen_ai.choice`` event's
      ``message`` and ``gen_ai.content.completion``. Score: the span attribute ``score``
      (or one on another span of the same trace), else a ``gen_ai.evaluation.result`` event
      whose ``gen_ai.evaluation.name`` is ``score`` (its ``gen_ai.evaluation.score.value``).
      ``id`` is the ``spanId``.
    * ``"langfuse"``: traces or observations as exported or returned by the public API (an
      array, ``{"data": [...]}`` or JSON Lines): ``input``, ``output`` (a string, chat
      messages, ``{"messages": ...}`` or a completion object: the last user / assistant
      text is read), ``id``; score: the entry of ``scores`` (``[{"name", "value"}]``) named
      ``score``, else the field ``score``.
    * ``"phoenix"``: spans as exported by ``get_spans_dataframe()`` (flattened columns) or as
      nested JSON: ``attributes.input.value``, ``attributes.output.value``,
      ``context.span_id``; only spans of ``span_kind`` (default "LLM"; ``None`` for every
      span). Score: the field ``score`` (e.g. ``attributes.<name>`` or a joined evaluation
      column such as ``eval.<name>.score``), else the annotation or evaluation named
      ``score`` (``[{"name", "result": {"score"}}]``).

    A record without a prompt, or without the named score, is a :class:`DataError` naming
    the record and the field looked for.

    Example:
        >>> from faultmap.io import analysis_inputs, read_traces
        >>> table = read_traces("spans.json", "otel", score="eval.correct")  # doctest: +SKIP
        >>> inputs = analysis_inputs(table, score_col="score")  # doctest: +SKIP
        >>> report = SliceAnalyzer().analyze(**inputs)  # doctest: +SKIP
    """
    if format not in TRACE_FORMATS:
        raise ConfigurationError(
            f"The 'format' parameter of read_traces must be one of {', '.join(TRACE_FORMATS)}. "
            f"Got {format!r}."
        )
    if score is not None and (not isinstance(score, str) or not score):
        raise ConfigurationError(
            f"The 'score' parameter of read_traces must be a non-empty str or None. Got "
            f"{score!r}; name the attribute or evaluation that holds the score."
        )
    file, name = Path(path), str(path)
    if not file.is_file():
        raise DataError(f"No such file: '{name}'; pass the path of a trace export.")
    tabular = file.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq")
    if tabular and format != "phoenix":
        raise DataError(f"'{name}': {format} traces are read from JSON or JSON Lines exports.")
    if format == "otel":
        rows = _otel_rows(_json_documents(file, name), score)
        for row in rows:
            row["score"] = row["scores"].get(score, _MISSING) if score else _MISSING
        where, fields = "span", _OTEL_FIELDS
    else:
        records = _table_records(file) if tabular else _records(_json_documents(file, name))
        bad = next((i for i, r in enumerate(records) if not isinstance(r, Mapping)), None)
        if bad is not None:
            raise DataError(f"'{name}', record {bad}: expected a JSON object.")
        read = _langfuse_row if format == "langfuse" else _phoenix_row
        rows = [read(r, score) for r in records]
        if format == "phoenix" and span_kind is not None:
            rows = [r for r in rows if r["span_kind"] in (_MISSING, None, span_kind)]
        where, fields = "record", _FIELDS[format]
    if not rows:
        raise DataError(f"'{name}' holds no {format} traces with a prompt to read.")
    columns: dict[str, list[Any]] = {"id": [], "prompt": [], "response": []}
    if score is not None:
        columns["score"] = []
    for i, row in enumerate(rows):
        label = f"'{name}', {where} {i}" + (f" (id {row['id']})" if row.get("id") else "")
        if row["prompt"] is None:
            raise DataError(f"{label}: no prompt; looked for {fields[0]}.")
        columns["id"].append(row.get("id"))
        columns["prompt"].append(row["prompt"])
        columns["response"].append(row["response"] or "")
        if score is not None:
            value = _number(row["score"]) if row["score"] is not _MISSING else None
            if row["score"] is _MISSING or value is None or math.isnan(value):
                shown = "missing" if row["score"] is _MISSING else repr(row["score"])
                raise DataError(
                    f"{label}: the score {score!r} is {shown}; looked for {fields[1]}. Pass "
                    "score= naming a numeric field every trace has."
                )
            columns["score"].append(value)
    return Table.from_frame(columns, source=f"The traces in '{name}'")


_OTEL_FIELDS = (
    "gen_ai.input.messages, gen_ai.prompt and the gen_ai.user.message event",
    "the span attribute and the gen_ai.evaluation.result event of that name",
)
_FIELDS = {
    "langfuse": ("'input'", "'scores' [{name, value}] and the field of that name"),
    "phoenix": (
        "'attributes.input.value'",
        "the field, 'attributes.<name>', 'eval.<name>.score' and the annotations of that name",
    ),
}
