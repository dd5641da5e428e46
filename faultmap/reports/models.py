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

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._secrets import redact
from faultmap._serialize import OMIT_NONE, Record, read_json, to_plain, write_json
from faultmap.core.rows import Rows
from faultmap.reports import _frames
from faultmap.reports._checks import check_report
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
    NeighborSearch,
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
    "Centroid",
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
    "NeighborSearch",
    "NullAudit",
    "OverRepresentedValue",
    "PromptMap",
    "RegionSettings",
    "RegionTest",
    "RejectedGap",
    "RowLabels",
    "ScoringSummary",
    "SliceComparison",
    "SliceDiff",
    "SliceMatch",
    "SliceRef",
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
        return redact(find(self, "text")(self))


class _ReportViews(_Views):
    """A whole report: the views of :class:`_Views`, the compact HTML shown by Jupyter, a
    self-contained HTML page, plotly figures and a rich console view (all from the sentences
    of :mod:`faultmap.reports.text`)."""

    #: Which report of :data:`faultmap.reports._checks.KINDS` this is (set per class).
    _kind = ""

    @classmethod
    def _check_plain(cls, data: Any) -> None:
        """A report file is checked against the schema and for fields that contradict one
        another before it is read (:func:`faultmap.reports._checks.check_report`)."""
        check_report(data, cls._kind, cls.__name__)

    def _repr_html_(self) -> str:
        return redact(find(self, "html_compact")(self))

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

    def summary(self) -> str:
        """The report in one plain-text paragraph: what was found and the most important
        finding (as faultmap 0.5.0's ``summary()``; the sentences are the text view's).

        Example:
            >>> print(report.summary())  # doctest: +SKIP
        """
        return find(self, "summary")(self)

    def print(self, console: Any = None) -> None:
        """Print the report to the terminal with colours and tables (needs rich:
        ``pip install 'faultmap[rich]'``); ``console`` is a ``rich.console.Console``.

        Example:
            >>> report.print()  # doctest: +SKIP
        """
        find(self, "rich")(self, console=console)


