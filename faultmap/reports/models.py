"""Result dataclasses. Every number in a report can be recomputed from ``to_dict()``.

Reports, their slices and gaps, and every payload inside them (examples, over-represented
metadata values, hybrid cells, the map, metadata) are frozen dataclasses on the one JSON stack
of :mod:`faultmap._serialize`: ``to_dict()`` / ``from_dict()`` / ``to_json()`` /
``from_json()``. Payloads documented as dicts (``slice.examples[0]["prompt"]``,
``report.map["x"]``, ``report.metadata["timings_s"]``) are mapping records
(:class:`~faultmap._serialize.MappingRecord`): read-only mappings over the keys ``to_dict()``
writes, with attribute access too (``report.map.x``). A report may be built from plain dicts
for these fields; they are read into the typed classes (a wrong shape raises
:class:`~faultmap.exceptions.DataError` naming the field).

Metadata. :class:`AnalysisMetadata`, :class:`CoverageMetadata` and
:class:`ComparisonMetadata` declare every key faultmap writes; a key that is not written is
``None`` and left out of the mapping and of ``to_dict()``. Keys they do not declare (a custom
scorer's metadata, a caller's ``metadata=`` of :func:`faultmap.pipeline.find_slices`, keys a
newer faultmap wrote) are kept in their ``extra`` field as JSON values; the mapping view and
``to_dict()`` put them back at the top level, so ``report.metadata["my_key"]`` and the JSON
file look as if they were fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from faultmap._serialize import (
    EXTRA,
    OMIT_NONE,
    MappingRecord,
    Record,
    read_json,
    to_plain,
    write_json,
)
from faultmap.core.rows import Rows
from faultmap.exceptions import DataError
from faultmap.reports._registry import find

__all__ = [
    "AnalysisMetadata",
    "AnalysisReport",
    "CellRef",
    "ClusterTest",
    "ComparisonExample",
    "ComparisonMetadata",
    "ComparisonReport",
    "CoverageGap",
    "CoverageMetadata",
    "CoverageReport",
    "Example",
    "ExplainedCell",
    "FailureSlice",
    "HybridCell",
    "LLMUsage",
    "MetadataAnalysis",
    "OverRepresentedValue",
    "PromptMap",
    "RegionSettings",
    "RegionTest",
    "RejectedGap",
    "ScoringSummary",
    "SliceComparison",
    "ThresholdDetails",
]

# The names other modules import from here (reports/diff.py, reports/schema); the one
# implementation is in faultmap._serialize.
_clean = to_plain
_read_json = read_json
_write_json = write_json


class _Views(Record):
    """JSON round trip and the plain-text view shared by every result.

    The JSON round trip is :class:`~faultmap._serialize.Record`'s (no class overrides it). Its
    views live in the view modules, which register them for its class (see
    :mod:`faultmap.reports._registry`); the models import no view. One source of sentences,
    :mod:`faultmap.reports.text`, feeds every view.
    """

    def __str__(self) -> str:
        return find(self, "text")(self)


class _ReportViews(_Views):
    """A whole report: the views of :class:`_Views`, the compact HTML shown by Jupyter, a
    self-contained HTML page, plotly figures and a rich console view (all from the sentences
    of :mod:`faultmap.reports.text`)."""

    def _repr_html_(self) -> str:
        return find(self, "html_compact")(self)

    def to_html(self, path: str | Path | None = None) -> str:
        """Return the report as one self-contained HTML page and write it to ``path`` if given.

        The page opens offline (no CDN, a Content-Security-Policy forbids any load): headline
        figures, a sortable table, a card per slice and a map of the prompts with the prompt
        on hover. Every text from the data is escaped.

        Example:
            >>> report.to_html("report.html")  # doctest: +SKIP
        """
        return find(self, "html_page")(self, path)

    def plot(self, kind: str = "map", **kwargs: Any) -> Any:
        """A plotly figure: ``"map"`` (the prompts coloured by slice or gap) or ``"rates"``
        (failure rates with 95 % Wilson intervals; both models for a comparison). Needs
        plotly: ``pip install 'faultmap[viz]'``. See :mod:`faultmap.reports.plot`.

        Example:
            >>> report.plot("rates")  # doctest: +SKIP
        """
        return find(self, "plot")(self, kind, **kwargs)

    def print(self, console: Any = None) -> None:
        """Print the report to the terminal with colours and tables (needs rich:
        ``pip install 'faultmap[rich]'``); ``console`` is a ``rich.console.Console``.

        Example:
            >>> report.print()  # doctest: +SKIP
        """
        find(self, "rich")(self, console=console)


# -- payloads: the typed parts of a report, read like the dicts they replace ------------------


@dataclass(frozen=True)
class Example(MappingRecord):
    """One example prompt of a :class:`FailureSlice` (``examples[0]["prompt"]`` or
    ``examples[0].prompt``): its input row, prompt, response, score and whether it failed."""

    index: int
    prompt: str
    response: str
    score: float
    failed: bool


@dataclass(frozen=True)
class ComparisonExample(MappingRecord):
    """One example prompt of a :class:`SliceComparison`: both models' responses and scores, and
    ``won_by`` ("a" or "b"), the model that passed it while the other failed."""

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
    """A group of uncovered production prompts whose region is not significantly
    under-represented in the test suite (``CoverageReport.metadata["rejected_gaps"]``); the
    same facts as a :class:`CoverageGap`, without names."""

    region_id: int
    size: int
    mean_distance: float
    max_distance: float
    test_count: int
    region_production_count: int
    expected_test_count: float
    p_value: float
    adjusted_p_value: float
    prompt_indices: list[int]
    keywords: list[str] = field(default_factory=list)


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
    empty responses (reference scorer); samples per prompt, unscored and partially sampled
    prompts and the first sampling errors by row (entropy scorer). A custom scorer's keys are
    kept in ``extra``."""

    num_empty_responses: int | None = field(default=None, metadata=OMIT_NONE)
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
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class CoverageMetadata(MappingRecord):
    """``CoverageReport.metadata``: the seed, duplicates, how the threshold and the regions
    were chosen, the uncovered prompts in no gap, the rejected gaps, naming fallbacks, timings
    in seconds and the LLM's call counts. Every key is optional; undeclared keys are kept in
    ``extra``."""

    random_state: int | None = field(default=None, metadata=OMIT_NONE)
    num_duplicate_test_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    num_duplicate_production_prompts: int | None = field(default=None, metadata=OMIT_NONE)
    threshold_details: ThresholdDetails | None = field(default=None, metadata=OMIT_NONE)
    num_uncovered_total: int | None = field(default=None, metadata=OMIT_NONE)
    regions: RegionSettings | None = field(default=None, metadata=OMIT_NONE)
    num_regions: int | None = field(default=None, metadata=OMIT_NONE)
    num_regions_tested: int | None = field(default=None, metadata=OMIT_NONE)
    unclustered_prompt_indices: list[int] | None = field(default=None, metadata=OMIT_NONE)
    rejected_gaps: list[RejectedGap] | None = field(default=None, metadata=OMIT_NONE)
    naming_fallbacks: int | None = field(default=None, metadata=OMIT_NONE)
    timings_s: dict[str, float] | None = field(default=None, metadata=OMIT_NONE)
    llm: LLMUsage | None = field(default=None, metadata=OMIT_NONE)
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
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


