"""load_task on .npz files it cannot use: one message naming the file and the fix, never
numpy's EOFError, BadZipFile or its advice to unpickle the file."""

import numpy as np
import pytest

from sparselimit.datasets import load_task


def make(tmp_path, case):
    path = tmp_path / "d.npz"
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 3), np.arange(20) % 2
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("X,y\n1,2\n")
    elif case == "truncated":
        np.savez(tmp_path / "full.npz", X=X, y=y)
        data = (tmp_path / "full.npz").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "npy":
        with open(path, "wb") as f:
            np.save(f, X)
    elif case == "object_y":
        np.savez(path, X=X, y=np.array(["a", "b"], dtype=object)[y])
    elif case == "no_samples":
        np.savez(path, X=np.zeros((0, 3)), y=np.zeros(0, dtype=int))
    elif case == "no_features":
        np.savez(path, X=np.zeros((20, 0)), y=y)
    elif case == "nan_X":
        X[7, 1] = np.nan
        np.savez(path, X=X, y=y)
    return str(path)


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", r"d\.npz is not a \.npz archive of arrays \(it is empty\); .*np\.savez"),
        ("text", r"d\.npz is not a \.npz archive of arrays \(its bytes are neither"),
        ("truncated", r"d\.npz is not a \.npz archive of arrays \(a damaged zip file"),
        ("npy", r"d\.npz is not a \.npz archive of arrays \(it is a single \.npy array\)"),
        ("object_y", r"d\.npz: array 'y' holds Python objects.*y=y\.astype\(str\)"),
        ("no_samples", r"d\.npz: X of shape \(0, 3\) holds no samples"),
        ("no_features", r"d\.npz: X of shape \(20, 0\) holds no features"),
        ("nan_X", r"d\.npz: X holds 1 NaN or infinite value\(s\), the first at X\[7, 1\]"),
    ],
)
def test_unusable_npz_is_one_clear_value_error(tmp_path, case, message):
    with pytest.raises(ValueError, match=message) as exc:
        load_task(make(tmp_path, case))
    assert "allow_pickle" not in str(exc.value)
