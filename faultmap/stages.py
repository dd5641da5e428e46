"""Stage resolution: strings and defaults in, stage objects out, by explicit registries.

:class:`~faultmap.SliceAnalyzer` asks here for its clusterer, embedder, namer, scorer and
LLM client. A string names a registered backend (never a substring match); an object with
the stage's methods is used as it is.

Example:
    >>> sorted(CLUSTERERS)
    ['agglomerative', 'hdbscan']
    >>> clusterer_for("agglomerative", random_state=0).name
    'agglomerative'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from faultmap.clustering.base import Clusterer
from faultmap.config import LLMConfig
from faultmap.embedding.base import Embedder
from faultmap.exceptions import CompatibilityWarning, ConfigurationError
from faultmap.naming.base import Namer
from faultmap.scoring.base import Scorer

if TYPE_CHECKING:
    from faultmap.llm.client import LLMClient

__all__ = [
    "CLUSTERERS",
    "SLICE_CLUSTERERS",
    "clusterer_for",
    "embedder_for",
    "llm_client_for",
    "namer_for",
    "scorer_for",
]


def _hdbscan(random_state: int) -> Clusterer:
    from faultmap.clustering.hdbscan import HDBSCANClusterer

    return HDBSCANClusterer(random_state=random_state)


def _hdbscan_refined(random_state: int) -> Clusterer:
    from faultmap.clustering.hdbscan import HDBSCANClusterer

    return HDBSCANClusterer(random_state=random_state, n_components=30, refine=True)


def _agglomerative(random_state: int) -> Clusterer:
    from faultmap.clustering.agglomerative import AgglomerativeClusterer

    return AgglomerativeClusterer(random_state=random_state)


#: clustering_method string -> factory(random_state) -> Clusterer
CLUSTERERS: dict[str, Callable[[int], Clusterer]] = {
    "hdbscan": _hdbscan,
    "agglomerative": _agglomerative,
}


#: The recipe ``analyze()`` uses under a clustering_method name, where it differs from
#: :data:`CLUSTERERS`'. "hdbscan": PCA to 30 dimensions and large clusters refined on their
#: own members (measured on the harder planted sets, ``benchmarks/README.md``). Coverage and
#: comparisons keep :data:`CLUSTERERS`' recipe, on which their error rates were measured.
SLICE_CLUSTERERS: dict[str, Callable[[int], Clusterer]] = {"hdbscan": _hdbscan_refined}


def clusterer_for(
    spec: str | Clusterer, *, random_state: int, for_slices: bool = False
) -> Clusterer:
    """The registered clusterer named ``spec`` (``analyze()``'s recipe with
    ``for_slices``), or ``spec`` itself."""
    if not isinstance(spec, str):
        return spec
    if for_slices and spec in SLICE_CLUSTERERS:
        return SLICE_CLUSTERERS[spec](random_state)
    return CLUSTERERS[spec](random_state)


def embedder_for(
    spec: str | Embedder,
    *,
    cache: bool | str | os.PathLike[str],
    max_text_chars: int | None,
    usage_kwargs: Mapping[str, Mapping[str, Any]] | None,
    max_concurrent_requests: int,
    show_progress: bool | None,
    request_kwargs: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> Embedder:
    """The embedder for ``spec`` (see :func:`faultmap.embedding.resolve_embedder`), run on
    ``backend``, behind the embedding cache unless ``cache`` is False (True: the default
    folder). Exported models live in the cache folder, or a temporary one without a cache.
    When ``"auto"`` chose ONNX over torch vectors already cached, a warning says so once."""
    from faultmap.embedding import default_cache_dir, resolve_embedder

    model_dir = None if cache is False else (default_cache_dir() if cache is True else cache)
    embedder = resolve_embedder(
        spec,
        backend=backend,
        model_dir=model_dir,
        max_text_chars=max_text_chars,
        usage_kwargs=usage_kwargs,
        request_kwargs=request_kwargs,
        max_concurrent_requests=max_concurrent_requests,
        show_progress=show_progress,
    )
    if cache is False:
        return embedder
    from faultmap.embedding.cache import CachedEmbedder

    cached = CachedEmbedder(embedder, None if cache is True else cache)
    if backend == "auto":
        from faultmap.embedding.backends import warn_if_torch_vectors_cached

        warn_if_torch_vectors_cached(cached)
    return cached


def llm_client_for(config: LLMConfig | None) -> LLMClient | None:
    """A client for ``config`` (None without a model)."""
    if config is None:
        return None
    from faultmap.llm.client import LLMClient

    return LLMClient(config)


def namer_for(namer: Namer | None, client: LLMClient | None) -> Namer:
    """``namer``, else LLM names when there is a client, else keyword names."""
    if namer is not None:
        return namer
    if client is None:
        from faultmap.naming.keywords import KeywordNamer

        return KeywordNamer()
    from faultmap.naming.llm import LLMNamer

    return LLMNamer(client)


def scorer_for(
    references: Any,
    client: LLMClient | None,
    embedder: Callable[[], Embedder],
    *,
    n_samples: int,
    temperature: float,
    consistency_threshold: float,
    reference_match: str = "auto",
    failure_threshold: float = 0.5,
) -> Scorer:
    """Mode 2 (``references``: a :class:`~faultmap.scoring.reference.ReferenceScorer` with
    ``reference_match``) or mode 3 (sampling; needs a client; warns when ``n_samples`` is 1,
    which faultmap 0.5.0 refused); ``embedder`` is called only when one is needed."""
    if references is not None:
        from faultmap.scoring.reference import ReferenceScorer

        return ReferenceScorer(
            references, embedder(), match=reference_match, failure_threshold=failure_threshold
        )
    if client is None:
        raise ConfigurationError(
            "No scores= and no references= were given, so faultmap would score the "
            "responses itself by sampling from an LLM (mode 3), but no model is set. Pass "
            "scores= (mode 1), references= (mode 2), or SliceAnalyzer(model='...') for "
            "mode 3."
        )
    if n_samples == 1:
        warnings.warn(
            "n_samples=1: each prompt gets one sampled response, so its mode 3 score is 1 "
            "when that sample agrees with the response (cosine >= consistency_threshold) and "
            "0 when not. faultmap 0.5.0 refused n_samples < 2; pass n_samples >= 2 for "
            "graded scores. See 'Differences from faultmap 0.5.0' in the README.",
            CompatibilityWarning,
            stacklevel=2,
        )
    from faultmap.scoring.entropy import EntropyScorer

    return EntropyScorer(
        client,
        embedder(),
        n_samples=n_samples,
        temperature=temperature,
        consistency_threshold=consistency_threshold,
    )
