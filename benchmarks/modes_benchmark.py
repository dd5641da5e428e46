"""Failure modes on harder planted sets: found, false, fragmentation, stability, null test.

No download (the BIG-bench sdist of ``run_benchmark`` cannot be fetched here): every prompt
is a variant of one of the 3,000 bundled real prompts (``examples/data/bigbench_sample.jsonl``,
12 BIG-bench tasks), drawn from their cached MiniLM vectors with
:func:`benchmarks.coverage_benchmark.synthesize`, one task at a time so that each task gets
the number of prompts asked for. Two kinds of planted set, several seeds each:

- ``hard-20k``: 20,000 prompts, the 12 tasks in equal shares; ``object_counting`` (a task
  HDBSCAN cuts into dozens of clusters), ``date_understanding``, ``navigate`` and
  ``logical_fallacy_detection`` fail at 0.30 / 0.40 / 0.50 / 0.60, every other prompt at
  0.12.
- ``small-50k``: 50,000 prompts; the same four tasks have only 90 prompts each and fail at
  0.35, the 8 other tasks share the rest (6,205 each) and fail at 0.10.

Each run is ``SliceAnalyzer(min_slice_size=10, map_projection=None,
random_state=seed).analyze(..., embeddings=vectors)`` in this process, timed in wall and CPU
seconds (CPU over all threads: steadier on a shared machine). Slices and failure modes are
scored alike: a planted task is *found* when some reported group draws at least half its
members from it (the rule of :func:`benchmarks.run_benchmark.score`); a group is *false*
when no planted task makes up half of it; *fragmentation* is the number of groups matched to
planted tasks over the number of planted tasks found; *row recall* the share of planted-task
prompts inside reported groups. The first seed of each set also runs ``stability_runs`` and
``null_runs``; hard-20k's first seed is rerun with ``correction="by"``, ``"holm"`` and
``confirm="split"``. Every seed is also scored with the rates planted exactly
(:func:`planted_exactly`: ``round(rate * n)`` failures per task) on the same clusters.
For every run, a diagnosis says which planted tasks fragment or are
missed and why (the refused merges under the tasks' common tree node, with their merge
p-values and tree heights), and *experiments* re-choose the modes on the run's own clusters
with other ``merge_level`` values and with trees of other linkages
(:func:`faultmap.analyses.modes.choose_modes`; no reclustering, nothing in faultmap changed).
``small-50k``'s first seed is also rerun with HDBSCAN fitted on every row instead of a
20,000-row sample (``--fit-all``).

Null test: on the vectors of hard-20k (first seed), ``--null-sets`` data sets whose failures
are pure noise (every row fails at 0.12, a new draw each) go through ``analyze()``; the
clustering does not depend on the labels, so the first set is clustered for real (and checked
to give the same clusters) and the others reuse those clusters. A data set with any reported
failure mode (or slice) is a false alarm; the observed rate gets a binomial 95 % interval
against the promised level 0.05. ``--null-draws`` more draws per correction go through the
same procedure (tests, correction, merge) without naming, on hard-20k's and small-50k's
clusters.

    .venv/bin/python -m benchmarks.modes_benchmark [--sets hard-20k,small-50k] \\
        [--seeds 0,1,2] [--stability-runs 5] [--null-sets 20] [--null-draws 1000]

Rows go to ``benchmarks/results/modes.json``; a summary table is printed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.coverage_benchmark import _rows, anchor_vectors, synthesize

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PLANTED = ("object_counting", "date_understanding", "navigate", "logical_fallacy_detection")
LEVEL = 0.05  # the promised error rate (significance_level of the analyzer)

logger = logging.getLogger("benchmark")


@dataclass(frozen=True)
class PlantedSet:
    """How one kind of planted set is drawn: prompts per task and failure rate per task."""

    name: str
    counts: dict[str, int]
    rates: dict[str, float]  # planted tasks
    baseline: float  # every other task


def planted_sets() -> dict[str, PlantedSet]:
    tasks = sorted({r["task"] for r in _rows()})
    others = [t for t in tasks if t not in PLANTED]
    hard = {t: 20_000 // len(tasks) + (i < 20_000 % len(tasks)) for i, t in enumerate(tasks)}
    small = {t: 90 for t in PLANTED} | {
        t: (50_000 - 90 * len(PLANTED)) // len(others) for t in others
    }
    return {
        "hard-20k": PlantedSet(
            "hard-20k", hard, dict(zip(PLANTED, (0.30, 0.40, 0.50, 0.60), strict=True)), 0.12
        ),
        "small-50k": PlantedSet("small-50k", small, dict.fromkeys(PLANTED, 0.35), 0.10),
    }


@dataclass
class Data:
    prompts: list[str]
    vectors: np.ndarray
    tasks: np.ndarray  # task of each prompt
    failed: np.ndarray  # planted failures
    spec: PlantedSet
    seed: int


def variants(counts: dict[str, int], seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``counts[task]`` variants of the bundled prompts of each task (drawn task by task with
    :func:`synthesize`), in a seeded random order; texts are renumbered to stay distinct."""
    rows = _rows()
    tasks = np.array([r["task"] for r in rows], dtype=object)
    texts = [r["prompt"] for r in rows]
    anchors = anchor_vectors()
    prompts: list[str] = []
    vectors, labels = [], []
    for k, task in enumerate(sorted(counts)):
        p, v, lab = synthesize(anchors, tasks, texts, counts[task], [task], seed * 1000 + k)
        prompts += [x.rsplit(" (#", 1)[0] for x in p]
        vectors.append(v)
        labels.append(lab)
    order = np.random.default_rng(seed).permutation(len(prompts))
    out_prompts = [f"{prompts[i]} (#{j})" for j, i in enumerate(order)]
    return out_prompts, np.vstack(vectors)[order], np.concatenate(labels)[order].astype(str)


