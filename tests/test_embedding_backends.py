"""Stage 2 backends without any model: resolution rules, the litellm embedder over a fake
``aembedding``, and the precomputed embedder. Nothing here loads sentence-transformers."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import numpy as np
import pytest

import faultmap.llm.client as llm_client
from faultmap.embedding import (
    LOCAL_MODELS,
    LiteLLMEmbedder,
    PrecomputedEmbedder,
    SentenceTransformerEmbedder,
    normalize_rows,
    resolve_embedder,
)
from faultmap.exceptions import ConfigurationError, EmbeddingError
from faultmap.testing import FakeAPIError, FakeEmbedding, FakeSleep


@pytest.fixture(autouse=True)
def _never_load_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a test in this module tried to load a sentence-transformers model")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", refuse)


# -- resolve_embedder ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, model_name",
    [
        ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
        ("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ("BAAI/bge-small-en-v1.5", "BAAI/bge-small-en-v1.5"),
        ("all-mpnet-base-v2", "all-mpnet-base-v2"),
        ("local:my-org/my-model", "my-org/my-model"),
        ("local:text-embedding-3-small", "text-embedding-3-small"),  # the prefix wins
    ],
)
def test_local_specs_give_sentence_transformer_embedder(spec: str, model_name: str) -> None:
    embedder = resolve_embedder(spec)
    assert type(embedder) is SentenceTransformerEmbedder
    assert embedder.model_name == model_name
    assert embedder.identity.startswith(f"sentence-transformers:{model_name}:")


def test_every_listed_local_model_resolves_locally() -> None:
    for name in sorted(LOCAL_MODELS):
        assert type(resolve_embedder(name)) is SentenceTransformerEmbedder, name


def test_existing_directory_is_a_local_model(tmp_path: Any) -> None:
    embedder = resolve_embedder(str(tmp_path))
    assert type(embedder) is SentenceTransformerEmbedder
    assert embedder.model_name == str(tmp_path)


@pytest.mark.parametrize(
    "spec, model",
    [
        ("text-embedding-3-small", "text-embedding-3-small"),
        ("voyage/voyage-3", "voyage/voyage-3"),
        ("cohere/embed-english-v3.0", "cohere/embed-english-v3.0"),
        ("nvidia_nim/nvidia/nv-embedqa-e5-v5", "nvidia_nim/nvidia/nv-embedqa-e5-v5"),
        ("litellm:all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),  # the prefix wins
        ("litellm:text-embedding-3-large", "text-embedding-3-large"),
    ],
)
def test_api_specs_give_litellm_embedder(spec: str, model: str) -> None:
    embedder = resolve_embedder(spec)
    assert type(embedder) is LiteLLMEmbedder
    assert embedder.model == model
    assert embedder.identity.startswith(f"litellm:{model}:")


def test_instances_pass_through() -> None:
    precomputed = PrecomputedEmbedder({"a": [1.0, 0.0]}, name="mine")
    assert resolve_embedder(precomputed) is precomputed

    class Custom:
        identity = "custom:v1"

        def embed(self, texts: Any, *, role: str = "query") -> np.ndarray:
            return np.ones((len(texts), 2), dtype=np.float32)

    custom = Custom()
    assert resolve_embedder(custom, max_text_chars=5) is custom


def test_options_reach_the_right_backend() -> None:
    options = {
        "max_text_chars": 123,
        "usage_kwargs": {"query": {"input_type": "query"}},
        "max_concurrent_requests": 4,
        "show_progress": True,
    }
    local = resolve_embedder("all-MiniLM-L6-v2", **options)
    assert isinstance(local, SentenceTransformerEmbedder)
    assert local.max_text_chars == 123 and local.show_progress is True
    api = resolve_embedder("text-embedding-3-small", **options)
    assert isinstance(api, LiteLLMEmbedder)
    assert api.max_text_chars == 123
    assert api.usage_kwargs == {"query": {"input_type": "query"}}
    assert api.max_concurrent_requests == 4


@pytest.mark.parametrize(
    "spec",
    [123, None, 4.5, object(), ["all-MiniLM-L6-v2"], "", "   ", "local:", "litellm:", "local:  "],
    ids=[
        "int",
        "None",
        "float",
        "object",
        "list",
        "empty",
        "blank",
        "local:",
        "litellm:",
        "local: blank",
    ],
)
def test_bad_specs_raise_configuration_error(spec: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"The 'embedding_model' parameter") as info:
        resolve_embedder(spec)
    assert isinstance(info.value, ValueError)


# -- LiteLLMEmbedder over a fake aembedding --------------------------------------------------


DIM = 3


def expected_vectors(texts: list[str]) -> np.ndarray:
    """What the embedder must return: the fake's raw vectors, L2-normalised, in input order."""
    fake = FakeEmbedding(dim=DIM)
    rows = np.array([fake.vector(t) for t in texts], dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


TEXTS = ["alpha", "a much longer second text", "third", "the fourth one", "5"]


@pytest.mark.parametrize("shape", ["dict", "object"])
def test_vectors_come_back_in_input_order_normalised_float32(shape: str) -> None:
    fake = FakeEmbedding(dim=DIM, shape=shape)
    out = LiteLLMEmbedder("fake-embed", embedding_fn=fake).embed(TEXTS)
    assert out.dtype == np.float32
    assert out.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, expected_vectors(TEXTS), rtol=1e-6)
    assert fake.calls[0].model == "fake-embed"


