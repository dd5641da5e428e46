"""Coverage audits: exact chunked nearest neighbours, the threshold rule, gaps as tested
regions, the score they imply, reports, bad input. Slow tests use real MiniLM vectors of real
BIG-bench prompts (the session's ``real_subset``)."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import property_settings

from faultmap import (
    ConfigurationError,
    CoverageGap,
    CoverageMeaningWarning,
    CoverageReport,
    DataError,
    FaultmapWarning,
    RegionTest,
    SliceAnalyzer,
)
from faultmap._neighbors import block_shape, cosine_distance, nearest_neighbors
from faultmap.analyses.coverage_steps import (
    gap_regions,
    global_null_p,
    test_regions,
    zero_test_gap_size,
)
from faultmap.coverage import coverage_threshold
from faultmap.embedding import PrecomputedEmbedder
from faultmap.naming import SliceContext, SliceLabel
from faultmap.reports.text import summary_table
from faultmap.significance import CORRECTIONS
from faultmap.significance.tests import under_representation_test

# Every audit warns that gaps changed meaning; test_the_change_of_meaning_is_warned_once_per_call
# checks the warning, the other tests read the reports.
pytestmark = pytest.mark.filterwarnings("ignore::faultmap.CoverageMeaningWarning")

DATA = Path(__file__).resolve().parent / "data"

# -- exact chunked nearest neighbours -------------------------------------------------------


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("budget", [4, 700, 4 * 37 * 64, 10_000, 2**20, 2**28])
def test_chunked_nearest_neighbours_equal_brute_force(budget: int) -> None:
    rng = np.random.default_rng(budget)
    queries, corpus = _unit(rng, 333, 12), _unit(rng, 257, 12)
    full = queries.astype(np.float64) @ corpus.astype(np.float64).T
    sims, where = nearest_neighbors(queries, corpus, memory_budget=budget)
    np.testing.assert_allclose(sims, full.max(axis=1), rtol=0, atol=1e-6)
    np.testing.assert_allclose(full[np.arange(333), where], full.max(axis=1), atol=1e-6)
    d = cosine_distance(sims)
    np.testing.assert_allclose(d, 1 - full.max(axis=1), atol=1e-6)
    assert d.dtype == np.float64 and np.all((d >= 0) & (d <= 2))


@pytest.mark.parametrize("budget", [4, 4 * 50 * 64, 2**28])
def test_leave_one_out_excludes_exactly_the_given_row(budget: int) -> None:
    rng = np.random.default_rng(1)
    x = _unit(rng, 120, 6)
    full = x.astype(np.float64) @ x.astype(np.float64).T
    np.fill_diagonal(full, -np.inf)
    sims, where = nearest_neighbors(x, x, exclude=np.arange(120), memory_budget=budget)
    np.testing.assert_allclose(sims, full.max(axis=1), atol=1e-6)
    assert np.all(where != np.arange(120))
    sims, where = nearest_neighbors(x[:1], x[:1], exclude=np.array([0]))
    assert sims[0] == -np.inf and where[0] == -1  # nothing left to compare with


@pytest.mark.parametrize(
    "n, m, budget", [(100_000, 10_000, 256 * 2**20), (10, 10**7, 2**20), (5, 5, 1)]
)
def test_a_similarity_block_stays_within_the_memory_budget(n: int, m: int, budget: int) -> None:
    rows, cols = block_shape(n, m, budget)
    assert 1 <= rows <= n and 1 <= cols <= m
    assert rows * cols * 4 <= max(budget, 4)


def test_nearest_neighbours_of_empty_inputs() -> None:
    sims, where = nearest_neighbors(np.zeros((0, 3), np.float32), np.eye(3, dtype=np.float32))
    assert sims.shape == where.shape == (0,)


# -- the threshold rule ----------------------------------------------------------------------


def test_threshold_is_the_95th_percentile_of_leave_one_out_distances() -> None:
    rng = np.random.default_rng(3)
    x = _unit(rng, 400, 8)
    full = x.astype(np.float64) @ x.astype(np.float64).T
    np.fill_diagonal(full, -np.inf)
    expected = np.quantile(1 - full.max(axis=1), 0.95)
    threshold, rule, details = coverage_threshold([f"t{i}" for i in range(400)], x)
    assert threshold == pytest.approx(expected, abs=1e-6)
    assert "95th percentile" in rule and "all 400 distinct test prompts" in rule
    assert details["num_sampled"] == 400


def test_threshold_samples_at_most_sample_size_queries_and_ignores_copies() -> None:
    rng = np.random.default_rng(4)
    x = _unit(rng, 300, 8)
    texts = [f"t{i}" for i in range(300)]
    _, rule, details = coverage_threshold(texts, x, sample_size=100)
    assert details["num_sampled"] == 100 and "100 of 300" in rule
    # copies of every test prompt must not pull the threshold to 0
    doubled, _, _ = coverage_threshold(texts + texts, np.vstack([x, x]))
    assert doubled == pytest.approx(coverage_threshold(texts, x)[0])
    with pytest.raises(DataError, match="distinct"):
        coverage_threshold(["same", "same"], np.vstack([x[:1], x[:1]]))


# -- audits on synthetic topics (fast) --------------------------------------------------------

TOPIC_WORDS = {
    "tax": "tax refund filing deadline return",
    "cake": "chocolate cake recipe icing oven",
    "french": "translate sentence french grammar",
    "flight": "flight booking airline seat luggage",
}


def _topic_data(
    counts: dict[str, int], seed: int, dim: int = 24
) -> tuple[list[str], np.ndarray, list[str]]:
    """Prompts of each topic around one direction per topic (fixed across calls)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(TOPIC_WORDS)] * 3.0
    prompts, vectors, topics = [], [], []
    for k, topic in enumerate(TOPIC_WORDS):
        for i in range(counts.get(topic, 0)):
            prompts.append(f"{TOPIC_WORDS[topic]} question {seed}-{i}")
            vectors.append(centres[k] + rng.normal(0.0, 0.35, dim))
            topics.append(topic)
    v = np.asarray(vectors)
    return prompts, (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32), topics


