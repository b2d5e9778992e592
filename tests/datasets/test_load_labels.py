"""load_task refuses labels a classifier cannot use, up front, saying what is wrong and the fix."""

import numpy as np
import pytest

from sparselimit.datasets import load_task


def npz(tmp_path, y, n_features=3):
    X = np.random.RandomState(0).randn(len(y), n_features)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    return str(tmp_path / "d.npz")


def test_single_class_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"d\.npz: y holds a single class \(0\.0, all 50 sam"):
        load_task(npz(tmp_path, np.zeros(50)))


def test_continuous_target_is_refused(tmp_path):
    y = np.random.RandomState(1).randn(80)
    with pytest.raises(
        ValueError,
        match=r"y looks continuous \(80 distinct float values.*"
        r"classification only.*numpy\.digitize",
    ):
        load_task(npz(tmp_path, y))


def test_continuous_csv_labels_are_refused(tmp_path):
    rows = [f"{i},{i % 3},{0.5 + i}" for i in range(20)]
    (tmp_path / "d.csv").write_text("\n".join(rows))
    with pytest.raises(ValueError, match=r"y looks continuous \(20 distinct float values"):
        load_task(str(tmp_path / "d.csv"))


def test_whole_number_floats_are_class_labels(tmp_path):
    y = np.tile([0.0, 1.0, 4.0], 20)
    task = load_task(npz(tmp_path, y))
    assert task.classes.tolist() == [0.0, 1.0, 4.0] and task.n_classes == 3
    np.testing.assert_array_equal(np.sort(np.unique(task.y_train)), [0, 1, 2])


def test_two_dimensional_y_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"y must be 1-D.*got shape \(40, 2\)"):
        load_task(npz(tmp_path, np.eye(2)[np.arange(40) % 2]))


def test_class_with_one_sample_is_named(tmp_path):
    y = np.array(["a", "b"] * 20 + ["c"])
    with pytest.raises(
        ValueError, match=r"1 of the 3 classes of y have a single sample \(e\.g\. 'c'"
    ):
        load_task(npz(tmp_path, y))


@pytest.mark.parametrize("name, n_classes", [("wine", 3), ("breast_cancer", 2), ("synthetic", 4)])
def test_bundled_tasks_are_unchanged(name, n_classes):
    task = load_task(name)
    assert task.classes.tolist() == list(range(n_classes))
    assert task.y_train.dtype == np.int64
