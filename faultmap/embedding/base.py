"""Stage 2 protocol: texts -> float32 (n, d) L2-normalised vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "normalize_rows"]


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into vectors.

    ``identity`` names the model and its settings; two embedders with equal identities must
    return the same vectors for the same text (the embedding cache relies on it).
    ``role`` is ``"query"`` for prompts and ``"document"`` for responses and references; most
    models ignore it.
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
