"""faultmap.io.read_traces on files written in the shapes the formats document: OTLP JSON
with OpenTelemetry GenAI attributes and events, Langfuse trace exports (API page and JSON
Lines), Phoenix span exports (flattened dataframe columns as CSV, nested JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faultmap import ConfigurationError, DataError
from faultmap.io import analysis_inputs, read_traces


def _kv(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}  # OTLP JSON: int64 as string
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def _otlp(spans: list[dict]) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_kv("service.name", "chat")]},
                "scopeSpans": [
                    {"scope": {"name": "opentelemetry.instrumentation"}, "spans": spans}
                ],
            }
        ]
    }


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _span(trace: str, span: str, attrs: list[dict], events: list[dict] | None = None) -> dict:
    return {
        "traceId": trace,
        "spanId": span,
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": attrs,
        "events": events or [],
    }


def test_otel_genai_spans_in_three_generations_of_the_conventions(tmp_path: Path) -> None:
    system = {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
    user = {"role": "user", "parts": [{"type": "text", "content": "What is VAT?"}]}
    spans = [
        # current: gen_ai.input.messages / gen_ai.output.messages attributes
        _span(
            "t1",
            "s1",
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.input.messages", json.dumps([system, user])),
                _kv("gen_ai.output.messages", _messages("assistant", "A tax.")),
                _kv("eval.correct", 1.0),
            ],
        ),
        # events: gen_ai.user.message / gen_ai.choice, score from an evaluation event
        _span(
            "t2",
            "s2",
            [_kv("gen_ai.system", "openai")],
            [
                {"name": "gen_ai.user.message", "attributes": [_kv("content", "Bake a cake?")]},
                {
                    "name": "gen_ai.choice",
                    "attributes": [_kv("message", json.dumps({"content": "Use flour."}))],
                },
                {
                    "name": "gen_ai.evaluation.result",
                    "attributes": [
                        _kv("gen_ai.evaluation.name", "eval.correct"),
                        _kv("gen_ai.evaluation.score.value", 0.0),
                    ],
                },
            ],
        ),
        # older: gen_ai.prompt.N / gen_ai.completion.N (OpenLLMetry); score on the root span
        _span(
            "t3",
            "s3",
            [
                _kv("gen_ai.prompt.0.role", "user"),
                _kv("gen_ai.prompt.0.content", "Translate 'hello'."),
                _kv("gen_ai.completion.0.role", "assistant"),
                _kv("gen_ai.completion.0.content", "Bonjour."),
            ],
        ),
        _span("t3", "root", [_kv("eval.correct", 1)]),  # not a GenAI span: no row
    ]
    path = tmp_path / "spans.jsonl"  # the collector's file exporter: one request per line
    path.write_text("\n".join(json.dumps(_otlp([s])) for s in spans), encoding="utf-8")
    table = read_traces(path, "otel", score="eval.correct")
    assert table.text("id") == ["s1", "s2", "s3"]
    assert table.text("prompt") == ["What is VAT?", "Bake a cake?", "Translate 'hello'."]
    assert table.text("response") == ["A tax.", "Use flour.", "Bonjour."]
    assert table.numbers("score").tolist() == [1.0, 0.0, 1.0]
    inputs = analysis_inputs(table, score_col="score")
    assert inputs["prompts"][0] == "What is VAT?" and inputs["scores"].tolist() == [1, 0, 1]


def test_otel_a_missing_score_names_the_span_and_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "spans.json"
    spans = [_span("t", "abc", [_kv("gen_ai.prompt", "hi"), _kv("gen_ai.completion", "yo")])]
    path.write_text(json.dumps(_otlp(spans)), encoding="utf-8")
    assert read_traces(path, "otel").text("prompt") == ["hi"]
    with pytest.raises(DataError, match=r"span 0 \(id abc\): the score 'quality' is missing"):
        read_traces(path, "otel", score="quality")


def test_otel_a_genai_span_without_a_prompt_is_named(tmp_path: Path) -> None:
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(_otlp([_span("t", "s9", [_kv("gen_ai.system", "x")])])))
    with pytest.raises(DataError, match=r"span 0 \(id s9\): no prompt; looked for gen_ai"):
        read_traces(path, "otel")


def test_langfuse_api_page_and_json_lines(tmp_path: Path) -> None:
    traces = [
        {
            "id": "tr-1",
            "name": "qa",
            "timestamp": "2024-05-01T10:00:00.000Z",
            "input": {"messages": [{"role": "user", "content": "Refund policy?"}]},
            "output": {"role": "assistant", "content": "30 days."},
            "scores": [{"name": "helpfulness", "value": 0.25, "dataType": "NUMERIC"}],
        },
        {
            "id": "tr-2",
            "input": "Shipping to Canada?",
            "output": "Yes.",
            "scores": [{"name": "helpfulness", "value": 1}],
        },
    ]
    page = tmp_path / "traces.json"
    page.write_text(json.dumps({"data": traces, "meta": {"page": 1, "totalItems": 2}}))
    lines = tmp_path / "traces.jsonl"
    lines.write_text("\n".join(json.dumps(t) for t in traces))
    for path in (page, lines):
        table = read_traces(path, "langfuse", score="helpfulness")
        assert table.text("prompt") == ["Refund policy?", "Shipping to Canada?"]
        assert table.text("response") == ["30 days.", "Yes."]
        assert table.numbers("score").tolist() == [0.25, 1.0]
    traces[1]["scores"] = [{"name": "tone", "value": 1}]
    lines.write_text("\n".join(json.dumps(t) for t in traces))
    with pytest.raises(DataError, match=r"record 1 \(id tr-2\): the score 'helpfulness'"):
        read_traces(lines, "langfuse", score="helpfulness")


def test_phoenix_spans_dataframe_as_csv_and_nested_json(tmp_path: Path) -> None:
    csv = tmp_path / "spans.csv"
    csv.write_text(
        "context.span_id,context.trace_id,span_kind,attributes.input.value,"
        "attributes.output.value,eval.correctness.score\n"
        "a1,t1,LLM,Is 2 prime?,Yes,1\n"
        "a2,t1,CHAIN,Is 2 prime?,Yes,1\n"
        "a3,t2,LLM,Is 9 prime?,Yes,0\n",
        encoding="utf-8",
    )
    table = read_traces(csv, "phoenix", score="correctness")
    assert table.text("id") == ["a1", "a3"]  # LLM spans only by default
    assert table.numbers("score").tolist() == [1.0, 0.0]
    assert len(read_traces(csv, "phoenix", span_kind=None)) == 3
    nested = tmp_path / "spans.json"
    nested.write_text(
        json.dumps(
            [
                {
                    "context": {"span_id": "b1", "trace_id": "t"},
                    "span_kind": "LLM",
                    "attributes": {
                        "input": {
                            "value": json.dumps(
                                {"messages": [{"role": "user", "content": "Capital of Peru?"}]}
                            )
                        },
                        "output": {"value": "Lima"},
                    },
                    "annotations": [
                        {"name": "correctness", "result": {"label": "correct", "score": 1.0}}
                    ],
                }
            ]
        )
    )
    table = read_traces(nested, "phoenix", score="correctness")
    assert table.text("prompt") == ["Capital of Peru?"] and table.text("response") == ["Lima"]
    assert table.numbers("score").tolist() == [1.0]


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'format' parameter of read_traces"):
        read_traces(tmp_path / "x.json", "zipkin")
    with pytest.raises(DataError, match="No such file"):
        read_traces(tmp_path / "x.json", "otel")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"resourceSpans": []}))
    with pytest.raises(DataError, match="No spans found"):
        read_traces(empty, "otel")