TEST = _topic_data({"tax": 80, "cake": 80, "french": 80}, seed=1)
PRODUCTION = _topic_data({"tax": 60, "cake": 60, "french": 60, "flight": 60}, seed=2)


def _audit(analyzer: SliceAnalyzer | None = None, **kwargs: Any) -> CoverageReport:
    return (analyzer or SliceAnalyzer()).audit_coverage(
        TEST[0],
        PRODUCTION[0],
        test_embeddings=TEST[1],
        production_embeddings=PRODUCTION[1],
        **kwargs,
    )


@pytest.fixture(scope="module")
def synthetic_report() -> CoverageReport:
    return _audit()


def test_the_missing_topic_is_the_only_gap(synthetic_report: CoverageReport) -> None:
    r = synthetic_report
    topics = np.array(PRODUCTION[2])
    assert r.num_gaps == len(r.gaps) >= 1
    gap_topics = {Counter(topics[g.prompt_indices]).most_common(1)[0][0] for g in r.gaps}
    assert gap_topics == {"flight"}
    assert sum(g.size for g in r.gaps) >= 0.9 * 60
    g = r.gaps[0]
    assert "flight" in g.name and g.test_count == 0
    assert g.adjusted_p_value < 0.05 and g.expected_test_count > 10
    assert g.mean_distance > r.distance_threshold
    assert g.cosine_mean_distance > r.cosine_distance_threshold
    assert g.ratio == 0.0 and g.ratio_interval[0] == 0.0 and 0 < g.ratio_interval[1] < 0.2
    assert g.uncovered_share == pytest.approx(1.0)


