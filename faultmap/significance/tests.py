"""One-sided tests of "this group fails more than the rest", McNemar's test for paired
outcomes, the under-representation test of coverage audits, BH correction, Wilson intervals.

scipy is imported inside each function so ``import faultmap`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faultmap._validation import Options, check_param

__all__ = [
    "MCNEMAR_EXACT_BELOW",
    "TESTS",
    "McNemarResult",
    "ProportionTest",
    "benjamini_hochberg",
    "mcnemar_test",
    "min_detectable_region_size",
    "one_sided_proportion_test",
    "under_representation_min_p",
    "under_representation_test",
    "wilson_interval",
]

TESTS = ("fisher", "chi2", "auto")

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


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    Rejecting every hypothesis whose adjusted p-value is below ``alpha`` controls the false
    discovery rate at ``alpha`` for independent or positively dependent tests.

    Example:
        >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional; got shape {p.shape}.")
    if p.size == 0:
        return p.copy()
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("p_values must all lie in [0, 1].")
    from scipy import stats

    return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=np.float64)


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
    return (float(ci.low), float(ci.high))
