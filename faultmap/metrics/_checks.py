"""Input checks shared by the metrics: label arrays, lengths, class sets, probabilities.

Bad data raises :class:`~faultmap.exceptions.DataError`, bad parameters
:class:`~faultmap.exceptions.ConfigurationError`; both are ``ValueError``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._validation import Options, check_param, check_same_length, is_missing
from faultmap.exceptions import ConfigurationError, DataError

__all__ = [
    "AVERAGES",
    "ROW_SUM_TOLERANCE",
    "Probabilities",
    "as_label_array",
    "as_outcomes",
    "as_probabilities",
    "binary_classes",
    "check_average",
    "encode",
    "is_missing",
    "resolve_classes",
    "resolve_probabilities",
]

#: How far a row of class probabilities may sum from 1.
ROW_SUM_TOLERANCE = 1e-6

#: Averages of per-class scores; ``None`` returns the per-class array.
AVERAGES = ("binary", "micro", "macro", "weighted")


def _label_family(arr: np.ndarray) -> str:
    return "text" if arr.dtype.kind in "US" else "numeric"


def _from_objects(name: str, arr: np.ndarray) -> np.ndarray:
    """Turn an object array into a text or numeric array, or say which entry is bad."""
    flat = arr.ravel()
    first_text = first_number = None
    for i, v in enumerate(flat):
        if isinstance(v, str):
            first_text = i if first_text is None else first_text
        elif isinstance(v, (numbers.Real, np.bool_)) and v == v:
            first_number = i if first_number is None else first_number
        else:
            raise DataError(
                f"'{name}[{i}]' is {v!r} ({type(v).__name__}); labels must be numbers or "
                f"strings, with no missing values."
            )
        if first_text is not None and first_number is not None:
            raise DataError(
                f"'{name}' mixes strings ('{name}[{first_text}]' = {flat[first_text]!r}) and "
                f"numbers ('{name}[{first_number}]' = {flat[first_number]!r}); use one type "
                f"for all labels."
            )
    if first_text is not None:
        return arr.astype(str)
    return np.asarray(flat.tolist()).reshape(arr.shape)


def as_label_array(name: str, values: Any, *, ndim: int | None = 1) -> np.ndarray:
    """Return class labels as a numpy array (numbers or strings) or raise :class:`DataError`.

    ``ndim=None`` accepts any shape (segmentation masks).

    Example:
        >>> as_label_array("y_true", ["cat", "dog"]).tolist()
        ['cat', 'dog']
    """
    if values is None:
        raise DataError(f"'{name}' is required but got None.")
    if isinstance(values, (str, bytes)):
        raise DataError(f"'{name}' must be a sequence of labels, not a single string.")
    if hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{name}' could not be read as an array of labels ({exc}).") from exc
    if arr.dtype.kind == "O":
        arr = _from_objects(name, arr)
    elif arr.dtype.kind in "US" and not isinstance(values, np.ndarray):
        # np.asarray([1, "a"]) silently turns numbers into text
        _from_objects(name, np.asarray(values, dtype=object))
    if arr.dtype.kind not in "biufUS":
        raise DataError(f"'{name}' must hold numbers or strings; got dtype {arr.dtype}.")
    if ndim is not None and arr.ndim != ndim:
        raise DataError(f"'{name}' must be one-dimensional; got shape {arr.shape}.")
    if arr.size == 0:
        raise DataError(f"'{name}' is empty; pass at least one label.")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))
        if bad.size:
            raise DataError(
                f"'{name}' contains {bad.size} NaN or infinite value(s), first at flat index "
                f"{int(bad[0])}; drop those rows or give them a label."
            )
    return arr


def as_outcomes(name: str, values: Any, n: int | None = None, *, of: str = "rows") -> np.ndarray:
    """A 0/1 (or bool) per row as a bool array (True = the event, e.g. a failure).

    Example:
        >>> as_outcomes("failures", [1, 0, True]).tolist()
        [True, False, True]
    """
    arr = as_label_array(name, values)
    if arr.dtype.kind in "US":
        raise DataError(f"'{name}' must hold 0/1 or True/False per row; got text.")
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"'{name}' must hold 0/1 or True/False per row; '{name}[{i}]' = {arr[i].item()!r}. "
            f"For scores, threshold them first, e.g. scores < 0.5."
        )
    if n is not None and len(arr) != n:
        raise DataError(
            f"'{name}' has {len(arr)} entries but there are {n} {of}; pass exactly one "
            f"entry of '{name}' per row."
        )
    return arr.astype(bool)


def _check_family(named: Sequence[tuple[str, np.ndarray]]) -> None:
    families = [(name, _label_family(a)) for name, a in named]
    for name, family in families[1:]:
        if family != families[0][1]:
            raise DataError(
                f"'{families[0][0]}' holds {families[0][1]} labels but '{name}' holds {family} "
                f"labels; use one type for all labels."
            )


def encode(name: str, values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Index of each value in ``classes`` (any order), or :class:`DataError` for a stranger.

    Example:
        >>> encode("y_true", np.array(["b", "a"]), np.array(["b", "a"])).tolist()
        [0, 1]
    """
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    pos = np.clip(np.searchsorted(ordered, values), 0, len(classes) - 1)
    bad = np.flatnonzero(ordered[pos] != values)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"'{name}[{i}]' = {values[i].item()!r} is not one of the labels "
            f"{[c.item() for c in classes]}; add it to 'labels' or drop that row."
        )
    return order[pos]


