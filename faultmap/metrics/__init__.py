"""Classic failure metrics beside the slices: confusion matrix and per-class rates, ranking
and probabilistic losses, mistakes and the confidence gap, calibration (also per slice and
per group), and segmentation overlap.

Functions take ``y_true`` first, like scikit-learn, and raise
:class:`~faultmap.exceptions.DataError` on bad data. The values come from
:mod:`sklearn.metrics` wherever it has them; only what it lacks (specificity, ECE and MCE,
the misclassification and confidence-gap summaries, per-group calibration) is computed
here. Importing this package is light (numpy only); scikit-learn is imported when a
function is called. Failure rates and calibration by metadata cohort are in
:mod:`faultmap.metrics.cohorts`.

Example:
    >>> from faultmap import metrics
    >>> metrics.f1_score([0, 1, 1, 0], [0, 1, 0, 0])
    0.6666666666666666
"""

from faultmap.metrics._checks import ROW_SUM_TOLERANCE
from faultmap.metrics.calibration import (
    CalibrationByGroup,
    CalibrationGroup,
    ReliabilityCurve,
    brier_score,
    calibration_by_group,
    calibration_by_slice,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_curve,
)
from faultmap.metrics.classification import (
    ClassificationReport,
    ClassMetrics,
    ConfusedPair,
    accuracy,
    balanced_accuracy,
    classification_report,
    cohen_kappa,
    confusion_frame,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    precision,
    recall,
    roc_auc,
    sensitivity,
    specificity,
)
from faultmap.metrics.failure import (
    ClassMistakes,
    ConfidenceGap,
    MisclassificationSummary,
    confidence_gap,
    misclassification_summary,
)
from faultmap.metrics.segmentation import dice_coefficient, iou, pixel_accuracy

__all__ = [
    "ROW_SUM_TOLERANCE",
    "CalibrationByGroup",
    "CalibrationGroup",
    "ClassMetrics",
    "ClassMistakes",
    "ClassificationReport",
    "ConfidenceGap",
    "ConfusedPair",
    "MisclassificationSummary",
    "ReliabilityCurve",
    "accuracy",
    "balanced_accuracy",
    "brier_score",
    "calibration_by_group",
    "calibration_by_slice",
    "classification_report",
    "cohen_kappa",
    "confidence_gap",
    "confusion_frame",
    "confusion_matrix",
    "dice_coefficient",
    "expected_calibration_error",
    "f1_score",
    "iou",
    "log_loss",
    "matthews_corrcoef",
    "maximum_calibration_error",
    "misclassification_summary",
    "pixel_accuracy",
    "precision",
    "recall",
    "reliability_curve",
    "roc_auc",
    "sensitivity",
    "specificity",
]
