"""The payloads of the results: the typed parts of a report, read like the dicts they
replace.

Examples, over-represented metadata values, hybrid cells, the map, rejected gaps and the
metadata of each report are mapping records (:class:`~faultmap._serialize.MappingRecord`):
frozen dataclasses on the one JSON stack that read as read-only mappings over the keys
``to_dict()`` writes (``slice.examples[0]["prompt"]``, ``report.map["x"]``), with attribute
access too (``report.map.x``). :mod:`faultmap.reports.models` holds the results that carry
them, re-exports every name here and explains the metadata classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faultmap._serialize import EXTRA, OMIT_NONE, MappingRecord
from faultmap.exceptions import DataError

__all__ = [
    "AnalysisMetadata",
    "CellRef",
    "ComparisonExample",
    "ComparisonMetadata",
    "CoverageMetadata",
    "Example",
    "ExplainedCell",
    "HybridCell",
    "LLMUsage",
    "MetadataAnalysis",
    "NeighborSearch",
    "OverRepresentedValue",
    "PromptMap",
    "RegionSettings",
    "RejectedGap",
    "ScoringSummary",
    "ThresholdDetails",
]

# -- in a slice, a cell, a gap or the map ------------------------------------------------------


@dataclass(frozen=True)
class Example(MappingRecord):
    """One example prompt of a :class:`~faultmap.reports.models.FailureSlice`
    (``examples[0]["prompt"]`` or ``examples[0].prompt``): its input row, prompt, response,
    score and whether it failed."""

    index: int
    prompt: str
    response: str
    score: float
    failed: bool


@dataclass(frozen=True)
class ComparisonExample(MappingRecord):
    """One example prompt of a :class:`~faultmap.reports.models.SliceComparison`: both
    models' responses and scores, and ``won_by`` ("a" or "b"), the model that passed it while
    the other failed."""

    index: int
    prompt: str
    response_a: str
    response_b: str
    score_a: float
    score_b: float
    won_by: str


@dataclass(frozen=True)
class OverRepresentedValue(MappingRecord):
    """A metadata value more frequent inside a slice than in the other prompts
    (:func:`faultmap.cohorts.hybrid_slices`): ``count`` prompts of the slice have it;
    ``slice_share`` and ``rest_share`` are its share inside and outside; ``lift`` is the share
    inside over the overall share. One-sided Fisher p-value, Benjamini–Hochberg-adjusted over
    every (slice, value) pair."""

    column: str
    value: str
    count: int
    slice_share: float
    rest_share: float
    lift: float
    p_value: float
    adjusted_p_value: float


@dataclass(frozen=True)
class HybridCell(MappingRecord):
    """A (cluster x metadata value) cell that fails significantly more than both its cluster
    and its value alone (:data:`faultmap.cohorts.HYBRID_RULE`): its failure rate, the rates of
    the cluster's other prompts and of the value's prompts outside the cluster, both one-sided
    Fisher p-values and their Benjamini–Hochberg adjustments, the Wilson interval of
    ``failure_rate``, its input rows (``sample_indices``), the name of its slice (``None`` when
    the cluster is not a significant slice) and keywords."""

    cluster_id: int
    column: str
    value: str
    size: int
    num_failures: int
    failure_rate: float
    cluster_size: int
    cluster_rest_failure_rate: float
    value_size: int
    value_rest_failure_rate: float
    p_value_vs_cluster: float
    p_value_vs_value: float
    adjusted_p_value_vs_cluster: float
    adjusted_p_value_vs_value: float
    confidence_interval: tuple[float, float]
    sample_indices: list[int]
    slice_name: str | None = None
    keywords: list[str] = field(default_factory=list)


#: The keys every map has (the empty map of a report without one has none).
_MAP_KEYS = ("projection", "dims", "total_points", "x", "y", "index", "label", "text")


@dataclass(frozen=True)
class PromptMap(MappingRecord):
    """Where at most ``max_map_points`` prompts sit on a report's map
    (:func:`faultmap.pipeline.prompt_map`), read as the dict it was (``report.map["x"]``).

    ``projection`` ("pca" or "umap"), ``dims`` (2 or 3), ``total_points`` (prompts before
    sampling), coordinates ``x``, ``y`` (``z`` in 3-D) in [-1, 1], ``index`` (input row),
    ``label`` (cluster, or gap position for a coverage audit) and ``text`` (clipped prompt),
    one per point; then the report's own column: ``failed`` (analysis), ``outcome``
    (comparison: "both", "neither", "a" or "b") or ``covered`` (coverage). Other columns are
    kept in ``extra``. A report without a map holds the empty map, equal to ``{}``.
    """

    projection: str | None = field(default=None, metadata=OMIT_NONE)
    dims: int | None = field(default=None, metadata=OMIT_NONE)
    total_points: int | None = field(default=None, metadata=OMIT_NONE)
    x: list[float] | None = field(default=None, metadata=OMIT_NONE)
    y: list[float] | None = field(default=None, metadata=OMIT_NONE)
    z: list[float] | None = field(default=None, metadata=OMIT_NONE)
    index: list[int] | None = field(default=None, metadata=OMIT_NONE)
    label: list[int] | None = field(default=None, metadata=OMIT_NONE)
    text: list[str] | None = field(default=None, metadata=OMIT_NONE)
    failed: list[bool] | None = field(default=None, metadata=OMIT_NONE)
    outcome: list[str] | None = field(default=None, metadata=OMIT_NONE)
    covered: list[bool] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self):
            missing = [key for key in _MAP_KEYS if getattr(self, key) is None]
            if missing:
                raise DataError(
                    f"PromptMap: the required field {missing[0]!r} is missing (a map has "
                    f"{', '.join(_MAP_KEYS)}; a report without a map has an empty one)."
                )


@dataclass(frozen=True)
class RejectedGap(MappingRecord):
    """The uncovered production prompts (beyond the distance threshold) of a tested region
    that is not a gap, when there are at least ``min_gap_size`` of them
    (``CoverageReport.metadata["rejected_gaps"]``): far from every test prompt, but where the
    test suite is not significantly under-represented. ``size``, the distances and
    ``prompt_indices`` describe those prompts (``mean_distance`` Euclidean between unit
    vectors as in faultmap 0.5.0, ``cosine_mean_distance`` and ``max_distance`` cosine, as on
    a :class:`~faultmap.reports.models.CoverageGap`), the other facts their region;
    ``keywords`` are the region's distinctive words."""

    region_id: int
    size: int
    mean_distance: float
    max_distance: float
    test_count: int
    region_production_count: int
    expected_test_count: float
    p_value: float
    adjusted_p_value: float
    #: ``None`` when the report keeps no per-prompt lists (``metadata["row_lists_kept"]``).
    prompt_indices: list[int] | None
    keywords: list[str] = field(default_factory=list)
    cosine_mean_distance: float | None = field(default=None, metadata=OMIT_NONE)


