"""Planted-slice benchmark: this faultmap vs faultmap 0.5.0, on the same real vectors.

Prompts are real BIG-bench task inputs (PyPI sdist ``bigbench==1.0.0``, Apache-2.0). Failures
are planted on four whole tasks (rate 0.6) over a low baseline (0.05) elsewhere; one set of
the largest size is drawn and the smaller sizes are its prefixes. Both tools
get the same all-MiniLM-L6-v2 vectors (computed once, cached under ``benchmarks/.cache``) and
run in their own processes; we record wall time of ``analyze()``, peak RSS, planted tasks
found and false slices.

    .venv/bin/python -m benchmarks.run_benchmark                 # 5k, 20k, 50k; both tools
    .venv/bin/python -m benchmarks.run_benchmark --sizes 5000 --no-peer
    .venv/bin/python -m benchmarks.run_benchmark --cache-figure  # embedding-cache speed-up

A planted task is *found* when some reported slice draws at least half of its prompts from
it; a reported slice is *false* when no planted task makes up half of it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.bigbench_data import ensure_bigbench, load_tasks, planted_slice_set

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
PEER_PY = ROOT / "benchmarks" / ".peer-venv" / "bin" / "python"
PLANTED = ["date_understanding", "navigate", "logical_fallacy_detection", "epistemic_reasoning"]

logger = logging.getLogger("benchmark")


def embed_all(prompts: list[str]) -> np.ndarray:
    """MiniLM vectors for ``prompts`` through faultmap's own embedder and on-disk cache."""
    from faultmap.embedding import CachedEmbedder, SentenceTransformerEmbedder

    embedder = CachedEmbedder(SentenceTransformerEmbedder(), CACHE / "faultmap-cache")
    start = time.perf_counter()
    vectors = embedder.embed(prompts)
    logger.info("Vectors for %d prompts in %.1fs", len(prompts), time.perf_counter() - start)
    return vectors


def score(result: dict, tasks: list[str]) -> dict:
    found, false = set(), 0
    for s in result["slices"]:
        task, count = Counter(tasks[i] for i in s["sample_indices"]).most_common(1)[0]
        if task in PLANTED and count >= 0.5 * len(s["sample_indices"]):
            found.add(task)
        else:
            false += 1
    present = sorted(set(PLANTED) & set(tasks))
    flagged = {i for s in result["slices"] for i in s["sample_indices"]}
    planted_rows = {i for i, t in enumerate(tasks) if t in PLANTED}
    hit = len(flagged & planted_rows)
    return {
        "planted_found": len(found & set(present)),
        "planted_total": len(present),
        "false_slices": false,
        "num_slices": len(result["slices"]),
        "row_recall": round(hit / len(planted_rows), 3) if planted_rows else None,
        "row_precision": round(hit / len(flagged), 3) if flagged else None,
    }


