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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap import stages
from faultmap._secrets import redact
from faultmap._validation import as_embeddings, as_scores, as_text_list, check_same_length
from faultmap.clustering.base import Clusterer
from faultmap.core.projection import MapSettings
from faultmap.core.rows import Rows
from faultmap.core.run import Run
from faultmap.embedding.base import Embedder
from faultmap.exceptions import (
    ConfigurationError,
    DataError,
    EmbeddingError,
    FaultmapWarning,
    LLMError,
)
from faultmap.naming.base import Namer
from faultmap.scoring.base import Scorer, ScoreResult, ScoringResult
from faultmap.scoring.precomputed import PrecomputedScorer

__all__ = [
    "Setup",
    "check_texts",
    "checked_references",
    "embed",
    "note_repairs",
    "precomputed",
    "score",
    "scored_rows",
    "scoring_metadata",
    "setup_from",
]

logger = logging.getLogger("faultmap")


def check_texts(
    prompts: Any,
    responses: Any,
    responses_name: str = "responses",
    *,
    min_rows: int,
    max_text_chars: int | None = None,
    repaired: dict[str, list[int]] | None = None,
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Prompts and responses as lists of str of one length (at least ``min_rows``), and the
    facts worth recording: repeated prompts (warned about) and prompts longer than the
    embedder reads. Text that does not encode as UTF-8 is repaired, its rows recorded in
    ``repaired`` (see :func:`note_repairs`)."""
    repaired = {} if repaired is None else repaired
    prompts = as_text_list("prompts", prompts, repaired=repaired)
    responses = as_text_list(responses_name, responses, allow_empty=True, repaired=repaired)
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
            stacklevel=5,  # check_texts <- Setup.texts <- recipe <- SliceAnalyzer <- caller
        )
        meta["num_duplicate_prompts"] = duplicates
    if max_text_chars is not None:
        long_texts = sum(len(p) > max_text_chars for p in prompts)
        if long_texts:
            meta["num_prompts_truncated_for_embedding"] = long_texts
    return prompts, responses, meta


def note_repairs(meta: dict[str, Any], repaired: dict[str, list[int]]) -> None:
    """Record the rows whose text was repaired (:func:`faultmap._validation.repair_text`:
    lone surrogates, half of a UTF-16 pair, replaced by U+FFFD) in ``meta`` as
    ``repaired_text_rows`` (argument name -> input row numbers), and warn once."""
    repaired = {name: rows for name, rows in repaired.items() if rows}
    if not repaired:
        return
    meta["repaired_text_rows"] = repaired
    counts = ", ".join(
        f"{len(rows)} in '{name}' (first row {rows[0]})" for name, rows in repaired.items()
    )
    warnings.warn(
        f"Some texts held lone surrogates (half of a UTF-16 pair, e.g. half an emoji), which "
        f"cannot be encoded; they were repaired (each replaced by U+FFFD) and the rows are "
        f"listed in report.metadata['repaired_text_rows']: {counts}.",
        FaultmapWarning,
        stacklevel=4,
    )


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


def scoring_metadata(scorer: Scorer, scored: ScoreResult | ScoringResult) -> dict[str, Any]:
    """faultmap 0.5.0's ``metadata["scoring_metadata"]`` of an analysis: ``{}`` for given
    scores, ``{"embedding_model": ...}`` for references (with ``reference_match``, the rule
    that scored them), the sampling figures for mode 3
    (see :class:`~faultmap.scoring.entropy.EntropyScorer`), a custom scorer's own metadata.

    Example:
        >>> scoring_metadata(PrecomputedScorer([0.5]), ScoreResult(np.array([0.5]), "precomputed"))
        {}
    """
    if isinstance(scored, ScoringResult):
        return dict(scored.metadata)
    if "scoring_metadata" in scored.metadata:
        return dict(scored.metadata["scoring_metadata"])
    if scored.mode == "precomputed" and isinstance(scorer, PrecomputedScorer):
        return {}
    if scored.mode == "reference":
        embedder = getattr(scorer, "embedder", None)
        out: dict[str, Any] = {"embedding_model": str(getattr(embedder, "identity", "unknown"))}
        if "reference_match" in scored.metadata:
            out["reference_match"] = scored.metadata["reference_match"]
        return out
    return dict(scored.metadata)


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
        detail = f"{type(exc).__name__}: {exc}"
        # The cause's own message is kept for the traceback unless it holds a credential.
        cause = exc if redact(detail) == detail else None
        raise EmbeddingError(
            f"Embedding the prompts failed ({detail}). Pass embeddings= to skip the model."
        ) from cause
    return as_embeddings("embedding model output", raw, len(prompts)), embedder.identity


@dataclass(frozen=True, kw_only=True)
class Setup:
    """One run's stages and shared settings, as the facade resolved them.

    ``scorer_for(references)`` builds the mode 2 scorer (references given) or the mode 3
    scorer (sampling; it raises :class:`ConfigurationError` without an LLM) only when a
    recipe needs one; ``embedder()`` builds the embedding stage only when vectors are not
    given.
    """

    clusterer: Clusterer
    #: The clusterer of ``analyze()``'s slices (:data:`faultmap.stages.SLICE_CLUSTERERS`).
    slice_clusterer: Clusterer
    namer: Namer
    client: Any
    scorer_for: Callable[[Any], Scorer]
    embedder: Callable[[], Embedder]
    map_settings: MapSettings | None
    min_rows: int
    max_text_chars: int | None
    random_state: int

    def run(self) -> Run:
        """A fresh run record, counting this run's LLM calls."""
        client = self.client
        if client is None:
            return Run()
        model = client.config.model
        return Run(llm_stats=lambda: {"model": model, **client.stats.to_dict()})

    def texts(
        self,
        prompts: Any,
        responses: Any,
        name: str = "responses",
        repaired: dict[str, list[int]] | None = None,
    ) -> tuple[list[str], list[str], dict[str, Any]]:
        """:func:`check_texts` with this run's limits."""
        return check_texts(
            prompts,
            responses,
            name,
            min_rows=self.min_rows,
            max_text_chars=self.max_text_chars,
            repaired=repaired,
        )

    def vectors(self, prompts: list[str], given: Any, run: Run) -> tuple[np.ndarray, str]:
        """The prompts' vectors: ``given`` ones (checked), else from the embedding stage."""
        if given is not None:
            return as_embeddings("embeddings", given, len(prompts)), "precomputed"
        with run.timer("embed"):
            return embed(self.embedder(), prompts)


def precomputed(
    scores: Any, references: Any, n: int, *, names: tuple[str, ...] = ("scores",)
) -> Scorer:
    """Mode 1: a scorer serving the given ``scores`` (warned about when ``references`` were
    given too: the scores win)."""
    if references is not None:
        given = "=/".join(names)
        using = f"{given}=" if len(names) == 1 else "the scores"
        warnings.warn(
            f"Both {given}= and references= were given; using {using} (mode 1) and "
            "ignoring references=.",
            FaultmapWarning,
            stacklevel=4,
        )
    return PrecomputedScorer(as_scores(names[0], scores, n))


def checked_references(
    references: Any, prompts: list[str], repaired: dict[str, list[int]] | None = None
) -> list[str] | None:
    """``references`` as a list of str, one per prompt (None stays None); text that does not
    encode as UTF-8 is repaired and its rows recorded in ``repaired``."""
    if references is None:
        return None
    references = as_text_list(
        "references", references, repaired={} if repaired is None else repaired
    )
    check_same_length(("prompts", prompts), ("references", references))
    return references


def setup_from(settings: Any, *, client: Any, embedder: Callable[[], Embedder]) -> Setup:
    """The :class:`Setup` of one run from a :class:`~faultmap.SliceAnalyzer`'s settings
    (read by attribute): stages from :mod:`faultmap.stages`'s registries, the map settings,
    and the scorer built only when a recipe asks for one."""
    map_settings = None
    if settings.map_projection is not None:
        map_settings = MapSettings(
            projection=settings.map_projection,
            dims=settings.map_dims,
            max_points=settings.max_map_points,
            random_state=settings.random_state,
        )
    return Setup(
        clusterer=stages.clusterer_for(
            settings.clustering_method, random_state=settings.random_state
        ),
        slice_clusterer=stages.clusterer_for(
            settings.clustering_method, random_state=settings.random_state, for_slices=True
        ),
        namer=stages.namer_for(settings.namer, client),
        client=client,
        scorer_for=lambda references: stages.scorer_for(
            references,
            client,
            embedder,
            n_samples=settings.n_samples,
            temperature=settings.temperature,
            consistency_threshold=settings.consistency_threshold,
            reference_match=settings.reference_match,
            failure_threshold=settings.failure_threshold,
        ),
        embedder=embedder,
        map_settings=map_settings,
        min_rows=settings.min_slice_size,
        max_text_chars=settings.embedding_max_text_chars,
        random_state=settings.random_state,
    )