# -- metadata: every key faultmap writes, optional; other keys kept in ``extra`` ------------------


@dataclass(frozen=True)
class LLMUsage(MappingRecord):
    """The language model a run called and the client's call counts (``metadata["llm"]``)."""

    model: str | None = field(default=None, metadata=OMIT_NONE)
    calls: int | None = field(default=None, metadata=OMIT_NONE)
    succeeded: int | None = field(default=None, metadata=OMIT_NONE)
    failed: int | None = field(default=None, metadata=OMIT_NONE)
    retries: int | None = field(default=None, metadata=OMIT_NONE)
    timeouts: int | None = field(default=None, metadata=OMIT_NONE)
    prompt_tokens: int | None = field(default=None, metadata=OMIT_NONE)
    completion_tokens: int | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class ScoringSummary(MappingRecord):
    """What a scorer reported besides the scores (``metadata["scoring_a"]`` of a comparison):
    empty responses, the ``reference_match`` rule, the rows scored by exact match and by
    cosine, and the rows faultmap 0.5.0's ``(cos + 1) / 2`` judged otherwise (reference
    scorer); samples per prompt, unscored and partially sampled prompts and the first
    sampling errors by row (entropy scorer). A custom scorer's keys are kept in ``extra``."""

    num_empty_responses: int | None = field(default=None, metadata=OMIT_NONE)
    reference_match: str | None = field(default=None, metadata=OMIT_NONE)
    num_exact_match_rows: int | None = field(default=None, metadata=OMIT_NONE)
    num_cosine_rows: int | None = field(default=None, metadata=OMIT_NONE)
    num_rows_differing_from_050: int | None = field(default=None, metadata=OMIT_NONE)
    n_samples: int | None = field(default=None, metadata=OMIT_NONE)
    num_unscored: int | None = field(default=None, metadata=OMIT_NONE)
    num_partially_sampled: int | None = field(default=None, metadata=OMIT_NONE)
    sampling_errors: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class CellRef(MappingRecord):
    """A metadata value of one column (the cell an explained cell overlaps)."""

    column: str
    value: str


