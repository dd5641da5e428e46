"""Where a classifier is wrong, and how sure it was: per-class mistakes with the most
confident ones, and the confidence gap between right and wrong answers.

``y_prob`` is (n,) for binary problems (the positive class's probability) or (n, k); a
prediction's *confidence* is the probability the model gave to the predicted label.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from faultmap._validation import Interval, check_param
from faultmap.metrics._checks import resolve_probabilities
from faultmap.metrics._results import DocumentedKeys, Result, find_row, format_table

__all__ = [
    "ClassMistakes",
    "ConfidenceGap",
    "MisclassificationSummary",
    "confidence_gap",
    "misclassification_summary",
]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _most_confident(rows: np.ndarray, confidence: np.ndarray, k: int) -> list[int]:
    """The ``k`` rows with the highest confidence, highest first; ties by row index."""
    order = np.lexsort((rows, -confidence[rows]))
    return [int(r) for r in rows[order[:k]]]


@dataclass(frozen=True)
class ClassMistakes(DocumentedKeys, Result):
    """Mistakes on the samples of one true class.

    ``mean_confidence`` is the mean confidence of its mistakes (NaN, ``None`` in
    ``to_dict()``, when there are none); ``most_confident_mistakes`` are row indices, most
    confident first; ``confused_with`` lists ``(predicted label, count)``, most common first.

    It also reads as the mapping faultmap 0.5.0 documented: ``row["support"]``,
    ``row["n_misclassified"]`` (= ``misclassified``), ``row["error_rate"]``,
    ``row["avg_misclassification_confidence"]`` (= ``mean_confidence``) and
    ``row["top_mistake_indices"]`` (= ``most_confident_mistakes``).
    """

    _KEYS: ClassVar[dict[str, str]] = {
        "support": "support",
        "n_misclassified": "misclassified",
        "error_rate": "error_rate",
        "avg_misclassification_confidence": "mean_confidence",
        "top_mistake_indices": "most_confident_mistakes",
    }

    label: Any
    support: int
    misclassified: int
    error_rate: float
    mean_confidence: float
    most_confident_mistakes: list[int]
    confused_with: list[tuple[Any, int]]


@dataclass(frozen=True)
class MisclassificationSummary(DocumentedKeys, Result):
    """Outcome of :func:`misclassification_summary`: one :class:`ClassMistakes` per class, and
    the same numbers over all samples.

    It also reads as the mapping keyed by class label that faultmap 0.5.0 documented:
    ``summary[1]["error_rate"]`` is ``summary.for_label(1).error_rate``; ``keys()`` are the
    labels, ``len(summary)`` the number of classes.
    """

    def _lookup(self, key: Any) -> ClassMistakes:
        return self.for_label(key)

    def keys(self) -> list[Any]:
        """The class labels, in order."""
        return [c.label for c in self.classes]

    classes: list[ClassMistakes]
    n_samples: int
    n_misclassified: int
    error_rate: float
    mean_confidence_correct: float
    mean_confidence_incorrect: float
    most_confident_mistakes: list[int]

    def for_label(self, label: Any) -> ClassMistakes:
        """The row of one class."""
        return find_row(self.classes, "label", label)

    def __str__(self) -> str:
        header = ["class", "support", "wrong", "error rate", "conf. of mistakes", "top rows"]
        rows = [
            [
                c.label,
                c.support,
                c.misclassified,
                c.error_rate,
                c.mean_confidence,
                ", ".join(map(str, c.most_confident_mistakes[:3])) or "-",
            ]
            for c in self.classes
        ]
        return (
            f"{self.n_misclassified} of {self.n_samples} misclassified "
            f"({100 * self.error_rate:.1f}%); mean confidence {self.mean_confidence_correct:.3f} "
            f"when right, {self.mean_confidence_incorrect:.3f} when wrong.\n"
            + format_table(header, rows)
        )


def misclassification_summary(
    y_true: Any, y_pred: Any, y_prob: Any, *, labels: Any = None, top_k: int = 5
) -> MisclassificationSummary:
    """Per true class: support, misclassified count, error rate, mean confidence of the
    mistakes and the ``top_k`` most confident mistakes (row indices), plus the labels they
    were mistaken for. ``y_pred`` may be ``None``: the most probable class is predicted
    (for ``y_prob`` of shape (n,), the positive class when its probability is >= 0.5).

    Example:
        >>> s = misclassification_summary([0, 1, 1, 1], [0, 0, 1, 0], [0.2, 0.1, 0.7, 0.4])
        >>> row = s.for_label(1)
        >>> row.misclassified, round(row.mean_confidence, 2), row.most_confident_mistakes
        (2, 0.75, [1, 3])
        >>> s[1]["n_misclassified"], s[1]["error_rate"], s[1]["top_mistake_indices"]
        (2, 0.6666666666666666, [1, 3])
    """
    check_param("misclassification_summary", "top_k", top_k, Interval(int, 0, None))
    prob = resolve_probabilities(
        "misclassification_summary", y_true, y_prob, y_pred=y_pred, labels=labels
    )
    truth, predicted, confidence = prob.true_index, prob.predicted, prob.confidence
    wrong = truth != predicted
    names = [c.item() for c in prob.classes]
    classes = []
    for c, name in enumerate(names):
        rows = np.flatnonzero(truth == c)
        mistakes = rows[wrong[rows]]
        confused = Counter(predicted[mistakes].tolist())
        classes.append(
            ClassMistakes(
                label=name,
                support=len(rows),
                misclassified=len(mistakes),
                error_rate=len(mistakes) / len(rows) if len(rows) else 0.0,
                mean_confidence=_mean(confidence[mistakes]),
                most_confident_mistakes=_most_confident(mistakes, confidence, top_k),
                confused_with=[
                    (names[j], n) for j, n in sorted(confused.items(), key=lambda t: (-t[1], t[0]))
                ],
            )
        )
    return MisclassificationSummary(
        classes=classes,
        n_samples=len(truth),
        n_misclassified=int(wrong.sum()),
        error_rate=float(wrong.mean()),
        mean_confidence_correct=_mean(confidence[~wrong]),
        mean_confidence_incorrect=_mean(confidence[wrong]),
        most_confident_mistakes=_most_confident(np.flatnonzero(wrong), confidence, top_k),
    )


@dataclass(frozen=True, eq=False)
class ConfidenceGap(DocumentedKeys, Result):
    """Confidences of the correct and the incorrect predictions and their histograms.

    ``gap = mean_correct - mean_incorrect`` (NaN when either group is empty): large when
    the model knows when it is wrong, near 0 or negative when its mistakes are as confident
    as its hits. ``bin_edges`` are ``n_bins + 1`` equal-width edges on [0, 1]; bins are
    half-open ``[a, b)`` except the last, which includes 1. The arrays are read-only.

    It also reads as the mapping faultmap 0.5.0 documented: ``g["correct_confidence"]`` and
    ``g["incorrect_confidence"]`` (the confidences, = ``correct_confidences`` and
    ``incorrect_confidences``), ``g["gap"]``, ``g["histogram_bins"]`` (= ``bin_edges``),
    ``g["correct_hist"]`` and ``g["incorrect_hist"]`` (= ``correct_counts`` and
    ``incorrect_counts``). As documented there, ``g["gap"]`` is 0.0 when either group is
    empty, where the attribute ``gap`` is NaN.
    """

    _KEYS: ClassVar[dict[str, str]] = {
        "correct_confidence": "correct_confidences",
        "incorrect_confidence": "incorrect_confidences",
        "gap": "gap",
        "histogram_bins": "bin_edges",
        "correct_hist": "correct_counts",
        "incorrect_hist": "incorrect_counts",
    }

    def _lookup(self, key: Any) -> Any:
        value = super()._lookup(key)
        if key == "gap" and math.isnan(value):
            return 0.0  # faultmap 0.5.0's documented value when a group is empty
        return value

    correct_confidences: np.ndarray
    incorrect_confidences: np.ndarray
    mean_correct: float
    mean_incorrect: float
    gap: float
    bin_edges: np.ndarray
    correct_counts: np.ndarray
    incorrect_counts: np.ndarray

    def __str__(self) -> str:
        return (
            f"mean confidence {self.mean_correct:.3f} on {len(self.correct_confidences)} correct "
            f"and {self.mean_incorrect:.3f} on {len(self.incorrect_confidences)} incorrect "
            f"predictions: gap {self.gap:.3f}"
        )

    def __repr__(self) -> str:
        return (
            f"ConfidenceGap(gap={self.gap:.3f}, n_correct={len(self.correct_confidences)}, "
            f"n_incorrect={len(self.incorrect_confidences)})"
        )


def _frozen(values: np.ndarray) -> np.ndarray:
    values = np.array(values)
    values.setflags(write=False)
    return values


def confidence_gap(
    y_true: Any, y_pred: Any, y_prob: Any, n_bins: int = 20, *, labels: Any = None
) -> ConfidenceGap:
    """How much more confident the model is when right than when wrong.

    The confidence of a prediction is the probability given to the predicted label
    (``y_pred`` may be ``None``: the most probable class is predicted).

    Example:
        >>> g = confidence_gap([0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.8, 0.4, 0.7], n_bins=2)
        >>> round(g.mean_correct, 2), round(g.mean_incorrect, 2), round(g.gap, 2)
        (0.85, 0.65, 0.2)
        >>> g.correct_counts.tolist(), g.incorrect_counts.tolist()
        ([0, 2], [0, 2])
        >>> round(g["gap"], 2), g["correct_hist"].tolist()
        (0.2, [0, 2])
    """
    check_param("confidence_gap", "n_bins", n_bins, Interval(int, 1, None))
    prob = resolve_probabilities("confidence_gap", y_true, y_prob, y_pred=y_pred, labels=labels)
    confidence = prob.confidence
    right = prob.true_index == prob.predicted
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    correct, incorrect = confidence[right], confidence[~right]
    mean_correct, mean_incorrect = _mean(correct), _mean(incorrect)
    return ConfidenceGap(
        correct_confidences=_frozen(correct),
        incorrect_confidences=_frozen(incorrect),
        mean_correct=mean_correct,
        mean_incorrect=mean_incorrect,
        gap=mean_correct - mean_incorrect,
        bin_edges=_frozen(edges),
        correct_counts=_frozen(np.histogram(correct, bins=edges)[0]),
        incorrect_counts=_frozen(np.histogram(incorrect, bins=edges)[0]),
    )
