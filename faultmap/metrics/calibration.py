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
largest gap over non-empty bins. Per-bin means come from ``calibration_curve`` and the
Brier score from :mod:`sklearn.metrics` (imported when a function is called); the bin counts,
empty bins, ECE, MCE, the top-label reading and the per-group views are this module's own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from faultmap._validation import Interval, Options, check_param
from faultmap.core.rows import LEFT_OUT
from faultmap.exceptions import DataError
from faultmap.metrics._checks import Probabilities, is_missing, resolve_probabilities
from faultmap.metrics._results import Result, find_row, format_table, label_text

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport

__all__ = [
    "STRATEGIES",
    "CalibrationByGroup",
    "CalibrationGroup",
    "Calibrator",
    "ReliabilityCurve",
    "brier_score",
    "calibration_by_group",
    "calibration_by_slice",
    "check_binning",
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
UNSCORED_LABEL = LEFT_OUT


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
    """Outcome of :func:`calibration_by_group`, :func:`calibration_by_slice` and (per column)
    :func:`faultmap.metrics.cohorts.calibration_by_cohort`: one :class:`CalibrationGroup` per
    group (in the order given by the function) and the curve of all rows together."""

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


# -- binning and curves ---------------------------------------------------------------------


def check_binning(owner: str, n_bins: int, strategy: str) -> None:
    """Raise :class:`~faultmap.exceptions.ConfigurationError` for a bad ``n_bins`` or
    ``strategy`` of ``owner``."""
    check_param(owner, "n_bins", n_bins, Interval(int, 1, None))
    check_param(owner, "strategy", strategy, Options(STRATEGIES))


def _brier(prob: Probabilities, rows: np.ndarray) -> float:
    from sklearn.metrics import brier_score_loss, mean_squared_error

    p, truth = prob.proba[rows], prob.true_index[rows]
    if p.shape[1] == 2:  # the usual [0, 1] form on the positive class
        return float(brier_score_loss((truth == 1).astype(np.int64), p[:, 1], pos_label=1))
    # Sum over classes of each column's squared error (brier_score_loss takes (n, k) only
    # from scikit-learn 1.7).
    onehot = (truth[:, None] == np.arange(p.shape[1])[None, :]).astype(np.float64)
    return float(np.sum(mean_squared_error(onehot, p, multioutput="raw_values")))


@dataclass(frozen=True)
class Calibrator:
    """Checked labels and probabilities (see :func:`resolve_probabilities`) with the binning:
    the reliability curve of all rows or of any subset, and per-group results. Shared by the
    per-group functions here and in :mod:`faultmap.metrics.cohorts`; the parameters are
    checked by the caller (:func:`check_binning`)."""

    prob: Probabilities
    n_bins: int
    strategy: str

    @classmethod
    def of(
        cls, owner: str, y_true: Any, y_prob: Any, *, n_bins: int, strategy: str, labels: Any
    ) -> Calibrator:
        """Check ``y_true`` and ``y_prob`` for ``owner`` and line up their classes."""
        prob = resolve_probabilities(owner, y_true, y_prob, labels=labels)
        return cls(prob, n_bins, strategy)

    @property
    def n_rows(self) -> int:
        return len(self.prob.true_index)

    @property
    def kind(self) -> str:
        return "positive_class" if self.prob.one_column else "top_label"

    def _confidence_outcome(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, truth = self.prob.proba[rows], self.prob.true_index[rows]
        if self.prob.one_column:
            return p[:, 1], (truth == 1).astype(np.int64)
        top = np.argmax(p, axis=1)
        return p[np.arange(len(rows)), top], (top == truth).astype(np.int64)

    def curve(self, rows: np.ndarray | None = None) -> ReliabilityCurve:
        """The reliability curve of ``rows`` (all rows when ``None``)."""
        from sklearn.calibration import calibration_curve

        rows = np.arange(self.n_rows) if rows is None else rows
        confidence, outcome = self._confidence_outcome(rows)
        n_bins = self.n_bins
        if self.strategy == "quantile":  # calibration_curve's edges, to count its bins
            edges = np.percentile(confidence, np.linspace(0.0, 1.0, n_bins + 1) * 100)
        else:
            edges = np.linspace(0.0, 1.0, n_bins + 1)
        count = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=n_bins)
        filled = count > 0
        accuracy, mean_conf = calibration_curve(
            outcome, confidence, pos_label=1, n_bins=n_bins, strategy=self.strategy
        )
        bin_conf, bin_acc = np.full(n_bins, np.nan), np.full(n_bins, np.nan)
        bin_conf[filled], bin_acc[filled] = mean_conf, accuracy
        gaps = np.abs(accuracy - mean_conf)
        return ReliabilityCurve(
            kind=self.kind,
            strategy=self.strategy,
            n_bins=n_bins,
            n_samples=len(rows),
            bin_edges=[float(e) for e in edges],
            bin_count=[int(c) for c in count],
            bin_confidence=[float(c) for c in bin_conf],
            bin_accuracy=[float(a) for a in bin_acc],
            expected_calibration_error=float(np.sum(gaps * count[filled]) / len(rows)),
            maximum_calibration_error=float(gaps.max()),
            brier_score=_brier(self.prob, rows),
            mean_confidence=float(confidence.mean()),
            accuracy=float(outcome.mean()),
        )

    def by_groups(
        self, named_rows: Sequence[tuple[Any, np.ndarray]], min_size: int
    ) -> CalibrationByGroup:
        """One :class:`CalibrationGroup` per ``(name, row indices)`` of at least ``min_size``
        rows, in the given order, and the curve of all rows."""
        out = []
        for name, rows in named_rows:
            if len(rows) < max(min_size, 1):
                continue
            curve = self.curve(rows)
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
        return CalibrationByGroup(groups=out, overall=self.curve())


def _whole_curve(
    owner: str, y_true: Any, y_prob: Any, n_bins: int, strategy: str, labels: Any
) -> ReliabilityCurve:
    check_binning(owner, n_bins, strategy)
    return Calibrator.of(
        owner, y_true, y_prob, n_bins=n_bins, strategy=strategy, labels=labels
    ).curve()


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
    prob = resolve_probabilities("brier_score", y_true, y_prob, labels=labels)
    return _brier(prob, np.arange(len(prob.true_index)))


# -- per group ----------------------------------------------------------------------------


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
    check_binning(owner, n_bins, strategy)
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    cal = Calibrator.of(owner, y_true, y_prob, n_bins=n_bins, strategy=strategy, labels=labels)
    return cal.by_groups(_group_rows(owner, groups, cal.n_rows), min_size)


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
    check_binning(owner, n_bins, strategy)
    check_param(owner, "by", by, Options(("slices", "clusters")))
    check_param(owner, "min_size", min_size, Interval(int, 1, None))
    cal = Calibrator.of(owner, y_true, y_prob, n_bins=n_bins, strategy=strategy, labels=labels)
    n = cal.n_rows
    # report.rows knows the input rows (older reports: cluster_labels covers them, left-out
    # rows labelled LEFT_OUT); total_prompts counts only the analysed ones.
    if by == "slices":
        report.require_row_lists("calibration_by_slice(by='slices')")
    cluster_labels = np.asarray(report.label_array(), dtype=np.int64)
    rows = report.rows
    if rows is not None:
        total = rows.total
    else:
        total = len(cluster_labels) if cluster_labels.size else report.total_prompts
    if total != n:
        raise DataError(
            f"The report covers {total} rows but 'y_true' has {n}; pass the labels and "
            f"probabilities of the rows the report was computed on, in the same order."
        )
    if rows is not None:
        unscored = np.ones(n, dtype=bool)
        unscored[rows.analysed] = False
    else:
        unscored = cluster_labels == LEFT_OUT if cluster_labels.size else np.zeros(n, bool)
    slices = list(report.slices)
    if by == "clusters":
        if not cluster_labels.size:
            raise DataError(
                "The report has no cluster_labels (no clustering ran: no failures, or every "
                "row failed); use by='slices'."
            )
        slice_names = {s.cluster_id: s.name for s in slices}
        names = [
            UNSCORED if c == LEFT_OUT else NOISE if c < 0 else slice_names.get(c, f"cluster {c}")
            for c in cluster_labels.tolist()
        ]
        return cal.by_groups(_group_rows(owner, names, n), min_size)
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
    return cal.by_groups(named_rows, min_size)
