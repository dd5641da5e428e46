"""The coverage audit of production prompts streamed from Parquet files (issue 15): tens of
millions of rows, in memory a record batch at a time plus a few numbers per row.

The statistics are those of :mod:`faultmap.analyses.coverage`, step for step and through
the same functions; only the order of reading changes. Three passes over the files:

1. **Fit sample** (only the row groups that hold it): the seeded uniform sample of the
   pooled prompts that the regions are clustered on (the same ``max_region_points`` rows,
   drawn with the same seed over the same pooled row numbers as the in-memory audit, so the
   same regions), and the seeded production rows the cell index of the nearest-neighbour
   search is tuned and checked on (:class:`~faultmap._neighbors.PreparedSearch`).
2. **Every row**: the nearest test prompt (same search, same measured error), the region
   (the nearest centroid within the region's radius, :class:`RegionModel`), the sum of the
   vectors per region, the prompt checked and hashed to count repeats.
3. **Only what the report shows**: the texts the keywords are computed on (the same
   stratified sample), the most central members of each described region, and the prompts
   of the map (the same stratified sample).

Then the region tests, the correction, the permutation test, naming and the report are
:func:`~faultmap.analyses.coverage.decide_gaps` and
:func:`~faultmap.analyses.coverage.assemble_gaps`, as in memory. On the same rows the counts,
p-values, gaps and scores are the in-memory audit's; a region's representative prompts may
differ where two members are equally central up to float32 rounding (the centroid is
summed batch by batch in float64, in memory as one float32 mean).

What is kept per production row: its region (int32), its similarity to the nearest test
prompt (float32, then the distance as float64 for the tests) and a 64-bit hash of its text
(for the count of repeated prompts, dropped after the pass); with ``keep_row_lists`` also the
index of that test prompt (int32). Measured: 1.6 GB at a million prompts, 1.8 GB at ten
million (``benchmarks/README.md``).

Above ``ROW_LIST_ROWS`` production prompts the report's per-prompt lists (each gap's
``prompt_indices``, ``nearest_test_distances`` and ``nearest_test_indices``, the uncovered
prompts in no gap and the rejected gaps' members) are ``None`` and
``metadata["row_lists_kept"]`` is False; every count stays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._neighbors import PreparedSearch, cosine_distance
from faultmap._validation import (
    BOOL,
    Interval,
    NonEmptyStr,
    Options,
    as_embeddings,
    as_text_list,
    check_param,
)
from faultmap.analyses.coverage import (
    TOLERANCE,
    assemble_gaps,
    audit,
    audit_settings,
    check_audit_params,
    decide_gaps,
    gap_region_size,
    report_fields,
    suite_threshold,
    warn_meaning,
)
from faultmap.analyses.coverage_steps import (
    CoverageSettings,
    RegionModel,
    fit_regions,
    region_floor,
    region_sample,
)
from faultmap.analyses.inputs import Setup, embed, note_repairs
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import Group, cluster
from faultmap.core.projection import MapSettings, map_sample, prompt_map
from faultmap.core.run import Run
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.io import Table, read_table
from faultmap.io._coverage_batches import ParquetBatches, is_parquet_source, parquet_files
from faultmap.naming.base import Namer
from faultmap.naming.keywords import distinctive_terms, keyword_rows
from faultmap.reports.models import CoverageReport

__all__ = ["ROW_LIST_ROWS", "STREAM_ROWS", "audit_frame", "checked_tests", "stream_coverage_gaps"]

logger = logging.getLogger("faultmap")

#: Above this many production prompts the report keeps no per-prompt lists by default.
ROW_LIST_ROWS = 1_000_000


def stream_coverage_gaps(
    test_prompts: Sequence[str],
    test_vectors: np.ndarray,
    source: ParquetBatches,
    *,
    clusterer: Clusterer,
    namer: Namer,
    settings: CoverageSettings,
    embedding_model: str,
    run: Run | None = None,
    map_settings: MapSettings | None = None,
    keep_row_lists: bool | None = None,
    metadata: dict[str, Any] | None = None,
) -> CoverageReport:
    """Audit how well ``test_prompts`` cover the production prompts of ``source`` (module
    doc). ``test_prompts`` are checked text, ``test_vectors`` unit float32 rows; indices in
    the report are production row numbers across ``source``'s files in order.
    ``keep_row_lists``: keep the per-prompt lists (None: up to :data:`ROW_LIST_ROWS` rows)."""
    run = run or Run()
    meta: dict[str, Any] = {**run.metadata, **(metadata or {})}
    n_test, n_prod = len(test_prompts), source.num_rows
    if n_prod == 0:
        raise DataError(
            f"'{source.name}' ({len(source.files)} Parquet file(s)) holds no rows; pass the "
            "prompts from your logs."
        )
    keep = n_prod <= ROW_LIST_ROWS if keep_row_lists is None else bool(keep_row_lists)
    n_pool = n_test + n_prod
    region_size = gap_region_size(n_test, n_prod, settings)

    with run.timer("read_sample"):
        plan = (
            PreparedSearch(
                test_vectors,
                n_queries=n_prod,
                method=settings.neighbors,
                memory_budget=settings.memory_budget,
                random_state=settings.random_state,
            )
            if isinstance(settings.neighbors, str)
            else None
        )
        sample = region_sample(n_pool, settings) if region_size <= n_pool else np.zeros(0, int)
        sampled = sample[sample >= n_test] - n_test
        search_rows = plan.needed_rows() if plan is not None else np.zeros(0, np.int64)
        need = np.union1d(sampled, search_rows)
        _, fetched = source.take(need, texts=False)
        assert fetched is not None
        if len(fetched):
            _same_width(test_vectors, fetched, source)
        if plan is not None:
            plan.fit(fetched[np.searchsorted(need, search_rows)])
        sample_vectors = np.concatenate(
            [test_vectors[sample[sample < n_test]], fetched[np.searchsorted(need, sampled)]]
        )
        del fetched

    with run.timer("cluster_regions"):
        model, cluster_size = _regions(
            clusterer, sample_vectors, sample, n_pool, region_size, settings
        )
        n_regions = int(max(model.ids.max(initial=-1), model.sample_labels.max(initial=-1))) + 1
        in_test = model.assign(test_vectors)
        in_test[sample[sample < n_test]] = model.sample_labels[sample < n_test]

    with run.timer("distances"):
        threshold, rule = suite_threshold(test_prompts, test_vectors, settings, meta)

    with run.timer("stream"):
        in_production = np.full(n_prod, -1, dtype=np.int32)
        sims = np.empty(n_prod, dtype=np.float32)
        nearest = np.empty(n_prod, dtype=np.int32) if keep else None
        hashes = np.empty(n_prod, dtype=np.int64)
        sums = np.zeros((n_regions, test_vectors.shape[1]), dtype=np.float64)
        search_details: dict[str, Any] | None = None
        batches = 0
        began = last = time.perf_counter()
        for batch in source.batches():
            rows = slice(batch.start, batch.start + batch.size)
            vectors, texts = batch.vectors, batch.texts
            assert vectors is not None and texts is not None
            _same_width(test_vectors, vectors, source)
            if plan is not None:
                s, idx = plan.query(vectors)
            else:  # a search object, such as faultmap.integrations.ray.RayNeighborSearch
                s, idx, found = settings.neighbors.search(
                    vectors, test_vectors, memory_budget=settings.memory_budget
                )
                search_details = search_details or dict(found)
            sims[rows] = s
            if nearest is not None:
                nearest[rows] = idx
            labels = model.assign(vectors)
            in_production[rows] = labels
            _add_by_label(sums, labels, vectors)
            hashes[rows] = [_digest64(t) for t in texts]
            batches += 1
            last = _progress(last, batch.start + batch.size, n_prod, began)
        # the sampled rows keep their clustering labels (as in memory); move their vectors
        sampled_vectors = sample_vectors[len(sample_vectors) - len(sampled) :]
        _add_by_label(sums, in_production[sampled], sampled_vectors, sign=-1.0)
        in_production[sampled] = model.sample_labels[sample >= n_test]
        _add_by_label(sums, in_production[sampled], sampled_vectors)
        del sample_vectors, sampled_vectors
        if plan is not None:
            search_details = plan.details()
        else:
            search_details = {**(search_details or {}), "batches": batches}
        meta["nearest_neighbors"] = search_details
        meta["streaming"] = {
            "files": len(source.files),
            "batch_rows": source.batch_size,
            "batches": batches,
        }
        duplicates = n_prod - int(np.unique(hashes).size)
        del hashes
        if duplicates:
            meta["num_duplicate_production_prompts"] = duplicates
        distances = cosine_distance(sims)
        del sims

    with run.timer("cluster_and_test_regions"):
        decision = decide_gaps(
            in_test, in_production, distances, threshold, region_size, cluster_size, settings, meta
        )

    with run.timer("describe"):
        covered = distances <= threshold + TOLERANCE
        strata = np.where(covered, -2, -1).astype(np.int64)
        for k, region in enumerate(decision.gap_order()):
            strata[in_production == region] = k
        map_rows = (
            map_sample(strata, map_settings.max_points, map_settings.random_state)
            if map_settings is not None
            else np.zeros(0, np.int64)
        )
        groups, texts, map_points = _describe(
            source,
            in_production,
            decision.described_ids,
            sums,
            map_rows,
            settings.n_representative,
        )

    with run.timer("name"):
        gaps, common = assemble_gaps(
            decision,
            groups,
            texts,
            in_production,
            distances,
            namer=namer,
            settings=settings,
            meta=meta,
            row_lists=keep,
        )
    common.update(
        nearest_test_indices=None if nearest is None else nearest.tolist(),
        threshold=threshold,
        rule=rule,
        n_test=n_test,
        embedding_model=embedding_model,
        clusterer=clusterer,
    )
    positions: dict[str, Any] = {}
    if map_settings is not None:
        with run.timer("map"):
            map_texts, map_vectors = map_points
            positions = prompt_map(
                map_vectors,
                map_texts,
                np.where(strata >= 0, strata, -1)[map_rows],
                settings=dataclasses.replace(map_settings, max_points=max(len(map_rows), 1)),
                index=map_rows,
                strata=strata[map_rows],
                covered=covered[map_rows],
            )
            positions["total_points"] = n_prod
    return CoverageReport(
        num_gaps=len(gaps),
        gaps=gaps,
        regions=decision.regions,
        metadata=run.finish(meta),
        map=positions,
        **report_fields(settings, **common),
    )


#: Seconds between progress lines of the pass over every row.
_PROGRESS_EVERY = 30.0


def _progress(last: float, done: int, total: int, began: float) -> float:
    """Log how far the pass over every row is, at most every ``_PROGRESS_EVERY`` s."""
    now = time.perf_counter()
    if now - last < _PROGRESS_EVERY:
        return last
    logger.info(
        "coverage (streamed): %d of %d production prompts (%.0f %%), about %.0f s left",
        done,
        total,
        100 * done / total,
        (now - began) * (total - done) / max(done, 1),
    )
    return now


def _same_width(test_vectors: np.ndarray, vectors: np.ndarray, source: ParquetBatches) -> None:
    if vectors.shape[1] != test_vectors.shape[1]:
        raise DataError(
            f"The test vectors have {test_vectors.shape[1]} dimensions but the production "
            f"vectors of '{source.name}' have {vectors.shape[1]}; embed both sets with the "
            "same model."
        )


def _regions(
    clusterer: Clusterer,
    sample_vectors: np.ndarray,
    sample: np.ndarray,
    n_pool: int,
    region_size: int,
    settings: CoverageSettings,
) -> tuple[RegionModel, int]:
    """The regions as :func:`~faultmap.analyses.coverage_steps.pooled_regions` finds them:
    every pooled prompt clustered up to ``max_region_points``, a fitted sample above; no
    region when none could be significant (an empty ``sample``)."""
    empty = np.zeros(0, dtype=np.int64)
    dim = sample_vectors.shape[1]
    if not sample.size:
        none = np.zeros((0, dim), np.float32)
        return RegionModel(empty, empty, empty, none, np.zeros(0), 0, settings.memory_budget), 0
    if n_pool > settings.max_region_points:
        model = fit_regions(clusterer, sample_vectors, sample, n_pool, region_size, settings)
        return model, model.min_cluster_size
    # every prompt clustered: the labels are the clustering's, nothing is assigned
    size = min(max(region_size, region_floor(n_pool, settings)), n_pool)
    labels = cluster(clusterer, sample_vectors, size)
    none = np.zeros((0, dim), np.float32)
    return RegionModel(sample, labels, empty, none, np.zeros(0), size, settings.memory_budget), size


def _add_by_label(
    sums: np.ndarray, labels: np.ndarray, vectors: np.ndarray, sign: float = 1.0
) -> None:
    """Add (``sign`` -1: subtract) each row of ``vectors`` to its label's row of ``sums``
    (rows labelled -1 are skipped): one sort and one sum per label present."""
    inside = np.flatnonzero(labels >= 0)
    if not inside.size:
        return
    order = inside[np.argsort(labels[inside], kind="stable")]
    present, starts = np.unique(labels[order], return_index=True)
    block = np.add.reduceat(vectors[order], starts, axis=0, dtype=np.float64)
    sums[present] += sign * block


def _describe(
    source: ParquetBatches,
    in_production: np.ndarray,
    group_ids: list[int],
    sums: np.ndarray,
    map_rows: np.ndarray,
    n_representative: int,
) -> tuple[list[Group], dict[int, str], tuple[list[str], np.ndarray]]:
    """Pass 3: members, representatives and keywords of ``group_ids`` (as
    :func:`~faultmap.core.groups.describe_groups`), their texts, and the prompts and
    vectors of ``map_rows``. Reads only the row groups it needs; nothing when nothing is
    described or mapped."""
    ids = np.asarray(group_ids, dtype=np.int64)
    word_rows = keyword_rows(in_production) if ids.size else np.zeros(0, np.int64)
    text_rows = np.union1d(word_rows, map_rows)
    texts: dict[int, str] = {}
    map_vectors: list[np.ndarray] = []
    best_sim = {int(g): np.zeros(0, np.float32) for g in ids}
    best_rows = {int(g): np.zeros(0, np.int64) for g in ids}
    candidates: dict[int, str] = {}
    centroids = np.zeros((0, sums.shape[1]), np.float32)
    if ids.size:  # the members' mean vector, as representatives() takes it
        counts = np.bincount(in_production[in_production >= 0], minlength=len(sums))
        centroids = (sums[ids] / np.maximum(counts[ids], 1)[:, None]).astype(np.float32)
    if ids.size or map_rows.size:
        position = np.full(max(int(in_production.max(initial=-1)) + 1, 1), -1)
        position[ids] = np.arange(ids.size)
        for batch in source.batches():
            start, stop = batch.start, batch.start + batch.size
            vectors, batch_texts = batch.vectors, batch.texts
            assert vectors is not None and batch_texts is not None
            lo, hi = np.searchsorted(text_rows, [start, stop])
            for row in text_rows[lo:hi].tolist():
                texts[row] = batch_texts[row - start]
            lo, hi = np.searchsorted(map_rows, [start, stop])
            map_vectors.append(vectors[map_rows[lo:hi] - start])
            labels = in_production[start:stop]
            which = np.where(labels >= 0, position[np.maximum(labels, 0)], -1)
            for k in np.unique(which[which >= 0]).tolist():
                local = np.flatnonzero(which == k)
                sim = vectors[local] @ centroids[k]
                top = np.lexsort((local, -sim))[:n_representative]  # most central; ties by row
                g = int(ids[k])
                rows = np.concatenate([best_rows[g], local[top] + start])
                sims = np.concatenate([best_sim[g], sim[top]])
                keep = np.lexsort((rows, -sims))[:n_representative]
                best_rows[g], best_sim[g] = rows[keep], sims[keep]
                for i in local[top].tolist():
                    candidates[i + start] = batch_texts[i]
    words = distinctive_terms(texts, in_production) if ids.size else {}
    groups = []
    for g in ids.tolist():
        texts.update((row, candidates[row]) for row in best_rows[g].tolist())
        groups.append(
            Group(
                group_id=g,
                members=np.flatnonzero(in_production == g),
                representatives=best_rows[g],
                keywords=tuple(words.get(g, ())),
            )
        )
    stacked = (
        np.concatenate(map_vectors) if map_vectors else np.zeros((0, sums.shape[1]), np.float32)
    )
    return groups, texts, ([texts[int(r)] for r in map_rows], stacked)


def checked_tests(
    test_prompts: Any, test_vectors: Any, *, need_threshold: bool
) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """The test prompts as checked text and unit float32 vectors (given: a streaming
    audit never embeds), and their count of repeats."""
    repaired: dict[str, list[int]] = {}
    tests = as_text_list("test_prompts", test_prompts, repaired=repaired)
    if not tests:
        raise DataError(
            "'test_prompts' is empty; pass at least one prompt (your evaluation prompts)."
        )
    if need_threshold and len(set(tests)) < 2:
        raise DataError(
            "'test_prompts' needs at least 2 distinct prompts to choose a distance "
            "threshold from the data; pass more test prompts, distance_threshold= or "
            "cosine_distance_threshold=."
        )
    vectors = as_embeddings("test_embeddings", test_vectors, len(tests), of="test prompts")
    meta: dict[str, Any] = {}
    if len(tests) - len(set(tests)):
        meta["num_duplicate_test_prompts"] = len(tests) - len(set(tests))
    note_repairs(meta, repaired)
    return tests, vectors, meta


#: ``streaming="auto"`` streams Parquet production files with more rows than this.
STREAM_ROWS = 1_000_000


def audit_frame(
    test: Any,
    production: Any,
    prompt_col: str = "prompt",
    embedding_col: str | None = None,
    *,
    test_prompt_col: str | None = None,
    test_embedding_col: str | None = None,
    streaming: bool | str = "auto",
    batch_rows: int = 65_536,
    keep_row_lists: bool | None = None,
    distance_threshold: float | None = None,
    min_gap_size: int = 5,
    neighbor_search: str | Any = "auto",
    cosine_distance_threshold: float | None = None,
    significance_level: float = 0.05,
    correction: str = "bh",
    setup: Setup,
    owner: str = "SliceAnalyzer.audit_coverage_frame",
) -> CoverageReport:
    """The coverage audit on columns of frames or files (see
    :meth:`faultmap.SliceAnalyzer.audit_coverage_frame`): the test suite read whole, the
    production prompts read whole and given to :func:`~faultmap.analyses.coverage.audit`
    (the same report as ``audit_coverage``), or streamed from Parquet
    (:func:`stream_coverage_gaps`) when ``streaming`` is True, or "auto" and they are Parquet
    with ``embedding_col`` and more than :data:`STREAM_ROWS` rows."""
    check_audit_params(
        owner, distance_threshold, cosine_distance_threshold, min_gap_size, neighbor_search
    )
    check_param(owner, "prompt_col", prompt_col, NonEmptyStr())
    for name, value in (
        ("embedding_col", embedding_col),
        ("test_prompt_col", test_prompt_col),
        ("test_embedding_col", test_embedding_col),
    ):
        check_param(owner, name, value, None, NonEmptyStr())
    check_param(owner, "streaming", streaming, BOOL, Options(("auto",)))
    check_param(owner, "batch_rows", batch_rows, Interval(int, 1, None))
    check_param(owner, "keep_row_lists", keep_row_lists, None, BOOL)
    streamable = is_parquet_source(production)
    if streaming is True and not streamable:
        raise ConfigurationError(
            f"{owner}: streaming=True reads 'production' from Parquet a batch at a time, but it "
            f"is {type(production).__name__} ({production!r:.60}); pass a Parquet file, a "
            "folder of them or a list of them, or streaming=False to read it whole."
        )
    if streaming is True and embedding_col is None:
        raise ConfigurationError(
            f"{owner}: streaming=True needs the production vectors in the files (embedding_col=, "
            "e.g. 'embedding'): a streamed audit does not embed production prompts. Embed "
            "them first, or pass streaming=False to read and embed them whole."
        )
    if keep_row_lists is not None and streaming is False:
        raise ConfigurationError(
            f"{owner}: keep_row_lists= applies to a streamed audit (streaming=True or 'auto'); a "
            "whole-read audit keeps every list, as audit_coverage does."
        )
    need_threshold = distance_threshold is None and cosine_distance_threshold is None
    test_col = test_prompt_col or prompt_col
    test_vectors_col = test_embedding_col or embedding_col
    source = None
    if streamable and embedding_col is not None and streaming is not False:
        source = ParquetBatches(
            production, prompt_col=prompt_col, embedding_col=embedding_col, batch_size=batch_rows
        )
        if streaming == "auto" and source.num_rows <= STREAM_ROWS:
            source = None
    if source is None:
        if keep_row_lists is False:
            raise ConfigurationError(
                f"{owner}: keep_row_lists=False applies to a streamed audit; this one reads "
                f"'production' whole (streaming='auto' streams Parquet above {STREAM_ROWS:,} "
                "rows). Pass streaming=True to stream it."
            )
        tests, test_vectors = _read_whole(test, "test", test_col, test_vectors_col)
        prompts, vectors = _read_whole(production, "production", prompt_col, embedding_col)
        return audit(
            tests,
            prompts,
            distance_threshold,
            min_gap_size,
            test_embeddings=test_vectors,
            production_embeddings=vectors,
            neighbor_search=neighbor_search,
            cosine_distance_threshold=cosine_distance_threshold,
            significance_level=significance_level,
            correction=correction,
            setup=setup,
            owner=owner,
        )
    raw_tests, raw_vectors = _read_whole(test, "test", test_col, test_vectors_col)
    embedding_id = "precomputed"
    if raw_vectors is None:  # the suite is small: embed it here
        texts = as_text_list("test_prompts", raw_tests, repaired={})
        raw_vectors, model = embed(setup.embedder(), texts)
        embedding_id = f"{model} (test), precomputed (production)"
    tests, test_vectors, meta = checked_tests(raw_tests, raw_vectors, need_threshold=need_threshold)
    run = setup.run()
    run.metadata = {"random_state": setup.random_state, **meta}
    report = stream_coverage_gaps(
        tests,
        test_vectors,
        source,
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
        keep_row_lists=keep_row_lists,
    )
    warn_meaning(report, stacklevel=4)  # warn_meaning <- audit_frame <- facade <- caller
    return report


def _read_whole(
    data: Any, side: str, prompt_col: str, embedding_col: str | None
) -> tuple[list[str], np.ndarray | None]:
    """One side's prompts and (with ``embedding_col``) vectors, read whole: a frame, a
    pyarrow Table or dict of columns, a file, or Parquet files (a list or a folder)."""
    option = "prompt_col" if side == "production" else "test_prompt_col (or prompt_col)"
    vector_option = "embedding_col" if side == "production" else "test_embedding_col"
    columns = [prompt_col] + ([embedding_col] if embedding_col else [])
    if isinstance(data, (str, os.PathLike)) and not Path(data).is_dir():
        tables = [read_table(data, columns=columns)]
    elif is_parquet_source(data):
        tables = [read_table(path, columns=columns) for path in parquet_files(data, side)]
    else:
        tables = [Table.from_frame(data, source=f"'{side}'")]
    prompts = [t for table in tables for t in table.text(prompt_col, option=option)]
    if embedding_col is None:
        return prompts, None
    parts = [table.vectors(embedding_col, option=vector_option) for table in tables]
    return prompts, parts[0] if len(parts) == 1 else np.concatenate(parts)


def _digest64(text: str) -> int:
    """A 64-bit BLAKE2b digest of ``text``: the same in every process (Python's ``hash`` of
    a string is salted per process), to count repeated production prompts.

    Example:
        >>> _digest64("a") == _digest64("a") != _digest64("b")
        True
    """
    raw = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "little", signed=True)
