"""Report dataclasses and their views (text, JSON, HTML, rich, plotly), and the JSON Schema of
report files (:func:`validate_report`).

The models (:mod:`faultmap.reports.models`) import no view; each view module registers its
functions for the result classes it draws (:mod:`faultmap.reports._registry`). Importing this
package imports the view modules, so every result has its views. They import jinja2, rich and
plotly only when a view is drawn.
"""

from faultmap.reports import html, plot, rich, text  # noqa: F401  (the views register)
from faultmap.reports.models import (
    AnalysisReport,
    ClusterTest,
    ComparisonReport,
    CoverageGap,
    CoverageReport,
    FailureMode,
    FailureSlice,
    ModeNode,
    NullAudit,
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
    "FailureMode",
    "FailureSlice",
    "ModeNode",
    "NullAudit",
    "RegionTest",
    "SliceComparison",
    "validate_report",
]