def test_batches_of_batch_size() -> None:
    fake = FakeEmbedding(dim=DIM)
    out = LiteLLMEmbedder("fake-embed", batch_size=2, embedding_fn=fake).embed(TEXTS)
    assert sorted(call.input for call in fake.calls) == sorted([TEXTS[0:2], TEXTS[2:4], TEXTS[4:5]])
    assert len(fake.calls) == 3
    np.testing.assert_allclose(out, expected_vectors(TEXTS), rtol=1e-6)


def test_max_text_chars_truncates_what_is_sent() -> None:
    fake = FakeEmbedding(dim=DIM)
    out = LiteLLMEmbedder("fake-embed", max_text_chars=5, embedding_fn=fake).embed(TEXTS)
    sent = fake.calls[0].input
    assert sent == [t[:5] for t in TEXTS]
    assert max(len(t) for t in sent) == 5
    np.testing.assert_allclose(out, expected_vectors([t[:5] for t in TEXTS]), rtol=1e-6)


def test_max_text_chars_none_sends_whole_texts() -> None:
    fake = FakeEmbedding(dim=DIM)
    long_texts = ["y" * 10_000, "short"]
    LiteLLMEmbedder("fake-embed", max_text_chars=None, embedding_fn=fake).embed(long_texts)
    assert fake.calls[0].input == long_texts


def test_usage_kwargs_only_for_their_role() -> None:
    fake = FakeEmbedding(dim=DIM)
    embedder = LiteLLMEmbedder(
        "fake-embed",
        usage_kwargs={"query": {"input_type": "query"}, "document": {"input_type": "passage"}},
        embedding_fn=fake,
    )
    embedder.embed(["q"], role="query")
    embedder.embed(["d"], role="document")
    embedder.embed(["other"], role="something-else")
    assert fake.calls[0].kwargs["input_type"] == "query"
    assert fake.calls[1].kwargs["input_type"] == "passage"
    assert "input_type" not in fake.calls[2].kwargs


def test_usage_kwargs_query_only() -> None:
    fake = FakeEmbedding(dim=DIM)
    embedder = LiteLLMEmbedder(
        "fake-embed", usage_kwargs={"query": {"input_type": "query"}}, embedding_fn=fake
    )
    embedder.embed(["q"])  # role defaults to "query"
    embedder.embed(["d"], role="document")
    assert fake.calls[0].kwargs["input_type"] == "query"
    assert "input_type" not in fake.calls[1].kwargs


def test_request_kwargs_go_with_every_request_and_usage_kwargs_win() -> None:
    fake = FakeEmbedding(dim=DIM)
    embedder = LiteLLMEmbedder(
        "fake-embed",
        request_kwargs={"dimensions": 8, "input_type": "generic"},
        usage_kwargs={"document": {"input_type": "passage"}},
        embedding_fn=fake,
    )
    embedder.embed(["q"], role="query")
    embedder.embed(["d"], role="document")
    assert fake.calls[0].kwargs == {"dimensions": 8, "input_type": "generic"}
    assert fake.calls[1].kwargs == {"dimensions": 8, "input_type": "passage"}


def test_request_kwargs_change_the_identity_only_when_set() -> None:
    plain = LiteLLMEmbedder("m", max_text_chars=100)
    assert LiteLLMEmbedder("m", max_text_chars=100, request_kwargs={}).identity == plain.identity
    assert "request=" not in plain.identity  # cache keys of existing runs are unchanged
    assert LiteLLMEmbedder("m", max_text_chars=100, request_kwargs={"dimensions": 8}).identity != (
        plain.identity
    )


