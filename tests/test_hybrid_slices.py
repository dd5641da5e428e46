"""Hybrid slices: metadata read into the semantic slices (``analyze(..., metadata=...)``).

Fast tests use real BIG-bench prompt text with fixed topic labels (``FixedLabels``) and
small precomputed vectors, and check every p-value against scipy. The planted-cell tests
use the real all-MiniLM-L6-v2 embeddings and real HDBSCAN on 300 prompts.
"""

from __future__ import annotations

import asyncio
import collections
import json

import numpy as np
import pytest
from scipy import stats

from faultmap import AnalysisReport, ConfigurationError, DataError, SliceAnalyzer
from faultmap.clustering import FixedLabels
from faultmap.cohorts import HYBRID_RULE, MISSING, hybrid_slices

TASKS = ["date_understanding", "sports_understanding", "movie_recommendation", "object_counting"]


def _pick(sample_rows: list[dict], per_task: int) -> tuple[list[str], np.ndarray]:
    rows = [r for t in TASKS for r in [r for r in sample_rows if r["task"] == t][:per_task]]
    return [r["prompt"] for r in rows], np.array([r["task"] for r in rows])


def _scores(failed: np.ndarray) -> np.ndarray:
    return np.where(failed, 0.1, 0.9)


# -- fast: fixed topics, every number against scipy -----------------------------------------


@pytest.fixture(scope="module")
def topics(sample_rows) -> dict:
    """160 real prompts in 4 topics (fixed labels), metadata with a planted failing cell
    (topic 2 x route "api") and a column with missing values."""
    prompts, task = _pick(sample_rows, 40)
    rng = np.random.default_rng(11)
    n = len(prompts)
    topic = np.array([TASKS.index(t) for t in task])
    route = rng.choice(["search", "chat", "api"], size=n)
    language = rng.choice(["en", "de", None], size=n, p=[0.6, 0.25, 0.15]).tolist()
    planted = (topic == 2) & (route == "api")
    failed = np.where(planted, rng.random(n) < 0.9, rng.random(n) < 0.1)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    return {
        "prompts": prompts,
        "topic": topic,
        "metadata": {
            "route": route.tolist(),
            "language": language,
            "tokens": [len(p) for p in prompts],
        },
        "failed": failed,
        "planted": planted,
        "vectors": vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
    }


def _fixed_analysis(topics: dict, **kwargs) -> AnalysisReport:
    analyzer = SliceAnalyzer(clustering_method=FixedLabels(topics["topic"].tolist()))
    return analyzer.analyze(
        topics["prompts"],
        ["an answer"] * len(topics["prompts"]),
        scores=_scores(topics["failed"]),
        embeddings=topics["vectors"],
        **kwargs,
    )


def _expected_cells(labels, failed, values, min_size):
    """Every cell the rule tests, with its two scipy p-values."""
    out = []
    for c in np.unique(labels[labels >= 0]):
        in_c = labels == c
        for v in set(values):
            has = values == v
            cell = in_c & has
            size = int(cell.sum())
            if size < min_size or size in (int(in_c.sum()), int(has.sum())):
                continue
            k = int(failed[cell].sum())
            vs_cluster = [[k, size - k], [failed[in_c & ~has].sum(), (~failed[in_c & ~has]).sum()]]
            vs_value = [[k, size - k], [failed[has & ~in_c].sum(), (~failed[has & ~in_c]).sum()]]
            out.append(
                (
                    int(c),
                    v,
                    stats.fisher_exact(vs_cluster, alternative="greater").pvalue,
                    stats.fisher_exact(vs_value, alternative="greater").pvalue,
                )
            )
    return out