@dataclass(frozen=True)
class ExplainedCell(MappingRecord):
    """A significant hybrid cell left out because it fails only through the prompts of
    stronger cells of its cluster (``explained_by``); ``p_value_without`` is its larger
    one-sided p-value without those prompts."""

    cluster_id: int
    column: str
    value: str
    size: int
    explained_by: list[CellRef]
    p_value_without: float


@dataclass(frozen=True)
class MetadataAnalysis(MappingRecord):
    """How metadata was read into the slices (``metadata["metadata_analysis"]``, see
    :func:`faultmap.cohorts.hybrid_slices`): the columns, the rule and its settings, the
    counts of tests and findings, and the explained cells."""

    columns: list[str] | None = field(default=None, metadata=OMIT_NONE)
    min_cell_size: int | None = field(default=None, metadata=OMIT_NONE)
    significance_level: float | None = field(default=None, metadata=OMIT_NONE)
    rule: str | None = field(default=None, metadata=OMIT_NONE)
    note: str | None = field(default=None, metadata=OMIT_NONE)
    num_values: int | None = field(default=None, metadata=OMIT_NONE)
    over_representation_tests: int | None = field(default=None, metadata=OMIT_NONE)
    num_over_represented: int | None = field(default=None, metadata=OMIT_NONE)
    hybrid_cells_tested: int | None = field(default=None, metadata=OMIT_NONE)
    num_hybrid_cells: int | None = field(default=None, metadata=OMIT_NONE)
    explained_cells: list[ExplainedCell] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class ThresholdDetails(MappingRecord):
    """How a coverage audit chose its distance threshold from the test prompts
    (``metadata["threshold_details"]``)."""

    quantile: float | None = field(default=None, metadata=OMIT_NONE)
    num_distinct_test_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    num_sampled: int | None = field(default=None, metadata=OMIT_NONE)
    median_leave_one_out_distance: float | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class NeighborSearch(MappingRecord):
    """How a coverage audit found each production prompt's nearest test prompt
    (``metadata["nearest_neighbors"]``, :mod:`faultmap._neighbors`): ``method`` "exact" or
    "cells"; for cells, their number (``nlist``) and how many each prompt looked in
    (``nprobe``), and the error measured on ``checked_queries`` seeded random prompts: the
    share whose distance is within ``distance_tolerance`` of the exact one, the share whose
    exact nearest test prompt was found (``recall_at_1``), the largest and mean distance
    error. ``cells_share_within_tolerance``: cells were tried and fell short, so the search
    was exact."""

    method: str | None = field(default=None, metadata=OMIT_NONE)
    nlist: int | None = field(default=None, metadata=OMIT_NONE)
    nprobe: int | None = field(default=None, metadata=OMIT_NONE)
    checked_queries: int | None = field(default=None, metadata=OMIT_NONE)
    share_within_tolerance: float | None = field(default=None, metadata=OMIT_NONE)
    distance_tolerance: float | None = field(default=None, metadata=OMIT_NONE)
    recall_at_1: float | None = field(default=None, metadata=OMIT_NONE)
    max_distance_error: float | None = field(default=None, metadata=OMIT_NONE)
    mean_distance_error: float | None = field(default=None, metadata=OMIT_NONE)
    index_seconds: float | None = field(default=None, metadata=OMIT_NONE)
    cells_share_within_tolerance: float | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class RegionSettings(MappingRecord):
    """How a coverage audit cut the pooled prompts into regions (``metadata["regions"]``)."""

    min_region_size: int | None = field(default=None, metadata=OMIT_NONE)
    min_cluster_size: int | None = field(default=None, metadata=OMIT_NONE)
    points_clustered: int | None = field(default=None, metadata=OMIT_NONE)
    min_region_fraction: float | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class AnalysisMetadata(MappingRecord):
    """``AnalysisReport.metadata``: input checks, the scorer's summary (its keys at the top
    level, as before), the seed, left-out rows, the digests of the analysed prompts (for
    :mod:`faultmap.reports.diff`), notes, timings in seconds, the metadata analysis and the
    LLM's call counts. Every key is optional; undeclared keys are kept in ``extra``."""

    num_duplicate_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    num_prompts_truncated_for_embedding: int | None = field(default=None, metadata=OMIT_NONE)
    num_empty_responses: int | None = field(default=None, metadata=OMIT_NONE)
    reference_match: str | None = field(default=None, metadata=OMIT_NONE)
    num_exact_match_rows: int | None = field(default=None, metadata=OMIT_NONE)
    num_cosine_rows: int | None = field(default=None, metadata=OMIT_NONE)
    num_rows_differing_from_050: int | None = field(default=None, metadata=OMIT_NONE)
    n_samples: int | None = field(default=None, metadata=OMIT_NONE)
    num_unscored: int | None = field(default=None, metadata=OMIT_NONE)
    num_partially_sampled: int | None = field(default=None, metadata=OMIT_NONE)
    sampling_errors: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    semantic_entropy: list[float | None] | None = field(default=None, metadata=OMIT_NONE)
    self_consistency: list[float | None] | None = field(default=None, metadata=OMIT_NONE)
    random_state: int | None = field(default=None, metadata=OMIT_NONE)
    unscored_indices: list[int] | None = field(default=None, metadata=OMIT_NONE)
    prompt_digests: list[str] | None = field(default=None, metadata=OMIT_NONE)
    note: str | None = field(default=None, metadata=OMIT_NONE)
    naming_fallbacks: int | None = field(default=None, metadata=OMIT_NONE)
    timings_s: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)
    metadata_analysis: MetadataAnalysis | None = field(default=None, metadata=OMIT_NONE)
    llm: LLMUsage | None = field(default=None, metadata=OMIT_NONE)
    #: How the failure modes were chosen: ``merge_level`` and ``merge_threshold`` (it
    #: Bonferroni-corrected over the tree's merges: children whose two-sided merge test is
    #: at or below it are not merged), ``linkage`` and ``metric`` of the cluster tree.
    modes: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    #: ``confirm="split"``: ``seed``, ``discovery_rows`` / ``discovery_failures`` and
    #: ``confirmation_rows`` / ``confirmation_failures`` (the counts of each half), and
    #: ``discovery_indices`` (input rows of the discovery half).
    confirmation: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    #: ``stability_runs``: ``runs``, ``fraction`` of rows per subsample, ``jaccard``, ``seed``.
    stability: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    #: How names were checked: ``method`` ("embedding" or "keywords"), ``flag_below`` and
    #: ``flagged`` (how many names did not discriminate), ``renamed`` (LLM names asked again).
    name_check: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    #: faultmap 0.5.0's ``scoring_metadata``: ``{}`` for given scores,
    #: ``{"embedding_model": ...}`` for references, for sampling ``n_samples``,
    #: ``temperature`` and per prompt ``semantic_entropy`` (nats), ``normalized_entropy``,
    #: ``self_consistency`` and ``scores``; a custom scorer's own metadata. ``None`` in
    #: reports written before faultmap kept it.
    scoring_metadata: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    #: Input rows whose text held lone surrogates (half of a UTF-16 pair) and was repaired
    #: (each replaced by U+FFFD) before any embedding: argument name -> row numbers.
    repaired_text_rows: dict[str, list[int]] | None = field(default=None, metadata=OMIT_NONE)
    #: False when the per-row lists were not kept (see :class:`AnalysisReport`); absent
    #: when they were.
    row_lists_kept: bool | None = field(default=None, metadata=OMIT_NONE)
    #: A streamed analysis (``analyze_frame`` on Parquet files): ``files``, ``batch_rows``,
    #: ``passes``, ``fit_rows`` (the rows HDBSCAN was fitted on), ``refinement``, and the
    #: seeded samples naming and the map were made from (``naming_rows_per_cluster``,
    #: ``naming_rows``, ``map_rows``).
    streaming: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class CoverageMetadata(MappingRecord):
    """``CoverageReport.metadata``: the seed, duplicates, how the nearest test prompts were
    found (``nearest_neighbors``), how the threshold and the regions were chosen, the
    uncovered prompts in no gap, the rejected gaps, the size from which a region without test
    prompts is always a gap (``zero_test_gap_size``), the permutation p-value of the whole
    family (``global_null_p_value``) and the regions withheld because it was above the level
    (``num_gaps_withheld``), the production prompts in no region
    and in regions too small to test (both counted as covered), naming fallbacks, timings in
    seconds and the LLM's call counts. Every key is optional; undeclared keys are kept in
    ``extra``."""

    random_state: int | None = field(default=None, metadata=OMIT_NONE)
    num_duplicate_test_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    num_duplicate_production_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    threshold_details: ThresholdDetails | None = field(default=None, metadata=OMIT_NONE)
    nearest_neighbors: NeighborSearch | None = field(default=None, metadata=OMIT_NONE)
    num_uncovered_total: int | None = field(default=None, metadata=OMIT_NONE)
    regions: RegionSettings | None = field(default=None, metadata=OMIT_NONE)
    num_regions: int | None = field(default=None, metadata=OMIT_NONE)
    num_regions_tested: int | None = field(default=None, metadata=OMIT_NONE)
    unclustered_prompt_indices: list[int] | None = field(default=None, metadata=OMIT_NONE)
    #: faultmap 0.5.0's split of the ``num_uncovered_total`` prompts beyond the threshold:
    #: in a gap (``num_clustered_uncovered``) or in none (``num_unclustered_uncovered``, the
    #: length of ``unclustered_prompt_indices``); absent from reports written before.
    num_clustered_uncovered: int | None = field(default=None, metadata=OMIT_NONE)
    num_unclustered_uncovered: int | None = field(default=None, metadata=OMIT_NONE)
    rejected_gaps: list[RejectedGap] | None = field(default=None, metadata=OMIT_NONE)
    zero_test_gap_size: int | None = field(default=None, metadata=OMIT_NONE)
    global_null_p_value: float | None = field(default=None, metadata=OMIT_NONE)
    num_gaps_withheld: int | None = field(default=None, metadata=OMIT_NONE)
    num_production_in_no_region: int | None = field(default=None, metadata=OMIT_NONE)
    num_production_in_untested_regions: int | None = field(default=None, metadata=OMIT_NONE)
    naming_fallbacks: int | None = field(default=None, metadata=OMIT_NONE)
    timings_s: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)
    llm: LLMUsage | None = field(default=None, metadata=OMIT_NONE)
    #: Input rows whose text held lone surrogates (half of a UTF-16 pair) and was repaired
    #: (each replaced by U+FFFD) before any embedding: argument name -> row numbers.
    repaired_text_rows: dict[str, list[int]] | None = field(default=None, metadata=OMIT_NONE)
    #: False when the report keeps no per-prompt lists (a streamed audit above its limit):
    #: gap and rejected-gap ``prompt_indices``, ``nearest_test_distances`` and
    #: ``nearest_test_indices`` are then ``None`` and ``unclustered_prompt_indices`` absent;
    #: the counts are kept. Absent when the lists are kept.
    row_lists_kept: bool | None = field(default=None, metadata=OMIT_NONE)
    #: How a streamed audit read the production files (``files``, ``batch_rows``,
    #: ``batches``); absent when they were read whole.
    streaming: dict[str, int] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class ComparisonMetadata(MappingRecord):
    """``ComparisonReport.metadata``: input checks, the seed, each model's scoring summary,
    left-out rows, notes, naming fallbacks, timings in seconds and the LLM's call counts.
    Every key is optional; undeclared keys are kept in ``extra``."""

    num_duplicate_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    num_prompts_truncated_for_embedding: int | None = field(default=None, metadata=OMIT_NONE)
    random_state: int | None = field(default=None, metadata=OMIT_NONE)
    scoring_a: ScoringSummary | None = field(default=None, metadata=OMIT_NONE)
    scoring_b: ScoringSummary | None = field(default=None, metadata=OMIT_NONE)
    unscored_indices: list[int] | None = field(default=None, metadata=OMIT_NONE)
    note: str | None = field(default=None, metadata=OMIT_NONE)
    naming_fallbacks: int | None = field(default=None, metadata=OMIT_NONE)
    timings_s: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)
    llm: LLMUsage | None = field(default=None, metadata=OMIT_NONE)
    #: Input rows whose text held lone surrogates (half of a UTF-16 pair) and was repaired
    #: (each replaced by U+FFFD) before any embedding: argument name -> row numbers.
    repaired_text_rows: dict[str, list[int]] | None = field(default=None, metadata=OMIT_NONE)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)
