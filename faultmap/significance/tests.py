"""One-sided tests of "this group fails more than the rest" (one group, or many at once),
the two-sided test of "two groups fail at the same rate", McNemar's test for paired outcomes,
the under-representation test of coverage audits, multiple-testing corrections (BH, BY,
Holm), the failure rate a group could have detected, Wilson intervals.

The vectorized functions (``*_tests``, :func:`adjust`, :func:`detectable_rates`) take numpy
arrays and return new arrays; they agree element-wise with the scalar ones and with scipy,
and they loop over no group in Python, so null audits can call them hundreds of times.

scipy is imported inside each function so ``import faultmap`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from faultmap._numeric import within
from faultmap._validation import Interval, Options, check_param

__all__ = [
    "CORRECTIONS",
    "MCNEMAR_EXACT_BELOW",
    "TESTS",
    "McNemarResult",
    "ProportionTest",
    "adjust",
    "benjamini_hochberg",
    "detectable_rate",
    "detectable_rates",
    "homogeneity_tests",
    "mcnemar_test",
    "min_detectable_region_size",
    "one_sided_proportion_test",
    "one_sided_proportion_tests",
    "rejection_level",
    "representation_ratio",
    "sure_rejection_level",
    "under_representation_min_p",
    "under_representation_test",
    "wilson_interval",
]

TESTS = ("fisher", "chi2", "auto")

#: Multiple-testing corrections of :func:`adjust`: Benjamini–Hochberg, Benjamini–Yekutieli
#: and Holm.
CORRECTIONS = ("bh", "by", "holm")

#: McNemar's test is exact (binomial) below this many discordant pairs, chi-squared from it on.
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class ProportionTest:
    """Result of comparing a group's failure count with the rest of the data."""

    p_value: float
    test_used: str  # "fisher" or "chi2"


def _check_counts(failures: int, size: int, total_failures: int, total: int) -> None:
    ok = 0 <= failures <= size <= total and 0 <= total_failures <= total
    ok = ok and failures <= total_failures and (size - failures) <= (total - total_failures)
    if not ok:
        raise ValueError(
            "Inconsistent counts: need 0 <= failures <= size <= total, failures <= "
            f"total_failures and passes <= total passes. Got failures={failures}, size={size}, "
            f"total_failures={total_failures}, total={total}."
        )


def one_sided_proportion_test(
    failures: int, size: int, total_failures: int, total: int, *, test: str = "fisher"
) -> ProportionTest:
    """Test H1: the group's failure rate is greater than the rate in the rest of the data.

    The 2x2 table is ``[[failures, size - failures], [rest_failures, rest_passes]]``.
    ``test="fisher"`` is Fisher's exact test (``scipy.stats.fisher_exact``, alternative
    "greater"); ``"chi2"`` is Pearson's chi-squared without continuity correction
    (``scipy.stats.chi2_contingency``) made one-sided by halving the two-sided p-value in the
    direction of the effect; ``"auto"`` uses chi-squared only when every expected cell count
    is at least 5 and Fisher otherwise.

    Example:
        >>> f"{one_sided_proportion_test(8, 10, 10, 100).p_value:.3g}"
        '1.05e-08'
    """
    check_param("one_sided_proportion_test", "test", test, Options(TESTS))
    _check_counts(failures, size, total_failures, total)
    rest, rest_failures = total - size, total_failures - failures
    table = np.array(
        [[failures, size - failures], [rest_failures, rest - rest_failures]], dtype=np.int64
    )
    # Degenerate tables (an empty row or column) carry no evidence.
    if size == 0 or rest == 0 or total_failures == 0 or total_failures == total:
        return ProportionTest(1.0, "fisher" if test == "auto" else test)
    if test == "auto":
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / total
        test = "chi2" if expected.min() >= 5 else "fisher"
    from scipy import stats

    if test == "fisher":
        p = float(stats.fisher_exact(table, alternative="greater").pvalue)
    else:
        two_sided = float(stats.chi2_contingency(table, correction=False).pvalue)
        higher = failures * rest > rest_failures * size
        p = two_sided / 2 if higher else 1.0 - two_sided / 2
    return ProportionTest(min(max(p, 0.0), 1.0), test)


