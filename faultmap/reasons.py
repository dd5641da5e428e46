"""Where reason clustering used to live: see :mod:`faultmap.analyses.reasons`. The names
stay importable from here."""

from faultmap.analyses.reasons import (
    NO_REASON,
    NO_SLICE,
    UNCLUSTERED,
    CrossTab,
    ReasonGroup,
    ReasonReport,
    cluster_reasons,
)

__all__ = [
    "NO_REASON",
    "NO_SLICE",
    "UNCLUSTERED",
    "CrossTab",
    "ReasonGroup",
    "ReasonReport",
    "cluster_reasons",
]
