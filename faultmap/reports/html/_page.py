"""The report as one self-contained HTML page: every point of the map (turnable in 3-D),
the sortable table, the cards and the settings, with its data in a JSON block its own
script reads."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from faultmap._secrets import redact
from faultmap.reports._registry import register
from faultmap.reports.html._common import (
    MAP_HEIGHT,
    MAP_PAD,
    MAP_WIDTH,
    Report,
    map_view,
    shared_values,
)
from faultmap.reports.html._templates import (
    CONTENT_SECURITY_POLICY,
    Markup,
    json_block,
    render,
    resource,
)
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport
from faultmap.reports.text import correction_name, hybrid_cell_lines, next_steps

__all__ = ["page_html", "render_page"]

logger = logging.getLogger("faultmap")


def _faultmap_version() -> str:
    try:
        return version("faultmap")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0+unknown"


def _table_note(report: Report) -> str:
    if isinstance(report, AnalysisReport):
        return " A rate is a dot on its 95% interval (the bar); the tick marks the baseline."
    if isinstance(report, ComparisonReport):
        return " A rate is a dot on its 95% interval (the bar), one colour per model."
    return ""


def _settings(report: Report) -> list[tuple[str, str]]:
    level = "significance level (FDR)"
    correction = getattr(report, "correction", "bh")
    if correction == "holm":
        level = "significance level (family-wise error rate)"
    settings = [
        ("faultmap", _faultmap_version()),
        ("embedding model", report.embedding_model),
        ("clustering", report.clustering_method),
        (level, f"{report.significance_level:g}"),
    ]
    if correction != "bh":
        settings.append(("correction", correction_name(correction)))
    for name in ("scoring_mode", "failure_threshold", "min_slice_size", "min_gap_size"):
        if hasattr(report, name):
            settings.append((name.replace("_", " "), f"{getattr(report, name)}"))
    timings = report.metadata.get("timings_s", {})
    if isinstance(timings, Mapping) and timings:
        settings.append(("timings (s)", ", ".join(f"{k} {v}" for k, v in timings.items())))
    return settings


#: The per-point columns of ``report.map`` the page's tooltip and CSV download show.
_POINT_COLUMNS = ("score", "response", "score_a", "response_a", "score_b", "response_b")


def _csv_columns(report: Report) -> dict[str, str]:
    """The header of each column of a slice's CSV download, by its key in the page data."""
    if isinstance(report, ComparisonReport):
        a, b = report.model_a_name, report.model_b_name
        return {
            "score_a": f"score ({a})",
            "response_a": f"response ({a})",
            "score_b": f"score ({b})",
            "response_b": f"response ({b})",
        }
    if isinstance(report, CoverageReport):
        return {}
    return {"score": "score", "response": "response"}


def _page_data(report: Report, view: dict[str, Any] | None) -> dict[str, Any]:
    """What the page's script reads: the prompt, group, status, scores and responses of
    every point (and the 3-D positions it turns), and the CSV columns."""
    if view is None:
        return {"map": None, "groups": [], "statuses": [], "columns": {}}
    m, legend = view["map"], view["legend"]
    extra = {
        name: list(m[name]) for name in _POINT_COLUMNS if len(m.get(name) or []) == len(m["x"])
    }
    pos = view["pos"]
    return {
        "map": {
            "index": list(m["index"]),
            "text": list(m["text"]),
            "group": legend["group"],
            "status": legend["status"],
            **extra,
            **({"x": pos[0], "y": pos[1], "z": pos[2]} if view["dims"] == 3 else {}),
        },
        "groups": legend["groups"],
        "statuses": legend["statuses"],
        "columns": _csv_columns(report),
        "view": {
            "width": MAP_WIDTH,
            "height": MAP_HEIGHT,
            "pad": MAP_PAD,
            "scale": 1 / 1.08,
        },
    }


def page_html(report: Report) -> str:
    """The report as one self-contained HTML page (see :func:`render_page`)."""
    view = map_view(report, None)
    hybrid = hybrid_cell_lines(report) if isinstance(report, AnalysisReport) else []
    return render(
        "page.html.j2",
        policy=Markup(CONTENT_SECURITY_POLICY),
        style=Markup(resource("page.css")),
        script=Markup(resource("page.js")),
        data=Markup(json_block(_page_data(report, view))),
        next_steps=next_steps(report),
        embedding_model=report.embedding_model,
        clustering_method=report.clustering_method,
        items_word="Coverage gaps" if isinstance(report, CoverageReport) else "Slices",
        table_note=_table_note(report),
        hybrid_cells=[line.strip() for line in hybrid],
        settings=_settings(report),
        **shared_values(report, view, titles=False),
    )


@register("html_page", AnalysisReport, CoverageReport, ComparisonReport)
def render_page(report: Report, path: str | Path | None = None) -> str:
    """Return ``report`` as one self-contained HTML page; write it to ``path`` when given.

    Example:
        >>> render_page(report, "report.html")  # doctest: +SKIP
    """
    page = redact(page_html(report))
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
        logger.info("faultmap: wrote the HTML report to %s (%d kB)", path, len(page) // 1024)
    return page
