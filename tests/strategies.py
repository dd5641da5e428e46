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
