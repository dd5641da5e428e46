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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from faultmap._text import prompt_digest
from faultmap._validation import as_embeddings
from faultmap.analyses.describe import Describer
from faultmap.analyses.evidence import (
    Procedure,
    detectable_rates,
    null_audit,
    with_evidence,
)
from faultmap.analyses.hybrid import read_into_slices
from faultmap.analyses.inputs import (
    Setup,
    checked_references,
    embed,
    note_repairs,
    precomputed,
    score,
    scored_rows,
    scoring_metadata,
)
from faultmap.analyses.modes import (
    MERGE_LEVEL,
    ClusterTree,
    choose_modes,
    cluster_tree,
    failure_modes,
    merge_threshold,
    per_cluster,
)
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import (
    centre,
    cluster,
    count_by_group,
    naming_fallbacks,
    test_family,
)
from faultmap.core.projection import MapSettings, prompt_map
from faultmap.core.rows import Rows, failed
from faultmap.core.run import Run
from faultmap.embedding.base import fingerprint_of
from faultmap.io import read_metadata
from faultmap.naming.base import Namer
from faultmap.reports.models import (
    AnalysisReport,
    Centroid,
    ClusterTest,
    FailureSlice,
)
from faultmap.scoring.base import Scorer
from faultmap.significance.tests import one_sided_proportion_test

__all__ = [
    "SliceSettings",
    "analyze",
    "assemble",
    "common_fields",
    "discovery_half",
    "find_slices",
    "no_findings",
]


logger = logging.getLogger("faultmap")


@dataclass(frozen=True, kw_only=True)
class SliceSettings:
    """What decides the slices and failure modes of one analysis (see
    :meth:`faultmap.SliceAnalyzer.analyze` for each setting)."""

    significance_level: float = 0.05
    min_slice_size: int = 10
    failure_threshold: float = 0.5
    test: str = "fisher"
    n_examples: int = 5
    n_representative: int = 5
    correction: str = "bh"
    confirm: str | None = None
    stability_runs: int = 0
    null_runs: int = 0
    seed: int = 0
    merge_level: float = MERGE_LEVEL
    check_names: bool = True

    def procedure(self) -> Procedure:
        return Procedure(
            test=self.test,
            correction=self.correction,
            level=self.significance_level,
            min_size=self.min_slice_size,
            merge_level=self.merge_level,
        )


