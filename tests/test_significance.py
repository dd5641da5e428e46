"""Stage 4: the one-sided tests, Benjamini–Hochberg and Wilson intervals against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from strategies import (
    Counts,
    CoverageCounts,
    binomial_counts,
    count_tables,
    coverage_counts,
    degenerate_count_tables,
    discordant_pairs,
    inconsistent_counts,
    nondegenerate_count_tables,
    p_value_lists,
    property_settings,
)

from faultmap.exceptions import ConfigurationError
from faultmap.significance import (
    CORRECTIONS,
    adjust,
    benjamini_hochberg,
    mcnemar_test,
    min_detectable_region_size,
    one_sided_proportion_test,
    representation_ratio,
    sure_rejection_level,
    under_representation_min_p,
    under_representation_test,
    wilson_interval,
)


def _degenerate(c: Counts) -> bool:
    return c.size in (0, c.total) or c.total_failures in (0, c.total)


def _chi2_one_sided(c: Counts) -> float:
    """One-sided p from scipy's Pearson chi-squared: halve it in the direction of the effect."""
    two_sided = stats.chi2_contingency(c.table, correction=False).pvalue
    rest = c.total - c.size
    higher = c.failures / c.size > (c.total_failures - c.failures) / rest
    return two_sided / 2 if higher else 1 - two_sided / 2


def _z_one_sided(c: Counts) -> float:
    """The same test as the pooled two-proportion z-test: P(Z >= z)."""
    rest = c.total - c.size
    p1 = c.failures / c.size
    p2 = (c.total_failures - c.failures) / rest
    pooled = c.total_failures / c.total
    se = math.sqrt(pooled * (1 - pooled) * (1 / c.size + 1 / rest))
    return float(stats.norm.sf((p1 - p2) / se))


def _expected_min(c: Counts) -> float:
    t = c.table.astype(float)
    return float((t.sum(axis=1, keepdims=True) * t.sum(axis=0, keepdims=True) / c.total).min())


# -- one_sided_proportion_test ---------------------------------------------------------------


@property_settings
@given(count_tables())
def test_fisher_equals_scipy(c: Counts) -> None:
    result = one_sided_proportion_test(*c.args, test="fisher")
    expected = stats.fisher_exact(c.table, alternative="greater").pvalue
    assert result.test_used == "fisher"
    assert 0.0 <= result.p_value <= 1.0
    assert result.p_value == pytest.approx(min(expected, 1.0), rel=1e-12, abs=1e-300)


@property_settings
@given(nondegenerate_count_tables())
def test_chi2_equals_scipy_chi2_contingency_one_sided(c: Counts) -> None:
    result = one_sided_proportion_test(*c.args, test="chi2")
    assert result.test_used == "chi2"
    assert result.p_value == pytest.approx(_chi2_one_sided(c), rel=1e-9, abs=1e-15)


@property_settings
@given(nondegenerate_count_tables())
def test_chi2_equals_signed_z_of_pooled_two_proportion_test(c: Counts) -> None:
    result = one_sided_proportion_test(*c.args, test="chi2")
    assert result.p_value == pytest.approx(_z_one_sided(c), rel=1e-6, abs=1e-12)


@property_settings
@given(degenerate_count_tables(), st.sampled_from(["fisher", "chi2", "auto"]))
def test_degenerate_tables_carry_no_evidence(c: Counts, test: str) -> None:
    result = one_sided_proportion_test(*c.args, test=test)
    assert result.p_value == 1.0
    assert result.test_used == ("fisher" if test == "auto" else test)


@property_settings
@given(count_tables())
def test_auto_uses_chi2_only_when_every_expected_count_is_at_least_5(c: Counts) -> None:
    result = one_sided_proportion_test(*c.args, test="auto")
    if _degenerate(c):
        assert result.test_used == "fisher"
        return
    if _expected_min(c) >= 5:
        assert result.test_used == "chi2"
        assert result.p_value == pytest.approx(_chi2_one_sided(c), rel=1e-9, abs=1e-15)
    else:
        assert result.test_used == "fisher"
        expected = stats.fisher_exact(c.table, alternative="greater").pvalue
        assert result.p_value == pytest.approx(min(expected, 1.0), rel=1e-12, abs=1e-300)


def test_auto_boundary_at_expected_count_5() -> None:
    # Margins 10/10 and 10/10 out of 20: every expected count is exactly 5.
    assert one_sided_proportion_test(7, 10, 10, 20, test="auto").test_used == "chi2"
    # One fewer failure overall: the smallest expected count drops below 5.
    assert one_sided_proportion_test(7, 10, 9, 20, test="auto").test_used == "fisher"


