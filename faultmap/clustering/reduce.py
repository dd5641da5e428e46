"""Dimension reduction used before clustering (PCA; UMAP with a random init)."""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["Covariance", "Projection", "pca_reduce", "umap_reduce"]

logger = logging.getLogger("faultmap")


class Projection:
    """A fitted PCA: ``mean`` and ``basis`` (d x k, float32); :meth:`apply` projects rows."""

    def __init__(self, mean: np.ndarray | None, basis: np.ndarray | None) -> None:
        self.mean, self.basis = mean, basis

    @property
    def dims(self) -> int | None:
        return None if self.basis is None else int(self.basis.shape[1])

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` projected in float32 (as they are, in float32, when no reduction)."""
        block = np.asarray(rows, dtype=np.float32)
        if self.basis is None or self.mean is None:
            return block
        return np.matmul(block - self.mean, self.basis)


class Covariance:
    """The covariance of rows added in any batches, summed ``batch_size`` rows at a time in
    float64 (shifted by the first block's mean): the sums of :func:`pca_reduce`, block for
    block, so a stream of batches gives its projection exactly.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
        >>> summed = Covariance(8, batch_size=16)
        >>> for i in range(0, 50, 7):
        ...     summed.add(x[i : i + 7])
        >>> np.array_equal(summed.projection(3).apply(x), pca_reduce(x, 3, batch_size=16))
        True
    """

    def __init__(self, dims: int, *, batch_size: int = 16_384) -> None:
        self.dims, self.batch_size = dims, batch_size
        self.rows = 0
        self.shift: np.ndarray | None = None
        self.total = np.zeros(dims)
        self.scatter = np.zeros((dims, dims))
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0

    def add(self, rows: np.ndarray) -> None:
        """Add a batch of rows (any length)."""
        self._pending.append(np.asarray(rows))
        self._pending_rows += len(rows)
        if self._pending_rows < self.batch_size:
            return
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        used = 0
        while len(joined) - used >= self.batch_size:
            self._sum(joined[used : used + self.batch_size])
            used += self.batch_size
        rest = joined[used:]
        self._pending, self._pending_rows = ([rest] if len(rest) else []), len(rest)

    def _sum(self, rows: np.ndarray) -> None:
        block = np.asarray(rows, dtype=np.float64)
        if self.shift is None:
            self.shift = block.mean(axis=0)
        block = block - self.shift
        self.total += block.sum(axis=0)
        self.scatter += block.T @ block
        self.rows += len(block)

    def projection(self, n_components: int) -> Projection:
        """The top ``n_components`` principal directions of every row added (signed so each
        one's largest entry is positive), or no reduction when they would be all of them."""
        if self._pending_rows:
            self._sum(np.concatenate(self._pending))
            self._pending, self._pending_rows = [], 0
        n, d = self.rows, self.dims
        k = min(n_components, d, max(n - 1, 1))
        if k >= d or self.shift is None:
            return Projection(None, None)
        offset = self.total / n
        cov = (self.scatter - n * np.outer(offset, offset)) / max(n - 1, 1)
        values, vecs = np.linalg.eigh(cov)
        basis = vecs[:, np.argsort(values)[::-1][:k]]
        flip = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(k)])
        basis = (basis * np.where(flip == 0, 1.0, flip)).astype(np.float32)
        return Projection((self.shift + offset).astype(np.float32), basis)


def pca_reduce(
    vectors: np.ndarray,
    n_components: int,
    random_state: int = 0,
    *,
    batch_size: int = 16_384,
) -> np.ndarray:
    """Project onto the top principal components; float32 out.

    Exact PCA from the covariance matrix, which is summed ``batch_size`` rows at a time in
    float64 (shifted by the first batch's mean, so no precision is lost to a large mean);
    every row is then projected a batch at a time in float32. The memory used is the output
    (n x ``n_components``), one batch and a d x d matrix: never a centred or float64 copy of
    ``vectors``, which may be a memory-mapped file. Batching changes only round-off.
    Components are signed so that each one's largest entry is positive; ``random_state`` is
    kept for callers and unused (the result is deterministic).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
        >>> out = pca_reduce(x, 3)
        >>> out.shape, out.dtype
        ((50, 3), dtype('float32'))
    """
    n, d = vectors.shape
    k = min(n_components, d, max(n - 1, 1))
    if k >= d:
        return np.asarray(vectors, dtype=np.float32)
    summed = Covariance(d, batch_size=batch_size)
    for start in range(0, n, batch_size):
        summed.add(vectors[start : start + batch_size])
    projection = summed.projection(k)
    out = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, batch_size):
        out[start : start + batch_size] = projection.apply(vectors[start : start + batch_size])
    logger.debug("PCA: %d x %d -> %d dims", n, d, k)
    return out


def umap_reduce(
    vectors: np.ndarray,
    n_components: int,
    *,
    n_neighbors: int = 15,
    random_state: int = 0,
    n_epochs: int | None = None,
) -> np.ndarray:
    """UMAP to ``n_components`` dims with cosine metric and random init.

    Spectral init did not finish on 100k vectors in 8 minutes on a 2-core machine; random init
    is much faster and, for clustering purposes, as good.
    """
    from faultmap._optional import require

    umap = require("umap", purpose="UMAP reduction")
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=0.0,
        metric="cosine",
        init="random",
        random_state=random_state,
        n_epochs=n_epochs,
        low_memory=True,
        verbose=False,
    )
    return np.asarray(reducer.fit_transform(vectors), dtype=np.float32)
