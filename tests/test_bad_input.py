"""Fault injection for issue 14: every bad input is refused up front with a faultmap error
that names the argument, row or field (or repaired and counted), nothing is overwritten.

No embedding model is loaded: analyses get ``embeddings=`` or a :class:`FakeEmbedder`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from faultmap import (
    AnalysisReport,
    ComparisonReport,
    CoverageReport,
    DataError,
    FaultmapWarning,
    SliceAnalyzer,
)
from faultmap._validation import as_text_list, repair_text
from faultmap.cli import main
from faultmap.clustering import FixedLabels
from faultmap.io import read_table
from faultmap.reports import validate_report
from faultmap.reports.diff import diff_reports
from faultmap.testing import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
N = 24
HALF_EMOJI = "\ud83d"  # the first half of U+1F600's UTF-16 pair, alone


def _data(n: int = N) -> dict:
    rng = np.random.default_rng(0)
    return {
        "prompts": [f"question number {i} about topic {'ab'[i % 2]}" for i in range(n)],
        "responses": [f"answer {i}" for i in range(n)],
        "scores": [0.0 if (i % 2 == 0 and i % 3 != 0) else 1.0 for i in range(n)],
        "embeddings": rng.normal(size=(n, 4)),
    }


def _analyzer(n: int = N, **kwargs: object) -> SliceAnalyzer:
    labels = ["a" if i % 2 == 0 else "b" for i in range(n)]
    return SliceAnalyzer(clustering_method=FixedLabels(labels), min_slice_size=5, **kwargs)


# -- point 3: only ordered sequences; text checked (and repaired) up front -------------------

UNORDERED = [
    ("a set", set),
    ("a frozenset", frozenset),
    ("dict keys", lambda xs: dict.fromkeys(xs).keys()),
    ("a dict", lambda xs: dict.fromkeys(xs)),
    ("a generator", lambda xs: (x for x in xs)),
    ("an iterator", iter),
]


@pytest.mark.parametrize(("label", "make"), UNORDERED, ids=[u[0] for u in UNORDERED])
@pytest.mark.parametrize("argument", ["prompts", "responses"])
def test_unordered_inputs_are_refused(label: str, make, argument: str) -> None:
    data = _data()
    data[argument] = make(data[argument])
    with pytest.raises(DataError, match=f"'{argument}' (is a|must be a sequence in row order)"):
        _analyzer().analyze(
            data["prompts"], data["responses"], data["scores"], embeddings=data["embeddings"]
        )


def test_unordered_inputs_are_refused_by_every_entry_point() -> None:
    data = _data()
    analyzer = _analyzer()
    prompts = data["prompts"]
    with pytest.raises(DataError, match="'test_prompts' is a set"):
        analyzer.audit_coverage(set(prompts), prompts, 0.3)
    with pytest.raises(DataError, match="'production_prompts' is a set"):
        analyzer.audit_coverage(prompts, set(prompts), 0.3)
    with pytest.raises(DataError, match="'responses_b' is a set"):
        analyzer.compare_models(
            prompts, data["responses"], set(data["responses"]), data["scores"], data["scores"]
        )
    with pytest.raises(DataError, match="'references' is a set"):
        analyzer.analyze(prompts, data["responses"], references=set(data["responses"]))
    with pytest.raises(DataError, match=r"metadata\['route'\] is a set"):
        analyzer.analyze(
            prompts,
            data["responses"],
            data["scores"],
            embeddings=data["embeddings"],
            metadata={"route": set(range(N))},
        )


def test_ordered_sequences_of_every_kind_are_accepted() -> None:
    pd = pytest.importorskip("pandas")
    data = _data()
    reference = _analyzer().analyze(
        data["prompts"], data["responses"], data["scores"], embeddings=data["embeddings"]
    )
    frame = pd.DataFrame({"p": data["prompts"], "r": data["responses"]})
    for prompts, responses in [
        (tuple(data["prompts"]), tuple(data["responses"])),
        (np.array(data["prompts"]), np.array(data["responses"])),
        (frame["p"], frame["r"]),
        (pd.Index(data["prompts"]), frame["r"].to_numpy()),
    ]:
        report = _analyzer().analyze(
            prompts, responses, data["scores"], embeddings=data["embeddings"]
        )
        assert report.to_dict()["slices"] == reference.to_dict()["slices"]


def test_a_frame_or_matrix_is_not_one_column() -> None:
    data = _data()
    with pytest.raises(DataError, match="'prompts' must be one-dimensional"):
        _analyzer().analyze(
            np.array(data["prompts"]).reshape(4, 6),
            data["responses"],
            data["scores"],
            embeddings=data["embeddings"],
        )


def test_repair_text_joins_split_pairs_and_replaces_lone_halves() -> None:
    assert repair_text("fine") == "fine"
    assert repair_text("smile \ud83d\ude00") == "smile \U0001f600"
    assert repair_text(f"cut {HALF_EMOJI} here") == "cut \ufffd here"
    assert repair_text("\udc80") == "\ufffd"
    with pytest.raises(DataError, match=r"'references\[1\]' holds a lone surrogate"):
        as_text_list("references", ["ok", f"bad {HALF_EMOJI}"])


def test_lone_surrogates_are_repaired_counted_and_recomputable() -> None:
    data = _data()
    prompts, responses = list(data["prompts"]), list(data["responses"])
    prompts[3] += HALF_EMOJI
    prompts[7] = "\udc00" + prompts[7]
    responses[5] += HALF_EMOJI
    with pytest.warns(FaultmapWarning, match="repaired_text_rows"):
        report = _analyzer().analyze(
            prompts, responses, data["scores"], embeddings=data["embeddings"]
        )
    assert report.metadata["repaired_text_rows"] == {"prompts": [3, 7], "responses": [5]}
    recomputed = {
        name: [i for i, t in enumerate(texts) if repair_text(t) != t]
        for name, texts in (("prompts", prompts), ("responses", responses))
    }
    assert report.metadata["repaired_text_rows"] == recomputed
    text = report.to_json()  # encodes: nothing of the surrogate is left
    text.encode("utf-8")
    again = type(report).from_json(text)
    assert again.metadata["repaired_text_rows"] == recomputed
    str(report)


def test_repairs_happen_before_the_embedding_model_sees_the_text() -> None:
    data = _data()
    prompts = list(data["prompts"])
    prompts[2] += HALF_EMOJI
    embedder = FakeEmbedder()
    with pytest.warns(FaultmapWarning, match="1 in 'prompts' \\(first row 2\\)"):
        _analyzer(embedding_model=embedder, embedding_cache=False).analyze(
            prompts, data["responses"], data["scores"]
        )
    embedded = [t for call in embedder.calls for t in call]
    assert all(t.encode("utf-8") for t in embedded)
    assert prompts[2][:-1] + "\ufffd" in embedded


def test_repairs_in_coverage_and_comparison_are_counted() -> None:
    data = _data()
    analyzer = SliceAnalyzer(
        embedding_model=FakeEmbedder(), embedding_cache=False, clustering_method="agglomerative"
    )
    production = list(data["prompts"])
    production[4] += HALF_EMOJI
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FaultmapWarning)  # the coverage meaning warning
        coverage = analyzer.audit_coverage(data["prompts"][:10], production, 0.3)
    assert coverage.metadata["repaired_text_rows"] == {"production_prompts": [4]}
    responses_b = list(data["responses"])
    responses_b[1] += HALF_EMOJI
    with pytest.warns(FaultmapWarning, match="responses_b"):
        comparison = _analyzer().compare_models(
            data["prompts"],
            data["responses"],
            responses_b,
            data["scores"],
            data["scores"][::-1],
            embeddings=data["embeddings"],
        )
    assert comparison.metadata["repaired_text_rows"] == {"responses_b": [1]}


# -- point 4: report files are validated on load ---------------------------------------------

DATA = Path(__file__).resolve().parent / "data"
OLD = {
    "analysis": (AnalysisReport, DATA / "old_analysis_report.json"),
    "coverage": (CoverageReport, DATA / "old_coverage_report.json"),
    "comparison": (ComparisonReport, DATA / "old_comparison_report.json"),
}


def _edit(path: tuple, value: object = ...) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is ...:
            del data[path[-1]]
        else:
            data[path[-1]] = value

    return change


TAMPERED = [
    (
        "a rate of 7.5",
        _edit(("slices", 0, "failure_rate"), 7.5),
        r"slices\[0\]\.failure_rate: 7\.5 is above",
    ),
    ("NaN", _edit(("baseline_failure_rate",), math.nan), r"baseline_failure_rate: NaN"),
    (
        "Infinity",
        _edit(("slices", 0, "effect_size"), math.inf),
        r"slices\[0\]\.effect_size: NaN and inf",
    ),
    (
        "a row past the end",
        _edit(("slices", 0, "sample_indices", 0), 10**6),
        r"sample_indices\[0\]: row 1000000 does not exist",
    ),
    ("a short map", lambda d: d["map"]["y"].pop(), r"map\.y: \d+ entries where 'x' has"),
    ("a missing field", _edit(("total_prompts",)), r"required field 'total_prompts' is missing"),
    (
        "slices as an object",
        _edit(("slices",), {"0": {}}),
        r"AnalysisReport\.slices: expected a list",
    ),
    (
        "more failures than rows",
        _edit(("total_failures",), 10**6),
        r"total_failures: more failures",
    ),
    (
        "a count as text",
        _edit(("slices", 0, "size"), "ten"),
        r"slices\[0\]\.size: expected an integer",
    ),
]


def _old_analysis() -> dict:
    return json.loads(OLD["analysis"][1].read_text(encoding="utf-8"))


def test_old_report_files_still_load() -> None:
    for kind, (cls, path) in OLD.items():
        report = cls.from_json(path)
        assert validate_report(path) == kind
        assert cls.from_json(report.to_json()).to_dict() == report.to_dict()


@pytest.mark.parametrize(("label", "change", "message"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_tampered_report_files_are_refused_naming_the_field(
    label: str, change, message: str, tmp_path: Path
) -> None:
    data = _old_analysis()
    change(data)
    text = json.dumps(data)  # json writes NaN and Infinity, as a careless writer would
    path = tmp_path / "tampered.json"
    path.write_text(text, encoding="utf-8")
    for source in (text, path):
        with pytest.raises(DataError, match=message):
            AnalysisReport.from_json(source)
    with pytest.raises(DataError, match=message):
        AnalysisReport.from_dict(json.loads(text))
    with pytest.raises(DataError, match="not a valid faultmap analysis report"):
        validate_report(path)


def test_a_list_or_another_kind_of_report_is_refused() -> None:
    with pytest.raises(DataError, match="AnalysisReport: expected an object, got a list"):
        AnalysisReport.from_json("[1, 2]")
    text = OLD["coverage"][1].read_text(encoding="utf-8")
    with pytest.raises(DataError, match="this is a coverage report, not an analysis report"):
        AnalysisReport.from_json(text)
    with pytest.raises(DataError, match=r"read it with CoverageReport\.from_json"):
        ComparisonReport.from_json(text)


def test_diff_validates_both_reports(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(OLD["analysis"][1].read_text(encoding="utf-8"), encoding="utf-8")
    bad = tmp_path / "bad.json"
    data = _old_analysis()
    data["slices"][0]["failure_rate"] = 7.5
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match=r"NEW report file .*failure_rate: 7\.5 is above"):
        diff_reports(good, bad)
    with pytest.raises(DataError, match=r"OLD report file .*failure_rate: 7\.5 is above"):
        diff_reports(bad, good)
    for old, new in ((good, bad), (bad, good)):
        result = _cli("diff", str(old), str(new))
        assert result.returncode == 2, result.stderr
        assert "failure_rate: 7.5 is above the maximum 1" in result.stderr
        assert "750" not in result.stdout


def _cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "faultmap.cli", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


# -- point 5: the CLI checks its outputs before any work; readers and thresholds ------------


@pytest.fixture
def evals(tmp_path: Path) -> Path:
    data = _data()
    path = tmp_path / "in.jsonl"
    rows = zip(data["prompts"], data["responses"], data["scores"], strict=True)
    path.write_text(
        "".join(json.dumps({"prompt": p, "response": r, "score": s}) + "\n" for p, r, s in rows),
        encoding="utf-8",
    )
    return path


def _refused(argv: list[str], capsys, message: str, *untouched: Path) -> None:
    before = {p: p.read_bytes() for p in untouched}
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} was written"


def test_cli_refuses_to_write_over_its_input(evals: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(evals.parent)
    sub = evals.parent / "sub"
    sub.mkdir()
    link = evals.parent / "link.jsonl"
    link.symlink_to(evals)
    for spelling in (str(evals), "in.jsonl", "./in.jsonl", "sub/../in.jsonl", str(link)):
        for option in ("--json", "--out"):
            _refused(["analyze", "in.jsonl", option, spelling], capsys, "is the input FILE", evals)
    vectors = evals.parent / "v.npy"
    np.save(vectors, _data()["embeddings"])
    _refused(
        ["analyze", str(evals), "--embeddings", str(vectors), "--json", str(vectors)],
        capsys,
        "is the input --embeddings",
        vectors,
    )
    _refused(
        ["coverage", str(evals), str(link), "--json", str(evals)],
        capsys,
        "is the input TEST_FILE",
        evals,
    )
    old = evals.parent / "old.json"
    old.write_text(OLD["analysis"][1].read_text(encoding="utf-8"), encoding="utf-8")
    _refused(["diff", str(old), str(old), "--json", "./old.json"], capsys, "is the input OLD", old)


def test_cli_refuses_two_outputs_to_one_file_and_a_folder(evals: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(evals.parent)
    _refused(
        ["analyze", "in.jsonl", "--json", "out.json", "--out", "./out.json"],
        capsys,
        "--out and --json both name",
    )
    assert not (evals.parent / "out.json").exists()
    (evals.parent / "folder").mkdir()
    _refused(["analyze", "in.jsonl", "--json", "folder"], capsys, "'folder' is a folder")
    _refused(["analyze", "in.jsonl", "--out", "folder/"], capsys, "is a folder")


def test_cli_replaces_an_earlier_report(evals: Path, capsys, tmp_path: Path) -> None:
    vectors = tmp_path / "v.npy"
    np.save(vectors, _data()["embeddings"])
    out = tmp_path / "report.json"
    out.write_text("an earlier report", encoding="utf-8")
    argv = ["analyze", str(evals), "--embeddings", str(vectors), "--json", str(out), "-q"]
    argv += ["--min-slice-size", "5", "--clustering", "agglomerative", "--no-cache"]
    assert main(argv) == 0
    assert AnalysisReport.from_json(out).total_prompts == N


def test_csv_fields_of_any_size_are_read(tmp_path: Path) -> None:
    long_text = "word " * 60_000  # 300,000 characters, over csv's default 131,072
    path = tmp_path / "long.csv"
    path.write_text(f'prompt,score\n"{long_text}",0.5\nshort,1\n', encoding="utf-8")
    table = read_table(path)
    assert table.text("prompt", option="prompt_col")[0] == long_text
    jsonl = tmp_path / "long.jsonl"
    jsonl.write_text(json.dumps({"prompt": long_text, "score": 0.5}) + "\n", encoding="utf-8")
    assert read_table(jsonl).text("prompt", option="prompt_col")[0] == long_text
    import csv

    assert csv.field_size_limit() == 131_072  # lifted only while reading


def test_a_repeated_frame_column_is_named_as_such() -> None:
    pd = pytest.importorskip("pandas")
    data = _data()
    frame = pd.DataFrame({"prompt": data["prompts"], "score": data["scores"]})
    frame = pd.concat([frame, frame[["score"]]], axis=1)
    with pytest.raises(DataError, match="has 2 columns named 'score'"):
        _analyzer().analyze_frame(
            frame, response_col=None, score_col="score", embeddings=data["embeddings"]
        )
    _analyzer().analyze_frame(  # a repeated column that is not used is no problem
        pd.concat([frame.iloc[:, :2], frame[["score"]].rename(columns={"score": "x"})] * 1, axis=1),
        response_col=None,
        score_col="score",
        embeddings=data["embeddings"],
    )


def test_a_degenerate_coverage_threshold_is_warned_about() -> None:
    tests = [f"test prompt {i}" for i in range(6)]
    production = [f"production prompt {i}" for i in range(12)]
    rng = np.random.default_rng(0)
    same = np.tile(rng.normal(size=(1, 8)), (6, 1))  # distinct texts, one vector
    analyzer = SliceAnalyzer(clustering_method="agglomerative")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = analyzer.audit_coverage(
            tests,
            production,
            test_embeddings=same,
            production_embeddings=rng.normal(size=(12, 8)),
        )
    assert report.distance_threshold < 1e-4
    said = [str(w.message) for w in caught if issubclass(w.category, FaultmapWarning)]
    assert any("6 of 6 distinct test prompts have another" in m for m in said), said
