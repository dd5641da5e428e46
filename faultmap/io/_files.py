"""Read JSON Lines, JSON, CSV/TSV and Parquet files into a :class:`Table`: the standard
library for text formats, pyarrow (imported when a Parquet file is read) for Parquet."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faultmap.exceptions import DataError
from faultmap.io._table import MISSING, Table

__all__ = ["FORMATS", "read_table"]

#: file extension -> format name understood by :func:`read_table`
FORMATS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in set(FORMATS.values()):
            raise DataError(
                f"The 'format' argument of read_table must be one of "
                f"{', '.join(sorted(set(FORMATS.values())))}. Got {fmt!r}."
            )
        return fmt
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"Cannot tell the format of '{path}' from its extension; name it "
            f"{', '.join(FORMATS)} (or pass the format explicitly)."
        )
    return FORMATS[suffix]


def _decoded_lines(path: Path, name: str) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{name}, line {number}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                    "save the file as UTF-8."
                ) from None


class _Column:
    """The values of one column, as read. Lists of numbers, all of one length (embedding
    vectors), are packed into float32 blocks as they arrive instead of being kept as Python
    lists (24 bytes a number): a million 384-number rows take 1.5 GB instead of about
    9 GB. The first value that does not fit turns the column back into a plain list."""

    _BLOCK = 8192

    def __init__(self, missing_rows: int) -> None:
        self.values: list[Any] | None = [MISSING] * missing_rows if missing_rows else None
        self.blocks: list[np.ndarray] = []
        self.filled = 0

    def _packable(self, value: Any) -> np.ndarray | None:
        if not isinstance(value, list) or not value:
            return None
        row = np.asarray(value)
        if row.ndim != 1 or row.dtype.kind not in "iuf":
            return None
        if self.blocks and row.shape[0] != self.blocks[0].shape[1]:
            return None
        return row

    def append(self, value: Any) -> None:
        if self.values is None:
            row = self._packable(value)
            if row is not None:
                if not self.blocks or self.filled == self._BLOCK:
                    self.blocks.append(np.empty((self._BLOCK, row.shape[0]), np.float32))
                    self.filled = 0
                self.blocks[-1][self.filled] = row
                self.filled += 1
                return
            self.values = [r.tolist() for r in self._packed()] if self.blocks else []
            self.blocks = []
        self.values.append(value)

    def _packed(self) -> np.ndarray:
        if not self.blocks:
            return np.zeros((0, 0), dtype=np.float32)
        n = (len(self.blocks) - 1) * self._BLOCK + self.filled
        out = np.empty((n, self.blocks[0].shape[1]), dtype=np.float32)
        for k in range(len(self.blocks)):  # copy and free one block at a time
            block, self.blocks[k] = self.blocks[k], np.empty(0, np.float32)
            start = k * self._BLOCK
            out[start : min(start + self._BLOCK, n)] = block[: min(self._BLOCK, n - start)]
        return out

    def finish(self) -> Sequence[Any]:
        return self.values if self.values is not None else self._packed()


def _collect(
    records: Iterable[tuple[int, Any]],
    name: str,
    wanted: set[str] | None,
    unit: str,
) -> tuple[list[str], dict[str, Sequence[Any]], list[int]]:
    """Columns of JSON objects: every key in first-seen order, values (``MISSING`` where a
    row lacks a key) for the wanted keys, and each row's number. A column of equal-length
    lists of numbers comes back as one float32 matrix (:class:`_Column`)."""
    columns: dict[str, None] = {}
    data: dict[str, _Column] = {}
    numbers: list[int] = []
    for number, record in records:
        if not isinstance(record, dict):
            raise DataError(
                f"{name}, {unit} {number}: expected a JSON object ({{...}}), got "
                f"{type(record).__name__}; each row must be one object of column -> value."
            )
        for key in record:
            if key not in columns:
                columns[key] = None
                if wanted is None or key in wanted:
                    data[key] = _Column(len(numbers))
        for key, values in data.items():
            values.append(record.get(key, MISSING))
        numbers.append(number)
    return list(columns), {key: values.finish() for key, values in data.items()}, numbers


def _read_jsonl(path: Path, name: str, wanted: set[str] | None) -> Table:
    def records() -> Iterator[tuple[int, Any]]:
        for number, line in _decoded_lines(path, name):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{name}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                    "each line must hold one JSON object."
                ) from None

    columns, data, numbers = _collect(records(), name, wanted, "line")
    return Table(name, tuple(columns), data, numbers)


def _read_json_array(path: Path, name: str, wanted: set[str] | None) -> Table:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8."
        ) from None
    if not text.lstrip().startswith("["):
        return _read_jsonl(path, name, wanted)  # JSON Lines saved as .json
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{name}, line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})."
        ) from None
    columns, data, _ = _collect(enumerate(records), name, wanted, "row")
    return Table(name, tuple(columns), data)


#: The csv module refuses fields over 131,072 characters by default; a prompt or a response
#: may be longer (the same data reads from JSON Lines), so the limit is lifted while reading.
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


def _read_csv(path: Path, name: str, wanted: set[str] | None, delimiter: str) -> Table:
    limit = csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        return _read_csv_rows(path, name, wanted, delimiter)
    finally:
        csv.field_size_limit(limit)


def _read_csv_rows(path: Path, name: str, wanted: set[str] | None, delimiter: str) -> Table:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if not header:
                raise DataError(f"{name} is empty; the first line must name the columns.")
            seen: set[str] = set()
            for column in header:
                if column in seen:
                    raise DataError(
                        f"{name}, line 1: the column {column!r} appears twice in the header; "
                        "give every column its own name."
                    )
                seen.add(column)
            keep = [(j, c) for j, c in enumerate(header) if wanted is None or c in wanted]
            data: dict[str, list[Any]] = {c: [] for _, c in keep}
            numbers: list[int] = []
            start = reader.line_num + 1
            for row in reader:
                if row and len(row) != len(header):
                    raise DataError(
                        f"{name}, line {start}: {len(row)} fields but the header has "
                        f"{len(header)}; quote fields that contain '{delimiter}' or line breaks."
                    )
                if row:
                    for j, c in keep:
                        data[c].append(row[j])
                    numbers.append(start)
                start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{name}, line {reader.line_num}: unreadable CSV ({exc}).") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8."
        ) from None
    return Table(name, tuple(header), data, numbers)


def _read_parquet(path: Path, name: str, wanted: set[str] | None) -> Table:
    """Parquet in record batches: a column of fixed-size lists (or equal-length lists) of
    numbers is written batch by batch into one float32 matrix, never through Python floats
    and never held twice. Pages are read as needed (no ``pre_buffer``) and the pool's free
    memory handed back after each batch: a million prompts with 384-number vectors (1.6 GB
    on disk) read in about 6 s with a peak of 2.5 GB, of which 1.5 GB is the matrix."""
    from faultmap._optional import require

    pq = require("pyarrow.parquet", extra="io", purpose="reading Parquet files")
    import pyarrow as pa

    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)
        columns = list(parquet.schema_arrow.names)
        read = columns if wanted is None else [c for c in columns if c in wanted]
        rows = parquet.metadata.num_rows
        parts = {c: _ParquetColumn(rows) for c in read}
        pool = pa.default_memory_pool()
        for batch in parquet.iter_batches(batch_size=65_536, columns=read):
            for column in read:
                parts[column].add(batch.column(column))
            del batch
            pool.release_unused()  # else the pool keeps every batch's pages until the end
        data = {column: part.finish() for column, part in parts.items()}
    except Exception as exc:  # pyarrow raises its own ArrowInvalid / OSError types
        raise DataError(f"{name} is not a readable Parquet file ({exc}).") from None
    return Table(name, tuple(columns), data)


class _ParquetColumn:
    """One Parquet column, batch by batch: a float32 matrix of ``rows`` rows while every
    batch is vectors of numbers (no nulls, one length), else a Python list."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.matrix: np.ndarray | None = None
        self.filled = 0
        self.values: list[Any] | None = None

    def add(self, array: Any) -> None:
        block = None if self.values is not None else _vector_block(array)
        if block is not None and self.matrix is None and self.filled == 0:
            self.matrix = np.empty((self.rows, block.shape[1]), dtype=np.float32)
        if block is not None and self.matrix is not None and block.shape[1] == self.matrix.shape[1]:
            self.matrix[self.filled : self.filled + len(block)] = block
            self.filled += len(block)
            return
        if self.values is None:
            done = self.matrix[: self.filled] if self.matrix is not None else []
            self.values = [row.tolist() for row in done]
            self.matrix = None
        self.values.extend(array.to_pylist())
        self.filled += len(array)

    def finish(self) -> Sequence[Any]:
        if self.values is not None:
            return self.values
        if self.matrix is None:
            return []
        return self.matrix[: self.filled]


