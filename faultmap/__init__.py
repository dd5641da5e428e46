"""faultmap: find where and why a model fails.

``import faultmap`` is light: numpy only. Stages import their heavy libraries when used.

Example:
    >>> from faultmap import SliceAnalyzer
    >>> analyzer = SliceAnalyzer()   # local model, keyword names, no network
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from faultmap.analyzer import SliceAnalyzer
from faultmap.config import LLMConfig
from faultmap.exceptions import (
    ClusteringError,
    ConfigurationError,
    DataError,
    EmbeddingError,
    FaultmapError,
    FaultmapWarning,
    LLMError,
    MissingDependencyError,
)
from faultmap.reports.models import AnalysisReport, ClusterTest, FailureSlice

try:
    __version__ = version("faultmap")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "AnalysisReport",
    "ClusterTest",
    "ClusteringError",
    "ConfigurationError",
    "DataError",
    "EmbeddingError",
    "FailureSlice",
    "FaultmapError",
    "FaultmapWarning",
    "LLMConfig",
    "LLMError",
    "MissingDependencyError",
    "SliceAnalyzer",
    "__version__",
]
