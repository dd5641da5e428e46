"""Failure slices: clusters of prompts that fail significantly more often than the rest.

Recipe over :mod:`faultmap.core`: cluster the prompt vectors; for every cluster of at least
``min_slice_size`` prompts, a one-sided test of its failure count against the rest (Fisher's
exact test by default); Benjamini–Hochberg across the tested clusters; the clusters whose
adjusted p-value is below ``significance_level`` and whose failure rate is above the
baseline are the slices, most significant first, each with a Wilson interval, named by the
namer (keywords offline).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._text import prompt_digest
from faultmap._validation import as_embeddings
from faultmap.analyses.hybrid import MetadataFindings, read_into_slices
from faultmap.analyses.inputs import (
    Setup,
    checked_references,
    precomputed,
    score,
    scored_rows,
)
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import (
    cluster,
    count_by_group,
    describe_groups,
    interval,
    name_groups,
    naming_fallbacks,
    test_family,
)
from faultmap.core.projection import MapSettings, prompt_map
from faultmap.core.rows import Rows, failed
from faultmap.core.run import Run
from faultmap.io import read_metadata
from faultmap.naming.base import Namer
from faultmap.reports.models import AnalysisReport, ClusterTest, FailureSlice
from faultmap.scoring.base import Scorer
from faultmap.significance.tests import one_sided_proportion_test

__all__ = ["SliceSettings", "analyze", "find_slices"]

logger = logging.getLogger("faultmap")


@dataclass(frozen=True, kw_only=True)
class SliceSettings:
    significance_level: float = 0.05
    min_slice_size: int = 10
    failure_threshold: float = 0.5
    test: str = "fisher"
    n_examples: int = 5
    n_representative: int = 5


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
    rows: Rows | None = None,
    run: Run | None = None,
    map_settings: MapSettings | None = None,
    metadata: dict[str, Any] | None = None,
    metadata_columns: dict[str, list[Any]] | None = None,
) -> AnalysisReport:
    """Cluster ``vectors``, test each cluster's failure rate, name the significant ones.

    Inputs are the analysed rows only, assumed validated (same lengths, scores in [0, 1],
    unit vectors); ``rows`` says which input rows they are (default: all), so indices in the
    report refer to the caller's input. ``run`` carries the metadata gathered before and the
    timer. With ``map_settings`` the report's ``map`` places the prompts. With
    ``metadata_columns`` (one value per input row) the metadata is read into the slices
    (:func:`faultmap.analyses.hybrid.read_into_slices`) before the report is built.

    Example:
        >>> from faultmap.clustering.fixed import FixedClusterer  # doctest: +SKIP
        >>> report = find_slices(prompts, responses, scores, vectors,  # doctest: +SKIP
        ...     clusterer=FixedClusterer(labels), namer=KeywordNamer(),
        ...     settings=SliceSettings(), embedding_model="precomputed")
    """
    rows = rows if rows is not None else Rows.all(len(prompts))
    run = run or Run()
    meta = {**run.metadata, **(metadata or {})}
    # Digests of every analysed prompt and of each slice's members: `faultmap diff` matches
    # slices of two runs by shared prompts (faultmap.reports.diff).
    digests = [prompt_digest(p) for p in prompts]
    meta["prompt_digests"] = digests
    n = len(prompts)
    fails = failed(scores, settings.failure_threshold)
    total_failures = int(fails.sum())
    baseline = total_failures / n
    common: dict[str, Any] = dict(
        total_prompts=n,
        total_failures=total_failures,
        baseline_failure_rate=baseline,
        clustering_method=clusterer.name,
        embedding_model=embedding_model,
        scoring_mode=scoring_mode,
        significance_level=settings.significance_level,
        failure_threshold=settings.failure_threshold,
        min_slice_size=settings.min_slice_size,
        rows=rows,
    )

    def read_metadata_into(slices: list[FailureSlice], labels: np.ndarray) -> MetadataFindings:
        return read_into_slices(
            slices,
            labels,
            fails,
            metadata_columns or {},
            rows=rows,
            significance_level=settings.significance_level,
            min_cell_size=settings.min_slice_size,
            prompts=prompts,
        )

    if total_failures in (0, n):
        meta["note"] = "no failures" if total_failures == 0 else "every prompt failed"
        if metadata_columns is not None:
            meta["metadata_analysis"] = read_metadata_into([], np.array([], np.int64)).summary
        return AnalysisReport(num_significant=0, slices=[], metadata=run.finish(meta), **common)

    with run.timer("cluster"):
        labels = cluster(clusterer, vectors, settings.min_slice_size)

    with run.timer("test"):
        fail_counts = count_by_group(labels, fails)
        family = test_family(
            labels,
            min_size=settings.min_slice_size,
            test=lambda g, size: one_sided_proportion_test(
                int(fail_counts[g]), size, total_failures, n, test=settings.test
            ),
        )
        tests = [
            ClusterTest(
                cluster_id=g,
                size=size,
                num_failures=int(fail_counts[g]),
                p_value=r.p_value,
                adjusted_p_value=adj,
                test_used=r.test_used,
            )
            for g, size, r, adj in family
        ]
        significant = [
            t
            for t in tests
            if t.adjusted_p_value < settings.significance_level and t.failure_rate > baseline
        ]
        significant.sort(key=lambda t: (t.adjusted_p_value, -t.failure_rate, t.cluster_id))

    with run.timer("name"):
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
            worst = members[fails[members]]
            worst = worst[np.argsort(scores[worst], kind="stable")][: settings.n_examples]
            contexts.append(
                group.context(
                    prompts,
                    failure_rate=t.failure_rate,
                    baseline_rate=baseline,
                    failing_examples=tuple(
                        (prompts[i], responses[i], float(scores[i])) for i in worst
                    ),
                )
            )
        names = name_groups(namer, contexts)

    slices = []
    for t, group, ctx, label in zip(significant, groups, contexts, names, strict=True):
        members = group.members
        shown = [int(i) for i in members[fails[members]]][: settings.n_examples]
        shown += [int(i) for i in members[~fails[members]]][: settings.n_examples]
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
                sample_indices=[int(i) for i in rows.input_index(members)],
                examples=[
                    {
                        "index": int(rows.analysed[i]),
                        "prompt": prompts[i],
                        "response": responses[i],
                        "score": float(scores[i]),
                        "failed": bool(fails[i]),
                    }
                    for i in shown
                ],
                representative_prompts=list(ctx.representative_prompts),
                cluster_id=t.cluster_id,
                num_failures=t.num_failures,
                rest_failure_rate=(total_failures - t.num_failures) / (n - t.size),
                risk_difference=t.failure_rate - baseline,
                confidence_interval=interval(t.num_failures, t.size),
                keywords=list(ctx.keywords),
                naming_source=label.source,
                naming_error=label.error,
                prompt_digests=[digests[i] for i in members],
            )
        )
    if naming_fallbacks(slices):
        meta["naming_fallbacks"] = naming_fallbacks(slices)
    cells: list[Any] = []
    if metadata_columns is not None:
        with run.timer("metadata"):
            found = read_metadata_into(slices, labels)
        slices, cells, meta["metadata_analysis"] = found.slices, found.cells, found.summary
    positions: dict[str, Any] = {}
    if map_settings is not None:
        with run.timer("map"):
            positions = prompt_map(
                vectors,
                prompts,
                labels,
                settings=map_settings,
                index=rows.analysed,
                failed=fails,
            )
    return AnalysisReport(
        map=positions,
        num_significant=len(slices),
        slices=slices,
        metadata=run.finish(meta),
        num_clusters=family.num_groups,
        num_unclustered=family.num_ungrouped,
        num_untested=family.num_untested,
        clusters=tests,
        hybrid_cells=cells,
        cluster_labels=[int(x) for x in rows.spread(labels)],
        **common,
    )


def analyze(
    prompts: Any,
    responses: Any,
    scores: Any = None,
    references: Any = None,
    *,
    embeddings: Any = None,
    scorer: Scorer | None = None,
    metadata: Any = None,
    setup: Setup,
    settings: SliceSettings,
) -> AnalysisReport:
    """The whole analysis from the caller's inputs (see
    :meth:`faultmap.SliceAnalyzer.analyze`): check them (cheap checks before any expensive
    step), score, leave out unscored rows, embed, then :func:`find_slices`."""
    prompts, responses, meta = setup.texts(prompts, responses)
    columns = None if metadata is None else read_metadata(metadata, len(prompts), of="prompts")
    if scores is None:
        references = checked_references(references, prompts)
    if embeddings is not None:
        embeddings = as_embeddings("embeddings", embeddings, len(prompts))
    run = setup.run()
    if scorer is None:
        scorer = (
            setup.scorer_for(references)
            if scores is None
            else precomputed(scores, references, len(prompts))
        )
    with run.timer("score"):
        scored, values = score(scorer, prompts, responses)
        rows = scored_rows(values, sampling_errors=scored.metadata.get("sampling_errors"))
    vectors, embedding_id = setup.vectors(prompts, embeddings, run)
    run.metadata = {**meta, **scored.metadata, "random_state": setup.random_state}
    if rows.is_subset:
        run.metadata["unscored_indices"] = rows.reasons()["unscored"]
    report = find_slices(
        rows.take(prompts),
        rows.take(responses),
        rows.take(values),
        rows.take(vectors),
        rows=rows,
        clusterer=setup.clusterer,
        namer=setup.namer,
        settings=settings,
        embedding_model=embedding_id,
        scoring_mode=scored.mode,
        run=run,
        map_settings=setup.map_settings,
        metadata_columns=columns,
    )
    logger.info(
        "faultmap: %d significant slice(s) among %d prompts",
        report.num_significant,
        report.total_prompts,
    )
    return report
