"""The HTML views: the self-contained page opened in a real headless Chromium, and the
compact view Jupyter shows.

The browser tests load each page from disk with JavaScript on, then read the DOM as it stands
after the page's script ran (``--dump-dom``). The hostile prompts and names of
``report_samples`` would set ``data-pwned`` on <html> or change the title if any of them ran.
They are marked ``browser`` and fail (never skip) when Chromium is missing: install it with
``apt-get install -y --no-install-recommends chromium`` (``make browser`` does), or deselect
them with ``-m "not browser"``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_samples import (
    HOSTILE_MODE,
    PAYLOADS,
    analysis_report,
    comparison_report,
    coverage_report,
    evidence_report,
)

from faultmap import AnalysisReport
from faultmap.reports.html import CONTENT_SECURITY_POLICY, _json_block

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--virtual-time-budget=5000",
)


class Dom(HTMLParser):
    """Elements (tag, attributes) and the text inside each element that has an id."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, str] = {}
        self.all_text: list[str] = []
        self._open: list[str | None] = []
        self.page = page
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag not in ("meta", "link", "br", "hr", "input", "img", "circle", "line", "rect"):
            self._open.append(dict(attrs).get("id"))

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("circle", "line", "rect"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        self.all_text.append(data)
        for ident in self._open:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def root(self) -> dict[str, str | None]:
        return next(a for t, a in self.elements if t == "html")

    def title(self) -> str:
        return self.page.split("<title>", 1)[1].split("</title>", 1)[0]

    def table_rows(self) -> list[list[dict[str, str | None]]]:
        """The ``<td>`` attributes of every row of the slice table, in page order."""
        rows: list[list[dict[str, str | None]]] = []
        for tag, attrs in self.elements:
            if tag == "tr" and "data-group" in attrs:
                rows.append([])
            elif tag == "td" and rows and "data-v" in attrs:
                rows[-1].append(attrs)
        return rows

    def circles(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == "circle" and "data-i" in a]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None and os.path.exists("/usr/bin/chromium"):
        path = "/usr/bin/chromium"
    if path is None:
        pytest.fail(
            "The browser tests need Chromium: apt-get install -y --no-install-recommends "
            "chromium (or `make browser`); deselect them with -m 'not browser'."
        )
    return path


@pytest.fixture
def open_page(chromium: str, tmp_path: Path) -> Any:
    def load(page: str, fragment: str = "") -> Dom:
        path = tmp_path / "report.html"
        path.write_text(page, encoding="utf-8")
        profile = tmp_path / "profile"
        result = subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--dump-dom",
                path.as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert "<html" in result.stdout, result.stderr[-2000:]
        return Dom(result.stdout)

    return load


def _hostile_point(report: Any, payload: str) -> int:
    return next(i for i, t in enumerate(report.map["text"]) if payload[:25] in t)


def _assert_nothing_ran(dom: Dom, title: str) -> None:
    root = dom.root()
    assert root.get("data-fm-ready") == "1"  # the page's own script ran...
    assert "data-pwned" not in root  # ...and none of the injected ones
    assert dom.title() == title
    assert not dom.find("img") and not dom.find("textarea") and not dom.find("iframe")
    assert all("onload" not in a and "onerror" not in a for _, a in dom.elements)
    assert len(dom.find("script")) == 2  # the JSON data block and the page's script
    assert "PWNED" in "".join(dom.all_text)  # the payload is there, as text


# -- in the browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_analysis_page_renders_table_map_and_cards(open_page: Any) -> None:
    report = analysis_report()
    dom = open_page(report.to_html())
    _assert_nothing_ran(dom, "faultmap analysis")
    assert len(dom.table_rows()) == report.num_significant >= 2
    assert len(dom.circles()) == len(report.map["x"]) == report.total_prompts
    assert len(dom.find("article", **{"class": "fm-card"})) == report.num_significant
    text = "".join(dom.all_text)
    for s in report.slices:
        assert s.name in text  # the hostile names, as text
        assert s.root_cause in text and s.suggested_remediation in text
    for payload in PAYLOADS[:4]:
        assert payload in text


@pytest.mark.browser
def test_hover_text_reaches_the_page_as_text(open_page: Any) -> None:
    report = analysis_report()
    for payload in PAYLOADS:
        i = _hostile_point(report, payload)
        dom = open_page(report.to_html(), f"#point={i}")
        _assert_nothing_ran(dom, "faultmap analysis")
        tip = dom.text["fm-tip"]
        assert report.map["text"][i] in tip
        assert " ".join(payload.split()) in tip  # the map's text has its spaces collapsed
        assert f"row {report.map['index'][i]}" in tip


@pytest.mark.browser
def test_escaping_alone_keeps_the_payloads_inert(open_page: Any) -> None:
    """Without the Content-Security-Policy the escaping must still hold on its own."""
    page = analysis_report().to_html()
    meta = f"<meta http-equiv='Content-Security-Policy' content=\"{CONTENT_SECURITY_POLICY}\">"
    assert page.count(meta) == 1
    dom = open_page(page.replace(meta, ""))
    _assert_nothing_ran(dom, "faultmap analysis")


@pytest.mark.browser
def test_the_policy_blocks_a_script_that_got_in(open_page: Any) -> None:
    """Defence in depth: had a script slipped through, the policy would stop it."""
    page = analysis_report().to_html()
    injected = page.replace(
        "<main>", "<main><script>document.documentElement.dataset.pwned='csp'</script>", 1
    )
    dom = open_page(injected)
    assert dom.root().get("data-fm-ready") == "1"
    assert "data-pwned" not in dom.root()


@pytest.mark.browser
def test_table_sorts(open_page: Any) -> None:
    report = analysis_report()
    for order in ("descending", "ascending"):
        dom = open_page(report.to_html(), f"#sort=2&order={order}")  # column 2: size
        sizes = [int(str(row[2]["data-v"])) for row in dom.table_rows()]
        assert sorted(sizes, reverse=order == "descending") == sizes
        assert sorted(sizes) == sorted(s.size for s in report.slices)
        heads = [a for t, a in dom.elements if t == "th" and a.get("data-key") == "2"]
        assert heads[0]["aria-sort"] == order


@pytest.mark.browser
def test_3d_map_renders(open_page: Any) -> None:
    report = analysis_report(map_dims=3, hostile_names=False)
    assert report.map["dims"] == 3 and len(report.map["z"]) == report.total_prompts
    dom = open_page(report.to_html(), "#point=0")
    _assert_nothing_ran(dom, "faultmap analysis")
    assert len(dom.circles()) == 200
    assert report.map["text"][0] in dom.text["fm-tip"]


@pytest.mark.browser
def test_failure_modes_come_first_and_the_slice_table_still_sorts(open_page: Any) -> None:
    report = evidence_report()
    page = report.to_html()
    dom = open_page(page, "#sort=2&order=descending")  # column 2 of the slice table: size
    _assert_nothing_ran(dom, "faultmap analysis")
    modes = dom.find("article", **{"class": "fm-mode"})
    assert [a["id"] for a in modes] == ["fm-mode-1", "fm-mode-2"]
    assert len(dom.find("article", **{"class": "fm-card"})) == report.num_significant
    sizes = [int(str(row[2]["data-v"])) for row in dom.table_rows()]  # the slices only
    assert sizes == sorted((s.size for s in report.slices), reverse=True)
    text = "".join(dom.all_text)
    assert HOSTILE_MODE in text  # as text
    assert "Null audit: 200 permuted runs" in text
    assert text.index("Failure modes") < text.index("Mode 1. Counting and walking")
    assert text.index(f"Mode 2. {HOSTILE_MODE}") < text.index("Click a column to sort")


@pytest.mark.browser
@pytest.mark.parametrize(
    "build", [coverage_report, comparison_report], ids=["coverage", "comparison"]
)
def test_coverage_and_comparison_pages_render(open_page: Any, build: Any) -> None:
    report = build()
    kind = "coverage audit" if hasattr(report, "gaps") else "model comparison"
    dom = open_page(report.to_html(), "#point=0")
    _assert_nothing_ran(dom, f"faultmap {kind}")
    items = report.gaps if hasattr(report, "gaps") else report.tested_slices
    assert len(dom.table_rows()) == len(items) > 0
    assert len(dom.circles()) == len(report.map["x"]) > 0
    assert report.map["text"][0] in dom.text["fm-tip"]
    text = "".join(dom.all_text)
    for payload in PAYLOADS[:4]:
        assert payload in text


# -- the page as a file ------------------------------------------------------------------------


def test_page_loads_nothing_from_outside(tmp_path: Path) -> None:
    report = analysis_report()
    path = tmp_path / "report.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    dom = Dom(page)
    assert not dom.find("link") and not dom.find("img") and not dom.find("iframe")
    for _, attrs in dom.elements:
        assert "src" not in attrs
        assert str(attrs.get("href") or "#").startswith("#")
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "url(" not in page.split("<body>", 1)[0]  # no fonts or images from anywhere


def test_data_block_cannot_end_its_script_element() -> None:
    report = analysis_report()
    page = report.to_html()
    assert page.lower().count("<script") == 2 and page.lower().count("</script") == 2
    hostile = {"text": ["</script><script>alert(1)</script>", "<!--", "a & b", "\u2028"]}
    block = _json_block(hostile)
    assert "<" not in block and ">" not in block and "&" not in block
    assert json.loads(block) == hostile


def test_page_size_is_bounded_for_5000_points() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    report = AnalysisReport(
        total_prompts=50_000,
        total_failures=5_000,
        baseline_failure_rate=0.1,
        num_significant=0,
        slices=[],
        clustering_method="hdbscan",
        embedding_model="test",
        map={
            "projection": "pca",
            "dims": 2,
            "total_points": 50_000,
            "x": rng.uniform(-1, 1, n).round(4).tolist(),
            "y": rng.uniform(-1, 1, n).round(4).tolist(),
            "index": list(range(n)),
            "label": rng.integers(-1, 30, n).tolist(),
            "failed": (rng.random(n) < 0.1).tolist(),
            "text": ["x" * 199 + "…"] * n,
        },
    )
    page = report.to_html()
    assert len(page.encode("utf-8")) < 2_500_000
    assert page.count("<circle class='g") == n
    assert "5,000 of 50,000 prompts" in page


def test_report_without_map_still_renders() -> None:
    report = AnalysisReport.from_dict({**analysis_report().to_dict(), "map": {}})
    page = report.to_html()
    assert "Map of the prompts" not in page and "fm-card-1" in page
    assert "<svg id='fm-map'" not in page


# -- the compact view (Jupyter) -----------------------------------------------------------------


def test_compact_view_has_no_script_and_escapes_everything() -> None:
    for report in (analysis_report(), coverage_report(), comparison_report()):
        html = report._repr_html_()
        assert "<script" not in html.lower()
        assert "<img" not in html and "<textarea" not in html.lower()
        assert "&lt;script&gt;" in html
        dom = Dom(html)
        assert all("onload" not in a and "onerror" not in a for _, a in dom.elements)
        assert dom.find("svg", **{"class": "fm-map"})  # the static map
        assert len(dom.find("circle")) <= 600 + 100  # points, and the dots of the intervals
        assert "PWNED" in "".join(dom.all_text)


# -- failure modes, evidence and checks ------------------------------------------------------


def test_modes_section_comes_first_with_links_evidence_and_checks() -> None:
    report = evidence_report()
    page = report.to_html()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert HOSTILE_MODE not in page and escaped in page
    assert page.lower().count("<script") == 2  # the data block and the page's own script
    meta = f"<meta http-equiv='Content-Security-Policy' content=\"{CONTENT_SECURITY_POLICY}\">"
    assert page.count(meta) == 1
    # order: the modes' table and cards, then the slices' table, map and cards, then checks
    order = [
        "<section class='fm-modes'>",
        "<table class='fm-table'>",  # the modes: not sortable, not tied to the map
        "id='fm-mode-1'",
        "id='fm-mode-2'",
        "<table class='fm-table fm-sortable'>",
        "id='fm-map'",
        "id='fm-card-1'",
        "<section class='fm-checks'>",
        "<footer>",
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert f"<h3>Mode 2. {escaped}</h3>" in page
    assert f"<a href='#fm-mode-2'>{escaped}</a>" in page  # the modes table links the card
    dom = Dom(page)
    assert len(dom.table_rows()) == report.num_significant  # only slice rows are map groups
    # a mode's card links its slices' cards
    first = page[page.index("id='fm-mode-1'") : page.index("id='fm-mode-2'")]
    assert "<a href='#fm-card-1'>1. " in first and "<a href='#fm-card-2'>2. " in first
    assert "Evidence: stability 0.9 (of 20 reruns) · held-out p = 0.003" in first
    second = page[page.index("id='fm-mode-2'") : page.index("fm-sortable")]
    assert "<li class='fm-warning'>Warning: the name does not pick out its members" in second
    card = page[page.index("id='fm-card-1'") : page.index("id='fm-card-2'")]
    assert "Part of failure mode 1 (Counting and walking)." in card
    assert "Evidence: stability 0.95 (of 20 reruns)" in card
    checks = page[page.index("<section class='fm-checks'>") : page.index("<footer>")]
    for word in ("Held-out confirmation:", "Stability:", "Name check", "Null audit:"):
        assert word in checks
    assert "clusters were tested without a finding" in checks
    assert "<dt>failure modes</dt>" not in page  # figures, not settings
    assert "<div class='fm-value'>2</div><div class='fm-caption'>failure modes</div>" in page


def test_compact_view_shows_modes_first_and_escapes_them() -> None:
    report = evidence_report()
    html = report._repr_html_()
    assert "<script" not in html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert (
        html.index("<h4>Failure modes</h4>")
        < html.index("<summary>Mode 1. Counting and walking</summary>")
        < html.index("<h4>Slices</h4>")
        < html.index("fm-sortable")
        < html.index("<summary>1. ")
        < html.index("Null audit:")
    )
    assert "class='fm-warning'" in html
    assert "href='#fm-card-1'" not in html.split("<h4>Slices</h4>")[0]  # no ids to link to


def test_a_report_without_modes_has_no_modes_section() -> None:
    report = dataclasses.replace(evidence_report(), failure_modes=[], mode_nodes=[])
    page = report.to_html()
    assert "<section class='fm-modes'>" not in page and "id='fm-mode-1'" not in page
    assert "Part of failure mode" not in page and "<h4>Failure modes</h4>" not in (
        report._repr_html_()
    )
    assert "<section class='fm-checks'>" in page  # evidence, power and null audit stay


# -- layout and behaviour at 1,400 px (issue 16) -------------------------------------------

#: Run in the page (the policy removed so that it may) after the page's own script: measures
#: the layout at the window's width and builds a CSV through the page's own download button.
PROBE = """<script>
window.addEventListener('load', function () {
  var out = {}, d = document.documentElement;
  out.overflow = d.scrollWidth - d.clientWidth;
  out.clipped = Array.prototype.filter.call(document.querySelectorAll('td,th'), function (c) {
    return c.scrollWidth > c.clientWidth + 1;
  }).map(function (c) { return c.textContent.slice(0, 40); });
  out.fills = Array.prototype.map.call(document.querySelectorAll('circle[data-i]'), function (c) {
    return getComputedStyle(c).fill;
  });
  out.marked = Array.prototype.map.call(document.querySelectorAll('circle.fm-mark'), function (c) {
    return [parseInt(c.getAttribute('data-i'), 10), getComputedStyle(c).stroke];
  });
  var blobs = [];
  URL.createObjectURL = function (b) { blobs.push(b); return 'blob:none'; };
  HTMLAnchorElement.prototype.click = function () {};
  var button = document.querySelector("button.fm-csv[data-csv='0']");
  if (button) { button.click(); }
  (blobs.length ? blobs[0].text() : Promise.resolve('')).then(function (text) {
    out.csv = text;
    var el = document.createElement('pre');
    el.id = 'fm-probe';
    el.textContent = JSON.stringify(out);
    document.body.appendChild(el);
  });
});
</script>"""


@pytest.fixture
def probe(chromium: str, tmp_path: Path) -> Any:
    def load(page: str, fragment: str = "") -> tuple[Dom, dict[str, Any]]:
        meta = f"<meta http-equiv='Content-Security-Policy' content=\"{CONTENT_SECURITY_POLICY}\">"
        page = page.replace(meta, "").replace("</body>", PROBE + "</body>")
        path = tmp_path / "probe.html"
        path.write_text(page, encoding="utf-8")
        result = subprocess.run(
            [
                chromium,
                *FLAGS,
                "--window-size=1400,1000",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--dump-dom",
                path.as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        dom = Dom(result.stdout)
        return dom, json.loads(dom.text["fm-probe"])

    return load


def _many_slices(report: Any, n: int) -> Any:
    """``report`` with ``n`` slices (copies of its first one), the map's points dealt among
    them."""
    first = report.slices[0]
    slices = [dataclasses.replace(first, cluster_id=k, name=f"slice {k}") for k in range(n)]
    labels = [i % n for i in range(len(report.map["label"]))]
    return dataclasses.replace(
        report,
        slices=slices,
        num_significant=n,
        failure_modes=[],
        map={**report.map, "label": labels},
    )


@pytest.mark.browser
@pytest.mark.parametrize(
    "build",
    [analysis_report, coverage_report, comparison_report],
    ids=["analysis", "coverage", "comparison"],
)
def test_the_page_fits_1400_px_and_clips_nothing(probe: Any, build: Any) -> None:
    _, out = probe(build().to_html())
    assert out["overflow"] <= 0
    assert out["clipped"] == []


def test_no_word_breaks_inside_and_long_tokens_still_wrap() -> None:
    css = (Path(__file__).resolve().parents[1] / "faultmap/reports/html/page.css").read_text()
    assert "anywhere" not in css and "word-break" not in css
    report = analysis_report(hostile_names=False)
    token = "x" * 75
    first = report.slices[0]
    report = dataclasses.replace(
        report,
        slices=[
            dataclasses.replace(first, representative_prompts=[f"row 08/31/2074 {token}"]),
            *report.slices[1:],
        ],
    )
    page = report.to_html()
    assert "row 08/31/2074 " + "x" * 30 + "<wbr>" + "x" * 30 + "<wbr>" + "x" * 15 in page


@pytest.mark.browser
def test_the_comparison_page_greys_ties_and_marks_discordant_points(probe: Any) -> None:
    report = comparison_report()
    dom, out = probe(report.to_html())
    rows = [a for t, a in dom.elements if t == "tr" and "data-group" in a]
    classes = [a["class"] for a in rows]
    assert classes == [
        "fm-significant" if s.significant else "fm-tie" for s in report.tested_slices
    ]
    assert "fm-tie" in classes
    outcome = report.map["outcome"]
    assert sorted(i for i, _ in out["marked"]) == [
        i for i, o in enumerate(outcome) if o in ("a", "b")
    ]
    text = "".join(dom.all_text)
    assert "share of these" not in text and "50.0%" not in text
    assert "where exactly one model failed" in text
    assert "no difference" in text


@pytest.mark.browser
def test_more_than_ten_slices_get_distinct_colours(probe: Any) -> None:
    report = _many_slices(analysis_report(hostile_names=False), 14)
    _, out = probe(report.to_html())
    assert len({f for f in out["fills"]}) > 10


@pytest.mark.browser
def test_failed_points_are_drawn_without_hover_and_the_tip_has_response_and_score(
    open_page: Any, probe: Any
) -> None:
    report = analysis_report(hostile_names=False)
    _, out = probe(report.to_html())
    failed = [i for i, f in enumerate(report.map["failed"]) if f]
    assert sorted(i for i, _ in out["marked"]) == failed
    assert all(stroke not in ("none", "") for _, stroke in out["marked"])
    i = failed[0]
    tip = open_page(report.to_html(), f"#point={i}").text["fm-tip"]
    assert report.map["response"][i][:40] in tip
    assert f"score: {report.map['score'][i]:.2f}" in tip


@pytest.mark.browser
def test_the_csv_download_holds_the_slice_rows_quoted_and_defused(probe: Any) -> None:
    import csv
    import io

    report = analysis_report()
    _, out = probe(report.to_html())
    rows = list(csv.reader(io.StringIO(out["csv"].lstrip("\ufeff"))))
    assert rows[0] == ["row", "group", "status", "prompt", "score", "response"]
    members = [i for i, g in enumerate(report.map["label"]) if g == report.slices[0].cluster_id]
    assert len(rows) - 1 == len(members)
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(report.map["index"][i] for i in members)
    for r in rows[1:]:
        for value in r[1:]:
            assert value[:1] not in ("=", "+", "-", "@")  # a formula becomes text
    texts = {r[3].lstrip("'") for r in rows[1:]}
    assert {report.map["text"][i] for i in members} == texts


def test_the_csv_cell_defuses_formulas() -> None:
    script = (Path(__file__).resolve().parents[1] / "faultmap/reports/html/page.js").read_text()
    assert "/^[=+\\-@\\t\\r]/" in script and 'replace(/"/g, \'""\')' in script


@pytest.mark.browser
def test_what_to_do_next_without_an_llm(open_page: Any) -> None:
    from faultmap.reports.text import next_steps

    report = analysis_report(hostile_names=False)
    assert not any(s.suggested_remediation for s in report.slices)
    dom = open_page(report.to_html())
    text = dom.text["fm-next"]
    assert "What to do next" in text
    assert next_steps(report)[0] in text
    assert "Look first at slice" in text and "excess failures" in text
