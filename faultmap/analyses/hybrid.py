"""Metadata inside the semantic slices: the values over-represented in each slice, and the
hybrid cells (cluster x metadata value) that fail more than both their cluster and their
value alone (:data:`HYBRID_RULE`).

Columns are cut into values as in :func:`faultmap.metrics.cohorts.cohort_labels`; every
test is a one-sided Fisher exact test
(:func:`faultmap.significance.one_sided_proportion_test`), Benjamini–Hochberg-adjusted over
its family.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from faultmap._validation import Interval, check_param
from faultmap.core.groups import correct, interval
from faultmap.core.rows import LEFT_OUT, Rows
from faultmap.io import read_metadata
from faultmap.metrics._checks import as_outcomes
from faultmap.metrics.cohorts import ColumnCohorts, check_cut_params, cut_columns
from faultmap.naming.keywords import distinctive_terms
from faultmap.significance import one_sided_proportion_test

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport, FailureSlice

__all__ = ["HYBRID_RULE", "MetadataFindings", "hybrid_slices", "read_into_slices"]

logger = logging.getLogger("faultmap")

#: The rule of :func:`hybrid_slices`, stated in ``report.metadata["metadata_analysis"]``.
HYBRID_RULE = (
    "A (cluster x metadata value) cell of at least min_cell_size prompts, smaller than both "
    "its cluster and its value, is tested twice with one-sided Fisher exact tests: its "
    "failure rate against the cluster's other prompts, and against the value's prompts "
    "outside the cluster. Each family of p-values is Benjamini-Hochberg-adjusted over all "
    "tested cells; a cell is significant when both adjusted p-values are below "
    "significance_level. Strongest first, a significant cell that shares prompts with a "
    "stronger reported cell of the same cluster (another column) is reported only if, "
    "without those prompts, it still fails more than the cluster's remaining prompts and "
    "the value's prompts elsewhere (both one-sided Fisher p < significance_level); "
    "otherwise it is listed in explained_cells."
)


@dataclass(frozen=True)
class _Crosstab:
    """One metadata column against the clusters, over the analysed rows: ``codes`` gives
    each row's value (an index into ``values``); ``size`` and ``fail`` count rows and
    failures per (cluster, value), clusters in the order of ``clusters``; ``value_size`` and
    ``value_fail`` count every analysed row of a value (noise included)."""

    column: str
    values: list[str]
    codes: np.ndarray
    size: np.ndarray
    fail: np.ndarray
    value_size: np.ndarray
    value_fail: np.ndarray

    def has(self, value: str) -> np.ndarray:
        """Row mask of one value."""
        return self.codes == self.values.index(value)


def _crosstabs(
    cut: dict[str, ColumnCohorts], lab: np.ndarray, fail: np.ndarray, clusters: np.ndarray
) -> dict[str, _Crosstab]:
    clustered = lab >= 0
    cluster_index = np.searchsorted(clusters, lab[clustered])
    k = len(clusters)
    out = {}
    for column, cohorts in cut.items():
        values = [value for value, _ in cohorts.values]
        position = {value: j for j, value in enumerate(values)}
        codes = np.array([position[label] for label in cohorts.labels], dtype=np.int64)
        v = len(values)
        flat = cluster_index * v + codes[clustered]
        out[column] = _Crosstab(
            column=column,
            values=values,
            codes=codes,
            size=np.bincount(flat, minlength=k * v).reshape(k, v),
            fail=np.bincount(flat, weights=fail[clustered], minlength=k * v)
            .reshape(k, v)
            .astype(np.int64),
            value_size=np.bincount(codes, minlength=v),
            value_fail=np.bincount(codes, weights=fail, minlength=v).astype(np.int64),
        )
    return out


def _over_represented(
    slices: Sequence[Any],
    clusters: np.ndarray,
    tabs: dict[str, _Crosstab],
    n: int,
    alpha: float,
) -> tuple[list[list[dict[str, Any]]], int]:
    """Per slice, the metadata values more frequent inside it than outside (one-sided
    Fisher, BH over every (slice, value) pair); and the number of tests."""
    tests: list[tuple[int, str, str, int, int, int]] = []
    for number, s in enumerate(slices):
        c = int(np.searchsorted(clusters, s.cluster_id))
        if c == len(clusters) or clusters[c] != s.cluster_id:
            continue  # not a cluster of these labels
        for tab in tabs.values():
            size = int(tab.size[c].sum())
            for j, value in enumerate(tab.values):
                total = int(tab.value_size[j])
                if 0 < size < n and 0 < total < n:
                    tests.append((number, tab.column, value, int(tab.size[c, j]), size, total))
    p = [one_sided_proportion_test(k, size, total, n).p_value for _, _, _, k, size, total in tests]
    found: list[list[dict[str, Any]]] = [[] for _ in slices]
    for (number, column, value, k, size, total), p_value, adjusted in zip(
        tests, p, correct(p).tolist(), strict=True
    ):
        if adjusted < alpha:
            found[number].append(
                {
                    "column": column,
                    "value": value,
                    "count": k,
                    "slice_share": k / size,
                    "rest_share": (total - k) / (n - size),
                    "lift": (k / size) / (total / n),
                    "p_value": p_value,
                    "adjusted_p_value": adjusted,
                }
            )
    for values in found:
        values.sort(key=lambda v: (v["adjusted_p_value"], -v["lift"]))
    return found, len(tests)


def _hybrid_cells(
    clusters: np.ndarray, tabs: dict[str, _Crosstab], min_cell_size: int, alpha: float
) -> tuple[list[dict[str, Any]], int]:
    """The (cluster x value) cells that fail more than both their cluster's other rows and
    their value's other rows (the first part of :data:`HYBRID_RULE`), strongest first; and
    the number of cells tested. Counts come from the cross-tabs, so only the tested cells
    cost a test, whatever the number of rows."""
    cells = []
    for tab in tabs.values():
        c_size, c_fail = tab.size.sum(axis=1), tab.fail.sum(axis=1)
        testable = (
            (tab.size >= min_cell_size)
            & (tab.size < c_size[:, None])
            & (tab.size < tab.value_size[None, :])
        )
        for c, j in zip(*np.nonzero(testable), strict=True):
            size, k = int(tab.size[c, j]), int(tab.fail[c, j])
            cs, cf = int(c_size[c]), int(c_fail[c])
            vs, vf = int(tab.value_size[j]), int(tab.value_fail[j])
            cells.append(
                {
                    "cluster_id": int(clusters[c]),
                    "column": tab.column,
                    "value": tab.values[j],
                    "size": size,
                    "num_failures": k,
                    "failure_rate": k / size,
                    "cluster_size": cs,
                    "cluster_rest_failure_rate": (cf - k) / (cs - size),
                    "value_size": vs,
                    "value_rest_failure_rate": (vf - k) / (vs - size),
                    "p_value_vs_cluster": one_sided_proportion_test(k, size, cf, cs).p_value,
                    "p_value_vs_value": one_sided_proportion_test(k, size, vf, vs).p_value,
                }
            )
    for side in ("cluster", "value"):
        adjusted = correct([cell[f"p_value_vs_{side}"] for cell in cells]).tolist()
        for cell, a in zip(cells, adjusted, strict=True):
            cell[f"adjusted_p_value_vs_{side}"] = a
    found = [
        cell
        for cell in cells
        if max(cell["adjusted_p_value_vs_cluster"], cell["adjusted_p_value_vs_value"]) < alpha
    ]
    found.sort(
        key=lambda cell: (
            max(cell["adjusted_p_value_vs_cluster"], cell["adjusted_p_value_vs_value"]),
            -cell["failure_rate"],
            cell["cluster_id"],
        )
    )
    return found, len(cells)


def _drop_explained(
    found: list[dict[str, Any]],
    lab: np.ndarray,
    fail: np.ndarray,
    tabs: dict[str, _Crosstab],
    alpha: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split significant cells (strongest first) into kept and explained ones, and give the
    kept ones their rows (``sample_indices``, indexing ``lab``) and Wilson interval.

    A cell that shares rows with stronger kept cells of its cluster (other columns) is kept
    only if, without those rows, it still fails more than the cluster's remaining rows and
    than its value's rows elsewhere (one-sided Fisher, both p < ``alpha``). Otherwise a
    chance overlap with a real cell made it look bad (e.g. a length bin that happens to hold
    many rows of the failing route).
    """
    kept: list[dict[str, Any]] = []
    explained: list[dict[str, Any]] = []
    for cell in found:
        in_c = lab == cell["cluster_id"]
        has = tabs[cell["column"]].has(cell["value"])
        rows = in_c & has
        stronger = [
            k
            for k in kept
            if k["cluster_id"] == cell["cluster_id"] and k["column"] != cell["column"]
        ]
        covered = np.zeros(len(lab), dtype=bool)
        for k in stronger:
            covered |= in_c & tabs[k["column"]].has(k["value"])
        p = 0.0
        if (rows & covered).any():
            own, others, elsewhere = rows & ~covered, in_c & ~rows & ~covered, has & ~in_c
            size, k_fail = int(own.sum()), int(fail[own].sum())
            p = max(
                one_sided_proportion_test(
                    k_fail, size, k_fail + int(fail[group].sum()), size + int(group.sum())
                ).p_value
                for group in (others, elsewhere)
            )
        if p < alpha:
            ci = list(interval(cell["num_failures"], cell["size"]))
            kept.append(
                {
                    **cell,
                    "confidence_interval": ci,
                    "sample_indices": np.flatnonzero(rows).tolist(),
                }
            )
            continue
        explained.append(
            {
                "cluster_id": cell["cluster_id"],
                "column": cell["column"],
                "value": cell["value"],
                "size": cell["size"],
                "explained_by": [{"column": k["column"], "value": k["value"]} for k in stronger],
                "p_value_without": p,
            }
        )
    return kept, explained


