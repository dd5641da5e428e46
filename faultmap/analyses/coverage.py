"""Coverage audit orchestration: where is the test suite missing what production holds?

A gap is a statistical claim about a region of prompts, not a distance rule. Recipe over
:mod:`faultmap.core` and the stage protocols (no string lookups, no I/O):

1. **Distances.** For every production prompt, the cosine distance (``1 - cosine``) to its
   nearest test prompt (:mod:`faultmap._neighbors`): exact, in memory-bounded blocks, up to
   10^10 prompt pairs (``neighbor_search="auto"``); above that, or with
   ``neighbor_search="cells"``, each production prompt is compared with the test prompts of
   its nearest k-means cells, tuned until 99 % of a seeded sample of prompts get a distance
   within 0.01 of the exact one and then checked on another sample; the figures are in
   ``metadata["nearest_neighbors"]``. Only distances (evidence, and
   ``distance_coverage_score``) come from this search; regions and gaps do not.
2. **Threshold.** A production prompt is *within reach* of the suite when that distance is at
   most the threshold. Unless given, the threshold is the ``threshold_quantile`` (95th
   percentile) of the test prompts' own leave-one-out nearest-neighbour distances: how far a
   test prompt typically is from the rest of the suite. At most ``threshold_sample_size``
   distinct test prompts (chosen at random, seeded) are used as queries against all distinct
   test prompts. The share within reach is ``distance_coverage_score`` (faultmap 0.5.0's
   ``overall_coverage_score``); the distances are evidence about each gap, they do not decide
   it. They cannot: the threshold measures how spread out the suite is, so for a small suite
   of diverse tasks it is wide, and the prompts of a task the suite never saw sit within it
   of some test prompt of a neighbouring task. A 600-prompt suite of nine bundled tasks gets
   0.665, and all 250 object-counting prompts, a task it lacks, lie within it (median 0.53,
   the nearest test prompt a colored-objects question for 248 of them).
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
   ``correction`` (Benjamini–Hochberg by default, or Benjamini–Yekutieli or Holm) adjusts
   across those regions. Because the regions are blind to the split, the test is exact under
   the null hypothesis that both sets come from one distribution.
5. **Gaps.** A gap is a tested region whose adjusted p-value is below ``significance_level``
   and that holds at least ``min_gap_size`` production prompts; all of its production prompts
   are the gap's members, near a test prompt or not. Each gap reports its production and test
   counts, the test count expected if the suite followed production (region size x the
   suite's share of the pool), their ratio with an exact 95 % interval from the same
   conditional model as the test (:func:`~faultmap.significance.representation_ratio`), p
   and adjusted p, and the members' distances to the suite (mean, median, maximum, share
   beyond the threshold). Gaps are named (keywords offline, the LLM namer when configured).
   Before any gap is reported, the whole family must also pass an exact permutation test
   of "both sets come from one distribution" (Westfall and Young's minP,
   :func:`~faultmap.analyses.coverage_steps.global_null_p`: 999 random splits of the
   pooled prompts, drawn as multivariate hypergeometric test counts of the same regions;
   a family whose smallest p-value passes Bonferroni needs no draws, since the exact
   permutation p-value is then at most ``significance_level`` by the union bound);
   ``metadata["global_null_p_value"]`` holds its p-value. Its smallest drawn value, 0.001,
   is far above what real gaps give, and it keeps the chance of any gap under that null at
   the level whatever the correction, which Benjamini–Hochberg alone does not promise here
   (see below).
6. **Coverage score.** ``overall_coverage_score`` is the share of production prompts in no
   gap: prompts in regions where the suite holds its share, in regions too small to test, or
   in no region (``metadata`` counts the last two). It agrees with the gaps exactly:
   ``1 - sum(production_count) / num_production_prompts``.

Two guarantees. A region that holds no test prompt and at least ``zero_test_gap_size``
production prompts (in ``metadata``; the smallest size whose p-value, the region's minimum,
is below ``significance_level / m`` for a family of ``m`` regions, ``/ (m H_m)`` with
Benjamini–Yekutieli, :func:`~faultmap.analyses.coverage_steps.zero_test_gap_size`) is always a
gap, whatever the other regions hold: every correction rejects such a p-value. And when both
sets come from one distribution, every gap is a false discovery, so the chance of any gap is
the false discovery rate. Holm and Benjamini–Yekutieli bound it by ``significance_level``
under any dependence; Benjamini–Hochberg (the default) only for independent or positively
dependent tests, which regions competing for the same test prompts are not. The
permutation test of step 5 bounds it whatever the correction (up to the chance of its 999
draws near the level): 4.7 % of random splits of fixed regions with a 10,000-prompt suite.
Full audits of freshly drawn 10,000-prompt suites and production sets: 15 of 250 (6.0 %,
interval 3.4–9.7 %; ``benchmarks/README.md``).

Uncovered prompts (beyond the threshold) in no gap are listed in the report's metadata, and
groups of at least ``min_gap_size`` of them in tested regions that are no gap in
``metadata["rejected_gaps"]``: far from the suite, where the suite is not scarce.

Clustering the pooled prompts rather than only the uncovered ones matters twice: the
regions do not depend on any distance rule, which keeps the test honest, and a region that
is all one topic still forms a cluster.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._neighbors import METHODS, cosine_distance, search
from faultmap._validation import HasMethods, Interval, Options, check_param
from faultmap.analyses.coverage_steps import (
    TOLERANCE,
    CoverageSettings,
    coverage_inputs,
    coverage_threshold,
    coverage_vectors,
    gap_regions,
    global_null_p,
    pooled_regions,
    test_regions,
    zero_test_gap_size,
)
from faultmap.analyses.inputs import Setup, embed
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import Group, describe_groups, name_groups, naming_fallbacks
from faultmap.core.projection import MapSettings, prompt_map
from faultmap.core.run import Run
from faultmap.exceptions import ConfigurationError, CoverageMeaningWarning
from faultmap.naming.base import Namer
from faultmap.reports.models import (
    CoverageGap,
    CoverageReport,
    RegionTest,
    cosine_to_euclidean,
)
from faultmap.significance.tests import min_detectable_region_size, representation_ratio

_SEARCH_OBJECT = HasMethods(
    ("search",),
    (),
    "an object with search(queries, corpus, *, memory_budget) such as "
    "faultmap.integrations.ray.RayNeighborSearch",
)

__all__ = [
    "CoverageSettings",
    "GapDecision",
    "assemble_gaps",
    "audit",
    "audit_settings",
    "check_audit_params",
    "coverage_inputs",
    "coverage_map",
    "coverage_threshold",
    "coverage_vectors",
    "decide_gaps",
    "find_coverage_gaps",
    "gap_region_size",
    "report_fields",
    "suite_threshold",
    "warn_meaning",
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
    report's ``map`` places the production prompts (:func:`coverage_map`). Gaps are regions
    (the meaning changed from faultmap 0.5.0; :func:`audit` warns about it, this function
    does not).
    """
    run = run or Run()
    meta: dict[str, Any] = {**run.metadata, **(metadata or {})}
    n_test, n_prod = len(test_prompts), len(production_prompts)

    with run.timer("distances"):
        if isinstance(settings.neighbors, str):
            sims, nearest, search_details = search(
                production_vectors,
                test_vectors,
                method=settings.neighbors,
                memory_budget=settings.memory_budget,
                random_state=settings.random_state,
            )
        else:  # a search object, such as faultmap.integrations.ray.RayNeighborSearch
            sims, nearest, search_details = settings.neighbors.search(
                production_vectors, test_vectors, memory_budget=settings.memory_budget
            )
        meta["nearest_neighbors"] = search_details
        distances = cosine_distance(sims)
        del sims
        threshold, rule = suite_threshold(test_prompts, test_vectors, settings, meta)

    with run.timer("cluster_and_test_regions"):
        region_size = gap_region_size(n_test, n_prod, settings)
        if region_size <= n_test + n_prod:
            in_test, in_production, cluster_size = pooled_regions(
                clusterer, test_vectors, production_vectors, region_size, settings
            )
        else:  # no region could ever be significant: nothing to cluster
            in_test = np.full(n_test, -1, dtype=np.int64)
            in_production = np.full(n_prod, -1, dtype=np.int64)
            cluster_size = 0
        decision = decide_gaps(
            in_test, in_production, distances, threshold, region_size, cluster_size, settings, meta
        )

    with run.timer("name"):
        groups = describe_groups(
            production_prompts,
            production_vectors,
            in_production,
            decision.described_ids,
            n_representative=settings.n_representative,
        )
        gaps, common = assemble_gaps(
            decision,
            groups,
            production_prompts,
            in_production,
            distances,
            namer=namer,
            settings=settings,
            meta=meta,
        )
    common.update(
        threshold=threshold,
        rule=rule,
        n_test=n_test,
        embedding_model=embedding_model,
        clusterer=clusterer,
        nearest_test_indices=nearest.tolist(),
    )
    return _report(
        production_prompts,
        production_vectors,
        gaps,
        decision.regions,
        meta,
        run,
        map_settings,
        report_fields(settings, **common),
    )


