"""Orchestration over the stage protocols: embed -> cluster -> test -> name -> report.

Nothing here looks up strings or touches files; :mod:`faultmap.analyzer` builds the stages.
The helpers :func:`cluster_vectors`, :func:`describe_groups` and :func:`name_groups` are the
stages' shared glue, also used by :mod:`faultmap.coverage` and :mod:`faultmap.comparison`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap.clustering.base import Clusterer
from faultmap.exceptions import ClusteringError, DataError
from faultmap.naming.base import Namer, SliceContext, SliceLabel
from faultmap.naming.keywords import KeywordNamer, distinctive_terms
from faultmap.reports.diff import prompt_digest
from faultmap.reports.models import (
    AnalysisReport,
    ClusterTest,
    FailureSlice,
)
from faultmap.significance.tests import (
    benjamini_hochberg,
    one_sided_proportion_test,
    wilson_interval,
)

__all__ = [
    "Group",
    "MapSettings",
    "SliceSettings",
    "cluster_vectors",
    "describe_groups",
    "find_slices",
    "map_sample",
    "name_groups",
    "prompt_map",
    "representatives",
]

logger = logging.getLogger("faultmap")


@dataclass(frozen=True, kw_only=True)
class SliceSettings:
    significance_level: float = 0.05
    min_slice_size: int = 10
    failure_threshold: float = 0.5
    test: str = "fisher"
    n_examples: int = 5
    n_representative: int = 5


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


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, stage: str, start: float) -> None:
        self.timings[stage] = round(time.perf_counter() - start, 4)


def cluster_vectors(clusterer: Clusterer, vectors: np.ndarray, min_size: int) -> np.ndarray:
    """Run the clustering stage; wrap its failures in :class:`ClusteringError` and check that
    it returned one integer label per vector (-1 = noise)."""
    try:
        labels = np.asarray(clusterer.fit_predict(vectors, min_cluster_size=min_size))
    except (DataError, ClusteringError):
        raise
    except Exception as exc:
        raise ClusteringError(
            f"Clustering with {clusterer.name!r} failed ({type(exc).__name__}: {exc})."
        ) from exc
    if labels.shape != (len(vectors),) or not np.issubdtype(labels.dtype, np.integer):
        raise ClusteringError(
            f"Clusterer {clusterer.name!r} returned labels of shape {labels.shape} and dtype "
            f"{labels.dtype}; expected one integer per prompt."
        )
    return labels.astype(np.int64)


def representatives(vectors: np.ndarray, members: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` members closest to the members' mean direction, most central first."""
    centroid = vectors[members].mean(axis=0)
    sims = vectors[members] @ centroid
    order = np.lexsort((members, -sims))  # most central first; ties by index
    return members[order[:k]]


@dataclass(frozen=True)
class Group:
    """Rows of one cluster to be named: member indices (ascending), the most central members
    and the cluster's distinctive words."""

    group_id: int
    members: np.ndarray
    representatives: np.ndarray
    keywords: tuple[str, ...]

    def context(self, prompts: Sequence[str], **fields: Any) -> SliceContext:
        """The namer's view of this group; ``fields`` are the kind-specific ones."""
        return SliceContext(
            slice_id=self.group_id,
            size=len(self.members),
            keywords=self.keywords,
            representative_prompts=tuple(prompts[i] for i in self.representatives),
            **fields,
        )


def describe_groups(
    prompts: Sequence[str],
    vectors: np.ndarray,
    labels: np.ndarray,
    group_ids: Sequence[int],
    *,
    n_representative: int,
) -> list[Group]:
    """Members, representatives and keywords of each cluster in ``group_ids``, in that order.

    Keywords are distinctive against every other label of ``labels`` (noise included), see
    :func:`~faultmap.naming.keywords.distinctive_terms`; they are computed only when there is
    a group to describe.
    """
    if len(group_ids) == 0:
        return []
    keywords = distinctive_terms(prompts, labels)
    groups = []
    for g in group_ids:
        members = np.flatnonzero(labels == g)
        groups.append(
            Group(
                group_id=int(g),
                members=members,
                representatives=representatives(vectors, members, n_representative),
                keywords=tuple(keywords.get(int(g), ())),
            )
        )
    return groups


