"""Failure slices of Parquet files too large to hold: the analysis of
:mod:`faultmap.analyses.slices`, read in record batches.

Two passes over the files, each reading only the columns it needs, one batch at a time:

1. **Scores and the fit.** Each batch's scores and vectors are checked as ``analyze()``
   checks its input (errors name the file and the row). Kept per row: the failure flag
   (one byte). Summed: the covariance of the vectors (:class:`faultmap.clustering.reduce.
   Covariance`, the sums of ``pca_reduce`` block for block). Kept: the vectors of the rows
   HDBSCAN is fitted on, the seeded sample of :meth:`HDBSCANClusterer.fit_rows` (the same
   rows ``analyze()`` fits on; every row when there are at most ``max_fit_points``).
2. **Assignment.** Each batch is projected and placed in the fitted tree
   (:class:`faultmap.clustering.hdbscan.Placer`: ``approximate_predict``'s labels); kept per
   row: the cluster label (int32). Summed per cluster: the vectors (for the failure modes'
   tree and the centroids). Kept per cluster: a seeded uniform sample of
   ``naming_rows_per_cluster`` rows (by a hash of the row number, so the sample does not
   depend on the batch size), its first failing and passing rows and its worst failures
   (the examples ``analyze()`` shows), with their texts and vectors; and a seeded uniform
   sample of ``max_map_points`` rows for the map.

Then the counts are tested, corrected, merged into failure modes and the null audit run by
:func:`faultmap.analyses.slices.assemble`, the same code as ``analyze()``: on the labels
and flags of every row, so sizes, failure counts, p-values and modes are exact. Names,
keywords, representative prompts, the name check and the spread of members around each
centroid (``median_similarity``, ``q10_similarity``, weighted by cluster size) come from the
sample; with at most ``naming_rows_per_cluster`` rows per cluster it is every row and they
are ``analyze()``'s too.

When every row is in the fit (at most ``max_fit_points`` rows), the labels are exactly
``analyze()``'s (the clusterer's ``fit_predict`` on the same vectors). Above it, the fit
sample and the projection are ``analyze()``'s and each other row gets the label
``approximate_predict`` gives, so the labels are ``analyze()``'s up to round-off; only the
refinement of large clusters and of the noise (``HDBSCANClusterer(refine=True)``, which
``analyze()`` skips above 200,000 rows anyway) is not done, and
``metadata["streaming"]["refinement"]`` says so.

Memory: one batch, the fit sample, ``n`` bytes of flags and ``4 n`` of labels, the per-cluster
sums and samples; the per-row lists of the report (``cluster_labels``, ``row_scores``,
digests, each finding's ``sample_indices``) only when ``keep_row_lists`` (by default up to
:data:`ROW_LISTS_MAX_ROWS` rows).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._numeric import within
from faultmap._text import prompt_digest
from faultmap.analyses.describe import Describer
from faultmap.analyses.inputs import Setup
from faultmap.analyses.modes import tree_from_sums
from faultmap.analyses.slices import SliceSettings, assemble, common_fields, no_findings
from faultmap.clustering.hdbscan import HDBSCANClusterer, Placer
from faultmap.clustering.reduce import Covariance, Projection
from faultmap.core.groups import Group, cluster
from faultmap.core.projection import prompt_map
from faultmap.core.rows import Rows, failed
from faultmap.exceptions import ConfigurationError
from faultmap.io._stream import ParquetBatch, parquet_batches, parquet_rows
from faultmap.reports.models import AnalysisReport, RowLabels

__all__ = [
    "NAMING_ROWS_PER_CLUSTER",
    "ROW_LISTS_MAX_ROWS",
    "STREAM_AUTO_ROWS",
    "StreamColumns",
    "analyze_parquet",
    "why_not_streamed",
]

logger = logging.getLogger("faultmap")

#: ``analyze_frame(streaming="auto")`` streams one Parquet file of more rows than this
#: (and always a list or folder of files).
STREAM_AUTO_ROWS = 1_000_000
#: Up to this many analysed rows a streamed report keeps its per-row lists by default.
ROW_LISTS_MAX_ROWS = 1_000_000
#: Rows per cluster (and of the noise) sampled for naming, keywords and the name check.
NAMING_ROWS_PER_CLUSTER = 500


@dataclass(frozen=True)
class StreamColumns:
    """The columns a streamed analysis reads, and the option that named each (for errors)."""

    prompt: str
    response: str | None
    score: str
    embedding: str


def _keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per row number (splitmix64): the rows with the smallest
    keys are a uniform sample, whatever the batches."""
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """Each entry's position among the entries of its group (``groups`` sorted)."""
    if not groups.size:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    return np.arange(groups.size) - first


