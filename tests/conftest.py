"""Shared fixtures: the bundled BIG-bench sample and its real MiniLM embeddings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "bigbench_sample.jsonl"


@pytest.fixture(scope="session")
def sample_rows() -> list[dict]:
    """Every row of the bundled sample (3,000 real BIG-bench prompts, simulated scores)."""
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def real_subset(sample_rows) -> dict:
    """1,200 prompts from 8 tasks with their real all-MiniLM-L6-v2 vectors (embedded once)."""
    from faultmap.embedding import SentenceTransformerEmbedder

    tasks = sorted({r["task"] for r in sample_rows})[:8]
    per_task: dict[str, list[dict]] = {t: [] for t in tasks}
    for r in sample_rows:
        if r["task"] in per_task and len(per_task[r["task"]]) < 150:
            per_task[r["task"]].append(r)
    rows = [r for t in tasks for r in per_task[t]]
    prompts = [r["prompt"] for r in rows]
    vectors = SentenceTransformerEmbedder().embed(prompts)
    return {
        "prompts": prompts,
        "tasks": np.array([r["task"] for r in rows]),
        "vectors": vectors,
    }


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache_dir(tmp_path_factory):
    """Keep the embedding cache of the test session out of the user's cache directory."""
    old = os.environ.get("FAULTMAP_CACHE_DIR")
    os.environ["FAULTMAP_CACHE_DIR"] = str(tmp_path_factory.mktemp("faultmap-cache"))
    yield
    if old is None:
        os.environ.pop("FAULTMAP_CACHE_DIR", None)
    else:
        os.environ["FAULTMAP_CACHE_DIR"] = old
