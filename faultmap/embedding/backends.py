"""Faster backends for a local sentence-transformers model, all made offline from its weights.

``embedding_backend`` picks how a local model runs (:data:`EMBEDDING_BACKENDS`), or
``"auto"`` (:data:`AUTO`, SliceAnalyzer's default) picks one for this machine
(:func:`resolve_backend`): ``"torch"`` when torch sees a GPU (CUDA or Apple MPS), else
``"onnx"`` -- the same vectors on a CPU at about twice the speed and half the memory
(``benchmarks/README.md``, "Embedding backends").

* ``"torch"`` -- sentence-transformers on PyTorch (:class:`SentenceTransformerEmbedder`);
* ``"onnx"`` -- the same network exported once to ONNX and run by ONNX Runtime (float32;
  vectors match torch's to cosine 0.9999+);
* ``"onnx-int8"`` -- that export with its weights quantised to int8 by ONNX Runtime's dynamic
  quantisation (about half the CPU time; vectors move, see ``benchmarks/README.md``);
* ``"static"`` -- a model2vec static model distilled once from the weights: one vector per
  token, a text is the mean of its tokens' vectors (about 100x faster, and much coarser).

Exported and distilled models are kept in ``<cache_dir>/models/<backend>-<key>/``, the key a
SHA-256 of the model's path, its weights fingerprint and the backend, so a changed model is
exported again; with the embedding cache off they go to a temporary folder that lives as
long as the process. A folder is written beside its final name and renamed into place, so two
processes exporting at once never read half a model. The ONNX backends need ``onnx`` and
``onnxruntime`` (dependencies of faultmap); ``"static"`` needs ``model2vec[distill]``
(``pip install 'faultmap[static]'``).
Texts are sorted by length before batching (less padding), ONNX Runtime uses every core this
process may run on, and the CUDA provider when ONNX Runtime has it. An export made once in a
process is copied, not made again, into another cache folder that process uses.

Example:
    >>> EMBEDDING_BACKENDS
    ('torch', 'onnx', 'onnx-int8', 'static')
    >>> resolve_backend("all-MiniLM-L6-v2", "auto", gpu=lambda: "cuda")
    'torch'
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._optional import require
from faultmap.embedding.base import normalize_rows
from faultmap.embedding.cache import CachedEmbedder
from faultmap.embedding.fingerprint import hub_snapshot
from faultmap.embedding.local import SentenceTransformerEmbedder
from faultmap.exceptions import EmbeddingError, FaultmapWarning

__all__ = [
    "AUTO",
    "EMBEDDING_BACKENDS",
    "OnnxEmbedder",
    "StaticEmbedder",
    "accelerator",
    "local_embedder",
    "model_folder",
    "onnx_available",
    "resolve_backend",
    "warn_if_torch_vectors_cached",
]

logger = logging.getLogger("faultmap")

#: Every backend a local model can run on.
EMBEDDING_BACKENDS = ("torch", "onnx", "onnx-int8", "static")
#: ``embedding_backend="auto"``: one of :data:`EMBEDDING_BACKENDS` chosen for this machine.
AUTO = "auto"

# Bumped when what is written into a model folder changes, so old folders are not reused.
_FORMAT = 1
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_META = "faultmap-backend.json"

_LOCK = threading.Lock()
# Loaded ONNX sessions and static models, per folder name: the name is a digest of the
# model, its weights and the backend, so one loaded copy serves every cache folder.
_SESSIONS: dict[str, Any] = {}
_MADE: dict[str, Path] = {}  # complete model folders seen in this process, per folder name
_TEMP: list[tempfile.TemporaryDirectory[str]] = []
_SAID: set[str] = set()  # INFO lines and warnings given once per process


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _temporary_root() -> Path:
    """One temporary folder per process for models made while the cache is off."""
    with _LOCK:
        if not _TEMP:
            _TEMP.append(tempfile.TemporaryDirectory(prefix="faultmap-models-"))
            atexit.register(_TEMP[0].cleanup)
        return Path(_TEMP[0].name)


def model_folder(
    cache_dir: str | os.PathLike[str] | None, model: str, fingerprint: str | None, backend: str
) -> Path:
    """Where the ``backend`` copy of ``model`` lives: ``<cache_dir>/models/<backend>-<key>``
    (a per-process temporary folder when ``cache_dir`` is None).

    Example:
        >>> model_folder("/tmp/c", "m", "sha256:ab", "onnx").parent.as_posix()
        '/tmp/c/models'
    """
    root = Path(cache_dir) if cache_dir is not None else _temporary_root()
    key = hashlib.sha256(f"{_FORMAT}|{model}|{fingerprint}|{backend}".encode()).hexdigest()
    return root / "models" / f"{backend}-{key[:32]}"


def _build_once(target: Path, build: Any, what: str) -> Path:
    """Build ``target`` with ``build(tmp_folder)`` unless it is already complete; a copy of
    the same folder made earlier in this process (another cache folder) is copied instead."""
    if (target / _META).is_file():
        _MADE.setdefault(target.name, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    made = _MADE.get(target.name)
    if made is not None and made != target and (made / _META).is_file():
        source = made

        def build(tmp: Path) -> None:
            shutil.copytree(source, tmp, dirs_exist_ok=True)

        what = f"copy of the {what} made in {source}"
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".tmp-{target.name}-"))
    try:
        logger.info("Making the %s once; it is kept in %s", what, target)
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: keep its copy
            if not (target / _META).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _MADE.setdefault(target.name, target)
    return target


def _sentence_transformer(path: str) -> Any:
    st = require("sentence_transformers", purpose="exporting a local embedding model")
    try:
        return st.SentenceTransformer(path, device="cpu", local_files_only=os.path.isdir(path))
    except Exception as exc:
        raise EmbeddingError(
            f"Could not load the sentence-transformers model {path!r} to export it "
            f"({type(exc).__name__}: {exc}). Pass a local model directory, or "
            "embedding_backend='torch'."
        ) from exc


def _pooling_of(model: Any) -> str:
    """``"mean"`` or ``"cls"``: the only poolings the ONNX backends reproduce."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) < 2 or names[0] != "Transformer" or names[1] != "Pooling":
        raise EmbeddingError(
            f"The ONNX backends run models made of Transformer, Pooling and Normalize modules; "
            f"this one has {names}. Pass embedding_backend='torch'."
        )
    mode = getattr(modules[1], "pooling_mode", None)  # sentence-transformers 6
    if not isinstance(mode, str):
        getter = getattr(modules[1], "get_pooling_mode_str", None)
        mode = getter() if getter is not None else repr(mode)
    if mode not in {"mean", "cls"} or any(n not in {"Normalize"} for n in names[2:]):
        raise EmbeddingError(
            f"The ONNX backends reproduce mean or CLS pooling followed by Normalize; this "
            f"model has pooling {mode!r} and modules {names}. Pass embedding_backend='torch'."
        )
    return mode


