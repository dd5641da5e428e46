"""The console view of a report with rich: the same sentences and table as the HTML page.

rich is optional (``pip install 'faultmap[rich]'``) and imported only when a report is
printed. Text from the data goes in as :class:`rich.text.Text`, never as console markup, so
a prompt containing ``[bold]`` prints as typed.

Example:
    >>> report.print()                 # doctest: +SKIP
    >>> from faultmap.reports.rich import renderable
    >>> Console(width=100).print(renderable(report))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from faultmap._optional import require
from faultmap.reports._palette import CONSOLE_STYLES
from faultmap.reports._registry import register
from faultmap.reports.models import AnalysisReport, ComparisonReport, CoverageReport
from faultmap.reports.text import (
    Cell,
    check_lines,
    clip,
    comparison_headline,
    comparison_slice_facts,
    coverage_headline,
    gap_facts,
    headline,
    mode_facts,
    modes_table,
    next_steps_block,
    slice_facts,
    summary_table,
)

Report = AnalysisReport | CoverageReport | ComparisonReport

__all__ = ["print_report", "renderable"]

#: Slice colours in the console, in the order of the other views' palette.
STYLES = CONSOLE_STYLES

#: The failure modes in the console: one style, apart from the slices' colours.
MODE_STYLE = "bold"


def _interval_bar(rate: float, low: float, high: float, base: float | None, width: int = 20) -> Any:
    """The interval as a text bar: ``─`` outside, ``━`` inside, ``●`` the rate, ``│`` the
    baseline."""
    from rich.text import Text

    def at(v: float) -> int:
        return min(width - 1, max(0, round(v * (width - 1))))

    chars = ["─"] * width
    for k in range(at(low), at(high) + 1):
        chars[k] = "━"
    if base is not None:
        chars[at(base)] = "│"
    chars[at(rate)] = "●"
    return Text("".join(chars), style="bold")


def _table(
    columns: list[tuple[str, str]], rows: list[list[Cell]], styles: tuple[str, ...] = STYLES
) -> Any:
    """A table of :func:`~faultmap.reports.text.summary_table` (or ``modes_table``) with the
    rates' intervals drawn as bars and the names in their colours (``styles``, in turn)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, header_style="bold", expand=False)
    for label, kind in columns:
        table.add_column(
            Text(label), justify="left" if kind in ("name", "text", "rate") else "right"
        )
    for r, cells in enumerate(rows):
        shown: list[Any] = []
        for (_, kind), cell in zip(columns, cells, strict=True):
            style = styles[r % len(styles)] if kind == "name" else ""
            text = Text(cell.text, style=style)
            if cell.interval is not None:
                text = Text.assemble(_interval_bar(*cell.interval), " ", text)
            shown.append(text)
        table.add_row(*shown)
    return table


def _card(
    number: int,
    title: str,
    description: str,
    facts: list[str],
    extra: list[str],
    prefix: str = "",
    style: str | None = None,
) -> Any:
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    body = [Text(description, style="italic")]
    body += [
        Text("• " + fact, style="bold yellow" if fact.startswith("Warning:") else "")
        for fact in facts
    ]
    body += [Text(line, style="dim") for line in extra]
    style = style or STYLES[(number - 1) % len(STYLES)]
    heading = Text(f"{prefix}{number}. {title}", style=f"bold {style}")
    return Panel(Group(*body), title=heading, expand=True)


def _failing(examples: list[Any]) -> list[str]:
    failing = [e for e in examples if e.get("failed")][:3]
    extra = ["Failing examples:"] if failing else []
    return extra + [f'  [{e["index"]}] "{clip(e["prompt"])}"' for e in failing]


def renderable(report: Report) -> Any:
    """A rich renderable of ``report``: title, headline sentences, for an analysis with
    failure modes their table and a panel per mode, the table of slices (or gaps) with drawn
    intervals, a panel per slice with its facts and examples, then how the findings were
    checked (evidence, power, null audit)."""
    require("rich", extra="rich", purpose="the console view (report.print())")
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    parts: list[Any] = []
    cards: list[Any] = []
    modes: list[Any] = []  # the table of failure modes, then a panel per mode
    checks: list[str] = []
    if isinstance(report, AnalysisReport):
        kind, lines = "analysis", headline(report)
        if report.failure_modes:
            modes.append(_table(*modes_table(report), styles=(MODE_STYLE,)))
        for k, m in enumerate(report.failure_modes, 1):
            facts = mode_facts(m, report)
            failing = _failing(m.examples)
            modes.append(_card(k, m.name, m.description, facts, failing, "Mode ", MODE_STYLE))
        for k, s in enumerate(report.slices, 1):
            facts = slice_facts(s, report, k - 1)
            cards.append(_card(k, s.name, s.description, facts, _failing(s.examples)))
        checks = check_lines(report)
    elif isinstance(report, CoverageReport):
        kind, lines = "coverage audit", coverage_headline(report)
        for k, g in enumerate(report.gaps, 1):
            typical = g.representative_prompts[:3]
            extra = ["Typical prompts:"] if typical else []
            extra += [f'  "{clip(p)}"' for p in typical]
            cards.append(_card(k, g.name, g.description, gap_facts(g), extra))
    else:
        kind, lines = "model comparison", comparison_headline(report)
        a, b = report.model_a_name, report.model_b_name
        for k, s in enumerate(report.slices, 1):  # the significant slices
            facts = comparison_slice_facts(s, a, b)
            cards.append(_card(k, s.name, s.description, facts, []))
    parts.append(Rule(Text(f"faultmap {kind}", style="bold")))
    parts += [Text(line) for line in lines]
    steps = next_steps_block(report)
    if steps:
        parts += [Text(""), Text(steps[0], style="bold"), *(Text(line) for line in steps[1:])]
    if modes:
        parts += [Text(""), Rule(Text("Failure modes (one per problem)"), align="left")]
        parts += modes
        if cards:
            parts += [Text(""), Rule(Text("Slices"), align="left")]
    if cards:
        parts += [Text(""), _table(*summary_table(report)), *cards]
    if checks:
        parts += [Text(""), *(Text(line) for line in checks)]
    return Group(*parts)


@register("rich", AnalysisReport, CoverageReport, ComparisonReport)
def print_report(report: Report, console: Any = None) -> None:
    """Print ``report`` to ``console`` (default: a new ``rich.console.Console``).

    Example:
        >>> print_report(report)  # doctest: +SKIP
    """
    console_module = require("rich.console", extra="rich", purpose="the console view")
    (console or console_module.Console()).print(renderable(report))
