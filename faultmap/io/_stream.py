"""Parquet read in record batches, for analyses that never hold a whole table: the files a
source names, their row counts from the metadata, and each batch's columns checked the way
:class:`~faultmap.io.Table` checks a whole column, with errors naming the file and the row.

Example:
    >>> paths = parquet_paths("logs/")                                       # doctest: +SKIP
    >>> for batch in parquet_batches(paths, ["score"], batch_rows=65_536):   # doctest: +SKIP
    ...     scores = batch.scores("score", option="score_col")
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._validation import _UNIT_NORM_TOLERANCE
from faultmap.exceptions import DataError
from faultmap.io._files import _vector_block

__all__ = ["ParquetBatch", "parquet_batches", "parquet_paths", "parquet_rows"]

_SUFFIXES = (".parquet", ".pq")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in _SUFFIXES


def parquet_paths(source: Any) -> tuple[Path, ...] | None:
    """The Parquet files ``source`` names: a ``.parquet`` / ``.pq`` file, a folder (its
    ``.parquet`` / ``.pq`` files, subfolders included, as a partitioned data set is written,
    sorted by path) or a list of such files; ``None`` when
    ``source`` is anything else (a frame, a JSON Lines or CSV path). A missing file or a
    folder without Parquet files is a :class:`~faultmap.DataError`.

    Example:
        >>> parquet_paths({"prompt": ["a"]}) is None
        True
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            found = tuple(sorted(p for p in path.rglob("*") if p.is_file() and _is_parquet(p)))
            if not found:
                raise DataError(
                    f"The folder '{path}' holds no .parquet files; pass a folder of Parquet "
                    "files, a Parquet file or a list of them."
                )
            return found
        return (path,) if _is_parquet(path) else None
    if isinstance(source, (list, tuple)) and source:
        if not all(isinstance(p, (str, os.PathLike)) for p in source):
            return None
        paths = tuple(Path(p) for p in source)
        other = [str(p) for p in paths if not _is_parquet(p)]
        if other:
            raise DataError(
                f"A list of files is read as Parquet, but '{other[0]}' is not a .parquet "
                "file; pass Parquet files only (one path for other formats)."
            )
        return paths
    return None


def parquet_rows(paths: Sequence[Path]) -> list[int]:
    """Rows of each file, from its metadata (nothing else is read)."""
    from faultmap._optional import require

    pq = require("pyarrow.parquet", extra="io", purpose="reading Parquet files")
    counts = []
    for path in paths:
        if not path.is_file():
            raise DataError(f"No such file: '{path}'; check the path.")
        try:
            counts.append(int(pq.ParquetFile(path).metadata.num_rows))
        except Exception as exc:  # pyarrow's own error types
            raise DataError(f"{path} is not a readable Parquet file ({exc}).") from None
    return counts


