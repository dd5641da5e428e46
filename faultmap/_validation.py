"""One message format for bad arguments and bad data.

Parameters are checked against small constraint objects, and every failure reads like:
``The 'min_slice_size' parameter of SliceAnalyzer must be an int in [2, inf). Got 1.``
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping, MappingView, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import numpy as np

from faultmap.exceptions import ConfigurationError, DataError

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrMapping",
    "as_embeddings",
    "as_row_list",
    "as_scores",
    "as_text_list",
    "check_param",
    "is_missing",
    "repair_text",
]


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (int or float) between ``low`` and ``high``; ``None`` is unbounded."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            return False
        left_closed = self.closed in ("both", "left")
        right_closed = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left_closed)):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not right_closed))
        )

    def __str__(self) -> str:
        name = "an int" if self.kind is int else "a float"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{name} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class NonEmptyStr:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __str__(self) -> str:
        return "a non-empty str"


@dataclass(frozen=True)
class IsInstance:
    kinds: tuple[type, ...]
    label: str

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, self.kinds) and not (
            isinstance(value, bool) and bool not in self.kinds
        )

    def __str__(self) -> str:
        return self.label


BOOL = IsInstance((bool,), "a bool")


@dataclass(frozen=True)
class HasMethods:
    """An object with the callable ``methods`` and the plain ``attributes`` (a stage object:
    a clusterer with ``fit_predict()`` and ``name``, say)."""

    methods: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    label: str = ""

    def is_satisfied_by(self, value: Any) -> bool:
        return (
            not isinstance(value, (str, bytes))
            and all(callable(getattr(value, m, None)) for m in self.methods)
            and all(hasattr(value, a) for a in self.attributes)
        )

    def __str__(self) -> str:
        return self.label or "an object with " + ", ".join(
            [f"{m}()" for m in self.methods] + list(self.attributes)
        )


@dataclass(frozen=True)
class StrMapping:
    """A dict with str keys; with ``nested``, each value a dict with str keys too."""

    nested: bool = False

    def is_satisfied_by(self, value: Any) -> bool:
        def flat(m: Any) -> bool:
            return isinstance(m, Mapping) and all(isinstance(k, str) for k in m)

        return flat(value) and (not self.nested or all(flat(v) for v in value.values()))

    def __str__(self) -> str:
        return "a dict of role -> dict of request options" if self.nested else "a dict of options"


def check_param(owner: str, name: str, value: Any, *constraints: Any) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` meets one of ``constraints``.

    ``None`` in ``constraints`` admits ``None``.

    Example:
        >>> check_param("SliceAnalyzer", "min_slice_size", 10, Interval(int, 2, None))
    """
    for constraint in constraints:
        if constraint is None:
            if value is None:
                return
        elif constraint.is_satisfied_by(value):
            return
    allowed = " or ".join("None" if c is None else str(c) for c in constraints)
    raise ConfigurationError(f"The '{name}' parameter of {owner} must be {allowed}. Got {value!r}.")


def as_row_list(name: str, values: Any) -> list[Any]:
    """``values`` as a list, if it is an ordered sequence: a list, tuple, range, 1-D numpy
    array, pandas Series or Index, pyarrow Array, or another ``Sequence``. Sets, dicts and
    their views, generators and other iterables raise :class:`DataError`: their order is not
    the order of the caller's other arguments (a set of prompts would be paired with the
    wrong scores)."""
    shown = f"'{name}'" if name.isidentifier() else name  # metadata['route'] is quoted
    if values is None:
        raise DataError(f"{shown} is required but got None; pass a list of values, one per row.")
    if isinstance(values, (str, bytes)):
        raise DataError(
            f"{shown} must be a sequence of strings, not a single {type(values).__name__}; "
            "wrap it in a list."
        )
    if isinstance(values, (AbstractSet, Mapping, MappingView)):
        raise DataError(
            f"{shown} is a {type(values).__name__}, which has no row order to pair it with "
            f"the other arguments; pass an ordered sequence (a list, tuple, numpy array or "
            f"pandas Series), e.g. a list built in the same order as the scores."
        )
    if isinstance(values, (list, tuple, range)):
        return list(values)
    if hasattr(values, "to_pylist"):  # pyarrow Array / ChunkedArray
        return list(values.to_pylist())
    if hasattr(values, "tolist") and getattr(values, "ndim", 1) == 1:  # numpy, pandas
        return list(values.tolist())
    if hasattr(values, "ndim"):
        raise DataError(
            f"{shown} must be one-dimensional (one entry per row); got shape "
            f"{getattr(values, 'shape', '?')}. Pass one column, e.g. frame['prompt']."
        )
    if isinstance(values, Sequence):
        return list(values)
    kind = "an iterator" if isinstance(values, Iterator) else type(values).__name__
    raise DataError(
        f"{shown} must be a sequence in row order (a list, tuple, numpy array or pandas "
        f"Series); got {kind}. Build a list of it in the same order as the other arguments."
    )