# -- analyses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterTest(Record):
    """One tested cluster: its counts and p-values (significant or not)."""

    cluster_id: int
    size: int
    num_failures: int
    p_value: float
    adjusted_p_value: float
    test_used: str

    @property
    def failure_rate(self) -> float:
        return self.num_failures / self.size if self.size else 0.0


@dataclass(frozen=True)
class FailureSlice(_Views):
    """A group of similar prompts that fails significantly more often than the rest.

    Fields up to ``representative_prompts`` match faultmap 0.5.0. ``effect_size`` is the
    failure rate over the overall baseline rate (4.2 = "4.2x baseline"); ``risk_difference``
    is ``failure_rate - baseline_rate``; ``confidence_interval`` is the Wilson interval of
    ``failure_rate``. ``p_value`` tests this slice against the *rest* of the data.
    ``prompt_digests`` holds a short digest of each member prompt's text (see
    :func:`faultmap.reports.diff.prompt_digest`), so two reports can be matched by shared
    prompts even when they were run on different data.
    """

    _TEXT_VIEW: ClassVar[str] = "slice_text"

    name: str
    description: str
    size: int
    failure_rate: float
    baseline_rate: float
    effect_size: float
    p_value: float
    adjusted_p_value: float
    test_used: str
    root_cause: str = ""
    suggested_remediation: str = ""
    sample_indices: list[int] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    representative_prompts: list[str] = field(default_factory=list)
    cluster_id: int = -1
    num_failures: int = 0
    rest_failure_rate: float = 0.0
    risk_difference: float = 0.0
    confidence_interval: tuple[float, float] = (0.0, 1.0)
    keywords: list[str] = field(default_factory=list)
    naming_source: str = "keywords"
    naming_error: str | None = None
    prompt_digests: list[str] = field(default_factory=list)

    #: Metadata values over-represented in this slice (``analyze(..., metadata=...)``, see
    #: :func:`faultmap.cohorts.hybrid_slices`), read like dicts with ``column``, ``value``,
    #: ``count``, ``slice_share``, ``rest_share``, ``lift``, ``p_value``, ``adjusted_p_value``.
    over_represented_values: list[OverRepresentedValue] = field(default_factory=list)


