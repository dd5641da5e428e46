"""Result dataclasses. Every number in a report can be recomputed from ``to_dict()``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["AnalysisReport", "ClusterTest", "FailureSlice"]


def _clean(value: Any) -> Any:
    """JSON-safe copy: tuples -> lists, numpy scalars -> Python, non-finite floats -> None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(data: dict[str, Any], path: str | Path | None, indent: int | None) -> str:
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    if path is not None:
        Path(path).write_text(text + "\n", encoding="utf-8")
    return text


@dataclass(frozen=True)
class ClusterTest:
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
class FailureSlice:
    """A group of similar prompts that fails significantly more often than the rest.

    Fields up to ``representative_prompts`` match faultmap 0.5.0. ``effect_size`` is the
    failure rate over the overall baseline rate (4.2 = "4.2x baseline"); ``risk_difference``
    is ``failure_rate - baseline_rate``; ``confidence_interval`` is the Wilson interval of
    ``failure_rate``. ``p_value`` tests this slice against the *rest* of the data.
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
    examples: list[dict[str, Any]] = field(default_factory=list)
    representative_prompts: list[str] = field(default_factory=list)
    cluster_id: int = -1
    num_failures: int = 0
    rest_failure_rate: float = 0.0
    risk_difference: float = 0.0
    confidence_interval: tuple[float, float] = (0.0, 1.0)
    keywords: list[str] = field(default_factory=list)
    naming_source: str = "keywords"
    naming_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailureSlice:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "confidence_interval" in kwargs:
            kwargs["confidence_interval"] = tuple(kwargs["confidence_interval"])
        return cls(**kwargs)

    def __str__(self) -> str:
        from faultmap.reports.text import slice_text

        return slice_text(self)


@dataclass(frozen=True)
class AnalysisReport:
    """Outcome of :meth:`faultmap.SliceAnalyzer.analyze`.

    ``slices`` holds the significant slices, most significant first. ``clusters`` holds every
    tested cluster (the Benjamini–Hochberg family), so the correction can be redone from
    ``to_dict()``. ``num_unclustered`` prompts fell in no cluster (HDBSCAN noise) and
    ``num_untested`` sat in clusters smaller than ``min_slice_size``; both are counted in the
    baseline and never dropped.
    """

    total_prompts: int
    total_failures: int
    baseline_failure_rate: float
    num_significant: int
    slices: list[FailureSlice]
    clustering_method: str
    embedding_model: str
    metadata: dict[str, Any] = field(default_factory=dict)
    scoring_mode: str = "precomputed"
    significance_level: float = 0.05
    failure_threshold: float = 0.5
    min_slice_size: int = 10
    num_clusters: int = 0
    num_unclustered: int = 0
    num_untested: int = 0
    clusters: list[ClusterTest] = field(default_factory=list)
    cluster_labels: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON-types dict of every field (``from_dict`` rebuilds the report)."""
        return _clean(asdict(self))

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Return the report as JSON, and write it to ``path`` when given.

        Example:
            >>> report.to_json("report.json")  # doctest: +SKIP
        """
        return _write_json(self.to_dict(), path, indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisReport:
        """Rebuild a report from :meth:`to_dict` output (plain JSON, no pickle)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["slices"] = [FailureSlice.from_dict(s) for s in data.get("slices", [])]
        kwargs["clusters"] = [ClusterTest(**c) for c in data.get("clusters", [])]
        return cls(**kwargs)

    @classmethod
    def from_json(cls, source: str | Path) -> AnalysisReport:
        """Rebuild a report from a JSON string or a path to a JSON file."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def __str__(self) -> str:
        from faultmap.reports.text import analysis_text

        return analysis_text(self)

    def __repr__(self) -> str:
        return (
            f"AnalysisReport(total_prompts={self.total_prompts}, "
            f"baseline_failure_rate={self.baseline_failure_rate:.3f}, "
            f"num_significant={self.num_significant})"
        )

    def _repr_html_(self) -> str:
        from faultmap.reports.html import analysis_html

        return analysis_html(self)
