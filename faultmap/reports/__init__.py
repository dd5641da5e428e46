"""Report dataclasses and their views (text, JSON, HTML)."""

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

__all__ = [
    "AnalysisReport",
    "ClusterTest",
    "ComparisonReport",
    "CoverageGap",
    "CoverageReport",
    "FailureSlice",
    "RegionTest",
    "SliceComparison",
]
