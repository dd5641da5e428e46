"""Classification metrics: confusion matrix, per-class rates and their averages, agreement,
and a per-class report with the most-confused pairs. The ranking and probabilistic losses
(:func:`roc_auc`, :func:`log_loss`) are in :mod:`faultmap.metrics.ranking` and importable
from here too.

The values come from :mod:`sklearn.metrics` (imported when a function is called); this
module checks and encodes the labels first, so errors are :class:`DataError` naming the bad
entry, and it adds what scikit-learn lacks: specificity and the report's confused pairs.

Conventions, as in scikit-learn: ``y_true`` first; labels may be numbers or strings; the
classes are ``labels`` (in that order) when given, else the sorted union of the labels seen.
A rate whose denominator is 0 is 0.0 (scikit-learn's ``zero_division=0``), without warning.
``average`` is ``"binary"`` (the ``pos_label`` class only; the default, an error for more
than two classes), ``"micro"`` (pooled counts), ``"macro"`` (unweighted mean over classes),
``"weighted"`` (mean weighted by each class's support in ``y_true``) or ``None`` (one value
per class, in class order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from faultmap._validation import Interval, Options, check_param
from faultmap.metrics._checks import AVERAGES, check_average
from faultmap.metrics._encoding import (
    divide,
    encode_pair,
    one_class,
    one_vs_rest_specificity,
    with_pos_label,
)
from faultmap.metrics._results import Result, find_row, format_table, label_text
from faultmap.metrics.ranking import log_loss, roc_auc

__all__ = [
    "ClassMetrics",
    "ClassificationReport",
    "ConfusedPair",
    "accuracy",
    "balanced_accuracy",
    "classification_report",
    "cohen_kappa",
    "confusion_frame",
    "confusion_matrix",
    "f1_score",
    "log_loss",
    "matthews_corrcoef",
    "precision",
    "recall",
    "roc_auc",
    "sensitivity",
    "specificity",
]

# -- rate plumbing -------------------------------------------------------------------------


def _averaged(
    owner: str,
    metric: str,
    y_true: Any,
    y_pred: Any,
    labels: Any,
    pos_label: Any,
    average: str | None,
) -> float | np.ndarray:
    check_average(owner, average, allowed=(*AVERAGES, None))
    enc = encode_pair(owner, y_true, y_pred, labels)
    pos = None
    if average == "binary":
        enc, pos = with_pos_label(owner, enc, pos_label)
    if metric == "specificity":
        return one_vs_rest_specificity(enc.matrix(), average, pos)
    from sklearn import metrics as skm

    score = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}
    if average == "binary":
        kwargs: dict[str, Any] = {"average": "binary", "pos_label": pos}
    else:
        kwargs = {"average": average, "labels": enc.indices}
    value = score[metric](enc.true_index, enc.pred_index, zero_division=0, **kwargs)
    return value if average is None else float(value)


# -- confusion matrix and rates ------------------------------------------------------------


def confusion_matrix(
    y_true: Any, y_pred: Any, *, labels: Any = None, normalize: str | None = None
) -> np.ndarray:
    """Counts of (true, predicted) pairs: row i is true class i, column j predicted class j.

    ``normalize="true"`` divides each row by its sum, ``"pred"`` each column, ``"all"`` the
    whole matrix; an all-zero row or column stays 0. Classes are ``labels`` in that order, or
    the sorted labels seen.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    check_param("confusion_matrix", "normalize", normalize, Options(("true", "pred", "all")), None)
    return encode_pair("confusion_matrix", y_true, y_pred, labels).matrix(normalize)


def confusion_frame(
    y_true: Any, y_pred: Any, *, labels: Any = None, normalize: str | None = None
) -> Any:
    """:func:`confusion_matrix` as a labelled pandas DataFrame: the index (named "true") and
    the columns (named "predicted") are the classes, in the matrix's order. Needs pandas
    (``pip install 'faultmap[io]'``).

    Example:
        >>> confusion_frame(["cat", "dog", "dog"], ["cat", "cat", "dog"]).loc["dog", "cat"]
        np.int64(1)
    """
    from faultmap._optional import require

    pd = require("pandas", extra="io", purpose="confusion_frame")
    check_param("confusion_frame", "normalize", normalize, Options(("true", "pred", "all")), None)
    enc = encode_pair("confusion_frame", y_true, y_pred, labels)
    classes = [c.item() if hasattr(c, "item") else c for c in enc.classes]
    return pd.DataFrame(
        enc.matrix(normalize),
        index=pd.Index(classes, name="true"),
        columns=pd.Index(classes, name="predicted"),
    )


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of samples whose prediction equals the true label.

    Example:
        >>> accuracy(["a", "b", "b"], ["a", "b", "a"])
        0.6666666666666666
    """
    from sklearn import metrics as skm

    enc = encode_pair("accuracy", y_true, y_pred)
    return float(skm.accuracy_score(enc.true_index, enc.pred_index))


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean recall over the classes present in ``y_true`` (classes only predicted are left out,
    as in scikit-learn).

    Example:
        >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
        0.5
    """
    from sklearn import metrics as skm

    enc = encode_pair("balanced_accuracy", y_true, y_pred)
    # balanced_accuracy_score's own definition, without its warning for classes only predicted
    present = np.unique(enc.true_index)
    return float(
        skm.recall_score(
            enc.true_index, enc.pred_index, labels=present, average="macro", zero_division=0
        )
    )


