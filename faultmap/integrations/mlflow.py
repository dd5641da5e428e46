"""Log a faultmap report to MLflow: its headline figures as metrics, the report as JSON and
HTML artifacts.

MLflow is imported when :func:`log_report` is called (``pip install 'faultmap[mlflow]'``);
the tracking server is whatever MLflow is set up to use (``MLFLOW_TRACKING_URI`` or
``mlflow.set_tracking_uri``).

Example:
    >>> from faultmap.integrations.mlflow import log_report
    >>> run_id = log_report(report)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any

from faultmap._optional import require
from faultmap.exceptions import ConfigurationError
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

__all__ = ["log_report", "metrics_of"]

logger = logging.getLogger("faultmap")

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

_FILE_NAMES = {
    AnalysisReport: "analysis",
    CoverageReport: "coverage",
    ComparisonReport: "comparison",
}


def metrics_of(report: Any) -> dict[str, float]:
    """The report's headline figures that :func:`log_report` logs as metrics (figures that
    are not set, such as an older report's ``distance_coverage_score``, are left out).

    Example:
        >>> metrics_of(report)["baseline_failure_rate"]  # doctest: +SKIP
        0.21
    """
    for kind, names in _METRICS.items():
        if isinstance(report, kind):
            values = {name: getattr(report, name) for name in names}
            return {
                k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))
            }
    raise ConfigurationError(
        f"The 'report' argument of log_report must be an AnalysisReport, CoverageReport or "
        f"ComparisonReport; got {type(report).__name__}. Pass the result of analyze(), "
        "audit_coverage() or compare_models()."
    )


def log_report(
    report: AnalysisReport | CoverageReport | ComparisonReport,
    run: str | None = None,
    *,
    prefix: str = "",
    artifact_path: str = "faultmap",
    html: bool = True,
) -> str:
    """Log ``report`` to MLflow and return the run id.

    The headline figures (:func:`metrics_of`: for an analysis ``baseline_failure_rate``,
    ``num_significant``, ``total_prompts``, ...; for a coverage audit
    ``overall_coverage_score``, ``num_gaps``, ...; for a comparison its global figures) are
    logged as metrics, each name after ``prefix``; the report is logged as
    ``<artifact_path>/<kind>_report.json`` and, with ``html=True``, as
    ``<artifact_path>/<kind>_report.html``; the tag ``faultmap.report`` names the kind. The
    run is ``run`` (a run id) when given, else the active run (``mlflow.start_run()``), else a
    new run in the current experiment, which is ended before this returns.

    Example:
        >>> import mlflow  # doctest: +SKIP
        >>> with mlflow.start_run():  # doctest: +SKIP
        ...     log_report(report)
    """
    metrics = metrics_of(report)
    if run is not None and not isinstance(run, str):
        raise ConfigurationError(
            f"The 'run' argument of log_report must be a run id (str) or None; got "
            f"{type(run).__name__}. Pass run.info.run_id for an mlflow Run."
        )
    mlflow = require("mlflow", extra="mlflow", purpose="log_report")
    client = mlflow.MlflowClient()
    kind = next(name for cls, name in _FILE_NAMES.items() if isinstance(report, cls))

    def log_into(run_id: str) -> None:
        for name, value in metrics.items():
            client.log_metric(run_id, f"{prefix}{name}", value)
        client.set_tag(run_id, "faultmap.report", kind)
        with tempfile.TemporaryDirectory(prefix="faultmap-mlflow-") as folder:
            written = [Path(folder) / f"{kind}_report.json"]
            report.to_json(written[0])
            if html:
                written.append(Path(folder) / f"{kind}_report.html")
                report.to_html(written[1])
            for path in written:
                client.log_artifact(run_id, str(path), artifact_path=artifact_path or None)
        logger.info("Logged the %s report to MLflow run %s", kind, run_id)

    if run is not None:
        log_into(run)
        return run
    active = mlflow.active_run()
    if active is not None:
        log_into(active.info.run_id)
        return str(active.info.run_id)
    with mlflow.start_run() as started:
        log_into(started.info.run_id)
    return str(started.info.run_id)