def build(spec: PlantedSet, seed: int) -> Data:
    prompts, vectors, tasks = variants(spec.counts, seed)
    rate = np.array([spec.rates.get(t, spec.baseline) for t in tasks])
    failed = np.random.default_rng([seed, 1]).random(len(tasks)) < rate
    return Data(prompts, vectors, tasks, failed, spec, seed)


def planted_exactly(data: Data) -> np.ndarray:
    """Failures planted at exactly each task's rate: ``round(rate * n)`` of a task's ``n``
    prompts, chosen at random (seeded). :func:`build` draws each prompt's failure on its own,
    so a 90-prompt task planted at 0.35 fails anywhere from about 0.22 to 0.48 (two standard
    deviations); this planting holds the rate fixed and leaves only which prompts fail to
    chance."""
    rng = np.random.default_rng([data.seed, 2])
    failed = np.zeros(len(data.tasks), dtype=bool)
    for task in sorted(set(data.tasks.tolist())):
        rows = np.flatnonzero(data.tasks == task)
        count = round(data.spec.rates.get(task, data.spec.baseline) * len(rows))
        failed[rng.choice(rows, size=count, replace=False)] = True
    return failed


# -- scoring ------------------------------------------------------------------------------


def score_groups(
    groups: Sequence[np.ndarray],
    tasks: np.ndarray,
    planted: Sequence[str],
    stability: Sequence[float | None] | None = None,
) -> dict[str, Any]:
    """Found, false, fragmentation, row recall and stability of reported groups (row
    positions), by the rule of :func:`benchmarks.run_benchmark.score`."""
    matched: Counter[str] = Counter()
    owner: list[str | None] = []
    for g in groups:
        task, count = Counter(tasks[g]).most_common(1)[0]
        hit = task in planted and count >= 0.5 * len(g)
        owner.append(task if hit else None)
        if hit:
            matched[task] += 1
    planted_rows = np.isin(tasks, list(planted))
    inside = np.zeros(len(tasks), dtype=bool)
    for g in groups:
        inside[g] = True
    out: dict[str, Any] = {
        "num": len(groups),
        "found": len(matched),
        "planted": len(planted),
        "missed": sorted(set(planted) - set(matched)),
        "false": sum(o is None for o in owner),
        "fragmentation": round(sum(matched.values()) / len(matched), 3) if matched else None,
        "groups_per_task": {t: matched.get(t, 0) for t in planted},
        "row_recall": round(float(inside[planted_rows].mean()), 3),
        "row_recall_per_task": {t: round(float(inside[tasks == t].mean()), 3) for t in planted},
        "row_precision": round(float(planted_rows[inside].mean()), 3) if inside.any() else None,
    }
    if stability is not None and any(s is not None for s in stability):
        hit = [s for s, o in zip(stability, owner, strict=True) if o is not None]
        miss = [s for s, o in zip(stability, owner, strict=True) if o is None]
        out["stability_matched"] = round(float(np.mean(hit)), 3) if hit else None
        out["stability_false"] = round(float(np.mean(miss)), 3) if miss else None
        out["stability_matched_min"] = round(float(np.min(hit)), 3) if hit else None
    return out


