"""The sentences every view of a report is built from (plain text, rich, HTML, plotly), and
the plain-text view itself (``str(report)``).

Views import the result models, never the other way: the text functions register
themselves as the ``"text"`` view of their result classes (:mod:`faultmap.reports._registry`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from faultmap._text import clip
from faultmap.reports._registry import register
from faultmap.reports.models import (
    AnalysisReport,
    ComparisonReport,
    CoverageGap,
    CoverageReport,
    FailureSlice,
    SliceComparison,
)
from faultmap.significance.tests import wilson_interval

__all__ = [
    "analysis_text",
    "comparison_headline",
    "comparison_slice_facts",
    "comparison_slice_text",
    "comparison_text",
    "coverage_headline",
    "coverage_text",
    "gap_facts",
    "gap_text",
    "headline",
    "hybrid_cell_lines",
    "hybrid_headline",
    "hybrid_values_fact",
    "map_caption",
    "map_legend",
    "naming_facts",
    "rate_interval",
    "slice_facts",
    "slice_text",
    "summary_table",
]


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pval(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def headline(report: AnalysisReport) -> list[str]:
    """Summary sentences of an analysis, most important first."""
    r = report
    lines = [
        f"{r.total_prompts} prompts, {r.total_failures} failures: baseline failure rate "
        f"{pct(r.baseline_failure_rate)} (score < {r.failure_threshold:g}).",
    ]
    if r.total_failures == 0:
        lines.append("No prompt failed, so there is no failure slice to find.")
    elif r.total_failures == r.total_prompts:
        lines.append("Every prompt failed, so no slice can fail more than the rest.")
    else:
        tested = len(r.clusters)
        lines.append(
            f"{r.num_clusters} clusters ({r.clustering_method}); {tested} with at least "
            f"{r.min_slice_size} prompts were tested; {r.num_unclustered} prompts fell in no "
            f"cluster and {r.num_untested} in clusters too small to test (all stay in the "
            "baseline)."
        )
        if r.num_significant:
            lines.append(
                f"{r.num_significant} slice(s) fail significantly more often than the rest "
                f"(Benjamini–Hochberg FDR {r.significance_level:g})."
            )
        else:
            lines.append(
                f"No slice fails significantly more often than the rest at FDR "
                f"{r.significance_level:g}."
            )
    return lines + hybrid_headline(report)


def slice_facts(s: FailureSlice) -> list[str]:
    """The numbered facts of one slice, as short sentences."""
    low, high = s.confidence_interval
    facts = [
        f"{s.size} prompts, {s.num_failures} failures: failure rate {pct(s.failure_rate)} "
        f"(95% CI {pct(low)}–{pct(high)}), {s.effect_size:.1f}x the baseline "
        f"{pct(s.baseline_rate)}.",
        f"p = {pval(s.p_value)} ({s.test_used}, one-sided, against the other prompts' "
        f"{pct(s.rest_failure_rate)}); adjusted p = {pval(s.adjusted_p_value)}.",
    ]
    extra = [hybrid_values_fact(s.over_represented_values)] if s.over_represented_values else []
    return facts + naming_facts(s, "Root cause: ", "Suggested fix: ", extra)


def naming_facts(
    item: FailureSlice | CoverageGap | SliceComparison,
    cause: str,
    fix: str,
    extra: Sequence[str] = (),
) -> list[str]:
    """The naming stage's facts of a slice or gap: distinctive words, ``extra`` facts, then
    the LLM's root cause and fix (labelled ``cause`` / ``fix``) and any naming failure."""
    facts = []
    if item.keywords:
        facts.append("Distinctive words: " + ", ".join(item.keywords[:8]) + ".")
    facts += extra
    if item.root_cause:
        facts.append(cause + item.root_cause)
    if item.suggested_remediation:
        facts.append(fix + item.suggested_remediation)
    if item.naming_error:
        facts.append("Named from keywords because the LLM failed: " + item.naming_error)
    return facts


@register("text", FailureSlice)
def slice_text(s: FailureSlice, number: int | None = None) -> str:
    title = f"{number}. {s.name}" if number is not None else s.name
    lines = [title, "   " + s.description]
    lines += ["   - " + fact for fact in slice_facts(s)]
    failing = [e for e in s.examples if e.get("failed")]
    if failing:
        lines.append("   Failing examples:")
        lines += [f'     [{e["index"]}] "{clip(e["prompt"])}"' for e in failing[:3]]
    return "\n".join(lines)


