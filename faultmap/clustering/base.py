"""Stage 3 protocol: vectors -> integer labels, -1 for noise (unclustered)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Clusterer"]


@runtime_checkable
class Clusterer(Protocol):
    """Groups L2-normalised vectors. Must be deterministic for a fixed input.

    ``min_cluster_size`` is a hint: clusters smaller than it are not tested anyway.
    """

    @property
    def name(self) -> str: ...

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray: ...
