"""Where the coverage audit used to live: see :mod:`faultmap.analyses.coverage` (its module
documentation explains the statistics). The names stay importable from here."""

from faultmap.analyses.coverage import (
    CoverageSettings,
    coverage_map,
    coverage_threshold,
    find_coverage_gaps,
)

__all__ = ["CoverageSettings", "coverage_map", "coverage_threshold", "find_coverage_gaps"]
