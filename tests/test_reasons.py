"""Reason clustering: tests with the real local model's vectors (embedded once per module and
served by the pass-through PrecomputedEmbedder) and fixed labels, and one slow test with the
real model and HDBSCAN end to end on hand-written evaluator reasons in three themes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faultmap.clustering import FixedLabels
from faultmap.embedding import PrecomputedEmbedder, SentenceTransformerEmbedder
from faultmap.exceptions import ClusteringError, ConfigurationError, DataError
from faultmap.reasons import NO_REASON, NO_SLICE, UNCLUSTERED, ReasonReport, cluster_reasons
from faultmap.reports.models import AnalysisReport, FailureSlice

# Twenty realistic reasons per theme, as an LLM judge or a reviewer would write them.
DATES = [
    "The answer puts 30 days after January 15 on February 15; it should be February 14.",
    "Wrong date arithmetic: adding two weeks to March 25 gives April 8, not April 9.",
    "Counted the days between the two dates incorrectly, off by one.",
    "The model said 2024-02-29 plus one year is 2025-02-29, which does not exist.",
    "Date calculation error: 90 days from October 1 is December 30, not January 1.",
    "Miscounted the number of days in February of a leap year.",
    "The response gets the weekday wrong: July 4, 2023 was a Tuesday, not a Wednesday.",
    "Off-by-one error when counting days between the start and end dates.",
    "It subtracted the dates in the wrong order and reported a negative duration.",
    "Incorrect date math: six months after August 31 is not February 31.",
    "The elapsed time between the two timestamps is wrong by exactly one day.",
    "Added 100 days to the date but forgot that April has 30 days.",
    "Computed the deadline as a Sunday although the date falls on a Monday.",
    "Date arithmetic mistake: 45 days before May 10 is March 26, not March 25.",
    "The number of weeks between the two dates is miscalculated.",
    "Ignored the leap day when computing the days from January to March 2024.",
    "Wrong day count: the interval between the dates is 61 days, the answer says 60.",
    "The model converted the date to the wrong day of the week.",
    "Got the age from the birth date wrong; the birthday has not happened yet this year.",
    "Adding one month to January 31 produced an invalid date.",
]
CITATIONS = [
    "Cites a paper by Smith et al. (2019) that does not exist.",
    "The reference to 'Journal of Applied Cognition, vol. 12' is fabricated.",
    "Hallucinated citation: the quoted DOI does not resolve to any publication.",
    "Invents a source; no such study from Harvard was ever published.",
    "The cited book and its author could not be found anywhere; likely made up.",
    "Attributes a quote to a report that does not exist.",
    "The bibliography includes two fabricated articles with fake page numbers.",
    "Fake reference: the URL it cites leads nowhere and the title is invented.",
    "Made-up citation to a 2021 Nature paper that was never published.",
    "The response references a court case that does not exist.",
    "Cites a nonexistent WHO guideline as its source.",
    "The study it quotes, with exact statistics, is fabricated.",
    "Hallucinated the authors and year of the paper it cites.",
    "Provides an invented ISBN for a book that does not exist.",
    "The supporting source is fictional; no journal by that name exists.",
    "References a conference paper that cannot be found in any proceedings.",
    "Fabricated quote and fabricated source attribution.",
    "The citation lists a real journal but the article itself is made up.",
    "Invented statistics attributed to a nonexistent government survey.",
    "It cites sources that do not exist to support its claim.",
]
REFUSALS = [
    "Refused to answer a harmless question about how to boil an egg.",
    "The model declined a benign request to summarize a news article, citing safety policy.",
    "Unnecessary refusal: the user only asked for a cookie recipe.",
    "Refuses to explain how vaccines work, saying it cannot give medical advice.",
    "Over-refusal: would not help write a birthday poem.",
    "Declined to translate a simple sentence into French for no reason.",
    "Said 'I can't help with that' to a request for a workout plan.",
    "The assistant refused a benign coding question about sorting a list.",
    "Refusal of a safe request: the user wanted tips for a job interview.",
    "Would not answer a history question about World War II, claiming it was sensitive.",
    "Refused to give a definition of photosynthesis.",
    "The model declined to help plan a vacation itinerary.",
    "Needless refusal to describe how a car engine works.",
    "Refuses a harmless request to write a short story about a dragon.",
    "Declined to list the planets of the solar system, citing its guidelines.",
    "Over-cautious: refused to explain how to change a flat tire.",
    "Said it cannot assist when asked for a vegetarian lasagna recipe.",
    "The answer refuses to help with a simple spreadsheet formula.",
    "Refused to recommend books for a ten-year-old.",
    "Declined a benign request for the rules of chess.",
]


REASONS = DATES + CITATIONS + REFUSALS
THEMES = np.repeat([0, 1, 2], 20)


EXTRA = ["wrong date math", "fake citation", "a reason", "another reason", "a", "b"]


class RecordingEmbedder(PrecomputedEmbedder):
    """Real all-MiniLM-L6-v2 vectors computed once, with a record of every embed() call."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(vectors, name="all-MiniLM-L6-v2")
        self.calls: list[list[str]] = []

    def embed(self, texts, *, role="query"):
        self.calls.append(list(texts))
        return super().embed(texts, role=role)


