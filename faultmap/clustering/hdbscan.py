"""HDBSCAN on reduced vectors: automatic number of clusters, noise labelled -1."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from faultmap.clustering.reduce import pca_reduce, umap_reduce

__all__ = ["HDBSCANClusterer", "Placer"]

logger = logging.getLogger("faultmap")

#: Rows ranked against the fitted points at a time by :meth:`Placer.neighbours` (a float32
#: block of this many rows by the fit size: 80 MB at a 20,000-point fit).
NEIGHBOUR_ROWS = 1024


class HDBSCANClusterer:
    """PCA, then HDBSCAN (automatic number of clusters; -1 = noise).

    Recipe, chosen by measurement on real MiniLM vectors of BIG-bench prompts (see
    ``benchmarks/README.md``): PCA to ``n_components=20`` dimensions (HDBSCAN straight on
    384-d vectors is ~30x slower and leaves more noise; 5-10 dims lost planted slices; UMAP
    costs ~1 min per 20k points), then HDBSCAN with ``min_cluster_size = min_slice_size`` and
    ``min_samples=1`` (fewest noise points for the same clusters). Above ``max_fit_points``
    (20,000) the tree is fitted on a fixed random sample and every other point is placed
    with ``hdbscan.approximate_predict``; the smallest cluster found then grows to about
    ``min_slice_size * n / max_fit_points`` points. Seeds are fixed: same input, same labels.

    With ``refine=True`` every cluster of at least ``refine_min_rows`` rows (default
    ``50 * min_cluster_size``) is clustered again on its own members: PCA to
    ``refine_components`` (50) dimensions fitted on those members alone, then HDBSCAN with
    ``min_cluster_size = max(min_cluster_size, ceil(refine_share * size))`` (``refine_share``
    0.01; ``size`` is the parent's, or ``max_fit_points`` when the fit is on a sample). Each
    sub-cluster holding at most half of its parent becomes a cluster of its own; the rest
    (the bulk, and the sub-clustering's noise) stays the parent. Above ``refine_max_rows``
    (200,000) rows refinement is skipped: every large cluster gets its own fit, which at a
    million prompts would take over an hour on 2 cores. Refinement also clusters the noise
    (``refine_noise``, on by default with ``refine``): the points HDBSCAN left in no cluster
    get a fit of their own (PCA to ``refine_components`` dimensions fitted on them, HDBSCAN
    with the same ``min_cluster_size``), and each group found holding at most half of the
    noise becomes a cluster; the rest stays noise. A small task whose prompts are spread
    thinner than the large tasks around it is mostly noise in the global fit (54 of 90
    fallacy prompts among 50,000, measured) and a cluster of its own among the noise.
    A global PCA is dominated by the large groups, so a small, distinct group inside a
    large cluster (90 counting prompts among 6,200 colour prompts) lies along a direction of
    little global variance and is merged; its parent's own PCA finds it. Refinement never
    looks at the failure labels, so everything tested on the clusters keeps its error rate.
    ``analyze()`` uses ``HDBSCANClusterer(n_components=30, refine=True)`` (see
    :func:`faultmap.stages.clusterer_for` and ``benchmarks/README.md``, "Failure modes on
    harder planted sets").

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
        n_components: int = 20,
        min_samples: int | None = 1,
        min_cluster_fraction: float = 0.0,
        cluster_selection_method: str = "eom",
        max_fit_points: int | None = 20_000,
        random_state: int = 0,
        batch_size: int = 65_536,
        refine: bool = False,
        refine_components: int = 50,
        refine_min_rows: int | None = None,
        refine_share: float = 0.01,
        refine_max_rows: int | None = 200_000,
        refine_noise: bool = True,
    ) -> None:
        self.refine_noise = refine_noise
        self.refine_max_rows = refine_max_rows
        self.batch_size = batch_size
        self.refine = refine
        self.refine_components = refine_components
        self.refine_min_rows = refine_min_rows
        self.refine_share = refine_share
        self.max_fit_points = max_fit_points
        self.reduction = reduction
        self.n_components = n_components
        self.min_samples = min_samples
        self.min_cluster_fraction = min_cluster_fraction
        self.cluster_selection_method = cluster_selection_method
        self.random_state = random_state

    def _model(self, size: int, *, prediction_data: bool) -> Any:
        from faultmap._optional import require

        hdbscan = require("hdbscan", purpose="HDBSCAN clustering")
        return hdbscan.HDBSCAN(
            min_cluster_size=size,
            min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
            prediction_data=prediction_data,
            # Prim's MST on a kd-tree: the same tree as the default Boruvka (same labels,
            # measured), half the wall time at 20,000 points on 2 cores (11 s vs 22 s).
            algorithm="prims_kdtree",
        )

    def fit_rows(self, n: int) -> np.ndarray | None:
        """The rows the tree is fitted on when there are ``n`` (sorted), ``None`` for all of
        them: the fixed random sample of :meth:`fit_predict`, drawn the same way."""
        if self.max_fit_points is None or n <= self.max_fit_points:
            return None
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, size=self.max_fit_points, replace=False))

    def fit_sample(self, reduced: np.ndarray, min_cluster_size: int) -> Any:
        """The HDBSCAN model fitted on the reduced vectors of the sample rows, with the data
        :class:`Placer` needs to place the other rows."""
        model = self._model(min_cluster_size, prediction_data=True)
        model.fit(np.asarray(reduced, dtype=np.float64))
        return model

    def reduce(self, vectors: np.ndarray) -> np.ndarray:
        if self.reduction == "none":
            return np.asarray(vectors, dtype=np.float64)
        if self.reduction == "umap":
            return umap_reduce(vectors, self.n_components, random_state=self.random_state)
        return pca_reduce(vectors, self.n_components, self.random_state)

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
        import math

        n = len(vectors)
        size = max(min_cluster_size, math.ceil(n * self.min_cluster_fraction), 2)
        if n <= size:
            return np.full(n, -1, dtype=np.int32)
        x = self.reduce(vectors)
        fit_rows = self.fit_rows(n)
        if fit_rows is None:
            model = self._model(size, prediction_data=False)
            labels = np.asarray(model.fit_predict(np.asarray(x, dtype=np.float64)), np.int32)
        else:
            model = self.fit_sample(x[fit_rows], size)
            labels = np.empty(n, dtype=np.int32)
            labels[fit_rows] = model.labels_
            rest = np.ones(n, dtype=bool)
            rest[fit_rows] = False
            placer = Placer(model)
            # The other rows placed a batch at a time: memory of one batch, not of all rows.
            for start in range(0, n, self.batch_size):
                stop = min(start + self.batch_size, n)
                where = start + np.flatnonzero(rest[start:stop])
                if where.size:
                    labels[where] = placer.place(x[where])
        logger.info(
            "HDBSCAN: %d clusters, %d noise points of %d",
            labels.max() + 1,
            int((labels < 0).sum()),
            n,
        )
        if self.refine and self.refine_max_rows is not None and n > self.refine_max_rows:
            # Each large cluster would get its own PCA and HDBSCAN fit: about a minute per
            # 80,000-row cluster on 2 cores, over an hour at a million prompts (measured).
            logger.info(
                "HDBSCAN refinement skipped: %d rows is above refine_max_rows=%d",
                n,
                self.refine_max_rows,
            )
        elif self.refine:
            labels = self.refine_labels(vectors, labels, min_cluster_size=size)
            if self.refine_noise:
                labels = self.cluster_noise(vectors, labels, min_cluster_size=size)
        return labels

    def _sub_clusterer(self) -> HDBSCANClusterer:
        """The clusterer refinement fits on a subset: PCA to ``refine_components`` fitted on
        that subset, the same HDBSCAN settings, no refinement of its own."""
        return HDBSCANClusterer(
            reduction="pca",
            n_components=self.refine_components,
            min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
            max_fit_points=self.max_fit_points,
            random_state=self.random_state,
            batch_size=self.batch_size,
        )

    def cluster_noise(
        self, vectors: np.ndarray, labels: np.ndarray, *, min_cluster_size: int
    ) -> np.ndarray:
        """Cluster the noise points of ``labels`` on their own (see the class docstring): each
        group found holding at most half of the noise takes the next free label; clusters are
        unchanged and the rest of the noise stays noise.

        Example:
            >>> rng = np.random.default_rng(0)
            >>> spread = rng.normal(0, 1, (300, 8))  # thin noise everywhere
            >>> group = rng.normal(0, .05, (20, 8)) + 4  # a tight group inside the noise
            >>> x = np.vstack([spread, group])
            >>> labels = np.full(320, -1)
            >>> out = HDBSCANClusterer().cluster_noise(x, labels, min_cluster_size=10)
            >>> np.unique(out[300:]).tolist(), int((out[:300] >= 0).sum()) < 150
            ([0], True)
        """
        labels = np.asarray(labels)
        noise = np.flatnonzero(labels < 0)
        if len(noise) <= 2 * min_cluster_size:
            return labels.astype(np.int32, copy=False)
        sub = self._sub_clusterer().fit_predict(vectors[noise], min_cluster_size=min_cluster_size)
        out = labels.astype(np.int32, copy=True)
        next_label = int(labels.max()) + 1 if len(noise) < len(labels) else 0
        found = 0
        for j in range(sub.max() + 1):
            members = noise[sub == j]
            if 2 * len(members) > len(noise):  # the bulk of the noise stays noise
                continue
            out[members] = next_label
            next_label += 1
            found += 1
        logger.info(
            "HDBSCAN refinement: %d clusters among %d noise points, %d points left as noise",
            found,
            len(noise),
            int((out < 0).sum()),
        )
        return out

    def refine_labels(
        self, vectors: np.ndarray, labels: np.ndarray, *, min_cluster_size: int
    ) -> np.ndarray:
        """Split the distinct sub-clusters out of every large cluster of ``labels`` (see the
        class docstring); a new cluster takes the next free label. Noise stays noise, and
        every new cluster lies inside one old one.

        Example:
            >>> rng = np.random.default_rng(0)
            >>> bulk = rng.normal(0, 1, (600, 8))
            >>> bulk[:, 7] = 0
            >>> small = rng.normal(0, .05, (30, 8))
            >>> small[:, 7] = 3
            >>> x = np.vstack([bulk, small])
            >>> merged = np.zeros(630, dtype=np.int64)  # one cluster holds both groups
            >>> out = HDBSCANClusterer().refine_labels(x, merged, min_cluster_size=10)
            >>> np.unique(out[600:]).tolist(), bool((out[:600] == 0).all())
            ([1], True)
        """
        import math

        labels = np.asarray(labels)
        big = self.refine_min_rows or 50 * min_cluster_size
        sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
        if not (sizes >= big).any():
            return labels.astype(np.int32, copy=False)
        sub_clusterer = self._sub_clusterer()
        out = labels.copy()
        next_label = len(sizes)
        for parent in np.flatnonzero(sizes >= big):
            rows = np.flatnonzero(labels == parent)
            # Above max_fit_points the sub-clustering is fitted on a sample, where sizes count
            # sample points: the share is of what the fit sees.
            seen = len(rows) if self.max_fit_points is None else min(len(rows), self.max_fit_points)
            size = max(min_cluster_size, math.ceil(self.refine_share * seen))
            sub = sub_clusterer.fit_predict(vectors[rows], min_cluster_size=size)
            for j in range(sub.max() + 1):
                members = rows[sub == j]
                if 2 * len(members) > len(rows):  # the bulk stays the parent
                    continue
                out[members] = next_label
                next_label += 1
        logger.info(
            "HDBSCAN refinement: %d clusters of at least %d rows split into %d clusters",
            int((sizes >= big).sum()),
            big,
            next_label - len(sizes) + int((sizes >= big).sum()),
        )
        return out.astype(np.int32)