def _as_counts(name: str, values: Sequence[int] | np.ndarray) -> np.ndarray:
    """``values`` as an int64 array (a new one); floats must be whole numbers."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.rint(arr)):
        return arr.astype(np.int64)
    raise ValueError(f"{name} must hold whole numbers; got dtype {arr.dtype}.")


def _first(mask: np.ndarray) -> int | tuple[int, ...]:
    """Index of the first True of ``mask`` (an int for 1-D arrays)."""
    i = np.unravel_index(int(np.flatnonzero(mask)[0]), mask.shape)
    return int(i[0]) if len(i) == 1 else tuple(int(j) for j in i)


def one_sided_proportion_tests(
    failures: Sequence[int] | np.ndarray,
    sizes: Sequence[int] | np.ndarray,
    total_failures: int,
    total: int,
    *,
    test: str = "fisher",
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`one_sided_proportion_test` for many groups against the same totals at once.

    ``failures`` and ``sizes`` broadcast together (one entry per group; a 2-D ``failures``
    of shape (permutations, groups) tests every permutation in one call). Returns the
    p-values (float64) and the test used per group (object array of "fisher" / "chi2"),
    equal element-wise to the scalar function: same rule for degenerate tables (p = 1),
    same "auto" rule, same clipping. Fisher "greater" is the hypergeometric tail that
    ``scipy.stats.fisher_exact`` computes (``hypergeom.cdf`` of the group's passes, equal to
    ``hypergeom.sf(failures - 1, total, total_failures, size)``); chi-squared is Pearson's
    statistic without continuity correction, halved in the direction of the effect.

    Example:
        >>> p, used = one_sided_proportion_tests([8, 1], [10, 10], 10, 100)
        >>> [f"{x:.3g}" for x in p], used.tolist()
        (['1.05e-08', '0.67'], ['fisher', 'fisher'])
    """
    check_param("one_sided_proportion_tests", "test", test, Options(TESTS))
    f, n = np.broadcast_arrays(_as_counts("failures", failures), _as_counts("sizes", sizes))
    tf, t = int(total_failures), int(total)
    bad = ~((f >= 0) & (f <= n) & (n <= t) & (f <= tf) & (n - f <= t - tf))
    if not 0 <= tf <= t:
        bad = np.ones(f.shape, dtype=bool)
    if bad.any():
        i = _first(bad)
        raise ValueError(
            f"Inconsistent counts in group {i}: need 0 <= failures <= size <= total, failures "
            "<= total_failures and passes <= total passes. Got failures="
            f"{int(f[i])}, size={int(n[i])}, total_failures={tf}, total={t}."
        )
    rest, rest_f = t - n, tf - f
    passes, rest_passes = n - f, rest - rest_f
    p = np.ones(f.shape, dtype=np.float64)
    # Degenerate tables (an empty row or column) carry no evidence.
    live = (n > 0) & (rest > 0) & (0 < tf < t)
    if test == "auto":
        # Smallest expected cell: smallest row sum times smallest column sum over the total.
        expected_min = np.minimum(n, rest) * min(tf, t - tf) / max(t, 1)
        chi = live & (expected_min >= 5)
    else:
        chi = live & (test == "chi2")
    used = np.where(chi | ((test == "chi2") & ~live), "chi2", "fisher").astype(object)
    from scipy import special, stats

    fish = live & ~chi
    if fish.any():
        # scipy's own formula: P(group passes <= observed), group passes ~ hypergeometric.
        p[fish] = stats.hypergeom.cdf(passes[fish], t, n[fish], t - tf)
    if chi.any():
        rows = np.stack([n[chi], rest[chi]]).astype(np.float64)
        cols = np.array([tf, t - tf], dtype=np.float64)
        cells = np.stack([f[chi], passes[chi], rest_f[chi], rest_passes[chi]]).astype(np.float64)
        # The statistic summed cell by cell in scipy's order (chi2_contingency), so both agree.
        statistic = np.zeros(cells.shape[1])
        for k, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            expected = rows[r] * cols[c] / t
            statistic = statistic + (cells[k] - expected) ** 2 / expected
        two_sided = special.chdtrc(1, statistic)
        higher = f[chi] * rest[chi] > rest_f[chi] * n[chi]
        p[chi] = np.where(higher, two_sided / 2, 1.0 - two_sided / 2)
    return np.clip(p, 0.0, 1.0), used


