"""The steps of a coverage audit before its gaps are named: checking the inputs, the
vectors of both sets, the distance threshold, the regions of the pooled prompts, the test of
each region and the choice of the gaps among them (the statistics are explained in
:mod:`faultmap.analyses.coverage`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._neighbors import DEFAULT_MEMORY_BUDGET, cosine_distance, nearest_neighbors
from faultmap._validation import as_embeddings, as_text_list
from faultmap.analyses.inputs import note_repairs
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import cluster, count_by_group, test_family
from faultmap.exceptions import ConfigurationError, DataError, FaultmapWarning
from faultmap.reports.models import RegionTest
from faultmap.significance.tests import (
    min_detectable_region_size,
    sure_rejection_level,
    under_representation_min_p,
    under_representation_test,
)

__all__ = [
    "GLOBAL_NULL_DRAWS",
    "TOLERANCE",
    "CoverageSettings",
    "RegionModel",
    "coverage_inputs",
    "coverage_threshold",
    "coverage_vectors",
    "fit_regions",
    "gap_regions",
    "global_null_p",
    "pooled_regions",
    "region_floor",
    "region_sample",
    "test_regions",
    "zero_test_gap_size",
]

#: Distances within this much of the threshold count as covered (float32 rounding leaves
#: a prompt's distance to an identical test prompt a hair above 0).
TOLERANCE = 1e-6


@dataclass(frozen=True, kw_only=True)
class CoverageSettings:
    significance_level: float = 0.05
    min_gap_size: int = 5
    #: faultmap 0.5.0's scale: Euclidean distance between unit vectors (None: chosen).
    distance_threshold: float | None = None
    #: The same threshold as a cosine distance; at most one of the two is set.
    cosine_distance_threshold: float | None = None
    threshold_quantile: float = 0.95
    threshold_sample_size: int = 5_000
    max_region_points: int = 10_000
    min_region_fraction: float = 0.003
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    n_representative: int = 5
    random_state: int = 0
    correction: str = "bh"
    #: A method of :func:`faultmap._neighbors.search`, or an object whose
    #: ``search(queries, corpus, *, memory_budget)`` returns the same triple (for example
    #: :class:`faultmap.integrations.ray.RayNeighborSearch`).
    neighbors: str | Any = "auto"

    def __post_init__(self) -> None:
        if self.distance_threshold is not None and self.cosine_distance_threshold is not None:
            raise ConfigurationError(
                "Both distance_threshold and cosine_distance_threshold were given; pass one "
                "(distance_threshold on faultmap 0.5.0's Euclidean scale, or "
                "cosine_distance_threshold = distance_threshold ** 2 / 2)."
            )

    def given_cosine_threshold(self) -> float | None:
        """The caller's threshold as a cosine distance (None: choose it from the data)."""
        if self.cosine_distance_threshold is not None:
            return float(self.cosine_distance_threshold)
        if self.distance_threshold is not None:  # at most 2: no two unit vectors are farther
            return min(float(self.distance_threshold) ** 2 / 2.0, 2.0)
        return None


def _first_occurrences(texts: Sequence[str]) -> np.ndarray:
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        seen.setdefault(text, i)
    return np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


#: A chosen threshold below this cosine distance is degenerate (float32 rounding of equal
#: vectors): warned about.
DEGENERATE_THRESHOLD = 1e-6


