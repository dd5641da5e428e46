"""What the compact view and the page both show, as the plain values the templates print:
headline figures and sentences, for an analysis with failure modes their table and one card
per mode, the sortable table with drawn intervals, the prompt map, one card per slice or gap,
and how the findings were checked (evidence, power, null audit)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from faultmap.reports._palette import PALETTE, group_colours
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport
from faultmap.reports.text import (
    Cell,
    check_lines,
    clip,
    comparison_headline,
    comparison_slice_facts,
    coverage_headline,
    gap_facts,
    headline,
    list_items,
    map_caption,
    map_legend,
    map_marks,
    mode_facts,
    modes_table,
    pct,
    pval,
    slice_facts,
    summary_table,
    winner_text,
)

__all__ = [
    "MAP_HEIGHT",
    "MAP_PAD",
    "MAP_WIDTH",
    "Report",
    "map_view",
    "shared_values",
]

Report = AnalysisReport | CoverageReport | ComparisonReport

MAP_WIDTH, MAP_HEIGHT, MAP_PAD = 960, 520, 14
INTERVAL_WIDTH, INTERVAL_HEIGHT, INTERVAL_PAD = 130, 14, 4
TEXT_LIMIT = 400
MODE_COLOUR = "#3b3f45"


class _Point(NamedTuple):
    """One circle of the map; ``title`` (the prompt as a tooltip) only in the compact view."""

    group: int
    cx: float
    cy: float
    r: float
    index: int
    title: str | None
    marked: bool = False


def _interval(
    rate: float, low: float, high: float, colour: str, baseline: float | None = None
) -> dict[str, Any]:
    """The positions of a drawn 95 % interval on a 0-100 % track."""
    w, pad = INTERVAL_WIDTH, INTERVAL_PAD

    def x(v: float) -> float:
        return round(pad + max(0.0, min(1.0, v)) * (w - 2 * pad), 1)

    return {
        "width": w,
        "height": INTERVAL_HEIGHT,
        "label": f"{pct(rate)}, 95% interval {pct(low)} to {pct(high)}",
        "start": x(0),
        "end": x(1),
        "base": None if baseline is None else x(baseline),
        "low": x(low),
        "high": x(high),
        "rate": x(rate),
        "colour": colour,
    }


def map_view(report: Report, limit: int | None) -> dict[str, Any] | None:
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
    pos = _framed([list(map(float, m[a])) for a in "xyz"[:dims]])
    marks, marks_note = map_marks(report)
    return {
        "map": m,
        "legend": legend,
        "rows": rows,
        "dims": dims,
        "pos": pos,
        "scale": (1.0, 1.0),
        "marks": marks or [False] * n,
        "marks_note": marks_note,
    }


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * (len(ordered) - 1) + 0.5), len(ordered) - 1)]


def _framed(axes: list[list[float]]) -> list[list[float]]:
    """Coordinates that fill the frame whatever the projection gave (UMAP's are neither
    centred nor scaled): in 2-D each axis from its 1st to its 99th percentile onto [-1, 1];
    in 3-D about the median, scaled so that 98 % of the points lie within the unit sphere
    (so that turning the map keeps them in view). The few points beyond are pulled in to
    the edge, so that an outlier cannot shrink the cloud to a corner."""
    if len(axes) == 3:
        centre = [_quantile(a, 0.5) for a in axes]
        shifted = [[v - c for v in a] for a, c in zip(axes, centre, strict=True)]
        norms = [math.sqrt(sum(a[i] ** 2 for a in shifted)) for i in range(len(axes[0]))]
        radius = max(_quantile(norms, 0.98), 1e-9)
        shrink = [min(1.0, 1.08 * radius / r) if r > 0 else 1.0 for r in norms]
        return [[round(v / radius * k, 4) for v, k in zip(a, shrink, strict=True)] for a in shifted]
    out = []
    for a in axes:
        low, high = _quantile(a, 0.01), _quantile(a, 0.99)
        mid, half = (low + high) / 2, max((high - low) / 2, 1e-9)
        out.append([round(max(-1.04, min(1.04, (v - mid) / half)), 4) for v in a])
    return out


def _prompt_map(
    view: dict[str, Any], *, titles: bool, element_id: str | None = None
) -> dict[str, Any]:
    """The map as the templates draw it (``_parts.html.j2``, ``map_svg``): the points in
    drawing order (slices last, so they sit on top), the legend and the group colours.
    ``titles`` gives each point its prompt as an SVG ``<title>``."""
    m, legend = view["map"], view["legend"]
    pos, marks = view["pos"], view["marks"]
    highlighted = legend["highlighted"]
    w, h, pad = MAP_WIDTH, MAP_HEIGHT, MAP_PAD
    # 3-D points are pulled in to at most 1.08 of the unit sphere: leave room for them
    span_x, span_y = (
        ((min(w, h) / 2 - pad) / 1.08,) * 2 if view["dims"] == 3 else (w / 2 - pad, h / 2 - pad)
    )
    points = []
    for i in sorted(view["rows"], key=lambda i: (highlighted[legend["group"][i]], marks[i], i)):
        g = legend["group"][i]
        title = None
        if titles:
            note = legend["statuses"][legend["status"][i]]
            title = f"{legend['groups'][g]} ({note}): {clip(m['text'][i], 120)}"
        points.append(
            _Point(
                group=g,
                cx=round(w / 2 + pos[0][i] * span_x, 1),
                cy=round(h / 2 - pos[1][i] * span_y, 1),
                r=3.6 if highlighted[g] else 2.6,
                index=i,
                title=title,
                marked=marks[i],
            )
        )
    colours = group_colours(highlighted, legend["tie"])
    counts = [0] * len(legend["groups"])
    for i in view["rows"]:
        counts[legend["group"][i]] += 1
    entries = [
        {
            "group": g,
            "name": name,
            "colour": colour,
            "count": counts[g],
            "tie": legend["tie"][g],
        }
        for g, (name, colour) in enumerate(zip(legend["groups"], colours, strict=True))
        if counts[g]
    ]
    return {
        "element_id": element_id,
        "width": w,
        "height": h,
        "dims": view["dims"],
        "caption": map_caption(m),
        "marks_note": view["marks_note"],
        "points": points,
        "legend": entries,
        "colours": colours,
    }


def _figures(report: Report) -> list[tuple[str, str]]:
    """Headline numbers as (value, caption)."""
    if isinstance(report, AnalysisReport):
        r = report
        in_slices = sum(s.size for s in r.slices)
        share = in_slices / r.total_prompts if r.total_prompts else 0.0
        modes = [(str(r.num_failure_modes), "failure modes")] if r.failure_modes else []
        return [
            (f"{r.total_prompts:,}", "prompts"),
            (pct(r.baseline_failure_rate), f"fail ({r.total_failures:,} prompts)"),
            *modes,
            (str(r.num_significant), "failure slices"),
            (pct(share), f"of the prompts are in a slice ({in_slices:,})"),
            (
                pct(r.slices[0].failure_rate) if r.slices else "–",
                "failure rate of the top slice",
            ),
        ]
    if isinstance(report, CoverageReport):
        c = report
        uncovered = c.metadata.get("num_uncovered_total", c.num_uncovered)
        if c.distance_coverage_score is None:  # written before gaps were regions
            return [
                (pct(c.overall_coverage_score), "of production prompts covered"),
                (f"{c.num_production_prompts:,}", "production prompts"),
                (f"{c.num_test_prompts:,}", "test prompts"),
                (f"{uncovered:,}", "uncovered production prompts"),
                (str(c.num_gaps), "coverage gaps"),
            ]
        return [
            (pct(c.overall_coverage_score), "of production prompts covered (in no gap)"),
            (str(c.num_gaps), "coverage gaps"),
            (f"{c.num_production_prompts:,}", "production prompts"),
            (f"{c.num_test_prompts:,}", "test prompts"),
            (pct(c.distance_coverage_score), "within the distance threshold of a test prompt"),
        ]
    return [
        (f"{report.total_prompts:,}", "prompts"),
        (pct(report.failure_rate_a), f"{report.model_a_name} fails"),
        (pct(report.failure_rate_b), f"{report.model_b_name} fails"),
        (winner_text(report), f"overall (McNemar p = {pval(report.global_p_value)})"),
        (str(report.num_significant_slices), "slices that differ"),
    ]


def _headline(report: Report) -> list[str]:
    if isinstance(report, AnalysisReport):
        return headline(report)
    if isinstance(report, CoverageReport):
        return coverage_headline(report)
    return comparison_headline(report)


def _items(report: Report) -> list[Any]:
    """The slices (gaps for a coverage audit, every tested slice of a comparison) the table
    lists."""
    return list_items(report)


def _shown_table(
    columns: list[tuple[str, str]],
    rows: list[list[Cell]],
    anchors: list[str | None],
    *,
    groups: bool,
    ties: Sequence[bool] = (),
) -> dict[str, Any]:
    """A table of :mod:`~faultmap.reports.text` as the templates print it: sort keys, rates
    with their drawn 95 % interval, names linked to ``anchors`` (the card of each row, None
    for none). With ``groups`` the rows are the map's groups (the page picks out a row's
    prompts on hover), drawn in their colours, and the table sorts; otherwise (failure
    modes, which the map does not colour) the intervals are drawn in one neutral colour."""
    colours = group_colours([True] * len(rows)) if groups else [MODE_COLOUR]
    shown_rows = []
    for r, cells in enumerate(rows):
        shown, rate_columns = [], 0
        for (_, kind), cell in zip(columns, cells, strict=True):
            interval = None
            if cell.interval is not None:
                rate, low, high, base = cell.interval
                # a slice's own colour; for a comparison, one colour per model
                colour = colours[r % len(colours)] if base is not None else PALETTE[rate_columns]
                rate_columns += 1
                interval = _interval(rate, low, high, colour, base)
            shown.append(
                {
                    "kind": kind,
                    "text": cell.text,
                    "key": cell.key,
                    "anchor": anchors[r] if kind == "name" else None,
                    "interval": interval,
                }
            )
        tie = r < len(ties) and ties[r]
        shown_rows.append({"group": r if groups else None, "cells": shown, "tie": tie})
    return {
        "sortable": groups,
        "columns": [
            {"label": label, "sort": "text" if kind in ("name", "text") else "number"}
            for label, kind in columns
        ],
        "rows": shown_rows,
    }


def _table(report: Report) -> dict[str, Any] | None:
    """The sortable table of :func:`~faultmap.reports.text.summary_table`, each name linked
    to its card (a comparison's ties have no card)."""
    items = _items(report)
    if not items:
        return None
    columns, rows = summary_table(report)
    significant = [getattr(item, "significant", True) for item in items]
    anchors = [
        f"fm-card-{sum(significant[: r + 1])}" if significant[r] else None
        for r in range(len(items))
    ]
    ties = [not flag for flag in significant] if isinstance(report, ComparisonReport) else []
    return _shown_table(columns, rows, anchors, groups=True, ties=ties)


def _modes_table(report: Report) -> dict[str, Any] | None:
    """The table of failure modes (:func:`~faultmap.reports.text.modes_table`), each name
    linked to its card; None for a report without modes."""
    if not isinstance(report, AnalysisReport) or not report.failure_modes:
        return None
    columns, rows = modes_table(report)
    anchors: list[str | None] = [f"fm-mode-{k}" for k in range(1, len(rows) + 1)]
    return _shown_table(columns, rows, anchors, groups=False)


def _examples(
    title: str, head: Sequence[str], rows: Sequence[Sequence[Any]]
) -> dict[str, Any] | None:
    if not rows:
        return None
    return {
        "title": title,
        "head": list(head),
        "rows": [[clip(str(c), TEXT_LIMIT) for c in row] for row in rows],
    }


def _card(
    title: str,
    description: str,
    facts: list[str],
    prompts: Sequence[str],
    examples: dict[str, Any] | None = None,
    links: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A card: ``links`` are ``(anchor, text)`` of the cards it points to (a mode's slices);
    a fact that starts with "Warning:" is shown as one."""
    return {
        "title": title,
        "description": description,
        "facts": [{"text": f, "warning": f.startswith("Warning:")} for f in facts],
        "prompts": [clip(p, TEXT_LIMIT) for p in prompts[:5]],
        "examples": examples,
        "links": [{"anchor": a, "text": t} for a, t in links],
    }


def _failing_examples(examples: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    failing = [e for e in examples if e.get("failed")]
    return _examples(
        "Failing examples",
        ("row", "score", "prompt", "response"),
        [
            (e["index"], f"{e['score']:.2f}", e["prompt"], e.get("response", ""))
            for e in failing[:5]
        ],
    )


def _mode_cards(report: Report) -> list[dict[str, Any]]:
    """One card per failure mode: its facts, links to its slices' cards, typical prompts and
    failing examples."""
    if not isinstance(report, AnalysisReport):
        return []
    cards = []
    for m in report.failure_modes:
        links = [
            (f"fm-card-{i + 1}", f"{i + 1}. {clip(report.slices[i].name, 80)}")
            for i in m.slices
            if 0 <= i < len(report.slices)
        ]
        facts = mode_facts(m, report)
        examples = _failing_examples(m.examples)
        cards.append(_card(m.name, m.description, facts, m.representative_prompts, examples, links))
    return cards


def _cards(report: Report) -> list[dict[str, Any]]:
    """One card per slice / gap worth one: its facts, typical prompts and examples."""
    if isinstance(report, AnalysisReport):
        return [
            _card(
                s.name,
                s.description,
                slice_facts(s, report, k),
                s.representative_prompts,
                _failing_examples(s.examples),
            )
            for k, s in enumerate(report.slices)
        ]
    if isinstance(report, CoverageReport):
        return [
            _card(g.name, g.description, gap_facts(g), g.representative_prompts)
            for g in report.gaps
        ]
    a, b = report.model_a_name, report.model_b_name
    cards = []
    for s in report.slices:  # the significant slices
        won: list[Mapping[str, Any]] = [e for e in s.examples if e.get("won_by") == s.winner]
        examples = _examples(
            f"Prompts only {report.winner_name(s.winner)} passed",
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
        facts = comparison_slice_facts(s, a, b)
        cards.append(_card(s.name, s.description, facts, s.representative_prompts, examples))
    return cards


def _kind(report: Report) -> str:
    if isinstance(report, AnalysisReport):
        return "analysis"
    return "coverage audit" if isinstance(report, CoverageReport) else "model comparison"


def shared_values(report: Report, view: dict[str, Any] | None, *, titles: bool) -> dict[str, Any]:
    """What the page and the compact view both show."""
    element_id = None if titles else "fm-map"
    return {
        "kind": _kind(report),
        "figures": _figures(report),
        "headline": _headline(report),
        "table": _table(report),
        "prompt_map": None
        if view is None
        else _prompt_map(view, titles=titles, element_id=element_id),
        "cards": _cards(report),
        "modes_table": _modes_table(report),
        "mode_cards": _mode_cards(report),
        "checks": check_lines(report) if isinstance(report, AnalysisReport) else [],
    }