@dataclass
class _Pool:
    """The best ``keep`` entries per group by ``order`` keys (lexicographic, smallest
    first), updated batch by batch."""

    keep: int
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    def offer(self, rows: np.ndarray, groups: np.ndarray, keys: np.ndarray) -> None:
        rows = np.r_[self.rows, rows]
        groups = np.r_[self.groups, groups]
        keys = np.r_[self.keys, keys]
        order = np.lexsort((rows, keys, groups))
        kept = order[_rank_within(groups[order]) < self.keep]
        self.rows, self.groups, self.keys = rows[kept], groups[kept], keys[kept]


@dataclass
class _Samples:
    """Pass 2's samples: per cluster (and the noise) a uniform sample, each cluster's first
    failing and passing rows and its worst failures; the map's rows. Texts and vectors are
    fetched for the rows a batch adds and dropped when a row leaves every pool."""

    per_cluster: int
    n_examples: int
    seed: int
    map_rows: np.ndarray
    uniform: _Pool = field(init=False)
    first_failing: _Pool = field(init=False)
    first_passing: _Pool = field(init=False)
    worst: _Pool = field(init=False)
    store: dict[int, tuple[str, str, float, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.uniform = _Pool(self.per_cluster)
        self.first_failing = _Pool(self.n_examples)
        self.first_passing = _Pool(self.n_examples)
        self.worst = _Pool(self.n_examples)

    def _pools(self) -> tuple[_Pool, ...]:
        return (self.uniform, self.first_failing, self.first_passing, self.worst)

    def add(
        self,
        batch_rows: np.ndarray,
        labels: np.ndarray,
        fails: np.ndarray,
        scores: np.ndarray,
        fetch: Any,
    ) -> None:
        """Offer a batch (rows ascending); ``fetch(positions)`` gives the texts and vectors
        of the rows at those positions in the batch."""
        keys = _keys(batch_rows, self.seed).astype(np.float64)  # order only; ties by row
        self.uniform.offer(batch_rows, labels, keys)
        clustered = labels >= 0
        f, p = clustered & fails, clustered & ~fails
        self.first_failing.offer(batch_rows[f], labels[f], batch_rows[f].astype(np.float64))
        self.first_passing.offer(batch_rows[p], labels[p], batch_rows[p].astype(np.float64))
        self.worst.offer(batch_rows[f], labels[f], scores[f])
        wanted = np.unique(
            np.concatenate(
                [pool.rows for pool in self._pools()]
                + [self.map_rows[np.isin(self.map_rows, batch_rows)]]
            )
        )
        new = wanted[(wanted >= batch_rows[0]) & (wanted <= batch_rows[-1])]
        new = np.array([r for r in new.tolist() if r not in self.store], dtype=np.int64)
        if new.size:
            positions = np.searchsorted(batch_rows, new)
            for row, item in zip(new.tolist(), fetch(positions), strict=True):
                self.store[row] = item
        keep = set(wanted.tolist()) | set(self.map_rows.tolist())
        for row in [r for r in self.store if r not in keep]:
            del self.store[row]

    def table(self) -> np.ndarray:
        """Rows in the naming sample (every pool), ascending."""
        return np.unique(np.concatenate([pool.rows for pool in self._pools()]))


class _SampledDescriber(Describer):
    """A :class:`Describer` over the sample of a streamed analysis: texts and vectors are
    the sample's; sizes, failure counts and centroids come from every row (the counts and
    sums of pass 2); member lists from the labels, when kept."""

    def __init__(
        self,
        rows: np.ndarray,
        samples: _Samples,
        *,
        labels: np.ndarray,
        fails: np.ndarray,
        sums: np.ndarray,
        keep_lists: bool,
        settings: SliceSettings,
        baseline: float,
    ) -> None:
        items = [samples.store[int(r)] for r in rows]
        vectors = (
            np.stack([v for *_, v in items])
            if items
            else np.zeros((0, sums.shape[1]), dtype=np.float32)
        )
        super().__init__(
            [p for p, *_ in items],
            [r for _, r, *_ in items],
            np.array([s for _, _, s, _ in items], dtype=np.float64),
            vectors,
            fails[rows],
            baseline=baseline,
            n_examples=settings.n_examples,
            n_representative=settings.n_representative,
            seed=settings.seed,
        )
        self.rows = rows
        self.labels = labels[rows]
        self.all_labels, self.all_fails, self.keep_lists = labels, fails, keep_lists
        top = sums.shape[0]
        inside = labels >= 0
        self.sizes = np.bincount(labels[inside], minlength=top)
        self.failures = np.bincount(labels[inside], weights=fails[inside], minlength=top)
        self.sums = sums
        uniform = np.isin(rows, samples.uniform.rows)
        counts = np.bincount(self.labels[uniform & (self.labels >= 0)], minlength=top)
        # each uniformly sampled member stands for size / sampled members of its cluster
        self.weights = np.zeros(len(rows))
        where = uniform & (self.labels >= 0)
        self.weights[where] = self.sizes[self.labels[where]] / counts[self.labels[where]]

    def ids(self, group: Group) -> np.ndarray:
        found = np.unique(self.labels[group.members])
        return found[found >= 0]

    def size(self, group: Group) -> int:
        return int(self.sizes[self.ids(group)].sum())

    def num_failures(self, group: Group) -> int:
        return round(float(self.failures[self.ids(group)].sum()))

    def totals(self) -> tuple[int, int]:
        return len(self.all_fails), int(self.all_fails.sum())

    def all_members(self, group: Group) -> np.ndarray | None:
        if not self.keep_lists:
            return None
        return np.flatnonzero(np.isin(self.all_labels, self.ids(group)))

    def centre_of(self, group: Group) -> tuple[np.ndarray, float, float] | None:
        return self.centre_of_ids(self.ids(group))

    def centre_of_ids(self, ids: np.ndarray) -> tuple[np.ndarray, float, float] | None:
        """Centroid of the clusters ``ids`` from the sums of every member; the median and
        10th percentile of the members' similarities to it estimated on the uniform sample,
        each member weighted by its cluster's size over its sampled members."""
        size = int(self.sizes[ids].sum())
        if not size:
            return None
        mean = self.sums[ids].sum(axis=0) / size
        norm = float(np.linalg.norm(mean))
        if not norm > 0:
            return None
        c = mean / norm
        mine = np.flatnonzero(np.isin(self.labels, ids) & (self.weights > 0))
        if not mine.size:
            return c, float("nan"), float("nan")
        dots = np.asarray(self.vectors[mine], np.float64) @ c
        sims = within(dots, -1.0, 1.0, "cosine similarity to the centroid", tol=1e-4)
        if np.all(self.weights[mine] == 1.0):  # every member sampled: centre()'s figures
            return c, float(np.median(sims)), float(np.quantile(sims, 0.1))
        order = np.argsort(sims, kind="stable")
        cum = np.cumsum(self.weights[mine][order])
        cum /= cum[-1]

        def quantile(q: float) -> float:
            return float(sims[order][min(int(np.searchsorted(cum, q)), len(order) - 1)])

        return c, quantile(0.5), quantile(0.1)

    def input_row(self, rows: Rows, i: int) -> int:
        return int(rows.analysed[self.rows[i]])


def why_not_streamed(
    paths: Any, columns: dict[str, Any], kwargs: dict[str, Any], *, confirm: str | None
) -> str | None:
    """Why an ``analyze_frame`` call cannot stream, as the end of a sentence that names the
    option and the way out (``None`` when it can): ``columns`` are its column arguments,
    ``kwargs`` what it passes on to ``analyze``, ``confirm`` the analyzer's setting.

    Example:
        >>> why_not_streamed(None, {}, {}, confirm=None)[:30]
        'streaming reads Parquet files;'
    """
    if paths is None:
        return (
            "streaming reads Parquet files; pass a .parquet path, a list of them or a "
            "folder of them."
        )
    if columns["score_col"] is None or columns["reference_col"] is not None:
        return (
            "a streamed analysis needs given scores: pass score_col= (and no "
            "reference_col=), or streaming=False to score whole."
        )
    if columns["embedding_col"] is None:
        return (
            "a streamed analysis needs the prompt vectors: pass embedding_col= (embed "
            "the prompts first), or streaming=False to embed them here."
        )
    if columns["metadata_cols"]:
        return "metadata_cols= is not streamed; leave it out, or pass streaming=False."
    if kwargs.get("stability_runs", 0):
        return (
            "stability_runs= reclusters every row for each run and is not streamed; "
            "pass stability_runs=0 (null_runs= is streamed), or streaming=False."
        )
    if confirm is not None:
        return (
            f"SliceAnalyzer(confirm={confirm!r}) is not streamed; use "
            "confirm=None, or streaming=False."
        )
    for name in ("scorer", "metadata"):
        if kwargs.get(name) is not None:
            return f"{name}= is not streamed; leave it out, or pass streaming=False."
    known = {"stability_runs", "null_runs", "embeddings_model", "scorer", "metadata"}
    other = sorted(set(kwargs) - known)
    if other:
        return f"analyze_frame got the unexpected keyword argument {other[0]!r}."
    return None


def _check_clusterer(clusterer: Any, n: int) -> np.ndarray | None:
    """The fit rows of a streamed clustering (``None``: every row, held for the fit)."""
    if isinstance(clusterer, HDBSCANClusterer):
        fit_rows = clusterer.fit_rows(n)
        if fit_rows is not None and clusterer.reduction not in ("pca", "none"):
            raise ConfigurationError(
                f"The 'clustering_method' of SliceAnalyzer reduces with "
                f"{clusterer.reduction!r}, which cannot be fitted on a sample and applied "
                "batch by batch; use reduction='pca' to stream, or streaming=False."
            )
        if fit_rows is None and clusterer.max_fit_points is None:
            raise ConfigurationError(
                "The 'clustering_method' of SliceAnalyzer has max_fit_points=None (fit on "
                "every row), which cannot stream; give it max_fit_points, or pass "
                "streaming=False."
            )
        return fit_rows
    limit = 20_000
    if n > limit:
        name = getattr(clusterer, "name", clusterer)
        raise ConfigurationError(
            f"The 'clustering_method' of SliceAnalyzer is {name!r}, which clusters every row "
            f"at once; streaming {n:,} rows needs 'hdbscan' (fitted on a sample, the other "
            "rows placed batch by batch). Use clustering_method='hdbscan' or streaming=False."
        )
    return None


def analyze_parquet(
    paths: Sequence[Path],
    columns: StreamColumns,
    *,
    setup: Setup,
    settings: SliceSettings,
    batch_rows: int,
    keep_row_lists: bool | None,
    embedding_fingerprint: str | None = None,
    naming_rows_per_cluster: int = NAMING_ROWS_PER_CLUSTER,
) -> AnalysisReport:
    """The failure slices and modes of the rows of Parquet ``paths``, read ``batch_rows``
    at a time in two passes (see the module docstring).

    Example:
        >>> report = analyze_parquet(  # doctest: +SKIP
        ...     [Path("logs.parquet")], StreamColumns("prompt", None, "score", "embedding"),
        ...     setup=setup, settings=SliceSettings(), batch_rows=65_536, keep_row_lists=None)
    """
    run = setup.run()
    counts = parquet_rows(paths)
    n = sum(counts)
    if n < setup.min_rows:
        raise ConfigurationError(
            f"The Parquet files hold {n} rows, fewer than min_slice_size={setup.min_rows}; "
            "pass more rows or lower min_slice_size."
        )
    keep = n <= ROW_LISTS_MAX_ROWS if keep_row_lists is None else keep_row_lists
    clusterer = setup.slice_clusterer
    fit_rows = _check_clusterer(clusterer, n)
    options = {
        "prompt": "prompt_col",
        "response": "response_col",
        "score": "score_col",
        "embedding": "embedding_col",
    }

    # -- pass 1: scores, flags, covariance, the fit sample -----------------------------------
    fails = np.zeros(n, dtype=bool)
    scores = np.zeros(n, dtype=np.float64) if keep else None
    width: int | None = None
    summed: Covariance | None = None
    held: list[np.ndarray] = []
    truncated = 0
    with run.timer("read_fit"):
        read = [columns.prompt, columns.score, columns.embedding]
        for batch in parquet_batches(paths, read, batch_rows=batch_rows):
            stop = batch.start + len(batch)
            values = batch.scores(columns.score, option=options["score"])
            fails[batch.start : stop] = failed(values, settings.failure_threshold)
            if scores is not None:
                scores[batch.start : stop] = values
            vectors = batch.vectors(columns.embedding, option=options["embedding"], width=width)
            width = vectors.shape[1]
            texts = batch.texts(columns.prompt, option=options["prompt"])
            truncated += _longer_than(texts, setup.max_text_chars)
            if fit_rows is None:
                held.append(vectors.copy())
            else:
                if summed is None:
                    summed = Covariance(width)
                summed.add(vectors)
                lo, hi = np.searchsorted(fit_rows, [batch.start, stop])
                if hi > lo:
                    held.append(vectors[fit_rows[lo:hi] - batch.start].copy())
            del vectors, values, texts
    assert width is not None
    total_failures = int(fails.sum())
    rows = Rows.all(n)
    meta: dict[str, Any] = {"random_state": setup.random_state, "scoring_metadata": {}}
    if truncated:
        meta["num_prompts_truncated_for_embedding"] = truncated
    stream_meta: dict[str, Any] = {
        "files": [str(p) for p in paths],
        "batch_rows": batch_rows,
        "passes": 2,
        "fit_rows": n if fit_rows is None else len(fit_rows),
        "naming_rows_per_cluster": naming_rows_per_cluster,
        "map_rows": 0,
    }
    if not keep:
        meta["row_lists_kept"] = False
    common = common_fields(
        n,
        total_failures,
        settings,
        clustering_method=clusterer.name,
        embedding_model="precomputed",
        embedding_fingerprint=embedding_fingerprint,
        scoring_mode="precomputed",
        rows=rows,
        row_scores=None if scores is None else scores.tolist(),
    )
    if total_failures in (0, n):
        meta["streaming"] = {**stream_meta, "passes": 1}
        return no_findings(common, meta, run, None, settings, rows, fails, [])

    # -- the fit ---------------------------------------------------------------------------
    projection: Projection | None = None
    placer: Placer | None = None
    with run.timer("cluster_fit"):
        sample = np.concatenate(held) if held else np.zeros((0, width), np.float32)
        del held
        if fit_rows is None:
            labels = cluster(clusterer, sample, settings.min_slice_size)
            stream_meta["refinement"] = "as analyze()"
        else:
            assert isinstance(clusterer, HDBSCANClusterer) and summed is not None
            size = max(settings.min_slice_size, math.ceil(n * clusterer.min_cluster_fraction), 2)
            projection = (
                summed.projection(clusterer.n_components)
                if clusterer.reduction == "pca"
                else Projection(None, None)
            )
            model = clusterer.fit_sample(projection.apply(sample), size)
            placer = Placer(model)
            labels = np.full(n, -1, dtype=np.int32)
            labels[fit_rows] = np.asarray(model.labels_, dtype=np.int32)
            stream_meta["refinement"] = (
                "not done (needs every member's vector)" if clusterer.refine else "off"
            )
        del sample

    # -- pass 2: place every row, sums per cluster, samples ----------------------------------
    found = labels if placer is None else placer.label_of
    top = max(int(found.max()) + 1 if found.size else 0, 1)
    sums = np.zeros((top, width), dtype=np.float64)
    map_rows = np.zeros(0, dtype=np.int64)
    if setup.map_settings is not None:
        m = min(n, setup.map_settings.max_points)
        rng = np.random.default_rng(setup.map_settings.random_state)
        map_rows = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
    samples = _Samples(naming_rows_per_cluster, settings.n_examples, settings.seed, map_rows)
    digests: list[str] | None = [] if keep else None
    with run.timer("assign"):
        read = [columns.prompt, columns.score, columns.embedding]
        read += [columns.response] if columns.response is not None else []
        in_fit = np.zeros(0, dtype=bool)
        for batch in parquet_batches(paths, list(dict.fromkeys(read)), batch_rows=batch_rows):
            stop = batch.start + len(batch)
            vectors = batch.vectors(columns.embedding, option=options["embedding"], width=width)
            if placer is not None and projection is not None:
                lab = labels[batch.start : stop]
                in_fit = np.isin(np.arange(batch.start, stop), fit_rows)
                rest = np.flatnonzero(~in_fit)
                if rest.size:
                    lab[rest] = placer.place(projection.apply(vectors[rest]))
            lab = labels[batch.start : stop]
            _add_sums(sums, lab, vectors)
            prompts = batch.texts(columns.prompt, option=options["prompt"])
            responses = (
                None
                if columns.response is None
                else batch.texts(columns.response, option=options["response"], allow_empty=True)
            )
            values = batch.scores(columns.score, option=options["score"])
            if digests is not None:
                digests.extend(prompt_digest(p) for p in prompts.to_pylist())

            def fetch(
                positions: np.ndarray,
                batch: ParquetBatch = batch,
                prompts: Any = prompts,
                responses: Any = responses,
                values: np.ndarray = values,
                vectors: np.ndarray = vectors,
            ) -> list[tuple[str, str, float, np.ndarray]]:
                import pyarrow as pa

                index = pa.array(positions)
                ps = prompts.take(index).to_pylist()
                rs = [""] * len(ps) if responses is None else responses.take(index).to_pylist()
                return [
                    (p, r, float(values[i]), vectors[i].copy())
                    for p, r, i in zip(ps, rs, positions.tolist(), strict=True)
                ]

            samples.add(np.arange(batch.start, stop), lab, fails[batch.start : stop], values, fetch)
            del vectors, prompts, responses, values
    if digests is not None:
        duplicates = len(digests) - len(set(digests))
        if duplicates:
            meta["num_duplicate_prompts"] = duplicates
        meta["prompt_digests"] = digests
    stream_meta["map_rows"] = len(map_rows)

    # -- test, correct, modes, names: the in-memory procedure -------------------------------
    table = samples.table()
    stream_meta["naming_rows"] = len(table)
    meta["streaming"] = stream_meta
    naming = _SampledDescriber(
        table,
        samples,
        labels=labels,
        fails=fails,
        sums=sums,
        keep_lists=keep,
        settings=settings,
        baseline=common["baseline_failure_rate"],
    )
    positions = None
    if setup.map_settings is not None and map_rows.size:
        map_settings = setup.map_settings

        def positions() -> dict[str, Any]:
            items = [samples.store[int(r)] for r in map_rows]
            placed = prompt_map(
                np.stack([v for *_, v in items]),
                [p for p, *_ in items],
                labels[map_rows],
                settings=map_settings,
                index=map_rows,
                texts_of={"response": [r for _, r, *_ in items]},
                failed=fails[map_rows],
                score=np.round(np.array([s for _, _, s, _ in items]), 4),
            )
            placed["total_points"] = n
            return placed

    label_fields: dict[str, Any] = (
        {"cluster_labels": [int(x) for x in labels]}
        if keep
        else {"cluster_labels": None, "row_labels": RowLabels.encode(labels)}
    )
    report = assemble(
        labels,
        fails,
        settings=settings,
        common=common,
        meta=meta,
        run=run,
        rows=rows,
        digests=digests,
        clusterer=clusterer,
        namer=setup.namer,
        naming=naming,
        naming_labels=naming.labels,
        tree_of=lambda ids: tree_from_sums(ids, sums[np.asarray(ids, dtype=np.int64)]),
        centre_of=lambda g: naming.centre_of_ids(np.array([g])),
        vectors=None,
        map_of=positions,
        metadata_columns=None,
        prompts=[],
        embed_names=None,
        label_fields=label_fields,
    )
    logger.info(
        "faultmap: %d significant slice(s) among %d prompts (streamed)",
        report.num_significant,
        report.total_prompts,
    )
    return report


def _add_sums(sums: np.ndarray, labels: np.ndarray, vectors: np.ndarray) -> None:
    """Add each row's vector (float64) to its cluster's sum; noise is not summed."""
    inside = np.flatnonzero(labels >= 0)
    if not inside.size:
        return
    order = inside[np.argsort(labels[inside], kind="stable")]
    groups = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    for lo, hi in zip(starts, np.r_[starts[1:], order.size], strict=True):
        for i in range(lo, hi, 16_384):
            block = vectors[order[i : min(hi, i + 16_384)]].astype(np.float64)
            sums[groups[lo]] += block.sum(axis=0)


def _longer_than(texts: Any, limit: int | None) -> int:
    if limit is None:
        return 0
    import pyarrow.compute as pc

    return int(pc.sum(pc.greater(pc.utf8_length(texts), limit)).as_py() or 0)
