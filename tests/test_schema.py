"""Report files: exact round trips, and the JSON Schema shipped in the package checked with
jsonschema against real reports of all three kinds (and against tampered ones)."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_samples import analysis_report, comparison_report, coverage_report, evidence_report

from faultmap import (
    AnalysisReport,
    ComparisonReport,
    ConfigurationError,
    CoverageReport,
    DataError,
)
from faultmap.reports import validate_report
from faultmap.reports.schema import load_schema, report_kind

REPORTS = {
    "analysis": (analysis_report, AnalysisReport),
    "coverage": (coverage_report, CoverageReport),
    "comparison": (comparison_report, ComparisonReport),
}


@pytest.fixture(params=list(REPORTS), scope="module")
def kind_and_report(request: pytest.FixtureRequest) -> tuple[str, Any]:
    build, _ = REPORTS[request.param]
    return request.param, build()


def test_the_schema_ships_inside_the_package_and_is_a_valid_schema() -> None:
    resource = files("faultmap.reports.schema").joinpath("report.schema.json")
    assert resource.is_file()
    schema = json.loads(resource.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]) >= {"analysis_report", "coverage_report", "comparison_report"}
    assert load_schema() == schema
    for kind in REPORTS:
        jsonschema.Draft202012Validator.check_schema(load_schema(kind))
    with pytest.raises(ConfigurationError, match="'kind' parameter of load_schema"):
        load_schema("survey")
    # the wheel packs every file under faultmap/ (hatch: packages = ["faultmap"])
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'packages = ["faultmap"]' in pyproject


def test_real_reports_round_trip_exactly(kind_and_report: tuple[str, Any], tmp_path: Path) -> None:
    kind, report = kind_and_report
    cls = REPORTS[kind][1]
    assert cls.from_dict(report.to_dict()) == report
    assert cls.from_json(report.to_json()) == report
    assert cls.from_json(report.to_json(indent=None)) == report
    path = tmp_path / f"{kind}.json"
    report.to_json(path)
    again = cls.from_json(path)
    assert again == report and again.to_dict() == report.to_dict()
    assert again.map == report.map and len(again.map["x"]) > 0
    assert again.to_html() == report.to_html()  # every view is rebuilt from the file alone
    assert str(again) == str(report)


def test_real_reports_validate(kind_and_report: tuple[str, Any], tmp_path: Path) -> None:
    kind, report = kind_and_report
    data = report.to_dict()
    jsonschema.validate(data, load_schema())  # the whole schema, as a user would use it
    jsonschema.validate(data, load_schema(kind))
    assert validate_report(data) == kind
    assert validate_report(report.to_json()) == kind
    path = tmp_path / "report.json"
    report.to_json(path)
    assert validate_report(path) == kind and validate_report(str(path), kind=kind) == kind
    assert report_kind(data) == kind


def _tamper(data: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    items = "gaps" if kind == "coverage" else "slices"
    cases = []

    def case(label: str, change: Any) -> None:
        copied = copy.deepcopy(data)
        change(copied)
        cases.append((label, copied))

    case("a count as text", lambda d: d[items][0].__setitem__("size", "ten"))
    case("a p-value above 1", lambda d: d[items][0].__setitem__("adjusted_p_value", 1.5))
    case("a negative count", lambda d: d[items][0].__setitem__("size", -3))
    case("a list of items replaced", lambda d: d.__setitem__(items, {"0": d[items][0]}))
    case("a map point off the map", lambda d: d["map"]["x"].__setitem__(0, 7.0))
    case("a map without its text", lambda d: d["map"].pop("text"))
    case("an unknown projection", lambda d: d["map"].__setitem__("projection", "tsne"))
    required = {"analysis": "total_failures", "coverage": "num_gaps", "comparison": "global_winner"}
    case("a required field removed", lambda d: d.pop(required[kind]))
    if kind == "comparison":
        case("a winner that is no model", lambda d: d[items][0].__setitem__("winner", "c"))
    else:
        rate = "overall_coverage_score" if kind == "coverage" else "baseline_failure_rate"
        case("a rate above 1", lambda d: d.__setitem__(rate, 2.0))
    return cases


def test_tampered_reports_fail_validation(kind_and_report: tuple[str, Any], tmp_path: Path) -> None:
    kind, report = kind_and_report
    for label, data in _tamper(report.to_dict(), kind):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, load_schema(kind))
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(DataError, match=f"not a valid faultmap {kind} report") as info:
            validate_report(path)
        assert "(at " in str(info.value), label


def test_where_the_problem_is_and_what_is_not_a_report(tmp_path: Path) -> None:
    data = analysis_report().to_dict()
    data["slices"][1]["failure_rate"] = "high"
    with pytest.raises(DataError, match="at slices/1/failure_rate"):
        validate_report(data)
    with pytest.raises(DataError, match="not a faultmap report"):
        validate_report({"hello": "world"})
    with pytest.raises(DataError, match="Could not read a report"):
        validate_report(tmp_path / "missing.json")
    with pytest.raises(DataError, match="Could not read a report"):
        validate_report("{not json")
    # a field added by a later faultmap is allowed, and ignored when loading
    newer = {**data, "slices": analysis_report().to_dict()["slices"], "added_later": [1, 2]}
    assert validate_report(newer) == "analysis"
    assert AnalysisReport.from_dict(newer) == analysis_report()


# -- failure modes, evidence, power and the null audit ------------------------------------------


def test_a_report_with_modes_and_evidence_validates_and_round_trips(tmp_path: Path) -> None:
    report = evidence_report()
    data = report.to_dict()
    assert data["failure_modes"] and data["null_audit"] and data["correction"] == "bh"
    assert any("detectable_failure_rate" in c for c in data["clusters"])
    jsonschema.validate(data, load_schema())
    assert validate_report(data) == "analysis"
    path = tmp_path / "modes.json"
    report.to_json(path)
    again = AnalysisReport.from_json(path)
    assert again == report and str(again) == str(report) and again.to_html() == report.to_html()
    # evidence and the null audit may be absent or null; a report without any still validates
    nulls = copy.deepcopy(data)
    nulls["slices"][0]["stability"] = None
    nulls["failure_modes"][0]["name_check"] = None
    nulls["clusters"][0]["detectable_failure_rate"] = None
    nulls["null_audit"] = None
    nulls["mode_nodes"][0]["merge_p_value"] = None
    assert validate_report(nulls) == "analysis"


def test_tampered_modes_and_evidence_fail_validation() -> None:
    data = evidence_report().to_dict()
    cases: list[tuple[str, Any]] = [
        ("a stability above 1", lambda d: d["slices"][0].__setitem__("stability", 1.2)),
        ("a name check below 0", lambda d: d["failure_modes"][0].__setitem__("name_check", -0.1)),
        ("a held-out p as text", lambda d: d["slices"][0].__setitem__("confirmation_p_value", "x")),
        ("a negative held-out size", lambda d: d["slices"][0].__setitem__("confirmation_size", -1)),
        ("a mode rate above 1", lambda d: d["failure_modes"][0].__setitem__("failure_rate", 1.5)),
        ("a mode without a name", lambda d: d["failure_modes"][0].pop("name")),
        ("a negative slice position", lambda d: d["failure_modes"][0]["slices"].append(-1)),
        ("a short interval", lambda d: d["failure_modes"][0]["confidence_interval"].pop()),
        ("an unknown correction", lambda d: d.__setitem__("correction", "bonferroni")),
        ("a null audit rate above 1", lambda d: d["null_audit"].__setitem__("fwer", 2.0)),
        ("a null audit without runs", lambda d: d["null_audit"].pop("runs")),
        ("a node p-value above 1", lambda d: d["mode_nodes"][0].__setitem__("p_value", 3.0)),
        (
            "a detectable rate above 1",
            lambda d: next(c for c in d["clusters"] if "detectable_failure_rate" in c).__setitem__(
                "detectable_failure_rate", 1.5
            ),
        ),
        (
            "a stability setting as text",
            lambda d: d["metadata"]["stability"].__setitem__("runs", "x"),
        ),
    ]
    for label, change in cases:
        copied = copy.deepcopy(data)
        change(copied)
        validator = jsonschema.Draft202012Validator(load_schema("analysis"))
        assert not validator.is_valid(copied), label
        with pytest.raises(DataError, match="not a valid faultmap analysis report"):
            validate_report(copied)
