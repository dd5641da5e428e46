"""The map of the prompts in every report, the plotly figures and the rich console view.

Reports come from ``report_samples`` (real prompts, the real embedder and HDBSCAN)."""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from html import escape
from pathlib import Path

import numpy as np
import pytest
from report_samples import (
    HOSTILE_MODE,
    PAYLOADS,
    analysis_data,
    analysis_report,
    comparison_report,
    coverage_report,
    evidence_report,
)
from scipy import stats

from faultmap import (
    AnalysisReport,
    ComparisonReport,
    ConfigurationError,
    CoverageReport,
    DataError,
    MissingDependencyError,
    SliceAnalyzer,
)
from faultmap.pipeline import MapSettings, map_sample, prompt_map
from faultmap.reports.models import ClusterTest, NullAudit
from faultmap.reports.text import (
    check_lines,
    clip,
    comparison_headline,
    coverage_headline,
    evidence_facts,
    evidence_line,
    headline,
    mode_facts,
    modes_headline,
    null_audit_line,
    power_line,
    slice_facts,
)

OLD_FILES = {
    "analysis": AnalysisReport,
    "comparison": ComparisonReport,
    "coverage": CoverageReport,
}
DATA = Path(__file__).resolve().parent / "data"

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
        distances[i] <= coverage.cosine_distance_threshold + 1e-6 for i in cm["index"]
    ]
    # a gap is a whole region: its prompts are mapped as the gap, near a test prompt or not
    assert sum(lab >= 0 for lab in cm["label"]) == sum(g.production_count for g in coverage.gaps)

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
    (bars,) = [t for t in fig.data if t.name == "failure rate"]
    assert list(bars.y) == [s.failure_rate for s in report.slices]
    for s, up, down in zip(report.slices, bars.error_y.array, bars.error_y.arrayminus, strict=True):
        ci = stats.binomtest(s.num_failures, s.size).proportion_ci(method="wilson")
        assert s.failure_rate + up == pytest.approx(ci.high)
        assert s.failure_rate - down == pytest.approx(ci.low)
    assert fig.layout.shapes[0].y0 == pytest.approx(report.baseline_failure_rate)


def test_rates_show_the_failure_modes_first() -> None:
    report = evidence_report()
    fig = report.plot("rates")
    modes, slices = fig.data
    assert (modes.name, slices.name) == ("failure modes", "failure rate")
    assert list(modes.y) == [m.failure_rate for m in report.failure_modes]
    assert list(modes.x)[1] == "Mode 2. " + escape(HOSTILE_MODE, quote=False)
    for m, up, down in zip(
        report.failure_modes, modes.error_y.array, modes.error_y.arrayminus, strict=True
    ):
        assert m.failure_rate + up == pytest.approx(m.confidence_interval[1])
        assert m.failure_rate - down == pytest.approx(m.confidence_interval[0])
    assert "failure mode and slice" in fig.layout.title.text
    assert not any("<script" in h for t in fig.data for h in t.hovertext)
    plain = dataclasses.replace(report, failure_modes=[])
    assert [t.name for t in plain.plot("rates").data] == ["failure rate"]


def test_comparison_rates_show_both_models_per_slice() -> None:
    report = comparison_report()
    fig = report.plot("rates")
    a, b = fig.data
    tested = report.tested_slices  # every tested slice, ties too
    assert a.name == escape(report.model_a_name, quote=False) and len(a.x) == len(tested)
    assert list(a.y) == [s.failure_rate_a for s in tested]
    assert list(b.y) == [s.failure_rate_b for s in tested]
    for s, up in zip(tested, b.error_y.array, strict=True):
        k = round(s.failure_rate_b * s.size)
        ci = stats.binomtest(k, s.size).proportion_ci(method="wilson")
        assert s.failure_rate_b + up == pytest.approx(ci.high)
    significant = report.plot("rates", include_ties=False)
    assert len(significant.data[0].x) == report.num_significant_slices


def test_plot_kinds_and_the_missing_plotly_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    coverage = coverage_report()
    assert sum(len(t.x) for t in coverage.plot().data) == coverage.num_production_prompts
    with pytest.raises(ConfigurationError, match=r"'kind' parameter of CoverageReport\.plot"):
        coverage.plot("pie")
    with pytest.raises(ConfigurationError, match="must be one of 'map', 'rates'"):
        analysis_report().plot("pie")
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'faultmap\[viz\]'"):
        analysis_report().plot()


