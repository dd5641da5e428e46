"""HTML views of a report: the compact one Jupyter shows and a self-contained page.

Both are built from the sentences of :mod:`faultmap.reports.text`; the markup lives in Jinja2
templates next to this module (``page.html.j2``, ``compact.html.j2`` and the pieces they share
in ``_parts.html.j2``), the style and the script in ``page.css``, ``compact.css`` and
``page.js``. This package only turns a report into the plain values the templates show:
:mod:`._common` what both views show, :mod:`._compact` the view Jupyter shows,
:mod:`._page` the page, :mod:`._templates` the rendering and the security policy. Each view
registers itself with :mod:`faultmap.reports._registry` when imported here.

Every string from the data is escaped on output (autoescaping, with :func:`html.escape`). The
page's data travel as JSON in a ``<script type="application/json">`` block with ``<``, ``>``
and ``&`` written as ``\\u003c`` etc., are read with ``JSON.parse`` and reach the page only
through ``textContent``. A Content-Security-Policy allows the page's own script (by the hash
of ``page.js``) and nothing else: no request leaves the file, and an injected script or event
handler would not run even if escaping failed.
"""

from faultmap.reports._palette import group_colours
from faultmap.reports.html._compact import analysis_html, comparison_html, coverage_html
from faultmap.reports.html._diff import diff_html, render_diff_page
from faultmap.reports.html._page import page_html, render_page
from faultmap.reports.html._templates import CONTENT_SECURITY_POLICY
from faultmap.reports.html._templates import json_block as _json_block  # noqa: F401 (tests)

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "analysis_html",
    "comparison_html",
    "coverage_html",
    "diff_html",
    "group_colours",
    "page_html",
    "render_diff_page",
    "render_page",
]
