"""What changed between two analyses: new, resolved and persisting failure modes and slices.

Two findings (two slices, or two failure modes) of two reports are the same failure when they
hold the same prompts, or when they lie in the same place of the embedding space. So the
reports may come from different data: last week's and this week's production logs, where the
same failure comes back on new prompts, or a grown test suite.

**By shared prompts.** Every finding carries ``prompt_digests``, a short digest of each member
prompt's text (:func:`prompt_digest`), and every report lists the digests of all the prompts
it analysed in ``metadata["prompt_digests"]``. For an OLD finding ``A`` and a NEW finding
``B``, only prompts that both runs analysed can be shared, so each set is first cut to the
prompts the *other* run saw (when the report lists them): ``A' = A ∩ prompts(NEW)``,
``B' = B ∩ prompts(OLD)``. They match when they share at least ``min_shared`` prompts (3) and
the overlap coefficient ``|A ∩ B| / min(|A'|, |B'|)`` is at least ``min_overlap`` (0.5). The
overlap coefficient (rather than Jaccard) keeps a match when a finding grows or shrinks
between runs: an old slice of 20 prompts inside a new slice of 60 has overlap 1.0 but
Jaccard 0.33. Reports written before digests existed are matched by ``sample_indices``
instead, which is only meaningful when both runs analysed the same rows in the same order;
the diff says so.

**By meaning.** Every finding also stores its ``centroid``
(:class:`~faultmap.reports.models.Centroid`: the members' mean unit vector, renormalised) and
``m``, its ``median_similarity``, the median cosine similarity of its members to the
centroid (half of the members are at least that similar). ``A`` and ``B`` match when::

    cos(centroid_A, centroid_B) >= min(m_A, m_B)

that is, when the centre of one lies at least as close to the centre of the other as half of
that other's own members do. A centroid averages away its members' scatter, so the same
failure drawn again on other prompts has its centre far closer to the first centre than a
typical member is; a finding that shrank to part of what it was (or grew) has its centre
inside the broader one, which the lower of the two medians admits; and the threshold comes
from the findings' own spread rather than a fixed cosine, so it carries over to models whose
cosines sit on other scales. Calibration on two halves of the bundled BIG-bench sample
(all-MiniLM-L6-v2; ``benchmarks/README.md``, "Diff by meaning"): the same cluster drawn on the
two halves has centroid similarity 0.99 to 1.00 against medians of 0.74 to 0.98; clusters
of different tasks at most 0.25; different clusters of one task 0.42 to 0.85, below the
lower of their two medians, so they stay apart. Meaning is compared only when both reports
store centroids and were embedded by the same weights (``embedding_fingerprint``, see
:mod:`faultmap.embedding.fingerprint`; vectors of two models live in unrelated spaces).
Otherwise findings are matched by shared prompts only, and the diff says so in its notes.

Every match (:class:`~faultmap.reports.models.SliceMatch`) carries its evidence:
``shared_prompts``, ``overlap``, ``similarity`` (the two centroids' cosine),
``similarity_needed`` and ``matched_by`` (``"prompts"``, ``"meaning"`` or ``"both"``). Matching
is many-to-many (a finding that split or merged matches several). A NEW finding that matches
none is **new**. An OLD finding that matches none is **resolved** when NEW looked at it again
and found no failure there: at least half of its prompts were analysed by NEW, or (by
meaning) NEW tested a cluster that matches it by the rule above (``report.clusters`` store
their centroids too); otherwise it is **not retested** (NEW saw too little of it to tell).

Failure modes (``report.failure_modes``) are matched by exactly the same rule and code, on
their own prompts and centroids, and sorted into ``new_modes``, ``resolved_modes``,
``persisting_modes`` and ``not_retested_modes``. They are compared only when both reports
looked for modes (a report written before faultmap had them has none); the diff says so
otherwise. When both have modes, a slice that matches no slice of the other run but matches
one of its failure modes (same rule) is the same failure found at another grain (a cluster
significant on its own in one run only, the rest of its mode in both), so it persists,
matched to that mode (the mode's side of the match has ``kind`` ``"mode"``), rather than
being new or resolved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from faultmap._numeric import within
from faultmap._text import prompt_digest
from faultmap._validation import BOOL, Interval, check_param
from faultmap.exceptions import DataError
from faultmap.reports.models import (
    AnalysisReport,
    ClusterTest,
    FailureMode,
    FailureSlice,
    SliceDiff,
    SliceMatch,
    SliceRef,
)

__all__ = ["SliceDiff", "SliceMatch", "SliceRef", "diff_reports", "load_report", "prompt_digest"]


def load_report(source: str | Path | Mapping[str, Any], *, name: str = "report") -> AnalysisReport:
    """Read an :class:`~faultmap.AnalysisReport` from a JSON file, a JSON string or a dict,
    with a :class:`~faultmap.DataError` naming ``name`` when it is not one.

    Example:
        >>> report = load_report("report.json")  # doctest: +SKIP
    """
    if isinstance(source, AnalysisReport):
        return source
    if isinstance(source, Mapping):
        data: Any = dict(source)
        where = name
    else:
        text = str(source)
        where = name if text.lstrip().startswith("{") else f"{name} file '{source}'"
        try:
            if where != name:
                text = Path(source).read_text(encoding="utf-8")
            data = json.loads(text)
        except FileNotFoundError as exc:
            raise DataError(f"The {where} does not exist; check the path.") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"The {where} cannot be read ({exc}).") from exc
        except json.JSONDecodeError as exc:
            raise DataError(
                f"The {where} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}); pass a file written by report.to_json()."
            ) from exc
    required = {"total_prompts", "slices", "baseline_failure_rate"}
    if not isinstance(data, dict) or not required <= set(data):
        raise DataError(
            f"The {where} is not a faultmap analysis report (it lacks "
            f"{', '.join(sorted(required - set(data if isinstance(data, dict) else ())))}); "
            "pass a file written by AnalysisReport.to_json() or `faultmap analyze --json`."
        )
    try:
        return AnalysisReport.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise DataError(f"The {where} is not a valid analysis report ({exc}).") from exc


Finding = FailureSlice | FailureMode


def _members(items: Sequence[Finding], use_digests: bool) -> list[set[Any]]:
    if use_digests:
        return [set(s.prompt_digests) for s in items]
    return [set(s.sample_indices) for s in items]


def _has_modes(report: AnalysisReport) -> bool:
    """Whether a report looked for failure modes (a report written before faultmap had them
    has neither modes nor their settings in its metadata)."""
    return bool(report.failure_modes) or report.metadata.get("modes") is not None


class _Centres(NamedTuple):
    """Unit centroids (one row per finding or cluster) and their median similarities."""

    vectors: np.ndarray
    medians: np.ndarray


def _centres(items: Sequence[Finding | ClusterTest]) -> _Centres | None:
    """The unit centroids of ``items`` and their median similarities; None when one has
    none (a report written before faultmap stored them) or they are not all of one width."""
    centroids = [x.centroid for x in items if x.centroid is not None]
    if len(centroids) < len(items):
        return None
    if not centroids:
        return _Centres(np.zeros((0, 0)), np.zeros(0))
    try:
        vectors = np.array([c.vector() for c in centroids], dtype=np.float64)
    except ValueError:  # not one width, or not base64 of float16 values
        return None
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if vectors.ndim != 2 or not np.all(norms > 0):
        return None
    medians = np.array([c.median_similarity for c in centroids], dtype=np.float64)
    return _Centres(vectors / norms, medians)


class _Similarity(NamedTuple):
    """Centroid similarities of OLD items (rows) and NEW items (columns), and what each pair
    needs to match (the lower median similarity)."""

    cosine: np.ndarray
    needed: np.ndarray

    @classmethod
    def of(cls, old: _Centres, new: _Centres) -> _Similarity | None:
        if len(old.vectors) and len(new.vectors) and old.vectors.shape[1] != new.vectors.shape[1]:
            return None
        if not len(old.vectors) or not len(new.vectors):
            empty = np.zeros((len(old.vectors), len(new.vectors)))
            return cls(empty, empty)
        cosine = within(old.vectors @ new.vectors.T, -1.0, 1.0, "centroid cosine", tol=1e-9)
        return cls(cosine, np.minimum.outer(old.medians, new.medians))

    def matches(self) -> np.ndarray:
        return self.cosine >= self.needed


class _Matched(NamedTuple):
    new: list[SliceRef]
    resolved: list[SliceRef]
    persisting: list[SliceMatch]
    not_retested: list[SliceRef]


class _Rule(NamedTuple):
    """What the matching of one diff knows: how prompts are compared, what each run
    analysed (None when unknown), the thresholds, whether meaning is compared, and the
    centroids of NEW's tested clusters."""

    use_digests: bool
    old_seen: set[Any] | None
    new_seen: set[Any] | None
    min_overlap: float
    min_shared: int
    by_meaning: bool
    new_clusters: _Centres | None


