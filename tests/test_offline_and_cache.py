"""Offline by default, safe in a running event loop, and a cache two processes can share."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from faultmap import SliceAnalyzer
from faultmap.embedding import CachedEmbedder
from faultmap.testing import FakeEmbedder


def test_default_analysis_never_imports_litellm(tmp_path):
    code = textwrap.dedent(
        """
        import sys, numpy as np
        from faultmap import SliceAnalyzer
        rng = np.random.default_rng(0)
        x = rng.normal(size=(60, 8))
        prompts = [f"prompt number {i}" for i in range(60)]
        SliceAnalyzer().analyze(prompts, [""] * 60, scores=rng.random(60), embeddings=x)
        assert "litellm" not in sys.modules, "litellm was imported without a model"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.filterwarnings("ignore::faultmap.exceptions.CompatibilityWarning")
def test_analyze_works_inside_a_running_event_loop():
    rng = np.random.default_rng(1)
    prompts = [f"question {i} about topic {i % 3}" for i in range(30)]
    analyzer = SliceAnalyzer(
        model="gpt-4o-mini",
        n_samples=2,
        llm_completion_kwargs={"mock_response": "fine"},
        embedding_cache=False,
    )
    vectors = rng.normal(size=(30, 16))

    async def notebook_cell():
        # as in Jupyter: a loop is running and the user calls the sync API
        sync = analyzer.analyze(prompts, ["fine"] * 30, embeddings=vectors)
        also = await analyzer.aanalyze(prompts, ["fine"] * 30, embeddings=vectors)
        return sync, also

    sync, also = asyncio.run(notebook_cell())
    assert sync.scoring_mode == also.scoring_mode == "entropy"
    assert sync.metadata["llm"]["succeeded"] == 60


def _writer(folder: str, start: int, barrier) -> None:
    texts = [f"text {i}" for i in range(start, start + 300)]
    barrier.wait()
    for k in range(0, 300, 20):  # many small writes to interleave with the other process
        CachedEmbedder(FakeEmbedder(), folder, max_shards=8).embed(texts[k : k + 20])


def test_cache_survives_two_processes_writing_at_once(tmp_path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), s, barrier)) for s in (0, 150)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, tmp_path)
    texts = [f"text {i}" for i in range(450)]
    got = cached.embed(texts)
    assert inner.n_embedded == 0, "every text written by either process is readable"
    np.testing.assert_array_equal(got, FakeEmbedder().embed(texts))


def test_cache_files_are_plain_npz_without_pickle(tmp_path):
    CachedEmbedder(FakeEmbedder(), tmp_path).embed(["a", "b"])
    shards = list(tmp_path.rglob("*.npz"))
    assert shards
    with np.load(shards[0], allow_pickle=False) as data:
        assert set(data.files) == {"keys", "vectors"}
        assert data["keys"].dtype == np.uint8 and data["vectors"].dtype == np.float32


def test_cache_can_be_switched_off_and_pointed_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("FAULTMAP_CACHE_DIR", str(tmp_path / "env"))
    embedder = SliceAnalyzer(embedding_model=FakeEmbedder(), embedding_cache=False)
    assert isinstance(embedder._get_embedder(), FakeEmbedder)
    on = SliceAnalyzer(embedding_model=FakeEmbedder())._get_embedder()
    assert isinstance(on, CachedEmbedder) and on.cache_dir == tmp_path / "env"
    there = SliceAnalyzer(embedding_model=FakeEmbedder(), embedding_cache=tmp_path / "x")
    assert there._get_embedder().cache_dir == tmp_path / "x"


def test_corrupt_shard_is_skipped_not_fatal(tmp_path):
    inner = FakeEmbedder()
    CachedEmbedder(inner, tmp_path).embed(["a"])
    folder = next(tmp_path.rglob("shard-*.npz")).parent
    (folder / "shard-broken.npz").write_bytes(b"not a zip file")
    again = FakeEmbedder()
    CachedEmbedder(again, tmp_path).embed(["a", "b"])
    assert again.n_embedded == 1  # "a" still cached, only "b" embedded


@pytest.mark.parametrize("n", [0])
def test_cached_embedder_of_nothing(tmp_path, n):
    out = CachedEmbedder(FakeEmbedder(), tmp_path).embed([])
    assert out.shape[0] == n


class _DiesOnSecondCall(FakeEmbedder):
    def embed(self, texts, *, role="query"):
        if self.calls:  # a second call
            raise KeyboardInterrupt("interrupted")
        return super().embed(texts, role=role)


def test_interrupted_embedding_keeps_the_blocks_already_done(tmp_path):
    texts = [f"prompt number {i}" for i in range(25)]
    with pytest.raises(KeyboardInterrupt):
        CachedEmbedder(_DiesOnSecondCall(), tmp_path, write_every=10).embed(texts)
    inner = FakeEmbedder()
    got = CachedEmbedder(inner, tmp_path, write_every=10).embed(texts)
    assert inner.n_embedded == 15, "the first block of 10 was cached before the interruption"
    np.testing.assert_array_equal(got, FakeEmbedder().embed(texts))
