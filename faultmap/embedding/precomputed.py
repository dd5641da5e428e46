"""Pass-through embedder: look vectors up by text instead of running a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from faultmap.embedding.base import normalize_rows
from faultmap.exceptions import EmbeddingError

__all__ = ["PrecomputedEmbedder"]


class PrecomputedEmbedder:
    """Serve vectors you already have, keyed by their text.

    Example:
        >>> emb = PrecomputedEmbedder({"a": [1.0, 0.0], "b": [0.0, 2.0]}, name="mine")
        >>> emb.embed(["b", "a"]).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """

    def __init__(self, vectors: Mapping[str, Sequence[float] | np.ndarray], *, name: str) -> None:
        self._vectors = {k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}
        self.name = name

    @property
    def identity(self) -> str:
        return f"precomputed:{self.name}"

    def embed(self, texts: Sequence[str], *, role: str = "query") -> np.ndarray:
        if len(texts) == 0:
            dim = next(iter(self._vectors.values())).shape[-1] if self._vectors else 0
            return np.zeros((0, dim), dtype=np.float32)
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            raise EmbeddingError(
                f"PrecomputedEmbedder {self.name!r} has no vector for {len(missing)} text(s), "
                f"e.g. {missing[0][:80]!r}; add them to its mapping."
            )
        return normalize_rows(np.stack([self._vectors[t] for t in texts]))
