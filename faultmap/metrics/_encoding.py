"""Labels encoded as class indices, and the confusion counts built on them: the plumbing
shared by the rates and the per-class report of :mod:`faultmap.metrics.classification`.

scikit-learn is given the indices with ``labels=range(k)``, so its classes are ours in our
order; a rate whose denominator is 0 is 0.0, as with its ``zero_division=0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap._validation import check_same_length
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.metrics._checks import as_label_array, encode, resolve_classes

__all__ = [
    "Encoded",
    "divide",
    "encode_pair",
    "one_class",
    "one_vs_rest_specificity",
    "with_pos_label",
]


@dataclass(frozen=True)
class Encoded:
    """Labels as indices into ``classes``: what scikit-learn is given, with
    ``labels=range(k)``, so its classes are ours in our order."""

    classes: np.ndarray
    true_index: np.ndarray
    pred_index: np.ndarray

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def indices(self) -> np.ndarray:
        return np.arange(self.k)

    def matrix(self, normalize: str | None = None) -> np.ndarray:
        """Counts (or shares, see :func:`confusion_matrix`): rows are true classes, columns
        predicted classes."""
        from sklearn.metrics import confusion_matrix

        # An empty second class spares a 1x1 matrix scikit-learn's single-label warning.
        k = self.k
        cm = confusion_matrix(
            self.true_index, self.pred_index, labels=np.arange(max(k, 2)), normalize=normalize
        )[:k, :k]
        return cm if normalize else cm.astype(np.int64, copy=False)


def encode_pair(owner: str, y_true: Any, y_pred: Any, labels: Any = None) -> Encoded:
    yt = as_label_array("y_true", y_true)
    yp = as_label_array("y_pred", y_pred)
    check_same_length(("y_true", yt), ("y_pred", yp))
    classes = resolve_classes(owner, ("y_true", yt), ("y_pred", yp), labels=labels)
    return Encoded(classes, encode("y_true", yt, classes), encode("y_pred", yp, classes))


def with_pos_label(owner: str, enc: Encoded, pos_label: Any) -> tuple[Encoded, int]:
    """Check ``average="binary"`` and return the encoding and the positive class's index."""
    names = [c.item() for c in enc.classes]
    if enc.k > 2:
        raise ConfigurationError(
            f"The 'average' parameter of {owner} is 'binary' but there are {enc.k} classes "
            f"{names}; pass average='macro', 'micro', 'weighted' or None."
        )
    family = "text" if enc.classes.dtype.kind in "US" else "numeric"
    pos_family = "text" if isinstance(pos_label, str) else "numeric"
    if pos_label in names and family == pos_family:
        return enc, names.index(pos_label)
    if enc.k == 2 or family != pos_family:
        raise DataError(
            f"pos_label={pos_label!r} is not one of the labels {names}; pass "
            f"pos_label=<the positive class>, e.g. pos_label={names[-1]!r}."
        )
    # Only the negative class occurs: add the positive one (it has no true or predicted rows).
    classes = np.unique(np.concatenate([enc.classes, np.asarray([pos_label])]))
    remap = encode("labels", enc.classes, classes)
    widened = Encoded(classes, remap[enc.true_index], remap[enc.pred_index])
    return widened, int(np.flatnonzero(classes == pos_label)[0])


def one_class(enc: Encoded) -> bool:
    """Every true and predicted label is the same class."""
    first = enc.true_index[0]
    return bool(np.all(enc.true_index == first) and np.all(enc.pred_index == first))


def divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def one_vs_rest_specificity(
    cm: np.ndarray, average: str | None, pos: int | None
) -> float | np.ndarray:
    """One class against the rest, ``tn / (tn + fp)``: scikit-learn has no specificity."""
    fp = cm.sum(axis=0) - np.diag(cm)
    tn = cm.sum() - cm.sum(axis=1) - fp
    if average == "micro":
        return float(divide(tn.sum(), tn.sum() + fp.sum()))
    per_class = divide(tn, tn + fp)
    if average is None:
        return per_class
    if average == "binary":
        return float(per_class[pos])
    if average == "macro":
        return float(per_class.mean())
    return float(np.average(per_class, weights=cm.sum(axis=1)))