def describe(groups: Sequence[np.ndarray], data: Data, extra: list[dict]) -> list[dict]:
    """Size, failure rate and majority task of each group, with ``extra`` fields."""
    out = []
    for g, more in zip(groups, extra, strict=True):
        task, count = Counter(data.tasks[g]).most_common(1)[0]
        out.append(
            {
                "size": len(g),
                "failure_rate": round(float(data.failed[g].mean()), 3),
                "task": task,
                "task_share": round(count / len(g), 3),
                **more,
            }
        )
    return out


# -- one analysis -------------------------------------------------------------------------


class GivenLabels:
    """A clusterer that returns labels computed before (clustering never sees the failure
    labels, so a null data set on the same vectors has these clusters)."""

    name = "hdbscan"

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)

    def fit_predict(self, vectors: np.ndarray, *, min_cluster_size: int) -> np.ndarray:
        if len(vectors) != len(self.labels):
            raise ValueError("GivenLabels: not the vectors these labels were computed on")
        return self.labels.copy()


def analyze(data: Data, failed: np.ndarray, *, clusterer: Any = None, **options: Any):
    """``SliceAnalyzer(...).analyze`` on the set's vectors; the report, wall and CPU s."""
    from faultmap import SliceAnalyzer

    runs = {k: options.pop(k) for k in ("stability_runs", "null_runs") if k in options}
    kwargs: dict[str, Any] = dict(
        min_slice_size=10,
        map_projection=None,
        embedding_cache=False,
        random_state=data.seed,
        **options,
    )
    if clusterer is not None:
        kwargs["clustering_method"] = clusterer
    analyzer = SliceAnalyzer(**kwargs)
    scores = np.where(failed, 0.0, 1.0)
    start, cpu = time.perf_counter(), time.process_time()
    report = analyzer.analyze(
        data.prompts, [""] * len(scores), scores=scores, embeddings=data.vectors, **runs
    )
    return report, time.perf_counter() - start, time.process_time() - cpu


def run_row(data: Data, label: str, **options: Any) -> tuple[dict, Any]:
    """Analyse the planted set once and score its slices and modes."""
    report, wall, cpu = analyze(data, data.failed, **dict(options))
    labels = np.asarray(report.cluster_labels)
    slices = [np.asarray(s.sample_indices) for s in report.slices]
    modes = [np.asarray(m.sample_indices) for m in report.failure_modes]
    row: dict[str, Any] = {
        "kind": "run" if label == "default" else "variant",
        "set": data.spec.name,
        "seed": data.seed,
        "variant": label,
        "options": {k: v for k, v in options.items() if k != "clusterer"},
        "n": len(data.tasks),
        "planted_rows": int(np.isin(data.tasks, PLANTED).sum()),
        "failure_rate": round(float(data.failed.mean()), 4),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_1m": round(os.getloadavg()[0], 2),
        "timings_s": dict(report.metadata.get("timings_s", {})),
        "num_clusters": report.num_clusters,
        "noise": int((labels < 0).sum()),
        "slices": score_groups(slices, data.tasks, PLANTED, [s.stability for s in report.slices]),
        "modes": score_groups(
            modes, data.tasks, PLANTED, [m.stability for m in report.failure_modes]
        ),
        "mode_list": describe(
            modes,
            data,
            [
                {
                    "clusters": len(m.cluster_ids),
                    "slices": len(m.slices),
                    "adjusted_p": float(m.adjusted_p_value),
                    "stability": m.stability,
                    "confirmation_p": m.confirmation_p_value,
                }
                for m in report.failure_modes
            ],
        ),
    }
    if report.null_audit is not None:
        row["null_audit"] = report.null_audit.to_dict()
    if options.get("confirm") == "split":
        row["confirmed_modes"] = sum(
            (m.confirmation_p_value or 1.0) < LEVEL for m in report.failure_modes
        )
        row["confirmed_slices"] = sum(
            (s.confirmation_p_value or 1.0) < LEVEL for s in report.slices
        )
    return row, report


