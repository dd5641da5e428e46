"""faultmap.metrics classification metrics against scikit-learn, edge cases and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm
from strategies import (
    binary_probabilities,
    label_pairs,
    metric_settings,
    multiclass_probabilities,
)

from faultmap.exceptions import ConfigurationError, DataError
from faultmap.metrics import (
    accuracy,
    balanced_accuracy,
    classification_report,
    cohen_kappa,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    precision,
    recall,
    roc_auc,
    sensitivity,
    specificity,
)

AVERAGES = ["micro", "macro", "weighted", None]


def _quiet(fn, *args, **kwargs):
    """Call a scikit-learn metric with its undefined-metric warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _close(ours, theirs) -> None:
    np.testing.assert_allclose(np.asarray(ours, float), np.asarray(theirs, float), atol=1e-12)


# -- against scikit-learn -------------------------------------------------------------------


@metric_settings
@given(label_pairs(), st.sampled_from([None, "true", "pred", "all"]))
def test_confusion_matrix_matches_sklearn(pair, normalize) -> None:
    y_true, y_pred = pair
    ours = confusion_matrix(y_true, y_pred, normalize=normalize)
    theirs = _quiet(skm.confusion_matrix, y_true, y_pred, normalize=normalize)
    _close(ours, theirs)
    if normalize is None:
        assert ours.dtype == np.int64


@metric_settings
@given(label_pairs(text=False, max_classes=4))
def test_confusion_matrix_follows_the_given_label_order(pair) -> None:
    y_true, y_pred = pair
    labels = [3, 1, 0, 2]
    _close(
        confusion_matrix(y_true, y_pred, labels=labels),
        skm.confusion_matrix(y_true, y_pred, labels=labels),
    )


@metric_settings
@given(label_pairs())
def test_accuracy_balanced_accuracy_mcc_match_sklearn(pair) -> None:
    y_true, y_pred = pair
    assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(
        _quiet(skm.balanced_accuracy_score, y_true, y_pred)
    )
    assert matthews_corrcoef(y_true, y_pred) == pytest.approx(
        _quiet(skm.matthews_corrcoef, y_true, y_pred), abs=1e-12
    )


@metric_settings
@given(label_pairs(), st.sampled_from(AVERAGES))
def test_precision_recall_f1_match_sklearn(pair, average) -> None:
    y_true, y_pred = pair
    for ours, theirs in (
        (precision, skm.precision_score),
        (recall, skm.recall_score),
        (sensitivity, skm.recall_score),
        (f1_score, skm.f1_score),
    ):
        expected = _quiet(theirs, y_true, y_pred, average=average, zero_division=0)
        _close(ours(y_true, y_pred, average=average), expected)


@metric_settings
@given(label_pairs(max_classes=2, text=False))
def test_binary_average_matches_sklearn(pair) -> None:
    y_true, y_pred = pair
    for ours, theirs in (
        (precision, skm.precision_score),
        (recall, skm.recall_score),
        (f1_score, skm.f1_score),
    ):
        expected = _quiet(theirs, y_true, y_pred, zero_division=0)
        assert ours(y_true, y_pred) == pytest.approx(expected)


@metric_settings
@given(label_pairs(max_classes=2, text=True))
def test_binary_average_with_text_labels_and_pos_label(pair) -> None:
    y_true, y_pred = pair
    if "c0" not in set(y_true) | set(y_pred):
        return  # pos_label must be one of the labels, as in scikit-learn
    expected = _quiet(skm.f1_score, y_true, y_pred, pos_label="c0", zero_division=0)
    assert f1_score(y_true, y_pred, pos_label="c0") == pytest.approx(expected)


