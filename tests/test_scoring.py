"""Modes 2 and 3 with the real embedder; the LLM is litellm's mock_response or a fake."""

from __future__ import annotations

import numpy as np
import pytest

from faultmap import CompatibilityWarning, LLMError, SliceAnalyzer
from faultmap.embedding import SentenceTransformerEmbedder
from faultmap.scoring import ReferenceScorer, semantic_entropy_score
from faultmap.scoring.entropy import sample_entropy_nats
from faultmap.testing import HANG, FakeLLM, fake_llm_client


@pytest.fixture(scope="module")
def embedder():
    return SentenceTransformerEmbedder()


def test_sample_entropy_is_050s_semantic_entropy_in_nats():
    a, b = [1.0, 0.0], [0.0, 1.0]
    assert sample_entropy_nats(np.array([a]), 0.8) == 0.0
    assert sample_entropy_nats(np.array([a, a, a]), 0.8) == 0.0
    assert sample_entropy_nats(np.array([a, b, a, b]), 0.8) == pytest.approx(np.log(2))
    assert sample_entropy_nats(np.array([a, a, b]), 0.8) == pytest.approx(
        -(2 / 3) * np.log(2 / 3) - (1 / 3) * np.log(1 / 3)
    )


def test_semantic_entropy_hand_worked():
    agree = np.array([[1.0, 0.0]] * 4)
    assert semantic_entropy_score(agree, 0.8) == (1.0, 0.0, 1.0)
    spread = np.eye(4)  # four different meanings: H = 1, no sample agrees with the original
    score, h, c = semantic_entropy_score(spread, 0.8)
    assert (round(score, 12), round(h, 12), c) == (0.0, 1.0, 0.0)
    half = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    score, h, c = semantic_entropy_score(half, 0.8)
    assert h == pytest.approx(1 / 2)  # two classes of 2 among 4: ln 2 / ln 4
    assert c == pytest.approx(1 / 3)
    assert score == pytest.approx(0.5 * 0.5 + 0.5 / 3)


def test_reference_scores_are_cosines(embedder):
    refs = ["Paris is the capital of France.", "Water boils at 100 degrees Celsius."]
    responses = ["The capital of France is Paris.", ""]
    result = ReferenceScorer(refs, embedder).score(["q1", "q2"], responses)
    a, b = embedder.embed(responses[:1]), embedder.embed(refs[:1])
    assert result.scores[0] == pytest.approx(float(a[0] @ b[0]), abs=1e-5)
    assert result.scores[1] == 0.0  # empty response
    assert result.metadata["num_empty_responses"] == 1


def test_mode_2_through_analyze_warns_when_both_given(sample_rows):
    rows = sample_rows[:40]
    prompts = [r["prompt"] for r in rows]
    responses = [r["response"] for r in rows]
    refs = [r["reference"] for r in rows]
    analyzer = SliceAnalyzer(embedding_cache=False)
    with pytest.warns(CompatibilityWarning, match="faultmap 0.5.0"):  # wrong short answers
        report = analyzer.analyze(prompts, responses, references=refs)
    assert report.scoring_mode == "reference"
    with pytest.warns(UserWarning, match="using scores"):
        report = analyzer.analyze(prompts, responses, scores=[0.9] * 40, references=refs)
    assert report.scoring_mode == "precomputed"


@pytest.mark.filterwarnings("ignore::faultmap.exceptions.CompatibilityWarning")
def test_mode_3_through_litellm_mock_response(sample_rows):
    rows = sample_rows[:20]
    analyzer = SliceAnalyzer(
        model="gpt-4o-mini",
        n_samples=3,
        llm_completion_kwargs={"mock_response": "The answer is no."},
        embedding_cache=False,
    )
    report = analyzer.analyze([r["prompt"] for r in rows], ["The answer is no."] * 20)
    assert report.scoring_mode == "entropy"
    assert report.total_failures == 0  # every sample agrees with the original
    assert report.metadata["llm"]["succeeded"] == 60
    assert report.metadata["semantic_entropy"] == [0.0] * 20


def test_mode_3_without_model_is_a_clear_error():
    with pytest.raises(ValueError, match="model"):
        SliceAnalyzer().analyze([f"prompt {i}" for i in range(10)], ["b"] * 10)


def test_mode_3_failed_sampling_is_reported_and_rest_kept(sample_rows):
    rows = sample_rows[:30]
    prompts = [r["prompt"] for r in rows]
    doomed = set(prompts[:4])
    client = fake_llm_client(
        lambda messages: (
            RuntimeError("provider exploded") if messages[0]["content"] in doomed else "yes"
        ),
        model="fake",
        max_retries=0,
        circuit_breaker=None,
    )
    analyzer = SliceAnalyzer(llm_client=client, n_samples=2, embedding_cache=False)
    responses = ["yes"] * 20 + ["A recipe for lemon cake with butter."] * 10  # 10 disagree
    report = analyzer.analyze(prompts, responses)
    assert report.metadata["unscored_indices"] == [0, 1, 2, 3]
    assert report.total_failures == 10
    assert report.total_prompts == 26
    assert report.cluster_labels[:4] == [-2] * 4
    assert report.metadata["llm"]["failed"] == 8


def test_dead_provider_trips_the_breaker_fast():
    dead = FakeLLM(HANG)  # never answers
    client = fake_llm_client(
        dead,
        model="fake",
        timeout=0.01,
        max_retries=1,
        max_concurrent_requests=1,
        circuit_breaker=3,
    )
    out = client.complete_many([[{"role": "user", "content": str(i)}] for i in range(50)])
    assert all(isinstance(o, LLMError) for o in out)
    assert len(dead.calls) == 6  # 3 calls x (1 try + 1 retry), then the circuit is open
    assert "treated as down" in str(out[-1])