@register("text", AnalysisReport)
def analysis_text(report: AnalysisReport) -> str:
    lines = ["faultmap analysis", "=================", *headline(report)]
    for i, s in enumerate(report.slices, 1):
        lines += ["", slice_text(s, i)]
    cells = hybrid_cell_lines(report)
    if cells:
        lines += ["", "Slice x metadata cells that fail more than both their cluster and value:"]
        lines += cells
    return "\n".join(lines)


# -- metadata in the slices (faultmap.cohorts.hybrid_slices) ------------------------------


def hybrid_headline(report: AnalysisReport) -> list[str]:
    """One sentence on the metadata analysis of a report (none when there was none)."""
    summary = report.metadata.get("metadata_analysis")
    if not summary:
        return []
    columns = ", ".join(summary.get("columns", []))
    if "note" in summary:
        return [f"Metadata ({columns}) not analysed: {summary['note']}."]
    return [
        f"Metadata ({columns}): {summary['num_over_represented']} value(s) over-represented in "
        f"the slices; {len(report.hybrid_cells)} of {summary['hybrid_cells_tested']} tested "
        f"(cluster x value) cells fail significantly more than both their cluster and their "
        f"value alone (both BH-adjusted p < {summary['significance_level']:g})."
    ]


def hybrid_values_fact(values: Sequence[Mapping[str, Any]]) -> str:
    """The metadata values over-represented in a slice, as one sentence."""
    parts = [
        f"{v['column']} = {v['value']} ({pct(v['slice_share'])} here vs "
        f"{pct(v['rest_share'])} elsewhere, adjusted p = {pval(v['adjusted_p_value'])})"
        for v in values[:3]
    ]
    more = f"; and {len(values) - 3} more" if len(values) > 3 else ""
    return "Over-represented metadata: " + "; ".join(parts) + more + "."


def hybrid_cell_lines(report: AnalysisReport, limit: int = 10) -> list[str]:
    """One numbered line per hybrid (cluster x metadata value) cell, at most ``limit``."""
    cells = report.hybrid_cells
    lines = []
    for i, c in enumerate(cells[:limit], 1):
        if c.get("slice_name"):
            where = f"slice {c['slice_name']!r}"
        else:
            where = f"cluster {c['cluster_id']}"
            if c.get("keywords"):
                where += " (" + ", ".join(c["keywords"][:4]) + ")"
        lines.append(
            f"  {i}. {c['column']} = {c['value']} in {where}: {c['size']} prompts fail "
            f"{pct(c['failure_rate'])}, against {pct(c['cluster_rest_failure_rate'])} in the rest "
            f"of the cluster and {pct(c['value_rest_failure_rate'])} for this value elsewhere; "
            f"adjusted p = {pval(c['adjusted_p_value_vs_cluster'])} and "
            f"{pval(c['adjusted_p_value_vs_value'])}."
        )
    if len(cells) > limit:
        lines.append(f"  and {len(cells) - limit} more.")
    explained = report.metadata.get("metadata_analysis", {}).get("explained_cells", [])
    if lines and explained:
        lines.append(
            f"  ({len(explained)} more cell(s) failed only through rows of a stronger cell "
            "above; see metadata['metadata_analysis']['explained_cells'].)"
        )
    return lines


# -- coverage audits -----------------------------------------------------------------------


