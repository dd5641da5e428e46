"""Interactive plotly figures of a report: the map of the prompts and failure rates.

plotly is optional (``pip install 'faultmap[viz]'``) and imported only when a figure is made;
the HTML report (``report.to_html()``) needs no plotly. Legends and hover texts come from
:mod:`faultmap.reports.text`, like every other view; text from the data is escaped, so a
prompt shows as typed. :func:`plot` is what ``report.plot()`` draws; :mod:`faultmap.viz`
gives the same functions under their older public name.

Example:
    >>> from faultmap.reports import plot
    >>> fig = plot.slice_map(report)     # doctest: +SKIP
    >>> fig.write_html("map.html")       # doctest: +SKIP
"""

from __future__ import annotations

from html import escape
from typing import Any

from faultmap._optional import require
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.reports._palette import group_colours
from faultmap.reports._registry import register
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport
from faultmap.reports.text import clip, map_caption, map_legend, pct, pval, rate_interval

Report = AnalysisReport | CoverageReport | ComparisonReport

__all__ = ["comparison_rates", "coverage_rates", "plot", "slice_map", "slice_rates"]


def _go() -> Any:
    return require("plotly.graph_objects", extra="viz", purpose="faultmap's plotly figures")


def _label(text: str, limit: int = 60) -> str:
    """Text from the data as plotly label: clipped and escaped (plotly reads a little HTML)."""
    return escape(clip(text, limit), quote=False)


def slice_map(report: Report, *, title: str | None = None) -> Any:
    """The prompts of ``report.map`` as a plotly scatter (3-D when the map has ``z``), one
    trace per slice or gap and one per group of the other prompts, the prompt on hover.

    Example:
        >>> slice_map(report).show()  # doctest: +SKIP
    """
    go = _go()
    m = report.map
    if not m or not m.get("x"):
        raise DataError(
            "This report has no map of the prompts. Run the analysis with "
            "SliceAnalyzer(map_projection='pca') (the default) or 'umap' to get one."
        )
    legend = map_legend(report)
    three_d = "z" in m
    members: list[list[int]] = [[] for _ in legend["groups"]]
    for i, g in enumerate(legend["group"]):
        members[g].append(i)
    colours = group_colours(legend["highlighted"], legend["tie"])
    fig = go.Figure()
    # the prompts in no slice first, so that the slices are drawn on top of them
    for g in sorted(range(len(members)), key=lambda g: (legend["highlighted"][g], g)):
        rows, colour = members[g], colours[g]
        if not rows:
            continue
        hover = [
            f"<b>{_label(legend['groups'][g])}</b><br>row {m['index'][i]} · "
            f"{escape(legend['statuses'][legend['status'][i]], quote=False)}<br>"
            + escape(clip(m["text"][i], 200), quote=False)
            for i in rows
        ]
        common = dict(
            name=_label(legend["groups"][g]),
            mode="markers",
            hovertext=hover,
            hoverinfo="text",
            marker=dict(color=colour, size=6 if legend["highlighted"][g] else 4),
        )
        if three_d:
            fig.add_trace(
                go.Scatter3d(
                    x=[m["x"][i] for i in rows],
                    y=[m["y"][i] for i in rows],
                    z=[m["z"][i] for i in rows],
                    **common,
                )
            )
        else:
            fig.add_trace(
                go.Scattergl(x=[m["x"][i] for i in rows], y=[m["y"][i] for i in rows], **common)
            )
    fig.update_layout(
        title=title or escape(map_caption(m), quote=False),
        template="plotly_white",
        legend=dict(itemsizing="constant"),
        height=600,
    )
    if not three_d:
        fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
        fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    return fig


#: The bars of the failure modes (one colour, apart from the slices').
MODE_COLOUR = "#3b3f45"


def _rate_bars(go: Any, items: list[Any], names: list[str], colours: list[str], name: str) -> Any:
    """A bar per slice (or mode) at its failure rate, with its 95 % Wilson interval."""
    hover = [
        f"{n}<br>{pct(s.failure_rate)} (95% CI {pct(s.confidence_interval[0])}–"
        f"{pct(s.confidence_interval[1])}), {s.size} prompts<br>adjusted p = "
        f"{pval(s.adjusted_p_value)}"
        for n, s in zip(names, items, strict=True)
    ]
    return go.Bar(
        x=names,
        y=[s.failure_rate for s in items],
        error_y=dict(
            type="data",
            symmetric=False,
            array=[s.confidence_interval[1] - s.failure_rate for s in items],
            arrayminus=[s.failure_rate - s.confidence_interval[0] for s in items],
        ),
        marker_color=colours,
        hovertext=hover,
        hoverinfo="text",
        name=name,
    )


def slice_rates(report: AnalysisReport, *, title: str | None = None) -> Any:
    """Failure rate of every failure mode (first, in one colour; trace "failure modes") and
    every slice (trace "failure rate") with its 95 % Wilson interval, against the baseline.

    Example:
        >>> slice_rates(report).show()  # doctest: +SKIP
    """
    if not isinstance(report, AnalysisReport):
        raise ConfigurationError(
            f"slice_rates() draws an AnalysisReport; got a {type(report).__name__}. Use "
            "comparison_rates() for a ComparisonReport."
        )
    go = _go()
    fig = go.Figure()
    modes = report.failure_modes
    if modes:
        names = [f"Mode {k}. {_label(m.name, 40)}" for k, m in enumerate(modes, 1)]
        fig.add_trace(_rate_bars(go, modes, names, [MODE_COLOUR] * len(names), "failure modes"))
    names = [f"{k}. {_label(s.name, 40)}" for k, s in enumerate(report.slices, 1)]
    colours = group_colours([True] * len(names))
    fig.add_trace(_rate_bars(go, report.slices, names, colours, "failure rate"))
    fig.add_hline(
        y=report.baseline_failure_rate,
        line_dash="dash",
        annotation_text=f"baseline {pct(report.baseline_failure_rate)}",
    )
    what = "failure mode and slice" if modes else "slice"
    fig.update_layout(
        title=title or f"Failure rate of each {what} (95% Wilson interval)",
        template="plotly_white",
        yaxis=dict(title="failure rate", tickformat=".0%", range=[0, 1]),
        showlegend=False,
        barmode="overlay",
    )
    return fig


