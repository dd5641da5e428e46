"""Calibration and failure analysis: scikit-learn where it has the metric, hand-worked
examples where it does not, per-slice and per-group views, bad input."""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from strategies import binary_probabilities, metric_settings, multiclass_probabilities

from faultmap.exceptions import ConfigurationError, DataError
from faultmap.metrics import (
    brier_score,
    calibration_by_group,
    calibration_by_slice,
    confidence_gap,
    expected_calibration_error,
    maximum_calibration_error,
    misclassification_summary,
    reliability_curve,
)
from faultmap.reports.models import AnalysisReport, FailureSlice

# -- calibration against scikit-learn --------------------------------------------------------


@metric_settings
@given(binary_probabilities(), st.integers(1, 12), st.sampled_from(["uniform", "quantile"]))
def test_reliability_curve_matches_sklearn_calibration_curve(data, n_bins, strategy) -> None:
    y, p = data
    curve = reliability_curve(y, p, n_bins=n_bins, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    points = curve.points()
    np.testing.assert_allclose([a for _, a, _ in points], prob_true, atol=1e-12)
    np.testing.assert_allclose([c for c, _, _ in points], prob_pred, atol=1e-12)
    assert sum(curve.bin_count) == len(y)
    # ECE and MCE from the sklearn curve and our counts
    counts = np.array([n for _, _, n in points])
    gaps = np.abs(prob_true - prob_pred)
    assert curve.expected_calibration_error == pytest.approx(np.sum(gaps * counts) / len(y))
    assert curve.maximum_calibration_error == pytest.approx(gaps.max())


@metric_settings
@given(binary_probabilities())
def test_binary_brier_matches_sklearn(data) -> None:
    y, p = data
    assert brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p))
    assert brier_score(y, np.column_stack([1 - p, p])) == pytest.approx(skm.brier_score_loss(y, p))


@metric_settings
@given(multiclass_probabilities())
def test_multiclass_brier_matches_sklearn(data) -> None:
    y, proba = data
    expected = skm.brier_score_loss(y, proba, labels=list(range(proba.shape[1])))
    assert brier_score(y, proba) == pytest.approx(expected)


@metric_settings
@given(multiclass_probabilities(), st.integers(1, 10))
def test_top_label_ece_is_the_binned_gap_of_max_probability(data, n_bins) -> None:
    y, proba = data
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0, 1, n_bins + 1)
    expected = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if in_bin.any():
            expected += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    assert expected_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(expected)


# -- calibration by hand ---------------------------------------------------------------------


def test_ece_binary_hand_worked() -> None:
    p = [0.1, 0.1, 0.3, 0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9]
    y = [0, 1, 0, 1, 0, 1, 1, 1, 1, 0]
    # bins of width 0.2: (0, .2] conf .1 acc .5; (.2, .4] conf .3 acc 0; (.4, .6] conf .5
    # acc .5; (.6, .8] empty; (.8, 1] conf .9 acc .8
    # ECE = (2 * .4 + 1 * .3 + 2 * 0 + 5 * .1) / 10 = 0.16; MCE = 0.4
    assert expected_calibration_error(y, p, n_bins=5) == pytest.approx(0.16)
    assert maximum_calibration_error(y, p, n_bins=5) == pytest.approx(0.4)
    curve = reliability_curve(y, p, n_bins=5)
    assert curve.bin_count == [2, 1, 2, 0, 5]
    assert math.isnan(curve.bin_confidence[3]) and math.isnan(curve.bin_accuracy[3])
    assert curve.kind == "positive_class"
    assert curve.to_dict()["bin_accuracy"][3] is None
    json.loads(curve.to_json())


def test_ece_top_label_hand_worked() -> None:
    proba = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]
    y = [0, 1, 2, 2]
    # confidences .7 (right), .6 (wrong), .8 (right), .4 (right); two bins split at .5:
    # (0, .5] conf .4 acc 1 -> gap .6; (.5, 1] conf .7 acc 2/3 -> gap 1/30
    # ECE = (1 * .6 + 3 / 30) / 4 = 0.175; MCE = 0.6
    assert expected_calibration_error(y, proba, n_bins=2) == pytest.approx(0.175)
    assert maximum_calibration_error(y, proba, n_bins=2) == pytest.approx(0.6)
    assert reliability_curve(y, proba, n_bins=2).kind == "top_label"