# -- why a planted task fragments or is missed ------------------------------------------


def leaf_centroids(data: Data, labels: np.ndarray, leaf_ids: Sequence[int]) -> np.ndarray:
    """Unit mean vector of each cluster, as :func:`faultmap.analyses.modes.cluster_tree`
    computes them."""
    ids = np.asarray(leaf_ids)
    centroids = np.array([data.vectors[labels == g].astype(np.float64).sum(0) for g in ids])
    return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)


def tree_with(centroids: np.ndarray, ids: np.ndarray, method: str) -> tuple[Any, np.ndarray]:
    """The cluster tree over ``ids`` with another linkage ``method`` (cosine distance; still
    built without the labels), and scipy's linkage matrix (heights in column 2)."""
    from scipy.cluster.hierarchy import linkage

    from faultmap.analyses.modes import ClusterTree

    merges = linkage(centroids, method=method, metric="cosine")
    children = merges[:, :2].astype(np.int64)
    leaves: list[np.ndarray] = [np.array([i]) for i in range(len(ids))]
    for x, y in children:
        leaves.append(np.concatenate([leaves[x], leaves[y]]))
    return ClusterTree(np.asarray(ids), children, tuple(np.sort(x) for x in leaves)), merges


def diagnose(data: Data, report: Any) -> dict[str, Any]:
    """For each planted task matched by more than one mode: the common tree node of its
    modes and the merges refused under it; for each task missed: where its rows went."""
    labels = np.asarray(report.cluster_labels)
    nodes = report.mode_nodes
    c = sum(1 for x in nodes if not x.children)
    if c == 0:
        return {"tasks": {}}
    leaf_ids = np.array([x.cluster_ids[0] for x in nodes[:c]])
    centroids = leaf_centroids(data, labels, leaf_ids)
    _, linkage_rows = tree_with(centroids, leaf_ids, "average")
    leaf_of = {int(g): i for i, g in enumerate(leaf_ids)}

    def distance(ids_a: Sequence[int], ids_b: Sequence[int]) -> float:
        """Average-linkage distance of two sets of clusters: mean cosine distance of their
        centroids, over all pairs (the height at which the tree would join them)."""
        x = centroids[[leaf_of[g] for g in ids_a]]
        y = centroids[[leaf_of[g] for g in ids_b]]
        return round(float(np.mean(1.0 - x @ y.T)), 4)

    same_tree = bool(
        np.array_equal(linkage_rows[:, :2].astype(int), np.array([x.children for x in nodes[c:]]))
    )
    height = {c + j: float(h) for j, h in enumerate(linkage_rows[:, 2])}
    parent = {ch: x.node_id for x in nodes for ch in x.children}
    baseline = float(data.failed.mean())

    def composition(cluster_ids: Sequence[int], task: str) -> dict[str, Any]:
        rows = np.flatnonzero(np.isin(labels, cluster_ids))
        top, count = Counter(data.tasks[rows]).most_common(1)[0]
        return {
            "size": len(rows),
            "failure_rate": round(float(data.failed[rows].mean()), 3),
            "task_share": round(float(np.mean(data.tasks[rows] == task)), 3),
            "majority": top,
            "majority_share": round(count / len(rows), 3),
        }

    def ancestors(k: int) -> list[int]:
        out = [k]
        while out[-1] in parent:
            out.append(parent[out[-1]])
        return out

    modes_meta = report.metadata.get("modes", {}) or {}
    out: dict[str, Any] = {
        "tree_checked": same_tree,
        "tested_clusters": c,
        "merge_level": modes_meta.get("merge_level"),
        "merge_threshold": modes_meta.get("merge_threshold"),
        "tasks": {},
    }
    mode_owner = []
    for m in report.failure_modes:
        task, count = Counter(data.tasks[m.sample_indices]).most_common(1)[0]
        mode_owner.append(task if task in PLANTED and count >= 0.5 * m.size else None)
    for task in PLANTED:
        mine = [m for m, o in zip(report.failure_modes, mode_owner, strict=True) if o == task]
        entry: dict[str, Any] = {"modes": len(mine)}
        task_rows = data.tasks == task
        in_clusters = Counter(labels[task_rows])
        entry["task_clusters"] = sum(
            1 for g, k in in_clusters.items() if g >= 0 and k >= 0.5 * np.sum(labels == g)
        )
        entry["task_noise_share"] = round(in_clusters.get(-1, 0) / int(task_rows.sum()), 3)
        if len(mine) > 1:
            paths = [ancestors(m.node_id) for m in mine]
            common = next(k for k in paths[0] if all(k in p for p in paths[1:]))
            node = nodes[common]
            refused = []
            stack = [common]
            while stack:
                k = stack.pop()
                x = nodes[k]
                if not x.children:
                    continue
                stack.extend(x.children)
                # The lowest refusals: this node's own merge test split it (its children
                # are homogeneous, it is not).
                if not x.homogeneous and all(nodes[ch].homogeneous for ch in x.children):
                    refused.append(
                        {
                            "node": k,
                            "merge_p_value": float(x.merge_p_value),
                            "height": round(height[k], 4),
                            "children": [
                                composition(nodes[ch].cluster_ids, task) for ch in x.children
                            ],
                        }
                    )
            refused.sort(key=lambda r: r["merge_p_value"])
            entry["common_node"] = {
                "node": common,
                "height": round(height.get(common, 0.0), 4),
                "clusters": len(node.cluster_ids),
                "adjusted_p_value": float(node.adjusted_p_value),
                "homogeneous": node.homogeneous,
                "merge_p_value": node.merge_p_value,
                **composition(node.cluster_ids, task),
            }
            entry["refused_merges"] = refused[:8]
            entry["num_refused_merges"] = len(refused)
            entry["mode_distances"] = [
                distance(mine[i].cluster_ids, mine[j].cluster_ids)
                for i in range(len(mine))
                for j in range(i + 1, len(mine))
            ]
            # The other child of each lowest refused merge (not of this task): how far it is
            # from each of the task's modes.
            for r in entry["refused_merges"]:
                children = nodes[r["node"]].children
                other = [
                    ch
                    for ch, x in zip(children, r["children"], strict=True)
                    if x["task_share"] < 0.5
                ]
                if other:
                    r["other_child_to_modes"] = [
                        distance(nodes[other[0]].cluster_ids, m.cluster_ids) for m in mine
                    ]
            entry["mode_sizes"] = [m.size for m in mine]
            entry["mode_rates"] = [round(m.failure_rate, 3) for m in mine]
        elif not mine:
            where = []
            for g, k in in_clusters.most_common(3):
                if g < 0:
                    where.append({"cluster": -1, "task_rows": k})
                    continue
                rows = labels == g
                top, count = Counter(data.tasks[rows]).most_common(1)[0]
                where.append(
                    {
                        "cluster": int(g),
                        "task_rows": k,
                        "cluster_size": int(rows.sum()),
                        "majority": top,
                        "majority_share": round(count / int(rows.sum()), 3),
                        "failure_rate": round(float(data.failed[rows].mean()), 3),
                        "baseline": round(baseline, 3),
                        "in_mode": any(g in m.cluster_ids for m in report.failure_modes),
                    }
                )
            entry["where_rows_went"] = where
        out["tasks"][task] = entry
    return out