def comparison_rates(
    report: ComparisonReport, *, include_ties: bool = True, title: str | None = None
) -> Any:
    """Per-slice failure rates of both models side by side, with 95 % Wilson intervals.

    Example:
        >>> comparison_rates(report, include_ties=False).show()  # doctest: +SKIP
    """
    if not isinstance(report, ComparisonReport):
        raise ConfigurationError(
            f"comparison_rates() draws a ComparisonReport; got a {type(report).__name__}. "
            "Use slice_rates() for an AnalysisReport."
        )
    go = _go()
    slices = list(report.tested_slices) if include_ties else list(report.slices)
    names = [
        f"{k}. {_label(s.name, 40)}{'' if s.significant else ' (tie)'}"
        for k, s in enumerate(slices, 1)
    ]
    fig = go.Figure()
    for side, model, colour in zip(
        "ab", (report.model_a_name, report.model_b_name), group_colours([True, True]), strict=True
    ):
        rates = [getattr(s, f"failure_rate_{side}") for s in slices]
        intervals = [rate_interval(r, s.size) for r, s in zip(rates, slices, strict=True)]
        fig.add_trace(
            go.Bar(
                x=names,
                y=rates,
                name=_label(model, 40),
                marker_color=colour,
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[hi - r for r, (_, hi) in zip(rates, intervals, strict=True)],
                    arrayminus=[r - lo for r, (lo, _) in zip(rates, intervals, strict=True)],
                ),
                hovertext=[
                    f"{_label(model, 40)}: {pct(r)} (95% CI {pct(lo)}–{pct(hi)})<br>"
                    f"winner: {_label(report.winner_name(s.winner), 40)}, adjusted p = "
                    f"{pval(s.adjusted_p_value)}"
                    for r, (lo, hi), s in zip(rates, intervals, slices, strict=True)
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        barmode="group",
        title=title or "Failure rate of each model per slice (95% Wilson interval)",
        template="plotly_white",
        yaxis=dict(title="failure rate", tickformat=".0%", range=[0, 1]),
    )
    return fig


def coverage_rates(report: CoverageReport, *, title: str | None = None) -> Any:
    """Test prompts per expected test prompt in every coverage gap (1 = represented as in
    production), with its 95 % interval where the report has one.

    Example:
        >>> coverage_rates(report).show()  # doctest: +SKIP
    """
    if not isinstance(report, CoverageReport):
        raise ConfigurationError(
            f"coverage_rates() draws a CoverageReport; got a {type(report).__name__}."
        )
    go = _go()
    gaps = list(report.gaps)
    names = [f"{k}. {_label(g.name, 40)}" for k, g in enumerate(gaps, 1)]
    ratios = [
        g.ratio if g.ratio is not None else g.test_count / max(g.expected_test_count, 1e-9)
        for g in gaps
    ]
    high = [
        (g.ratio_interval[1] - r) if g.ratio_interval else 0.0
        for g, r in zip(gaps, ratios, strict=True)
    ]
    low = [
        (r - g.ratio_interval[0]) if g.ratio_interval else 0.0
        for g, r in zip(gaps, ratios, strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=ratios,
            error_y=dict(type="data", symmetric=False, array=high, arrayminus=low),
            marker_color=group_colours([True] * len(gaps)),
            hovertext=[
                f"{n}<br>{g.test_count} test prompts where {g.expected_test_count:.1f} were "
                f"expected; {g.size} production prompts<br>adjusted p = "
                f"{pval(g.adjusted_p_value)}"
                for n, g in zip(names, gaps, strict=True)
            ],
            hoverinfo="text",
        )
    )
    fig.add_hline(y=1.0, line_dash="dash", annotation_text="as in production")
    fig.update_layout(
        title=title or "Test prompts per expected test prompt in each gap (95% interval)",
        template="plotly_white",
        yaxis=dict(title="test / expected", rangemode="tozero"),
        showlegend=False,
    )
    return fig


@register("plot", AnalysisReport, CoverageReport, ComparisonReport)
def plot(report: Report, kind: str = "map", **kwargs: Any) -> Any:
    """The figure ``kind`` of ``report``: "map" or "rates" (failure rates of an analysis or
    a comparison; test / expected prompts per gap of a coverage audit). Keyword arguments
    go to the figure function.

    Example:
        >>> plot(report, "rates")  # doctest: +SKIP
    """
    figures: dict[str, Any] = {"map": slice_map}
    if isinstance(report, AnalysisReport):
        figures["rates"] = slice_rates
    elif isinstance(report, ComparisonReport):
        figures["rates"] = comparison_rates
    elif isinstance(report, CoverageReport):
        figures["rates"] = coverage_rates
    if kind not in figures:
        raise ConfigurationError(
            f"The 'kind' parameter of {type(report).__name__}.plot must be one of "
            f"{', '.join(map(repr, figures))}. Got {kind!r}."
        )
    return figures[kind](report, **kwargs)
