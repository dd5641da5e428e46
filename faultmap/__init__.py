"""faultmap: find where and why a model fails.

``import faultmap`` is light: numpy only. Stages import their heavy libraries when used.

Example:
    >>> from faultmap import SliceAnalyzer
    >>> analyzer = SliceAnalyzer()   # local model, keyword names, no network
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from faultmap.analyzer import SliceAnalyzer
from faultmap.cohorts import CohortReport, cohort_failure_rates
from faultmap.config import LLMConfig
from faultmap.exceptions import (
    ClusteringError,
    CompatibilityWarning,
    ConfigurationError,
    CoverageMeaningWarning,
    DataError,
    EmbeddingError,
    FaultmapError,
    FaultmapWarning,
    LLMError,
    MissingDependencyError,
    ScoringError,
)
from faultmap.reasons import ReasonReport, cluster_reasons
from faultmap.reports.models import (
    AnalysisReport,
    ClusterTest,
    ComparisonReport,
    CoverageGap,
    CoverageReport,
    FailureMode,
    FailureSlice,
    ModeNode,
    NullAudit,
    RegionTest,
    SliceComparison,
)
from faultmap.scoring.base import ScoringResult

try:
    __version__ = version("faultmap")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "AnalysisReport",
    "ClusterTest",
    "ClusteringError",
    "CohortReport",
    "ComparisonReport",
    "CompatibilityWarning",
    "ConfigurationError",
    "CoverageGap",
    "CoverageMeaningWarning",
    "CoverageReport",
    "DataError",
    "EmbeddingError",
    "FailureMode",
    "FailureSlice",
    "FaultmapError",
    "FaultmapWarning",
    "LLMConfig",
    "LLMError",
    "MissingDependencyError",
    "ModeNode",
    "NullAudit",
    "ReasonReport",
    "RegionTest",
    "ScoringError",
    "ScoringResult",
    "SliceAnalyzer",
    "SliceComparison",
    "__version__",
    "cluster_reasons",
    "cohort_failure_rates",
]