def resolve_classes(
    owner: str, *named: tuple[str, np.ndarray | None], labels: Any = None
) -> np.ndarray:
    """The classes: ``labels`` in the given order, else the sorted union of the arrays' values.

    Every value must be one of ``labels`` when they are given.

    Example:
        >>> y_true, y_pred = np.array([2, 0]), np.array([1, 1])
        >>> resolve_classes("f", ("y_true", y_true), ("y_pred", y_pred)).tolist()
        [0, 1, 2]
    """
    present = [(n, a) for n, a in named if a is not None]
    if labels is not None:
        classes = as_label_array("labels", labels)
        _check_family([("labels", classes), *present])
        if len(np.unique(classes)) != len(classes):
            raise ConfigurationError(
                f"The 'labels' parameter of {owner} must not repeat a label. "
                f"Got {classes.tolist()!r}."
            )
        for name, arr in present:
            encode(name, arr, classes)
        return classes
    _check_family(present)
    return np.unique(np.concatenate([a.ravel() for _, a in present]))


def binary_classes(owner: str, present: np.ndarray, labels: Any = None) -> np.ndarray:
    """``[negative, positive]`` for probabilities of shape (n,) (the positive class's).

    From ``labels`` (two of them) when given; else the two sorted labels present; when only
    one label is present it must be 0/1 (or False/True) and the pair is ``[0, 1]``.

    Example:
        >>> binary_classes("f", np.array([1, 1])).tolist()
        [0, 1]
    """
    if labels is not None:
        classes = resolve_classes(owner, ("y_true", present), labels=labels)
        if len(classes) != 2:
            raise ConfigurationError(
                f"The 'labels' parameter of {owner} must name exactly two classes "
                f"[negative, positive] when 'y_prob' has one column. Got {classes.tolist()!r}."
            )
        return classes
    classes = np.unique(present)
    if len(classes) == 2:
        return classes
    if len(classes) > 2:
        raise DataError(
            f"'y_prob' has one column (the positive class's probability) but the labels are "
            f"multiclass: {classes.tolist()}; pass an (n, {len(classes)}) probability array."
        )
    if classes.dtype.kind in "biuf" and classes[0] in (0, 1):
        return np.array([0, 1], dtype=classes.dtype)
    raise DataError(
        f"Only one label ({classes[0].item()!r}) is present and 'y_prob' has one column; "
        f"pass labels=[negative, positive] so the positive class is known."
    )


def as_probabilities(name: str, values: Any, n: int) -> np.ndarray:
    """Probabilities as float64, shape (n,) or (n, k) with k >= 2 (an (n, 1) array becomes (n,)).

    Every value must lie in [0, 1] and every row of an (n, k) array must sum to 1 within
    :data:`ROW_SUM_TOLERANCE`.

    Example:
        >>> as_probabilities("y_prob", [[0.2, 0.8]], 1).tolist()
        [[0.2, 0.8]]
    """
    if values is None:
        raise DataError(f"'{name}' is required but got None.")
    if isinstance(values, (str, bytes)):
        raise DataError(f"'{name}' must be an array of probabilities, not a string.")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{name}' must contain only numbers in [0, 1] ({exc}).") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2):
        raise DataError(f"'{name}' must have shape (n,) or (n, n_classes); got {arr.shape}.")
    if arr.shape[0] != n:
        raise DataError(
            f"'{name}' has {arr.shape[0]} rows but 'y_true' has {n}; pass one row per sample."
        )
    bad = np.flatnonzero(~np.isfinite(arr).reshape(n, -1).all(axis=1))
    if bad.size:
        raise DataError(
            f"'{name}' has NaN or infinite values in {bad.size} row(s), first row {int(bad[0])}."
        )
    outside = np.flatnonzero(((arr < 0) | (arr > 1)).reshape(n, -1).any(axis=1))
    if outside.size:
        i = int(outside[0])
        raise DataError(
            f"'{name}' must hold probabilities in [0, 1]; {outside.size} row(s) have values "
            f"outside, first row {i}: {arr[i].tolist()!r}. Pass probabilities, not logits "
            f"(apply a softmax or sigmoid first)."
        )
    if arr.ndim == 2:
        sums = arr.sum(axis=1)
        off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
        if off.size:
            i = int(off[0])
            raise DataError(
                f"Every row of '{name}' must sum to 1 (within {ROW_SUM_TOLERANCE:g}); "
                f"{off.size} row(s) do not, first row {i} sums to {sums[i]!r}. Renormalise, "
                f"e.g. y_prob / y_prob.sum(axis=1, keepdims=True)."
            )
    return arr


