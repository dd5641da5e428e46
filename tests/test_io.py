"""faultmap.io: files and data frames by column name, with errors that point at the row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from faultmap import DataError, SliceAnalyzer
from faultmap.io import Table, analysis_inputs, read_metadata, read_table

# -- files ---------------------------------------------------------------------------------

TRICKY = 'He said, "add 2, then 3"\nand stopped.'  # comma, quotes and a line break


@pytest.fixture(scope="module")
def rows(sample_rows):
    """40 real rows; row 3's prompt holds a comma, quotes and a line break."""
    picked = [dict(r) for r in sample_rows[:40]]
    picked[3]["prompt"] = TRICKY
    return picked


def _write_all(rows: list[dict], folder) -> dict[str, object]:
    frame = pd.DataFrame(rows)
    paths = {
        "jsonl": folder / "d.jsonl",
        "json": folder / "d.json",
        "csv": folder / "d.csv",
        "tsv": folder / "d.tsv",
        "parquet": folder / "d.parquet",
    }
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    paths["json"].write_text(json.dumps(rows), encoding="utf-8")
    frame.to_csv(paths["csv"], index=False)
    frame.to_csv(paths["tsv"], index=False, sep="\t")
    frame.to_parquet(paths["parquet"], index=False)
    return paths


def test_every_format_reads_the_same_columns(rows, tmp_path):
    paths = _write_all(rows, tmp_path)
    for kind, path in paths.items():
        table = read_table(path)
        assert table.columns == ("id", "task", "prompt", "response", "reference", "score"), kind
        assert len(table) == 40
        assert table.text("prompt") == [r["prompt"] for r in rows], kind
        assert table.text("response", allow_empty=True) == [r["response"] for r in rows], kind
        assert table.numbers("score").tolist() == [r["score"] for r in rows], kind
    only = read_table(paths["csv"], columns=["prompt"])
    assert set(only.data) == {"prompt"} and "score" in only.columns  # still listed


