"""What every tracking bridge logs of a report: its headline figures and its files.

Shared by :mod:`faultmap.integrations.mlflow` and :mod:`faultmap.integrations.wandb`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from faultmap.exceptions import ConfigurationError
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

__all__ = ["metrics_of", "report_kind", "write_report"]

#: The headline figures logged as metrics, per kind of report.
_METRICS: dict[type, tuple[str, ...]] = {
    AnalysisReport: (
        "baseline_failure_rate",
        "num_significant",
        "total_prompts",
        "total_failures",
        "num_failure_modes",
    ),
    CoverageReport: (
        "overall_coverage_score",
        "num_gaps",
        "num_production_prompts",
        "num_test_prompts",
        "distance_coverage_score",
    ),
    ComparisonReport: (
        "total_prompts",
        "failure_rate_a",
        "failure_rate_b",
        "discordant_a_wins",
        "discordant_b_wins",
        "global_advantage_rate",
        "global_p_value",
        "num_significant_slices",
    ),
}

_KINDS = {
    AnalysisReport: "analysis",
    CoverageReport: "coverage",
    ComparisonReport: "comparison",
}


def report_kind(report: Any) -> str:
    """ "analysis", "coverage" or "comparison"; a clear error for anything else.

    Example:
        >>> report_kind(report)  # doctest: +SKIP
        'analysis'
    """
    for cls, kind in _KINDS.items():
        if isinstance(report, cls):
            return kind
    raise ConfigurationError(
        f"The 'report' argument of log_report must be an AnalysisReport, CoverageReport or "
        f"ComparisonReport; got {type(report).__name__}. Pass the result of analyze(), "
        "audit_coverage() or compare_models()."
    )


def metrics_of(report: Any) -> dict[str, float]:
    """The report's headline figures that ``log_report`` logs as metrics (figures that are
    not set, such as an older report's ``distance_coverage_score``, are left out).

    Example:
        >>> metrics_of(report)["baseline_failure_rate"]  # doctest: +SKIP
        0.21
    """
    report_kind(report)  # the clear error for anything that is not a report
    names = next(names for cls, names in _METRICS.items() if isinstance(report, cls))
    values = {name: getattr(report, name) for name in names}
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def write_report(report: Any, folder: Path, *, html: bool = True) -> list[Path]:
    """Write ``report`` into ``folder`` as ``<kind>_report.json`` and, with ``html=True``,
    ``<kind>_report.html``; return the paths written.

    Example:
        >>> write_report(report, Path("out"))  # doctest: +SKIP
        [PosixPath('out/analysis_report.json'), PosixPath('out/analysis_report.html')]
    """
    kind = report_kind(report)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"{kind}_report.json"]
    report.to_json(written[0])
    if html:
        written.append(folder / f"{kind}_report.html")
        report.to_html(written[1])
    return written