def test_coverage_numbers_are_consistent(synthetic_report: CoverageReport) -> None:
    r = synthetic_report
    d = np.array(r.nearest_test_distances)
    uncovered = np.flatnonzero(d > r.cosine_distance_threshold + 1e-6)
    assert r.distance_threshold == pytest.approx(np.sqrt(2 * r.cosine_distance_threshold))
    assert r.num_production_prompts == len(d) == 240 and r.num_test_prompts == 240
    assert r.distance_coverage_score == pytest.approx(1 - uncovered.size / 240)
    assert r.metadata["num_uncovered_total"] == r.num_uncovered == uncovered.size
    # the score agrees with the gaps exactly
    in_gaps = sorted(i for g in r.gaps for i in g.prompt_indices)
    assert len(in_gaps) == len(set(in_gaps))
    assert r.overall_coverage_score == 1 - sum(g.production_count for g in r.gaps) / 240
    assert sorted(set(uncovered) - set(in_gaps)) == r.metadata["unclustered_prompt_indices"]
    regions = {t.region_id: t for t in r.regions}
    share = 240 / 480
    for g in r.gaps:
        t = regions[g.region_id]
        assert g.size == g.production_count == g.region_production_count == t.production_count
        assert g.size == len(g.prompt_indices) >= r.min_gap_size
        assert (g.test_count, g.p_value, g.adjusted_p_value) == (
            t.test_count,
            t.p_value,
            t.adjusted_p_value,
        )
        assert g.expected_test_count == pytest.approx(t.size * share)
        assert g.ratio == pytest.approx(g.test_count / g.expected_test_count)
        assert g.ratio_interval[0] <= g.ratio <= g.ratio_interval[1]
        assert g.cosine_mean_distance == pytest.approx(d[g.prompt_indices].mean())
        assert g.mean_distance == pytest.approx(np.sqrt(2 * d[g.prompt_indices]).mean())
        assert g.median_distance == pytest.approx(np.median(d[g.prompt_indices]))
        assert g.uncovered_share == pytest.approx(np.isin(g.prompt_indices, uncovered).mean())
    gap_ids = {g.region_id for g in r.gaps}
    assert gap_ids == {t.region_id for t in r.regions if t.adjusted_p_value < 0.05}
    # nearest indices really are the nearest test prompts
    sims = PRODUCTION[1] @ TEST[1].T
    np.testing.assert_array_equal(np.array(r.nearest_test_indices), sims.argmax(axis=1))
    assert "95th percentile" in r.threshold_rule
    assert r.metadata["threshold_details"]["num_distinct_test_prompts"] == 240
    assert all(isinstance(t, RegionTest) for t in r.regions)
    assert r.embedding_model == "precomputed"
    zero = zero_test_gap_size(240, 240, 0.05, len(r.regions), "bh", r.min_gap_size)
    assert r.metadata["zero_test_gap_size"] == zero <= 60


def test_the_change_of_meaning_is_warned_once_per_call() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = _audit()
    ours = [w for w in caught if issubclass(w.category, CoverageMeaningWarning)]
    assert len(ours) == 1 and issubclass(CoverageMeaningWarning, FaultmapWarning)
    message = str(ours[0].message)
    assert "distance_coverage_score" in message and "README" in message
    assert f"{report.overall_coverage_score:.3f}" in message
    assert ours[0].filename == __file__  # points at the caller


def test_the_gap_table_shows_counts_expected_ratio_and_p_values(
    synthetic_report: CoverageReport,
) -> None:
    columns, rows = summary_table(synthetic_report)
    labels = [label for label, _ in columns]
    assert labels[2:] == [
        "production prompts",
        "test prompts (expected)",
        "test / expected (95% CI)",
        "p",
        "adjusted p",
        "median distance",
    ]
    g, row = synthetic_report.gaps[0], [c.text for c in rows[0]]
    low, high = g.ratio_interval
    assert row[2] == f"{g.production_count:,}"
    assert row[3] == f"{g.test_count:,} ({g.expected_test_count:.1f})"
    assert row[4] == f"{g.ratio:.2f} ({low:.2f}–{high:.2f})"
    text = str(synthetic_report)
    assert f"ratio {g.ratio:.2f} (95% CI {low:.2f}–{high:.2f})" in text
    assert "covered (in no gap)" in text and "faultmap 0.5.0's coverage score" in text
    page = synthetic_report.to_html()
    for label in labels[2:]:
        assert escape(label) in page


def test_reports_written_before_gaps_were_regions_load_and_read_as_before() -> None:
    old = CoverageReport.from_json(DATA / "old_coverage_report.json")
    assert old.distance_coverage_score is None and old.gaps[0].ratio is None
    text = str(old)
    assert "covered (a test prompt within distance" in text
    # Written when distance_threshold and mean_distance were cosine: read onto 0.5.0's scale.
    raw = json.loads((DATA / "old_coverage_report.json").read_text(encoding="utf-8"))
    assert old.cosine_distance_threshold == raw["distance_threshold"]
    assert old.distance_threshold == pytest.approx(np.sqrt(2 * raw["distance_threshold"]))
    assert f"cosine distance {raw['distance_threshold']:.3f}" in text
    d = np.array(raw["nearest_test_distances"])
    gap = old.gaps[0]
    assert gap.cosine_mean_distance == raw["gaps"][0]["mean_distance"]
    assert gap.mean_distance == pytest.approx(np.sqrt(2 * d[gap.prompt_indices]).mean())
    assert CoverageReport.from_json(old.to_json()) == old  # converted once, not twice
    assert "ratio" not in text and f"{100 * old.overall_coverage_score:.1f}%" in text
    assert summary_table(old)[1][0][4].text == "–"


