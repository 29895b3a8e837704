"""Confident learning and the review order on probability matrices built by hand."""
import numpy as np
import pytest

from core.inference.ranking import (
    UNLABELED,
    calibrate_joint,
    confident_joint,
    find_label_issues,
    label_quality,
    per_class_thresholds,
    rank_for_review,
)


def test_thresholds_are_class_means_over_given_labels():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    np.testing.assert_allclose(per_class_thresholds(labels, probs), [0.8, 0.7])


def test_confident_joint_counts_given_vs_guessed():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9],  # the third looks like a 1
                      [0.2, 0.8], [0.1, 0.9], [0.3, 0.7]])
    # t = [mean(.9,.8,.1)=.6, mean(.8,.9,.7)=.8]
    joint, guess, confident = confident_joint(labels, probs)
    assert confident.tolist() == [True, True, True, True, True, False]
    assert guess[:5].tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_array_equal(joint, [[2, 1], [0, 2]])


def test_calibration_keeps_row_totals_equal_to_label_counts():
    labels = np.array([0] * 6 + [1] * 4)
    joint = np.array([[2, 1], [0, 2]])
    cal = calibrate_joint(joint, labels)
    np.testing.assert_array_equal(cal.sum(axis=1), [6, 4])
    np.testing.assert_array_equal(cal, [[4, 2], [0, 4]])


def _noisy_problem(n=300, k=3, flips=30, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += 4.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = true.copy()
    flipped = rng.choice(n, flips, replace=False)
    labels[flipped] = (true[flipped] + rng.integers(1, k, flips)) % k
    return labels, probs, set(flipped.tolist())


def test_flipped_labels_are_found_and_ranked_first():
    labels, probs, flipped = _noisy_problem()
    issues = find_label_issues(labels, probs)
    found = set(np.flatnonzero(issues).tolist())
    assert len(found & flipped) >= 0.9 * len(flipped)
    assert len(found - flipped) <= 0.1 * len(flipped)
    ranked = rank_for_review(np.arange(len(labels)) + 100, labels, probs)
    top = {e.image_id - 100 for e in ranked[: len(flipped)]}
    assert len(top & flipped) >= 0.9 * len(flipped)
    assert ranked[0].reason == "label_issue"


def test_clean_confident_labels_have_no_issues():
    labels = np.array([0, 1, 2] * 5)
    probs = np.eye(3)[labels] * 0.9 + 0.1 / 3
    assert not find_label_issues(labels, probs).any()
    assert rank_for_review(np.arange(15), labels, probs) == []


def test_a_class_is_never_emptied():
    # Both examples of class 1 look like class 0: one must stay.
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1]] * 3 + [[0.95, 0.05], [0.9, 0.1]])
    assert find_label_issues(labels, probs)[3:].sum() <= 1


def test_label_quality_methods():
    labels = np.array([0, 1])
    probs = np.array([[0.6, 0.3, 0.1], [0.5, 0.2, 0.3]])
    np.testing.assert_allclose(label_quality(labels, probs), [0.6, 0.2])
    np.testing.assert_allclose(label_quality(labels, probs, "normalized_margin"), [(0.3 + 1) / 2, (0.2 - 0.5 + 1) / 2])
    with pytest.raises(ValueError):
        label_quality(labels, probs, "nope")


def test_review_order_reasons_and_unlabelled_images():
    ids = np.array([10, 11, 12, 13, 14, 15, 16, 17])
    labels = np.array([0, 0, 0, 1, 1, 1, 0, UNLABELED])
    probs = np.array([
        [0.95, 0.05], [0.9, 0.1], [0.85, 0.15],
        [0.1, 0.9], [0.2, 0.8], [0.55, 0.45],  # 15: labelled 1, predicted 0 with doubt
        [0.58, 0.42],  # 16: agrees but unsure
        [0.52, 0.48],  # 17: unlabelled and unsure
    ])
    ranked = rank_for_review(ids, labels, probs, low_confidence=0.6)
    by_id = {e.image_id: e for e in ranked}
    assert len(by_id) == len(ranked)  # each image once
    assert by_id[15].reason in ("label_issue", "disagreement")
    assert by_id[16].reason == by_id[17].reason == "low_confidence"
    assert np.isnan(by_id[17].self_confidence) and by_id[17].label == UNLABELED
    # Low-confidence entries come last, least confident first.
    assert [e.image_id for e in ranked][-2:] == [17, 16]
    assert all(0.0 <= e.score <= 1.0 for e in ranked)


def test_shape_errors_are_reported():
    with pytest.raises(ValueError):
        rank_for_review(np.arange(2), np.array([0, 1]), np.ones((3, 2)) / 2)
    with pytest.raises(ValueError):
        find_label_issues(np.array([0, 2]), np.ones((2, 2)) / 2)
