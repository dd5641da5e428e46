"""What changed between two analyses: new, resolved and persisting failure modes and slices.

Slices of two reports are matched by the prompts they share, so the reports may come from
different data (this week's and last week's production logs, a grown test suite). Every
slice carries ``prompt_digests``, a short digest of each member prompt's text
(:func:`prompt_digest`), and every report lists the digests of all the prompts it analysed in
``metadata["prompt_digests"]``.

The rule. For an OLD slice ``A`` and a NEW slice ``B``, only prompts that both runs analysed
can be shared, so each set is first cut to the prompts the *other* run saw (when the report
lists them): ``A' = A ∩ prompts(NEW)``, ``B' = B ∩ prompts(OLD)``. The two slices match when

* they share at least ``min_shared`` prompts (3), and
* the overlap coefficient ``|A ∩ B| / min(|A'|, |B'|)`` is at least ``min_overlap`` (0.5).

The overlap coefficient (rather than Jaccard) keeps a match when a slice grows or shrinks
between runs, e.g. when it absorbs a neighbouring cluster: an old slice of 20 prompts inside
a new slice of 60 has overlap 1.0 but Jaccard 0.33. Matching is many-to-many (a slice that
split or merged matches several). A NEW slice that matches none is **new**; an OLD slice
that matches none is **resolved** when at least half of its prompts were analysed again in
NEW, and **not retested** otherwise (NEW never saw enough of them to tell). Reports written
before digests existed are matched by ``sample_indices`` instead, which is only meaningful
when both runs analysed the same rows in the same order; the diff says so.

Failure modes (``report.failure_modes``) are matched by exactly the same rule and code, on
their own prompts (a mode's ``prompt_digests``), and sorted into ``new_modes``,
``resolved_modes``, ``persisting_modes`` and ``not_retested_modes``. They are compared only
when both reports looked for modes (a report written before faultmap had them has none); the
diff says so otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from faultmap._text import prompt_digest
from faultmap._validation import Interval, check_param
from faultmap.exceptions import DataError
from faultmap.reports.models import (
    AnalysisReport,
    FailureMode,
    FailureSlice,
    _clean,
    _write_json,
)

__all__ = ["SliceDiff", "SliceMatch", "SliceRef", "diff_reports", "load_report", "prompt_digest"]


@dataclass(frozen=True)
class SliceRef:
    """One slice (or failure mode) of one report, as the diff shows it (``position``: index
    in ``slices``, or in ``failure_modes`` for a mode)."""

    position: int
    name: str
    size: int
    failure_rate: float
    adjusted_p_value: float

    @classmethod
    def of(cls, position: int, s: FailureSlice | FailureMode) -> SliceRef:
        return cls(position, s.name, s.size, s.failure_rate, s.adjusted_p_value)


@dataclass(frozen=True)
class SliceMatch:
    """An OLD slice and a NEW slice (or two failure modes) that share prompts: a persisting
    failure."""

    old: SliceRef
    new: SliceRef
    shared_prompts: int
    overlap: float


@dataclass(frozen=True)
class SliceDiff:
    """Outcome of :func:`diff_reports`: ``new``, ``resolved``, ``persisting`` and
    ``not_retested`` slices, and the same four lists of failure modes (``new_modes`` etc.;
    empty when ``modes_compared`` is false because a report has no failure modes); see the
    module docstring for the rule.

    ``matched_by`` is ``"prompt_digests"`` or ``"sample_indices"`` (old reports);
    ``shared_prompts`` counts the distinct prompts both runs analysed (``None`` when a report
    does not list its prompts). ``notes`` explain anything that weakens the comparison.
    """

    new: list[SliceRef]
    resolved: list[SliceRef]
    persisting: list[SliceMatch]
    not_retested: list[SliceRef]
    matched_by: str
    min_overlap: float
    min_shared: int
    old_total_prompts: int
    new_total_prompts: int
    shared_prompts: int | None = None
    notes: list[str] = field(default_factory=list)
    new_modes: list[SliceRef] = field(default_factory=list)
    resolved_modes: list[SliceRef] = field(default_factory=list)
    persisting_modes: list[SliceMatch] = field(default_factory=list)
    not_retested_modes: list[SliceRef] = field(default_factory=list)
    modes_compared: bool = False

    @property
    def has_new_slices(self) -> bool:
        """True when NEW has a slice that matches no slice of OLD (what CI gates on)."""
        return bool(self.new)

    @property
    def has_new_modes(self) -> bool:
        """True when NEW has a failure mode that matches no failure mode of OLD."""
        return bool(self.new_modes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON-types dict of every field."""
        return _clean(asdict(self))

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Return the diff as JSON, and write it to ``path`` when given."""
        return _write_json(self.to_dict(), path, indent)

    def __str__(self) -> str:
        out = [
            f"faultmap diff: {len(self.new)} new, {len(self.resolved)} resolved, "
            f"{len(self.persisting)} persisting, {len(self.not_retested)} not retested "
            f"(OLD {self.old_total_prompts} prompts, NEW {self.new_total_prompts} prompts"
            + ("" if self.shared_prompts is None else f", {self.shared_prompts} in both")
            + f"; matched by {self.matched_by.replace('_', ' ')})."
        ]
        if self.modes_compared:
            out.append(
                f"Failure modes: {len(self.new_modes)} new, {len(self.resolved_modes)} "
                f"resolved, {len(self.persisting_modes)} persisting, "
                f"{len(self.not_retested_modes)} not retested."
            )
            out += _sections(
                "failure modes",
                self.new_modes,
                self.persisting_modes,
                self.resolved_modes,
                self.not_retested_modes,
            )
        out += _sections("slices", self.new, self.persisting, self.resolved, self.not_retested)
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def __repr__(self) -> str:
        modes = f", new_modes={len(self.new_modes)}" if self.modes_compared else ""
        return (
            f"SliceDiff(new={len(self.new)}, resolved={len(self.resolved)}, "
            f"persisting={len(self.persisting)}, not_retested={len(self.not_retested)}{modes})"
        )


def _sections(
    word: str,
    new: list[SliceRef],
    persisting: list[SliceMatch],
    resolved: list[SliceRef],
    not_retested: list[SliceRef],
) -> list[str]:
    """The lines of a diff on one kind of finding ("slices" or "failure modes")."""

    def line(ref: SliceRef) -> str:
        return (
            f"  - {ref.name} ({ref.size} prompts, {100 * ref.failure_rate:.1f}% fail, "
            f"adjusted p {ref.adjusted_p_value:.2g})"
        )

    # "Not retested" alone for slices, as before failure modes were diffed
    retested = "Not retested" if word == "slices" else f"{word[0].upper()}{word[1:]} not retested"
    out = []
    if new:
        out += [f"New {word} (in NEW only):", *map(line, new)]
    if persisting:
        out.append(f"Persisting {word} (OLD -> NEW):")
        out += [
            f"  - {m.old.name} -> {m.new.name}: {100 * m.old.failure_rate:.1f}% -> "
            f"{100 * m.new.failure_rate:.1f}% fail, {m.shared_prompts} shared prompts "
            f"(overlap {m.overlap:.2f})"
            for m in persisting
        ]
    if resolved:
        out += [f"Resolved {word} (in OLD only, prompts analysed again):", *map(line, resolved)]
    if not_retested:
        out += [f"{retested} (in OLD, too few of their prompts in NEW):"]
        out += map(line, not_retested)
    return out


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


class _Matched(NamedTuple):
    new: list[SliceRef]
    resolved: list[SliceRef]
    persisting: list[SliceMatch]
    not_retested: list[SliceRef]


def _match(
    old_items: Sequence[Finding],
    new_items: Sequence[Finding],
    use_digests: bool,
    old_seen: set[Any] | None,
    new_seen: set[Any] | None,
    min_overlap: float,
    min_shared: int,
) -> _Matched:
    """The rule of the module docstring, for the slices or the failure modes of two reports
    (``old_seen`` / ``new_seen``: what each run analysed, None when unknown)."""
    old_sets, new_sets = _members(old_items, use_digests), _members(new_items, use_digests)
    matches: list[SliceMatch] = []
    for i, a in enumerate(old_sets):
        a_cut = a & new_seen if new_seen is not None else a
        for j, b in enumerate(new_sets):
            b_cut = b & old_seen if old_seen is not None else b
            shared = len(a & b)
            if shared < min_shared:
                continue
            overlap = shared / min(len(a_cut), len(b_cut))
            if overlap >= min_overlap:
                matches.append(
                    SliceMatch(
                        SliceRef.of(i, old_items[i]),
                        SliceRef.of(j, new_items[j]),
                        shared,
                        round(overlap, 4),
                    )
                )
    matched_old = {m.old.position for m in matches}
    matched_new = {m.new.position for m in matches}
    resolved, not_retested = [], []
    for i, a in enumerate(old_sets):
        if i in matched_old:
            continue
        seen_again = len(a & new_seen) if new_seen is not None else len(a)
        target = resolved if a and 2 * seen_again >= len(a) else not_retested
        target.append(SliceRef.of(i, old_items[i]))
    new = [SliceRef.of(j, s) for j, s in enumerate(new_items) if j not in matched_new]
    return _Matched(new, resolved, matches, not_retested)


def _universe(report: AnalysisReport, use_digests: bool) -> set[Any] | None:
    """Everything the run analysed (digests, or row indices), or None when unknown."""
    if use_digests:
        digests = report.metadata.get("prompt_digests")
        return set(digests) if isinstance(digests, list) and digests else None
    return set(range(report.total_prompts))


def diff_reports(
    old: AnalysisReport | str | Path | Mapping[str, Any],
    new: AnalysisReport | str | Path | Mapping[str, Any],
    *,
    min_overlap: float = 0.5,
    min_shared: int = 3,
) -> SliceDiff:
    """Compare two analyses: which failure modes and slices are new, resolved or persisting.

    ``old`` and ``new`` are reports, paths to report JSON files, or their dicts. Slices match
    when they share at least ``min_shared`` prompts and the overlap coefficient of their
    prompts (among prompts both runs analysed) is at least ``min_overlap``; see
    :mod:`faultmap.reports.diff` for the full rule. Failure modes are matched by the same
    rule when both reports have them.

    Example:
        >>> d = diff_reports("last_week.json", "this_week.json")  # doctest: +SKIP
        >>> print(d); d.has_new_slices                               # doctest: +SKIP
    """
    owner = "diff_reports"
    check_param(owner, "min_overlap", min_overlap, Interval(float, 0, 1, "right"))
    check_param(owner, "min_shared", min_shared, Interval(int, 1, None))
    old_r, new_r = load_report(old, name="OLD report"), load_report(new, name="NEW report")
    notes: list[str] = []
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
    rule = (with_digests, old_seen, new_seen, min_overlap, min_shared)
    slices = _match(old_r.slices, new_r.slices, *rule)
    modes_compared = _has_modes(old_r) and _has_modes(new_r)
    modes = _Matched([], [], [], [])
    if modes_compared:
        modes = _match(old_r.failure_modes, new_r.failure_modes, *rule)
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
    )