def test_report_round_trip_and_views(synthetic_report: CoverageReport, tmp_path) -> None:
    r = synthetic_report
    path = tmp_path / "coverage.json"
    r.to_json(path)
    assert CoverageReport.from_json(path) == r
    assert CoverageReport.from_dict(json.loads(r.to_json())) == r
    text = str(r)
    assert "coverage audit" in text and f"{100 * r.overall_coverage_score:.1f}%" in text
    assert r.gaps[0].name in text and "Fisher" in text
    assert "CoverageReport(" in repr(r)
    assert r.gaps[0].name in str(r.gaps[0])
    assert escape(r.gaps[0].name) in r._repr_html_()


def test_html_escapes_prompts_and_names() -> None:
    gap = CoverageGap(
        name="<script>x</script>",
        description="<b>d</b>",
        size=5,
        mean_distance=0.7,
        representative_prompts=["<img src=x onerror=alert(1)>"],
        prompt_indices=[0, 1, 2, 3, 4],
        p_value=0.001,
        adjusted_p_value=0.002,
        test_count=0,
        region_production_count=5,
        expected_test_count=2.0,
    )
    report = CoverageReport(
        overall_coverage_score=0.5,
        num_gaps=1,
        gaps=[gap],
        distance_threshold=0.4,
        threshold_rule="given by the caller",
        num_test_prompts=10,
        num_production_prompts=10,
        embedding_model="precomputed",
        clustering_method="hdbscan",
        metadata={"num_uncovered_total": 5, "unclustered_prompt_indices": []},
    )
    html = report._repr_html_()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_identical_sets_are_fully_covered_without_gaps() -> None:
    report = SliceAnalyzer().audit_coverage(
        PRODUCTION[0], PRODUCTION[0], test_embeddings=PRODUCTION[1],
        production_embeddings=PRODUCTION[1],
    )  # fmt: skip
    assert report.overall_coverage_score == 1.0
    assert report.num_gaps == 0 and report.gaps == []
    assert report.metadata["num_uncovered_total"] == 0
    assert report.metadata["unclustered_prompt_indices"] == []
    assert max(report.nearest_test_distances) < 1e-6
    assert "no gap" in str(report)


def test_given_threshold_is_used_and_reported_but_does_not_decide_gaps() -> None:
    report = _audit(distance_threshold=2.0)
    assert report.distance_threshold == 2.0 and report.threshold_rule == "given by the caller"
    assert report.distance_coverage_score == 1.0 and report.num_uncovered == 0
    # every production prompt is "within reach" of a test prompt, yet the flight region holds
    # no test prompt: it is a gap all the same, and its prompts are not covered
    topics = np.array(PRODUCTION[2])
    assert [Counter(topics[g.prompt_indices]).most_common(1)[0][0] for g in report.gaps] == [
        "flight"
    ]
    assert report.gaps[0].test_count == 0 and report.gaps[0].uncovered_share == 0.0
    assert report.overall_coverage_score <= 1 - report.gaps[0].size / 240
    strict = _audit(distance_threshold=0.0)
    assert strict.distance_coverage_score == 0.0
    assert {g.region_id for g in strict.gaps} == {g.region_id for g in report.gaps}
    assert strict.overall_coverage_score == report.overall_coverage_score
    assert "threshold_details" not in strict.metadata