# -- analyses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Centroid(Record):
    """Where a group of prompts lies in the embedding space, enough to recognise it on other
    prompts embedded by the same model (see :mod:`faultmap.reports.diff`).

    ``values`` is the members' mean unit vector, renormalised, stored as base64 of its
    little-endian float16 values (``vector()`` decodes it): 1 kB for 384 dimensions where a
    JSON list of 4-decimal numbers takes 3 to 6 kB, and float16 moves a cosine similarity
    between two centroids by less than 1e-4. ``median_similarity`` and ``q10_similarity`` say
    how closely the members sit around it: the median and the 10th percentile of their cosine
    similarities to it (half of the members are at least ``median_similarity`` similar, nine
    in ten at least ``q10_similarity``).

    Example:
        >>> c = Centroid.encode([0.6, 0.8], median_similarity=0.9, q10_similarity=0.8)
        >>> c.values, c.vector().tolist()
        ('zThmOg==', [0.60009765625, 0.7998046875])
        >>> c.similarity([[1.0, 0.0], [0.6, 0.8]]).round(3).tolist()
        [0.6, 1.0]
    """

    values: str
    median_similarity: float
    q10_similarity: float

    @classmethod
    def encode(cls, vector: Any, *, median_similarity: float, q10_similarity: float) -> Centroid:
        """A centroid from its unit vector (any sequence of floats) and its members'
        similarities to it."""
        raw = np.asarray(vector, dtype="<f2").tobytes()
        return cls(
            base64.b64encode(raw).decode("ascii"),
            round(float(median_similarity), 4),
            round(float(q10_similarity), 4),
        )

    def vector(self) -> np.ndarray:
        """The centroid as float64 values (unit length up to float16 rounding)."""
        return np.frombuffer(base64.b64decode(self.values), dtype="<f2").astype(np.float64)

    def similarity(self, vectors: Any) -> np.ndarray:
        """Cosine similarity of each row of ``vectors`` to the centroid (rows of unit length,
        as faultmap's embedders return; a prompt at least ``q10_similarity`` similar sits
        where nine in ten of the members do)."""
        c = self.vector()
        return np.asarray(vectors, dtype=np.float64) @ (c / np.linalg.norm(c))


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

    #: Where the cluster lies in the embedding space (:class:`Centroid`): ``faultmap diff``
    #: reads it to tell whether a run tested the place of an earlier finding. ``None`` in
    #: reports written before faultmap stored it.
    centroid: Centroid | None = field(default=None, metadata=OMIT_NONE)

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
    prompts even when they were run on different data. ``centroid`` (:class:`Centroid`: the
    members' mean vector and how closely they sit around it) says where the slice lies in the
    embedding space, so that ``faultmap diff`` recognises it on other prompts embedded by the
    same model (``report.embedding_fingerprint``); ``None`` in reports written before
    faultmap stored it. ``sample_indices`` and ``prompt_digests`` are ``None`` (not an empty
    list) when the report was made without per-row lists (a streamed analysis of more than a
    million rows, see ``report.row_lists_kept``); ``size`` and ``num_failures`` still count
    every member.
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
    sample_indices: list[int] | None = field(default_factory=list)
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
    prompt_digests: list[str] | None = field(default_factory=list)

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
    centroid: Centroid | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class FailureMode(_Views):
    """One problem: neighbouring clusters that fail at rates not significantly different,
    merged and tested as one group (see :mod:`faultmap.analyses.modes`).

    ``slices`` are positions in ``report.slices`` of the slices inside this mode (a mode may
    also take in clusters that were not significant alone: ``cluster_ids`` lists them all).
    ``p_value`` is the one-sided test of the mode against the rest; ``adjusted_p_value`` is
    corrected across every node of the cluster tree (``report.mode_nodes``), the family the
    mode was chosen from. ``node_id`` is the mode's node there. The evidence fields and
    ``centroid`` read as on :class:`FailureSlice`.
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
    sample_indices: list[int] | None = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    representative_prompts: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    root_cause: str = ""
    suggested_remediation: str = ""
    naming_source: str = "keywords"
    naming_error: str | None = None
    prompt_digests: list[str] | None = field(default_factory=list)
    stability: float | None = field(default=None, metadata=OMIT_NONE)
    confirmation_p_value: float | None = field(default=None, metadata=OMIT_NONE)
    confirmation_size: int | None = field(default=None, metadata=OMIT_NONE)
    confirmation_failures: int | None = field(default=None, metadata=OMIT_NONE)
    name_check: float | None = field(default=None, metadata=OMIT_NONE)
    centroid: Centroid | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True)
class RowLabels(Record):
    """The cluster label of every input row as int32 (``-1`` noise, ``-2`` left out), stored
    as base64 of little-endian int32 (``data``): what a report made without per-row lists
    keeps instead of ``cluster_labels``, about 5.3 bytes a row in JSON.

    Example:
        >>> labels = RowLabels.encode(np.array([0, 1, -1], dtype=np.int32))
        >>> labels.count, labels.array().tolist()
        (3, [0, 1, -1])
    """

    count: int
    data: str
    dtype: str = "<i4"

    @classmethod
    def encode(cls, labels: Any) -> RowLabels:
        """Encode one label per input row."""
        raw = np.asarray(labels, dtype="<i4")
        return cls(int(raw.size), base64.b64encode(raw.tobytes()).decode("ascii"))

    def array(self) -> np.ndarray:
        """The labels as an int32 array."""
        out = np.frombuffer(base64.b64decode(self.data), dtype=self.dtype).astype(np.int32)
        if out.size != self.count:
            raise ValueError(f"row_labels holds {out.size} labels, not count={self.count}")
        return out


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
    ``embedding_fingerprint`` names the weights of the model that made the vectors (see
    :mod:`faultmap.embedding.fingerprint`): ``faultmap diff`` matches findings by their
    centroids only between reports with the same fingerprint.

    Per-row lists (``cluster_labels``, ``row_scores``, ``metadata["prompt_digests"]`` and each
    finding's ``sample_indices`` and ``prompt_digests``) grow with the input; a streamed
    analysis of more than a million rows leaves them out by default
    (``analyze_frame(keep_row_lists=...)``). Then ``row_lists_kept`` is False, those fields
    are ``None`` (never an empty list, which would read as "no members"), and ``row_labels``
    keeps every row's cluster label as int32: :meth:`label_array` returns it either way.
    """

    _kind = "analysis"

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
    cluster_labels: list[int] | None = field(default_factory=list)
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

    #: The weights of the embedding model (``"sha256:..."`` for a local model, the model name
    #: for an API model); ``None`` when unknown: vectors passed as ``embeddings=`` without
    #: ``embeddings_model=``, or a report written before faultmap recorded it.
    embedding_fingerprint: str | None = field(default=None, metadata=OMIT_NONE)

    #: How many clusters were tested, ``len(clusters)`` (faultmap 0.5.0's name; filled in
    #: when not given).
    num_clusters_tested: int | None = None

    #: The score of every input row (NaN, ``null`` in JSON, for rows left out); a row failed
    #: when its score is below ``failure_threshold``. ``None`` in reports written before
    #: faultmap stored it.
    row_scores: list[float] | None = field(default=None, metadata=OMIT_NONE)

    #: Every input row's cluster label as int32 when the per-row lists were not kept (see
    #: the class docstring); ``None`` otherwise (``cluster_labels`` holds them).
    row_labels: RowLabels | None = field(default=None, metadata=OMIT_NONE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_clusters_tested is None:
            object.__setattr__(self, "num_clusters_tested", len(self.clusters))

    @property
    def row_lists_kept(self) -> bool:
        """False when the report was made without its per-row lists (see the class
        docstring; ``metadata["row_lists_kept"]``)."""
        return self.metadata.get("row_lists_kept") is not False

    def label_array(self) -> np.ndarray:
        """The cluster label of every input row as an int32 array (``-1`` noise, ``-2`` left
        out), from ``row_labels`` or ``cluster_labels``.

        Example:
            >>> labels = report.label_array()  # doctest: +SKIP
            >>> int((labels == report.slices[0].cluster_id).sum())  # doctest: +SKIP
            412
        """
        if self.row_labels is not None:
            return self.row_labels.array()
        return np.asarray(self.cluster_labels or [], dtype=np.int32)

    def require_row_lists(self, purpose: str) -> None:
        """Raise :class:`~faultmap.DataError` naming ``purpose`` when the per-row lists
        were not kept."""
        if not self.row_lists_kept:
            from faultmap.exceptions import DataError

            raise DataError(
                f"{purpose} needs the report's per-row lists (sample_indices, prompt "
                "digests), which this report was made without (a streamed analysis of more "
                "than 1,000,000 rows leaves them out); rerun analyze_frame(..., "
                "keep_row_lists=True), or use report.label_array() for each row's cluster."
            )

    @property
    def num_failure_modes(self) -> int:
        """How many failure modes were reported."""
        return len(self.failure_modes)

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per input row, indexed by input row number:
        ``slice`` (the name of the reported slice the row is in, or None), ``slice_id`` (its
        position in ``slices``, ``<NA>`` for none), ``failed`` (nullable bool) and ``score``.
        Rows left out of the analysis have slice None, failed ``<NA>`` and score NaN; so do the
        failed and score columns of a report written before faultmap stored per-row scores.
        Needs pandas (``pip install 'faultmap[io]'``).

        Example:
            >>> frame = report.to_frame()  # doctest: +SKIP
            >>> frame.groupby("slice", dropna=False)["failed"].mean()  # doctest: +SKIP
        """
        return _frames.analysis_frame(self)

    def slices_frame(self) -> Any:
        """A pandas DataFrame with one row per reported slice, indexed by ``slice_id``:
        ``name``, ``size``, ``num_failures``, ``failure_rate``, ``ci_low`` / ``ci_high`` (its
        Wilson interval), ``baseline_rate``, ``effect_size``, ``p_value``,
        ``adjusted_p_value``, ``cluster_id`` and ``stability`` (when computed).

        Example:
            >>> report.slices_frame().sort_values("effect_size")  # doctest: +SKIP
        """
        return _frames.analysis_slices_frame(self)

    def __repr__(self) -> str:
        return (
            f"AnalysisReport(total_prompts={self.total_prompts}, "
            f"baseline_failure_rate={self.baseline_failure_rate:.3f}, "
            f"num_significant={self.num_significant}, "
            f"num_failure_modes={self.num_failure_modes})"
        )


# -- coverage audits -----------------------------------------------------------------------


def cosine_to_euclidean(cosine: float) -> float:
    """The Euclidean distance between two unit vectors at cosine distance ``cosine``
    (faultmap 0.5.0's scale): ``sqrt(2 * cosine)``.

    Example:
        >>> cosine_to_euclidean(0.5), cosine_to_euclidean(2.0)
        (1.0, 2.0)
    """
    return math.sqrt(2.0 * max(float(cosine), 0.0))


def euclidean_to_cosine(euclidean: float) -> float:
    """The cosine distance of two unit vectors at Euclidean distance ``euclidean``:
    ``euclidean ** 2 / 2``, at most 2 (no two unit vectors are farther apart, so a larger
    threshold covers the same prompts).

    Example:
        >>> euclidean_to_cosine(1.0), euclidean_to_cosine(0.5), euclidean_to_cosine(3.0)
        (0.5, 0.125, 2.0)
    """
    return min(float(euclidean) ** 2 / 2.0, 2.0)


def upgrade_distance_fields(
    item: Mapping[str, Any], distances: Sequence[float | None] | None
) -> Mapping[str, Any]:
    """A gap (or rejected gap) dict written when ``mean_distance`` was a cosine distance,
    read onto faultmap 0.5.0's scale: the cosine mean moves to ``cosine_mean_distance`` and
    ``mean_distance`` becomes the mean Euclidean distance of its ``prompt_indices``, from the
    report's per-prompt cosine ``distances`` (``None`` -- NaN -- without them). A dict that
    has ``cosine_mean_distance`` already is returned as it is."""
    if "cosine_mean_distance" in item or "mean_distance" not in item:
        return item
    out = dict(item)
    out["cosine_mean_distance"] = item["mean_distance"]
    out["mean_distance"] = None
    indices = item.get("prompt_indices")
    if distances and isinstance(indices, list) and indices:
        try:
            values = [distances[int(i)] for i in indices]
        except (IndexError, TypeError, ValueError):
            values = []
        if values and all(isinstance(v, (int, float)) for v in values):
            euclid = [cosine_to_euclidean(v) for v in values]  # type: ignore[arg-type]
            out["mean_distance"] = sum(euclid) / len(euclid)
    return out


@dataclass(frozen=True)
class RegionTest(Record):
    """One tested region of the pooled test and production prompts: how many of each it holds
    and whether the test suite is under-represented there (one-sided Fisher, adjusted across
    the tested regions by the report's ``correction``)."""

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
    """A region of production prompts where the test suite is significantly
    under-represented (see :mod:`faultmap.analyses.coverage`).

    A *region* is a cluster of the pooled test and production prompts. The region holds
    ``test_count`` test and ``production_count`` production prompts, and
    ``expected_test_count`` test prompts were expected there if the test suite followed
    production; ``ratio`` is ``test_count / expected_test_count`` and ``ratio_interval`` its
    exact 95 % interval (:func:`faultmap.significance.representation_ratio`). ``p_value`` is
    the one-sided Fisher test of under-representation, ``adjusted_p_value`` its adjustment
    across the tested regions (the report's ``correction``). Every production prompt of the
    region is a member: ``size`` and ``region_production_count`` equal ``production_count``,
    and ``prompt_indices`` index ``production_prompts``. The distances are supporting
    evidence about the members' nearest test prompts: ``mean_distance`` is their mean
    Euclidean distance between unit vectors (faultmap 0.5.0's scale, ``sqrt(2 * cosine
    distance)``, 0 to 2); ``cosine_mean_distance``, ``median_distance`` and ``max_distance``
    are cosine distances (1 - cosine similarity, 0 to 2); ``uncovered_share`` is the share of
    members beyond the report's threshold.

    In reports written before gaps were regions (faultmap 0.5.0's meaning), a gap held only
    the region's prompts beyond the threshold: ``size`` counted those, and the fields added
    since (``production_count``, ``ratio``, ...) are ``None``.
    """

    name: str
    description: str
    size: int
    mean_distance: float
    representative_prompts: list[str]
    #: ``None`` when the report keeps no per-prompt lists (``metadata["row_lists_kept"]``).
    prompt_indices: list[int] | None
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
    production_count: int | None = field(default=None, metadata=OMIT_NONE)
    ratio: float | None = field(default=None, metadata=OMIT_NONE)
    ratio_interval: tuple[float, float] | None = field(default=None, metadata=OMIT_NONE)
    median_distance: float | None = field(default=None, metadata=OMIT_NONE)
    uncovered_share: float | None = field(default=None, metadata=OMIT_NONE)
    cosine_mean_distance: float | None = field(default=None, metadata=OMIT_NONE)
    #: faultmap 0.5.0's name for the gap's cluster label: ``region_id`` (filled in when not
    #: given).
    cluster_id: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cluster_id is None:
            object.__setattr__(self, "cluster_id", self.region_id)

    @classmethod
    def _from_older(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """A gap written before distances had faultmap 0.5.0's scale (it has ``p_value`` but
        no ``cosine_mean_distance``): its ``mean_distance`` was cosine. Without the report's
        per-prompt distances the Euclidean mean cannot be recovered: it reads as NaN."""
        return upgrade_distance_fields(data, None) if "p_value" in data else data


@dataclass(frozen=True)
class CoverageReport(_ReportViews):
    """Outcome of :meth:`faultmap.SliceAnalyzer.audit_coverage`.

    ``gaps`` (largest first) are the regions of at least ``min_gap_size`` production prompts
    where the test suite is significantly under-represented (:class:`CoverageGap`);
    ``regions`` is every tested region (the family the correction ran over).
    ``overall_coverage_score`` is the share of production prompts in no gap, so
    ``1 - sum(g.production_count for g in gaps) / num_production_prompts``.
    ``distance_coverage_score`` is the share of production prompts whose nearest test prompt
    lies within the threshold (faultmap 0.5.0's ``overall_coverage_score``):
    ``distance_threshold`` on faultmap 0.5.0's scale (Euclidean distance between unit
    vectors, 0 to 2), ``cosine_distance_threshold`` the same threshold as a cosine distance
    (``distance_threshold ** 2 / 2``, at most 2); ``threshold_rule`` says how it was chosen and
    ``num_uncovered`` counts the prompts beyond it. ``nearest_test_distances`` (cosine
    distances) and ``nearest_test_indices`` give, for every production prompt, the distance
    to and index of its nearest test prompt. ``metadata`` holds ``num_uncovered_total``,
    ``unclustered_prompt_indices`` (uncovered prompts in no gap), ``rejected_gaps`` (groups of
    uncovered prompts whose region is not significantly under-represented),
    ``zero_test_gap_size`` (a region with no test prompt and at least this many production
    prompts is always a gap), the production prompts in no region or in regions too small
    to test (counted as covered) and timings. A report written before gaps were regions has
    ``distance_coverage_score`` ``None`` and the distance figure in
    ``overall_coverage_score``. ``map`` places at most ``max_map_points`` production
    prompts in 2-D or 3-D: lists ``x``, ``y`` (``z``), ``index`` (production prompt),
    ``label`` (position of its gap in ``gaps``, -1 for none), ``covered`` and ``text``.
    """

    _kind = "coverage"

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
    #: ``None`` when the report keeps no per-prompt lists (``metadata["row_lists_kept"]``).
    nearest_test_distances: list[float] | None = field(default_factory=list)
    nearest_test_indices: list[int] | None = field(default_factory=list)
    map: PromptMap = field(default_factory=PromptMap)
    distance_coverage_score: float | None = field(default=None, metadata=OMIT_NONE)
    cosine_distance_threshold: float | None = field(default=None, metadata=OMIT_NONE)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cosine_distance_threshold is None and math.isfinite(self.distance_threshold):
            cosine = euclidean_to_cosine(self.distance_threshold)
            object.__setattr__(self, "cosine_distance_threshold", cosine)

    @classmethod
    def _from_older(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """A report written by faultmap before distances had faultmap 0.5.0's scale (it has
        ``threshold_rule`` but no ``cosine_distance_threshold``) stored cosine distances as
        ``distance_threshold`` and ``mean_distance``: they are read onto the Euclidean scale,
        the cosine values kept under the ``cosine_`` names. Gap means are recomputed from the
        report's per-prompt distances."""
        if "threshold_rule" not in data or "cosine_distance_threshold" in data:
            return data
        out = dict(data)
        cosine = data.get("distance_threshold")
        if isinstance(cosine, (int, float)):
            out["cosine_distance_threshold"] = cosine
            out["distance_threshold"] = cosine_to_euclidean(cosine)
        distances = data.get("nearest_test_distances") or None
        if isinstance(data.get("gaps"), list):
            out["gaps"] = [
                upgrade_distance_fields(g, distances) if isinstance(g, Mapping) else g
                for g in data["gaps"]
            ]
        meta = data.get("metadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("rejected_gaps"), list):
            out["metadata"] = {
                **meta,
                "rejected_gaps": [
                    upgrade_distance_fields(g, distances) if isinstance(g, Mapping) else g
                    for g in meta["rejected_gaps"]
                ],
            }
        return out

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per production prompt, indexed by its number in
        ``production_prompts``: ``gap`` (the name of the gap it is in, or None), ``gap_id``
        (the gap's position in ``gaps``, ``<NA>`` for none) and ``nearest_test_distance``
        (cosine distance to its nearest test prompt, NaN when not stored). Needs pandas.

        Example:
            >>> report.to_frame()["gap"].value_counts()  # doctest: +SKIP
        """
        return _frames.coverage_frame(self)

    def slices_frame(self) -> Any:
        """A pandas DataFrame with one row per gap, indexed by ``gap_id``: ``name``,
        ``size``, ``test_count``, ``expected_test_count``, ``ratio`` with ``ci_low`` /
        ``ci_high`` (the test suite's representation ratio and its exact interval),
        ``mean_distance``, ``p_value``, ``adjusted_p_value`` and ``region_id``.

        Example:
            >>> report.slices_frame()[["name", "ratio"]]  # doctest: +SKIP
        """
        return _frames.coverage_gaps_frame(self)

    def __repr__(self) -> str:
        return (
            f"CoverageReport(num_production_prompts={self.num_production_prompts}, "
            f"overall_coverage_score={self.overall_coverage_score:.3f}, "
            f"num_gaps={self.num_gaps})"
        )


# -- model comparisons ---------------------------------------------------------------------

#: McNemar test names as faultmap 0.5.0 wrote them, from the short names of
#: :func:`faultmap.significance.mcnemar_test` (and of reports written before).
_MCNEMAR_NAMES = {"exact": "mcnemar_exact", "chi2": "mcnemar_chi2"}


def mcnemar_test_name(test_used: str) -> str:
    """A McNemar ``test_used`` in faultmap 0.5.0's words: "mcnemar_exact", "mcnemar_chi2" or
    "none" (the short "exact" / "chi2" are translated, anything else kept).

    Example:
        >>> mcnemar_test_name("chi2"), mcnemar_test_name("mcnemar_exact")
        ('mcnemar_chi2', 'mcnemar_exact')
    """
    return _MCNEMAR_NAMES.get(test_used, test_used)


@dataclass(frozen=True)
class SliceComparison(_Views):
    """One tested cluster of prompts in a two-model comparison.

    ``discordant_a_wins`` counts prompts only model B failed, ``discordant_b_wins`` prompts
    only model A failed; ``concordant_pass`` prompts both passed and ``concordant_fail``
    prompts both failed. ``advantage_rate`` is A's share of the discordant pairs (0.5 when
    there are none); ``failure_rate_diff`` is ``failure_rate_a - failure_rate_b``.
    ``p_value`` is McNemar's test (``test_used``, as in faultmap 0.5.0: "mcnemar_exact" below
    25 discordant pairs, "mcnemar_chi2" with continuity correction from 25 on, "none"
    without discordant pairs), ``adjusted_p_value`` its adjustment across tested slices (the
    report's ``correction``). ``winner`` is "a" or "b" when the adjusted p-value is below the
    significance level, else "tie".

    Reports written before these names were kept hold "exact" / "chi2" in ``test_used``:
    they are read as "mcnemar_exact" / "mcnemar_chi2", and the concordant counts and
    ``failure_rate_diff`` are computed from the rates and ``size``.
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
    concordant_pass: int | None = None
    concordant_fail: int | None = None
    failure_rate_diff: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "test_used", mcnemar_test_name(self.test_used))
        if self.failure_rate_diff is None:
            diff = self.failure_rate_a - self.failure_rate_b
            object.__setattr__(self, "failure_rate_diff", diff)
        if self.concordant_pass is None or self.concordant_fail is None:
            fails_a = round(self.failure_rate_a * self.size)
            both_fail = max(fails_a - self.discordant_b_wins, 0)
            both_pass = max(self.size - fails_a - self.discordant_a_wins, 0)
            if self.concordant_pass is None:
                object.__setattr__(self, "concordant_pass", both_pass)
            if self.concordant_fail is None:
                object.__setattr__(self, "concordant_fail", both_fail)

    @property
    def significant(self) -> bool:
        return self.winner != "tie"


@dataclass(frozen=True)
class ComparisonReport(_ReportViews):
    """Outcome of :meth:`faultmap.SliceAnalyzer.compare_models`.

    Global McNemar test on every prompt (``global_*``; ``global_advantage_rate`` is A's share
    of the discordant pairs; ``global_test_used`` as a slice's ``test_used``), then one
    McNemar test per cluster of at least ``min_slice_size`` prompts, corrected across
    clusters. ``slices`` holds the significant slices (``winner`` "a" or "b") by adjusted
    p-value, as in faultmap 0.5.0 (``num_significant`` = ``num_significant_slices`` =
    ``len(slices)``); ``tested_slices`` holds every tested cluster, the significant ones
    first, then the ties by size (``num_clusters_tested`` = ``len(tested_slices)``). A report
    written before ``tested_slices`` existed held every tested cluster in ``slices``: it is
    read into ``tested_slices``, and ``slices`` keeps its significant ones.
    ``winner`` values name models by letter; ``model_a_name`` and
    ``model_b_name`` say which model is which. ``map`` places at most ``max_map_points``
    prompts in 2-D or 3-D: lists ``x``, ``y`` (``z``), ``index`` (input row), ``label``
    (cluster), ``outcome`` ("both", "neither", "a" or "b": which model passed) and ``text``.
    """

    _kind = "comparison"

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
    #: Every tested cluster, significant first, then the ties (see above).
    tested_slices: list[SliceComparison] = field(default_factory=list)
    #: faultmap 0.5.0's names: ``len(tested_slices)`` and ``len(slices)`` (filled in when
    #: not given).
    num_clusters_tested: int | None = None
    num_significant: int | None = None
    #: The scores of every input row under model A and model B (NaN, ``null`` in JSON, for
    #: rows left out); ``None`` in reports written before faultmap stored them.
    row_scores_a: list[float] | None = field(default=None, metadata=OMIT_NONE)
    row_scores_b: list[float] | None = field(default=None, metadata=OMIT_NONE)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "global_test_used", mcnemar_test_name(self.global_test_used))
        if not self.tested_slices and self.slices:  # written when slices held every cluster
            object.__setattr__(self, "tested_slices", list(self.slices))
            object.__setattr__(self, "slices", [s for s in self.slices if s.significant])
        if self.num_clusters_tested is None:
            object.__setattr__(self, "num_clusters_tested", len(self.tested_slices))
        if self.num_significant is None:
            object.__setattr__(self, "num_significant", len(self.slices))

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per input row, indexed by input row number:
        ``slice`` (the name of the tested slice the row is in, ties included, or None),
        ``slice_id`` (its position in ``tested_slices``), ``failed_a`` / ``failed_b``
        (nullable bool) and ``score_a`` / ``score_b``. Rows left out, and the outcome columns
        of a report written before faultmap stored per-row scores, are empty. Needs pandas.

        Example:
            >>> frame = report.to_frame()  # doctest: +SKIP
            >>> frame[frame.failed_a & ~frame.failed_b]  # doctest: +SKIP
        """
        return _frames.comparison_frame(self)

    def slices_frame(self) -> Any:
        """A pandas DataFrame with one row per tested slice (ties included), indexed by
        ``slice_id``: ``name``, ``size``, ``winner``, ``num_failures_a`` / ``_b``,
        ``failure_rate_a`` / ``_b``, ``failure_rate_diff``, ``advantage_rate``, the
        discordant counts, ``p_value``, ``adjusted_p_value`` and ``cluster_id``.

        Example:
            >>> report.slices_frame().query("winner != 'tie'")  # doctest: +SKIP
        """
        return _frames.comparison_slices_frame(self)

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


# -- diffs of two analyses ------------------------------------------------------------------


class _DiffViews(_Views):
    """A diff of two reports: the plain text of :class:`_Views`, the HTML Jupyter shows and a
    self-contained HTML page (all from the sentences of :mod:`faultmap.reports.text`)."""

    def _repr_html_(self) -> str:
        return redact(find(self, "html_compact")(self))

    def to_html(self, path: str | Path | None = None) -> str:
        """Return the diff as one self-contained HTML page (its table of matches with their
        evidence) and write it to ``path`` if given.

        Example:
            >>> diff.to_html("diff.html")  # doctest: +SKIP
        """
        return find(self, "html_page")(self, path)


@dataclass(frozen=True)
class SliceRef(Record):
    """One slice or failure mode of one report, as a diff shows it: ``kind`` is ``"slice"``
    or ``"mode"``, ``position`` its index in ``slices`` or in ``failure_modes``."""

    position: int
    name: str
    size: int
    failure_rate: float
    adjusted_p_value: float
    kind: str = "slice"

    @classmethod
    def of(cls, position: int, s: FailureSlice | FailureMode) -> SliceRef:
        kind = "mode" if isinstance(s, FailureMode) else "slice"
        return cls(position, s.name, s.size, s.failure_rate, s.adjusted_p_value, kind)


@dataclass(frozen=True)
class SliceMatch(Record):
    """An OLD slice and a NEW slice (or two failure modes) that are the same failure: a
    persisting one, with the evidence (see :mod:`faultmap.reports.diff` for the rule).

    ``shared_prompts`` counts the prompts both hold and ``overlap`` is their overlap
    coefficient among the prompts both runs analysed (``None`` when no prompt of either was
    analysed by the other run). ``similarity`` is the cosine similarity of the two centroids
    and ``similarity_needed`` what it had to reach (the lower of the two centroids'
    ``median_similarity``); both ``None`` when the reports could not be compared by meaning.
    ``matched_by`` says which rule matched them: ``"prompts"``, ``"meaning"`` or ``"both"``.
    Among the persisting *slices*, one side may be a failure mode (its ``kind`` says so): a
    slice of one run that matches no slice of the other but lies in one of its failure modes.
    """

    old: SliceRef
    new: SliceRef
    shared_prompts: int
    overlap: float | None
    similarity: float | None = None
    similarity_needed: float | None = None
    matched_by: str = "prompts"


@dataclass(frozen=True)
class SliceDiff(_DiffViews):
    """Outcome of :func:`faultmap.reports.diff.diff_reports`: ``new``, ``resolved``,
    ``persisting`` and ``not_retested`` slices, and the same four lists of failure modes
    (``new_modes`` etc.; empty when ``modes_compared`` is false because a report has no
    failure modes); see :mod:`faultmap.reports.diff` for the rule.

    ``meaning_compared`` is true when findings were also matched by their centroids (both
    reports were embedded by the model ``embedding_fingerprint`` names and store centroids);
    otherwise they were matched by shared prompts only and ``notes`` say why. ``matched_by``
    says how prompts were compared: ``"prompt_digests"`` or ``"sample_indices"`` (old
    reports); ``shared_prompts`` counts the distinct prompts both runs analysed (``None`` when
    a report does not list its prompts). ``notes`` explain anything that weakens the
    comparison.
    """

    new: list[SliceRef]
    resolved: list[SliceRef]
    persisting: list[SliceMatch]
    not_retested: list[SliceRef]
    matched_by: str
    min_overlap: float
    min_shared: int
    old_total_prompts: int
    new_total_prompts: int
    shared_prompts: int | None = None
    notes: list[str] = field(default_factory=list)
    new_modes: list[SliceRef] = field(default_factory=list)
    resolved_modes: list[SliceRef] = field(default_factory=list)
    persisting_modes: list[SliceMatch] = field(default_factory=list)
    not_retested_modes: list[SliceRef] = field(default_factory=list)
    modes_compared: bool = False
    meaning_compared: bool = False
    embedding_fingerprint: str | None = None

    @property
    def has_new_slices(self) -> bool:
        """True when NEW has a new slice: one that matches no slice (nor failure mode) of OLD
        (what CI gates on)."""
        return bool(self.new)

    @property
    def has_new_modes(self) -> bool:
        """True when NEW has a failure mode that matches no failure mode of OLD."""
        return bool(self.new_modes)

    def __repr__(self) -> str:
        modes = f", new_modes={len(self.new_modes)}" if self.modes_compared else ""
        return (
            f"SliceDiff(new={len(self.new)}, resolved={len(self.resolved)}, "
            f"persisting={len(self.persisting)}, not_retested={len(self.not_retested)}{modes})"
        )
