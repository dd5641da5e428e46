"""Prompts and their vectors from Parquet files, one record batch at a time: what the
streaming coverage audit reads (:mod:`faultmap.analyses.coverage_stream`). Only the asked
columns are read, never the whole table; every batch is checked as it arrives, and a bad
cell is a :class:`~faultmap.DataError` naming the file, the row (0-based within the file)
and the column."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._validation import as_embeddings
from faultmap.exceptions import DataError
from faultmap.io._files import _vector_block
from faultmap.io._stream import parquet_paths

__all__ = ["Batch", "ParquetBatches", "is_parquet_source", "parquet_files"]


def is_parquet_source(value: Any) -> bool:
    """True for what :func:`faultmap.io._stream.parquet_paths` reads as Parquet: a Parquet
    file path, a folder holding Parquet files, or a non-empty list of Parquet file paths.

    Example:
        >>> is_parquet_source("logs.parquet"), is_parquet_source(["a.pq", "b.pq"])
        (True, True)
    """
    try:
        return parquet_paths(value) is not None
    except DataError:  # a folder without Parquet files, a list mixing other files
        return False


def parquet_files(source: Any, name: str) -> list[Path]:
    """The files of ``source`` (as :func:`~faultmap.io._stream.parquet_paths` finds them),
    each checked to exist."""
    paths = parquet_paths(source) or ()
    for path in paths:
        if not path.is_file():
            raise DataError(f"No such file: '{path}' (from '{name}'); check the path.")
    return list(paths)


def _iter_batches(parquet: Any, batch_size: int, columns: list[str], row_groups: list[int]):
    """The record batches of ``columns`` in ``row_groups`` (the one place a file is read:
    tests count its calls)."""
    return parquet.iter_batches(batch_size=batch_size, columns=columns, row_groups=row_groups)


@dataclass
class Batch:
    """Rows ``start`` to ``start + len`` of all files together: their texts and vectors
    (unit rows, float32), each ``None`` when not asked for."""

    start: int
    size: int
    texts: list[str] | None
    vectors: np.ndarray | None


class ParquetBatches:
    """Rows of one or more Parquet files, read ``batch_size`` rows at a time.

    Opening reads only the files' footers (row counts, schema), checks that the columns
    exist and have usable types. :meth:`batches` reads every row, :meth:`take` only the
    row groups holding the asked rows.

    Example:
        >>> source = ParquetBatches(
        ...     "logs/", prompt_col="prompt", embedding_col="embedding"
        ... )  # doctest: +SKIP
        >>> for batch in source.batches(texts=False):  # doctest: +SKIP
        ...     print(batch.start, batch.vectors.shape)
    """

    def __init__(
        self,
        source: Any,
        *,
        prompt_col: str,
        embedding_col: str,
        batch_size: int = 65_536,
        name: str = "production",
    ) -> None:
        from faultmap._optional import require

        self._pq = require("pyarrow.parquet", extra="io", purpose="reading Parquet files")
        import pyarrow as pa

        self.name = name
        self.prompt_col = prompt_col
        self.embedding_col = embedding_col
        self.batch_size = batch_size
        self.files = parquet_files(source, name)
        self._rows: list[int] = []
        self._groups: list[np.ndarray] = []  # first row of each row group, per file
        for path in self.files:
            meta = self._open(path)
            schema = meta.schema.to_arrow_schema()
            for column, option, wanted in (
                (prompt_col, "prompt_col", "text"),
                (embedding_col, "embedding_col", "a list of numbers"),
            ):
                if column not in schema.names:
                    shown = ", ".join(repr(c) for c in schema.names[:30])
                    raise DataError(
                        f"{path} has no column {column!r} (from {option}); its columns are: "
                        f"{shown or 'none'}. Pass the right name to {option}."
                    )
                kind = schema.field(column).type
                ok = (
                    pa.types.is_string(kind) or pa.types.is_large_string(kind)
                    if wanted == "text"
                    else (pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind))
                    and (
                        pa.types.is_floating(kind.value_type)
                        or pa.types.is_integer(kind.value_type)
                    )
                )
                if not ok:
                    raise DataError(
                        f"{path}: column {column!r} (from {option}) is of type {kind}, not "
                        f"{wanted}; write it as "
                        f"{'strings' if wanted == 'text' else 'lists of float32'}."
                    )
            self._rows.append(meta.num_rows)
            sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            self._groups.append(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
        self.offsets = np.concatenate([[0], np.cumsum(self._rows)]).astype(np.int64)
        self.num_rows = int(self.offsets[-1])
        self.dim: int | None = None

    def _open(self, path: Path) -> Any:
        try:
            return self._pq.ParquetFile(path, pre_buffer=False).metadata
        except Exception as exc:  # pyarrow raises its own ArrowInvalid / OSError types
            raise DataError(f"{path} is not a readable Parquet file ({exc}).") from None

    def batches(self, *, texts: bool = True, vectors: bool = True) -> Iterator[Batch]:
        """Every row, in order, ``batch_size`` rows at a time."""
        for k in range(len(self.files)):
            yield from self._file_batches(k, None, texts, vectors)

    def take(
        self, rows: np.ndarray, *, texts: bool = True, vectors: bool = True
    ) -> tuple[list[str] | None, np.ndarray | None]:
        """The texts and vectors of ``rows`` (ascending, no repeats), in that order; only
        the row groups that hold them are read."""
        rows = np.asarray(rows, dtype=np.int64)
        got_texts: list[str] = []
        got_vectors: list[np.ndarray] = []
        for k in range(len(self.files)):
            lo, hi = np.searchsorted(rows, self.offsets[k : k + 2])
            local = rows[lo:hi] - self.offsets[k]
            if not local.size:
                continue
            groups = np.unique(np.searchsorted(self._groups[k], local, side="right") - 1)
            for batch in self._file_batches(k, groups.tolist(), texts, vectors):
                a, b = np.searchsorted(rows, [batch.start, batch.start + batch.size])
                pick = rows[a:b] - batch.start
                if batch.texts is not None:
                    got_texts.extend(batch.texts[i] for i in pick)
                if batch.vectors is not None:
                    got_vectors.append(batch.vectors[pick])
        dim = self.dim or 0
        return (
            got_texts if texts else None,
            (np.concatenate(got_vectors) if got_vectors else np.zeros((0, dim), np.float32))
            if vectors
            else None,
        )

    def _file_batches(
        self, k: int, groups: list[int] | None, texts: bool, vectors: bool
    ) -> Iterator[Batch]:
        import pyarrow as pa

        path = self.files[k]
        columns = ([self.prompt_col] if texts else []) + ([self.embedding_col] if vectors else [])
        if groups is None:
            groups = list(range(len(self._groups[k]) - 1))
        parquet = self._pq.ParquetFile(path, pre_buffer=False)
        pool = pa.default_memory_pool()
        for g in groups:  # one row group at a time: a batch's start row is known exactly
            local = int(self._groups[k][g])
            try:
                reader = _iter_batches(parquet, self.batch_size, columns, [g])
                for record in reader:
                    n = record.num_rows
                    batch = Batch(
                        start=int(self.offsets[k]) + local,
                        size=n,
                        texts=self._texts(record, path, local) if texts else None,
                        vectors=self._vectors(record, path, local) if vectors else None,
                    )
                    del record
                    yield batch
                    local += n
                    pool.release_unused()  # else the pool keeps every batch's pages
            except DataError:
                raise
            except Exception as exc:  # pyarrow's own errors: a damaged file
                raise DataError(
                    f"{path}, rows from {local}: not readable as Parquet ({exc})."
                ) from None

    def _texts(self, record: Any, path: Path, first: int) -> list[str]:
        column = self.prompt_col
        values = record.column(column).to_pylist()
        for i, value in enumerate(values):
            if value is None or not value.strip():
                held = "has no value (null)" if value is None else "is empty or only whitespace"
                raise DataError(
                    f"{path}, row {first + i}: column {column!r} (from prompt_col) {held}, not "
                    "non-empty text; fix or drop that row."
                )
        return values

    def _vectors(self, record: Any, path: Path, first: int) -> np.ndarray:
        column = self.embedding_col
        array = record.column(column)
        block = _vector_block(array)
        if block is None or (self.dim is not None and block.shape[1] != self.dim):
            raise self._bad_vectors(array, path, first)
        self.dim = block.shape[1]
        finite = np.isfinite(block).all(axis=1)
        zero = ~block.any(axis=1)
        bad = np.flatnonzero(~finite | zero)
        if bad.size:
            i = int(bad[0])
            what = "NaN or infinite values" if not finite[i] else "only zeros (no direction)"
            raise DataError(
                f"{path}, row {first + i}: column {column!r} (from embedding_col) holds {what}; "
                "recompute that vector or drop the row."
            )
        return as_embeddings(f"{path} column {column!r}", block, len(block))

    def _bad_vectors(self, array: Any, path: Path, first: int) -> DataError:
        """The first row of a batch whose vectors are missing, hold a missing number or
        have another length than the rest."""
        column = self.embedding_col
        values = array.to_pylist()
        width = self.dim
        for i, value in enumerate(values):
            if value is None or any(x is None for x in value):
                held = "has no value (null)" if value is None else "holds a null number"
            elif width is not None and len(value) != width:
                held = f"holds {len(value)} numbers where the rows before hold {width}"
            else:
                width = width if width is not None else len(value)
                continue
            return DataError(
                f"{path}, row {first + i}: column {column!r} (from embedding_col) {held}; "
                "every row needs one vector of the same length. Fix or drop that row."
            )
        return DataError(  # not reached for a list column of numbers
            f"{path}, rows from {first}: column {column!r} (from embedding_col) is not one "
            "vector of numbers per row."
        )
