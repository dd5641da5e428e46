"""Evidence that a slice or failure mode is real: stability under subsampling, the whole
procedure under permuted labels, confirmation on a held-out half, and the power of the
clusters that were tested without a finding.

- :func:`reported` is the testing procedure of :func:`faultmap.analyses.slices.find_slices`
  on counts (slices by their own correction, failure modes by
  :func:`faultmap.analyses.modes.choose_modes`), vectorised so it can be rerun hundreds of
  times. Run on the report's own labels it reproduces the report's slices and modes (a test
  checks this).
- :func:`null_audit` shuffles the failure flags among the analysed rows and reruns
  :func:`reported` on the *same* clusters. Clustering never sees the labels, so nothing else
  has to be redone and a run costs milliseconds: every mode or slice found on permuted labels
  is false, and the share of runs with one estimates the family-wise error of the procedure
  on the user's own clusters.
- :func:`stability` reclusters ``runs`` subsamples of ``fraction`` of the rows and reruns the
  procedure; a group's stability is the share of runs reporting a group with Jaccard index
  at least ``jaccard`` to its members inside the subsample. This costs ``runs`` clusterings.
- :func:`confirm` tests each found group on the rows of the held-out half only (one-sided,
  the same test); those rows took no part in finding it, so the p-value needs no correction
  for the search (correct across the found groups if you read several at once).
- :func:`detectable_rates` says, for each cluster tested but not reported, the smallest true
  failure rate its size could have detected (80 % power) at the level its p-value had to
  reach (:func:`faultmap.significance.rejection_level`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from faultmap.analyses.modes import (
    MERGE_LEVEL,
    ClusterTree,
    ModeChoice,
    choose_modes,
    cluster_tree,
    per_cluster,
)
from faultmap.clustering.base import Clusterer
from faultmap.core.groups import cluster
from faultmap.core.run import Run
from faultmap.reports.models import FailureMode, FailureSlice, NullAudit
from faultmap.significance.tests import (
    adjust,
    detectable_rate,
    one_sided_proportion_test,
    one_sided_proportion_tests,
    rejection_level,
)

__all__ = [
    "STABILITY_FRACTION",
    "STABILITY_JACCARD",
    "Procedure",
    "confirm",
    "detectable_rates",
    "null_audit",
    "reported",
    "stability",
    "with_evidence",
]

#: Stability reruns cluster this share of the rows, drawn without replacement ...
STABILITY_FRACTION = 0.8
#: ... and a group counts as found again at this Jaccard index or more.
STABILITY_JACCARD = 0.5


@dataclass(frozen=True)
class Procedure:
    """The settings that decide what is reported: the per-group test, the correction, the
    significance level, the smallest tested group and the merge level of failure modes."""

    test: str = "fisher"
    correction: str = "bh"
    level: float = 0.05
    min_size: int = 10
    merge_level: float = MERGE_LEVEL


def family_ids(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Ids of the clusters of at least ``min_size`` rows (the tested family), ascending."""
    labels = np.asarray(labels)
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    return ids[sizes >= min_size].astype(np.int64)


def reported(
    labels: np.ndarray,
    failed: np.ndarray,
    procedure: Procedure,
    *,
    tested: np.ndarray | None = None,
    tree: object | None = None,
    vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, ModeChoice]:
    """The slices (cluster ids) and failure modes the procedure reports for these labels.

    ``tested`` and ``tree`` may be passed when they are known (they depend on the labels
    and vectors only); otherwise they are built, which needs ``vectors``.
    """
    labels = np.asarray(labels)
    failed = np.asarray(failed, dtype=bool)
    if tested is None:
        tested = family_ids(labels, procedure.min_size)
    if tree is None:
        if vectors is None:
            raise ValueError("reported() needs `vectors` to build the cluster tree")
        tree = cluster_tree(vectors, labels, tested)
    n, total_failures = len(labels), int(np.count_nonzero(failed))
    sizes, fails = per_cluster(labels, failed, tested)
    if len(tested):
        p, _ = one_sided_proportion_tests(fails, sizes, total_failures, n, test=procedure.test)
        adjusted = adjust(p, procedure.correction)
        slices = tested[(adjusted < procedure.level) & (fails / sizes > total_failures / n)]
    else:
        slices = tested
    choice = choose_modes(
        tree,  # type: ignore[arg-type]
        sizes,
        fails,
        n,
        total_failures,
        test=procedure.test,
        correction=procedure.correction,
        level=procedure.level,
        merge_level=procedure.merge_level,
    )
    return slices, choice


