"""Small classification tasks that need no download: data shipped with scikit-learn, synthetic
problems, or the user's own ``.npz`` / ``.csv`` file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from ..utils import check_X_y

__all__ = ["load_task", "TASKS"]

TASKS = ("digits", "breast_cancer", "wine", "synthetic", "synthetic_hard")


def _bundled(name: str, random_state: int):
    from sklearn import datasets

    if name == "digits":
        return datasets.load_digits(return_X_y=True)
    if name == "breast_cancer":
        return datasets.load_breast_cancer(return_X_y=True)
    if name == "wine":
        return datasets.load_wine(return_X_y=True)
    if name in ("synthetic", "synthetic_hard"):
        hard = name == "synthetic_hard"
        return datasets.make_classification(
            n_samples=2000,
            n_features=40,
            n_informative=10 if hard else 20,
            n_redundant=10,
            n_classes=4,
            class_sep=0.8 if hard else 1.5,
            flip_y=0.05 if hard else 0.0,
            random_state=random_state,
        )
    raise ValueError(
        f"Unknown dataset {name!r}. Use one of {TASKS}, or a path to a .npz file (arrays 'X' "
        "and 'y') or a .csv file (last column = label)."
    )


def _from_file(path: Path):
    if path.suffix == ".npz":
        with np.load(path) as data:
            if "X" not in data or "y" not in data:
                raise ValueError(
                    f"{path} must hold arrays named 'X' and 'y' (np.savez(path, X=X, y=y)); "
                    f"it has {sorted(data.files)}."
                )
            return data["X"], data["y"]
    if path.suffix == ".csv":
        table = np.genfromtxt(path, delimiter=",", dtype=np.float64)
        if table.ndim != 2 or table.shape[1] < 2:
            raise ValueError(f"{path} must be a numeric CSV with features then a label column.")
        if np.isnan(table[0]).all() or np.isnan(table[0, -1]):
            table = table[1:]  # a header row
        return table[:, :-1], table[:, -1]
    raise ValueError(f"Unsupported data file {path}: use .npz (X, y) or .csv (label last).")


def load_task(name: str = "digits", *, test_size: float = 0.25, random_state: int = 0) -> Bunch:
    """Load a classification task as standardised float32 train/test splits.

    Parameters
    ----------
    name : str, default="digits"
        ``"digits"``, ``"breast_cancer"``, ``"wine"`` (bundled with scikit-learn),
        ``"synthetic"`` / ``"synthetic_hard"`` (``make_classification``, 4 classes, 40
        features; the hard one has fewer informative features, less separation and 5% label
        noise), or a path to a ``.npz`` file with arrays ``X`` and ``y`` or a ``.csv`` file whose
        last column is the label.
    test_size : float, default=0.25
        Held-out fraction (stratified).
    random_state : int, default=0
        Seed of the split and of synthetic data.

    Returns
    -------
    task : sklearn.utils.Bunch
        ``X_train``, ``X_test`` (float32, standardised on the training split), ``y_train``,
        ``y_test`` (int64 labels 0..n_classes-1), ``n_features``, ``n_classes``, ``name``,
        ``classes`` (original label values).

    Examples
    --------
    >>> from sparselimit.datasets import load_task
    >>> task = load_task("wine")
    >>> task.X_train.shape, task.n_classes
    ((133, 13), 3)
    """
    path = Path(name)
    X, y = _from_file(path) if path.suffix in (".npz", ".csv") else _bundled(name, random_state)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    check_X_y(X, np.asarray(y))
    classes, y = np.unique(np.asarray(y), return_inverse=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return Bunch(
        X_train=scaler.transform(X_train).astype(np.float32),
        X_test=scaler.transform(X_test).astype(np.float32),
        y_train=y_train.astype(np.int64),
        y_test=y_test.astype(np.int64),
        n_features=X.shape[1],
        n_classes=len(classes),
        classes=classes,
        name=str(name),
    )
