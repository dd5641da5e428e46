"""Two-model comparison: McNemar per slice with BH, the three scoring modes, reports, bad
input. Slow tests use real MiniLM vectors of real BIG-bench prompts and real HDBSCAN."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from html import escape
from typing import Any

import numpy as np
import pytest
from scipy import stats

from faultmap import (
    ComparisonReport,
    CompatibilityWarning,
    ConfigurationError,
    DataError,
    SliceAnalyzer,
    SliceComparison,
)
from faultmap.clustering import FixedLabels, HDBSCANClusterer
from faultmap.comparison import advantage_rate, winner
from faultmap.embedding import PrecomputedEmbedder
from faultmap.naming import SliceContext, SliceLabel
from faultmap.testing import fake_llm_client, planted_failures, planted_prompts

TOPICS = ("taxes", "baking", "translation", "travel")
DATA = planted_prompts(320, TOPICS, dim=16, seed=0)  # rows come topic by topic
N = len(DATA)


def _scores(seed: int, planted: str | None, better: str = "a") -> tuple[np.ndarray, np.ndarray]:
    """Both models fail 20 % at random; on ``planted`` the better one fails 5 %, the other
    70 %."""
    good = {planted: 0.05} if planted is not None else {}
    bad = {planted: 0.7} if planted is not None else {}
    rates_a, rates_b = (good, bad) if better == "a" else (bad, good)
    common = dict(baseline=0.2, exact=False)
    fail_a = planted_failures(DATA.groups, rates_a, seed=2 * seed, **common)
    fail_b = planted_failures(DATA.groups, rates_b, seed=2 * seed + 1, **common)
    return (~fail_a).astype(float), (~fail_b).astype(float)


def _compare(scores_a: Any, scores_b: Any, analyzer: SliceAnalyzer | None = None, **kw: Any):
    analyzer = analyzer or SliceAnalyzer(clustering_method=FixedLabels(list(DATA.groups)))
    return analyzer.compare_models(
        DATA.prompts,
        [f"answer A {i}" for i in range(N)],
        [f"answer B {i}" for i in range(N)],
        scores_a=scores_a,
        scores_b=scores_b,
        embeddings=DATA.vectors,
        **kw,
    )


def _majority(report_slice: SliceComparison, topics: np.ndarray) -> str:
    return Counter(topics[report_slice.sample_indices]).most_common(1)[0][0]


# -- small pieces --------------------------------------------------------------------------


def test_advantage_rate_and_winner_rules() -> None:
    assert advantage_rate(30, 10) == 0.75 and advantage_rate(0, 0) == 0.5
    assert winner(30, 10, 0.01, 0.05) == "a"
    assert winner(10, 30, 0.01, 0.05) == "b"
    assert winner(30, 10, 0.05, 0.05) == "tie"  # not below the level
    assert winner(0, 0, 1.0, 0.05) == "tie"


# -- comparisons on synthetic topics (fast) ------------------------------------------------


@pytest.mark.parametrize("better", ["a", "b"])
def test_the_topic_where_models_differ_is_the_only_non_tie(better: str) -> None:
    scores_a, scores_b = _scores(1, "baking", better)
    report = _compare(scores_a, scores_b, model_a_name="alpha", model_b_name="beta")
    winners = {_majority(s, DATA.groups): s.winner for s in report.tested_slices}
    assert winners == {"baking": better, "taxes": "tie", "translation": "tie", "travel": "tie"}
    assert report.num_significant_slices == report.num_significant == 1
    assert report.num_clusters_tested == len(report.tested_slices) == 4
    (top,) = report.slices  # only the significant slices, as in faultmap 0.5.0
    assert top == report.tested_slices[0]
    assert top.significant and top.winner == better
    assert (top.advantage_rate > 0.5) == (better == "a")
    assert top.test_used == "mcnemar_chi2" and top.adjusted_p_value < 0.05
    assert report.winner_name(top.winner) == {"a": "alpha", "b": "beta"}[better]


def test_counts_and_p_values_can_be_recomputed() -> None:
    scores_a, scores_b = _scores(2, "taxes")
    report = _compare(scores_a, scores_b)
    fa, fb = scores_a < 0.5, scores_b < 0.5
    assert report.discordant_a_wins == int((~fa & fb).sum())
    assert report.discordant_b_wins == int((fa & ~fb).sum())
    assert report.failure_rate_a == pytest.approx(fa.mean())
    a, b = report.discordant_a_wins, report.discordant_b_wins
    assert report.global_advantage_rate == pytest.approx(a / (a + b))
    statistic = max(abs(a - b) - 1, 0) ** 2 / (a + b)
    assert report.global_p_value == pytest.approx(stats.chi2.sf(statistic, 1), rel=1e-12)
    raw = []
    for s in report.tested_slices:
        idx = np.array(s.sample_indices)
        assert s.discordant_a_wins == int((~fa[idx] & fb[idx]).sum())
        assert s.discordant_b_wins == int((fa[idx] & ~fb[idx]).sum())
        assert s.concordant_pass == int((~fa[idx] & ~fb[idx]).sum())
        assert s.concordant_fail == int((fa[idx] & fb[idx]).sum())
        assert s.failure_rate_diff == pytest.approx(fa[idx].mean() - fb[idx].mean())
        assert s.failure_rate_b == pytest.approx(fb[idx].mean())
        raw.append(s.p_value)
    adjusted = stats.false_discovery_control(raw, method="bh")
    np.testing.assert_allclose([s.adjusted_p_value for s in report.tested_slices], adjusted)
    for s in report.tested_slices:
        for e in s.examples:
            i = e["index"]
            assert e["won_by"] == ("a" if fb[i] and not fa[i] else "b")
            assert e["response_a"] == f"answer A {i}"


def test_small_slices_use_the_exact_test_and_big_ones_chi2() -> None:
    scores_a, scores_b = np.ones(N), np.ones(N)
    topics = DATA.groups
    travel = np.flatnonzero(topics == "travel")
    baking = np.flatnonzero(topics == "baking")
    scores_b[travel[:24]] = 0.0  # 24 discordant pairs: exact
    scores_b[baking[:25]] = 0.0  # 25 discordant pairs: chi-squared
    report = _compare(scores_a, scores_b)
    by_topic = {_majority(s, topics): s for s in report.tested_slices}
    assert by_topic["travel"].test_used == "mcnemar_exact"
    assert by_topic["travel"].p_value == pytest.approx(stats.binomtest(24, 24).pvalue)
    assert by_topic["baking"].test_used == "mcnemar_chi2"
    assert by_topic["travel"].winner == by_topic["baking"].winner == "a"
    # no discordant pair: p = 1 and a tie
    assert by_topic["taxes"].test_used == "none"
    assert by_topic["taxes"].p_value == 1.0 and by_topic["taxes"].winner == "tie"
    assert by_topic["taxes"].advantage_rate == 0.5


def test_identical_outcomes_are_a_tie_without_slices() -> None:
    scores = _scores(3, None)[0]
    report = _compare(scores, scores)
    assert report.global_winner == "tie" and report.global_p_value == 1.0
    assert report.global_test_used == "none" and report.slices == report.tested_slices == []
    assert report.num_clusters_tested == report.num_significant == 0
    assert report.discordant_a_wins == report.discordant_b_wins == 0
    assert "no discordant pairs" in report.metadata["note"]
    assert "tie" in str(report)


def test_report_round_trip_and_views(tmp_path) -> None:
    scores_a, scores_b = _scores(4, "translation", "b")
    report = _compare(scores_a, scores_b, model_a_name="<gpt>", model_b_name="llama & co")
    path = tmp_path / "comparison.json"
    report.to_json(path)
    assert ComparisonReport.from_json(path) == report
    assert ComparisonReport.from_dict(json.loads(report.to_json())) == report
    text = str(report)
    assert "model comparison" in text and "llama & co is significantly better" in text
    assert "Ties:" in text
    assert "ComparisonReport('<gpt>' vs 'llama & co'" in repr(report)
    html = report._repr_html_()
    assert "<gpt>" not in html and escape("<gpt>") in html and escape("llama & co") in html
    assert report.slices[0].name in str(report.slices[0])


class RecordingNamer:
    def __init__(self) -> None:
        self.seen: list[SliceContext] = []

    def name(self, slices: list[SliceContext]) -> list[SliceLabel]:
        self.seen.extend(slices)
        return [SliceLabel(name="Cake questions", description="d", source="llm") for _ in slices]


def test_only_significant_slices_go_to_the_namer_ties_get_keyword_names() -> None:
    namer = RecordingNamer()
    analyzer = SliceAnalyzer(clustering_method=FixedLabels(list(DATA.groups)), namer=namer)
    report = _compare(*_scores(5, "baking"), analyzer, model_a_name="x")
    assert len(namer.seen) == 1
    ctx = namer.seen[0]
    assert ctx.kind == "comparison" and ctx.model_names == ("x", "Model B")
    stats_ = dict(ctx.statistics)
    assert stats_["failure_rate_a"] < stats_["failure_rate_b"]
    assert ctx.failing_examples and all(score < 0.5 for _, _, score in ctx.failing_examples)
    assert report.tested_slices[0].naming_source == "llm"
    assert all(s.naming_source == "keywords" for s in report.tested_slices[1:])
    assert len({s.name for s in report.tested_slices}) == len(report.tested_slices)


def test_hdbscan_on_the_prompts_finds_the_same_slice() -> None:
    scores_a, scores_b = _scores(6, "travel", "b")
    analyzer = SliceAnalyzer(clustering_method=HDBSCANClusterer(), min_slice_size=15)
    report = _compare(scores_a, scores_b, analyzer)
    significant = [s for s in report.slices if s.significant]
    assert [(_majority(s, DATA.groups), s.winner) for s in significant] == [("travel", "b")]
    assert len(report.cluster_labels) == N


def test_async_twin_returns_the_same_report() -> None:
    scores = _scores(7, "taxes")
    analyzer = SliceAnalyzer(clustering_method=FixedLabels(list(DATA.groups)))
    a = _compare(*scores, analyzer)
    b = asyncio.run(
        analyzer.acompare_models(
            DATA.prompts,
            [f"answer A {i}" for i in range(N)],
            [f"answer B {i}" for i in range(N)],
            scores_a=scores[0],
            scores_b=scores[1],
            embeddings=DATA.vectors,
        )
    )
    da, db = a.to_dict(), b.to_dict()
    da["metadata"].pop("timings_s"), db["metadata"].pop("timings_s")
    assert da == db


# -- modes 2 and 3 ---------------------------------------------------------------------------

YES, CAKE = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]


def _response_embedder() -> PrecomputedEmbedder:
    return PrecomputedEmbedder({"yes": YES, "A recipe for lemon cake.": CAKE}, name="answers")


def test_mode_2_scores_both_models_against_the_same_references() -> None:
    topics = DATA.groups
    responses_b = ["A recipe for lemon cake." if t == "taxes" else "yes" for t in topics]
    analyzer = SliceAnalyzer(
        embedding_model=_response_embedder(),
        embedding_cache=False,
        clustering_method=FixedLabels(list(topics)),
    )
    with pytest.warns(CompatibilityWarning, match="80 rows by max"):  # 0.5.0 passed them
        report = analyzer.compare_models(
            DATA.prompts,
            ["yes"] * N,
            responses_b,
            references=["yes"] * N,
            embeddings=DATA.vectors,
        )
    assert report.scoring_mode == "reference"
    assert report.failure_rate_a == 0.0 and report.failure_rate_b == pytest.approx(0.25)
    assert [(_majority(s, topics), s.winner) for s in report.slices if s.significant] == [
        ("taxes", "a")
    ]


def test_mode_3_scores_each_models_responses_and_leaves_out_unscored_rows() -> None:
    doomed = set(DATA.prompts[:3])
    client = fake_llm_client(
        lambda messages: (
            RuntimeError("provider exploded") if messages[0]["content"] in doomed else "yes"
        ),
        model="fake",
        max_retries=0,
        circuit_breaker=None,
    )
    topics = DATA.groups
    analyzer = SliceAnalyzer(
        llm_client=client,
        n_samples=2,
        embedding_model=_response_embedder(),
        embedding_cache=False,
        clustering_method=FixedLabels(list(topics[3:])),
    )
    responses_a = ["A recipe for lemon cake." if t == "translation" else "yes" for t in topics]
    report = analyzer.compare_models(
        DATA.prompts, responses_a, ["yes"] * N, embeddings=DATA.vectors
    )
    assert report.scoring_mode == "entropy"
    assert report.metadata["unscored_indices"] == [0, 1, 2]
    assert report.total_prompts == N - 3 and report.cluster_labels[:3] == [-2] * 3
    assert [(_majority(s, topics), s.winner) for s in report.slices if s.significant] == [
        ("translation", "b")
    ]
    assert report.metadata["llm"]["failed"] == 2 * 3 * 2  # 3 prompts x 2 samples x 2 models


def test_mode_3_without_a_model_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="mode 3"):
        SliceAnalyzer().compare_models(DATA.prompts, ["a"] * N, ["b"] * N, embeddings=DATA.vectors)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(scores_b=None), DataError, "'scores_a' was given but 'scores_b' was not"),
        (dict(scores_a=None), DataError, "'scores_b' was given but 'scores_a' was not"),
        (dict(responses_b=["b"] * (N - 1)), DataError, "'responses_b' has 319 entries"),
        (dict(responses_a=["a"] * (N + 1)), DataError, "'responses_a' has 321 entries"),
        (dict(scores_b=[0.5] * 10), DataError, "'scores_b' has 10 values"),
        (dict(scores_a=[2.0] * N), DataError, r"'scores_a' must lie in \[0, 1\]"),
        (dict(prompts=[], responses_a=[], responses_b=[]), DataError, "fewer than min_slice"),
        (dict(embeddings=DATA.vectors[:5]), DataError, "'embeddings' has 5 rows"),
        (dict(model_b_name="Model A"), ConfigurationError, "must differ"),
        (dict(model_a_name=""), ConfigurationError, "'model_a_name' parameter"),
        (dict(references=["r"] * 3, scores_a=None, scores_b=None), DataError, "'references'"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict, error: type, match: str) -> None:
    args: dict[str, Any] = dict(
        prompts=DATA.prompts,
        responses_a=["a"] * N,
        responses_b=["b"] * N,
        scores_a=[0.9] * N,
        scores_b=[0.1] * N,
        embeddings=DATA.vectors,
    )
    args.update(kwargs)
    with pytest.raises(error, match=match):
        SliceAnalyzer(embedding_model=PrecomputedEmbedder({}, name="none")).compare_models(**args)


def test_scores_and_references_together_warn_and_use_the_scores() -> None:
    with pytest.warns(UserWarning, match="using the scores"):
        report = _compare(np.ones(N), np.ones(N), references=["r"] * N)
    assert report.scoring_mode == "precomputed"


# -- real prompts, real embedder vectors, real HDBSCAN (slow) -------------------------------


class _ClusterOnce:
    """The real HDBSCAN clusterer, run once: clustering never sees the scores."""

    def __init__(self) -> None:
        self.inner = HDBSCANClusterer()
        self.name = self.inner.name
        self.labels: np.ndarray | None = None

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
        if self.labels is None:
            self.labels = self.inner.fit_predict(vectors, min_cluster_size=min_cluster_size)
        return self.labels


@pytest.fixture(scope="module")
def cluster_once() -> _ClusterOnce:
    return _ClusterOnce()


def _real_compare(real_subset: dict, analyzer: SliceAnalyzer, fail_a, fail_b) -> ComparisonReport:
    n = len(real_subset["prompts"])
    return analyzer.compare_models(
        real_subset["prompts"],
        [""] * n,
        [""] * n,
        scores_a=(~fail_a).astype(float),
        scores_b=(~fail_b).astype(float),
        embeddings=real_subset["vectors"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("better", ["a", "b"])
def test_models_differing_on_one_task_win_that_slice_only(real_subset, cluster_once, better):
    tasks = real_subset["tasks"]
    n = len(tasks)
    rng = np.random.default_rng(11 if better == "a" else 12)
    on = tasks == "navigate"
    good, bad = rng.random(n) < 0.1, rng.random(n) < 0.6
    same_a, same_b = rng.random(n) < 0.2, rng.random(n) < 0.2
    fail_a = np.where(on, good if better == "a" else bad, same_a)
    fail_b = np.where(on, bad if better == "a" else good, same_b)
    report = _real_compare(
        real_subset, SliceAnalyzer(clustering_method=cluster_once), fail_a, fail_b
    )
    significant = [s for s in report.slices if s.significant]
    assert significant, "the planted difference must be found"
    for s in significant:
        task, count = Counter(tasks[s.sample_indices]).most_common(1)[0]
        assert task == "navigate", f"false slice {s.name!r} is mostly {task!r}"
        assert count / s.size >= 0.8 and s.winner == better
    covered = sum(s.size for s in significant)
    assert covered >= 0.7 * on.sum()
    assert len(report.tested_slices) >= 8, "every tested cluster is reported, ties included"
    assert report.slices == significant


@pytest.mark.slow
def test_models_that_differ_nowhere_tie_everywhere_in_95_percent_of_runs(real_subset, cluster_once):
    """Both models fail 25 % of prompts, independently: McNemar + BH must stay quiet."""
    n = len(real_subset["prompts"])
    analyzer = SliceAnalyzer(clustering_method=cluster_once)
    runs, any_slice, global_, anywhere = 100, 0, 0, 0
    for seed in range(runs):
        rng = np.random.default_rng(5000 + seed)
        report = _real_compare(real_subset, analyzer, rng.random(n) < 0.25, rng.random(n) < 0.25)
        slice_found = any(s.significant for s in report.slices)
        any_slice += slice_found
        global_ += report.global_winner != "tie"
        anywhere += slice_found or report.global_winner != "tie"
    assert len(report.tested_slices) >= 8, "the null test needs a real family of tested slices"
    assert any_slice <= 0.05 * runs  # BH across slices
    assert global_ <= 0.05 * runs  # the global test at its level
    assert anywhere <= 0.05 * runs  # "tie" everywhere, global verdict included
