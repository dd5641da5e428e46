"""Segmentation overlap (IoU, Dice, pixel accuracy) against scikit-learn on flattened masks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm
from strategies import metric_settings, segmentation_masks

from faultmap.exceptions import ConfigurationError, DataError
from faultmap.metrics import dice_coefficient, iou, pixel_accuracy


def _sk(fn, t, p, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(t.ravel(), p.ravel(), zero_division=0, **kwargs)


@metric_settings
@given(segmentation_masks(), st.sampled_from(["micro", "weighted", None, "macro"]))
def test_multiclass_iou_and_dice_match_sklearn(masks, average) -> None:
    t, p, k = masks
    labels = list(range(k))
    present = np.isin(labels, np.union1d(t, p))
    for ours, theirs in ((iou, skm.jaccard_score), (dice_coefficient, skm.f1_score)):
        got = ours(t, p, num_classes=k, average=average)
        if average == "macro":
            # classes absent from both masks are left out of the mean
            per_class = _sk(theirs, t, p, labels=labels, average=None)
            assert got == pytest.approx(per_class[present].mean())
        elif average is None:
            per_class = _sk(theirs, t, p, labels=labels, average=None)
            np.testing.assert_allclose(got[present], per_class[present])
            assert np.isnan(got[~present]).all()
        else:
            assert got == pytest.approx(_sk(theirs, t, p, labels=labels, average=average))


@metric_settings
@given(segmentation_masks(max_classes=2))
def test_binary_iou_and_dice_match_sklearn(masks) -> None:
    t, p, _ = masks
    assert iou(t, p) == pytest.approx(_sk(skm.jaccard_score, t, p, labels=[0, 1]))
    assert dice_coefficient(t, p) == pytest.approx(_sk(skm.f1_score, t, p, labels=[0, 1]))
    assert iou(t.astype(bool), p.astype(bool)) == iou(t, p)


@metric_settings
@given(segmentation_masks())
def test_pixel_accuracy_matches_sklearn(masks) -> None:
    t, p, k = masks
    assert pixel_accuracy(t, p, num_classes=k) == pytest.approx(
        skm.accuracy_score(t.ravel(), p.ravel())
    )


def test_hand_worked_and_edges() -> None:
    t = np.array([[0, 1], [1, 1]])
    p = np.array([[0, 1], [0, 1]])
    assert iou(t, p) == pytest.approx(2 / 3)
    assert dice_coefficient(t, p) == pytest.approx(0.8)
    assert pixel_accuracy(t, p) == 0.75
    empty = np.zeros((3, 3), dtype=int)
    assert iou(empty, empty) == 0.0  # no foreground anywhere: 0.0, as scikit-learn
    assert iou(t, t, num_classes=2) == 1.0
    assert iou(t, 1 - t, num_classes=2) == 0.0


def test_degenerate_masks_raise_no_warning() -> None:
    empty = np.zeros((2, 2), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for average in ("micro", "macro", "weighted", None):
            iou(empty, empty, num_classes=3, average=average)
            dice_coefficient(empty, empty + 1, num_classes=3, average=average)
        assert dice_coefficient(empty, empty) == 0.0
        assert np.isnan(iou(empty, empty, num_classes=3, average=None)[1:]).all()


def test_ignore_index_drops_void_pixels() -> None:
    t = np.array([0, 1, 255, 255, 2])
    p = np.array([0, 1, 2, 0, 2])
    assert pixel_accuracy(t, p, num_classes=3, ignore_index=255) == 1.0
    assert iou(t, p, num_classes=3, ignore_index=255) == 1.0
    with pytest.raises(DataError, match="Every pixel"):
        iou([255, 255], [0, 1], num_classes=3, ignore_index=255)


def test_bad_masks() -> None:
    with pytest.raises(DataError, match="outside num_classes=3"):
        iou([0, 1, 3], [0, 1, 2], num_classes=3)
    with pytest.raises(DataError, match="outside num_classes=3"):
        dice_coefficient([0, 1, 2], [0, -1, 2], num_classes=3)
    with pytest.raises(DataError, match="pass num_classes"):
        iou([0, 1, 2], [0, 1, 2])
    with pytest.raises(DataError, match="same shape"):
        iou(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(DataError, match="integer class labels"):
        iou([0.5, 1.0], [0.0, 1.0])
    with pytest.raises(DataError, match="integer mask"):
        pixel_accuracy(["a"], ["a"])
    with pytest.raises(ConfigurationError, match="'num_classes' parameter of iou"):
        iou([0, 1], [0, 1], num_classes=1)
    with pytest.raises(ConfigurationError, match="'average' parameter of iou"):
        iou([0, 1], [0, 1], num_classes=2, average="binary")