def _pairs(
    old_items: Sequence[Finding], new_items: Sequence[Finding], rule: _Rule
) -> list[SliceMatch]:
    """Every (OLD, NEW) pair of findings that the rule of the module docstring matches, with
    its evidence."""
    old_sets = _members(old_items, rule.use_digests)
    new_sets = _members(new_items, rule.use_digests)
    old_seen, new_seen = rule.old_seen, rule.new_seen
    similarity = None
    if rule.by_meaning:
        old_c, new_c = _centres(old_items), _centres(new_items)
        if old_c is not None and new_c is not None:
            similarity = _Similarity.of(old_c, new_c)
    close = similarity.matches() if similarity is not None else None
    matches: list[SliceMatch] = []
    for i, a in enumerate(old_sets):
        a_cut = a & new_seen if new_seen is not None else a
        for j, b in enumerate(new_sets):
            b_cut = b & old_seen if old_seen is not None else b
            shared = len(a & b)
            smaller = min(len(a_cut), len(b_cut))
            overlap = shared / smaller if smaller else None
            by_prompts = (
                shared >= rule.min_shared and overlap is not None and overlap >= rule.min_overlap
            )
            by_meaning = close is not None and bool(close[i, j])
            if not (by_prompts or by_meaning):
                continue
            cosine = needed = None
            if similarity is not None:
                cosine = round(float(similarity.cosine[i, j]), 4)
                needed = round(float(similarity.needed[i, j]), 4)
            how = "both" if by_prompts and by_meaning else "prompts" if by_prompts else "meaning"
            matches.append(
                SliceMatch(
                    old=SliceRef.of(i, old_items[i]),
                    new=SliceRef.of(j, new_items[j]),
                    shared_prompts=shared,
                    overlap=None if overlap is None else round(overlap, 4),
                    similarity=cosine,
                    similarity_needed=needed,
                    matched_by=how,
                )
            )
    return matches