def test_identity_names_model_and_settings() -> None:
    a = LiteLLMEmbedder("m", max_text_chars=100, usage_kwargs={"query": {"input_type": "query"}})
    b = LiteLLMEmbedder("m", max_text_chars=100)
    c = LiteLLMEmbedder("m", max_text_chars=200, usage_kwargs={"query": {"input_type": "query"}})
    assert len({a.identity, b.identity, c.identity}) == 3
    assert (
        a.identity
        == LiteLLMEmbedder(
            "m", max_text_chars=100, usage_kwargs={"query": {"input_type": "query"}}
        ).identity
    )


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeSleep:
    """LiteLLMEmbedder builds its own LLMClient and takes no clock; give every client one."""
    sleep = FakeSleep()
    real = llm_client.LLMClient

    class NoSleepClient(real):  # type: ignore[misc, valid-type]
        def __init__(self, config: Any, **kwargs: Any) -> None:
            kwargs.setdefault("sleep", sleep)
            super().__init__(config, **kwargs)

    monkeypatch.setattr(llm_client, "LLMClient", NoSleepClient)
    return sleep


def test_transient_500_is_retried(fake_clock: FakeSleep) -> None:
    fake = FakeEmbedding(dim=DIM, script=[FakeAPIError("Internal server error", 500)])
    started = time.perf_counter()
    out = LiteLLMEmbedder("fake-embed", max_retries=2, embedding_fn=fake).embed(TEXTS)
    assert time.perf_counter() - started < 0.5
    assert len(fake.calls) == 2
    assert len(fake_clock.delays) == 1 and 0.0 <= fake_clock.delays[0] <= 0.5
    np.testing.assert_allclose(out, expected_vectors(TEXTS), rtol=1e-6)


def test_errors_after_retries_become_embedding_error(fake_clock: FakeSleep) -> None:
    key = "sk-live-abcdefghijklmnop1234"
    fake = FakeEmbedding(dim=DIM, script=[FakeAPIError(f"Server error for key {key}", 503)] * 3)
    with pytest.raises(EmbeddingError, match=r"fake-embed") as info:
        LiteLLMEmbedder("fake-embed", max_retries=2, embedding_fn=fake).embed(TEXTS)
    assert key not in str(info.value)
    assert len(fake.calls) == 3 and len(fake_clock.delays) == 2


def test_client_error_is_not_retried(fake_clock: FakeSleep) -> None:
    fake = FakeEmbedding(dim=DIM, script=[FakeAPIError("Invalid input", 400)])
    with pytest.raises(EmbeddingError, match="Invalid input"):
        LiteLLMEmbedder("fake-embed", embedding_fn=fake).embed(TEXTS)
    assert len(fake.calls) == 1 and fake_clock.delays == []


def test_too_few_vectors_is_an_embedding_error() -> None:
    fake = FakeEmbedding(dim=DIM, drop_last=True)
    with pytest.raises(EmbeddingError, match=r"returned 4 vectors for 5 texts"):
        LiteLLMEmbedder("fake-embed", embedding_fn=fake).embed(TEXTS)


def test_embed_works_inside_a_running_event_loop() -> None:
    embedder = LiteLLMEmbedder("fake-embed", embedding_fn=FakeEmbedding(dim=DIM))

    async def notebook_cell() -> np.ndarray:
        return embedder.embed(TEXTS)

    np.testing.assert_allclose(asyncio.run(notebook_cell()), expected_vectors(TEXTS), rtol=1e-6)


# -- PrecomputedEmbedder and normalize_rows --------------------------------------------------


def test_precomputed_lookup_in_request_order() -> None:
    embedder = PrecomputedEmbedder({"a": [3.0, 4.0], "b": np.array([0.0, 2.0])}, name="mine")
    out = embedder.embed(["b", "a", "b"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 1.0], [0.6, 0.8], [0.0, 1.0]], rtol=1e-6)
    assert embedder.identity == "precomputed:mine"
    assert embedder.embed(["a"], role="document").shape == (1, 2)


def test_precomputed_missing_text_is_an_embedding_error() -> None:
    embedder = PrecomputedEmbedder({"a": [1.0, 0.0]}, name="mine")
    with pytest.raises(EmbeddingError, match=r"no vector for 2 text\(s\), e\.g\. 'zzz'"):
        embedder.embed(["a", "zzz", "yyy"])


def test_normalize_rows_keeps_zero_rows_and_does_not_mutate() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]])
    before = x.copy()
    out = normalize_rows(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]], rtol=1e-6)
    np.testing.assert_array_equal(x, before)
    assert math.isclose(float(np.linalg.norm(out[0])), 1.0, rel_tol=1e-6)