def test_uncovered_groups_where_tests_are_not_scarce_are_rejected_not_reported() -> None:
    # A threshold so tight that most covered-topic prompts are "uncovered" too: they form
    # groups, but in their regions the test suite holds its share, so they are no gaps.
    report = _audit(cosine_distance_threshold=0.05)
    topics = np.array(PRODUCTION[2])
    rejected = report.metadata["rejected_gaps"]
    assert rejected, "the tight threshold should leave groups of uncovered covered-topic prompts"
    for group in rejected:
        assert group["adjusted_p_value"] >= 0.05
        assert Counter(topics[group["prompt_indices"]]).most_common(1)[0][0] != "flight"
    assert {Counter(topics[g.prompt_indices]).most_common(1)[0][0] for g in report.gaps} == {
        "flight"
    }
    rejected_members = {i for group in rejected for i in group["prompt_indices"]}
    assert rejected_members <= set(report.metadata["unclustered_prompt_indices"])


def test_min_gap_size_larger_than_any_region_gives_no_gap() -> None:
    report = _audit(min_gap_size=500)
    assert report.num_gaps == 0 and report.overall_coverage_score == 1.0
    assert len(report.metadata["unclustered_prompt_indices"]) == report.num_uncovered > 0


class RecordingNamer:
    def __init__(self) -> None:
        self.seen: list[SliceContext] = []

    def name(self, slices: list[SliceContext]) -> list[SliceLabel]:
        self.seen.extend(slices)
        return [
            SliceLabel(
                name=f"gap {c.slice_id}",
                description="d",
                root_cause="no flight tests",
                suggested_remediation="add flight tests",
                source="llm",
            )
            for c in slices
        ]


def test_gaps_are_named_by_the_configured_namer_as_coverage_gaps() -> None:
    namer = RecordingNamer()
    report = _audit(SliceAnalyzer(namer=namer))
    assert namer.seen and all(c.kind == "coverage_gap" for c in namer.seen)
    assert all(dict(c.statistics)["test_prompts_in_region"] == 0 for c in namer.seen)
    assert report.gaps[0].naming_source == "llm"
    assert "Tests to add: add flight tests" in str(report)


def test_the_embedder_and_its_cache_embed_each_distinct_text_once() -> None:
    vectors = dict(zip(TEST[0] + PRODUCTION[0], np.vstack([TEST[1], PRODUCTION[1]]), strict=True))

    calls: list[int] = []

    class Counting(PrecomputedEmbedder):
        def embed(self, texts, *, role="query"):
            calls.append(len(texts))
            return super().embed(texts, role=role)

    embedder = Counting(vectors, name="topics")
    analyzer = SliceAnalyzer(embedding_model=embedder, embedding_cache=False)
    report = analyzer.audit_coverage(TEST[0], PRODUCTION[0] + PRODUCTION[0][:10])
    assert calls == [len(TEST[0]) + len(PRODUCTION[0])]
    assert report.embedding_model == "precomputed:topics"
    assert report.metadata["num_duplicate_production_prompts"] == 10
    assert {g.region_id for g in report.gaps} == {g.region_id for g in _audit().gaps}


def test_async_twin_returns_the_same_report() -> None:
    a = _audit()
    b = asyncio.run(
        SliceAnalyzer().aaudit_coverage(
            TEST[0], PRODUCTION[0], test_embeddings=TEST[1], production_embeddings=PRODUCTION[1]
        )
    )
    da, db = a.to_dict(), b.to_dict()
    da["metadata"].pop("timings_s"), db["metadata"].pop("timings_s")
    assert da == db


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(test_prompts=[]), DataError, "'test_prompts' is empty"),
        (dict(production_prompts=[]), DataError, "'production_prompts' is empty"),
        (dict(test_prompts="one string"), DataError, "not a single str"),
        (dict(test_prompts=["ok", 3]), DataError, r"'test_prompts\[1\]'"),
        (dict(test_prompts=["only one"]), DataError, "at least 2 distinct"),
        (dict(distance_threshold=-0.1), ConfigurationError, "'distance_threshold' parameter"),
        (
            dict(cosine_distance_threshold=2.5),
            ConfigurationError,
            "'cosine_distance_threshold' parameter",
        ),
        (
            dict(distance_threshold=0.5, cosine_distance_threshold=0.5),
            ConfigurationError,
            "not both",
        ),
        (
            dict(min_gap_size=1),
            ConfigurationError,
            r"'min_gap_size' parameter of SliceAnalyzer\.audit_coverage must be an int",
        ),
        (
            dict(neighbor_search="faiss"),
            ConfigurationError,
            r"'neighbor_search' parameter of SliceAnalyzer\.audit_coverage must be one of",
        ),
        (dict(test_embeddings=TEST[1][:10]), DataError, "'test_embeddings' has 10 rows"),
        (
            dict(production_embeddings=PRODUCTION[1][:, :5]),
            DataError,
            "embed both sets with the same model",
        ),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict, error: type, match: str) -> None:
    args = dict(
        test_prompts=TEST[0],
        production_prompts=PRODUCTION[0],
        test_embeddings=TEST[1],
        production_embeddings=PRODUCTION[1],
    )
    if "test_prompts" in kwargs and "test_embeddings" not in kwargs:
        args["test_embeddings"] = None
        args["production_embeddings"] = None
        # never reach the model: every bad value here fails validation first
    args.update(kwargs)
    with pytest.raises(error, match=match):
        SliceAnalyzer(embedding_model=PrecomputedEmbedder({}, name="none")).audit_coverage(**args)


