"""``SliceAnalyzer``: the facade. It checks its parameters against one table, turns strings
and defaults into stages, and hands the data to a recipe in :mod:`faultmap.analyses`."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from faultmap import stages
from faultmap._async import in_worker_thread
from faultmap._secrets import register_secrets
from faultmap._validation import (
    BOOL,
    HasMethods,
    Interval,
    IsInstance,
    NonEmptyStr,
    Options,
    StrMapping,
    check_param,
)
from faultmap.analyses import comparison, coverage, coverage_stream, inputs, slices, stream
from faultmap.analyses.stream import STREAM_AUTO_ROWS
from faultmap.clustering.base import Clusterer
from faultmap.config import LLMConfig
from faultmap.embedding.backends import AUTO, EMBEDDING_BACKENDS
from faultmap.embedding.base import Embedder, fingerprint_of
from faultmap.exceptions import CompatibilityWarning, ConfigurationError, FaultmapWarning
from faultmap.io import analysis_inputs
from faultmap.io._stream import parquet_paths, parquet_rows
from faultmap.naming.base import Namer
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport
from faultmap.scoring.base import Scorer
from faultmap.scoring.reference import REFERENCE_MATCHES
from faultmap.significance.tests import CORRECTIONS, TESTS

if TYPE_CHECKING:
    from faultmap.llm.client import LLMClient

__all__ = ["CLUSTERERS", "SliceAnalyzer"]

CLUSTERERS = stages.CLUSTERERS

logger = logging.getLogger("faultmap")


_OWNER = "SliceAnalyzer"


class _DefaultEmbeddingModel(str):
    """The default ``embedding_model``: a ``str`` equal to the local model's name, told apart
    from the same name passed explicitly, so only a call that leaves it out is warned that
    faultmap 0.5.0 embedded with an API model instead."""

    __slots__ = ()


#: The local model that embeds when ``embedding_model`` is not given.
DEFAULT_EMBEDDING_MODEL: str = _DefaultEmbeddingModel("all-MiniLM-L6-v2")
_STAGE_CLUSTERER = HasMethods(("fit_predict",), ("name",), "an object with fit_predict() and name")
_STAGE_EMBEDDER = HasMethods(("embed",), ("identity",), "an object with embed(texts) and identity")

#: Every constructor parameter and what it accepts (``None`` admits None): the one table
#: :meth:`SliceAnalyzer.__init__` checks against.
PARAMETERS: dict[str, tuple[Any, ...]] = {
    "model": (None, NonEmptyStr()),
    "embedding_model": (NonEmptyStr(), _STAGE_EMBEDDER),
    "embedding_max_text_chars": (None, Interval(int, 1, None)),
    "embedding_request_kwargs": (None, StrMapping()),
    "embedding_usage_kwargs": (None, StrMapping(nested=True)),
    "significance_level": (Interval(float, 0, 1, "neither"),),
    "min_slice_size": (Interval(int, 2, None),),
    "failure_threshold": (Interval(float, 0, 1, "right"),),
    "n_samples": (Interval(int, 1, None),),
    "clustering_method": (Options(tuple(CLUSTERERS)), _STAGE_CLUSTERER),
    "max_concurrent_requests": (Interval(int, 1, None),),
    "temperature": (Interval(float, 0, None),),
    "consistency_threshold": (Interval(float, -1, 1),),
    "namer": (None, HasMethods(("name",), (), "an object with name(slices)")),
    "test": (Options(TESTS),),
    "random_state": (Interval(int, 0, None),),
    "llm_timeout": (Interval(float, 0, None, "neither"),),
    "llm_max_retries": (Interval(int, 0, None),),
    "llm_completion_kwargs": (None, StrMapping()),
    "show_progress": (None, BOOL),
    "embedding_cache": (BOOL, IsInstance((str, os.PathLike), "a cache directory path")),
    "llm_client": (None, HasMethods(("acomplete",), (), "a faultmap.llm.LLMClient")),
    "map_projection": (None, Options(("pca", "umap"))),
    "map_dims": (Options((2, 3)),),
    "max_map_points": (Interval(int, 1, None),),
    "confirm": (None, Options(("split",))),
    "correction": (Options(CORRECTIONS),),
    "reference_match": (Options(REFERENCE_MATCHES),),
    "embedding_backend": (None, Options((AUTO, *EMBEDDING_BACKENDS))),
}


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
    ``show_progress`` shows progress bars for the long steps: embedding prompts and batches
    of LLM calls (scoring, naming). ``True`` always, ``False`` never, ``None`` (default) when
    someone watches (in Jupyter or a terminal) and the step is long (from 500 texts or 50
    calls). In Jupyter the bar is a widget when ipywidgets is installed, plain text otherwise
    (no "IProgress not found" warning); in logs and CI progress goes to log lines.

    For an API embedding model (any litellm model string), ``embedding_max_text_chars`` cuts
    each text before it is sent (None: whole texts), ``embedding_request_kwargs`` go with
    every embedding request (e.g. ``{"dimensions": 256}``) and ``embedding_usage_kwargs``
    add options per use, ``{"query": {...}, "document": {...}}`` (winning over
    ``embedding_request_kwargs``); a local model ignores all three, as in faultmap 0.5.0.
    The positional order of the parameters up to ``consistency_threshold`` is faultmap
    0.5.0's; every parameter after it is keyword-only.

    Every report carries a map of at most ``max_map_points`` prompts for its views
    (``report.to_html()``, ``report.plot()``): ``map_projection`` "pca" (fast, default),
    "umap" (slower, keeps neighbourhoods) or None (no map); ``map_dims`` 2 or 3.

    ``reference_match`` sets how mode 2 (``references=``) scores a response against its
    reference: ``"auto"`` (default) compares *short answers* exactly -- when both the
    reference and the response have at most 4 words after normalisation (case folded, every
    run of characters other than letters and digits made one space), the score is 1 for the
    same normalised text or the same number (``"3"``, ``"3.0"``, ``"three"``) and 0 otherwise
    -- and scores every other row ``max(0, cos)`` of the two embeddings; ``"exact"`` compares
    every row exactly; ``"cosine"`` scores every row ``max(0, cos)``. Short answers (yes/no,
    labels, numbers, dates) embed close together whatever they say, so cosine passes most
    wrong ones. See :mod:`faultmap.scoring.reference`.

    ``embedding_backend`` runs a local sentence-transformers model on ``"auto"`` (default:
    ``"torch"`` when torch sees a GPU, else ``"onnx"``), ``"torch"`` (sentence-transformers;
    what None means, faultmap's default before ``"auto"``), ``"onnx"`` (ONNX Runtime, the
    same vectors at about twice torch's speed on a CPU), ``"onnx-int8"`` (quantised, faster
    still, vectors moved) or ``"static"`` (a model2vec static model, ~100x faster, coarser: it
    found fewer planted problems). The backend that ran is in the report's
    ``embedding_model`` (``...:backend=onnx``) and keys the embedding cache. Exported models
    are kept in the embedding cache folder; an API model or an embedder object refuses a
    named backend (``"auto"`` leaves them alone). See :mod:`faultmap.embedding.backends` and
    "Embedding backends" in the README.

    Example:
        >>> analyzer = SliceAnalyzer(min_slice_size=20)
        >>> report = analyzer.analyze(prompts, responses, scores=scores)  # doctest: +SKIP
        >>> print(report)                                                 # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | None = None,
        embedding_model: str | Embedder = DEFAULT_EMBEDDING_MODEL,
        embedding_max_text_chars: int | None = 2000,
        embedding_request_kwargs: Mapping[str, Any] | None = None,
        embedding_usage_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        significance_level: float = 0.05,
        min_slice_size: int = 10,
        failure_threshold: float = 0.5,
        n_samples: int = 8,
        clustering_method: str | Clusterer = "hdbscan",
        max_concurrent_requests: int = 50,
        temperature: float = 1.0,
        consistency_threshold: float = 0.8,
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
        confirm: str | None = None,
        correction: str = "bh",
        reference_match: str = "auto",
        embedding_backend: str | None = AUTO,
    ) -> None:
        given = locals()
        for name, constraints in PARAMETERS.items():
            check_param(_OWNER, name, given[name], *constraints)
            setattr(self, name, given[name])
        self.llm_completion_kwargs = dict(llm_completion_kwargs or {})
        # Credentials given here are redacted by value from everything faultmap writes.
        register_secrets(
            self.llm_completion_kwargs, self.embedding_usage_kwargs, self.embedding_request_kwargs
        )
        self._embedder: Embedder | None = None

    # -- stages ---------------------------------------------------------------------------
    def _get_embedder(self) -> Embedder:
        if self._embedder is None:
            if self.model is not None and isinstance(self.embedding_model, _DefaultEmbeddingModel):
                warnings.warn(
                    f"model={self.model!r} is set and embedding_model is not: faultmap 0.5.0 "
                    "then embedded through the API with 'text-embedding-3-small', this embeds "
                    f"locally with {str(DEFAULT_EMBEDDING_MODEL)!r} (offline, no key). Pass "
                    f"embedding_model={str(DEFAULT_EMBEDDING_MODEL)!r} to keep the local model "
                    "(and silence this), or embedding_model='text-embedding-3-small' for 0.5.0's "
                    "setup. See 'Differences from faultmap 0.5.0' in the README.",
                    CompatibilityWarning,
                    stacklevel=3,
                )
            self._embedder = stages.embedder_for(
                self.embedding_model,
                cache=self.embedding_cache,
                max_text_chars=self.embedding_max_text_chars,
                usage_kwargs=self.embedding_usage_kwargs,
                request_kwargs=self.embedding_request_kwargs,
                max_concurrent_requests=min(self.max_concurrent_requests, 16),
                show_progress=self.show_progress,
                backend=self.embedding_backend,
            )
        return self._embedder

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
            show_progress=self.show_progress,
        )

    def _setup(self) -> inputs.Setup:
        """This run's stages (see :func:`faultmap.analyses.inputs.setup_from`)."""
        client = self.llm_client or stages.llm_client_for(self.llm_config())
        return inputs.setup_from(self, client=client, embedder=self._get_embedder)

    # -- public API -----------------------------------------------------------------------
    def analyze(
        self,
        prompts: Any,
        responses: Any,
        scores: Any = None,
        references: Any = None,
        *,
        embeddings: Any = None,
        embeddings_model: str | Embedder | None = None,
        scorer: Scorer | None = None,
        metadata: Any = None,
        stability_runs: int = 0,
        null_runs: int = 0,
    ) -> AnalysisReport:
        """Find failure slices: groups of similar prompts that fail more than the rest, and
        failure modes: the slices that are one problem, merged and tested as one group.

        Scores come from ``scores`` (mode 1: qualities in [0, 1], higher = better),
        ``references`` (mode 2: exact match for short answers, cosine similarity of response
        and reference otherwise, negatives count as 0; see ``reference_match``) or neither
        (mode 3, needs ``model``: sampled responses scored by
        semantic entropy and self-consistency, :mod:`faultmap.scoring.entropy`). A row fails
        when its score is below ``failure_threshold``; rows that could not be scored are left
        out (``metadata["unscored_indices"]``). ``embeddings`` skips the embedding model;
        ``embeddings_model`` says which model made them (a name or folder as for
        ``embedding_model``, or an embedder; nothing is embedded), so the report records
        that model's fingerprint and ``faultmap diff`` can match its findings by meaning with
        other reports of the same model (see :mod:`faultmap.reports.diff`).
        ``scorer`` replaces the scoring stage, and ``metadata`` (columns such as route or
        language) adds each slice's over-represented values and ``report.hybrid_cells``
        (:mod:`faultmap.analyses.hybrid`). The statistics: :mod:`faultmap.analyses.slices`
        and, for failure modes, :mod:`faultmap.analyses.modes`.

        Evidence that a finding is real (:mod:`faultmap.analyses.evidence`):
        ``stability_runs=B`` reclusters and retests B subsamples of 80 % of the rows and
        gives each slice and mode its ``stability`` (share of reruns that find it again; B
        clusterings, so off by default); ``null_runs=K`` reruns the tests, the correction and
        the merge into modes on K permutations of the failure labels over the same clusters
        (``report.null_audit``: how often a false mode is reported; cheap, clustering never
        sees the labels). Seeds come from ``random_state``. Split confirmation and the
        correction are settings of the analyzer (``confirm="split"``, ``correction=``).

        Example:
            >>> analyzer = SliceAnalyzer()
            >>> report = analyzer.analyze(prompts, responses, scores=scores)  # doctest: +SKIP
            >>> report.failure_modes[0].name  # doctest: +SKIP
        """
        check_param("analyze", "stability_runs", stability_runs, Interval(int, 0, None))
        check_param("analyze", "null_runs", null_runs, Interval(int, 0, None))
        check_param(
            "analyze", "embeddings_model", embeddings_model, None, NonEmptyStr(), _STAGE_EMBEDDER
        )
        return slices.analyze(
            prompts,
            responses,
            scores,
            references,
            embeddings=embeddings,
            scorer=scorer,
            metadata=metadata,
            embedding_fingerprint=self._fingerprint(embeddings_model, embeddings),
            setup=self._setup(),
            settings=self._slice_settings(stability_runs, null_runs),
        )

    aanalyze = in_worker_thread(analyze)

    def _slice_settings(self, stability_runs: int, null_runs: int) -> slices.SliceSettings:
        """This analyzer's settings for one analysis with these evidence runs."""
        return slices.SliceSettings(
            significance_level=self.significance_level,
            min_slice_size=self.min_slice_size,
            failure_threshold=self.failure_threshold,
            test=self.test,
            correction=self.correction,
            confirm=self.confirm,
            stability_runs=stability_runs,
            null_runs=null_runs,
            seed=self.random_state,
        )

    def _fingerprint(self, spec: str | Embedder | None, embeddings: Any) -> str | None:
        """The fingerprint of the model ``spec`` names (``analyze(embeddings_model=)``),
        resolved as ``embedding_model`` is, without loading the model."""
        if spec is None:
            return None
        if embeddings is None:
            raise ConfigurationError(
                "The 'embeddings_model' parameter of analyze names the model that made "
                "embeddings=, but no embeddings= were given; pass them, or set "
                "SliceAnalyzer(embedding_model=...) to choose the model that embeds the prompts."
            )
        fingerprint = fingerprint_of(
            stages.embedder_for(
                spec,
                cache=False,
                max_text_chars=self.embedding_max_text_chars,
                usage_kwargs=self.embedding_usage_kwargs,
                request_kwargs=self.embedding_request_kwargs,
                max_concurrent_requests=1,
                show_progress=False,
            )
        )
        if fingerprint is None:
            warnings.warn(
                f"The weights of embeddings_model={spec!r} were not found on this machine, so "
                "the report records no embedding fingerprint and `faultmap diff` will match "
                "its findings by shared prompts only.",
                FaultmapWarning,
                stacklevel=3,
            )
        return fingerprint

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
        streaming: bool | str = "auto",
        batch_rows: int = 65_536,
        keep_row_lists: bool | None = None,
        **kwargs: Any,
    ) -> AnalysisReport:
        """:meth:`analyze` on the columns of a pandas DataFrame, a pyarrow Table, a dict of
        columns, or a JSONL / CSV / Parquet path (:func:`faultmap.io.analysis_inputs`).

        ``score_col`` selects mode 1, ``reference_col`` mode 2, neither mode 3;
        ``embedding_col`` holds prompt vectors; ``metadata_cols`` become ``metadata=``. Other
        keyword arguments go to :meth:`analyze`. Bad cells raise :class:`~faultmap.DataError`
        naming the column and row.

        Parquet too large to hold is *streamed*: read ``batch_rows`` rows at a time in two
        passes, HDBSCAN fitted on its usual sample and every other row placed batch by batch,
        counts accumulated (:mod:`faultmap.analyses.stream`): memory is one batch plus 5
        bytes a row. ``streaming="auto"`` (default) streams a list or folder of Parquet files,
        and one Parquet file of more than 1,000,000 rows (its metadata says) when the call
        can stream: ``score_col`` and ``embedding_col`` given, no ``reference_col`` or
        ``metadata_cols``, ``stability_runs=0`` and no ``confirm="split"``; everything else
        is read whole, exactly as before. ``streaming=True`` streams or raises
        :class:`~faultmap.ConfigurationError` naming what cannot stream; ``False`` never
        streams. Counts, p-values, failure modes and ``null_runs`` are exact; names,
        examples and the map come from seeded samples (``metadata["streaming"]``).
        ``keep_row_lists`` keeps the per-row lists of the report (``cluster_labels``,
        ``row_scores``, prompt digests, each finding's ``sample_indices``); by default
        (None) a streamed report keeps them up to 1,000,000 rows and above that holds
        ``None`` in them and every row's label in ``report.label_array()`` (int32).

        Example:
            >>> report = SliceAnalyzer().analyze_frame(
            ...     df, prompt_col="question", response_col="answer", score_col="judge_score"
            ... )  # doctest: +SKIP
            >>> big = SliceAnalyzer().analyze_frame(
            ...     "logs/", score_col="score", embedding_col="embedding")  # doctest: +SKIP
        """
        owner = "analyze_frame"
        check_param(owner, "streaming", streaming, BOOL, Options(("auto",)))
        check_param(owner, "batch_rows", batch_rows, Interval(int, 1, None))
        check_param(owner, "keep_row_lists", keep_row_lists, None, BOOL)
        paths = parquet_paths(frame) if streaming is not False else None
        columns = dict(
            prompt_col=prompt_col,
            response_col=response_col,
            score_col=score_col,
            reference_col=reference_col,
            embedding_col=embedding_col,
            metadata_cols=tuple(metadata_cols),
        )
        why_not = stream.why_not_streamed(paths, columns, kwargs, confirm=self.confirm)
        if streaming is True and why_not is not None:
            raise ConfigurationError(f"analyze_frame(streaming=True): {why_not}")
        if streaming is not False and why_not is None and paths is not None:
            several = len(paths) > 1 or os.path.isdir(frame)
            if streaming is True or several or sum(parquet_rows(paths)) > STREAM_AUTO_ROWS:
                return self._analyze_streamed(
                    paths, columns, kwargs, batch_rows=batch_rows, keep_row_lists=keep_row_lists
                )
        if keep_row_lists is False:
            raise ConfigurationError(
                "The 'keep_row_lists' parameter of analyze_frame applies to a streamed "
                "analysis; this one reads the data whole and keeps its lists. Pass "
                "streaming=True, or leave keep_row_lists out."
            )
        if paths is not None and (len(paths) > 1 or os.path.isdir(frame)):
            raise ConfigurationError(
                f"analyze_frame reads a list or folder of Parquet files by streaming them, "
                f"which this call cannot: {why_not}"
            )
        inputs_ = analysis_inputs(frame, **columns)
        return self.analyze(**inputs_, **kwargs)

    def _analyze_streamed(
        self,
        paths: Any,
        columns: dict[str, Any],
        kwargs: dict[str, Any],
        *,
        batch_rows: int,
        keep_row_lists: bool | None,
    ) -> AnalysisReport:
        null_runs = kwargs.get("null_runs", 0)
        check_param("analyze_frame", "null_runs", null_runs, Interval(int, 0, None))
        spec = kwargs.get("embeddings_model")
        check_param("analyze_frame", "embeddings_model", spec, None, NonEmptyStr(), _STAGE_EMBEDDER)
        return stream.analyze_parquet(
            paths,
            stream.StreamColumns(
                prompt=columns["prompt_col"],
                response=columns["response_col"],
                score=columns["score_col"],
                embedding=columns["embedding_col"],
            ),
            setup=self._setup(),
            settings=self._slice_settings(0, null_runs),
            batch_rows=batch_rows,
            keep_row_lists=keep_row_lists,
            embedding_fingerprint=self._fingerprint(spec, True),
        )

    def audit_coverage(
        self,
        test_prompts: Any,
        production_prompts: Any,
        distance_threshold: float | None = None,
        min_gap_size: int = 5,
        *,
        test_embeddings: Any = None,
        production_embeddings: Any = None,
        neighbor_search: str | Any = "auto",
        cosine_distance_threshold: float | None = None,
    ) -> CoverageReport:
        """Find regions of production prompts your test suite under-represents: the gaps.

        Test and production prompts are clustered together into regions; a gap is a region
        of at least ``min_gap_size`` production prompts where the test suite is
        significantly under-represented (one-sided Fisher, corrected across regions by
        ``correction``), and all of the region's production prompts are its members.
        ``overall_coverage_score`` is the share of production prompts in no gap. The
        distance of each production prompt to its nearest test prompt is supporting
        evidence: ``distance_coverage_score`` is the share within the threshold, faultmap
        0.5.0's coverage score. ``distance_threshold`` is on faultmap 0.5.0's scale
        (Euclidean distance between unit vectors, 0 to 2; larger values are accepted and
        cover everything) and ``cosine_distance_threshold`` is the same threshold as a
        cosine distance (1 - cosine similarity, 0 to 2; ``distance_threshold ** 2 / 2``);
        pass at most one (neither: the 95th percentile of the test prompts' leave-one-out
        nearest-neighbour cosine distances). The report has both. Warns once per call
        (:class:`~faultmap.CoverageMeaningWarning`) that gaps and the score mean something
        else than in faultmap 0.5.0. ``test_embeddings`` / ``production_embeddings`` skip the
        model (a memory-mapped ``.npy`` of unit vectors is used in place, not copied).
        ``neighbor_search`` finds each production prompt's nearest test prompt: ``"exact"``,
        ``"cells"`` (k-means cells, for millions of prompts; its measured error is in
        ``metadata["nearest_neighbors"]``), ``"auto"`` (exact up to 10^10 prompt pairs) or
        an object with a ``search`` method (``faultmap.integrations.ray.RayNeighborSearch()``:
        the exact search on a Ray cluster; see "Scaling out" in the README).
        The statistics: :mod:`faultmap.analyses.coverage`.

        Example:
            >>> report = SliceAnalyzer().audit_coverage(tests, production)  # doctest: +SKIP
            >>> report.overall_coverage_score, report.gaps[0].name  # doctest: +SKIP
        """
        return coverage.audit(
            test_prompts,
            production_prompts,
            distance_threshold,
            min_gap_size,
            test_embeddings=test_embeddings,
            production_embeddings=production_embeddings,
            neighbor_search=neighbor_search,
            cosine_distance_threshold=cosine_distance_threshold,
            significance_level=self.significance_level,
            correction=self.correction,
            setup=self._setup(),
        )

    aaudit_coverage = in_worker_thread(audit_coverage)

    def audit_coverage_frame(
        self,
        test: Any,
        production: Any,
        prompt_col: str = "prompt",
        embedding_col: str | None = None,
        *,
        test_prompt_col: str | None = None,
        test_embedding_col: str | None = None,
        streaming: bool | str = "auto",
        batch_rows: int = 65_536,
        keep_row_lists: bool | None = None,
        **kwargs: Any,
    ) -> CoverageReport:
        """:meth:`audit_coverage` on columns of frames or files: ``test`` and ``production``
        are each a pandas DataFrame, a pyarrow Table, a dict of columns, a JSONL / CSV /
        Parquet path, or (``production`` above all) Parquet files: a list of paths or a
        folder. ``prompt_col`` and ``embedding_col`` name the columns (``test_prompt_col`` /
        ``test_embedding_col`` when the suite's differ); other keyword arguments go to
        :meth:`audit_coverage`.

        ``streaming=True`` reads the production Parquet files a record batch of
        ``batch_rows`` rows at a time, never whole (needs ``embedding_col``; the test suite
        is read whole): memory is a batch plus a few numbers per production row, for tens of
        millions of rows. Counts, p-values, gaps and scores are those of the whole-read audit
        on the same rows (:mod:`faultmap.analyses.coverage_stream`). ``streaming="auto"``
        streams Parquet with ``embedding_col`` above 1,000,000 rows and reads anything else
        whole (the same report as :meth:`audit_coverage`); ``streaming=False`` always reads
        whole. A streamed report keeps its per-prompt lists (gap ``prompt_indices``,
        ``nearest_test_distances``, ...) up to 1,000,000 production prompts; above, or with
        ``keep_row_lists=False``, they are ``None`` and ``metadata["row_lists_kept"]`` is False.
        Bad cells raise :class:`~faultmap.DataError` naming the file, row and column.

        Example:
            >>> report = SliceAnalyzer().audit_coverage_frame(
            ...     "suite.parquet", "logs/", embedding_col="embedding", streaming=True
            ... )  # doctest: +SKIP
        """
        return coverage_stream.audit_frame(
            test,
            production,
            prompt_col,
            embedding_col,
            test_prompt_col=test_prompt_col,
            test_embedding_col=test_embedding_col,
            streaming=streaming,
            batch_rows=batch_rows,
            keep_row_lists=keep_row_lists,
            significance_level=self.significance_level,
            correction=self.correction,
            setup=self._setup(),
            **kwargs,
        )

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

        Scores follow :meth:`analyze`'s modes for each model: ``scores_a`` and ``scores_b``
        (both or neither), ``references``, or sampling. McNemar's test on the prompts exactly
        one model failed gives ``global_winner`` ("a", "b" or "tie"); every cluster of at
        least ``min_slice_size`` prompts is tested the same way, corrected across clusters:
        ``report.slices`` holds the significant slices (as in faultmap 0.5.0),
        ``report.tested_slices`` every tested one, the ties after them. Rows either model
        could not be scored on are left out. The statistics:
        :mod:`faultmap.analyses.comparison`.

        Example:
            >>> report = SliceAnalyzer().compare_models(
            ...     prompts, answers_a, answers_b, scores_a=sa, scores_b=sb,
            ...     model_a_name="gpt-4o", model_b_name="llama-3")  # doctest: +SKIP
            >>> report.global_winner  # doctest: +SKIP
            'a'
        """
        owner = "SliceAnalyzer.compare_models"
        check_param(owner, "model_a_name", model_a_name, NonEmptyStr())
        check_param(owner, "model_b_name", model_b_name, NonEmptyStr())
        if model_a_name == model_b_name:
            raise ConfigurationError(
                f"The 'model_a_name' and 'model_b_name' parameters of {owner} must differ. "
                f"Got {model_a_name!r} for both."
            )
        return comparison.compare(
            prompts,
            responses_a,
            responses_b,
            scores_a,
            scores_b,
            references,
            embeddings=embeddings,
            model_a_name=model_a_name,
            model_b_name=model_b_name,
            setup=self._setup(),
            settings=comparison.ComparisonSettings(
                significance_level=self.significance_level,
                min_slice_size=self.min_slice_size,
                failure_threshold=self.failure_threshold,
                correction=self.correction,
            ),
        )

    acompare_models = in_worker_thread(compare_models)

    def __repr__(self) -> str:
        return (
            f"SliceAnalyzer(model={self.model!r}, embedding_model={self.embedding_model!r}, "
            f"clustering_method={self.clustering_method!r}, min_slice_size={self.min_slice_size})"
        )
