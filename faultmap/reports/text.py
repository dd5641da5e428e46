"""The sentences every view of a report is built from (plain text, rich, HTML, plotly), and
the plain-text view itself (``str(report)``).

Views import the result models, never the other way: the text functions register
themselves as the ``"text"`` view of their result classes (:mod:`faultmap.reports._registry`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from faultmap._text import clip
from faultmap.reports._registry import register
from faultmap.reports.models import (
    AnalysisReport,
    ComparisonReport,
    CoverageGap,
    CoverageReport,
    FailureMode,
    FailureSlice,
    SliceComparison,
    SliceDiff,
    SliceMatch,
    SliceRef,
)
from faultmap.significance.tests import wilson_interval

__all__ = [
    "CORRECTIONS",
    "NAME_CHECK_FLAG",
    "analysis_text",
    "check_lines",
    "comparison_headline",
    "comparison_slice_facts",
    "comparison_slice_text",
    "comparison_text",
    "correction_name",
    "coverage_headline",
    "coverage_text",
    "diff_headline",
    "diff_rule",
    "diff_table",
    "diff_text",
    "discordant_text",
    "evidence_facts",
    "evidence_line",
    "gap_facts",
    "gap_text",
    "headline",
    "hybrid_cell_lines",
    "hybrid_headline",
    "hybrid_values_fact",
    "list_items",
    "map_caption",
    "map_legend",
    "map_marks",
    "match_evidence",
    "mode_facts",
    "mode_headline",
    "mode_members",
    "mode_text",
    "modes_headline",
    "modes_table",
    "naming_facts",
    "next_steps",
    "next_steps_block",
    "null_audit_line",
    "power_line",
    "rate_interval",
    "ratio_text",
    "significance_rule",
    "slice_facts",
    "slice_modes",
    "slice_text",
    "summary",
    "summary_table",
    "winner_text",
]


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pval(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


#: The multiple-testing corrections a report may state (``report.correction``), by name.
CORRECTIONS = {"bh": "Benjamini–Hochberg", "by": "Benjamini–Yekutieli", "holm": "Holm"}

#: A name check (AUC) below this reads as a warning, unless the report's
#: ``metadata["name_check"]["flag_below"]`` says otherwise.
NAME_CHECK_FLAG = 0.6


def correction_name(code: str) -> str:
    """The name of a correction code ("bh" -> "Benjamini–Hochberg"); an unknown code as is.

    Example:
        >>> correction_name("by")
        'Benjamini–Yekutieli'
    """
    return CORRECTIONS.get(code, code)


def significance_rule(report: AnalysisReport | CoverageReport | ComparisonReport) -> str:
    """The rule a report's findings passed: its correction and level, e.g.
    "Benjamini–Hochberg FDR 0.05" or "Holm, family-wise error rate 0.05"."""
    correction = getattr(report, "correction", "bh")
    name = correction_name(correction)
    if correction == "holm":
        return f"{name}, family-wise error rate {report.significance_level:g}"
    return f"{name} FDR {report.significance_level:g}"


def _level(report: AnalysisReport | CoverageReport | ComparisonReport) -> str:
    """The level alone ("FDR 0.05") for the default correction, else the whole rule."""
    if getattr(report, "correction", "bh") == "bh":
        return f"FDR {report.significance_level:g}"
    return significance_rule(report)


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


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
        if r.failure_modes:
            lines.append(modes_headline(r))
        if r.num_significant:
            lines.append(
                f"{r.num_significant} slice(s) fail significantly more often than the rest "
                f"({significance_rule(r)})."
            )
        else:
            lines.append(f"No slice fails significantly more often than the rest at {_level(r)}.")
    return lines + hybrid_headline(report)


# -- failure modes and the evidence behind a finding ----------------------------------------


def modes_headline(report: AnalysisReport) -> str:
    """One sentence on the failure modes of a report: how many, and how they were chosen."""
    r = report
    nodes = len(r.mode_nodes)
    family = f" across the {nodes} tested nodes of the cluster tree" if nodes else ""
    settings = r.metadata.get("modes") or {}
    merge, threshold = settings.get("merge_level"), settings.get("merge_threshold")
    rule = ""
    if isinstance(threshold, int | float):
        rule = f"; neighbours merge unless a two-sided test of equal rates has p ≤ {threshold:.2g}"
        if isinstance(merge, int | float) and merge != threshold:
            rule += f" ({merge:g}, Bonferroni-corrected)"
    elif isinstance(merge, int | float):
        rule = f"; neighbours merge unless a two-sided test of equal rates has p ≤ {merge:g}"
    return (
        f"{_count(r.num_failure_modes, 'failure mode')}: neighbouring clusters that fail at "
        "rates not significantly different, merged and tested as one problem against the rest "
        f"({significance_rule(r)}{family}{rule})."
    )


def slice_modes(report: AnalysisReport) -> dict[int, int]:
    """Position in ``report.slices`` -> number (from 1) of the failure mode holding it."""
    out: dict[int, int] = {}
    for k, m in enumerate(report.failure_modes, 1):
        for i in m.slices:
            out.setdefault(i, k)
    return out


def mode_headline(m: FailureMode) -> str:
    """The headline of a failure mode: how often it fails, against the baseline, and its
    adjusted p-value and interval."""
    low, high = m.confidence_interval
    return (
        f"Fails {pct(m.failure_rate)} of the time ({m.effect_size:.1f}x baseline, adjusted "
        f"p = {pval(m.adjusted_p_value)}); 95% CI {pct(low)}–{pct(high)}."
    )


def mode_members(m: FailureMode, report: AnalysisReport | None = None) -> str | None:
    """Which slices (by number and name, when ``report`` is given) and how many clusters a
    failure mode takes in, as one sentence; None when it lists neither."""
    slices = report.slices if report is not None else []
    names = [
        f"{i + 1}. {clip(slices[i].name, 60)}" if 0 <= i < len(slices) else f"slice {i + 1}"
        for i in m.slices
    ]
    clusters = set(m.cluster_ids)
    alone = len(clusters - {slices[i].cluster_id for i in m.slices if 0 <= i < len(slices)})
    parts = []
    if names:
        parts.append(f"{_count(len(names), 'slice')}: {', '.join(names)}")
    if clusters:
        took = f"takes in {_count(len(clusters), 'cluster')}"
        if not names:
            took = f"no slice on its own; {took}, none significant alone"
        elif report is not None and alone:
            took += f" ({alone} not significant alone)"
        parts.append(took)
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def evidence_line(item: FailureSlice | FailureMode, runs: int | None = None) -> str | None:
    """The evidence computed for a slice or mode, on one line (only the parts that were
    computed; None when none was): stability over ``runs`` reruns, the held-out p-value and
    the name check."""
    parts = []
    if item.stability is not None:
        parts.append(f"stability {item.stability:.2g}" + (f" (of {runs} reruns)" if runs else ""))
    if item.confirmation_p_value is not None:
        held = f"held-out p = {pval(item.confirmation_p_value)}"
        if item.confirmation_size and item.confirmation_failures is not None:
            held += (
                f" ({item.confirmation_failures} of {item.confirmation_size} held-out prompts fail)"
            )
        parts.append(held)
    if item.name_check is not None:
        parts.append(f"name check {item.name_check:.2f}")
    return "Evidence: " + " · ".join(parts) + "." if parts else None


def evidence_facts(
    item: FailureSlice | FailureMode, report: AnalysisReport | None = None
) -> list[str]:
    """The evidence line of a slice or mode and, when its name check is below the report's
    flag (:data:`NAME_CHECK_FLAG` by default), a warning that the name misleads."""
    meta = report.metadata if report is not None else {}
    runs = (meta.get("stability") or {}).get("runs")
    flag = (meta.get("name_check") or {}).get("flag_below", NAME_CHECK_FLAG)
    line = evidence_line(item, runs if isinstance(runs, int) else None)
    facts = [line] if line else []
    if item.name_check is not None and item.name_check < flag:
        facts.append(
            f"Warning: the name does not pick out its members (name check "
            f"{item.name_check:.2f}, where 0.5 is chance); read the prompts, not the name."
        )
    return facts


def mode_facts(m: FailureMode, report: AnalysisReport | None = None) -> list[str]:
    """The numbered facts of one failure mode, as short sentences: headline, counts and test,
    member slices and clusters, evidence, then the naming stage's facts."""
    facts = [
        mode_headline(m),
        f"{m.size} prompts, {m.num_failures} failures; p = {pval(m.p_value)} ({m.test_used}, "
        f"one-sided, against the other prompts' {pct(m.rest_failure_rate)}).",
    ]
    members = mode_members(m, report)
    facts += [members] if members else []
    facts += evidence_facts(m, report)
    return facts + naming_facts(m, "Root cause: ", "Suggested fix: ")


