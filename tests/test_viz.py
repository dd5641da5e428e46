"""The map of the prompts in every report, the plotly figures and the rich console view.

Reports come from ``report_samples`` (real prompts, the real embedder and HDBSCAN)."""

from __future__ import annotations

import io
import sys
import time
from html import escape

import numpy as np
import pytest
from report_samples import (
    PAYLOADS,
    analysis_data,
    analysis_report,
    comparison_report,
    coverage_report,
)
from scipy import stats

from faultmap import ConfigurationError, DataError, MissingDependencyError, SliceAnalyzer
from faultmap.pipeline import MapSettings, map_sample, prompt_map
from faultmap.reports.text import clip, comparison_headline, coverage_headline, headline

# -- the map ----------------------------------------------------------------------------------


def test_every_report_has_a_map_of_its_prompts() -> None:
    report = analysis_report()
    m = report.map
    n = report.total_prompts
    assert m["projection"] == "pca" and m["dims"] == 2 and m["total_points"] == n
    for key in ("x", "y", "index", "label", "text", "failed"):
        assert len(m[key]) == n, key
    assert max(map(abs, m["x"] + m["y"])) == pytest.approx(1.0)
    assert m["label"] == [report.cluster_labels[i] for i in m["index"]]
    prompts, scores = analysis_data()["prompts"], analysis_data()["scores"]
    assert m["failed"] == [scores[i] < 0.5 for i in m["index"]]
    assert m["text"] == [clip(prompts[i], 200) for i in m["index"]]

    coverage = coverage_report()
    cm = coverage.map
    assert len(cm["x"]) == coverage.num_production_prompts
    in_gap = {i: k for k, g in enumerate(coverage.gaps) for i in g.prompt_indices}
    assert cm["label"] == [in_gap.get(i, -1) for i in cm["index"]]
    distances = coverage.nearest_test_distances
    assert cm["covered"] == [
        distances[i] <= coverage.distance_threshold + 1e-6 for i in cm["index"]
    ]
    assert not any(cm["covered"][k] for k, lab in enumerate(cm["label"]) if lab >= 0)

    comparison = comparison_report()
    om = comparison.map
    assert len(om["x"]) == comparison.total_prompts
    assert om["label"] == [comparison.cluster_labels[i] for i in om["index"]]
    assert set(om["outcome"]) <= {"both", "a", "b", "neither"}
    tasks = np.repeat(["object_counting", "navigate", "implicatures", "intent"], 50)
    assert all(om["outcome"][k] in ("b", "neither") for k, i in enumerate(om["index"])
               if tasks[i] == "navigate")  # fmt: skip


def test_map_sample_keeps_every_group_and_the_budget() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 400, 50_000)
    groups[:3] = 999  # a tiny group
    rows = map_sample(groups, 5_000, random_state=1)
    assert len(rows) == 5_000 == len(set(rows.tolist()))
    assert np.all(np.diff(rows) > 0)
    assert set(groups[rows].tolist()) == set(groups.tolist())
    assert (groups[rows] == 999).sum() == 3
    np.testing.assert_array_equal(rows, map_sample(groups, 5_000, random_state=1))
    assert len(map_sample(np.arange(10_000), 100)) == 100  # more groups than points
    np.testing.assert_array_equal(map_sample(groups[:50], 100), np.arange(50))


def test_the_map_of_50k_prompts_is_bounded_in_time_and_size() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50_000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = rng.integers(-1, 300, 50_000)
    texts = [f"prompt {i} " + "word " * 80 for i in range(50_000)]
    prompt_map(vectors[:100], texts[:100], labels[:100], settings=MapSettings())  # warm imports
    start = time.perf_counter()
    m = prompt_map(vectors, texts, labels, settings=MapSettings())
    took = time.perf_counter() - start
    assert len(m["x"]) == 5_000 and m["total_points"] == 50_000
    assert all(len(t) <= 200 for t in m["text"])
    assert took < 10.0, took  # about 1 s on a busy 2-core machine


def test_map_settings_are_checked_and_none_turns_the_map_off() -> None:
    for kwargs in ({"map_projection": "tsne"}, {"map_dims": 4}, {"max_map_points": 0}):
        with pytest.raises(ConfigurationError, match=next(iter(kwargs))):
            SliceAnalyzer(**kwargs)
    data = analysis_data()
    report = SliceAnalyzer(min_slice_size=10, map_projection=None).analyze(
        data["prompts"], data["responses"], scores=data["scores"]
    )
    assert report.map == {}
    assert "map" not in report.metadata["timings_s"]
    with pytest.raises(DataError, match="map_projection"):
        report.plot()
    small = SliceAnalyzer(min_slice_size=10, max_map_points=50).analyze(
        data["prompts"], data["responses"], scores=data["scores"]
    )
    assert len(small.map["x"]) == 50 and small.map["total_points"] == 200
    slice_labels = {s.cluster_id for s in small.slices}
    assert slice_labels <= set(small.map["label"])  # every slice stays visible