@dataclass(frozen=True)
class MetadataFindings:
    """What the metadata says about one analysis: the slices with their
    ``over_represented_values``, the hybrid cells, and the summary recorded as
    ``metadata["metadata_analysis"]``."""

    slices: list[Any]
    cells: list[dict[str, Any]]
    summary: dict[str, Any]


def read_into_slices(
    slices: Sequence[FailureSlice],
    labels: np.ndarray,
    failed: np.ndarray,
    columns: dict[str, list[Any]],
    *,
    rows: Rows,
    significance_level: float,
    min_cell_size: int,
    prompts: Sequence[str] | None = None,
    n_bins: int = 5,
    categorical: Sequence[str] = (),
    max_categories: int = 50,
) -> MetadataFindings:
    """The metadata ``columns`` (one value per input row) read into ``slices`` (see
    :func:`hybrid_slices`). ``labels`` (empty when no clustering ran), ``failed`` and
    ``prompts`` hold one entry per analysed row; ``rows`` says which input rows those are."""
    alpha, min_cell = significance_level, min_cell_size
    summary: dict[str, Any] = {
        "columns": list(columns),
        "min_cell_size": min_cell,
        "significance_level": alpha,
        "rule": HYBRID_RULE,
    }
    if not len(labels):
        summary["note"] = "no clustering ran (no failures, or every prompt failed)"
        return MetadataFindings(list(slices), [], summary)
    kept = rows.analysed
    lab, fail = np.asarray(labels, dtype=np.int64), np.asarray(failed, dtype=bool)
    cut = cut_columns(
        {name: [values[i] for i in kept] for name, values in columns.items()},
        n_bins=n_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    clusters = np.unique(lab[lab >= 0])
    tabs = _crosstabs(cut, lab, fail, clusters)
    over, n_over = _over_represented(slices, clusters, tabs, len(lab), alpha)
    cells, n_cells = _hybrid_cells(clusters, tabs, min_cell, alpha)
    cells, explained = _drop_explained(cells, lab, fail, tabs, alpha)
    slice_of = {s.cluster_id: s for s in slices}
    unnamed = {cell["cluster_id"] for cell in cells} - set(slice_of)
    words: dict[int, list[str]] = {}
    if unnamed and prompts is not None:
        words = distinctive_terms(list(prompts), lab, top_k=5)
    for cell in cells:
        s = slice_of.get(cell["cluster_id"])
        cell["slice_name"] = None if s is None else s.name
        cell["keywords"] = (
            list(s.keywords[:5]) if s is not None else words.get(cell["cluster_id"], [])
        )
        cell["sample_indices"] = rows.input_index(cell["sample_indices"]).tolist()
    summary.update(
        num_values=sum(len(tab.values) for tab in tabs.values()),
        over_representation_tests=n_over,
        num_over_represented=sum(map(len, over)),
        hybrid_cells_tested=n_cells,
        num_hybrid_cells=len(cells),
        explained_cells=explained,
    )
    logger.info(
        "Metadata: %d over-represented value(s) in %d slice(s); %d of %d hybrid cells",
        summary["num_over_represented"],
        len(slices),
        len(cells),
        n_cells,
    )
    with_values = [
        replace(s, over_represented_values=values) for s, values in zip(slices, over, strict=True)
    ]
    return MetadataFindings(with_values, cells, summary)


def hybrid_slices(
    report: AnalysisReport,
    metadata: Any,
    failures: Any,
    *,
    prompts: Sequence[str] | None = None,
    significance_level: float | None = None,
    min_cell_size: int | None = None,
    n_bins: int = 5,
    categorical: Sequence[str] = (),
    max_categories: int = 50,
) -> AnalysisReport:
    """A new report: ``report`` with the metadata read into its semantic slices.

    ``metadata`` (a dict of columns or a pandas DataFrame) and ``failures`` (0/1 per row)
    are row-aligned with the input of the analysis; rows the analysis left out
    (``report.rows``) are left out here too. Columns are cut into values as in
    :func:`~faultmap.metrics.cohorts.cohort_labels` (numeric columns binned,
    ``"(missing)"`` for None/NaN).

    * Each slice gets ``over_represented_values``: the values more frequent inside the slice
      than in the other prompts (one-sided Fisher exact test on the 2x2 table slice x value,
      Benjamini–Hochberg over every (slice, value) pair, adjusted p < ``significance_level``),
      with their share inside and outside and ``lift`` (share inside / overall share).
    * The report gets ``hybrid_cells``: (cluster x value) cells that fail significantly more
      than both their cluster and their value alone, by :data:`HYBRID_RULE`. Every cluster
      takes part, not only the significant slices: a cell can fail in a cluster that does
      not fail as a whole. ``sample_indices`` index the input rows. A cell that only looks
      bad because it overlaps a stronger cell of its cluster (in another column) is moved
      to ``report.metadata["metadata_analysis"]["explained_cells"]``.

    ``significance_level`` and ``min_cell_size`` default to the report's
    ``significance_level`` and ``min_slice_size``. ``SliceAnalyzer.analyze(...,
    metadata=...)`` does this for you; ``prompts`` (the analysed prompts, input order)
    only adds each cell's cluster keywords.

    Example:
        >>> report = analyzer.analyze(prompts, responses, scores)  # doctest: +SKIP
        >>> report = hybrid_slices(report, {"route": routes}, scores < 0.5)  # doctest: +SKIP
        >>> cell = report.hybrid_cells[0]  # doctest: +SKIP
        >>> cell["column"], cell["value"], cell["cluster_id"]  # doctest: +SKIP
    """
    owner = "hybrid_slices"
    alpha = report.significance_level if significance_level is None else significance_level
    min_cell = report.min_slice_size if min_cell_size is None else min_cell_size
    check_param(owner, "significance_level", alpha, Interval(float, 0, 1, "neither"))
    check_param(owner, "min_cell_size", min_cell, Interval(int, 1, None))
    check_cut_params(owner, n_bins, max_categories)
    labels = np.asarray(report.label_array(), dtype=np.int64)
    rows = report.rows
    if rows is None:  # a report written before reports carried their rows
        rows = Rows.keeping(labels != LEFT_OUT, reason="unscored") if labels.size else None
    n_rows = rows.total if rows is not None else report.total_prompts
    columns = read_metadata(metadata, n_rows, of="rows in the analysis input")
    failed = as_outcomes("failures", failures, n_rows, of="rows in the analysis input")
    rows = rows if rows is not None else Rows.all(n_rows)
    found = read_into_slices(
        report.slices,
        labels[rows.analysed] if labels.size else labels,
        failed[rows.analysed],
        columns,
        rows=rows,
        significance_level=alpha,
        min_cell_size=min_cell,
        prompts=None if prompts is None else [prompts[i] for i in rows.analysed],
        n_bins=n_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    return replace(
        report,
        slices=found.slices,
        hybrid_cells=found.cells,
        metadata={**report.metadata, "metadata_analysis": found.summary},
    )
