"""Describing, naming and checking the names of groups of rows: one way for slices and
failure modes alike.

A group's description is its members, its most central prompts, its distinctive words and
its worst failures (:func:`faultmap.core.groups.describe_groups`); the namer sees that
context and nothing else. Every name is then checked on members it was not made from
(:mod:`faultmap.analyses.name_check`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from faultmap.analyses.name_check import (
    FLAG_BELOW,
    check_names,
    counter_examples,
    keyword_halves,
    recheck_names,
    unseen_members,
)
from faultmap.core.groups import (
    Group,
    centre,
    describe_groups,
    interval,
    name_groups,
    unique_names,
)
from faultmap.core.rows import Rows
from faultmap.naming.base import Namer, SliceLabel
from faultmap.reports.models import Centroid, FailureMode, FailureSlice

__all__ = ["Describer"]


class Describer:
    """Describes and names groups of rows (slices or failure modes) the same way, gives the
    fields a slice and a mode share, and checks names (:mod:`faultmap.analyses.name_check`).

    Example:
        >>> d = Describer(prompts, responses, scores, vectors, fails,  # doctest: +SKIP
        ...               baseline=0.2)
        >>> labels_, groups, contexts = d.name(namer, cluster_labels, [3, 7])  # doctest: +SKIP
    """

    def __init__(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        scores: np.ndarray,
        vectors: np.ndarray,
        fails: np.ndarray,
        *,
        baseline: float,
        n_examples: int = 5,
        n_representative: int = 5,
        seed: int = 0,
    ) -> None:
        self.prompts, self.responses, self.scores = prompts, responses, scores
        self.vectors, self.fails, self.baseline = vectors, fails, baseline
        self.n_examples, self.n_representative, self.seed = n_examples, n_representative, seed
        self.slice_contexts: list[Any] = []
        self.mode_contexts: list[Any] = []

    def describe(self, labels: np.ndarray, group_ids: Sequence[int]) -> list[tuple[Group, Any]]:
        """Each group's description and the context a namer sees (its central prompts and
        its worst failures)."""
        groups = describe_groups(
            self.prompts,
            self.vectors,
            labels,
            list(group_ids),
            n_representative=self.n_representative,
        )
        out = []
        for group in groups:
            members = group.members
            worst = members[self.fails[members]]
            worst = worst[np.argsort(self.scores[worst], kind="stable")][: self.n_examples]
            ctx = group.context(
                self.prompts,
                size=self.size(group),
                failure_rate=self.failure_rate(group),
                baseline_rate=self.baseline,
                failing_examples=tuple(
                    (self.prompts[i], self.responses[i], float(self.scores[i])) for i in worst
                ),
            )
            out.append((group, ctx, worst))
        return out

    def name(
        self, namer: Namer, labels: np.ndarray, group_ids: Sequence[int]
    ) -> tuple[list[SliceLabel], list[Group], list[Any]]:
        described = self.describe(labels, group_ids)
        contexts = [ctx for _, ctx, _ in described]
        return name_groups(namer, contexts), [g for g, _, _ in described], contexts

    def check(
        self,
        namer: Namer,
        labels: np.ndarray,
        slices: list[FailureSlice],
        modes: list[FailureMode],
        embed_names: Callable[[list[str]], np.ndarray] | None,
    ) -> tuple[list[FailureSlice], list[FailureMode], dict[str, Any] | None]:
        """Slices and modes with their ``name_check`` (see
        :mod:`faultmap.analyses.name_check`); flagged LLM names asked once more with
        counter-examples. Returns the summary for ``metadata["name_check"]``."""
        if not slices and not modes:
            return slices, modes, None
        mode_labels = np.full(len(labels), -1, dtype=np.int64)
        for j, m in enumerate(modes):
            mode_labels[np.isin(labels, m.cluster_ids)] = j
        used = {x.name for x in [*slices, *modes]}
        renamed = 0
        checked: list[Any] = []
        for items, kind_labels, ids, contexts in (
            (slices, labels, [x.cluster_id for x in slices], self.slice_contexts),
            (modes, mode_labels, list(range(len(modes))), self.mode_contexts),
        ):
            results, count = self._check_kind(
                namer, items, kind_labels, ids, contexts, embed_names, used
            )
            checked.append(results)
            renamed += count
        new_slices, new_modes = checked
        flagged = sum(
            x.name_check is not None and x.name_check < FLAG_BELOW
            for x in [*new_slices, *new_modes]
        )
        summary = {
            "method": "embedding" if embed_names is not None else "keywords",
            "flag_below": FLAG_BELOW,
            "flagged": int(flagged),
            "renamed": renamed,
            "seed": self.seed,
        }
        return new_slices, new_modes, summary

    def _check_kind(
        self,
        namer: Namer,
        items: list[Any],
        labels: np.ndarray,
        ids: list[int],
        contexts: list[Any],
        embed: Callable[[list[str]], np.ndarray] | None,
        used: set[str],
    ) -> tuple[list[Any], int]:
        if not items:
            return [], 0
        seed = self.seed
        members = [np.flatnonzero(labels == g) for g in ids]
        llm = [x.naming_source == "llm" for x in items]
        # A keyword name is judged on the half of the members it was not made from; an LLM
        # name on the members the LLM was not shown.
        half_names, halves = keyword_halves(self.prompts, labels, ids, seed=seed)
        names = [
            x.name if is_llm else h for x, is_llm, h in zip(items, llm, half_names, strict=True)
        ]
        held = [
            unseen_members(self.prompts, m, ctx) if is_llm else h
            for m, ctx, is_llm, h in zip(members, contexts, llm, halves, strict=True)
        ]
        vectors = self.vectors if embed is not None else None
        aucs = check_names(
            self.prompts, vectors, members, names, held_out=held, embed=embed, seed=seed
        )
        everyone = np.arange(len(self.prompts))
        counter = [
            tuple(
                self.prompts[i]
                for i in counter_examples(self.vectors, m, np.setdiff1d(everyone, m))
            )
            if is_llm and auc < FLAG_BELOW
            else ()
            for m, is_llm, auc in zip(members, llm, aucs, strict=True)
        ]
        again, count = recheck_names(namer, contexts, aucs, counter, llm_named=llm)
        out = []
        for i, (item, auc, label) in enumerate(zip(items, aucs, again, strict=True)):
            if label is not None:
                used.discard(item.name)
                label = unique_names([label], used)[0]
                auc = check_names(
                    self.prompts,
                    vectors,
                    [members[i]],
                    [label.name],
                    held_out=[held[i]],
                    embed=embed,
                    seed=seed,
                )[0]
                item = replace(
                    item,
                    name=label.name,
                    description=label.description,
                    root_cause=label.root_cause,
                    suggested_remediation=label.suggested_remediation,
                )
            out.append(replace(item, name_check=None if np.isnan(auc) else round(float(auc), 4)))
        return out, count

    # -- counts and places: from every member here; a streamed analysis overrides them -------
    def size(self, group: Group) -> int:
        """How many rows the group has."""
        return len(group.members)

    def num_failures(self, group: Group) -> int:
        """How many of the group's rows failed."""
        return int(self.fails[group.members].sum())

    def failure_rate(self, group: Group) -> float:
        return self.num_failures(group) / self.size(group)

    def totals(self) -> tuple[int, int]:
        """Rows and failures of the whole analysis."""
        return len(self.fails), int(self.fails.sum())

    def all_members(self, group: Group) -> np.ndarray | None:
        """Positions (among the analysed rows) of every member, ``None`` when not kept."""
        return group.members

    def centre_of(self, group: Group) -> tuple[np.ndarray, float, float] | None:
        """Where the group lies (:func:`faultmap.core.groups.centre`)."""
        return centre(self.vectors, group.members)

    def fields(
        self, group: Group, ctx: Any, label: SliceLabel, rows: Rows, digests: list[str] | None
    ) -> dict[str, Any]:
        """The fields a slice and a mode share, from its members (its ``centroid`` in the
        embedding space too, which ``faultmap diff`` matches). ``sample_indices`` and
        ``prompt_digests`` are ``None`` when the row lists were not kept."""
        members, fails = group.members, self.fails
        size, num_failures = self.size(group), self.num_failures(group)
        n, total_failures = self.totals()
        shown = [int(i) for i in members[fails[members]]][: self.n_examples]
        shown += [int(i) for i in members[~fails[members]]][: self.n_examples]
        rest = n - size
        where = self.centre_of(group)
        everyone = self.all_members(group)
        return dict(
            sample_indices=None
            if everyone is None
            else [int(i) for i in rows.input_index(everyone)],
            examples=[
                {
                    "index": int(self.input_row(rows, i)),
                    "prompt": self.prompts[i],
                    "response": self.responses[i],
                    "score": float(self.scores[i]),
                    "failed": bool(fails[i]),
                }
                for i in shown
            ],
            representative_prompts=list(ctx.representative_prompts),
            num_failures=num_failures,
            rest_failure_rate=(total_failures - num_failures) / rest if rest else 0.0,
            confidence_interval=interval(num_failures, size),
            keywords=list(ctx.keywords),
            naming_source=label.source,
            naming_error=label.error,
            prompt_digests=None
            if everyone is None or digests is None
            else [digests[i] for i in everyone],
            centroid=None
            if where is None
            else Centroid.encode(where[0], median_similarity=where[1], q10_similarity=where[2]),
        )

    def input_row(self, rows: Rows, i: int) -> int:
        """The input row of the described row ``i``."""
        return int(rows.analysed[i])
