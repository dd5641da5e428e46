"""Coverage-audit benchmark: 100,000 production x 10,000 test prompts, precomputed vectors.

Vectors are synthetic but anchored on real ones: the 3,000 prompts of
``examples/data/bigbench_sample.jsonl`` (12 BIG-bench tasks) are embedded with
all-MiniLM-L6-v2 (once, in a child process, cached under ``benchmarks/.cache``), and every
synthetic prompt is a variant of a real prompt of its task::

    v = normalize(a + 0.5 * (b - c) + 0.1 * g)

with ``a`` the anchor, ``b``, ``c`` two other real prompts of the same task (so variation
follows the task's own directions) and ``g`` isotropic Gaussian noise of norm about 1. Its
text is the anchor's text with a variant number. The test suite draws from 10 tasks, the
production log from all 12, so the two held-out tasks are the gaps to find.

We time ``SliceAnalyzer().audit_coverage(..., test_embeddings=, production_embeddings=)``
end to end (default settings: HDBSCAN, keyword names, automatic threshold) and record the
peak resident memory of the audit (Linux: the VmHWM counter is reset just before it).

    .venv/bin/python -m benchmarks.coverage_benchmark                       # 100k x 10k
    .venv/bin/python -m benchmarks.coverage_benchmark --production 20000 --test 2000

Results go to ``benchmarks/results/coverage.json``.

``--gaps`` instead checks that held-out tasks come back as gaps (issue 12): suites that leave
whole tasks out, small ones on the real vectors of the bundled prompts (the issue's case: 600
prompts without date understanding, navigate and object counting, production = the other
2,400 rows) and large ones on variants (20,000 production prompts; a 500-prompt suite without
three tasks, a 10,000-prompt suite without two), and controls where nothing is held out
(full audits on random splits; and the region tests alone on 2,000 random splits of fixed
regions: the bundled prompts with each correction, the variants with Benjamini–Hochberg).
Results go to ``benchmarks/results/coverage_gaps.json``.

    .venv/bin/python -m benchmarks.coverage_benchmark --gaps    # about 5 minutes on 2 cores
    .venv/bin/python -m benchmarks.coverage_benchmark --gaps --control-runs 200 \
        --large-control-runs 20                                   # the recorded run
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "bigbench_sample.jsonl"
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
HELD_OUT = ("navigate", "object_counting")

logger = logging.getLogger("benchmark")


def _rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def write_anchor_vectors(path: Path) -> None:
    """Embed the bundled sample's prompts (run in a child process: torch stays out of the
    measured process)."""
    from faultmap.embedding import CachedEmbedder, SentenceTransformerEmbedder

    embedder = CachedEmbedder(SentenceTransformerEmbedder(), CACHE / "faultmap-cache")
    vectors = embedder.embed([r["prompt"] for r in _rows()])
    np.save(path, vectors)


def anchor_vectors() -> np.ndarray:
    path = CACHE / "coverage-anchors.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Embedding the 3,000 anchor prompts (once)...")
        subprocess.run(
            [sys.executable, "-m", "benchmarks.coverage_benchmark", "--write-anchors", str(path)],
            check=True,
            cwd=ROOT,
        )
    return np.load(path)


def synthesize(
    anchors: np.ndarray, tasks: np.ndarray, texts: list[str], n: int, allowed: list[str], seed: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n`` variants of real prompts of the ``allowed`` tasks, tasks in equal shares."""
    rng = np.random.default_rng(seed)
    members = {t: np.flatnonzero(tasks == t) for t in allowed}
    task_of = rng.choice(len(allowed), size=n)
    out = np.empty((n, anchors.shape[1]), dtype=np.float32)
    prompts: list[str] = []
    labels = np.empty(n, dtype=object)
    for start in range(0, n, 10_000):  # in blocks: no float64 copy of everything at once
        stop = min(start + 10_000, n)
        a, b, c = (
            np.array([rng.choice(members[allowed[k]]) for k in task_of[start:stop]])
            for _ in range(3)
        )
        noise = rng.normal(0.0, 1.0 / np.sqrt(anchors.shape[1]), (stop - start, anchors.shape[1]))
        v = anchors[a] + 0.5 * (anchors[b] - anchors[c]) + 0.1 * noise
        out[start:stop] = v / np.linalg.norm(v, axis=1, keepdims=True)
        prompts += [f"{texts[i]} (#{start + j})" for j, i in enumerate(a)]
        labels[start:stop] = tasks[a]
    return prompts, out, labels


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def run_child(module: str, argv: list[str] | None) -> dict[str, Any]:
    """Run ``python -m module --child ARGV`` (the measured part, in a fresh process whose
    peak memory is its own) and return the JSON object on the last line of its output."""
    child = subprocess.run(
        [sys.executable, "-m", module, "--child", *(argv or sys.argv[1:])],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def append_result(path: Path, result: dict[str, Any]) -> None:
    """Add ``result`` (with this machine's description) to the JSON list in ``path``."""
    result["machine"] = _machine()
    rows = json.loads(path.read_text()) if path.exists() else []
    rows.append(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


ISSUE_HELD_OUT = ("date_understanding", "navigate", "object_counting")


def gap_stats(report: Any, tasks: np.ndarray, held_out: Sequence[str]) -> dict[str, Any]:
    """How well a report's gaps match the held-out tasks: each task's share of production
    prompts inside gaps, the purity (majority task's share) of each gap, gaps whose majority
    is a task the suite has (false), both scores, and the share inside the previous rule's
    gaps (only the prompts beyond the distance threshold of the same regions, in groups of at
    least ``min_gap_size``)."""
    in_gap = np.zeros(len(tasks), dtype=bool)
    old_rule = np.zeros(len(tasks), dtype=bool)
    beyond = np.asarray(report.nearest_test_distances) > report.distance_threshold + 1e-6
    purity, false = [], 0
    for g in report.gaps:
        rows = np.asarray(g.prompt_indices)
        task, count = Counter(tasks[rows]).most_common(1)[0]
        in_gap[rows] = True
        far = rows[beyond[rows]]
        if far.size >= report.min_gap_size:
            old_rule[far] = True
        if task in held_out:
            purity.append(count / rows.size)
        else:
            false += 1
    share = {t: round(float(in_gap[tasks == t].mean()), 3) for t in held_out}
    share_old = {t: round(float(old_rule[tasks == t].mean()), 3) for t in held_out}
    return {
        "num_gaps": report.num_gaps,
        "held_out_share_in_gaps": share,
        "held_out_share_in_gaps_previous_rule": share_old,
        "min_purity_of_held_out_gaps": round(min(purity), 3) if purity else None,
        "false_gaps": false,
        "coverage_score": round(report.overall_coverage_score, 4),
        "distance_coverage_score": round(report.distance_coverage_score, 4),
        "distance_threshold": round(report.distance_threshold, 4),
        "zero_test_gap_size": report.metadata["zero_test_gap_size"],
        "num_regions_tested": len(report.regions),
    }


def _audit(test: tuple[list[str], np.ndarray], production: tuple[list[str], np.ndarray]) -> Any:
    import warnings

    from faultmap import CoverageMeaningWarning, SliceAnalyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CoverageMeaningWarning)
        start = time.perf_counter()
        report = SliceAnalyzer().audit_coverage(
            test[0], production[0], test_embeddings=test[1], production_embeddings=production[1]
        )
    return report, time.perf_counter() - start


def _rate(hits: int, runs: int) -> dict[str, Any]:
    from scipy import stats

    ci = stats.binomtest(hits, runs).proportion_ci(method="exact")
    return {
        "runs": runs,
        "runs_with_a_gap": hits,
        "rate": hits / runs,
        "clopper_pearson_95": [round(ci.low, 4), round(ci.high, 4)],
    }


def held_out_gaps(
    control_runs: int = 40, large_control_runs: int = 5, null_splits: int = 2000, seed: int = 0
) -> dict:
    """The ``--gaps`` benchmark (see the module doc)."""
    from faultmap.significance import CORRECTIONS

    rows = _rows()
    tasks = np.array([r["task"] for r in rows])
    texts = [r["prompt"] for r in rows]
    anchors = anchor_vectors()
    all_tasks = sorted(set(tasks))
    out: dict[str, Any] = {"held_out": [], "controls": []}

    def real(idx: np.ndarray) -> tuple[list[str], np.ndarray]:
        return [texts[i] for i in idx], anchors[idx]

    small = ((ISSUE_HELD_OUT, 600), (("reasoning_about_colored_objects", "social_iqa"), 300))
    for held, n_test in small:
        rng = np.random.default_rng(seed)
        test = np.sort(rng.choice(np.flatnonzero(~np.isin(tasks, held)), n_test, replace=False))
        production = np.setdiff1d(np.arange(len(rows)), test)
        report, wall = _audit(real(test), real(production))
        case = {"case": f"bundled prompts, {n_test}-prompt suite", "production": len(production)}
        case |= {"test": n_test, "held_out_tasks": list(held), "wall_s": round(wall, 2)}
        out["held_out"].append(case | gap_stats(report, tasks[production], held))
        logger.info("%s", out["held_out"][-1])

    for held, n_test in ((ISSUE_HELD_OUT, 500), (HELD_OUT, 10_000)):
        covered = [t for t in all_tasks if t not in held]
        test = synthesize(anchors, tasks, texts, n_test, covered, seed)
        production = synthesize(anchors, tasks, texts, 20_000, all_tasks, seed + 1)
        report, wall = _audit(test[:2], production[:2])
        case = {"case": f"variants, {n_test}-prompt suite", "production": 20_000}
        case |= {"test": n_test, "held_out_tasks": list(held), "wall_s": round(wall, 2)}
        case["timings_s"] = dict(report.metadata["timings_s"])
        out["held_out"].append(case | gap_stats(report, production[2], held))
        logger.info("%s", out["held_out"][-1])

    # controls: nothing held out
    hits, walls = 0, []
    for run in range(control_runs):
        rng = np.random.default_rng(1000 + run)
        pool = rng.choice(len(rows), 1500, replace=False)
        report, wall = _audit(real(np.sort(pool[:300])), real(np.sort(pool[300:])))
        hits += report.num_gaps > 0
        walls.append(wall)
    control = {
        "case": "bundled prompts: 300-prompt suite, 1,200 production, a random pool per run",
        "median_wall_s": round(float(np.median(walls)), 2),
    }
    out["controls"].append(control | _rate(hits, control_runs))
    logger.info("%s", out["controls"][-1])
    for n_test in (500, 10_000):
        hits, scores = 0, []
        for run in range(large_control_runs):
            test = synthesize(anchors, tasks, texts, n_test, all_tasks, 2000 + run)
            production = synthesize(anchors, tasks, texts, 20_000, all_tasks, 3000 + run)
            report, _ = _audit(test[:2], production[:2])
            hits += report.num_gaps > 0
            scores.append(report.overall_coverage_score)
        control = {
            "case": f"variants: {n_test}-prompt suite, 20,000 production",
            "min_coverage_score": round(min(scores), 4),
        }
        out["controls"].append(control | _rate(hits, large_control_runs))
        logger.info("%s", out["controls"][-1])

    # the region tests alone on random splits of fixed regions (one clustering of the pool)
    n_test = 600
    labels = _pool_regions(anchors[:n_test], anchors[n_test:])
    for correction in CORRECTIONS:
        case = f"region tests only, {correction}: random 600 of the 3,000 bundled prompts"
        control = {"case": f"{case} as the suite, {int(labels.max()) + 1} fixed regions"}
        out["controls"].append(control | _null_rate(labels, n_test, correction, null_splits, seed))
        logger.info("%s", out["controls"][-1])
    for n_test in (500, 10_000):
        test = synthesize(anchors, tasks, texts, n_test, all_tasks, 2000)
        production = synthesize(anchors, tasks, texts, 20_000, all_tasks, 3000)
        labels = _pool_regions(test[1], production[1])
        case = f"region tests only, bh: variants, random {n_test:,} of {n_test + 20_000:,}"
        control = {"case": f"{case} as the suite, {int(labels.max()) + 1} fixed regions"}
        out["controls"].append(control | _null_rate(labels, n_test, "bh", null_splits, seed))
        logger.info("%s", out["controls"][-1])
    return out


def _pool_regions(test_vectors: np.ndarray, production_vectors: np.ndarray) -> np.ndarray:
    """Region labels of the pooled prompts, as an audit with default settings makes them."""
    from faultmap.analyses.coverage_steps import CoverageSettings, pooled_regions
    from faultmap.clustering import HDBSCANClusterer
    from faultmap.significance import min_detectable_region_size

    n_test, n_prod = len(test_vectors), len(production_vectors)
    size = max(5, min_detectable_region_size(n_test, n_prod, 0.05))
    in_test, in_production, _ = pooled_regions(
        HDBSCANClusterer(), test_vectors, production_vectors, size, CoverageSettings()
    )
    return np.concatenate([in_test, in_production])


def _null_rate(
    labels: np.ndarray, n_test: int, correction: str, splits: int, seed: int
) -> dict[str, Any]:
    """How often the region tests find a gap when a random ``n_test`` of the pooled prompts
    are the suite (the null: both sets from one distribution), regions held fixed: with the
    correction alone, and as the audit reports gaps (after the permutation test of the
    whole family, :func:`~faultmap.analyses.coverage_steps.global_null_p`)."""
    from faultmap.analyses.coverage_steps import gap_regions, global_null_p, test_regions

    rng = np.random.default_rng(seed)
    hits = gated = 0
    n_prod = len(labels) - n_test
    for k in range(splits):
        perm = rng.permutation(len(labels))
        found = test_regions(labels[perm[:n_test]], labels[perm[n_test:]], 0.05, correction)
        if gap_regions(found, 0.05, 5):
            hits += 1
            gated += global_null_p(found, n_test, n_prod, alpha=0.05, random_state=k) <= 0.05
    out = _rate(hits, splits)
    after = _rate(gated, splits)
    out["with_family_permutation_test"] = {
        "runs_with_a_gap": after["runs_with_a_gap"],
        "rate": after["rate"],
        "clopper_pearson_95": after["clopper_pearson_95"],
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--production", type=int, default=100_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-anchors", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--gaps", action="store_true", help="held-out tasks and controls")
    parser.add_argument("--control-runs", type=int, default=40)
    parser.add_argument("--large-control-runs", type=int, default=5)
    parser.add_argument("--null-splits", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.write_anchors:
        write_anchor_vectors(args.write_anchors)
        return 0
    if args.gaps:
        start = time.perf_counter()
        result = held_out_gaps(
            args.control_runs, args.large_control_runs, args.null_splits, args.seed
        )
        result["total_wall_s"] = round(time.perf_counter() - start, 1)
        result["machine"] = _machine()
        out = args.out or RESULTS / "coverage_gaps.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, indent=2))
        return 0

    rows = _rows()
    tasks = np.array([r["task"] for r in rows])
    texts = [r["prompt"] for r in rows]
    anchors = anchor_vectors()
    all_tasks = sorted(set(tasks))
    covered = [t for t in all_tasks if t not in HELD_OUT]
    test_prompts, test_vectors, _ = synthesize(anchors, tasks, texts, args.test, covered, args.seed)
    prod_prompts, prod_vectors, prod_tasks = synthesize(
        anchors, tasks, texts, args.production, all_tasks, args.seed + 1
    )

    from faultmap import SliceAnalyzer

    analyzer = SliceAnalyzer()
    rss_before = _rss_mib("VmRSS")
    reset = _reset_peak_rss()
    start = time.perf_counter()
    report = analyzer.audit_coverage(
        test_prompts,
        prod_prompts,
        test_embeddings=test_vectors,
        production_embeddings=prod_vectors,
    )
    wall = time.perf_counter() - start
    peak = _rss_mib("VmHWM") if reset else None

    gaps = []
    for g in report.gaps:
        task, count = Counter(prod_tasks[g.prompt_indices]).most_common(1)[0]
        gaps.append({"name": g.name, "size": g.size, "task": task, "share": count / g.size})
    held_out_found = {
        t: sum(x["size"] * x["share"] for x in gaps if x["task"] == t) / (prod_tasks == t).sum()
        for t in HELD_OUT
    }
    result = {
        "production_prompts": args.production,
        "test_prompts": args.test,
        "wall_s": round(wall, 2),
        "timings_s": report.metadata["timings_s"],
        "rss_before_audit_mib": rss_before,
        "peak_rss_during_audit_mib": peak,
        "coverage": round(report.overall_coverage_score, 4),
        "distance_threshold": round(report.distance_threshold, 4),
        "threshold_rule": report.threshold_rule,
        "num_gaps": report.num_gaps,
        "gaps": gaps,
        "held_out_tasks": list(HELD_OUT),
        "held_out_share_found_in_gaps": {k: round(float(v), 3) for k, v in held_out_found.items()},
        "false_gaps": sum(x["task"] not in HELD_OUT for x in gaps),
        "num_regions_tested": report.metadata["num_regions_tested"],
        "machine": _machine(),
    }
    out = args.out or RESULTS / "coverage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