def null_audit(
    labels: np.ndarray,
    failed: np.ndarray,
    vectors: np.ndarray | None,
    procedure: Procedure,
    *,
    runs: int,
    seed: int,
    tree: ClusterTree | None = None,
) -> NullAudit:
    """Rerun the procedure ``runs`` times with the failure flags permuted among the rows of
    ``labels`` (the same clusters and tree each time). ``tree`` is the cluster tree over the
    tested clusters when it is known (a streamed analysis builds it from sums); otherwise it
    is built from ``vectors``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> v = rng.normal(size=(300, 5)); v /= np.linalg.norm(v, axis=1, keepdims=True)
        >>> audit = null_audit(rng.integers(0, 6, 300), rng.random(300) < 0.2, v,
        ...                    Procedure(), runs=20, seed=0)
        >>> audit.runs, 0.0 <= audit.fwer <= 1.0
        (20, True)
    """
    labels = np.asarray(labels)
    failed = np.asarray(failed, dtype=bool)
    tested = family_ids(labels, procedure.min_size)
    if tree is None:
        if vectors is None:
            raise ValueError("null_audit() needs `vectors` or `tree`")
        tree = cluster_tree(vectors, labels, tested)
    rng = np.random.default_rng(seed)
    modes = np.zeros(runs, dtype=np.int64)
    slices = np.zeros(runs, dtype=np.int64)
    for r in range(runs):
        found, choice = reported(
            labels, rng.permutation(failed), procedure, tested=tested, tree=tree
        )
        slices[r], modes[r] = len(found), len(choice.modes)
    return NullAudit(
        runs=runs,
        fwer=float(np.mean(modes > 0)) if runs else 0.0,
        expected_false_modes=float(modes.mean()) if runs else 0.0,
        expected_false_slices=float(slices.mean()) if runs else 0.0,
        slice_fwer=float(np.mean(slices > 0)) if runs else 0.0,
        level=procedure.level,
        seed=seed,
    )


def stability(
    vectors: np.ndarray,
    failed: np.ndarray,
    clusterer: Clusterer,
    procedure: Procedure,
    *,
    slices: Sequence[np.ndarray],
    modes: Sequence[np.ndarray],
    runs: int,
    seed: int,
    fraction: float = 0.8,
    jaccard: float = 0.5,
) -> tuple[list[float], list[float]]:
    """Stability of each slice and each mode (member row positions into ``vectors``): the
    share of ``runs`` subsamples (``fraction`` of the rows, without replacement) in which the
    reclustered, retested data reports a slice (for slices) or a mode (for modes) whose
    members have Jaccard index >= ``jaccard`` with the group's members in the subsample."""
    n = len(vectors)
    failed = np.asarray(failed, dtype=bool)
    rng = np.random.default_rng(seed)
    m = max(round(fraction * n), 1)
    hits_s = np.zeros(len(slices))
    hits_m = np.zeros(len(modes))
    for _ in range(runs):
        sub = np.sort(rng.choice(n, size=m, replace=False))
        labels = cluster(clusterer, vectors[sub], procedure.min_size)
        found, choice = reported(labels, failed[sub], procedure, vectors=vectors[sub])
        slice_sets = [sub[labels == g] for g in found]
        mode_sets = [
            sub[np.isin(labels, choice.tree.cluster_ids[choice.tree.leaves[k]])]
            for k in choice.modes
        ]
        hits_s += _matched(slices, slice_sets, sub, n, jaccard)
        hits_m += _matched(modes, mode_sets, sub, n, jaccard)
    scale = 1.0 / runs if runs else 0.0
    return (hits_s * scale).tolist(), (hits_m * scale).tolist()


def _matched(
    groups: Sequence[np.ndarray], found: list[np.ndarray], sub: np.ndarray, n: int, jaccard: float
) -> np.ndarray:
    """1 for each group that some found set matches with Jaccard >= ``jaccard`` (the group
    restricted to the subsample ``sub``), else 0."""
    in_sub = np.zeros(n, dtype=bool)
    in_sub[sub] = True
    out = np.zeros(len(groups))
    if not found:
        return out
    owner = np.full(n, -1, dtype=np.int64)  # found sets are disjoint within one kind
    for j, rows in enumerate(found):
        owner[rows] = j
    found_sizes = np.array([len(x) for x in found])
    for i, members in enumerate(groups):
        kept = members[in_sub[members]]
        if len(kept) == 0:
            continue
        shared = np.bincount(owner[kept][owner[kept] >= 0], minlength=len(found))
        union = len(kept) + found_sizes - shared
        out[i] = float(np.max(shared / union) >= jaccard)
    return out


