"""Bad arguments and bad data: one message shape, naming the parameter, the row and the value.

No embedding model is loaded here: every ``analyze`` call passes ``embeddings=``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from faultmap import (
    AnalysisReport,
    ConfigurationError,
    DataError,
    FaultmapWarning,
    SliceAnalyzer,
)
from faultmap._validation import as_embeddings
from faultmap.clustering import FixedLabels
from faultmap.config import LLMConfig
from faultmap.llm.client import LLMClient
from faultmap.naming import KeywordNamer

N = 24


def _data(n: int = N, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    prompts = [f"question number {i} about topic {'ab'[i % 2]}" for i in range(n)]
    responses = [f"answer {i}" for i in range(n)]
    scores = [0.0 if (i % 2 == 0 and i % 3 != 0) else 1.0 for i in range(n)]
    embeddings = rng.normal(size=(n, 4))
    return {"prompts": prompts, "responses": responses, "scores": scores, "embeddings": embeddings}


def _analyzer(n: int = N, **kwargs: object) -> SliceAnalyzer:
    labels = ["a" if i % 2 == 0 else "b" for i in range(n)]
    return SliceAnalyzer(clustering_method=FixedLabels(labels), **kwargs)


def _analyze(analyzer: SliceAnalyzer | None = None, **overrides: object) -> AnalysisReport:
    data = {**_data(), **overrides}
    analyzer = analyzer or _analyzer(
        len(data["prompts"]) if hasattr(data["prompts"], "__len__") else N
    )
    return analyzer.analyze(
        data["prompts"], data["responses"], scores=data["scores"], embeddings=data["embeddings"]
    )


# -- constructor parameters -----------------------------------------------------------------

_nan, _inf = float("nan"), float("inf")

BAD_PARAMS = [
    ("model", 5),
    ("model", ""),
    ("model", "   "),
    ("model", ["gpt-4o-mini"]),
    ("embedding_model", 123),
    ("embedding_model", ""),
    ("embedding_model", "   "),
    ("embedding_model", object()),
    ("significance_level", 0),
    ("significance_level", 1),
    ("significance_level", -0.1),
    ("significance_level", 1.5),
    ("significance_level", "0.05"),
    ("significance_level", None),
    ("significance_level", True),
    ("significance_level", _nan),
    ("min_slice_size", 1),
    ("min_slice_size", 0),
    ("min_slice_size", 10.0),
    ("min_slice_size", "10"),
    ("min_slice_size", None),
    ("min_slice_size", True),
    ("failure_threshold", 0),
    ("failure_threshold", 1.01),
    ("failure_threshold", -0.5),
    ("failure_threshold", "0.5"),
    ("failure_threshold", _nan),
    ("n_samples", 0),
    ("n_samples", 1.5),
    ("clustering_method", "kmeans"),
    ("clustering_method", "HDBSCAN"),
    ("clustering_method", 5),
    ("clustering_method", object()),
    ("clustering_method", None),
    ("max_concurrent_requests", 0),
    ("max_concurrent_requests", -1),
    ("max_concurrent_requests", 2.0),
    ("temperature", -0.1),
    ("temperature", _inf),
    ("temperature", "1"),
    ("consistency_threshold", -1.5),
    ("consistency_threshold", 1.01),
    ("embedding_usage_kwargs", 5),
    ("embedding_usage_kwargs", ["query"]),
    ("embedding_usage_kwargs", {"query": 5}),
    ("embedding_max_text_chars", 0),
    ("embedding_max_text_chars", -1),
    ("embedding_max_text_chars", 10.5),
    ("embedding_max_text_chars", "2000"),
    ("namer", "keywords"),
    ("namer", 42),
    ("namer", object()),
    ("test", "exact"),
    ("test", "FISHER"),
    ("test", None),
    ("random_state", -1),
    ("random_state", 1.5),
    ("random_state", None),
    ("random_state", "0"),
    ("llm_timeout", 0),
    ("llm_timeout", -1.0),
    ("llm_timeout", _inf),
    ("llm_timeout", "30"),
    ("llm_max_retries", -1),
    ("llm_max_retries", 1.5),
    ("llm_completion_kwargs", 5),
    ("llm_completion_kwargs", "abc"),
    ("llm_completion_kwargs", ["x"]),
    ("show_progress", "yes"),
    ("show_progress", 1),
    ("show_progress", 0),
    ("embedding_cache", None),
    ("embedding_cache", 1),
    ("embedding_cache", 5.0),
    ("llm_client", "gpt-4o-mini"),
    ("llm_client", object()),
]


def _param_id(case: tuple[str, object]) -> str:
    name, value = case
    text = type(value).__name__ if type(value) is object else repr(value)
    return f"{name}={text}"


@pytest.mark.parametrize("case", BAD_PARAMS, ids=[_param_id(c) for c in BAD_PARAMS])
def test_bad_constructor_argument_raises_configuration_error(case: tuple[str, object]) -> None:
    name, value = case
    with pytest.raises(ConfigurationError) as info:
        SliceAnalyzer(**{name: value})
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    match = re.fullmatch(
        rf"The '{name}' parameter of SliceAnalyzer must be (.+)\. Got (.*)\.", message, re.DOTALL
    )
    assert match, f"message does not follow the house format: {message!r}"
    assert match.group(2) == repr(value), f"message does not quote the value: {message!r}"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"model": "gpt-4o-mini"},
        {"significance_level": np.float64(0.01), "min_slice_size": np.int64(5)},
        {"failure_threshold": 1.0, "consistency_threshold": -1},
        {"embedding_max_text_chars": None, "show_progress": False, "random_state": 0},
        {"clustering_method": "agglomerative", "test": "auto", "llm_timeout": 0.5},
        {"namer": KeywordNamer(), "clustering_method": FixedLabels([0, 1])},
        {"embedding_usage_kwargs": {"query": {"input_type": "query"}}},
        {"llm_completion_kwargs": {"mock_response": "{}"}, "llm_max_retries": 0},
        {"embedding_cache": False},
        {"embedding_cache": "/tmp/faultmap-test-cache-not-created"},
        {"llm_client": LLMClient(LLMConfig(model="fake"))},
    ],
)
def test_valid_constructor_arguments_are_accepted(kwargs: dict) -> None:
    analyzer = SliceAnalyzer(**kwargs)
    for key, value in kwargs.items():
        if key != "llm_completion_kwargs":
            assert getattr(analyzer, key) is value
    assert "SliceAnalyzer(" in repr(analyzer)


# -- analyze(): bad data ---------------------------------------------------------------------


def _with(index: int, value: object, key: str = "prompts") -> list:
    items = list(_data()[key])
    items[index] = value
    return items


BAD_DATA = {
    "responses shorter": (
        {"responses": _data()["responses"][:-1]},
        r"'responses' has 23 entries but 'prompts' has 24",
    ),
    "scores shorter": (
        {"scores": _data()["scores"][:-1]},
        r"'scores' has 23 values but there are 24 prompts",
    ),
    "scores longer": ({"scores": [*_data()["scores"], 1.0]}, r"'scores' has 25 values"),
    "embeddings fewer rows": (
        {"embeddings": _data()["embeddings"][:-1]},
        r"'embeddings' has 23 rows but there are 24 prompts",
    ),
    "empty prompts": (
        {"prompts": [], "responses": [], "scores": [], "embeddings": np.zeros((0, 4))},
        r"'prompts' has 0 entries",
    ),
    "prompts None": ({"prompts": None}, r"'prompts' is required"),
    "empty-string prompt": (
        {"prompts": _with(5, "")},
        r"'prompts\[5\]' is empty or only whitespace",
    ),
    "whitespace prompt": (
        {"prompts": _with(7, " \t\n ")},
        r"'prompts\[7\]' is empty or only whitespace",
    ),
    "int prompt": ({"prompts": _with(3, 42)}, r"'prompts\[3\]' is of type int \(42\), not str"),
    "None prompt": ({"prompts": _with(0, None)}, r"'prompts\[0\]' is of type NoneType"),
    "bytes prompt": ({"prompts": _with(2, b"raw")}, r"'prompts\[2\]' is of type bytes"),
    "single string prompt": (
        {"prompts": "what is the date?"},
        r"'prompts' must be a sequence of strings, not a single str",
    ),
    "single string responses": (
        {"responses": "an answer"},
        r"'responses' must be a sequence of strings, not a single str",
    ),
    "int response": ({"responses": _with(2, 7, "responses")}, r"'responses\[2\]' is of type int"),
    "prompts not iterable": ({"prompts": 12345}, r"'prompts' must be a sequence"),
    "NaN score": (
        {"scores": _with(7, float("nan"), "scores")},
        r"'scores' contains 1 NaN or infinite value\(s\), first at index 7",
    ),
    "inf score": (
        {"scores": _with(9, float("inf"), "scores")},
        r"'scores' contains 1 NaN or infinite value\(s\), first at index 9",
    ),
    "-inf score": (
        {"scores": _with(0, float("-inf"), "scores")},
        r"NaN or infinite value\(s\), first at index 0",
    ),
    "score above 1": (
        {"scores": _with(4, 1.5, "scores")},
        r"'scores' must lie in \[0, 1\].*first 'scores\[4\]' = 1\.5\b",
    ),
    "negative score": (
        {"scores": _with(11, -0.25, "scores")},
        r"first 'scores\[11\]' = -0\.25\b",
    ),
    "score is text": ({"scores": _with(3, "good", "scores")}, r"could not convert it to floats"),
    "score is None": (
        {"scores": _with(3, None, "scores")},
        r"NaN or infinite value\(s\), first at index 3",
    ),
    "scores a string": ({"scores": "0.5"}, r"'scores' must be a sequence of numbers"),
    "scores 2-D": (
        {"scores": [[s] for s in _data()["scores"]]},
        r"'scores' must be one-dimensional",
    ),
    "embeddings 1-D": ({"embeddings": np.ones(N)}, r"'embeddings' must be a 2-D array"),
    "embeddings 3-D": ({"embeddings": np.ones((N, 2, 2))}, r"'embeddings' must be a 2-D array"),
    "embeddings one column": ({"embeddings": np.ones((N, 1))}, r"at least 2 columns"),
    "embeddings ragged": (
        {"embeddings": [[1.0, 2.0]] * (N - 1) + [[1.0]]},
        r"'embeddings' must be a 2-D array of numbers",
    ),
    "embeddings NaN": (
        {"embeddings": np.where(np.arange(N)[:, None] == 2, np.nan, 1.0) * np.ones((N, 4))},
        r"NaN or infinite values in 1 row\(s\), first row 2",
    ),
    "embeddings inf": (
        {"embeddings": np.where(np.arange(N)[:, None] == 13, np.inf, 1.0) * np.ones((N, 4))},
        r"first row 13",
    ),
    "embeddings zero rows": (
        {
            "embeddings": np.where(np.isin(np.arange(N), [6, 8])[:, None], 0.0, 1.0)
            * np.ones((N, 4))
        },
        r"2 all-zero row\(s\), first row 6",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DATA), ids=list(BAD_DATA))
def test_bad_data_raises_data_error_naming_the_problem(case: str) -> None:
    overrides, pattern = BAD_DATA[case]
    with pytest.raises(DataError, match=pattern) as info:
        _analyze(**overrides)
    assert isinstance(info.value, ValueError)


def test_fewer_prompts_than_min_slice_size() -> None:
    data = _data(n=5)
    with pytest.raises(DataError, match=r"'prompts' has 5 entries, fewer than min_slice_size=10"):
        _analyzer(5).analyze(
            data["prompts"], data["responses"], scores=data["scores"], embeddings=data["embeddings"]
        )


def test_analyze_without_scores_or_scorer_is_a_configuration_error() -> None:
    # No scores, no references and no model: mode 3 is impossible.
    data = _data()
    with pytest.raises(ConfigurationError, match=r"No scores= and no references=") as info:
        _analyzer().analyze(data["prompts"], data["responses"], embeddings=data["embeddings"])
    assert isinstance(info.value, ValueError)
    assert "model" in str(info.value)


@pytest.mark.parametrize(
    "references, pattern",
    [
        (["ref"] * (N - 1), r"'references' has 23 entries but 'prompts' has 24"),
        ("one reference", r"'references' must be a sequence of strings, not a single str"),
        (["ref"] * (N - 1) + [3], r"'references\[23\]' is of type int"),
    ],
    ids=["shorter", "single string", "non-string"],
)
def test_bad_references_raise_data_error_before_any_model(references: object, pattern: str) -> None:
    data = _data()
    analyzer = _analyzer(embedding_model="local:/nonexistent/model/that/must/not/load")
    with pytest.raises(DataError, match=pattern):
        analyzer.analyze(
            data["prompts"],
            data["responses"],
            references=references,
            embeddings=data["embeddings"],
        )


def test_bad_data_is_reported_before_any_clustering() -> None:
    class Exploding:
        name = "exploding"

        def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
            raise AssertionError("clustering must not run on invalid data")

    with pytest.raises(DataError):
        _analyze(SliceAnalyzer(clustering_method=Exploding()), scores=_with(1, 2.0, "scores"))


# -- analyze(): edge cases that must work ----------------------------------------------------


@pytest.mark.parametrize(
    "score, note, sentence",
    [
        (1.0, "no failures", "No prompt failed"),
        (0.0, "every prompt failed", "Every prompt failed"),
    ],
)
def test_all_pass_or_all_fail_gives_an_empty_report(score: float, note: str, sentence: str) -> None:
    report = _analyze(scores=[score] * N)
    assert report.num_significant == 0
    assert report.slices == []
    assert report.total_failures == (0 if score == 1.0 else N)
    assert report.metadata["note"] == note
    text = str(report)
    assert sentence in text
    assert f"{N} prompts" in text
    assert "num_significant=0" in repr(report)
    assert AnalysisReport.from_json(report.to_json()) == report
    assert "<div" in report._repr_html_()


def test_all_pass_with_default_hdbscan_does_not_crash() -> None:
    data = _data()
    report = SliceAnalyzer().analyze(
        data["prompts"], data["responses"], scores=[0.9] * N, embeddings=data["embeddings"]
    )
    assert report.num_significant == 0 and "No prompt failed" in str(report)


def test_duplicate_prompts_warn_and_are_counted() -> None:
    prompts = _data()["prompts"]
    prompts[5] = prompts[0]
    prompts[9] = prompts[0]
    prompts[10] = prompts[1]
    with pytest.warns(FaultmapWarning, match=r"3 prompt\(s\) repeat an earlier prompt"):
        report = _analyze(prompts=prompts)
    assert report.metadata["num_duplicate_prompts"] == 3
    assert report.total_prompts == N


def test_no_duplicates_no_warning_and_no_metadata_key() -> None:
    report = _analyze()  # pytest turns any FaultmapWarning into an error (pyproject)
    assert "num_duplicate_prompts" not in report.metadata


@pytest.mark.parametrize("container", ["numpy", "tuple"])
def test_numpy_arrays_and_tuples_are_accepted(container: str) -> None:
    data = _data()
    if container == "numpy":
        prompts, responses = np.array(data["prompts"]), np.array(data["responses"], dtype=object)
        scores = np.array(data["scores"], dtype=np.float32)
        embeddings = data["embeddings"].astype(np.float16)
    else:
        prompts, responses = tuple(data["prompts"]), tuple(data["responses"])
        scores = tuple(int(s) for s in data["scores"])
        embeddings = tuple(tuple(row) for row in data["embeddings"].tolist())
    report = _analyzer().analyze(prompts, responses, scores=scores, embeddings=embeddings)
    expected = _analyze()
    assert report.total_prompts == N
    assert report.total_failures == expected.total_failures
    assert [c.p_value for c in report.clusters] == [c.p_value for c in expected.clusters]


def test_analyze_does_not_mutate_inputs() -> None:
    data = _data()
    snapshot = {k: (v.copy() if isinstance(v, np.ndarray) else list(v)) for k, v in data.items()}
    _analyzer().analyze(
        data["prompts"], data["responses"], scores=data["scores"], embeddings=data["embeddings"]
    )
    for key, value in snapshot.items():
        np.testing.assert_array_equal(np.asarray(data[key]), np.asarray(value))


# -- as_embeddings: normalisation must not over- or underflow in float32 ---------------------


@pytest.mark.parametrize("magnitude", [3e38, 1e30, 1e-25, 1e-40])
def test_as_embeddings_normalises_finite_nonzero_rows_of_any_magnitude(magnitude: float) -> None:
    # Finite, non-zero vectors have a direction whatever their scale; squaring them in
    # float32 overflows to inf (row silently becomes all zeros) or underflows to 0 (row
    # wrongly reported as all-zero).
    values = np.array([[magnitude, magnitude], [1.0, 0.0]], dtype=np.float64)
    out = as_embeddings("embeddings", values, 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.astype(np.float64), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[0], [math.sqrt(0.5)] * 2, rtol=1e-5)