def homogeneity_tests(
    failures_a: Sequence[int] | np.ndarray,
    sizes_a: Sequence[int] | np.ndarray,
    failures_b: Sequence[int] | np.ndarray,
    sizes_b: Sequence[int] | np.ndarray,
) -> np.ndarray:
    """Two-sided Fisher exact tests of H0: groups A and B fail at the same rate, one per pair.

    The 2x2 table of a pair is ``[[fa, na - fa], [fb, nb - fb]]``; the p-value equals
    ``scipy.stats.fisher_exact(table).pvalue``: the probability, given the margins, of a
    table no more likely than the observed one (scipy's algorithm, vectorized: the tail on
    the observed side plus the tail beyond the matching point on the other side of the
    mode, with scipy's relative tolerance of 1e-14 on "no more likely"). The arguments
    broadcast together. A table with an empty row or column carries no evidence: p = 1.

    Example:
        >>> homogeneity_tests([8, 3], [10, 10], [1, 3], [6, 10]).round(4).tolist()
        [0.035, 1.0]
    """
    fa, na, fb, nb = np.broadcast_arrays(
        _as_counts("failures_a", failures_a),
        _as_counts("sizes_a", sizes_a),
        _as_counts("failures_b", failures_b),
        _as_counts("sizes_b", sizes_b),
    )
    bad = ~((fa >= 0) & (fa <= na) & (fb >= 0) & (fb <= nb))
    if bad.any():
        i = _first(bad)
        raise ValueError(
            f"Inconsistent counts in pair {i}: need 0 <= failures_a <= sizes_a and 0 <= "
            f"failures_b <= sizes_b. Got failures_a={int(fa[i])}, sizes_a={int(na[i])}, "
            f"failures_b={int(fb[i])}, sizes_b={int(nb[i])}."
        )
    p = np.ones(fa.shape, dtype=np.float64)
    total, fails = na + nb, fa + fb
    live = (na > 0) & (nb > 0) & (fails > 0) & (fails < total)
    if not live.any():
        return p
    from scipy import stats

    # In scipy's notation: x = table[0, 0], M = table total, n1 = row 0, n = column 0.
    x, big_m, n1, n = fa[live], total[live], na[live], fails[live]

    def pmf(k: np.ndarray, at: np.ndarray | slice = slice(None)) -> np.ndarray:
        return stats.hypergeom.pmf(k, big_m[at], n1[at], n[at])

    gamma = 1 + 1e-14
    mode = ((n + 1) * (n1 + 1) / (big_m + 2)).astype(np.int64)
    p_exact, p_mode = pmf(x), pmf(mode)
    out = np.ones(x.shape)
    at_mode = np.abs(p_exact - p_mode) / np.maximum(p_exact, p_mode) <= 1e-14
    below = ~at_mode & (x < mode)
    above = ~at_mode & ~below
    # The tail on the observed side, as scipy computes it.
    out[below] = stats.hypergeom.cdf(x[below], big_m[below], n1[below], n[below])
    out[above] = stats.hypergeom.sf(x[above] - 1, big_m[above], n1[above], n[above])
    # The other side counts only if its far end is no more likely than the observed table.
    far_end = np.where(below, n, 0)
    other = ~at_mode & ~(pmf(far_end) > p_exact * gamma)
    if other.any():
        # Search the other side of the mode (monotone pmf: ascending in sign * pmf).
        sign, rows = np.where(below[other], -1.0, 1.0), np.flatnonzero(other)
        guess = _search(
            lambda k, at: sign[at] * pmf(k, rows[at]),
            sign * p_exact[other] * gamma,
            np.where(below[other], mode[other], 0),
            np.where(below[other], n[other], mode[other]),
        )
        args = (big_m[other], n1[other], n[other])
        extra = np.where(
            below[other], stats.hypergeom.sf(guess, *args), stats.hypergeom.cdf(guess, *args)
        )
        out[other] = out[other] + extra
    p[live] = np.minimum(out, 1.0)
    return p