def _match(
    old_items: Sequence[Finding],
    new_items: Sequence[Finding],
    rule: _Rule,
    old_modes: Sequence[FailureMode] = (),
    new_modes: Sequence[FailureMode] = (),
) -> _Matched:
    """The rule of the module docstring, for the slices or the failure modes of two reports.

    For slices, ``old_modes`` / ``new_modes`` are the failure modes of the two reports: a
    slice that matches no slice of the other run but lies in one of its failure modes is the
    same failure found at another grain (a cluster significant on its own in one run only),
    so it persists, matched to that mode, rather than being new or resolved."""
    matches = _pairs(old_items, new_items, rule)
    matched_old = {m.old.position for m in matches}
    matched_new = {m.new.position for m in matches}
    if old_modes:
        inside = [
            m for m in _pairs(old_modes, new_items, rule) if m.new.position not in matched_new
        ]
        matches += inside
        matched_new |= {m.new.position for m in inside}
    if new_modes:
        inside = [
            m for m in _pairs(old_items, new_modes, rule) if m.old.position not in matched_old
        ]
        matches += inside
        matched_old |= {m.old.position for m in inside}
    tested_again = _tested_again(old_items, rule)
    resolved, not_retested = [], []
    for i, a in enumerate(_members(old_items, rule.use_digests)):
        if i in matched_old:
            continue
        seen_again = len(a & rule.new_seen) if rule.new_seen is not None else len(a)
        again = bool(a) and 2 * seen_again >= len(a)
        if tested_again is not None:
            again = again or bool(tested_again[i])
        (resolved if again else not_retested).append(SliceRef.of(i, old_items[i]))
    new = [SliceRef.of(j, s) for j, s in enumerate(new_items) if j not in matched_new]
    return _Matched(new, resolved, matches, not_retested)


