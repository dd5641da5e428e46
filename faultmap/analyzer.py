"""``SliceAnalyzer``: the facade. The only place that turns strings and defaults into stages."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from faultmap._validation import (
    BOOL,
    Interval,
    IsInstance,
    NonEmptyStr,
    Options,
    as_embeddings,
    as_scores,
    as_text_list,
    check_param,
    check_same_length,
)
from faultmap.clustering.base import Clusterer
from faultmap.config import LLMConfig
from faultmap.embedding.base import Embedder
from faultmap.exceptions import (
    ConfigurationError,
    DataError,
    EmbeddingError,
    FaultmapWarning,
    LLMError,
)
from faultmap.naming.base import Namer
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport
from faultmap.scoring.base import Scorer, ScoreResult
from faultmap.significance.tests import TESTS

if TYPE_CHECKING:
    from faultmap.llm.client import LLMClient
    from faultmap.pipeline import MapSettings

__all__ = ["CLUSTERERS", "SliceAnalyzer"]

logger = logging.getLogger("faultmap")


def _hdbscan(random_state: int) -> Clusterer:
    from faultmap.clustering.hdbscan import HDBSCANClusterer

    return HDBSCANClusterer(random_state=random_state)


def _agglomerative(random_state: int) -> Clusterer:
    from faultmap.clustering.agglomerative import AgglomerativeClusterer

    return AgglomerativeClusterer(random_state=random_state)


#: clustering_method string -> factory(random_state) -> Clusterer
CLUSTERERS: dict[str, Callable[[int], Clusterer]] = {
    "hdbscan": _hdbscan,
    "agglomerative": _agglomerative,
}

_OWNER = "SliceAnalyzer"


def _check_mapping(name: str, value: Any, *, nested: bool) -> None:
    """None, or a dict with str keys (and, when ``nested``, dict values)."""
    what = "a dict of role -> dict of request options" if nested else "a dict of options"
    ok = value is None or (
        isinstance(value, Mapping)
        and all(isinstance(k, str) for k in value)
        and (not nested or all(isinstance(v, Mapping) for v in value.values()))
    )
    if not ok:
        raise ConfigurationError(
            f"The '{name}' parameter of {_OWNER} must be None or {what}. Got {value!r}."
        )


class SliceAnalyzer:
    """Find groups of similar prompts where a model fails significantly more often.

    With no arguments it runs offline: the local all-MiniLM-L6-v2 model embeds prompts,
    HDBSCAN clusters them, Fisher's exact test and Benjamini–Hochberg pick the slices, and
    each slice is named from its distinctive words. Pass ``model="gpt-4o-mini"`` (any litellm
    model string) for LLM-written names, root causes and fixes.

    ``llm_client`` replaces the client built from ``model`` (e.g. one with a fake transport,
    or your own retry settings). Every stage also takes an object: ``embedding_model`` an
    :class:`~faultmap.embedding.Embedder`, ``clustering_method`` a
    :class:`~faultmap.clustering.Clusterer`, ``namer`` a :class:`~faultmap.naming.Namer`.

    Every report carries a map of at most ``max_map_points`` prompts for its views
    (``report.to_html()``, ``report.plot()``): ``map_projection`` "pca" (fast, default),
    "umap" (slower, keeps neighbourhoods) or None (no map); ``map_dims`` 2 or 3.

    Example:
        >>> analyzer = SliceAnalyzer(min_slice_size=20)
        >>> report = analyzer.analyze(prompts, responses, scores=scores)  # doctest: +SKIP
        >>> print(report)                                                 # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | None = None,
        embedding_model: str | Embedder = "all-MiniLM-L6-v2",
        significance_level: float = 0.05,
        min_slice_size: int = 10,
        failure_threshold: float = 0.5,
        n_samples: int = 8,
        clustering_method: str | Clusterer = "hdbscan",
        max_concurrent_requests: int = 50,
        temperature: float = 1.0,
        consistency_threshold: float = 0.8,
        embedding_usage_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        embedding_max_text_chars: int | None = 2000,
        *,
        namer: Namer | None = None,
        test: str = "fisher",
        random_state: int = 0,
        llm_timeout: float = 30.0,
        llm_max_retries: int = 3,
        llm_completion_kwargs: Mapping[str, Any] | None = None,
        show_progress: bool | None = None,
        embedding_cache: bool | str | os.PathLike[str] = True,
        llm_client: LLMClient | None = None,
        map_projection: str | None = "pca",
        map_dims: int = 2,
        max_map_points: int = 5_000,
    ) -> None:
        check_param(_OWNER, "model", model, None, IsInstance((str,), "a litellm model str"))
        check_param(
            _OWNER, "significance_level", significance_level, Interval(float, 0, 1, "neither")
        )
        check_param(_OWNER, "min_slice_size", min_slice_size, Interval(int, 2, None))
        check_param(_OWNER, "failure_threshold", failure_threshold, Interval(float, 0, 1, "right"))
        check_param(_OWNER, "n_samples", n_samples, Interval(int, 1, None))
        check_param(
            _OWNER, "max_concurrent_requests", max_concurrent_requests, Interval(int, 1, None)
        )
        check_param(_OWNER, "temperature", temperature, Interval(float, 0, None))
        check_param(_OWNER, "consistency_threshold", consistency_threshold, Interval(float, -1, 1))
        check_param(
            _OWNER,
            "embedding_max_text_chars",
            embedding_max_text_chars,
            None,
            Interval(int, 1, None),
        )
        check_param(_OWNER, "test", test, Options(TESTS))
        check_param(_OWNER, "random_state", random_state, Interval(int, 0, None))
        check_param(_OWNER, "llm_timeout", llm_timeout, Interval(float, 0, None, "neither"))
        check_param(_OWNER, "llm_max_retries", llm_max_retries, Interval(int, 0, None))
        check_param(_OWNER, "show_progress", show_progress, None, BOOL)
        check_param(_OWNER, "map_projection", map_projection, None, Options(("pca", "umap")))
        check_param(_OWNER, "map_dims", map_dims, Options((2, 3)))
        check_param(_OWNER, "max_map_points", max_map_points, Interval(int, 1, None))
        check_param(
            _OWNER,
            "embedding_cache",
            embedding_cache,
            BOOL,
            IsInstance((str, os.PathLike), "a cache directory path"),
        )
        if isinstance(clustering_method, str):
            check_param(_OWNER, "clustering_method", clustering_method, Options(tuple(CLUSTERERS)))
        elif not (
            callable(getattr(clustering_method, "fit_predict", None))
            and hasattr(clustering_method, "name")
        ):
            raise ConfigurationError(
                f"The 'clustering_method' parameter of {_OWNER} must be one of "
                f"{', '.join(map(repr, CLUSTERERS))} or an object with fit_predict() and name. "
                f"Got {clustering_method!r}."
            )
        if namer is not None and not callable(getattr(namer, "name", None)):
            raise ConfigurationError(
                f"The 'namer' parameter of {_OWNER} must be None or an object with "
                f"name(slices). Got {namer!r}."
            )
        if model is not None and not model.strip():
            raise ConfigurationError(
                f"The 'model' parameter of {_OWNER} must be None or a non-empty litellm model "
                f"string. Got {model!r}."
            )
        if isinstance(embedding_model, str):
            if not embedding_model.strip():
                raise ConfigurationError(
                    f"The 'embedding_model' parameter of {_OWNER} must be a non-empty model "
                    f"name. Got {embedding_model!r}."
                )
        elif not (
            callable(getattr(embedding_model, "embed", None))
            and hasattr(embedding_model, "identity")
        ):
            raise ConfigurationError(
                f"The 'embedding_model' parameter of {_OWNER} must be a model name or an "
                f"object with embed(texts) and identity. Got {embedding_model!r}."
            )
        _check_mapping("embedding_usage_kwargs", embedding_usage_kwargs, nested=True)
        _check_mapping("llm_completion_kwargs", llm_completion_kwargs, nested=False)
        self.model = model
        self.embedding_model = embedding_model
        self.significance_level = significance_level
        self.min_slice_size = min_slice_size
        self.failure_threshold = failure_threshold
        self.n_samples = n_samples
        self.clustering_method = clustering_method
        self.max_concurrent_requests = max_concurrent_requests
        self.temperature = temperature
        self.consistency_threshold = consistency_threshold
        self.embedding_usage_kwargs = embedding_usage_kwargs
        self.embedding_max_text_chars = embedding_max_text_chars
        self.namer = namer
        self.test = test
        self.random_state = random_state
        self.llm_timeout = llm_timeout
        self.llm_max_retries = llm_max_retries
        self.llm_completion_kwargs = dict(llm_completion_kwargs or {})
        self.show_progress = show_progress
        self.embedding_cache = embedding_cache
        if llm_client is not None and not callable(getattr(llm_client, "acomplete", None)):
            raise ConfigurationError(
                f"The 'llm_client' parameter of {_OWNER} must be None or a "
                f"faultmap.llm.LLMClient. Got {llm_client!r}."
            )
        self.llm_client = llm_client
        self.map_projection = map_projection
        self.map_dims = map_dims
        self.max_map_points = max_map_points
        self._embedder: Embedder | None = None

    # -- stage construction -------------------------------------------------------------
    def _get_embedder(self) -> Embedder:
        if self._embedder is None:
            from faultmap.embedding import resolve_embedder

            embedder = resolve_embedder(
                self.embedding_model,
                max_text_chars=self.embedding_max_text_chars,
                usage_kwargs=self.embedding_usage_kwargs,
                max_concurrent_requests=min(self.max_concurrent_requests, 16),
                show_progress=self.show_progress,
            )
            if self.embedding_cache is not False:
                from faultmap.embedding.cache import CachedEmbedder

                folder = None if self.embedding_cache is True else self.embedding_cache
                embedder = CachedEmbedder(embedder, folder)
            self._embedder = embedder
        return self._embedder

    def _get_clusterer(self) -> Clusterer:
        if isinstance(self.clustering_method, str):
            return CLUSTERERS[self.clustering_method](self.random_state)
        return self.clustering_method

    def llm_config(self) -> LLMConfig | None:
        """The LLM settings used for naming (``None`` when no ``model`` is set)."""
        if self.model is None:
            return None
        return LLMConfig(
            model=self.model,
            timeout=self.llm_timeout,
            max_retries=self.llm_max_retries,
            max_concurrent_requests=self.max_concurrent_requests,
            completion_kwargs=self.llm_completion_kwargs,
        )

    def _llm_client(self) -> LLMClient | None:
        if self.llm_client is not None:
            return self.llm_client
        config = self.llm_config()
        if config is None:
            return None
        from faultmap.llm.client import LLMClient

        return LLMClient(config)

    def _map_settings(self) -> MapSettings | None:
        if self.map_projection is None:
            return None
        from faultmap.pipeline import MapSettings

        return MapSettings(
            projection=self.map_projection,
            dims=self.map_dims,
            max_points=self.max_map_points,
            random_state=self.random_state,
        )

    def _get_namer(self, client: LLMClient | None) -> Namer:
        if self.namer is not None:
            return self.namer
        if client is None:
            from faultmap.naming.keywords import KeywordNamer

            return KeywordNamer()
        from faultmap.naming.llm import LLMNamer

        return LLMNamer(client)

    def _get_scorer(self, scores: Any, references: Any, client: LLMClient | None) -> Scorer:
        if scores is not None:
            from faultmap.scoring.precomputed import PrecomputedScorer

            if references is not None:
                warnings.warn(
                    "Both scores= and references= were given; using scores= (mode 1) and "
                    "ignoring references=.",
                    FaultmapWarning,
                    stacklevel=4,
                )
            return PrecomputedScorer(scores)
        if references is not None:
            from faultmap.scoring.reference import ReferenceScorer

            return ReferenceScorer(references, self._get_embedder())
        if client is None:
            raise ConfigurationError(
                "No scores= and no references= were given, so faultmap would score the "
                "responses itself by sampling from an LLM (mode 3), but no model is set. Pass "
                "scores= (mode 1), references= (mode 2), or SliceAnalyzer(model='...') for "
                "mode 3."
            )
        from faultmap.scoring.entropy import EntropyScorer

        return EntropyScorer(
            client,
            self._get_embedder(),
            n_samples=self.n_samples,
            temperature=self.temperature,
            consistency_threshold=self.consistency_threshold,
        )

    def _record_run(
        self,
        metadata: dict[str, Any],
        started: float,
        client: LLMClient | None,
        **stage_seconds: float,
    ) -> None:
        """Put the facade's stage timings, the total and the LLM call counts into metadata."""
        metadata["timings_s"] = {
            **{k: round(v, 4) for k, v in stage_seconds.items()},
            **metadata.get("timings_s", {}),
            "total": round(time.perf_counter() - started, 4),
        }
        if client is not None:
            metadata["llm"] = {"model": client.config.model, **client.stats.to_dict()}

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _score(
        scorer: Scorer, prompts: list[str], responses: list[str]
    ) -> tuple[ScoreResult, np.ndarray]:
        scored = scorer.score(prompts, responses)
        values = np.asarray(scored.scores, dtype=np.float64)
        if values.shape != (len(prompts),) or np.any((values < 0) | (values > 1)):
            raise DataError(
                f"The scorer {type(scorer).__name__} returned scores of shape {values.shape} or "
                "outside [0, 1]; a scorer must return one score in [0, 1] (or NaN) per prompt."
            )
        return scored, values

    def _embed_prompts(self, prompts: list[str]) -> tuple[np.ndarray, str]:
        embedder = self._get_embedder()
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

    def _check_texts(
        self, prompts: Any, responses: Any, responses_name: str = "responses"
    ) -> tuple[list[str], list[str], dict]:
        prompts = as_text_list("prompts", prompts)
        responses = as_text_list(responses_name, responses, allow_empty=True)
        check_same_length(("prompts", prompts), (responses_name, responses))
        if len(prompts) < self.min_slice_size:
            raise DataError(
                f"'prompts' has {len(prompts)} entries, fewer than min_slice_size="
                f"{self.min_slice_size}; pass more prompts or lower min_slice_size."
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
        limit = self.embedding_max_text_chars
        if limit is not None:
            long_texts = sum(len(p) > limit for p in prompts)
            if long_texts:
                meta["num_prompts_truncated_for_embedding"] = long_texts
        return prompts, responses, meta

    # -- public API -----------------------------------------------------------------------
    def analyze(
        self,
        prompts: Any,
        responses: Any,
        scores: Any = None,
        references: Any = None,
        *,
        embeddings: Any = None,
        scorer: Scorer | None = None,
        metadata: Any = None,
    ) -> AnalysisReport:
        """Find failure slices: groups of similar prompts that fail more than the rest.

        Scores come from one of three modes: ``scores`` (mode 1: qualities in [0, 1], higher =
        better); ``references`` (mode 2: cosine similarity of response and reference
        embeddings, negative similarities count as 0); neither (mode 3, needs ``model``:
        ``n_samples`` responses are sampled per prompt and scored by
        ``0.5 * (1 - normalised semantic entropy) + 0.5 * self-consistency``, see
        :func:`faultmap.scoring.entropy.semantic_entropy_score`). A row fails when its score
        is below ``failure_threshold``. ``embeddings`` (n, d) skips the embedding model for the
        prompts. ``scorer`` replaces the scoring stage with your own
        :class:`~faultmap.scoring.Scorer`. Rows that could not be scored (mode 3 sampling
        failed) are left out and listed in ``metadata["unscored_indices"]``.

        ``metadata`` (a dict of columns or a pandas DataFrame, one value per prompt: route,
        model, prompt version, language...) reads the metadata into the slices, see
        :func:`faultmap.cohorts.hybrid_slices`: each slice's over-represented values
        (``slice.over_represented_values``) and the (cluster x value) cells that fail more
        than both their cluster and their value alone (``report.hybrid_cells``).

        Example:
            >>> analyzer = SliceAnalyzer()
            >>> report = analyzer.analyze(prompts, responses, scores=scores)  # doctest: +SKIP
            >>> report.slices[0].name  # doctest: +SKIP
        """
        from faultmap.pipeline import SliceSettings, find_slices

        started = time.perf_counter()
        prompts, responses, meta = self._check_texts(prompts, responses)
        if metadata is not None:  # check it before any expensive work
            from faultmap.cohorts import read_metadata

            metadata = read_metadata(metadata, len(prompts), of="prompts")
        if references is not None and scores is None:
            references = as_text_list("references", references)
            check_same_length(("prompts", prompts), ("references", references))
        if embeddings is not None:  # check cheap things before any expensive scoring
            vectors = as_embeddings("embeddings", embeddings, len(prompts))
        client = self._llm_client()
        if scorer is None:
            scorer = self._get_scorer(scores, references, client)
        t0 = time.perf_counter()
        scored, values = self._score(scorer, prompts, responses)
        keep = np.flatnonzero(~np.isnan(values))
        if keep.size == 0:
            raise LLMError(
                "No prompt could be scored, so there is nothing to analyse. "
                f"Scoring metadata: {scored.metadata.get('sampling_errors', {})}"
            )
        score_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if embeddings is None:
            vectors, embedding_id = self._embed_prompts(prompts)
        else:
            embedding_id = "precomputed"
        embed_s = time.perf_counter() - t0
        meta.update(scored.metadata)
        meta["random_state"] = self.random_state
        subset = keep.size < len(prompts)
        if subset:
            meta["unscored_indices"] = [int(i) for i in np.flatnonzero(np.isnan(values))]
            logger.warning(
                "%d prompt(s) could not be scored and are left out of the analysis",
                len(prompts) - keep.size,
            )
        report = find_slices(
            [prompts[i] for i in keep] if subset else prompts,
            [responses[i] for i in keep] if subset else responses,
            values[keep],
            vectors[keep] if subset else vectors,
            clusterer=self._get_clusterer(),
            namer=self._get_namer(client),
            settings=SliceSettings(
                significance_level=self.significance_level,
                min_slice_size=self.min_slice_size,
                failure_threshold=self.failure_threshold,
                test=self.test,
            ),
            embedding_model=embedding_id,
            scoring_mode=scored.mode,
            metadata=meta,
            row_ids=keep if subset else None,
            total_rows=len(prompts),
            map_settings=self._map_settings(),
        )
        if metadata is not None:
            from faultmap.cohorts import hybrid_slices

            t0 = time.perf_counter()
            report = hybrid_slices(
                report, metadata, values < self.failure_threshold, prompts=prompts
            )
            timings = report.metadata.setdefault("timings_s", {})
            timings["metadata"] = round(time.perf_counter() - t0, 4)
        self._record_run(report.metadata, started, client, score=score_s, embed=embed_s)
        logger.info(
            "faultmap: %d significant slice(s) among %d prompts",
            report.num_significant,
            report.total_prompts,
        )
        return report

    async def aanalyze(self, *args: Any, **kwargs: Any) -> AnalysisReport:
        """Async twin of :meth:`analyze` (same arguments); runs in a worker thread.

        Example:
            >>> analyzer = SliceAnalyzer()
            >>> report = await analyzer.aanalyze(prompts, responses, scores)  # doctest: +SKIP
        """
        import asyncio

        return await asyncio.to_thread(self.analyze, *args, **kwargs)

    def analyze_frame(
        self,
        frame: Any,
        prompt_col: str = "prompt",
        response_col: str | None = "response",
        score_col: str | None = None,
        reference_col: str | None = None,
        *,
        embedding_col: str | None = None,
        metadata_cols: Sequence[str] = (),
        **kwargs: Any,
    ) -> AnalysisReport:
        """:meth:`analyze` on the columns of a DataFrame (pandas), a pyarrow Table,
        a dict of columns, or a JSONL / CSV / Parquet file path.

        ``score_col`` selects mode 1, ``reference_col`` mode 2, neither mode 3;
        ``response_col=None`` means no responses (fine with scores); ``embedding_col`` holds
        precomputed prompt vectors; ``metadata_cols`` (route, model, language...) become
        ``metadata=`` for hybrid slices. Other keyword arguments go to :meth:`analyze`. Bad cells
        raise :class:`~faultmap.DataError` naming the column and row
        (see :func:`faultmap.io.analysis_inputs`).

        Example:
            >>> report = SliceAnalyzer().analyze_frame(
            ...     df, prompt_col="question", response_col="answer", score_col="judge_score"
            ... )  # doctest: +SKIP
        """
        from faultmap.io import analysis_inputs

        inputs = analysis_inputs(
            frame,
            prompt_col=prompt_col,
            response_col=response_col,
            score_col=score_col,
            reference_col=reference_col,
            embedding_col=embedding_col,
            metadata_cols=tuple(metadata_cols),
        )
        return self.analyze(**inputs, **kwargs)

    def audit_coverage(
        self,
        test_prompts: Any,
        production_prompts: Any,
        distance_threshold: float | None = None,
        min_gap_size: int = 5,
        *,
        test_embeddings: Any = None,
        production_embeddings: Any = None,
    ) -> CoverageReport:
        """Find production prompts your test suite has no example of, grouped into gaps.

        Both sets are embedded (with the embedding cache; ``test_embeddings`` /
        ``production_embeddings`` skip the model for that set). A production prompt is
        *covered* when its cosine distance (``1 - cosine similarity``) to the nearest test
        prompt is at most ``distance_threshold``; distances are exact, computed in
        memory-bounded blocks. ``distance_threshold=None`` uses the 95th percentile of the
        test prompts' leave-one-out nearest-neighbour distances (how far a test prompt
        usually is from the rest of the suite; at most 5,000 sampled); the report states
        the rule and the value.

        The test and production prompts are then clustered together (blind to which is
        which) into regions, and each region's share of the test prompts is compared with its
        share of the production prompts by a one-sided Fisher exact test,
        Benjamini–Hochberg-corrected at ``significance_level``. The uncovered prompts of a
        region form a gap when there are at least ``min_gap_size`` of them and the test
        suite is significantly under-represented there, so a gap is a statistical claim, not
        only a distance. Gaps are named like slices (keywords, or the LLM when ``model`` is
        set). Uncovered prompts in no gap are listed in
        ``report.metadata["unclustered_prompt_indices"]``. See :mod:`faultmap.coverage`.

        Example:
            >>> analyzer = SliceAnalyzer()
            >>> report = analyzer.audit_coverage(test_prompts, production_prompts)  # doctest: +SKIP
            >>> report.overall_coverage_score, report.gaps[0].name  # doctest: +SKIP
        """
        from faultmap.coverage import CoverageSettings, find_coverage_gaps

        owner = "SliceAnalyzer.audit_coverage"
        started = time.perf_counter()
        check_param(owner, "distance_threshold", distance_threshold, None, Interval(float, 0, 2))
        check_param(owner, "min_gap_size", min_gap_size, Interval(int, 2, None))
        tests = as_text_list("test_prompts", test_prompts)
        production = as_text_list("production_prompts", production_prompts)
        for name, texts, what in (
            ("test_prompts", tests, "your evaluation prompts"),
            ("production_prompts", production, "the prompts from your logs"),
        ):
            if not texts:
                raise DataError(f"'{name}' is empty; pass at least one prompt ({what}).")
        if distance_threshold is None and len(set(tests)) < 2:
            raise DataError(
                "'test_prompts' needs at least 2 distinct prompts to choose a distance "
                "threshold from the data; pass more test prompts or distance_threshold=."
            )
        t0 = time.perf_counter()
        test_vectors, production_vectors, embedding_id = self._coverage_vectors(
            tests, production, test_embeddings, production_embeddings
        )
        embed_s = time.perf_counter() - t0
        meta: dict[str, Any] = {"random_state": self.random_state}
        for name, texts in (("test", tests), ("production", production)):
            duplicates = len(texts) - len(set(texts))
            if duplicates:
                meta[f"num_duplicate_{name}_prompts"] = duplicates
        client = self._llm_client()
        report = find_coverage_gaps(
            tests,
            production,
            test_vectors,
            production_vectors,
            clusterer=self._get_clusterer(),
            namer=self._get_namer(client),
            settings=CoverageSettings(
                significance_level=self.significance_level,
                min_gap_size=min_gap_size,
                distance_threshold=(
                    None if distance_threshold is None else float(distance_threshold)
                ),
                random_state=self.random_state,
            ),
            embedding_model=embedding_id,
            metadata=meta,
            map_settings=self._map_settings(),
        )
        self._record_run(report.metadata, started, client, embed=embed_s)
        logger.info(
            "faultmap: coverage %.3f, %d gap(s) among %d production prompts",
            report.overall_coverage_score,
            report.num_gaps,
            report.num_production_prompts,
        )
        return report

    def _coverage_vectors(
        self,
        tests: list[str],
        production: list[str],
        test_embeddings: Any,
        production_embeddings: Any,
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Vectors of both sets: the given ones, the rest from the embedder (each distinct
        text once, through the cache)."""
        texts = {"test": tests, "production": production}
        given = {"test": test_embeddings, "production": production_embeddings}
        vectors: dict[str, np.ndarray] = {}
        for side, values in given.items():
            if values is not None:
                vectors[side] = as_embeddings(
                    f"{side}_embeddings", values, len(texts[side]), of=f"{side} prompts"
                )
        missing = [side for side in texts if side not in vectors]
        embedding_id = "precomputed"
        if missing:
            unique = list(dict.fromkeys(t for side in missing for t in texts[side]))
            embedded, embedding_id = self._embed_prompts(unique)
            row = {t: i for i, t in enumerate(unique)}
            for side in missing:
                vectors[side] = embedded[[row[t] for t in texts[side]]]
            if len(missing) == 1:
                embedding_id = f"{embedding_id} ({missing[0]}), precomputed (other set)"
        if vectors["test"].shape[1] != vectors["production"].shape[1]:
            raise DataError(
                f"The test vectors have {vectors['test'].shape[1]} dimensions but the "
                f"production vectors have {vectors['production'].shape[1]}; embed both sets "
                "with the same model (pass both test_embeddings= and production_embeddings=, "
                "or neither)."
            )
        return vectors["test"], vectors["production"], embedding_id

    async def aaudit_coverage(self, *args: Any, **kwargs: Any) -> CoverageReport:
        """Async twin of :meth:`audit_coverage` (same arguments); runs in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.audit_coverage, *args, **kwargs)

    def compare_models(
        self,
        prompts: Any,
        responses_a: Any,
        responses_b: Any,
        scores_a: Any = None,
        scores_b: Any = None,
        references: Any = None,
        *,
        embeddings: Any = None,
        model_a_name: str = "Model A",
        model_b_name: str = "Model B",
    ) -> ComparisonReport:
        """Compare two models on the same prompts: overall and on each slice of prompts.

        Scores follow :meth:`analyze`'s modes, for each model: ``scores_a`` and ``scores_b``
        (mode 1; both or neither), ``references`` (mode 2: each response against the same
        reference), or neither (mode 3, needs ``model``: each model's responses are scored
        by sampling). A prompt fails for a model when its score is below
        ``failure_threshold``; rows either model could not be scored on are left out and
        listed in ``metadata["unscored_indices"]``. ``embeddings`` skips the embedding model.

        McNemar's test on the prompts exactly one model failed gives the global verdict
        (``global_winner`` "a", "b" or "tie" at ``significance_level``). The prompts are
        clustered once; every cluster of at least ``min_slice_size`` prompts is tested the
        same way, Benjamini–Hochberg-corrected across clusters, and reported: the
        significant ones (``winner`` "a" or "b") first, then the ties. McNemar is exact
        below 25 discordant pairs and chi-squared with continuity correction from 25 on; no
        discordant pair gives p = 1 and "tie". See :mod:`faultmap.comparison`.

        Example:
            >>> report = SliceAnalyzer().compare_models(
            ...     prompts, answers_a, answers_b, scores_a=sa, scores_b=sb,
            ...     model_a_name="gpt-4o", model_b_name="llama-3")  # doctest: +SKIP
            >>> report.global_winner  # doctest: +SKIP
            'a'
            >>> [s.name for s in report.slices if s.significant]  # doctest: +SKIP
        """
        from faultmap.comparison import ComparisonSettings, compare_slices
        from faultmap.scoring.precomputed import PrecomputedScorer

        owner = "SliceAnalyzer.compare_models"
        started = time.perf_counter()
        check_param(owner, "model_a_name", model_a_name, NonEmptyStr())
        check_param(owner, "model_b_name", model_b_name, NonEmptyStr())
        if model_a_name == model_b_name:
            raise ConfigurationError(
                f"The 'model_a_name' and 'model_b_name' parameters of {owner} must differ. "
                f"Got {model_a_name!r} for both."
            )
        if (scores_a is None) != (scores_b is None):
            given, absent = (
                ("scores_a", "scores_b") if scores_b is None else ("scores_b", "scores_a")
            )
            raise DataError(
                f"'{given}' was given but '{absent}' was not; pass scores for both models "
                "(mode 1), or neither to score both responses against references= (mode 2) "
                "or by sampling from an LLM (mode 3)."
            )
        prompts, responses_a, meta = self._check_texts(prompts, responses_a, "responses_a")
        responses_b = as_text_list("responses_b", responses_b, allow_empty=True)
        check_same_length(("prompts", prompts), ("responses_b", responses_b))
        n = len(prompts)
        if scores_a is not None:
            scorers: tuple[Scorer, Scorer] = (
                PrecomputedScorer(as_scores("scores_a", scores_a, n)),
                PrecomputedScorer(as_scores("scores_b", scores_b, n)),
            )
            if references is not None:
                warnings.warn(
                    "Both scores_a=/scores_b= and references= were given; using the scores "
                    "(mode 1) and ignoring references=.",
                    FaultmapWarning,
                    stacklevel=2,
                )
        if references is not None and scores_a is None:
            references = as_text_list("references", references)
            check_same_length(("prompts", prompts), ("references", references))
        if embeddings is not None:
            vectors = as_embeddings("embeddings", embeddings, n)
        client = self._llm_client()
        if scores_a is None:
            scorer = self._get_scorer(None, references, client)
            scorers = (scorer, scorer)
        t0 = time.perf_counter()
        scored_a, values_a = self._score(scorers[0], prompts, responses_a)
        scored_b, values_b = self._score(scorers[1], prompts, responses_b)
        score_s = time.perf_counter() - t0
        keep = np.flatnonzero(~np.isnan(values_a) & ~np.isnan(values_b))
        if keep.size == 0:
            raise LLMError(
                "No prompt could be scored for both models, so there is nothing to compare. "
                f"Scoring metadata: {scored_a.metadata.get('sampling_errors', {})}"
            )
        t0 = time.perf_counter()
        if embeddings is None:
            vectors, embedding_id = self._embed_prompts(prompts)
        else:
            embedding_id = "precomputed"
        embed_s = time.perf_counter() - t0
        meta["random_state"] = self.random_state
        for side, scored in (("a", scored_a), ("b", scored_b)):
            summary = {k: v for k, v in scored.metadata.items() if not isinstance(v, list)}
            if summary:
                meta[f"scoring_{side}"] = summary
        subset = keep.size < n
        if subset:
            meta["unscored_indices"] = [
                int(i) for i in np.flatnonzero(np.isnan(values_a) | np.isnan(values_b))
            ]
            logger.warning(
                "%d prompt(s) could not be scored for both models and are left out",
                n - keep.size,
            )

        def pick(values: Any) -> Any:
            if isinstance(values, np.ndarray):
                return values[keep] if subset else values
            return [values[i] for i in keep] if subset else values

        report = compare_slices(
            pick(prompts),
            pick(responses_a),
            pick(responses_b),
            pick(values_a),
            pick(values_b),
            pick(vectors),
            clusterer=self._get_clusterer(),
            namer=self._get_namer(client),
            settings=ComparisonSettings(
                significance_level=self.significance_level,
                min_slice_size=self.min_slice_size,
                failure_threshold=self.failure_threshold,
            ),
            model_a_name=model_a_name,
            model_b_name=model_b_name,
            embedding_model=embedding_id,
            scoring_mode=scored_a.mode,
            metadata=meta,
            row_ids=keep if subset else None,
            total_rows=n,
            map_settings=self._map_settings(),
        )
        self._record_run(report.metadata, started, client, score=score_s, embed=embed_s)
        logger.info(
            "faultmap: %s vs %s: global winner %s, %d significant slice(s)",
            model_a_name,
            model_b_name,
            report.global_winner,
            report.num_significant_slices,
        )
        return report

    async def acompare_models(self, *args: Any, **kwargs: Any) -> ComparisonReport:
        """Async twin of :meth:`compare_models` (same arguments); runs in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.compare_models, *args, **kwargs)

    def __repr__(self) -> str:
        return (
            f"SliceAnalyzer(model={self.model!r}, embedding_model={self.embedding_model!r}, "
            f"clustering_method={self.clustering_method!r}, min_slice_size={self.min_slice_size})"
        )
