"""Exact nearest neighbours by cosine similarity, in memory-bounded blocks.

Vectors are L2-normalised float32 rows, so cosine similarity is a dot product and the
*cosine distance* used throughout faultmap is ``1 - cosine similarity`` (0 for the same
direction, 1 for orthogonal, 2 for opposite). Similarities are computed block by block
(``queries[i:j] @ corpus[k:l].T`` in float32) and only a running maximum is kept, so no
``n x m`` matrix is ever held: a block holds at most ``memory_budget`` bytes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_MEMORY_BUDGET", "block_shape", "cosine_distance", "nearest_neighbors"]

#: Bytes one similarity block may take (256 MiB: 8,192 x 8,192 float32).
DEFAULT_MEMORY_BUDGET = 256 * 2**20

_MIN_ROWS = 64


def block_shape(n_queries: int, n_corpus: int, memory_budget: int) -> tuple[int, int]:
    """Rows and columns of one float32 similarity block within ``memory_budget`` bytes.

    The whole corpus goes in one block of columns when ``_MIN_ROWS`` query rows of it fit;
    otherwise the corpus is split too. The block never has fewer than one row or column.

    Example:
        >>> block_shape(100_000, 10_000, 256 * 2**20)
        (6710, 10000)
    """
    cells = max(memory_budget // 4, 1)
    cols = n_corpus if n_corpus * _MIN_ROWS <= cells else max(cells // _MIN_ROWS, 1)
    rows = max(min(n_queries, cells // max(cols, 1)), 1)
    return rows, max(min(cols, n_corpus), 1)


def nearest_neighbors(
    queries: np.ndarray,
    corpus: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the highest cosine similarity to a corpus row and that row's index.

    Both inputs must be L2-normalised (as every faultmap embedder returns them). ``exclude``
    (one corpus index per query, or -1 for none) leaves that corpus row out for that query,
    e.g. the query itself for leave-one-out distances. A query with no admissible corpus row
    gets similarity ``-inf`` and index -1. Exact: every pair is compared, in float32.

    Example:
        >>> q = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
        >>> c = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
        >>> sims, idx = nearest_neighbors(q, c)
        >>> [round(float(s), 2) for s in sims], idx.tolist()
        ([1.0, 0.8], [1, 0])
    """
    q = np.ascontiguousarray(queries, dtype=np.float32)
    c = np.ascontiguousarray(corpus, dtype=np.float32)
    n, m = len(q), len(c)
    best = np.full(n, -np.inf, dtype=np.float32)
    where = np.full(n, -1, dtype=np.int64)
    if n == 0 or m == 0:
        return best, where
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=np.int64)
        if exclude.shape != (n,):
            raise ValueError(f"exclude must have one entry per query; got shape {exclude.shape}.")
    rows, cols = block_shape(n, m, memory_budget)
    block = np.empty((rows, cols), dtype=np.float32)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        for c_start in range(0, m, cols):
            c_stop = min(c_start + cols, m)
            sims = block[: stop - start, : c_stop - c_start]
            np.matmul(q[start:stop], c[c_start:c_stop].T, out=sims)
            if exclude is not None:
                local = exclude[start:stop] - c_start
                hit = np.flatnonzero((local >= 0) & (local < c_stop - c_start))
                sims[hit, local[hit]] = -np.inf
            arg = sims.argmax(axis=1)
            top = sims[np.arange(stop - start), arg]
            better = top > best[start:stop]
            best[start:stop][better] = top[better]
            where[start:stop][better] = arg[better] + c_start
    where[~np.isfinite(best)] = -1
    return best, where


def cosine_distance(similarity: np.ndarray) -> np.ndarray:
    """``1 - similarity`` as float64, clipped to [0, 2] (float32 rounding can leave a unit
    vector's similarity to itself a hair above 1)."""
    return np.clip(1.0 - np.asarray(similarity, dtype=np.float64), 0.0, 2.0)
