"""Streaming coverage audit over Parquet (issue 15): 1,000,000 or 10,000,000 production
prompts read a record batch at a time, against a 100,000-prompt suite read whole.

Data from :mod:`benchmarks.stream_data` (``production.parquet`` and ``suite.parquet``: the
suite leaves out the tasks in :data:`benchmarks.coverage_scale.HELD_OUT`). The audit runs in
a child process; wall, CPU and peak resident memory (``VmHWM``, reset before the audit
where the kernel allows) are measured there, with the gaps scored as in
:mod:`benchmarks.coverage_scale` (held-out share inside gaps, purity, false gaps). The task
column is read afterwards, batch by batch, only for scoring.

    .venv/bin/python -m benchmarks.stream_data --rows 1000000 --suite 100000 --out /tmp/fm1m-cov
    flock /tmp/faultmap-heavy.lock nice -n 5 .venv/bin/python -m benchmarks.coverage_stream \\
        --data /tmp/fm1m-cov [--whole]

``--whole`` reads the same files whole (``streaming=False``: the in-memory audit), the
baseline on the same data.

Rows go to ``benchmarks/results/coverage_stream.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.coverage_benchmark import _reset_peak_rss, _rss_mib, append_result, run_child
from benchmarks.coverage_scale import HELD_OUT

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def audit(folder: Path, batch_size: int, neighbor_search: str, whole: bool = False) -> dict:
    """The streamed audit itself (run in a child process): audit, measure, score. With
    ``whole`` the same files are read whole instead (``streaming=False``: ``read_table`` and
    the in-memory audit), the baseline on the same data."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import pyarrow.parquet as pq

    from faultmap import SliceAnalyzer
    from faultmap.analyses import coverage_stream

    # Scoring needs each row's region; the report keeps no per-row list at 10M, so the
    # benchmark keeps a reference to the audit's own int32 region labels (no copy).
    seen: dict = {}
    assemble = coverage_stream.assemble_gaps

    def spy(decision, groups, texts, in_production, *args, **kwargs):
        seen["regions"] = in_production
        return assemble(decision, groups, texts, in_production, *args, **kwargs)

    coverage_stream.assemble_gaps = spy
    start = time.perf_counter()
    cpu_start = time.process_time()
    reset = _reset_peak_rss()
    rss_start = _rss_mib("VmRSS")
    report = SliceAnalyzer(map_projection=None).audit_coverage_frame(
        folder / "suite.parquet",
        folder / "production.parquet",
        embedding_col="embedding",
        streaming=not whole,
        batch_rows=batch_size,
        neighbor_search=neighbor_search,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = _rss_mib("VmHWM") if reset else None
    # scoring only: each production row's task, read a column at a time after the audit
    tasks = np.concatenate(
        [
            np.asarray(b.column("task").to_pylist(), dtype=object)
            for b in pq.ParquetFile(folder / "production.parquet").iter_batches(
                batch_size=100_000, columns=["task"]
            )
        ]
    )
    if whole:  # every list is kept: the gaps' members
        region_of = np.full(len(tasks), -1, dtype=np.int64)
        for g in report.gaps:
            region_of[np.asarray(g.prompt_indices)] = g.region_id
    else:
        region_of = seen["regions"]
    held = {t: int((tasks == t).sum()) for t in HELD_OUT}
    in_gaps: Counter = Counter()
    gaps = []
    for g in report.gaps:
        members = tasks[region_of == g.region_id]
        task, count = Counter(members.tolist()).most_common(1)[0]
        in_gaps.update(members.tolist())
        gaps.append({"name": g.name, "size": g.size, "task": str(task), "purity": count / g.size})
    return {
        "production_prompts": report.num_production_prompts,
        "test_prompts": report.num_test_prompts,
        "read_from": "parquet, read whole (streaming=False)" if whole else "parquet, streamed",
        "batch_size": batch_size,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "timings_s": dict(report.metadata.get("timings_s", {})),
        "rss_at_start_mib": rss_start,
        "peak_rss_mib": peak,
        "coverage": report.overall_coverage_score,
        "distance_coverage_score": report.distance_coverage_score,
        "nearest_neighbors": dict(report.metadata.get("nearest_neighbors", {})),
        "row_lists": report.metadata.get("row_lists_kept", True),
        "num_gaps": report.num_gaps,
        "num_regions_tested": report.metadata.get("num_regions_tested"),
        "held_out_share_in_gaps": {t: round(in_gaps[t] / n, 3) for t, n in held.items()},
        "gaps": gaps,
        "false_gaps": sum(g["task"] not in HELD_OUT for g in gaps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/fm10m"))
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--neighbor-search", default="auto", choices=("auto", "exact", "cells"))
    parser.add_argument("--whole", action="store_true", help="baseline: read it whole")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "coverage_stream.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.child:
        print(json.dumps(audit(args.data, args.batch_size, args.neighbor_search, args.whole)))
        return 0
    result = run_child("benchmarks.coverage_stream", argv)
    result["data"] = str(args.data)
    append_result(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "gaps"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
