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
import tempfile
from pathlib import Path

from faultmap._optional import require
from faultmap.exceptions import ConfigurationError
from faultmap.integrations._reports import metrics_of, report_kind, write_report
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

__all__ = ["log_report", "metrics_of"]

logger = logging.getLogger("faultmap")


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
    kind = report_kind(report)

    def log_into(run_id: str) -> None:
        for name, value in metrics.items():
            client.log_metric(run_id, f"{prefix}{name}", value)
        client.set_tag(run_id, "faultmap.report", kind)
        with tempfile.TemporaryDirectory(prefix="faultmap-mlflow-") as folder:
            for path in write_report(report, Path(folder), html=html):
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
