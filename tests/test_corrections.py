"""Multiple-testing corrections, vectorized group tests and detectable rates against
statsmodels, the scalar functions and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from strategies import count_tables, p_value_lists

from faultmap.core import groups
from faultmap.exceptions import ConfigurationError
from faultmap.significance import (
    CORRECTIONS,
    adjust,
    benjamini_hochberg,
    detectable_rate,
    detectable_rates,
    homogeneity_tests,
    one_sided_proportion_test,
    one_sided_proportion_tests,
    rejection_level,
)

quick = settings(deadline=None, derandomize=True, max_examples=40)

STATSMODELS = {"bh": "fdr_bh", "by": "fdr_by", "holm": "holm"}


# -- adjust ----------------------------------------------------------------------------------


@quick
@given(p_value_lists(min_size=1), st.sampled_from(CORRECTIONS))
def test_adjust_equals_statsmodels(p: list[float], method: str) -> None:
    expected = multipletests(p, method=STATSMODELS[method])[1]
    np.testing.assert_allclose(adjust(p, method), expected, rtol=0, atol=1e-12)


@quick
@given(p_value_lists(), st.sampled_from(CORRECTIONS))
def test_adjust_is_monotone_capped_and_leaves_input_alone(p: list[float], method: str) -> None:
    raw = np.array(p)
    before = raw.copy()
    adjusted = adjust(raw, method)
    np.testing.assert_array_equal(raw, before)
    assert adjusted.dtype == np.float64 and adjusted.shape == raw.shape
    assert np.all((adjusted >= raw) & (adjusted <= 1))
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= 0)


def test_adjust_empty_and_bh_alias() -> None:
    for method in CORRECTIONS:
        out = adjust([], method)
        assert out.dtype == np.float64 and out.shape == (0,)
    p = [0.01, 0.04, 0.03, 0.5]
    np.testing.assert_array_equal(benjamini_hochberg(p), adjust(p))
    np.testing.assert_array_equal(groups.correct(p), adjust(p))
    np.testing.assert_array_equal(groups.correct(p, "holm"), adjust(p, "holm"))


@pytest.mark.parametrize("method", ["BH", "bonferroni", "fdr_bh", None])
def test_adjust_rejects_unknown_method(method: object) -> None:
    with pytest.raises(ConfigurationError, match="'method' parameter of adjust"):
        adjust([0.1, 0.2], method)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'method'"):
        rejection_level(np.array([0.1]), np.array([0.1]), method, 0.05)  # type: ignore[arg-type]


def test_adjust_rejects_bad_p_values() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust([0.1, 1.5])
    with pytest.raises(ValueError, match="one-dimensional"):
        adjust([[0.1]])


def test_test_family_passes_the_correction_on() -> None:
    labels = np.array([0] * 5 + [1] * 5 + [2] * 5)
    p = {0: 0.01, 1: 0.02, 2: 0.04}

    class Result:
        def __init__(self, g: int) -> None:
            self.p_value = p[g]

    for method in CORRECTIONS:
        family = groups.test_family(
            labels, min_size=2, test=lambda g, _n: Result(g), correction=method
        )
        np.testing.assert_array_equal(family.adjusted, adjust(list(p.values()), method))
    with pytest.raises(ConfigurationError, match="'correction'"):
        groups.test_family(labels, min_size=2, test=lambda g, _n: Result(g), correction="bonf")


# -- rejection_level -------------------------------------------------------------------------


def test_rejection_level_examples() -> None:
    raw = np.array([0.001, 0.02, 0.3, 0.5])
    # BH: 0.001 and 0.02 are rejected (adjusted 0.004, 0.04): the third needed 3 * 0.05 / 4.
    assert rejection_level(adjust(raw, "bh"), raw, "bh", 0.05) == pytest.approx(0.0375)
    # BY: only 0.001 survives (adjusted 0.02 * 2.083 > 0.05): the second needed 2 * 0.05 / (4 H4).
    h4 = 1 + 1 / 2 + 1 / 3 + 1 / 4
    assert rejection_level(adjust(raw, "by"), raw, "by", 0.05) == pytest.approx(2 * 0.05 / (4 * h4))
    # Holm: 0.001 rejected (0.004), 0.02 not (0.06): the second needed 0.05 / 3.
    assert rejection_level(adjust(raw, "holm"), raw, "holm", 0.05) == pytest.approx(0.05 / 3)
    # Nothing rejected: the first step of each procedure.
    none = np.array([0.4, 0.6])
    assert rejection_level(adjust(none, "bh"), none, "bh", 0.05) == pytest.approx(0.025)
    assert rejection_level(adjust(none, "holm"), none, "holm", 0.05) == pytest.approx(0.025)
    # Everything rejected: k is capped at m - 1.
    small = np.array([0.001, 0.002])
    assert rejection_level(adjust(small, "bh"), small, "bh", 0.05) == pytest.approx(0.05)
    assert rejection_level(adjust(small, "holm"), small, "holm", 0.05) == pytest.approx(0.05)
    # An empty family counts as a family of one.
    assert rejection_level(np.array([]), np.array([]), "by", 0.05) == pytest.approx(0.05)


@quick
@given(p_value_lists(min_size=1), st.sampled_from(CORRECTIONS))
def test_rejection_level_rejects_what_it_promises(p: list[float], method: str) -> None:
    """A new hypothesis at the returned level, replacing an unrejected one, is rejected."""
    raw = np.array(p)
    adjusted = adjust(raw, method)
    level = rejection_level(adjusted, raw, method, 0.05)
    unrejected = np.flatnonzero(adjusted >= 0.05)
    if unrejected.size == 0:
        return
    changed = raw.copy()
    changed[unrejected[np.argmin(raw[unrejected])]] = level * (1 - 1e-9)
    assert (adjust(changed, method) < 0.05).sum() == (adjusted < 0.05).sum() + 1


# -- one_sided_proportion_tests --------------------------------------------------------------


@st.composite
def count_families(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Groups drawn against shared totals: (failures, sizes, total_failures, total)."""
    first = draw(count_tables())
    total, total_failures = first.total, first.total_failures
    sizes, failures = [first.size], [first.failures]
    for _ in range(draw(st.integers(0, 11))):
        size = draw(st.sampled_from([0, total]) | st.integers(0, total))
        passes = total - total_failures
        sizes.append(size)
        failures.append(draw(st.integers(max(0, size - passes), min(size, total_failures))))
    return np.array(failures), np.array(sizes), total_failures, total