def test_cells_follow_the_documented_rule_with_scipy_p_values(topics) -> None:
    report = _fixed_analysis(topics, metadata={"route": topics["metadata"]["route"]})
    labels = np.asarray(report.cluster_labels)
    route = np.asarray(topics["metadata"]["route"], dtype=object)
    expected = _expected_cells(labels, topics["failed"], route, report.min_slice_size)
    summary = report.metadata["metadata_analysis"]
    assert summary["hybrid_cells_tested"] == len(expected)
    assert summary["rule"] == HYBRID_RULE
    adj_cluster = stats.false_discovery_control([e[2] for e in expected], method="bh")
    adj_value = stats.false_discovery_control([e[3] for e in expected], method="bh")
    reported = {
        (c, v): (p1, p2, a1, a2)
        for (c, v, p1, p2), a1, a2 in zip(expected, adj_cluster, adj_value, strict=True)
        if max(a1, a2) < 0.05
    }
    assert {(cell["cluster_id"], cell["value"]) for cell in report.hybrid_cells} == set(reported)
    assert set(reported) == {(2, "api")}  # the planted cell, and only it
    for cell in report.hybrid_cells:
        p1, p2, a1, a2 = reported[cell["cluster_id"], cell["value"]]
        assert cell["p_value_vs_cluster"] == pytest.approx(p1, rel=1e-9)
        assert cell["p_value_vs_value"] == pytest.approx(p2, rel=1e-9)
        assert cell["adjusted_p_value_vs_cluster"] == pytest.approx(a1, rel=1e-9)
        assert cell["adjusted_p_value_vs_value"] == pytest.approx(a2, rel=1e-9)
        rows = np.asarray(cell["sample_indices"])
        assert np.all(labels[rows] == cell["cluster_id"]) and np.all(route[rows] == cell["value"])
        assert cell["size"] == len(rows) == int(((labels == 2) & (route == "api")).sum())
        assert cell["num_failures"] == int(topics["failed"][rows].sum())
        ci = stats.binomtest(cell["num_failures"], cell["size"]).proportion_ci(method="wilson")
        assert cell["confidence_interval"] == pytest.approx([ci.low, ci.high])
        in_c = labels == cell["cluster_id"]
        rest = in_c & (route != cell["value"])
        assert cell["cluster_rest_failure_rate"] == pytest.approx(topics["failed"][rest].mean())
        elsewhere = (route == cell["value"]) & ~in_c
        assert cell["value_rest_failure_rate"] == pytest.approx(topics["failed"][elsewhere].mean())


def test_over_represented_values_match_scipy(topics) -> None:
    report = _fixed_analysis(topics, metadata=topics["metadata"])
    labels = np.asarray(report.cluster_labels)
    assert report.slices, "the planted cell makes topic 2 a slice"
    language = [MISSING if v is None else v for v in topics["metadata"]["language"]]
    columns = {
        "route": np.asarray(topics["metadata"]["route"], dtype=object),
        "language": np.asarray(language, dtype=object),
    }
    # recompute the whole family for the categorical columns; the numeric column's bins
    # come from faultmap.cohorts.cohort_labels, tested in test_cohorts.py
    from faultmap.cohorts import cohort_labels

    columns["tokens"] = np.asarray(cohort_labels(topics["metadata"])["tokens"], dtype=object)
    family = []
    n = len(labels)
    for s in report.slices:
        inside = labels == s.cluster_id
        for column, values in columns.items():
            for v in sorted(set(values)):
                has = values == v
                table = [
                    [int((inside & has).sum()), int((inside & ~has).sum())],
                    [int((~inside & has).sum()), int((~inside & ~has).sum())],
                ]
                p = stats.fisher_exact(table, alternative="greater").pvalue
                family.append((s.cluster_id, column, v, p, table))
    assert report.metadata["metadata_analysis"]["over_representation_tests"] == len(family)
    adjusted = stats.false_discovery_control([f[3] for f in family], method="bh")
    for (cluster, column, value, p, table), a in zip(family, adjusted, strict=True):
        s = next(s for s in report.slices if s.cluster_id == cluster)
        found = [
            v for v in s.over_represented_values if (v["column"], v["value"]) == (column, value)
        ]
        assert bool(found) == (a < 0.05), (column, value, a)
        if found:
            v = found[0]
            assert v["p_value"] == pytest.approx(p, rel=1e-9)
            assert v["adjusted_p_value"] == pytest.approx(a, rel=1e-9)
            assert v["count"] == table[0][0]
            assert v["slice_share"] == pytest.approx(table[0][0] / s.size)
            assert v["rest_share"] == pytest.approx(table[1][0] / (n - s.size))
    assert n == len(labels)


