"""Run this repository's faultmap on precomputed vectors, in its own process.

Same inputs and output shape as ``benchmarks/peer/run_peer.py`` so both sides are measured the
same way: ``wall_s`` covers ``analyze()`` only (``cpu_s``: its CPU time over all threads,
steadier than wall time on a busy machine); ``peak_rss_mb`` is the process high-water mark.

    .venv/bin/python -m benchmarks.ours_worker --vectors X.npy --failures F.npy \
        --prompts P.json --out result.json [--method hdbscan --min-slice-size 10 --alpha 0.05]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.rss import peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, required=True)
    parser.add_argument("--failures", type=Path, required=True)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--method", choices=("hdbscan", "agglomerative"), default="hdbscan")
    parser.add_argument("--min-slice-size", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()

    from faultmap import SliceAnalyzer

    vectors = np.load(args.vectors, allow_pickle=False)
    failures = np.load(args.failures, allow_pickle=False).astype(bool)
    prompts = json.loads(args.prompts.read_text(encoding="utf-8"))
    scores = np.where(failures, 0.0, 1.0)
    rss_before = peak_rss_mb()
    analyzer = SliceAnalyzer(
        min_slice_size=args.min_slice_size,
        significance_level=args.alpha,
        clustering_method=args.method,
        embedding_cache=False,
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    report = analyzer.analyze(prompts, [""] * len(prompts), scores=scores, embeddings=vectors)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    result = {
        "tool": "faultmap (this repo)",
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_mb": round(rss_before, 1),
        "num_clusters": report.num_clusters,
        "num_noise": report.num_unclustered,
        "num_clusters_tested": len(report.clusters),
        "timings_s": report.metadata.get("timings_s", {}),
        "slices": [
            {
                "sample_indices": s.sample_indices,
                "size": s.size,
                "failure_rate": s.failure_rate,
                "p_value": s.p_value,
                "adjusted_p_value": s.adjusted_p_value,
                "name": s.name,
            }
            for s in report.slices
        ],
    }
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