def confirm(
    groups: Sequence[np.ndarray], failed: np.ndarray, held_out: np.ndarray, *, test: str
) -> list[tuple[float, int, int]]:
    """(p-value, size, failures) of each group (member row positions) on the held-out rows
    (``held_out`` a boolean mask): a one-sided test of the group's held-out members against
    every other held-out row."""
    failed = np.asarray(failed, dtype=bool)
    held_out = np.asarray(held_out, dtype=bool)
    total, total_failures = int(held_out.sum()), int(failed[held_out].sum())
    out = []
    for members in groups:
        kept = members[held_out[members]]
        f = int(failed[kept].sum())
        p = one_sided_proportion_test(f, len(kept), total_failures, total, test=test).p_value
        out.append((p, len(kept), f))
    return out


def detectable_rates(
    sizes: np.ndarray,
    raw: np.ndarray,
    adjusted: np.ndarray,
    baseline: float,
    procedure: Procedure,
) -> list[float | None]:
    """For each tested cluster of the family (``raw`` / ``adjusted`` p-values), the smallest
    failure rate it could have detected with 80 % power at the level its p-value had to
    reach, given the rest of the family (None when no rate would do)."""
    if len(sizes) == 0:
        return []
    level = rejection_level(
        np.asarray(adjusted), np.asarray(raw), procedure.correction, procedure.level
    )
    out: list[float | None] = []
    for size in sizes:
        rate = detectable_rate(int(size), baseline, level)
        out.append(None if rate is None else float(rate))
    return out


def with_evidence(
    slices: list[FailureSlice],
    modes: list[FailureMode],
    labels: np.ndarray,
    vectors: np.ndarray,
    fails: np.ndarray,
    discover: np.ndarray,
    clusterer: Clusterer,
    procedure: Procedure,
    *,
    confirm_split: bool,
    stability_runs: int,
    seed: int,
    meta: dict[str, Any],
    run: Run,
) -> tuple[list[FailureSlice], list[FailureMode]]:
    """Slices and modes with their confirmation on the held-out half (``confirm_split``:
    the rows outside ``discover``) and their stability over ``stability_runs`` reruns of
    the discovery rows, recorded in ``meta["stability"]``."""
    slice_rows = [np.flatnonzero(labels == s.cluster_id) for s in slices]
    mode_rows = [np.flatnonzero(np.isin(labels, m.cluster_ids)) for m in modes]
    if confirm_split:
        with run.timer("confirm"):
            held_out = ~discover
            slices = [
                replace(s, confirmation_p_value=p, confirmation_size=k, confirmation_failures=f)
                for s, (p, k, f) in zip(
                    slices, confirm(slice_rows, fails, held_out, test=procedure.test), strict=True
                )
            ]
            modes = [
                replace(m, confirmation_p_value=p, confirmation_size=k, confirmation_failures=f)
                for m, (p, k, f) in zip(
                    modes, confirm(mode_rows, fails, held_out, test=procedure.test), strict=True
                )
            ]
    if stability_runs:
        with run.timer("stability"):
            # Reruns see what the discovery saw: the discovery rows (all rows without a split).
            where = np.full(len(labels), -1, dtype=np.int64)
            where[discover] = np.arange(int(discover.sum()))

            def local(groups: list[np.ndarray]) -> list[np.ndarray]:
                return [where[g][where[g] >= 0] for g in groups]

            slice_scores, mode_scores = stability(
                vectors if discover.all() else vectors[discover],  # no copy of every row
                fails[discover],
                clusterer,
                procedure,
                slices=local(slice_rows),
                modes=local(mode_rows),
                runs=stability_runs,
                seed=seed,
                fraction=STABILITY_FRACTION,
                jaccard=STABILITY_JACCARD,
            )
            slices = [replace(s, stability=x) for s, x in zip(slices, slice_scores, strict=True)]
            modes = [replace(m, stability=x) for m, x in zip(modes, mode_scores, strict=True)]
        meta["stability"] = {
            "runs": stability_runs,
            "fraction": STABILITY_FRACTION,
            "jaccard": STABILITY_JACCARD,
            "seed": seed,
        }
    return slices, modes