@pytest.mark.slow
def test_umap_projection() -> None:
    data = analysis_data()
    analyzer = SliceAnalyzer(min_slice_size=10, map_projection="umap")
    report = analyzer.analyze(data["prompts"], data["responses"], scores=data["scores"])
    again = analyzer.analyze(data["prompts"], data["responses"], scores=data["scores"])
    assert report.map["projection"] == "umap" and len(report.map["x"]) == 200
    assert report.map["x"] == again.map["x"]  # fixed seed
    assert max(map(abs, report.map["x"] + report.map["y"])) == pytest.approx(1.0)


# -- plotly figures -----------------------------------------------------------------------------


def test_slice_map_has_every_point_once_with_escaped_hover() -> None:
    report = analysis_report()
    fig = report.plot()
    assert sum(len(trace.x) for trace in fig.data) == len(report.map["x"])
    assert {type(t).__name__ for t in fig.data} == {"Scattergl"}
    slice_traces = [t for t in fig.data if t.name.split(".")[0].isdigit()]
    assert len(slice_traces) == report.num_significant
    hover = [h for t in fig.data for h in t.hovertext]
    assert any(escape(PAYLOADS[1][:20], quote=False) in h for h in hover)
    assert not any("<img" in h or "<script" in h or "<svg" in h for h in hover)
    assert not any("<script" in t.name for t in fig.data)
    fig3 = analysis_report(map_dims=3, hostile_names=False).plot("map")
    assert {type(t).__name__ for t in fig3.data} == {"Scatter3d"}
    assert sum(len(t.z) for t in fig3.data) == 200


def test_slice_rates_are_the_report_numbers_with_wilson_intervals() -> None:
    report = analysis_report()
    fig = report.plot("rates")
    (bars,) = fig.data
    assert list(bars.y) == [s.failure_rate for s in report.slices]
    for s, up, down in zip(report.slices, bars.error_y.array, bars.error_y.arrayminus, strict=True):
        ci = stats.binomtest(s.num_failures, s.size).proportion_ci(method="wilson")
        assert s.failure_rate + up == pytest.approx(ci.high)
        assert s.failure_rate - down == pytest.approx(ci.low)
    assert fig.layout.shapes[0].y0 == pytest.approx(report.baseline_failure_rate)


def test_comparison_rates_show_both_models_per_slice() -> None:
    report = comparison_report()
    fig = report.plot("rates")
    a, b = fig.data
    assert a.name == escape(report.model_a_name, quote=False) and len(a.x) == len(report.slices)
    assert list(a.y) == [s.failure_rate_a for s in report.slices]
    assert list(b.y) == [s.failure_rate_b for s in report.slices]
    for s, up in zip(report.slices, b.error_y.array, strict=True):
        k = round(s.failure_rate_b * s.size)
        ci = stats.binomtest(k, s.size).proportion_ci(method="wilson")
        assert s.failure_rate_b + up == pytest.approx(ci.high)
    significant = report.plot("rates", include_ties=False)
    assert len(significant.data[0].x) == report.num_significant_slices


def test_plot_kinds_and_the_missing_plotly_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    coverage = coverage_report()
    assert sum(len(t.x) for t in coverage.plot().data) == coverage.num_production_prompts
    with pytest.raises(ConfigurationError, match=r"'kind' parameter of CoverageReport\.plot"):
        coverage.plot("rates")
    with pytest.raises(ConfigurationError, match="must be one of 'map', 'rates'"):
        analysis_report().plot("pie")
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'faultmap\[viz\]'"):
        analysis_report().plot()


# -- the rich console view and the plain text tell the same story --------------------------------


def _console_text(report: object) -> str:
    from rich.console import Console

    console = Console(record=True, width=400, color_system=None, file=io.StringIO())
    report.print(console=console)
    return console.export_text()


@pytest.mark.parametrize(
    ("build", "sentences"),
    [
        (analysis_report, headline),
        (coverage_report, coverage_headline),
        (comparison_report, comparison_headline),
    ],
    ids=["analysis", "coverage", "comparison"],
)
def test_text_rich_and_html_share_their_sentences(build: object, sentences: object) -> None:
    report = build()
    shown = _console_text(report)
    page = report.to_html()
    for line in sentences(report):
        assert line in str(report)
        assert line in shown
        assert escape(line) in page
    items = report.gaps if hasattr(report, "gaps") else report.slices
    for item in items:
        if getattr(item, "significant", True):
            assert item.name in shown  # hostile names print as typed
            assert escape(item.name) in page
    assert "[bold red]rich markup[/]" in shown  # console markup in the data is not applied


def test_rich_view_draws_the_intervals_and_needs_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    report = analysis_report()
    shown = _console_text(report)
    for s in report.slices:
        low, high = s.confidence_interval
        assert f"{100 * low:.1f}%–{100 * high:.1f}%" in shown
    assert shown.count("●") >= report.num_significant
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'faultmap\[rich\]'"):
        report.print()
