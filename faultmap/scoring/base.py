"""Stage 1 protocol: (prompts, responses[, references]) -> scores in [0, 1], higher = better."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ScoreResult", "Scorer", "ScoringResult"]


@dataclass(frozen=True)
class ScoreResult:
    """Scores for every row (NaN where a row could not be scored) and what happened."""

    scores: np.ndarray
    mode: str
    unscored_indices: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringResult:
    """faultmap 0.5.0's scoring output, kept under its name: one score in [0, 1] per prompt
    (higher = better), the ``mode`` ("precomputed", "reference", "entropy" or a custom
    scorer's) and mode-specific ``metadata``.

    A custom ``scorer=`` may return it instead of :class:`ScoreResult` (a NaN score leaves
    the row out, as there). ``report.metadata["scoring_metadata"]`` of an analysis holds its
    ``metadata`` in 0.5.0's shape.

    Example:
        >>> ScoringResult(scores=[0.2, 0.9], mode="precomputed").scores
        [0.2, 0.9]
    """

    scores: list[float]
    mode: str
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """Produces one quality score per row."""

    @property
    def mode(self) -> str: ...

    def score(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> ScoreResult | ScoringResult: ...
