"""The installed ``faultmap`` command, run in a subprocess on real files.

The embedding cache of the test session is warmed once in-process with the same model, so
the subprocesses run the real local model but find its vectors on disk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import faultmap
from faultmap import AnalysisReport, ComparisonReport, CoverageReport

FAULTMAP = Path(sys.executable).parent / "faultmap"
N = 300


def run(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert FAULTMAP.exists(), f"{FAULTMAP} missing: run `pip install -e . --no-deps` first"
    return subprocess.run(
        [str(FAULTMAP), *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ),  # FAULTMAP_CACHE_DIR: the session's cache (conftest)
        cwd=cwd,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The error: exit 2, nothing on stdout, one line on stderr after any progress lines."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("faultmap: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def data(sample_rows, tmp_path_factory) -> dict:
    """300 real rows as JSONL, CSV and Parquet, their vectors (cache warmed) and tasks."""
    from faultmap.embedding import CachedEmbedder, SentenceTransformerEmbedder

    folder = tmp_path_factory.mktemp("cli")
    rows = [
        {k: r[k] for k in ("prompt", "response", "reference", "score", "task")}
        for r in sample_rows[:N]
    ]
    vectors = CachedEmbedder(SentenceTransformerEmbedder(max_text_chars=2000)).embed(
        [r["prompt"] for r in rows]
    )
    frame = pd.DataFrame(rows)
    (folder / "data.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    frame.to_csv(folder / "data.csv", index=False)
    frame.to_parquet(folder / "data.parquet", index=False)
    return {"dir": folder, "rows": rows, "vectors": vectors, "tasks": frame["task"].tolist()}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def jsonl_report(data) -> tuple[Path, subprocess.CompletedProcess]:
    """`faultmap analyze data.jsonl --json --out`, run once."""
    folder = data["dir"]
    result = run(
        "analyze", folder / "data.jsonl", "--json", folder / "r.json", "--out", folder / "r.html"
    )
    return folder / "r.json", result


def test_version_help_and_usage_errors():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"faultmap {faultmap.__version__}"
    assert run().returncode == 2  # no command: help on stderr
    for args in (["analyze"], ["analyze", "x.jsonl", "--score-col", "s", "--sample-scores"]):
        result = run(*args)
        assert result.returncode == 2 and "usage: faultmap analyze" in result.stderr
    result = run("diff", "--help")
    assert result.returncode == 0 and "OLD.json" in result.stdout


@pytest.mark.slow  # a real analysis in a subprocess
def test_analyze_jsonl_text_on_stdout_progress_on_stderr_files_written(jsonl_report):
    path, result = jsonl_report
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("faultmap analysis")
    assert "slice(s) fail significantly more often" in result.stdout
    assert "faultmap: read 300 row(s) from" in result.stderr
    assert f"faultmap: wrote {path}" in result.stderr
    assert "faultmap: faultmap" not in result.stderr
    report = AnalysisReport.from_json(path)
    assert report.total_prompts == N and report.num_significant >= 2
    for s in report.slices:
        assert len(s.prompt_digests) == s.size == len(s.sample_indices)
    html = (path.parent / "r.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and report.slices[0].name.split(" / ")[0] in html


@pytest.mark.slow  # a real analysis in a subprocess
def test_csv_and_parquet_give_the_same_report_json_to_stdout_and_quiet(data, jsonl_report):
    folder = data["dir"]
    expected = AnalysisReport.from_json(jsonl_report[0])
    result = run("analyze", folder / "data.csv", "--json", "-")
    assert result.returncode == 0, result.stderr
    from_csv = AnalysisReport.from_dict(json.loads(result.stdout))  # stdout is pure JSON
    assert [s.sample_indices for s in from_csv.slices] == [
        s.sample_indices for s in expected.slices
    ]
    result = run("analyze", folder / "data.parquet", "--quiet", "--fail-on-slices")
    assert result.returncode == 1  # significant slices exist
    assert result.stderr == ""  # --quiet: nothing on stderr
    assert result.stdout.startswith("faultmap analysis")
    for s in expected.slices:
        assert s.name in result.stdout


@pytest.mark.slow  # a real analysis in a subprocess
def test_evidence_options_and_the_modes_gate(data, tmp_path):
    out = tmp_path / "r.json"
    result = run(
        "analyze",
        data["dir"] / "data.jsonl",
        "--json",
        out,
        "--null-runs",
        "20",
        "--confirm",
        "split",
        "--correction",
        "holm",
        "--fail-on-modes",
    )
    report = AnalysisReport.from_json(out)
    assert report.correction == "holm" and report.null_audit.runs == 20
    assert report.metadata["confirmation"]["method"] == "split"
    assert result.returncode == (1 if report.failure_modes else 0), result.stderr
    if report.failure_modes:
        assert "failure mode(s): failing (--fail-on-modes)" in result.stderr
    assert "Null audit: 20 permuted runs" in result.stdout


@pytest.mark.slow  # a real analysis in a subprocess
def test_fail_on_slices_passes_when_nothing_fails(data, tmp_path):
    rows = [{**r, "score": 1.0} for r in data["rows"]]
    result = run("analyze", write_jsonl(tmp_path / "ok.jsonl", rows), "--fail-on-slices")
    assert result.returncode == 0, result.stderr
    assert "No prompt failed" in result.stdout


@pytest.mark.slow  # a real analysis in a subprocess
def test_precomputed_vectors_by_column_or_npy_file(data, jsonl_report, tmp_path):
    expected = [s.sample_indices for s in AnalysisReport.from_json(jsonl_report[0]).slices]
    rows = [{**r, "vec": v.tolist()} for r, v in zip(data["rows"], data["vectors"], strict=True)]
    path = write_jsonl(tmp_path / "vec.jsonl", rows)
    result = run("analyze", path, "--embedding-col", "vec", "--no-cache", "--json", "-")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["embedding_model"] == "precomputed"
    assert [s["sample_indices"] for s in report["slices"]] == expected
    np.save(tmp_path / "vec.npy", data["vectors"])
    result = run(
        "analyze", data["dir"] / "data.csv", "--embeddings", tmp_path / "vec.npy", "--json", "-"
    )
    assert result.returncode == 0, result.stderr
    assert [s["sample_indices"] for s in json.loads(result.stdout)["slices"]] == expected


@pytest.mark.parametrize(
    ("content", "args", "pattern"),
    [
        (None, [], r"No such file: '.*missing\.jsonl'; check the path"),
        (
            '{"prompt": "a", "response": "b", "score": 1}\n',
            ["--score-col", "judge"],
            r"has no column 'judge' \(from --score-col\); its columns are: 'prompt', "
            r"'response', 'score'",
        ),
        (
            '{"prompt": "a", "score": 1}\n' * 6 + '{"prompt": "b", "score": 0.5,}\n',
            [],
            r"data\.jsonl, line 7: not valid JSON",
        ),
        (
            '{"prompt": "a", "score": 1}\n\n{"prompt": "b", "score": "high"}\n',
            [],
            r"line 3: column 'score' holds 'high', not a number in \[0, 1\]",
        ),
        (
            '{"prompt": "a", "score": 1}\n{"prompt": "b", "score": 7}\n',
            [],
            r"line 2: column 'score' holds 7, outside \[0, 1\]; rescale",
        ),
        (
            '{"prompt": "a", "score": 1}\n{"text": "b", "score": 0}\n',
            [],
            r"line 2: column 'prompt' has no value, not text",
        ),
        (
            '{"prompt": "a", "score": 1, "route": "api"}\n',
            ["--metadata-col", "route", "--metadata-col", "lang"],
            r"has no column 'lang' \(from --metadata-col\); its columns are: 'prompt', "
            r"'score', 'route'",
        ),
        (
            '{"prompt": "a", "score": 1}\n',
            ["--json", "no/such/dir/r.json"],
            r"--json: the folder '.*dir' does not exist",
        ),
    ],
    ids=[
        "missing-file",
        "missing-column",
        "bad-json",
        "bad-score",
        "range",
        "no-prompt",
        "missing-metadata-column",
        "out",
    ],
)
def test_one_line_errors(tmp_path, content, args, pattern):
    path = tmp_path / ("missing.jsonl" if content is None else "data.jsonl")
    if content is not None:
        path.write_text(content, encoding="utf-8")
    line = one_error_line(run("analyze", path, *args, cwd=tmp_path))
    assert re.search(pattern, line), line
    # --quiet silences progress, never the error.
    quiet = run("analyze", path, *args, "--quiet", cwd=tmp_path)
    assert one_error_line(quiet) == line and quiet.stderr == line + "\n"


def test_csv_row_with_a_stray_comma_names_its_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('prompt,score\n"multi\nline",1\nfine,0\nbad, row,1\n', encoding="utf-8")
    line = one_error_line(run("analyze", path))
    assert "data.csv, line 5: 3 fields but the header has 2" in line


@pytest.mark.slow  # a real analysis in a subprocess
def test_llm_names_through_the_model_option(data, tmp_path):
    reply = {
        "name": "Mocked slice name",
        "description": "From the fake LLM.",
        "root_cause": "A cause.",
        "remediation": "A fix.",
    }
    result = run(
        "analyze",
        data["dir"] / "data.jsonl",
        "--model",
        "gpt-4o-mini",
        "--llm-option",
        f"mock_response={json.dumps(json.dumps(reply))}",  # a JSON string: kept as text
        "--llm-option",
        "num_retries=0",
        "--json",
        tmp_path / "r.json",
    )
    assert result.returncode == 0, result.stderr
    report = AnalysisReport.from_json(tmp_path / "r.json")
    assert report.num_significant > 0
    assert {(s.naming_source, s.root_cause) for s in report.slices} == {("llm", "A cause.")}
    assert all(s.name.startswith("Mocked slice name") for s in report.slices)
    assert "Mocked slice name" in result.stdout


@pytest.mark.slow  # a real analysis in a subprocess
def test_reference_and_sampling_modes(data, tmp_path):
    path = write_jsonl(tmp_path / "small.jsonl", data["rows"][:40])
    result = run("analyze", path, "--reference-col", "reference", "--json", "-", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # quiet even while the model loads (responses are not cached)
    report = json.loads(result.stdout)
    assert report["scoring_mode"] == "reference" and report["total_prompts"] == 40
    result = run(
        "analyze",
        path,
        "--sample-scores",
        "--model",
        "gpt-4o-mini",
        "--n-samples",
        "2",
        "--llm-option",
        f"mock_response={json.dumps(json.dumps('The answer is no.'))}",
        "--json",
        "-",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scoring_mode"] == "entropy" and report["metadata"]["llm"]["succeeded"] >= 80
    line = one_error_line(run("analyze", path, "--sample-scores"))
    assert "no model is set" in line


@pytest.mark.slow  # a real analysis in a subprocess
def test_coverage_finds_the_missing_task_and_gates(data, tmp_path):
    removed = {"navigate", "date_understanding"}
    tests = [{"question": r["prompt"]} for r in data["rows"] if r["task"] not in removed]
    pd.DataFrame(tests).to_csv(tmp_path / "tests.csv", index=False)
    result = run(
        "coverage",
        tmp_path / "tests.csv",
        data["dir"] / "data.parquet",
        "--test-prompt-col",
        "question",
        "--fail-on-gaps",
        "--json",
        tmp_path / "c.json",
        "--out",
        tmp_path / "c.html",
    )
    assert result.returncode == 1, result.stderr  # gaps exist
    assert "coverage" in result.stdout.lower()
    report = CoverageReport.from_json(tmp_path / "c.json")
    assert "<html" in (tmp_path / "c.html").read_text(encoding="utf-8").lower()
    assert report.num_test_prompts == len(tests) and report.num_production_prompts == N
    assert report.num_gaps >= 1
    tasks = [data["tasks"][i] for g in report.gaps for i in g.prompt_indices]
    assert sum(t in removed for t in tasks) / len(tasks) >= 0.9
    assert "covered (in no gap)" in result.stdout and "CoverageMeaningWarning" in result.stderr
    help_text = " ".join(run("coverage", "--help").stdout.split())
    assert "significantly under-represented" in help_text
    assert "distance_coverage_score" in help_text
    assert "--fail-on-gaps gates on the gaps" in help_text
    line = one_error_line(run("coverage", tmp_path / "tests.csv", data["dir"] / "data.parquet"))
    assert "no column 'prompt' (from --test-prompt-col)" in line or "(from --prompt-col)" in line
    assert "'question'" in line


@pytest.mark.slow  # a real analysis in a subprocess
def test_compare_gates_on_a_regression_of_model_b(data, tmp_path):
    rows = [
        {
            "prompt": r["prompt"],
            "old": r["score"],
            "new": 0.0 if r["task"] == "sports_understanding" else r["score"],
        }
        for r in data["rows"]
    ]
    path = tmp_path / "ab.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    common = ["--name-a", "baseline", "--name-b", "candidate", "--fail-on-regression"]
    worse = run("compare", path, "--scores-a", "old", "--scores-b", "new", *common, "--json", "-")
    assert worse.returncode == 1, worse.stderr
    report = ComparisonReport.from_dict(json.loads(worse.stdout))
    assert report.model_b_name == "candidate"
    assert any(s.winner == "a" for s in report.slices)
    better = run(
        "compare",
        path,
        "--scores-a",
        "new",
        "--scores-b",
        "old",
        *common,
        "--out",
        tmp_path / "c.html",
    )
    assert better.returncode == 0, better.stderr
    assert "candidate" in better.stdout
    assert "candidate" in (tmp_path / "c.html").read_text(encoding="utf-8")
    line = one_error_line(run("compare", path, "--scores-a", "old"))
    assert "--scores-a and --scores-b go together" in line


@pytest.mark.slow  # a real analysis in a subprocess
def test_diff_lists_new_slices_and_exits_1(data, jsonl_report, tmp_path):
    old = jsonl_report[0]
    same = run("diff", old, old)
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith("faultmap diff: 0 new, 0 resolved,")
    rows = [
        {**r, "score": 0.0 if r["task"] == "sports_understanding" else r["score"]}
        for r in data["rows"]
    ]
    new = tmp_path / "new.json"
    result = run("analyze", write_jsonl(tmp_path / "week2.jsonl", rows), "--json", new, "-q")
    assert result.returncode == 0, result.stderr
    changed = run("diff", old, new)
    assert changed.returncode == 1
    assert "New slices (in NEW only):" in changed.stdout
    assert "new slice(s): failing" in changed.stderr
    as_json = run("diff", old, new, "--json", "-", "--quiet")
    assert as_json.returncode == 1 and as_json.stderr == ""
    diff = json.loads(as_json.stdout)
    report = AnalysisReport.from_json(new)
    new_tasks = [
        data["tasks"][i] for d in diff["new"] for i in report.slices[d["position"]].sample_indices
    ]
    assert new_tasks and new_tasks.count("sports_understanding") / len(new_tasks) >= 0.8
    assert len(diff["persisting"]) >= 2 and diff["matched_by"] == "prompt_digests"
    line = one_error_line(run("diff", old, data["dir"] / "data.jsonl"))
    assert "is not valid JSON" in line or "not a faultmap analysis report" in line
    line = one_error_line(run("diff", old, tmp_path / "nope.json"))
    assert "NEW report file" in line and "does not exist" in line


def test_main_in_process_leaves_the_caller_as_it_was(tmp_path: Path) -> None:
    """``--quiet`` silences progress, logging and warnings for the command only."""
    import logging
    import warnings

    from faultmap.cli import main

    before = (
        os.environ.get("TQDM_DISABLE"),
        logging.root.manager.disable,
        list(warnings.filters),
        warnings.showwarning,
        list(logging.getLogger("faultmap").handlers),
    )
    assert main(["diff", str(tmp_path / "missing.json"), str(tmp_path / "x.json"), "-q"]) == 2
    after = (
        os.environ.get("TQDM_DISABLE"),
        logging.root.manager.disable,
        list(warnings.filters),
        warnings.showwarning,
        list(logging.getLogger("faultmap").handlers),
    )
    assert after == before