def mode_experiments(
    data: Data, report: Any, merge_levels: Sequence[str], linkages: Sequence[str]
) -> list[dict]:
    """The modes re-chosen on the run's own clusters (no reclustering) with other merge
    levels and with trees of other linkages, through
    :func:`faultmap.analyses.modes.choose_modes`. "uncorrected" is the merge level whose
    Bonferroni-corrected threshold is 0.05 per merge test (``0.05 * (C - 1)``: the rule
    without the correction); "rule=first" is the choice before the scan rule (the first
    rejected homogeneous node from the root). The default (average linkage, the report's
    merge level, the scan rule) is checked to reproduce the report's modes."""
    from faultmap.analyses.modes import MERGE_LEVEL, choose_modes, per_cluster

    labels = np.asarray(report.cluster_labels)
    c = sum(1 for x in report.mode_nodes if not x.children)
    if c == 0:
        return []
    ids = np.array([x.cluster_ids[0] for x in report.mode_nodes[:c]])
    centroids = leaf_centroids(data, labels, ids)
    sizes, fails = per_cluster(labels, data.failed, ids)
    trees = {m: tree_with(centroids, ids, m)[0] for m in {"average", *linkages}}
    settings = [("average", MERGE_LEVEL, "default (check)"), ("average", MERGE_LEVEL, "rule=first")]
    for name in merge_levels:
        level = 0.05 * max(c - 1, 1) if name == "uncorrected" else float(name)
        settings.append(("average", level, f"merge_level={name}"))
    settings += [(m, MERGE_LEVEL, f"linkage={m}") for m in linkages]
    rows = []
    for method, level, label in settings:
        start = time.process_time()
        choice = choose_modes(
            trees[method],
            sizes,
            fails,
            len(labels),
            int(data.failed.sum()),
            correction=report.correction,
            merge_level=level,
            rule="first" if label == "rule=first" else "scan",
        )
        tree = choice.tree
        members = [tree.cluster_ids[tree.leaves[k]] for k in choice.modes]
        if label.startswith("default"):
            own = sorted(sorted(m.cluster_ids) for m in report.failure_modes)
            again = sorted(sorted(int(g) for g in x) for x in members)
            if own != again:
                logger.warning("re-chosen modes differ from the report's (%s)", data.spec.name)
            reproduces = own == again
            continue
        groups = [np.flatnonzero(np.isin(labels, x)) for x in members]
        rows.append(
            {
                "kind": "experiment",
                "experiment": label,
                "set": data.spec.name,
                "seed": data.seed,
                "linkage": method,
                "merge_level": level,
                "cpu_s": round(time.process_time() - start, 3),
                "modes": score_groups(groups, data.tasks, PLANTED),
                "mode_list": describe(
                    groups,
                    data,
                    [
                        {"clusters": len(x), "adjusted_p": float(choice.adjusted[k])}
                        for x, k in zip(members, choice.modes, strict=True)
                    ],
                ),
            }
        )
    for r in rows:
        r["default_reproduces_report"] = reproduces
    return rows


