"""Failure rate by metadata cohort, and metadata inside the semantic slices: the names of
:mod:`faultmap.metrics.cohorts` (cohorts, their failure rates and calibration),
:mod:`faultmap.analyses.hybrid` (hybrid slices) and :func:`faultmap.io.read_metadata`,
importable from one place.

Example:
    >>> from faultmap.cohorts import cohort_failure_rates
    >>> report = cohort_failure_rates([1, 0] * 10, {"route": ["a", "b"] * 10})
    >>> [(c.value, c.failures, c.significant) for c in report.cohorts]
    [('a', 10, True), ('b', 0, False)]
"""

from faultmap.analyses.hybrid import HYBRID_RULE, hybrid_slices
from faultmap.io import read_metadata
from faultmap.metrics.cohorts import (
    MISSING,
    OTHER,
    Cohort,
    CohortReport,
    calibration_by_cohort,
    cohort_failure_rates,
    cohort_labels,
)

__all__ = [
    "HYBRID_RULE",
    "MISSING",
    "OTHER",
    "Cohort",
    "CohortReport",
    "calibration_by_cohort",
    "cohort_failure_rates",
    "cohort_labels",
    "hybrid_slices",
    "read_metadata",
]