@dataclass(frozen=True)
class AnalysisReport(_ReportViews):
    """Outcome of :meth:`faultmap.SliceAnalyzer.analyze`.

    ``slices`` holds the significant slices, most significant first. ``clusters`` holds every
    tested cluster (the Benjamini–Hochberg family), so the correction can be redone from
    ``to_dict()``. ``num_unclustered`` prompts fell in no cluster (HDBSCAN noise) and
    ``num_untested`` sat in clusters smaller than ``min_slice_size``; both are counted in the
    baseline and never dropped. ``map`` places at most ``max_map_points`` prompts in 2-D or 3-D
    for the views (see :func:`faultmap.pipeline.prompt_map`): lists ``x``, ``y`` (``z``),
    ``index`` (input row), ``label`` (cluster), ``failed`` and ``text`` (clipped prompt).
    """

    _TEXT_VIEW: ClassVar[str] = "analysis_text"
    _HTML_VIEW: ClassVar[str] = "analysis_html"

    total_prompts: int
    total_failures: int
    baseline_failure_rate: float
    num_significant: int
    slices: list[FailureSlice]
    clustering_method: str
    embedding_model: str
    metadata: AnalysisMetadata = field(default_factory=AnalysisMetadata)
    scoring_mode: str = "precomputed"
    significance_level: float = 0.05
    failure_threshold: float = 0.5
    min_slice_size: int = 10
    num_clusters: int = 0
    num_unclustered: int = 0
    num_untested: int = 0
    clusters: list[ClusterTest] = field(default_factory=list)
    cluster_labels: list[int] = field(default_factory=list)
    map: PromptMap = field(default_factory=PromptMap)

    #: (cluster x metadata value) cells that fail significantly more than both their cluster
    #: and their value alone (``analyze(..., metadata=...)``, see
    #: :func:`faultmap.cohorts.hybrid_slices`), read like dicts; the rule and the counts of
    #: tests are in ``metadata["metadata_analysis"]``.
    hybrid_cells: list[HybridCell] = field(default_factory=list)

    #: Which input rows were analysed and which were left out, and why (see
    #: :class:`faultmap.core.rows.Rows`); ``None`` in reports written before faultmap kept it.
    rows: Rows | None = field(default=None, metadata=OMIT_NONE)

    def __repr__(self) -> str:
        return (
            f"AnalysisReport(total_prompts={self.total_prompts}, "
            f"baseline_failure_rate={self.baseline_failure_rate:.3f}, "
            f"num_significant={self.num_significant})"
        )


