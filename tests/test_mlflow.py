"""faultmap.integrations.mlflow.log_report against real MLflow with a file store under
tmp_path: metrics, JSON and HTML artifacts, into a given run, the active run or a new one."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_samples import planted_report

from faultmap import AnalysisReport, ComparisonReport, ConfigurationError, CoverageReport

mlflow = pytest.importorskip("mlflow")
from faultmap.integrations.mlflow import log_report, metrics_of  # noqa: E402


@pytest.fixture(scope="module")
def report() -> AnalysisReport:
    return planted_report()


@pytest.fixture
def client(tmp_path, monkeypatch):
    # MLflow 3 keeps the file store for those who opt in; it needs no database here.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    mlflow.set_experiment("faultmap-tests")
    yield mlflow.MlflowClient()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _artifacts(client, run_id: str) -> dict[str, Path]:
    folder = Path(client.download_artifacts(run_id, "faultmap"))
    return {p.name: p for p in folder.iterdir()}


def test_a_new_run_gets_the_metrics_and_the_report_and_is_ended(client, report) -> None:
    run_id = log_report(report)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and mlflow.active_run() is None
    metrics = run.data.metrics
    assert metrics["baseline_failure_rate"] == pytest.approx(report.baseline_failure_rate)
    assert metrics["num_significant"] == report.num_significant == 1
    assert metrics["total_prompts"] == report.total_prompts
    assert run.data.tags["faultmap.report"] == "analysis"
    files = _artifacts(client, run_id)
    assert set(files) == {"analysis_report.json", "analysis_report.html"}
    again = AnalysisReport.from_json(files["analysis_report.json"])
    assert again.num_significant == report.num_significant
    assert files["analysis_report.html"].read_text(encoding="utf-8").lstrip().startswith("<!")


def test_the_active_run_is_used_and_left_open(client, report) -> None:
    with mlflow.start_run() as active:
        run_id = log_report(report, prefix="eval/")
        assert mlflow.active_run() is not None
    assert run_id == active.info.run_id
    assert "eval/num_significant" in client.get_run(run_id).data.metrics


def test_a_given_run_id_is_used(client, report) -> None:
    run = client.create_run(mlflow.get_experiment_by_name("faultmap-tests").experiment_id)
    assert log_report(report, run.info.run_id, html=False) == run.info.run_id
    assert set(_artifacts(client, run.info.run_id)) == {"analysis_report.json"}
    assert client.get_run(run.info.run_id).info.status == "RUNNING"


def test_coverage_and_comparison_figures(report) -> None:
    coverage = CoverageReport(
        overall_coverage_score=0.8,
        num_gaps=1,
        gaps=[],
        distance_threshold=0.5,
        threshold_rule="fixed",
        num_test_prompts=10,
        num_production_prompts=20,
        embedding_model="m",
        clustering_method="c",
    )
    assert metrics_of(coverage)["overall_coverage_score"] == 0.8
    assert metrics_of(coverage)["num_gaps"] == 1
    comparison = ComparisonReport(
        model_a_name="a",
        model_b_name="b",
        total_prompts=10,
        failure_rate_a=0.1,
        failure_rate_b=0.3,
        discordant_a_wins=3,
        discordant_b_wins=1,
        global_winner="tie",
        global_advantage_rate=0.75,
        global_p_value=0.6,
        global_test_used="exact",
        num_significant_slices=0,
        slices=[],
        clustering_method="c",
        embedding_model="m",
    )
    figures = metrics_of(comparison)
    assert figures["failure_rate_b"] == 0.3 and figures["global_p_value"] == 0.6


def test_anything_else_is_a_clear_error(report) -> None:
    with pytest.raises(ConfigurationError, match="'report' argument of log_report"):
        log_report({"not": "a report"})
    with pytest.raises(ConfigurationError, match="'run' argument of log_report"):
        log_report(report, run=123)
