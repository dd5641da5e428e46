"""Drop-in for faultmap 0.5.0 users: every public name, argument (in its positional order),
field, method, exception class and ``test_used`` value that faultmap 0.5.0 documented works
as it did there. Written from 0.5.0's README, signatures and docstrings; meanings that differ
on purpose are in the README ("Differences from faultmap 0.5.0") and not checked here.

Real MiniLM vectors of 160 bundled BIG-bench prompts (4 tasks, one failing far more often),
embedded once per session through faultmap's own cache; a fake LLM where one is needed."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
import warnings
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from packaging.version import Version

import faultmap
from faultmap import (
    AnalysisReport,
    ClusteringError,
    ComparisonReport,
    ConfigurationError,
    CoverageGap,
    CoverageMeaningWarning,
    CoverageReport,
    EmbeddingError,
    FailureSlice,
    FaultmapError,
    LLMError,
    ScoringError,
    ScoringResult,
    SliceAnalyzer,
    SliceComparison,
)
from faultmap.testing import FakeEmbedding, fake_llm_client

ROOT = Path(__file__).resolve().parents[1]

#: faultmap 0.5.0's ``__all__``.
NAMES_050 = (
    "SliceAnalyzer",
    "AnalysisReport",
    "FailureSlice",
    "CoverageReport",
    "CoverageGap",
    "ScoringResult",
    "ComparisonReport",
    "SliceComparison",
    "FaultmapError",
    "EmbeddingError",
    "ScoringError",
    "LLMError",
    "ClusteringError",
    "ConfigurationError",
    "__version__",
)

#: SliceAnalyzer's parameters in faultmap 0.5.0's positional order.
ANALYZER_050 = (
    "model",
    "embedding_model",
    "embedding_max_text_chars",
    "embedding_request_kwargs",
    "embedding_usage_kwargs",
    "significance_level",
    "min_slice_size",
    "failure_threshold",
    "n_samples",
    "clustering_method",
    "max_concurrent_requests",
    "temperature",
    "consistency_threshold",
)

#: Documented fields of faultmap 0.5.0's results.
FIELDS_050 = {
    FailureSlice: (
        "name description size failure_rate baseline_rate effect_size p_value "
        "adjusted_p_value test_used sample_indices examples representative_prompts cluster_id "
        "root_cause suggested_remediation"
    ),
    AnalysisReport: (
        "slices total_prompts total_failures baseline_failure_rate significance_level "
        "failure_threshold scoring_mode num_clusters_tested num_significant clustering_method "
        "embedding_model metadata"
    ),
    CoverageGap: (
        "name description size mean_distance representative_prompts prompt_indices cluster_id"
    ),
    CoverageReport: (
        "gaps num_test_prompts num_production_prompts num_gaps overall_coverage_score "
        "distance_threshold embedding_model metadata"
    ),
    SliceComparison: (
        "name description size failure_rate_a failure_rate_b failure_rate_diff concordant_pass "
        "concordant_fail discordant_a_wins discordant_b_wins advantage_rate p_value "
        "adjusted_p_value test_used winner sample_indices examples representative_prompts "
        "cluster_id"
    ),
    ComparisonReport: (
        "slices total_prompts model_a_name model_b_name failure_rate_a failure_rate_b "
        "global_p_value global_test_used global_winner global_advantage_rate "
        "significance_level failure_threshold scoring_mode num_clusters_tested num_significant "
        "clustering_method embedding_model metadata"
    ),
}

MCNEMAR_050 = {"mcnemar_chi2", "mcnemar_exact", "none"}
TASKS_PER_RUN, PER_TASK = 4, 40


@pytest.fixture(scope="module")
def data(sample_rows: list[dict]) -> dict[str, Any]:
    """160 real prompts of 4 tasks; the first task fails 80 %, the others 10 % (seeded)."""
    tasks = sorted({r["task"] for r in sample_rows})[:TASKS_PER_RUN]
    rows = [r for t in tasks for r in [r for r in sample_rows if r["task"] == t][:PER_TASK]]
    rng = np.random.default_rng(0)
    task = np.array([r["task"] for r in rows])
    failing = np.where(task == tasks[0], rng.random(len(rows)) < 0.8, rng.random(len(rows)) < 0.1)
    return {
        "prompts": [r["prompt"] for r in rows],
        "responses": [r["response"] for r in rows],
        "references": [r["reference"] for r in rows],
        "task": task,
        "tasks": tasks,
        "scores": np.where(failing, 0.1, 0.9).tolist(),
    }


@pytest.fixture(scope="module")
def analyzer() -> SliceAnalyzer:
    """The 0.5.0-style analyzer, all positional: the real local embedder, agglomerative
    clustering, keyword names (no model)."""
    return SliceAnalyzer(
        None, "all-MiniLM-L6-v2", 2000, None, None, 0.05, 10, 0.5, 8, "agglomerative"
    )


@pytest.fixture(scope="module")
def analysis(analyzer: SliceAnalyzer, data: dict[str, Any]) -> AnalysisReport:
    return analyzer.analyze(data["prompts"], data["responses"], data["scores"])


@pytest.fixture(scope="module")
def comparison(analyzer: SliceAnalyzer, data: dict[str, Any]) -> ComparisonReport:
    # model A is the failing one on the first task, model B passes everywhere but 10 %
    rng = np.random.default_rng(1)
    scores_b = np.where(rng.random(len(data["prompts"])) < 0.1, 0.1, 0.9).tolist()
    return analyzer.compare_models(
        data["prompts"],
        data["responses"],
        data["responses"],
        scores_a=data["scores"],
        scores_b=scores_b,
        model_a_name="GPT-4o",
        model_b_name="GPT-4o-mini",
    )


@pytest.fixture(scope="module")
def coverage(analyzer: SliceAnalyzer, data: dict[str, Any]) -> CoverageReport:
    """Test suite without the first task; production has all four."""
    tests = [p for p, t in zip(data["prompts"], data["task"], strict=True) if t != data["tasks"][0]]
    with pytest.warns(CoverageMeaningWarning):
        return analyzer.audit_coverage(tests, data["prompts"])


# -- names, version and exceptions -------------------------------------------------------------


def test_every_public_name_of_050_is_exported() -> None:
    for name in NAMES_050:
        assert name in faultmap.__all__ and hasattr(faultmap, name), name


def test_version_comes_from_the_package_metadata_and_follows_050() -> None:
    assert faultmap.__version__ == installed_version("faultmap")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on 3.10
    declared = re.search(r'^version = "([^"]+)"$', pyproject, re.MULTILINE)
    assert declared is not None and Version(declared.group(1)) > Version("0.5.0")
    if Version(faultmap.__version__) != Version("0.1.0"):  # an install of this tree
        assert Version(faultmap.__version__) > Version("0.5.0")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog


def test_the_050_exception_tree() -> None:
    for error in (EmbeddingError, ScoringError, LLMError, ClusteringError, ConfigurationError):
        assert issubclass(error, FaultmapError) and issubclass(error, Exception)


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.analyze(["p1", "p2"], ["r1"], [0.5, 0.5]),  # length mismatch
        lambda a: a.analyze([], [], []),  # empty prompts
        lambda a: a.analyze(["p1", "p2"], ["r1", "r2"], [0.5, 1.5]),  # score out of range
        lambda a: a.analyze(["p1", "p2"], ["r1", "r2"], [0.5]),  # scores length
        lambda a: a.analyze(["p1", "p2"], ["r1", "r2"], references=["x"]),  # references
        lambda a: a.compare_models(["p"], ["a"], ["b"], scores_a=[0.5]),  # scores_a alone
        lambda a: a.compare_models(["p"], ["a"], ["b"], scores_b=[0.5]),  # scores_b alone
        lambda a: a.compare_models(["p", "q"], ["a"], ["b", "c"], scores_a=[1, 1], scores_b=[1, 1]),
        lambda a: a.audit_coverage([], ["prod"]),  # empty test prompts
        lambda a: a.audit_coverage(["test"], []),  # empty production prompts
    ],
    ids=[
        "length",
        "empty",
        "score-range",
        "scores-length",
        "references-length",
        "scores-a-alone",
        "scores-b-alone",
        "responses-length",
        "no-tests",
        "no-production",
    ],
)
def test_bad_inputs_raise_what_050_code_catches(call: Any) -> None:
    analyzer = SliceAnalyzer(embedding_cache=False)
    with pytest.raises(ConfigurationError):
        call(analyzer)
    try:
        call(analyzer)
    except ConfigurationError as exc:  # 0.5.0 code: except ConfigurationError
        assert isinstance(exc, FaultmapError) and isinstance(exc, ValueError)


@pytest.mark.parametrize(
    "settings",
    [
        {"clustering_method": "kmeans"},
        {"significance_level": 0.0},
        {"significance_level": 1.0},
        {"failure_threshold": 1.5},
        {"min_slice_size": 0},
        {"max_concurrent_requests": 0},
        {"temperature": -0.5},
        {"consistency_threshold": 1.5},
    ],
)
def test_bad_settings_raise_configuration_error(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SliceAnalyzer(**settings)


def test_bad_coverage_settings_raise_configuration_error() -> None:
    analyzer = SliceAnalyzer(embedding_cache=False)
    with pytest.raises(ConfigurationError):
        analyzer.audit_coverage(["t"], ["p"], min_gap_size=0)
    with pytest.raises(ConfigurationError):
        analyzer.audit_coverage(["t"], ["p"], distance_threshold=-1.0)


# -- SliceAnalyzer's arguments -----------------------------------------------------------------


def test_slice_analyzer_takes_050s_arguments_in_050s_order() -> None:
    params = list(inspect.signature(SliceAnalyzer).parameters.values())
    assert [p.name for p in params[: len(ANALYZER_050)]] == list(ANALYZER_050)
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[: len(ANALYZER_050)])
    assert all(p.kind is p.KEYWORD_ONLY for p in params[len(ANALYZER_050) :])
    values = (
        "gpt-4o-mini",
        "text-embedding-3-small",
        500,
        {"dimensions": 8},
        {"query": {"input_type": "query"}},
        0.1,
        15,
        0.4,
        4,
        "agglomerative",
        7,
        0.7,
        0.9,
    )
    analyzer = SliceAnalyzer(*values)
    for name, value in zip(ANALYZER_050, values, strict=True):
        assert getattr(analyzer, name) == value, name


def test_the_methods_take_050s_arguments() -> None:
    def names(method: Any) -> list[str]:
        return list(inspect.signature(method).parameters)

    assert names(SliceAnalyzer.analyze)[1:5] == ["prompts", "responses", "scores", "references"]
    assert names(SliceAnalyzer.audit_coverage)[1:5] == [
        "test_prompts",
        "production_prompts",
        "distance_threshold",
        "min_gap_size",
    ]
    assert names(SliceAnalyzer.compare_models)[1:4] == ["prompts", "responses_a", "responses_b"]
    keywords = set(names(SliceAnalyzer.compare_models))
    assert {"scores_a", "scores_b", "references", "model_a_name", "model_b_name"} <= keywords


def test_embedding_request_kwargs_go_with_every_api_embedding_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeEmbedding(dim=8)
    monkeypatch.setattr(
        "faultmap.llm.client.import_litellm", lambda: types.SimpleNamespace(aembedding=fake)
    )
    analyzer = SliceAnalyzer(
        embedding_model="text-embedding-3-small",
        embedding_request_kwargs={"dimensions": 8, "user": "ci"},
        embedding_usage_kwargs={"query": {"input_type": "query"}},
        embedding_cache=False,
        clustering_method="agglomerative",
        map_projection=None,
    )
    prompts = [f"question {i} about {topic}" for topic in ("tax", "cake") for i in range(15)]
    analyzer.analyze(prompts, ["r"] * 30, [0.1] * 15 + [0.9] * 15)
    assert fake.calls and all(
        call.model == "text-embedding-3-small"
        and call.kwargs == {"dimensions": 8, "user": "ci", "input_type": "query"}
        for call in fake.calls
    )


# -- analysis reports --------------------------------------------------------------------------


def _assert_050_fields(obj: Any) -> None:
    names = {f.name for f in dataclasses.fields(obj)}
    missing = [n for n in FIELDS_050[type(obj)].split() if n not in names]
    assert not missing, f"{type(obj).__name__} lacks {missing}"
    plain = obj.to_dict()
    assert all(n in plain for n in FIELDS_050[type(obj)].split())
    json.dumps(plain)


def test_analysis_report_reads_as_in_050(analysis: AnalysisReport, data: dict[str, Any]) -> None:
    r = analysis
    _assert_050_fields(r)
    assert r.slices, "the planted task must come back as a slice"
    for s in r.slices:
        _assert_050_fields(s)
        assert s.test_used in {"fisher", "chi2"}
        assert s.effect_size == pytest.approx(s.failure_rate / s.baseline_rate)
        assert s.examples and len(s.representative_prompts) <= 5
        assert {"prompt", "response", "score"} <= set(s.examples[0])
        assert isinstance(s.root_cause, str) and isinstance(s.suggested_remediation, str)
    top = r.slices[0]
    tasks = data["task"][top.sample_indices]
    assert (tasks == data["tasks"][0]).mean() > 0.8
    assert [s.adjusted_p_value for s in r.slices] == sorted(s.adjusted_p_value for s in r.slices)
    assert r.num_significant == len(r.slices) and r.num_clusters_tested == len(r.clusters) > 0
    assert r.total_prompts == len(data["prompts"]) and r.scoring_mode == "precomputed"
    assert r.baseline_failure_rate == pytest.approx(r.total_failures / r.total_prompts)
    assert r.clustering_method == "agglomerative"
    assert r.metadata["scoring_metadata"] == {}
    summary = r.summary()
    assert isinstance(summary, str) and "\n" not in summary and top.name in summary
    assert isinstance(str(r), str) and r.to_dict()["num_clusters_tested"] == r.num_clusters_tested


def test_no_slice_summary(analyzer: SliceAnalyzer, data: dict[str, Any]) -> None:
    report = analyzer.analyze(data["prompts"], data["responses"], [0.9] * len(data["prompts"]))
    assert report.slices == [] and report.num_significant == 0
    assert "No failure slice" in report.summary()


def test_scoring_metadata_by_mode(analyzer: SliceAnalyzer, data: dict[str, Any]) -> None:
    n = 40
    prompts, responses = data["prompts"][:n], data["responses"][:n]
    small = SliceAnalyzer(min_slice_size=10, clustering_method="agglomerative")
    # mode 2 differs from 0.5.0's (cos + 1) / 2 rule: warned about (README table)
    with pytest.warns(faultmap.CompatibilityWarning):
        reference = small.analyze(prompts, responses, references=data["references"][:n])
    assert reference.scoring_mode == "reference"
    assert set(reference.metadata["scoring_metadata"]) >= {"embedding_model"}
    assert reference.metadata["scoring_metadata"]["reference_match"] == "auto"
    assert "MiniLM" in reference.metadata["scoring_metadata"]["embedding_model"]

    sampled = SliceAnalyzer(
        llm_client=fake_llm_client(lambda m: "yes" if len(m[0]["content"]) % 2 else "no"),
        n_samples=3,
        temperature=0.7,
        min_slice_size=10,
        clustering_method="agglomerative",
    ).analyze(prompts, responses)
    meta = sampled.metadata["scoring_metadata"]
    assert sampled.scoring_mode == "entropy"
    assert meta["n_samples"] == 3 and meta["temperature"] == 0.7
    for key in ("semantic_entropy", "self_consistency", "normalized_entropy", "scores"):
        assert len(meta[key]) == n, key
    assert all(0 <= x <= 1 for x in meta["normalized_entropy"] + meta["self_consistency"])
    # 0.5.0's meaning: entropy of the samples alone. The fake answers each prompt the same
    # way every time, so the samples always agree (entropy 0) whatever the response said;
    # the entropy the score uses, with the response, is under its own name.
    assert meta["semantic_entropy"] == [0.0] * n and meta["normalized_entropy"] == [0.0] * n
    assert len(meta["entropy_with_response"]) == n
    # the same report read back from its JSON keeps it
    assert AnalysisReport.from_json(sampled.to_json()).metadata["scoring_metadata"] == meta


def test_scoring_result_is_050s_record_and_a_custom_scorer_may_return_it(
    data: dict[str, Any],
) -> None:
    result = ScoringResult(scores=[0.2, 0.9], mode="precomputed")
    assert result.metadata == {} and [f.name for f in dataclasses.fields(result)] == [
        "scores",
        "mode",
        "metadata",
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.mode = "entropy"  # type: ignore[misc]

    class JudgeScorer:
        mode = "judge"

        def score(self, prompts: list[str], responses: list[str]) -> ScoringResult:
            return ScoringResult(list(data["scores"]), self.mode, {"judge": "rubric-v2"})

    report = SliceAnalyzer(clustering_method="agglomerative").analyze(
        data["prompts"], data["responses"], scorer=JudgeScorer()
    )
    assert report.scoring_mode == "judge" and report.slices
    assert report.metadata["scoring_metadata"] == {"judge": "rubric-v2"}


# -- coverage reports --------------------------------------------------------------------------


def test_coverage_report_reads_as_in_050(coverage: CoverageReport, data: dict[str, Any]) -> None:
    r = coverage
    _assert_050_fields(r)
    assert r.num_gaps == len(r.gaps) and r.num_production_prompts == len(data["prompts"])
    assert 0 <= r.overall_coverage_score <= 1 and r.distance_threshold >= 0
    for g in r.gaps:
        _assert_050_fields(g)
        assert g.size == len(g.prompt_indices) and g.cluster_id == g.region_id
    meta = r.metadata
    for key in (
        "num_uncovered_total",
        "num_clustered_uncovered",
        "num_unclustered_uncovered",
        "unclustered_prompt_indices",
    ):
        assert key in meta, key
    assert meta["num_unclustered_uncovered"] == len(meta["unclustered_prompt_indices"])
    assert (
        meta["num_clustered_uncovered"] + meta["num_unclustered_uncovered"]
        == meta["num_uncovered_total"]
    )
    summary = r.summary()
    assert isinstance(summary, str) and "\n" not in summary
    if r.gaps:
        assert r.gaps[0].name in summary


# -- comparison reports ------------------------------------------------------------------------


def test_comparison_report_reads_as_in_050(comparison: ComparisonReport) -> None:
    r = comparison
    _assert_050_fields(r)
    assert r.global_test_used in MCNEMAR_050 and r.global_winner in {"a", "b", "tie"}
    assert r.slices, "model A's failing task must come back as a slice"
    assert r.num_significant == len(r.slices)
    assert r.num_clusters_tested == len(r.tested_slices) >= len(r.slices)
    assert [s.adjusted_p_value for s in r.slices] == sorted(s.adjusted_p_value for s in r.slices)
    for s in r.slices:  # only significant slices, as in 0.5.0
        _assert_050_fields(s)
        assert s.winner in {"a", "b"} and s.adjusted_p_value < r.significance_level
        b, c = s.discordant_a_wins, s.discordant_b_wins
        assert b / (b + c) == s.advantage_rate  # never divides by zero
        assert s in r.tested_slices
    for s in r.tested_slices:
        b, c = s.discordant_a_wins, s.discordant_b_wins
        assert s.concordant_pass + s.concordant_fail + b + c == s.size
        assert s.failure_rate_diff == pytest.approx(s.failure_rate_a - s.failure_rate_b)
        fails_a = round(s.failure_rate_a * s.size)
        assert s.concordant_fail + c == fails_a
        assert s.test_used in MCNEMAR_050
        expected = "none" if b + c == 0 else "mcnemar_exact" if b + c < 25 else "mcnemar_chi2"
        assert s.test_used == expected
        assert all(e["score_a"] != e["score_b"] for e in s.examples)  # discordant only
        assert all(
            {"prompt", "response_a", "response_b", "score_a", "score_b"} <= set(e)
            for e in s.examples
        )
    assert any(s.winner == "tie" for s in r.tested_slices)
    summary = r.summary()
    assert isinstance(summary, str) and r.slices[0].name in summary
    back = ComparisonReport.from_json(r.to_json())
    assert back == r and back.slices == r.slices and back.tested_slices == r.tested_slices


def test_old_comparison_files_with_short_test_names_load() -> None:
    old = ComparisonReport.from_json(ROOT / "tests" / "data" / "old_comparison_report.json")
    assert {s.test_used for s in old.tested_slices} <= MCNEMAR_050
    assert old.global_test_used in MCNEMAR_050
    assert all(s.winner != "tie" for s in old.slices) and len(old.tested_slices) > len(old.slices)


def test_a_050_style_llm_setup_is_warned_that_embedding_runs_locally() -> None:
    """0.5.0 embedded through the API when only ``model=`` was given; here the default is
    the local model (README, Differences). Naming the model silences the warning."""
    analyzer = SliceAnalyzer(model="gpt-4o-mini", embedding_cache=False)
    assert analyzer.embedding_model == "all-MiniLM-L6-v2"  # still the plain name
    with pytest.warns(faultmap.CompatibilityWarning, match="text-embedding-3-small"):
        analyzer._get_embedder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SliceAnalyzer(embedding_cache=False)._get_embedder()  # no LLM: nothing to compare
        SliceAnalyzer(
            model="gpt-4o-mini", embedding_model="all-MiniLM-L6-v2", embedding_cache=False
        )._get_embedder()
