"""``analyze()`` at scale: a million (or ten million) prompts with precomputed vectors.

Target (issue 15): at 1,000,000 prompts with the vectors held as a float32 NumPy array (as a
user holds them), the time of before (230 s) and a peak under 4 GB, the input included; a
memory-mapped ``.npy`` accepted too.

The prompts are variants of the 3,000 bundled real prompts, made from their cached MiniLM
vectors by :func:`benchmarks.core_benchmark.planted` (no download), failures planted on the
four tasks of :data:`benchmarks.run_benchmark.PLANTED` at rate 0.6 over 0.05. The data are
written once (``--data``: vectors ``.npy``, failures, prompts, tasks) and the analysis runs
in a child process that loads them (``np.load``, into memory; ``--mmap`` memory-maps the
``.npy`` instead), so its peak resident memory (``VmHWM``) can be read against the size of
the input. A sampler thread records the resident memory at each logged stage, so the peak
can be placed.

    .venv/bin/python -m benchmarks.analyze_scale [--n 1000000] [--mmap] [--map]

Rows go to ``benchmarks/results/analyze_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.coverage_benchmark import _reset_peak_rss, _rss_mib, append_result, run_child

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

logger = logging.getLogger("benchmark")


def write_data(folder: Path, n: int, seed: int) -> None:
    """Vectors (``.npy``), failures (``.npy``), prompts and tasks (``.jsonl``), once."""
    from benchmarks.core_benchmark import planted

    folder.mkdir(parents=True, exist_ok=True)
    prompts, vectors, tasks, failures = planted(n, seed)
    np.save(folder / "vectors.npy", vectors)
    np.save(folder / "failures.npy", failures)
    with open(folder / "rows.jsonl", "w", encoding="utf-8") as out:
        for prompt, task in zip(prompts, tasks, strict=True):
            out.write(json.dumps({"prompt": prompt, "task": task}) + "\n")


class _StageSampler(logging.Handler):
    """The resident memory at every logged message, and the highest seen while it was last."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.stage = "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def emit(self, record: logging.LogRecord) -> None:
        self.stage = record.getMessage()[:70]
        self._note()

    def _note(self) -> None:
        rss = _rss_mib("VmRSS") or 0.0
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), rss)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self._note()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def analyze(folder: Path, mmap: bool, with_map: bool) -> dict:
    """The analysis itself (run in a child process): load, analyse, measure."""
    from benchmarks.run_benchmark import score
    from faultmap import SliceAnalyzer

    sampler = _StageSampler()
    logging.getLogger("faultmap").addHandler(sampler)
    logging.getLogger("faultmap").setLevel(logging.DEBUG)
    with open(folder / "rows.jsonl", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    prompts = [r["prompt"] for r in rows]
    tasks = [r["task"] for r in rows]
    del rows
    failures = np.load(folder / "failures.npy")
    vectors = np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None)
    scores = np.where(failures, 0.0, 1.0)
    responses = [""] * len(prompts)
    input_mib = vectors.nbytes / 2**20
    rss_start = _rss_mib("VmRSS")
    reset = _reset_peak_rss()
    sampler.start()
    analyzer = SliceAnalyzer(
        min_slice_size=10,
        embedding_cache=False,
        **({} if with_map else {"map_projection": None}),
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    report = analyzer.analyze(prompts, responses, scores=scores, embeddings=vectors)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    sampler.stop()
    peak = _rss_mib("VmHWM") if reset else None
    result = {
        "slices": [{"sample_indices": s.sample_indices} for s in report.slices],
    }
    return {
        "n": len(prompts),
        "vectors": "memory-mapped .npy" if mmap else "in memory (np.load)",
        "map": with_map,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "timings_s": dict(report.metadata.get("timings_s", {})),
        "vectors_mib": round(input_mib, 1),
        "rss_before_mib": rss_start,
        "peak_rss_mib": peak,
        "peak_beyond_start_mib": None if peak is None else round(peak - (rss_start or 0), 1),
        "num_clusters": report.num_clusters,
        "num_noise": report.num_unclustered,
        **score(result, tasks),
        "rss_by_stage_mib": {k: round(v) for k, v in sampler.peaks.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("/tmp/faultmap_analyze_scale"))
    parser.add_argument("--mmap", action="store_true", help="memory-map the vectors")
    parser.add_argument("--map", action="store_true", help="also draw the 2-d map")
    parser.add_argument("--label", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "analyze_scale.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    folder = args.data / f"{args.n}-seed{args.seed}"
    if args.child:
        print(json.dumps(analyze(folder, args.mmap, args.map)))
        return 0
    if not (folder / "vectors.npy").exists():
        logger.info("Writing %s (once)", folder)
        write_data(folder, args.n, args.seed)
    result = run_child("benchmarks.analyze_scale", argv)
    result["label"] = args.label
    append_result(args.out, result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
