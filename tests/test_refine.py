"""Refined clustering (issue 11): a small, distinct group inside a large cluster is split out
on the cluster's own PCA; refinement only ever splits clusters, never moves rows between
them, and never looks at the failure labels."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from faultmap import SliceAnalyzer
from faultmap.clustering.hdbscan import HDBSCANClusterer
from faultmap.stages import clusterer_for


def test_a_small_task_merged_into_a_large_cluster_is_split_out(real_subset) -> None:
    tasks, vectors = real_subset["tasks"], real_subset["vectors"]
    small_task = sorted(set(tasks))[-1]
    small = np.flatnonzero(tasks == small_task)[:30]
    rows = np.concatenate([np.flatnonzero(tasks != small_task), small])
    merged = np.zeros(len(rows), dtype=np.int64)  # one cluster holds all 1,080 prompts
    out = HDBSCANClusterer(n_components=30, refine=True).refine_labels(
        vectors[rows], merged, min_cluster_size=10
    )
    is_small = tasks[rows] == small_task
    label, count = np.unique(out[is_small], return_counts=True)
    best = label[np.argmax(count)]
    assert best != 0 and count.max() >= 0.8 * is_small.sum()  # its own cluster...
    assert is_small[out == best].mean() >= 0.8  # ...of mostly its prompts


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    groups=st.lists(st.integers(5, 400), min_size=1, max_size=4),
    noise=st.integers(0, 50),
)
def test_refinement_only_splits_clusters(seed: int, groups: list[int], noise: int) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(groups), 16))
    x = np.vstack(
        [c + rng.normal(0, 0.3, (n, 16)) for c, n in zip(centres, groups, strict=True)]
        + [rng.normal(0, 3, (noise, 16))]
    )
    base = np.concatenate([np.full(n, k) for k, n in enumerate(groups)] + [np.full(noise, -1)])
    clusterer = HDBSCANClusterer(refine=True, refine_min_rows=50, random_state=seed)
    out = clusterer.refine_labels(x, base, min_cluster_size=5)
    assert (out[base < 0] == -1).all() and (out[base >= 0] >= 0).all()
    for label in np.unique(out[out >= 0]):  # every cluster lies inside one old cluster
        assert len(np.unique(base[out == label])) == 1
    for old in np.unique(base[base >= 0]):  # the bulk keeps its old label
        assert (out[base == old] == old).mean() >= 0.5
    again = clusterer.refine_labels(x, base, min_cluster_size=5)
    assert np.array_equal(out, again)


def test_analyze_uses_the_refined_recipe_and_coverage_the_plain_one() -> None:
    refined = clusterer_for("hdbscan", random_state=3, for_slices=True)
    plain = clusterer_for("hdbscan", random_state=3)
    assert isinstance(refined, HDBSCANClusterer) and refined.refine
    assert refined.n_components == 30 and refined.random_state == 3
    assert isinstance(plain, HDBSCANClusterer) and not plain.refine
    assert plain.n_components == 20
    given_object = HDBSCANClusterer()
    assert clusterer_for(given_object, random_state=0, for_slices=True) is given_object
    from faultmap.analyses.inputs import setup_from

    analyzer = SliceAnalyzer(random_state=3)
    setup = setup_from(analyzer, client=None, embedder=lambda: None)
    assert setup.slice_clusterer.refine and not setup.clusterer.refine


def test_refinement_is_skipped_above_refine_max_rows() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (600, 8)), rng.normal(0, 0.05, (30, 8)) + 3])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    plain = HDBSCANClusterer(refine=False).fit_predict(x, min_cluster_size=10)
    capped = HDBSCANClusterer(refine=True, refine_max_rows=100).fit_predict(x, min_cluster_size=10)
    assert np.array_equal(plain, capped)


def test_a_small_task_left_as_noise_becomes_a_cluster_of_its_own(real_subset) -> None:
    # The global fit leaves a thin task as noise: refinement clusters the noise on its own
    # PCA, and the task's prompts come back as a cluster; the clusters are untouched.
    tasks, vectors = real_subset["tasks"], real_subset["vectors"]
    small_task = sorted(set(tasks))[0]
    labels = np.where(tasks == small_task, -1, 0)  # everything else one cluster
    out = HDBSCANClusterer(n_components=30, refine=True).cluster_noise(
        vectors, labels, min_cluster_size=10
    )
    assert (out[tasks != small_task] == 0).all()
    found = out[tasks == small_task]
    assert (found >= 1).mean() >= 0.5


def test_the_bulk_of_the_noise_stays_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, 8))  # one diffuse blob
    out = HDBSCANClusterer(refine=True).cluster_noise(x, np.full(400, -1), min_cluster_size=10)
    _, count = np.unique(out[out >= 0], return_counts=True)
    assert all(c <= 200 for c in count)  # a group of more than half the noise stays noise


def test_noise_refinement_can_be_turned_off(real_subset) -> None:
    vectors = real_subset["vectors"][:300]
    on = HDBSCANClusterer(refine=True, random_state=1).fit_predict(vectors, min_cluster_size=10)
    off = HDBSCANClusterer(refine=True, refine_noise=False, random_state=1).fit_predict(
        vectors, min_cluster_size=10
    )
    assert (on[off >= 0] == off[off >= 0]).all()  # clusters kept; only noise may change
    assert (on < 0).sum() <= (off < 0).sum()
