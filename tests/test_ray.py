"""The Ray integration (faultmap.integrations.ray) against the local backends, on a local
Ray with two CPUs."""

from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from faultmap._neighbors import nearest_neighbors  # noqa: E402
from faultmap.embedding.local import SentenceTransformerEmbedder  # noqa: E402
from faultmap.exceptions import ConfigurationError  # noqa: E402
from faultmap.integrations.ray import (  # noqa: E402
    RayEmbedder,
    embed_parquet,
    nearest_neighbors_on_ray,
)

TEXTS = [
    f"{verb} my {thing} {when}"
    for verb in ("How do I reset", "Why can't I open", "Cancel", "Refund", "Update")
    for thing in ("password", "invoice", "order", "account", "subscription")
    for when in ("today", "please")
]  # 50 texts


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_vectors():
    return SentenceTransformerEmbedder().embed(TEXTS)


@pytest.mark.slow
def test_ray_embedder_equals_local_backend(local_ray, local_vectors):
    embedder = RayEmbedder(concurrency=2, batch_size=16, num_gpus=0)
    vectors = embedder.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == local_vectors.shape
    np.testing.assert_allclose(vectors, local_vectors, atol=1e-5)
    local = SentenceTransformerEmbedder()
    assert embedder.identity == local.identity
    assert embedder.fingerprint == local.fingerprint is not None


@pytest.mark.slow
def test_embed_parquet_keeps_row_order(local_ray, local_vectors, tmp_path):
    for i in range(3):  # three files, so Ray reads several blocks
        rows = slice(i * 20, (i + 1) * 20)
        table = pa.table({"prompt": TEXTS[rows], "id": list(range(50))[rows]})
        pq.write_table(table, tmp_path / f"part-{i}.parquet")
    # one actor: the other CPU reads the files (two actors on two CPUs would starve the reads)
    embedder = RayEmbedder(concurrency=1, batch_size=8, num_gpus=0)

    assert embed_parquet(str(tmp_path), tmp_path / "out.npy", embedder=embedder) == 50
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), local_vectors, atol=1e-5)

    embed_parquet(str(tmp_path), tmp_path / "out.parquet", keep_columns=["id"], embedder=embedder)
    written = pq.read_table(tmp_path / "out.parquet")
    assert written.column("id").to_pylist() == list(range(50))
    assert written.column("prompt").to_pylist() == TEXTS
    vectors = np.asarray(written.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_allclose(vectors, local_vectors, atol=1e-5)


def test_nearest_neighbors_on_ray_equals_local(local_ray):
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(300, 32)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    queries = rng.normal(size=(1000, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    sims, idx = nearest_neighbors_on_ray(queries, corpus, concurrency=2, block_rows=128)
    local_sims, local_idx = nearest_neighbors(queries, corpus)
    np.testing.assert_array_equal(idx, local_idx)
    np.testing.assert_allclose(sims, local_sims, atol=1e-6)


def test_arguments_are_checked():
    with pytest.raises(ConfigurationError, match="'concurrency' parameter of RayEmbedder"):
        RayEmbedder(concurrency=0)
    with pytest.raises(ConfigurationError, match=r"must end in \.npy or \.parquet"):
        embed_parquet("logs/", "vectors.csv")


def test_audit_coverage_takes_the_ray_search(local_ray):
    from faultmap import SliceAnalyzer
    from faultmap.integrations.ray import RayNeighborSearch

    rng = np.random.default_rng(1)
    centers = rng.normal(size=(4, 16))
    tests = centers[rng.integers(0, 3, 120)] + 0.3 * rng.normal(size=(120, 16))
    production = centers[rng.integers(0, 4, 300)] + 0.3 * rng.normal(size=(300, 16))
    tests /= np.linalg.norm(tests, axis=1, keepdims=True)
    production /= np.linalg.norm(production, axis=1, keepdims=True)
    kwargs = dict(
        test_prompts=[f"test {i}" for i in range(120)],
        production_prompts=[f"production {i}" for i in range(300)],
        test_embeddings=tests.astype(np.float32),
        production_embeddings=production.astype(np.float32),
    )
    analyzer = SliceAnalyzer(embedding_cache=False)
    with pytest.warns(Warning):
        local = analyzer.audit_coverage(**kwargs, neighbor_search="exact")
    with pytest.warns(Warning):
        on_ray = analyzer.audit_coverage(
            **kwargs, neighbor_search=RayNeighborSearch(concurrency=2, block_rows=64)
        )
    assert on_ray.metadata["nearest_neighbors"]["backend"] == "ray"
    assert on_ray.distance_coverage_score == local.distance_coverage_score
    assert on_ray.overall_coverage_score == local.overall_coverage_score
    assert [(g.size, g.mean_distance) for g in on_ray.gaps] == [
        (g.size, g.mean_distance) for g in local.gaps
    ]


def test_a_bad_neighbor_search_is_named():
    from faultmap import SliceAnalyzer

    with pytest.raises(ConfigurationError, match="'neighbor_search' parameter"):
        SliceAnalyzer().audit_coverage(["a", "b"], ["c", "d"], neighbor_search=object())
