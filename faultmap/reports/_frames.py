"""Reports as pandas DataFrames: one row per input row, or one row per slice / gap.

The models' ``to_frame()`` and ``slices_frame()`` call these functions; they read the report
through its fields only (no import of the models, which sit above this module). pandas is
imported when a frame is asked for (``pip install 'faultmap[io]'``).

Which slice a row belongs to: the clusters of an analysis and of a comparison are disjoint,
so an input row is in at most one slice (the slice whose ``cluster_id`` is the row's cluster
label); a row in no reported slice, in noise, or left out of the analysis has slice
``None``. Failure modes group slices and are not a column here. Gaps of a coverage audit are
regions of the pooled prompts, also disjoint; a production prompt in no gap has gap ``None``.
Rows left out of the analysis (``report.rows``) have score NaN and failed ``<NA>``; so do all
rows of a report written before faultmap stored per-row scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from faultmap._optional import require
from faultmap.core.rows import LEFT_OUT
from faultmap.exceptions import DataError

__all__ = [
    "analysis_frame",
    "analysis_slices_frame",
    "comparison_frame",
    "comparison_slices_frame",
    "coverage_frame",
    "coverage_gaps_frame",
]


def _pandas() -> Any:
    return require("pandas", extra="io", purpose="report.to_frame() and slices_frame()")


def _num_rows(report: Any, fallback: int) -> int:
    rows = getattr(report, "rows", None)
    if rows is not None:
        return int(rows.total)
    if report.cluster_labels:
        return len(report.cluster_labels)
    if getattr(report, "row_labels", None) is not None:
        return int(report.row_labels.count)
    return fallback


def _labels(report: Any, n: int) -> np.ndarray:
    """The cluster label of every input row (:data:`LEFT_OUT` where unknown)."""
    if getattr(report, "row_labels", None) is not None:  # an analysis without row lists
        labels = np.asarray(report.row_labels.array(), dtype=np.int64)
    else:
        labels = np.asarray(report.cluster_labels, dtype=np.int64)
    if labels.size == n:
        return labels
    rows = getattr(report, "rows", None)
    if rows is not None and labels.size == rows.num_analysed:
        return rows.spread(labels)
    return np.full(n, LEFT_OUT, dtype=np.int64)


def _membership(labels: np.ndarray, cluster_ids: Sequence[int]) -> np.ndarray:
    """Position in ``cluster_ids`` of each row's label, -1 for none (first position wins)."""
    position = {}
    for k, cid in enumerate(cluster_ids):
        if cid >= 0:
            position.setdefault(int(cid), k)
    return np.array([position.get(int(x), -1) for x in labels], dtype=np.int64)


def _scores(values: Sequence[float] | None, n: int) -> np.ndarray:
    if values is None or len(values) != n:
        return np.full(n, np.nan)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _failed(pd: Any, scores: np.ndarray, threshold: float) -> Any:
    known = ~np.isnan(scores)
    out = pd.array(np.where(known, scores < threshold, False), dtype="boolean")
    out[~known] = pd.NA
    return out


def _by_position(pd: Any, position: np.ndarray, names: Sequence[str], n: int) -> dict[str, Any]:
    ids = pd.array(np.where(position >= 0, position, 0), dtype="Int64")
    ids[position < 0] = pd.NA
    labels = pd.Series([names[p] if p >= 0 else None for p in position], dtype="object")
    return {"ids": ids, "names": labels.to_numpy(dtype=object)}


def analysis_frame(report: Any) -> Any:
    """One row per input row of an :class:`~faultmap.reports.models.AnalysisReport`."""
    pd = _pandas()
    n = _num_rows(report, report.total_prompts)
    position = _membership(_labels(report, n), [s.cluster_id for s in report.slices])
    member = _by_position(pd, position, [s.name for s in report.slices], n)
    scores = _scores(report.row_scores, n)
    return pd.DataFrame(
        {
            "slice": member["names"],
            "slice_id": member["ids"],
            "failed": _failed(pd, scores, report.failure_threshold),
            "score": scores,
        },
        index=pd.RangeIndex(n, name="row"),
    )


def comparison_frame(report: Any) -> Any:
    """One row per input row of a :class:`~faultmap.reports.models.ComparisonReport`, with
    the slice among every tested slice (ties included)."""
    pd = _pandas()
    n = _num_rows(report, report.total_prompts)
    tested = report.tested_slices
    position = _membership(_labels(report, n), [s.cluster_id for s in tested])
    member = _by_position(pd, position, [s.name for s in tested], n)
    scores_a = _scores(report.row_scores_a, n)
    scores_b = _scores(report.row_scores_b, n)
    return pd.DataFrame(
        {
            "slice": member["names"],
            "slice_id": member["ids"],
            "failed_a": _failed(pd, scores_a, report.failure_threshold),
            "failed_b": _failed(pd, scores_b, report.failure_threshold),
            "score_a": scores_a,
            "score_b": scores_b,
        },
        index=pd.RangeIndex(n, name="row"),
    )


