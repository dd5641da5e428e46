"""Failure rate by metadata cohort: which routes, models, prompt versions or languages fail
more than the rest?

Each column of the metadata splits the rows into cohorts, one per value. Numeric columns
with more than ``n_bins`` distinct values are cut at their quantiles into at most ``n_bins``
half-open bins (``"[0.2, 0.5)"``; the last bin is closed, ``"[0.5, 0.9]"``); missing values
(``None``, NaN, ``pandas.NA``) form their own ``"(missing)"`` cohort. Every cohort of at
least ``min_size`` rows is tested against the rest of the rows with the one-sided Fisher
exact test of :func:`faultmap.significance.one_sided_proportion_test`, and the
Benjamini–Hochberg correction runs over all tested cohorts of all columns together.

Example:
    >>> from faultmap.cohorts import cohort_failure_rates
    >>> failures = [1, 1, 1, 0] * 5 + [0, 0, 0, 1] * 15
    >>> metadata = {"route": ["search"] * 20 + ["chat"] * 60, "tokens": list(range(80))}
    >>> report = cohort_failure_rates(failures, metadata)
    >>> [(c.column, c.value) for c in report.significant()]
    [('route', 'search'), ('tokens', '[0, 15.8)')]
"""

from __future__ import annotations

import logging
import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from faultmap._validation import Interval, check_param
from faultmap.exceptions import DataError
from faultmap.metrics._checks import as_outcomes, is_missing
from faultmap.metrics._results import Result, format_table, label_text, read_json
from faultmap.metrics.calibration import CalibrationByGroup, _by_rows, _check_bins, _inputs
from faultmap.significance import benjamini_hochberg, one_sided_proportion_test, wilson_interval

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport

__all__ = [
    "HYBRID_RULE",
    "MISSING",
    "OTHER",
    "Cohort",
    "CohortReport",
    "calibration_by_cohort",
    "cohort_failure_rates",
    "cohort_labels",
    "hybrid_slices",
    "read_metadata",
]

logger = logging.getLogger("faultmap")

#: Label of the cohort of missing values.
MISSING = "(missing)"
#: Label of the cohort that pools the rarest values of a column beyond ``max_categories``.
OTHER = "(other)"


# -- reading metadata and cutting columns into cohorts --------------------------------------


def _column_name(name: Any, position: int) -> str:
    """A metadata column name as text; a missing or odd name is a :class:`DataError`."""
    if isinstance(name, str) and name.strip():
        return name
    if isinstance(name, (int, np.integer)) and not isinstance(name, (bool, np.bool_)):
        return str(name)
    what = "missing (None/NaN)" if is_missing(name) else f"{name!r} ({type(name).__name__})"
    raise DataError(
        f"metadata column {position} has a name that is {what}; every column needs a "
        f"non-empty string (or int) name, e.g. rename it with df.columns = [...] (a CSV "
        f"column without a header reads as NaN)."
    )


def read_metadata(metadata: Any, n: int | None = None, *, of: str = "rows") -> dict[str, list[Any]]:
    """Columns of a pandas DataFrame (anything with ``.columns`` and ``df[col].tolist()``) or
    of a mapping ``{name: sequence}`` as lists, all of one length (``n`` when given; ``of``
    names what the rows are in the error message).

    Column names must be non-empty strings or ints, distinct as text; a name that is
    ``None`` or NaN is a :class:`DataError`. Missing *values* are kept (they form the
    ``"(missing)"`` cohort).

    Example:
        >>> read_metadata({"route": ("a", "b")})
        {'route': ['a', 'b']}
    """
    if metadata is None:
        raise DataError("'metadata' is required: a dict of columns or a pandas DataFrame.")
    if hasattr(metadata, "columns") and hasattr(metadata, "__getitem__"):
        names = list(metadata.columns)
        texts = [_column_name(c, i) for i, c in enumerate(names)]
        pairs = list(zip(texts, names, strict=True))
        if len(set(texts)) == len(texts):  # df[name] of a repeated name is a DataFrame
            pairs = [(t, metadata[c].tolist()) for t, c in pairs]
    elif isinstance(metadata, Mapping):
        pairs = []
        for i, (name, values) in enumerate(metadata.items()):
            text = _column_name(name, i)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise DataError(
                    f"metadata[{name!r}] must be a sequence with one value per row; got "
                    f"{type(values).__name__}."
                )
            pairs.append((text, values.tolist() if hasattr(values, "tolist") else values))
    else:
        raise DataError(
            f"'metadata' must be a dict of columns or a pandas DataFrame; got "
            f"{type(metadata).__name__}."
        )
    if not pairs:
        raise DataError("'metadata' has no columns.")
    repeated = sorted({t for t, _ in pairs if sum(t == u for u, _ in pairs) > 1})
    if repeated:
        raise DataError(
            f"'metadata' has more than one column named {repeated[0]!r}; give every column "
            f"its own name."
        )
    columns = {name: list(values) for name, values in pairs}
    expected = n if n is not None else len(next(iter(columns.values())))
    for name, values in columns.items():
        if len(values) != expected:
            raise DataError(
                f"metadata[{name!r}] has {len(values)} values but there are {expected} {of}; "
                f"pass one value per row."
            )
    return columns


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _edge_texts(edges: np.ndarray) -> list[str]:
    """Shortest ``g`` formatting (3 to 12 significant digits) that keeps the edges distinct."""
    for digits in range(3, 13):
        texts = [f"{e:.{digits}g}" for e in edges]
        if len(set(texts)) == len(texts):
            return texts
    return [repr(float(e)) for e in edges]