def test_ece_equal_mass_bins_hand_worked() -> None:
    p = [0.1, 0.15, 0.2, 0.3, 0.35, 0.4, 0.45, 0.9]
    y = [0, 0, 1, 0, 1, 1, 1, 0]
    # equal mass: split at the median .325: conf .1875 acc .25 | conf .525 acc .75
    # ECE = (4 * .0625 + 4 * .225) / 8 = 0.14375
    assert expected_calibration_error(y, p, n_bins=2, strategy="quantile") == pytest.approx(0.14375)
    # equal width: split at .5: 7 rows conf 1.95/7 acc 4/7 | one row conf .9 acc 0
    # ECE = (|4 - 1.95| + .9) / 8 = 0.36875
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.36875)


def test_bin_edges_belong_to_the_lower_bin_and_zero_and_one_are_kept() -> None:
    curve = reliability_curve([0, 1, 1, 0], [0.0, 0.5, 1.0, 0.5], n_bins=2)
    assert curve.bin_count == [3, 1]
    assert curve.bin_edges == [0.0, 0.5, 1.0]


def test_quantile_bins_are_calibration_curves_own_bins() -> None:
    # tied confidences put a quantile edge a hair below 1.0: counts follow scikit-learn's bins
    y, p = [0, 1, 0, 1], [0.0, 1.0, 1.0, 0.0]
    curve = reliability_curve(y, p, n_bins=3, strategy="quantile")
    prob_true, prob_pred = calibration_curve(y, p, n_bins=3, strategy="quantile")
    assert curve.bin_count == [2, 0, 2]
    assert [(c, a) for c, a, _ in curve.points()] == list(zip(prob_pred, prob_true, strict=True))


def test_degenerate_input_raises_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y, p in (([1, 1, 1], [0.2, 0.2, 0.9]), ([0], [0.3]), ([0, 0], [0.0, 1.0])):
            reliability_curve(y, p, n_bins=3, strategy="quantile")
            calibration_by_group(y, p, ["a"] * len(y))
            brier_score(y, p)
        brier_score([0, 0], [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])


def test_perfect_calibration_has_zero_error() -> None:
    y = [1, 1, 1, 0] * 5
    p = [0.75] * 20
    assert expected_calibration_error(y, p) == pytest.approx(0.0)
    assert brier_score([0, 1], [0.0, 1.0]) == 0.0
    assert brier_score([0, 1], [1.0, 0.0]) == 1.0


# -- calibration per group and per slice -----------------------------------------------------


@metric_settings
@given(multiclass_probabilities(max_n=50), st.integers(1, 4))
def test_calibration_by_group_equals_each_groups_own_calibration(data, n_groups) -> None:
    y, proba = data
    groups = np.arange(len(y)) % n_groups
    result = calibration_by_group(y, proba, groups, n_bins=5)
    assert sum(g.size for g in result.groups) == len(y)
    assert [g.size for g in result.groups] == sorted((g.size for g in result.groups), reverse=True)
    for g in result.groups:
        rows = groups == g.group
        assert g.expected_calibration_error == pytest.approx(
            expected_calibration_error(y[rows], proba[rows], n_bins=5)
        )
        assert g.brier_score == pytest.approx(brier_score(y[rows], proba[rows]))
    assert result.overall.expected_calibration_error == pytest.approx(
        expected_calibration_error(y, proba, n_bins=5)
    )


def test_calibration_by_group_missing_values_and_min_size() -> None:
    y = [0, 1, 0, 1, 1]
    p = [0.2, 0.9, 0.6, 0.4, 0.7]
    result = calibration_by_group(y, p, ["a", "a", None, float("nan"), "b"], n_bins=2)
    assert [(g.group, g.size) for g in result.groups] == [("(missing)", 2), ("a", 2), ("b", 1)]
    assert [g.group for g in calibration_by_group(y, p, [1, 1, 2, 2, 3], min_size=2).groups] == [
        1,
        2,
    ]
    assert "(all)" in str(result)
    json.loads(result.to_json())


def _report(n: int, slices: list[tuple[str, list[int], int]], labels: list[int]) -> AnalysisReport:
    made = [
        FailureSlice(
            name=name,
            description="",
            size=len(rows),
            failure_rate=0.5,
            baseline_rate=0.2,
            effect_size=2.5,
            p_value=0.001,
            adjusted_p_value=0.01,
            test_used="fisher",
            sample_indices=rows,
            cluster_id=cluster,
        )
        for name, rows, cluster in slices
    ]
    return AnalysisReport(
        total_prompts=n,
        total_failures=n // 5,
        baseline_failure_rate=0.2,
        num_significant=len(made),
        slices=made,
        clustering_method="fixed",
        embedding_model="none",
        cluster_labels=labels,
    )