@quick
@given(count_families(), st.sampled_from(["fisher", "chi2", "auto"]))
def test_one_sided_proportion_tests_equal_the_scalar_test(
    family: tuple[np.ndarray, np.ndarray, int, int], test: str
) -> None:
    failures, sizes, total_failures, total = family
    before = failures.copy(), sizes.copy()
    p, used = one_sided_proportion_tests(failures, sizes, total_failures, total, test=test)
    np.testing.assert_array_equal(failures, before[0])
    np.testing.assert_array_equal(sizes, before[1])
    assert p.dtype == np.float64 and used.dtype == object
    for i, (f, n) in enumerate(zip(failures.tolist(), sizes.tolist(), strict=True)):
        scalar = one_sided_proportion_test(f, n, total_failures, total, test=test)
        assert used[i] == scalar.test_used
        assert p[i] == pytest.approx(scalar.p_value, rel=1e-12, abs=1e-300)


@quick
@given(count_families())
def test_fisher_is_the_hypergeometric_tail(family: tuple[np.ndarray, np.ndarray, int, int]):
    failures, sizes, total_failures, total = family
    p, _ = one_sided_proportion_tests(failures, sizes, total_failures, total)
    rest = total - sizes
    live = (sizes > 0) & (rest > 0) & (0 < total_failures < total)
    tail = stats.hypergeom.sf(failures - 1, total, total_failures, sizes)
    np.testing.assert_allclose(p[live], tail[live], rtol=1e-9, atol=1e-300)
    assert np.all(p[~live] == 1.0)


def test_one_sided_proportion_tests_broadcast_over_permutations() -> None:
    failures = np.array([[8, 1, 1], [2, 4, 4]])
    p, used = one_sided_proportion_tests(failures, np.array([10, 10, 10]), 10, 100)
    assert p.shape == used.shape == (2, 3)
    assert p[0, 0] == one_sided_proportion_test(8, 10, 10, 100).p_value
    empty_p, empty_used = one_sided_proportion_tests([], [], 3, 10)
    assert empty_p.shape == empty_used.shape == (0,)


