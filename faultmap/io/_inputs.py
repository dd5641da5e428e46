"""Named columns of a table as the arguments of :meth:`faultmap.SliceAnalyzer.analyze`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from faultmap.io._files import read_table
from faultmap.io._table import Table

__all__ = ["analysis_columns", "analysis_inputs"]


def _option(name: str, cli: bool) -> str:
    return f"--{name.replace('_', '-')}" if cli else name


def analysis_columns(
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
    """The checked columns as the keyword arguments of ``analyze``; with ``cli``, messages
    name the settings as command-line options (``--score-col``)."""
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
    return analysis_columns(
        table,
        prompt_col=prompt_col,
        response_col=response_col,
        score_col=score_col,
        reference_col=reference_col,
        embedding_col=embedding_col,
        metadata_cols=tuple(metadata_cols),
    )
