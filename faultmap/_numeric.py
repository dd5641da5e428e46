"""Floating-point round-off kept inside a quantity's documented range.

A share, an entropy normalised by its maximum or a cosine of unit vectors is in its range
by arithmetic, but the floating-point value can land one or two units in the last place
outside it (``-sum(p log p) / log m`` is ``1.0000000000000002`` for five equal classes).
:func:`within` clips such round-off and nothing else: a value further out than ``tol`` is a
bug in the computation, and it raises instead of being hidden.
"""

from __future__ import annotations

from typing import overload

import numpy as np

__all__ = ["within"]


@overload
def within(value: float, low: float, high: float, what: str, *, tol: float = ...) -> float: ...


@overload
def within(
    value: np.ndarray, low: float, high: float, what: str, *, tol: float = ...
) -> np.ndarray: ...


def within(
    value: float | np.ndarray, low: float, high: float, what: str, *, tol: float = 1e-9
) -> float | np.ndarray:
    """``value`` clipped to ``[low, high]`` when it is outside by at most ``tol`` (round-off);
    NaN stays NaN. Raises ``FloatingPointError`` naming ``what`` for a value further out.

    Example:
        >>> within(1.0000000000000002, 0.0, 1.0, "entropy")
        1.0
        >>> within(1.5, 0.0, 1.0, "entropy")
        Traceback (most recent call last):
        ...
        FloatingPointError: entropy is 1.5, outside [0.0, 1.0] by more than round-off (1e-09).
    """
    arr = np.asarray(value, dtype=np.float64)
    far = (arr < low - tol) | (arr > high + tol)
    if np.any(far):
        bad = float(arr[far].flat[0]) if arr.ndim else float(arr)
        raise FloatingPointError(
            f"{what} is {bad!r}, outside [{low!r}, {high!r}] by more than round-off ({tol:g})."
        )
    out = np.clip(arr, low, high) + 0.0  # NaN passes through; + 0.0 turns -0.0 into 0.0
    if isinstance(value, np.ndarray):
        return out
    return float(out)