def run_worker(cmd: list[str], timeout: float) -> dict | None:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        logger.warning("timed out after %.0fs: %s", timeout, " ".join(cmd[:3]))
        return {"timed_out": True, "wall_s": None, "limit_s": timeout}
    if proc.returncode != 0:
        logger.error("worker failed (%d): %s", proc.returncode, proc.stderr[-2000:])
        return None
    logger.info("worker done in %.1fs", time.perf_counter() - start)
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000,50000")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--peer-timeout", type=float, default=900)
    parser.add_argument("--methods", default="hdbscan")
    parser.add_argument(
        "--cache-figure",
        action="store_true",
        help="measure a cold vs warm analyze() of 20,000 prompts with the model",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    rows = load_tasks(ensure_bigbench(CACHE / "bigbench"), max_per_task=1000)
    if args.cache_figure:
        cache_figure(rows)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    # One planted set of the largest size; smaller sizes are its prefixes (the order is
    # random), so every size shares the same vectors and planted tasks.
    full = planted_slice_set(rows, max(sizes), PLANTED, seed=0)
    all_vectors = embed_all(full["prompts"])
    results = []
    for n in sizes:
        data = {k: full[k][:n] for k in ("prompts", "tasks", "failures")}
        vectors = all_vectors[:n]
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            np.save(tmp / "X.npy", vectors)
            np.save(tmp / "F.npy", data["failures"])
            (tmp / "P.json").write_text(json.dumps(data["prompts"]), encoding="utf-8")
            common = [
                "--vectors",
                str(tmp / "X.npy"),
                "--failures",
                str(tmp / "F.npy"),
                "--prompts",
                str(tmp / "P.json"),
            ]
            tools = [("ours", [sys.executable, "-m", "benchmarks.ours_worker"])]
            if not args.no_peer and PEER_PY.exists():
                tools.append(("peer", [str(PEER_PY), str(ROOT / "benchmarks/peer/run_peer.py")]))
            for method in args.methods.split(","):
                for tool, cmd in tools:
                    out = tmp / f"{tool}-{method}.json"
                    logger.info("n=%d %s %s", n, tool, method)
                    timeout = args.peer_timeout if tool == "peer" else 1200
                    status = run_worker(
                        [*cmd, *common, "--method", method, "--out", str(out)], timeout
                    )
                    row = {
                        "n": n,
                        "tool": tool,
                        "method": method,
                        "failure_rate": float(np.mean(data["failures"])),
                    }
                    if status is None:
                        row["error"] = True
                    elif status.get("timed_out"):
                        row.update(status)
                    else:
                        res = json.loads(out.read_text())
                        row.update(
                            {
                                k: res.get(k)
                                for k in (
                                    "wall_s",
                                    "cpu_s",
                                    "peak_rss_mb",
                                    "num_clusters",
                                    "num_noise",
                                    "num_clusters_tested",
                                    "timings_s",
                                )
                            }
                        )
                        row.update(score(res, data["tasks"]))
                    logger.info("%s", row)
                    results.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(table(results))


def cache_figure(rows: list[dict]) -> None:
    """Cold vs warm ``analyze()`` of the same 20,000 prompts with the local model."""
    from faultmap import SliceAnalyzer

    data = planted_slice_set(rows, 20000, PLANTED, seed=1)
    folder = CACHE / "cache-figure"
    shutil.rmtree(folder, ignore_errors=True)
    scores = np.where(data["failures"], 0.0, 1.0)
    times = []
    for attempt in ("cold", "warm"):
        analyzer = SliceAnalyzer(embedding_cache=folder)  # a fresh analyzer: no in-memory reuse
        start = time.perf_counter()
        analyzer.analyze(data["prompts"], [""] * len(scores), scores=scores)
        times.append(time.perf_counter() - start)
        logger.info("%s analyze(): %.1fs", attempt, times[-1])
    print(f"cold {times[0]:.1f}s, warm {times[1]:.2f}s, speed-up {times[0] / times[1]:.0f}x")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def table(results: list[dict]) -> str:
    lines = [
        "| n | tool | method | wall s | CPU s | peak RSS MB | clusters | noise | planted found | "
        "false slices | row recall | row precision |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.get("timed_out"):
            lines.append(
                f"| {r['n']} | {r['tool']} | {r['method']} | > {r['limit_s']:.0f} "
                "(timed out) | | | | | | | | |"
            )
            continue
        if r.get("error"):
            lines.append(f"| {r['n']} | {r['tool']} | {r['method']} | error | | | | | | | | |")
            continue
        lines.append(
            f"| {r['n']} | {r['tool']} | {r['method']} | {r['wall_s']:.1f} | "
            f"{_num(r.get('cpu_s'))} | "
            f"{r['peak_rss_mb']:.0f} | {r['num_clusters']} | {r['num_noise']} | "
            f"{r['planted_found']}/{r['planted_total']} | {r['false_slices']} | "
            f"{r['row_recall']} | {r['row_precision']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
