"""Embedding backends side by side: speed, peak memory, neighbours and planted-slice quality.

Data: the bundled ``examples/data/bigbench_sample.jsonl`` (3,000 real BIG-bench prompts,
12 tasks of 250). Failures are planted on four whole tasks (rate 0.6) over a 0.05 baseline,
as in ``run_benchmark.py``. Each backend runs in its own process (so peak RSS is its own):
it makes its model once (export / quantisation / distillation, timed apart, kept under
``benchmarks/.cache/models``), embeds the first ``--speed-n`` prompts (timed: texts/s), then
all 3,000. The driver then runs ``SliceAnalyzer().analyze(embeddings=...)`` on each backend's
vectors and scores found / false / fragmentation / row recall, and the top-10 neighbour
overlap with torch's vectors on the speed prompts.

    .venv/bin/python -m benchmarks.backends_benchmark                    # all four backends
    .venv/bin/python -m benchmarks.backends_benchmark --backends torch,onnx --speed-n 500

A planted task is *found* when some slice draws at least half its prompts from it; a slice is
*false* when no planted task makes up half of it; *fragmentation* is the mean number of
slices per found task.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "bigbench_sample.jsonl"
CACHE = ROOT / "benchmarks" / ".cache"
PLANTED = ["date_understanding", "navigate", "logical_fallacy_detection", "epistemic_reasoning"]


def _rows() -> list[dict]:
    with open(DATA, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def worker(backend: str, speed_n: int, out: Path) -> None:
    from benchmarks.rss import peak_rss_mb
    from faultmap.embedding.backends import local_embedder

    prompts = [r["prompt"] for r in _rows()]
    embedder = local_embedder("all-MiniLM-L6-v2", backend, model_dir=CACHE, max_text_chars=2000)
    start = time.perf_counter()
    embedder.embed(["warm up"])  # loads, and on a first run exports/distils, the model
    prepare_s = time.perf_counter() - start
    start = time.perf_counter()
    embedder.embed(prompts[:speed_n])
    speed_s = time.perf_counter() - start
    vectors = embedder.embed(prompts)
    np.save(out, vectors)
    print(
        json.dumps(
            {
                "backend": backend,
                "prepare_s": round(prepare_s, 1),
                "texts_per_s": round(speed_n / speed_s, 1),
                "peak_rss_mb": round(peak_rss_mb()),
                "dim": int(vectors.shape[1]),
            }
        )
    )


def _planted(rows: list[dict], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rate = np.array([0.6 if r["task"] in PLANTED else 0.05 for r in rows])
    return (rng.random(len(rows)) >= rate).astype(float)  # score 0 = failure


def _quality(vectors: np.ndarray, rows: list[dict], scores: np.ndarray) -> dict:
    from faultmap import SliceAnalyzer

    tasks = [r["task"] for r in rows]
    prompts = [r["prompt"] for r in rows]
    report = SliceAnalyzer(embedding_cache=False, map_projection=None).analyze(
        prompts, ["-"] * len(prompts), scores=scores.tolist(), embeddings=vectors
    )
    matched: Counter[str] = Counter()
    false = 0
    flagged: set[int] = set()
    for s in report.slices:
        idx = list(s.sample_indices)
        flagged.update(idx)
        task, count = Counter(tasks[i] for i in idx).most_common(1)[0]
        if task in PLANTED and count >= 0.5 * len(idx):
            matched[task] += 1
        else:
            false += 1
    planted_rows = {i for i, t in enumerate(tasks) if t in PLANTED}
    return {
        "found": len(matched),
        "false": false,
        "fragmentation": round(sum(matched.values()) / len(matched), 2) if matched else None,
        "row_recall": round(len(flagged & planted_rows) / len(planted_rows), 3),
    }


def _overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    def top(v: np.ndarray) -> np.ndarray:
        sim = v @ v.T
        np.fill_diagonal(sim, -np.inf)
        return np.argsort(-sim, axis=1)[:, :k]

    ta, tb = top(a), top(b)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ta, tb, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="torch,onnx,onnx-int8,static")
    parser.add_argument("--speed-n", type=int, default=1000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "backends.json"
    )
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.worker:
        worker(args.worker, args.speed_n, CACHE / f"vectors-{args.worker}.npy")
        return
    rows = _rows()
    scores = _planted(rows)
    results = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, "-m", "benchmarks.backends_benchmark", "--worker", backend]
        proc = subprocess.run(
            [*cmd, "--speed-n", str(args.speed_n)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(_quality(np.load(CACHE / f"vectors-{backend}.npy"), rows, scores))
        results.append(row)
        print(json.dumps(row), flush=True)
    torch_path = CACHE / "vectors-torch.npy"
    if torch_path.exists():
        ref = np.load(torch_path)[: args.speed_n]
        for row in results:
            other = np.load(CACHE / f"vectors-{row['backend']}.npy")[: args.speed_n]
            row["top10_overlap"] = round(_overlap(ref, other), 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("| backend | texts/s | peak RSS MiB | top-10 shared | found | false | frag. | recall |")
    for r in results:
        print(
            f"| {r['backend']} | {r['texts_per_s']} | {r['peak_rss_mb']} | "
            f"{r.get('top10_overlap')} | {r['found']}/4 | {r['false']} | {r['fragmentation']} | "
            f"{r['row_recall']} |"
        )


if __name__ == "__main__":
    main()
