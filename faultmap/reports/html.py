"""A compact HTML view for notebooks. Every string from the data is escaped."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from faultmap.reports.text import (
    clip,
    comparison_headline,
    comparison_slice_facts,
    coverage_headline,
    gap_facts,
    headline,
    pct,
    pval,
    slice_facts,
)

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport

__all__ = ["analysis_html", "comparison_html", "coverage_html"]


def analysis_html(report: AnalysisReport) -> str:
    parts = ["<div class='faultmap-report'>", "<h3>faultmap analysis</h3>"]
    parts += [f"<p>{escape(line)}</p>" for line in headline(report)]
    if report.slices:
        parts.append(
            "<table><thead><tr><th>#</th><th>slice</th><th>size</th><th>failure rate</th>"
            "<th>95% CI</th><th>x baseline</th><th>adjusted p</th></tr></thead><tbody>"
        )
        for i, s in enumerate(report.slices, 1):
            low, high = s.confidence_interval
            parts.append(
                f"<tr><td>{i}</td><td>{escape(s.name)}</td><td>{s.size}</td>"
                f"<td>{pct(s.failure_rate)}</td><td>{pct(low)}–{pct(high)}</td>"
                f"<td>{s.effect_size:.1f}</td><td>{pval(s.adjusted_p_value)}</td></tr>"
            )
        parts.append("</tbody></table>")
        for i, s in enumerate(report.slices, 1):
            parts.append(f"<details><summary>{i}. {escape(s.name)}</summary>")
            parts.append(f"<p>{escape(s.description)}</p><ul>")
            parts += [f"<li>{escape(f)}</li>" for f in slice_facts(s)]
            parts.append("</ul><ol>")
            parts += [f"<li>{escape(clip(p))}</li>" for p in s.representative_prompts[:5]]
            parts.append("</ol></details>")
    parts.append("</div>")
    return "\n".join(parts)


def coverage_html(report: CoverageReport) -> str:
    parts = ["<div class='faultmap-report'>", "<h3>faultmap coverage audit</h3>"]
    parts += [f"<p>{escape(line)}</p>" for line in coverage_headline(report)]
    if report.gaps:
        parts.append(
            "<table><thead><tr><th>#</th><th>gap</th><th>size</th><th>mean distance</th>"
            "<th>test prompts in region</th><th>adjusted p</th></tr></thead><tbody>"
        )
        for i, g in enumerate(report.gaps, 1):
            parts.append(
                f"<tr><td>{i}</td><td>{escape(g.name)}</td><td>{g.size}</td>"
                f"<td>{g.mean_distance:.3f}</td><td>{g.test_count} "
                f"(expected {g.expected_test_count:.1f})</td>"
                f"<td>{pval(g.adjusted_p_value)}</td></tr>"
            )
        parts.append("</tbody></table>")
        for i, g in enumerate(report.gaps, 1):
            parts.append(f"<details><summary>{i}. {escape(g.name)}</summary>")
            parts.append(f"<p>{escape(g.description)}</p><ul>")
            parts += [f"<li>{escape(f)}</li>" for f in gap_facts(g)]
            parts.append("</ul><ol>")
            parts += [f"<li>{escape(clip(p))}</li>" for p in g.representative_prompts[:5]]
            parts.append("</ol></details>")
    parts.append("</div>")
    return "\n".join(parts)


def comparison_html(report: ComparisonReport) -> str:
    a, b = report.model_a_name, report.model_b_name
    parts = ["<div class='faultmap-report'>", "<h3>faultmap model comparison</h3>"]
    parts += [f"<p>{escape(line)}</p>" for line in comparison_headline(report)]
    if report.slices:
        parts.append(
            f"<table><thead><tr><th>#</th><th>slice</th><th>size</th><th>winner</th>"
            f"<th>{escape(a)} fails</th><th>{escape(b)} fails</th><th>adjusted p</th>"
            "</tr></thead><tbody>"
        )
        for i, s in enumerate(report.slices, 1):
            parts.append(
                f"<tr><td>{i}</td><td>{escape(s.name)}</td><td>{s.size}</td>"
                f"<td>{escape(report.winner_name(s.winner))}</td>"
                f"<td>{pct(s.failure_rate_a)}</td><td>{pct(s.failure_rate_b)}</td>"
                f"<td>{pval(s.adjusted_p_value)}</td></tr>"
            )
        parts.append("</tbody></table>")
        for i, s in enumerate(report.slices, 1):
            if not s.significant:
                continue
            parts.append(f"<details><summary>{i}. {escape(s.name)}</summary>")
            parts.append(f"<p>{escape(s.description)}</p><ul>")
            parts += [f"<li>{escape(f)}</li>" for f in comparison_slice_facts(s, a, b)]
            parts.append("</ul><ol>")
            parts += [f"<li>{escape(clip(p))}</li>" for p in s.representative_prompts[:5]]
            parts.append("</ol></details>")
    parts.append("</div>")
    return "\n".join(parts)
