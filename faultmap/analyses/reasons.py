"""Group the "why" strings evaluators write ("wrong date arithmetic", "cites a paper that
does not exist", ...) into named themes, and cross-tabulate the themes with failure slices
and metadata cohorts.

A recipe over :mod:`faultmap.core` and the stages: an embedder (behind the embedding cache)
turns each distinct reason into a vector, the clustering stage groups the vectors (its
faults raise :class:`~faultmap.ClusteringError`, as in every analysis), the core describes
each group, and the offline keyword namer names it from its distinctive words.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faultmap import stages
from faultmap._validation import Interval, as_embeddings, check_param
from faultmap.core.groups import cluster, describe_groups, name_groups
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.io import read_metadata
from faultmap.metrics._checks import as_outcomes, is_missing
from faultmap.metrics._results import Result, find_row, format_table, label_text
from faultmap.metrics.cohorts import cut_columns
from faultmap.naming.keywords import KeywordNamer

__all__ = [
    "NO_REASON",
    "NO_SLICE",
    "UNCLUSTERED",
    "CrossTab",
    "ReasonGroup",
    "ReasonReport",
    "cluster_reasons",
]

logger = logging.getLogger("faultmap")

#: Row label, in cross-tabs, of reasons that fell in no group.
UNCLUSTERED = "(unclustered)"
#: Row label, in cross-tabs, of rows with an empty or missing reason.
NO_REASON = "(no reason)"
#: Column label of rows in no failure slice.
NO_SLICE = "(no slice)"


@dataclass(frozen=True)
class CrossTab(Result):
    """Counts of rows by reason group (rows) and another labelling (columns).

    ``counts[i][j]`` counts rows in group ``row_labels[i]`` with label ``column_labels[j]``.

    Example:
        >>> t = CrossTab(["g0"], ["a", "b"], [[2, 1]])
        >>> t.as_dict()
        {'g0': {'a': 2, 'b': 1}}
    """

    row_labels: list[str]
    column_labels: list[str]
    counts: list[list[int]]

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{row label: {column label: count}}``."""
        return {
            r: dict(zip(self.column_labels, row, strict=True))
            for r, row in zip(self.row_labels, self.counts, strict=True)
        }

    def __str__(self) -> str:
        rows = [[r, *row] for r, row in zip(self.row_labels, self.counts, strict=True)]
        return format_table(["group", *self.column_labels], rows)


@dataclass(frozen=True)
class ReasonGroup(Result):
    """One theme of reasons: its name and distinctive words, its rows (``member_indices``
    index the input), the most central distinct reasons, and, when failures were given, how
    many of its rows failed."""

    group_id: int
    name: str
    size: int
    keywords: list[str]
    member_indices: list[int]
    representative_reasons: list[str]
    num_failures: int | None = None
    failure_rate: float | None = None


