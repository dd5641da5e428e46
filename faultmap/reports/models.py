"""Result dataclasses. Every number in a report can be recomputed from ``to_dict()``.

Reports, their slices and gaps, and every payload inside them (examples, over-represented
metadata values, hybrid cells, the map, metadata) are frozen dataclasses on the one JSON stack
of :mod:`faultmap._serialize`: ``to_dict()`` / ``from_dict()`` / ``to_json()`` /
``from_json()``. Payloads documented as dicts (``slice.examples[0]["prompt"]``,
``report.map["x"]``, ``report.metadata["timings_s"]``) are mapping records
(:class:`~faultmap._serialize.MappingRecord`): read-only mappings over the keys ``to_dict()``
writes, with attribute access too (``report.map.x``); they are defined in
:mod:`faultmap.reports.payloads` and re-exported here. A report may be built from plain dicts
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
from typing import Any

from faultmap._serialize import OMIT_NONE, Record, read_json, to_plain, write_json
from faultmap.core.rows import Rows
from faultmap.reports._registry import find
from faultmap.reports.payloads import (
    AnalysisMetadata,
    CellRef,
    ComparisonExample,
    ComparisonMetadata,
    CoverageMetadata,
    Example,
    ExplainedCell,
    HybridCell,
    LLMUsage,
    MetadataAnalysis,
    OverRepresentedValue,
    PromptMap,
    RegionSettings,
    RejectedGap,
    ScoringSummary,
    ThresholdDetails,
)

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
    "FailureMode",
    "FailureSlice",
    "HybridCell",
    "LLMUsage",
    "MetadataAnalysis",
    "ModeNode",
    "NullAudit",
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

    #: For a cluster that was tested but not reported: the smallest true failure rate its
    #: size could have detected with 80 % power at the level its p-value had to reach (see
    #: :func:`faultmap.significance.detectable_rate`), so "no slice here" is read correctly.
    #: ``None`` for reported clusters and in reports written before faultmap computed it.
    detectable_failure_rate: float | None = field(default=None, metadata=OMIT_NONE)

    @property
    def failure_rate(self) -> float:
        return self.num_failures / self.size if self.size else 0.0


@dataclass(frozen=True)
class ModeNode(Record):
    """One node of the cluster tree tested for failure modes (see
    :mod:`faultmap.analyses.modes`): the tested clusters under it, its two children (node ids;
    none for a leaf), its counts and one-sided test against the rest, the adjusted p-value in
    the family of every node, and ``merge_p_value``, the two-sided test that its children fail
    at the same rate (``None`` for a leaf). ``homogeneous`` is true when every merge below it,
    and its own, has ``merge_p_value`` above ``metadata["modes"]["merge_threshold"]``."""

    node_id: int
    cluster_ids: list[int]
    children: list[int]
    size: int
    num_failures: int
    p_value: float
    adjusted_p_value: float
    test_used: str
    merge_p_value: float | None = None
    homogeneous: bool = True

    @property
    def failure_rate(self) -> float:
        return self.num_failures / self.size if self.size else 0.0


@dataclass(frozen=True)
class NullAudit(Record):
    """The whole testing procedure rerun on permuted failure labels
    (``analyze(..., null_runs=K)``): the clusters are kept (clustering never sees the
    labels), the failures are shuffled among the analysed rows ``runs`` times, and the
    tests, the correction and the merge into failure modes are redone each time.

    ``fwer`` is the share of permuted runs that report at least one failure mode (every one
    of them false); ``slice_fwer`` the same for slices; ``expected_false_modes`` and
    ``expected_false_slices`` are the mean numbers reported per permuted run. With the
    default Benjamini–Hochberg correction at level q, ``fwer`` should stay near or below q.
    """

    runs: int
    fwer: float
    expected_false_modes: float
    expected_false_slices: float
    slice_fwer: float
    level: float
    seed: int


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

    #: Evidence that the slice is real (each ``None`` unless computed; see the README):
    #: ``stability`` is the share of ``stability_runs`` subsample reruns that report a slice
    #: with Jaccard >= 0.5 to this one; ``confirmation_p_value`` the one-sided test of this
    #: slice on the held-out half (``confirm="split"``; ``confirmation_size`` /
    #: ``confirmation_failures`` are its counts there); ``name_check`` how well the name picks
    #: out members it was not made from against non-members (AUC, 0.5 = no better than chance).
    stability: float | None = field(default=None, metadata=OMIT_NONE)
    confirmation_p_value: float | None = field(default=None, metadata=OMIT_NONE)
    confirmation_size: int | None = field(default=None, metadata=OMIT_NONE)
    confirmation_failures: int | None = field(default=None, metadata=OMIT_NONE)
    name_check: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class FailureMode(_Views):
    """One problem: neighbouring clusters that fail at rates not significantly different,
    merged and tested as one group (see :mod:`faultmap.analyses.modes`).

    ``slices`` are positions in ``report.slices`` of the slices inside this mode (a mode may
    also take in clusters that were not significant alone: ``cluster_ids`` lists them all).
    ``p_value`` is the one-sided test of the mode against the rest; ``adjusted_p_value`` is
    corrected across every node of the cluster tree (``report.mode_nodes``), the family the
    mode was chosen from. ``node_id`` is the mode's node there. The evidence fields read as
    on :class:`FailureSlice`.
    """

    name: str
    description: str
    size: int
    num_failures: int
    failure_rate: float
    baseline_rate: float
    effect_size: float
    confidence_interval: tuple[float, float]
    p_value: float
    adjusted_p_value: float
    test_used: str
    rest_failure_rate: float = 0.0
    slices: list[int] = field(default_factory=list)
    cluster_ids: list[int] = field(default_factory=list)
    node_id: int = -1
    sample_indices: list[int] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    representative_prompts: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    root_cause: str = ""
    suggested_remediation: str = ""
    naming_source: str = "keywords"
    naming_error: str | None = None
    prompt_digests: list[str] = field(default_factory=list)
    stability: float | None = field(default=None, metadata=OMIT_NONE)
    confirmation_p_value: float | None = field(default=None, metadata=OMIT_NONE)
    confirmation_size: int | None = field(default=None, metadata=OMIT_NONE)
    confirmation_failures: int | None = field(default=None, metadata=OMIT_NONE)
    name_check: float | None = field(default=None, metadata=OMIT_NONE)


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

    #: One entry per problem: slices that are one problem merged into a failure mode, most
    #: significant first (see :class:`FailureMode`); ``mode_nodes`` is every node of the
    #: cluster tree that was tested (the family the modes were chosen from), so the
    #: correction and the choice can be redone from ``to_dict()``.
    failure_modes: list[FailureMode] = field(default_factory=list)
    mode_nodes: list[ModeNode] = field(default_factory=list)

    #: The multiple-testing correction of every family: "bh" (Benjamini–Hochberg, default),
    #: "by" (Benjamini–Yekutieli) or "holm".
    correction: str = "bh"

    #: The procedure rerun on permuted labels (``analyze(..., null_runs=K)``); ``None``
    #: unless asked for.
    null_audit: NullAudit | None = field(default=None, metadata=OMIT_NONE)

    @property
    def num_failure_modes(self) -> int:
        """How many failure modes were reported."""
        return len(self.failure_modes)

    def __repr__(self) -> str:
        return (
            f"AnalysisReport(total_prompts={self.total_prompts}, "
            f"baseline_failure_rate={self.baseline_failure_rate:.3f}, "
            f"num_significant={self.num_significant}, "
            f"num_failure_modes={self.num_failure_modes})"
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
    #: The correction of the region family: "bh" (default), "by" or "holm".
    correction: str = "bh"
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
    #: The correction of the slice family: "bh" (default), "by" or "holm".
    correction: str = "bh"
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
