"""Coverage audit at production scale: 1,000,000 production x 100,000 test prompts.

Target (issue 12): with precomputed vectors, under 10 minutes and under 4 GB of memory
beyond the vectors themselves, on the 2-core machine.

The prompts are variants of the 3,000 bundled real prompts, made from their cached MiniLM
vectors by :func:`benchmarks.coverage_benchmark.synthesize` (no download): the test suite
leaves out the tasks in ``HELD_OUT``; production draws every task in equal shares. The
vectors are written once to ``.npy`` files (``--data``, reused on later runs) and the audit
runs in a child process that opens them memory-mapped, so its peak resident memory
(``VmHWM``, reset before the audit where the kernel allows) can be read against the size of
the vectors. Production prompts and their vectors can also be written to a Parquet file
(``--parquet``) and read back through :func:`faultmap.io.read_table` (record batches; the
vector column packed into one float32 matrix as it is read), which is the path of
``faultmap coverage --embedding-col`` on a large log.

    .venv/bin/python -m benchmarks.coverage_scale [--production 1000000] [--test 100000] \\
        [--parquet] [--neighbor-search auto|exact|cells]

Rows go to ``benchmarks/results/coverage_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.coverage_benchmark import (
    _reset_peak_rss,
    _rows,
    _rss_mib,
    anchor_vectors,
    append_result,
    run_child,
    synthesize,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HELD_OUT = ("date_understanding", "navigate", "object_counting")

logger = logging.getLogger("benchmark")


def write_data(folder: Path, n_production: int, n_test: int, seed: int) -> None:
    """Vectors (``.npy``), prompts and tasks (``.jsonl``) of both sets, once."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows()
    tasks = np.array([r["task"] for r in rows])
    texts = [r["prompt"] for r in rows]
    anchors = anchor_vectors()
    all_tasks = sorted(set(tasks))
    kept = [t for t in all_tasks if t not in HELD_OUT]
    for side, n, allowed, s in (
        ("test", n_test, kept, seed),
        ("production", n_production, all_tasks, seed + 1),
    ):
        prompts, vectors, labels = synthesize(anchors, tasks, texts, n, allowed, s)
        np.save(folder / f"{side}.npy", vectors)
        with open(folder / f"{side}.jsonl", "w", encoding="utf-8") as out:
            for prompt, task in zip(prompts, labels, strict=True):
                out.write(json.dumps({"prompt": prompt, "task": str(task)}) + "\n")
        del prompts, vectors, labels


def write_parquet(folder: Path) -> Path:
    """The production prompts and vectors as one Parquet file (a fixed-size list column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.load(folder / "production.npy", mmap_mode="r")
    prompts = _field(folder / "production.jsonl", "prompt")
    path = folder / "production.parquet"
    dim = vectors.shape[1]
    writer = None
    for start in range(0, len(prompts), 100_000):
        stop = min(start + 100_000, len(prompts))
        flat = pa.array(np.ascontiguousarray(vectors[start:stop]).reshape(-1))
        table = pa.table(
            {
                "prompt": pa.array(prompts[start:stop]),
                "embedding": pa.FixedSizeListArray.from_arrays(flat, dim),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return path


def audit(folder: Path, parquet: bool, neighbor_search: str = "auto") -> dict:
    """The audit itself (run in a child process): open, audit, measure."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from faultmap import SliceAnalyzer

    tests = _field(folder / "test.jsonl", "prompt")
    tasks = np.array(_field(folder / "production.jsonl", "task"))
    test_vectors = np.load(folder / "test.npy", mmap_mode="r")
    vector_mib = test_vectors.nbytes / 2**20
    start = time.perf_counter()
    cpu_start = time.process_time()
    reset = _reset_peak_rss()
    rss_start = _rss_mib("VmRSS")
    if parquet:
        from faultmap.io import read_table

        table = read_table(folder / "production.parquet", columns=["prompt", "embedding"])
        production = table.text("prompt")
        production_vectors = table.vectors("embedding")
        del table
    else:
        production = _field(folder / "production.jsonl", "prompt")
        production_vectors = np.load(folder / "production.npy", mmap_mode="r")
    read_s = time.perf_counter() - start
    vector_mib += production_vectors.nbytes / 2**20
    rss_read = _rss_mib("VmRSS")
    report = SliceAnalyzer(map_projection=None).audit_coverage(
        tests,
        production,
        test_embeddings=test_vectors,
        production_embeddings=production_vectors,
        neighbor_search=neighbor_search,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = _rss_mib("VmHWM") if reset else None
    held = {t: int((tasks == t).sum()) for t in HELD_OUT}
    in_gaps = Counter()
    gaps = []
    for g in report.gaps:
        members = tasks[g.prompt_indices]
        task, count = Counter(members).most_common(1)[0]
        in_gaps.update(members.tolist())
        gaps.append({"name": g.name, "size": g.size, "task": str(task), "purity": count / g.size})
    return {
        "production_prompts": len(production),
        "test_prompts": len(tests),
        "read_from": "parquet" if parquet else "npy (memory-mapped) + jsonl",
        "read_s": round(read_s, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "timings_s": dict(report.metadata.get("timings_s", {})),
        "vectors_mib": round(vector_mib, 1),
        "rss_at_start_mib": rss_start,
        "rss_after_read_mib": rss_read,
        "peak_rss_mib": peak,
        "peak_beyond_vectors_mib": None if peak is None else round(peak - vector_mib, 1),
        "coverage": report.overall_coverage_score,
        "distance_coverage_score": getattr(report, "distance_coverage_score", None),
        "nearest_neighbors": dict(report.metadata.get("nearest_neighbors", {})),
        "num_gaps": report.num_gaps,
        "held_out_share_in_gaps": {t: round(in_gaps[t] / n, 3) for t, n in held.items()},
        "gaps": gaps,
        "false_gaps": sum(g["task"] not in HELD_OUT for g in gaps),
    }


def _field(path: Path, key: str) -> list[str]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line)[key] for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--production", type=int, default=1_000_000)
    parser.add_argument("--test", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("/tmp/faultmap_coverage_scale"))
    parser.add_argument("--parquet", action="store_true", help="read production from Parquet")
    parser.add_argument("--neighbor-search", default="auto", choices=("auto", "exact", "cells"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "coverage_scale.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    folder = args.data / f"{args.production}x{args.test}-seed{args.seed}"
    if args.child:
        print(json.dumps(audit(folder, args.parquet, args.neighbor_search)))
        return 0
    if not (folder / "production.npy").exists():
        logger.info("Writing %s (once)", folder)
        write_data(folder, args.production, args.test, args.seed)
    if args.parquet and not (folder / "production.parquet").exists():
        write_parquet(folder)
    result = run_child("benchmarks.coverage_scale", argv)
    append_result(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "gaps"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