@property_settings
@given(count_tables(min_total=2))
def test_more_failures_in_the_group_never_raise_the_p_value(c: Counts) -> None:
    # Move one failure from the rest into the group (same margins): evidence only grows.
    rest_failures = c.total_failures - c.failures
    group_passes = c.size - c.failures
    if rest_failures == 0 or group_passes == 0:
        return
    moved = Counts(c.failures + 1, c.size, c.total_failures, c.total)
    for test in ("fisher", "chi2"):
        before = one_sided_proportion_test(*c.args, test=test).p_value
        after = one_sided_proportion_test(*moved.args, test=test).p_value
        assert after <= before + 1e-12


def test_docstring_example() -> None:
    assert f"{one_sided_proportion_test(8, 10, 10, 100).p_value:.3g}" == "1.05e-08"


@property_settings
@given(inconsistent_counts, st.sampled_from(["fisher", "chi2", "auto"]))
def test_inconsistent_counts_raise_value_error(c: Counts, test: str) -> None:
    with pytest.raises(ValueError, match="Inconsistent counts"):
        one_sided_proportion_test(*c.args, test=test)


@pytest.mark.parametrize(
    "args",
    [
        (-1, 5, 3, 20),  # negative failures
        (6, 5, 10, 20),  # more failures than members
        (3, 25, 5, 20),  # group larger than the data
        (4, 5, 3, 20),  # more group failures than failures overall
        (0, 15, 10, 20),  # 15 group passes but only 10 passes overall
        (0, 0, 21, 20),  # more failures than rows
    ],
)
def test_each_kind_of_inconsistency_is_named(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"Got failures=.*size=.*total_failures=.*total="):
        one_sided_proportion_test(*args)


@pytest.mark.parametrize("test", ["exact", "FISHER", "", None, 1])
def test_unknown_test_name_is_a_configuration_error(test: object) -> None:
    with pytest.raises(ConfigurationError, match="The 'test' parameter of") as info:
        one_sided_proportion_test(3, 5, 5, 20, test=test)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


# -- Benjamini–Hochberg ---------------------------------------------------------------------


def _bh_reference(p: list[float]) -> np.ndarray:
    """Textbook BH: sorted p * m / rank, cumulative minimum from the largest down, clip at 1."""
    m = len(p)
    if m == 0:
        return np.array([], dtype=float)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        adjusted[i] = min(running, 1.0)
    return np.array(adjusted)


@property_settings
@given(p_value_lists(min_size=1))
def test_bh_equals_scipy_false_discovery_control(p: list[float]) -> None:
    got = benjamini_hochberg(p)
    expected = stats.false_discovery_control(np.array(p), method="bh")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert got.dtype == np.float64


@property_settings
@given(p_value_lists())
def test_bh_equals_hand_written_reference(p: list[float]) -> None:
    np.testing.assert_allclose(benjamini_hochberg(p), _bh_reference(p), rtol=1e-12, atol=1e-300)


@property_settings
@given(p_value_lists(min_size=1))
def test_bh_bounds_and_order(p: list[float]) -> None:
    adjusted = benjamini_hochberg(p)
    arr = np.array(p)
    assert adjusted.shape == arr.shape
    assert np.all(adjusted >= arr - 1e-15)
    assert np.all(adjusted <= 1.0)
    order = np.argsort(arr, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= -1e-15)  # same order as the raw p-values


@property_settings
@given(p_value_lists(min_size=1), st.data())
def test_bh_monotone_lowering_one_p_lowers_no_adjusted_p_raises_none(
    p: list[float], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(p) - 1))
    factor = data.draw(st.floats(0.0, 1.0))
    lowered = list(p)
    lowered[i] = p[i] * factor
    before, after = benjamini_hochberg(p), benjamini_hochberg(lowered)
    assert np.all(after <= before + 1e-15)


@property_settings
@given(p_value_lists(min_size=1))
def test_bh_does_not_mutate_its_input(p: list[float]) -> None:
    arr = np.array(p)
    copy = arr.copy()
    benjamini_hochberg(arr)
    np.testing.assert_array_equal(arr, copy)


def test_bh_empty_and_docstring_example() -> None:
    assert benjamini_hochberg([]).shape == (0,)
    assert benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist() == [0.03, 0.04, 0.04]


@pytest.mark.parametrize(
    "bad", [[0.1, float("nan")], [0.1, 1.5], [-0.01], [[0.1, 0.2]], [0.2, float("inf")]]
)
def test_bh_rejects_values_outside_unit_interval_and_2d(bad: list) -> None:
    with pytest.raises(ValueError):
        benjamini_hochberg(bad)