def power_line(report: AnalysisReport) -> str | None:
    """What the clusters tested without a finding could have detected (80 % power), from
    their ``detectable_failure_rate``; None when no cluster has one."""
    rates = [
        c.detectable_failure_rate for c in report.clusters if c.detectable_failure_rate is not None
    ]
    if not rates:
        return None
    low, high = pct(min(rates)), pct(max(rates))
    if len(rates) == 1:
        return (
            "1 cluster was tested without a finding; at its size it could have detected "
            f"(80% power) a failure rate above {high}."
        )
    span = low if low == high else f"{low}–{high}, depending on the cluster"
    return (
        f"{len(rates)} clusters were tested without a finding; at their sizes they could have "
        f"detected (80% power) failure rates above {span}."
    )


def null_audit_line(report: AnalysisReport) -> str | None:
    """The null audit (the procedure rerun on permuted labels) as one sentence, with a
    warning when its false-finding rate is clearly above the level; None without one."""
    a = report.null_audit
    if a is None:
        return None
    line = (
        f"Null audit: {a.runs} permuted runs reported a failure mode in {pct(a.fwer)} "
        f"(level {a.level:g}) and a slice in {pct(a.slice_fwer)}; on average "
        f"{a.expected_false_modes:.2f} false modes and {a.expected_false_slices:.2f} false "
        "slices per run."
    )
    # two standard errors of a share of ``runs`` runs at the level: "clearly above"
    if a.runs and a.fwer > a.level + 2 * math.sqrt(a.level * (1 - a.level) / a.runs):
        line += " That is clearly above the level: some failure modes may be false."
    return line


def check_lines(report: AnalysisReport) -> list[str]:
    """Sentences on how the findings were checked and what the tests could see: the held-out
    confirmation, the stability reruns and the name check (how each was run), the power of
    the tests without a finding and the null audit. Empty for a report without any."""
    meta = report.metadata
    lines = []
    confirmation = meta.get("confirmation")
    if confirmation:
        found, held = confirmation.get("discovery_rows"), confirmation.get("confirmation_rows")
        rows = f" on {found} rows" if found is not None else ""
        other = f" on the other {held} rows" if held is not None else " on the held-out rows"
        lines.append(
            f"Held-out confirmation: the findings were chosen{rows} and each was tested once "
            f"more{other} (held-out p)."
        )
    stability = meta.get("stability")
    if stability:
        runs, fraction = stability.get("runs"), stability.get("fraction")
        jaccard = stability.get("jaccard")
        what = f"{runs} subsamples" if runs is not None else "subsamples"
        if isinstance(fraction, int | float):
            what += f" of {pct(fraction)} of the rows"
        again = f" (Jaccard ≥ {jaccard:g})" if isinstance(jaccard, int | float) else ""
        lines.append(
            f"Stability: the analysis was rerun on {what}; a finding's stability is the share "
            f"of reruns that found it again{again}."
        )
    check = meta.get("name_check")
    if check:
        method = f" ({check['method']})" if check.get("method") else ""
        flag = check.get("flag_below", NAME_CHECK_FLAG)
        flagged = check.get("flagged")
        line = (
            f"Name check{method}: how well each name picks out members it was not made from "
            f"against other prompts (AUC, 0.5 is chance; below {flag:g} is flagged)"
        )
        if isinstance(flagged, int):
            line += f"; {_count(flagged, 'name')} flagged"
        renamed = check.get("renamed")
        if isinstance(renamed, int) and renamed:
            line += f", {renamed} renamed by the LLM"
        lines.append(line + ".")
    return lines + [x for x in (power_line(report), null_audit_line(report)) if x]