@pytest.fixture(scope="module")
def real_vectors() -> dict[str, np.ndarray]:
    texts = REASONS + EXTRA
    return dict(zip(texts, SentenceTransformerEmbedder().embed(texts), strict=True))


@pytest.fixture
def embedder(real_vectors) -> RecordingEmbedder:
    return RecordingEmbedder(real_vectors)


def _fixed(labels) -> FixedLabels:
    return FixedLabels(list(labels))


def test_groups_named_counted_and_represented(embedder) -> None:
    failures = [1] * 20 + [1] * 15 + [0] * 5 + [0] * 20
    report = cluster_reasons(
        REASONS, failures, embedder=embedder, clusterer=_fixed(THEMES), min_cluster_size=5
    )
    assert report.num_groups == 3 and report.num_unclustered == 0 and report.num_empty == 0
    assert [g.size for g in report.groups] == [20, 20, 20]
    assert [g.failure_rate for g in report.groups] == [1.0, 0.75, 0.0]
    assert report.failure_rate == pytest.approx(35 / 60)
    dates, citations, refusals = report.groups
    assert dates.member_indices == list(range(20))
    assert "date" in " ".join(dates.keywords) or "days" in " ".join(dates.keywords)
    assert any(k.startswith("refus") for k in refusals.keywords)
    assert len({g.name for g in report.groups}) == 3
    assert all(len(set(g.representative_reasons)) == 3 for g in report.groups)
    assert all(r in CITATIONS for r in citations.representative_reasons)
    assert report.labels == THEMES.tolist()
    assert (
        report.embedding_model == "precomputed:all-MiniLM-L6-v2"
        and report.clustering_method == "fixed"
    )
    text = str(report)
    assert dates.name in text and "failure rate 100%" in text
    data = json.loads(report.to_json())
    assert data["groups"][0]["name"] == dates.name
    assert report.group(refusals.name) is refusals


def test_groups_are_ordered_by_size_and_noise_kept_apart(embedder) -> None:
    labels = ["x"] * 5 + ["y"] * 10 + [None] * 5
    report = cluster_reasons(
        REASONS[:20], embedder=embedder, clusterer=_fixed(labels), min_cluster_size=3
    )
    assert [g.size for g in report.groups] == [10, 5]
    assert report.labels == [1] * 5 + [0] * 10 + [-1] * 5
    assert report.num_unclustered == 5
    assert report.groups[0].failure_rate is None


def test_each_distinct_reason_is_embedded_once_and_empty_ones_not_at_all(embedder) -> None:
    reasons = ["wrong date math"] * 6 + ["fake citation"] * 6 + [None, "", "  "]
    labels = [0] * 6 + [1] * 6
    report = cluster_reasons(
        reasons, embedder=embedder, clusterer=_fixed(labels), min_cluster_size=3
    )
    assert embedder.calls == [["wrong date math", "fake citation"]]
    assert report.num_empty == 3 and report.labels[-3:] == [-1, -1, -1]
    assert report.groups[0].representative_reasons == ["wrong date math"]


def test_cross_tabs_with_slice_labels_and_cohorts(embedder) -> None:
    slices = ["dates"] * 20 + ["other"] * 40
    metadata = {"model": ["a", "b"] * 30, "latency": list(range(60))}
    labels = list(THEMES[:55]) + [None] * 5
    report = cluster_reasons(
        REASONS,
        embedder=embedder,
        clusterer=_fixed(labels),
        slice_labels=slices,
        cohorts=metadata,
        cohort_bins=2,
    )
    names = [g.name for g in report.groups]
    table = report.slice_crosstab
    assert table.row_labels == [*names, UNCLUSTERED]
    assert table.column_labels == ["other", "dates"]
    assert table.as_dict()[names[0]] == {"other": 0, "dates": 20}
    assert table.as_dict()[UNCLUSTERED] == {"other": 5, "dates": 0}
    by_model = report.cohort_crosstabs["model"]
    assert by_model.column_labels == ["a", "b"]
    assert sum(map(sum, by_model.counts)) == 60
    assert report.cohort_crosstabs["latency"].column_labels == ["[0, 29.5)", "[29.5, 59]"]
    assert "By model:" in str(report)


