"""Embedding fingerprints: which weights made a report's vectors (faultmap.embedding.fingerprint),
and how analyze() records them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from faultmap import ConfigurationError, FaultmapWarning, SliceAnalyzer
from faultmap.embedding import (
    CachedEmbedder,
    LiteLLMEmbedder,
    PrecomputedEmbedder,
    SentenceTransformerEmbedder,
    fingerprint_of,
    resolve_embedder,
    weights_fingerprint,
)
from faultmap.testing import FakeEmbedder, planted_prompts


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model(folder: Path, weights: bytes = b"weights v1") -> Path:
    """A sentence-transformers-like folder: torch weights, configs, and an ONNX export."""
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{}")
    (folder / "README.md").write_text("a model")
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"exported graph")
    return folder


def test_one_weight_file_gives_its_own_sha256(tmp_path):
    folder = _model(tmp_path / "m")
    assert weights_fingerprint(folder) == f"sha256:{_sha(b'weights v1')}"
    # the files of other backends (ONNX, OpenVINO, int8 exports) and the docs do not count
    (folder / "onnx" / "model_qint8_avx512.onnx").write_bytes(b"int8 graph")
    (folder / "openvino").mkdir()
    (folder / "openvino" / "openvino_model.bin").write_bytes(b"ir")
    (folder / "README.md").write_text("edited")
    assert weights_fingerprint(folder) == f"sha256:{_sha(b'weights v1')}"
    # a copy of the same weights elsewhere is the same model; other weights are not
    assert weights_fingerprint(_model(tmp_path / "copy")) == weights_fingerprint(folder)
    assert weights_fingerprint(_model(tmp_path / "other", b"weights v2")) != weights_fingerprint(
        folder
    )


def test_a_changed_file_is_read_again(tmp_path):
    folder = _model(tmp_path / "m")
    before = weights_fingerprint(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(b"weights v3, longer")
    os.utime(weights, ns=(1, 1))
    assert weights_fingerprint(folder) == f"sha256:{_sha(b'weights v3, longer')}" != before


def test_several_weight_files_and_the_torch_bin_fallback(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"a")
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"b")
    listing = (
        f"2_Dense/model.safetensors\t{_sha(b'b')}\nmodel-00001-of-00002.safetensors\t{_sha(b'a')}\n"
    )
    assert weights_fingerprint(folder) == f"sha256:{_sha(listing.encode())}"
    old = tmp_path / "old"
    old.mkdir()
    (old / "pytorch_model.bin").write_bytes(b"pickled torch")
    assert weights_fingerprint(old) == f"sha256:{_sha(b'pickled torch')}"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert weights_fingerprint(empty) is None and weights_fingerprint(tmp_path / "nope") is None


def test_backends_name_their_weights():
    packaged = SentenceTransformerEmbedder()
    fingerprint = packaged.fingerprint
    assert fingerprint is not None and fingerprint.startswith("sha256:")
    # settings that change how much of a text is read keep the model's fingerprint
    assert SentenceTransformerEmbedder(max_text_chars=None).fingerprint == fingerprint
    assert resolve_embedder("sentence-transformers/all-MiniLM-L6-v2").fingerprint == fingerprint
    assert CachedEmbedder(packaged, "/tmp/unused").fingerprint == fingerprint
    assert packaged.identity != SentenceTransformerEmbedder(max_text_chars=None).identity
    assert LiteLLMEmbedder("text-embedding-3-small").fingerprint == "litellm:text-embedding-3-small"
    assert fingerprint_of(PrecomputedEmbedder({"a": [1.0]}, name="mine")) is None
    assert fingerprint_of(FakeEmbedder(dim=8)) == "fake-bag-of-words:dim=8"


def test_a_local_folder_is_its_weights(tmp_path):
    folder = _model(tmp_path / "m")
    assert resolve_embedder(str(folder)).fingerprint == weights_fingerprint(folder)
    assert SentenceTransformerEmbedder(str(tmp_path / "nope")).fingerprint is None


def test_analyze_records_the_fingerprint():
    data = planted_prompts(120, 3, failing={"dates": 0.6}, seed=1)
    analyzer = SliceAnalyzer(embedding_model=FakeEmbedder(dim=32), embedding_cache=False)
    report = analyzer.analyze(data.prompts, ["r"] * 120, scores=data.scores)
    assert report.embedding_fingerprint == "fake-bag-of-words:dim=32"
    assert all(s.centroid is not None for s in report.slices)
    # vectors passed in: unknown, unless the caller names the model that made them
    vectors = FakeEmbedder(dim=32).embed(data.prompts)
    given = analyzer.analyze(data.prompts, ["r"] * 120, scores=data.scores, embeddings=vectors)
    assert given.embedding_model == "precomputed" and given.embedding_fingerprint is None
    assert "embedding_fingerprint" not in given.to_dict()
    named = analyzer.analyze(
        data.prompts,
        ["r"] * 120,
        scores=data.scores,
        embeddings=vectors,
        embeddings_model="all-MiniLM-L6-v2",
    )
    assert named.embedding_fingerprint == SentenceTransformerEmbedder().fingerprint
    assert np.allclose(
        [
            s.centroid.vector() @ r.centroid.vector()
            for s, r in zip(named.slices, report.slices, strict=True)
        ],
        1.0,
        atol=1e-3,
    )


def test_embeddings_model_is_checked():
    data = planted_prompts(60, 2, seed=0)
    analyzer = SliceAnalyzer(embedding_cache=False)
    vectors = FakeEmbedder(dim=8).embed(data.prompts)
    with pytest.raises(ConfigurationError, match="'embeddings_model' parameter of analyze"):
        analyzer.analyze(data.prompts, data.prompts, scores=data.scores, embeddings_model=3)
    with pytest.raises(ConfigurationError, match="no embeddings= were given"):
        analyzer.analyze(data.prompts, data.prompts, scores=data.scores, embeddings_model="x")
    with pytest.warns(FaultmapWarning, match="were not found on this machine"):
        report = analyzer.analyze(
            data.prompts,
            data.prompts,
            scores=data.scores,
            embeddings=vectors,
            embeddings_model="local:/no/such/model",
        )
    assert report.embedding_fingerprint is None
