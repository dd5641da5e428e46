"""Report dataclasses and their views (text, JSON, HTML)."""

from faultmap.reports.models import AnalysisReport, ClusterTest, FailureSlice

__all__ = ["AnalysisReport", "ClusterTest", "FailureSlice"]