@metric_settings
@given(label_pairs(), st.sampled_from([*AVERAGES, "binary"]))
def test_specificity_is_the_one_vs_rest_true_negative_rate(pair, average) -> None:
    y_true, y_pred = pair
    classes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    if average == "binary":
        if len(classes) > 2:
            return
        classes = np.array([0, 1]) if classes.dtype.kind != "U" else classes
        pos = 1 if classes.dtype.kind != "U" else classes[-1]
        negatives = np.asarray(y_true) != pos
        expected = _quiet(skm.recall_score, negatives, np.asarray(y_pred) != pos, zero_division=0)
        assert specificity(y_true, y_pred, pos_label=pos) == pytest.approx(expected)
        return
    mcm = skm.multilabel_confusion_matrix(y_true, y_pred, labels=classes)
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    per_class = np.divide(tn, tn + fp, out=np.zeros(len(tn)), where=(tn + fp) > 0)
    support = mcm[:, 1, 0] + mcm[:, 1, 1]
    expected = {
        None: per_class,
        "macro": per_class.mean(),
        "weighted": np.average(per_class, weights=support),
        "micro": tn.sum() / (tn.sum() + fp.sum()) if (tn.sum() + fp.sum()) else 0.0,
    }[average]
    _close(specificity(y_true, y_pred, average=average), expected)
    if average is None:  # per class it is the recall of "not this class"
        for c, value in zip(classes, per_class, strict=True):
            neg_true, neg_pred = np.asarray(y_true) != c, np.asarray(y_pred) != c
            assert value == pytest.approx(
                _quiet(skm.recall_score, neg_true, neg_pred, zero_division=0)
            )


@metric_settings
@given(label_pairs(text=False), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_kappa_matches_sklearn(pair, weights) -> None:
    y_true, y_pred = pair
    expected = _quiet(
        skm.cohen_kappa_score, y_true, y_pred, weights=weights, replace_undefined_by=0.0
    )
    assert cohen_kappa(y_true, y_pred, weights=weights) == pytest.approx(expected, abs=1e-12)


@metric_settings
@given(binary_probabilities(both_classes=True))
def test_binary_roc_auc_matches_sklearn(data) -> None:
    y_true, p = data
    assert roc_auc(y_true, p) == pytest.approx(skm.roc_auc_score(y_true, p))
    # (n, 2) probabilities read the second column
    two = np.column_stack([1 - p, p])
    assert roc_auc(y_true, two) == pytest.approx(skm.roc_auc_score(y_true, p))


def test_binary_roc_auc_takes_any_real_scores() -> None:
    y = [0, 0, 1, 1, 0, 1]
    scores = [-3.0, 0.5, 2.0, 0.5, 1.0, 10.0]
    assert roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores))


@metric_settings
@given(
    multiclass_probabilities(all_classes=True),
    st.sampled_from(
        [
            ("ovr", "macro"),
            ("ovr", "weighted"),
            ("ovr", "micro"),
            ("ovo", "macro"),
            ("ovo", "weighted"),
        ]
    ),
)
def test_multiclass_roc_auc_matches_sklearn(data, mode) -> None:
    y_true, proba = data
    multi_class, average = mode
    expected = skm.roc_auc_score(y_true, proba, multi_class=multi_class, average=average)
    assert roc_auc(y_true, proba, multi_class=multi_class, average=average) == pytest.approx(
        expected
    )


def test_multiclass_roc_auc_per_class() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    p = np.array(
        [
            [0.6, 0.2, 0.2],
            [0.1, 0.8, 0.1],
            [0.2, 0.3, 0.5],
            [0.3, 0.4, 0.3],
            [0.2, 0.5, 0.3],
            [0.1, 0.1, 0.8],
        ]
    )
    expected = [skm.roc_auc_score(y == c, p[:, c]) for c in range(3)]
    _close(roc_auc(y, p, average=None), expected)


@metric_settings
@given(binary_probabilities())
def test_binary_log_loss_matches_sklearn(data) -> None:
    y_true, p = data
    expected = skm.log_loss(y_true, p, labels=[0, 1])
    assert log_loss(y_true, p) == pytest.approx(expected)