def suite_threshold(
    test_prompts: Sequence[str],
    test_vectors: np.ndarray,
    settings: CoverageSettings,
    meta: dict[str, Any],
) -> tuple[float, str]:
    """The cosine distance threshold (the caller's, or chosen from the test prompts:
    :func:`coverage_threshold`, its details put in ``meta``) and the sentence saying how."""
    given = settings.given_cosine_threshold()
    if given is not None:
        return given, "given by the caller"
    threshold, rule, details = coverage_threshold(
        test_prompts,
        test_vectors,
        quantile=settings.threshold_quantile,
        sample_size=settings.threshold_sample_size,
        random_state=settings.random_state,
        memory_budget=settings.memory_budget,
    )
    meta["threshold_details"] = details
    return threshold, rule


def gap_region_size(n_test: int, n_prod: int, settings: CoverageSettings) -> int:
    """The smallest region worth finding: ``min_gap_size`` or the minimum detectable
    region size, whichever is larger (module doc, step 3)."""
    detectable = min_detectable_region_size(n_test, n_prod, settings.significance_level)
    return max(settings.min_gap_size, detectable)


@dataclass(frozen=True)
class GapDecision:
    """The tested regions, the gaps among them, the other tested regions whose uncovered
    production prompts are reported (``rejected_ids``) and which production prompts lie
    beyond the threshold."""

    regions: list[RegionTest]
    found: list[RegionTest]
    rejected_ids: list[int]
    beyond: np.ndarray
    n_test: int

    @property
    def described_ids(self) -> list[int]:
        """Regions to describe and name: the gaps, then the rejected ones."""
        return [r.region_id for r in self.found] + self.rejected_ids

    def gap_order(self) -> list[int]:
        """Region ids of the gaps in report order (largest first; see
        :func:`assemble_gaps`)."""
        ordered = sorted(
            self.found, key=lambda r: (-r.production_count, r.adjusted_p_value, r.region_id)
        )
        return [r.region_id for r in ordered]