# -- coverage audits -----------------------------------------------------------------------


@dataclass(frozen=True)
class RegionTest(Record):
    """One tested region of the pooled test and production prompts: how many of each it holds
    and whether the test suite is under-represented there (one-sided Fisher, BH-adjusted)."""

    region_id: int
    test_count: int
    production_count: int
    p_value: float
    adjusted_p_value: float
    test_used: str = "fisher"

    @property
    def size(self) -> int:
        return self.test_count + self.production_count


@dataclass(frozen=True)
class CoverageGap(_Views):
    """Production prompts with no test prompt nearby, in a region the test suite under-covers.

    A gap is the uncovered production prompts of one *region* (a cluster of the pooled test
    and production prompts). ``mean_distance`` and ``max_distance`` are the members' cosine
    distances (1 - cosine similarity) to their nearest test prompt. The statistics describe
    the region: ``test_count`` test and ``region_production_count`` production prompts,
    ``expected_test_count`` test prompts expected there if the test suite followed
    production, and the one-sided Fisher p-value of under-representation, BH-adjusted across
    regions. ``prompt_indices`` index ``production_prompts``.
    """

    _TEXT_VIEW: ClassVar[str] = "gap_text"

    name: str
    description: str
    size: int
    mean_distance: float
    representative_prompts: list[str]
    prompt_indices: list[int]
    p_value: float
    adjusted_p_value: float
    test_count: int
    region_production_count: int
    expected_test_count: float
    region_id: int = -1
    max_distance: float = 0.0
    keywords: list[str] = field(default_factory=list)
    root_cause: str = ""
    suggested_remediation: str = ""
    naming_source: str = "keywords"
    naming_error: str | None = None


@dataclass(frozen=True)
class CoverageReport(_ReportViews):
    """Outcome of :meth:`faultmap.SliceAnalyzer.audit_coverage`.

    ``overall_coverage_score`` is the share of production prompts whose nearest test prompt
    lies within ``distance_threshold`` (cosine distance); ``threshold_rule`` says how the
    threshold was chosen. ``gaps`` (largest first) are the groups of at least
    ``min_gap_size`` uncovered prompts in a region where the test suite is significantly
    under-represented; ``regions`` is every tested region (the Benjamini–Hochberg family).
    ``nearest_test_distances`` and ``nearest_test_indices`` give, for every production
    prompt, the distance to and index of its nearest test prompt. ``metadata`` holds
    ``num_uncovered_total``, ``unclustered_prompt_indices`` (uncovered prompts in no gap),
    ``rejected_gaps`` (groups of uncovered prompts whose region is not significantly
    under-represented) and timings. ``map`` places at most ``max_map_points`` production
    prompts in 2-D or 3-D: lists ``x``, ``y`` (``z``), ``index`` (production prompt),
    ``label`` (position of its gap in ``gaps``, -1 for none), ``covered`` and ``text``.
    """

    _TEXT_VIEW: ClassVar[str] = "coverage_text"
    _HTML_VIEW: ClassVar[str] = "coverage_html"

    overall_coverage_score: float
    num_gaps: int
    gaps: list[CoverageGap]
    distance_threshold: float
    threshold_rule: str
    num_test_prompts: int
    num_production_prompts: int
    embedding_model: str
    clustering_method: str
    metadata: CoverageMetadata = field(default_factory=CoverageMetadata)
    num_uncovered: int = 0
    significance_level: float = 0.05
    min_gap_size: int = 5
    regions: list[RegionTest] = field(default_factory=list)
    nearest_test_distances: list[float] = field(default_factory=list)
    nearest_test_indices: list[int] = field(default_factory=list)
    map: PromptMap = field(default_factory=PromptMap)

    def __repr__(self) -> str:
        return (
            f"CoverageReport(num_production_prompts={self.num_production_prompts}, "
            f"overall_coverage_score={self.overall_coverage_score:.3f}, "
            f"num_gaps={self.num_gaps})"
        )