def name_groups(namer: Namer, contexts: list[SliceContext]) -> list[SliceLabel]:
    """One label per context from ``namer``; if the namer fails or miscounts, keyword labels
    with the reason in ``SliceLabel.error`` (a namer must never cost the analysis)."""
    if not contexts:
        return []
    fallback = KeywordNamer()
    try:
        labels = list(namer.name(contexts))
        if len(labels) != len(contexts):
            raise ValueError(f"returned {len(labels)} labels for {len(contexts)} slices")
        return labels
    except Exception as exc:  # a namer must never cost the analysis
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("Naming failed (%s); using keyword names", reason)
        return [SliceLabel(**{**lab.__dict__, "error": reason}) for lab in fallback.name(contexts)]


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
    **columns: np.ndarray,
) -> dict[str, Any]:
    """Coordinates of at most ``settings.max_points`` prompts for a report's map.

    Rows are sampled by :func:`map_sample` over ``strata`` (default: ``labels``), projected
    to ``settings.dims`` dimensions (PCA, or UMAP when asked) and scaled into [-1, 1].
    Returns plain lists: ``x``, ``y`` (``z``), ``index`` (``index[row]``, default the row),
    ``label``, ``text`` (clipped prompt) and one list per extra column, plus ``projection``,
    ``dims`` and ``total_points``.

    Example:
        >>> v = np.eye(4, dtype=np.float32)
        >>> m = prompt_map(v, list("abcd"), np.array([0, 0, 1, 1]), settings=MapSettings())
        >>> sorted(m), len(m["x"])
        (['dims', 'index', 'label', 'projection', 'text', 'total_points', 'x', 'y'], 4)
    """
    from faultmap.clustering.reduce import umap_reduce
    from faultmap.reports.text import clip

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
    for name, values in columns.items():
        out[name] = np.asarray(values)[rows].tolist()
    return out


