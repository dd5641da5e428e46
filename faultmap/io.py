"""Read faultmap's inputs from files and data frames, by column name.

:func:`read_table` reads JSON Lines, CSV/TSV or Parquet into a :class:`Table`;
:meth:`Table.from_frame` wraps a pandas DataFrame (or any frame with ``.columns`` and
``frame[name]``), a pyarrow Table or a dict of columns. A :class:`Table` hands out checked
columns (:meth:`Table.text`, :meth:`Table.numbers`, :meth:`Table.vectors`) whose errors name
the column, the setting that chose it and the offending row: ``line N`` (1-based, as an
editor shows it) for JSON Lines and CSV, ``row i`` (0-based position) for Parquet and data
frames. :func:`analysis_inputs` turns columns into the arguments of
:meth:`faultmap.SliceAnalyzer.analyze`. :func:`read_metadata` reads metadata columns (a dict
of columns or a data frame) for the cohort and hybrid-slice analyses.

JSON Lines and CSV are read with the standard library; Parquet needs pyarrow
(``pip install 'faultmap[io]'``), imported only when a Parquet file is read.

Example:
    >>> from faultmap.io import analysis_inputs, read_table
    >>> table = read_table("evals.csv")                                   # doctest: +SKIP
    >>> inputs = analysis_inputs(table, score_col="score")                # doctest: +SKIP
    >>> report = SliceAnalyzer().analyze(**inputs)                        # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faultmap._validation import is_missing
from faultmap.exceptions import DataError

__all__ = ["FORMATS", "Table", "analysis_inputs", "read_metadata", "read_table"]

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
_MISSING = object()  # a JSON Lines row without the key
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

        def fetch(column: str) -> Sequence[Any]:
            values = frame[by_text[column]]
            for method in ("to_pylist", "tolist", "to_list"):
                if callable(getattr(values, method, None)):
                    return getattr(values, method)()
            return list(values)

        return cls(source=source, columns=tuple(by_text), data={}, _fetch=fetch)

    # -- checked columns ---------------------------------------------------------------
    def where(self, row: int) -> str:
        """How messages name the ``row``-th row: ``line N`` in a file, else ``row i``."""
        if self.line_numbers is not None:
            return f"line {self.line_numbers[row]}"
        return f"row {row}"

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
        held = "has no value" if value is _MISSING else f"holds {_describe(value)}"
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
            if value is _MISSING or _is_null(value):
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


# -- files ---------------------------------------------------------------------------------


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
    """Columns of JSON objects: every key in first-seen order, values (``_MISSING`` where a
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
                    data[key] = [_MISSING] * len(numbers)
        for key, values in data.items():
            values.append(record.get(key, _MISSING))
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


# -- analysis arguments --------------------------------------------------------------------


def _option(name: str, cli: bool) -> str:
    return f"--{name.replace('_', '-')}" if cli else name


def _analysis_columns(
    table: Table,
    *,
    prompt_col: str,
    response_col: str | None,
    score_col: str | None,
    reference_col: str | None,
    embedding_col: str | None,
    metadata_cols: Sequence[str] = (),
    cli: bool = False,
) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "prompts": table.text(prompt_col, option=_option("prompt_col", cli)),
    }
    if response_col is None:
        inputs["responses"] = [""] * len(inputs["prompts"])
    else:
        inputs["responses"] = table.text(
            response_col, option=_option("response_col", cli), allow_empty=True
        )
    if score_col is not None:
        inputs["scores"] = table.numbers(
            score_col, option=_option("score_col", cli), bounds=(0.0, 1.0)
        )
    if reference_col is not None:
        inputs["references"] = table.text(reference_col, option=_option("reference_col", cli))
    if embedding_col is not None:
        inputs["embeddings"] = table.vectors(embedding_col, option=_option("embedding_col", cli))
    if metadata_cols:
        option = _option("metadata_col" if cli else "metadata_cols", cli)
        inputs["metadata"] = {c: list(table._column(c, option)) for c in metadata_cols}
    return inputs


def analysis_inputs(
    source: Any,
    *,
    prompt_col: str = "prompt",
    response_col: str | None = "response",
    score_col: str | None = None,
    reference_col: str | None = None,
    embedding_col: str | None = None,
    metadata_cols: Sequence[str] = (),
) -> dict[str, Any]:
    """The keyword arguments of :meth:`~faultmap.SliceAnalyzer.analyze` from named columns.

    ``source`` is a :class:`Table`, a file path (see :func:`read_table`), a pandas
    DataFrame, a pyarrow Table or a dict of columns. ``response_col=None`` gives empty
    responses (enough with precomputed scores; responses only show in examples).
    ``score_col`` (scores in [0, 1]) is mode 1, ``reference_col`` mode 2, neither mode 3;
    ``embedding_col`` holds precomputed prompt vectors; ``metadata_cols`` become the
    ``metadata=`` of :meth:`~faultmap.SliceAnalyzer.analyze` (hybrid slices).

    Example:
        >>> inputs = analysis_inputs(df, score_col="score")          # doctest: +SKIP
        >>> report = SliceAnalyzer().analyze(**inputs)                # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)):
        wanted = [prompt_col, response_col, score_col, reference_col, embedding_col]
        wanted += list(metadata_cols)
        table = read_table(source, columns=[c for c in wanted if c is not None])
    elif isinstance(source, Table):
        table = source
    else:
        table = Table.from_frame(source)
    return _analysis_columns(
        table,
        prompt_col=prompt_col,
        response_col=response_col,
        score_col=score_col,
        reference_col=reference_col,
        embedding_col=embedding_col,
        metadata_cols=tuple(metadata_cols),
    )


# -- metadata columns ----------------------------------------------------------------------


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
            pairs.append((text, values.tolist() if hasattr(values, "tolist") else values))
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
