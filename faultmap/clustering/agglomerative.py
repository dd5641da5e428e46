"""Agglomerative clustering (Ward on the unit sphere); k fixed or chosen by silhouette."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from faultmap.clustering.reduce import pca_reduce

__all__ = ["AgglomerativeClusterer"]

logger = logging.getLogger("faultmap")


class AgglomerativeClusterer:
    """Ward agglomerative clustering on PCA-reduced vectors.

    With ``n_clusters=None`` it tries each k in ``k_grid`` and keeps the best silhouette
    (computed on a fixed sample of at most 5,000 points). Ward needs the full pairwise
    structure, so inputs above ``max_points`` are clustered on k-means centroids
    (``n_micro`` of them) and every point takes its centroid's label.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.vstack([rng.normal(0, .1, (30, 5)) + 1, rng.normal(0, .1, (30, 5)) - 1])
        >>> labels = AgglomerativeClusterer(n_clusters=2).fit_predict(x, min_cluster_size=5)
        >>> len(set(labels))
        2
    """

    name = "agglomerative"

    def __init__(
        self,
        n_clusters: int | None = None,
        *,
        k_grid: Sequence[int] = (5, 10, 15, 20, 25, 30, 40, 50),
        n_components: int = 50,
        max_points: int = 10_000,
        n_micro: int = 2_000,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_grid = tuple(k_grid)
        self.n_components = n_components
        self.max_points = max_points
        self.n_micro = n_micro
        self.random_state = random_state

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
        from sklearn.metrics import silhouette_score

        n = len(vectors)
        x = pca_reduce(vectors, self.n_components, self.random_state)
        assign = None
        if n > self.max_points:
            km = MiniBatchKMeans(
                n_clusters=self.n_micro, random_state=self.random_state, n_init=1, batch_size=4096
            ).fit(x)
            assign, points = km.labels_, km.cluster_centers_
        else:
            points = x
        m = len(points)
        if m < 2:
            return np.zeros(n, dtype=np.int64)
        grid = (
            [min(self.n_clusters, m)] if self.n_clusters else [k for k in self.k_grid if 2 <= k < m]
        )
        if not grid:
            return np.zeros(n, dtype=np.int64)
        rng = np.random.default_rng(self.random_state)
        sample = rng.choice(n, size=min(n, 5000), replace=False)
        best, best_score = None, -np.inf
        for k in grid:
            labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(points)
            full = labels[assign] if assign is not None else labels
            if len(grid) == 1:
                best = full
                break
            if len(np.unique(full[sample])) < 2:
                continue
            score = silhouette_score(x[sample], full[sample])
            logger.debug("agglomerative k=%d silhouette=%.4f", k, score)
            if score > best_score:
                best, best_score = full, score
        return np.asarray(best if best is not None else np.zeros(n), dtype=np.int64)
