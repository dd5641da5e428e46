"""The compact HTML Jupyter shows (``_repr_html_``): no script, a static map of at most
:data:`COMPACT_MAP_POINTS` points, each with its prompt as a tooltip."""

from __future__ import annotations

from faultmap.reports._registry import register
from faultmap.reports.html._common import Report, map_view, shared_values
from faultmap.reports.html._templates import Markup, render, resource
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

__all__ = ["COMPACT_MAP_POINTS", "analysis_html", "comparison_html", "coverage_html"]

COMPACT_MAP_POINTS = 600


def _compact(report: Report) -> str:
    view = map_view(report, COMPACT_MAP_POINTS)
    return render(
        "compact.html.j2",
        style=Markup(resource("compact.css")),
        **shared_values(report, view, titles=True),
    )


@register("html_compact", AnalysisReport)
def analysis_html(report: AnalysisReport) -> str:
    """The compact HTML Jupyter shows for an analysis (no script; a static map)."""
    return _compact(report)


@register("html_compact", CoverageReport)
def coverage_html(report: CoverageReport) -> str:
    """The compact HTML Jupyter shows for a coverage audit (no script; a static map)."""
    return _compact(report)


@register("html_compact", ComparisonReport)
def comparison_html(report: ComparisonReport) -> str:
    """The compact HTML Jupyter shows for a model comparison (no script; a static map)."""
    return _compact(report)
