"""Where the comparison recipe used to live: see :mod:`faultmap.analyses.comparison`. The
names stay importable from here."""

from faultmap.analyses.comparison import (
    ComparisonSettings,
    advantage_rate,
    compare_slices,
    comparison_map,
    winner,
)

__all__ = ["ComparisonSettings", "advantage_rate", "compare_slices", "comparison_map", "winner"]