def test_jsonl_errors_give_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = ['{"prompt": "a", "score": 1}', "", '{"prompt": "b", "score": 0}', "{'prompt': 1}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl, line 4: not valid JSON"):
        read_table(path)
    path.write_text('{"prompt": "a"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2: expected a JSON object"):
        read_table(path)
    path.write_text('{"prompt": "a", "score": 1}\n\n{"prompt": "b"}\n', encoding="utf-8")
    table = read_table(path)
    with pytest.raises(DataError, match=r"line 3: column 'score' has no value, not a number"):
        table.numbers("score", option="--score-col")
    path.write_bytes(b'{"prompt": "a"}\n{"prompt": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"line 2: not UTF-8"):
        read_table(path)


def test_csv_errors_give_the_physical_line_of_the_row(tmp_path):
    path = tmp_path / "d.csv"
    # Line 1 header, lines 2-3 one quoted two-line row, line 4 fine, line 5 a bad score.
    path.write_text('prompt,score\n"first\nprompt",0.5\nsecond,1\nthird,abc\n', encoding="utf-8")
    table = read_table(path)
    assert table.text("prompt") == ["first\nprompt", "second", "third"]
    with pytest.raises(DataError, match=r"d\.csv, line 5: column 'score' holds 'abc', not a"):
        table.numbers("score")
    path.write_text('prompt,score\n"a, b",1\nc, d,0\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 3: 3 fields but the header has 2; quote"):
        read_table(path)
    path.write_text("prompt,prompt\na,b\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"'prompt' appears twice"):
        read_table(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"is empty"):
        read_table(path)


def test_values_are_checked_with_the_row_named(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("prompt,response,score\na,,1.5\n,x,0\nc,y,TRUE\n", encoding="utf-8")
    table = read_table(path)
    assert table.text("response", allow_empty=True) == ["", "x", "y"]
    assert table.numbers("score").tolist() == [1.5, 0.0, 1.0]  # TRUE -> 1
    with pytest.raises(DataError, match=r"line 2: column 'score' holds 1.5, outside \[0, 1\]"):
        table.numbers("score", bounds=(0.0, 1.0))
    with pytest.raises(DataError, match=r"line 3: column 'prompt' holds '', not non-empty"):
        table.text("prompt")
    with pytest.raises(DataError) as err:
        table.text("question", option="--prompt-col")
    message = str(err.value)
    assert "no column 'question' (from --prompt-col)" in message
    assert "'prompt', 'response', 'score'" in message


def test_missing_unknown_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"No such file: '.*nope\.csv'"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"is not a file"):
        read_table(tmp_path)
    (tmp_path / "d.txt").write_text("prompt\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Cannot tell the format .* \.jsonl"):
        read_table(tmp_path / "d.txt")
    assert read_table(tmp_path / "d.txt", format="csv").text("prompt") == []
    (tmp_path / "d.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"not a readable Parquet file"):
        read_table(tmp_path / "d.parquet")


def test_parquet_rows_are_counted_from_zero(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"prompt": ["a", "b", None], "score": [1.0, None, 0.0]}), path)
    table = read_table(path)
    with pytest.raises(DataError, match=r"d\.parquet, row 1: column 'score' holds None"):
        table.numbers("score")
    with pytest.raises(DataError, match=r"row 2: column 'prompt' holds None, not text"):
        table.text("prompt")


def test_vectors_from_lists_and_json_text(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"v": [1, 0]}\n{"v": "[0, 1]"}\n{"v": [1, 2, 3]}\n', encoding="utf-8")
    table = read_table(path)
    with pytest.raises(DataError, match=r"line 3: column 'v' holds \[1, 2, 3\], not 2 numbers"):
        table.vectors("v")
    assert Table.from_frame({"v": [[1, 0], "[0, 1]"]}).vectors("v").dtype == np.float32


def test_vector_columns_are_packed_as_they_are_read(tmp_path):
    """A column of equal-length number lists comes back as one float32 matrix, read in
    batches, from JSON Lines and from Parquet (fixed-size and plain lists) alike."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((20_000, 8)).astype(np.float32)
    prompts = [f"p{i}" for i in range(len(vectors))]
    jsonl = tmp_path / "v.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"prompt": p, "v": v.tolist()}) + "\n"
            for p, v in zip(prompts, vectors, strict=True)
        ),
        encoding="utf-8",
    )
    fixed, plain = tmp_path / "fixed.parquet", tmp_path / "plain.parquet"
    flat = pa.array(vectors.reshape(-1))
    pq.write_table(
        pa.table({"prompt": prompts, "v": pa.FixedSizeListArray.from_arrays(flat, 8)}),
        fixed,
        row_group_size=3_000,
    )
    pq.write_table(pa.table({"prompt": prompts, "v": list(vectors)}), plain)
    for path in (jsonl, fixed, plain):
        table = read_table(path, columns=["prompt", "v"])
        assert isinstance(table.data["v"], np.ndarray), path.name
        np.testing.assert_array_equal(table.vectors("v", option="--embedding-col"), vectors)
        assert table.text("prompt") == prompts


def test_a_row_that_does_not_fit_unpacks_the_column_and_is_named(tmp_path):
    path = tmp_path / "v.jsonl"
    lines = [json.dumps({"v": [float(i), 1.0]}) for i in range(9_000)]
    lines[8_500] = json.dumps({"v": [1.0, "x"]})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 8501: column 'v' holds \[1.0, 'x'\]"):
        read_table(path).vectors("v")
    broken = tmp_path / "v.parquet"
    pq.write_table(pa.table({"v": [[1.0, 0.0], None, [0.0, 1.0]]}), broken)
    with pytest.raises(DataError, match=r"row 1: column 'v' holds None"):
        read_table(broken).vectors("v")


# -- data frames ---------------------------------------------------------------------------


def test_frames_of_every_kind():
    data = {"prompt": ["a", "b", "c"], "score": [1.0, 0.0, 0.5]}
    for frame in (
        data,
        {k: np.asarray(v) for k, v in data.items()},
        pd.DataFrame(data),
        pa.table(data),
    ):
        table = Table.from_frame(frame)
        assert table.columns == ("prompt", "score") and len(table) == 3
        assert table.text("prompt") == ["a", "b", "c"]
        assert table.numbers("score").tolist() == [1.0, 0.0, 0.5]
    with pytest.raises(DataError, match=r"Expected a DataFrame, a pyarrow Table .* got list"):
        Table.from_frame([1, 2])


def test_frame_missing_values_name_the_row_position():
    frame = pd.DataFrame(
        {"prompt": pd.array(["a", pd.NA, "c"], dtype="string"), "score": [1.0, 0.0, np.nan]},
        index=[10, 11, 12],
    )
    table = Table.from_frame(frame)
    with pytest.raises(DataError, match=r"The data frame, row 2: column 'score' holds nan"):
        table.numbers("score", option="score_col")
    with pytest.raises(DataError, match=r"row 1: column 'prompt' holds <NA>, not text"):
        table.text("prompt")


# -- the analysis API on lists, arrays, Series and frames -----------------------------------


@pytest.fixture(scope="module")
def real(sample_rows):
    """300 real rows and their all-MiniLM-L6-v2 vectors (through the session's cache)."""
    from faultmap.embedding import CachedEmbedder, SentenceTransformerEmbedder

    picked = sample_rows[:300]
    vectors = CachedEmbedder(SentenceTransformerEmbedder(max_text_chars=2000)).embed(
        [r["prompt"] for r in picked]
    )
    return picked, vectors


def _essence(report) -> tuple:
    return (
        [(s.name, s.sample_indices, s.prompt_digests) for s in report.slices],
        report.cluster_labels,
        report.total_failures,
    )


def test_lists_arrays_and_series_give_the_same_report(real):
    picked, vectors = real
    prompts = [r["prompt"] for r in picked]
    responses = [r["response"] for r in picked]
    scores = [r["score"] for r in picked]
    analyzer = SliceAnalyzer()
    base = analyzer.analyze(prompts, responses, scores=scores, embeddings=vectors)
    assert base.num_significant > 0
    as_arrays = analyzer.analyze(
        np.asarray(prompts),
        np.asarray(responses, dtype=object),
        np.asarray(scores),
        embeddings=vectors,
    )
    as_series = analyzer.analyze(
        pd.Series(prompts, index=range(1000, 1300)),  # a non-default index changes nothing
        pd.Series(responses, dtype="string"),
        pd.Series(scores),
        embeddings=list(vectors),
    )
    assert _essence(as_arrays) == _essence(base) == _essence(as_series)


def test_analyze_frame_by_column_names(real, tmp_path):
    picked, vectors = real
    frame = pd.DataFrame(
        {
            "question": [r["prompt"] for r in picked],
            "answer": [r["response"] for r in picked],
            "judge": [r["score"] for r in picked],
            "vec": list(vectors),
        }
    )
    analyzer = SliceAnalyzer()
    base = analyzer.analyze(
        frame["question"], frame["answer"], scores=frame["judge"], embeddings=vectors
    )
    by_name = analyzer.analyze_frame(
        frame, prompt_col="question", response_col="answer", score_col="judge", embedding_col="vec"
    )
    assert _essence(by_name) == _essence(base)
    # The same from a file, and with no responses at all (they only show in examples).
    frame.drop(columns="vec").to_parquet(tmp_path / "d.parquet")
    from_file = analyzer.analyze_frame(
        tmp_path / "d.parquet", "question", None, "judge", embeddings=vectors
    )
    assert _essence(from_file) == _essence(base)
    assert all(e["response"] == "" for s in from_file.slices for e in s.examples)
    with pytest.raises(DataError, match=r"no column 'score' \(from score_col\).*'judge'"):
        analyzer.analyze_frame(frame, "question", "answer", "score")


def test_analysis_inputs_modes(tmp_path):
    frame = {"p": ["a", "b"], "r": ["x", None], "ref": ["x", "y"], "s": [1, 0]}
    inputs = analysis_inputs(frame, prompt_col="p", response_col="r", score_col="s")
    assert inputs["prompts"] == ["a", "b"] and inputs["responses"] == ["x", ""]
    assert inputs["scores"].tolist() == [1.0, 0.0] and "references" not in inputs
    inputs = analysis_inputs(frame, prompt_col="p", response_col="r", reference_col="ref")
    assert inputs["references"] == ["x", "y"] and "scores" not in inputs
    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "score": 2}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 1: column 'score' holds 2, outside \[0, 1\]"):
        analysis_inputs(tmp_path / "d.jsonl", score_col="score", response_col=None)


def test_metadata_columns_become_the_metadata_argument(rows, tmp_path):
    paths = _write_all(
        [{**r, "route": "api" if i % 3 else "web"} for i, r in enumerate(rows)], tmp_path
    )
    for fmt in ("jsonl", "csv", "parquet"):
        inputs = analysis_inputs(paths[fmt], score_col="score", metadata_cols=["route", "task"])
        assert set(inputs["metadata"]) == {"route", "task"}
        assert inputs["metadata"]["route"][:3] == ["web", "api", "api"]
        assert inputs["metadata"]["task"] == [r["task"] for r in rows]
    with pytest.raises(DataError, match=r"no column 'lang' \(from metadata_cols\)"):
        analysis_inputs(paths["jsonl"], score_col="score", metadata_cols=["lang"])


def test_read_metadata_reads_columns_and_names_bad_ones():
    from faultmap.cohorts import read_metadata as old_path

    assert old_path is read_metadata
    frame = pd.DataFrame({"route": ["a", None], 3: [1.5, np.nan]})
    columns = read_metadata(frame)
    assert list(columns) == ["route", "3"]  # names as text
    assert columns["route"][0] == "a" and columns["3"][0] == 1.5
    assert pd.isna(columns["route"][1]) and pd.isna(columns["3"][1])  # missing values kept
    assert read_metadata({"lang": np.array(["en", "de"])}, 2) == {"lang": ["en", "de"]}
    with pytest.raises(DataError, match="metadata column 0 has a name that is missing"):
        read_metadata({float("nan"): [1, 2]})
    with pytest.raises(DataError, match="more than one column named '1'"):
        read_metadata({1: [1, 2], "1": [3, 4]})
    with pytest.raises(DataError, match=r"has 2 values but there are 3 prompts"):
        read_metadata({"route": ["a", "b"]}, 3, of="prompts")