@metric_settings
@given(multiclass_probabilities())
def test_multiclass_log_loss_matches_sklearn(data) -> None:
    y_true, proba = data
    k = proba.shape[1]
    expected = skm.log_loss(y_true, proba, labels=list(range(k)))
    assert log_loss(y_true, proba) == pytest.approx(expected)
    assert log_loss(y_true, proba, labels=list(range(k))) == pytest.approx(expected)


def test_log_loss_with_text_labels_uses_sorted_columns() -> None:
    y = ["spam", "ham", "ham", "spam"]
    p = [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p))


@metric_settings
@given(label_pairs())
def test_classification_report_matches_sklearn_per_class(pair) -> None:
    y_true, y_pred = pair
    report = classification_report(y_true, y_pred)
    p, r, f, s = _quiet(skm.precision_recall_fscore_support, y_true, y_pred, zero_division=0)
    _close([c.precision for c in report.classes], p)
    _close([c.recall for c in report.classes], r)
    _close([c.f1 for c in report.classes], f)
    assert [c.support for c in report.classes] == s.tolist()
    _close([c.specificity for c in report.classes], specificity(y_true, y_pred, average=None))
    assert report.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert report.macro["f1"] == pytest.approx(
        _quiet(skm.f1_score, y_true, y_pred, average="macro", zero_division=0)
    )
    assert report.weighted["recall"] == pytest.approx(
        _quiet(skm.recall_score, y_true, y_pred, average="weighted", zero_division=0)
    )
    # confused pairs: every off-diagonal cell, ranked by count
    cm = _quiet(skm.confusion_matrix, y_true, y_pred)
    counts = [p.count for p in report.confused_pairs]
    assert counts == sorted(counts, reverse=True)
    off_diagonal = sorted(cm[~np.eye(len(cm), dtype=bool)].tolist(), reverse=True)
    assert counts == [c for c in off_diagonal if c > 0][:10]
    for pair_ in report.confused_pairs:
        assert pair_.true_label != pair_.predicted_label


# -- edges and documented behaviour ----------------------------------------------------------


def test_all_correct_and_all_wrong() -> None:
    y = [0, 1, 2, 2]
    assert accuracy(y, y) == 1.0
    assert matthews_corrcoef(y, y) == 1.0
    assert cohen_kappa(y, y) == 1.0
    wrong = [1, 2, 0, 0]
    assert accuracy(y, wrong) == 0.0
    assert precision(y, wrong, average="macro") == 0.0
    assert f1_score(y, wrong, average=None).tolist() == [0.0, 0.0, 0.0]


def test_one_class_present() -> None:
    y = [1, 1, 1]
    assert precision(y, y) == 1.0
    assert specificity(y, y) == 0.0  # no negatives: 0 / 0 -> 0
    zeros = [0, 0, 0]
    assert precision(zeros, zeros) == 0.0  # positive class 1 never occurs
    assert matthews_corrcoef(zeros, zeros) == 0.0
    assert cohen_kappa(zeros, zeros) == 0.0  # undefined -> 0.0
    with pytest.raises(DataError, match="only one class"):
        roc_auc(y, [0.2, 0.5, 0.9])