def find_slices(
    prompts: Sequence[str],
    responses: Sequence[str],
    scores: np.ndarray,
    vectors: np.ndarray,
    *,
    clusterer: Clusterer,
    namer: Namer,
    settings: SliceSettings,
    embedding_model: str,
    scoring_mode: str = "precomputed",
    metadata: dict[str, Any] | None = None,
    row_ids: np.ndarray | None = None,
    total_rows: int | None = None,
    map_settings: MapSettings | None = None,
) -> AnalysisReport:
    """Cluster ``vectors``, test each cluster's failure rate, name the significant ones.

    Inputs are assumed validated (same lengths, scores in [0, 1], unit vectors). When only
    some input rows are analysed (rows that could not be scored are left out), ``row_ids``
    gives each analysed row's index in the caller's input of ``total_rows`` rows; indices in
    the report refer to the caller's input, and ``cluster_labels`` marks left-out rows -2.
    With ``map_settings`` the report's ``map`` places the prompts (:func:`prompt_map`).
    """
    ids_out = np.arange(len(prompts)) if row_ids is None else np.asarray(row_ids)
    timer = _Timer()
    meta: dict[str, Any] = dict(metadata or {})
    # Digests of every analysed prompt and of each slice's members: `faultmap diff` matches
    # slices of two runs by shared prompts (faultmap.reports.diff).
    digests = [prompt_digest(p) for p in prompts]
    meta["prompt_digests"] = digests
    n = len(prompts)
    failures = scores < settings.failure_threshold
    total_failures = int(failures.sum())
    baseline = total_failures / n
    common = dict(
        total_prompts=n,
        total_failures=total_failures,
        baseline_failure_rate=baseline,
        clustering_method=clusterer.name,
        embedding_model=embedding_model,
        scoring_mode=scoring_mode,
        significance_level=settings.significance_level,
        failure_threshold=settings.failure_threshold,
        min_slice_size=settings.min_slice_size,
    )
    if total_failures in (0, n):
        meta["note"] = "no failures" if total_failures == 0 else "every prompt failed"
        meta["timings_s"] = timer.timings
        return AnalysisReport(num_significant=0, slices=[], metadata=meta, **common)

    start = time.perf_counter()
    labels = cluster_vectors(clusterer, vectors, settings.min_slice_size)
    timer("cluster", start)

    start = time.perf_counter()
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    fail_counts = np.bincount(
        labels[labels >= 0],
        weights=failures[labels >= 0],
        minlength=int(ids.max()) + 1 if ids.size else 0,
    )
    size_of = {int(c): int(s) for c, s in zip(ids, sizes, strict=True)}
    tested_ids = [c for c, s in size_of.items() if s >= settings.min_slice_size]
    raw = [
        one_sided_proportion_test(
            int(fail_counts[c]), size_of[c], total_failures, n, test=settings.test
        )
        for c in tested_ids
    ]
    adjusted = benjamini_hochberg([r.p_value for r in raw])
    tests = [
        ClusterTest(
            cluster_id=c,
            size=size_of[c],
            num_failures=int(fail_counts[c]),
            p_value=r.p_value,
            adjusted_p_value=float(a),
            test_used=r.test_used,
        )
        for c, r, a in zip(tested_ids, raw, adjusted, strict=True)
    ]
    significant = [
        t
        for t in tests
        if t.adjusted_p_value < settings.significance_level and t.failure_rate > baseline
    ]
    significant.sort(key=lambda t: (t.adjusted_p_value, -t.failure_rate, t.cluster_id))
    timer("test", start)

    start = time.perf_counter()
    groups = describe_groups(
        prompts,
        vectors,
        labels,
        [t.cluster_id for t in significant],
        n_representative=settings.n_representative,
    )
    contexts = []
    for t, group in zip(significant, groups, strict=True):
        members = group.members
        failing = members[failures[members]]
        failing = failing[np.argsort(scores[failing], kind="stable")][: settings.n_examples]
        contexts.append(
            group.context(
                prompts,
                failure_rate=t.failure_rate,
                baseline_rate=baseline,
                failing_examples=tuple(
                    (prompts[i], responses[i], float(scores[i])) for i in failing
                ),
            )
        )
    names = name_groups(namer, contexts)
    timer("name", start)

    slices = []
    for t, group, ctx, label in zip(significant, groups, contexts, names, strict=True):
        members = group.members
        rest_n, rest_fail = n - t.size, total_failures - t.num_failures
        failing = [int(i) for i in members[failures[members]]][: settings.n_examples]
        passing = [int(i) for i in members[~failures[members]]][: settings.n_examples]
        examples = [
            {
                "index": int(ids_out[i]),
                "prompt": prompts[i],
                "response": responses[i],
                "score": float(scores[i]),
                "failed": bool(failures[i]),
            }
            for i in failing + passing
        ]
        slices.append(
            FailureSlice(
                name=label.name,
                description=label.description,
                size=t.size,
                failure_rate=t.failure_rate,
                baseline_rate=baseline,
                effect_size=t.failure_rate / baseline,
                p_value=t.p_value,
                adjusted_p_value=t.adjusted_p_value,
                test_used=t.test_used,
                root_cause=label.root_cause,
                suggested_remediation=label.suggested_remediation,
                sample_indices=[int(i) for i in ids_out[members]],
                examples=examples,
                representative_prompts=list(ctx.representative_prompts),
                cluster_id=t.cluster_id,
                num_failures=t.num_failures,
                rest_failure_rate=rest_fail / rest_n,
                risk_difference=t.failure_rate - baseline,
                confidence_interval=wilson_interval(t.num_failures, t.size),
                keywords=list(ctx.keywords),
                naming_source=label.source,
                naming_error=label.error,
                prompt_digests=[digests[i] for i in members],
            )
        )
    naming_errors = [s.naming_error for s in slices if s.naming_error]
    if naming_errors:
        meta["naming_fallbacks"] = len(naming_errors)
    prompt_positions: dict[str, Any] = {}
    if map_settings is not None:
        start = time.perf_counter()
        prompt_positions = prompt_map(
            vectors, prompts, labels, settings=map_settings, index=ids_out, failed=failures
        )
        timer("map", start)
    meta["timings_s"] = timer.timings
    full_labels = labels
    if row_ids is not None:
        full_labels = np.full(total_rows if total_rows is not None else len(labels), -2)
        full_labels[ids_out] = labels
    return AnalysisReport(
        map=prompt_positions,
        num_significant=len(slices),
        slices=slices,
        metadata=meta,
        num_clusters=int(ids.size),
        num_unclustered=int((labels < 0).sum()),
        num_untested=int(sum(s for s in sizes if s < settings.min_slice_size)),
        clusters=tests,
        cluster_labels=[int(x) for x in full_labels],
        **common,
    )