# -- slices ------------------------------------------------------------------------------------


def slice_facts(
    s: FailureSlice, report: AnalysisReport | None = None, position: int | None = None
) -> list[str]:
    """The numbered facts of one slice, as short sentences. With ``report`` (and the slice's
    ``position`` in ``report.slices``) they also say which failure mode holds it and read
    the evidence with the report's settings."""
    low, high = s.confidence_interval
    facts = [
        f"{s.size} prompts, {s.num_failures} failures: failure rate {pct(s.failure_rate)} "
        f"(95% CI {pct(low)}–{pct(high)}), {s.effect_size:.1f}x the baseline "
        f"{pct(s.baseline_rate)}.",
        f"p = {pval(s.p_value)} ({s.test_used}, one-sided, against the other prompts' "
        f"{pct(s.rest_failure_rate)}); adjusted p = {pval(s.adjusted_p_value)}.",
    ]
    if report is not None and position is not None and report.failure_modes:
        k = slice_modes(report).get(position)
        if k is not None:
            facts.append(f"Part of failure mode {k} ({report.failure_modes[k - 1].name}).")
    facts += evidence_facts(s, report)
    extra = [hybrid_values_fact(s.over_represented_values)] if s.over_represented_values else []
    return facts + naming_facts(s, "Root cause: ", "Suggested fix: ", extra)


def naming_facts(
    item: FailureSlice | FailureMode | CoverageGap | SliceComparison,
    cause: str,
    fix: str,
    extra: Sequence[str] = (),
) -> list[str]:
    """The naming stage's facts of a slice, mode or gap: distinctive words, ``extra`` facts,
    then the LLM's root cause and fix (labelled ``cause`` / ``fix``) and any naming failure."""
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


def _failing_lines(examples: Sequence[Mapping[str, Any]]) -> list[str]:
    failing = [e for e in examples if e.get("failed")]
    if not failing:
        return []
    return ["   Failing examples:"] + [
        f'     [{e["index"]}] "{clip(e["prompt"])}"' for e in failing[:3]
    ]


@register("text", FailureSlice)
def slice_text(
    s: FailureSlice,
    number: int | None = None,
    report: AnalysisReport | None = None,
) -> str:
    title = f"{number}. {s.name}" if number is not None else s.name
    lines = [title, "   " + s.description]
    position = number - 1 if number is not None else None
    lines += ["   - " + fact for fact in slice_facts(s, report, position)]
    return "\n".join(lines + _failing_lines(s.examples))


@register("text", FailureMode)
def mode_text(
    m: FailureMode, number: int | None = None, report: AnalysisReport | None = None
) -> str:
    title = f"Mode {number}. {m.name}" if number is not None else m.name
    lines = [title, "   " + m.description]
    lines += ["   - " + fact for fact in mode_facts(m, report)]
    return "\n".join(lines + _failing_lines(m.examples))


@register("text", AnalysisReport)
def analysis_text(report: AnalysisReport) -> str:
    lines = ["faultmap analysis", "=================", *headline(report)]
    steps = next_steps_block(report)
    lines += ["", *steps] if steps else []
    if report.failure_modes:
        lines += ["", "Failure modes (one per problem):"]
        for k, m in enumerate(report.failure_modes, 1):
            lines += ["", mode_text(m, k, report)]
        if report.slices:
            lines += ["", "Slices (the clusters that fail significantly on their own):"]
    for i, s in enumerate(report.slices, 1):
        lines += ["", slice_text(s, i, report)]
    checks = check_lines(report)
    if checks:
        lines += ["", *checks]
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
    if r.distance_coverage_score is None:  # written before gaps were regions
        return _distance_gap_headline(r, uncovered)
    in_gaps = sum(g.size for g in r.gaps)
    lines = [
        f"{r.num_production_prompts} production prompts against {r.num_test_prompts} test "
        f"prompts: {pct(r.overall_coverage_score)} covered (in no gap)."
    ]
    if r.num_gaps:
        what = "a region" if r.num_gaps == 1 else "regions"
        lines.append(
            f"{_count(r.num_gaps, 'gap')}: {what} of at least {r.min_gap_size} production "
            f"prompts where the test suite is significantly under-represented "
            f"({significance_rule(r)}), holding {in_gaps} production prompts."
        )
    else:
        lines.append(
            f"No region of at least {r.min_gap_size} production prompts holds significantly "
            f"fewer test prompts than production implies ({_level(r)}): no gap."
        )
    zero = r.metadata.get("zero_test_gap_size")
    if zero is not None and zero > r.num_test_prompts + r.num_production_prompts:
        lines.append(
            f"With {r.num_test_prompts} test and {r.num_production_prompts} production prompts "
            "no region can show that the test suite is under-represented."
        )
    elif zero is not None:
        lines.append(
            f"A region with no test prompt and at least {zero} production prompts is always a gap."
        )
    lines += [
        f"Distance: {pct(r.distance_coverage_score)} of production prompts have a test prompt "
        f"within {_threshold_text(r)} (faultmap 0.5.0's coverage score); {uncovered} are "
        "farther.",
        f"Threshold: {r.threshold_rule}.",
    ]
    outside = r.metadata.get("num_production_in_no_region", 0) + r.metadata.get(
        "num_production_in_untested_regions", 0
    )
    if outside:
        lines.append(
            "In no region or in one too small to test (counted as covered): "
            f"{_count(outside, 'production prompt')}."
        )
    unclustered = r.metadata.get("num_unclustered_uncovered")
    if unclustered is None:  # reports written before the count
        unclustered = len(r.metadata.get("unclustered_prompt_indices") or [])
    rejected = len(r.metadata.get("rejected_gaps", []))
    if unclustered:
        extra = f"Beyond the threshold but in no gap: {_count(unclustered, 'production prompt')}"
        if rejected:
            extra += f" ({rejected} group(s) of them where the tests are not scarce)"
        lines.append(extra + ".")
    return lines