def test_calibration_by_slice_reads_the_report_rows() -> None:
    rng = np.random.default_rng(0)
    n = 40
    y = rng.integers(0, 2, n)
    p = rng.random(n)
    labels = [0] * 10 + [1] * 10 + [2] * 10 + [-1] * 10
    report = _report(n, [("dates", list(range(10)), 0), ("units", list(range(10, 20)), 1)], labels)
    result = calibration_by_slice(report, y, p, n_bins=4)
    assert [g.group for g in result.groups] == ["dates", "units", "(rest)"]
    assert [g.size for g in result.groups] == [10, 10, 20]
    assert result.for_group("units").expected_calibration_error == pytest.approx(
        expected_calibration_error(y[10:20], p[10:20], n_bins=4)
    )
    by_cluster = calibration_by_slice(report, y, p, by="clusters", n_bins=4)
    assert {g.group for g in by_cluster.groups} == {"dates", "units", "cluster 2", "(noise)"}
    assert by_cluster.for_group("(noise)").brier_score == pytest.approx(brier_score(y[30:], p[30:]))


def test_calibration_by_slice_keeps_unscored_rows_apart() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 30), rng.random(30)
    labels = [0] * 10 + [1] * 10 + [-1] * 5 + [-2] * 5  # -2: left out, could not be scored
    report = _report(25, [("dates", list(range(10)), 0)], labels)  # 25 rows analysed
    result = calibration_by_slice(report, y, p, n_bins=4)
    assert [(g.group, g.size) for g in result.groups] == [
        ("dates", 10),
        ("(rest)", 15),
        ("(unscored)", 5),
    ]
    assert result.for_group("(unscored)").brier_score == pytest.approx(brier_score(y[25:], p[25:]))
    by_cluster = calibration_by_slice(report, y, p, by="clusters", n_bins=4)
    assert {g.group: g.size for g in by_cluster.groups} == {
        "dates": 10,
        "cluster 1": 10,
        "(noise)": 5,
        "(unscored)": 5,
    }


def test_calibration_by_slice_rejects_other_data() -> None:
    report = _report(10, [("dates", [0, 1, 2], 0)], [0] * 10)
    with pytest.raises(DataError, match="covers 10 rows"):
        calibration_by_slice(report, [0, 1] * 6, [0.5] * 12)
    with pytest.raises(ConfigurationError, match="'by' parameter"):
        calibration_by_slice(report, [0, 1] * 5, [0.5] * 10, by="cohorts")


# -- failure analysis ------------------------------------------------------------------------

Y = [0, 1, 2, 2, 1]
PRED = [0, 1, 2, 1, 0]
PROBA = [
    [0.9, 0.05, 0.05],
    [0.2, 0.7, 0.1],
    [0.1, 0.1, 0.8],
    [0.3, 0.4, 0.3],
    [0.5, 0.3, 0.2],
]


def test_confidence_gap_hand_worked() -> None:
    gap = confidence_gap(Y, PRED, PROBA, n_bins=4)
    # right: .9, .7, .8 (mean .8); wrong: .4 (row 3), .5 (row 4) (mean .45)
    assert gap.mean_correct == pytest.approx(0.8)
    assert gap.mean_incorrect == pytest.approx(0.45)
    assert gap.gap == pytest.approx(0.35)
    assert gap.bin_edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert gap.correct_counts.tolist() == [0, 0, 1, 2]
    assert gap.incorrect_counts.tolist() == [0, 1, 1, 0]
    assert sorted(gap.incorrect_confidences.tolist()) == [0.4, 0.5]
    with pytest.raises(ValueError):
        gap.correct_counts[0] = 5  # read-only
    assert json.loads(gap.to_json())["gap"] == pytest.approx(0.35)


def test_confidence_gap_binary_and_no_mistakes() -> None:
    gap = confidence_gap([0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.8, 0.4, 0.7], n_bins=2)
    assert (gap.mean_correct, gap.mean_incorrect) == pytest.approx((0.85, 0.65))
    perfect = confidence_gap([0, 1], None, [0.0, 1.0])
    assert perfect.mean_correct == 1.0 and math.isnan(perfect.gap)
    assert perfect.to_dict()["gap"] is None


