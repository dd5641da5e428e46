"""The HTML views of a diff of two analyses (:class:`~faultmap.reports.models.SliceDiff`):
the fragment Jupyter shows and a self-contained page, both the table of
:func:`~faultmap.reports.text.diff_table` (one row per finding, the evidence of each match)
with the diff's counts and notes."""

from __future__ import annotations

import logging
from pathlib import Path

from faultmap._secrets import redact
from faultmap.reports._registry import register
from faultmap.reports.html._common import _shown_table
from faultmap.reports.html._templates import Markup, render, resource
from faultmap.reports.models import SliceDiff
from faultmap.reports.text import diff_headline, diff_rule, diff_table

__all__ = ["DIFF_POLICY", "diff_html", "render_diff_page"]

logger = logging.getLogger("faultmap")

#: The diff page runs no script and loads nothing: inline style only.
DIFF_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def _diff(d: SliceDiff, *, page: bool) -> str:
    columns, rows = diff_table(d)
    table = _shown_table(columns, rows, [None] * len(rows), groups=False) if rows else None
    return render(
        "diff.html.j2",
        page=page,
        policy=Markup(DIFF_POLICY),
        style=Markup(resource("page.css" if page else "compact.css")),
        headline=diff_headline(d),
        rule=diff_rule(d),
        table=table,
        notes=list(d.notes),
    )


@register("html_compact", SliceDiff)
def diff_html(d: SliceDiff) -> str:
    """The HTML Jupyter shows for a diff (no script)."""
    return _diff(d, page=False)


@register("html_page", SliceDiff)
def render_diff_page(d: SliceDiff, path: str | Path | None = None) -> str:
    """Return a diff as one self-contained HTML page; write it to ``path`` when given.

    Example:
        >>> render_diff_page(diff, "diff.html")  # doctest: +SKIP
    """
    text = redact(_diff(d, page=True))
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
        logger.info("faultmap: wrote the HTML diff to %s (%d kB)", path, len(text) // 1024)
    return text
