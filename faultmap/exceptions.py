"""Exception and warning classes raised by faultmap.

Every error faultmap raises derives from :class:`FaultmapError`. The two that describe bad
input, :class:`ConfigurationError` and :class:`DataError`, also derive from ``ValueError`` so
ordinary ``except ValueError`` code keeps working. :class:`DataError` (bad data: mismatched
lengths, empty prompts, scores outside [0, 1], ...) is a :class:`ConfigurationError` too,
because faultmap 0.5.0 raised ``ConfigurationError`` for those, and ``except
ConfigurationError`` written for it must still catch them.

A :class:`FaultmapError`'s message never carries a credential: every credential given to
faultmap or held in the environment is redacted from it by value (:mod:`faultmap._secrets`).

Example:
    >>> issubclass(DataError, ConfigurationError), issubclass(DataError, ValueError)
    (True, True)
"""

from __future__ import annotations

from typing import Any

from faultmap._secrets import redact

__all__ = [
    "ClusteringError",
    "CompatibilityWarning",
    "ConfigurationError",
    "CoverageMeaningWarning",
    "DataError",
    "EmbeddingError",
    "FaultmapError",
    "FaultmapWarning",
    "LLMError",
    "MissingDependencyError",
    "ScoringError",
]


class FaultmapError(Exception):
    """Base class of every faultmap error; credentials are redacted from its message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args), **kwargs)


class ConfigurationError(FaultmapError, ValueError):
    """A parameter of a faultmap object or function has an invalid value."""


class DataError(ConfigurationError):
    """Input data (prompts, scores, embeddings, ...) cannot be analysed as given.

    A :class:`ConfigurationError` (and so a ``ValueError``): faultmap 0.5.0 raised
    ``ConfigurationError`` for bad inputs, and code that catches it keeps working. Catch
    ``DataError`` to tell bad data from bad settings.
    """


class MissingDependencyError(FaultmapError, ImportError):
    """An optional dependency needed for the requested feature is not installed."""


class EmbeddingError(FaultmapError):
    """The embedding backend failed to produce vectors."""


class ClusteringError(FaultmapError):
    """The clustering backend failed."""


class ScoringError(FaultmapError):
    """The scoring stage failed to produce scores (faultmap 0.5.0's name, kept for code that
    catches it)."""


class LLMError(FaultmapError):
    """A call to a language model failed after all retries.

    The message carries the provider's explanation with any API key redacted.
    """


class FaultmapWarning(UserWarning):
    """Warnings emitted by faultmap about questionable but usable input."""


class CompatibilityWarning(FaultmapWarning):
    """A call written for faultmap 0.5.0 gives a different result here, on purpose.

    Raised once per call where the difference shows: mode 2 rows that faultmap 0.5.0's
    ``(cos + 1) / 2`` rule would pass or fail differently, ``n_samples=1`` in mode 3 (0.5.0
    refused it), and coverage audits (:class:`CoverageMeaningWarning`). Every difference is
    listed, with its reason, under "Differences from faultmap 0.5.0" in the README. Once read,
    silence it with ``warnings.filterwarnings("ignore", category=faultmap.CompatibilityWarning)``.
    """


class CoverageMeaningWarning(CompatibilityWarning):
    """A coverage audit's gaps and ``overall_coverage_score`` do not mean what they meant in
    faultmap 0.5.0.

    A gap is now a region of production prompts where the test suite is significantly
    under-represented (all of the region's production prompts), and
    ``overall_coverage_score`` is the share of production prompts in no gap; faultmap 0.5.0's
    figure (the share within the distance threshold of a test prompt) is
    ``distance_coverage_score``. See "Differences from faultmap 0.5.0" in the README. Once
    read, silence it with ``warnings.filterwarnings("ignore",
    category=faultmap.CoverageMeaningWarning)``.
    """
