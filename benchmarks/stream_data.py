"""Write a large planted data set as Parquet, a block at a time (issue 15: 10,000,000 rows).

Every row is a variant of one of the 3,000 bundled real prompts, made from their cached MiniLM
vectors by :func:`benchmarks.coverage_benchmark.synthesize` (no download), 100,000 rows per
block with its own seed, so memory stays at one block however many rows are written. Columns:

* ``prompt`` (string), ``task`` (string);
* ``score`` (float64): 0.0 for a failure, 1.0 otherwise; failures planted on the four tasks of
  :data:`benchmarks.run_benchmark.PLANTED` at rate 0.6 over a 0.05 baseline (as
  ``analyze_scale``), so ``analyze_frame(..., score_col="score")`` reads them as mode 1;
* ``embedding`` (fixed-size list of 384 float32 unit vectors).

``--suite M`` also writes ``suite.parquet``: ``M`` test prompts drawn from every task except
:data:`benchmarks.coverage_scale.HELD_OUT`, the test suite of a coverage audit against
``production.parquet``. 10,000,000 rows are about 15 GB; the files are written beside their
final names and renamed into place, so a half-written file is never read.

    .venv/bin/python -m benchmarks.stream_data --rows 10000000 --suite 100000 --out /tmp/fm10m
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.coverage_benchmark import _rows, anchor_vectors, synthesize
from benchmarks.coverage_scale import HELD_OUT
from benchmarks.run_benchmark import PLANTED

logger = logging.getLogger("benchmark")

BLOCK = 100_000
PLANTED_RATE = 0.6
BASELINE_RATE = 0.05


def write(path: Path, rows: int, allowed: list[str] | None, seed: int) -> Path:
    """``rows`` planted variants of the bundled prompts (every task unless ``allowed``) to
    ``path`` as Parquet, one row group per block of :data:`BLOCK` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = _rows()
    tasks = np.array([r["task"] for r in source])
    texts = [r["prompt"] for r in source]
    anchors = anchor_vectors()
    allowed = allowed or sorted(set(tasks))
    dim = anchors.shape[1]
    partial = path.with_name(path.name + ".partial")
    writer = None
    started = time.perf_counter()
    for block, start in enumerate(range(0, rows, BLOCK)):
        n = min(BLOCK, rows - start)
        prompts, vectors, labels = synthesize(
            anchors, tasks, texts, n, allowed, seed * 100_003 + block
        )
        prompts = [f"{p} [{start}]" for p in prompts]  # distinct across blocks
        rate = np.where(np.isin(labels, PLANTED), PLANTED_RATE, BASELINE_RATE)
        failed = np.random.default_rng([seed, block, 1]).random(n) < rate
        table = pa.table(
            {
                "prompt": pa.array(prompts, pa.string()),
                "task": pa.array([str(t) for t in labels], pa.string()),
                "score": pa.array(np.where(failed, 0.0, 1.0)),
                "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(partial, table.schema, compression="snappy")
        writer.write_table(table)
        if block % 10 == 9:
            logger.info(
                "%s: %d of %d rows (%.0f s)",
                path.name,
                start + n,
                rows,
                time.perf_counter() - started,
            )
    assert writer is not None
    writer.close()
    os.replace(partial, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--suite", type=int, default=0, help="test prompts in suite.parquet")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fm10m"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    production = args.out / "production.parquet"
    if not production.exists():
        write(production, args.rows, None, args.seed)
    if args.suite:
        kept = sorted({r["task"] for r in _rows()} - set(HELD_OUT))
        suite = args.out / "suite.parquet"
        if not suite.exists():
            write(suite, args.suite, kept, args.seed + 1)
    logger.info("data in %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
