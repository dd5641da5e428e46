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
from collections.abc import Sequence
from typing import Any

import numpy as np

from faultmap._neighbors import cosine_distance, nearest_neighbors
from faultmap._validation import Interval, check_param
from faultmap.analyses.coverage_steps import (
    TOLERANCE,
    CoverageSettings,
    coverage_inputs,
    coverage_threshold,
    coverage_vectors,
    pooled_regions,
    test_regions,
)
from faultmap.analyses.inputs import Setup, embed
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import describe_groups, name_groups, naming_fallbacks
from faultmap.core.projection import MapSettings, prompt_map
from faultmap.core.run import Run
from faultmap.naming.base import Namer
from faultmap.reports.models import CoverageGap, CoverageReport, RegionTest
from faultmap.significance.tests import min_detectable_region_size

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
        correction=settings.correction,
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
        in_test, in_production, cluster_size = pooled_regions(
            clusterer, test_vectors, production_vectors, region_size, settings
        )
        regions = test_regions(
            in_test, in_production, settings.significance_level, settings.correction
        )
        meta["regions"] = {
            "min_region_size": int(region_size),
            "min_cluster_size": int(cluster_size),
            "points_clustered": int(min(n_test + n_prod, settings.max_region_points)),
            "min_region_fraction": settings.min_region_fraction,
        }
        meta["num_regions"] = int(max(in_test.max(initial=-1), in_production.max()) + 1)
        meta["num_regions_tested"] = len(regions)

    with run.timer("name"):
        uncovered_regions = in_production[uncovered]
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


def audit(
    test_prompts: Any,
    production_prompts: Any,
    distance_threshold: float | None = None,
    min_gap_size: int = 5,
    *,
    test_embeddings: Any = None,
    production_embeddings: Any = None,
    significance_level: float = 0.05,
    correction: str = "bh",
    setup: Setup,
    owner: str = "SliceAnalyzer.audit_coverage",
) -> CoverageReport:
    """The whole audit from the caller's inputs (see
    :meth:`faultmap.SliceAnalyzer.audit_coverage`): check them, get both sets' vectors
    (given, or from the embedding stage, each distinct text once), then
    :func:`find_coverage_gaps`."""
    check_param(owner, "distance_threshold", distance_threshold, None, Interval(float, 0, 2))
    check_param(owner, "min_gap_size", min_gap_size, Interval(int, 2, None))
    tests, production, meta = coverage_inputs(
        test_prompts, production_prompts, need_threshold=distance_threshold is None
    )
    run = setup.run()
    run.metadata = {"random_state": setup.random_state, **meta}
    with run.timer("embed"):
        test_vectors, production_vectors, embedding_id = coverage_vectors(
            tests,
            production,
            test_embeddings,
            production_embeddings,
            lambda texts: embed(setup.embedder(), texts),
        )
    report = find_coverage_gaps(
        tests,
        production,
        test_vectors,
        production_vectors,
        clusterer=setup.clusterer,
        namer=setup.namer,
        settings=CoverageSettings(
            significance_level=significance_level,
            min_gap_size=min_gap_size,
            distance_threshold=None if distance_threshold is None else float(distance_threshold),
            random_state=setup.random_state,
            correction=correction,
        ),
        embedding_model=embedding_id,
        run=run,
        map_settings=setup.map_settings,
    )
    logger.info(
        "faultmap: coverage %.3f, %d gap(s) among %d production prompts",
        report.overall_coverage_score,
        report.num_gaps,
        report.num_production_prompts,
    )
    return report
