"""Streaming ``analyze_frame`` over Parquet (issue 15): the same report as the in-memory path
on the same data, per-row lists optional, errors naming the file and row, bounded reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faultmap import SliceAnalyzer
from faultmap.analyses import stream
from faultmap.clustering.hdbscan import HDBSCANClusterer, Placer
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.reports.models import AnalysisReport

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

PLANTED_TASKS = 2


def _table(real_subset: dict, rows: slice = slice(None)) -> object:
    tasks = real_subset["tasks"]
    planted = np.isin(tasks, sorted(set(tasks))[:PLANTED_TASKS])
    fails = np.random.default_rng(0).random(len(tasks)) < np.where(planted, 0.6, 0.05)
    vectors = np.asarray(real_subset["vectors"], dtype=np.float32)[rows]
    return pa.table(
        {
            "prompt": real_subset["prompts"][rows],
            "response": [f"answer {i}" for i in range(len(tasks))][rows],
            "score": np.where(fails, 0.1, 0.9)[rows],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), 384),
        }
    )


@pytest.fixture(scope="module")
def parquet_file(real_subset, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "rows.parquet"
    pq.write_table(_table(real_subset), path)
    return path


def _run(path: object, analyzer: SliceAnalyzer | None = None, **kwargs) -> AnalysisReport:
    analyzer = analyzer or SliceAnalyzer(embedding_cache=False)
    return analyzer.analyze_frame(path, score_col="score", embedding_col="embedding", **kwargs)


def _without_run_facts(report: AnalysisReport) -> dict:
    data = report.to_dict()
    for key in ("timings_s", "streaming"):
        data["metadata"].pop(key, None)
    return data


@pytest.mark.slow
def test_streamed_report_is_the_in_memory_report(parquet_file) -> None:
    whole = _run(parquet_file, streaming=False)
    streamed = _run(parquet_file, streaming=True, batch_rows=97)
    assert "streaming" not in whole.metadata
    assert streamed.metadata["streaming"]["batch_rows"] == 97
    assert streamed.metadata["streaming"]["fit_rows"] == whole.total_prompts
    assert whole.num_significant >= PLANTED_TASKS
    # every field: slices, counts, p-values, modes, names, examples, centroids, map
    assert _without_run_facts(streamed) == _without_run_facts(whole)


@pytest.mark.slow
def test_fitted_on_a_sample_the_labels_are_analyze_s(parquet_file) -> None:
    """Above max_fit_points both paths fit the same sample and place the other rows the
    way approximate_predict does; the projection sums the same blocks."""
    analyzer = SliceAnalyzer(
        embedding_cache=False,
        clustering_method=HDBSCANClusterer(n_components=30, max_fit_points=400),
    )
    whole = _run(parquet_file, analyzer, streaming=False)
    streamed = _run(parquet_file, analyzer, streaming=True, batch_rows=100)
    assert streamed.metadata["streaming"]["fit_rows"] == 400
    assert whole.num_significant > 0
    assert _without_run_facts(streamed) == _without_run_facts(whole)


@pytest.mark.slow
def test_without_row_lists_the_report_says_so_and_keeps_int32_labels(parquet_file) -> None:
    from faultmap.reports import validate_report
    from faultmap.reports.diff import diff_reports

    whole = _run(parquet_file, streaming=False)
    lean = _run(parquet_file, streaming=True, batch_rows=256, keep_row_lists=False)
    assert not lean.row_lists_kept and whole.row_lists_kept
    assert lean.metadata["row_lists_kept"] is False
    assert lean.cluster_labels is None and lean.row_scores is None
    assert lean.metadata.get("prompt_digests") is None
    for item in [*lean.slices, *lean.failure_modes]:
        assert item.sample_indices is None and item.prompt_digests is None
    labels = lean.label_array()
    assert labels.dtype == np.int32
    assert labels.tolist() == whole.cluster_labels
    assert whole.label_array().dtype == np.int32
    for s, t in zip(lean.slices, whole.slices, strict=True):
        assert (s.size, s.num_failures, s.p_value, s.name) == (
            t.size,
            t.num_failures,
            t.p_value,
            t.name,
        )
        assert int((labels == s.cluster_id).sum()) == s.size
    # JSON stays valid and loadable, and says what it lacks
    text = lean.to_json()
    assert validate_report(json.loads(text)) == "analysis"
    again = AnalysisReport.from_json(text)
    assert again.row_lists_kept is False
    assert np.array_equal(again.label_array(), labels)
    assert again.slices[0].sample_indices is None
    with pytest.raises(DataError, match="keep_row_lists=True"):
        diff_reports(lean, whole)
    frame = lean.to_frame()
    assert len(frame) == lean.total_prompts


@pytest.mark.slow
def test_reads_only_batches_of_the_needed_columns(parquet_file, monkeypatch) -> None:
    import faultmap.io._files as files

    calls: list[tuple[tuple[str, ...], int]] = []
    real = stream.parquet_batches

    def counted(paths, columns, *, batch_rows):
        for batch in real(paths, columns, batch_rows=batch_rows):
            calls.append((tuple(columns), len(batch)))
            yield batch

    def never(*args, **kwargs):
        raise AssertionError("the whole table was read")

    monkeypatch.setattr(stream, "parquet_batches", counted)
    monkeypatch.setattr(files, "_read_parquet", never)
    report = _run(parquet_file, streaming=True, batch_rows=128, response_col=None)
    n = report.total_prompts
    assert max(size for _, size in calls) <= 128
    assert sum(size for _, size in calls) == 2 * n  # two passes, every row once each
    assert {c for cols, _ in calls for c in cols} == {"prompt", "score", "embedding"}


@pytest.mark.slow
def test_null_audit_streams(parquet_file) -> None:
    whole = _run(parquet_file, streaming=False, null_runs=20)
    streamed = _run(parquet_file, streaming=True, batch_rows=300, null_runs=20)
    assert streamed.null_audit == whole.null_audit
    assert streamed.null_audit.runs == 20


@pytest.mark.slow
def test_a_folder_of_files_streams_as_one(real_subset, parquet_file, tmp_path) -> None:
    table = _table(real_subset)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), tmp_path / "a.parquet")
    pq.write_table(table.slice(half), tmp_path / "b.parquet")
    (tmp_path / "notes.txt").write_text("not data")
    from_folder = _run(tmp_path, batch_rows=200)  # "auto": a folder is streamed
    one = _run(parquet_file, streaming=True, batch_rows=200)
    assert from_folder.metadata["streaming"]["files"] == [
        str(tmp_path / "a.parquet"),
        str(tmp_path / "b.parquet"),
    ]
    assert [(s.size, s.p_value) for s in from_folder.slices] == [
        (s.size, s.p_value) for s in one.slices
    ]


def test_small_files_are_read_whole_by_default(real_subset, tmp_path) -> None:
    path = tmp_path / "small.parquet"
    pq.write_table(_table(real_subset, slice(0, 300)), path)
    report = _run(path)
    assert "streaming" not in report.metadata
    assert stream.STREAM_AUTO_ROWS == 1_000_000


def _bad_file(real_subset, tmp_path: Path, name: str, column: str, row: int, value) -> Path:
    table = _table(real_subset, slice(0, 600))
    values = table.column(column).to_pylist()
    values[row] = value
    kind = table.schema.field(column).type
    table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, kind))
    path = tmp_path / name
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("column", "row", "value", "message"),
    [
        ("embedding", 433, [float("nan")] * 384, "NaN or infinite"),
        ("embedding", 17, [0.0] * 384, "all-zero"),
        ("score", 321, 1.5, "outside \\[0, 1\\]"),
        ("score", 5, None, "has no value"),
        ("prompt", 42, "   ", "non-empty text"),
    ],
)
def test_a_bad_row_is_named_by_file_and_row(real_subset, tmp_path, column, row, value, message):
    path = _bad_file(real_subset, tmp_path, "bad.parquet", column, row, value)
    with pytest.raises(DataError, match=message) as caught:
        _run(path, streaming=True, batch_rows=100)
    assert f"{path}, row {row}" in str(caught.value)


def test_a_file_of_another_width_is_named(real_subset, tmp_path) -> None:
    pq.write_table(_table(real_subset, slice(0, 300)), tmp_path / "a.parquet")
    other = np.ones((300, 8), dtype=np.float32) / np.sqrt(8)
    table = _table(real_subset, slice(300, 600))
    table = table.set_column(
        3, "embedding", pa.FixedSizeListArray.from_arrays(pa.array(other.reshape(-1)), 8)
    )
    pq.write_table(table, tmp_path / "b.parquet")
    with pytest.raises(DataError, match="8 numbers") as caught:
        _run(tmp_path, batch_rows=100)
    assert f"{tmp_path / 'b.parquet'}, row 0" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"stability_runs": 2}, "stability_runs"),
        ({"metadata_cols": ["response"]}, "metadata_cols"),
        ({"embedding_col": None}, "embedding_col"),
        ({"score_col": None}, "score_col"),
        ({"scorer": object()}, "scorer"),
    ],
)
def test_what_cannot_stream_is_named(parquet_file, kwargs, named) -> None:
    args = {"score_col": "score", "embedding_col": "embedding", **kwargs}
    with pytest.raises(ConfigurationError, match=named):
        SliceAnalyzer(embedding_cache=False).analyze_frame(parquet_file, streaming=True, **args)


def test_split_confirmation_and_other_formats_are_refused(parquet_file, tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="confirm='split'"):
        _run(parquet_file, SliceAnalyzer(confirm="split"), streaming=True)
    csv = tmp_path / "rows.csv"
    csv.write_text("prompt,score\na,1\n")
    with pytest.raises(ConfigurationError, match="Parquet"):
        _run(csv, streaming=True)
    with pytest.raises(ConfigurationError, match="keep_row_lists"):
        _run(parquet_file, streaming=False, keep_row_lists=False)


def test_placer_gives_approximate_predict_s_labels(real_subset) -> None:
    import hdbscan

    from faultmap.clustering.reduce import pca_reduce

    x = pca_reduce(np.asarray(real_subset["vectors"], dtype=np.float32), 30)
    model = HDBSCANClusterer().fit_sample(x[::2], 10)
    expected = hdbscan.approximate_predict(model, x.astype(np.float64))[0]
    assert np.array_equal(Placer(model).place(x), expected)
    assert Placer(model).place(x).dtype == np.int32


def test_a_partitioned_folder_is_read_with_its_subfolders(tmp_path) -> None:
    # Both streamed readers (analyze_frame's and audit_coverage_frame's) find the files of a
    # partitioned data set (day=.../part-0.parquet) in path order, and only Parquet files.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from faultmap.io._coverage_batches import is_parquet_source, parquet_files
    from faultmap.io._stream import parquet_paths

    for day in ("day=2", "day=1"):
        (tmp_path / day).mkdir()
        pq.write_table(pa.table({"x": [1]}), tmp_path / day / "part-0.parquet")
    (tmp_path / "day=1" / "notes.txt").write_text("not data")
    expected = (tmp_path / "day=1" / "part-0.parquet", tmp_path / "day=2" / "part-0.parquet")
    assert parquet_paths(tmp_path) == expected
    assert is_parquet_source(tmp_path) and parquet_files(tmp_path, "production") == list(expected)
    assert not is_parquet_source(tmp_path / "day=1" / "notes.txt")