def test_cell_search_gives_the_same_gaps_and_reports_its_measured_error() -> None:
    """Distances by k-means cells (for millions of prompts) are evidence only: the gaps are
    those of the exact search, and the report says how close the distances are."""
    exact = _audit(neighbor_search="exact")
    cells = _audit(neighbor_search="cells")
    assert exact.metadata["nearest_neighbors"] == {"method": "exact"}
    found = cells.metadata["nearest_neighbors"]
    assert found["method"] == "cells"
    assert found["share_within_tolerance"] >= 0.99
    assert [g.prompt_indices for g in cells.gaps] == [g.prompt_indices for g in exact.gaps]
    assert np.all(
        np.asarray(cells.nearest_test_distances) >= np.asarray(exact.nearest_test_distances) - 1e-6
    )
    assert abs(cells.distance_coverage_score - exact.distance_coverage_score) <= 0.02


def test_a_single_test_prompt_works_with_a_given_threshold() -> None:
    report = SliceAnalyzer().audit_coverage(
        TEST[0][:1],
        PRODUCTION[0],
        distance_threshold=0.5,
        test_embeddings=TEST[1][:1],
        production_embeddings=PRODUCTION[1],
    )
    assert 0.0 <= report.distance_coverage_score < 0.5
    # one test prompt is scarce nowhere unless a region of nearly all prompts lacks it
    assert report.num_gaps == 0 and report.overall_coverage_score == 1.0
    tiny = SliceAnalyzer().audit_coverage(
        TEST[0][:1],
        PRODUCTION[0][:10],
        distance_threshold=0.5,
        test_embeddings=TEST[1][:1],
        production_embeddings=PRODUCTION[1][:10],
    )
    assert tiny.regions == [] and tiny.num_gaps == 0 and tiny.metadata["num_regions"] == 0
    assert "no region can show that the test suite is under-represented" in str(tiny)


# -- a region without test prompts is never called covered -----------------------------------