def test_an_analysis_report_gives_the_slice_labels(embedder) -> None:
    slice_ = FailureSlice(
        name="date arithmetic",
        description="",
        size=20,
        failure_rate=0.9,
        baseline_rate=0.3,
        effect_size=3.0,
        p_value=1e-6,
        adjusted_p_value=1e-5,
        test_used="fisher",
        sample_indices=list(range(20)),
        cluster_id=0,
    )
    analysis = AnalysisReport(
        total_prompts=60,
        total_failures=18,
        baseline_failure_rate=0.3,
        num_significant=1,
        slices=[slice_],
        clustering_method="hdbscan",
        embedding_model="x",
        cluster_labels=[0] * 20 + [-1] * 40,
    )
    reasons = [*REASONS[:59], None]  # the clusterer sees only the 59 rows with a reason
    report = cluster_reasons(
        reasons, embedder=embedder, clusterer=_fixed(THEMES[:59]), slice_labels=analysis
    )
    table = report.slice_crosstab
    assert table.column_labels == ["date arithmetic", NO_SLICE]
    assert table.row_labels[-1] == NO_REASON
    assert table.as_dict()[NO_REASON] == {"date arithmetic": 0, NO_SLICE: 1}


def test_too_few_reasons_leave_everything_unclustered(embedder) -> None:
    from faultmap.clustering import HDBSCANClusterer

    report = cluster_reasons(
        ["a reason", "another reason"], embedder=embedder, clusterer=HDBSCANClusterer()
    )
    assert report.num_groups == 0 and report.groups == [] and report.num_unclustered == 2
    assert isinstance(report, ReasonReport)


def test_bad_input(embedder) -> None:
    with pytest.raises(DataError, match="'reasons' must be a sequence"):
        cluster_reasons("one reason", embedder=embedder)
    with pytest.raises(DataError, match=r"'reasons\[1\]' is of type int"):
        cluster_reasons(["a", 3], embedder=embedder)
    with pytest.raises(DataError, match="'failures' has 1 entries but there are 2 reasons"):
        cluster_reasons(["a", "b"], [1], embedder=embedder)
    with pytest.raises(DataError, match="'slice_labels' has 1 entries"):
        cluster_reasons(["a", "b"], slice_labels=["s"], embedder=embedder)
    with pytest.raises(DataError, match="has 3 values but there are 2 rows"):
        cluster_reasons(["a", "b"], cohorts={"m": [1, 2, 3]}, embedder=embedder)
    with pytest.raises(ConfigurationError, match="'clusterer' parameter"):
        cluster_reasons(["a", "b"], embedder=embedder, clusterer="kmeans")
    with pytest.raises(ConfigurationError, match="'min_cluster_size' parameter"):
        cluster_reasons(["a", "b"], embedder=embedder, min_cluster_size=1)

    class Broken:
        name = "broken"

        def fit_predict(self, vectors, *, min_cluster_size):
            return np.zeros(len(vectors) + 1, dtype=int)

    # the same fault raises the same error as in every analysis
    with pytest.raises(ClusteringError, match="expected one integer per prompt"):
        cluster_reasons(["a", "b"], embedder=embedder, clusterer=Broken())


@pytest.mark.slow
def test_real_model_recovers_the_three_themes() -> None:
    """all-MiniLM-L6-v2 (packaged, offline) and the default HDBSCAN clusterer."""
    failures = [1] * 40 + [0] * 20
    report = cluster_reasons(REASONS, failures, min_cluster_size=5)
    assert report.num_groups == 3, str(report)
    labels = np.array(report.labels)
    majority = []
    for g in report.groups:
        members = THEMES[labels == g.group_id]
        theme = np.bincount(members, minlength=3).argmax()
        assert np.mean(members == theme) >= 0.8, str(report)
        majority.append(int(theme))
    assert sorted(majority) == [0, 1, 2], str(report)  # one group per theme
    for theme in range(3):
        in_group = labels[theme == THEMES] == report.groups[majority.index(theme)].group_id
        assert in_group.sum() >= 14, str(report)
    refusals = report.groups[majority.index(2)]
    assert refusals.failure_rate <= 0.2
    assert any(k.startswith(("refus", "declin")) for k in refusals.keywords), str(report)