def _threshold_text(r: CoverageReport) -> str:
    """The threshold on both scales: faultmap 0.5.0's (Euclidean) and cosine."""
    cosine = r.cosine_distance_threshold
    text = f"distance {r.distance_threshold:.3f} (Euclidean between unit vectors"
    return text + (")" if cosine is None else f"; cosine distance {cosine:.3f})")


def _distance_gap_headline(r: CoverageReport, uncovered: int) -> list[str]:
    """The summary of a report written before gaps were regions: its score is the share
    within the distance threshold and its gaps are groups of prompts beyond it."""
    lines = [
        f"{r.num_production_prompts} production prompts against {r.num_test_prompts} test "
        f"prompts: {pct(r.overall_coverage_score)} covered (a test prompt within "
        f"{_threshold_text(r)}).",
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
            f"under-represented ({significance_rule(r)})."
        )
    else:
        lines.append(
            f"{uncovered} production prompts are uncovered, but no group of at least "
            f"{r.min_gap_size} of them lies where the test suite is significantly "
            f"under-represented ({_level(r)}): no gap."
        )
    if unclustered:
        extra = f"{unclustered} uncovered prompts belong to no gap"
        if rejected:
            extra += f" ({rejected} group(s) of them lie where the tests are not scarce)"
        lines.append(extra + ".")
    return lines


def ratio_text(g: CoverageGap) -> str:
    """A gap's test count over the expected one with its 95 % interval, e.g.
    "0.19 (95% CI 0.02–0.66)"; "–" for a gap from a report that did not compute it."""
    if g.ratio is None:
        return "–"
    if g.ratio_interval is None:
        return f"{g.ratio:.2f}"
    low, high = g.ratio_interval
    return f"{g.ratio:.2f} (95% CI {low:.2f}–{high:.2f})"


def _cosine_mean(g: CoverageGap) -> float:
    """The gap's mean cosine distance (``mean_distance`` is on faultmap 0.5.0's Euclidean
    scale; a gap built without the cosine mean shows NaN)."""
    return float("nan") if g.cosine_mean_distance is None else g.cosine_mean_distance


