"""Stage 1: scores in [0, 1] (higher = better) for every (prompt, response)."""

from faultmap.scoring.base import Scorer, ScoreResult, ScoringResult
from faultmap.scoring.entropy import EntropyScorer, semantic_entropy_score
from faultmap.scoring.precomputed import PrecomputedScorer
from faultmap.scoring.reference import ReferenceScorer

__all__ = [
    "EntropyScorer",
    "PrecomputedScorer",
    "ReferenceScorer",
    "ScoreResult",
    "Scorer",
    "ScoringResult",
    "semantic_entropy_score",
]