def _tested_again(old_items: Sequence[Finding], rule: _Rule) -> np.ndarray | None:
    """For each OLD finding, whether NEW tested a cluster that matches it by meaning (None
    when meaning is not compared or a side has no centroids)."""
    old_c = _centres(old_items)
    if not rule.by_meaning or rule.new_clusters is None or old_c is None:
        return None
    similarity = _Similarity.of(old_c, rule.new_clusters)
    if similarity is None:
        return None
    return similarity.matches().any(axis=1)


def _universe(report: AnalysisReport, use_digests: bool) -> set[Any] | None:
    """Everything the run analysed (digests, or row indices), or None when unknown."""
    if use_digests:
        digests = report.metadata.get("prompt_digests")
        return set(digests) if isinstance(digests, list) and digests else None
    return set(range(report.total_prompts))


def _compare_meaning(old: AnalysisReport, new: AnalysisReport) -> str | None:
    """Why the two reports cannot be compared by meaning (a note), or None when they can."""
    fingerprints = {"OLD": old.embedding_fingerprint, "NEW": new.embedding_fingerprint}
    unknown = [which for which, f in fingerprints.items() if f is None]
    only = (
        "so findings were matched by shared prompts only: the same failure on other prompts "
        "shows as new."
    )
    if unknown:
        which = " and ".join(unknown)
        return (
            f"The {which} report{'s do' if len(unknown) == 2 else ' does'} not record which "
            "embedding model made the vectors (vectors passed as embeddings= without "
            f"embeddings_model=, or a report written before faultmap recorded it), {only}"
        )
    if fingerprints["OLD"] != fingerprints["NEW"]:
        return (
            f"The reports were embedded by different models (OLD {old.embedding_model}, "
            f"{fingerprints['OLD']}; NEW {new.embedding_model}, {fingerprints['NEW']}), {only}"
        )
    lacking = [
        which
        for which, r in (("OLD", old), ("NEW", new))
        if _centres([*r.slices, *r.failure_modes]) is None
    ]
    if lacking:
        which = " and ".join(lacking)
        return (
            f"The {which} report{'s store' if len(lacking) == 2 else ' stores'} no centroids "
            f"(written by an older faultmap), {only}"
        )
    widths = {
        len(x.centroid.vector())
        for r in (old, new)
        for x in [*r.slices, *r.failure_modes]
        if x.centroid is not None
    }
    if len(widths) > 1:
        return f"The reports' centroids have different widths ({sorted(widths)}), {only}"
    return None


