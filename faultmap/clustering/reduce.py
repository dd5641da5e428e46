"""Dimension reduction used before clustering (PCA; UMAP with a random init)."""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["pca_reduce", "umap_reduce"]

logger = logging.getLogger("faultmap")


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
    shift = np.asarray(vectors[:batch_size], dtype=np.float64).mean(axis=0)
    total = np.zeros(d)
    scatter = np.zeros((d, d))
    for start in range(0, n, batch_size):
        block = np.asarray(vectors[start : start + batch_size], dtype=np.float64) - shift
        total += block.sum(axis=0)
        scatter += block.T @ block
    offset = total / n
    cov = (scatter - n * np.outer(offset, offset)) / max(n - 1, 1)
    values, vecs = np.linalg.eigh(cov)
    basis = vecs[:, np.argsort(values)[::-1][:k]]
    flip = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(k)])
    basis = (basis * np.where(flip == 0, 1.0, flip)).astype(np.float32)
    mean = (shift + offset).astype(np.float32)
    out = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, batch_size):
        block = np.asarray(vectors[start : start + batch_size], dtype=np.float32)
        np.matmul(block - mean, basis, out=out[start : start + batch_size])
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