# -- null test ----------------------------------------------------------------------------


def interval(count: int, total: int) -> list[float]:
    from scipy.stats import binomtest

    ci = binomtest(count, total).proportion_ci(confidence_level=0.95)
    return [round(float(ci.low), 4), round(float(ci.high), 4)]


def null_sets(data: Data, labels: np.ndarray, sets: int, null_runs: int) -> dict[str, Any]:
    """``sets`` pure-noise data sets on ``data``'s vectors through ``analyze()``: the first
    clustered for real (and checked against ``labels``), the others on ``labels``."""
    rng = np.random.default_rng([data.seed, 7])
    modes, slices, walls, cpus = [], [], [], []
    same_clusters = None
    audits = []
    for i in range(sets):
        failed = rng.random(len(data.tasks)) < data.spec.baseline
        report, wall, cpu = analyze(
            data,
            failed,
            clusterer=None if i == 0 else GivenLabels(labels),
            null_runs=null_runs if i == 0 else 0,
        )
        if i == 0:
            same_clusters = bool(np.array_equal(np.asarray(report.cluster_labels), labels))
            if report.null_audit is not None:
                audits.append(report.null_audit.to_dict())
        modes.append(report.num_failure_modes)
        slices.append(len(report.slices))
        walls.append(wall)
        cpus.append(cpu)
        logger.info(
            "null set %d/%d: %d mode(s), %d slice(s), %.1fs",
            i + 1,
            sets,
            modes[-1],
            slices[-1],
            wall,
        )
    with_mode = sum(m > 0 for m in modes)
    with_slice = sum(s > 0 for s in slices)
    return {
        "kind": "null",
        "set": data.spec.name,
        "seed": data.seed,
        "how": "analyze() on pure-noise labels (first set clustered, the rest reuse its clusters)",
        "failure_rate": data.spec.baseline,
        "sets": sets,
        "same_clusters_when_reclustered": same_clusters,
        "sets_with_mode": with_mode,
        "mode_rate": round(with_mode / sets, 4),
        "mode_rate_ci95": interval(with_mode, sets),
        "sets_with_slice": with_slice,
        "slice_rate": round(with_slice / sets, 4),
        "slice_rate_ci95": interval(with_slice, sets),
        "false_modes_per_set": round(float(np.mean(modes)), 4),
        "false_slices_per_set": round(float(np.mean(slices)), 4),
        "level": LEVEL,
        "first_set_wall_s": round(walls[0], 2),
        "first_set_cpu_s": round(cpus[0], 2),
        "other_sets_wall_s": round(float(np.mean(walls[1:])), 2) if sets > 1 else None,
        "other_sets_cpu_s": round(float(np.mean(cpus[1:])), 2) if sets > 1 else None,
        "null_audit_of_first_set": audits[0] if audits else None,
    }