def diff_reports(
    old: AnalysisReport | str | Path | Mapping[str, Any],
    new: AnalysisReport | str | Path | Mapping[str, Any],
    *,
    min_overlap: float = 0.5,
    min_shared: int = 3,
    by_meaning: bool = True,
) -> SliceDiff:
    """Compare two analyses: which failure modes and slices are new, resolved or persisting.

    ``old`` and ``new`` are reports, paths to report JSON files, or their dicts. Two findings
    match when they share at least ``min_shared`` prompts with an overlap coefficient of at
    least ``min_overlap`` (among prompts both runs analysed), or, when both reports were
    embedded by the same model, when their centroids are as close as their members are to
    them (``by_meaning=False`` matches by shared prompts only). Each match carries its
    evidence; see :mod:`faultmap.reports.diff` for the full rule. Failure modes are matched by
    the same rule when both reports have them.

    Example:
        >>> d = diff_reports("last_week.json", "this_week.json")  # doctest: +SKIP
        >>> print(d); d.has_new_slices                               # doctest: +SKIP
    """
    owner = "diff_reports"
    check_param(owner, "min_overlap", min_overlap, Interval(float, 0, 1, "right"))
    check_param(owner, "min_shared", min_shared, Interval(int, 1, None))
    check_param(owner, "by_meaning", by_meaning, BOOL)
    old_r, new_r = load_report(old, name="OLD report"), load_report(new, name="NEW report")
    notes: list[str] = []
    for report, which in ((old_r, "OLD"), (new_r, "NEW")):
        report.require_row_lists(f"faultmap diff ({which} report)")
    with_digests = all(
        s.prompt_digests for r in (old_r, new_r) for s in [*r.slices, *r.failure_modes]
    )
    if with_digests:
        matched_by = "prompt_digests"
    else:
        matched_by = "sample_indices"
        notes.append(
            "A report has slices without prompt digests (written by an older faultmap), so "
            "slices were matched by row index: meaningful only if both runs analysed the same "
            "rows in the same order."
        )
        if old_r.total_prompts != new_r.total_prompts:
            notes.append(
                f"The runs analysed {old_r.total_prompts} and {new_r.total_prompts} prompts: "
                "the row indices probably do not refer to the same prompts."
            )
    old_seen, new_seen = _universe(old_r, with_digests), _universe(new_r, with_digests)
    shared_total = None
    if old_seen is not None and new_seen is not None:
        shared_total = len(old_seen & new_seen)
    elif with_digests:
        notes.append(
            "A report does not list the prompts it analysed (metadata['prompt_digests']), so "
            "an OLD slice whose prompts NEW never saw is counted as resolved."
        )
    meaning = False
    if by_meaning:
        why_not = _compare_meaning(old_r, new_r)
        meaning = why_not is None
        if why_not is not None:
            notes.append(why_not)
    else:
        notes.append("Findings were matched by shared prompts only, as asked (by_meaning=False).")
    rule = _Rule(
        with_digests,
        old_seen,
        new_seen,
        min_overlap,
        min_shared,
        meaning,
        _centres(new_r.clusters) if meaning and new_r.clusters else None,
    )
    modes_compared = _has_modes(old_r) and _has_modes(new_r)
    if modes_compared:
        slices = _match(old_r.slices, new_r.slices, rule, old_r.failure_modes, new_r.failure_modes)
    else:
        slices = _match(old_r.slices, new_r.slices, rule)
    modes = _Matched([], [], [], [])
    if modes_compared:
        modes = _match(old_r.failure_modes, new_r.failure_modes, rule)
    elif _has_modes(old_r) or _has_modes(new_r):
        older = "OLD" if _has_modes(new_r) else "NEW"
        notes.append(
            f"The {older} report has no failure modes (written by a faultmap without them), "
            "so only slices were compared."
        )
    return SliceDiff(
        new=slices.new,
        resolved=slices.resolved,
        persisting=slices.persisting,
        not_retested=slices.not_retested,
        matched_by=matched_by,
        min_overlap=min_overlap,
        min_shared=min_shared,
        old_total_prompts=old_r.total_prompts,
        new_total_prompts=new_r.total_prompts,
        shared_prompts=shared_total,
        notes=notes,
        new_modes=modes.new,
        resolved_modes=modes.resolved,
        persisting_modes=modes.persisting,
        not_retested_modes=modes.not_retested,
        modes_compared=modes_compared,
        meaning_compared=meaning,
        embedding_fingerprint=old_r.embedding_fingerprint if meaning else None,
    )
