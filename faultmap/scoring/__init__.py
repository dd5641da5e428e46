"""Stage 1: scores in [0, 1] (higher = better) for every (prompt, response)."""

from faultmap.scoring.base import ScoreResult, Scorer
from faultmap.scoring.precomputed import PrecomputedScorer

__all__ = ["PrecomputedScorer", "ScoreResult", "Scorer"]