@dataclass(frozen=True)
class Probabilities:
    """Labels and probabilities lined up: ``proba[:, j]`` is the probability of
    ``classes[j]``; ``true_index`` (and ``pred_index`` when ``y_pred`` was given) index
    ``classes``; ``one_column`` says the input had shape (n,)."""

    classes: np.ndarray
    proba: np.ndarray
    true_index: np.ndarray
    pred_index: np.ndarray | None
    one_column: bool

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class (of the most probable one without ``y_pred``)."""
        idx = self.predicted
        return self.proba[np.arange(len(idx)), idx]

    @property
    def predicted(self) -> np.ndarray:
        """Index of the predicted class: ``y_pred`` when given, else the arg-max (first on
        ties; for one-column input the positive class when its probability is >= 0.5)."""
        if self.pred_index is not None:
            return self.pred_index
        if self.one_column:
            return (self.proba[:, 1] >= 0.5).astype(np.int64)
        return np.argmax(self.proba, axis=1)


def resolve_probabilities(
    owner: str, y_true: Any, y_prob: Any, *, y_pred: Any = None, labels: Any = None
) -> Probabilities:
    """Check ``y_true`` (``y_pred``) and ``y_prob`` together and line up their classes.

    Column order of an (n, k) ``y_prob``: ``labels`` when given; else the sorted labels
    present when there are k of them; else, for integer labels in ``range(k)``, class j is
    column j. An (n,) ``y_prob`` is the positive class's probability (see
    :func:`binary_classes`).

    Example:
        >>> p = resolve_probabilities("f", [2, 0], [[0.1, 0.2, 0.7], [1.0, 0.0, 0.0]])
        >>> p.classes.tolist(), p.true_index.tolist()
        ([0, 1, 2], [2, 0])
    """
    yt = as_label_array("y_true", y_true)
    yp = None if y_pred is None else as_label_array("y_pred", y_pred)
    check_same_length(("y_true", yt), ("y_pred", yp))
    proba = as_probabilities("y_prob", y_prob, len(yt))
    named = [("y_true", yt)] + ([("y_pred", yp)] if yp is not None else [])
    if proba.ndim == 1:
        present = resolve_classes(owner, *named)
        classes = binary_classes(owner, present, labels)
        for name, arr in named:
            encode(name, arr, classes)
        proba = np.column_stack([1.0 - proba, proba])
        one_column = True
    else:
        k = proba.shape[1]
        classes = resolve_classes(owner, *named, labels=labels)
        if len(classes) != k:
            integral = classes.dtype.kind in "biu" or (
                classes.dtype.kind == "f" and np.all(classes == np.round(classes))
            )
            if labels is None and integral and classes.min() >= 0 and classes.max() < k:
                classes = np.arange(k, dtype=classes.dtype)
            else:
                raise DataError(
                    f"'y_prob' has {k} columns but there are {len(classes)} classes "
                    f"{classes.tolist()}; pass labels=[...] naming the class of each column."
                )
        one_column = False
    return Probabilities(
        classes=classes,
        proba=proba,
        true_index=encode("y_true", yt, classes),
        pred_index=None if yp is None else encode("y_pred", yp, classes),
        one_column=one_column,
    )


def check_average(owner: str, average: Any, *, allowed: tuple[str | None, ...]) -> None:
    """Raise :class:`ConfigurationError` unless ``average`` is one of ``allowed``."""
    strings = tuple(a for a in allowed if a is not None)
    if None in allowed:
        check_param(owner, "average", average, Options(strings), None)
    else:
        check_param(owner, "average", average, Options(strings))