@dataclass(frozen=True)
class ReasonReport(Result):
    """Outcome of :func:`cluster_reasons`.

    ``groups`` are largest first (``group_id`` is the position). ``labels`` gives every
    row's group id, -1 for rows in no group (unclustered, or with no reason text).
    ``slice_crosstab`` (when slice labels were given) and ``cohort_crosstabs`` (one per
    metadata column, when cohorts were given) count rows by group and label.
    """

    num_reasons: int
    num_groups: int
    num_unclustered: int
    num_empty: int
    groups: list[ReasonGroup]
    labels: list[int]
    embedding_model: str
    clustering_method: str
    min_cluster_size: int
    failure_rate: float | None = None
    slice_crosstab: CrossTab | None = None
    cohort_crosstabs: dict[str, CrossTab] = field(default_factory=dict)

    def group(self, name: str) -> ReasonGroup:
        """The group with this name."""
        return find_row(self.groups, "name", name)

    def __str__(self) -> str:
        lines = [
            f"{self.num_groups} groups of reasons among {self.num_reasons} rows "
            f"({self.num_unclustered} unclustered, {self.num_empty} without a reason)."
        ]
        for g in self.groups:
            rate = "" if g.failure_rate is None else f", failure rate {100 * g.failure_rate:.0f}%"
            lines.append(f"\n[{g.group_id}] {g.name}: {g.size} rows{rate}")
            lines += [
                f'    "{r[:117] + "..." if len(r) > 120 else r}"' for r in g.representative_reasons
            ]
        if self.slice_crosstab is not None:
            lines += ["", "By slice:", str(self.slice_crosstab)]
        for column, table in self.cohort_crosstabs.items():
            lines += ["", f"By {column}:", str(table)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ReasonReport(num_reasons={self.num_reasons}, num_groups={self.num_groups}, "
            f"num_unclustered={self.num_unclustered})"
        )


def _reason_texts(reasons: Any) -> list[str]:
    if reasons is None or isinstance(reasons, (str, bytes)):
        raise DataError("'reasons' must be a sequence of strings, one per row.")
    values = reasons.tolist() if hasattr(reasons, "tolist") else list(reasons)
    if not values:
        raise DataError("'reasons' is empty; pass at least one reason.")
    out = []
    for i, v in enumerate(values):
        if is_missing(v):
            out.append("")
        elif isinstance(v, str):
            out.append(v.strip())
        else:
            raise DataError(
                f"'reasons[{i}]' is of type {type(v).__name__} ({v!r:.60}), not str; "
                f"convert every reason to text (None marks a row without a reason)."
            )
    return out


def _resolve_stages(embedder: Any, clusterer: Any) -> tuple[Any, Any]:
    """The embedder (a model name goes behind the embedding cache, as in the analyses) and
    the clusterer (default HDBSCAN)."""
    if embedder is None or isinstance(embedder, str):
        embedder = stages.embedder_for(
            "all-MiniLM-L6-v2" if embedder is None else embedder,
            cache=True,
            max_text_chars=2000,
            usage_kwargs=None,
            max_concurrent_requests=16,
            show_progress=None,
            backend="auto",
        )
    if clusterer is None:
        clusterer = stages.clusterer_for("hdbscan", random_state=0)
    elif not callable(getattr(clusterer, "fit_predict", None)):
        raise ConfigurationError(
            "The 'clusterer' parameter of cluster_reasons must be an object with "
            f"fit_predict(vectors, *, min_cluster_size). Got {type(clusterer).__name__}."
        )
    return embedder, clusterer


def _row_labels_from(source: Any, n: int, name: str) -> tuple[list[str], list[str]]:
    """Per-row text labels and their column order, from a sequence or an AnalysisReport."""
    if hasattr(source, "slices") and hasattr(source, "cluster_labels"):
        source.require_row_lists("Reasons by slice")
        labels = [NO_SLICE] * n
        order = []
        for s in source.slices:
            for i in s.sample_indices:
                if not 0 <= i < n:
                    raise DataError(
                        f"Slice {s.name!r} holds row index {i}, outside the {n} reasons; pass "
                        f"the reasons of the rows the report was computed on."
                    )
                labels[i] = s.name
            order.append(s.name)
        if NO_SLICE in labels:
            order.append(NO_SLICE)
        return labels, order
    if isinstance(source, (str, bytes)):
        raise DataError(f"'{name}' must be a sequence with one label per row.")
    values = source.tolist() if hasattr(source, "tolist") else list(source)
    if len(values) != n:
        raise DataError(
            f"'{name}' has {len(values)} entries but there are {n} reasons; pass one per row."
        )
    labels = ["(missing)" if is_missing(v) else label_text(v) for v in values]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return labels, sorted(counts, key=lambda t: (-counts[t], t))


def _crosstab(
    row_of: list[str], row_order: list[str], col_of: list[str], col_order: list[str]
) -> CrossTab:
    r_index = {r: i for i, r in enumerate(row_order)}
    c_index = {c: j for j, c in enumerate(col_order)}
    counts = np.zeros((len(row_order), len(col_order)), dtype=np.int64)
    for r, c in zip(row_of, col_of, strict=True):
        counts[r_index[r], c_index[c]] += 1
    return CrossTab(list(row_order), list(col_order), counts.tolist())


def _central_distinct(
    vectors: np.ndarray, members: np.ndarray, texts: Sequence[str], k: int
) -> list[str]:
    """Up to ``k`` distinct member texts closest to the members' mean direction."""
    centroid = vectors[members].mean(axis=0)
    order = members[np.lexsort((members, -(vectors[members] @ centroid)))]
    out: list[str] = []
    for i in order:
        if texts[i] not in out:
            out.append(texts[i])
        if len(out) == k:
            break
    return out


def cluster_reasons(
    reasons: Sequence[str] | Any,
    failures: Any = None,
    *,
    embedder: Any = None,
    clusterer: Any = None,
    min_cluster_size: int = 5,
    slice_labels: Any = None,
    cohorts: Any = None,
    n_representative: int = 3,
    cohort_bins: int = 5,
) -> ReasonReport:
    """Group evaluator reason strings into named themes.

    ``reasons`` holds one string per row (``None`` or "" for a row without a reason: it is
    counted but not clustered). Each distinct reason is embedded once with ``embedder``
    (default: the local all-MiniLM-L6-v2; a model name or any object with ``embed`` and
    ``identity``; a local model runs on ``embedding_backend="auto"``, as in
    :class:`~faultmap.SliceAnalyzer`), the rows are grouped by ``clusterer`` (default:
    :class:`~faultmap.clustering.HDBSCANClusterer`; anything with
    ``fit_predict(vectors, *, min_cluster_size)``), and each group is named by its
    distinctive words. ``failures`` (0/1 per row) adds each group's failure rate.
    ``slice_labels`` (one label per row, or an :class:`~faultmap.AnalysisReport` of the same
    rows) and ``cohorts`` (metadata columns, cut as in :func:`faultmap.cohorts.cohort_labels`)
    add cross-tabulations of groups by slice and by cohort value.

    Example:
        >>> report = cluster_reasons(judge_reasons, failures=failed)  # doctest: +SKIP
        >>> [(g.name, g.size) for g in report.groups]  # doctest: +SKIP
        [('date / arithmetic / off', 21), ('citation / source / exist', 19), ...]
    """
    owner = "cluster_reasons"
    check_param(owner, "min_cluster_size", min_cluster_size, Interval(int, 2, None))
    check_param(owner, "n_representative", n_representative, Interval(int, 1, None))
    check_param(owner, "cohort_bins", cohort_bins, Interval(int, 1, None))
    texts = _reason_texts(reasons)
    n = len(texts)
    failed = None if failures is None else as_outcomes("failures", failures, n, of="reasons")
    slice_rows = None if slice_labels is None else _row_labels_from(slice_labels, n, "slice_labels")
    cohort_rows = None
    if cohorts is not None:
        cut = cut_columns(
            read_metadata(cohorts, n), n_bins=cohort_bins, categorical=(), max_categories=50
        )
        cohort_rows = {
            column: (c.labels, [value for value, _ in c.values]) for column, c in cut.items()
        }
    embedder, clusterer = _resolve_stages(embedder, clusterer)

    rows = np.array([i for i, t in enumerate(texts) if t], dtype=np.int64)
    labels = np.full(n, -1, dtype=np.int64)
    vectors = np.zeros((n, 1), dtype=np.float32)
    if rows.size:
        distinct = list(dict.fromkeys(texts[i] for i in rows))
        position = {t: j for j, t in enumerate(distinct)}
        unique_vectors = as_embeddings(
            "embeddings", embedder.embed(distinct, role="document"), len(distinct), of="reasons"
        )
        vectors = np.zeros((n, unique_vectors.shape[1]), dtype=np.float32)
        vectors[rows] = unique_vectors[[position[texts[i]] for i in rows]]
        raw = cluster(clusterer, vectors[rows], min_cluster_size)
        # Renumber: largest group first, ties by first row.
        found = [c for c in np.unique(raw) if c >= 0]
        ranked = sorted(found, key=lambda c: (-(raw == c).sum(), rows[raw == c][0]))
        renumber = {int(c): g for g, c in enumerate(ranked)}
        labels[rows] = [renumber.get(int(c), -1) for c in raw]

    num_groups = int(labels.max()) + 1 if n else 0
    groups: list[ReasonGroup] = []
    if num_groups:
        described = describe_groups(
            [texts[i] for i in rows],
            vectors[rows],
            labels[rows],
            list(range(num_groups)),
            n_representative=n_representative,
        )
        words = {d.group_id: list(d.keywords) for d in described}
        contexts = [d.context([texts[i] for i in rows]) for d in described]
        names = [label.name for label in name_groups(KeywordNamer(), contexts)]
        members = [np.flatnonzero(labels == g) for g in range(num_groups)]
        for g in range(num_groups):
            m = members[g]
            k = None if failed is None else int(failed[m].sum())
            groups.append(
                ReasonGroup(
                    group_id=g,
                    name=names[g] if words.get(g) else f"group {g}",
                    size=len(m),
                    keywords=list(words.get(g, [])),
                    member_indices=m.tolist(),
                    representative_reasons=_central_distinct(vectors, m, texts, n_representative),
                    num_failures=k,
                    failure_rate=None if k is None else k / len(m),
                )
            )

    group_of = [
        groups[c].name if c >= 0 else (UNCLUSTERED if texts[i] else NO_REASON)
        for i, c in enumerate(labels.tolist())
    ]
    row_order = [g.name for g in groups] + [
        r for r in (UNCLUSTERED, NO_REASON) if r in set(group_of)
    ]
    slice_crosstab = None
    if slice_rows is not None:
        slice_crosstab = _crosstab(group_of, row_order, *slice_rows)
    cohort_crosstabs = {}
    if cohort_rows is not None:
        for column, (values, order) in cohort_rows.items():
            cohort_crosstabs[column] = _crosstab(group_of, row_order, values, order)

    num_empty = sum(1 for t in texts if not t)
    logger.info("Reasons: %d groups among %d rows (%d empty)", num_groups, n, num_empty)
    return ReasonReport(
        num_reasons=n,
        num_groups=num_groups,
        num_unclustered=int(np.sum(labels < 0)) - num_empty,
        num_empty=num_empty,
        groups=groups,
        labels=labels.tolist(),
        embedding_model=str(getattr(embedder, "identity", type(embedder).__name__)),
        clustering_method=str(getattr(clusterer, "name", type(clusterer).__name__)),
        min_cluster_size=min_cluster_size,
        failure_rate=None if failed is None else float(failed.mean()),
        slice_crosstab=slice_crosstab,
        cohort_crosstabs=cohort_crosstabs,
    )