def test_missing_values_are_a_value_of_their_own(topics) -> None:
    rng = np.random.default_rng(5)
    n = len(topics["prompts"])
    language = np.where(
        topics["topic"] == 1,
        rng.choice(["en", None], p=[0.5, 0.5], size=n),
        rng.choice(["en", "de", None], p=[0.6, 0.3, 0.1], size=n),
    )
    planted = (topics["topic"] == 1) & np.array([v is None for v in language])
    failed = np.where(planted, True, rng.random(n) < 0.08)
    # None and NaN both mean "missing"
    language = [float("nan") if v is None and i % 2 else v for i, v in enumerate(language)]
    analyzer = SliceAnalyzer(
        clustering_method=FixedLabels(topics["topic"].tolist()), min_slice_size=5
    )
    report = analyzer.analyze(
        topics["prompts"],
        ["an answer"] * n,
        scores=_scores(failed),
        embeddings=topics["vectors"],
        metadata={"language": language},
    )
    assert [(c["cluster_id"], c["column"], c["value"]) for c in report.hybrid_cells] == [
        (1, "language", MISSING)
    ]


def test_report_round_trip_views_and_escaping(topics) -> None:
    metadata = dict(topics["metadata"])
    metadata["route"] = ["<b>api</b>" if r == "api" else r for r in metadata["route"]]
    report = _fixed_analysis(topics, metadata=metadata)
    assert report.hybrid_cells and report.slices[0].over_represented_values
    data = json.loads(report.to_json())
    assert data["hybrid_cells"][0]["value"] == "<b>api</b>"
    again = AnalysisReport.from_dict(data)
    assert again == report
    assert again.slices[0].over_represented_values == report.slices[0].over_represented_values
    text = str(report)
    assert "Over-represented metadata: " in text
    assert "Slice x metadata cells that fail more than both" in text
    assert "route = <b>api</b> in slice" in text
    assert "tested (cluster x value) cells fail significantly more" in text
    html = report._repr_html_()
    assert "<b>api</b>" not in html  # metadata values are data: escaped like prompts
    page = report.to_html()
    assert "<b>api</b>" not in page
    assert "Slice × metadata cells" in page
    assert "route = &lt;b&gt;api&lt;/b&gt; in slice" in page


def test_the_function_on_a_saved_report_equals_analyze_with_metadata(topics) -> None:
    with_metadata = _fixed_analysis(topics, metadata=topics["metadata"])
    plain = AnalysisReport.from_json(_fixed_analysis(topics).to_json())
    assert plain.hybrid_cells == [] and "metadata_analysis" not in plain.metadata
    later = hybrid_slices(plain, topics["metadata"], topics["failed"], prompts=topics["prompts"])
    assert later.hybrid_cells == with_metadata.hybrid_cells
    assert [s.over_represented_values for s in later.slices] == [
        s.over_represented_values for s in with_metadata.slices
    ]
    strict = hybrid_slices(plain, topics["metadata"], topics["failed"], significance_level=1e-30)
    assert strict.hybrid_cells == [] and all(not s.over_represented_values for s in strict.slices)
    with pytest.raises(ConfigurationError, match="'min_cell_size' parameter of hybrid_slices"):
        hybrid_slices(plain, topics["metadata"], topics["failed"], min_cell_size=0)


