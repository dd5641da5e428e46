"""The sentences every view of a report is built from (plain text, rich, HTML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport, FailureSlice

__all__ = ["analysis_text", "headline", "slice_facts", "slice_text"]


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pval(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def clip(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    return lines


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
    if s.keywords:
        facts.append("Distinctive words: " + ", ".join(s.keywords[:8]) + ".")
    if s.root_cause:
        facts.append("Root cause: " + s.root_cause)
    if s.suggested_remediation:
        facts.append("Suggested fix: " + s.suggested_remediation)
    if s.naming_error:
        facts.append("Named from keywords because the LLM failed: " + s.naming_error)
    return facts


def slice_text(s: FailureSlice, number: int | None = None) -> str:
    title = f"{number}. {s.name}" if number is not None else s.name
    lines = [title, "   " + s.description]
    lines += ["   - " + fact for fact in slice_facts(s)]
    failing = [e for e in s.examples if e.get("failed")]
    if failing:
        lines.append("   Failing examples:")
        lines += [f'     [{e["index"]}] "{clip(e["prompt"])}"' for e in failing[:3]]
    return "\n".join(lines)


def analysis_text(report: AnalysisReport) -> str:
    lines = ["faultmap analysis", "=================", *headline(report)]
    for i, s in enumerate(report.slices, 1):
        lines += ["", slice_text(s, i)]
    return "\n".join(lines)