def _export_onnx(path: str, folder: Path) -> None:
    """Export the transformer of the sentence-transformers model at ``path`` to
    ``folder/model.onnx`` (float32, dynamic batch and length) with its tokenizer."""
    torch = require("torch", purpose="exporting a local embedding model to ONNX")
    require("onnx", purpose="the ONNX embedding backends")
    model = _sentence_transformer(path)
    pooling = _pooling_of(model)
    transformer = model[0]
    tokenizer = transformer.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise EmbeddingError(
            f"The ONNX backends need a fast (Rust) tokenizer; {path!r} has "
            f"{type(tokenizer).__name__}. Pass embedding_backend='torch'."
        )
    network = transformer.auto_model.eval()

    class _Hidden(torch.nn.Module):  # keyword call: positional order differs across versions
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.network(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(
        ["an example", "a slightly longer example"], padding=True, return_tensors="pt"
    )
    inputs = tuple(
        sample[k] if k in sample else torch.zeros_like(sample["input_ids"]) for k in _ONNX_INPUTS
    )
    axes = {k: {0: "batch", 1: "length"} for k in (*_ONNX_INPUTS, "hidden")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(
            _Hidden().eval(),
            inputs,
            str(folder / "model.onnx"),
            input_names=list(_ONNX_INPUTS),
            output_names=["hidden"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    meta = {
        "format": _FORMAT,
        "source": path,
        "max_seq_length": int(transformer.max_seq_length or 512),
        "pooling": pooling,
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "dimension": int(
            (
                getattr(model, "get_embedding_dimension", None)
                or model.get_sentence_embedding_dimension
            )()
            or 0
        ),
    }
    (folder / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def _quantize(fp32: Path, folder: Path) -> None:
    """int8 dynamic quantisation of ``fp32``'s model into ``folder``."""
    quantization = require("onnxruntime.quantization", purpose="the 'onnx-int8' backend")
    rt_log = logging.getLogger()  # onnxruntime's quantiser advises on the root logger
    level = rt_log.level
    rt_log.setLevel(max(level, logging.ERROR))
    try:
        quantization.quantize_dynamic(
            str(fp32 / "model.onnx"),
            str(folder / "model.onnx"),
            weight_type=quantization.QuantType.QInt8,
        )
    finally:
        rt_log.setLevel(level)
    shutil.copy(fp32 / "tokenizer.json", folder / "tokenizer.json")
    shutil.copy(fp32 / _META, folder / _META)


def _length_batches(texts: Sequence[str], batch_size: int) -> tuple[np.ndarray, list[list[str]]]:
    """Order of ``texts`` by length (longest first) and the batches in that order."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    ordered = [texts[i] for i in order]
    return order, [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]


def _unsort(order: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    out = np.empty_like(vectors)
    out[order] = vectors
    return out


class _LocalBackend:
    """What the non-torch backends share: the torch embedder they stand in for, the folder
    their model is kept in, and cutting texts before they are read."""

    backend = "torch"

    def __init__(
        self,
        model: str,
        *,
        model_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 64,
        max_text_chars: int | None = 4000,
        show_progress: bool | None = None,
    ) -> None:
        self.source = SentenceTransformerEmbedder(
            model, max_text_chars=max_text_chars, show_progress=show_progress
        )
        self.model_name = model
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.max_text_chars = max_text_chars

    @property
    def identity(self) -> str:
        return f"{self.source.identity}:backend={self.backend}"

    @property
    def fingerprint(self) -> str | None:
        return self.source.fingerprint

    def folder(self) -> Path:
        """The folder this backend's copy of the model is (or will be) kept in."""
        return model_folder(
            self.model_dir, self.source._resolve_path(), self.source.fingerprint, self.backend
        )

    def _cut(self, texts: Sequence[str]) -> list[str]:
        if self.max_text_chars is None:
            return list(texts)
        return [t[: self.max_text_chars] for t in texts]


class OnnxEmbedder(_LocalBackend):
    """A local sentence-transformers model run by ONNX Runtime, float32 or int8.

    Exported once from the model's own weights (a few seconds) into the cache folder; the
    int8 copy is made from the float32 one by dynamic quantisation. Vectors are the model's
    mean (or CLS) pooling of the last hidden states, L2-normalised, as sentence-transformers
    computes them.

    Example:
        >>> emb = OnnxEmbedder("all-MiniLM-L6-v2", model_dir="/tmp/fm-cache")  # doctest: +SKIP
        >>> emb.embed(["How do I reset my password?"]).shape                   # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model: str, *, quantized: bool = False, **options: Any) -> None:
        super().__init__(model, **options)
        self.quantized = quantized
        self.backend = "onnx-int8" if quantized else "onnx"

    def _session(self) -> tuple[Any, Any, dict[str, Any]]:
        folder = self.folder()
        key = folder.name
        with _LOCK:
            loaded = _SESSIONS.get(key)
        if loaded is not None and (folder / _META).is_file():
            return loaded
        path = self.source._resolve_path()
        fp32 = model_folder(self.model_dir, path, self.source.fingerprint, "onnx")
        _build_once(fp32, lambda tmp: _export_onnx(path, tmp), f"ONNX export of {path}")
        if self.quantized:
            _build_once(folder, lambda tmp: _quantize(fp32, tmp), f"int8 ONNX model of {path}")
        if loaded is not None:
            return loaded
        ort = require("onnxruntime", purpose="the ONNX embedding backends")
        tokenizers = require("tokenizers", purpose="the ONNX embedding backends")
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = _cores()
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider",) if p in available]
        session = ort.InferenceSession(
            str(folder / "model.onnx"), options, providers=[*providers, "CPUExecutionProvider"]
        )
        tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=meta["max_seq_length"])
        tokenizer.enable_padding(pad_id=meta["pad_id"], pad_token=meta["pad_token"])
        with _LOCK:
            _SESSIONS[key] = (session, tokenizer, meta)
        return session, tokenizer, meta

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        session, tokenizer, meta = self._session()
        if not texts:
            return np.zeros((0, meta["dimension"]), dtype=np.float32)
        texts = self._cut(texts)
        logger.info("Embedding %d texts with %s (%s)", len(texts), self.model_name, self.backend)
        wanted = {i.name for i in session.get_inputs()}
        order, batches = _length_batches(texts, self.batch_size)
        parts = []
        for batch in batches:
            encoded = tokenizer.encode_batch(batch)
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            hidden = session.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
            if meta["pooling"] == "cls":
                pooled = hidden[:, 0]
            else:
                mask = feed["attention_mask"][..., None].astype(hidden.dtype)
                pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            parts.append(pooled)
        return normalize_rows(_unsort(order, np.concatenate(parts)))


class StaticEmbedder(_LocalBackend):
    """A model2vec static model distilled once from a local sentence-transformers model.

    Distilling embeds every token of the model's vocabulary through the model (minutes on a
    CPU, once; kept in the cache folder); a text's vector is then the weighted mean of its
    tokens' vectors, so embedding costs almost nothing. Its vectors live in a space of their
    own (PCA to 256 dimensions), so its fingerprint differs from the model's.
    ``distill_options`` go to ``model2vec.distill.distill`` (e.g. a smaller ``pca_dims``).

    Example:
        >>> emb = StaticEmbedder("all-MiniLM-L6-v2", model_dir="/tmp/fm-cache")  # doctest: +SKIP
        >>> emb.embed(["How do I reset my password?"]).shape                     # doctest: +SKIP
        (1, 256)
    """

    backend = "static"

    def __init__(
        self, model: str, *, distill_options: Mapping[str, Any] | None = None, **options: Any
    ) -> None:
        super().__init__(model, **options)
        self.distill_options = dict(distill_options or {})

    @property
    def identity(self) -> str:
        extra = json.dumps(self.distill_options, sort_keys=True) if self.distill_options else ""
        return super().identity + (f":distill={extra}" if extra else "")

    @property
    def fingerprint(self) -> str | None:
        inner = self.source.fingerprint
        if inner is None:
            return None
        extra = json.dumps(self.distill_options, sort_keys=True)
        return "model2vec:" + hashlib.sha256(f"{inner}|{extra}".encode()).hexdigest()

    def folder(self) -> Path:
        return model_folder(
            self.model_dir,
            self.source._resolve_path(),
            f"{self.source.fingerprint}|{json.dumps(self.distill_options, sort_keys=True)}",
            self.backend,
        )

    def _distill(self, folder: Path) -> None:
        distillation = require(
            "model2vec.distill", extra="static", purpose="the 'static' embedding backend"
        )
        path = self.source._resolve_path()
        options = {"pca_dims": 256, **self.distill_options}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            static = distillation.distill(model_name=path, **options)
        static.save_pretrained(str(folder))
        meta = {"format": _FORMAT, "source": path, "options": options}
        (folder / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    def _model(self) -> Any:
        folder = self.folder()
        key = folder.name
        with _LOCK:
            loaded = _SESSIONS.get(key)
        if loaded is not None and (folder / _META).is_file():
            return loaded
        model2vec = require("model2vec", extra="static", purpose="the 'static' embedding backend")
        path = self.source._resolve_path()
        _build_once(folder, self._distill, f"static model2vec distillation of {path}")
        if loaded is not None:
            return loaded
        static = model2vec.StaticModel.from_pretrained(str(folder))
        with _LOCK:
            _SESSIONS[key] = static
        return static

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        static = self._model()
        if not texts:
            return np.zeros((0, int(static.dim)), dtype=np.float32)
        texts = self._cut(texts)
        logger.info("Embedding %d texts with %s (static)", len(texts), self.model_name)
        order, batches = _length_batches(texts, 1024)
        parts = [np.asarray(static.encode(b, show_progress_bar=False)) for b in batches]
        return normalize_rows(_unsort(order, np.concatenate(parts)))


# -- choosing a backend for embedding_backend="auto" -----------------------------------------


def _once(message: str, *args: Any) -> None:
    """Log ``message`` at INFO the first time this process says it."""
    text = message % args
    with _LOCK:
        if text in _SAID:
            return
        _SAID.add(text)
    logger.info(text)


def _gpu_driver_present() -> bool:
    """Whether this machine may have a GPU torch can use, told without importing torch: an
    NVIDIA or AMD (ROCm) device node or driver, WSL's GPU bridge, or Apple silicon."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform.startswith("linux"):
        nodes = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version", "/dev/kfd")
        return any(os.path.exists(node) for node in (*nodes, "/dev/dxg"))
    if sys.platform == "win32":
        system = os.path.join(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32")
        return shutil.which("nvidia-smi") is not None or os.path.exists(
            os.path.join(system, "nvcuda.dll")
        )
    return True  # elsewhere only torch can tell


def accelerator() -> str | None:
    """``"cuda"`` or ``"mps"`` when torch sees a GPU of that kind, else None. Torch is
    imported only when it is loaded already or a GPU driver is present, so on a machine
    without one this costs nothing.

    Example:
        >>> accelerator() in (None, "cuda", "mps")
        True
    """
    torch = sys.modules.get("torch")
    if torch is None:
        if not _gpu_driver_present():
            return None
        try:
            import torch
        except Exception:  # torch broken or missing: the CPU backends run
            return None
    try:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
    except Exception:  # a driver torch cannot use
        return None
    return None


def onnx_available() -> bool:
    """Whether ``onnxruntime`` imports and ``onnx`` (for exporting) is installed.

    Example:
        >>> isinstance(onnx_available(), bool)
        True
    """
    import importlib.util

    try:
        import onnxruntime  # noqa: F401
    except Exception:  # missing, or a wheel that does not load here
        return False
    return importlib.util.find_spec("onnx") is not None


def _onnx_blocker(path: str) -> str | None:
    """Why the ONNX backends cannot be told to reproduce the model at ``path`` from its
    files (None: they can): its files must be on this machine, its modules a Transformer
    with a fast tokenizer, mean or CLS pooling and at most a Normalize."""
    folder = Path(path) if os.path.isdir(path) else None
    if folder is None:
        snapshot = hub_snapshot(path)
        folder = Path(snapshot) if snapshot else None
    if folder is None:
        return "its files are not on this machine yet"
    try:
        listed = folder / "modules.json"
        modules = json.loads(listed.read_text(encoding="utf-8")) if listed.is_file() else []
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if modules and (kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}):
            return f"its modules are {kinds}"
        base = folder / (modules[0].get("path", "") if modules else "")
        if not (base / "tokenizer.json").is_file():
            return "it has no fast tokenizer (tokenizer.json)"
        if modules:
            pooling = folder / modules[1].get("path", "") / "config.json"
            config = json.loads(pooling.read_text(encoding="utf-8"))
            mode = config.get("pooling_mode")
            if not isinstance(mode, str):
                on = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
                mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(
                    on[0] if len(on) == 1 else "", repr(on)
                )
            if mode not in ("mean", "cls"):
                return f"its pooling is {mode}"
    except (OSError, ValueError, AttributeError, IndexError, TypeError) as exc:
        return f"its module files could not be read ({type(exc).__name__}: {exc})"
    return None


def resolve_backend(
    model: str,
    backend: str | None,
    *,
    gpu: Callable[[], str | None] | None = None,
    onnx: Callable[[], bool] | None = None,
) -> str:
    """The backend that runs local model ``model``: ``backend`` itself (None: ``"torch"``),
    or for :data:`AUTO` ``"torch"`` when ``accelerator()`` names a GPU (sentence-transformers
    runs there), else ``"onnx"`` -- unless ONNX Runtime does not import or the model's files
    do not show an architecture the export reproduces, then ``"torch"`` (said once, at INFO).
    ``gpu`` and ``onnx`` replace the probes :func:`accelerator` and :func:`onnx_available`.

    Example:
        >>> resolve_backend("all-MiniLM-L6-v2", "auto", gpu=lambda: None)
        'onnx'
        >>> resolve_backend("all-MiniLM-L6-v2", "auto", gpu=lambda: "mps")
        'torch'
        >>> resolve_backend("all-MiniLM-L6-v2", "auto", gpu=lambda: None, onnx=lambda: False)
        'torch'
    """
    if backend != AUTO:
        return backend or "torch"
    device = (gpu or accelerator)()
    if device is not None:
        _once("embedding_backend='auto': %s runs on torch (%s, a GPU torch sees)", model, device)
        return "torch"
    if not (onnx or onnx_available)():
        _once(
            "embedding_backend='auto': onnx/onnxruntime do not import here, so %s runs on "
            "torch (pip install onnx onnxruntime for the faster CPU backend)",
            model,
        )
        return "torch"
    blocker = _onnx_blocker(SentenceTransformerEmbedder(model)._resolve_path())
    if blocker is not None:
        _once("embedding_backend='auto': %s runs on torch: %s for ONNX", model, blocker)
        return "torch"
    return "onnx"


def warn_if_torch_vectors_cached(cached: CachedEmbedder) -> None:
    """Warn once (:class:`~faultmap.exceptions.FaultmapWarning`) when ``embedding_backend=
    "auto"`` chose ONNX and the cache folder holds this model's torch vectors but none of
    its ONNX vectors: vectors cached by faultmap before ``"auto"`` was the default are not
    reused, so the texts are embedded once again."""
    inner = cached.inner
    if not isinstance(inner, OnnxEmbedder) or inner.backend != "onnx":
        return
    old = CachedEmbedder(inner.source, cached.cache_dir)
    if not any(old._dir("query").glob("shard-*.npz")):
        return
    if any(cached._dir("query").glob("shard-*.npz")):
        return
    key = f"warned:{cached.cache_dir}:{inner.identity}"
    with _LOCK:
        if key in _SAID:
            return
        _SAID.add(key)
    warnings.warn(
        f"The embedding cache {cached.cache_dir} holds vectors of {inner.model_name} made by "
        "torch, faultmap's default backend until now; on this machine (no GPU) the default "
        "embedding_backend='auto' runs ONNX Runtime, whose vectors equal torch's to cosine "
        "0.999 but are cached apart, so your prompts are embedded once again. Pass "
        "embedding_backend='torch' to keep using the torch vectors (or --embedding-backend "
        "torch). See 'Embedding backends' in the README.",
        FaultmapWarning,
        stacklevel=4,
    )


def local_embedder(
    model: str,
    backend: str | None = None,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> SentenceTransformerEmbedder | OnnxEmbedder | StaticEmbedder:
    """The embedder that runs local model ``model`` on ``backend`` (None: ``"torch"``;
    :data:`AUTO`: chosen by :func:`resolve_backend`); ``model_dir`` is the cache folder
    exported models are kept under (None: temporary).

    Example:
        >>> type(local_embedder("all-MiniLM-L6-v2", "onnx")).__name__
        'OnnxEmbedder'
    """
    if backend == AUTO:
        backend = resolve_backend(model, backend)
    if backend in (None, "torch"):
        return SentenceTransformerEmbedder(model, **options)
    if backend in ("onnx", "onnx-int8"):
        return OnnxEmbedder(model, quantized=backend == "onnx-int8", model_dir=model_dir, **options)
    if backend == "static":
        return StaticEmbedder(model, model_dir=model_dir, **options)
    raise EmbeddingError(
        f"The 'embedding_backend' parameter of SliceAnalyzer must be one of "
        f"{', '.join(map(repr, (AUTO, *EMBEDDING_BACKENDS)))}. Got {backend!r}."
    )
