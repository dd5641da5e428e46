"""Planted slices on variants of the bundled prompts: one code tree against another.

No download: the 3,000 prompts of ``examples/data/bigbench_sample.jsonl`` (12 BIG-bench
tasks) are embedded once (cached), and ``n`` synthetic prompts are variants of them
(:func:`benchmarks.coverage_benchmark.synthesize`). Failures are planted on the four tasks
of :data:`benchmarks.run_benchmark.PLANTED` at rate 0.6 over a 0.05 baseline; each tree's
``analyze()`` runs on the same vectors in its own process (``benchmarks/ours_worker.py``),
scored like the main benchmark (planted found, false slices, row recall).

    .venv/bin/python -m benchmarks.core_benchmark --sizes 5000,20000 \\
        [--code /path/to/other/checkout --label before]

``--code`` puts another checkout's ``faultmap`` first on the path (the worker and this
script come from this tree), which is how a refactor is compared with the code before it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.coverage_benchmark import _rows, anchor_vectors, synthesize
from benchmarks.run_benchmark import PLANTED, run_worker, score

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("benchmark")


def planted(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Prompts, vectors, tasks and failures of ``n`` variants, failures planted by task."""
    rows = _rows()
    tasks = np.array([r["task"] for r in rows], dtype=object)
    texts = [r["prompt"] for r in rows]
    prompts, vectors, labels = synthesize(
        anchor_vectors(), tasks, texts, n, sorted(set(tasks)), seed
    )
    rng = np.random.default_rng(seed + 1)
    rate = np.where(np.isin(labels, PLANTED), 0.6, 0.05)
    failures = rng.random(n) < rate
    return prompts, vectors, [str(t) for t in labels], failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--code", type=Path, default=None, help="another checkout to measure")
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/core.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    env_path = os.pathsep.join(p for p in (str(args.code) if args.code else "", str(ROOT)) if p)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        prompts, vectors, tasks, failures = planted(n)
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            np.save(tmp_path / "X.npy", vectors)
            np.save(tmp_path / "F.npy", failures)
            (tmp_path / "P.json").write_text(json.dumps(prompts), encoding="utf-8")
            for repeat in range(args.repeats):
                out = tmp_path / f"out-{repeat}.json"
                cmd = [sys.executable, "-m", "benchmarks.ours_worker"]
                cmd += ["--vectors", str(tmp_path / "X.npy"), "--failures"]
                cmd += [str(tmp_path / "F.npy"), "--prompts", str(tmp_path / "P.json")]
                cmd += ["--out", str(out)]
                os.environ["PYTHONPATH"] = env_path
                status = run_worker(cmd, 1200)
                row: dict = {"n": n, "code": args.label, "repeat": repeat}
                if status is None or status.get("timed_out"):
                    row["error"] = True
                else:
                    res = json.loads(out.read_text())
                    row.update({k: res.get(k) for k in ("wall_s", "cpu_s", "peak_rss_mb")})
                    row["num_clusters"] = res.get("num_clusters")
                    row.update(score(res, tasks))
                logger.info("%s", row)
                results.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps(old + results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