class Placer:
    """Places new points in a fitted HDBSCAN model: the labels of
    ``hdbscan.approximate_predict``, computed for a whole batch at once.

    ``approximate_predict`` handles one point at a time in Python, and for each scans the
    condensed tree for the row of the point's nearest neighbour (a loop over every row of
    the tree, about 40,000 at a 20,000-point fit): about 5,000 points a second, over half an
    hour for ten million. This does the same steps as arrays: the same neighbour query
    (``2 * min_samples`` nearest fitted points), the nearest neighbour by mutual reachability
    (ties to the nearer one, as ``argmin``), the neighbour's row of the condensed tree looked
    up by index, then the walk up the cluster tree while the parent cluster's lambda is at
    least the point's, for all points together. Same labels (a test compares them).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.vstack([rng.normal(0, .05, (40, 3)) + 1, rng.normal(0, .05, (40, 3)) - 1])
        >>> model = HDBSCANClusterer().fit_sample(x, 10)
        >>> Placer(model).place(np.array([[1.0, 1, 1], [-1, -1, -1]])).tolist()
        [0, 1]
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        data = model.prediction_data_
        fitted = np.asarray(data.raw_data, dtype=np.float64)
        self.fitted = fitted
        # [x, 1] @ this = |f|^2 - 2 x.f: the squared distance to each fitted point less |x|^2,
        # in one float32 matrix product (the ranking only; distances are then exact).
        self.augmented = np.vstack([-2.0 * fitted.T, (fitted**2).sum(axis=1)]).astype(np.float32)
        self.core = np.asarray(data.core_distances, dtype=np.float64)
        self.min_samples = int(model.min_samples or model.min_cluster_size)
        raw = model.condensed_tree_._raw_tree
        child = np.asarray(raw["child"], dtype=np.int64)
        # The first row of the condensed tree whose child is each point (as
        # hdbscan's get_tree_row_with_child; row 0 when there is none).
        points = len(self.core)
        first = np.zeros(points, dtype=np.int64)
        kids, where = np.unique(child, return_index=True)
        inside = kids < points
        first[kids[inside]] = where[inside]
        self.point_parent = np.asarray(raw["parent"], dtype=np.int64)[first]
        self.point_lambda = np.asarray(raw["lambda_val"], dtype=np.float64)[first]
        ctree = data.cluster_tree
        self.empty = ctree.shape[0] == 0
        top = int(max(np.max(raw["parent"]), np.max(child) if child.size else 0)) + 1
        # child cluster -> (parent, lambda), the last row winning as in a dict
        self.has_parent = np.zeros(top, dtype=bool)
        self.parent_of = np.zeros(top, dtype=np.int64)
        self.lambda_of = np.zeros(top, dtype=np.float64)
        if not self.empty:
            c = np.asarray(ctree["child"], dtype=np.int64)
            self.has_parent[c] = True
            self.parent_of[c] = np.asarray(ctree["parent"], dtype=np.int64)
            self.lambda_of[c] = np.asarray(ctree["lambda_val"], dtype=np.float64)
            self.root = int(np.min(ctree["parent"]))
        self.label_of = np.full(top, -1, dtype=np.int32)
        for cluster, label in data.cluster_map.items():
            self.label_of[int(cluster)] = label

    def neighbours(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the ``k`` nearest fitted points of each row of ``x``,
        nearest first: candidates ranked by a float32 matrix product (``k + 1`` of them, a
        block of :data:`NEIGHBOUR_ROWS` rows at a time), then their exact float64 distances.
        The fit's kd-tree in 30 dimensions answers about 4,000 queries a second on 2
        cores; this about 15,000 (measured at a 20,000-point fit), with the same
        neighbours."""
        k = min(k, len(self.fitted))
        want = min(k + 1, len(self.fitted))
        out_d = np.empty((len(x), k))
        out_i = np.empty((len(x), k), dtype=np.int64)
        for start in range(0, len(x), NEIGHBOUR_ROWS):
            block = x[start : start + NEIGHBOUR_ROWS]
            ranked = np.hstack([block, np.ones((len(block), 1))]).astype(np.float32)
            scores = ranked @ self.augmented
            rows = np.arange(len(block))
            cand = np.empty((len(block), want), dtype=np.int64)
            for j in range(want):
                cand[:, j] = np.argmin(scores, axis=1)
                scores[rows, cand[:, j]] = np.inf
            diff = block[:, None, :] - self.fitted[cand]
            dist = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
            out_d[start : start + len(block)] = np.take_along_axis(dist, order, axis=1)
            out_i[start : start + len(block)] = np.take_along_axis(cand, order, axis=1)
        return out_d, out_i

    def place(self, points: np.ndarray) -> np.ndarray:
        """The cluster label (-1 = noise) of each row of ``points`` (reduced as the fit
        sample was), as int32."""
        x = np.asarray(points, dtype=np.float64)
        if self.empty or not len(x):
            return np.full(len(x), -1, dtype=np.int32)
        k = self.min_samples
        distances, indices = self.neighbours(x, 2 * k)
        reach = np.maximum(self.core[indices], distances[:, k : k + 1])
        reach = np.maximum(reach, distances)
        nearest = np.argmin(reach, axis=1)
        rows = np.arange(len(x))
        neighbour = indices[rows, nearest]
        best = reach[rows, nearest]
        with np.errstate(divide="ignore"):
            lam = np.where(best > 0.0, 1.0 / best, np.finfo(np.double).max)
        cluster = self.point_parent[neighbour].copy()
        moving = self.point_lambda[neighbour] > lam
        while moving.any():
            c = cluster[moving]
            step = (c > self.root) & self.has_parent[c] & (self.lambda_of[c] >= lam[moving])
            idx = np.flatnonzero(moving)
            cluster[idx[step]] = self.parent_of[c[step]]
            moving[idx[~step]] = False
        return self.label_of[cluster]
