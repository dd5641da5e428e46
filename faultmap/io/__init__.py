"""Read faultmap's inputs from files and data frames, by column name.

:func:`read_table` reads JSON Lines, CSV/TSV or Parquet into a :class:`Table`;
:meth:`Table.from_frame` wraps a pandas DataFrame (or any frame with ``.columns`` and
``frame[name]``), a pyarrow Table or a dict of columns. A :class:`Table` hands out checked
columns (:meth:`Table.text`, :meth:`Table.numbers`, :meth:`Table.vectors`) whose errors name
the column, the setting that chose it and the offending row: ``line N`` (1-based, as an
editor shows it) for JSON Lines and CSV, ``row i`` (0-based position) for Parquet and data
frames. :func:`analysis_inputs` turns columns into the arguments of
:meth:`faultmap.SliceAnalyzer.analyze`. :func:`read_traces` reads prompts, responses and
scores from OpenTelemetry GenAI spans and Langfuse or Phoenix exports.
:func:`read_metadata` reads metadata columns (a dict of columns or a data frame) for the
cohort and hybrid-slice analyses.

JSON Lines and CSV are read with the standard library; Parquet needs pyarrow
(``pip install 'faultmap[io]'``), imported only when a Parquet file is read.

Example:
    >>> from faultmap.io import analysis_inputs, read_table
    >>> table = read_table("evals.csv")                                   # doctest: +SKIP
    >>> inputs = analysis_inputs(table, score_col="score")                # doctest: +SKIP
    >>> report = SliceAnalyzer().analyze(**inputs)                        # doctest: +SKIP
"""

from faultmap.io._files import FORMATS, read_table
from faultmap.io._inputs import analysis_inputs
from faultmap.io._metadata import read_metadata
from faultmap.io._table import Table
from faultmap.io._traces import TRACE_FORMATS, read_traces

__all__ = [
    "FORMATS",
    "TRACE_FORMATS",
    "Table",
    "analysis_inputs",
    "read_metadata",
    "read_table",
    "read_traces",
]
