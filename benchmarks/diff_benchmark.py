"""Diff by meaning (issue 12): one planted set split in two halves by row, one diff.

No download: every prompt is a variant of one of the 3,000 bundled real prompts
(``examples/data/bigbench_sample.jsonl``, 12 BIG-bench tasks), drawn from their cached
all-MiniLM-L6-v2 vectors with :func:`benchmarks.coverage_benchmark.synthesize` (each variant
has its own text, so the two halves share no prompt). Failures are planted by task:

- ``object_counting`` (a task HDBSCAN cuts into dozens of clusters), ``date_understanding``
  and ``logical_fallacy_detection`` fail at 0.30 / 0.40 / 0.50 in both halves: they must come
  back **persisting**;
- ``navigate`` fails at 0.45 in the first half only (fixed): it must be **resolved**;
- ``reasoning_about_colored_objects`` (a task that keeps to its own cluster here) fails at
  0.45 in the second half only (broken): it must be **new**, never persisting;
- every other prompt fails at 0.10.

The first half of the rows is OLD, the second NEW; each goes through
``SliceAnalyzer(min_slice_size=10, map_projection=None, random_state=seed).analyze(...,
embeddings=vectors, embeddings_model="all-MiniLM-L6-v2")`` and the two reports through
``diff_reports`` (and, for comparison, ``diff_reports(..., by_meaning=False)``, the rule before
issue 12). A finding (slice or mode) belongs to the task at least half its members come from,
else it is "mixed". Scored for slices and modes alike: *planted persisting* (planted tasks
with a persisting pair of that task on both sides), *false matches* (persisting pairs whose
two sides are of different tasks), *broken new* (the broken task is new and in no persisting
pair), *fixed resolved* (every OLD finding of the fixed task is resolved), *spurious new*
(new findings of a task that failed in both halves) and *spurious resolved* (resolved OLD
findings of such a task). The calibration figures: the centroid similarity of every
same-task persisting pair and the largest similarity between findings of different tasks,
each against what the rule needs (the lower of the two median similarities). A last run perturbs
NEW's vectors to cosine 0.99 with the originals (a stand-in for a faster, quantised backend
of the same model; simulated, isotropic noise).

    .venv/bin/python -m benchmarks.diff_benchmark [--sizes 5000,20000,50000] [--seeds 0,1,2]

Rows go to ``benchmarks/results/diff.json``; a summary table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.coverage_benchmark import _rows, anchor_vectors, synthesize

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PERSIST = {"object_counting": 0.30, "date_understanding": 0.40, "logical_fallacy_detection": 0.50}
FIXED = ("navigate", 0.45)  # fails in OLD only
BROKEN = ("reasoning_about_colored_objects", 0.45)  # fails in NEW only
BASE = 0.10

logger = logging.getLogger("benchmark")


def _scores(tasks: np.ndarray, rates: dict[str, float], seed: int) -> np.ndarray:
    p = np.array([rates.get(str(t), BASE) for t in tasks])
    return np.where(np.random.default_rng(seed).random(len(tasks)) < p, 0.0, 1.0)


def _task(item: Any, tasks: np.ndarray) -> str:
    task, count = Counter(tasks[item.sample_indices]).most_common(1)[0]
    return str(task) if count >= 0.5 * item.size else "mixed"


def _score(d: Any, old: Any, new: Any, old_tasks: np.ndarray, new_tasks: np.ndarray) -> dict:
    """The figures of the module docstring for the modes and for the slices of one diff."""

    def of(report: Any, tasks: np.ndarray, ref: Any) -> str:
        items = report.failure_modes if ref.kind == "mode" else report.slices
        return _task(items[ref.position], tasks)

    out = {}
    for kind, new_, resolved, persisting, not_retested, items in (
        (
            "modes",
            d.new_modes,
            d.resolved_modes,
            d.persisting_modes,
            d.not_retested_modes,
            "failure_modes",
        ),
        ("slices", d.new, d.resolved, d.persisting, d.not_retested, "slices"),
    ):
        pairs = [(of(old, old_tasks, m.old), of(new, new_tasks, m.new)) for m in persisting]
        new_tasks_ = [of(new, new_tasks, r) for r in new_]
        resolved_tasks = [of(old, old_tasks, r) for r in resolved]
        fixed_old = [
            k for k, x in enumerate(getattr(old, items)) if _task(x, old_tasks) == FIXED[0]
        ]
        same = [m for m, (a, b) in zip(persisting, pairs, strict=True) if a == b]
        out[kind] = {
            "persisting": len(persisting),
            "new": len(new_),
            "resolved": len(resolved),
            "not_retested": len(not_retested),
            "planted_persisting": sum(any(a == b == t for a, b in pairs) for t in PERSIST),
            "false_matches": sum(a != b for a, b in pairs),
            "broken_new": BROKEN[0] in new_tasks_ and all(BROKEN[0] not in p for p in pairs),
            "fixed_resolved": bool(fixed_old) and {r.position for r in resolved} >= set(fixed_old),
            "spurious_new": sum(t in PERSIST for t in new_tasks_),
            "spurious_resolved": sum(t in PERSIST for t in resolved_tasks),
            "min_same_task_similarity": min((m.similarity for m in same), default=None),
            "max_needed_same_task": max((m.similarity_needed for m in same), default=None),
            "matches": [
                {
                    "old": [m.old.kind, a],
                    "new": [m.new.kind, b],
                    "similarity": m.similarity,
                    "needed": m.similarity_needed,
                    "shared_prompts": m.shared_prompts,
                }
                for m, (a, b) in zip(persisting, pairs, strict=True)
            ],
        }
        out[kind]["closest_other_task"] = _closest_other(
            getattr(old, items), getattr(new, items), old_tasks, new_tasks
        )
    return out


def _closest_other(old_items, new_items, old_tasks, new_tasks) -> dict | None:
    """The pair of findings of different tasks whose centroids are closest, with what the
    rule needs of it."""
    best = None
    for a in old_items:
        for b in new_items:
            ta, tb = _task(a, old_tasks), _task(b, new_tasks)
            if ta == tb or "mixed" in (ta, tb):
                continue
            cos = float(a.centroid.vector() @ b.centroid.vector())
            if best is None or cos > best["similarity"]:
                needed = min(a.centroid.median_similarity, b.centroid.median_similarity)
                best = {"similarity": round(cos, 4), "needed": needed, "tasks": [ta, tb]}
    return best


def run(n: int, seed: int, anchors: np.ndarray, tasks: np.ndarray, texts: list[str]) -> list[dict]:
    from faultmap import SliceAnalyzer
    from faultmap.reports.diff import diff_reports

    prompts, vectors, labels = synthesize(anchors, tasks, texts, n, sorted(set(tasks)), seed)
    half = n // 2
    old_rows, new_rows = np.arange(half), np.arange(half, n)
    old_rates = {**PERSIST, FIXED[0]: FIXED[1]}
    new_rates = {**PERSIST, BROKEN[0]: BROKEN[1]}
    analyzer = SliceAnalyzer(min_slice_size=10, map_projection=None, random_state=seed)

    def analyse(rows: np.ndarray, rates: dict[str, float], vecs: np.ndarray, salt: int) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        report = analyzer.analyze(
            [prompts[i] for i in rows],
            [""] * len(rows),
            scores=_scores(labels[rows], rates, seed * 10 + salt),
            embeddings=vecs[rows],
            embeddings_model="all-MiniLM-L6-v2",
        )
        logger.info(
            "n=%d seed=%d: %d rows analysed in %.1f s (%.1f s CPU): %d slices, %d modes",
            n, seed, len(rows), time.perf_counter() - start, time.process_time() - cpu,
            len(report.slices), len(report.failure_modes),
        )  # fmt: skip
        return report

    old = analyse(old_rows, old_rates, vectors, 1)
    new = analyse(new_rows, new_rates, vectors, 2)
    rng = np.random.default_rng(seed + 100)
    noise = rng.normal(size=vectors.shape)
    noise -= (noise * vectors).sum(axis=1, keepdims=True) * vectors
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    noisy = (0.99 * vectors + np.sqrt(1 - 0.99**2) * noise).astype(np.float32)
    new_noisy = analyse(new_rows, new_rates, noisy, 2)
    old_tasks, new_tasks = labels[old_rows], labels[new_rows]
    rows = []
    for name, d, second in (
        ("meaning", diff_reports(old, new), new),
        ("prompts only", diff_reports(old, new, by_meaning=False), new),
        ("meaning, NEW at cosine 0.99", diff_reports(old, new_noisy), new_noisy),
    ):
        assert name == "prompts only" or d.meaning_compared, d.notes
        rows.append(
            {
                "n": n,
                "seed": seed,
                "diff": name,
                "shared_prompts": d.shared_prompts,
                **_score(d, old, second, old_tasks, new_tasks),
            }
        )
    return rows


def _table(rows: list[dict]) -> str:
    head = (
        "| n | seed | diff | level | persisting / new / resolved / not retested | planted "
        "persisting | false matches | broken new | fixed resolved | spurious new / resolved |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        for level in ("modes", "slices"):
            x = r[level]
            lines.append(
                f"| {r['n']:,} | {r['seed']} | {r['diff']} | {level} | {x['persisting']} / "
                f"{x['new']} / {x['resolved']} / {x['not_retested']} | "
                f"{x['planted_persisting']}/{len(PERSIST)} | {x['false_matches']} | "
                f"{'yes' if x['broken_new'] else 'no'} | {'yes' if x['fixed_resolved'] else 'no'} "
                f"| {x['spurious_new']} / {x['spurious_resolved']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="5000,20000,50000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=RESULTS / "diff.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("faultmap").setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = _rows()
    tasks = np.array([r["task"] for r in data])
    texts = [r["prompt"] for r in data]
    anchors = anchor_vectors()
    rows = []
    start = time.perf_counter()
    for n in (int(x) for x in args.sizes.split(",")):
        seeds = [int(x) for x in args.seeds.split(",")]
        for seed in seeds if n <= 20_000 else seeds[:1]:
            rows += run(n, seed, anchors, tasks, texts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(_table(rows))
    print(f"\n{len(rows)} diffs in {time.perf_counter() - start:.0f} s; rows in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
