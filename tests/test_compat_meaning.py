"""Issue 13, the meaning half: names faultmap 0.5.0 users rely on keep 0.5.0's meaning, new
behaviour has new names, and deliberate differences warn (real embedder, no LLM)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultmap import (
    CompatibilityWarning,
    ConfigurationError,
    CoverageGap,
    CoverageMeaningWarning,
    CoverageReport,
    FaultmapWarning,
    SliceAnalyzer,
    stages,
)
from faultmap.embedding import PrecomputedEmbedder, SentenceTransformerEmbedder
from faultmap.metrics import confidence_gap, misclassification_summary
from faultmap.reports.models import cosine_to_euclidean, euclidean_to_cosine
from faultmap.scoring.reference import (
    SHORT_ANSWER_WORDS,
    ReferenceScorer,
    answers_match,
    is_short_answer,
    normalize_answer,
    parse_number,
)
from tests.strategies import property_settings

# -- the exact / numeric matcher ---------------------------------------------------------------

answers = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30
)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéß", min_size=1, max_size=8)


@property_settings
@given(answers)
def test_normalising_is_idempotent_and_matching_reflexive(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once
    assert answers_match(text, text)


@property_settings
@given(answers, answers)
def test_matching_is_symmetric(a: str, b: str) -> None:
    assert answers_match(a, b) == answers_match(b, a)


@property_settings
@given(st.lists(words, min_size=1, max_size=4), st.sampled_from([" ", "-", "_", " / ", "  "]))
def test_case_punctuation_and_separators_do_not_matter(parts: list[str], sep: str) -> None:
    plain = " ".join(parts)
    assert answers_match(sep.join(p.upper() for p in parts) + ".", plain)
    assert answers_match(f'"{plain}"!', plain)
    assert is_short_answer(plain)


@property_settings
@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_numbers_match_by_value(n: int) -> None:
    assert answers_match(str(n), f"{n:,}") and answers_match(f"{n}.0", str(n))
    assert parse_number(f" {n:,}. ") == float(n)
    assert not answers_match(str(n), str(n + 1))


@pytest.mark.parametrize(
    "response, reference, same",
    [
        ("three", "3", True),
        ("Twelve", "12.0", True),
        ("thirteen", "twelve", False),
        ("Yes.", "yes", True),
        ("no", "yes", False),
        ("non-entailment", "Non Entailment", True),
        ("entailment", "non-entailment", False),
        ("book_restaurant", "book restaurant", True),
        ("08/31/2003", "08-31-2003", True),
        ("08/31/2074", "08/31/2003", False),
        ("implausible", "plausible", False),
        ("3 apples", "3", False),
    ],
)
def test_exact_rule_examples(response: str, reference: str, same: bool) -> None:
    assert answers_match(response, reference) is same


def test_short_means_at_most_four_words() -> None:
    assert SHORT_ANSWER_WORDS == 4
    assert is_short_answer("The Shawshank Redemption") and is_short_answer("a b-c d")
    assert not is_short_answer("Got an A on her test") and not is_short_answer(" ?! ")


# -- mode 2 with the real embedder --------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def test_auto_scores_short_answers_exactly_and_warns_with_the_count(embedder) -> None:
    refs = ["yes", "entailment", "08/31/2003", "Paris is the capital city of France."]
    responses = ["no", "non-entailment", "08/31/2074", "The capital of France is Paris."]
    with pytest.warns(CompatibilityWarning, match=r"fails 3 of 4 rows by exact match") as rec:
        result = ReferenceScorer(refs, embedder).score(["q"] * 4, responses)
    assert len(rec) == 1 and issubclass(CompatibilityWarning, FaultmapWarning)
    a, b = embedder.embed(responses[3:]), embedder.embed(refs[3:])
    assert result.scores[:3].tolist() == [0.0, 0.0, 0.0]
    assert result.scores[3] == pytest.approx(max(0.0, float(a[0] @ b[0])), abs=1e-5)
    meta = result.metadata
    assert (meta["num_exact_match_rows"], meta["num_cosine_rows"]) == (3, 1)
    assert meta["num_rows_differing_from_050"] == 3 and meta["reference_match"] == "auto"
    # Cosine alone passes those wrong short answers (as 0.5.0 did, so no warning): the
    # reason for the exact rule.
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompatibilityWarning)
        cosine = ReferenceScorer(refs, embedder, match="cosine").score(["q"] * 4, responses)
    assert (cosine.scores[:3] >= 0.5).all()


def test_cosine_rule_counts_what_0_5_0_judged_otherwise(embedder) -> None:
    refs = ["The invoice was paid in full last March.", "A cat sat on the mat near the door."]
    responses = ["Quantum chromodynamics describes the strong force.", "A cat sat on the mat."]
    with pytest.warns(CompatibilityWarning) as rec:
        result = ReferenceScorer(refs, embedder, match="cosine").score(["q"] * 2, responses)
    cos = np.einsum("ij,ij->i", embedder.embed(responses), embedder.embed(refs))
    old_fail, new_fail = (cos + 1) / 2 < 0.5, np.maximum(cos, 0) < 0.5
    assert result.metadata["num_rows_differing_from_050"] == int((old_fail != new_fail).sum())
    assert result.metadata["num_rows_differing_from_050"] >= 1 and len(rec) == 1


def test_exact_rule_embeds_nothing_and_matching_answers_do_not_warn() -> None:
    nothing = PrecomputedEmbedder({}, name="empty")  # raises if asked for any vector
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ReferenceScorer(["Yes", "3"], nothing, match="exact").score(
            ["q1", "q2"], ["yes.", "three"]
        )
        auto = ReferenceScorer(["Yes", "3"], nothing).score(["q1", "q2"], ["yes.", "three"])
    assert result.scores.tolist() == auto.scores.tolist() == [1.0, 1.0]
    assert result.metadata["num_rows_differing_from_050"] == 0


def test_analyzer_parameter_table_and_mode_2_report(sample_rows) -> None:
    with pytest.raises(ConfigurationError, match=r"'reference_match' parameter of SliceAnalyzer"):
        SliceAnalyzer(reference_match="fuzzy")
    rows = [r for r in sample_rows if r["task"] in ("implicatures", "navigate")][:60]
    prompts = [r["prompt"] for r in rows]
    responses = [r["response"] for r in rows]
    refs = [r["reference"] for r in rows]
    analyzer = SliceAnalyzer(embedding_cache=False, min_slice_size=5)
    with pytest.warns(CompatibilityWarning, match="faultmap 0.5.0"):
        report = analyzer.analyze(prompts, responses, references=refs)
    wrong = sum(a != b for a, b in zip(responses, refs, strict=True))
    assert report.scoring_mode == "reference" and wrong > 0
    assert report.metadata["num_exact_match_rows"] == 60
    assert report.metadata["num_rows_differing_from_050"] == wrong
    assert report.rows.num_analysed == 60
    assert report.baseline_failure_rate == pytest.approx(wrong / 60)


def test_n_samples_1_is_accepted_and_warned_about_in_mode_3(embedder) -> None:
    with pytest.warns(CompatibilityWarning, match="n_samples=1"):
        scorer = stages.scorer_for(
            None,
            object(),  # any client: the scorer is only built
            lambda: embedder,
            n_samples=1,
            temperature=1.0,
            consistency_threshold=0.8,
        )
    assert scorer.n_samples == 1
    SliceAnalyzer(n_samples=1)  # no warning until mode 3 runs


# -- coverage distances on faultmap 0.5.0's scale -----------------------------------------------


def _unit_circle(angles) -> np.ndarray:
    a = np.asarray(angles, dtype=np.float64)
    return np.stack([np.cos(a), np.sin(a), np.zeros_like(a)], axis=1).astype(np.float32)


def _audit(**kwargs) -> CoverageReport:
    test = _unit_circle(np.linspace(0, 0.2, 20))
    production = _unit_circle(np.linspace(0, np.pi, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoverageMeaningWarning)
        return SliceAnalyzer().audit_coverage(
            [f"test {i}" for i in range(20)],
            [f"production {i}" for i in range(40)],
            test_embeddings=test,
            production_embeddings=production,
            **kwargs,
        )


def test_distance_threshold_means_what_it_meant_in_0_5_0() -> None:
    report = _audit(distance_threshold=0.5)
    euclid = np.sqrt(2 * np.array(report.nearest_test_distances))
    assert report.distance_coverage_score == pytest.approx((euclid <= 0.5 + 1e-6).mean())
    assert report.distance_threshold == 0.5 and report.cosine_distance_threshold == 0.125
    same = _audit(cosine_distance_threshold=0.125)
    assert same.distance_coverage_score == report.distance_coverage_score
    assert same.distance_threshold == pytest.approx(0.5)
    for gap in report.gaps:
        d = np.array(report.nearest_test_distances)[gap.prompt_indices]
        assert gap.mean_distance == pytest.approx(np.sqrt(2 * d).mean())
        assert gap.cosine_mean_distance == pytest.approx(d.mean())


def test_thresholds_above_2_cover_everything_as_in_0_5_0() -> None:
    report = _audit(distance_threshold=3.0)
    assert report.distance_threshold == 3.0 and report.cosine_distance_threshold == 2.0
    assert report.distance_coverage_score == 1.0 and report.num_uncovered == 0
    with pytest.raises(ConfigurationError, match="not both"):
        _audit(distance_threshold=0.5, cosine_distance_threshold=0.1)
    with pytest.raises(ConfigurationError, match="'cosine_distance_threshold' parameter"):
        _audit(cosine_distance_threshold=2.5)


def test_default_threshold_reported_on_both_scales() -> None:
    report = _audit()
    assert report.distance_threshold == pytest.approx(
        cosine_to_euclidean(report.cosine_distance_threshold)
    )
    assert CoverageReport.from_json(report.to_json()) == report  # no second conversion
    assert euclidean_to_cosine(cosine_to_euclidean(0.3)) == pytest.approx(0.3)


def test_a_gap_written_with_a_cosine_mean_keeps_it_under_the_new_name() -> None:
    old = {
        "name": "g",
        "description": "",
        "size": 2,
        "mean_distance": 0.5,
        "representative_prompts": [],
        "prompt_indices": [0, 1],
        "p_value": 0.01,
        "adjusted_p_value": 0.02,
        "test_count": 0,
        "region_production_count": 2,
        "expected_test_count": 1.0,
    }
    gap = CoverageGap.from_dict(old)
    assert gap.cosine_mean_distance == 0.5 and math.isnan(gap.mean_distance)
    assert CoverageGap.from_dict(gap.to_dict()).cosine_mean_distance == 0.5


def test_cli_takes_the_threshold_on_either_scale() -> None:
    from faultmap.cli._parser import build_parser

    parser = build_parser()
    args = parser.parse_args(["coverage", "t.csv", "p.csv", "--cosine-distance-threshold", "0.1"])
    assert args.cosine_distance_threshold == 0.1 and args.distance_threshold is None
    with pytest.raises(SystemExit):
        both = ["--distance-threshold", "1", "--cosine-distance-threshold", "1"]
        parser.parse_args(["coverage", "t.csv", "p.csv", *both])
    args = parser.parse_args(["analyze", "x.csv", "--reference-match", "exact"])
    assert args.reference_match == "exact"


# -- failure metrics read as the documented mappings --------------------------------------------


def test_misclassification_summary_reads_as_a_mapping_keyed_by_class() -> None:
    y_true = ["cat", "dog", "dog", "dog", "bird"]
    y_pred = ["cat", "cat", "dog", "cat", "bird"]
    probs = np.array(
        [[0.05, 0.9, 0.05], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.1, 0.6, 0.3], [0.95, 0.03, 0.02]]
    )
    summary = misclassification_summary(y_true, y_pred, probs, labels=["bird", "cat", "dog"])
    assert list(summary) == summary.keys() == ["bird", "cat", "dog"] and len(summary) == 3
    dog = summary["dog"]
    assert dog.keys() == [
        "support",
        "n_misclassified",
        "error_rate",
        "avg_misclassification_confidence",
        "top_mistake_indices",
    ]
    assert dict(dog.items()) == {
        "support": 3,
        "n_misclassified": 2,
        "error_rate": pytest.approx(2 / 3),
        "avg_misclassification_confidence": pytest.approx(0.7),
        "top_mistake_indices": [1, 3],
    }
    assert dog["error_rate"] == summary.for_label("dog").error_rate
    assert math.isnan(summary["cat"]["avg_misclassification_confidence"])
    assert "dog" in summary and "fish" not in summary and summary.get("fish") is None
    with pytest.raises(KeyError):
        summary["fish"]
    assert "support" in summary.to_dict()["classes"][0]  # the JSON keeps its own shape


def test_confidence_gap_reads_as_the_documented_mapping() -> None:
    gap_data = confidence_gap([0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.8, 0.4, 0.7], n_bins=20)
    assert gap_data.keys() == [
        "correct_confidence",
        "incorrect_confidence",
        "gap",
        "histogram_bins",
        "correct_hist",
        "incorrect_hist",
    ]
    assert gap_data["gap"] == gap_data.gap == pytest.approx(0.2)
    assert gap_data["histogram_bins"] is gap_data.bin_edges
    assert len(gap_data["histogram_bins"]) == 21
    assert gap_data["correct_hist"].sum() == 2 and gap_data["incorrect_hist"].sum() == 2
    assert sorted(gap_data["correct_confidence"].tolist()) == [0.8, 0.9]
    perfect = confidence_gap([0, 1], [0, 1], [0.2, 0.9])
    assert math.isnan(perfect.gap) and perfect["gap"] == 0.0  # 0.0 as documented