def decide_gaps(
    in_test: np.ndarray,
    in_production: np.ndarray,
    distances: np.ndarray,
    threshold: float,
    region_size: int,
    cluster_size: int,
    settings: CoverageSettings,
    meta: dict[str, Any],
) -> GapDecision:
    """Steps 4 and 5 of the module doc on the region labels of both sets: test every region
    that could be significant, correct, keep the gaps if the whole family passes the
    permutation test; facts about the regions go in ``meta``."""
    n_test, n_prod = len(in_test), len(in_production)
    alpha = settings.significance_level
    beyond = distances > threshold + TOLERANCE
    meta["num_uncovered_total"] = int(beyond.sum())
    regions = test_regions(in_test, in_production, alpha, settings.correction)
    found = gap_regions(regions, alpha, settings.min_gap_size)
    if found:
        global_p = global_null_p(
            regions, n_test, n_prod, alpha=alpha, random_state=settings.random_state
        )
        meta["global_null_p_value"] = global_p
        if global_p > alpha:
            logger.info(
                "coverage: %d region(s) pass the correction, but the permutation test of "
                "the whole family does not (p = %.3g): no gap",
                len(found),
                global_p,
            )
            meta["num_gaps_withheld"] = len(found)
            found = []
    tested = np.isin(in_production, [r.region_id for r in regions])
    meta["regions"] = {
        "min_region_size": int(region_size),
        "min_cluster_size": int(cluster_size),
        "points_clustered": int(min(n_test + n_prod, settings.max_region_points)),
        "min_region_fraction": settings.min_region_fraction,
    }
    meta["num_regions"] = int(max(in_test.max(initial=-1), in_production.max()) + 1)
    meta["num_regions_tested"] = len(regions)
    meta["zero_test_gap_size"] = zero_test_gap_size(
        n_test, n_prod, alpha, len(regions), settings.correction, settings.min_gap_size
    )
    meta["num_production_in_no_region"] = int((in_production < 0).sum())
    meta["num_production_in_untested_regions"] = int(((in_production >= 0) & ~tested).sum())
    not_gaps = {r.region_id for r in regions} - {r.region_id for r in found}
    uncovered_regions = in_production[beyond]
    rejected_ids = [
        r for r in sorted(not_gaps) if (uncovered_regions == r).sum() >= settings.min_gap_size
    ]
    return GapDecision(regions, found, rejected_ids, beyond, n_test)