def test_one_sided_proportion_tests_name_the_first_bad_group() -> None:
    with pytest.raises(ValueError, match=r"group 2: .*Got failures=5, size=4"):
        one_sided_proportion_tests([1, 2, 5, 9], [3, 3, 4, 2], 10, 20)
    with pytest.raises(ValueError, match="Inconsistent counts in group 0"):
        one_sided_proportion_tests([1], [3], 30, 20)
    with pytest.raises(ConfigurationError, match="'test' parameter"):
        one_sided_proportion_tests([1], [3], 3, 20, test="exact")
    with pytest.raises(ValueError, match="whole numbers"):
        one_sided_proportion_tests([1.5], [3], 3, 20)


# -- homogeneity_tests -----------------------------------------------------------------------


@st.composite
def pair_lists(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """(failures_a, sizes_a, failures_b, sizes_b) of 1 to 8 pairs, small and large groups."""
    k = draw(st.integers(1, 8))
    columns: list[list[int]] = [[], [], [], []]
    for _ in range(k):
        for side in (0, 2):
            n = draw(st.integers(0, 12) | st.integers(0, 400))
            f = draw(st.sampled_from([0, n]) | st.integers(0, n))
            columns[side].append(f)
            columns[side + 1].append(n)
    return tuple(np.array(c) for c in columns)


@quick
@given(pair_lists())
def test_homogeneity_tests_equal_scipy_fisher_exact(pairs: tuple[np.ndarray, ...]) -> None:
    fa, na, fb, nb = pairs
    p = homogeneity_tests(fa, na, fb, nb)
    for i in range(len(fa)):
        table = [[fa[i], na[i] - fa[i]], [fb[i], nb[i] - fb[i]]]
        assert p[i] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12, abs=1e-300)


def test_homogeneity_tests_edges() -> None:
    # Symmetric tables sit at the mode; degenerate ones carry no evidence.
    assert homogeneity_tests([5, 0, 0, 3], [10, 0, 5, 3], [5, 2, 0, 4], [10, 4, 5, 4]).tolist() == [
        1.0,
        1.0,
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match=r"pair 1: .*failures_b=6, sizes_b=5"):
        homogeneity_tests([1, 1], [2, 2], [1, 6], [5, 5])


# -- detectable_rate -------------------------------------------------------------------------


def _critical_count(n: int, baseline: float, level: float) -> int:
    c = np.arange(n + 2)
    return int(c[np.argmax(stats.binom.sf(c - 1, n, baseline) <= level)])


@quick
@given(
    st.integers(0, 3000),
    st.sampled_from([0.0, 0.01, 0.05, 0.2, 0.5, 0.9, 1.0]) | st.floats(0, 1),
    st.sampled_from([0.05, 0.001, 1e-6, 0.3]),
    st.sampled_from([0.8, 0.5, 0.95]),
)
def test_detectable_rate_has_the_promised_power(
    n: int, baseline: float, level: float, power: float
) -> None:
    rate = detectable_rate(n, baseline, level, power)
    c = _critical_count(n, baseline, level)
    if c > n:
        assert rate is None
        return
    assert rate is not None and 0 <= rate <= 1
    assert stats.binom.sf(c - 1, n, rate) == pytest.approx(power, abs=1e-8)
    if rate > 1e-6:
        assert stats.binom.sf(c - 1, n, rate * (1 - 1e-3)) < power


def test_detectable_rates_vectorized_and_validated() -> None:
    sizes = np.array([0, 3, 50, 500, 5000])
    rates = detectable_rates(sizes, 0.1, 0.05)
    for n, r in zip(sizes.tolist(), rates.tolist(), strict=True):
        single = detectable_rate(n, 0.1, 0.05)
        assert (single is None and np.isnan(r)) or single == r
    assert np.all(np.diff(rates[2:]) < 0)  # more rows, smaller detectable rates
    with pytest.raises(ConfigurationError, match="'level' parameter of detectable_rates"):
        detectable_rates(sizes, 0.1, 1.0)
    with pytest.raises(ConfigurationError, match="'size' parameter of detectable_rate"):
        detectable_rate(-1, 0.1, 0.05)
