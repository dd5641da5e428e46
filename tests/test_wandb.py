"""faultmap.integrations.wandb.log_report against real wandb in offline mode under tmp_path:
summary figures, report files and artifact, into a given run, the active run or a new one.
What a finished offline run holds is read back from its run folder (files/ and the
run-<id>.wandb record log)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from report_samples import planted_report

from faultmap import AnalysisReport, ConfigurationError

wandb = pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2  # noqa: E402

from faultmap.integrations.wandb import log_report  # noqa: E402


@pytest.fixture(scope="module")
def report() -> AnalysisReport:
    return planted_report()


@pytest.fixture
def offline(tmp_path, monkeypatch) -> Path:
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path),
        "WANDB_DATA_DIR": str(tmp_path / "data"),
        "WANDB_CACHE_DIR": str(tmp_path / "cache"),
        "WANDB_CONFIG_DIR": str(tmp_path / "config"),
        "WANDB_PROJECT": "faultmap-tests",
    }.items():
        monkeypatch.setenv(name, value)
    wandb.teardown()  # wandb reads its settings once per process; read them again
    yield tmp_path
    if wandb.run is not None:
        wandb.run.finish()
    wandb.teardown()


def _run_folder(root: Path, run_id: str) -> Path:
    # A finished run's record log is written by wandb's service process; shutting the
    # service down waits until everything it holds is on disk.
    wandb.teardown()
    (folder,) = (root / "wandb").glob(f"offline-run-*-{run_id}")
    return folder


def _records(folder: Path) -> list:
    """The records of an offline run's ``run-<id>.wandb`` file: a 7-byte header, then
    32 KiB blocks of chunks (4-byte checksum, 2-byte length, 1-byte type: 1 whole, 2 first,
    3 middle, 4 last) holding protobuf ``Record`` messages."""
    (path,) = folder.glob("run-*.wandb")
    raw, pos, pending, out = path.read_bytes(), 7, b"", []
    while pos + 7 <= len(raw):
        left = 32768 - pos % 32768
        _, size, kind = struct.unpack("<IHB", raw[pos : pos + 7])
        if left < 7 or (size == 0 and kind == 0):
            pos += left
            continue
        pending += raw[pos + 7 : pos + 7 + size]
        pos += 7 + size
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


def _summary(folder: Path) -> dict:
    summary: dict = {}
    for record in _records(folder):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary


def test_a_new_run_gets_the_summary_files_and_artifact_and_is_finished(offline, report) -> None:
    run_id = log_report(report)
    assert wandb.run is None  # finished
    folder = _run_folder(offline, run_id)
    summary = _summary(folder)
    assert summary["baseline_failure_rate"] == pytest.approx(report.baseline_failure_rate)
    assert summary["num_significant"] == report.num_significant == 1
    assert summary["total_prompts"] == report.total_prompts
    files = {p.name: p for p in (folder / "files" / "faultmap").iterdir()}
    assert set(files) == {"analysis_report.json", "analysis_report.html"}
    again = AnalysisReport.from_json(files["analysis_report.json"])
    assert again.num_significant == report.num_significant
    assert files["analysis_report.html"].read_text(encoding="utf-8").lstrip().startswith("<!")
    records = _records(folder)
    (logged,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert logged.name == "faultmap-analysis-report" and logged.type == "faultmap-report"
    tags = {t for r in records if r.WhichOneof("record_type") == "run" for t in r.run.tags}
    assert "faultmap-analysis" in tags


def test_the_active_run_is_used_and_left_open(offline, report) -> None:
    run = wandb.init()
    run_id = log_report(report, prefix="eval/", html=False, artifact=False)
    assert run_id == run.id and wandb.run is run
    assert run.summary["eval/num_significant"] == report.num_significant
    run.finish()
    folder = _run_folder(offline, run_id)
    assert _summary(folder)["eval/num_significant"] == report.num_significant
    assert [p.name for p in (folder / "files" / "faultmap").iterdir()] == ["analysis_report.json"]
    assert not [r for r in _records(folder) if r.WhichOneof("record_type") == "artifact"]


def test_a_given_run_is_used(offline, report) -> None:
    run = wandb.init()
    assert log_report(report, run, folder="") == run.id
    assert wandb.run is run  # left open
    run.finish()
    assert (Path(run.dir) / "analysis_report.json").is_file()


def test_anything_else_is_a_clear_error(offline, report) -> None:
    with pytest.raises(ConfigurationError, match="'report' argument of log_report"):
        log_report({"not": "a report"})
    with pytest.raises(ConfigurationError, match="'run' argument of log_report"):
        log_report(report, run="abc123")
    assert not (offline / "wandb").exists()