def null_draws(data: Data, labels: np.ndarray, draws: int, correction: str) -> dict[str, Any]:
    """``draws`` pure-noise label draws through the procedure on fixed clusters (tests,
    correction, merge; no naming): :func:`faultmap.analyses.evidence.reported`."""
    from faultmap.analyses.evidence import Procedure, reported
    from faultmap.analyses.modes import cluster_tree

    procedure = Procedure(correction=correction)
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    tested = ids[sizes >= procedure.min_size].astype(np.int64)  # the family analyze() tests
    tree = cluster_tree(data.vectors, labels, tested)
    rng = np.random.default_rng([data.seed, 11])  # the same draws for every correction
    modes = np.zeros(draws, dtype=np.int64)
    slices = np.zeros(draws, dtype=np.int64)
    start = time.process_time()
    for r in range(draws):
        failed = rng.random(len(labels)) < data.spec.baseline
        found, choice = reported(labels, failed, procedure, tested=tested, tree=tree)
        slices[r], modes[r] = len(found), len(choice.modes)
    with_mode, with_slice = int((modes > 0).sum()), int((slices > 0).sum())
    return {
        "kind": "null_draws",
        "set": data.spec.name,
        "seed": data.seed,
        "correction": correction,
        "how": "evidence.reported() on pure-noise labels over the run's clusters",
        "tested_clusters": len(tested),
        "draws": draws,
        "sets_with_mode": with_mode,
        "mode_rate": round(with_mode / draws, 4),
        "mode_rate_ci95": interval(with_mode, draws),
        "sets_with_slice": with_slice,
        "slice_rate": round(with_slice / draws, 4),
        "slice_rate_ci95": interval(with_slice, draws),
        "false_modes_per_set": round(float(modes.mean()), 4),
        "level": LEVEL,
        "cpu_s": round(time.process_time() - start, 2),
    }


# -- driver ---------------------------------------------------------------------------------


def code_state() -> dict[str, str]:
    """The commit and a digest of the modules that decide slices and modes (other work may
    be editing them while this runs)."""
    import hashlib
    import subprocess

    out = {}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        out["head"] = head.stdout.strip()
    except OSError:
        pass
    for name in ("modes", "evidence", "slices"):
        path = ROOT / "faultmap" / "analyses" / f"{name}.py"
        if path.exists():
            out[f"{name}.py"] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return out


def _fmt(x: Any) -> str:
    return "" if x is None else str(x)


