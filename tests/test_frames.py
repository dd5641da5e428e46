"""Reports as DataFrames: ``to_frame()`` one row per input row, ``slices_frame()`` one row per
slice or gap, for analyses, coverage audits and comparisons; older report files load with
empty outcome columns; ``confusion_frame`` labels the confusion matrix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from faultmap import AnalysisReport, ComparisonReport, CoverageReport, SliceAnalyzer
from faultmap.clustering import FixedLabels
from faultmap.core.rows import Rows
from faultmap.metrics import confusion_frame, confusion_matrix
from faultmap.naming import KeywordNamer
from faultmap.pipeline import SliceSettings, find_slices
from faultmap.testing import planted_failures, planted_prompts

TOPICS = ("taxes", "baking", "translation", "travel")
DATA = planted_prompts(240, TOPICS, dim=16, seed=0)
N = len(DATA)


def _scores(planted: dict[str, float], seed: int) -> np.ndarray:
    fails = planted_failures(DATA.groups, planted, baseline=0.1, seed=seed)
    return np.where(fails, 0.1, 0.9)


@pytest.fixture(scope="module")
def analysis() -> AnalysisReport:
    """Rows 0 and 1 left out ("unscored", as an LLM scorer leaves rows out)."""
    scores = _scores({"baking": 0.8}, seed=1)
    rows = Rows.keeping(np.arange(N) >= 2, reason="unscored")
    return find_slices(
        rows.take(DATA.prompts),
        ["r"] * (N - 2),
        rows.take(scores),
        rows.take(DATA.vectors),
        rows=rows,
        clusterer=FixedLabels(list(DATA.groups[2:])),
        namer=KeywordNamer(),
        settings=SliceSettings(),
        embedding_model="planted",
    )


def test_analysis_frame_has_one_row_per_input_row(analysis: AnalysisReport) -> None:
    frame = analysis.to_frame()
    assert list(frame.columns) == ["slice", "slice_id", "failed", "score"]
    assert len(frame) == N and frame.index.name == "row"
    assert frame.index.tolist() == list(range(N))
    # rows left out: no slice, no outcome
    assert frame["slice"][:2].isna().all() and frame["failed"][:2].isna().all()
    assert frame["score"][:2].isna().all() and frame["slice_id"][:2].isna().all()
    # the slice's members are the rows of its cluster, and the counts agree with the report
    (only,) = analysis.slices
    members = frame[frame["slice_id"] == 0]
    assert (members["slice"] == only.name).all()
    assert len(members) == only.size and int(members["failed"].sum()) == only.num_failures
    assert set(DATA.groups[members.index]) == {"baking"}
    assert int(frame["failed"].sum()) == analysis.total_failures
    assert frame["failed"].dtype == "boolean" and frame["slice_id"].dtype == "Int64"


def test_analysis_slices_frame(analysis: AnalysisReport) -> None:
    frame = analysis.slices_frame()
    s = analysis.slices[0]
    assert frame.index.name == "slice_id" and len(frame) == len(analysis.slices)
    row = frame.loc[0]
    assert row["name"] == s.name and row["size"] == s.size
    assert row["num_failures"] == s.num_failures
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(s.confidence_interval)
    assert row["adjusted_p_value"] == pytest.approx(s.adjusted_p_value)
    assert {"baseline_rate", "effect_size", "p_value", "failure_rate"} <= set(frame.columns)
    assert "stability" not in frame.columns  # not computed


def test_per_row_scores_survive_the_json_round_trip(analysis: AnalysisReport) -> None:
    data = json.loads(analysis.to_json())
    assert data["row_scores"][:2] == [None, None] and len(data["row_scores"]) == N
    again = AnalysisReport.from_json(analysis.to_json())
    pd.testing.assert_frame_equal(again.to_frame(), analysis.to_frame())


def test_a_report_file_without_per_row_scores_leaves_the_outcome_empty(
    analysis: AnalysisReport,
) -> None:
    data = analysis.to_dict()
    del data["row_scores"]
    older = AnalysisReport.from_dict(data)
    frame = older.to_frame()
    assert frame["failed"].isna().all() and frame["score"].isna().all()
    assert frame["slice"].notna().sum() == analysis.slices[0].size


def test_a_report_with_the_wrong_number_of_scores_is_refused(analysis: AnalysisReport) -> None:
    data = analysis.to_dict()
    data["row_scores"] = data["row_scores"][:-1]
    with pytest.raises(ValueError, match="row_scores"):
        AnalysisReport.from_dict(data)


def test_comparison_frame_covers_every_tested_slice_ties_included() -> None:
    fail_a = planted_failures(DATA.groups, {"taxes": 0.8}, baseline=0.2, seed=3)
    fail_b = planted_failures(DATA.groups, {}, baseline=0.2, seed=4)
    analyzer = SliceAnalyzer(clustering_method=FixedLabels(list(DATA.groups)))
    report = analyzer.compare_models(
        DATA.prompts,
        ["a"] * N,
        ["b"] * N,
        scores_a=(~fail_a).astype(float),
        scores_b=(~fail_b).astype(float),
        embeddings=DATA.vectors,
    )
    assert isinstance(report, ComparisonReport)
    assert len(report.tested_slices) == 4 and len(report.slices) < 4
    frame = report.to_frame()
    assert len(frame) == N and frame["slice"].notna().all()
    assert frame["failed_a"].tolist() == fail_a.tolist()
    assert frame["failed_b"].tolist() == fail_b.tolist()
    slices = report.slices_frame()
    assert len(slices) == 4 and set(slices["winner"]) >= {"tie"}
    for k, s in enumerate(report.tested_slices):
        members = frame[frame["slice_id"] == k]
        assert len(members) == s.size
        assert int(members["failed_a"].sum()) == slices.loc[k, "num_failures_a"]
        assert int(members["failed_b"].sum()) == slices.loc[k, "num_failures_b"]
    older = report.to_dict()
    del older["row_scores_a"], older["row_scores_b"]
    assert ComparisonReport.from_dict(older).to_frame()["failed_a"].isna().all()


@pytest.mark.filterwarnings("ignore::faultmap.CoverageMeaningWarning")
def test_coverage_frame_has_one_row_per_production_prompt() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:3] * 3.0

    def topic(k: int, count: int) -> np.ndarray:
        v = centres[k] + rng.normal(0, 0.3, (count, 8))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    test = np.vstack([topic(0, 60), topic(1, 60)])
    production = np.vstack([topic(0, 40), topic(1, 40), topic(2, 40)])
    report = SliceAnalyzer().audit_coverage(
        [f"t{i}" for i in range(len(test))],
        [f"p{i}" for i in range(len(production))],
        test_embeddings=test,
        production_embeddings=production,
    )
    assert isinstance(report, CoverageReport) and report.gaps
    frame = report.to_frame()
    assert len(frame) == 120 and list(frame.columns[:2]) == ["gap", "gap_id"]
    for k, gap in enumerate(report.gaps):
        assert sorted(frame.index[frame["gap_id"] == k]) == sorted(gap.prompt_indices)
        assert (frame.loc[gap.prompt_indices, "gap"] == gap.name).all()
    gaps = report.slices_frame()
    assert gaps.index.name == "gap_id" and len(gaps) == len(report.gaps)
    assert gaps.loc[0, "size"] == report.gaps[0].size


def test_confusion_frame_is_labelled_and_the_matrix_keeps_its_type() -> None:
    y_true, y_pred = ["cat", "dog", "dog", "cat"], ["cat", "dog", "cat", "cat"]
    frame = confusion_frame(y_true, y_pred)
    assert frame.index.name == "true" and frame.columns.name == "predicted"
    assert frame.loc["dog", "cat"] == 1 and frame.loc["cat", "cat"] == 2
    assert isinstance(confusion_matrix(y_true, y_pred), np.ndarray)
    shares = confusion_frame(y_true, y_pred, normalize="true")
    assert shares.loc["dog"].sum() == pytest.approx(1.0)
