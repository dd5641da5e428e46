"""The plotly figures of a report, under their first public name: the functions live in
:mod:`faultmap.reports.plot`, with the other views.

Example:
    >>> from faultmap import viz
    >>> fig = viz.slice_map(report)      # doctest: +SKIP
    >>> fig.write_html("map.html")       # doctest: +SKIP
"""

from faultmap.reports.plot import comparison_rates, plot, slice_map, slice_rates

__all__ = ["comparison_rates", "plot", "slice_map", "slice_rates"]
