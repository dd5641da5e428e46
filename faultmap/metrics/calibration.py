"""Calibration: does a predicted probability of 0.8 come true 80% of the time?

Two readings of ``y_prob``, as in torchmetrics' binary and multiclass calibration errors:

* shape (n,), the positive class's probability: each sample's *confidence* is that
  probability and its *outcome* is 1 when the true label is the positive class
  (``kind="positive_class"``, what ``sklearn.calibration.calibration_curve`` plots);
* shape (n, k): confidence is the largest probability and the outcome is 1 when that
  arg-max class is the true one (``kind="top_label"``).

Samples are binned by confidence, either ``"uniform"`` (equal-width bins on [0, 1]) or
``"quantile"`` (equal-mass bins at the confidence quantiles). A sample goes to bin ``i``
when ``edges[i] < confidence <= edges[i + 1]`` (the first bin also takes ``edges[0]``),
the binning of ``calibration_curve``. The expected calibration error (ECE) is
``sum_b n_b / n * |accuracy_b - confidence_b|``; the maximum calibration error (MCE) is the
largest gap over non-empty bins.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from faultmap._validation import Interval, Options, check_param
from faultmap.exceptions import DataError
from faultmap.metrics._checks import Probabilities, is_missing, resolve_probabilities
from faultmap.metrics._results import Result, find_row, format_table, label_text

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport

__all__ = [
    "STRATEGIES",
    "CalibrationByGroup",
    "CalibrationGroup",
    "ReliabilityCurve",
    "brier_score",
    "calibration_by_group",
    "calibration_by_slice",
    "expected_calibration_error",
    "maximum_calibration_error",
    "reliability_curve",
]

logger = logging.getLogger("faultmap")

#: Binning strategies: equal-width and equal-mass bins.
STRATEGIES = ("uniform", "quantile")

MISSING = "(missing)"
#: Group names of :func:`calibration_by_slice`: rows in no slice, HDBSCAN noise, and rows
#: left out of the analysis because they could not be scored (cluster label -2).
REST = "(rest)"
NOISE = "(noise)"
UNSCORED = "(unscored)"
UNSCORED_LABEL = -2


@dataclass(frozen=True)
class ReliabilityCurve(Result):
    """Per-bin mean confidence, accuracy (observed rate of the outcome) and count, ready to
    plot (``bin_confidence`` on x, ``bin_accuracy`` on y, the diagonal is perfect
    calibration), with the summary errors. Empty bins hold NaN (``None`` in ``to_dict()``);
    :meth:`points` leaves them out.
    """

    kind: str
    strategy: str
    n_bins: int
    n_samples: int
    bin_edges: list[float]
    bin_count: list[int]
    bin_confidence: list[float]
    bin_accuracy: list[float]
    expected_calibration_error: float
    maximum_calibration_error: float
    brier_score: float
    mean_confidence: float
    accuracy: float

    def points(self) -> list[tuple[float, float, int]]:
        """``(confidence, accuracy, count)`` of every non-empty bin, in bin order."""
        return [
            (c, a, n)
            for c, a, n in zip(self.bin_confidence, self.bin_accuracy, self.bin_count, strict=True)
            if n > 0
        ]

    def __str__(self) -> str:
        rows = [
            [f"({lo:.2f}, {hi:.2f}]", n, c, a]
            for lo, hi, n, c, a in zip(
                self.bin_edges[:-1],
                self.bin_edges[1:],
                self.bin_count,
                self.bin_confidence,
                self.bin_accuracy,
                strict=True,
            )
        ]
        return (
            f"ECE {self.expected_calibration_error:.4f}  MCE "
            f"{self.maximum_calibration_error:.4f}  Brier {self.brier_score:.4f}  "
            f"({self.n_samples} samples, {self.strategy} bins, {self.kind})\n"
            + format_table(["bin", "count", "confidence", "accuracy"], rows)
        )


def _inputs(owner: str, y_true: Any, y_prob: Any, labels: Any) -> tuple[Probabilities, str]:
    prob = resolve_probabilities(owner, y_true, y_prob, labels=labels)
    return prob, "positive_class" if prob.one_column else "top_label"


def _confidence_outcome(prob: Probabilities, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = prob.proba[rows]
    if prob.one_column:
        return p[:, 1], (prob.true_index[rows] == 1).astype(np.float64)
    top = np.argmax(p, axis=1)
    return p[np.arange(len(rows)), top], (top == prob.true_index[rows]).astype(np.float64)


def _brier(prob: Probabilities, rows: np.ndarray) -> float:
    p = prob.proba[rows]
    onehot = prob.true_index[rows][:, None] == np.arange(p.shape[1])[None, :]
    per_row = np.sum((onehot - p) ** 2, axis=1)
    # Binary problems use the usual [0, 1] form (half the two-column sum), as scikit-learn.
    return float(per_row.mean() * (0.5 if p.shape[1] == 2 else 1.0))


def _curve(
    prob: Probabilities, rows: np.ndarray, kind: str, n_bins: int, strategy: str
) -> ReliabilityCurve:
    confidence, outcome = _confidence_outcome(prob, rows)
    if strategy == "quantile":
        edges = np.percentile(confidence, np.linspace(0.0, 100.0, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence)
    count = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    hit_sum = np.bincount(bins, weights=outcome, minlength=n_bins)
    filled = count > 0
    safe = np.maximum(count, 1)
    bin_conf = np.where(filled, conf_sum / safe, np.nan)
    bin_acc = np.where(filled, hit_sum / safe, np.nan)
    gaps = np.abs(hit_sum - conf_sum)  # n_b * |accuracy_b - confidence_b|
    n = len(rows)
    return ReliabilityCurve(
        kind=kind,
        strategy=strategy,
        n_bins=n_bins,
        n_samples=n,
        bin_edges=[float(e) for e in edges],
        bin_count=[int(c) for c in count],
        bin_confidence=[float(c) for c in bin_conf],
        bin_accuracy=[float(a) for a in bin_acc],
        expected_calibration_error=float(gaps.sum() / n),
        maximum_calibration_error=float(np.max(gaps[filled] / count[filled])),
        brier_score=_brier(prob, rows),
        mean_confidence=float(confidence.mean()),
        accuracy=float(outcome.mean()),
    )


def _check_bins(owner: str, n_bins: int, strategy: str) -> None:
    check_param(owner, "n_bins", n_bins, Interval(int, 1, None))
    check_param(owner, "strategy", strategy, Options(STRATEGIES))


def _whole_curve(
    owner: str, y_true: Any, y_prob: Any, n_bins: int, strategy: str, labels: Any
) -> ReliabilityCurve:
    _check_bins(owner, n_bins, strategy)
    prob, kind = _inputs(owner, y_true, y_prob, labels)
    return _curve(prob, np.arange(len(prob.true_index)), kind, n_bins, strategy)


def reliability_curve(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    labels: Any = None,
) -> ReliabilityCurve:
    """Reliability diagram data: per bin of confidence, its mean confidence, accuracy and
    count, with ECE, MCE and the Brier score (see the module docstring for the binning).

    Example:
        >>> c = reliability_curve([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2)
        >>> c.bin_count, c.bin_confidence, c.bin_accuracy
        ([2, 2], [0.2, 0.75], [0.0, 1.0])
    """
    return _whole_curve("reliability_curve", y_true, y_prob, n_bins, strategy, labels)


def expected_calibration_error(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    labels: Any = None,
) -> float:
    """Expected calibration error: the count-weighted mean gap between accuracy and
    confidence over the bins (``strategy="uniform"`` equal-width, ``"quantile"`` equal-mass).

    Example:
        >>> round(expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2), 3)
        0.225
    """
    curve = _whole_curve("expected_calibration_error", y_true, y_prob, n_bins, strategy, labels)
    return curve.expected_calibration_error


def maximum_calibration_error(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    labels: Any = None,
) -> float:
    """Maximum calibration error: the largest gap between accuracy and confidence over the
    non-empty bins.

    Example:
        >>> round(maximum_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2), 3)
        0.25
    """
    curve = _whole_curve("maximum_calibration_error", y_true, y_prob, n_bins, strategy, labels)
    return curve.maximum_calibration_error


def brier_score(y_true: Any, y_prob: Any, *, labels: Any = None) -> float:
    """Brier score: mean squared difference between the probabilities and the one-hot truth,
    summed over classes; for two classes the usual half of that, ``mean((p - y)^2)`` on the
    positive class, in [0, 1] (scikit-learn's ``brier_score_loss`` convention).

    Example:
        >>> round(brier_score([0, 1, 1], [0.1, 0.9, 0.6]), 4)
        0.06
    """
    prob, _ = _inputs("brier_score", y_true, y_prob, labels)
    return _brier(prob, np.arange(len(prob.true_index)))


# -- per group ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationGroup(Result):
    """Calibration of one group of rows (a slice, a cluster, a cohort): its size, errors and
    reliability curve. ``accuracy`` is the observed rate of the outcome (the positive rate
    for one-column ``y_prob``)."""

    group: Any
    size: int
    expected_calibration_error: float
    maximum_calibration_error: float
    brier_score: float
    mean_confidence: float
    accuracy: float
    curve: ReliabilityCurve


@dataclass(frozen=True)
class CalibrationByGroup(Result):
    """Outcome of :func:`calibration_by_group` and :func:`calibration_by_slice`: one
    :class:`CalibrationGroup` per group (in the order given by the function) and the curve of
    all rows together."""

    groups: list[CalibrationGroup]
    overall: ReliabilityCurve

    def for_group(self, group: Any) -> CalibrationGroup:
        """The row of one group."""
        return find_row(self.groups, "group", group)

    def __str__(self) -> str:
        header = ["group", "size", "ECE", "MCE", "Brier", "confidence", "accuracy"]
        rows = [
            [
                g.group,
                g.size,
                g.expected_calibration_error,
                g.maximum_calibration_error,
                g.brier_score,
                g.mean_confidence,
                g.accuracy,
            ]
            for g in self.groups
        ]
        o = self.overall
        rows.append(
            [
                "(all)",
                o.n_samples,
                o.expected_calibration_error,
                o.maximum_calibration_error,
                o.brier_score,
                o.mean_confidence,
                o.accuracy,
            ]
        )
        return format_table(header, rows)

    def __repr__(self) -> str:
        return (
            f"CalibrationByGroup(n_groups={len(self.groups)}, n_samples={self.overall.n_samples})"
        )


def _group_rows(owner: str, groups: Any, n: int) -> list[tuple[Any, np.ndarray]]:
    if groups is None or isinstance(groups, (str, bytes)):
        raise DataError(f"'groups' must be a sequence with one group label per row ({owner}).")
    values = groups.tolist() if hasattr(groups, "tolist") else list(groups)
    if len(values) != n:
        raise DataError(
            f"'groups' has {len(values)} entries but 'y_true' has {n}; pass exactly one "
            f"entry of 'groups' per entry of 'y_true'."
        )
    members: dict[Any, list[int]] = {}
    for i, value in enumerate(values):
        key = MISSING if is_missing(value) else value
        try:
            members.setdefault(key, []).append(i)
        except TypeError as exc:
            raise DataError(
                f"'groups[{i}]' = {value!r} cannot be a group label (it is not hashable)."
            ) from exc
    ordered = sorted(members.items(), key=lambda kv: (-len(kv[1]), label_text(kv[0])))
    return [(key, np.asarray(rows, dtype=np.int64)) for key, rows in ordered]


def _by_rows(
    prob: Probabilities,
    kind: str,
    named_rows: Sequence[tuple[Any, np.ndarray]],
    n_bins: int,
    strategy: str,
    min_size: int,
) -> CalibrationByGroup:
    out = []
    for name, rows in named_rows:
        if len(rows) < max(min_size, 1):
            continue
        curve = _curve(prob, rows, kind, n_bins, strategy)
        out.append(
            CalibrationGroup(
                group=name,
                size=len(rows),
                expected_calibration_error=curve.expected_calibration_error,
                maximum_calibration_error=curve.maximum_calibration_error,
                brier_score=curve.brier_score,
                mean_confidence=curve.mean_confidence,
                accuracy=curve.accuracy,
                curve=curve,
            )
        )
    overall = _curve(prob, np.arange(len(prob.true_index)), kind, n_bins, strategy)
    return CalibrationByGroup(groups=out, overall=overall)


def calibration_by_group(
    y_true: Any,
    y_prob: Any,
    groups: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    labels: Any = None,
    min_size: int = 1,
) -> CalibrationByGroup:
    """ECE, MCE, Brier score and reliability curve of every group of rows.

    ``groups`` holds one hashable label per row (a route, a model version, a cluster id);
    ``None`` and NaN form the group ``"(missing)"``. Groups come largest first; groups with
    fewer than ``min_size`` rows are left out. Classes are resolved once on all rows, so a
    group missing a class is still read against the same columns.

    Example:
        >>> r = calibration_by_group([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.4], ["a", "a", "b", "b"],
        ...                          n_bins=2)
        >>> [(g.group, round(g.expected_calibration_error, 2)) for g in r.groups]
        [('a', 0.15), ('b', 0.6)]
    """
    owner = "calibration_by_group"
    _check_bins(owner, n_bins, strategy)
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    prob, kind = _inputs(owner, y_true, y_prob, labels)
    named = _group_rows(owner, groups, len(prob.true_index))
    return _by_rows(prob, kind, named, n_bins, strategy, min_size)


def calibration_by_slice(
    report: AnalysisReport,
    y_true: Any,
    y_prob: Any,
    *,
    by: str = "slices",
    n_bins: int = 10,
    strategy: str = "uniform",
    labels: Any = None,
    min_size: int = 1,
) -> CalibrationByGroup:
    """Calibration of each failure slice of an :class:`~faultmap.AnalysisReport`.

    ``y_true`` and ``y_prob`` are row-aligned with the data the report was computed on
    (``slice.sample_indices`` index them). ``by="slices"`` gives one group per significant
    slice (named by the slice), then ``"(rest)"`` for the rows in no slice; ``by="clusters"``
    one group per cluster of ``report.cluster_labels`` (named by its slice when it is one,
    else ``"cluster <id>"``; noise is ``"(noise)"``), largest first. Rows the analysis left
    out because they could not be scored form the group ``"(unscored)"``.

    Example:
        >>> by_slice = calibration_by_slice(report, y_true, y_prob)  # doctest: +SKIP
        >>> print(by_slice)  # doctest: +SKIP
    """
    owner = "calibration_by_slice"
    _check_bins(owner, n_bins, strategy)
    check_param(owner, "by", by, Options(("slices", "clusters")))
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    prob, kind = _inputs(owner, y_true, y_prob, labels)
    n = len(prob.true_index)
    # cluster_labels covers every input row (-2 = left out unscored); total_prompts only the
    # analysed ones, so it is the row count only for reports without labels.
    cluster_labels = np.asarray(report.cluster_labels, dtype=np.int64)
    total = len(cluster_labels) if cluster_labels.size else report.total_prompts
    if total != n:
        raise DataError(
            f"The report covers {total} rows but 'y_true' has {n}; pass the labels and "
            f"probabilities of the rows the report was computed on, in the same order."
        )
    unscored = cluster_labels == UNSCORED_LABEL if cluster_labels.size else np.zeros(n, bool)
    slices = list(report.slices)
    if by == "clusters":
        if not cluster_labels.size:
            raise DataError(
                "The report has no cluster_labels (no clustering ran: no failures, or every "
                "row failed); use by='slices'."
            )
        slice_names = {s.cluster_id: s.name for s in slices}
        names = [
            UNSCORED
            if c == UNSCORED_LABEL
            else NOISE
            if c < 0
            else slice_names.get(c, f"cluster {c}")
            for c in cluster_labels.tolist()
        ]
        named = _group_rows(owner, names, n)
        return _by_rows(prob, kind, named, n_bins, strategy, min_size)
    named_rows: list[tuple[Any, np.ndarray]] = []
    in_slice = np.zeros(n, dtype=bool)
    seen: set[str] = set()
    for number, s in enumerate(slices, start=1):
        rows = np.asarray(s.sample_indices, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise DataError(
                f"Slice {s.name!r} holds row index {int(rows.max())}, outside the {n} rows of "
                f"'y_true'; pass the data the report was computed on."
            )
        name = s.name if s.name not in seen else f"{s.name} (#{number})"
        seen.add(name)
        in_slice[rows] = True
        named_rows.append((name, np.unique(rows)))
    rest = np.flatnonzero(~in_slice & ~unscored)
    if rest.size:
        named_rows.append((REST, rest))
    if unscored.any():
        named_rows.append((UNSCORED, np.flatnonzero(unscored)))
    logger.debug("calibration_by_slice: %d slices, %d rows in none", len(slices), rest.size)
    return _by_rows(prob, kind, named_rows, n_bins, strategy, min_size)
