"""The :class:`Table`: columns of a file or data frame, handed out checked, with errors
that name the column, the setting that chose it and the offending row."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faultmap._validation import as_row_list
from faultmap.exceptions import DataError

__all__ = ["MISSING", "Table"]

#: the value of a key a JSON Lines row lacks
MISSING = object()
_TRUE = {"true", "yes"}
_FALSE = {"false", "no"}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_null(value: Any) -> bool:
    """None, NaN, or pandas' NA / NaT (recognised by type name: pandas is not imported)."""
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or type(value).__name__ in ("NAType", "NaTType")
    )


@dataclass(frozen=True)
class Table:
    """Columns of a file or data frame, with where each row came from.

    ``columns`` lists every column of the source in order; ``data`` holds the columns that
    were read (all of them unless :func:`read_table` was given ``columns``). ``line_numbers``
    gives each row's 1-based line in the file (``None`` when rows are counted by position).

    Example:
        >>> t = Table.from_frame({"prompt": ["a", "b"], "score": [1, 0.5]})
        >>> t.text("prompt"), t.numbers("score").tolist()
        (['a', 'b'], [1.0, 0.5])
    """

    source: str
    columns: tuple[str, ...]
    data: Mapping[str, Sequence[Any]]
    line_numbers: Sequence[int] | None = None
    _fetch: Callable[[str], Sequence[Any]] | None = field(default=None, repr=False)
    #: The position of the first row (a batch of a larger file): messages count from it.
    first_row: int = 0

    def __len__(self) -> int:
        if self.line_numbers is not None:
            return len(self.line_numbers)
        if self.data:
            return len(next(iter(self.data.values())))
        return len(self._column(self.columns[0], "column")) if self.columns else 0

    @classmethod
    def from_frame(cls, frame: Any, *, source: str = "The data frame") -> Table:
        """Wrap a pandas DataFrame (or any frame with ``.columns`` and ``frame[name]``), a
        pyarrow Table or a dict of columns (lists, numpy arrays or Series of equal length);
        columns are read when asked for.

        Example:
            >>> Table.from_frame({"prompt": ["hi"]}).columns
            ('prompt',)
        """
        if isinstance(frame, Mapping):
            names = list(frame.keys())
        elif hasattr(frame, "column_names"):  # pyarrow.Table
            names = list(frame.column_names)
        elif hasattr(frame, "columns") and hasattr(frame, "__getitem__"):
            names = list(frame.columns)
        else:
            raise DataError(
                f"Expected a DataFrame, a pyarrow Table or a dict of "
                f"columns; got {type(frame).__name__}. For a file use faultmap.io.read_table()."
            )
        by_text = {str(name): name for name in names}
        texts = [str(name) for name in names]
        repeated = {t for t in texts if texts.count(t) > 1} if len(by_text) < len(names) else set()

        def fetch(column: str) -> Sequence[Any]:
            if column in repeated:
                raise DataError(
                    f"{source} has {texts.count(column)} columns named {column!r}; give every "
                    "column its own name (pandas: df.loc[:, ~df.columns.duplicated()] keeps "
                    "the first)."
                )
            values = frame[by_text[column]]
            if callable(getattr(values, "to_list", None)) and not hasattr(values, "tolist"):
                values = values.to_list()
            return as_row_list(f"{source} column {column!r}", values)

        return cls(source=source, columns=tuple(by_text), data={}, _fetch=fetch)

    # -- checked columns ---------------------------------------------------------------
    def where(self, row: int) -> str:
        """How messages name the ``row``-th row: ``line N`` in a file, else ``row i``."""
        if self.line_numbers is not None:
            return f"line {self.line_numbers[row]}"
        return f"row {self.first_row + row}"

    def _column(self, column: str, option: str) -> Sequence[Any]:
        if column in self.data:
            return self.data[column]
        if column in self.columns and self._fetch is not None:
            return self._fetch(column)
        shown = ", ".join(repr(c) for c in self.columns[:30])
        more = f" and {len(self.columns) - 30} more" if len(self.columns) > 30 else ""
        raise DataError(
            f"{self.source} has no column {column!r} (from {option}); its columns are: "
            f"{shown or 'none'}{more}. Pass the right name to {option}."
        )

    def _bad(self, row: int, column: str, value: Any, wanted: str) -> DataError:
        held = "has no value" if value is MISSING else f"holds {_describe(value)}"
        return DataError(
            f"{self.source}, {self.where(row)}: column {column!r} {held}, not {wanted}; "
            "fix or drop that row."
        )

    def text(self, column: str, *, option: str = "column", allow_empty: bool = False) -> list[str]:
        """The column as a list of ``str``. With ``allow_empty`` (responses), empty text and
        missing values (null, NaN) become ``""``; otherwise they are errors.

        Example:
            >>> Table.from_frame({"p": ["x", None]}).text("p", allow_empty=True)
            ['x', '']
        """
        out = []
        for i, value in enumerate(self._column(column, option)):
            if value is MISSING or _is_null(value):
                if not allow_empty:
                    raise self._bad(i, column, value, "text")
                value = ""
            if not isinstance(value, str):
                raise self._bad(i, column, value, "text")
            if not allow_empty and not value.strip():
                raise self._bad(i, column, value, "non-empty text")
            out.append(value)
        return out

    def numbers(
        self,
        column: str,
        *,
        option: str = "column",
        bounds: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """The column as float64: numbers, numeric strings, and booleans (``true``/``false``,
        ``yes``/``no`` in text) as 1/0. Missing, NaN or infinite values are errors, and so
        are values outside ``bounds`` when given.

        Example:
            >>> Table.from_frame({"s": [True, "0.25", 1]}).numbers("s").tolist()
            [1.0, 0.25, 1.0]
        """
        wanted = "a number" if bounds is None else f"a number in [{bounds[0]:g}, {bounds[1]:g}]"
        raw = self._column(column, option)
        out = np.empty(len(raw), dtype=np.float64)
        for i, value in enumerate(raw):
            number = value
            if isinstance(value, str):
                key = value.strip().lower()
                number = 1.0 if key in _TRUE else 0.0 if key in _FALSE else key
                try:
                    number = float(number)
                except ValueError:
                    raise self._bad(i, column, value, wanted) from None
            elif isinstance(value, (bool, np.bool_)):
                number = float(value)
            if not isinstance(number, (int, float, np.integer, np.floating)) or not math.isfinite(
                number
            ):
                raise self._bad(i, column, value, wanted)
            if bounds is not None and not bounds[0] <= number <= bounds[1]:
                raise DataError(
                    f"{self.source}, {self.where(i)}: column {column!r} holds {number:g}, "
                    f"outside [{bounds[0]:g}, {bounds[1]:g}]; rescale the column (e.g. "
                    f"(s - min) / (max - min)) or fix that row."
                )
            out[i] = number
        return out

    def vectors(self, column: str, *, option: str = "column") -> np.ndarray:
        """The column as a float32 matrix: each entry a list or array of numbers, or a JSON
        array in text (CSV), all of one length.

        Example:
            >>> Table.from_frame({"v": [[1, 0], "[0, 1]"]}).vectors("v").tolist()
            [[1.0, 0.0], [0.0, 1.0]]
        """
        raw = self._column(column, option)
        if isinstance(raw, np.ndarray) and raw.ndim == 2:  # packed when read (read_table)
            return raw.astype(np.float32, copy=False)
        rows: list[np.ndarray] = []
        for i, value in enumerate(raw):
            item = value
            if isinstance(item, str):
                try:
                    item = json.loads(item)
                except json.JSONDecodeError:
                    raise self._bad(i, column, value, "a JSON array of numbers") from None
            try:
                vector = np.asarray(item, dtype=np.float32)
            except (TypeError, ValueError):
                raise self._bad(i, column, value, "a list of numbers") from None
            if vector.ndim != 1 or (rows and vector.shape != rows[0].shape):
                length = f"{rows[0].shape[0]} numbers" if rows else "a list of numbers"
                raise self._bad(i, column, value, length)
            rows.append(vector)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows)