def discovery_half(n: int, seed: int) -> np.ndarray:
    """The discovery rows of ``confirm="split"``: a seeded random half (the larger half when
    ``n`` is odd) as a boolean mask; the other rows confirm."""
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[: n - n // 2]] = True
    return mask


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
    embedding_fingerprint: str | None = None,
    scoring_mode: str = "precomputed",
    rows: Rows | None = None,
    run: Run | None = None,
    map_settings: MapSettings | None = None,
    metadata: dict[str, Any] | None = None,
    metadata_columns: dict[str, list[Any]] | None = None,
    embed_names: Callable[[list[str]], np.ndarray] | None = None,
) -> AnalysisReport:
    """Cluster ``vectors``, test each cluster's failure rate, name the significant ones, and
    merge the slices that are one problem into failure modes.

    Inputs are the analysed rows only, assumed validated (same lengths, scores in [0, 1],
    unit vectors); ``rows`` says which input rows they are (default: all), so indices in the
    report refer to the caller's input. ``run`` carries the metadata gathered before and the
    timer. With ``map_settings`` the report's ``map`` places the prompts. With
    ``metadata_columns`` (one value per input row) the metadata is read into the slices
    (:func:`faultmap.analyses.hybrid.read_into_slices`) before the report is built.
    ``embed_names`` embeds names with the model that made ``vectors`` (for the name check;
    without it names are checked by their words). ``embedding_fingerprint`` names that
    model's weights (:mod:`faultmap.embedding.fingerprint`); every slice, mode and tested
    cluster stores its centroid (and its members' similarities to it), which ``faultmap
    diff`` compares between reports with the same fingerprint.

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
    common = common_fields(
        n,
        int(fails.sum()),
        settings,
        clustering_method=clusterer.name,
        embedding_model=embedding_model,
        embedding_fingerprint=embedding_fingerprint,
        scoring_mode=scoring_mode,
        rows=rows,
        row_scores=rows.spread(np.asarray(scores, dtype=np.float64), np.nan).tolist(),
    )
    if common["total_failures"] in (0, n):
        return no_findings(common, meta, run, metadata_columns, settings, rows, fails, prompts)

    with run.timer("cluster"):
        labels = cluster(clusterer, vectors, settings.min_slice_size)

    naming = Describer(
        prompts,
        responses,
        scores,
        vectors,
        fails,
        baseline=common["baseline_failure_rate"],
        n_examples=settings.n_examples,
        n_representative=settings.n_representative,
        seed=settings.seed,
    )
    positions: Callable[[], dict[str, Any]] | None = None
    if map_settings is not None:

        def positions() -> dict[str, Any]:
            return prompt_map(
                vectors,
                prompts,
                labels,
                settings=map_settings,
                index=rows.analysed,
                texts_of={"response": responses},
                failed=fails,
                score=np.round(np.asarray(scores, dtype=np.float64), 4),
            )

    return assemble(
        labels,
        fails,
        settings=settings,
        common=common,
        meta=meta,
        run=run,
        rows=rows,
        digests=digests,
        clusterer=clusterer,
        namer=namer,
        naming=naming,
        naming_labels=labels,
        tree_of=lambda ids: cluster_tree(vectors, labels, ids),
        centre_of=lambda g: centre(vectors, np.flatnonzero(labels == g)),
        vectors=vectors,
        map_of=positions,
        metadata_columns=metadata_columns,
        prompts=prompts,
        embed_names=embed_names,
        label_fields={"cluster_labels": [int(x) for x in rows.spread(labels)]},
    )


def common_fields(
    n: int, total_failures: int, settings: SliceSettings, **fields: Any
) -> dict[str, Any]:
    """The report fields every analysis of slices fills the same way."""
    return dict(
        total_prompts=n,
        total_failures=total_failures,
        baseline_failure_rate=total_failures / n,
        significance_level=settings.significance_level,
        failure_threshold=settings.failure_threshold,
        min_slice_size=settings.min_slice_size,
        correction=settings.correction,
        **fields,
    )


def no_findings(
    common: dict[str, Any],
    meta: dict[str, Any],
    run: Run,
    metadata_columns: dict[str, list[Any]] | None,
    settings: SliceSettings,
    rows: Rows,
    fails: np.ndarray,
    prompts: Sequence[str],
) -> AnalysisReport:
    """The report when no row failed, or every row did: nothing to cluster or test."""
    meta["note"] = "no failures" if common["total_failures"] == 0 else "every prompt failed"
    if metadata_columns is not None:
        meta["metadata_analysis"] = read_into_slices(
            [],
            np.array([], np.int64),
            fails,
            metadata_columns,
            rows=rows,
            significance_level=settings.significance_level,
            min_cell_size=settings.min_slice_size,
            prompts=prompts,
        ).summary
    return AnalysisReport(num_significant=0, slices=[], metadata=run.finish(meta), **common)


def assemble(
    labels: np.ndarray,
    fails: np.ndarray,
    *,
    settings: SliceSettings,
    common: dict[str, Any],
    meta: dict[str, Any],
    run: Run,
    rows: Rows,
    digests: list[str] | None,
    clusterer: Clusterer,
    namer: Namer,
    naming: Describer,
    naming_labels: np.ndarray,
    tree_of: Callable[[np.ndarray], ClusterTree],
    centre_of: Callable[[int], tuple[np.ndarray, float, float] | None],
    vectors: np.ndarray | None,
    map_of: Callable[[], dict[str, Any]] | None,
    metadata_columns: dict[str, list[Any]] | None,
    prompts: Sequence[str],
    embed_names: Callable[[list[str]], np.ndarray] | None,
    label_fields: dict[str, Any],
) -> AnalysisReport:
    """Test, correct, merge into modes, name and report, from the cluster ``labels`` and
    failure flags of every analysed row: the one procedure of an analysis held in memory
    and of a streamed one. What needs the vectors comes through ``tree_of`` (the cluster
    tree over the tested ids), ``centre_of`` (a cluster's centre) and ``naming`` (which
    describes groups of ``naming_labels``: every row here, a sample of rows when streamed);
    ``vectors`` only for stability reruns and a split's null audit."""
    n = len(labels)
    baseline = common["baseline_failure_rate"]
    total_failures = common["total_failures"]
    procedure = settings.procedure()

    # With confirm="split" the labels of one half find the slices and modes and the other
    # half confirms them; clustering saw no label, so it runs on every row.
    discover = np.ones(n, dtype=bool)
    if settings.confirm == "split":
        discover = discovery_half(n, settings.seed)
    split = settings.confirm == "split"
    d_labels, d_fails = (labels[discover], fails[discover]) if split else (labels, fails)
    n_d, f_d = int(discover.sum()), int(d_fails.sum())
    if split:
        meta["confirmation"] = {
            "method": "split",
            "seed": settings.seed,
            "discovery_rows": n_d,
            "discovery_failures": f_d,
            "confirmation_rows": n - n_d,
            "confirmation_failures": total_failures - f_d,
            "discovery_indices": [int(i) for i in rows.input_index(np.flatnonzero(discover))],
        }

    with run.timer("test"):
        fail_counts = count_by_group(d_labels, d_fails)
        family = test_family(
            d_labels,
            min_size=settings.min_slice_size,
            test=lambda g, size: one_sided_proportion_test(
                int(fail_counts[g]), size, f_d, n_d, test=settings.test
            ),
            correction=settings.correction,
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
            if t.adjusted_p_value < settings.significance_level and t.failure_rate > f_d / n_d
        ]
        significant.sort(key=lambda t: (t.adjusted_p_value, -t.failure_rate, t.cluster_id))
        tests = _with_power(tests, {t.cluster_id for t in significant}, f_d / n_d, procedure)
        tests = _with_centres(tests, centre_of)

    with run.timer("modes"):
        tree = tree_of(family.group_ids)
        sizes_d, fails_d = per_cluster(d_labels, d_fails, tree.cluster_ids)
        choice = choose_modes(
            tree,
            sizes_d,
            fails_d,
            n_d,
            f_d,
            test=settings.test,
            correction=settings.correction,
            level=settings.significance_level,
            merge_level=settings.merge_level,
        )
        meta["modes"] = {
            "merge_level": settings.merge_level,
            "merge_threshold": merge_threshold(len(tree.cluster_ids), settings.merge_level),
            "linkage": "average",
            "metric": "cosine",
        }

    with run.timer("name"):
        slice_labels, slice_groups, slice_contexts = naming.name(
            namer, naming_labels, [t.cluster_id for t in significant]
        )
        naming.slice_contexts = slice_contexts

    slices = []
    for t, group, ctx, label in zip(
        significant, slice_groups, slice_contexts, slice_labels, strict=True
    ):
        rate = naming.failure_rate(group)
        slices.append(
            FailureSlice(
                name=label.name,
                description=label.description,
                size=naming.size(group),
                failure_rate=rate,
                baseline_rate=baseline,
                effect_size=rate / baseline,
                p_value=t.p_value,
                adjusted_p_value=t.adjusted_p_value,
                test_used=t.test_used,
                root_cause=label.root_cause,
                suggested_remediation=label.suggested_remediation,
                cluster_id=t.cluster_id,
                risk_difference=rate - baseline,
                **naming.fields(group, ctx, label, rows, digests),
            )
        )

    with run.timer("name_modes"):
        modes, nodes = failure_modes(choice, naming_labels, slices, naming, namer, rows, digests)

    if settings.check_names:
        with run.timer("name_check"):
            slices, modes, meta["name_check"] = naming.check(
                namer, naming_labels, slices, modes, embed_names
            )

    if split or settings.stability_runs:
        assert vectors is not None, "stability and split confirmation need the vectors"
        slices, modes = with_evidence(
            slices,
            modes,
            labels,
            vectors,
            fails,
            discover,
            clusterer,
            procedure,
            confirm_split=split,
            stability_runs=settings.stability_runs,
            seed=settings.seed,
            meta=meta,
            run=run,
        )
    null = None
    if settings.null_runs:
        with run.timer("null_audit"):
            null = null_audit(
                d_labels,
                d_fails,
                vectors[discover] if split and vectors is not None else None,
                procedure,
                runs=settings.null_runs,
                seed=settings.seed,
                tree=None if split else tree,
            )

    # A mode that is one slice carries that slice's name: count each naming once.
    named = [*slices, *(m for m in modes if m.name not in {s.name for s in slices})]
    if naming_fallbacks(named):
        meta["naming_fallbacks"] = naming_fallbacks(named)
    cells: list[Any] = []
    if metadata_columns is not None:
        with run.timer("metadata"):
            found = read_into_slices(
                slices,
                labels,
                fails,
                metadata_columns,
                rows=rows,
                significance_level=settings.significance_level,
                min_cell_size=settings.min_slice_size,
                prompts=prompts,
            )
        slices, cells, meta["metadata_analysis"] = found.slices, found.cells, found.summary
    positions: dict[str, Any] = {}
    if map_of is not None:
        with run.timer("map"):
            positions = map_of()
    return AnalysisReport(
        map=positions,
        num_significant=len(slices),
        slices=slices,
        metadata=run.finish(meta),
        num_clusters=family.num_groups,
        num_unclustered=int((labels == -1).sum()),
        num_untested=int(((labels >= 0) & ~np.isin(labels, family.group_ids)).sum()),
        clusters=tests,
        hybrid_cells=cells,
        failure_modes=modes,
        mode_nodes=nodes,
        null_audit=null,
        **label_fields,
        **common,
    )