def _vector_block(array: Any) -> np.ndarray | None:
    """A batch of a Parquet column as a 2-D float32 array when it holds vectors of numbers
    with no nulls and one length; else None."""
    import pyarrow as pa

    kind = array.type
    if not (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind)) or array.null_count:
        return None
    inner = kind.value_type
    if not (pa.types.is_floating(inner) or pa.types.is_integer(inner)):
        return None
    values = array.flatten()
    width = kind.list_size if pa.types.is_fixed_size_list(kind) else None
    if width is None and len(array):
        lengths = np.diff(np.asarray(array.offsets))
        width = int(lengths[0]) if (lengths == lengths[0]).all() else None
    if not width or values.null_count or len(values) != width * len(array):
        return None
    return values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)


def read_table(
    path: str | os.PathLike[str],
    *,
    columns: Iterable[str] | None = None,
    format: str | None = None,
) -> Table:
    """Read a JSON Lines, JSON (array of objects), CSV, TSV or Parquet file into a
    :class:`Table`; the format comes from the extension unless ``format`` is given.

    ``columns`` limits what is kept in memory (all columns are still listed, so a missing one
    is reported with the ones that exist). Errors are :class:`~faultmap.DataError` naming the
    file and the line: a missing file, invalid JSON, a CSV row with the wrong number of
    fields, text that is not UTF-8. Blank lines are skipped.

    Example:
        >>> table = read_table("evals.jsonl", columns=["prompt", "score"])   # doctest: +SKIP
        >>> table.numbers("score", bounds=(0, 1))                             # doctest: +SKIP
    """
    file = Path(path)
    name = str(path)
    if not file.exists():
        raise DataError(f"No such file: '{name}'; check the path.")
    if not file.is_file():
        raise DataError(f"'{name}' is not a file; pass the path of a data file.")
    kind = _format_of(file, format)
    wanted = None if columns is None else set(columns)
    try:
        if kind == "jsonl":
            return _read_jsonl(file, name, wanted)
        if kind == "json":
            return _read_json_array(file, name, wanted)
        if kind in ("csv", "tsv"):
            return _read_csv(file, name, wanted, "," if kind == "csv" else "\t")
        return _read_parquet(file, name, wanted)
    except OSError as exc:
        raise DataError(f"'{name}' cannot be read ({exc.strerror or exc}).") from None
