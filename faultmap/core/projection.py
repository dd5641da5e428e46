"""Maps of the prompts for a report's views: a stratified sample, projected to 2-D or 3-D.

Example:
    >>> import numpy as np
    >>> v = np.eye(4, dtype=np.float32)
    >>> m = prompt_map(v, list("abcd"), np.array([0, 0, 1, 1]), settings=MapSettings())
    >>> m["dims"], len(m["x"])
    (2, 4)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._text import clip
from faultmap.clustering.reduce import umap_reduce

__all__ = ["MapSettings", "map_sample", "prompt_map"]


@dataclass(frozen=True, kw_only=True)
class MapSettings:
    """How a report's map of the prompts is made (:func:`prompt_map`).

    ``projection`` "pca" (default: a 2-D PCA of the mapped prompts' vectors, well under a
    second) or "umap" (cosine UMAP with a random init and a fixed seed: neighbourhoods kept,
    tens of seconds); ``dims`` 2 or 3; at most ``max_points`` prompts, every group kept
    visible; prompt text clipped to ``max_text_chars``.
    """

    projection: str = "pca"
    dims: int = 2
    max_points: int = 5_000
    max_text_chars: int = 200
    random_state: int = 0


def map_sample(groups: np.ndarray, max_points: int, random_state: int = 0) -> np.ndarray:
    """At most ``max_points`` row indices (ascending), stratified so that every group shows.

    Each group keeps ``min(size, floor)`` random rows, ``floor = max_points // (2 * groups)``
    (at least 1); the rest of the budget is a uniform random sample of the other rows.

    Example:
        >>> groups = np.array([0] * 1000 + [1] * 5)
        >>> rows = map_sample(groups, 100)
        >>> len(rows), int((groups[rows] == 1).sum())
        (100, 5)
    """
    groups = np.asarray(groups)
    n = len(groups)
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    _, inverse = np.unique(groups, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    floor = max(1, max_points // (2 * n_groups))
    shuffled = rng.permutation(n)
    by_group = shuffled[np.argsort(inverse[shuffled], kind="stable")]
    starts = np.searchsorted(inverse[by_group], np.arange(n_groups))
    rank = np.empty(n, dtype=np.int64)
    rank[by_group] = np.arange(n) - starts[inverse[by_group]]
    kept = np.flatnonzero(rank < floor)
    if kept.size >= max_points:
        return np.sort(rng.choice(kept, size=max_points, replace=False))
    others = np.flatnonzero(rank >= floor)
    extra = rng.choice(others, size=max_points - kept.size, replace=False)
    return np.sort(np.concatenate([kept, extra]))


def prompt_map(
    vectors: np.ndarray,
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    settings: MapSettings,
    index: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    texts_of: Mapping[str, Sequence[str]] | None = None,
    **columns: np.ndarray,
) -> dict[str, Any]:
    """Coordinates of at most ``settings.max_points`` prompts for a report's map.

    Rows are sampled by :func:`map_sample` over ``strata`` (default: ``labels``), projected
    to ``settings.dims`` dimensions (PCA, or UMAP when asked) and scaled into [-1, 1].
    Returns plain lists: ``x``, ``y`` (``z``), ``index`` (``index[row]``, default the row),
    ``label``, ``text`` (clipped prompt), one clipped text list per entry of ``texts_of`` (e.g.
    ``response``) and one list per extra column, plus ``projection``,
    ``dims`` and ``total_points``.

    Example:
        >>> v = np.eye(4, dtype=np.float32)
        >>> m = prompt_map(v, list("abcd"), np.array([0, 0, 1, 1]), settings=MapSettings())
        >>> sorted(m), len(m["x"])
        (['dims', 'index', 'label', 'projection', 'text', 'total_points', 'x', 'y'], 4)
    """
    labels = np.asarray(labels)
    rows = map_sample(
        labels if strata is None else strata, settings.max_points, settings.random_state
    )
    points = np.asarray(vectors[rows], dtype=np.float32)
    dims = settings.dims
    if settings.projection == "umap" and len(rows) > 2 * (dims + 1):
        coords = umap_reduce(
            points,
            dims,
            n_neighbors=min(15, len(rows) - 1),
            random_state=settings.random_state,
        )
    elif min(points.shape) > dims:
        from sklearn.decomposition import PCA

        # randomized SVD: a few BLAS products, fast at every size (the exact solver took
        # seconds on a busy 2-core machine even for a few hundred prompts)
        pca = PCA(n_components=dims, svd_solver="randomized", random_state=settings.random_state)
        coords = pca.fit_transform(points)
    else:  # fewer prompts or dimensions than asked for: the vectors themselves
        coords = points - points.mean(axis=0)
    coords = np.asarray(coords, dtype=np.float64)[:, :dims]
    if coords.shape[1] < dims:  # fewer rows or dimensions than asked for
        coords = np.hstack([coords, np.zeros((len(rows), dims - coords.shape[1]))])
    coords -= coords.mean(axis=0) if len(rows) else 0.0
    scale = float(np.abs(coords).max()) if coords.size else 0.0
    coords = np.round(coords / scale if scale > 0 else coords, 4)
    ids = rows if index is None else np.asarray(index)[rows]
    out: dict[str, Any] = {
        "projection": settings.projection,
        "dims": dims,
        "total_points": len(labels),
    }
    for axis, name in enumerate("xyz"[:dims]):
        out[name] = coords[:, axis].tolist()
    out["index"] = [int(i) for i in ids]
    out["label"] = [int(x) for x in labels[rows]]
    out["text"] = [clip(texts[i], settings.max_text_chars) for i in rows]
    for name, strings in (texts_of or {}).items():
        out[name] = [clip(strings[i], settings.max_text_chars) for i in rows]
    for name, values in columns.items():
        out[name] = np.asarray(values)[rows].tolist()
    return out
