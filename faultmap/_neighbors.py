"""Nearest neighbours by cosine similarity: exact in memory-bounded blocks, or through
k-means cells when the exact search would be too slow.

Vectors are L2-normalised float32 rows, so cosine similarity is a dot product and the
*cosine distance* used throughout faultmap is ``1 - cosine similarity`` (0 for the same
direction, 1 for orthogonal, 2 for opposite).

**Exact** (:func:`nearest_neighbors`): similarities are computed block by block
(``queries[i:j] @ corpus[k:l].T`` in float32) and only a running maximum is kept, so no
``n x m`` matrix is ever held: a block holds at most ``memory_budget`` bytes. It costs
``2 n m d`` floating-point operations: on the 2-core reference machine about 120 GFLOP/s,
so 1,000,000 queries against 100,000 vectors of 384 dimensions take about 7 minutes.

**Cells** (:func:`search`, ``method="cells"``, an inverted-file index in NumPy): the
corpus is split into ``nlist`` (about ``sqrt(m)``) cells by spherical k-means on a
seeded sample, and each query is compared exactly with the vectors of its ``nprobe``
nearest cells. Queries are grouped by cell, so every comparison is still one matrix
product: at 1,000,000 x 100,000 it took 57 s where the exact search took 423 s.
``nprobe`` starts at ``max(8, nlist / 32)`` and doubles (up to ``nlist / 4``) until
``TARGET_SHARE`` (99 %) of ``check_queries`` seeded random queries get a distance within
``DISTANCE_TOLERANCE`` (0.01) of the exact one; if that never happens (data without
cluster structure), the search is exact after all. A query whose true neighbour lies in a
cell it did not probe gets the best of the cells it saw: its similarity can only be
*lower* than the exact one (its distance only longer), never higher. The search then
measures its own error on ``check_queries`` other random queries: the share within the
tolerance, the share whose exact neighbour it found (``recall_at_1``: low for queries far
from the whole corpus, which have many near-equal neighbours) and the largest and mean
distance error, returned with the result so a report can say how close it is.

``method="auto"`` searches exactly up to ``EXACT_PAIRS`` query-corpus pairs and by cells
above.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "EXACT_PAIRS",
    "METHODS",
    "PreparedSearch",
    "block_shape",
    "cosine_distance",
    "nearest_neighbors",
    "search",
]

logger = logging.getLogger("faultmap")

#: Up to this many query x corpus pairs, ``method="auto"`` searches exactly (about 40 s
#: at 384 dimensions on the 2-core reference machine).
EXACT_PAIRS = 10**10

#: The values of ``method`` accepted by :func:`search`.
METHODS = ("auto", "exact", "cells")

#: The index is used only when at least ``TARGET_SHARE`` of the tuning queries get a
#: distance within ``DISTANCE_TOLERANCE`` of the exact one. (Not recall of the exact
#: neighbour: a production prompt far from every test prompt has many test prompts at
#: almost the same distance, and any of them tells the same story.)
TARGET_SHARE = 0.99
DISTANCE_TOLERANCE = 0.01

#: Seconds between progress lines of a long exact search.
_PROGRESS_EVERY = 15.0

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
    began = last = time.perf_counter()
    for start in range(0, n, rows):
        now = time.perf_counter()
        if now - last >= _PROGRESS_EVERY:
            last = now
            done = start / n
            logger.info(
                "nearest neighbours: %d of %d queries (%.0f %%), about %.0f s left",
                start,
                n,
                100 * done,
                (now - began) * (1 - done) / done,
            )
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


def search(
    queries: np.ndarray,
    corpus: np.ndarray,
    *,
    method: str = "auto",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    check_queries: int = 2_000,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Nearest corpus row of every query, exactly or by cells (module doc).

    Returns ``(similarities, indices, details)``; ``details["method"]`` is ``"exact"`` or
    ``"cells"``, with ``nlist``, ``nprobe``, ``share_within_tolerance``,
    ``recall_at_1``, ``max_distance_error`` and ``mean_distance_error`` (measured on
    ``check_queries`` seeded random queries) for the index.

    Example:
        >>> q = np.array([[1.0, 0.0]], dtype=np.float32)
        >>> c = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
        >>> sims, idx, details = search(q, c)
        >>> idx.tolist(), details["method"]
        ([1], 'exact')
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    n, m = len(queries), len(corpus)
    if method == "auto":
        method = "exact" if n * m <= EXACT_PAIRS else "cells"
    if method == "exact" or m < 2 * _MIN_CELL:
        sims, idx = nearest_neighbors(queries, corpus, memory_budget=memory_budget)
        return sims, idx, {"method": "exact"}
    return _cell_search(queries, corpus, check_queries, random_state, memory_budget)


#: Corpus vectors per cell, at least (on average).
_MIN_CELL = 16
#: Query rows handled together by :func:`_probe`.
_QUERY_BLOCK = 40_000


class _Cells:
    """The corpus split into cells: ``centroids`` (unit rows), and the corpus rows of cell
    ``c`` are ``order[starts[c]:starts[c + 1]]``, their vectors ``members[...]`` (copied in
    cell order, so each cell is one contiguous block)."""

    def __init__(self, corpus: np.ndarray, nlist: int, rng: np.random.Generator, budget: int):
        m = len(corpus)
        sample = np.sort(rng.choice(m, size=min(m, 64 * nlist), replace=False))
        train = np.ascontiguousarray(corpus[sample], dtype=np.float32)
        centroids = train[rng.choice(len(train), size=nlist, replace=False)].copy()
        for _ in range(10):  # spherical k-means (Lloyd)
            _, near = nearest_neighbors(train, centroids, memory_budget=budget)
            sums = np.zeros_like(centroids)
            np.add.at(sums, near, train)
            norms = np.linalg.norm(sums, axis=1)
            empty = norms == 0  # a cell nobody chose restarts at a random training vector
            centroids = (sums / np.where(empty, 1.0, norms)[:, None]).astype(np.float32)
            centroids[empty] = train[rng.choice(len(train), size=int(empty.sum()), replace=False)]
        _, cell = nearest_neighbors(corpus, centroids, memory_budget=budget)
        self.order = np.argsort(cell, kind="stable")
        self.starts = np.searchsorted(cell[self.order], np.arange(nlist + 1))
        self.members = np.ascontiguousarray(corpus[self.order], dtype=np.float32)
        self.centroids = centroids

    def probe(self, queries: np.ndarray, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """Best similarity and corpus row of each query among its ``nprobe`` nearest
        cells."""
        n, nlist = len(queries), len(self.centroids)
        best = np.full(n, -np.inf, dtype=np.float32)
        where = np.full(n, -1, dtype=np.int64)
        for start in range(0, n, _QUERY_BLOCK):
            block = np.ascontiguousarray(queries[start : start + _QUERY_BLOCK], dtype=np.float32)
            near = block @ self.centroids.T
            probed = np.argpartition(-near, nprobe - 1, axis=1)[:, :nprobe].ravel()
            asked = np.repeat(np.arange(len(block)), nprobe)
            by_cell = np.argsort(probed, kind="stable")
            probed, asked = probed[by_cell], asked[by_cell]
            bounds = np.searchsorted(probed, np.arange(nlist + 1))
            top_sim, top_row = best[start : start + len(block)], where[start : start + len(block)]
            for c in range(nlist):
                lo, hi = self.starts[c], self.starts[c + 1]
                if bounds[c] == bounds[c + 1] or lo == hi:
                    continue
                rows = asked[bounds[c] : bounds[c + 1]]
                sims = block[rows] @ self.members[lo:hi].T
                arg = sims.argmax(axis=1)
                top = sims[np.arange(len(rows)), arg]
                better = top > top_sim[rows]
                top_sim[rows[better]] = top[better]
                top_row[rows[better]] = self.order[lo + arg[better]]
        return best, where


class PreparedSearch:
    """A nearest-test-prompt search prepared once for ``n_queries`` queries that arrive in
    blocks (a coverage audit streaming production prompts from files): the same decision
    (exact or cells), index, tuning and error check as :func:`search` over all the queries
    at once, with the same seed.

    Use: :meth:`needed_rows` lists the query rows the cell index is tuned and checked on
    (none for the exact search); :meth:`fit` takes their vectors, in that order; then
    :meth:`query` any block of queries and, at the end, :meth:`details`.

    Example:
        >>> c = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
        >>> plan = PreparedSearch(c, n_queries=1)
        >>> plan.fit(np.zeros((0, 2), dtype=np.float32))
        >>> plan.query(np.array([[1.0, 0.0]], dtype=np.float32))[1].tolist(), plan.details()
        ([1], {'method': 'exact'})
    """

    def __init__(
        self,
        corpus: np.ndarray,
        *,
        n_queries: int,
        method: str = "auto",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        check_queries: int = 2_000,
        random_state: int = 0,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
        m = len(corpus)
        if method == "auto":
            method = "exact" if n_queries * m <= EXACT_PAIRS else "cells"
        self.corpus = corpus
        self.memory_budget = memory_budget
        self.method = "exact" if method == "exact" or m < 2 * _MIN_CELL else "cells"
        self._details: dict[str, Any] = {"method": "exact"}
        self._cells: _Cells | None = None
        self._tune = self._checked = np.zeros(0, dtype=np.int64)
        self._checked_vectors: np.ndarray | None = None
        if self.method == "cells":
            self.nlist = int(min(math.sqrt(m), m // _MIN_CELL, 4096))
            self.nprobe = min(self.nlist, max(8, self.nlist // 32))
            rng = np.random.default_rng(random_state)
            began = time.perf_counter()
            self._cells = _Cells(corpus, self.nlist, rng, memory_budget)
            self._built = time.perf_counter() - began
            # Tune nprobe on one seeded sample of queries (doubling until TARGET_SHARE),
            # report the error on another: a poor index is never silently used.
            half = min(n_queries // 2, check_queries)
            tune, checked = np.split(rng.permutation(n_queries)[: 2 * half], 2)
            self._tune, self._checked = np.sort(tune), np.sort(checked)

    def needed_rows(self) -> np.ndarray:
        """Query rows (ascending, no repeats) whose vectors :meth:`fit` needs."""
        return np.union1d(self._tune, self._checked)

    def fit(self, vectors: np.ndarray) -> None:
        """Tune the index on the vectors of :meth:`needed_rows` (in that order)."""
        if self._cells is None:
            return
        rows = self.needed_rows()
        tune = vectors[np.searchsorted(rows, self._tune)]
        self._checked_vectors = vectors[np.searchsorted(rows, self._checked)]
        tune_sims, _ = nearest_neighbors(tune, self.corpus, memory_budget=self.memory_budget)
        nprobe = self.nprobe
        while True:
            close = _share_close(self._cells.probe(tune, nprobe)[0], tune_sims)
            if close >= TARGET_SHARE or 2 * nprobe > self.nlist // 4:
                break
            nprobe *= 2
        self.nprobe = nprobe
        if close < TARGET_SHARE:
            logger.info(
                "nearest neighbours: cells get only %.1f %% of distances within %g of the "
                "exact ones at nprobe %d (data without cluster structure); searching exactly",
                100 * close,
                DISTANCE_TOLERANCE,
                nprobe,
            )
            self._cells = None
            self._details = {"method": "exact", "cells_share_within_tolerance": close}

    def query(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarity to and index of the nearest corpus row of every query row."""
        if self._cells is None:
            return nearest_neighbors(queries, self.corpus, memory_budget=self.memory_budget)
        sims = np.empty(len(queries), dtype=np.float32)
        idx = np.empty(len(queries), dtype=np.int64)
        step = 100_000
        for start in range(0, len(queries), step):
            stop = min(start + step, len(queries))
            sims[start:stop], idx[start:stop] = self._cells.probe(queries[start:stop], self.nprobe)
        return sims, idx

    def details(self, checked: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
        """How the search went; for the cell index, its error measured on the checked
        queries (``checked``: their ``(similarities, indices)`` from :meth:`query`, else
        searched again here)."""
        if self._cells is None:
            return dict(self._details)
        vectors = self._checked_vectors
        assert vectors is not None, "fit() first"
        sims, idx = checked if checked is not None else self.query(vectors)
        exact, exact_idx = nearest_neighbors(vectors, self.corpus, memory_budget=self.memory_budget)
        error = cosine_distance(sims) - cosine_distance(exact)
        details = {
            "method": "cells",
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "checked_queries": len(vectors),
            "share_within_tolerance": _share_close(sims, exact),
            "distance_tolerance": DISTANCE_TOLERANCE,
            "recall_at_1": float(np.mean(idx == exact_idx)) if len(vectors) else 1.0,
            "max_distance_error": float(error.max(initial=0.0)),
            "mean_distance_error": float(error.mean()) if error.size else 0.0,
            "index_seconds": round(self._built, 2),
        }
        logger.info(
            "nearest neighbours by cells (nlist %d, nprobe %d): %.1f %% of %d checked queries "
            "within %g of the exact distance, mean error %.2g",
            self.nlist,
            self.nprobe,
            100 * details["share_within_tolerance"],
            len(vectors),
            DISTANCE_TOLERANCE,
            details["mean_distance_error"],
        )
        return details


def _cell_search(
    queries: np.ndarray,
    corpus: np.ndarray,
    check_queries: int,
    random_state: int,
    memory_budget: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n = len(queries)
    plan = PreparedSearch(
        corpus,
        n_queries=n,
        method="cells",
        memory_budget=memory_budget,
        check_queries=check_queries,
        random_state=random_state,
    )
    rows = plan.needed_rows()
    plan.fit(queries[rows])
    if plan._cells is None:  # the index missed its target: exact after all
        sims, idx = nearest_neighbors(queries, corpus, memory_budget=memory_budget)
        return sims, idx, plan.details()
    sims = np.empty(n, dtype=np.float32)
    idx = np.empty(n, dtype=np.int64)
    last = time.perf_counter()
    step = 100_000
    for start in range(0, n, step):
        stop = min(start + step, n)
        sims[start:stop], idx[start:stop] = plan.query(queries[start:stop])
        if time.perf_counter() - last >= _PROGRESS_EVERY:
            last = time.perf_counter()
            logger.info("nearest neighbours (cells): %d of %d queries", stop, n)
    checked = plan._checked
    return sims, idx, plan.details((sims[checked], idx[checked]))


def _share_close(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Share of queries whose approximate similarity is within ``DISTANCE_TOLERANCE`` of
    the exact one (1.0 for no queries)."""
    if not len(exact):
        return 1.0
    return float(np.mean(exact - approximate <= DISTANCE_TOLERANCE))
