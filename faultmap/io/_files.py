"""Read JSON Lines, JSON, CSV/TSV and Parquet files into a :class:`Table`: the standard
library for text formats, pyarrow (imported when a Parquet file is read) for Parquet."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

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


def _collect(
    records: Iterable[tuple[int, Any]],
    name: str,
    wanted: set[str] | None,
    unit: str,
) -> tuple[list[str], dict[str, list[Any]], list[int]]:
    """Columns of JSON objects: every key in first-seen order, values (``MISSING`` where a
    row lacks a key) for the wanted keys, and each row's number."""
    columns: dict[str, None] = {}
    data: dict[str, list[Any]] = {}
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
                    data[key] = [MISSING] * len(numbers)
        for key, values in data.items():
            values.append(record.get(key, MISSING))
        numbers.append(number)
    return list(columns), data, numbers


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
    text = path.read_text(encoding="utf-8-sig")
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


def _read_csv(path: Path, name: str, wanted: set[str] | None, delimiter: str) -> Table:
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
    from faultmap._optional import require

    pq = require("pyarrow.parquet", extra="io", purpose="reading Parquet files")
    try:
        parquet = pq.ParquetFile(path)
        columns = list(parquet.schema_arrow.names)
        read = columns if wanted is None else [c for c in columns if c in wanted]
        data = parquet.read(columns=read).to_pydict()
    except Exception as exc:  # pyarrow raises its own ArrowInvalid / OSError types
        raise DataError(f"{name} is not a readable Parquet file ({exc}).") from None
    return Table(name, tuple(columns), data)


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
