"""Stage 1 protocol: (prompts, responses[, references]) -> scores in [0, 1], higher = better."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ScoreResult", "Scorer"]


@dataclass(frozen=True)
class ScoreResult:
    """Scores for every row (NaN where a row could not be scored) and what happened."""

    scores: np.ndarray
    mode: str
    unscored_indices: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """Produces one quality score per row."""

    @property
    def mode(self) -> str: ...

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> ScoreResult: ...