def coverage_headline(report: CoverageReport) -> list[str]:
    """Summary sentences of a coverage audit, most important first."""
    r = report
    uncovered = r.metadata.get("num_uncovered_total", r.num_uncovered)
    lines = [
        f"{r.num_production_prompts} production prompts against {r.num_test_prompts} test "
        f"prompts: {pct(r.overall_coverage_score)} covered (a test prompt within cosine "
        f"distance {r.distance_threshold:.3f}).",
        f"Threshold: {r.threshold_rule}.",
    ]
    if uncovered == 0:
        lines.append("Every production prompt has a test prompt within the threshold: no gap.")
        return lines
    rejected = len(r.metadata.get("rejected_gaps", []))
    unclustered = len(r.metadata.get("unclustered_prompt_indices", []))
    if r.num_gaps:
        lines.append(
            f"{uncovered} production prompts are uncovered; {r.num_gaps} gap(s) of at least "
            f"{r.min_gap_size} of them lie where the test suite is significantly "
            f"under-represented (Benjamini–Hochberg FDR {r.significance_level:g})."
        )
    else:
        lines.append(
            f"{uncovered} production prompts are uncovered, but no group of at least "
            f"{r.min_gap_size} of them lies where the test suite is significantly "
            f"under-represented (FDR {r.significance_level:g}): no gap."
        )
    if unclustered:
        extra = f"{unclustered} uncovered prompts belong to no gap"
        if rejected:
            extra += f" ({rejected} group(s) of them lie where the tests are not scarce)"
        lines.append(extra + ".")
    return lines


def gap_facts(g: CoverageGap) -> list[str]:
    """The numbered facts of one coverage gap, as short sentences."""
    facts = [
        f"{g.size} production prompts; cosine distance to the nearest test prompt "
        f"{g.mean_distance:.3f} on average, {g.max_distance:.3f} at most.",
        f"Its region holds {g.test_count} test and {g.region_production_count} production "
        f"prompts ({g.expected_test_count:.1f} test prompts expected if the tests followed "
        f"production): p = {pval(g.p_value)} (Fisher, one-sided), adjusted p = "
        f"{pval(g.adjusted_p_value)}.",
    ]
    return facts + naming_facts(g, "What the tests miss: ", "Tests to add: ")


@register("text", CoverageGap)
def gap_text(g: CoverageGap, number: int | None = None) -> str:
    title = f"{number}. {g.name}" if number is not None else g.name
    lines = [title, "   " + g.description]
    lines += ["   - " + fact for fact in gap_facts(g)]
    if g.representative_prompts:
        lines.append("   Typical prompts:")
        lines += [f'     "{clip(p)}"' for p in g.representative_prompts[:3]]
    return "\n".join(lines)


@register("text", CoverageReport)
def coverage_text(report: CoverageReport) -> str:
    lines = ["faultmap coverage audit", "=======================", *coverage_headline(report)]
    for i, g in enumerate(report.gaps, 1):
        lines += ["", gap_text(g, i)]
    return "\n".join(lines)


# -- model comparisons ---------------------------------------------------------------------


def _verdict(winner: str, a: str, b: str) -> str:
    if winner == "a":
        return f"{a} is significantly better"
    if winner == "b":
        return f"{b} is significantly better"
    return "no significant difference (tie)"


def comparison_headline(report: ComparisonReport) -> list[str]:
    """Summary sentences of a two-model comparison, most important first."""
    r = report
    a, b = r.model_a_name, r.model_b_name
    tested = len(r.slices)
    lines = [
        f"{r.total_prompts} prompts: {a} fails {pct(r.failure_rate_a)}, {b} fails "
        f"{pct(r.failure_rate_b)} (score < {r.failure_threshold:g}).",
        f"Only {b} failed on {r.discordant_a_wins} prompts and only {a} on "
        f"{r.discordant_b_wins}; McNemar ({r.global_test_used}) p = {pval(r.global_p_value)}: "
        f"overall, {_verdict(r.global_winner, a, b)} at level {r.significance_level:g}.",
        f"{r.num_clusters} clusters ({r.clustering_method}); {tested} with at least "
        f"{r.min_slice_size} prompts were tested; {r.num_unclustered} prompts fell in no "
        f"cluster and {r.num_untested} in clusters too small to test.",
    ]
    if r.num_significant_slices:
        lines.append(
            f"{r.num_significant_slices} slice(s) differ significantly (Benjamini–Hochberg FDR "
            f"{r.significance_level:g}); the other tested slices are ties."
        )
    elif tested:
        lines.append(
            f"No slice differs significantly at FDR {r.significance_level:g}: every tested "
            "slice is a tie."
        )
    return lines