def test_rows_left_out_of_the_analysis_are_left_out_here(topics) -> None:
    from dataclasses import replace

    report = _fixed_analysis(topics)
    labels = np.asarray(report.cluster_labels)
    unscored = np.zeros(len(labels), dtype=bool)
    unscored[::7] = True  # as if these rows could not be scored (label -2)
    labels[unscored] = -2
    cut = replace(report, cluster_labels=labels.tolist())
    route = np.asarray(topics["metadata"]["route"], dtype=object)
    failed = topics["failed"].copy()
    failed[unscored] = True  # ignored: these rows are not analysed
    result = hybrid_slices(cut, {"route": route.tolist()}, failed)
    kept = ~unscored
    expected = _expected_cells(labels[kept], failed[kept], route[kept], report.min_slice_size)
    assert result.metadata["metadata_analysis"]["hybrid_cells_tested"] == len(expected)
    assert [(c["cluster_id"], c["value"]) for c in result.hybrid_cells] == [(2, "api")]
    for cell in result.hybrid_cells:
        rows = np.asarray(cell["sample_indices"])
        assert not unscored[rows].any()
        assert cell["size"] == int(
            ((labels == cell["cluster_id"]) & (route == cell["value"])).sum()
        )


def test_async_and_no_clustering(topics) -> None:
    analyzer = SliceAnalyzer(clustering_method=FixedLabels(topics["topic"].tolist()))
    n = len(topics["prompts"])
    report = asyncio.run(
        analyzer.aanalyze(
            topics["prompts"],
            ["an answer"] * n,
            scores=_scores(topics["failed"]),
            embeddings=topics["vectors"],
            metadata=topics["metadata"],
        )
    )
    assert [(c["cluster_id"], c["value"]) for c in report.hybrid_cells] == [(2, "api")]
    assert report.metadata["timings_s"]["metadata"] >= 0
    nothing_fails = analyzer.analyze(
        topics["prompts"],
        ["an answer"] * n,
        scores=np.ones(n),
        embeddings=topics["vectors"],
        metadata=topics["metadata"],
    )
    assert nothing_fails.hybrid_cells == []
    assert "no clustering ran" in nothing_fails.metadata["metadata_analysis"]["note"]
    assert "Metadata (route, language, tokens) not analysed" in str(nothing_fails)


# -- bad metadata --------------------------------------------------------------------------


def test_metadata_of_the_wrong_length_or_with_nan_keys_errors_clearly(topics) -> None:
    prompts = topics["prompts"][:20]
    analyzer = SliceAnalyzer()  # no scores and no model: any later step would fail otherwise

    def call(metadata):
        return analyzer.analyze(prompts, ["an answer"] * 20, metadata=metadata)

    with pytest.raises(
        DataError, match=r"metadata\['route'\] has 19 values but there are 20 prompts"
    ):
        call({"route": ["a"] * 19})
    with pytest.raises(DataError, match=r"column 1 has a name that is missing \(None/NaN\)"):
        call({"route": ["a"] * 20, float("nan"): ["b"] * 20})
    with pytest.raises(DataError, match=r"column 0 has a name that is missing \(None/NaN\)"):
        call({None: ["a"] * 20})
    with pytest.raises(DataError, match="more than one column named '1'"):
        call({1: ["a"] * 20, "1": ["b"] * 20})
    with pytest.raises(DataError, match="dict of columns or a pandas DataFrame"):
        call(["a"] * 20)
    with pytest.raises(DataError, match="no columns"):
        call({})
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"route": ["a"] * 20, "lang": ["en"] * 20})
    frame.columns = ["route", np.nan]  # a CSV column without a header reads like this
    with pytest.raises(DataError, match="a CSV column without a header reads as NaN"):
        call(frame)
    with pytest.raises(DataError, match="has 19 values but there are 20 prompts"):
        call(pd.DataFrame({"route": ["a"] * 19}))
    report = _fixed_analysis(topics)
    with pytest.raises(DataError, match="'failures' has 3 entries but there are 160 rows"):
        hybrid_slices(report, {"route": ["a"] * 160}, [0, 1, 0])
    with pytest.raises(DataError, match=r"metadata\['route'\] has 20 values but there are 160"):
        hybrid_slices(report, {"route": ["a"] * 20}, topics["failed"])


