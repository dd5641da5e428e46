"""Coverage audit orchestration: which production prompts has the test suite no example of?

Recipe over :mod:`faultmap.core` and the stage protocols (no string lookups, no I/O):

1. **Distances.** For every production prompt, the cosine distance (``1 - cosine``) to its
   nearest test prompt, exact, in memory-bounded blocks (:mod:`faultmap._neighbors`).
2. **Threshold.** A production prompt is *covered* when that distance is at most the
   threshold. Unless given, the threshold is the ``threshold_quantile`` (95th percentile) of
   the test prompts' own leave-one-out nearest-neighbour distances: how far a test prompt
   typically is from the rest of the suite. At most ``threshold_sample_size`` distinct test
   prompts (chosen at random, seeded) are used as queries against all distinct test prompts.
   If production prompts followed the test suite's distribution, about 5 % of them would
   still be uncovered by this rule, scattered; that is why gaps must also pass step 4.
3. **Regions.** The test and production prompts are pooled and clustered together (the
   clustering stage) without telling the clusterer which prompt came from which set. Above
   ``max_region_points`` (10,000) a seeded uniform sample of the pool is clustered and
   every other prompt joins the cluster of its nearest centroid if it is no farther from it
   than the cluster's farthest sampled member (else it is in no region). The clusterer's
   ``min_cluster_size`` is the largest of ``min_gap_size``; the *minimum detectable region
   size* (the smallest region in which a complete absence of test prompts would give
   p <= ``significance_level``, :func:`~faultmap.significance.min_detectable_region_size`:
   32 prompts for 10,000 test and 100,000 production prompts), scaled to the sample; and
   ``min_region_fraction`` (0.3 %) of the prompts clustered. The last keeps regions at the
   scale of topics: on finer regions one missing topic splits into dozens of gaps.
4. **Under-representation.** For every region whose smallest attainable p-value is at most
   ``significance_level`` (a rule on its size only, so it cannot bias the family: Tarone's
   device), Fisher's exact test asks whether its share of the test prompts is lower than its
   share of the production prompts (:func:`~faultmap.significance.under_representation_test`);
   Benjamini–Hochberg corrects across those regions. Because the regions are blind to the
   split, the test is exact under the null hypothesis that both sets come from one
   distribution, and the chance of reporting any gap then stays below
   ``significance_level``.
5. **Gaps.** The uncovered production prompts of a region form a gap when there are at
   least ``min_gap_size`` of them and the region is significantly under-represented. Gaps
   are named (keywords offline, the LLM namer when configured). Uncovered prompts in no gap
   are listed in the report's metadata, and groups of uncovered prompts in regions where the
   test suite is not scarce in ``metadata["rejected_gaps"]``.

Clustering the pooled prompts rather than only the uncovered ones matters twice: the
regions do not depend on the coverage decision, which keeps the test honest, and a set of
uncovered prompts that is all one topic still forms a cluster (a clusterer run on that set
alone may refuse to return a single cluster).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._neighbors import DEFAULT_MEMORY_BUDGET, cosine_distance, nearest_neighbors
from faultmap._validation import as_embeddings, as_text_list
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import (
    cluster,
    count_by_group,
    describe_groups,
    name_groups,
    naming_fallbacks,
    test_family,
)
from faultmap.core.projection import MapSettings, prompt_map
from faultmap.core.run import Run
from faultmap.exceptions import DataError
from faultmap.naming.base import Namer
from faultmap.reports.models import CoverageGap, CoverageReport, RegionTest
from faultmap.significance.tests import (
    min_detectable_region_size,
    under_representation_min_p,
    under_representation_test,
)

__all__ = [
    "CoverageSettings",
    "audit",
    "coverage_inputs",
    "coverage_map",
    "coverage_threshold",
    "coverage_vectors",
    "find_coverage_gaps",
]

logger = logging.getLogger("faultmap")

#: Distances within this much of the threshold count as covered (float32 rounding leaves
#: a prompt's distance to an identical test prompt a hair above 0).
TOLERANCE = 1e-6


@dataclass(frozen=True, kw_only=True)
class CoverageSettings:
    significance_level: float = 0.05
    min_gap_size: int = 5
    distance_threshold: float | None = None
    threshold_quantile: float = 0.95
    threshold_sample_size: int = 5_000
    max_region_points: int = 10_000
    min_region_fraction: float = 0.003
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    n_representative: int = 5
    random_state: int = 0


def _first_occurrences(texts: Sequence[str]) -> np.ndarray:
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        seen.setdefault(text, i)
    return np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


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
            "from the data needs at least 2. Pass more test prompts or distance_threshold=."
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


def _regions(
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
    n_clustered = min(n_pool, settings.max_region_points)
    floor = max(settings.min_gap_size, math.ceil(settings.min_region_fraction * n_clustered))
    if n_pool <= settings.max_region_points:
        size = min(max(region_size, floor), n_pool)
        pooled = np.concatenate([test_vectors, production_vectors])
        labels = cluster(clusterer, pooled, size)
        return labels[:n_test], labels[n_test:], size
    rng = np.random.default_rng(settings.random_state)
    sample = np.sort(rng.choice(n_pool, size=settings.max_region_points, replace=False))
    from_test = sample[sample < n_test]
    sample_vectors = np.concatenate(
        [test_vectors[from_test], production_vectors[sample[sample >= n_test] - n_test]]
    )
    fraction = settings.max_region_points / n_pool
    size = max(floor, math.ceil(region_size * fraction))
    sample_labels = cluster(clusterer, sample_vectors, size)
    ids = np.unique(sample_labels[sample_labels >= 0])
    pooled = np.full(n_pool, -1, dtype=np.int64)
    if ids.size:
        centroids = np.stack([sample_vectors[sample_labels == c].mean(axis=0) for c in ids])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        centroids = centroids.astype(np.float32)
        radius = np.array(
            [(sample_vectors[sample_labels == c] @ centroids[k]).min() for k, c in enumerate(ids)]
        )
        budget = settings.memory_budget
        for offset, block in ((0, test_vectors), (n_test, production_vectors)):
            sims, nearest = nearest_neighbors(block, centroids, memory_budget=budget)
            inside = sims >= radius[nearest] - TOLERANCE
            pooled[offset : offset + len(block)] = np.where(inside, ids[nearest], -1)
    pooled[sample] = sample_labels
    return pooled[:n_test], pooled[n_test:], size


def _test_regions(
    test_regions: np.ndarray, production_regions: np.ndarray, alpha: float
) -> list[RegionTest]:
    """Fisher's under-representation test on every region that could be significant at
    ``alpha`` (by its size alone), BH-adjusted across them."""
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


def find_coverage_gaps(
    test_prompts: Sequence[str],
    production_prompts: Sequence[str],
    test_vectors: np.ndarray,
    production_vectors: np.ndarray,
    *,
    clusterer: Clusterer,
    namer: Namer,
    settings: CoverageSettings,
    embedding_model: str,
    run: Run | None = None,
    map_settings: MapSettings | None = None,
    metadata: dict[str, Any] | None = None,
) -> CoverageReport:
    """Audit how well ``test_prompts`` cover ``production_prompts`` (steps in the module doc).

    Inputs are assumed validated: non-empty, one L2-normalised float32 vector per prompt.
    Indices in the report refer to ``production_prompts``. With ``map_settings`` the
    report's ``map`` places the production prompts (:func:`coverage_map`).
    """
    run = run or Run()
    meta: dict[str, Any] = {**run.metadata, **(metadata or {})}
    n_test, n_prod = len(test_prompts), len(production_prompts)

    with run.timer("distances"):
        sims, nearest = nearest_neighbors(
            production_vectors, test_vectors, memory_budget=settings.memory_budget
        )
        distances = cosine_distance(sims)
        del sims
        if settings.distance_threshold is None:
            threshold, rule, details = coverage_threshold(
                test_prompts,
                test_vectors,
                quantile=settings.threshold_quantile,
                sample_size=settings.threshold_sample_size,
                random_state=settings.random_state,
                memory_budget=settings.memory_budget,
            )
            meta["threshold_details"] = details
        else:
            threshold, rule = float(settings.distance_threshold), "given by the caller"
        uncovered = np.flatnonzero(distances > threshold + TOLERANCE)
    common = dict(
        overall_coverage_score=1.0 - uncovered.size / n_prod,
        distance_threshold=threshold,
        threshold_rule=rule,
        num_test_prompts=n_test,
        num_production_prompts=n_prod,
        embedding_model=embedding_model,
        clustering_method=clusterer.name,
        num_uncovered=int(uncovered.size),
        significance_level=settings.significance_level,
        min_gap_size=settings.min_gap_size,
        nearest_test_distances=distances.tolist(),
        nearest_test_indices=nearest.tolist(),
    )
    meta["num_uncovered_total"] = int(uncovered.size)
    logger.info(
        "coverage: %d of %d production prompts uncovered at cosine distance %.4f",
        uncovered.size,
        n_prod,
        threshold,
    )
    if uncovered.size < settings.min_gap_size:
        meta["unclustered_prompt_indices"] = uncovered.tolist()
        meta["rejected_gaps"] = []
        return _report(
            production_prompts, production_vectors, [], [], meta, run, map_settings, common
        )

    with run.timer("cluster_and_test_regions"):
        region_size = max(
            settings.min_gap_size,
            min_detectable_region_size(n_test, n_prod, settings.significance_level),
        )
        test_regions, production_regions, cluster_size = _regions(
            clusterer, test_vectors, production_vectors, region_size, settings
        )
        regions = _test_regions(test_regions, production_regions, settings.significance_level)
        meta["regions"] = {
            "min_region_size": int(region_size),
            "min_cluster_size": int(cluster_size),
            "points_clustered": int(min(n_test + n_prod, settings.max_region_points)),
            "min_region_fraction": settings.min_region_fraction,
        }
        meta["num_regions"] = int(max(test_regions.max(initial=-1), production_regions.max()) + 1)
        meta["num_regions_tested"] = len(regions)

    with run.timer("name"):
        uncovered_regions = production_regions[uncovered]
        candidates = [
            r for r in regions if (uncovered_regions == r.region_id).sum() >= settings.min_gap_size
        ]
        uncovered_prompts = [production_prompts[i] for i in uncovered]
        groups = describe_groups(
            uncovered_prompts,
            production_vectors[uncovered],
            uncovered_regions,
            [r.region_id for r in candidates],
            n_representative=settings.n_representative,
        )
        share = n_test / (n_test + n_prod)
        accepted, rejected = [], []
        for region, group in zip(candidates, groups, strict=True):
            rows = uncovered[group.members]
            facts = {
                "region_id": region.region_id,
                "size": len(rows),
                "mean_distance": float(distances[rows].mean()),
                "max_distance": float(distances[rows].max()),
                "test_count": region.test_count,
                "region_production_count": region.production_count,
                "expected_test_count": region.size * share,
                "p_value": region.p_value,
                "adjusted_p_value": region.adjusted_p_value,
                "prompt_indices": [int(i) for i in rows],
            }
            if region.adjusted_p_value < settings.significance_level:
                accepted.append((group, facts))
            else:
                rejected.append({**facts, "keywords": list(group.keywords)})
        contexts = [
            group.context(
                uncovered_prompts,
                kind="coverage_gap",
                statistics=(
                    ("mean_distance", facts["mean_distance"]),
                    ("test_prompts_in_region", float(facts["test_count"])),
                    ("expected_test_prompts_in_region", facts["expected_test_count"]),
                ),
            )
            for group, facts in accepted
        ]
        labels = name_groups(namer, contexts)

    gaps = [
        CoverageGap(
            name=label.name,
            description=label.description,
            representative_prompts=list(ctx.representative_prompts),
            keywords=list(ctx.keywords),
            root_cause=label.root_cause,
            suggested_remediation=label.suggested_remediation,
            naming_source=label.source,
            naming_error=label.error,
            **facts,
        )
        for (_, facts), ctx, label in zip(accepted, contexts, labels, strict=True)
    ]
    gaps.sort(key=lambda g: (-g.size, g.adjusted_p_value, g.region_id))
    in_gap = np.zeros(n_prod, dtype=bool)
    for g in gaps:
        in_gap[g.prompt_indices] = True
    meta["unclustered_prompt_indices"] = [int(i) for i in uncovered if not in_gap[i]]
    meta["rejected_gaps"] = rejected
    if naming_fallbacks(gaps):
        meta["naming_fallbacks"] = naming_fallbacks(gaps)
    return _report(
        production_prompts, production_vectors, gaps, regions, meta, run, map_settings, common
    )


def _report(
    production_prompts: Sequence[str],
    production_vectors: np.ndarray,
    gaps: list[CoverageGap],
    regions: list[RegionTest],
    meta: dict[str, Any],
    run: Run,
    map_settings: MapSettings | None,
    common: dict[str, Any],
) -> CoverageReport:
    positions: dict[str, Any] = {}
    if map_settings is not None:
        with run.timer("map"):
            positions = coverage_map(
                production_prompts,
                production_vectors,
                gaps,
                np.asarray(common["nearest_test_distances"], dtype=np.float64),
                common["distance_threshold"],
                settings=map_settings,
            )
    return CoverageReport(
        num_gaps=len(gaps),
        gaps=gaps,
        regions=regions,
        metadata=run.finish(meta),
        map=positions,
        **common,
    )


def coverage_map(
    production_prompts: Sequence[str],
    production_vectors: np.ndarray,
    gaps: Sequence[CoverageGap],
    distances: np.ndarray,
    threshold: float,
    *,
    settings: MapSettings,
) -> dict[str, Any]:
    """The map of a coverage audit's production prompts (:func:`prompt_map`): ``label`` is
    the position of the prompt's gap in ``gaps`` (-1 for none), ``covered`` whether a test
    prompt lies within ``threshold`` (cosine ``distances`` to the nearest test prompt).
    Sampling keeps every gap and both kinds of prompt outside gaps visible."""
    n = len(production_prompts)
    labels = np.full(n, -1, dtype=np.int64)
    for k, gap in enumerate(gaps):
        labels[np.asarray(gap.prompt_indices, dtype=np.int64)] = k
    covered = distances <= threshold + TOLERANCE
    strata = np.where(labels >= 0, labels, np.where(covered, -2, -1))
    return prompt_map(
        production_vectors,
        production_prompts,
        labels,
        settings=settings,
        strata=strata,
        covered=covered,
    )


def coverage_inputs(
    test_prompts: Any, production_prompts: Any, *, need_threshold: bool
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Both prompt sets as non-empty lists of str, and their counts of repeated prompts.
    ``need_threshold``: the threshold will be chosen from the test prompts, which then need
    two distinct prompts."""
    tests = as_text_list("test_prompts", test_prompts)
    production = as_text_list("production_prompts", production_prompts)
    for name, texts, what in (
        ("test_prompts", tests, "your evaluation prompts"),
        ("production_prompts", production, "the prompts from your logs"),
    ):
        if not texts:
            raise DataError(f"'{name}' is empty; pass at least one prompt ({what}).")
    if need_threshold and len(set(tests)) < 2:
        raise DataError(
            "'test_prompts' needs at least 2 distinct prompts to choose a distance "
            "threshold from the data; pass more test prompts or distance_threshold=."
        )
    meta: dict[str, Any] = {}
    for name, texts in (("test", tests), ("production", production)):
        duplicates = len(texts) - len(set(texts))
        if duplicates:
            meta[f"num_duplicate_{name}_prompts"] = duplicates
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


def audit(
    test_prompts: list[str],
    production_prompts: list[str],
    test_embeddings: Any,
    production_embeddings: Any,
    *,
    embed: Callable[[list[str]], tuple[np.ndarray, str]],
    clusterer: Clusterer,
    namer: Namer,
    settings: CoverageSettings,
    run: Run,
    map_settings: MapSettings | None = None,
) -> CoverageReport:
    """The whole audit from checked prompts: vectors (given or from ``embed``), then
    :func:`find_coverage_gaps`."""
    with run.timer("embed"):
        test_vectors, production_vectors, embedding_id = coverage_vectors(
            test_prompts, production_prompts, test_embeddings, production_embeddings, embed
        )
    report = find_coverage_gaps(
        test_prompts,
        production_prompts,
        test_vectors,
        production_vectors,
        clusterer=clusterer,
        namer=namer,
        settings=settings,
        embedding_model=embedding_id,
        run=run,
        map_settings=map_settings,
    )
    logger.info(
        "faultmap: coverage %.3f, %d gap(s) among %d production prompts",
        report.overall_coverage_score,
        report.num_gaps,
        report.num_production_prompts,
    )
    return report
