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
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--production", type=int, default=100_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-anchors", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "coverage.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.write_anchors:
        write_anchor_vectors(args.write_anchors)
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
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