def coverage_frame(report: Any) -> Any:
    """One row per production prompt of a :class:`~faultmap.reports.models.CoverageReport`."""
    pd = _pandas()
    n = int(report.num_production_prompts)
    if report.metadata.get("row_lists_kept") is False:
        raise DataError(
            "This coverage report kept no per-prompt lists (metadata['row_lists_kept'] is False: a "
            "streamed audit of more production prompts than it lists), so it has no row per "
            "production prompt; rerun audit_coverage_frame(..., keep_row_lists=True) to keep them."
        )
    position = np.full(n, -1, dtype=np.int64)
    for k in range(len(report.gaps) - 1, -1, -1):  # the first gap wins an overlap
        idx = [i for i in report.gaps[k].prompt_indices if 0 <= i < n]
        position[idx] = k
    member = _by_position(pd, position, [g.name for g in report.gaps], n)
    distances = _scores(report.nearest_test_distances or None, n)
    return pd.DataFrame(
        {"gap": member["names"], "gap_id": member["ids"], "nearest_test_distance": distances},
        index=pd.RangeIndex(n, name="row"),
    )


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def analysis_slices_frame(report: Any) -> Any:
    """One row per reported slice of an analysis, indexed by ``slice_id`` (its position in
    ``report.slices``)."""
    pd = _pandas()
    rows = [
        {
            "name": s.name,
            "size": s.size,
            "num_failures": s.num_failures,
            "failure_rate": s.failure_rate,
            "ci_low": s.confidence_interval[0],
            "ci_high": s.confidence_interval[1],
            "baseline_rate": s.baseline_rate,
            "effect_size": s.effect_size,
            "p_value": s.p_value,
            "adjusted_p_value": s.adjusted_p_value,
            "cluster_id": s.cluster_id,
            "stability": _none_to_nan(s.stability),
        }
        for s in report.slices
    ]
    columns = list(_ANALYSIS_COLUMNS)
    if all(s.stability is None for s in report.slices):
        columns.remove("stability")
    frame = pd.DataFrame(rows, columns=_ANALYSIS_COLUMNS)[columns]
    frame.index = pd.RangeIndex(len(rows), name="slice_id")
    return frame


_ANALYSIS_COLUMNS = (
    "name",
    "size",
    "num_failures",
    "failure_rate",
    "ci_low",
    "ci_high",
    "baseline_rate",
    "effect_size",
    "p_value",
    "adjusted_p_value",
    "cluster_id",
    "stability",
)


def comparison_slices_frame(report: Any) -> Any:
    """One row per tested slice of a comparison (ties included), indexed by ``slice_id``
    (its position in ``report.tested_slices``)."""
    pd = _pandas()
    rows = []
    for s in report.tested_slices:
        both_fail = s.concordant_fail or 0
        rows.append(
            {
                "name": s.name,
                "size": s.size,
                "winner": s.winner,
                "num_failures_a": both_fail + s.discordant_b_wins,
                "num_failures_b": both_fail + s.discordant_a_wins,
                "failure_rate_a": s.failure_rate_a,
                "failure_rate_b": s.failure_rate_b,
                "failure_rate_diff": s.failure_rate_diff,
                "advantage_rate": s.advantage_rate,
                "discordant_a_wins": s.discordant_a_wins,
                "discordant_b_wins": s.discordant_b_wins,
                "p_value": s.p_value,
                "adjusted_p_value": s.adjusted_p_value,
                "cluster_id": s.cluster_id,
            }
        )
    frame = pd.DataFrame(rows, columns=_COMPARISON_COLUMNS)
    frame.index = pd.RangeIndex(len(rows), name="slice_id")
    return frame


_COMPARISON_COLUMNS = (
    "name",
    "size",
    "winner",
    "num_failures_a",
    "num_failures_b",
    "failure_rate_a",
    "failure_rate_b",
    "failure_rate_diff",
    "advantage_rate",
    "discordant_a_wins",
    "discordant_b_wins",
    "p_value",
    "adjusted_p_value",
    "cluster_id",
)


def coverage_gaps_frame(report: Any) -> Any:
    """One row per gap of a coverage audit, indexed by ``gap_id`` (its position in
    ``report.gaps``): the representation ratio of the test suite and its exact interval stand
    where a slice has its failure rate and Wilson interval."""
    pd = _pandas()
    rows = []
    for g in report.gaps:
        low, high = g.ratio_interval if g.ratio_interval is not None else (math.nan, math.nan)
        rows.append(
            {
                "name": g.name,
                "size": g.size,
                "test_count": g.test_count,
                "expected_test_count": g.expected_test_count,
                "ratio": _none_to_nan(g.ratio),
                "ci_low": low,
                "ci_high": high,
                "mean_distance": g.mean_distance,
                "p_value": g.p_value,
                "adjusted_p_value": g.adjusted_p_value,
                "region_id": g.region_id,
            }
        )
    frame = pd.DataFrame(rows, columns=_COVERAGE_COLUMNS)
    frame.index = pd.RangeIndex(len(rows), name="gap_id")
    return frame


_COVERAGE_COLUMNS = (
    "name",
    "size",
    "test_count",
    "expected_test_count",
    "ratio",
    "ci_low",
    "ci_high",
    "mean_distance",
    "p_value",
    "adjusted_p_value",
    "region_id",
)