# -- model comparisons ---------------------------------------------------------------------


@dataclass(frozen=True)
class SliceComparison(_Views):
    """One tested cluster of prompts in a two-model comparison.

    ``discordant_a_wins`` counts prompts only model B failed, ``discordant_b_wins`` prompts
    only model A failed; ``advantage_rate`` is A's share of those discordant pairs (0.5 when
    there are none). ``p_value`` is McNemar's test (``test_used`` "exact", "chi2" or "none"),
    ``adjusted_p_value`` its Benjamini–Hochberg adjustment across tested slices. ``winner`` is
    "a" or "b" when the adjusted p-value is below the significance level, else "tie".
    """

    _TEXT_VIEW: ClassVar[str] = "comparison_slice_text"

    name: str
    description: str
    size: int
    winner: str
    failure_rate_a: float
    failure_rate_b: float
    advantage_rate: float
    discordant_a_wins: int
    discordant_b_wins: int
    p_value: float
    adjusted_p_value: float
    test_used: str
    cluster_id: int = -1
    sample_indices: list[int] = field(default_factory=list)
    representative_prompts: list[str] = field(default_factory=list)
    examples: list[ComparisonExample] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    root_cause: str = ""
    suggested_remediation: str = ""
    naming_source: str = "keywords"
    naming_error: str | None = None

    @property
    def significant(self) -> bool:
        return self.winner != "tie"


@dataclass(frozen=True)
class ComparisonReport(_ReportViews):
    """Outcome of :meth:`faultmap.SliceAnalyzer.compare_models`.

    Global McNemar test on every prompt (``global_*``; ``global_advantage_rate`` is A's share
    of the discordant pairs), then one McNemar test per cluster of at least
    ``min_slice_size`` prompts with Benjamini–Hochberg across clusters. ``slices`` holds every
    tested cluster, the significant ones (``winner`` "a" or "b") first by adjusted p-value,
    then the ties by size. ``winner`` values name models by letter; ``model_a_name`` and
    ``model_b_name`` say which model is which. ``map`` places at most ``max_map_points``
    prompts in 2-D or 3-D: lists ``x``, ``y`` (``z``), ``index`` (input row), ``label``
    (cluster), ``outcome`` ("both", "neither", "a" or "b": which model passed) and ``text``.
    """

    _TEXT_VIEW: ClassVar[str] = "comparison_text"
    _HTML_VIEW: ClassVar[str] = "comparison_html"

    model_a_name: str
    model_b_name: str
    total_prompts: int
    failure_rate_a: float
    failure_rate_b: float
    discordant_a_wins: int
    discordant_b_wins: int
    global_winner: str
    global_advantage_rate: float
    global_p_value: float
    global_test_used: str
    num_significant_slices: int
    slices: list[SliceComparison]
    clustering_method: str
    embedding_model: str
    metadata: ComparisonMetadata = field(default_factory=ComparisonMetadata)
    scoring_mode: str = "precomputed"
    significance_level: float = 0.05
    failure_threshold: float = 0.5
    min_slice_size: int = 10
    num_clusters: int = 0
    num_unclustered: int = 0
    num_untested: int = 0
    cluster_labels: list[int] = field(default_factory=list)
    map: PromptMap = field(default_factory=PromptMap)
    #: Which input rows were compared and which were left out, and why.
    rows: Rows | None = field(default=None, metadata=OMIT_NONE)

    def winner_name(self, winner: str | None = None) -> str:
        """The model name for a winner code ("a", "b"; "tie" stays "tie")."""
        code = self.global_winner if winner is None else winner
        return {"a": self.model_a_name, "b": self.model_b_name}.get(code, "tie")

    def __repr__(self) -> str:
        return (
            f"ComparisonReport({self.model_a_name!r} vs {self.model_b_name!r}, "
            f"total_prompts={self.total_prompts}, global_winner={self.global_winner!r}, "
            f"num_significant_slices={self.num_significant_slices})"
        )