@pytest.mark.parametrize(
    "build",
    [analysis_report, coverage_report, comparison_report],
    ids=["analysis", "coverage", "comparison"],
)
@pytest.mark.parametrize("kind", ["map", "rates"])
def test_every_promised_view_works_for_every_report(build: object, kind: str) -> None:
    """The README promises report.plot() and report.plot("rates") for every report."""
    report = build()  # type: ignore[operator]
    fig = report.plot(kind)
    assert fig.data, kind
    if kind == "rates" and isinstance(report, CoverageReport):
        (bars,) = fig.data
        assert len(bars.x) == report.num_gaps
        for g, y in zip(report.gaps, bars.y, strict=True):
            if g.ratio is not None:
                assert y == pytest.approx(g.ratio)
    assert str(report) and report.summary() and report.to_html() and report._repr_html_()


def test_the_comparison_map_greys_ties_and_colours_the_significant_slices() -> None:
    report = comparison_report()
    fig = report.plot()
    ties = {
        f"{k}. {s.name}"[:20] for k, s in enumerate(report.tested_slices, 1) if not s.significant
    }
    from faultmap.reports._palette import TIE

    for trace in fig.data:
        if any(trace.name.startswith(t[:15]) for t in ties):
            assert trace.marker.color == TIE


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
    page = report.to_html().replace("<wbr>", "")  # long tokens may wrap at a <wbr>
    for line in sentences(report):
        assert line in str(report)
        assert line in shown
        assert escape(line) in page
    items = report.gaps if hasattr(report, "gaps") else report.slices
    for item in items:  # a comparison's slices are the significant ones
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


# -- failure modes, evidence, power and the null audit in every view ------------------------------


def test_modes_lead_every_view_and_share_their_sentences() -> None:
    report = evidence_report()
    text, shown = str(report), _console_text(report)
    page = report.to_html().replace("<wbr>", "")  # long tokens may wrap at a <wbr>
    compact = report._repr_html_().replace("<wbr>", "")
    first, bad = report.failure_modes
    sentences = [modes_headline(report), *check_lines(report)]
    sentences += [fact for m in report.failure_modes for fact in mode_facts(m, report)]
    sentences += [fact for k, s in enumerate(report.slices) for fact in slice_facts(s, report, k)]
    for line in sentences:
        assert line in text, line
        assert line in shown, line
        assert escape(line) in page, line
    for line in [*mode_facts(bad, report), *check_lines(report)]:
        assert escape(line) in compact, line
    # modes first, then the slices, then the checks
    assert (
        text.index("Failure modes (one per problem):")
        < text.index("Mode 1. Counting and walking")
        < text.index(f"Mode 2. {HOSTILE_MODE}")
        < text.index("Slices (the clusters that fail significantly on their own):")
        < text.index(f"1. {report.slices[0].name}")
        < text.index("Null audit:")
    )
    assert shown.index("Mode 1. Counting and walking") < shown.index(f"1. {report.slices[0].name}")
    last = f"{report.num_significant}. {report.slices[-1].name}"
    assert shown.index(last) < shown.index("Null audit:") and text.index(last) < text.index(
        "Null audit:"
    )
    assert str(first).startswith("Counting and walking\n")
    # the sentences themselves
    assert mode_facts(first, report)[0].startswith("Fails 82.6% of the time (2.1x baseline, ")
    assert "2 slices: 1. " in text and "; takes in 2 clusters." in text
    assert (
        "Evidence: stability 0.9 (of 20 reruns) · held-out p = 0.003 (30 of 40 held-out "
        "prompts fail) · name check 0.84." in text
    )
    assert "Evidence: stability 0.95 (of 20 reruns) · held-out p = 0.0004 · name check 0.91." in (
        text
    )
    warning = "Warning: the name does not pick out its members (name check 0.52, where 0.5"
    assert warning in text and warning in shown
    assert "Part of failure mode 1 (Counting and walking)." in text
    assert f"Part of failure mode 2 ({HOSTILE_MODE})." in text
    assert (
        "Null audit: 200 permuted runs reported a failure mode in 3.5% (level 0.05) and a "
        "slice in 4.0%; on average 0.04 false modes and 0.05 false slices per run." in text
    )
    rates = [c.detectable_failure_rate for c in report.clusters]
    rates = [r for r in rates if r is not None]
    assert len(rates) >= 2
    assert (
        f"{len(rates)} clusters were tested without a finding; at their sizes they could have "
        f"detected (80% power) failure rates above {100 * min(rates):.1f}%–"
        f"{100 * max(rates):.1f}%, depending on the cluster." in text
    )
    assert "(Benjamini–Hochberg FDR 0.05 across the 2 tested nodes of the cluster tree" in text
    assert HOSTILE_MODE in shown  # printed as typed


