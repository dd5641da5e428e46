"""Metadata columns (a dict of columns or a data frame) for the cohort and hybrid-slice
analyses, checked for names and lengths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from faultmap._validation import as_row_list, is_missing
from faultmap.exceptions import DataError

__all__ = ["read_metadata"]


def _column_name(name: Any, position: int) -> str:
    """A metadata column name as text; a missing or odd name is a :class:`DataError`."""
    if isinstance(name, str) and name.strip():
        return name
    if isinstance(name, (int, np.integer)) and not isinstance(name, (bool, np.bool_)):
        return str(name)
    what = "missing (None/NaN)" if is_missing(name) else f"{name!r} ({type(name).__name__})"
    raise DataError(
        f"metadata column {position} has a name that is {what}; every column needs a "
        f"non-empty string (or int) name, e.g. rename it with df.columns = [...] (a CSV "
        f"column without a header reads as NaN)."
    )


def read_metadata(metadata: Any, n: int | None = None, *, of: str = "rows") -> dict[str, list[Any]]:
    """Columns of a pandas DataFrame (anything with ``.columns`` and ``df[col].tolist()``) or
    of a mapping ``{name: sequence}`` as lists, all of one length (``n`` when given; ``of``
    names what the rows are in the error message).

    Column names must be non-empty strings or ints, distinct as text; a name that is
    ``None`` or NaN is a :class:`DataError`. Missing *values* are kept (they form the
    ``"(missing)"`` cohort of :mod:`faultmap.metrics.cohorts`).

    Example:
        >>> read_metadata({"route": ("a", "b")})
        {'route': ['a', 'b']}
    """
    if metadata is None:
        raise DataError("'metadata' is required: a dict of columns or a pandas DataFrame.")
    if hasattr(metadata, "columns") and hasattr(metadata, "__getitem__"):
        names = list(metadata.columns)
        texts = [_column_name(c, i) for i, c in enumerate(names)]
        pairs = list(zip(texts, names, strict=True))
        if len(set(texts)) == len(texts):  # df[name] of a repeated name is a DataFrame
            pairs = [(t, metadata[c].tolist()) for t, c in pairs]
    elif isinstance(metadata, Mapping):
        pairs = []
        for i, (name, values) in enumerate(metadata.items()):
            text = _column_name(name, i)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise DataError(
                    f"metadata[{name!r}] must be a sequence with one value per row; got "
                    f"{type(values).__name__}."
                )
            pairs.append((text, as_row_list(f"metadata[{name!r}]", values)))
    else:
        raise DataError(
            f"'metadata' must be a dict of columns or a pandas DataFrame; got "
            f"{type(metadata).__name__}."
        )
    if not pairs:
        raise DataError("'metadata' has no columns.")
    repeated = sorted({t for t, _ in pairs if sum(t == u for u, _ in pairs) > 1})
    if repeated:
        raise DataError(
            f"'metadata' has more than one column named {repeated[0]!r}; give every column "
            f"its own name."
        )
    columns = {name: list(values) for name, values in pairs}
    expected = n if n is not None else len(next(iter(columns.values())))
    for name, values in columns.items():
        if len(values) != expected:
            raise DataError(
                f"metadata[{name!r}] has {len(values)} values but there are {expected} {of}; "
                f"pass one value per row."
            )
    return columns
