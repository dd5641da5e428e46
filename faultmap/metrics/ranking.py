"""Ranking and probabilistic metrics: ROC AUC and log loss, from scores or probabilities
rather than hard predictions.

As in :mod:`faultmap.metrics.classification`, the values come from :mod:`sklearn.metrics`
(imported when a function is called) after the labels and the score or probability columns
are checked, so errors are :class:`DataError` naming the bad entry. Probability columns
follow ``labels`` when given, else the sorted classes of ``y_true``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faultmap._validation import Options, check_param, check_same_length
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.metrics._checks import (
    as_label_array,
    binary_classes,
    check_average,
    encode,
    resolve_classes,
    resolve_probabilities,
)

__all__ = ["log_loss", "roc_auc"]


def roc_auc(
    y_true: Any,
    y_score: Any,
    *,
    average: str | None = "macro",
    multi_class: str = "ovr",
    labels: Any = None,
) -> float | np.ndarray:
    """Area under the ROC curve.

    Binary: ``y_score`` of shape (n,) holds a score for the positive class (the greater of the
    two labels; any real numbers, higher = more positive) or (n, 2) probabilities.
    Multiclass: ``y_score`` is (n, k) probabilities; ``multi_class="ovr"`` scores each class
    against the rest (``average`` "macro", "weighted" by prevalence, "micro" on the pooled
    one-hot entries, or None per class); ``"ovo"`` averages Hand & Till's pairwise AUCs
    ("macro" or "weighted" by the pair's prevalence). Every class must occur in ``y_true``:
    with one class only, ROC AUC is undefined and a :class:`DataError` says so.

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    owner = "roc_auc"
    check_param(owner, "multi_class", multi_class, Options(("ovr", "ovo")))
    check_average(owner, average, allowed=("micro", "macro", "weighted", None))
    yt = as_label_array("y_true", y_true)
    if isinstance(y_score, (str, bytes)) or y_score is None:
        raise DataError("'y_score' must be an array of scores.")
    raw = np.asarray(y_score.to_numpy() if hasattr(y_score, "to_numpy") else y_score)
    one_column = raw.ndim == 1 or (raw.ndim == 2 and raw.shape[1] == 1)
    if one_column:
        try:
            score = raw.astype(np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise DataError(f"'y_score' must contain only numbers ({exc}).") from exc
        check_same_length(("y_true", yt), ("y_score", score))
        bad = np.flatnonzero(~np.isfinite(score))
        if bad.size:
            raise DataError(f"'y_score' has NaN or infinite values, first at index {bad[0]}.")
        classes = binary_classes(owner, resolve_classes(owner, ("y_true", yt)), labels)
        true_index = encode("y_true", yt, classes)
    else:
        prob = resolve_probabilities(owner, yt, raw, labels=labels)
        classes, true_index = prob.classes, prob.true_index
        score = prob.proba[:, 1] if len(classes) == 2 else prob.proba
    support = np.bincount(true_index, minlength=len(classes))
    if len(classes) == 2 and np.any(support == 0):
        raise DataError(
            f"ROC AUC is undefined when y_true holds only one class "
            f"({classes[true_index[0]].item()!r}); it needs positives and negatives."
        )
    if np.any(support == 0):
        missing = [c.item() for c in classes[support == 0]]
        raise DataError(
            f"ROC AUC is undefined for classes absent from y_true: {missing}; every class "
            f"(column of y_score) needs at least one true sample."
        )
    if len(classes) > 2 and multi_class == "ovo" and average not in ("macro", "weighted"):
        raise ConfigurationError(
            f"The 'average' parameter of roc_auc must be 'macro' or 'weighted' when "
            f"multi_class='ovo'. Got {average!r}."
        )
    from sklearn import metrics as skm

    if len(classes) == 2:
        return float(skm.roc_auc_score(true_index, score))
    value = skm.roc_auc_score(
        true_index,
        score,
        average=average,
        multi_class=multi_class,
        labels=np.arange(len(classes)),
    )
    return value if average is None else float(value)


def log_loss(y_true: Any, y_prob: Any, *, labels: Any = None) -> float:
    """Mean negative log-likelihood of the true class (natural log).

    Probabilities are clipped to ``[eps, 1 - eps]`` (float64 machine epsilon, as in
    scikit-learn), so a confident mistake costs about 36, not infinity. ``y_prob`` of shape
    (n,) is the positive class's probability; (n, k) columns follow ``labels`` or the sorted
    classes; rows within the tolerance of summing to 1 are rescaled to sum to 1.

    Example:
        >>> round(log_loss([0, 1, 1], [0.1, 0.9, 0.8]), 4)
        0.1446
    """
    from sklearn import metrics as skm

    prob = resolve_probabilities("log_loss", y_true, y_prob, labels=labels)
    proba = prob.proba / prob.proba.sum(axis=1, keepdims=True)
    return float(skm.log_loss(prob.true_index, proba, labels=np.arange(len(prob.classes))))
