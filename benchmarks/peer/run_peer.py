"""Run the PyPI release faultmap==0.5.0 as a black-box peer on precomputed vectors.

Run with the peer venv's interpreter (see setup_peer.sh), from the repo root::

    benchmarks/.peer-venv/bin/python benchmarks/peer/run_peer.py \\
        --vectors X.npy --failures F.npy --prompts P.json \\
        --method hdbscan --out result.json [--min-slice-size 10 --alpha 0.05]

Inputs:
    X.npy   float array (n, d): one embedding per prompt, same order as P.json.
    F.npy   bool array (n,): True where the model failed.
    P.json  JSON list of n prompt strings.

``SliceAnalyzer.analyze`` is called in mode 1 with ``scores = 0.0`` for failures and
``1.0`` for passes (``failure_threshold=0.5``), so its pass/fail split equals F.npy.

Isolation from models and the network:
    * Embeddings: ``faultmap.analyzer.get_embedder`` (the factory that
      ``SliceAnalyzer.__init__`` calls) is patched to return a ``PrecomputedEmbedder``,
      a subclass of faultmap's own ``Embedder`` ABC that returns rows of X.npy.  No
      sentence-transformers model is loaded and no embedding API is called.
    * LLM naming: ``faultmap.analyzer.AsyncLLMClient`` is patched with a stub whose
      ``complete`` returns a fixed "Name: ... / Description: ..." answer at once, so
      cluster naming costs ~nothing and litellm is never imported.
    * LITELLM_LOCAL_MODEL_COST_MAP=True and HF offline flags are set regardless.

Output JSON: ``wall_s`` (analyze() only), ``peak_rss_mb`` (process high-water mark,
``VmHWM``, see ``benchmarks/rss.py``), ``rss_before_mb``, optional ``tracemalloc_peak_mb``
(only with ``--tracemalloc``, which slows the run; wall_s is then not comparable),
``slices`` (sample_indices, size, failure_rate, p_value, adjusted_p_value, ...),
``num_clusters`` / ``num_noise`` (from the captured cluster labels),
``num_clusters_tested``, ``cluster_wall_s`` and run metadata.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The repository's own (new) faultmap/ package must not shadow the installed peer
# release, e.g. when run as ``python -m benchmarks.peer.run_peer`` or with
# PYTHONPATH pointing at the repo: drop the repo root from the import path.
_REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _REPO_ROOT]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Any  # noqa: E402
from unittest import mock  # noqa: E402

import numpy as np  # noqa: E402

import faultmap  # noqa: E402  # isort: skip
import faultmap.analyzer  # noqa: E402  # isort: skip
import faultmap.slicing  # noqa: E402  # isort: skip
from faultmap.embeddings import Embedder  # noqa: E402  # isort: skip

PEER_VERSION = "0.5.0"
if faultmap.__version__ != PEER_VERSION:
    raise SystemExit(
        f"expected faultmap=={PEER_VERSION}, imported {faultmap.__version__} from "
        f"{faultmap.__file__}; run with benchmarks/.peer-venv/bin/python"
    )

logger = logging.getLogger("run_peer")

STUB_LABEL = (
    "Name: Stub slice\n"
    "Description: Naming disabled for benchmarking.\n"
    "Root Cause: n/a\n"
    "Suggested Fix: n/a"
)


class PrecomputedEmbedder(Embedder):
    """faultmap ``Embedder`` that serves precomputed vectors for a fixed prompt list."""

    def __init__(self, prompts: list[str], vectors: np.ndarray) -> None:
        if len(prompts) != vectors.shape[0]:
            raise ValueError(f"{len(prompts)} prompts but {vectors.shape[0]} vectors")
        self._prompts = prompts
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.calls = 0

    def embed(self, texts: list[str], *, usage: str = "generic") -> np.ndarray:
        self.calls += 1
        if texts is self._prompts or texts == self._prompts:
            return self._vectors
        raise RuntimeError(
            "PrecomputedEmbedder asked for texts other than the benchmark prompts "
            f"({len(texts)} texts, usage={usage!r})"
        )

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])


class StubLLMClient:
    """Drop-in for ``faultmap.llm.AsyncLLMClient``; answers instantly, offline."""

    def __init__(self, model: str = "stub", max_concurrent_requests: int = 50, **_: Any) -> None:
        self.model = model
        self.calls = 0

    async def complete(self, messages: list[dict[str, str]], **_: Any) -> str:
        self.calls += 1
        return STUB_LABEL

    async def complete_batch(
        self, messages_list: list[list[dict[str, str]]], **_: Any
    ) -> list[str]:
        self.calls += len(messages_list)
        return [STUB_LABEL] * len(messages_list)


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak RSS, read by the same code as our worker (``benchmarks/rss.py``, loaded by path
    because the repository root is kept off ``sys.path`` here)."""
    spec = importlib.util.spec_from_file_location("benchmark_rss", _REPO_ROOT / "benchmarks/rss.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.peak_rss_mb()


def _load_inputs(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, list[str]]:
    vectors = np.load(args.vectors)
    failures = np.load(args.failures).astype(bool).ravel()
    with open(args.prompts, encoding="utf-8") as fh:
        prompts = json.load(fh)
    if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
        raise SystemExit("--prompts must be a JSON list of strings")
    if vectors.ndim != 2 or not (vectors.shape[0] == failures.size == len(prompts)):
        raise SystemExit(
            f"shape mismatch: vectors {vectors.shape}, failures {failures.shape}, "
            f"prompts {len(prompts)}"
        )
    return vectors, failures, prompts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=Path, required=True)
    parser.add_argument("--failures", type=Path, required=True)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--method", choices=("hdbscan", "agglomerative"), default="hdbscan")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--min-slice-size", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also record the tracemalloc peak (slows analyze; wall_s not comparable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    vectors, failures, prompts = _load_inputs(args)
    scores = np.where(failures, 0.0, 1.0).tolist()
    responses = [""] * len(prompts)
    embedder = PrecomputedEmbedder(prompts, vectors)

    captured: dict[str, Any] = {}
    real_cluster = faultmap.slicing.cluster_embeddings

    def timed_cluster(*a: Any, **kw: Any) -> np.ndarray:
        t0 = time.perf_counter()
        labels = real_cluster(*a, **kw)
        captured["cluster_wall_s"] = time.perf_counter() - t0
        captured["labels"] = np.asarray(labels)
        return labels

    with (
        mock.patch.object(faultmap.analyzer, "get_embedder", lambda *a, **kw: embedder),
        mock.patch.object(faultmap.analyzer, "AsyncLLMClient", StubLLMClient),
        mock.patch.object(faultmap.slicing, "cluster_embeddings", timed_cluster),
    ):
        analyzer = faultmap.SliceAnalyzer(
            model="stub",
            embedding_model="precomputed",
            significance_level=args.alpha,
            min_slice_size=args.min_slice_size,
            failure_threshold=0.5,
            clustering_method=args.method,
        )
        assert analyzer._embedder is embedder  # injection took effect

        rss_before = _rss_now_mb()
        if args.tracemalloc:
            tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        report = analyzer.analyze(prompts, responses, scores=scores)
        wall_s = time.perf_counter() - t0
        cpu_s = time.process_time() - c0
        tm_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        if args.tracemalloc:
            tracemalloc.stop()

    peak_mb = peak_rss_mb()
    labels = captured.get("labels")
    result: dict[str, Any] = {
        "peer": f"faultmap=={faultmap.__version__}",
        "method": args.method,
        "n": len(prompts),
        "dim": int(vectors.shape[1]),
        "min_slice_size": args.min_slice_size,
        "alpha": args.alpha,
        "cpu_count": os.cpu_count(),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "cluster_wall_s": captured.get("cluster_wall_s"),
        "peak_rss_mb": peak_mb,
        "rss_before_mb": rss_before,
        "tracemalloc_peak_mb": tm_peak,
        "total_failures": report.total_failures,
        "baseline_failure_rate": report.baseline_failure_rate,
        "num_clusters": None if labels is None else len(set(labels.tolist()) - {-1}),
        "num_noise": None if labels is None else int(np.sum(labels == -1)),
        "num_clusters_tested": report.num_clusters_tested,
        "num_significant": report.num_significant,
        "embed_calls": embedder.calls,
        "slices": [
            {
                "sample_indices": [int(i) for i in s.sample_indices],
                "size": s.size,
                "failure_rate": s.failure_rate,
                "p_value": s.p_value,
                "adjusted_p_value": s.adjusted_p_value,
                "effect_size": s.effect_size,
                "test_used": s.test_used,
                "cluster_id": int(s.cluster_id),
            }
            for s in report.slices
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    logger.info(
        "n=%d wall_s=%.2f clusters=%s significant=%d peak_rss_mb=%.0f",
        len(prompts),
        wall_s,
        result["num_clusters"],
        report.num_significant,
        peak_mb,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