def table(rows: list[dict]) -> str:
    lines = [
        "| set | seed | run | wall s | CPU s | clusters | kind | found | false | frag | "
        "recall | precision | stab matched | stab false |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] not in ("run", "variant", "experiment"):
            continue
        run = r.get("variant") or r.get("experiment")
        for kind in ("slices", "modes"):
            s = r.get(kind)
            if s is None:
                continue
            lines.append(
                f"| {r['set']} | {r['seed']} | {run} | {_fmt(r.get('wall_s'))} | "
                f"{_fmt(r.get('cpu_s'))} | {_fmt(r.get('num_clusters'))} | {kind} | "
                f"{s['found']}/{s['planted']} | {s['false']} | {_fmt(s['fragmentation'])} | "
                f"{s['row_recall']} | {_fmt(s['row_precision'])} | "
                f"{_fmt(s.get('stability_matched'))} | "
                f"{_fmt(s.get('stability_false'))} |"
            )
    for r in rows:
        if r["kind"] in ("null", "null_draws"):
            n = r.get("sets", r.get("draws"))
            lines.append(
                f"null {r['set']} {r.get('correction', 'bh')} ({r['kind']}): "
                f"{r['sets_with_mode']}/{n} with a mode, rate {r['mode_rate']} "
                f"CI {r['mode_rate_ci95']}; {r['sets_with_slice']}/{n} with a slice"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="hard-20k,small-50k")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--stability-runs", type=int, default=5, help="on each set's first seed")
    parser.add_argument("--null-runs", type=int, default=100, help="on each set's first seed")
    parser.add_argument("--null-sets", type=int, default=20, help="pure-noise sets, analyze()")
    parser.add_argument("--null-draws", type=int, default=1000, help="per correction, cheap")
    parser.add_argument("--variants", default="by,holm,split", help="on hard-20k's first seed")
    parser.add_argument(
        "--fit-all",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="rerun small-50k's first seed with HDBSCAN fitted on all rows (not a 20k sample)",
    )
    parser.add_argument(
        "--merge-levels",
        default="uncorrected,0.5,0.005",
        help="experiment: modes re-chosen on each run's clusters at these merge levels",
    )
    parser.add_argument(
        "--linkages",
        default="single,complete,weighted",
        help="experiment: modes re-chosen on each run's clusters with trees of these linkages",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "modes.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    specs = planted_sets()
    seeds = [int(s) for s in args.seeds.split(",")]
    merge_levels = [x for x in args.merge_levels.split(",") if x]
    linkages = [x for x in args.linkages.split(",") if x]
    rows: list[dict] = []
    started, cpu_started = time.perf_counter(), time.process_time()

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")

    for name in args.sets.split(","):
        spec = specs[name]
        for i, seed in enumerate(seeds):
            data = build(spec, seed)
            first = i == 0
            logger.info("%s seed %d: %d prompts", name, seed, len(data.tasks))
            row, report = run_row(
                data,
                "default",
                stability_runs=args.stability_runs if first else 0,
                null_runs=args.null_runs if first else 0,
            )
            row["diagnosis"] = diagnose(data, report)
            rows.append(row)
            logger.info("%s", {k: row[k] for k in ("set", "seed", "wall_s", "cpu_s", "modes")})
            rows += mode_experiments(data, report, merge_levels, linkages)
            labels = np.asarray(report.cluster_labels)
            # The same clusters (they never see the failures) with the rates planted exactly.
            exact = dataclasses.replace(data, failed=planted_exactly(data))
            erow, ereport = run_row(exact, "exact rates", clusterer=GivenLabels(labels))
            erow["diagnosis"] = diagnose(exact, ereport)
            rows.append(erow)
            logger.info("exact rates: %s", erow["modes"])
            save()
            if not first:
                continue
            if name == "hard-20k":
                for variant in (v for v in args.variants.split(",") if v):
                    options = {"confirm": "split"} if variant == "split" else {}
                    if variant != "split":
                        options["correction"] = variant
                    vrow, vreport = run_row(data, variant, **options)
                    vrow["diagnosis"] = diagnose(data, vreport)
                    rows.append(vrow)
                    logger.info("%s: %s", variant, vrow["modes"])
                    save()
                if args.null_sets:
                    rows.append(null_sets(data, labels, args.null_sets, args.null_runs))
                    logger.info("%s", rows[-1])
                    save()
            if name == "small-50k" and args.fit_all:
                from faultmap.clustering.hdbscan import HDBSCANClusterer

                clusterer = HDBSCANClusterer(max_fit_points=None, random_state=seed)
                vrow, vreport = run_row(data, "fit-all", clusterer=clusterer)
                vrow["options"] = {"clustering_method": "HDBSCANClusterer(max_fit_points=None)"}
                vrow["diagnosis"] = diagnose(data, vreport)
                rows.append(vrow)
                logger.info("fit-all: %s", vrow["modes"])
                save()
            for correction in ("bh", "by", "holm") if args.null_draws else ():
                rows.append(null_draws(data, labels, args.null_draws, correction))
                logger.info("%s", rows[-1])
                save()
    rows.append(
        {
            "kind": "total",
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(time.process_time() - cpu_started, 1),
            "cpus": os.cpu_count(),
            "argv": argv if argv is not None else sys.argv[1:],
            "code": code_state(),
        }
    )
    save()
    print(table(rows))
    logger.info("total %.0fs wall, %.0fs CPU", rows[-1]["wall_s"], rows[-1]["cpu_s"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
