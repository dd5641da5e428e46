"""Mode 2: score = cosine similarity of the response and reference embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faultmap._validation import as_text_list, check_same_length
from faultmap.embedding.base import Embedder
from faultmap.scoring.base import ScoreResult

__all__ = ["ReferenceScorer"]


class ReferenceScorer:
    """Score each response by its cosine similarity to a reference answer.

    ``score = max(0, cos(embed(response), embed(reference)))``: 1 for the same meaning,
    0 for unrelated or opposite text; an empty response scores 0. With the default
    ``failure_threshold=0.5`` a row fails when the similarity is below 0.5.

    Example:
        >>> from faultmap.embedding import PrecomputedEmbedder
        >>> emb = PrecomputedEmbedder({"yes": [1, 0], "no": [0, 1], "y": [1, 0.1]}, name="toy")
        >>> ReferenceScorer(["yes", "yes"], emb).score(["q1", "q2"], ["y", "no"]).scores.round(3)
        array([0.995, 0.   ])
    """

    mode = "reference"

    def __init__(self, references: Sequence[str], embedder: Embedder) -> None:
        self.references = as_text_list("references", references)
        self.embedder = embedder

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> ScoreResult:
        check_same_length(("prompts", prompts), ("references", self.references))
        answered = [i for i, r in enumerate(responses) if r.strip()]
        scores = np.zeros(len(responses), dtype=np.float64)
        if answered:
            a = self.embedder.embed([responses[i] for i in answered], role="document")
            b = self.embedder.embed([self.references[i] for i in answered], role="document")
            cos = np.einsum("ij,ij->i", a.astype(np.float64), b.astype(np.float64))
            scores[answered] = np.clip(cos, 0.0, 1.0)
        meta = {"num_empty_responses": len(responses) - len(answered)}
        return ScoreResult(scores, self.mode, metadata=meta)
