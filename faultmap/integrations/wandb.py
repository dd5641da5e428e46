"""Log a faultmap report to Weights & Biases: its headline figures in the run summary, the
report as JSON and HTML files of the run and as an artifact.

wandb is imported when :func:`log_report` is called (``pip install 'faultmap[wandb]'``); the
run goes wherever wandb is set up to send it (``wandb login``, ``WANDB_MODE=offline``, ...).

Example:
    >>> from faultmap.integrations.wandb import log_report
    >>> run_id = log_report(report)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from faultmap._optional import require
from faultmap.exceptions import ConfigurationError
from faultmap.integrations._reports import metrics_of, report_kind, write_report
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

__all__ = ["log_report", "metrics_of"]

logger = logging.getLogger("faultmap")


def log_report(
    report: AnalysisReport | CoverageReport | ComparisonReport,
    run: Any = None,
    *,
    prefix: str = "",
    folder: str = "faultmap",
    html: bool = True,
    artifact: bool = True,
) -> str:
    """Log ``report`` to Weights & Biases and return the run id.

    The headline figures (:func:`metrics_of`, the same as the MLflow bridge logs) go into
    the run summary, each name after ``prefix`` (the summary, not ``run.log``, so your own
    step count is left alone); the report is saved as the run files
    ``<folder>/<kind>_report.json`` and, with ``html=True``, ``<folder>/<kind>_report.html``,
    and with ``artifact=True`` also logged as the artifact ``faultmap-<kind>-report`` (type
    ``faultmap-report``); the run gets the tag ``faultmap-<kind>``. The run is ``run`` (a
    ``wandb`` Run) when given, else the active run (``wandb.run``), else a new run
    (``wandb.init()``), which is finished before this returns.

    Example:
        >>> import wandb  # doctest: +SKIP
        >>> with wandb.init(project="evals") as run:  # doctest: +SKIP
        ...     log_report(report, run)
    """
    metrics = metrics_of(report)
    kind = report_kind(report)
    if run is not None and not (hasattr(run, "summary") and hasattr(run, "save")):
        raise ConfigurationError(
            f"The 'run' argument of log_report must be a wandb Run or None; got "
            f"{type(run).__name__}. Pass the object wandb.init() returned, or None for the "
            "active run."
        )
    wandb = require("wandb", extra="wandb", purpose="log_report")

    def log_into(target: Any) -> str:
        target.summary.update({f"{prefix}{name}": value for name, value in metrics.items()})
        tag = f"faultmap-{kind}"
        if tag not in (target.tags or ()):
            target.tags = (*(target.tags or ()), tag)
        root = Path(target.dir)
        written = write_report(report, root / folder if folder else root, html=html)
        for path in written:
            target.save(str(path), base_path=str(root), policy="now")
        if artifact:
            logged = wandb.Artifact(
                f"faultmap-{kind}-report",
                type="faultmap-report",
                metadata={"kind": kind, **metrics},
            )
            for path in written:
                logged.add_file(str(path), name=path.name)
            target.log_artifact(logged)
        logger.info("Logged the %s report to W&B run %s", kind, target.id)
        return str(target.id)

    if run is not None:
        return log_into(run)
    if wandb.run is not None:
        return log_into(wandb.run)
    started = wandb.init(job_type="faultmap")
    try:
        return log_into(started)
    finally:
        started.finish()
