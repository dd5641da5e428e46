"""One-sided tests of "this group fails more than the rest", BH correction, Wilson intervals.

scipy is imported inside each function so ``import faultmap`` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faultmap._validation import Options, check_param

__all__ = [
    "TESTS",
    "ProportionTest",
    "benjamini_hochberg",
    "one_sided_proportion_test",
    "wilson_interval",
]

TESTS = ("fisher", "chi2", "auto")


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
