"""Hypothesis strategies shared by the test modules (one place, like attrs' tests/strategies.py).

Counts follow :func:`faultmap.significance.one_sided_proportion_test`'s signature:
``(failures, size, total_failures, total)`` for the 2x2 table
``[[failures, size - failures], [total_failures - failures, rest passes]]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

__all__ = [
    "Counts",
    "CoverageCounts",
    "binomial_counts",
    "count_tables",
    "coverage_counts",
    "degenerate_count_tables",
    "discordant_pairs",
    "inconsistent_counts",
    "nondegenerate_count_tables",
    "p_value_lists",
    "p_values",
    "property_settings",
]

#: Deterministic (derandomized) and without deadlines: scipy's first call warms caches.
property_settings = settings(deadline=None, derandomize=True, max_examples=80)

MAX_TOTAL = 600  # scipy's exact tests stay in the sub-millisecond range up to here


class Counts(NamedTuple):
    failures: int
    size: int
    total_failures: int
    total: int

    @property
    def table(self) -> np.ndarray:
        rest = self.total - self.size
        rest_failures = self.total_failures - self.failures
        return np.array(
            [[self.failures, self.size - self.failures], [rest_failures, rest - rest_failures]],
            dtype=np.int64,
        )

    @property
    def args(self) -> tuple[int, int, int, int]:
        return (self.failures, self.size, self.total_failures, self.total)


@st.composite
def count_tables(draw: st.DrawFn, *, min_total: int = 1, max_total: int = MAX_TOTAL) -> Counts:
    """Consistent counts: every cell of the 2x2 table is a non-negative integer."""
    total = draw(st.integers(min_total, max_total))
    total_failures = draw(st.integers(0, total))
    size = draw(st.integers(0, total))
    total_passes = total - total_failures
    failures = draw(st.integers(max(0, size - total_passes), min(size, total_failures)))
    return Counts(failures, size, total_failures, total)


@st.composite
def nondegenerate_count_tables(draw: st.DrawFn, *, max_total: int = MAX_TOTAL) -> Counts:
    """Consistent counts with no empty row or column (the chi-squared test is defined)."""
    total = draw(st.integers(2, max_total))
    total_failures = draw(st.integers(1, total - 1))
    size = draw(st.integers(1, total - 1))
    total_passes = total - total_failures
    failures = draw(st.integers(max(0, size - total_passes), min(size, total_failures)))
    return Counts(failures, size, total_failures, total)


@st.composite
def degenerate_count_tables(draw: st.DrawFn, *, max_total: int = MAX_TOTAL) -> Counts:
    """Consistent counts with an empty row or column (empty group, no rest, no failures or
    no passes): the table carries no evidence."""
    total = draw(st.integers(1, max_total))
    kind = draw(st.sampled_from(["empty group", "no rest", "no failures", "no passes"]))
    total_failures = {"no failures": 0, "no passes": total}.get(kind)
    if total_failures is None:
        total_failures = draw(st.integers(0, total))
    size = {"empty group": 0, "no rest": total}.get(kind)
    if size is None:
        size = draw(st.integers(0, total))
    total_passes = total - total_failures
    failures = draw(st.integers(max(0, size - total_passes), min(size, total_failures)))
    return Counts(failures, size, total_failures, total)


def _consistent(c: Counts) -> bool:
    f, s, tf, t = c
    return 0 <= f <= s <= t and 0 <= tf <= t and f <= tf and (s - f) <= (t - tf)


inconsistent_counts = st.builds(
    Counts,
    st.integers(-5, 60),
    st.integers(-5, 60),
    st.integers(-5, 60),
    st.integers(-5, 60),
).filter(lambda c: not _consistent(c))
"""Counts for which some cell of the 2x2 table would be negative."""


@st.composite
def binomial_counts(draw: st.DrawFn, *, max_n: int = 2000) -> tuple[int, int]:
    """``(k, n)`` with ``0 <= k <= n`` and ``n >= 1``."""
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(0, n))
    return k, n


p_values = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 1.0, 0.05, 0.5, 1e-300]),
)
"""Single p-values in [0, 1], with the edges drawn often."""


def p_value_lists(*, min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[list[float]]:
    """Lists of p-values in [0, 1] (ties and exact 0 / 1 included)."""
    return st.lists(p_values, min_size=min_size, max_size=max_size)


@st.composite
def discordant_pairs(draw: st.DrawFn, *, max_n: int = 400) -> tuple[int, int]:
    """``(a_wins, b_wins)`` for McNemar's test, with totals around the exact/chi2 switch at
    25 drawn often."""
    n = draw(st.one_of(st.integers(0, max_n), st.integers(20, 30)))
    a = draw(st.integers(0, n))
    return a, n - a


class CoverageCounts(NamedTuple):
    """Counts of :func:`faultmap.significance.under_representation_test`."""

    test_in: int
    test_total: int
    production_in: int
    production_total: int

    @property
    def table(self) -> np.ndarray:
        return np.array(
            [
                [self.test_in, self.test_total - self.test_in],
                [self.production_in, self.production_total - self.production_in],
            ],
            dtype=np.int64,
        )


@st.composite
def coverage_counts(draw: st.DrawFn, *, max_total: int = MAX_TOTAL) -> CoverageCounts:
    """Consistent counts: a region holding some of the test and some of the production
    prompts (either set may be empty)."""
    test_total = draw(st.integers(0, max_total))
    production_total = draw(st.integers(0, max_total))
    return CoverageCounts(
        draw(st.integers(0, test_total)),
        test_total,
        draw(st.integers(0, production_total)),
        production_total,
    )


# -- classic metrics (faultmap.metrics, faultmap.cohorts) -----------------------------------

metric_settings = settings(deadline=None, derandomize=True, max_examples=40)
"""Hypothesis settings of the metric tests: deterministic, no deadlines, moderate size."""


@st.composite
def label_pairs(
    draw: st.DrawFn, *, max_classes: int = 5, max_n: int = 40, text: bool | None = None
) -> tuple[list, list]:
    """``(y_true, y_pred)`` of one length over 1 to ``max_classes`` labels (ints or strings),
    with the edge cases drawn often: one class present, all correct, all wrong."""
    k = draw(st.integers(1, max_classes))
    n = draw(st.integers(1, max_n))
    use_text = draw(st.booleans()) if text is None else text
    pool = [f"c{i}" for i in range(k)] if use_text else list(range(k))
    y_true = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    mode = draw(st.sampled_from(["random", "random", "random", "all correct", "all wrong"]))
    if mode == "all correct":
        y_pred = list(y_true)
    elif mode == "all wrong" and k > 1:
        y_pred = [pool[(pool.index(t) + 1) % k] for t in y_true]
    else:
        y_pred = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return y_true, y_pred


def _probability_rows(draw: st.DrawFn, n: int, k: int) -> np.ndarray:
    """(n, k) probability rows summing to 1: Dirichlet draws, one-hot rows (exact 0 and 1),
    or a mix of both."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    concentration = draw(st.sampled_from([0.2, 1.0, 5.0]))
    p = rng.dirichlet(np.full(k, concentration), size=n)
    kind = draw(st.sampled_from(["dirichlet", "one-hot", "mixed"]))
    hard = np.eye(k)[rng.integers(0, k, size=n)]
    if kind == "one-hot":
        p = hard
    elif kind == "mixed":
        p = np.where(rng.random(n)[:, None] < 0.3, hard, p)
    return p / p.sum(axis=1, keepdims=True)


