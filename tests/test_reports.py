"""Reports built by the real pipeline on synthetic vectors: round trips, recomputable numbers,
and the text / HTML views."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
import pytest
from scipy import stats

from faultmap import AnalysisReport, ClusterTest, FailureSlice
from faultmap.clustering import FixedLabels, HDBSCANClusterer
from faultmap.naming import KeywordNamer, SliceContext, SliceLabel
from faultmap.pipeline import SliceSettings, find_slices

N_PER_BLOB, DIM = 100, 8
XSS = "<script>alert(1)</script>"
TOPICS = ("dates", "french", "cakes")


def _prompt(topic: str, i: int) -> str:
    if topic == "dates":
        return f"{XSS} What was the date {i} days before the calendar holiday?"
    if topic == "french":
        return f"Translate sentence number {i} into French please"
    return f"Recipe for chocolate cake variant {i} with icing"


def make_data(seed: int = 7) -> dict[str, Any]:
    """Three well-separated blobs on the unit sphere, shuffled; the "dates" blob fails 60%."""
    rng = np.random.default_rng(seed)
    centers = np.eye(DIM)[:3] * 4.0
    topic_of, vectors, scores, prompts = [], [], [], []
    for b, topic in enumerate(TOPICS):
        n_fail = 60 if topic == "dates" else 5
        failing = set(rng.choice(N_PER_BLOB, size=n_fail, replace=False).tolist())
        for i in range(N_PER_BLOB):
            topic_of.append(topic)
            vectors.append(centers[b] + rng.normal(0.0, 0.3, DIM))
            scores.append(0.1 if i in failing else 0.9)
            prompts.append(_prompt(topic, i))
    order = rng.permutation(len(prompts))
    vectors_arr = np.asarray(vectors)[order]
    vectors_arr /= np.linalg.norm(vectors_arr, axis=1, keepdims=True)
    return {
        "prompts": [prompts[i] for i in order],
        "responses": [f"response to row {i}" for i in order],
        "scores": np.asarray(scores)[order],
        "vectors": vectors_arr.astype(np.float32),
        "topics": [topic_of[i] for i in order],
    }


DATA = make_data()
FAILURES = DATA["scores"] < 0.5


def build(clusterer: Any = None, namer: Any = None, **settings: Any) -> AnalysisReport:
    return find_slices(
        DATA["prompts"],
        DATA["responses"],
        DATA["scores"],
        DATA["vectors"],
        clusterer=clusterer or FixedLabels(DATA["topics"]),
        namer=namer or KeywordNamer(),
        settings=SliceSettings(**settings),
        embedding_model="synthetic-8d",
        metadata={"seed": 7},
    )


@pytest.fixture(scope="module")
def report() -> AnalysisReport:
    return build()


def dates_indices() -> list[int]:
    return [i for i, t in enumerate(DATA["topics"]) if t == "dates"]


# -- the pipeline finds the planted slice ----------------------------------------------------


def test_the_failing_blob_is_the_one_slice(report: AnalysisReport) -> None:
    assert report.num_significant == 1 and len(report.slices) == 1
    (s,) = report.slices
    assert s.sample_indices == dates_indices()
    assert s.size == N_PER_BLOB and s.num_failures == 60
    assert s.failure_rate == pytest.approx(0.6)
    assert report.total_prompts == 300 and report.total_failures == 70
    assert report.num_clusters == 3 and len(report.clusters) == 3
    assert report.num_unclustered == 0 and report.num_untested == 0
    assert s.naming_source == "keywords" and s.naming_error is None
    assert s.name and s.keywords


def test_hdbscan_finds_the_same_slice() -> None:
    report = build(clusterer=HDBSCANClusterer(random_state=0))
    assert report.num_significant == 1
    found, planted = set(report.slices[0].sample_indices), set(dates_indices())
    assert len(found & planted) / len(found | planted) >= 0.9
    assert report.clustering_method == "hdbscan"


def test_pipeline_is_deterministic(report: AnalysisReport) -> None:
    again = build()
    assert again.to_dict() | {"metadata": None} == report.to_dict() | {"metadata": None}


# -- serialisation ---------------------------------------------------------------------------


def test_to_dict_is_plain_json(report: AnalysisReport) -> None:
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (str, int, float, bool), type(value)

    walk(data)


def test_round_trips(report: AnalysisReport, tmp_path: Any) -> None:
    assert AnalysisReport.from_dict(report.to_dict()) == report
    assert AnalysisReport.from_json(report.to_json()) == report
    assert AnalysisReport.from_json(report.to_json(indent=None)) == report
    path = tmp_path / "report.json"
    report.to_json(path)
    assert AnalysisReport.from_json(path) == report
    assert AnalysisReport.from_json(str(path)) == report
    rebuilt = AnalysisReport.from_dict(report.to_dict())
    assert isinstance(rebuilt.slices[0], FailureSlice)
    assert isinstance(rebuilt.clusters[0], ClusterTest)
    assert isinstance(rebuilt.slices[0].confidence_interval, tuple)


def test_from_dict_ignores_unknown_keys(report: AnalysisReport) -> None:
    data = report.to_dict()
    data["added_in_a_later_version"] = 1
    data["slices"][0]["also_new"] = "x"
    assert AnalysisReport.from_dict(data) == report


# -- every number can be recomputed from to_dict() and the inputs ---------------------------


def _bh(p: Sequence[float]) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def _table(k: int, size: int, total_failures: int, n: int) -> list[list[int]]:
    return [[k, size - k], [total_failures - k, (n - size) - (total_failures - k)]]


def test_every_number_can_be_recomputed(report: AnalysisReport) -> None:
    d = report.to_dict()
    n, failures = len(FAILURES), FAILURES
    labels = np.asarray(d["cluster_labels"])
    total_failures = int(failures.sum())
    baseline = total_failures / n
    assert d["total_prompts"] == n and d["total_failures"] == total_failures
    assert d["baseline_failure_rate"] == pytest.approx(baseline, rel=1e-12)

    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    assert d["num_clusters"] == len(ids)
    assert d["num_unclustered"] == int((labels < 0).sum())
    assert d["num_untested"] == int(sizes[sizes < d["min_slice_size"]].sum())

    # The BH family is every tested cluster.
    clusters = d["clusters"]
    assert sorted(c["cluster_id"] for c in clusters) == sorted(
        int(c) for c, s in zip(ids, sizes, strict=True) if s >= d["min_slice_size"]
    )
    for c in clusters:
        members = labels == c["cluster_id"]
        assert c["size"] == int(members.sum())
        assert c["num_failures"] == int(failures[members].sum())
        p = stats.fisher_exact(
            _table(c["num_failures"], c["size"], total_failures, n), alternative="greater"
        ).pvalue
        assert c["p_value"] == pytest.approx(min(p, 1.0), rel=1e-9)
        assert c["test_used"] == "fisher"
    adjusted = _bh([c["p_value"] for c in clusters])
    np.testing.assert_allclose([c["adjusted_p_value"] for c in clusters], adjusted, rtol=1e-9)
    np.testing.assert_allclose(
        [c["adjusted_p_value"] for c in clusters],
        stats.false_discovery_control([c["p_value"] for c in clusters], method="bh"),
        rtol=1e-9,
    )
    by_id = {c["cluster_id"]: c for c in clusters}

    significant = [
        c
        for c in clusters
        if c["adjusted_p_value"] < d["significance_level"]
        and c["num_failures"] / c["size"] > baseline
    ]
    assert d["num_significant"] == len(significant) == len(d["slices"])

    for s in d["slices"]:
        idx = np.asarray(s["sample_indices"])
        assert sorted(idx.tolist()) == np.flatnonzero(labels == s["cluster_id"]).tolist()
        k, size = int(failures[idx].sum()), len(idx)
        assert s["size"] == size and s["num_failures"] == k
        assert s["failure_rate"] == pytest.approx(k / size, rel=1e-12)
        assert s["baseline_rate"] == pytest.approx(baseline, rel=1e-12)
        assert s["effect_size"] == pytest.approx((k / size) / baseline, rel=1e-12)
        assert s["risk_difference"] == pytest.approx(k / size - baseline, rel=1e-12)
        assert s["rest_failure_rate"] == pytest.approx((total_failures - k) / (n - size), rel=1e-12)
        p = stats.fisher_exact(_table(k, size, total_failures, n), alternative="greater").pvalue
        assert s["p_value"] == pytest.approx(p, rel=1e-9)
        assert s["adjusted_p_value"] == by_id[s["cluster_id"]]["adjusted_p_value"]
        ci = stats.binomtest(k, size).proportion_ci(confidence_level=0.95, method="wilson")
        assert s["confidence_interval"] == pytest.approx([ci.low, ci.high], rel=1e-12)
        assert s["confidence_interval"][0] <= k / size <= s["confidence_interval"][1]
        for example in s["examples"]:
            i = example["index"]
            assert i in s["sample_indices"]
            assert example["prompt"] == DATA["prompts"][i]
            assert example["response"] == DATA["responses"][i]
            assert example["score"] == pytest.approx(float(DATA["scores"][i]))
            assert example["failed"] == bool(failures[i])
        for prompt in s["representative_prompts"]:
            assert prompt in [DATA["prompts"][i] for i in s["sample_indices"]]


def test_cluster_test_failure_rate() -> None:
    assert ClusterTest(0, 10, 4, 0.1, 0.2, "fisher").failure_rate == 0.4
    assert ClusterTest(0, 0, 0, 1.0, 1.0, "fisher").failure_rate == 0.0


# -- views -----------------------------------------------------------------------------------


def test_str_names_the_slice_and_its_adjusted_p(report: AnalysisReport) -> None:
    (s,) = report.slices
    text = str(report)
    assert s.name in text
    p = s.adjusted_p_value
    assert (f"{p:.1e}" if p < 1e-4 else f"{p:.2g}") in text
    assert "adjusted p" in text
    assert "300 prompts, 70 failures" in text
    assert str(s).startswith(s.name)
    assert repr(report) == (
        "AnalysisReport(total_prompts=300, baseline_failure_rate=0.233, num_significant=1, "
        "num_failure_modes=1)"
    )


def test_html_escapes_prompt_text(report: AnalysisReport) -> None:
    html = report._repr_html_()
    assert report.slices[0].representative_prompts  # the XSS prompts are shown...
    assert all(XSS in p for p in report.slices[0].representative_prompts)
    assert "<script" not in html.lower()  # ...but only escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert escape(report.slices[0].name) in html


def test_html_escapes_a_hostile_slice_name() -> None:
    class HostileNamer:
        def name(self, slices: Sequence[SliceContext]) -> list[SliceLabel]:
            return [
                SliceLabel(
                    name=f"<img src=x onerror=alert({c.slice_id})>",
                    description="<b>bold</b>",
                    root_cause="<script>x</script>",
                )
                for c in slices
            ]

    html = build(namer=HostileNamer())._repr_html_()
    assert "<img" not in html and "<b>" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(0)&gt;" in html


def test_a_failing_namer_falls_back_to_keywords_with_the_reason() -> None:
    class Broken:
        def name(self, slices: Sequence[SliceContext]) -> list[SliceLabel]:
            raise RuntimeError("namer exploded")

    report = build(namer=Broken())
    (s,) = report.slices
    assert s.naming_source == "keywords"
    assert s.naming_error == "RuntimeError: namer exploded"
    assert report.metadata["naming_fallbacks"] == 1
    assert "namer exploded" in str(report)
    assert AnalysisReport.from_json(report.to_json()) == report


# -- "What to do next" in every view; "no difference" for an overall tie ---------------------


def _tied_comparison() -> Any:
    from faultmap import ComparisonReport

    return ComparisonReport(
        model_a_name="a",
        model_b_name="b",
        total_prompts=10,
        failure_rate_a=0.2,
        failure_rate_b=0.2,
        discordant_a_wins=2,
        discordant_b_wins=2,
        global_winner="tie",
        global_advantage_rate=0.5,
        global_p_value=1.0,
        global_test_used="exact",
        num_significant_slices=0,
        slices=[],
        clustering_method="c",
        embedding_model="m",
    )


def test_text_and_rich_views_say_what_to_do_next(report: AnalysisReport) -> None:
    from faultmap.reports.text import next_steps

    steps = next_steps(report)
    assert steps[0].startswith('Look first at slice 1, "')
    text = str(report)
    block = ["What to do next:", *("- " + line for line in steps)]
    start = text.splitlines().index("What to do next:")
    assert text.splitlines()[start : start + len(block)] == block
    pytest.importorskip("rich")
    from rich.console import Console

    from faultmap.reports.rich import renderable

    console = Console(record=True, width=400)
    console.print(renderable(report))
    shown = console.export_text()
    assert "What to do next:" in shown and steps[0] in shown


def test_no_next_steps_block_when_an_llm_wrote_a_remediation(report: AnalysisReport) -> None:
    import dataclasses

    fixed = dataclasses.replace(report.slices[0], suggested_remediation="Add date examples.")
    named = dataclasses.replace(report, slices=[fixed, *report.slices[1:]])
    assert "What to do next" not in str(named)
    assert "Suggested fix: Add date examples." in str(named)


def test_an_overall_tie_reads_no_difference() -> None:
    from faultmap.reports.html._common import _figures

    tied = _tied_comparison()
    assert ("no difference", "overall (McNemar p = 1)") in _figures(tied)
    text = str(tied)
    assert "What to do next:" in text
    assert "on the overall result (no difference) or on cost." in text