@st.composite
def _region_labels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Test and production region labels (-1: no region): a few regions holding both, and
    regions without any test prompt of drawn sizes."""
    mixed = draw(st.lists(st.tuples(st.integers(1, 60), st.integers(1, 120)), max_size=8))
    empty = draw(st.lists(st.integers(1, 150), min_size=1, max_size=6))
    noise = draw(st.tuples(st.integers(0, 30), st.integers(0, 30)))
    test = [-1] * noise[0]
    production = [-1] * noise[1]
    for r, (t, p) in enumerate(mixed):
        test += [r] * t
        production += [r] * p
    ids = list(range(len(mixed), len(mixed) + len(empty)))
    for r, p in zip(ids, empty, strict=True):
        production += [r] * p
    if not any(t >= 0 for t in test):
        test.append(-1)  # keep at least one test prompt
    return np.array(test), np.array(production), ids


@property_settings
@given(_region_labels(), st.sampled_from(CORRECTIONS), st.sampled_from([0.01, 0.05, 0.1]))
def test_a_region_without_test_prompts_is_a_gap_from_the_promised_size(
    labels: tuple[np.ndarray, np.ndarray, list[int]], correction: str, alpha: float
) -> None:
    in_test, in_production, empty_ids = labels
    regions = test_regions(in_test, in_production, alpha, correction)
    gaps = {r.region_id for r in gap_regions(regions, alpha, min_gap_size=5)}
    size = zero_test_gap_size(len(in_test), len(in_production), alpha, len(regions), correction, 5)
    for r in empty_ids:
        if (in_production == r).sum() >= size:
            assert r in gaps, (r, (in_production == r).sum(), size, correction)
    for g in gaps:  # and a gap is always a rejected region with enough production prompts
        t = next(t for t in regions if t.region_id == g)
        assert t.adjusted_p_value < alpha and t.production_count >= 5
    if any((in_production == r).sum() >= size for r in empty_ids):
        # ... and such a family passes the permutation test of the whole family
        assert global_null_p(regions, len(in_test), len(in_production), alpha=alpha) <= alpha


def _fixed_regions(seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(30, 400, 12)
    labels = np.repeat(np.arange(12), sizes)
    return np.concatenate([labels, np.full(3_000 - labels.size, -1)]), 600


def test_the_family_permutation_test_agrees_with_fisher_on_every_split() -> None:
    """A split beats the data when some region's Fisher p-value in it is at most the
    smallest observed one; the critical-count shortcut must count exactly those."""
    labels, n_test = _fixed_regions(0)
    rng = np.random.default_rng(1)
    perm = rng.permutation(labels.size)
    regions = test_regions(labels[perm[:n_test]], labels[perm[n_test:]], 0.05)
    smallest = min(r.p_value for r in regions)
    sizes = np.array([r.size for r in regions])
    draws = 300
    splits = np.random.default_rng(7).multivariate_hypergeometric(
        np.append(sizes, labels.size - sizes.sum()), n_test, size=draws
    )[:, :-1]
    beaten = sum(
        min(
            under_representation_test(int(t), n_test, int(s - t), labels.size - n_test).p_value
            for t, s in zip(row, sizes, strict=True)
        )
        <= smallest * (1 + 1e-9)
        for row in splits
    )
    p = global_null_p(regions, n_test, labels.size - n_test, draws=draws, random_state=7)
    assert p == (1 + beaten) / (draws + 1)


def test_the_family_permutation_test_holds_its_level_on_random_splits() -> None:
    """Under "one distribution" (random splits of fixed regions) the permutation p-value is
    at most 0.05 in about 5 % of splits, and 0.2 in about 20 %."""
    labels, n_test = _fixed_regions(2)
    rng = np.random.default_rng(3)
    ps = []
    for k in range(300):
        perm = rng.permutation(labels.size)
        regions = test_regions(labels[perm[:n_test]], labels[perm[n_test:]], 0.05)
        ps.append(global_null_p(regions, n_test, labels.size - n_test, draws=199, random_state=k))
    ps = np.array(ps)
    # 99.9 % binomial upper bounds for 300 splits at rates 0.05 and 0.2
    assert (ps <= 0.05).mean() <= 0.10
    assert (ps <= 0.2).mean() <= 0.29


def test_a_family_that_passes_bonferroni_needs_no_draws() -> None:
    regions = [RegionTest(0, 0, 60, 1e-9, 1e-8), RegionTest(1, 50, 40, 0.9, 0.9)]
    assert global_null_p(regions, 200, 400, alpha=0.05) == pytest.approx(2e-9)
    assert global_null_p(regions, 200, 400) == pytest.approx(1 / 1000)
    assert global_null_p([], 200, 400) == 1.0


def test_the_promised_size_is_tight_for_holm_with_one_region() -> None:
    # one tested region: every correction is the identity, so the size is the smallest one
    # whose p-value for a complete absence of test prompts is below alpha
    size = zero_test_gap_size(300, 900, 0.05, 1, "holm")
    test = np.full(300, -1)
    for k in (size - 1, size):
        production = np.r_[np.zeros(k, int), np.full(900 - k, -1)]
        regions = test_regions(test, production, 0.05, "holm")
        assert len(regions) == (k == size) or regions[0].adjusted_p_value >= 0.05
        assert bool(gap_regions(regions, 0.05, 5)) == (k == size)


# -- real prompts, real embedder (slow) --------------------------------------------------------


def _held_out_split(real_subset: dict, missing: tuple[str, ...], n_test: int, seed: int) -> dict:
    """A suite of ``n_test`` prompts drawn at random from every task but ``missing``;
    production: every other prompt of the subset (so whole tasks are held out of the suite,
    and no production prompt is in it)."""
    tasks = real_subset["tasks"]
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero(~np.isin(tasks, list(missing)))
    test_idx = np.sort(rng.choice(eligible, n_test, replace=False))
    prod_idx = np.setdiff1d(np.arange(len(tasks)), test_idx)
    prompts, vectors = real_subset["prompts"], real_subset["vectors"]
    return {
        "test_prompts": [prompts[i] for i in test_idx],
        "production_prompts": [prompts[i] for i in prod_idx],
        "test_embeddings": vectors[test_idx],
        "production_embeddings": vectors[prod_idx],
        "production_tasks": tasks[prod_idx],
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "missing, n_test",
    [
        (("date_understanding", "navigate", "object_counting"), 300),
        (("implicatures", "intent_recognition"), 400),
        (("epistemic_reasoning", "logical_fallacy_detection"), 250),
        # a 60-prompt suite: its distance threshold is so wide (0.63) that half of the
        # implicatures prompts sit within it of some test prompt (faultmap 0.5.0's gaps held
        # only the prompts beyond it)
        (("date_understanding", "implicatures", "movie_recommendation"), 60),
    ],
)
def test_held_out_tasks_come_back_as_gaps(real_subset, missing, n_test) -> None:
    data = _held_out_split(real_subset, missing, n_test, seed=0)
    tasks = data.pop("production_tasks")
    report = SliceAnalyzer().audit_coverage(**data)
    if n_test == 60:
        beyond = np.array(report.nearest_test_distances) > report.cosine_distance_threshold
        assert beyond[tasks == "implicatures"].mean() < 0.6
    in_gap = np.zeros(len(tasks), dtype=bool)
    for g in report.gaps:
        task, count = Counter(tasks[g.prompt_indices]).most_common(1)[0]
        assert task in missing, f"false gap {g.name!r} is mostly {task!r}"
        assert count / g.production_count >= 0.6, f"gap {g.name!r} is impure"
        in_gap[g.prompt_indices] = True
    for task in missing:
        assert in_gap[tasks == task].mean() >= 0.5, f"{task}: {in_gap[tasks == task].mean()}"
    assert report.overall_coverage_score == 1 - in_gap.sum() / len(tasks)


@pytest.mark.slow
def test_a_suite_drawn_like_production_has_no_gap(real_subset) -> None:
    runs_with_a_gap = 0
    for seed in range(5):
        data = _held_out_split(real_subset, (), 300, seed)
        data.pop("production_tasks")
        report = SliceAnalyzer().audit_coverage(**data)
        runs_with_a_gap += report.num_gaps > 0
        assert len(report.regions) >= 5, "the null check needs a real family of tested regions"
        assert report.overall_coverage_score == 1 - sum(g.size for g in report.gaps) / 900
    # each run has a gap with probability at most 5 % (benchmarks/README.md measures the rate)
    assert runs_with_a_gap <= 1


@pytest.mark.slow
def test_real_embedder_identical_sets_cover_fully(sample_rows) -> None:
    prompts = [r["prompt"] for r in sample_rows if r["task"] == "sports_understanding"][:40]
    report = SliceAnalyzer().audit_coverage(prompts, list(reversed(prompts)))
    assert report.embedding_model.startswith("sentence-transformers:all-MiniLM-L6-v2")
    assert report.overall_coverage_score == 1.0 and report.num_gaps == 0


def test_above_max_region_points_a_sample_is_clustered_and_the_rest_assigned() -> None:
    from faultmap.clustering import HDBSCANClusterer
    from faultmap.coverage import CoverageSettings, find_coverage_gaps
    from faultmap.naming import KeywordNamer

    report = find_coverage_gaps(
        TEST[0],
        PRODUCTION[0],
        TEST[1],
        PRODUCTION[1],
        clusterer=HDBSCANClusterer(),
        namer=KeywordNamer(),
        settings=CoverageSettings(max_region_points=200),
        embedding_model="precomputed",
    )
    assert report.metadata["regions"]["points_clustered"] == 200
    topics = np.array(PRODUCTION[2])
    assert {Counter(topics[g.prompt_indices]).most_common(1)[0][0] for g in report.gaps} == {
        "flight"
    }
    assert sum(g.size for g in report.gaps) >= 0.9 * 60
    # every region's counts cover more than the clustered sample
    assert sum(r.size for r in report.regions) > 200
