"""Mode 1: scores the user already has (human labels, LLM judges, eval frameworks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faultmap._validation import as_scores
from faultmap.scoring.base import ScoreResult

__all__ = ["PrecomputedScorer"]


class PrecomputedScorer:
    """Pass-through scorer; validates that scores are finite and in [0, 1].

    Example:
        >>> PrecomputedScorer([0.2, 0.9]).score(["a", "b"], ["x", "y"]).scores.tolist()
        [0.2, 0.9]
    """

    mode = "precomputed"

    def __init__(self, scores: Any) -> None:
        self.raw = scores

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> ScoreResult:
        return ScoreResult(as_scores("scores", self.raw, len(prompts)), self.mode)