def test_degenerate_input_raises_no_warning() -> None:
    # scikit-learn computes the values; its warnings for one class or 0 / 0 must not leak
    cases = [([0, 0, 0], [0, 0, 0]), (["a"], ["a"]), ([1, 1], [0, 0]), ([0, 1, 1], [2, 2, 2])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y_true, y_pred in cases:
            confusion_matrix(y_true, y_pred)
            confusion_matrix(y_true, y_pred, normalize="pred")
            accuracy(y_true, y_pred)
            balanced_accuracy(y_true, y_pred)
            matthews_corrcoef(y_true, y_pred)
            cohen_kappa(y_true, y_pred, weights="linear")
            classification_report(y_true, y_pred)
            for metric in (precision, recall, f1_score, specificity):
                for average in AVERAGES:
                    metric(y_true, y_pred, average=average)
        assert confusion_matrix([0, 0], [0, 0]).tolist() == [[2]]
        assert precision([0, 0], [0, 0], pos_label=1) == 0.0
        assert log_loss([1, 1], [0.0, 0.0]) > 30  # clipped, not infinite
        assert roc_auc([0, 1, 1], [0.5, 0.5, 0.5]) == 0.5


def test_classification_report_views() -> None:
    report = classification_report(["a", "a", "b", "c"], ["a", "b", "b", "b"])
    text = str(report)
    assert "macro avg" in text and "a -> b: 1" in text
    data = report.to_dict()
    assert data["labels"] == ["a", "b", "c"]
    assert data["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    assert report.to_json().startswith("{")
    with pytest.raises(KeyError):
        report.for_label("z")


def test_labels_argument_orders_per_class_output() -> None:
    y_true, y_pred = ["a", "b", "b"], ["a", "b", "a"]
    assert recall(y_true, y_pred, average=None, labels=["b", "a"]).tolist() == [0.5, 1.0]
    assert recall(y_true, y_pred, average=None, labels=["b", "a", "z"]).tolist() == [
        0.5,
        1.0,
        0.0,
    ]


# -- bad input ------------------------------------------------------------------------------


def test_lengths_must_match() -> None:
    with pytest.raises(DataError, match="'y_pred' has 2 entries but 'y_true' has 3"):
        accuracy([0, 1, 1], [0, 1])


def test_labels_must_be_one_type_and_not_missing() -> None:
    with pytest.raises(DataError, match="mixes strings"):
        accuracy(["a", 1], ["a", "b"])
    with pytest.raises(DataError, match="numeric labels but 'y_pred' holds text"):
        accuracy([0, 1], ["a", "b"])
    with pytest.raises(DataError, match="NaN"):
        accuracy([0.0, float("nan")], [0.0, 1.0])
    with pytest.raises(DataError, match="None"):
        accuracy(["a", None], ["a", "b"])
    with pytest.raises(DataError, match="empty"):
        accuracy([], [])
    with pytest.raises(DataError, match="not a single string"):
        accuracy("ab", "ab")


def test_labels_must_cover_the_data() -> None:
    with pytest.raises(DataError, match="not one of the labels"):
        confusion_matrix([0, 1, 2], [0, 1, 1], labels=[0, 1])
    with pytest.raises(ConfigurationError, match="must not repeat"):
        confusion_matrix([0, 1], [0, 1], labels=[0, 1, 1])


def test_binary_average_on_multiclass_data_says_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="average='macro'"):
        precision([0, 1, 2], [0, 1, 2])
    with pytest.raises(DataError, match="pos_label=1 is not one of the labels"):
        precision(["no", "yes"], ["yes", "yes"])
    with pytest.raises(ConfigurationError, match="'average' parameter of recall"):
        recall([0, 1], [0, 1], average="samples")


def test_probabilities_are_checked() -> None:
    with pytest.raises(DataError, match=r"in \[0, 1\]"):
        log_loss([0, 1], [0.5, 1.2])
    with pytest.raises(DataError, match="must sum to 1"):
        log_loss([0, 1], [[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(DataError, match="NaN"):
        log_loss([0, 1], [0.5, float("nan")])
    with pytest.raises(DataError, match="3 columns but there are 2 classes"):
        log_loss(["a", "b"], [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    with pytest.raises(DataError, match="has 1 rows but 'y_true' has 2"):
        log_loss([0, 1], [0.5])
    with pytest.raises(DataError, match="pass labels"):
        log_loss(["a", "a"], [0.2, 0.4])
    # within the tolerance of 1e-6 a row is accepted
    assert log_loss([0, 1], [[0.5, 0.5 + 5e-7], [0.5, 0.5]]) > 0


def test_multiclass_roc_auc_needs_every_class() -> None:
    p = [[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]]
    with pytest.raises(DataError, match="absent from y_true"):
        roc_auc([0, 1, 1], p, labels=[0, 1, 2])
    with pytest.raises(ConfigurationError, match="multi_class='ovo'"):
        roc_auc([0, 1, 2], p, multi_class="ovo", average="micro")
