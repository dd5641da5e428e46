"""Nearest-neighbour search: the exact blocked search and the cell index that measures
its own error (:mod:`faultmap._neighbors`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultmap._neighbors import EXACT_PAIRS, nearest_neighbors, search


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _clustered(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    pick = rng.integers(0, len(centres), n)
    return _unit(centres[pick] + 0.3 * rng.standard_normal((n, centres.shape[1])))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 40),
    m=st.integers(1, 40),
    budget=st.sampled_from([64, 1024, 2**20]),
    seed=st.integers(0, 2**16),
)
def test_exact_search_matches_brute_force_for_any_block_size(n, m, budget, seed):
    rng = np.random.default_rng(seed)
    q, c = _unit(rng.standard_normal((n, 8))), _unit(rng.standard_normal((m, 8)))
    sims, idx = nearest_neighbors(q, c, memory_budget=budget)
    full = q @ c.T
    np.testing.assert_allclose(sims, full.max(axis=1), rtol=0, atol=1e-6)
    np.testing.assert_allclose(full[np.arange(n), idx], full.max(axis=1), rtol=0, atol=1e-6)


def test_auto_is_exact_below_the_pair_limit():
    rng = np.random.default_rng(0)
    q, c = _unit(rng.standard_normal((50, 16))), _unit(rng.standard_normal((60, 16)))
    assert EXACT_PAIRS > 50 * 60
    _, idx, details = search(q, c)
    assert details == {"method": "exact"}
    np.testing.assert_array_equal(idx, nearest_neighbors(q, c)[1])


def test_unknown_method_is_refused():
    v = _unit(np.eye(2))
    with pytest.raises(ValueError, match="method must be one of auto, exact, cells"):
        search(v, v, method="annoy")


def test_cell_index_reports_its_measured_recall_and_never_overstates_similarity():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((40, 32))
    corpus, queries = _clustered(rng, 20_000, centres), _clustered(rng, 6_000, centres)
    sims, idx, details = search(queries, corpus, method="cells", random_state=3)
    exact, exact_idx = nearest_neighbors(queries, corpus)
    assert details["method"] == "cells"
    assert details["share_within_tolerance"] >= 0.99
    assert details["recall_at_1"] >= 0.95
    # The cell index only compares a query with real corpus vectors: never closer than exact.
    assert np.all(sims <= exact + 1e-5)
    # The reported recall is an honest estimate of the recall over all queries.
    assert abs(np.mean(idx == exact_idx) - details["recall_at_1"]) < 0.02
    again = search(queries, corpus, method="cells", random_state=3)
    np.testing.assert_array_equal(again[1], idx)


def test_cell_index_falls_back_to_exact_on_data_without_cluster_structure():
    rng = np.random.default_rng(2)
    corpus, queries = _unit(rng.standard_normal((8_000, 48))), _unit(rng.standard_normal((500, 48)))
    _, idx, details = search(queries, corpus, method="cells")
    assert details["method"] == "exact"
    assert details["cells_share_within_tolerance"] < 0.99
    np.testing.assert_array_equal(idx, nearest_neighbors(queries, corpus)[1])


def test_cell_index_serves_queries_far_from_the_whole_corpus():
    """Production prompts of a topic the test suite lacks have many test prompts at almost
    the same distance: the index is judged by distances, not by finding the one exact
    neighbour, and serves them."""
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((40, 32))
    corpus = _clustered(rng, 20_000, centres[:30])
    queries = _clustered(rng, 6_000, centres)
    sims, _, details = search(queries, corpus, method="cells")
    exact, _ = nearest_neighbors(queries, corpus)
    assert details["method"] == "cells"
    assert details["share_within_tolerance"] >= 0.99
    assert np.mean(exact - sims <= details["distance_tolerance"]) >= 0.98