def comparison_slice_facts(s: SliceComparison, a: str = "A", b: str = "B") -> list[str]:
    """The numbered facts of one comparison slice, as short sentences."""
    facts = [
        f"{s.size} prompts: {a} fails {pct(s.failure_rate_a)}, {b} fails "
        f"{pct(s.failure_rate_b)}; {_verdict(s.winner, a, b)}.",
        f"Only {b} failed on {s.discordant_a_wins} and only {a} on {s.discordant_b_wins} "
        f"({a}'s share of these {pct(s.advantage_rate)}); McNemar ({s.test_used}) "
        f"p = {pval(s.p_value)}, adjusted p = {pval(s.adjusted_p_value)}.",
    ]
    return facts + naming_facts(s, "Why: ", "Suggested step: ")


@register("text", SliceComparison)
def comparison_slice_text(
    s: SliceComparison, number: int | None = None, a: str = "A", b: str = "B"
) -> str:
    title = f"{number}. {s.name}" if number is not None else s.name
    lines = [title, "   " + s.description]
    lines += ["   - " + fact for fact in comparison_slice_facts(s, a, b)]
    return "\n".join(lines)


@register("text", ComparisonReport)
def comparison_text(report: ComparisonReport) -> str:
    a, b = report.model_a_name, report.model_b_name
    lines = ["faultmap model comparison", "=========================", *comparison_headline(report)]
    significant = [s for s in report.slices if s.significant]
    for i, s in enumerate(significant, 1):
        lines += ["", comparison_slice_text(s, i, a, b)]
    ties = [s for s in report.slices if not s.significant]
    if ties:
        lines += ["", "Ties: " + "; ".join(f"{s.name} ({s.size})" for s in ties[:20])]
        if len(ties) > 20:
            lines[-1] += f"; and {len(ties) - 20} more"
    return "\n".join(lines)


# -- the map of the prompts ----------------------------------------------------------------


def map_caption(m: Mapping[str, Any]) -> str:
    """One sentence on how a report's map was made (``report.map``)."""
    how = {"pca": "PCA", "umap": "UMAP"}.get(m.get("projection", ""), str(m.get("projection")))
    shown, total = len(m.get("x", [])), int(m.get("total_points", 0))
    which = (
        f"all {total:,} prompts"
        if shown >= total
        else f"{shown:,} of {total:,} prompts (a sample that keeps every group)"
    )
    return f"{how} of the prompt embeddings to {m.get('dims', 2)} dimensions; {which}."


def map_legend(report: AnalysisReport | CoverageReport | ComparisonReport) -> dict[str, list]:
    """Legend and hover words of ``report.map``: the group and status of every mapped prompt.

    Returns ``group`` (per point, an index into ``groups``), ``groups`` (legend entries: the
    numbered slices or gaps first, as in the text view, then the prompts in none),
    ``highlighted`` (per group, True for a slice or gap) and ``status`` (per point, an index
    into ``statuses``, e.g. "failed").
    """
    m = report.map
    labels = m.get("label", [])
    items = report.gaps if isinstance(report, CoverageReport) else report.slices
    names = [f"{k}. {item.name}" for k, item in enumerate(items, 1)]
    if isinstance(report, CoverageReport):
        by_label = {k: k for k in range(len(items))}
        rest = ["uncovered, in no gap", "covered by a test prompt"]
        group = [
            by_label.get(lab, len(items) + int(cov))
            for lab, cov in zip(labels, m.get("covered", []), strict=True)
        ]
        statuses = ["uncovered (no test prompt within the threshold)", "covered"]
        status = [int(c) for c in m.get("covered", [])]
    else:
        by_label = {item.cluster_id: k for k, item in enumerate(items)}
        rest = ["in a cluster that is not a slice", "in no cluster"]
        group = [by_label.get(lab, len(items) + int(lab < 0)) for lab in labels]
        if isinstance(report, ComparisonReport):
            a, b = report.model_a_name, report.model_b_name
            names = [f"{n}: {_verdict(s.winner, a, b)}" for n, s in zip(names, items, strict=True)]
            rest[0] = "in a cluster too small to test"
            codes = ["both", "a", "b", "neither"]
            statuses = ["both passed", f"only {a} passed", f"only {b} passed", "both failed"]
            status = [codes.index(o) for o in m.get("outcome", [])]
        else:
            statuses = ["passed", "failed"]
            status = [int(f) for f in m.get("failed", [])]
    return {
        "group": group,
        "groups": names + rest,
        "highlighted": [True] * len(names) + [False] * len(rest),
        "status": status,
        "statuses": statuses,
    }


