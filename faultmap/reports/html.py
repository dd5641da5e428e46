"""HTML views of a report: the compact one Jupyter shows and a self-contained page.

Both are built from the sentences of :mod:`faultmap.reports.text`. Every string from the data
is escaped with :func:`html.escape`; the page's data travel as JSON in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` written as ``\\u003c``
etc., are read with ``JSON.parse`` and reach the page only through ``textContent``. A
Content-Security-Policy allows the page's own script (by hash) and nothing else: no request
leaves the file, and an injected script or event handler would not run even if escaping
failed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultmap.reports.text import (
    clip,
    comparison_headline,
    comparison_slice_facts,
    coverage_headline,
    gap_facts,
    headline,
    hybrid_cell_lines,
    map_caption,
    map_legend,
    pct,
    pval,
    slice_facts,
    summary_table,
)

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

    Report = AnalysisReport | CoverageReport | ComparisonReport

__all__ = [
    "analysis_html",
    "comparison_html",
    "coverage_html",
    "group_colours",
    "page_html",
    "render_page",
]

logger = logging.getLogger("faultmap")

#: Colours of the slices / gaps on the map (Tableau 10, distinguishable by most readers),
#: then of the prompts in none.
PALETTE = (
    "#4e79a7",
    "#e15759",
    "#f28e2b",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
)
BACKGROUND = ("#bdbdbd", "#dedede")
MAP_WIDTH, MAP_HEIGHT, MAP_PAD = 960, 520, 14
COMPACT_MAP_POINTS = 600
TEXT_LIMIT = 400


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def group_colours(highlighted: Sequence[bool]) -> list[str]:
    """A colour per map group: the palette for slices / gaps, greys for the other prompts.

    Example:
        >>> group_colours([True, True, False])
        ['#4e79a7', '#e15759', '#bdbdbd']
    """
    out, k, g = [], 0, 0
    for flag in highlighted:
        if flag:
            out.append(PALETTE[k % len(PALETTE)])
            k += 1
        else:
            out.append(BACKGROUND[min(g, len(BACKGROUND) - 1)])
            g += 1
    return out


# -- small drawings ---------------------------------------------------------------------------


def _interval_svg(
    rate: float, low: float, high: float, colour: str, baseline: float | None = None
) -> str:
    """A 0-100 % track with the interval as a bar, the rate as a dot, the baseline as a tick."""
    w, h, pad = 130, 14, 4

    def x(v: float) -> float:
        return round(pad + max(0.0, min(1.0, v)) * (w - 2 * pad), 1)

    parts = [
        f"<svg class='fm-ci' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' "
        f"aria-label='{pct(rate)}, 95% interval {pct(low)} to {pct(high)}'>",
        f"<line x1='{x(0)}' x2='{x(1)}' y1='7' y2='7' class='fm-track'/>",
    ]
    if baseline is not None:
        parts.append(
            f"<line x1='{x(baseline)}' x2='{x(baseline)}' y1='1' y2='13' class='fm-base'/>"
        )
    parts.append(
        f"<line x1='{x(low)}' x2='{x(high)}' y1='7' y2='7' stroke='{colour}' "
        "stroke-width='4' stroke-linecap='round'/>"
    )
    parts.append(f"<circle cx='{x(rate)}' cy='7' r='3.5' fill='{colour}' class='fm-dot'/></svg>")
    return "".join(parts)


def _map_view(report: Report, limit: int | None) -> dict[str, Any] | None:
    """Positions, groups and words of the mapped points, or None when the report has no map.

    With ``limit``, at most that many points: the first ``limit // (2 * groups)`` of every
    group (so every slice shows), then evenly spaced points of the rest."""
    m = report.map
    if not m or not m.get("x"):
        return None
    legend = map_legend(report)
    n = len(m["x"])
    rows = list(range(n))
    if limit is not None and n > limit:
        floor = max(1, limit // (2 * len(legend["groups"])))
        seen = [0] * len(legend["groups"])
        first = set()
        for i, g in enumerate(legend["group"]):
            if seen[g] < floor and len(first) < limit:
                seen[g] += 1
                first.add(i)
        rest = [i for i in rows if i not in first]
        step = len(rest) / max(limit - len(first), 1)
        rows = sorted(first | {rest[int(k * step)] for k in range(limit - len(first))})
    dims = int(m.get("dims", 2))
    if dims == 3:  # one scale for every axis, so that turning the map keeps it in view
        scale = (1 / math.sqrt(3), 1 / math.sqrt(3))
    else:  # fill the frame: each axis on its own scale
        scale = tuple(1 / max(max(map(abs, m[a])), 1e-9) for a in "xy")
    return {"map": m, "legend": legend, "rows": rows, "dims": dims, "scale": scale}


def _map_svg(view: dict[str, Any], *, titles: bool, element_id: str | None = None) -> str:
    """The map as inline SVG circles, drawn from ``view`` (:func:`_map_view`); slices are
    drawn last so they sit on top. ``titles`` adds each prompt as an SVG ``<title>`` (a
    tooltip that needs no script)."""
    m, legend, (sx, sy) = view["map"], view["legend"], view["scale"]
    highlighted = legend["highlighted"]
    w, h, pad = MAP_WIDTH, MAP_HEIGHT, MAP_PAD
    span_x, span_y = (min(w, h) / 2 - pad,) * 2 if view["dims"] == 3 else (w / 2 - pad, h / 2 - pad)
    order = sorted(view["rows"], key=lambda i: (highlighted[legend["group"][i]], i))
    ident = f" id='{element_id}'" if element_id else ""
    parts = [
        f"<svg{ident} class='fm-map' viewBox='0 0 {w} {h}' width='100%' role='img' "
        f"aria-label='{_e(map_caption(view['map']))}'>",
        f"<rect width='{w}' height='{h}' class='fm-map-bg'/>",
    ]
    for i in order:
        cx = round(w / 2 + m["x"][i] * sx * span_x, 1)
        cy = round(h / 2 - m["y"][i] * sy * span_y, 1)
        g = legend["group"][i]
        r = 3.6 if highlighted[g] else 2.6
        circle = f"<circle class='g{g}' cx='{cx}' cy='{cy}' r='{r}' data-i='{i}'"
        if titles:
            note = legend["statuses"][legend["status"][i]]
            text = f"{legend['groups'][g]} ({note}): {clip(m['text'][i], 120)}"
            parts.append(f"{circle}><title>{_e(text)}</title></circle>")
        else:
            parts.append(circle + "/>")
    parts.append("</svg>")
    return "".join(parts)


def _legend_html(view: dict[str, Any], *, buttons: bool) -> str:
    legend = view["legend"]
    colours = group_colours(legend["highlighted"])
    counts = [0] * len(legend["groups"])
    for i in view["rows"]:
        counts[legend["group"][i]] += 1
    items = []
    for g, (name, colour) in enumerate(zip(legend["groups"], colours, strict=True)):
        if not counts[g]:
            continue
        swatch = f"<span class='fm-swatch' style='background:{colour}'></span>"
        label = f"{swatch}{_e(name)} <span class='fm-muted'>({counts[g]})</span>"
        if buttons:
            items.append(f"<li><button type='button' data-group='{g}'>{label}</button></li>")
        else:
            items.append(f"<li>{label}</li>")
    return "<ul class='fm-legend'>" + "".join(items) + "</ul>"


def _group_css(view: dict[str, Any], scope: str) -> str:
    legend = view["legend"]
    rules = [
        f"{scope} .g{g}{{fill:{c}}}" for g, c in enumerate(group_colours(legend["highlighted"]))
    ]
    rules += [
        f"{scope}[data-focus='{g}'] .g{g}{{opacity:1;stroke:#222;stroke-width:.6}}"
        for g in range(len(legend["groups"]))
    ]
    return "\n".join(rules)


# -- the pieces of every view -----------------------------------------------------------------


def _figures(report: Report) -> list[tuple[str, str]]:
    """Headline numbers as (value, caption)."""
    from faultmap.reports.models import AnalysisReport, CoverageReport

    if isinstance(report, AnalysisReport):
        r = report
        in_slices = sum(s.size for s in r.slices)
        share = in_slices / r.total_prompts if r.total_prompts else 0.0
        return [
            (f"{r.total_prompts:,}", "prompts"),
            (pct(r.baseline_failure_rate), f"fail ({r.total_failures:,} prompts)"),
            (str(r.num_significant), "failure slices"),
            (pct(share), f"of the prompts are in a slice ({in_slices:,})"),
            (
                pct(r.slices[0].failure_rate) if r.slices else "–",
                "failure rate of the top slice",
            ),
        ]
    if isinstance(report, CoverageReport):
        r = report
        uncovered = r.metadata.get("num_uncovered_total", r.num_uncovered)
        return [
            (pct(r.overall_coverage_score), "of production prompts covered"),
            (f"{r.num_production_prompts:,}", "production prompts"),
            (f"{r.num_test_prompts:,}", "test prompts"),
            (f"{uncovered:,}", "uncovered production prompts"),
            (str(r.num_gaps), "coverage gaps"),
        ]
    r = report
    return [
        (f"{r.total_prompts:,}", "prompts"),
        (pct(r.failure_rate_a), f"{r.model_a_name} fails"),
        (pct(r.failure_rate_b), f"{r.model_b_name} fails"),
        (r.winner_name(), f"overall (McNemar p = {pval(r.global_p_value)})"),
        (str(r.num_significant_slices), "slices that differ"),
    ]


def _figures_html(report: Report) -> str:
    cells = [
        f"<div class='fm-figure'><div class='fm-value'>{_e(v)}</div>"
        f"<div class='fm-caption'>{_e(c)}</div></div>"
        for v, c in _figures(report)
    ]
    return "<div class='fm-figures'>" + "".join(cells) + "</div>"


def _headline(report: Report) -> list[str]:
    from faultmap.reports.models import AnalysisReport, CoverageReport

    if isinstance(report, AnalysisReport):
        return headline(report)
    if isinstance(report, CoverageReport):
        return coverage_headline(report)
    return comparison_headline(report)


def _table(report: Report, colours: Sequence[str]) -> str:
    """The sortable table of :func:`~faultmap.reports.text.summary_table`: sort keys in
    ``data-v``, rates drawn with their 95 % interval, names linked to their cards."""
    columns, rows = summary_table(report)
    head = "".join(
        f"<th data-key='{k}' data-sort='{'text' if kind in ('name', 'text') else 'number'}' "
        f"scope='col'>{_e(label)}</th>"
        for k, (label, kind) in enumerate(columns)
    )
    significant = [getattr(item, "significant", True) for item in _cards_source(report)]
    body = []
    for r, cells in enumerate(rows):
        card = sum(significant[: r + 1])
        tds, rate_columns = [], 0
        for (_, kind), cell in zip(columns, cells, strict=True):
            shown = _e(cell.text)
            if kind == "name" and significant[r]:
                shown = f"<a href='#fm-card-{card}'>{shown}</a>"
            elif cell.interval is not None:
                rate, low, high, base = cell.interval
                # a slice's own colour; for a comparison, one colour per model
                colour = colours[r % len(colours)] if base is not None else PALETTE[rate_columns]
                rate_columns += 1
                shown = f"{_interval_svg(rate, low, high, colour, base)} <span>{shown}</span>"
            tds.append(f"<td data-v='{_e(cell.key)}' class='fm-{kind}'>{shown}</td>")
        body.append(f"<tr data-group='{r}'>" + "".join(tds) + "</tr>")
    return (
        f"<table class='fm-table fm-sortable'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _table_note(report: Report) -> str:
    from faultmap.reports.models import AnalysisReport, ComparisonReport

    if isinstance(report, AnalysisReport):
        return " A rate is a dot on its 95% interval (the bar); the tick marks the baseline."
    if isinstance(report, ComparisonReport):
        return " A rate is a dot on its 95% interval (the bar), one colour per model."
    return ""


def _prompt_list(title: str, prompts: Iterable[str]) -> str:
    items = "".join(f"<li>{_e(clip(p, TEXT_LIMIT))}</li>" for p in prompts)
    return f"<h4>{_e(title)}</h4><ol class='fm-prompts'>{items}</ol>" if items else ""


def _examples_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return ""
    th = "".join(f"<th scope='col'>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(clip(str(c), TEXT_LIMIT))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table class='fm-examples'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cards(report: Report) -> list[tuple[str, str, list[str], str]]:
    """One (title, description, facts, examples HTML) per slice / gap worth a card."""
    from faultmap.reports.models import AnalysisReport, CoverageReport

    cards = []
    if isinstance(report, AnalysisReport):
        for s in report.slices:
            failing = [e for e in s.examples if e.get("failed")]
            examples = _prompt_list("Typical prompts", s.representative_prompts[:5])
            if failing:
                examples += "<h4>Failing examples</h4>" + _examples_table(
                    ("row", "score", "prompt", "response"),
                    [
                        (e["index"], f"{e['score']:.2f}", e["prompt"], e.get("response", ""))
                        for e in failing[:5]
                    ],
                )
            cards.append((s.name, s.description, slice_facts(s), examples))
    elif isinstance(report, CoverageReport):
        for g in report.gaps:
            examples = _prompt_list("Typical prompts", g.representative_prompts[:5])
            cards.append((g.name, g.description, gap_facts(g), examples))
    else:
        a, b = report.model_a_name, report.model_b_name
        for s in report.slices:
            if not s.significant:
                continue
            examples = _prompt_list("Typical prompts", s.representative_prompts[:5])
            won = [e for e in s.examples if e.get("won_by") == s.winner]
            if won:
                examples += f"<h4>Prompts only {_e(report.winner_name(s.winner))} passed</h4>"
                examples += _examples_table(
                    ("row", "prompt", f"{a}: score, response", f"{b}: score, response"),
                    [
                        (
                            e["index"],
                            e["prompt"],
                            f"{e['score_a']:.2f}: {e.get('response_a', '')}",
                            f"{e['score_b']:.2f}: {e.get('response_b', '')}",
                        )
                        for e in won[:5]
                    ],
                )
            cards.append((s.name, s.description, comparison_slice_facts(s, a, b), examples))
    return cards


def _kind(report: Report) -> str:
    from faultmap.reports.models import AnalysisReport, CoverageReport

    if isinstance(report, AnalysisReport):
        return "analysis"
    return "coverage audit" if isinstance(report, CoverageReport) else "model comparison"


def _items_word(report: Report) -> str:
    from faultmap.reports.models import CoverageReport

    return "Coverage gaps" if isinstance(report, CoverageReport) else "Slices"


# -- the compact view (Jupyter) ---------------------------------------------------------------

_COMPACT_CSS = """
.faultmap-report{font-family:system-ui,sans-serif;max-width:980px}
.faultmap-report .fm-figures{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0}
.faultmap-report .fm-figure{border:1px solid #ddd;border-radius:6px;padding:4px 10px}
.faultmap-report .fm-value{font-size:1.3em;font-weight:600}
.faultmap-report .fm-caption,.faultmap-report .fm-muted{color:#666;font-size:.85em}
.faultmap-report .fm-map{max-width:560px;border:1px solid #eee}
.faultmap-report .fm-map-bg{fill:#fff}
.faultmap-report .fm-legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px}
.faultmap-report .fm-swatch{display:inline-block;width:10px;height:10px;border-radius:5px;
 margin-right:4px}
.faultmap-report .fm-track{stroke:#ddd;stroke-width:4}
.faultmap-report .fm-base{stroke:#555;stroke-width:1}
"""


def _compact(report: Report) -> str:
    view = _map_view(report, COMPACT_MAP_POINTS)
    colours = group_colours([True] * max(len(_cards_source(report)), 1))
    parts = [
        f"<div class='faultmap-report'><style>{_COMPACT_CSS}",
        _group_css(view, ".faultmap-report .fm-map") if view else "",
        "</style>",
        f"<h3>faultmap {_e(_kind(report))}</h3>",
        _figures_html(report),
    ]
    parts += [f"<p>{_e(line)}</p>" for line in _headline(report)]
    if _cards_source(report):
        parts.append(_table(report, colours))
    if view is not None:
        parts.append(
            f"<details><summary>Map of the prompts</summary><p class='fm-muted'>"
            f"{_e(map_caption(report.map))} Hover a point to read its prompt.</p>"
            f"{_legend_html(view, buttons=False)}{_map_svg(view, titles=True)}</details>"
        )
    for k, (title, description, facts, examples) in enumerate(_cards(report), 1):
        parts.append(f"<details><summary>{k}. {_e(title)}</summary>")
        parts.append(f"<p>{_e(description)}</p><ul>")
        parts += [f"<li>{_e(f)}</li>" for f in facts]
        parts.append(f"</ul>{examples}</details>")
    parts.append("</div>")
    return "\n".join(parts)


def _cards_source(report: Report) -> list[Any]:
    from faultmap.reports.models import CoverageReport

    return list(report.gaps if isinstance(report, CoverageReport) else report.slices)


def analysis_html(report: AnalysisReport) -> str:
    """The compact HTML Jupyter shows for an analysis (no script; a static map)."""
    return _compact(report)


def coverage_html(report: CoverageReport) -> str:
    """The compact HTML Jupyter shows for a coverage audit (no script; a static map)."""
    return _compact(report)


def comparison_html(report: ComparisonReport) -> str:
    """The compact HTML Jupyter shows for a model comparison (no script; a static map)."""
    return _compact(report)


# -- the self-contained page ------------------------------------------------------------------

_PAGE_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
 background:#f6f7f9;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:18px 24px 40px}
header h1{margin:0 0 2px;font-size:1.6em}
h2{margin:0 0 8px;font-size:1.2em}
h4{margin:12px 0 4px;font-size:.95em}
section,.fm-card{background:#fff;border:1px solid #e3e5e8;border-radius:8px;padding:14px 18px;
 margin:12px 0}
.fm-muted,.fm-caption{color:#62666d;font-size:.88em}
.fm-figures{display:flex;flex-wrap:wrap;gap:10px}
.fm-figure{flex:1 1 150px;background:#fff;border:1px solid #e3e5e8;border-radius:8px;
 padding:10px 14px}
.fm-value{font-size:1.7em;font-weight:650;word-break:break-word}
.fm-story p{margin:4px 0}
.fm-map-wrap{position:relative}
.fm-map{display:block;width:100%;height:auto;border:1px solid #eceef1;border-radius:6px;
 touch-action:none}
.fm-map-bg{fill:#fcfcfd}
.fm-map circle{opacity:.85}
.fm-map[data-focus] circle{opacity:.12}
.fm-map circle:hover{stroke:#000;stroke-width:1.2;opacity:1}
.fm-legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 8px}
.fm-legend button{border:1px solid #d8dbe0;background:#fff;border-radius:14px;
 padding:2px 10px;cursor:pointer;font:inherit;font-size:.88em;text-align:left;
 max-width:100%;overflow-wrap:anywhere}
.fm-legend button[aria-pressed='true']{background:#1d1d1f;color:#fff}
.fm-swatch{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:5px}
.fm-tip{position:absolute;max-width:420px;background:#1d1d1f;color:#fff;padding:8px 10px;
 border-radius:6px;font-size:.85em;pointer-events:none;white-space:pre-wrap;z-index:2}
.fm-tip .fm-tip-head{font-weight:650}
.fm-tip .fm-tip-status{color:#c9cdd3;margin-bottom:4px}
.fm-table-wrap{overflow-x:auto}
.fm-table{border-collapse:collapse;width:100%;font-size:.92em}
.fm-table td.fm-name{min-width:180px;max-width:420px;overflow-wrap:anywhere}
.fm-table th,.fm-table td{padding:6px 8px;border-bottom:1px solid #eceef1;text-align:left;
 vertical-align:middle}
.fm-table th[data-sort]{cursor:pointer;user-select:none;white-space:nowrap}
.fm-table th[aria-sort='ascending']::after{content:' \\25B2'}
.fm-table th[aria-sort='descending']::after{content:' \\25BC'}
.fm-table tbody tr:hover{background:#f3f6fb}
.fm-rate{white-space:nowrap}
.fm-ci{vertical-align:middle}
.fm-track{stroke:#e6e8eb;stroke-width:4;stroke-linecap:round}
.fm-base{stroke:#555;stroke-width:1.2}
.fm-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.fm-card{margin:0;min-width:0;overflow-wrap:anywhere}
.fm-card h3{margin:0 0 4px;font-size:1.05em}
.fm-card ul{padding-left:18px;margin:6px 0}
.fm-prompts{padding-left:22px;margin:4px 0}
.fm-prompts li,.fm-examples td{white-space:pre-wrap;word-break:break-word}
.fm-examples{border-collapse:collapse;width:100%;font-size:.85em}
.fm-examples th,.fm-examples td{border:1px solid #eceef1;padding:4px 6px;vertical-align:top;
 text-align:left}
footer{font-size:.85em;color:#62666d}
footer dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}
footer dt{font-weight:600}
footer dd{margin:0}
"""

# The page's only script. It reads the JSON data block and writes prompt text only through
# textContent. Kept free of data so its hash (in the Content-Security-Policy) is fixed.
_PAGE_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fm-data").textContent);
  var svg = document.getElementById("fm-map");
  var tip = document.getElementById("fm-tip");
  var pinned = null;

  function focus(group) {
    if (!svg) { return; }
    if (group === null || group === undefined) { svg.removeAttribute("data-focus"); }
    else { svg.setAttribute("data-focus", String(group)); }
  }

  function line(cls, text) {
    var el = document.createElement("div");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function showTip(i, x, y) {
    var m = data.map;
    if (!tip || !m || i < 0 || i >= m.text.length) { return; }
    tip.replaceChildren(
      line("fm-tip-head", data.groups[m.group[i]]),
      line("fm-tip-status", "row " + m.index[i] + " \\u00b7 " + data.statuses[m.status[i]]),
      line("fm-tip-text", m.text[i])
    );
    tip.hidden = false;
    tip.setAttribute("data-i", String(i));
    var box = svg.parentNode.getBoundingClientRect();
    var left = Math.min(Math.max(x - box.left + 14, 0), Math.max(box.width - 430, 0));
    tip.style.left = left + "px";
    tip.style.top = (y - box.top + 14) + "px";
  }

  function hideTip() { if (tip) { tip.hidden = true; } }

  if (svg && data.map) {
    svg.addEventListener("mousemove", function (ev) {
      var i = ev.target.getAttribute && ev.target.getAttribute("data-i");
      if (i === null || i === undefined) { hideTip(); return; }
      showTip(parseInt(i, 10), ev.clientX, ev.clientY);
    });
    svg.addEventListener("mouseleave", hideTip);
    if (data.map.z) { rotatable(); }
  }

  function rotatable() {
    var m = data.map, v = data.view, yaw = 0, pitch = 0, drag = null;
    var circles = svg.querySelectorAll("circle[data-i]");
    function draw() {
      var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
      var span = Math.min(v.width, v.height) / 2 - v.pad;
      for (var k = 0; k < circles.length; k++) {
        var i = parseInt(circles[k].getAttribute("data-i"), 10);
        var x = m.x[i] * cy + m.z[i] * sy, z = -m.x[i] * sy + m.z[i] * cy;
        var y = m.y[i] * cp - z * sp;
        circles[k].setAttribute("cx", (v.width / 2 + x * v.scale * span).toFixed(1));
        circles[k].setAttribute("cy", (v.height / 2 - y * v.scale * span).toFixed(1));
      }
    }
    svg.addEventListener("pointerdown", function (ev) {
      drag = [ev.clientX, ev.clientY, yaw, pitch];
      svg.setPointerCapture(ev.pointerId);
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      yaw = drag[2] + (ev.clientX - drag[0]) * 0.01;
      pitch = drag[3] + (ev.clientY - drag[1]) * 0.01;
      draw();
    });
    svg.addEventListener("pointerup", function () { drag = null; });
  }

  document.querySelectorAll(".fm-legend button[data-group]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var g = btn.getAttribute("data-group");
      pinned = pinned === g ? null : g;
      document.querySelectorAll(".fm-legend button").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other.getAttribute("data-group") === pinned));
      });
      focus(pinned);
    });
  });

  function sortTable(table, key, dir) {
    var heads = table.tHead.rows[0].cells, col = -1;
    for (var k = 0; k < heads.length; k++) {
      if (heads[k].getAttribute("data-key") === key) { col = k; }
      heads[k].removeAttribute("aria-sort");
    }
    if (col < 0) { return; }
    var numeric = heads[col].getAttribute("data-sort") === "number";
    heads[col].setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  document.querySelectorAll("table.fm-sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (!th.getAttribute("data-sort")) { return; }
      th.tabIndex = 0;
      function go() {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortTable(table, th.getAttribute("data-key"), dir);
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { go(); } });
    });
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      tr.addEventListener("mouseenter", function () { focus(tr.getAttribute("data-group")); });
      tr.addEventListener("mouseleave", function () { focus(pinned); });
    });
  });

  // A link can open the page sorted or with a prompt shown: #sort=size&order=descending&point=3
  var hash = window.location.hash.slice(1);
  if (hash.indexOf("=") >= 0) {
    var params = new URLSearchParams(hash);
    var table = document.querySelector("table.fm-sortable");
    if (table && params.get("sort")) {
      sortTable(table, params.get("sort"), params.get("order") || "ascending");
    }
    if (svg && params.get("point") !== null) {
      var i = parseInt(params.get("point"), 10);
      var el = svg.querySelector("circle[data-i='" + i + "']");
      if (el) {
        var r = el.getBoundingClientRect();
        showTip(i, r.left, r.top);
      }
    }
  }
  document.documentElement.setAttribute("data-fm-ready", "1");
})();
"""


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"script-src '{_script_hash(_PAGE_JS)}'; "
    "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)


def _json_block(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element or open markup inside it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _footer(report: Report) -> str:
    from faultmap import __version__

    settings = [
        ("faultmap", __version__),
        ("embedding model", report.embedding_model),
        ("clustering", report.clustering_method),
        ("significance level (FDR)", f"{report.significance_level:g}"),
    ]
    for name in ("scoring_mode", "failure_threshold", "min_slice_size", "min_gap_size"):
        if hasattr(report, name):
            settings.append((name.replace("_", " "), f"{getattr(report, name)}"))
    timings = report.metadata.get("timings_s", {})
    if isinstance(timings, dict) and timings:
        settings.append(("timings (s)", ", ".join(f"{k} {v}" for k, v in timings.items())))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in settings)
    return f"<footer><section><h2>Settings</h2><dl>{items}</dl></section></footer>"


def page_html(report: Report) -> str:
    """The report as one self-contained HTML page (see :func:`render_page`)."""
    view = _map_view(report, None)
    items = _cards_source(report)
    colours = group_colours([True] * max(len(items), 1))
    kind = _kind(report)
    data: dict[str, Any] = {"map": None, "groups": [], "statuses": []}
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{CONTENT_SECURITY_POLICY}\">",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<meta name='referrer' content='no-referrer'>",
        f"<title>faultmap {_e(kind)}</title>",
        f"<style>{_PAGE_CSS}",
        _group_css(view, ".fm-map") if view else "",
        "</style></head><body><main>",
        f"<header><h1>faultmap {_e(kind)}</h1><p class='fm-muted'>"
        f"{_e(report.embedding_model)} embeddings · {_e(report.clustering_method)} "
        f"clustering</p></header>",
        _figures_html(report),
        "<section class='fm-story'>"
        + "".join(f"<p>{_e(line)}</p>" for line in _headline(report))
        + "</section>",
    ]
    word = _items_word(report)
    if items:
        parts.append(
            f"<section><h2>{_e(word)}</h2><p class='fm-muted'>Click a column to sort."
            f"{_table_note(report)}</p><div class='fm-table-wrap'>{_table(report, colours)}"
            "</div></section>"
        )
    if view is not None:
        m, legend = view["map"], view["legend"]
        data = {
            "map": {
                "index": m["index"],
                "text": m["text"],
                "group": legend["group"],
                "status": legend["status"],
                **({"x": m["x"], "y": m["y"], "z": m["z"]} if view["dims"] == 3 else {}),
            },
            "groups": legend["groups"],
            "statuses": legend["statuses"],
            "view": {
                "width": MAP_WIDTH,
                "height": MAP_HEIGHT,
                "pad": MAP_PAD,
                "scale": view["scale"][0],
            },
        }
        hint = "Drag to turn the map. " if view["dims"] == 3 else ""
        parts.append(
            "<section class='fm-map-section'><h2>Map of the prompts</h2>"
            f"<p class='fm-muted'>{_e(map_caption(m))} {hint}Hover a point to read its "
            "prompt; click a legend entry or point at a table row to pick out its prompts.</p>"
            f"{_legend_html(view, buttons=True)}<div class='fm-map-wrap'>"
            f"{_map_svg(view, titles=False, element_id='fm-map')}"
            "<div id='fm-tip' class='fm-tip' role='tooltip' hidden></div></div></section>"
        )
    cards = _cards(report)
    if cards:
        parts.append("<div class='fm-cards'>")
        for k, (title, description, facts, examples) in enumerate(cards, 1):
            parts.append(
                f"<article class='fm-card' id='fm-card-{k}'><h3>{k}. {_e(title)}</h3>"
                f"<p>{_e(description)}</p><ul>"
                + "".join(f"<li>{_e(f)}</li>" for f in facts)
                + f"</ul>{examples}</article>"
            )
        parts.append("</div>")
    cells = hybrid_cell_lines(report) if hasattr(report, "hybrid_cells") else []
    if cells:
        parts.append(
            "<section class='fm-hybrid'><h2>Slice × metadata cells</h2><p class='fm-muted'>"
            "Cells that fail significantly more than both the rest of their cluster and their "
            "metadata value elsewhere.</p><ul>"
            + "".join(f"<li>{_e(line.strip())}</li>" for line in cells)
            + "</ul></section>"
        )
    parts.append(_footer(report))
    parts.append("</main>")
    parts.append(
        f"<script type='application/json' id='fm-data'>{_json_block(data)}</script>"
        f"<script>{_PAGE_JS}</script></body></html>"
    )
    return "\n".join(parts)


def render_page(report: Report, path: str | Path | None = None) -> str:
    """Return ``report`` as one self-contained HTML page; write it to ``path`` when given.

    Example:
        >>> render_page(report, "report.html")  # doctest: +SKIP
    """
    page = page_html(report)
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
        logger.info("faultmap: wrote the HTML report to %s (%d kB)", path, len(page) // 1024)
    return page