def test_a_dataframe_works_like_a_dict(topics) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(topics["metadata"])
    from_frame = _fixed_analysis(topics, metadata=frame)
    from_dict = _fixed_analysis(topics, metadata=topics["metadata"])
    assert from_frame.hybrid_cells == from_dict.hybrid_cells != []
    assert from_frame.slices == from_dict.slices


# -- real text, real embedder, real HDBSCAN ------------------------------------------------


@pytest.fixture(scope="module")
def planted_text(sample_rows) -> dict:
    """300 real prompts of 4 tasks with their real all-MiniLM-L6-v2 vectors, a random
    route per prompt and a language column that follows the date task."""
    from faultmap.embedding import SentenceTransformerEmbedder

    prompts, task = _pick(sample_rows, 75)
    rng = np.random.default_rng(7)
    n = len(prompts)
    is_date = task == "date_understanding"
    return {
        "prompts": prompts,
        "task": task,
        "vectors": SentenceTransformerEmbedder().embed(prompts),
        "route": rng.choice(["search", "chat", "api"], size=n),
        "model": rng.choice(["m1", "m2"], size=n),
        "language": np.where(
            is_date,
            rng.choice(["de", "en"], p=[0.7, 0.3], size=n),
            rng.choice(["de", "en"], p=[0.1, 0.9], size=n),
        ),
        "rng": rng,
    }


def _real_analysis(data: dict, failed: np.ndarray) -> AnalysisReport:
    metadata = {
        "route": data["route"].tolist(),
        "model": data["model"].tolist(),
        "language": data["language"].tolist(),
        "length": [len(p) for p in data["prompts"]],
    }
    return SliceAnalyzer().analyze(
        data["prompts"],
        ["an answer"] * len(data["prompts"]),
        scores=_scores(failed),
        embeddings=data["vectors"],
        metadata=metadata,
    )


def test_planted_topic_by_route_cell_is_the_only_one_found(planted_text) -> None:
    data = planted_text
    rng = np.random.default_rng(3)
    n = len(data["prompts"])
    planted = (data["task"] == "date_understanding") & (data["route"] == "api")
    failed = np.where(planted, rng.random(n) < 0.85, rng.random(n) < 0.1)
    report = _real_analysis(data, failed)
    cells = report.hybrid_cells
    assert cells, str(report)
    for cell in cells:
        rows = np.asarray(cell["sample_indices"])
        assert (cell["column"], cell["value"]) == ("route", "api"), str(report)
        assert planted[rows].mean() >= 0.9, collections.Counter(data["task"][rows])
    found = np.unique(np.concatenate([c["sample_indices"] for c in cells]))
    assert planted[found].sum() >= 0.8 * planted.sum(), str(report)
    # with this seed a length bin of the date cluster holds many planted rows by chance and
    # is significant too; without those rows it fails no more, so it is explained, not shown
    explained = report.metadata["metadata_analysis"]["explained_cells"]
    assert [e["column"] for e in explained] == ["length"], explained
    assert {"column": "route", "value": "api"} in explained[0]["explained_by"]
    assert "failed only through rows of a stronger cell" in str(report)
    # the date slice also shows its language
    date_slices = [s for s in report.slices if planted[s.sample_indices].any()]
    assert date_slices, str(report)
    values = {(v["column"], v["value"]) for v in date_slices[0].over_represented_values}
    assert ("language", "de") in values, str(report)
    assert ("route", "api") not in values  # route was assigned at random


def test_no_planted_cell_no_hybrid_cell(planted_text) -> None:
    rng = np.random.default_rng(4)
    failed = rng.random(len(planted_text["prompts"])) < 0.15
    report = _real_analysis(planted_text, failed)
    assert report.hybrid_cells == [], str(report)
    assert report.metadata["metadata_analysis"]["hybrid_cells_tested"] > 20
