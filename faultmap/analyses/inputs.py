"""The steps every analysis takes before its recipe: check the texts, score the responses,
leave out the rows that could not be scored, embed the prompts.

Each step checks what a stage returned and turns a stage's failure into a faultmap error
that names the stage and the way around it.

Example:
    >>> prompts, responses, meta = check_texts(["a", "b"], ["x", "y"], min_rows=2)
    >>> meta
    {}
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from faultmap._validation import as_embeddings, as_text_list, check_same_length
from faultmap.core.rows import Rows
from faultmap.embedding.base import Embedder
from faultmap.exceptions import (
    ConfigurationError,
    DataError,
    EmbeddingError,
    FaultmapWarning,
    LLMError,
)
from faultmap.scoring.base import Scorer, ScoreResult

__all__ = ["check_texts", "embed", "score", "scored_rows"]

logger = logging.getLogger("faultmap")


def check_texts(
    prompts: Any,
    responses: Any,
    responses_name: str = "responses",
    *,
    min_rows: int,
    max_text_chars: int | None = None,
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Prompts and responses as lists of str of one length (at least ``min_rows``), and the
    facts worth recording: repeated prompts (warned about) and prompts longer than the
    embedder reads."""
    prompts = as_text_list("prompts", prompts)
    responses = as_text_list(responses_name, responses, allow_empty=True)
    check_same_length(("prompts", prompts), (responses_name, responses))
    if len(prompts) < min_rows:
        raise DataError(
            f"'prompts' has {len(prompts)} entries, fewer than min_slice_size={min_rows}; "
            "pass more prompts or lower min_slice_size."
        )
    meta: dict[str, Any] = {}
    duplicates = len(prompts) - len(set(prompts))
    if duplicates:
        warnings.warn(
            f"{duplicates} prompt(s) repeat an earlier prompt; each copy is analysed as its "
            "own row. Deduplicate first if the copies are not separate evaluations.",
            FaultmapWarning,
            stacklevel=3,
        )
        meta["num_duplicate_prompts"] = duplicates
    if max_text_chars is not None:
        long_texts = sum(len(p) > max_text_chars for p in prompts)
        if long_texts:
            meta["num_prompts_truncated_for_embedding"] = long_texts
    return prompts, responses, meta


def score(
    scorer: Scorer, prompts: list[str], responses: list[str]
) -> tuple[ScoreResult, np.ndarray]:
    """Run the scoring stage and check it returned one score in [0, 1] (or NaN) per row."""
    scored = scorer.score(prompts, responses)
    values = np.asarray(scored.scores, dtype=np.float64)
    if values.shape != (len(prompts),) or np.any((values < 0) | (values > 1)):
        raise DataError(
            f"The scorer {type(scorer).__name__} returned scores of shape {values.shape} or "
            "outside [0, 1]; a scorer must return one score in [0, 1] (or NaN) per prompt."
        )
    return scored, values


def scored_rows(*values: np.ndarray, sampling_errors: Any = None, what: str = "") -> Rows:
    """The rows every score array in ``values`` has a score for; the others left out as
    "unscored" (logged). :class:`LLMError` when no row is left."""
    keep = np.logical_and.reduce([~np.isnan(v) for v in values])
    if not keep.any():
        raise LLMError(
            f"No prompt could be scored{what}, so there is nothing to analyse. "
            f"Scoring metadata: {sampling_errors or {}}"
        )
    rows = Rows.keeping(keep, reason="unscored")
    if rows.is_subset:
        logger.warning(
            "%d prompt(s) could not be scored%s and are left out of the analysis",
            rows.total - rows.num_analysed,
            what,
        )
    return rows


def embed(embedder: Embedder, prompts: list[str]) -> tuple[np.ndarray, str]:
    """Unit vectors of ``prompts`` from the embedding stage, and the embedder's identity; a
    failure of the model becomes :class:`EmbeddingError` saying how to skip it."""
    try:
        raw = embedder.embed(prompts, role="query")
    except (EmbeddingError, DataError, ConfigurationError, ImportError):
        raise
    except Exception as exc:
        raise EmbeddingError(
            f"Embedding the prompts failed ({type(exc).__name__}: {exc}). Pass "
            "embeddings= to skip the model."
        ) from exc
    return as_embeddings("embedding model output", raw, len(prompts)), embedder.identity