# -- the table of slices (or gaps) the graphic views show ----------------------------------


class Cell(NamedTuple):
    """One cell of :func:`summary_table`: what it shows, its sort key and, for a rate, the
    ``(rate, low, high, baseline)`` a graphic view draws (``baseline`` may be None)."""

    text: str
    key: float | str
    interval: tuple[float, float, float, float | None] | None = None


def rate_interval(rate: float, size: int) -> tuple[float, float]:
    """The 95 % Wilson interval of a failure rate observed on ``size`` prompts.

    Example:
        >>> tuple(round(x, 4) for x in rate_interval(0.8, 10))
        (0.4902, 0.9433)
    """
    return wilson_interval(min(max(round(rate * size), 0), size), size)


def summary_table(
    report: AnalysisReport | CoverageReport | ComparisonReport,
) -> tuple[list[tuple[str, str]], list[list[Cell]]]:
    """Columns ``(label, kind)`` and rows of the table of slices (gaps for a coverage audit)
    that the HTML and rich views show. ``kind`` is "number", "text", "name" (the slice name)
    or "rate" (a failure rate with its 95 % interval)."""
    rows: list[list[Cell]] = []
    if isinstance(report, AnalysisReport):
        columns = [("#", "number"), ("slice", "name"), ("size", "number")]
        columns += [("failures", "number"), ("failure rate (95% CI)", "rate")]
        columns += [("x baseline", "number"), ("adjusted p", "number")]
        for k, s in enumerate(report.slices, 1):
            low, high = s.confidence_interval
            rows.append(
                [
                    Cell(str(k), k),
                    Cell(s.name, s.name.lower()),
                    Cell(f"{s.size:,}", s.size),
                    Cell(f"{s.num_failures:,}", s.num_failures),
                    Cell(
                        f"{pct(s.failure_rate)} ({pct(low)}–{pct(high)})",
                        s.failure_rate,
                        (s.failure_rate, low, high, s.baseline_rate),
                    ),
                    Cell(f"{s.effect_size:.1f}x", s.effect_size),
                    Cell(pval(s.adjusted_p_value), s.adjusted_p_value),
                ]
            )
    elif isinstance(report, CoverageReport):
        columns = [("#", "number"), ("gap", "name"), ("size", "number")]
        columns += [("mean distance", "number"), ("test prompts in region (expected)", "number")]
        columns += [("production prompts in region", "number"), ("adjusted p", "number")]
        for k, g in enumerate(report.gaps, 1):
            rows.append(
                [
                    Cell(str(k), k),
                    Cell(g.name, g.name.lower()),
                    Cell(f"{g.size:,}", g.size),
                    Cell(f"{g.mean_distance:.3f}", g.mean_distance),
                    Cell(f"{g.test_count:,} ({g.expected_test_count:.1f})", g.test_count),
                    Cell(f"{g.region_production_count:,}", g.region_production_count),
                    Cell(pval(g.adjusted_p_value), g.adjusted_p_value),
                ]
            )
    else:
        a, b = report.model_a_name, report.model_b_name
        columns = [("#", "number"), ("slice", "name"), ("size", "number"), ("winner", "text")]
        columns += [(f"{a} fails (95% CI)", "rate"), (f"{b} fails (95% CI)", "rate")]
        columns += [(f"{a}'s share of discordant pairs", "number"), ("adjusted p", "number")]
        for k, s in enumerate(report.slices, 1):
            winner = report.winner_name(s.winner)
            row = [Cell(str(k), k), Cell(s.name, s.name.lower()), Cell(f"{s.size:,}", s.size)]
            row.append(Cell(winner, winner.lower()))
            for rate in (s.failure_rate_a, s.failure_rate_b):
                low, high = rate_interval(rate, s.size)
                row.append(
                    Cell(f"{pct(rate)} ({pct(low)}–{pct(high)})", rate, (rate, low, high, None))
                )
            row.append(Cell(pct(s.advantage_rate), s.advantage_rate))
            row.append(Cell(pval(s.adjusted_p_value), s.adjusted_p_value))
            rows.append(row)
    return columns, rows
