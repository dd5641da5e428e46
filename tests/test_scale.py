"""Large-input paths on small data: batching changes no result, float32 stays float32, and a
memory-mapped ``.npy`` is read where it lies (issue 15, point 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faultmap import SliceAnalyzer
from faultmap._validation import as_embeddings
from faultmap.clustering import HDBSCANClusterer
from faultmap.clustering.reduce import pca_reduce


def _blobs(n_per: int = 400, groups: int = 6, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    x = np.vstack([c + rng.normal(0, 0.15, (n_per, dim)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[rng.permutation(len(x))].astype(np.float32)


def test_pca_in_batches_equals_pca_in_one_go() -> None:
    x = _blobs()
    whole = pca_reduce(x, 5, batch_size=len(x))
    batched = pca_reduce(x, 5, batch_size=97)
    assert whole.dtype == batched.dtype == np.float32
    np.testing.assert_allclose(batched, whole, rtol=0, atol=1e-6)


def test_pca_keeps_float32_and_the_input_and_matches_sklearn() -> None:
    from sklearn.decomposition import PCA

    x = _blobs()
    before = x.copy()
    out = pca_reduce(x, 5, batch_size=128)
    assert out.shape == (len(x), 5) and out.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    expected = PCA(n_components=5, svd_solver="full").fit_transform(x.astype(np.float64))
    np.testing.assert_allclose(np.abs(out), np.abs(expected), atol=1e-4)


def test_pca_reads_a_memory_mapped_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npy"
    np.save(path, _blobs())
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(pca_reduce(mapped, 4), pca_reduce(np.load(path), 4), atol=0)


@pytest.mark.parametrize("max_fit_points", [None, 600])
def test_hdbscan_labels_do_not_depend_on_the_batch_size(max_fit_points: int | None) -> None:
    x = _blobs()
    one_go = HDBSCANClusterer(max_fit_points=max_fit_points, batch_size=len(x))
    small = HDBSCANClusterer(max_fit_points=max_fit_points, batch_size=101)
    labels = one_go.fit_predict(x, min_cluster_size=20)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(small.fit_predict(x, min_cluster_size=20), labels)
    assert len(set(labels[labels >= 0].tolist())) == 6


def test_memory_mapped_npy_is_read_without_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npy"
    np.save(path, _blobs())
    mapped = np.load(path, mmap_mode="r")
    checked = as_embeddings("embeddings", mapped, len(mapped))
    assert checked.dtype == np.float32
    assert np.shares_memory(checked, mapped)


def test_analyze_on_a_memory_mapped_npy_equals_analyze_in_memory(tmp_path: Path) -> None:
    x = _blobs(n_per=150, groups=4)
    rng = np.random.default_rng(1)
    group = np.argmax(x @ x[:4].T, axis=1)  # a stand-in for "which blob"
    scores = np.where(rng.random(len(x)) < np.where(group == 0, 0.7, 0.05), 0.0, 1.0)
    prompts = [f"prompt {i} about topic {g}" for i, g in enumerate(group)]
    path = tmp_path / "vectors.npy"
    np.save(path, x)
    analyzer = SliceAnalyzer(min_slice_size=10, embedding_cache=False, map_projection=None)
    in_memory = analyzer.analyze(prompts, [""] * len(x), scores=scores, embeddings=x)
    mapped = np.load(path, mmap_mode="r")
    from_file = analyzer.analyze(prompts, [""] * len(x), scores=scores, embeddings=mapped)
    assert from_file.cluster_labels == in_memory.cluster_labels
    assert [s.sample_indices for s in from_file.slices] == [
        s.sample_indices for s in in_memory.slices
    ]


def test_centre_by_index_in_blocks_equals_centre_of_a_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from faultmap.core import groups

    x = _blobs()
    members = np.flatnonzero(np.arange(len(x)) % 3 == 0)
    c, median, q10 = groups.centre(x[members])
    monkeypatch.setattr(groups, "BATCH_ROWS", 37)
    c2, median2, q102 = groups.centre(x, members)
    np.testing.assert_allclose(c2, c, rtol=0, atol=1e-12)
    assert (median2, q102) == pytest.approx((median, q10), abs=1e-12)


def test_group_sums_in_blocks_equal_one_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    from faultmap.core import groups

    x = _blobs()
    rows = np.arange(0, len(x), 2)
    ids = rows % 5
    whole = np.zeros((5, x.shape[1]))
    np.add.at(whole, ids, x[rows].astype(np.float64))
    monkeypatch.setattr(groups, "BATCH_ROWS", 41)
    np.testing.assert_allclose(groups.group_sums(x, rows, ids, 5), whole, rtol=1e-12)