@metric_settings
@given(binary_probabilities(), st.integers(1, 20))
def test_binary_probabilities_read_like_two_columns(data, n_bins) -> None:
    y, p = data
    pred = (p >= 0.5).astype(int)
    one = confidence_gap(y, pred, p, n_bins=n_bins)
    two = confidence_gap(y, pred, np.column_stack([1 - p, p]), n_bins=n_bins)
    np.testing.assert_allclose(one.correct_confidences, two.correct_confidences)
    assert one.correct_counts.tolist() == two.correct_counts.tolist()
    assert one.incorrect_counts.tolist() == two.incorrect_counts.tolist()
    assert one.correct_counts.sum() + one.incorrect_counts.sum() == len(y)
    s1 = misclassification_summary(y, pred, p)
    s2 = misclassification_summary(y, pred, np.column_stack([1 - p, p]))
    assert s1.to_dict() == s2.to_dict()


def test_misclassification_summary_hand_worked() -> None:
    s = misclassification_summary(Y, PRED, PROBA)
    assert (s.n_samples, s.n_misclassified, s.error_rate) == (5, 2, 0.4)
    assert s.most_confident_mistakes == [4, 3]
    one = s.for_label(1)
    assert (one.support, one.misclassified, one.error_rate) == (2, 1, 0.5)
    assert one.mean_confidence == pytest.approx(0.5)
    assert one.most_confident_mistakes == [4]
    assert one.confused_with == [(0, 1)]
    zero = s.for_label(0)
    assert zero.misclassified == 0 and math.isnan(zero.mean_confidence)
    assert s.to_dict()["classes"][0]["mean_confidence"] is None
    assert "2 of 5 misclassified" in str(s)


@metric_settings
@given(multiclass_probabilities(max_n=50), st.integers(0, 6))
def test_misclassification_summary_agrees_with_sklearn_counts(data, top_k) -> None:
    y, proba = data
    pred = proba.argmax(axis=1)
    s = misclassification_summary(y, pred, proba, top_k=top_k)
    k = proba.shape[1]
    cm = skm.confusion_matrix(y, pred, labels=list(range(k)))
    assert [c.support for c in s.classes] == cm.sum(axis=1).tolist()
    assert [c.misclassified for c in s.classes] == (cm.sum(axis=1) - np.diag(cm)).tolist()
    conf = proba.max(axis=1)
    for c in s.classes:
        rows = c.most_confident_mistakes
        assert len(rows) == min(top_k, c.misclassified)
        assert all(y[r] == c.label and pred[r] != y[r] for r in rows)
        assert conf[rows].tolist() == sorted(conf[rows].tolist(), reverse=True)


def test_y_pred_none_predicts_the_most_probable_class() -> None:
    s = misclassification_summary(Y, None, PROBA)
    assert s.n_misclassified == 2  # rows 3 and 4 again: arg-max is 1 and 0


# -- bad input ------------------------------------------------------------------------------


def test_calibration_bad_input() -> None:
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        expected_calibration_error([0, 1], [-0.1, 0.5])
    with pytest.raises(DataError, match="must sum to 1"):
        reliability_curve([0, 1], [[0.2, 0.2], [0.5, 0.5]])
    with pytest.raises(DataError, match="'y_prob' has 3 rows but 'y_true' has 2"):
        brier_score([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ConfigurationError, match="'n_bins' parameter"):
        expected_calibration_error([0, 1], [0.1, 0.9], n_bins=0)
    with pytest.raises(ConfigurationError, match="'strategy' parameter"):
        expected_calibration_error([0, 1], [0.1, 0.9], strategy="equal")
    with pytest.raises(DataError, match="has 1 entries"):
        calibration_by_group([0, 1], [0.1, 0.9], ["a"])
    with pytest.raises(DataError, match="not hashable"):
        calibration_by_group([0, 1], [0.1, 0.9], [["a"], ["b"]])
    with pytest.raises(DataError, match="multiclass"):
        brier_score([0, 1, 2], [0.1, 0.9, 0.5])


def test_failure_bad_input() -> None:
    with pytest.raises(DataError, match="'y_pred' has 2 entries"):
        confidence_gap([0, 1, 1], [0, 1], [0.1, 0.9, 0.8])
    with pytest.raises(DataError, match="2 columns but there are 3 classes"):
        misclassification_summary([0, 1], [0, 3], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(DataError, match="not one of the labels"):
        misclassification_summary([0, 1], [0, 3], [[0.5, 0.5], [0.5, 0.5]], labels=[0, 1])
    with pytest.raises(ConfigurationError, match="'top_k' parameter"):
        misclassification_summary([0, 1], [0, 1], [0.2, 0.8], top_k=-1)