def coverage_threshold(
    test_prompts: Sequence[str],
    test_vectors: np.ndarray,
    *,
    quantile: float = 0.95,
    sample_size: int = 5_000,
    random_state: int = 0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[float, str, dict[str, Any]]:
    """The default threshold: a quantile of the test prompts' leave-one-out NN distances.

    Each of at most ``sample_size`` distinct test prompts (seeded sample) is compared with
    every *other* distinct test prompt; the threshold is the ``quantile`` of those nearest
    distances. Repeated test prompts are counted once, so copies do not pull it to 0.
    Returns ``(threshold, rule sentence, details)``.

    Example:
        >>> v = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
        >>> round(coverage_threshold(["a", "b", "c"], v, quantile=0.5)[0], 3)
        0.2
    """
    unique = _first_occurrences(test_prompts)
    if unique.size < 2:
        raise DataError(
            f"'test_prompts' has {unique.size} distinct prompt(s); choosing a distance threshold "
            "from the data needs at least 2. Pass more test prompts, distance_threshold= or "
            "cosine_distance_threshold=."
        )
    rng = np.random.default_rng(random_state)
    if unique.size > sample_size:
        picked = np.sort(rng.choice(unique.size, size=sample_size, replace=False))
    else:
        picked = np.arange(unique.size)
    corpus = test_vectors[unique]
    sims, _ = nearest_neighbors(corpus[picked], corpus, exclude=picked, memory_budget=memory_budget)
    loo = cosine_distance(sims)
    threshold = float(np.quantile(loo, quantile))
    if threshold < DEGENERATE_THRESHOLD:
        same = int(np.sum(loo < DEGENERATE_THRESHOLD))
        warnings.warn(
            f"The distance threshold chosen from the test prompts is {threshold:.2g}: "
            f"{same} of {loo.size} distinct test prompts have another test prompt with the "
            "same vector (different texts, identical embeddings), so only production prompts "
            "identical in meaning to a test prompt count as covered. Check the embeddings "
            "(a model that maps these texts apart), or pass distance_threshold=.",
            FaultmapWarning,
            stacklevel=5,  # coverage_threshold <- find_coverage_gaps <- audit <- facade
        )
    sampled = (
        f"{picked.size:,} of {unique.size:,} distinct test prompts sampled"
        if picked.size < unique.size
        else f"all {unique.size:,} distinct test prompts"
    )
    rule = (
        f"{100 * quantile:g}th percentile of the test prompts' leave-one-out nearest-neighbour "
        f"cosine distances ({sampled})"
    )
    details = {
        "quantile": quantile,
        "num_distinct_test_prompts": int(unique.size),
        "num_sampled": int(picked.size),
        "median_leave_one_out_distance": float(np.median(loo)),
    }
    return threshold, rule, details


@dataclass(frozen=True)
class RegionModel:
    """Regions fitted on a seeded uniform sample of the pooled prompts (above
    ``max_region_points``): the sample's labels, and for every region its centroid (unit
    row) and radius (the lowest cosine similarity of a sampled member to the centroid).
    :meth:`assign` places any other prompt; :func:`pooled_regions` and the streaming audit
    (:mod:`faultmap.analyses.coverage_stream`) share it, so both give the same regions."""

    sample: np.ndarray
    sample_labels: np.ndarray
    ids: np.ndarray
    centroids: np.ndarray
    radius: np.ndarray
    min_cluster_size: int
    memory_budget: int

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """Region of each row: the nearest centroid's when the row is no farther from it
        than the region's farthest sampled member, else -1 (int64)."""
        if not self.ids.size:
            return np.full(len(vectors), -1, dtype=np.int64)
        sims, nearest = nearest_neighbors(vectors, self.centroids, memory_budget=self.memory_budget)
        inside = sims >= self.radius[nearest] - TOLERANCE
        return np.where(inside, self.ids[nearest], -1)


def region_sample(n_pool: int, settings: CoverageSettings) -> np.ndarray:
    """The seeded uniform sample of pooled rows (test rows first, then production) that the
    regions are fitted on above ``settings.max_region_points``; every row below."""
    if n_pool <= settings.max_region_points:
        return np.arange(n_pool)
    rng = np.random.default_rng(settings.random_state)
    return np.sort(rng.choice(n_pool, size=settings.max_region_points, replace=False))


def region_floor(n_pool: int, settings: CoverageSettings) -> int:
    """The smallest ``min_cluster_size`` the clusterer is given (module doc, step 3)."""
    n_clustered = min(n_pool, settings.max_region_points)
    return max(settings.min_gap_size, math.ceil(settings.min_region_fraction * n_clustered))


def fit_regions(
    clusterer: Clusterer,
    sample_vectors: np.ndarray,
    sample: np.ndarray,
    n_pool: int,
    region_size: int,
    settings: CoverageSettings,
) -> RegionModel:
    """Cluster the vectors of the sampled pooled rows (:func:`region_sample`, above
    ``max_region_points``) and describe each region by its centroid and radius."""
    fraction = settings.max_region_points / n_pool
    size = max(region_floor(n_pool, settings), math.ceil(region_size * fraction))
    sample_labels = cluster(clusterer, sample_vectors, size)
    ids = np.unique(sample_labels[sample_labels >= 0])
    dim = sample_vectors.shape[1]
    centroids = np.zeros((0, dim), dtype=np.float32)
    radius = np.zeros(0)
    if ids.size:
        centroids = np.stack([sample_vectors[sample_labels == c].mean(axis=0) for c in ids])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        centroids = centroids.astype(np.float32)
        radius = np.array(
            [(sample_vectors[sample_labels == c] @ centroids[k]).min() for k, c in enumerate(ids)]
        )
    return RegionModel(sample, sample_labels, ids, centroids, radius, size, settings.memory_budget)


def pooled_regions(
    clusterer: Clusterer,
    test_vectors: np.ndarray,
    production_vectors: np.ndarray,
    region_size: int,
    settings: CoverageSettings,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Region label of every test and every production prompt (-1: in no region), from a
    clustering of the pooled prompts that never sees which set a prompt came from.

    Returns the two label arrays and the ``min_cluster_size`` given to the clusterer."""
    n_test, n_pool = len(test_vectors), len(test_vectors) + len(production_vectors)
    if n_pool <= settings.max_region_points:
        size = min(max(region_size, region_floor(n_pool, settings)), n_pool)
        pooled = np.concatenate([test_vectors, production_vectors])
        labels = cluster(clusterer, pooled, size)
        return labels[:n_test], labels[n_test:], size
    sample = region_sample(n_pool, settings)
    from_test = sample[sample < n_test]
    sample_vectors = np.concatenate(
        [test_vectors[from_test], production_vectors[sample[sample >= n_test] - n_test]]
    )
    model = fit_regions(clusterer, sample_vectors, sample, n_pool, region_size, settings)
    pooled = np.full(n_pool, -1, dtype=np.int64)
    if model.ids.size:
        for offset, block in ((0, test_vectors), (n_test, production_vectors)):
            pooled[offset : offset + len(block)] = model.assign(block)
    pooled[sample] = model.sample_labels
    return pooled[:n_test], pooled[n_test:], model.min_cluster_size


def test_regions(
    test_regions: np.ndarray,
    production_regions: np.ndarray,
    alpha: float,
    correction: str = "bh",
) -> list[RegionTest]:
    """Fisher's under-representation test on every region that could be significant at
    ``alpha`` (by its size alone), adjusted across them (``correction``, BH by default)."""
    n_test, n_prod = len(test_regions), len(production_regions)
    pooled = np.concatenate([test_regions, production_regions])
    in_test = np.arange(len(pooled)) < n_test
    test_counts = count_by_group(pooled, in_test)
    prod_counts = count_by_group(pooled, ~in_test)
    family = test_family(
        pooled,
        min_size=1,
        eligible=lambda _r, size: under_representation_min_p(size, n_test, n_prod) <= alpha,
        test=lambda r, _size: under_representation_test(
            int(test_counts[r]), n_test, int(prod_counts[r]), n_prod
        ),
        correction=correction,
    )
    return [
        RegionTest(
            region_id=r,
            test_count=int(test_counts[r]),
            production_count=int(prod_counts[r]),
            p_value=t.p_value,
            adjusted_p_value=adj,
            test_used=t.test_used,
        )
        for r, _size, t, adj in family
    ]


test_regions.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

#: Random splits drawn by :func:`global_null_p` (its smallest p-value is 1 / (draws + 1)).
GLOBAL_NULL_DRAWS = 999


def global_null_p(
    regions: Sequence[RegionTest],
    test_total: int,
    production_total: int,
    *,
    alpha: float | None = None,
    draws: int = GLOBAL_NULL_DRAWS,
    random_state: int = 0,
) -> float:
    """Exact permutation p-value of "the test suite and production come from one
    distribution" against the smallest region p-value (Westfall and Young's minP).

    The regions were found without knowing which prompt is a test prompt, so under that
    null the test counts of the tested regions (and of everything else) are one
    multivariate hypergeometric draw of ``test_total`` prompts. ``draws`` such splits are
    drawn; a split beats the data when some region's p-value in it is at most the smallest
    observed one, which for each region means its test count is at most a critical count
    (p-values fall with the count, so no p-value is computed per draw). The p-value is
    ``(1 + splits that beat the data) / (draws + 1)``: valid whatever the dependence
    between regions (they compete for the same test prompts), and at least 1/(draws + 1).
    With ``alpha``, a family whose ``m`` smallest-p-value times ``m`` is at most ``alpha``
    gets that product and no draws: by the union bound the exact permutation p-value is no
    larger, so the test passes as Bonferroni (and every correction) would, not by the
    chance of the draws.

    Example:
        >>> r = [RegionTest(0, 0, 60, 1e-9, 1e-8), RegionTest(1, 50, 40, 0.9, 0.9)]
        >>> global_null_p(r, 200, 400)
        0.001
    """
    if not regions:
        return 1.0
    from scipy.stats import hypergeom

    smallest = min(r.p_value for r in regions)
    if alpha is not None and len(regions) * smallest <= alpha:
        return len(regions) * smallest
    total = test_total + production_total
    sizes = np.array([r.size for r in regions], dtype=np.int64)
    smallest *= 1 + 1e-9
    # The largest test count of each region whose p-value is at most the smallest observed.
    critical = hypergeom.ppf(smallest, total, sizes, test_total).astype(np.int64)
    above = hypergeom.cdf(critical, total, sizes, test_total) > smallest
    critical = critical - above
    colours = np.append(sizes, total - sizes.sum())
    rng = np.random.default_rng(random_state)
    split = rng.multivariate_hypergeometric(colours, test_total, size=draws)[:, :-1]
    beaten = int((split <= critical).any(axis=1).sum())
    return (1 + beaten) / (draws + 1)


def gap_regions(regions: Sequence[RegionTest], alpha: float, min_gap_size: int) -> list[RegionTest]:
    """The tested regions that are gaps: adjusted p-value below ``alpha`` (the test suite is
    significantly under-represented there) and at least ``min_gap_size`` production prompts.

    Example:
        >>> r = [RegionTest(0, 0, 40, 1e-6, 1e-5), RegionTest(1, 0, 3, 1e-3, 2e-3)]
        >>> [g.region_id for g in gap_regions(r, 0.05, 5)]
        [0]
    """
    return [r for r in regions if r.adjusted_p_value < alpha and r.production_count >= min_gap_size]


def zero_test_gap_size(
    test_total: int,
    production_total: int,
    alpha: float,
    num_tested: int,
    correction: str = "bh",
    min_gap_size: int = 2,
) -> int:
    """The smallest number of production prompts at which a region holding no test prompt is
    a gap whatever the other regions hold, in a family of ``num_tested`` regions.

    Such a region's p-value is its minimum (:func:`under_representation_min_p`), which falls
    as the region grows; from this size on it is below the level every correction rejects
    (:func:`~faultmap.significance.sure_rejection_level`), so the region is tested (its
    minimum is below ``alpha``) and rejected. The size is at least ``min_gap_size``; it is
    ``test_total + production_total + 1`` when no size qualifies.

    Example:
        >>> zero_test_gap_size(600, 2400, 0.05, 23, "bh")
        28
    """
    level = float(np.nextafter(sure_rejection_level(alpha, num_tested, correction), 0.0))
    return max(min_gap_size, min_detectable_region_size(test_total, production_total, level))


def coverage_inputs(
    test_prompts: Any, production_prompts: Any, *, need_threshold: bool
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Both prompt sets as non-empty lists of str, and their counts of repeated prompts.
    ``need_threshold``: the threshold will be chosen from the test prompts, which then need
    two distinct prompts."""
    repaired: dict[str, list[int]] = {}
    tests = as_text_list("test_prompts", test_prompts, repaired=repaired)
    production = as_text_list("production_prompts", production_prompts, repaired=repaired)
    for name, texts, what in (
        ("test_prompts", tests, "your evaluation prompts"),
        ("production_prompts", production, "the prompts from your logs"),
    ):
        if not texts:
            raise DataError(f"'{name}' is empty; pass at least one prompt ({what}).")
    if need_threshold and len(set(tests)) < 2:
        raise DataError(
            "'test_prompts' needs at least 2 distinct prompts to choose a distance "
            "threshold from the data; pass more test prompts, distance_threshold= or "
            "cosine_distance_threshold=."
        )
    meta: dict[str, Any] = {}
    for name, texts in (("test", tests), ("production", production)):
        duplicates = len(texts) - len(set(texts))
        if duplicates:
            meta[f"num_duplicate_{name}_prompts"] = duplicates
    note_repairs(meta, repaired)
    return tests, production, meta


def coverage_vectors(
    tests: list[str],
    production: list[str],
    test_embeddings: Any,
    production_embeddings: Any,
    embed: Callable[[list[str]], tuple[np.ndarray, str]],
) -> tuple[np.ndarray, np.ndarray, str]:
    """Vectors of both sets: the given ones (checked), the rest from ``embed`` (each
    distinct text once), and the embedding model's identity."""
    texts = {"test": tests, "production": production}
    given = {"test": test_embeddings, "production": production_embeddings}
    vectors: dict[str, np.ndarray] = {}
    for side, values in given.items():
        if values is not None:
            vectors[side] = as_embeddings(
                f"{side}_embeddings", values, len(texts[side]), of=f"{side} prompts"
            )
    missing = [side for side in texts if side not in vectors]
    embedding_id = "precomputed"
    if missing:
        unique = list(dict.fromkeys(t for side in missing for t in texts[side]))
        embedded, embedding_id = embed(unique)
        row = {t: i for i, t in enumerate(unique)}
        for side in missing:
            vectors[side] = embedded[[row[t] for t in texts[side]]]
        if len(missing) == 1:
            embedding_id = f"{embedding_id} ({missing[0]}), precomputed (other set)"
    if vectors["test"].shape[1] != vectors["production"].shape[1]:
        raise DataError(
            f"The test vectors have {vectors['test'].shape[1]} dimensions but the "
            f"production vectors have {vectors['production'].shape[1]}; embed both sets "
            "with the same model (pass both test_embeddings= and production_embeddings=, "
            "or neither)."
        )
    return vectors["test"], vectors["production"], embedding_id
