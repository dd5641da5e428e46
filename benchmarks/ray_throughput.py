"""Embedding throughput on a local Ray, per worker, against the local embedder (issue 15).

Run from the repository root (needs ``faultmap[ray]``)::

    HF_HUB_OFFLINE=1 python benchmarks/ray_throughput.py 4000

It embeds N synthetic prompts of 6 to 30 words with the packaged all-MiniLM-L6-v2: once
with :class:`~faultmap.embedding.local.SentenceTransformerEmbedder` in this process, then
with :class:`~faultmap.integrations.ray.RayEmbedder` on ``ray.init(num_cpus=2)`` with one
and two one-CPU actors (each run after a warm-up run, whose time to start the actors and
load the model is printed too), and checks that the vectors agree to 1e-5.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import ray

from faultmap.embedding.local import SentenceTransformerEmbedder
from faultmap.integrations.ray import RayEmbedder

WORDS = [
    "how",
    "do",
    "I",
    "reset",
    "cancel",
    "refund",
    "my",
    "password",
    "invoice",
    "order",
    "account",
    "subscription",
    "why",
    "can't",
    "open",
    "the",
    "app",
    "today",
    "please",
    "when",
    "will",
    "it",
    "arrive",
]


def main(n: int) -> None:
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(6, 30))) for _ in range(n)]
    print("load average", os.getloadavg(), flush=True)
    local = SentenceTransformerEmbedder()
    local.embed(texts[:50])
    began = time.perf_counter()
    reference = local.embed(texts)
    took = time.perf_counter() - began
    print(f"local embedder: {n / took:.0f} texts/s ({took:.1f} s)", flush=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for actors in (1, 2):
            embedder = RayEmbedder(concurrency=actors, batch_size=256, num_gpus=0)
            began = time.perf_counter()
            embedder.embed(texts[: actors * 8])
            warm = time.perf_counter() - began
            began = time.perf_counter()
            vectors = embedder.embed(texts)
            took = time.perf_counter() - began
            assert np.allclose(vectors, reference, atol=1e-5)
            print(
                f"ray, {actors} actor(s): {n / took:.0f} texts/s, {n / took / actors:.0f} per "
                f"worker ({took:.1f} s, of which about {warm:.1f} s start the actors and load "
                "the model)",
                flush=True,
            )
    finally:
        ray.shutdown()
    print("load average", os.getloadavg(), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
