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
    >>> from faultmap.metrics.cohorts import cohort_failure_rates
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._serialize import MappingRecord
from faultmap._validation import Interval, check_param, is_missing
from faultmap.exceptions import DataError
from faultmap.io import read_metadata
from faultmap.metrics._checks import as_outcomes
from faultmap.metrics._results import Result, format_table, label_text, read_json
from faultmap.metrics.calibration import CalibrationByGroup, Calibrator, check_binning
from faultmap.significance import benjamini_hochberg, one_sided_proportion_test, wilson_interval

__all__ = [
    "MISSING",
    "OTHER",
    "Cohort",
    "CohortReport",
    "ColumnCohorts",
    "calibration_by_cohort",
    "check_cut_params",
    "cohort_failure_rates",
    "cohort_labels",
    "cut_columns",
]

logger = logging.getLogger("faultmap")

#: Label of the cohort of missing values.
MISSING = "(missing)"
#: Label of the cohort that pools the rarest values of a column beyond ``max_categories``.
OTHER = "(other)"


# -- cutting columns into cohorts ---------------------------------------------------------


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
class ColumnCohorts:
    """The cohorts of one metadata column: each row's cohort (``labels``) and every cohort
    as ``(label, kind)`` in display order; kinds as in :class:`Cohort`."""

    labels: list[str]  # per row
    values: list[tuple[str, str]]  # (label, kind) in display order

    def masks(self) -> list[tuple[str, str, np.ndarray]]:
        """``(value, kind, row mask)`` of every value, in display order."""
        labels = np.asarray(self.labels, dtype=object)
        return [(value, kind, labels == value) for value, kind in self.values]


def _cut_column(
    name: str, values: list[Any], *, n_bins: int, categorical: bool, max_categories: int
) -> ColumnCohorts:
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
    return ColumnCohorts(labels=labels, values=order)


def cut_columns(
    columns: dict[str, list[Any]],
    *,
    n_bins: int,
    categorical: Sequence[str],
    max_categories: int,
) -> dict[str, ColumnCohorts]:
    """Every column of :func:`~faultmap.io.read_metadata` output cut into its cohorts (see
    :func:`cohort_labels`); the parameters are checked by :func:`check_cut_params`."""
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


def check_cut_params(owner: str, n_bins: int, max_categories: int) -> None:
    """Raise :class:`~faultmap.exceptions.ConfigurationError` for a bad ``n_bins`` or
    ``max_categories`` of ``owner``."""
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
    check_cut_params("cohort_labels", n_bins, max_categories)
    cut = cut_columns(
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
class CohortSettings(MappingRecord):
    """The settings a :class:`CohortReport` was made with (read like a dict)."""

    confidence: float = 0.95
    max_categories: int = 50


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
    metadata: CohortSettings = field(default_factory=CohortSettings)

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
    check_cut_params(owner, n_bins, max_categories)
    failed = as_outcomes("failures", failures)
    n = len(failed)
    cut = cut_columns(
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
    check_binning(owner, n_bins, strategy)
    check_cut_params(owner, cohort_bins, max_categories)
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    cal = Calibrator.of(owner, y_true, y_prob, n_bins=n_bins, strategy=strategy, labels=labels)
    cut = cut_columns(
        read_metadata(metadata, cal.n_rows),
        n_bins=cohort_bins,
        categorical=categorical,
        max_categories=max_categories,
    )
    out = {}
    for column, cohorts in cut.items():
        named = [(value, np.flatnonzero(rows)) for value, _, rows in cohorts.masks()]
        out[column] = cal.by_groups(named, min_size)
    return out