class _RateMetric(Protocol):
    """Signature shared by :func:`precision`, :func:`recall`, :func:`sensitivity`,
    :func:`specificity` and :func:`f1_score`."""

    def __call__(
        self,
        y_true: Any,
        y_pred: Any,
        *,
        average: str | None = "binary",
        pos_label: Any = 1,
        labels: Any = None,
    ) -> float | np.ndarray: ...


def _rate_metric(name: str, metric: str, doc: str) -> _RateMetric:
    """A public per-class rate function named ``name`` computing ``_RATES[metric]``."""

    def rate(
        y_true: Any,
        y_pred: Any,
        *,
        average: str | None = "binary",
        pos_label: Any = 1,
        labels: Any = None,
    ) -> float | np.ndarray:
        return _averaged(name, metric, y_true, y_pred, labels, pos_label, average)

    rate.__name__ = rate.__qualname__ = name
    rate.__doc__ = doc
    return rate


precision = _rate_metric(
    "precision",
    "precision",
    """Precision ``tp / (tp + fp)``: of the samples predicted as a class, the share that are.

    Example:
        >>> precision([0, 1, 1, 0], [1, 1, 1, 0])
        0.6666666666666666
        >>> precision(["a", "b", "c"], ["a", "b", "b"], average=None).tolist()
        [1.0, 0.5, 0.0]
    """,
)

recall = _rate_metric(
    "recall",
    "recall",
    """Recall (sensitivity, true-positive rate) ``tp / (tp + fn)``: of the samples of a class,
    the share predicted as it.

    Example:
        >>> recall([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
    """,
)

sensitivity = _rate_metric(
    "sensitivity",
    "recall",
    """Sensitivity: another name for :func:`recall`.

    Example:
        >>> sensitivity([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
    """,
)

specificity = _rate_metric(
    "specificity",
    "specificity",
    """Specificity (true-negative rate) ``tn / (tn + fp)``: of the samples *not* of a class,
    the share not predicted as it. For more than two classes each class is taken one against
    the rest; ``"weighted"`` weights by each class's support in ``y_true``, ``"micro"`` pools
    the one-against-rest counts.

    Example:
        >>> specificity([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
    """,
)

f1_score = _rate_metric(
    "f1_score",
    "f1",
    """F1, the harmonic mean of precision and recall: ``2 tp / (2 tp + fp + fn)``.

    Example:
        >>> f1_score([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
    """,
)


def matthews_corrcoef(y_true: Any, y_pred: Any) -> float:
    """Matthews correlation coefficient (Gorodkin's multiclass form, as in scikit-learn), in
    [-1, 1]; 0.0 when it is undefined (only one class in ``y_true`` or in ``y_pred``).

    Example:
        >>> matthews_corrcoef([0, 1, 1, 0], [0, 1, 1, 1])
        0.5773502691896258
    """
    from sklearn import metrics as skm

    enc = encode_pair("matthews_corrcoef", y_true, y_pred)
    if one_class(enc):
        return 0.0  # undefined; spares scikit-learn's single-label warning
    return float(skm.matthews_corrcoef(enc.true_index, enc.pred_index))


def cohen_kappa(
    y_true: Any, y_pred: Any, *, weights: str | None = None, labels: Any = None
) -> float:
    """Cohen's kappa: agreement beyond chance, ``1 - observed / expected`` disagreement.

    ``weights="linear"`` or ``"quadratic"`` charge a disagreement by its distance in class
    order (for ordinal classes). 0.0 when chance agreement is already perfect (every label in
    both arrays is the same class), where kappa is undefined.

    Example:
        >>> round(cohen_kappa([0, 1, 1, 0], [0, 1, 1, 1]), 3)
        0.5
    """
    from sklearn import metrics as skm

    check_param("cohen_kappa", "weights", weights, Options(("linear", "quadratic")), None)
    enc = encode_pair("cohen_kappa", y_true, y_pred, labels)
    if one_class(enc):
        return 0.0  # undefined: scikit-learn would warn and return NaN
    return float(
        skm.cohen_kappa_score(enc.true_index, enc.pred_index, labels=enc.indices, weights=weights)
    )


