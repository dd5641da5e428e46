"""Scores and statistics stay inside their documented ranges despite floating-point round-off
(issue 14, point 6): mode 3 on prompts whose responses all disagree, for every n_samples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import property_settings

from faultmap import SliceAnalyzer
from faultmap._numeric import within
from faultmap.core.groups import centre
from faultmap.scoring.entropy import EntropyScorer, semantic_entropy_score
from faultmap.significance.tests import adjust, wilson_interval
from faultmap.testing import fake_llm_client


class OneHotEmbedder:
    """Each distinct text its own axis: distinct texts are orthogonal (cosine 0)."""

    identity = "one-hot"

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self.axes: dict[str, int] = {}

    def embed(self, texts, *, role="query"):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, self.axes.setdefault(t, len(self.axes))] = 1.0
        return out


def _disagreeing_client():
    counter = itertools.count()
    return fake_llm_client(lambda messages: f"answer number {next(counter)}", model="fake")


@pytest.mark.parametrize("n_samples", range(2, 21))
@pytest.mark.parametrize("agree", [True, False])
def test_entropy_scorer_in_range_for_every_n_samples(n_samples, agree):
    """Five disagreeing responses (n_samples=4) gave H = 1.0000000000000002, score -1.1e-16."""
    client = fake_llm_client("same", model="fake") if agree else _disagreeing_client()
    responses = ["same"] * 3 if agree else ["original 0", "original 1", "original 2"]
    result = EntropyScorer(client, OneHotEmbedder(), n_samples=n_samples).score(
        ["p0", "p1", "p2"], responses
    )
    scores = np.asarray(result.scores)
    entropy = np.asarray(result.metadata["semantic_entropy"])
    assert np.all((scores >= 0) & (scores <= 1)), scores
    assert np.all((entropy >= 0) & (entropy <= 1)), entropy
    expected = (1.0, 0.0) if agree else (0.0, 1.0)
    assert scores.tolist() == [expected[0]] * 3
    assert entropy.tolist() == [expected[1]] * 3


def test_mode_3_analysis_survives_full_disagreement():
    """The reported failure: the whole analysis stopped with 'outside [0, 1]'."""
    n = 12
    rng = np.random.default_rng(0)
    analyzer = SliceAnalyzer(
        llm_client=_disagreeing_client(),
        n_samples=4,
        embedding_model=OneHotEmbedder(),
        embedding_cache=False,
        min_slice_size=5,
        map_projection=None,
    )
    report = analyzer.analyze(
        [f"prompt {i}" for i in range(n)],
        [f"response {i}" for i in range(n)],
        embeddings=rng.normal(size=(n, 8)),
    )
    assert report.total_failures == n  # every prompt disagrees with itself: score 0


@st.composite
def response_classes(draw):
    """Unit vectors of m responses in 2..21 (n_samples 1..20) in classes: all one, all
    different, or random."""
    m = draw(st.integers(2, 21))
    kind = draw(st.sampled_from(["agree", "disagree", "random"]))
    if kind == "agree":
        labels = [0] * m
    elif kind == "disagree":
        labels = list(range(m))
    else:
        labels = draw(st.lists(st.integers(0, m - 1), min_size=m, max_size=m))
    return np.eye(m)[labels], labels


@property_settings
@given(response_classes())
def test_semantic_entropy_score_in_range(case):
    vectors, labels = case
    score, h, c = semantic_entropy_score(vectors, 0.8)
    assert 0.0 <= score <= 1.0 and 0.0 <= h <= 1.0 and 0.0 <= c <= 1.0
    if len(set(labels)) == 1:
        assert (score, h, c) == (1.0, 0.0, 1.0)
    if len(set(labels)) == len(labels):
        assert (score, h, c) == (0.0, 1.0, 0.0)


def test_within_clips_round_off_and_raises_beyond():
    assert within(1.0000000000000002, 0.0, 1.0, "x") == 1.0
    assert str(within(-0.0, 0.0, 1.0, "x")) == "0.0"
    assert np.isnan(within(float("nan"), 0.0, 1.0, "x"))
    assert within(np.array([-1e-12, 0.5, np.nan]), 0.0, 1.0, "x")[:2].tolist() == [0.0, 0.5]
    with pytest.raises(FloatingPointError, match=r"entropy is 1\.01"):
        within(1.01, 0.0, 1.0, "entropy")


@property_settings
@given(st.integers(0, 400), st.integers(1, 400))
def test_wilson_interval_in_unit_range(failures, size):
    failures = min(failures, size)
    low, high = wilson_interval(failures, size)
    assert 0.0 <= low <= high <= 1.0


@property_settings
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
    st.sampled_from(["bh", "by", "holm"]),
)
def test_adjusted_p_values_in_unit_range(p_values, method):
    adjusted = adjust(p_values, method)
    assert np.all((adjusted >= 0) & (adjusted <= 1))


def test_centre_similarities_in_range_for_float32_unit_vectors():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(200, 384))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    same = np.repeat(v[:1], 50, axis=0)  # one direction: every cosine is 1 up to round-off
    for vectors in (v, same):
        _, median, q10 = centre(vectors)
        assert -1.0 <= q10 <= median <= 1.0
