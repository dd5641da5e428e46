"""Failure rate by metadata cohort: p-values against scipy, binning, missing values, inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from scipy import stats
from strategies import cohort_tables, metric_settings

from faultmap.cohorts import (
    MISSING,
    OTHER,
    CohortReport,
    calibration_by_cohort,
    cohort_failure_rates,
    cohort_labels,
)
from faultmap.exceptions import ConfigurationError, DataError
from faultmap.metrics import calibration_by_group


@metric_settings
@given(cohort_tables())
def test_p_values_bh_and_intervals_match_scipy(data) -> None:
    failures, metadata = data
    report = cohort_failure_rates(failures, metadata, min_size=3)
    f = np.array(failures)
    n, total_failures = len(f), int(f.sum())
    tested = [c for c in report.cohorts if c.tested]
    for c in report.cohorts:
        rows = (
            np.array([MISSING if v is None else v for v in metadata[c.column]], dtype=object)
            == c.value
        )
        assert (c.size, c.failures) == (int(rows.sum()), int(f[rows].sum()))
        ci = stats.binomtest(c.failures, c.size).proportion_ci(method="wilson")
        assert c.confidence_interval == pytest.approx((ci.low, ci.high))
        assert c.tested == (c.size >= 3 and c.size < n)
        if not c.tested:
            assert c.adjusted_p_value is None and not c.significant
            continue
        table = [
            [c.failures, c.size - c.failures],
            [total_failures - c.failures, n - c.size - (total_failures - c.failures)],
        ]
        expected = stats.fisher_exact(table, alternative="greater").pvalue
        assert c.p_value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if tested:
        adjusted = stats.false_discovery_control([c.p_value for c in tested], method="bh")
        np.testing.assert_allclose([c.adjusted_p_value for c in tested], adjusted, rtol=1e-9)
        assert [c.significant for c in tested] == [a < 0.05 for a in adjusted]
    assert report.num_tested == len(tested)
    assert report.num_significant == sum(c.significant for c in report.cohorts)
    assert sum(c.size for c in report.for_column("route")) == n


def test_a_failing_route_is_found() -> None:
    failures = [1] * 16 + [0] * 4 + [1] * 6 + [0] * 54
    route = ["math"] * 20 + ["chat"] * 60
    report = cohort_failure_rates(failures, {"route": route})
    assert [c.value for c in report.significant()] == ["math"]
    math_ = report.for_column("route")[1]
    assert (math_.failure_rate, math_.rest_failure_rate) == (0.8, 0.1)
    assert math_.effect_size == pytest.approx(0.8 / (22 / 80))
    assert "math" in str(report) and "*" in str(report)


def test_numeric_columns_are_binned_by_quantiles() -> None:
    values = list(range(10))
    labels = cohort_labels({"x": values}, n_bins=2)["x"]
    assert labels == ["[0, 4.5)"] * 5 + ["[4.5, 9]"] * 5
    report = cohort_failure_rates([0] * 10, {"x": values}, n_bins=2, min_size=1)
    assert [(c.value, c.kind, c.size) for c in report.cohorts] == [
        ("[0, 4.5)", "bin", 5),
        ("[4.5, 9]", "bin", 5),
    ]
    # few distinct numbers stay categories, in numeric order
    report = cohort_failure_rates([0] * 6, {"version": [10, 2, 2, 10, 3, 3]}, min_size=1)
    assert [c.value for c in report.cohorts] == ["2", "3", "10"]
    # ...unless told otherwise; and ties collapse bins
    assert cohort_labels({"x": [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]}, n_bins=3)["x"] == (
        ["[0, 3)"] * 6 + ["[3, 6]"] * 4
    )
    forced = cohort_labels({"x": values}, n_bins=2, categorical=["x"])["x"]
    assert forced == [str(v) for v in values]


def test_missing_values_and_rare_categories() -> None:
    metadata = {
        "lang": ["en", None, float("nan"), "de", "en", "fr"],
        "score": [0.1, None, 0.3, 0.4, 0.5, 0.6],
    }
    report = cohort_failure_rates(
        [1, 1, 1, 0, 0, 0], metadata, n_bins=2, min_size=1, max_categories=2
    )
    lang = {c.value: (c.kind, c.size) for c in report.for_column("lang")}
    assert lang == {
        "en": ("category", 2),
        "de": ("category", 1),
        OTHER: ("other", 1),
        MISSING: ("missing", 2),
    }
    score = report.for_column("score")
    assert score[-1].value == MISSING and score[-1].size == 1
    assert [c.kind for c in score] == ["bin", "bin", "missing"]
    assert report.for_column("lang")[-1].failure_rate == 1.0


def test_dataframe_like_inputs() -> None:
    class Frame:  # the two things read from a DataFrame: .columns and df[col].tolist()
        def __init__(self, data: dict) -> None:
            self.data = data
            self.columns = list(data)

        def __getitem__(self, key: str) -> np.ndarray:
            return np.array(self.data[key], dtype=object)

    data = {"route": ["a", "b"] * 10, "n": list(range(20))}
    failures = [1, 0] * 10
    from_frame = cohort_failure_rates(failures, Frame(data))
    assert from_frame == cohort_failure_rates(failures, data)


def test_pandas_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"route": ["a", "b", None, "a"] * 5, "tokens": [1.5, np.nan, 3.0, 4.0] * 5}
    )
    report = cohort_failure_rates(pd.Series([1, 0, 0, 1] * 5), frame, min_size=2)
    assert report.columns == ["route", "tokens"]
    assert {c.value for c in report.for_column("route")} == {"a", "b", MISSING}
    assert report.for_column("tokens")[-1].value == MISSING


def test_report_round_trips_through_json(tmp_path) -> None:
    failures = [1] * 16 + [0] * 4 + [1] * 6 + [0] * 54
    report = cohort_failure_rates(failures, {"route": ["math"] * 20 + ["chat"] * 60})
    path = tmp_path / "cohorts.json"
    text = report.to_json(path)
    assert CohortReport.from_json(text) == report
    assert CohortReport.from_json(path) == report
    assert json.loads(text)["cohorts"][0]["p_value"] == report.cohorts[0].p_value
    assert repr(report).startswith("CohortReport(total=80")


def test_calibration_by_cohort_equals_calibration_by_group() -> None:
    rng = np.random.default_rng(3)
    n = 60
    y = rng.integers(0, 3, n)
    proba = rng.dirichlet(np.ones(3), n)
    routes = rng.choice(["a", "b", "c"], n).tolist()
    by = calibration_by_cohort(y, proba, {"route": routes, "len": rng.random(n)}, n_bins=5)
    direct = calibration_by_group(y, proba, routes, n_bins=5)
    for g in direct.groups:
        assert by["route"].for_group(g.group).to_dict() == g.to_dict()
    assert len(by["len"].groups) == 5


def test_bad_input() -> None:
    with pytest.raises(DataError, match=r"metadata\['route'\] has 2 values but there are 3"):
        cohort_failure_rates([0, 1, 0], {"route": ["a", "b"]})
    with pytest.raises(DataError, match="0/1 or True/False"):
        cohort_failure_rates([0, 2, 0], {"route": ["a", "b", "c"]})
    with pytest.raises(DataError, match="0/1 or True/False"):
        cohort_failure_rates(["yes", "no"], {"route": ["a", "b"]})
    with pytest.raises(DataError, match="dict of columns or a pandas DataFrame"):
        cohort_failure_rates([0, 1], [["a", "b"]])
    with pytest.raises(DataError, match="no columns"):
        cohort_failure_rates([0, 1], {})
    with pytest.raises(DataError, match="one value per row"):
        cohort_failure_rates([0, 1], {"route": "ab"})
    with pytest.raises(DataError, match="not in the metadata"):
        cohort_failure_rates([0, 1], {"route": ["a", "b"]}, categorical=["lang"])
    with pytest.raises(DataError, match="infinite"):
        cohort_labels({"x": [1.0, 2.0, float("inf"), 4.0, 5.0, 6.0, 7.0]}, n_bins=2)
    with pytest.raises(ConfigurationError, match="'significance_level' parameter"):
        cohort_failure_rates([0, 1], {"route": ["a", "b"]}, significance_level=1.5)
    with pytest.raises(ConfigurationError, match="'n_bins' parameter"):
        cohort_failure_rates([0, 1], {"route": ["a", "b"]}, n_bins=0)
