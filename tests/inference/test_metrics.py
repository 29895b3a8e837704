"""Metrics against values computed by hand."""
import numpy as np
import pytest

from core.inference.metrics import compute_metrics, confusion_matrix


def test_metrics_by_hand():
    # labels:      0    0    0    1    1    2
    # predictions: 0    0    1    1    0    2
    labels = np.array([0, 0, 0, 1, 1, 2])
    probs = np.array([
        [0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1],
        [0.1, 0.9, 0.0], [0.5, 0.4, 0.1], [0.0, 0.0, 1.0],
    ])
    m = compute_metrics(labels, probs, ["a", "b", "c"])
    np.testing.assert_array_equal(m.confusion, [[2, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    a, b, c = m.per_class
    assert (a.precision, a.recall, a.support) == (pytest.approx(2 / 3), pytest.approx(2 / 3), 3)
    assert a.f1 == pytest.approx(2 / 3)
    assert (b.precision, b.recall) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (c.precision, c.recall, c.f1) == (1.0, 1.0, 1.0)
    # ECE, 15 bins of width 1/15: confidences .8 .6 .7 .9 .5 1.0 each fall in a bin of their own.
    # |correct - conf| per example: .2 .4 .7 .1 .5 0 -> mean 1.9 / 6
    assert m.ece == pytest.approx(1.9 / 6)


def test_ece_pools_a_bin():
    # Two examples in the same bin (0.9 and 0.92 -> bin (13/15, 14/15]), one right, one wrong.
    labels = np.array([0, 1])
    probs = np.array([[0.9, 0.1], [0.92, 0.08]])
    assert compute_metrics(labels, probs, ["a", "b"]).ece == pytest.approx(abs(0.5 - 0.91))


def test_classes_without_examples_or_predictions():
    labels = np.array([0, 0])
    probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]])
    m = compute_metrics(labels, probs, ["a", "b", "c"])
    assert m.balanced_accuracy == 1.0
    assert np.isnan(m.per_class[1].recall) and np.isnan(m.per_class[1].precision)
    d = m.to_dict()
    assert d["per_class"][2]["f1"] is None and d["confusion"][0] == [2, 0, 0]


def test_confusion_matrix_rows_are_labels():
    np.testing.assert_array_equal(confusion_matrix([0, 1, 1], [1, 1, 0], 2), [[0, 1], [1, 1]])