@dataclass(frozen=True)
class _ColumnCohorts:
    labels: list[str]  # per row
    values: list[tuple[str, str]]  # (label, kind) in display order

    def masks(self) -> list[tuple[str, str, np.ndarray]]:
        """``(value, kind, row mask)`` of every value, in display order."""
        labels = np.asarray(self.labels, dtype=object)
        return [(value, kind, labels == value) for value, kind in self.values]


def _cut_column(
    name: str, values: list[Any], *, n_bins: int, categorical: bool, max_categories: int
) -> _ColumnCohorts:
    missing = [is_missing(v) for v in values]
    present = [v for v, m in zip(values, missing, strict=True) if not m]
    numeric = bool(present) and not categorical and all(_is_number(v) for v in present)
    labels: list[str] = [MISSING] * len(values)
    order: list[tuple[str, str]] = []
    if numeric and len(set(present)) > n_bins:
        x = np.asarray(present, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise DataError(
                f"metadata[{name!r}] holds an infinite value; drop it or mark it missing."
            )
        edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)))
        texts = _edge_texts(edges)
        names = [f"[{texts[i]}, {texts[i + 1]})" for i in range(len(edges) - 2)]
        names.append(f"[{texts[-2]}, {texts[-1]}]")
        bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        it = iter(bins.tolist())
        for i, m in enumerate(missing):
            if not m:
                labels[i] = names[next(it)]
        used = set(bins.tolist())
        order = [(names[b], "bin") for b in range(len(names)) if b in used]
    else:
        texts = [label_text(v) for v in present]
        counts = Counter(texts)
        if numeric:  # few distinct numbers (versions, ratings): in numeric order
            value_of = dict(zip(texts, present, strict=True))
            ranked = sorted(counts, key=lambda t: value_of[t])
        else:
            ranked = sorted(counts, key=lambda t: (-counts[t], t))
        kept = set(ranked[:max_categories]) if len(ranked) > max_categories else set(ranked)
        it = iter(texts)
        for i, m in enumerate(missing):
            if not m:
                text = next(it)
                labels[i] = text if text in kept else OTHER
        order = [(t, "category") for t in ranked if t in kept]
        if len(ranked) > len(kept):
            order.append((OTHER, "other"))
    if any(missing):
        order.append((MISSING, "missing"))
    return _ColumnCohorts(labels=labels, values=order)


def _cut_all(
    columns: dict[str, list[Any]],
    *,
    n_bins: int,
    categorical: Sequence[str],
    max_categories: int,
) -> dict[str, _ColumnCohorts]:
    unknown = sorted(set(categorical) - set(columns))
    if unknown:
        raise DataError(f"'categorical' names columns not in the metadata: {unknown}.")
    return {
        name: _cut_column(
            name,
            values,
            n_bins=n_bins,
            categorical=name in categorical,
            max_categories=max_categories,
        )
        for name, values in columns.items()
    }


def _check_cut_params(owner: str, n_bins: int, max_categories: int) -> None:
    check_param(owner, "n_bins", n_bins, Interval(int, 1, None))
    check_param(owner, "max_categories", max_categories, Interval(int, 1, None))


