"""diff_reports: slices and failure modes of two analyses matched by shared prompts and by
meaning (faultmap.reports.diff)."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from faultmap import AnalysisReport, ConfigurationError, DataError, FailureSlice, SliceAnalyzer
from faultmap.cli import main
from faultmap.embedding import SentenceTransformerEmbedder
from faultmap.reports import validate_report
from faultmap.reports.diff import SliceDiff, diff_reports, load_report, prompt_digest
from faultmap.reports.models import Centroid, ClusterTest, FailureMode

# -- hand-built reports: the matching rule on its own ----------------------------------------


def _slice(name: str, members: list[str], universe: list[str], digests: bool = True):
    return FailureSlice(
        name=name,
        description="",
        size=len(members),
        failure_rate=0.8,
        baseline_rate=0.2,
        effect_size=4.0,
        p_value=1e-6,
        adjusted_p_value=1e-5,
        test_used="fisher",
        sample_indices=[universe.index(p) for p in members],
        prompt_digests=[prompt_digest(p) for p in members] if digests else [],
    )


def _mode(name: str, slices: list[int], members: list[str], universe: list[str]) -> FailureMode:
    return FailureMode(
        name=name,
        description="",
        size=len(members),
        num_failures=len(members) * 4 // 5,
        failure_rate=0.8,
        baseline_rate=0.2,
        effect_size=4.0,
        confidence_interval=(0.6, 0.9),
        p_value=1e-7,
        adjusted_p_value=1e-6,
        test_used="fisher",
        slices=slices,
        cluster_ids=slices,
        sample_indices=sorted(universe.index(p) for p in members),
        prompt_digests=[prompt_digest(p) for p in members],
    )


def _report(
    slices: dict[str, list[str]],
    universe: list[str],
    *,
    listed: bool = True,
    modes: dict[str, list[str]] | None = None,
    centroids: dict[str, Centroid] | None = None,
    clusters: list[Centroid] = (),
    fingerprint: str | None = None,
):
    """A report of ``slices`` (name -> members); with ``modes`` (name -> names of its
    slices) also failure modes, each the union of its slices (as the analysis makes them).
    ``centroids`` (name of a slice or mode -> its centroid), the centroids of its tested
    ``clusters`` and the embedding ``fingerprint`` make it comparable by meaning."""
    meta = {"prompt_digests": [prompt_digest(p) for p in universe]} if listed else {}
    names = list(slices)
    failure_modes = []
    if modes is not None:
        meta["modes"] = {"merge_level": 0.05}
        for name, parts in modes.items():
            members = list(dict.fromkeys(p for part in parts for p in slices[part]))
            failure_modes.append(_mode(name, [names.index(x) for x in parts], members, universe))
    centroids = centroids or {}
    return AnalysisReport(
        total_prompts=len(universe),
        total_failures=len(universe) // 5,
        baseline_failure_rate=0.2,
        num_significant=len(slices),
        slices=[
            replace(_slice(name, members, universe), centroid=centroids.get(name))
            for name, members in slices.items()
        ],
        clustering_method="hdbscan",
        embedding_model="test",
        metadata=meta,
        failure_modes=[replace(m, centroid=centroids.get(m.name)) for m in failure_modes],
        clusters=[
            ClusterTest(k, 20, 2, 0.5, 0.9, "fisher", centroid=c) for k, c in enumerate(clusters)
        ],
        embedding_fingerprint=fingerprint,
    )


def _notes(d: SliceDiff) -> list[str]:
    """The notes of a diff but the one every hand-built report without a fingerprint gets."""
    return [n for n in d.notes if "not record which embedding model" not in n]


P = [f"old prompt {i}" for i in range(100)]
Q = [f"new prompt {i}" for i in range(100)]


def test_prompt_digest_is_short_stable_and_normalised():
    composed, decomposed = "café au lait?", unicodedata.normalize("NFD", "café au lait?")
    assert composed != decomposed
    assert prompt_digest(composed) == prompt_digest(decomposed) == prompt_digest(f"  {composed}\n")
    assert len(prompt_digest("x")) == 16 and int(prompt_digest("x"), 16) >= 0
    assert prompt_digest("What is 2 + 2?") != prompt_digest("What is 2 + 3?")
    # Stable across processes and versions: a fixed value, not hash().
    assert prompt_digest("hello") == "2cf24dba5fb0a30e"


def test_same_report_twice_is_all_persisting():
    report = _report({"dates": P[:20], "steps": P[20:35]}, P)
    d = diff_reports(report, report)
    assert not d.has_new_slices and d.new == [] and d.resolved == [] and d.not_retested == []
    assert [(m.old.name, m.new.name, m.overlap) for m in d.persisting] == [
        ("dates", "dates", 1.0),
        ("steps", "steps", 1.0),
    ]
    assert d.matched_by == "prompt_digests" and d.shared_prompts == 100 and _notes(d) == []
    assert not d.meaning_compared and d.persisting[0].similarity is None
    assert d.persisting[0].matched_by == "prompts"


def test_different_prompt_sets_match_on_the_prompts_both_runs_saw():
    # OLD saw P; NEW saw P[22:] and Q. The old slice P[0:30] has only 8 prompts in NEW
    # (P[22:30]), all inside a new slice that is mostly new prompts. Among prompts both runs
    # saw, the overlap is 8/8: the failure persists. Uncut it would be 8/30 (no match).
    old = _report({"dates": P[:30]}, P)
    new = _report({"dates again": P[22:30] + Q[:32]}, P[22:] + Q)
    d = diff_reports(old, new)
    assert [(m.old.name, m.new.name, m.shared_prompts, m.overlap) for m in d.persisting] == [
        ("dates", "dates again", 8, 1.0)
    ]
    assert d.shared_prompts == 78 and not d.has_new_slices


def test_new_resolved_and_not_retested():
    old = _report({"gone": P[:20], "unseen": P[80:100], "kept": P[40:60]}, P)
    # NEW analysed P[:80] again (so 'unseen' was never retested) plus new prompts.
    new = _report({"kept": P[40:60], "fresh": Q[:25]}, P[:80] + Q[:50])
    d = diff_reports(old, new)
    assert [r.name for r in d.new] == ["fresh"]
    assert [r.name for r in d.resolved] == ["gone"]
    assert [r.name for r in d.not_retested] == ["unseen"]
    assert [m.new.name for m in d.persisting] == ["kept"]
    assert d.has_new_slices
    text = str(d)
    for fragment in ("1 new", "1 resolved", "1 persisting", "1 not retested", "fresh", "gone"):
        assert fragment in text
    data = json.loads(d.to_json())
    assert data["new"][0]["name"] == "fresh" and data["resolved"][0]["position"] == 0


def test_thresholds_at_their_boundaries():
    old = _report({"a": P[:20]}, P)
    half = _report({"b": P[10:30]}, P)  # 10 shared of min(20, 20): overlap exactly 0.5
    less = _report({"b": P[11:31]}, P)  # 9 / 20 = 0.45
    assert len(diff_reports(old, half).persisting) == 1
    assert diff_reports(old, less).persisting == []
    assert len(diff_reports(old, less, min_overlap=0.45).persisting) == 1
    tiny = _report({"b": P[18:20] + Q[:10]}, P + Q)  # 2 shared, overlap 2/2 after the cut
    old_full = _report({"a": P[:20]}, P)
    assert diff_reports(old_full, tiny).persisting == []  # fewer than min_shared=3
    assert len(diff_reports(old_full, tiny, min_shared=2).persisting) == 1


def test_split_slice_matches_both_parts_and_is_not_new():
    old = _report({"arithmetic": P[:40]}, P)
    new = _report({"sums": P[:20], "products": P[20:40]}, P)
    d = diff_reports(old, new)
    assert sorted(m.new.name for m in d.persisting) == ["products", "sums"]
    assert d.new == [] and d.resolved == []


def test_reports_without_digests_fall_back_to_sample_indices():
    old = _report({"a": P[:20]}, P).to_dict()
    new = _report({"a": P[5:25], "b": P[60:80]}, P).to_dict()
    for report in (old, new):
        for s in report["slices"]:
            del s["prompt_digests"]  # as written by an older faultmap
        report["metadata"] = {}
    d = diff_reports(old, new)
    assert d.matched_by == "sample_indices" and len(_notes(d)) == 1
    assert [m.new.name for m in d.persisting] == ["a"] and [r.name for r in d.new] == ["b"]
    new["total_prompts"] = 150
    assert len(_notes(diff_reports(old, new))) == 2  # different row counts: warned


def test_unlisted_prompts_count_an_old_slice_as_resolved_and_say_so():
    old = _report({"a": P[:20]}, P, listed=False)
    new = _report({}, Q, listed=False)
    d = diff_reports(old, new)
    assert [r.name for r in d.resolved] == ["a"] and d.shared_prompts is None
    assert any("does not list" in n for n in d.notes)


# -- failure modes: matched by the same rule, shown before the slices ----------------------------


def test_same_report_twice_has_every_mode_persisting_and_lists_modes_first():
    report = _report(
        {"dates": P[:20], "steps": P[20:35], "sports": P[50:70]},
        P,
        modes={"calendar": ["dates", "steps"], "games": ["sports"]},
    )
    d = diff_reports(report, report)
    assert d.modes_compared and not d.has_new_modes
    assert d.new_modes == d.resolved_modes == d.not_retested_modes == []
    assert [(m.old.name, m.new.name, m.overlap) for m in d.persisting_modes] == [
        ("calendar", "calendar", 1.0),
        ("games", "games", 1.0),
    ]
    assert d.persisting_modes[0].old.size == 35 and d.persisting_modes[0].shared_prompts == 35
    text = str(d)
    lines = text.splitlines()
    assert lines[0].startswith("faultmap diff: 0 new, 0 resolved, 3 persisting")  # slices
    assert lines[1] == "Failure modes: 0 new, 0 resolved, 2 persisting, 0 not retested."
    assert text.index("Persisting failure modes (OLD -> NEW):") < text.index(
        "Persisting slices (OLD -> NEW):"
    )
    assert "  - calendar -> calendar: 80.0% -> 80.0% fail, 35 shared prompts" in text
    assert repr(d) == "SliceDiff(new=0, resolved=0, persisting=3, not_retested=0, new_modes=0)"


def test_modes_new_resolved_not_retested_and_a_mode_that_grew():
    old = _report(
        {"a": P[:20], "b": P[20:30], "c": P[80:100], "d": P[40:60]},
        P,
        modes={"ab": ["a", "b"], "unseen": ["c"], "gone": ["d"]},
    )
    # NEW saw P[:80] (so mode 'unseen' was never retested) and new prompts; 'ab' grew by a
    # cluster of new prompts; 'd' was fixed; a new problem 'q' appeared.
    new = _report(
        {"a": P[:20], "b": P[20:30], "e": Q[:30], "q": Q[50:70]},
        P[:80] + Q,
        modes={"ab and more": ["a", "b", "e"], "fresh": ["q"]},
    )
    d = diff_reports(old, new)
    assert d.modes_compared and d.has_new_modes
    assert [(m.old.name, m.new.name, m.overlap) for m in d.persisting_modes] == [
        ("ab", "ab and more", 1.0)  # 30 shared of min(30, 30) among prompts both runs saw
    ]
    assert [r.name for r in d.new_modes] == ["fresh"] and d.new_modes[0].position == 1
    assert [r.name for r in d.resolved_modes] == ["gone"]
    assert [r.name for r in d.not_retested_modes] == ["unseen"]
    # the slices went through the same rule, separately
    assert [r.name for r in d.new] == ["e", "q"] and [r.name for r in d.resolved] == ["d"]
    data = json.loads(d.to_json())
    assert data["modes_compared"] is True
    assert data["new_modes"][0]["name"] == "fresh" and data["resolved_modes"][0]["position"] == 2
    text = str(d)
    assert text.index("New failure modes (in NEW only):") < text.index("New slices (in NEW only):")
    assert "Failure modes not retested (in OLD, too few of their prompts in NEW):" in text
    assert "Not retested (in OLD, too few of their prompts in NEW):" in text


def test_a_report_without_modes_compares_only_slices_and_says_so():
    older = _report({"a": P[:20]}, P)  # written before faultmap had failure modes
    newer = _report({"a": P[:20], "b": P[30:50]}, P, modes={"m": ["a", "b"]})
    for old, new, which in ((older, newer, "OLD"), (newer, older, "NEW")):
        d = diff_reports(old, new)
        assert not d.modes_compared and not d.has_new_modes and d.persisting_modes == []
        assert any(f"The {which} report has no failure modes" in n for n in d.notes)
        assert "Failure modes:" not in str(d)
    plain = diff_reports(older, older)
    assert not plain.modes_compared and _notes(plain) == []
    assert repr(plain) == "SliceDiff(new=0, resolved=0, persisting=1, not_retested=0)"
    # a run that looked for modes and found none is compared: its modes are resolved
    none_found = _report({"a": P[:20]}, P, modes={})
    d = diff_reports(newer, none_found)
    assert d.modes_compared and [r.name for r in d.resolved_modes] == ["m"]


def test_modes_without_digests_fall_back_to_sample_indices_with_the_slices():
    old = _report({"a": P[:20]}, P, modes={"m": ["a"]}).to_dict()
    new = _report({"a": P[5:25]}, P, modes={"m2": ["a"]}).to_dict()
    for report in (old, new):
        for item in report["slices"] + report["failure_modes"]:
            del item["prompt_digests"]
    d = diff_reports(old, new)
    assert d.matched_by == "sample_indices"
    assert [(m.old.name, m.new.name, m.shared_prompts) for m in d.persisting_modes] == [
        ("m", "m2", 15)
    ]


# -- by meaning: centroids in the embedding space, hand-built -------------------------------------


def _unit(*weights: float, dim: int = 8) -> np.ndarray:
    v = np.zeros(dim)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def _centroid(vector: np.ndarray, median: float = 0.8) -> Centroid:
    return Centroid.encode(vector, median_similarity=median, q10_similarity=median - 0.1)


FP = "sha256:" + "ab" * 32


def test_meaning_matches_the_same_failure_on_other_prompts():
    # OLD and NEW share no prompt. "dates" comes back on new prompts (its centre moved by
    # cosine 0.98, above both medians); "sports" is in a place OLD had nothing; OLD's "steps"
    # is gone where NEW tested a cluster (resolved), "colours" where NEW saw nothing.
    old = _report(
        {"dates": P[:20], "steps": P[20:40], "colours": P[40:60]},
        P,
        centroids={
            "dates": _centroid(_unit(1)),
            "steps": _centroid(_unit(0, 1)),
            "colours": _centroid(_unit(0, 0, 1)),
        },
        fingerprint=FP,
    )
    new = _report(
        {"dates again": Q[:20], "sports": Q[20:40]},
        Q,
        centroids={
            "dates again": _centroid(_unit(1, 0.2), 0.9),
            "sports": _centroid(_unit(0, 0, 0, 1)),
        },
        clusters=[_centroid(_unit(0, 1, 0.1), 0.85), _centroid(_unit(0, 0, 0, 0, 1))],
        fingerprint=FP,
    )
    d = diff_reports(old, new)
    assert d.meaning_compared and d.embedding_fingerprint == FP and d.shared_prompts == 0
    assert d.notes == []
    [m] = d.persisting
    assert (m.old.name, m.new.name, m.matched_by, m.shared_prompts, m.overlap) == (
        "dates",
        "dates again",
        "meaning",
        0,
        None,
    )
    assert m.similarity == pytest.approx(1 / np.sqrt(1.04), abs=2e-3)
    assert m.similarity_needed == 0.8  # the lower of the two medians
    assert [r.name for r in d.new] == ["sports"]
    assert [r.name for r in d.resolved] == ["steps"]
    assert [r.name for r in d.not_retested] == ["colours"]
    text = str(d)
    assert "matched by prompt digests and by meaning (same embedding model)" in text
    assert (
        "  - dates -> dates again: 80.0% -> 80.0% fail, 0 shared prompts, similarity 0.98 " in text
    )
    assert "(needed 0.80); by meaning" in text
    assert "or when the cosine similarity of their centroids" in text
    # the same reports matched by shared prompts only, as asked
    plain = diff_reports(old, new, by_meaning=False)
    assert not plain.meaning_compared and plain.persisting == []
    assert [r.name for r in plain.new] == ["dates again", "sports"]
    assert plain.notes == [
        "Findings were matched by shared prompts only, as asked (by_meaning=False)."
    ]


def test_meaning_needs_the_centres_as_close_as_half_the_members():
    # cos(centroids) = 0.8 exactly between the axes' mix; a match iff it reaches the lower median
    far = _unit(1, 0.75)  # cos to _unit(1) = 0.8
    for median, matched in ((0.78, True), (0.82, False)):
        old = _report({"a": P[:20]}, P, centroids={"a": _centroid(_unit(1), 0.95)}, fingerprint=FP)
        new = _report({"b": Q[:20]}, Q, centroids={"b": _centroid(far, median)}, fingerprint=FP)
        d = diff_reports(old, new)
        assert bool(d.persisting) is matched, median
        assert [r.name for r in d.new] == ([] if matched else ["b"])


def test_prompts_and_meaning_together_say_both():
    centroid = {"a": _centroid(_unit(1))}
    old = _report({"a": P[:20]}, P, centroids=centroid, fingerprint=FP)
    new = _report({"a": P[:20]}, P, centroids=centroid, fingerprint=FP)
    [m] = diff_reports(old, new).persisting
    assert (m.matched_by, m.shared_prompts, m.overlap, m.similarity) == ("both", 20, 1.0, 1.0)
    assert str(diff_reports(old, new)).count("; by shared prompts and meaning") == 1


def test_different_or_unknown_models_match_by_shared_prompts_only_and_say_so():
    centroids = {"a": _centroid(_unit(1))}
    old = _report({"a": P[:20]}, P, centroids=centroids, fingerprint=FP)
    other = _report(
        {"a2": Q[:20]}, Q, centroids={"a2": _centroid(_unit(1))}, fingerprint="litellm:x"
    )
    d = diff_reports(old, other)
    assert not d.meaning_compared and d.persisting == [] and [r.name for r in d.new] == ["a2"]
    assert d.embedding_fingerprint is None
    assert len(d.notes) == 1 and "embedded by different models" in d.notes[0]
    assert "shared prompts only" in d.notes[0] and "Note: The reports were embedded" in str(d)
    unknown = replace(other, embedding_fingerprint=None)
    d = diff_reports(old, unknown)
    assert not d.meaning_compared and "The NEW report does not record" in d.notes[0]
    # a report written before centroids existed: same model, still by shared prompts only
    older = old.to_dict()
    for s in older["slices"]:
        del s["centroid"]
    d = diff_reports(older, replace(other, embedding_fingerprint=FP))
    assert not d.meaning_compared and "The OLD report stores no centroids" in d.notes[0]


def test_a_slice_in_a_failure_mode_of_the_other_run_persists_in_it():
    # OLD found the mode "counting" (clusters a and b) but only a was significant alone; NEW
    # finds b alone. b is not new: it lies in OLD's mode. Likewise OLD's slice a lies in NEW's
    # mode, so it is not resolved.
    old = _report(
        {"a": P[:20]},
        P,
        modes={"counting": ["a"]},
        centroids={"a": _centroid(_unit(1, 0.3), 0.95), "counting": _centroid(_unit(1), 0.8)},
        fingerprint=FP,
    )
    new = _report(
        {"b": Q[:20]},
        Q,
        modes={"counting again": ["b"]},
        centroids={
            "b": _centroid(_unit(1, -0.3), 0.95),
            "counting again": _centroid(_unit(1), 0.8),
        },
        fingerprint=FP,
    )
    d = diff_reports(old, new)
    assert d.new == [] and d.resolved == [] and d.not_retested == []
    pairs = sorted((m.old.kind, m.old.name, m.new.kind, m.new.name) for m in d.persisting)
    assert pairs == [("mode", "counting", "slice", "b"), ("slice", "a", "mode", "counting again")]
    assert [(m.old.name, m.new.name) for m in d.persisting_modes] == [
        ("counting", "counting again")
    ]
    assert "  - counting (failure mode) -> b: " in str(d)


def test_the_html_views_show_the_table_with_the_evidence(tmp_path):
    old = _report(
        {"dates <b>": P[:20], "steps": P[20:40]},
        P,
        centroids={"dates <b>": _centroid(_unit(1)), "steps": _centroid(_unit(0, 1))},
        fingerprint=FP,
    )
    new = _report(
        {"dates": Q[:20]}, Q, centroids={"dates": _centroid(_unit(1, 0.2))}, fingerprint=FP
    )
    d = diff_reports(old, new)
    fragment = d._repr_html_()
    page = d.to_html(tmp_path / "diff.html")
    assert (tmp_path / "diff.html").read_text(encoding="utf-8") == page
    for html in (fragment, page):
        assert "<th scope='col'>similarity (needed)</th>" in html
        assert "<td class='fm-text'>meaning</td>" in html and "0.98 (0.80)" in html
        assert "dates &lt;b&gt;" in html and "<b>" not in html.replace("<body>", "")
        assert "not retested" in html
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    assert "<script" not in page and "<script" not in fragment


def test_load_report_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_report(tmp_path / "nope.json", name="OLD report")
    bad = tmp_path / "bad.json"
    bad.write_text('{"total_prompts": 3,\n "slices": [}', encoding="utf-8")
    with pytest.raises(DataError, match=r"not valid JSON \(line 2"):
        load_report(bad)
    other = tmp_path / "coverage.json"
    other.write_text(json.dumps({"overall_coverage_score": 0.9, "gaps": []}), encoding="utf-8")
    with pytest.raises(DataError, match="not a faultmap analysis report"):
        diff_reports(other, other)
    with pytest.raises(ConfigurationError, match="'min_overlap'"):
        diff_reports(_report({}, P), _report({}, P), min_overlap=0)
    with pytest.raises(ConfigurationError, match="'min_shared'"):
        diff_reports(_report({}, P), _report({}, P), min_shared=0)


# -- real analyses: real embedder, real clustering, two overlapping weeks of data -------------


@pytest.fixture(scope="module")
def two_weeks(sample_rows):
    """OLD: rows 0-359; NEW: rows 90-449 (270 prompts in both). In NEW the date questions
    were fixed (all pass) and sports questions broke (all fail)."""
    from faultmap.embedding import CachedEmbedder, SentenceTransformerEmbedder

    rows = sample_rows[:450]
    vectors = CachedEmbedder(SentenceTransformerEmbedder(max_text_chars=2000)).embed(
        [r["prompt"] for r in rows]
    )
    analyzer = SliceAnalyzer()

    def run(lo: int, hi: int, change: dict[str, float]) -> tuple[AnalysisReport, list[str]]:
        part = rows[lo:hi]
        scores = [change.get(r["task"], r["score"]) for r in part]
        report = analyzer.analyze(
            [r["prompt"] for r in part],
            [r["response"] for r in part],
            scores=scores,
            embeddings=vectors[lo:hi],
        )
        return report, [r["task"] for r in part]

    old = run(0, 360, {})
    new = run(90, 450, {"date_understanding": 1.0, "sports_understanding": 0.0})
    return old, new


def _main_task(report: AnalysisReport, tasks: list[str], position: int) -> tuple[str, float]:
    members = [tasks[i] for i in report.slices[position].sample_indices]
    top = max(set(members), key=members.count)
    return top, members.count(top) / len(members)


def test_real_runs_on_overlapping_prompt_sets(two_weeks, tmp_path):
    (old, old_tasks), (new, new_tasks) = two_weeks
    old.to_json(tmp_path / "old.json")
    new.to_json(tmp_path / "new.json")
    d = diff_reports(tmp_path / "old.json", tmp_path / "new.json")  # through the JSON files
    assert isinstance(d, SliceDiff) and d.matched_by == "prompt_digests"
    both = set(old.metadata["prompt_digests"]) & set(new.metadata["prompt_digests"])
    assert d.shared_prompts == len(both) > 250  # rows 90-359 (a few prompts repeat)
    new_tasks_found = [_main_task(new, new_tasks, r.position) for r in d.new]
    resolved_tasks = [_main_task(old, old_tasks, r.position) for r in d.resolved]
    persisting = [
        (
            _main_task(old, old_tasks, m.old.position)[0],
            _main_task(new, new_tasks, m.new.position)[0],
        )
        for m in d.persisting
    ]
    # The planted break is the (only) new slice; the fixed date slice is resolved; the
    # failures nobody touched (navigation, object counting) persist, matched to themselves.
    assert [t for t, share in new_tasks_found] == ["sports_understanding"], new_tasks_found
    assert new_tasks_found[0][1] >= 0.8
    assert "date_understanding" in [t for t, _ in resolved_tasks], resolved_tasks
    assert "sports_understanding" not in [t for t, _ in resolved_tasks]
    assert ("navigate", "navigate") in persisting and ("object_counting", "object_counting") in (
        persisting
    ), persisting
    assert all(a == b for a, b in persisting), persisting
    assert d.has_new_slices
    assert d.modes_compared  # both runs looked for failure modes


# -- by meaning on real prompts: one data set split in two halves by row ------------------------

PLANTED = ("object_counting", "date_understanding")
BROKEN = "intent_recognition"  # fails in the second half only


def _scores(tasks: np.ndarray, seed: int, failing: tuple[str, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.where(np.isin(tasks, failing), 0.8, 0.1)
    return np.where(rng.random(len(tasks)) < p, 0.0, 1.0)


@pytest.fixture(scope="module")
def halves(real_subset):
    """The session's real subset (1,200 prompts of 8 BIG-bench tasks, all-MiniLM-L6-v2 vectors)
    split by row: even rows are last week, odd rows this week, so no prompt is in both. The
    planted tasks fail in both halves; intent recognition breaks in the second half only.
    ``fixed``: the second half with the date questions fixed; ``unseen``: the second half
    without any date question."""
    prompts, tasks, vectors = real_subset["prompts"], real_subset["tasks"], real_subset["vectors"]
    analyzer = SliceAnalyzer(min_slice_size=10, map_projection=None)

    def run(rows: np.ndarray, scores: np.ndarray) -> tuple[AnalysisReport, np.ndarray]:
        report = analyzer.analyze(
            [prompts[i] for i in rows],
            ["r"] * len(rows),
            scores=scores[rows],
            embeddings=vectors[rows],
            embeddings_model="all-MiniLM-L6-v2",  # the model that made the vectors
        )
        return report, tasks[rows]

    even, odd = np.arange(0, len(tasks), 2), np.arange(1, len(tasks), 2)
    this_week = _scores(tasks, 3, (*PLANTED, BROKEN))
    dates_fixed = _scores(tasks, 3, ("object_counting", BROKEN))
    return {
        "old": run(even, _scores(tasks, 2, PLANTED)),
        "new": run(odd, this_week),
        "fixed": run(odd, dates_fixed),
        "unseen": run(odd[tasks[odd] != "date_understanding"], dates_fixed),
    }


def _task(report: AnalysisReport, tasks: np.ndarray, ref) -> str:
    """The task most members of a diff's slice or mode come from."""
    item = (report.failure_modes if ref.kind == "mode" else report.slices)[ref.position]
    return str(Counter(tasks[item.sample_indices]).most_common(1)[0][0])


