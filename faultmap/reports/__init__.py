"""Report dataclasses and their views (text, JSON, HTML, rich), and the JSON Schema of
report files (:func:`validate_report`)."""

from faultmap.reports.models import (
    AnalysisReport,
    ClusterTest,
    ComparisonReport,
    CoverageGap,
    CoverageReport,
    FailureSlice,
    RegionTest,
    SliceComparison,
)
from faultmap.reports.schema import validate_report

__all__ = [
    "AnalysisReport",
    "ClusterTest",
    "ComparisonReport",
    "CoverageGap",
    "CoverageReport",
    "FailureSlice",
    "RegionTest",
    "SliceComparison",
    "validate_report",
]