def _search(
    a: Callable[[np.ndarray, np.ndarray], np.ndarray],
    d: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """scipy's binary search for two-sided exact tests (``_binary_search_for_binom_tst``),
    step for step on many problems at once: per element, ``i`` in ``[lo - 1, hi]`` with
    ``a(i) <= d < a(i + 1)`` for ``a`` ascending on ``[lo, hi]``. ``a(k, at)`` evaluates the
    problems at the indices ``at``."""
    lo, hi = lo.copy(), hi.copy()
    found = np.full(lo.shape, -1, dtype=np.int64)
    done = np.zeros(lo.shape, dtype=bool)
    while True:
        at = np.flatnonzero(~done & (lo < hi))
        if at.size == 0:
            break
        mid = lo[at] + (hi[at] - lo[at]) // 2
        value = a(mid, at)
        less, more = value < d[at], value > d[at]
        lo[at[less]] = mid[less] + 1
        hi[at[more]] = mid[more] - 1
        hit = ~less & ~more
        found[at[hit]], done[at[hit]] = mid[hit], True
    at = np.flatnonzero(~done)
    if at.size:
        found[at] = np.where(a(lo[at], at) <= d[at], lo[at], lo[at] - 1)
    return found


@dataclass(frozen=True)
class McNemarResult:
    """Result of McNemar's test on the discordant pairs of two paired binary outcomes.

    ``test_used`` is "exact" (two-sided binomial test; ``statistic`` is the number of pairs
    won by the first model), "chi2" (``statistic`` is the continuity-corrected chi-squared
    value on 1 degree of freedom) or "none" (no discordant pair: ``p_value`` 1, statistic 0).
    """

    p_value: float
    statistic: float
    test_used: str


def mcnemar_test(a_wins: int, b_wins: int) -> McNemarResult:
    """Two-sided McNemar test of H0: each discordant pair is equally likely to favour A or B.

    ``a_wins`` counts pairs where only B failed, ``b_wins`` pairs where only A failed; pairs
    where both passed or both failed carry no information. With ``n = a_wins + b_wins``
    discordant pairs: ``n == 0`` gives p = 1; ``n < 25`` the exact binomial test
    (``scipy.stats.binomtest(a_wins, n, 0.5)``, two-sided); otherwise the chi-squared
    statistic with Edwards' continuity correction ``max(|a - b| - 1, 0)^2 / (a + b)`` on one
    degree of freedom (``scipy.stats.chi2.sf``). The correction is clamped at 0 so equal
    counts give p = 1.

    Example:
        >>> r = mcnemar_test(20, 5)
        >>> r.test_used, round(r.statistic, 2), f"{r.p_value:.3g}"
        ('chi2', 7.84, '0.00511')
        >>> mcnemar_test(0, 0).p_value
        1.0
    """
    for name, value in (("a_wins", a_wins), ("b_wins", b_wins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative int; got {value!r}.")
    a, b = int(a_wins), int(b_wins)
    n = a + b
    if n == 0:
        return McNemarResult(1.0, 0.0, "none")
    from scipy import stats

    if n < MCNEMAR_EXACT_BELOW:
        p = float(stats.binomtest(a, n, 0.5).pvalue)
        return McNemarResult(min(max(p, 0.0), 1.0), float(a), "exact")
    statistic = max(abs(a - b) - 1, 0) ** 2 / n
    p = float(stats.chi2.sf(statistic, 1))
    return McNemarResult(min(max(p, 0.0), 1.0), float(statistic), "chi2")


def under_representation_test(
    test_in: int, test_total: int, production_in: int, production_total: int
) -> ProportionTest:
    """Test H1: test prompts fall in a region less often than production prompts do.

    The 2x2 table is ``[[test_in, test_total - test_in], [production_in, production_total -
    production_in]]`` and the p-value is Fisher's exact test with alternative "less"
    (``scipy.stats.fisher_exact``): the probability, if test and production prompts were
    drawn from one distribution, of a test share this low or lower given the margins. It is
    exact when the regions were found without knowing which prompt is which (clustering the
    pooled prompts), since the split of each region is then hypergeometric. An empty set,
    an empty region or a region holding every prompt carries no evidence: p = 1.

    Example:
        >>> f"{under_representation_test(0, 100, 30, 300).p_value:.3g}"
        '0.000122'
    """
    ok = 0 <= test_in <= test_total and 0 <= production_in <= production_total
    if not ok:
        raise ValueError(
            "Inconsistent counts: need 0 <= test_in <= test_total and 0 <= production_in <= "
            f"production_total. Got test_in={test_in}, test_total={test_total}, "
            f"production_in={production_in}, production_total={production_total}."
        )
    region = test_in + production_in
    if test_total == 0 or production_total == 0 or region in (0, test_total + production_total):
        return ProportionTest(1.0, "fisher")
    from scipy import stats

    table = np.array(
        [[test_in, test_total - test_in], [production_in, production_total - production_in]],
        dtype=np.int64,
    )
    p = float(stats.fisher_exact(table, alternative="less").pvalue)
    return ProportionTest(min(max(p, 0.0), 1.0), "fisher")


def under_representation_min_p(region_size: int, test_total: int, production_total: int) -> float:
    """The smallest p-value :func:`under_representation_test` can give a region of
    ``region_size`` prompts: the one for a region holding no test prompt at all,
    ``C(production_total, k) / C(test_total + production_total, k)`` (hypergeometric).

    It depends only on the margins, not on how the region splits into test and production
    prompts, so regions whose minimum exceeds the significance level can be left out of the
    multiple-testing family without biasing it (Tarone's device for discrete tests).

    Example:
        >>> round(under_representation_min_p(10, 100, 300), 4)
        0.0542
    """
    total = test_total + production_total
    if not 0 <= region_size <= total or test_total < 0 or production_total < 0:
        raise ValueError(
            f"Need 0 <= region_size <= test_total + production_total; got "
            f"region_size={region_size}, test_total={test_total}, "
            f"production_total={production_total}."
        )
    if test_total == 0 or production_total == 0 or region_size in (0, total):
        return 1.0
    from scipy import stats

    return float(stats.hypergeom(total, test_total, region_size).pmf(0))


def min_detectable_region_size(test_total: int, production_total: int, alpha: float) -> int:
    """The smallest region size whose minimum under-representation p-value is at most
    ``alpha``: smaller regions can never be significant, whatever they hold. Returns
    ``test_total + production_total + 1`` when no region size qualifies.

    Example:
        >>> min_detectable_region_size(10_000, 100_000, 0.05)
        32
    """
    if test_total <= 0 or production_total <= 0:
        return test_total + production_total + 1
    i = np.arange(production_total, dtype=np.float64)
    log_min_p = np.cumsum(np.log((production_total - i) / (test_total + production_total - i)))
    hit = np.flatnonzero(log_min_p <= np.log(alpha))
    return int(hit[0]) + 1 if hit.size else test_total + production_total + 1


def representation_ratio(
    test_in: int,
    test_total: int,
    production_in: int,
    production_total: int,
    confidence: float = 0.95,
) -> tuple[float, tuple[float, float]]:
    """How many test prompts a region holds relative to the number expected if test and
    production prompts came from one distribution, with an exact interval.

    The expected count is ``region * test_total / (test_total + production_total)`` with
    ``region = test_in + production_in``; the ratio is ``test_in`` over it (1: the suite holds
    its share, 0: no test prompt at all). The interval comes from the model of
    :func:`under_representation_test`: given the margins of its 2x2 table, the region's test
    count follows Fisher's noncentral hypergeometric distribution with the table's odds ratio
    ``psi`` (``psi = 1`` is the test's null). The ratio as a parameter is
    ``E_psi[X] / E_1[X]``, an increasing function of ``psi``; at the conditional
    maximum-likelihood ``psi`` it equals the observed ratio. The interval is the exact
    conditional interval of ``psi`` (``scipy.stats.contingency.odds_ratio(kind="conditional")``,
    the interval of R's ``fisher.test``, ``(1 - confidence) / 2`` in each tail) carried through
    that function, so its upper end is below 1 exactly when the one-sided p-value of
    :func:`under_representation_test` is below ``(1 - confidence) / 2``.

    Example:
        >>> ratio, (low, high) = representation_ratio(2, 600, 50, 2400)
        >>> round(ratio, 3), round(low, 3), round(high, 3)
        (0.192, 0.023, 0.658)
    """
    check_param(
        "representation_ratio", "confidence", confidence, Interval(float, 0, 1, closed="neither")
    )
    ok = 0 <= test_in <= test_total and 0 <= production_in <= production_total
    region, total = test_in + production_in, test_total + production_total
    if not ok or region == 0 or test_total == 0:
        raise ValueError(
            "Need a non-empty region and test set with 0 <= test_in <= test_total and "
            f"0 <= production_in <= production_total. Got test_in={test_in}, "
            f"test_total={test_total}, production_in={production_in}, "
            f"production_total={production_total}."
        )
    expected = region * test_total / total
    if production_total == 0 or region == total:
        return 1.0, (1.0, 1.0)  # the region's test count is fixed by the margins
    from scipy import stats
    from scipy.stats.contingency import odds_ratio

    table = np.array(
        [[test_in, test_total - test_in], [production_in, production_total - production_in]],
        dtype=np.int64,
    )
    ci = odds_ratio(table, kind="conditional").confidence_interval(confidence_level=confidence)

    def mean(psi: float) -> float:
        if psi <= 0:
            return float(max(0, region - production_total))
        if np.isinf(psi):
            return float(min(test_total, region))
        return float(stats.nchypergeom_fisher(total, test_total, region, psi).mean())

    return test_in / expected, (mean(ci.low) / expected, mean(ci.high) / expected)


def sure_rejection_level(level: float, num_tests: int, method: str = "bh") -> float:
    """The raw p-value below which a test of a family of ``num_tests`` is rejected at
    ``level`` after the correction ``method`` (:func:`adjust`), whatever the other p-values.

    With ``m`` tests, Holm adjusts a p-value ``p`` to at most ``m * p`` (its factors are
    ``m - j + 1`` on p-values no larger than ``p``), BH to at most ``m * p / rank <= m * p``
    and BY to at most ``m * H_m * p`` (``H_m = sum_{i<=m} 1/i``), so ``p < level / m`` (BY:
    ``p < level / (m H_m)``) is always rejected. A family of zero tests counts as one.

    Example:
        >>> sure_rejection_level(0.05, 10, "holm"), round(sure_rejection_level(0.05, 10, "by"), 5)
        (0.005, 0.00171)
    """
    owner = "sure_rejection_level"
    check_param(owner, "level", level, Interval(float, 0, 1, closed="neither"))
    check_param(owner, "num_tests", num_tests, Interval(int, 0, None))
    check_param(owner, "method", method, Options(CORRECTIONS))
    m = max(num_tests, 1)
    if method == "by":
        return level / (m * float(np.sum(1.0 / np.arange(1, m + 1))))
    return level / m


def detectable_rates(
    sizes: Sequence[int] | np.ndarray, baseline: float, level: float, power: float = 0.8
) -> np.ndarray:
    """:func:`detectable_rate` for many group sizes at once; NaN where no rate is detectable.

    Example:
        >>> detectable_rates([0, 5, 50, 500], 0.1, 0.05).round(3).tolist()
        [nan, 0.673, 0.241, 0.136]
    """
    owner = "detectable_rates"
    check_param(owner, "baseline", baseline, Interval(float, 0, 1))
    check_param(owner, "level", level, Interval(float, 0, 1, closed="neither"))
    check_param(owner, "power", power, Interval(float, 0, 1, closed="neither"))
    n = _as_counts("sizes", sizes)
    if np.any(n < 0):
        raise ValueError(f"sizes must be non-negative; got {int(n[n < 0].flat[0])}.")
    from scipy import stats

    # Critical count c: the smallest c in [1, n + 1] with P(X >= c | baseline) <= level
    # (X ~ Binomial(n, baseline); P(X >= n + 1) = 0), by a bisection over all sizes at once.
    lo, hi = np.ones(n.shape, dtype=np.int64), n + 1
    while np.any(active := lo < hi):
        mid = (lo + hi) // 2
        ok = stats.binom.sf(mid - 1, n, baseline) <= level
        lo, hi = np.where(active & ~ok, mid + 1, lo), np.where(active & ok, mid, hi)
    rates = np.full(n.shape, np.nan)
    fits = lo <= n
    # P(X >= c | p) is the regularized incomplete beta I_p(c, n - c + 1).
    rates[fits] = stats.beta.ppf(power, lo[fits], n[fits] - lo[fits] + 1)
    return rates


def detectable_rate(size: int, baseline: float, level: float, power: float = 0.8) -> float | None:
    """The smallest true failure rate a group of ``size`` rows detects with probability
    ``power``, or None if no rate is detectable (too few rows).

    The test is the one-sided exact binomial test of the group's failure count against the
    ``baseline`` rate at ``level``: it rejects from the critical count ``c``, the smallest
    with ``binom.sf(c - 1, size, baseline) <= level``. The returned rate ``p`` has
    ``P(X >= c | p) = power``, i.e. ``scipy.stats.beta.ppf(power, c, size - c + 1)``. It
    approximates the power of the Fisher test of :func:`one_sided_proportion_test`, treating
    the rest of the data as known at the baseline rate (good when the rest is much larger
    than the group). Use :func:`rejection_level` as ``level`` to account for the correction.

    Example:
        >>> round(detectable_rate(50, 0.1, 0.05), 3)
        0.241
        >>> detectable_rate(3, 0.1, 0.001) is None
        True
    """
    check_param("detectable_rate", "size", size, Interval(int, 0, None))
    rate = float(detectable_rates(np.array([size]), baseline, level, power)[0])
    return None if np.isnan(rate) else rate


def _as_p_values(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.array(values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {p.shape}.")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"{name} must all lie in [0, 1].")
    return p


def adjust(p_values: Sequence[float] | np.ndarray, method: str = "bh") -> np.ndarray:
    """Adjusted p-values of one family of tests; reject those below the level.

    ``method`` is one of :data:`CORRECTIONS`: "bh" (Benjamini–Hochberg, controls the false
    discovery rate for independent or positively dependent tests), "by"
    (Benjamini–Yekutieli, the false discovery rate under any dependence) or "holm" (Holm's
    step-down, the family-wise error rate under any dependence). BH and BY come from
    ``scipy.stats.false_discovery_control``; Holm is ``min(1, max_{j <= i} (m - j + 1)
    p_(j))`` on the sorted p-values. All equal statsmodels' ``multipletests``.

    Example:
        >>> adjust([0.01, 0.04, 0.03], "holm").round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    check_param("adjust", "method", method, Options(CORRECTIONS))
    p = _as_p_values("p_values", p_values)
    if p.size == 0:
        return p
    if method == "holm":
        order = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
        out = np.empty_like(p)
        out[order] = np.minimum(stepped, 1.0)
        return out
    from scipy import stats

    adjusted = np.asarray(stats.false_discovery_control(p, method=method), dtype=np.float64)
    return within(adjusted, 0.0, 1.0, "adjusted p-value")


def rejection_level(adjusted: np.ndarray, raw: np.ndarray, method: str, level: float) -> float:
    """The raw p-value a hypothesis of the family not yet rejected would have had to reach
    to be rejected next: the per-test level to use for power statements ("a group of this
    size could have detected a rate of ...", see :func:`detectable_rate`).

    With ``m`` tests, ``k`` of them rejected (adjusted p < ``level``, capped at ``m - 1``):
    BH ``(k + 1) level / m``, BY ``(k + 1) level / (m H_m)`` with ``H_m = sum_{i<=m} 1/i``,
    Holm ``level / (m - k)``. ``raw`` holds the family's raw p-values (checked to match
    ``adjusted``). An empty family counts as a family of one.

    Example:
        >>> raw = np.array([0.001, 0.02, 0.3, 0.5])
        >>> round(rejection_level(adjust(raw, "bh"), raw, "bh", 0.05), 4)
        0.0375
        >>> round(rejection_level(adjust(raw, "holm"), raw, "holm", 0.05), 4)
        0.0167
    """
    owner = "rejection_level"
    check_param(owner, "method", method, Options(CORRECTIONS))
    check_param(owner, "level", level, Interval(float, 0, 1, closed="neither"))
    adj, p = _as_p_values("adjusted", adjusted), _as_p_values("raw", raw)
    if adj.shape != p.shape:
        raise ValueError(
            f"adjusted and raw must have one entry per test; got {adj.size} and {p.size}."
        )
    m = max(adj.size, 1)
    k = min(int(np.sum(adj < level)), m - 1)
    if method == "holm":
        return level / (m - k)
    if method == "by":
        return (k + 1) * level / (m * float(np.sum(1.0 / np.arange(1, m + 1))))
    return (k + 1) * level / m


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (``scipy.stats.false_discovery_control``);
    ``adjust(p_values, "bh")``.

    Rejecting every hypothesis whose adjusted p-value is below ``alpha`` controls the false
    discovery rate at ``alpha`` for independent or positively dependent tests.

    Example:
        >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.04, 0.04]
    """
    return adjust(p_values, "bh")


def wilson_interval(failures: int, size: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``scipy.stats.binomtest``).

    Example:
        >>> tuple(round(x, 4) for x in wilson_interval(8, 10))
        (0.4902, 0.9433)
    """
    if size < 0 or not 0 <= failures <= size:
        raise ValueError(f"Need 0 <= failures <= size; got failures={failures}, size={size}.")
    if size == 0:
        return (0.0, 1.0)
    from scipy import stats

    ci = stats.binomtest(int(failures), int(size)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return (
        within(float(ci.low), 0.0, 1.0, "Wilson interval low"),
        within(float(ci.high), 0.0, 1.0, "Wilson interval high"),
    )