def test_halves_every_planted_failure_persists_and_the_broken_task_is_new(halves, tmp_path):
    (old, old_tasks), (new, new_tasks) = halves["old"], halves["new"]
    old.to_json(tmp_path / "old.json")
    new.to_json(tmp_path / "new.json")
    d = diff_reports(tmp_path / "old.json", tmp_path / "new.json")  # through the JSON files
    assert d.meaning_compared and d.notes == [] and d.shared_prompts == 0
    assert d.embedding_fingerprint == SentenceTransformerEmbedder().fingerprint is not None

    def pairs(matches):
        return [(_task(old, old_tasks, m.old), _task(new, new_tasks, m.new)) for m in matches]

    # Failure modes, one per problem: each planted task persists, matched to itself by meaning
    # (0 shared prompts); the task that broke this week is new; nothing else moves.
    assert sorted(pairs(d.persisting_modes)) == sorted((t, t) for t in PLANTED)
    for m in d.persisting_modes:
        assert m.matched_by == "meaning" and m.shared_prompts == 0
        assert m.similarity >= m.similarity_needed and m.similarity > 0.95
    assert d.new_modes and {_task(new, new_tasks, r) for r in d.new_modes} == {BROKEN}
    assert d.resolved_modes == [] and d.not_retested_modes == []
    # Slices: every persisting pair is one task with itself, each planted task persists, and
    # every new slice is the broken task, which never persists.
    assert all(a == b for a, b in pairs(d.persisting)), pairs(d.persisting)
    assert {a for a, _ in pairs(d.persisting)} == set(PLANTED)
    assert d.new and {_task(new, new_tasks, r) for r in d.new} == {BROKEN}
    assert d.not_retested == [] and d.has_new_slices
    # the reports carry what the diff needed, and it survives the JSON files
    assert old.embedding_fingerprint == d.embedding_fingerprint
    assert all(x.centroid is not None for x in [*old.slices, *old.failure_modes, *old.clusters])
    assert AnalysisReport.from_json(tmp_path / "old.json") == old
    assert validate_report(tmp_path / "new.json") == "analysis"