def _lone_surrogate(text: str) -> int | None:
    """Position of the first lone surrogate (U+D800 to U+DFFF; half of a UTF-16 pair) in
    ``text``, or None when it encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return int(exc.start)
    return None


def repair_text(text: str) -> str:
    """``text`` encodable as UTF-8: surrogate pairs written as two code points (a UTF-16
    pair decoded one half at a time) become the character they encode, any other lone
    surrogate becomes U+FFFD (the replacement character). Text that encodes is returned as
    it is.

    Example:
        >>> repair_text("ok \\ud83d\\ude00 then \\ud83d") == "ok \\U0001f600 then \\ufffd"
        True
    """
    if _lone_surrogate(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def as_text_list(
    name: str,
    values: Any,
    *,
    allow_empty: bool = False,
    repaired: dict[str, list[int]] | None = None,
) -> list[str]:
    """Return ``values`` as a list of ``str`` or raise :class:`DataError` naming the bad row.

    Text that cannot be encoded as UTF-8 (a lone surrogate: half an emoji, common in logged
    text) is repaired with :func:`repair_text` when ``repaired`` is given, and the repaired
    row numbers are recorded there under ``name``; without ``repaired`` it is an error naming
    the row.

    Example:
        >>> as_text_list("prompts", ("a", "b"))
        ['a', 'b']
        >>> fixes = {}
        >>> as_text_list("prompts", ["a", "b\\ud800"], repaired=fixes) == ["a", "b\\ufffd"], fixes
        (True, {'prompts': [1]})
    """
    items = as_row_list(name, values)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise DataError(
                f"'{name}[{i}]' is of type {type(item).__name__} ({item!r:.60}), not str; "
                f"convert every entry of '{name}' to text first."
            )
        if not allow_empty and not item.strip():
            raise DataError(
                f"'{name}[{i}]' is empty or only whitespace; remove it or give it text."
            )
    try:  # one encode of everything; row by row only when something does not encode
        "".join(items).encode("utf-8")
    except UnicodeEncodeError:
        fixed: list[int] = []
        for i, item in enumerate(items):
            at = _lone_surrogate(item)
            if at is None:
                continue
            if repaired is None:
                raise DataError(
                    f"'{name}[{i}]' holds a lone surrogate ({item[at]!r} at character {at}: "
                    "half of a UTF-16 pair, e.g. half an emoji), which is not text that can "
                    "be encoded as UTF-8; replace it with valid text or drop the row."
                ) from None
            items[i] = repair_text(item)
            fixed.append(i)
        if repaired is not None:
            repaired[name] = fixed
    return items


def check_same_length(reference: tuple[str, Sequence[Any]], *others: tuple[str, Any]) -> None:
    """Raise :class:`DataError` unless every sequence has the reference's length."""
    ref_name, ref = reference
    for name, other in others:
        if other is not None and len(other) != len(ref):
            raise DataError(
                f"'{name}' has {len(other)} entries but '{ref_name}' has {len(ref)}; "
                f"pass exactly one entry of '{name}' per entry of '{ref_name}'."
            )


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN, NaT and ``pandas.NA``: values that stand for "no value".

    Example:
        >>> is_missing(float("nan")), is_missing(0)
        (True, False)
    """
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pandas.NA refuses bool()
        return True


def as_scores(name: str, values: Any, n: int, *, of: str = "prompts") -> np.ndarray:
    """Return scores as a float64 array of length ``n`` in [0, 1] or raise :class:`DataError`.

    Example:
        >>> as_scores("scores", [0.0, 1.0], 2).tolist()
        [0.0, 1.0]
    """
    if values is None:
        raise DataError(f"'{name}' is required but got None.")
    if isinstance(values, (str, bytes)):
        raise DataError(f"'{name}' must be a sequence of numbers in [0, 1], not a string.")
    try:
        arr = np.asarray(values if not hasattr(values, "to_numpy") else values.to_numpy())
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"'{name}' must contain only numbers in [0, 1] (higher = better); "
            f"could not convert it to floats ({exc})."
        ) from exc
    if arr.ndim != 1:
        raise DataError(f"'{name}' must be one-dimensional; got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise DataError(
            f"'{name}' has {arr.shape[0]} values but there are {n} {of}; "
            f"pass exactly one score per entry."
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise DataError(
            f"'{name}' contains {bad.size} NaN or infinite value(s), first at index "
            f"{int(bad[0])}; drop those rows or give them a score in [0, 1]."
        )
    out = np.flatnonzero((arr < 0.0) | (arr > 1.0))
    if out.size:
        i = int(out[0])
        raise DataError(
            f"'{name}' must lie in [0, 1] (higher = better); {out.size} value(s) are outside, "
            f"first '{name}[{i}]' = {float(arr[i])!r}. Rescale them, e.g. (s - min) / (max - min)."
        )
    return arr


#: Rows whose norm is this close to 1 are taken as they are (float32 rounding of a unit
#: vector's norm is about 1e-7).
_UNIT_NORM_TOLERANCE = 1e-5


def as_embeddings(name: str, values: Any, n: int, *, of: str = "prompts") -> np.ndarray:
    """Return ``values`` as an (n, d) float32, L2-normalised array or raise
    :class:`DataError`. The caller's array is never changed: a float32 array whose rows are
    already unit length (what every faultmap embedder returns) comes back as a read-only
    view of itself, with no copy (a memory-mapped file of a million vectors stays on disk);
    anything else is converted into a new array.

    Example:
        >>> as_embeddings("embeddings", [[3.0, 4.0]], 1).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    try:
        arr = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{name}' must be a 2-D array of numbers; {exc}.") from exc
    if arr.ndim != 2:
        raise DataError(
            f"'{name}' must be a 2-D array of shape (n_{of}, dim); got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise DataError(
            f"'{name}' has {arr.shape[0]} rows but there are {n} {of}; "
            f"pass one vector per entry, in the same order."
        )
    if arr.shape[1] < 2:
        raise DataError(f"'{name}' must have at least 2 columns; got shape {arr.shape}.")
    # Checked a block of rows at a time: no n x d temporary (bool or float64) of a large
    # input. float32 norms overflow at 1e20 and underflow at 1e-23, so norms and quotients
    # are computed in float64.
    step = 8192
    norms = np.zeros(len(arr))
    bad_rows: list[np.ndarray] = []
    for i in range(0, len(arr), step):
        block = arr[i : i + step]
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            bad_rows.append(i + np.flatnonzero(~finite))
        norms[i : i + step] = np.linalg.norm(block.astype(np.float64), axis=1)
    if bad_rows:
        bad = np.concatenate(bad_rows)
        raise DataError(
            f"'{name}' has NaN or infinite values in {bad.size} row(s), first row "
            f"{int(bad[0])}; recompute those vectors."
        )
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise DataError(
            f"'{name}' has {zero.size} all-zero row(s), first row {int(zero[0])}; a zero vector "
            f"has no direction, recompute those vectors."
        )
    if arr.flags.owndata and arr is not values:  # a new array: normalise it in place
        owned = arr
    elif np.all(np.abs(norms - 1.0) <= _UNIT_NORM_TOLERANCE):
        view = arr.view()
        view.flags.writeable = False
        return view
    else:
        owned = arr.copy()
    for i in range(0, len(owned), step):
        owned[i : i + step] = owned[i : i + step].astype(np.float64) / norms[i : i + step, None]
    return owned