@dataclass
class ParquetBatch:
    """One record batch: rows ``first_row`` ... of ``path`` (0-based, as Parquet errors name
    them) and rows ``start`` ... of all the files together."""

    path: Path
    first_row: int
    start: int
    columns: dict[str, Any]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def _where(self, i: int) -> str:
        return f"{self.path}, row {self.first_row + int(i)}"

    def _bad(self, i: int, column: str, option: str, held: str, wanted: str) -> DataError:
        return DataError(
            f"{self._where(i)}: column {column!r} (from {option}) {held}, not {wanted}; "
            "fix or drop that row."
        )

    def scores(self, column: str, *, option: str) -> np.ndarray:
        """The column as float64 scores in [0, 1] (numbers or booleans; text numbers as
        :meth:`Table.numbers` reads them)."""
        import pyarrow as pa

        array = self.columns[column]
        wanted = "a number in [0, 1]"
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            from faultmap.io._table import Table

            table = Table(
                str(self.path), (column,), {column: array.to_pylist()}, first_row=self.first_row
            )
            return table.numbers(column, option=option, bounds=(0.0, 1.0))
        if not (
            pa.types.is_floating(array.type)
            or pa.types.is_integer(array.type)
            or pa.types.is_boolean(array.type)
        ):
            raise DataError(
                f"{self.path}: column {column!r} (from {option}) holds {array.type}, not "
                "numbers; pass the column of scores in [0, 1]."
            )
        if array.null_count:
            i = int(np.flatnonzero(np.asarray(array.is_null()))[0])
            raise self._bad(i, column, option, "has no value", wanted)
        values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise self._bad(int(bad[0]), column, option, f"holds {values[bad[0]]}", wanted)
        out = np.flatnonzero((values < 0) | (values > 1))
        if out.size:
            raise DataError(
                f"{self._where(out[0])}: column {column!r} holds {values[out[0]]:g}, outside "
                "[0, 1]; rescale the column (e.g. (s - min) / (max - min)) or fix that row."
            )
        return values

    def vectors(self, column: str, *, option: str, width: int | None) -> np.ndarray:
        """The column as a float32 matrix of unit rows: vectors of ``width`` numbers (any
        width of at least 2 when None), finite, non-zero, normalised as ``analyze()``
        normalises its input (rows already of unit length are used as they are, no copy)."""
        array = self.columns[column]
        block = _vector_block(array)
        if block is None:
            raise self._vector_error(array, column, option, width)
        if width is not None and block.shape[1] != width:
            raise self._bad(
                0, column, option, f"holds {block.shape[1]} numbers", f"{width} numbers"
            )
        if block.shape[1] < 2:
            raise self._bad(0, column, option, "holds 1 number", "a vector of at least 2")
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            raise self._bad(
                int(np.flatnonzero(~finite)[0]),
                column,
                option,
                "holds NaN or infinite values",
                "a finite vector (recompute it)",
            )
        norms = np.concatenate(  # float64 norms, 8,192 rows at a time
            [
                np.linalg.norm(block[i : i + 8192].astype(np.float64), axis=1)
                for i in range(0, len(block), 8192)
            ]
        )
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise self._bad(int(zero[0]), column, option, "holds an all-zero vector", "a direction")
        if np.all(np.abs(norms - 1.0) <= _UNIT_NORM_TOLERANCE):
            return block
        return (block.astype(np.float64) / norms[:, None]).astype(np.float32)

    def _vector_error(self, array: Any, column: str, option: str, width: int | None) -> DataError:
        import pyarrow as pa

        kind = array.type
        if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind)):
            return DataError(
                f"{self.path}: column {column!r} (from {option}) holds {kind}, not vectors; "
                "pass the column of embedding vectors (lists of numbers)."
            )
        nulls = np.flatnonzero(np.asarray(array.is_null()))
        if nulls.size:
            return self._bad(int(nulls[0]), column, option, "has no value", "a vector")
        for i, row in enumerate(array.to_pylist()):
            if row is None or any(x is None for x in row):
                return self._bad(i, column, option, "holds a missing number", "a vector")
            if width is not None and len(row) != width:
                return self._bad(i, column, option, f"holds {len(row)} numbers", f"{width}")
        return self._bad(0, column, option, f"holds {kind}", "a vector of numbers")

    def texts(self, column: str, *, option: str, allow_empty: bool = False) -> Any:
        """The column as a pyarrow string array, checked (no missing or blank text unless
        ``allow_empty``, when missing values become ``""``); Python strings are made only
        for the rows asked for (:meth:`take`)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        array = self.columns[column]
        if pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        if not pa.types.is_string(array.type):
            if allow_empty and array.null_count == len(array):
                return pa.array([""] * len(array), pa.string())
            raise DataError(
                f"{self.path}: column {column!r} (from {option}) holds {array.type}, not "
                "text; pass the column of texts."
            )
        if allow_empty:
            return pc.fill_null(array, "") if array.null_count else array
        if array.null_count:
            i = int(np.flatnonzero(np.asarray(array.is_null()))[0])
            raise self._bad(i, column, option, "has no value", "text")
        blank = np.asarray(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0))
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise self._bad(i, column, option, f"holds {array[i].as_py()!r}", "non-empty text")
        return array


def parquet_batches(
    paths: Sequence[Path], columns: Sequence[str], *, batch_rows: int
) -> Iterator[ParquetBatch]:
    """Record batches of at most ``batch_rows`` rows of only ``columns``, file after file
    (pages read as needed, the memory pool's free memory handed back after each batch). A
    missing column is a :class:`~faultmap.DataError` naming the file and its columns."""
    from faultmap._optional import require

    pq = require("pyarrow.parquet", extra="io", purpose="reading Parquet files")
    import pyarrow as pa

    pool = pa.default_memory_pool()
    start = 0
    for path in paths:
        try:
            parquet = pq.ParquetFile(path, pre_buffer=False)
        except Exception as exc:
            raise DataError(f"{path} is not a readable Parquet file ({exc}).") from None
        names = list(parquet.schema_arrow.names)
        for column in columns:
            if column not in names:
                shown = ", ".join(repr(c) for c in names[:30])
                raise DataError(
                    f"{path} has no column {column!r}; its columns are: {shown or 'none'}."
                )
        first = 0
        batches = parquet.iter_batches(batch_size=batch_rows, columns=list(columns))
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except Exception as exc:
                raise DataError(
                    f"{path}, from row {first}: not readable as Parquet ({exc})."
                ) from None
            data = {c: batch.column(c) for c in columns}
            yield ParquetBatch(path, first, start, data)
            first += batch.num_rows
            start += batch.num_rows
            del batch, data
            pool.release_unused()
