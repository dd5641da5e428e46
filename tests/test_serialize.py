"""The one JSON stack (faultmap._serialize): typed frozen payloads that read like the dicts
they replace, round trips, files written by earlier code, and clear errors on bad input.

``tests/data/old_*_report.json`` were written by ``report.to_json()`` of the code before the
payloads were typed (commit bd50630: plain-dict examples, map, metadata, hybrid cells), from
real BIG-bench prompts with fixed topics and planted failures; they must load and write back
byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultmap._serialize import (
    EXTRA,
    OMIT_NONE,
    MappingRecord,
    Record,
    _plan,
    read_json,
    to_plain,
)
from faultmap.exceptions import DataError
from faultmap.metrics import _results
from faultmap.reports import models
from faultmap.reports.models import (
    AnalysisMetadata,
    AnalysisReport,
    ClusterTest,
    ComparisonExample,
    ComparisonMetadata,
    ComparisonReport,
    CoverageMetadata,
    CoverageReport,
    Example,
    FailureSlice,
    HybridCell,
    LLMUsage,
    MetadataAnalysis,
    OverRepresentedValue,
    PromptMap,
    RejectedGap,
    ScoringSummary,
)

DATA = Path(__file__).resolve().parent / "data"
OLD_FILES = {
    "analysis": (DATA / "old_analysis_report.json", AnalysisReport),
    "comparison": (DATA / "old_comparison_report.json", ComparisonReport),
    "coverage": (DATA / "old_coverage_report.json", CoverageReport),
}
property_settings = settings(deadline=None, derandomize=True, max_examples=60)


# -- small records of our own, to test the machinery itself -------------------------------------


@dataclass(frozen=True)
class Leaf(Record):
    name: str
    rate: float
    maybe: float | None = None


@dataclass(frozen=True)
class Tree(Record):
    leaves: list[Leaf]
    by_name: dict[str, Leaf] = field(default_factory=dict)
    pair: tuple[int, int] = (0, 0)
    best: Leaf | None = None
    note: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class Open(MappingRecord):
    size: int | None = field(default=None, metadata=OMIT_NONE)
    label: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


def _example(**changes: Any) -> dict[str, Any]:
    return {"index": 3, "prompt": "p", "response": "r", "score": 0.2, "failed": True, **changes}


def _slice(**changes: Any) -> FailureSlice:
    base: dict[str, Any] = dict(
        name="dates",
        description="date questions",
        size=20,
        failure_rate=0.6,
        baseline_rate=0.2,
        effect_size=3.0,
        p_value=1e-4,
        adjusted_p_value=1e-3,
        test_used="fisher",
        examples=[_example(), _example(index=4, failed=False)],
    )
    return FailureSlice(**{**base, **changes})


def _report(**changes: Any) -> AnalysisReport:
    base: dict[str, Any] = dict(
        total_prompts=100,
        total_failures=20,
        baseline_failure_rate=0.2,
        num_significant=1,
        slices=[_slice()],
        clustering_method="hdbscan",
        embedding_model="test",
        metadata={"random_state": 0, "timings_s": {"cluster": 0.1}, "seed": 7},
    )
    return AnalysisReport(**{**base, **changes})


# -- files written by the code before the payloads were typed -----------------------------------


# Keys added since those files were written, at every level: (top-level key, list of
# records or None) -> keys each record gains. The added keys are written after the old ones.
_NESTED_ADDED = {
    "analysis": {},
    "comparison": {"slices": ["concordant_pass", "concordant_fail", "failure_rate_diff"]},
    "coverage": {"gaps": ["cluster_id"]},
}


@pytest.mark.parametrize("kind", ["analysis", "coverage"])
def test_old_files_load_typed_and_write_back_byte_for_byte(kind: str) -> None:
    path, cls = OLD_FILES[kind]
    text = path.read_text(encoding="utf-8")
    report = cls.from_json(path)
    old = json.loads(text)
    # Fields added since (issues 11, 13) are written at their defaults after the old ones;
    # every old key keeps its value and its place.
    added = {
        "analysis": {
            "failure_modes": [],
            "mode_nodes": [],
            "correction": "bh",
            "num_clusters_tested": len(old.get("clusters", [])),
        },
        "coverage": {"correction": "bh", "cosine_distance_threshold": 0.06687548756599423},
    }[kind]
    # Coverage distances written on the cosine scale are read onto faultmap 0.5.0's
    # (tests/test_coverage.py checks the values); every other old key is unchanged.
    converted = {"distance_threshold", "gaps"} if kind == "coverage" else set()
    written = report.to_dict()
    assert {k: written[k] for k in added} == added
    assert [k for k in written if k not in added] == list(old)
    for key, new_keys in _NESTED_ADDED[kind].items():
        if key in converted:
            continue
        for item, before in zip(written[key], old[key], strict=True):
            assert list(item)[-len(new_keys) :] == new_keys
            for k in new_keys:
                del item[k]
            assert item == before
    unchanged = set(old) - converted
    assert {k: v for k, v in written.items() if k in unchanged} == {k: old[k] for k in unchanged}
    assert cls.from_dict(report.to_dict()) == report
    assert cls.from_json(report.to_json()).to_dict() == report.to_dict()
    assert isinstance(report.map, PromptMap) and len(report.map["x"]) == len(report.map.text)
    assert report.metadata["timings_s"]["total"] > 0 and report.metadata["random_state"] == 0


def test_an_old_comparison_file_keeps_every_tested_slice_in_tested_slices() -> None:
    """Files written when ``slices`` held every tested cluster (ties too) and ``test_used``
    said "exact" / "chi2": ``tested_slices`` gets them all, ``slices`` keeps the significant
    ones (faultmap 0.5.0's meaning), and the test names read as 0.5.0 wrote them."""
    path, cls = OLD_FILES["comparison"]
    old = json.loads(path.read_text(encoding="utf-8"))
    report = cls.from_json(path)
    written = report.to_dict()
    assert [k for k in written if k in old] == list(old)
    assert [k for k in written if k not in old] == [
        "correction",
        "tested_slices",
        "num_clusters_tested",
        "num_significant",
    ]
    names = {"exact": "mcnemar_exact", "chi2": "mcnemar_chi2", "none": "none"}
    assert written["global_test_used"] == names[old["global_test_used"]]
    assert len(written["tested_slices"]) == written["num_clusters_tested"] == len(old["slices"])
    for item, before in zip(written["tested_slices"], old["slices"], strict=True):
        assert item.pop("test_used") == names[before.pop("test_used")]
        for k in _NESTED_ADDED["comparison"]["slices"]:
            item.pop(k)
        assert item == before
    fresh = report.to_dict()
    significant = [s for s in fresh["tested_slices"] if s["winner"] != "tie"]
    assert fresh["slices"] == significant and fresh["num_significant"] == len(significant)
    assert written["num_significant_slices"] == old["num_significant_slices"] == len(significant)
    for key in set(old) - {"slices", "global_test_used"}:
        assert written[key] == old[key], key
    # the counts the file did not hold are recomputed from the rates and sizes
    for s in report.tested_slices:
        fails_a = round(s.failure_rate_a * s.size)
        fails_b = round(s.failure_rate_b * s.size)
        assert s.concordant_fail + s.discordant_b_wins == fails_a
        assert s.concordant_fail + s.discordant_a_wins == fails_b
        concordant = s.concordant_pass + s.concordant_fail
        assert concordant + s.discordant_a_wins + s.discordant_b_wins == s.size
    # and the file written now reads back to the same report
    assert cls.from_dict(fresh) == report and cls.from_json(report.to_json()) == report


def test_old_files_hold_typed_payloads() -> None:
    analysis = AnalysisReport.from_json(OLD_FILES["analysis"][0])
    (s,) = analysis.slices
    assert isinstance(analysis.metadata, AnalysisMetadata)
    assert all(isinstance(e, Example) for e in s.examples) and s.examples[0]["failed"]
    assert isinstance(s.over_represented_values[0], OverRepresentedValue)
    assert s.over_represented_values[0]["lift"] > 1
    cell = analysis.hybrid_cells[0]
    assert isinstance(cell, HybridCell) and (cell.column, cell.value) == ("route", "api")
    assert cell["slice_name"] == s.name and isinstance(cell.confidence_interval, tuple)
    summary = analysis.metadata["metadata_analysis"]
    assert isinstance(summary, MetadataAnalysis) and summary["num_hybrid_cells"] == 1
    assert analysis.map["failed"] == analysis.map.failed and "outcome" not in analysis.map

    comparison = ComparisonReport.from_json(OLD_FILES["comparison"][0])
    assert isinstance(comparison.metadata, ComparisonMetadata)
    assert isinstance(comparison.slices[0].examples[0], ComparisonExample)
    assert set(comparison.map["outcome"]) <= {"both", "neither", "a", "b"}

    coverage = CoverageReport.from_json(OLD_FILES["coverage"][0])
    assert isinstance(coverage.metadata, CoverageMetadata)
    assert coverage.metadata["threshold_details"]["num_sampled"] > 0
    assert coverage.metadata.regions is not None and coverage.metadata["num_regions"] >= 1
    assert coverage.metadata["rejected_gaps"] == [] and coverage.num_gaps == 1
    assert isinstance(coverage.regions[0], models.RegionTest)


@pytest.mark.parametrize("kind", list(OLD_FILES))
def test_old_files_still_match_the_schema(kind: str) -> None:
    pytest.importorskip("jsonschema")
    from faultmap.reports.schema import validate_report

    path, cls = OLD_FILES[kind]
    assert validate_report(cls.from_json(path).to_dict()) == kind


def test_a_report_without_the_later_fields_loads() -> None:
    data = json.loads(OLD_FILES["analysis"][0].read_text(encoding="utf-8"))
    for key in ("map", "hybrid_cells", "clusters", "cluster_labels", "metadata"):
        del data[key]
    for s in data["slices"]:
        for key in ("prompt_digests", "over_represented_values", "confidence_interval"):
            del s[key]
    report = AnalysisReport.from_dict(data)
    assert report.map == {} and not report.map and report.hybrid_cells == []
    assert report.metadata == {} and report.slices[0].confidence_interval == (0.0, 1.0)
    assert report.to_dict()["map"] == {} and report.to_dict()["metadata"] == {}


# -- building reports from plain dicts ----------------------------------------------------------


def test_plain_dicts_become_typed_payloads() -> None:
    report = _report(
        map={
            "projection": "pca",
            "dims": 2,
            "total_points": 2,
            "x": [0.5, -0.5],
            "y": [np.float64(1.0), -1.0],
            "index": [0, 1],
            "label": [0, -1],
            "text": ["a", "b"],
            "failed": [True, False],
        },
        hybrid_cells=[],
    )
    s = report.slices[0]
    assert isinstance(s.examples[0], Example) and s.examples[0] == _example()
    assert s.examples[0]["prompt"] == s.examples[0].prompt == "p"
    assert isinstance(report.metadata, AnalysisMetadata) and isinstance(report.map, PromptMap)
    assert type(report.map.y[0]) is float  # numpy scalars read as Python numbers
    assert report == AnalysisReport.from_dict(report.to_dict())
    assert report.to_dict() == AnalysisReport.from_json(report.to_json()).to_dict()


def test_typed_payloads_pass_through_untouched() -> None:
    examples = [Example(**_example())]
    timings = {"cluster": 0.1}
    s = _slice(examples=examples)
    report = _report(slices=[s], metadata=AnalysisMetadata(timings_s=timings))
    assert report.slices[0] is s and s.examples is examples
    assert report.metadata["timings_s"] is timings  # nothing copied that needed no change
    assert dataclasses.replace(report, num_significant=1) == report


def test_mapping_records_read_like_the_dicts_they_were() -> None:
    e = Example(**_example())
    assert dict(e) == e.to_dict() == _example() and e == _example() and e != {**_example(), "x": 1}
    assert list(e) == list(e.keys()) == ["index", "prompt", "response", "score", "failed"]
    assert e.get("response") == "r" and e.get("missing", 5) == 5 and "prompt" in e
    assert len(e) == 5 and dict(e.items())["score"] == 0.2
    with pytest.raises(KeyError):
        e["missing"]
    with pytest.raises(TypeError):
        e["prompt"] = "changed"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.prompt = "changed"  # type: ignore[misc]
    empty = PromptMap()
    assert empty == {} and not empty and "z" not in empty and empty.get("x") is None


def test_metadata_is_read_only() -> None:
    report = _report()
    with pytest.raises(TypeError):
        report.metadata["note"] = "x"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.metadata.note = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.metadata = {}  # type: ignore[misc]
    assert not hasattr(report.metadata, "setdefault") and not hasattr(report.metadata, "update")


# -- metadata: declared keys typed, other keys kept -----------------------------------------------


def test_undeclared_metadata_keys_are_kept_at_the_top_level() -> None:
    report = _report(
        metadata={
            "random_state": 3,
            "seed": 7,
            "extra": {"nested": [1, 2]},  # a key that happens to be called "extra"
            "llm": {"model": "gpt-x", "calls": 2, "cache_hits": 1},
            "my_scorer_thing": np.arange(2),
        }
    )
    meta = report.metadata
    assert meta.extra == {"seed": 7, "extra": {"nested": [1, 2]}, "my_scorer_thing": [0, 1]}
    assert meta["seed"] == 7 and meta["extra"] == {"nested": [1, 2]} and meta.random_state == 3
    assert isinstance(meta["llm"], LLMUsage) and meta["llm"]["cache_hits"] == 1
    assert "note" not in meta and meta.note is None and meta.get("note") is None
    plain = report.to_dict()["metadata"]
    assert plain == {
        "random_state": 3,
        "llm": {"model": "gpt-x", "calls": 2, "cache_hits": 1},
        "seed": 7,
        "extra": {"nested": [1, 2]},
        "my_scorer_thing": [0, 1],
    }
    assert AnalysisReport.from_dict(report.to_dict()).metadata == meta == plain


def test_scoring_summaries_and_scorer_keys() -> None:
    meta = ComparisonMetadata.from_dict(
        {
            "scoring_a": {"n_samples": 8, "sampling_errors": {"3": "timeout"}, "judge": "x"},
            "scoring_b": {"num_empty_responses": 2},
        }
    )
    assert isinstance(meta.scoring_a, ScoringSummary) and meta.scoring_a.n_samples == 8
    assert meta["scoring_a"]["judge"] == "x" and meta["scoring_b"] == {"num_empty_responses": 2}
    analysis = AnalysisMetadata.from_dict(
        {"n_samples": 4, "semantic_entropy": [0.5, None], "self_consistency": [None, 1.0]}
    )
    assert analysis.semantic_entropy == [0.5, None]
    assert analysis.to_dict()["self_consistency"] == [None, 1.0]


def test_extra_keys_may_not_shadow_declared_ones() -> None:
    with pytest.raises(DataError, match=r"AnalysisMetadata\.extra.*\['note'\]"):
        AnalysisMetadata(extra={"note": "x"})


def test_rejected_gaps_are_typed() -> None:
    gap = {
        "region_id": 1,
        "size": 5,
        "mean_distance": 0.4,
        "max_distance": 0.5,
        "test_count": 3,
        "region_production_count": 20,
        "expected_test_count": 4.5,
        "p_value": 0.2,
        "adjusted_p_value": 0.4,
        "prompt_indices": [1, 2, 3, 4, 5],
        "keywords": ["a"],
    }
    meta = CoverageMetadata.from_dict({"rejected_gaps": [gap], "num_uncovered_total": 5})
    assert isinstance(meta.rejected_gaps[0], RejectedGap) and meta["rejected_gaps"][0] == gap
    assert meta.to_dict() == {"num_uncovered_total": 5, "rejected_gaps": [gap]}


# -- the machinery ---------------------------------------------------------------------------


def test_nested_records_tuples_optionals_and_dicts_round_trip() -> None:
    tree = Tree(
        leaves=[{"name": "a", "rate": 0.5}],  # type: ignore[list-item]
        by_name={"b": {"name": "b", "rate": float("nan"), "maybe": float("inf")}},  # type: ignore[dict-item]
        pair=[1, 2],  # type: ignore[arg-type]
        best={"name": "c", "rate": 1},  # type: ignore[arg-type]
    )
    assert isinstance(tree.leaves[0], Leaf) and isinstance(tree.by_name["b"], Leaf)
    assert tree.pair == (1, 2) and isinstance(tree.best, Leaf)
    plain = tree.to_dict()
    assert "note" not in plain  # OMIT_NONE while None
    assert plain["by_name"]["b"] == {"name": "b", "rate": None, "maybe": None}
    assert plain["best"] == {"name": "c", "rate": 1, "maybe": None}  # int stays int
    again = Tree.from_dict(plain)
    assert math.isnan(again.by_name["b"].rate)  # null reads back as NaN for a float
    assert again.by_name["b"].maybe is None  # and as None for float | None
    assert again.to_dict() == plain and Tree.from_json(tree.to_json()).to_dict() == plain
    assert Tree.from_dict({**plain, "note": "hi", "added_later": 1}).to_dict() == {
        **plain,
        "note": "hi",
    }


def test_hints_are_resolved_once_per_class() -> None:
    Tree.from_dict({"leaves": []})
    assert _plan(Tree) is _plan(Tree)
    assert [f.name for f in _plan(Tree).fields if f.on_build] == [
        "leaves",
        "by_name",
        "pair",
        "best",
    ]


def test_to_plain() -> None:
    value = {1: (np.int32(2), np.float32(0.5), np.bool_(True)), "a": np.array([[1.0, np.nan]])}
    assert to_plain(value) == {"1": [2, 0.5, True], "a": [[1.0, None]]}
    plain = to_plain([np.float64(0.25), np.float64("inf"), np.int64(3), np.bool_(False)])
    assert plain == [0.25, None, 3, False]
    assert [type(v) for v in plain] == [float, type(None), int, bool]
    assert to_plain(Open(size=1, extra={"k": (1,)})) == {"size": 1, "label": None, "k": [1]}
    assert to_plain(ClusterTest(0, 10, 5, 0.1, 0.2, "fisher"))["num_failures"] == 5


def test_old_helper_names_stay_importable() -> None:
    assert models._clean is to_plain and models._read_json is read_json
    assert models._write_json({"a": [1]}, None, None) == '{"a": [1]}'
    assert _results.as_plain is to_plain and issubclass(_results.Result, Record)
    assert _results.dataclass_dict(Leaf("a", float("nan"))) == {
        "name": "a",
        "rate": None,
        "maybe": None,
    }


def test_metric_results_share_the_stack() -> None:
    from faultmap.reasons import CrossTab, ReasonGroup

    tab = CrossTab(row_labels=["a"], column_labels=["x", "y"], counts=[[1, 2]])
    assert CrossTab.from_json(tab.to_json()) == tab
    group = ReasonGroup.from_dict(
        {
            "group_id": 0,
            "name": "n",
            "size": 2,
            "keywords": [],
            "member_indices": [0, 1],
            "representative_reasons": ["r"],
            "failure_rate": None,
            "later": True,
        }
    )
    assert group.failure_rate is None and group.to_dict()["member_indices"] == [0, 1]


# -- bad input: a DataError naming the field ------------------------------------------------


def _set(*path: Any, to: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = to

    return change


def _drop(*path: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]

    return change


BAD = [
    (_set("slices", 0, to=[1, 2]), r"AnalysisReport\.slices\[0\]: expected an object, got a list"),
    (_set("slices", 0, "examples", to={"a": 1}), r"\.examples: expected a list, got an object"),
    (
        _drop("slices", 0, "examples", 1, "prompt"),
        r"slices\[0\]\.examples\[1\]: the required field 'prompt' is missing",
    ),
    (_drop("total_prompts"), r"AnalysisReport: the required field 'total_prompts' is missing"),
    (_set("slices", 0, "size", to="20"), r"slices\[0\]\.size: expected an integer, got a string"),
    (_set("slices", 0, "confidence_interval", to=[0.1]), r"interval: expected a list of 2 values"),
    (
        _set("metadata", "timings_s", to=[0.1]),
        r"metadata\.timings_s: expected an object, got a list",
    ),
    (_set("metadata", to=[1]), r"AnalysisReport\.metadata: expected an object, got a list"),
    (_drop("map", "text"), r"AnalysisReport\.map: the required field 'text' is missing"),
    (
        _set("hybrid_cells", 0, "sample_indices", to=[1, "2"]),
        r"hybrid_cells\[0\]\.sample_indices\[1\]: expected an integer",
    ),
    (_set("clusters", 0, "p_value", to=True), r"p_value: expected a number, got true/false"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_shapes_raise_a_data_error_naming_the_field(change: Any, message: str) -> None:
    data = json.loads(OLD_FILES["analysis"][0].read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(DataError, match=message):
        AnalysisReport.from_dict(data)


def test_bad_json_sources() -> None:
    with pytest.raises(DataError, match="AnalysisReport: expected an object, got a list"):
        AnalysisReport.from_json("[1, 2]")
    with pytest.raises(DataError, match="Could not read the JSON text as JSON"):
        AnalysisReport.from_json('{"total_prompts": ')
    with pytest.raises(FileNotFoundError):
        AnalysisReport.from_json("no/such/report.json")
    with pytest.raises(DataError, match=r"FailureSlice\.examples\[0\]: expected an object"):
        _slice(examples=["not an example"])


# -- properties ------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
any_float = st.floats(allow_nan=True, allow_infinity=True)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
examples = st.fixed_dictionaries(
    {
        "index": st.integers(0, 10**9),
        "prompt": st.text(),
        "response": st.text(),
        "score": any_float,
        "failed": st.booleans(),
    }
)
over_represented = st.fixed_dictionaries(
    {
        "column": st.text(max_size=5),
        "value": st.text(max_size=5),
        "count": st.integers(0, 10**6),
        **{
            k: any_float
            for k in ("slice_share", "rest_share", "lift", "p_value", "adjusted_p_value")
        },
    }
)


def _nan_to_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


@property_settings
@given(st.lists(examples, max_size=4), st.lists(over_represented, max_size=3))
def test_random_payloads_round_trip(examples: list[dict], values: list[dict]) -> None:
    s = _slice(examples=examples, over_represented_values=values)
    plain = s.to_dict()
    assert plain["examples"] == [_nan_to_none(e) for e in examples]
    assert plain["over_represented_values"] == [_nan_to_none(v) for v in values]
    assert FailureSlice.from_dict(plain).to_dict() == plain
    assert FailureSlice.from_json(s.to_json()).to_dict() == plain
    json.dumps(plain, allow_nan=False)


declared = sorted(n for n in AnalysisMetadata.__dataclass_fields__ if n != "extra")


@property_settings
@given(
    st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in declared), json_values, max_size=4
    ),
    st.integers(0, 2**31),
    st.dictionaries(st.text(max_size=5), finite, max_size=3),
)
def test_random_metadata_round_trips_and_keeps_every_key(
    extra: dict[str, Any], seed: int, timings: dict[str, float]
) -> None:
    data = {"random_state": seed, "timings_s": timings, **extra}
    meta = AnalysisMetadata.from_dict(data)
    assert meta.extra == extra and dict(meta) == data and meta == data
    assert meta.to_dict() == data and AnalysisMetadata.from_dict(meta.to_dict()) == meta
    report = _report(metadata=data)
    assert AnalysisReport.from_json(report.to_json()).to_dict() == report.to_dict()