def test_bh_controls_error_under_the_global_null() -> None:
    # With every null true and independent uniform p-values, BH's FDR equals the chance of
    # any rejection, and BH controls it at alpha (here exactly m0/m * alpha = alpha).
    rng = np.random.default_rng(20240611)
    alpha, draws, m = 0.05, 2000, 20
    any_rejection = sum(
        bool((benjamini_hochberg(rng.uniform(size=m)) < alpha).any()) for _ in range(draws)
    )
    fraction = any_rejection / draws
    # 3.5 standard errors of a binomial proportion at alpha over 2000 draws is about 0.017.
    assert fraction <= alpha + 0.02


# -- Wilson intervals -----------------------------------------------------------------------


@property_settings
@given(binomial_counts(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_equals_scipy_binomtest(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    low, high = wilson_interval(k, n, confidence)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15)
    assert isinstance(low, float) and isinstance(high, float)


@property_settings
@given(binomial_counts())
def test_wilson_contains_the_observed_rate(kn: tuple[int, int]) -> None:
    k, n = kn
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n + 1e-12
    assert k / n - 1e-12 <= high <= 1.0
    assert low < high


def test_wilson_docstring_example_and_empty_group() -> None:
    assert tuple(round(x, 4) for x in wilson_interval(8, 10)) == (0.4902, 0.9433)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("k, n", [(-1, 5), (6, 5), (1, 0), (0, -2), (-3, -1)])
def test_wilson_invalid_counts_raise_value_error(k: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(k, n)


# -- McNemar --------------------------------------------------------------------------------


@property_settings
@given(discordant_pairs())
def test_mcnemar_equals_scipy(pair: tuple[int, int]) -> None:
    a, b = pair
    result = mcnemar_test(a, b)
    n = a + b
    if n == 0:
        assert (result.p_value, result.statistic, result.test_used) == (1.0, 0.0, "none")
    elif n < 25:
        assert result.test_used == "exact"
        expected = stats.binomtest(a, n, 0.5).pvalue
        assert result.p_value == pytest.approx(min(expected, 1.0), rel=1e-12, abs=1e-300)
    else:
        assert result.test_used == "chi2"
        statistic = max(abs(a - b) - 1, 0) ** 2 / n
        assert result.statistic == pytest.approx(statistic, rel=1e-12)
        expected = stats.chi2.sf(statistic, 1)
        assert result.p_value == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert 0.0 <= result.p_value <= 1.0


@property_settings
@given(discordant_pairs())
def test_mcnemar_is_symmetric_in_the_two_models(pair: tuple[int, int]) -> None:
    a, b = pair
    assert mcnemar_test(a, b).p_value == pytest.approx(mcnemar_test(b, a).p_value, rel=1e-12)


def test_mcnemar_switches_from_exact_to_chi2_at_25_discordant_pairs() -> None:
    below, at = mcnemar_test(18, 6), mcnemar_test(19, 6)
    assert below.test_used == "exact" and at.test_used == "chi2"
    assert below.p_value == pytest.approx(stats.binomtest(18, 24, 0.5).pvalue, rel=1e-12)
    assert at.statistic == pytest.approx((13 - 1) ** 2 / 25)
    assert at.p_value == pytest.approx(stats.chi2.sf(144 / 25, 1), rel=1e-12)


def test_mcnemar_without_discordant_pairs_or_with_even_split_gives_p_1() -> None:
    assert mcnemar_test(0, 0).p_value == 1.0 and mcnemar_test(0, 0).test_used == "none"
    assert mcnemar_test(40, 40).p_value == 1.0  # continuity correction clamped at 0
    assert mcnemar_test(5, 5).p_value == 1.0


@pytest.mark.parametrize("bad", [(-1, 3), (2.5, 3), (True, 3), (3, None)])
def test_mcnemar_rejects_non_counts(bad: tuple) -> None:
    with pytest.raises(ValueError, match="non-negative int"):
        mcnemar_test(*bad)


# -- under-representation (coverage) ---------------------------------------------------------


def _degenerate_coverage(c: CoverageCounts) -> bool:
    region = c.test_in + c.production_in
    return (
        c.test_total == 0
        or c.production_total == 0
        or region in (0, c.test_total + c.production_total)
    )


@property_settings
@given(coverage_counts())
def test_under_representation_equals_scipy_fisher_less(c: CoverageCounts) -> None:
    result = under_representation_test(*c)
    assert result.test_used == "fisher"
    if _degenerate_coverage(c):
        assert result.p_value == 1.0
        return
    expected = stats.fisher_exact(c.table, alternative="less").pvalue
    assert result.p_value == pytest.approx(min(expected, 1.0), rel=1e-12, abs=1e-300)


@property_settings
@given(coverage_counts())
def test_fewer_test_prompts_in_the_region_never_raise_the_p_value(c: CoverageCounts) -> None:
    if c.test_in == 0 or _degenerate_coverage(c):
        return
    fewer = CoverageCounts(c.test_in - 1, *c[1:])
    if _degenerate_coverage(fewer):
        return
    assert under_representation_test(*fewer).p_value <= under_representation_test(*c).p_value


def test_under_representation_docstring_example_and_direction() -> None:
    assert f"{under_representation_test(0, 100, 30, 300).p_value:.3g}" == "0.000122"
    # the test suite over-represented in the region: no evidence of a gap
    assert under_representation_test(50, 100, 30, 300).p_value > 0.99


@pytest.mark.parametrize("bad", [(5, 3, 1, 10), (-1, 3, 1, 10), (1, 3, 11, 10), (0, 3, -2, 10)])
def test_under_representation_rejects_inconsistent_counts(bad: tuple) -> None:
    with pytest.raises(ValueError, match="Inconsistent counts"):
        under_representation_test(*bad)


@property_settings
@given(coverage_counts())
def test_min_p_is_the_p_value_of_a_region_without_test_prompts(c: CoverageCounts) -> None:
    k = c.test_in + c.production_in
    empty = CoverageCounts(0, c.test_total, min(k, c.production_total), c.production_total)
    floor = under_representation_min_p(k, c.test_total, c.production_total)
    assert floor <= under_representation_test(*c).p_value + 1e-12
    if k <= c.production_total:
        assert floor == pytest.approx(under_representation_test(*empty).p_value, rel=1e-9)


@pytest.mark.parametrize(
    "test_total, production_total, alpha",
    [(10_000, 100_000, 0.05), (540, 480, 0.05), (5, 400, 0.01), (1000, 10, 0.05)],
)
def test_min_detectable_region_size_is_the_smallest_size_reaching_alpha(
    test_total: int, production_total: int, alpha: float
) -> None:
    k = min_detectable_region_size(test_total, production_total, alpha)
    assert under_representation_min_p(k, test_total, production_total) <= alpha
    assert k == 1 or under_representation_min_p(k - 1, test_total, production_total) > alpha


@property_settings
@given(coverage_counts())
def test_representation_ratio_is_observed_over_expected_with_an_interval_like_the_test(
    c: CoverageCounts,
) -> None:
    region = c.test_in + c.production_in
    if region == 0 or c.test_total == 0:
        with pytest.raises(ValueError, match="non-empty region"):
            representation_ratio(*c)
        return
    ratio, (low, high) = representation_ratio(*c)
    expected = region * c.test_total / (c.test_total + c.production_total)
    assert ratio == pytest.approx(c.test_in / expected)
    if _degenerate_coverage(c):  # the margins fix the region's test count
        assert (ratio, low, high) == (1.0, 1.0, 1.0)
        return
    assert 0 <= low <= ratio * (1 + 1e-9) + 1e-12 and ratio <= high * (1 + 1e-9) + 1e-12
    # the upper end is below 1 exactly when the one-sided Fisher test rejects at 2.5 %
    p = under_representation_test(*c).p_value
    if abs(p - 0.025) > 1e-6 and abs(high - 1) > 1e-6:
        assert (high < 1) == (p < 0.025), (c, p, high)


def test_representation_ratio_docstring_example() -> None:
    ratio, (low, high) = representation_ratio(2, 600, 50, 2400)
    assert (round(ratio, 3), round(low, 3), round(high, 3)) == (0.192, 0.023, 0.658)
    assert representation_ratio(0, 600, 50, 2400)[1][0] == 0.0


@property_settings
@given(
    st.lists(st.floats(0, 1), min_size=0, max_size=60),
    st.floats(0, 1, exclude_max=True),
    st.sampled_from(CORRECTIONS),
)
def test_a_p_value_below_the_sure_level_is_rejected_whatever_the_others(
    others: list[float], fraction: float, method: str
) -> None:
    m = len(others) + 1
    level = sure_rejection_level(0.05, m, method)
    p = np.array([fraction * level, *others])
    assert adjust(p, method)[0] < 0.05
    assert sure_rejection_level(0.05, 0, method) == 0.05


def test_min_detectable_region_size_without_a_possible_region() -> None:
    assert min_detectable_region_size(1, 5, 0.01) == 7  # even a region of all 5 is p = 1/6
    assert min_detectable_region_size(0, 5, 0.05) == 6
