"""A compact HTML view for notebooks. Every string from the data is escaped."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from faultmap.reports.text import clip, headline, pct, pval, slice_facts

if TYPE_CHECKING:
    from faultmap.reports.models import AnalysisReport

__all__ = ["analysis_html"]


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