def test_halves_a_fixed_failure_is_resolved_and_an_unseen_one_not_retested(halves):
    (old, old_tasks), (fixed, _) = halves["old"], halves["fixed"]
    d = diff_reports(old, fixed)
    # NEW still tested clusters of date questions (they pass now): resolved, by meaning
    assert [_task(old, old_tasks, r) for r in d.resolved_modes] == ["date_understanding"]
    assert "date_understanding" not in {_task(old, old_tasks, m.old) for m in d.persisting_modes}
    unseen, _ = halves["unseen"]
    d = diff_reports(old, unseen)
    # NEW had no date question at all: nothing tells whether the failure is gone
    assert [_task(old, old_tasks, r) for r in d.not_retested_modes] == ["date_understanding"]
    assert d.resolved_modes == []


def test_halves_on_the_command_line(halves, tmp_path, capsys):
    (old, _), (new, _) = halves["old"], halves["new"]
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    old.to_json(old_path)
    new.to_json(new_path)
    assert main(["diff", str(old_path), str(new_path), "--out", str(tmp_path / "d.html")]) == 1
    out = capsys.readouterr().out
    assert "matched by prompt digests and by meaning (same embedding model)" in out
    assert "0 shared prompts, similarity 0.9" in out and "; by meaning" in out
    assert "<th scope='col'>similarity (needed)</th>" in (tmp_path / "d.html").read_text()
    assert main(["diff", str(old_path), str(new_path), "--prompts-only", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert ", 0 persisting," in out and "as asked (by_meaning=False)" in out
    other = json.loads(new_path.read_text())
    other["embedding_fingerprint"] = "litellm:text-embedding-3-small"
    new_path.write_text(json.dumps(other))
    assert main(["diff", str(old_path), str(new_path), "--json", "-", "--quiet"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["meaning_compared"] is False and data["persisting"] == []
    assert "embedded by different models" in data["notes"][0]