def cohort_labels(
    metadata: Any,
    *,
    n_bins: int = 5,
    categorical: Sequence[str] = (),
    max_categories: int = 50,
) -> dict[str, list[str]]:
    """Each row's cohort in every column, as text: the value itself, its quantile bin for a
    numeric column with more than ``n_bins`` distinct values, ``"(missing)"``, or
    ``"(other)"`` beyond the ``max_categories`` most frequent values. Columns named in
    ``categorical`` are never binned.

    Example:
        >>> cohort_labels({"lang": ["en", "de", None], "len": [1, 5, 9]}, n_bins=2)
        {'lang': ['en', 'de', '(missing)'], 'len': ['[1, 5)', '[5, 9]', '[5, 9]']}
    """
    _check_cut_params("cohort_labels", n_bins, max_categories)
    cut = _cut_all(
        read_metadata(metadata),
        n_bins=n_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    return {name: c.labels for name, c in cut.items()}


# -- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort(Result):
    """One value (or bin) of one metadata column and how often its rows fail.

    ``kind`` is "category", "bin", "missing" or "other". ``confidence_interval`` is the
    Wilson interval of ``failure_rate``; ``effect_size`` is ``failure_rate`` over the
    overall rate. ``p_value`` is the one-sided Fisher test against the rest of the rows and
    ``adjusted_p_value`` its Benjamini–Hochberg adjustment across all tested cohorts; both
    are ``None`` for an untested cohort (fewer than ``min_size`` rows, or every row).
    """

    column: str
    value: str
    kind: str
    size: int
    failures: int
    failure_rate: float
    rest_failure_rate: float
    effect_size: float
    confidence_interval: tuple[float, float]
    p_value: float | None
    adjusted_p_value: float | None
    significant: bool

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cohort:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["confidence_interval"] = tuple(known["confidence_interval"])
        return cls(**known)


@dataclass(frozen=True)
class CohortReport(Result):
    """Outcome of :func:`cohort_failure_rates`: one :class:`Cohort` per (column, value), in
    column order; within a column by size (categories) or in bin order, with "(other)" and
    "(missing)" last. :meth:`significant` lists the significant ones, strongest first.
    """

    total: int
    total_failures: int
    baseline_failure_rate: float
    columns: list[str]
    cohorts: list[Cohort]
    num_significant: int
    significance_level: float = 0.05
    n_bins: int = 5
    min_size: int = 10
    num_tested: int = 0
    test: str = "fisher"
    correction: str = "benjamini-hochberg"
    metadata: dict[str, Any] = field(default_factory=dict)

    def significant(self) -> list[Cohort]:
        """The significant cohorts, smallest adjusted p-value first (ties: larger rate)."""
        hits = [c for c in self.cohorts if c.significant]
        return sorted(hits, key=lambda c: (c.adjusted_p_value, -c.failure_rate))

    def for_column(self, column: str) -> list[Cohort]:
        """The cohorts of one column."""
        if column not in self.columns:
            raise KeyError(column)
        return [c for c in self.cohorts if c.column == column]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CohortReport:
        """Rebuild a report from :meth:`to_dict` output."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["cohorts"] = [Cohort.from_dict(c) for c in data.get("cohorts", [])]
        return cls(**known)

    @classmethod
    def from_json(cls, source: str | Path) -> CohortReport:
        """Rebuild a report from a JSON string or a path to a JSON file."""
        return cls.from_dict(read_json(source))

    def __str__(self) -> str:
        lines = [
            f"{self.total_failures} failures in {self.total} rows "
            f"({100 * self.baseline_failure_rate:.1f}%); {self.num_significant} of "
            f"{self.num_tested} tested cohorts fail significantly more than the rest "
            f"(one-sided Fisher, BH-adjusted p < {self.significance_level:g})."
        ]
        level = 100 * float(self.metadata.get("confidence", 0.95))
        header = ["value", "size", "failures", "rate", f"{level:g}% CI", "p", "adj. p", ""]
        for column in self.columns:
            rows = [
                [
                    c.value,
                    c.size,
                    c.failures,
                    c.failure_rate,
                    f"{c.confidence_interval[0]:.2f}-{c.confidence_interval[1]:.2f}",
                    "-" if c.p_value is None else f"{c.p_value:.2g}",
                    "-" if c.adjusted_p_value is None else f"{c.adjusted_p_value:.2g}",
                    "*" if c.significant else "",
                ]
                for c in self.for_column(column)
            ]
            lines += ["", f"{column}:", format_table(header, rows)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"CohortReport(total={self.total}, columns={len(self.columns)}, "
            f"cohorts={len(self.cohorts)}, num_significant={self.num_significant})"
        )


def cohort_failure_rates(
    failures: Any,
    metadata: Any,
    *,
    significance_level: float = 0.05,
    n_bins: int = 5,
    min_size: int = 10,
    categorical: Sequence[str] = (),
    max_categories: int = 50,
    confidence: float = 0.95,
) -> CohortReport:
    """Failure rate, Wilson interval and a one-sided exact test against the rest of the rows
    for every value of every metadata column, Benjamini–Hochberg-adjusted over all of them.

    ``failures`` holds one 0/1 (or bool) per row, 1 = failed. ``metadata`` is a dict of
    columns or a pandas DataFrame, one value per row. A cohort is tested when it has at
    least ``min_size`` rows and is not every row; it is significant when its adjusted
    p-value is below ``significance_level``.

    Example:
        >>> failures = [1] * 8 + [0] * 2 + [1] * 2 + [0] * 28
        >>> route = ["search"] * 10 + ["chat"] * 30
        >>> report = cohort_failure_rates(failures, {"route": route}, min_size=5)
        >>> [(c.value, c.failures, c.size, c.significant) for c in report.cohorts]
        [('chat', 2, 30, False), ('search', 8, 10, True)]
    """
    owner = "cohort_failure_rates"
    check_param(owner, "significance_level", significance_level, Interval(float, 0, 1, "neither"))
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    check_param(owner, "confidence", confidence, Interval(float, 0, 1, "neither"))
    _check_cut_params(owner, n_bins, max_categories)
    failed = as_outcomes("failures", failures)
    n = len(failed)
    cut = _cut_all(
        read_metadata(metadata, n),
        n_bins=n_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    total_failures = int(failed.sum())
    baseline = total_failures / n
    rows: list[dict[str, Any]] = []
    for column, cohorts in cut.items():
        for value, kind, members in cohorts.masks():
            size, k = int(members.sum()), int(failed[members].sum())
            rest = n - size
            tested = size >= min_size and rest > 0
            p = (
                one_sided_proportion_test(k, size, total_failures, n, test="fisher").p_value
                if tested
                else None
            )
            rows.append(
                {
                    "column": column,
                    "value": value,
                    "kind": kind,
                    "size": size,
                    "failures": k,
                    "failure_rate": k / size,
                    "rest_failure_rate": (total_failures - k) / rest if rest else 0.0,
                    "effect_size": (k / size) / baseline if baseline > 0 else 0.0,
                    "confidence_interval": wilson_interval(k, size, confidence),
                    "p_value": p,
                }
            )
    tested_rows = [r for r in rows if r["p_value"] is not None]
    adjusted = benjamini_hochberg([r["p_value"] for r in tested_rows])
    for r, a in zip(tested_rows, adjusted.tolist(), strict=True):
        r["adjusted_p_value"] = a
    cohorts_out = [
        Cohort(
            **{"adjusted_p_value": None, **r},
            significant=r.get("adjusted_p_value") is not None
            and r["adjusted_p_value"] < significance_level,
        )
        for r in rows
    ]
    num_significant = sum(c.significant for c in cohorts_out)
    logger.info(
        "Cohorts: %d of %d tested cohorts in %d columns significant",
        num_significant,
        len(tested_rows),
        len(cut),
    )
    return CohortReport(
        total=n,
        total_failures=total_failures,
        baseline_failure_rate=baseline,
        columns=list(cut),
        cohorts=cohorts_out,
        num_significant=num_significant,
        significance_level=float(significance_level),
        n_bins=n_bins,
        min_size=min_size,
        num_tested=len(tested_rows),
        metadata={"confidence": confidence, "max_categories": max_categories},
    )


def calibration_by_cohort(
    y_true: Any,
    y_prob: Any,
    metadata: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    cohort_bins: int = 5,
    categorical: Sequence[str] = (),
    max_categories: int = 50,
    labels: Any = None,
    min_size: int = 1,
) -> dict[str, CalibrationByGroup]:
    """Calibration (ECE, MCE, Brier score, reliability curve) of every cohort of every
    metadata column: ``{column: CalibrationByGroup}``, cohorts in the order of
    :func:`cohort_failure_rates`. ``n_bins`` and ``strategy`` bin the confidences (see
    :mod:`faultmap.metrics.calibration`); ``cohort_bins`` cuts numeric columns.

    Example:
        >>> by = calibration_by_cohort([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.4],
        ...                            {"route": ["a", "a", "b", "b"]}, n_bins=2)
        >>> [(g.group, round(g.expected_calibration_error, 2)) for g in by["route"].groups]
        [('a', 0.15), ('b', 0.6)]
    """
    owner = "calibration_by_cohort"
    _check_bins(owner, n_bins, strategy)
    _check_cut_params(owner, cohort_bins, max_categories)
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    prob, kind = _inputs(owner, y_true, y_prob, labels)
    cut = _cut_all(
        read_metadata(metadata, len(prob.true_index)),
        n_bins=cohort_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    out = {}
    for column, cohorts in cut.items():
        named = [(value, np.flatnonzero(rows)) for value, _, rows in cohorts.masks()]
        out[column] = _by_rows(prob, kind, named, n_bins, strategy, min_size)
    return out


# -- metadata inside the semantic slices: over-represented values and hybrid cells ------------

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
    cut: dict[str, _ColumnCohorts], lab: np.ndarray, fail: np.ndarray, clusters: np.ndarray
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
        tests, p, benjamini_hochberg(p).tolist(), strict=True
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
        adjusted = benjamini_hochberg([cell[f"p_value_vs_{side}"] for cell in cells]).tolist()
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
            interval = list(wilson_interval(cell["num_failures"], cell["size"]))
            kept.append(
                {
                    **cell,
                    "confidence_interval": interval,
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
    """A copy of ``report`` with the metadata read into its semantic slices.

    ``metadata`` (a dict of columns or a pandas DataFrame) and ``failures`` (0/1 per row)
    are row-aligned with the input of the analysis, i.e. with ``report.cluster_labels``;
    rows the analysis left out (label -2) are left out here too. Columns are cut into values
    as in :func:`cohort_labels` (numeric columns binned, ``"(missing)"`` for None/NaN).

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
    metadata=...)`` calls this for you; ``prompts`` (the analysed prompts, input order)
    only adds each cell's cluster keywords.

    Example:
        >>> report = analyzer.analyze(prompts, responses, scores)  # doctest: +SKIP
        >>> report = hybrid_slices(report, {"route": routes}, scores < 0.5)  # doctest: +SKIP
        >>> cell = report.hybrid_cells[0]  # doctest: +SKIP
        >>> cell["column"], cell["value"], cell["cluster_id"]  # doctest: +SKIP
    """
    from dataclasses import replace

    owner = "hybrid_slices"
    alpha = report.significance_level if significance_level is None else significance_level
    min_cell = report.min_slice_size if min_cell_size is None else min_cell_size
    check_param(owner, "significance_level", alpha, Interval(float, 0, 1, "neither"))
    check_param(owner, "min_cell_size", min_cell, Interval(int, 1, None))
    _check_cut_params(owner, n_bins, max_categories)
    labels = np.asarray(report.cluster_labels, dtype=np.int64)
    n_rows = len(labels) if labels.size else report.total_prompts
    columns = read_metadata(metadata, n_rows, of="rows in the analysis input")
    failed = as_outcomes("failures", failures, n_rows, of="rows in the analysis input")
    summary: dict[str, Any] = {
        "columns": list(columns),
        "min_cell_size": min_cell,
        "significance_level": alpha,
        "rule": HYBRID_RULE,
    }
    if not labels.size:
        summary["note"] = "no clustering ran (no failures, or every prompt failed)"
        return replace(report, metadata={**report.metadata, "metadata_analysis": summary})
    rows = np.flatnonzero(labels != -2)
    lab, fail = labels[rows], failed[rows]
    cut = _cut_all(
        {name: [values[i] for i in rows] for name, values in columns.items()},
        n_bins=n_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    clusters = np.unique(lab[lab >= 0])
    tabs = _crosstabs(cut, lab, fail, clusters)
    over, n_over = _over_represented(report.slices, clusters, tabs, len(lab), alpha)
    cells, n_cells = _hybrid_cells(clusters, tabs, min_cell, alpha)
    cells, explained = _drop_explained(cells, lab, fail, tabs, alpha)
    slice_of = {s.cluster_id: s for s in report.slices}
    unnamed = {cell["cluster_id"] for cell in cells} - set(slice_of)
    words: dict[int, list[str]] = {}
    if unnamed and prompts is not None:
        from faultmap.naming.keywords import distinctive_terms

        words = distinctive_terms([prompts[i] for i in rows], lab, top_k=5)
    for cell in cells:
        s = slice_of.get(cell["cluster_id"])
        cell["slice_name"] = None if s is None else s.name
        cell["keywords"] = (
            list(s.keywords[:5]) if s is not None else words.get(cell["cluster_id"], [])
        )
        cell["sample_indices"] = rows[cell["sample_indices"]].tolist()
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
        len(report.slices),
        len(cells),
        n_cells,
    )
    return replace(
        report,
        slices=[
            replace(s, over_represented_values=values)
            for s, values in zip(report.slices, over, strict=True)
        ],
        hybrid_cells=cells,
        metadata={**report.metadata, "metadata_analysis": summary},
    )
