"""HDBSCAN on reduced vectors: automatic number of clusters, noise labelled -1."""

from __future__ import annotations

import logging

import numpy as np

from faultmap.clustering.reduce import pca_reduce, umap_reduce

__all__ = ["HDBSCANClusterer"]

logger = logging.getLogger("faultmap")


class HDBSCANClusterer:
    """Reduce dimensions, then HDBSCAN.

    Recipe (measured, see ``benchmarks/README.md``): PCA to ``n_components`` dims, then
    HDBSCAN with ``min_cluster_size = max(min_slice_size, ceil(n * min_cluster_fraction))``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.vstack([rng.normal(0, .05, (40, 8)) + 1, rng.normal(0, .05, (40, 8)) - 1])
        >>> labels = HDBSCANClusterer().fit_predict(x, min_cluster_size=10)
        >>> sorted(set(labels.tolist()))
        [0, 1]
    """

    name = "hdbscan"

    def __init__(
        self,
        *,
        reduction: str = "pca",
        n_components: int = 10,
        min_samples: int | None = None,
        min_cluster_fraction: float = 0.0,
        cluster_selection_method: str = "eom",
        random_state: int = 0,
    ) -> None:
        self.reduction = reduction
        self.n_components = n_components
        self.min_samples = min_samples
        self.min_cluster_fraction = min_cluster_fraction
        self.cluster_selection_method = cluster_selection_method
        self.random_state = random_state

    def reduce(self, vectors: np.ndarray) -> np.ndarray:
        if self.reduction == "none":
            return np.asarray(vectors, dtype=np.float64)
        if self.reduction == "umap":
            return umap_reduce(vectors, self.n_components, random_state=self.random_state)
        return pca_reduce(vectors, self.n_components, self.random_state).astype(np.float64)

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
        import math

        from faultmap._optional import require

        hdbscan = require("hdbscan", purpose="HDBSCAN clustering")
        n = len(vectors)
        size = max(min_cluster_size, math.ceil(n * self.min_cluster_fraction), 2)
        if n <= size:
            return np.full(n, -1, dtype=np.int64)
        x = self.reduce(vectors)
        model = hdbscan.HDBSCAN(
            min_cluster_size=size,
            min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
            core_dist_n_jobs=1,
        )
        labels = model.fit_predict(x)
        logger.info(
            "HDBSCAN: %d clusters, %d noise points of %d",
            labels.max() + 1,
            int((labels < 0).sum()),
            n,
        )
        return np.asarray(labels, dtype=np.int64)