def gap_facts(g: CoverageGap) -> list[str]:
    """The numbered facts of one coverage gap, as short sentences."""
    if g.ratio is None:  # a gap written before gaps were regions
        facts = [
            f"{g.size} production prompts; cosine distance to the nearest test prompt "
            f"{_cosine_mean(g):.3f} on average, {g.max_distance:.3f} at most.",
            f"Its region holds {g.test_count} test and {g.region_production_count} production "
            f"prompts ({g.expected_test_count:.1f} test prompts expected if the tests followed "
            f"production): p = {pval(g.p_value)} (Fisher, one-sided), adjusted p = "
            f"{pval(g.adjusted_p_value)}.",
        ]
        return facts + naming_facts(g, "What the tests miss: ", "Tests to add: ")
    mean = _cosine_mean(g)
    median = mean if g.median_distance is None else g.median_distance
    facts = [
        f"{g.size} production and {g.test_count} test prompts; "
        f"{g.expected_test_count:.1f} test prompts expected if the tests followed production: "
        f"ratio {ratio_text(g)}.",
        f"p = {pval(g.p_value)} (Fisher, one-sided), adjusted p = {pval(g.adjusted_p_value)}.",
        f"Cosine distance to the nearest test prompt: median {median:.3f}, mean "
        f"{mean:.3f}, at most {g.max_distance:.3f}"
        + (
            f"; {pct(g.uncovered_share)} of its prompts are beyond the threshold."
            if g.uncovered_share is not None
            else "."
        ),
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
    steps = next_steps_block(report)
    lines += ["", *steps] if steps else []
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


def _mcnemar(test_used: str) -> str:
    """The variant of McNemar's test in a sentence: "exact", "chi2" or "none"."""
    return test_used.removeprefix("mcnemar_")


def comparison_headline(report: ComparisonReport) -> list[str]:
    """Summary sentences of a two-model comparison, most important first."""
    r = report
    a, b = r.model_a_name, r.model_b_name
    tested = len(r.tested_slices)
    lines = [
        f"{r.total_prompts} prompts: {a} fails {pct(r.failure_rate_a)}, {b} fails "
        f"{pct(r.failure_rate_b)} (score < {r.failure_threshold:g}).",
        f"Only {b} failed on {r.discordant_a_wins} prompts and only {a} on "
        f"{r.discordant_b_wins}; McNemar ({_mcnemar(r.global_test_used)}) "
        f"p = {pval(r.global_p_value)}: overall, {_verdict(r.global_winner, a, b)} at level "
        f"{r.significance_level:g}.",
        f"{r.num_clusters} clusters ({r.clustering_method}); {tested} with at least "
        f"{r.min_slice_size} prompts were tested; {r.num_unclustered} prompts fell in no "
        f"cluster and {r.num_untested} in clusters too small to test.",
    ]
    if r.num_significant_slices:
        lines.append(
            f"{r.num_significant_slices} slice(s) differ significantly "
            f"({significance_rule(r)}); the other tested slices are ties."
        )
    elif tested:
        lines.append(f"No slice differs significantly at {_level(r)}: every tested slice is a tie.")
    return lines


def winner_text(report: ComparisonReport, code: str | None = None) -> str:
    """Who wins, in words: a model's name, or "no difference" for a tie (the overall
    winner when ``code`` is None)."""
    name = report.winner_name(code)
    code = report.global_winner if code is None else code
    return name if code in ("a", "b") else "no difference"


def discordant_text(s: SliceComparison | ComparisonReport, a: str = "A", b: str = "B") -> str:
    """The prompts exactly one model failed, in words: "of the 15 prompts where exactly one
    model failed, A failed 12 and B 3" (``discordant_a_wins`` are the prompts only B failed).

    Example:
        >>> from types import SimpleNamespace as S
        >>> discordant_text(S(discordant_a_wins=3, discordant_b_wins=12), "A", "B")
        'of the 15 prompts where exactly one model failed, A failed 12 and B 3'
    """
    a_failed, b_failed = s.discordant_b_wins, s.discordant_a_wins
    total = a_failed + b_failed
    if total == 0:
        return "no prompt was failed by exactly one model"
    return (
        f"of the {_count(total, 'prompt')} where exactly one model failed, {a} failed "
        f"{a_failed} and {b} {b_failed}"
    )


def comparison_slice_facts(s: SliceComparison, a: str = "A", b: str = "B") -> list[str]:
    """The numbered facts of one comparison slice, as short sentences."""
    d = discordant_text(s, a, b)
    facts = [
        f"{s.size} prompts: {a} fails {pct(s.failure_rate_a)}, {b} fails "
        f"{pct(s.failure_rate_b)}; {_verdict(s.winner, a, b)}.",
        f"{d[0].upper()}{d[1:]}; McNemar ({_mcnemar(s.test_used)}) "
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
    steps = next_steps_block(report)
    lines += ["", *steps] if steps else []
    for i, s in enumerate(report.slices, 1):
        lines += ["", comparison_slice_text(s, i, a, b)]
    ties = [s for s in report.tested_slices if not s.significant]
    if ties:
        lines += ["", "Ties: " + "; ".join(f"{s.name} ({s.size})" for s in ties[:20])]
        if len(ties) > 20:
            lines[-1] += f"; and {len(ties) - 20} more"
    return "\n".join(lines)


# -- diffs of two analyses (faultmap.reports.diff) ----------------------------------------

_MATCHED_BY = {
    "prompts": "shared prompts",
    "meaning": "meaning",
    "both": "shared prompts and meaning",
}


def diff_headline(d: SliceDiff) -> list[str]:
    """The counts of a diff, for slices and (when compared) failure modes, and how findings
    were matched."""
    how = f"matched by {d.matched_by.replace('_', ' ')}"
    if d.meaning_compared:
        how += " and by meaning (same embedding model)"
    lines = [
        f"faultmap diff: {len(d.new)} new, {len(d.resolved)} resolved, "
        f"{len(d.persisting)} persisting, {len(d.not_retested)} not retested "
        f"(OLD {d.old_total_prompts} prompts, NEW {d.new_total_prompts} prompts"
        + ("" if d.shared_prompts is None else f", {d.shared_prompts} in both")
        + f"; {how})."
    ]
    if d.modes_compared:
        lines.append(
            f"Failure modes: {len(d.new_modes)} new, {len(d.resolved_modes)} resolved, "
            f"{len(d.persisting_modes)} persisting, {len(d.not_retested_modes)} not retested."
        )
    return lines


def diff_rule(d: SliceDiff) -> str:
    """One sentence on how the findings of a diff were matched."""
    prompts = (
        f"share at least {d.min_shared} prompts with an overlap coefficient of at least "
        f"{d.min_overlap:g} (among prompts both runs analysed)"
    )
    if not d.meaning_compared:
        return f"Two findings match when they {prompts}."
    return (
        f"Two findings match when they {prompts}, or when the cosine similarity of their "
        "centroids reaches the lower of their members' median similarities to their own "
        "centroid (both reports were embedded by the same model)."
    )


def match_evidence(m: SliceMatch) -> str:
    """Why two findings were matched: shared prompts (and their overlap), the similarity of
    their centroids against what it had to reach, and which rule matched.

    Example:
        >>> from faultmap.reports.models import SliceRef
        >>> ref = SliceRef(0, "dates", 40, 0.8, 1e-6)
        >>> match_evidence(SliceMatch(ref, ref, 0, None, 0.987, 0.81, "meaning"))
        '0 shared prompts, similarity 0.99 (needed 0.81); by meaning'
    """
    prompts = f"{m.shared_prompts:,} shared prompts"
    if m.overlap is not None:
        prompts += f" (overlap {m.overlap:.2f})"
    parts = [prompts]
    if m.similarity is not None:
        needed = "" if m.similarity_needed is None else f" (needed {m.similarity_needed:.2f})"
        parts.append(f"similarity {m.similarity:.2f}{needed}")
    return ", ".join(parts) + f"; by {_MATCHED_BY.get(m.matched_by, m.matched_by)}"


def _diff_sections(
    word: str,
    new: list[SliceRef],
    persisting: list[SliceMatch],
    resolved: list[SliceRef],
    not_retested: list[SliceRef],
    by_meaning: bool,
) -> list[str]:
    """The lines of a diff on one kind of finding ("slices" or "failure modes")."""

    def line(ref: SliceRef) -> str:
        return (
            f"  - {ref.name} ({ref.size} prompts, {pct(ref.failure_rate)} fail, "
            f"adjusted p {ref.adjusted_p_value:.2g})"
        )

    # "Not retested" alone for slices, as before failure modes were diffed
    retested = "Not retested" if word == "slices" else f"{word[0].upper()}{word[1:]} not retested"
    like = " or prompts like them" if by_meaning else ""

    def name(ref: SliceRef) -> str:
        return f"{ref.name} (failure mode)" if word == "slices" and ref.kind == "mode" else ref.name

    out = []
    if new:
        out += [f"New {word} (in NEW only):", *map(line, new)]
    if persisting:
        out.append(f"Persisting {word} (OLD -> NEW):")
        out += [
            f"  - {name(m.old)} -> {name(m.new)}: {pct(m.old.failure_rate)} -> "
            f"{pct(m.new.failure_rate)} fail, {match_evidence(m)}"
            for m in persisting
        ]
    if resolved:
        analysed = "prompts analysed again" + (", or prompts like them" if by_meaning else "")
        out += [f"Resolved {word} (in OLD only, {analysed}):", *map(line, resolved)]
    if not_retested:
        out += [f"{retested} (in OLD, too few of their prompts{like} in NEW):"]
        out += map(line, not_retested)
    return out


@register("text", SliceDiff)
def diff_text(d: SliceDiff) -> str:
    """The plain-text view of a diff: counts, then failure modes, slices and notes."""
    out = diff_headline(d)
    if d.modes_compared:
        out += _diff_sections(
            "failure modes",
            d.new_modes,
            d.persisting_modes,
            d.resolved_modes,
            d.not_retested_modes,
            d.meaning_compared,
        )
    out += _diff_sections(
        "slices", d.new, d.persisting, d.resolved, d.not_retested, d.meaning_compared
    )
    out.append(diff_rule(d))
    out += [f"Note: {n}" for n in d.notes]
    return "\n".join(out)


def diff_table(d: SliceDiff) -> tuple[list[tuple[str, str]], list[list[Cell]]]:
    """Columns ``(label, kind)`` and rows of the table of a diff the HTML view shows: one row
    per match, new, resolved or not retested finding (failure modes first), with the
    evidence of each match. Kinds as in :func:`summary_table`."""
    columns = [
        ("finding", "text"),
        ("status", "text"),
        ("OLD", "name"),
        ("NEW", "name"),
        ("failure rate OLD -> NEW", "text"),
        ("matched by", "text"),
        ("similarity (needed)", "number"),
        ("shared prompts (overlap)", "number"),
    ]
    none = Cell("–", "")
    rows: list[list[Cell]] = []
    kinds = [("slice", d.new, d.persisting, d.resolved, d.not_retested)]
    if d.modes_compared:
        kinds.insert(
            0,
            ("mode", d.new_modes, d.persisting_modes, d.resolved_modes, d.not_retested_modes),
        )
    for word, new, persisting, resolved, not_retested in kinds:
        for m in persisting:
            old, new_name = (
                f"{ref.name} (failure mode)" if word == "slice" and ref.kind == "mode" else ref.name
                for ref in (m.old, m.new)
            )
            similarity = none
            if m.similarity is not None:
                needed = "" if m.similarity_needed is None else f" ({m.similarity_needed:.2f})"
                similarity = Cell(f"{m.similarity:.2f}{needed}", m.similarity)
            overlap = "" if m.overlap is None else f" ({m.overlap:.2f})"
            rows.append(
                [
                    Cell(word, word),
                    Cell("persisting", "persisting"),
                    Cell(old, old.lower()),
                    Cell(new_name, new_name.lower()),
                    Cell(f"{pct(m.old.failure_rate)} -> {pct(m.new.failure_rate)}", ""),
                    Cell(_MATCHED_BY.get(m.matched_by, m.matched_by), m.matched_by),
                    similarity,
                    Cell(f"{m.shared_prompts:,}{overlap}", m.shared_prompts),
                ]
            )
        for status, refs, side in (
            ("new", new, "new"),
            ("resolved", resolved, "old"),
            ("not retested", not_retested, "old"),
        ):
            for ref in refs:
                name = Cell(ref.name, ref.name.lower())
                rate = pct(ref.failure_rate)
                rows.append(
                    [
                        Cell(word, word),
                        Cell(status, status),
                        name if side == "old" else none,
                        name if side == "new" else none,
                        Cell(f"{rate} -> –" if side == "old" else f"– -> {rate}", ""),
                        none,
                        none,
                        none,
                    ]
                )
    return columns, rows


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


def list_items(
    report: AnalysisReport | CoverageReport | ComparisonReport,
) -> list[FailureSlice] | list[CoverageGap] | list[SliceComparison]:
    """What the tables, maps and figures of a report list, numbered from 1: the slices of an
    analysis, the gaps of a coverage audit, every tested slice of a comparison (the
    significant ones first, then the ties)."""
    if isinstance(report, CoverageReport):
        return list(report.gaps)
    if isinstance(report, ComparisonReport):
        return list(report.tested_slices)
    return list(report.slices)


def map_legend(report: AnalysisReport | CoverageReport | ComparisonReport) -> dict[str, list]:
    """Legend and hover words of ``report.map``: the group and status of every mapped prompt.

    Returns ``group`` (per point, an index into ``groups``), ``groups`` (legend entries: the
    numbered slices or gaps first, as in the text view, then the prompts in none),
    ``highlighted`` (per group, True for a slice or gap, but not for a comparison's tie),
    ``tie`` (per group, True for a comparison's tied slice) and ``status`` (per point, an index
    into ``statuses``, e.g. "failed").
    """
    m = report.map
    labels = m.get("label", [])
    items = list_items(report)
    names = [f"{k}. {item.name}" for k, item in enumerate(items, 1)]
    if isinstance(report, CoverageReport):
        by_label = {k: k for k in range(len(items))}
        rest = [
            "in no gap, no test prompt within the threshold",
            "in no gap, a test prompt within the threshold",
        ]
        group = [
            by_label.get(lab, len(items) + int(cov))
            for lab, cov in zip(labels, m.get("covered", []), strict=True)
        ]
        statuses = [
            "no test prompt within the distance threshold",
            "a test prompt within the distance threshold",
        ]
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
    # a comparison's ties are listed but not highlighted: only the slices that differ stand out
    tie = [not getattr(item, "significant", True) for item in items]
    return {
        "group": group,
        "groups": names + rest,
        "highlighted": [not t for t in tie] + [False] * len(rest),
        "tie": tie + [False] * len(rest),
        "status": status,
        "statuses": statuses,
    }


def map_marks(report: AnalysisReport | CoverageReport | ComparisonReport) -> tuple[list[bool], str]:
    """Which mapped prompts the map marks without hover (per point), and the sentence that
    says what a mark means: the failed prompts of an analysis, the prompts exactly one model
    failed in a comparison, the prompts with no test prompt within the threshold in a
    coverage audit."""
    m = report.map
    if isinstance(report, CoverageReport):
        return [not c for c in m.get("covered", [])], (
            "A dark ring marks a production prompt with no test prompt within the threshold."
        )
    if isinstance(report, ComparisonReport):
        return [o in ("a", "b") for o in m.get("outcome", [])], (
            "A dark ring marks a prompt exactly one model failed."
        )
    return [bool(f) for f in m.get("failed", [])], "A dark ring marks a failed prompt."


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


def _rate_columns(word: str) -> list[tuple[str, str]]:
    return [
        ("#", "number"),
        (word, "name"),
        ("size", "number"),
        ("failures", "number"),
        ("failure rate (95% CI)", "rate"),
        ("x baseline", "number"),
        ("adjusted p", "number"),
    ]


def _rate_cells(k: int, item: FailureSlice | FailureMode) -> list[Cell]:
    low, high = item.confidence_interval
    return [
        Cell(str(k), k),
        Cell(item.name, item.name.lower()),
        Cell(f"{item.size:,}", item.size),
        Cell(f"{item.num_failures:,}", item.num_failures),
        Cell(
            f"{pct(item.failure_rate)} ({pct(low)}–{pct(high)})",
            item.failure_rate,
            (item.failure_rate, low, high, item.baseline_rate),
        ),
        Cell(f"{item.effect_size:.1f}x", item.effect_size),
        Cell(pval(item.adjusted_p_value), item.adjusted_p_value),
    ]


_EVIDENCE = (
    ("stability", "stability"),
    ("held-out p", "confirmation_p_value"),
    ("name check", "name_check"),
)


def _evidence_columns(items: Sequence[FailureSlice | FailureMode]) -> list[tuple[str, str]]:
    """A column for each kind of evidence that some item has."""
    return [
        (label, "number")
        for label, field in _EVIDENCE
        if any(getattr(item, field) is not None for item in items)
    ]


def _evidence_cells(
    item: FailureSlice | FailureMode, columns: Sequence[tuple[str, str]]
) -> list[Cell]:
    fields = dict(_EVIDENCE)
    cells = []
    for label, _ in columns:
        value = getattr(item, fields[label])
        if value is None:
            cells.append(Cell("–", -1.0))
        elif label == "held-out p":
            cells.append(Cell(pval(value), value))
        elif label == "name check":
            cells.append(Cell(f"{value:.2f}", value))
        else:
            cells.append(Cell(f"{value:.2g}", value))
    return cells


def modes_table(report: AnalysisReport) -> tuple[list[tuple[str, str]], list[list[Cell]]]:
    """Columns ``(label, kind)`` and rows of the table of failure modes the HTML and rich
    views show before the slices (kinds as in :func:`summary_table`; "slices" lists the
    numbers of the member slices). Empty rows for a report without modes."""
    columns = _rate_columns("failure mode")
    columns += [("slices", "text"), ("clusters", "number")]
    evidence = _evidence_columns(report.failure_modes)
    columns += evidence
    rows = []
    for k, m in enumerate(report.failure_modes, 1):
        members = ", ".join(str(i + 1) for i in m.slices) or "–"
        row = _rate_cells(k, m)
        row += [Cell(members, members), Cell(str(len(m.cluster_ids)), len(m.cluster_ids))]
        rows.append(row + _evidence_cells(m, evidence))
    return columns, rows


def summary_table(
    report: AnalysisReport | CoverageReport | ComparisonReport,
) -> tuple[list[tuple[str, str]], list[list[Cell]]]:
    """Columns ``(label, kind)`` and rows of the table of slices (gaps for a coverage audit)
    that the HTML and rich views show. ``kind`` is "number", "text", "name" (the slice name)
    or "rate" (a failure rate with its 95 % interval)."""
    rows: list[list[Cell]] = []
    if isinstance(report, AnalysisReport):
        columns = _rate_columns("slice")
        modes = slice_modes(report)
        if report.failure_modes:
            columns.append(("mode", "text"))
        evidence = _evidence_columns(report.slices)
        columns += evidence
        for k, s in enumerate(report.slices, 1):
            row = _rate_cells(k, s)
            if report.failure_modes:
                mode = modes.get(k - 1)
                row.append(Cell("–", "") if mode is None else Cell(str(mode), f"{mode:06d}"))
            rows.append(row + _evidence_cells(s, evidence))
    elif isinstance(report, CoverageReport):
        columns = [("#", "number"), ("gap", "name"), ("production prompts", "number")]
        columns += [("test prompts (expected)", "number"), ("test / expected (95% CI)", "number")]
        columns += [("p", "number"), ("adjusted p", "number")]
        columns += [("median distance", "number")]
        for k, g in enumerate(report.gaps, 1):
            ratio = -1.0 if g.ratio is None else g.ratio
            median = -1.0 if g.median_distance is None else g.median_distance
            rows.append(
                [
                    Cell(str(k), k),
                    Cell(g.name, g.name.lower()),
                    Cell(f"{g.size:,}", g.size),
                    Cell(f"{g.test_count:,} ({g.expected_test_count:.1f})", g.test_count),
                    Cell(ratio_text(g).replace("95% CI ", ""), ratio),
                    Cell(pval(g.p_value), g.p_value),
                    Cell(pval(g.adjusted_p_value), g.adjusted_p_value),
                    Cell("–" if median < 0 else f"{median:.3f}", median),
                ]
            )
    else:
        a, b = report.model_a_name, report.model_b_name
        columns = [("#", "number"), ("slice", "name"), ("size", "number"), ("winner", "text")]
        columns += [(f"{a} fails (95% CI)", "rate"), (f"{b} fails (95% CI)", "rate")]
        columns += [(f"failed alone: {a} / {b}", "number"), ("adjusted p", "number")]
        for k, s in enumerate(report.tested_slices, 1):
            winner = winner_text(report, s.winner)
            row = [Cell(str(k), k), Cell(s.name, s.name.lower()), Cell(f"{s.size:,}", s.size)]
            row.append(Cell(winner, winner.lower()))
            for rate in (s.failure_rate_a, s.failure_rate_b):
                low, high = rate_interval(rate, s.size)
                row.append(
                    Cell(f"{pct(rate)} ({pct(low)}–{pct(high)})", rate, (rate, low, high, None))
                )
            # prompts only A failed / only B failed; sorted by A's share of them
            alone = f"{s.discordant_b_wins:,} / {s.discordant_a_wins:,}"
            row.append(Cell(alone, s.advantage_rate))
            row.append(Cell(pval(s.adjusted_p_value), s.adjusted_p_value))
            rows.append(row)
    return columns, rows


# -- what to do next, from the statistics alone ---------------------------------------------


def _excess(s: FailureSlice) -> float:
    """Failures of a slice beyond what the baseline rate predicts for its size."""
    return s.num_failures - s.size * s.baseline_rate


def _evidence_words(s: FailureSlice) -> str:
    """How solid a slice is, in words: its stability and held-out confirmation."""
    words = []
    if s.stability is not None:
        steady = "stable" if s.stability >= 0.5 else "unstable"
        words.append(f"{steady} in {pct(s.stability)} of reruns")
    if s.confirmation_p_value is not None:
        held = "confirmed" if s.confirmation_p_value < 0.05 else "not confirmed"
        words.append(f"{held} on held-out prompts (p = {pval(s.confirmation_p_value)})")
    return "; " + " and ".join(words) if words else ""


def next_steps(
    report: AnalysisReport | CoverageReport | ComparisonReport, limit: int = 5
) -> list[str]:
    """What to do next, one sentence per finding (at most ``limit``), built from the
    statistics alone, so that a report named without an LLM still says where to start: an
    analysis's slices by excess failures, a coverage audit's gaps by missing test prompts, a
    comparison's significant slices by adjusted p."""
    if isinstance(report, CoverageReport):
        gaps = sorted(report.gaps, key=lambda g: -(g.expected_test_count - g.test_count))
        if not gaps:
            return [
                "No coverage gap: the test suite covers these production prompts; nothing to add."
            ]
        lines = []
        for k, g in enumerate(gaps[:limit]):
            lead = "Add test prompts like those of" if k == 0 else "Then"
            lines.append(
                f'{lead} "{clip(g.name, 80)}" ({_count(g.size, "production prompt")}, '
                f"{g.test_count} test prompts where {g.expected_test_count:.1f} were expected)."
            )
        return lines + _more(len(gaps), limit, "gap")
    if isinstance(report, ComparisonReport):
        a, b = report.model_a_name, report.model_b_name
        if not report.slices:
            return [
                f"No slice differs significantly at {_level(report)}: choose between {a} and "
                f"{b} on the overall result ({winner_text(report)}) or on cost."
            ]
        lines = []
        for s in sorted(report.slices, key=lambda s: s.adjusted_p_value)[:limit]:
            loser = b if s.winner == "a" else a
            d = discordant_text(s, a, b)
            lines.append(
                f'On "{clip(s.name, 80)}" ({s.size} prompts) prefer {winner_text(report, s.winner)}'
                f", or read the prompts {loser} fails there: {d} (adjusted p = "
                f"{pval(s.adjusted_p_value)})."
            )
        return lines + _more(len(report.slices), limit, "slice")
    if not report.slices:
        if report.total_failures == 0:
            return ["No prompt failed: nothing to fix at this failure threshold."]
        return [
            f"No slice stands out at {_level(report)}: read a random sample of the "
            f"{report.total_failures} failing prompts, or score more prompts to find smaller "
            "slices."
        ]
    ranked = sorted(range(len(report.slices)), key=lambda i: -_excess(report.slices[i]))
    total = sum(max(_excess(s), 0.0) for s in report.slices) or 1.0
    lines = []
    for k, i in enumerate(ranked[:limit]):
        s = report.slices[i]
        lead = "Look first at" if k == 0 else "Next,"
        excess = max(_excess(s), 0.0)
        lines.append(
            f'{lead} slice {i + 1}, "{clip(s.name, 80)}": {s.num_failures} of {s.size} prompts '
            f"fail where {s.size * s.baseline_rate:.0f} were expected at the baseline, "
            f"{excess:.0f} excess failures ({pct(excess / total)} of the excess in all slices)"
            f"{_evidence_words(s)}."
        )
    return lines + _more(len(report.slices), limit, "slice")


def next_steps_block(report: AnalysisReport | CoverageReport | ComparisonReport) -> list[str]:
    """The "What to do next" block of the text and console views: a title line, then
    :func:`next_steps` as "- " items; empty when an LLM wrote a remediation for any finding
    (its suggested fixes say what to do instead).

    Example:
        >>> next_steps_block(report)[0]  # doctest: +SKIP
        'What to do next:'
    """
    if isinstance(report, CoverageReport):
        items: Sequence[Any] = report.gaps
    elif isinstance(report, ComparisonReport):
        items = report.slices
    else:
        items = [*report.slices, *report.failure_modes]
    if any(item.suggested_remediation for item in items):
        return []
    return ["What to do next:", *("- " + line for line in next_steps(report))]


def _more(n: int, limit: int, word: str) -> list[str]:
    return [f"And {_count(n - limit, 'more ' + word)} in the table."] if n > limit else []


# -- one paragraph (report.summary(), faultmap 0.5.0's method) ------------------------------


@register("summary", AnalysisReport, CoverageReport, ComparisonReport)
def summary(report: AnalysisReport | CoverageReport | ComparisonReport) -> str:
    """``report.summary()``: the report's first headline sentences and its most important
    finding (the first slice or gap; a comparison's most significant slice), in one
    paragraph.

    Example:
        >>> summary(report)  # doctest: +SKIP
        '400 prompts, 120 failures: baseline failure rate 30.0% (score < 0.5). ...'
    """
    if isinstance(report, CoverageReport):
        lines = coverage_headline(report)[:2]
        if report.gaps:
            g = report.gaps[0]
            lines.append(
                f'Largest gap: "{g.name}" ({_count(g.size, "production prompt")}, '
                f"{g.test_count} test prompts where {g.expected_test_count:.1f} were expected; "
                f"adjusted p = {pval(g.adjusted_p_value)})."
            )
        return " ".join(lines)
    if isinstance(report, ComparisonReport):
        lines = comparison_headline(report)[:2]
        if report.slices:
            s = report.slices[0]
            lines.append(
                f"{_count(report.num_significant_slices, 'slice')} differ significantly; "
                f'the most significant: "{s.name}" ({s.size} prompts, '
                f"{_verdict(s.winner, report.model_a_name, report.model_b_name)}, adjusted "
                f"p = {pval(s.adjusted_p_value)})."
            )
        else:
            lines.append(f"No slice differs significantly at {_level(report)}.")
        return " ".join(lines)
    lines = headline(report)[:1]
    if report.slices:
        s = report.slices[0]
        lines.append(
            f"{_count(report.num_significant, 'failure slice')} at {_level(report)}; the most "
            f'significant: "{s.name}" ({s.size} prompts, failure rate {pct(s.failure_rate)} '
            f"against {pct(report.baseline_failure_rate)} overall, adjusted p = "
            f"{pval(s.adjusted_p_value)})."
        )
    else:
        lines.append(f"No failure slice at {_level(report)}.")
    return " ".join(lines)
