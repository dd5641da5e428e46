"""Streaming ``analyze_frame`` over Parquet at 1,000,000 and 10,000,000 rows (issue 15).

The data are written once by :mod:`benchmarks.stream_data` (``production.parquet``: columns
``prompt``, ``task``, ``score`` (0 = failure), ``embedding``; failures planted on the four
tasks of :data:`benchmarks.run_benchmark.PLANTED` at 0.6 over 0.05). The analysis runs in a
child process, ``SliceAnalyzer(min_slice_size=10).analyze_frame(path, score_col="score",
embedding_col="embedding", response_col=None, streaming=True)`` with the default map, and
its wall and CPU time, its peak resident memory (``VmHWM``, reset just before the call) and
the resident memory at each logged step are recorded. The child saves every row's cluster
label (``report.label_array()``); the parent reads the ``task`` column and scores the slices
as :func:`benchmarks.run_benchmark.score` does (a slice finds a planted task when at least
half its rows are of it), from the labels, so the 10M report need not keep its row lists.

    .venv/bin/python -m benchmarks.stream_data --rows 1000000 --out /tmp/fm1m
    .venv/bin/python -m benchmarks.stream_scale --data /tmp/fm1m
    .venv/bin/python -m benchmarks.stream_scale --data /tmp/fm10m

Rows go to ``benchmarks/results/stream_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from benchmarks.analyze_scale import _StageSampler
from benchmarks.coverage_benchmark import _reset_peak_rss, _rss_mib, append_result, run_child
from benchmarks.run_benchmark import PLANTED

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

logger = logging.getLogger("benchmark")


def analyze(path: Path, batch_rows: int, keep: bool | None, labels_out: Path) -> dict:
    """The streamed analysis itself (run in a child process)."""
    from faultmap import SliceAnalyzer

    sampler = _StageSampler()
    logging.getLogger("faultmap").addHandler(sampler)
    logging.getLogger("faultmap").setLevel(logging.DEBUG)
    rss_start = _rss_mib("VmRSS")
    reset = _reset_peak_rss()
    sampler.start()
    analyzer = SliceAnalyzer(min_slice_size=10, embedding_cache=False)
    start, cpu_start = time.perf_counter(), time.process_time()
    report = analyzer.analyze_frame(
        path,
        score_col="score",
        embedding_col="embedding",
        response_col=None,
        streaming=True,
        batch_rows=batch_rows,
        keep_row_lists=keep,
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    sampler.stop()
    peak = _rss_mib("VmHWM") if reset else None
    labels = report.label_array()
    np.save(labels_out, labels)
    json_chars = len(report.to_json())
    return {
        "n": report.total_prompts,
        "batch_rows": batch_rows,
        "row_lists_kept": report.row_lists_kept,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "timings_s": dict(report.metadata.get("timings_s", {})),
        "rss_before_mib": rss_start,
        "peak_rss_mib": peak,
        "peak_beyond_start_mib": None if peak is None else round(peak - (rss_start or 0), 1),
        "num_clusters": report.num_clusters,
        "num_noise": report.num_unclustered,
        "num_failure_modes": report.num_failure_modes,
        "report_json_mib": round(json_chars / 2**20, 1),
        "streaming": dict(report.metadata.get("streaming", {})),
        "slices": [
            {"cluster_id": s.cluster_id, "size": s.size, "name": s.name} for s in report.slices
        ],
        "rss_by_stage_mib": {k: round(v) for k, v in sampler.peaks.items()},
    }


def score_labels(path: Path, labels: np.ndarray, slices: list[dict]) -> dict:
    """:func:`benchmarks.run_benchmark.score` from every row's cluster label."""
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["task"]).column("task").combine_chunks()
    encoded = column.dictionary_encode()
    names = encoded.dictionary.to_pylist()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    planted_codes = [names.index(t) for t in PLANTED if t in names]
    planted_rows = np.isin(codes, planted_codes)
    found, false = set(), 0
    flagged = np.zeros(len(labels), dtype=bool)
    for s in slices:
        members = labels == s["cluster_id"]
        flagged |= members
        counts = np.bincount(codes[members], minlength=len(names))
        task = int(np.argmax(counts))
        if task in planted_codes and counts[task] >= 0.5 * members.sum():
            found.add(task)
        else:
            false += 1
    hit = int((flagged & planted_rows).sum())
    return {
        "planted_found": len(found),
        "planted_total": len(planted_codes),
        "false_slices": false,
        "num_slices": len(slices),
        "row_recall": round(hit / int(planted_rows.sum()), 3) if planted_rows.any() else None,
        "row_precision": round(hit / int(flagged.sum()), 3) if flagged.any() else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/fm10m"))
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument(
        "--keep-row-lists", choices=["auto", "yes", "no"], default="auto", help="per-row lists"
    )
    parser.add_argument("--label", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "stream_scale.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    path = args.data / "production.parquet"
    labels_out = args.data / "stream_scale_labels.npy"
    keep = {"auto": None, "yes": True, "no": False}[args.keep_row_lists]
    if args.child:
        print(json.dumps(analyze(path, args.batch_rows, keep, labels_out)))
        return 0
    if not path.exists():
        raise SystemExit(f"{path} is missing: write it with benchmarks.stream_data first")
    result = run_child("benchmarks.stream_scale", argv)
    result.update(score_labels(path, np.load(labels_out), result["slices"]))
    result["file_gib"] = round(path.stat().st_size / 2**30, 2)
    result["label"] = args.label
    append_result(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "rss_by_stage_mib"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