def assemble_gaps(
    decision: GapDecision,
    groups: Sequence[Group],
    production_prompts: Sequence[str] | Mapping[int, str],
    in_production: np.ndarray,
    distances: np.ndarray,
    *,
    namer: Namer,
    settings: CoverageSettings,
    meta: dict[str, Any],
    row_lists: bool = True,
) -> tuple[list[CoverageGap], dict[str, Any]]:
    """Facts and names of the gaps (step 5), the rejected gaps and the uncovered prompts in
    no gap (in ``meta``), and the report's counts (step 6). ``groups`` describe
    ``decision.described_ids`` in that order; ``production_prompts`` needs to hold only
    their representatives. Without ``row_lists`` the per-prompt index lists are ``None``
    (``metadata["row_lists_kept"]`` is False), the counts are kept."""
    found, beyond = decision.found, decision.beyond
    n_test, n_prod = decision.n_test, len(in_production)
    share = n_test / (n_test + n_prod)
    by_id = {r.region_id: r for r in decision.regions}
    accepted = []
    for region, group in zip(found, groups[: len(found)], strict=True):
        rows = group.members
        d = distances[rows]
        ratio, interval = representation_ratio(
            region.test_count, n_test, region.production_count, n_prod
        )
        facts = {
            "region_id": region.region_id,
            "size": len(rows),
            "production_count": len(rows),
            "mean_distance": float(_euclidean(d).mean()),
            "cosine_mean_distance": float(d.mean()),
            "median_distance": float(np.median(d)),
            "max_distance": float(d.max()),
            "uncovered_share": float(beyond[rows].mean()),
            "test_count": region.test_count,
            "region_production_count": region.production_count,
            "expected_test_count": region.size * share,
            "ratio": ratio,
            "ratio_interval": interval,
            "p_value": region.p_value,
            "adjusted_p_value": region.adjusted_p_value,
            "prompt_indices": [int(i) for i in rows] if row_lists else None,
        }
        accepted.append((group, facts))
    rejected = []
    for group in groups[len(found) :]:
        region = by_id[group.group_id]
        rows = group.members[beyond[group.members]]
        rejected.append(
            {
                "region_id": region.region_id,
                "size": len(rows),
                "mean_distance": float(_euclidean(distances[rows]).mean()),
                "cosine_mean_distance": float(distances[rows].mean()),
                "max_distance": float(distances[rows].max()),
                "test_count": region.test_count,
                "region_production_count": region.production_count,
                "expected_test_count": region.size * share,
                "p_value": region.p_value,
                "adjusted_p_value": region.adjusted_p_value,
                "prompt_indices": [int(i) for i in rows] if row_lists else None,
                "keywords": list(group.keywords),
            }
        )
    contexts = [
        group.context(
            production_prompts,  # type: ignore[arg-type]  # indexed by row only
            kind="coverage_gap",
            statistics=(
                ("cosine_mean_distance", facts["cosine_mean_distance"]),
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
    in_gap = np.isin(in_production, [g.region_id for g in gaps])
    uncovered = np.flatnonzero(beyond)
    outside = uncovered[~in_gap[uncovered]]
    if row_lists:
        meta["unclustered_prompt_indices"] = [int(i) for i in outside]
    else:
        meta["row_lists_kept"] = False
    # faultmap 0.5.0's split of the uncovered prompts: in a gap or not
    meta["num_unclustered_uncovered"] = int(outside.size)
    meta["num_clustered_uncovered"] = int(uncovered.size) - int(outside.size)
    meta["rejected_gaps"] = rejected
    if naming_fallbacks(gaps):
        meta["naming_fallbacks"] = naming_fallbacks(gaps)
    logger.info(
        "coverage: %d of %d production prompts in %d gap(s); %d beyond the threshold",
        int(in_gap.sum()),
        n_prod,
        len(gaps),
        uncovered.size,
    )
    common = {
        "overall_coverage_score": 1.0 - int(in_gap.sum()) / n_prod,
        "distance_coverage_score": 1.0 - uncovered.size / n_prod,
        "num_production_prompts": n_prod,
        "num_uncovered": int(uncovered.size),
        "nearest_test_distances": distances.tolist() if row_lists else None,
    }
    return gaps, common


def _euclidean(cosine: np.ndarray) -> np.ndarray:
    """faultmap 0.5.0's scale: Euclidean distance between unit vectors."""
    return np.sqrt(2.0 * np.maximum(cosine, 0.0))


def report_fields(
    settings: CoverageSettings,
    *,
    threshold: float,
    rule: str,
    n_test: int,
    embedding_model: str,
    clusterer: Clusterer,
    **counts: Any,
) -> dict[str, Any]:
    """The report's fields other than gaps, regions, metadata and map."""
    return dict(
        distance_threshold=(
            float(settings.distance_threshold)
            if settings.distance_threshold is not None
            else cosine_to_euclidean(threshold)
        ),
        cosine_distance_threshold=threshold,
        threshold_rule=rule,
        num_test_prompts=n_test,
        embedding_model=embedding_model,
        clustering_method=clusterer.name,
        significance_level=settings.significance_level,
        min_gap_size=settings.min_gap_size,
        correction=settings.correction,
        **counts,
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
                common["cosine_distance_threshold"],
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
    neighbor_search: str | Any = "auto",
    cosine_distance_threshold: float | None = None,
    significance_level: float = 0.05,
    correction: str = "bh",
    setup: Setup,
    owner: str = "SliceAnalyzer.audit_coverage",
) -> CoverageReport:
    """The whole audit from the caller's inputs (see
    :meth:`faultmap.SliceAnalyzer.audit_coverage`): check them, get both sets' vectors
    (given, or from the embedding stage, each distinct text once), then
    :func:`find_coverage_gaps`. Warns once per call (:class:`CoverageMeaningWarning`) that
    gaps and ``overall_coverage_score`` do not mean what they meant in faultmap 0.5.0.
    ``distance_threshold`` is on faultmap 0.5.0's scale (Euclidean distance between unit
    vectors; any value from 0, above 2 every prompt is within reach),
    ``cosine_distance_threshold`` the same as a cosine distance (0 to 2); at most one."""
    check_audit_params(
        owner, distance_threshold, cosine_distance_threshold, min_gap_size, neighbor_search
    )
    tests, production, meta = coverage_inputs(
        test_prompts,
        production_prompts,
        need_threshold=distance_threshold is None and cosine_distance_threshold is None,
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
        settings=audit_settings(
            distance_threshold,
            min_gap_size,
            neighbor_search=neighbor_search,
            cosine_distance_threshold=cosine_distance_threshold,
            significance_level=significance_level,
            correction=correction,
            random_state=setup.random_state,
        ),
        embedding_model=embedding_id,
        run=run,
        map_settings=setup.map_settings,
    )
    warn_meaning(report, stacklevel=4)  # warn_meaning <- audit <- facade <- caller
    return report


def check_audit_params(
    owner: str,
    distance_threshold: float | None,
    cosine_distance_threshold: float | None,
    min_gap_size: int,
    neighbor_search: Any,
) -> None:
    """The checks of :func:`audit`'s own parameters (one message format)."""
    check_param(owner, "distance_threshold", distance_threshold, None, Interval(float, 0, None))
    check_param(
        owner, "cosine_distance_threshold", cosine_distance_threshold, None, Interval(float, 0, 2)
    )
    if distance_threshold is not None and cosine_distance_threshold is not None:
        raise ConfigurationError(
            f"{owner}: pass distance_threshold= (faultmap 0.5.0's scale, Euclidean between "
            "unit vectors) or cosine_distance_threshold= (1 - cosine similarity), not both; "
            "cosine_distance_threshold = distance_threshold ** 2 / 2."
        )
    check_param(owner, "min_gap_size", min_gap_size, Interval(int, 2, None))
    check_param(owner, "neighbor_search", neighbor_search, Options(METHODS), _SEARCH_OBJECT)


def audit_settings(
    distance_threshold: float | None,
    min_gap_size: int,
    *,
    neighbor_search: Any,
    cosine_distance_threshold: float | None,
    significance_level: float,
    correction: str,
    random_state: int,
) -> CoverageSettings:
    """:class:`CoverageSettings` from :func:`audit`'s (checked) arguments."""
    return CoverageSettings(
        significance_level=significance_level,
        min_gap_size=min_gap_size,
        distance_threshold=None if distance_threshold is None else float(distance_threshold),
        cosine_distance_threshold=(
            None if cosine_distance_threshold is None else float(cosine_distance_threshold)
        ),
        random_state=random_state,
        correction=correction,
        neighbors=neighbor_search,
    )


def warn_meaning(report: CoverageReport, *, stacklevel: int) -> None:
    """Log the outcome and warn (:class:`CoverageMeaningWarning`) that gaps and
    ``overall_coverage_score`` do not mean what they meant in faultmap 0.5.0."""
    logger.info(
        "faultmap: coverage %.3f, %d gap(s) among %d production prompts",
        report.overall_coverage_score,
        report.num_gaps,
        report.num_production_prompts,
    )
    warnings.warn(
        "Coverage gaps are now regions where the test suite is significantly "
        "under-represented (all of a region's production prompts), and "
        "overall_coverage_score is the share of production prompts in no gap "
        f"({report.overall_coverage_score:.3f} here). faultmap 0.5.0's figure, the share "
        "within the distance threshold of a test prompt, is distance_coverage_score "
        f"({report.distance_coverage_score:.3f} here). See 'Differences from faultmap 0.5.0' "
        "in the README; silence with warnings.filterwarnings('ignore', "
        "category=faultmap.CoverageMeaningWarning).",
        CoverageMeaningWarning,
        stacklevel=stacklevel,
    )