def _with_power(
    tests: list[ClusterTest], reported: set[int], baseline: float, procedure: Procedure
) -> list[ClusterTest]:
    """``tests`` with the detectable failure rate of each cluster that was not reported."""
    rates = detectable_rates(
        np.array([t.size for t in tests]),
        np.array([t.p_value for t in tests]),
        np.array([t.adjusted_p_value for t in tests]),
        baseline,
        procedure,
    )
    return [
        t if t.cluster_id in reported else replace(t, detectable_failure_rate=rate)
        for t, rate in zip(tests, rates, strict=True)
    ]


def _with_centres(
    tests: list[ClusterTest], centre_of: Callable[[int], tuple[np.ndarray, float, float] | None]
) -> list[ClusterTest]:
    """``tests`` with each cluster's centroid (over all its rows, as clustered)."""
    out = []
    for t in tests:
        where = centre_of(t.cluster_id)
        if where is not None:
            centroid = Centroid.encode(
                where[0], median_similarity=where[1], q10_similarity=where[2]
            )
            t = replace(t, centroid=centroid)
        out.append(t)
    return out


def analyze(
    prompts: Any,
    responses: Any,
    scores: Any = None,
    references: Any = None,
    *,
    embeddings: Any = None,
    scorer: Scorer | None = None,
    metadata: Any = None,
    embedding_fingerprint: str | None = None,
    setup: Setup,
    settings: SliceSettings,
) -> AnalysisReport:
    """The whole analysis from the caller's inputs (see
    :meth:`faultmap.SliceAnalyzer.analyze`): check them (cheap checks before any expensive
    step), score, leave out unscored rows, embed, then :func:`find_slices`.
    ``embedding_fingerprint`` names the model of given ``embeddings``; without them it is
    the embedding stage's (:func:`faultmap.embedding.base.fingerprint_of`)."""
    repaired: dict[str, list[int]] = {}
    prompts, responses, meta = setup.texts(prompts, responses, repaired=repaired)
    columns = None if metadata is None else read_metadata(metadata, len(prompts), of="prompts")
    if scores is None:
        references = checked_references(references, prompts, repaired)
    note_repairs(meta, repaired)
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
    embed_names = None
    if embeddings is None:  # names can be embedded by the model that made the vectors
        embedding_fingerprint = fingerprint_of(setup.embedder())

        def embed_names(names: list[str]) -> np.ndarray:
            return embed(setup.embedder(), names)[0]

    run.metadata = {**meta, **scored.metadata, "random_state": setup.random_state}
    run.metadata["scoring_metadata"] = scoring_metadata(scorer, scored)
    if rows.is_subset:
        run.metadata["unscored_indices"] = rows.reasons()["unscored"]
    report = find_slices(
        rows.take(prompts),
        rows.take(responses),
        rows.take(values),
        rows.take(vectors),
        rows=rows,
        clusterer=setup.slice_clusterer,
        namer=setup.namer,
        settings=settings,
        embedding_model=embedding_id,
        embedding_fingerprint=embedding_fingerprint,
        scoring_mode=scored.mode,
        run=run,
        map_settings=setup.map_settings,
        metadata_columns=columns,
        embed_names=embed_names,
    )
    logger.info(
        "faultmap: %d significant slice(s) among %d prompts",
        report.num_significant,
        report.total_prompts,
    )
    return report