@st.composite
def multiclass_probabilities(
    draw: st.DrawFn,
    *,
    min_classes: int = 3,
    max_classes: int = 5,
    max_n: int = 40,
    all_classes: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, y_prob)``: integer labels in ``range(k)`` and (n, k) probabilities.
    ``all_classes=True`` makes every class occur in ``y_true``."""
    k = draw(st.integers(min_classes, max_classes))
    n = draw(st.integers(k if all_classes else 1, max_n))
    y_true = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    if all_classes:
        y_true[:k] = np.arange(k)
    return y_true, _probability_rows(draw, n, k)


unit_floats = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 1.0, 0.5]),
)
"""Probabilities in [0, 1], with the edges drawn often."""


@st.composite
def binary_probabilities(
    draw: st.DrawFn, *, max_n: int = 40, both_classes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, p)``: 0/1 labels and the positive class's probability, shape (n,)."""
    n = draw(st.integers(2 if both_classes else 1, max_n))
    y_true = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if both_classes:
        y_true[:2] = [0, 1]
    mode = draw(st.sampled_from(["random", "random", "perfect", "wrong"]))
    if mode == "perfect":
        p = y_true.astype(float)
    elif mode == "wrong":
        p = 1.0 - y_true.astype(float)
    else:
        p = np.array(draw(st.lists(unit_floats, min_size=n, max_size=n)))
    return y_true, p


@st.composite
def segmentation_masks(
    draw: st.DrawFn, *, max_classes: int = 5, max_side: int = 8
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(y_true, y_pred, num_classes)``: two integer masks of one 2-D shape."""
    k = draw(st.integers(2, max_classes))
    shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    used = draw(st.integers(1, k))  # often only some classes occur
    y_true = rng.integers(0, used, size=shape)
    mode = draw(st.sampled_from(["random", "noisy", "perfect"]))
    if mode == "perfect":
        y_pred = y_true.copy()
    elif mode == "noisy":
        flip = rng.random(shape) < 0.2
        y_pred = np.where(flip, rng.integers(0, k, size=shape), y_true)
    else:
        y_pred = rng.integers(0, k, size=shape)
    return y_true, y_pred, k


@st.composite
def cohort_tables(draw: st.DrawFn, *, max_n: int = 120) -> tuple[list[int], dict[str, list]]:
    """``(failures, metadata)``: 0/1 failures and two categorical columns, one with missing
    values, one with a value tied to failure sometimes."""
    n = draw(st.integers(2, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rate = draw(st.sampled_from([0.0, 0.1, 0.3, 0.5, 1.0]))
    failures = (rng.random(n) < rate).astype(int)
    routes = rng.choice(["search", "chat", "code", "math"], size=n).tolist()
    if draw(st.booleans()):  # one route fails more
        failures = np.where(np.array(routes) == "math", rng.random(n) < 0.8, failures)
    languages = rng.choice(["en", "de", "fr", None], size=n, p=[0.5, 0.2, 0.2, 0.1]).tolist()
    return [int(f) for f in failures], {"route": routes, "language": languages}


__all__ += [
    "binary_probabilities",
    "cohort_tables",
    "label_pairs",
    "metric_settings",
    "multiclass_probabilities",
    "segmentation_masks",
    "unit_floats",
]