# -- per-class report ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClassMetrics(Result):
    """One class's row of a :class:`ClassificationReport`. ``support`` counts true samples of
    the class, ``predicted`` the samples predicted as it."""

    label: Any
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float
    specificity: float


@dataclass(frozen=True)
class ConfusedPair(Result):
    """``count`` samples of class ``true_label`` were predicted as ``predicted_label``;
    ``share`` is that count over the true class's support."""

    true_label: Any
    predicted_label: Any
    count: int
    share: float


@dataclass(frozen=True)
class ClassificationReport(Result):
    """Per-class table (support, precision, recall, F1, specificity), overall accuracy,
    macro and support-weighted averages, and the most-confused (true, predicted) pairs
    ranked by count. ``confusion_matrix[i][j]`` counts true ``labels[i]`` predicted as
    ``labels[j]``.
    """

    labels: list[Any]
    classes: list[ClassMetrics]
    n_samples: int
    accuracy: float
    balanced_accuracy: float
    macro: dict[str, float]
    weighted: dict[str, float]
    confused_pairs: list[ConfusedPair]
    confusion_matrix: list[list[int]] = field(default_factory=list)

    def for_label(self, label: Any) -> ClassMetrics:
        """The row of one class."""
        return find_row(self.classes, "label", label)

    def __str__(self) -> str:
        header = ["class", "support", "precision", "recall", "f1", "specificity"]
        rows: list[list[Any]] = [
            [c.label, c.support, c.precision, c.recall, c.f1, c.specificity] for c in self.classes
        ]
        for name, avg in (("macro avg", self.macro), ("weighted avg", self.weighted)):
            rows.append([name, self.n_samples, *(avg[m] for m in header[2:])])
        lines = [
            format_table(header, rows),
            "",
            f"accuracy {self.accuracy:.3f}  balanced accuracy {self.balanced_accuracy:.3f}  "
            f"({self.n_samples} samples)",
        ]
        if self.confused_pairs:
            lines += ["", "Most confused (true -> predicted):"]
            lines += [
                f"  {label_text(p.true_label)} -> {label_text(p.predicted_label)}: {p.count} "
                f"({100 * p.share:.1f}% of {label_text(p.true_label)})"
                for p in self.confused_pairs
            ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ClassificationReport(n_classes={len(self.classes)}, n_samples={self.n_samples}, "
            f"accuracy={self.accuracy:.3f})"
        )


def classification_report(
    y_true: Any, y_pred: Any, *, labels: Any = None, top_confusions: int = 10
) -> ClassificationReport:
    """Per-class support, precision, recall, F1 and specificity, with the ``top_confusions``
    most frequent (true, predicted) mistakes, largest count first (ties: larger share of the
    true class, then class order).

    Example:
        >>> r = classification_report(["a", "a", "b", "c"], ["a", "b", "b", "b"])
        >>> r.for_label("b").precision, (r.confused_pairs[0].true_label, r.confused_pairs[0].count)
        (0.3333333333333333, ('c', 1))
    """
    from sklearn import metrics as skm

    check_param("classification_report", "top_confusions", top_confusions, Interval(int, 0, None))
    enc = encode_pair("classification_report", y_true, y_pred, labels)
    cm = enc.matrix()
    p, r, f1, support = skm.precision_recall_fscore_support(
        enc.true_index, enc.pred_index, labels=enc.indices, zero_division=0
    )
    rates = {
        "precision": p,
        "recall": r,
        "f1": f1,
        "specificity": one_vs_rest_specificity(cm, None, None),
    }
    names = [c.item() for c in enc.classes]
    predicted = cm.sum(axis=0)
    classes = [
        ClassMetrics(
            label=names[c],
            support=int(support[c]),
            predicted=int(predicted[c]),
            precision=float(p[c]),
            recall=float(r[c]),
            f1=float(f1[c]),
            specificity=float(rates["specificity"][c]),
        )
        for c in range(enc.k)
    ]
    macro = {m: float(v.mean()) for m, v in rates.items()}
    weighted = {m: float(np.average(v, weights=support)) for m, v in rates.items()}
    share = divide(cm, support[:, None] * np.ones_like(cm))
    i, j = np.nonzero(cm * (1 - np.eye(enc.k, dtype=np.int64)))
    order = np.lexsort((j, i, -share[i, j], -cm[i, j]))[:top_confusions]
    pairs = [
        ConfusedPair(names[i[o]], names[j[o]], int(cm[i[o], j[o]]), float(share[i[o], j[o]]))
        for o in order
    ]
    return ClassificationReport(
        labels=names,
        classes=classes,
        n_samples=int(cm.sum()),
        accuracy=float(skm.accuracy_score(enc.true_index, enc.pred_index)),
        balanced_accuracy=float(np.mean(r[support > 0])),
        macro=macro,
        weighted=weighted,
        confused_pairs=pairs,
        confusion_matrix=cm.tolist(),
    )