def _tiny(**changes: object) -> AnalysisReport:
    base: dict = dict(
        total_prompts=100,
        total_failures=20,
        baseline_failure_rate=0.2,
        num_significant=0,
        slices=[],
        clustering_method="hdbscan",
        embedding_model="test",
        clusters=[ClusterTest(0, 30, 6, 0.5, 0.7, "fisher")],
    )
    return AnalysisReport(**{**base, **changes})


def test_evidence_power_null_audit_and_correction_sentences() -> None:
    s = evidence_report().slices[0]
    assert evidence_line(dataclasses.replace(s, stability=None, confirmation_p_value=None)) == (
        "Evidence: name check 0.91."
    )
    bare = dataclasses.replace(s, stability=None, confirmation_p_value=None, name_check=None)
    assert evidence_line(bare) is None and evidence_facts(bare) == []
    assert evidence_line(dataclasses.replace(bare, stability=0.85)) == "Evidence: stability 0.85."
    # a name check below 0.6 warns; at 0.6 it does not; the report's flag wins
    assert len(evidence_facts(dataclasses.replace(bare, name_check=0.59))) == 2
    assert len(evidence_facts(dataclasses.replace(bare, name_check=0.6))) == 1
    strict = _tiny(metadata={"name_check": {"flag_below": 0.7}})
    assert len(evidence_facts(dataclasses.replace(bare, name_check=0.65), strict)) == 2
    # power: none without detectable rates; one cluster; equal rates; skip the Nones
    assert power_line(_tiny()) is None and check_lines(_tiny()) == []
    one = ClusterTest(1, 40, 8, 0.4, 0.6, "fisher", detectable_failure_rate=0.41)
    assert power_line(_tiny(clusters=[one])) == (
        "1 cluster was tested without a finding; at its size it could have detected (80% "
        "power) a failure rate above 41.0%."
    )
    two = [one, dataclasses.replace(one, cluster_id=2), *_tiny().clusters]
    assert "2 clusters were tested without a finding" in str(power_line(_tiny(clusters=two)))
    assert "failure rates above 41.0%." in str(power_line(_tiny(clusters=two)))
    # the null audit: a rate clearly above the level reads as a warning
    audit = NullAudit(100, 0.04, 0.05, 0.06, 0.05, 0.05, 3)
    assert null_audit_line(_tiny()) is None
    assert "clearly above" not in str(null_audit_line(_tiny(null_audit=audit)))
    high = dataclasses.replace(audit, fwer=0.2)
    assert "clearly above the level" in str(null_audit_line(_tiny(null_audit=high)))
    # the correction in the significance rule
    assert "(Benjamini–Hochberg FDR 0.05)" in str(evidence_report())
    for code, words in (
        ("by", "Benjamini–Yekutieli FDR 0.05"),
        ("holm", "Holm, family-wise error rate 0.05"),
    ):
        report = _tiny(correction=code)
        assert f"No slice fails significantly more often than the rest at {words}." in str(report)
        assert words in report.to_html()
        found = dataclasses.replace(evidence_report(), correction=code)
        assert f"fail significantly more often than the rest ({words})." in str(found)
        assert f"({words} across the 2 tested nodes" in str(found)
    assert "at FDR 0.05." in str(_tiny())  # the default reads as before


@pytest.mark.parametrize("kind", list(OLD_FILES))
def test_old_report_files_render_as_before(kind: str) -> None:
    report = OLD_FILES[kind].from_json(DATA / f"old_{kind}_report.json")
    text, shown = str(report), _console_text(report)
    page, compact = report.to_html(), report._repr_html_()
    for view in (text, shown, page, compact):
        for absent in ("Failure mode", "failure mode", "Mode 1", "Null audit", "Evidence:"):
            assert absent not in view
    for marker in ("'fm-mode'", "'fm-checks'", "'fm-warning'", "'fm-modes'"):
        assert marker not in page
    if kind == "analysis":
        assert "Slices (the clusters" not in text and report.slices
        assert "(Benjamini–Hochberg FDR" in text
        assert text.startswith("faultmap analysis\n=================\n")
        for k, s in enumerate(report.slices, 1):
            assert f"\n\n{k}. {s.name}\n" in text
