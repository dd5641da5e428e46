"""Fault injection for issue 14: every bad input is refused up front with a faultmap error
that names the argument, row or field (or repaired and counted), nothing is overwritten.

No embedding model is loaded: analyses get ``embeddings=`` or a :class:`FakeEmbedder`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from faultmap import DataError, FaultmapWarning, SliceAnalyzer
from faultmap._validation import as_text_list, repair_text
from faultmap.clustering import FixedLabels
from faultmap.testing import FakeEmbedder

N = 24
HALF_EMOJI = "\ud83d"  # the first half of U+1F600's UTF-16 pair, alone


def _data(n: int = N) -> dict:
    rng = np.random.default_rng(0)
    return {
        "prompts": [f"question number {i} about topic {'ab'[i % 2]}" for i in range(n)],
        "responses": [f"answer {i}" for i in range(n)],
        "scores": [0.0 if (i % 2 == 0 and i % 3 != 0) else 1.0 for i in range(n)],
        "embeddings": rng.normal(size=(n, 4)),
    }


def _analyzer(n: int = N, **kwargs: object) -> SliceAnalyzer:
    labels = ["a" if i % 2 == 0 else "b" for i in range(n)]
    return SliceAnalyzer(clustering_method=FixedLabels(labels), min_slice_size=5, **kwargs)


# -- point 3: only ordered sequences; text checked (and repaired) up front -------------------

UNORDERED = [
    ("a set", set),
    ("a frozenset", frozenset),
    ("dict keys", lambda xs: dict.fromkeys(xs).keys()),
    ("a dict", lambda xs: dict.fromkeys(xs)),
    ("a generator", lambda xs: (x for x in xs)),
    ("an iterator", iter),
]


@pytest.mark.parametrize(("label", "make"), UNORDERED, ids=[u[0] for u in UNORDERED])
@pytest.mark.parametrize("argument", ["prompts", "responses"])
def test_unordered_inputs_are_refused(label: str, make, argument: str) -> None:
    data = _data()
    data[argument] = make(data[argument])
    with pytest.raises(DataError, match=f"'{argument}' (is a|must be a sequence in row order)"):
        _analyzer().analyze(
            data["prompts"], data["responses"], data["scores"], embeddings=data["embeddings"]
        )


def test_unordered_inputs_are_refused_by_every_entry_point() -> None:
    data = _data()
    analyzer = _analyzer()
    prompts = data["prompts"]
    with pytest.raises(DataError, match="'test_prompts' is a set"):
        analyzer.audit_coverage(set(prompts), prompts, 0.3)
    with pytest.raises(DataError, match="'production_prompts' is a set"):
        analyzer.audit_coverage(prompts, set(prompts), 0.3)
    with pytest.raises(DataError, match="'responses_b' is a set"):
        analyzer.compare_models(
            prompts, data["responses"], set(data["responses"]), data["scores"], data["scores"]
        )
    with pytest.raises(DataError, match="'references' is a set"):
        analyzer.analyze(prompts, data["responses"], references=set(data["responses"]))
    with pytest.raises(DataError, match=r"metadata\['route'\] is a set"):
        analyzer.analyze(
            prompts,
            data["responses"],
            data["scores"],
            embeddings=data["embeddings"],
            metadata={"route": set(range(N))},
        )


def test_ordered_sequences_of_every_kind_are_accepted() -> None:
    pd = pytest.importorskip("pandas")
    data = _data()
    reference = _analyzer().analyze(
        data["prompts"], data["responses"], data["scores"], embeddings=data["embeddings"]
    )
    frame = pd.DataFrame({"p": data["prompts"], "r": data["responses"]})
    for prompts, responses in [
        (tuple(data["prompts"]), tuple(data["responses"])),
        (np.array(data["prompts"]), np.array(data["responses"])),
        (frame["p"], frame["r"]),
        (pd.Index(data["prompts"]), frame["r"].to_numpy()),
    ]:
        report = _analyzer().analyze(
            prompts, responses, data["scores"], embeddings=data["embeddings"]
        )
        assert report.to_dict()["slices"] == reference.to_dict()["slices"]


def test_a_frame_or_matrix_is_not_one_column() -> None:
    data = _data()
    with pytest.raises(DataError, match="'prompts' must be one-dimensional"):
        _analyzer().analyze(
            np.array(data["prompts"]).reshape(4, 6),
            data["responses"],
            data["scores"],
            embeddings=data["embeddings"],
        )


def test_repair_text_joins_split_pairs_and_replaces_lone_halves() -> None:
    assert repair_text("fine") == "fine"
    assert repair_text("smile \ud83d\ude00") == "smile \U0001f600"
    assert repair_text(f"cut {HALF_EMOJI} here") == "cut \ufffd here"
    assert repair_text("\udc80") == "\ufffd"
    with pytest.raises(DataError, match=r"'references\[1\]' holds a lone surrogate"):
        as_text_list("references", ["ok", f"bad {HALF_EMOJI}"])


def test_lone_surrogates_are_repaired_counted_and_recomputable() -> None:
    data = _data()
    prompts, responses = list(data["prompts"]), list(data["responses"])
    prompts[3] += HALF_EMOJI
    prompts[7] = "\udc00" + prompts[7]
    responses[5] += HALF_EMOJI
    with pytest.warns(FaultmapWarning, match="repaired_text_rows"):
        report = _analyzer().analyze(
            prompts, responses, data["scores"], embeddings=data["embeddings"]
        )
    assert report.metadata["repaired_text_rows"] == {"prompts": [3, 7], "responses": [5]}
    recomputed = {
        name: [i for i, t in enumerate(texts) if repair_text(t) != t]
        for name, texts in (("prompts", prompts), ("responses", responses))
    }
    assert report.metadata["repaired_text_rows"] == recomputed
    text = report.to_json()  # encodes: nothing of the surrogate is left
    text.encode("utf-8")
    again = type(report).from_json(text)
    assert again.metadata["repaired_text_rows"] == recomputed
    str(report)


def test_repairs_happen_before_the_embedding_model_sees_the_text() -> None:
    data = _data()
    prompts = list(data["prompts"])
    prompts[2] += HALF_EMOJI
    embedder = FakeEmbedder()
    with pytest.warns(FaultmapWarning, match="1 in 'prompts' \\(first row 2\\)"):
        _analyzer(embedding_model=embedder, embedding_cache=False).analyze(
            prompts, data["responses"], data["scores"]
        )
    embedded = [t for call in embedder.calls for t in call]
    assert all(t.encode("utf-8") for t in embedded)
    assert prompts[2][:-1] + "\ufffd" in embedded


def test_repairs_in_coverage_and_comparison_are_counted() -> None:
    data = _data()
    analyzer = SliceAnalyzer(
        embedding_model=FakeEmbedder(), embedding_cache=False, clustering_method="agglomerative"
    )
    production = list(data["prompts"])
    production[4] += HALF_EMOJI
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FaultmapWarning)  # the coverage meaning warning
        coverage = analyzer.audit_coverage(data["prompts"][:10], production, 0.3)
    assert coverage.metadata["repaired_text_rows"] == {"production_prompts": [4]}
    responses_b = list(data["responses"])
    responses_b[1] += HALF_EMOJI
    with pytest.warns(FaultmapWarning, match="responses_b"):
        comparison = _analyzer().compare_models(
            data["prompts"],
            data["responses"],
            responses_b,
            data["scores"],
            data["scores"][::-1],
            embeddings=data["embeddings"],
        )
    assert comparison.metadata["repaired_text_rows"] == {"responses_b": [1]}
