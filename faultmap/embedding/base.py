"""Stage 2 protocol: texts -> float32 (n, d) L2-normalised vectors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "fingerprint_of", "normalize_rows"]

logger = logging.getLogger("faultmap")


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into vectors.

    ``identity`` names the model and its settings; two embedders with equal identities must
    return the same vectors for the same text (the embedding cache relies on it).
    ``role`` is ``"query"`` for prompts and ``"document"`` for responses and references; most
    models ignore it.

    An embedder may also have a ``fingerprint`` (a str, or None when unknown) naming the
    model's weights alone, not its settings: vectors of two embedders with the same
    fingerprint live in the same space, so reports made with them can be compared by meaning
    (see :mod:`faultmap.embedding.fingerprint`). It is optional: see :func:`fingerprint_of`.
    """

    @property
    def identity(self) -> str: ...

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray: ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return a float32 copy of ``vectors`` with unit-length rows (zero rows stay zero)."""
    wide = np.asarray(vectors, dtype=np.float64)
    if wide.ndim != 2:
        wide = wide.reshape(len(wide), -1)
    norms = np.linalg.norm(wide, axis=1, keepdims=True)
    out = np.divide(wide, norms, out=np.zeros_like(wide), where=norms > 0)
    return out.astype(np.float32)


def fingerprint_of(embedder: object) -> str | None:
    """The ``fingerprint`` of ``embedder`` when it has a non-empty one, else None (also when
    reading it fails: a fingerprint is never worth failing an analysis for).

    Example:
        >>> class Mine:
        ...     fingerprint = "mine:v2"
        >>> fingerprint_of(Mine()), fingerprint_of(object())
        ('mine:v2', None)
    """
    try:
        value = getattr(embedder, "fingerprint", None)
    except Exception as exc:  # a backend that cannot find its files, say
        logger.debug("No embedding fingerprint (%s: %s)", type(exc).__name__, exc)
        return None
    return value if isinstance(value, str) and value.strip() else None
