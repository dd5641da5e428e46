"""Stage 2: texts -> float32 (n, d) L2-normalised vectors.

Backends: a local sentence-transformers model (default: the packaged all-MiniLM-L6-v2), any
litellm embedding model, or vectors you already have. Choice by explicit rule, see
:func:`resolve_embedder`. Which weights made a set of vectors: :func:`fingerprint_of`
(:mod:`faultmap.embedding.fingerprint`).
"""

from __future__ import annotations

import os
from typing import Any

from faultmap.embedding.api import LiteLLMEmbedder
from faultmap.embedding.backends import AUTO, EMBEDDING_BACKENDS, local_embedder
from faultmap.embedding.base import Embedder, fingerprint_of, normalize_rows
from faultmap.embedding.cache import CachedEmbedder, default_cache_dir
from faultmap.embedding.fingerprint import weights_fingerprint
from faultmap.embedding.local import DEFAULT_LOCAL_MODEL, SentenceTransformerEmbedder
from faultmap.embedding.precomputed import PrecomputedEmbedder
from faultmap.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "EMBEDDING_BACKENDS",
    "LOCAL_MODELS",
    "CachedEmbedder",
    "Embedder",
    "LiteLLMEmbedder",
    "PrecomputedEmbedder",
    "SentenceTransformerEmbedder",
    "default_cache_dir",
    "fingerprint_of",
    "normalize_rows",
    "resolve_embedder",
    "weights_fingerprint",
]

# Well-known sentence-transformers models that a bare name selects as local. Any other bare
# name is taken as a litellm model string; "local:" / "litellm:" prefixes force a backend.
LOCAL_MODELS = frozenset(
    {
        "all-MiniLM-L6-v2",
        "all-MiniLM-L12-v2",
        "all-mpnet-base-v2",
        "all-distilroberta-v1",
        "multi-qa-MiniLM-L6-cos-v1",
        "multi-qa-mpnet-base-dot-v1",
        "paraphrase-MiniLM-L6-v2",
        "paraphrase-multilingual-MiniLM-L12-v2",
        "paraphrase-multilingual-mpnet-base-v2",
        "BAAI/bge-small-en-v1.5",
        "BAAI/bge-base-en-v1.5",
        "intfloat/e5-small-v2",
        "thenlper/gte-small",
    }
)


def resolve_embedder(
    spec: str | Embedder,
    *,
    backend: str | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Embedder:
    """Turn ``embedding_model`` into an :class:`Embedder`.

    Rules, in order: an object with ``embed`` and ``identity`` is used as is;
    ``"local:NAME_OR_PATH"`` is a sentence-transformers model; ``"litellm:MODEL"`` is an API
    model; a bare name in :data:`LOCAL_MODELS` (with or without ``sentence-transformers/``)
    or an existing directory is local; any other string is a litellm model.
    ``options`` go to the backend's constructor (``max_text_chars``, ``usage_kwargs``,
    ``request_kwargs``, ...; a local model takes only ``max_text_chars`` and ``show_progress``).
    ``backend`` runs a local model on one of :data:`EMBEDDING_BACKENDS` (None: ``"torch"``;
    ``"auto"``: chosen for this machine, see
    :func:`~faultmap.embedding.backends.resolve_backend`), its exported copy kept under
    ``model_dir`` (see :mod:`faultmap.embedding.backends`). A named backend is refused for
    API models and embedder objects, which have no weights here to export; ``"auto"`` leaves
    them as they are.

    Example:
        >>> type(resolve_embedder("all-MiniLM-L6-v2")).__name__
        'SentenceTransformerEmbedder'
        >>> type(resolve_embedder("text-embedding-3-small")).__name__
        'LiteLLMEmbedder'
        >>> type(resolve_embedder("all-MiniLM-L6-v2", backend="onnx-int8")).__name__
        'OnnxEmbedder'
    """
    if not isinstance(spec, str):
        if callable(getattr(spec, "embed", None)) and hasattr(spec, "identity"):
            if backend not in (None, AUTO):
                raise ConfigurationError(
                    "The 'embedding_backend' parameter of SliceAnalyzer applies to local "
                    "sentence-transformers models; embedding_model is an embedder object "
                    f"({type(spec).__name__}), which runs as it is. Leave embedding_backend "
                    f"unset (or 'auto'), or pass a local model name or folder. Got {backend!r}."
                )
            return spec
        raise ConfigurationError(
            "The 'embedding_model' parameter of SliceAnalyzer must be a model name or an object "
            f"with embed(texts) and identity. Got {type(spec).__name__}."
        )
    if not spec.strip():
        raise ConfigurationError(
            "The 'embedding_model' parameter of SliceAnalyzer must be a non-empty str. Got ''."
        )
    local_options = {k: v for k, v in options.items() if k in {"max_text_chars", "show_progress"}}
    for prefix in ("local:", "litellm:"):
        if spec.startswith(prefix) and not spec[len(prefix) :].strip():
            raise ConfigurationError(
                "The 'embedding_model' parameter of SliceAnalyzer must name a model after "
                f"{prefix!r}, e.g. '{prefix}all-MiniLM-L6-v2'. Got {spec!r}."
            )
    if spec.startswith("local:"):
        return local_embedder(spec[len("local:") :], backend, model_dir=model_dir, **local_options)
    bare = spec.removeprefix("sentence-transformers/")
    if not spec.startswith("litellm:") and (bare in LOCAL_MODELS or os.path.isdir(spec)):
        return local_embedder(spec, backend, model_dir=model_dir, **local_options)
    if backend not in (None, AUTO):
        raise ConfigurationError(
            "The 'embedding_backend' parameter of SliceAnalyzer applies to local "
            f"sentence-transformers models; embedding_model={spec!r} is an API (litellm) "
            "model, embedded by its provider. Leave embedding_backend unset (or 'auto'), or "
            f"pass a local model such as 'all-MiniLM-L6-v2' or 'local:PATH'. Got {backend!r}."
        )
    return LiteLLMEmbedder(spec.removeprefix("litellm:"), **_api_options(options))


def _api_options(options: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "max_text_chars",
        "usage_kwargs",
        "request_kwargs",
        "timeout",
        "max_retries",
        "max_concurrent_requests",
        "batch_size",
    }
    return {k: v for k, v in options.items() if k in allowed}
