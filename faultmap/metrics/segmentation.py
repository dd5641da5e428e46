"""Segmentation overlap: intersection over union, Dice coefficient, pixel accuracy.

Masks are integer arrays of any shape (``y_true`` and ``y_pred`` the same shape).
``num_classes=None`` means binary masks (0 = background, 1 = foreground; booleans too) and
the score is the foreground class's. ``num_classes=k`` means labels ``0 .. k-1``, one score
per class, averaged with ``average``: ``"macro"`` (mean over the classes that occur in
either mask: a class absent from both has no overlap to score, NaN in the per-class
array), ``"micro"`` (pooled counts), ``"weighted"`` (weighted by true pixel count) or
``None`` (the per-class array). ``ignore_index`` drops the pixels whose true label is that
value (e.g. 255 for "void"). Binary masks with no foreground in either score 0.0, as
scikit-learn's ``jaccard_score`` and ``f1_score`` with ``zero_division=0``, which compute
the scores (on the flattened masks; imported when a function is called).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faultmap._validation import Interval, Options, check_param
from faultmap.exceptions import DataError
from faultmap.metrics._checks import as_label_array

__all__ = ["dice_coefficient", "iou", "pixel_accuracy"]

_SEG_AVERAGES = ("micro", "macro", "weighted")


def _masks(
    owner: str, y_true: Any, y_pred: Any, num_classes: int | None, ignore_index: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Flattened integer masks (ignored pixels dropped) and the number of classes."""
    check_param(owner, "num_classes", num_classes, Interval(int, 2, None), None)
    check_param(owner, "ignore_index", ignore_index, Interval(int), None)
    masks = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        arr = as_label_array(name, values, ndim=None)
        if arr.dtype.kind in "US":
            raise DataError(f"'{name}' must be an integer mask; got text labels.")
        if arr.dtype.kind == "f":
            if not np.all(arr == np.round(arr)):
                raise DataError(f"'{name}' must hold integer class labels; got fractions.")
            arr = arr.astype(np.int64)
        masks.append(arr.astype(np.int64))
    t, p = masks
    if t.shape != p.shape:
        raise DataError(
            f"'y_true' has shape {t.shape} but 'y_pred' has shape {p.shape}; the masks must "
            f"have the same shape."
        )
    t, p = t.ravel(), p.ravel()
    if ignore_index is not None:
        keep = t != ignore_index
        t, p = t[keep], p[keep]
        if t.size == 0:
            raise DataError(f"Every pixel of 'y_true' is ignore_index={ignore_index}.")
    k = 2 if num_classes is None else num_classes
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = np.flatnonzero((arr < 0) | (arr >= k))
        if bad.size:
            value = int(arr[bad[0]])
            if num_classes is None:
                raise DataError(
                    f"'{name}' holds label {value} but binary masks hold only 0 and 1; pass "
                    f"num_classes=<number of classes> for multiclass masks."
                )
            raise DataError(
                f"'{name}' holds label {value}, outside num_classes={num_classes} (labels "
                f"0..{num_classes - 1}); {bad.size} pixel(s) are outside."
            )
    return t, p, k


def _overlap(
    owner: str,
    y_true: Any,
    y_pred: Any,
    num_classes: int | None,
    average: str | None,
    ignore_index: int | None,
    dice: bool,
) -> float | np.ndarray:
    from sklearn import metrics as skm

    check_param(owner, "average", average, Options(_SEG_AVERAGES), None)
    t, p, k = _masks(owner, y_true, y_pred, num_classes, ignore_index)
    score = skm.f1_score if dice else skm.jaccard_score
    if num_classes is None:
        return float(score(t, p, average="binary", pos_label=1, zero_division=0))
    # A class absent from both masks has no overlap to score: left out of "macro", NaN per class.
    present = np.bincount(t, minlength=k) + np.bincount(p, minlength=k) > 0
    if average == "macro":
        labels = np.flatnonzero(present)
        return float(score(t, p, labels=labels, average="macro", zero_division=0))
    value = score(t, p, labels=np.arange(k), average=average, zero_division=0)
    if average is None:
        return np.where(present, value, np.nan)
    return float(value)


def iou(
    y_true: Any,
    y_pred: Any,
    *,
    num_classes: int | None = None,
    average: str | None = "macro",
    ignore_index: int | None = None,
) -> float | np.ndarray:
    """Intersection over union (Jaccard index) ``tp / (tp + fp + fn)`` per class.

    Binary masks (``num_classes=None``) give the foreground IoU; multiclass masks the
    ``average`` of the per-class IoUs (see the module docstring).

    Example:
        >>> iou([[0, 1], [1, 1]], [[0, 1], [0, 1]])
        0.6666666666666666
        >>> iou([0, 1, 2, 2], [0, 2, 2, 2], num_classes=4, average=None).tolist()
        [1.0, 0.0, 0.6666666666666666, nan]
    """
    return _overlap("iou", y_true, y_pred, num_classes, average, ignore_index, dice=False)


def dice_coefficient(
    y_true: Any,
    y_pred: Any,
    *,
    num_classes: int | None = None,
    average: str | None = "macro",
    ignore_index: int | None = None,
) -> float | np.ndarray:
    """Dice coefficient (F1 of the pixels) ``2 tp / (2 tp + fp + fn)`` per class.

    Example:
        >>> dice_coefficient([[0, 1], [1, 1]], [[0, 1], [0, 1]])
        0.8
    """
    return _overlap(
        "dice_coefficient", y_true, y_pred, num_classes, average, ignore_index, dice=True
    )


def pixel_accuracy(
    y_true: Any,
    y_pred: Any,
    *,
    num_classes: int | None = None,
    ignore_index: int | None = None,
) -> float:
    """Share of (non-ignored) pixels whose predicted label is the true one.

    Example:
        >>> pixel_accuracy([[0, 1], [1, 1]], [[0, 1], [0, 1]])
        0.75
    """
    from sklearn.metrics import accuracy_score

    t, p, _ = _masks("pixel_accuracy", y_true, y_pred, num_classes, ignore_index)
    return float(accuracy_score(t, p))
