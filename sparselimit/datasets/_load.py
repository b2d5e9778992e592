"""Small classification tasks that need no download: data shipped with scikit-learn, synthetic
problems, or the user's own ``.npz`` / ``.csv`` file."""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from ..utils import check_X_y

__all__ = ["load_task", "TASKS"]

TASKS = ("digits", "breast_cancer", "wine", "synthetic", "synthetic_hard")
_NA = frozenset({"", "?", "na", "n/a", "nan", "null"})  # missing-value markers in a CSV, lower case


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
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a data file; give the path of a file.")
    if not path.is_file():
        raise FileNotFoundError(f"No such data file: {str(path)!r}.")
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    raise ValueError(f"Unsupported data file {path}: use .npz (X, y) or .csv (label last).")


def _read_npz(path: Path):
    """Arrays ``X`` and ``y`` of a ``.npz`` file, with a message naming the file and the fix for
    a file that is not one (np.load reads an empty file as an ``EOFError``, a truncated one as a
    ``BadZipFile``, and a text file as pickled data to be loaded "unsafely")."""

    def not_npz(reason):
        return ValueError(
            f"{path} is not a .npz archive of arrays ({reason}); write one with "
            "np.savez(path, X=X, y=y) (np.save writes a single array, as .npy)."
        )

    try:
        data = np.load(path)  # allow_pickle=False: loading never runs code from the file
    except EOFError:
        raise not_npz("it is empty") from None
    except zipfile.BadZipFile as exc:
        raise not_npz(f"a damaged zip file: {exc}") from None
    except (ValueError, OSError):  # not .npy/.npz bytes at all: numpy guesses a pickle
        raise not_npz("its bytes are neither .npz nor .npy") from None
    if not isinstance(data, np.lib.npyio.NpzFile):  # a .npy file named .npz
        raise not_npz("it is a single .npy array")
    with data:
        if "X" not in data or "y" not in data:
            raise ValueError(
                f"{path} must hold arrays named 'X' and 'y' (np.savez(path, X=X, y=y)); "
                f"it has {sorted(data.files)}."
            )
        arrays = []
        for key in ("X", "y"):
            try:
                arrays.append(data[key])
            except ValueError:  # "Object arrays cannot be loaded when allow_pickle=False"
                raise ValueError(
                    f"{path}: array {key!r} holds Python objects, which are not loaded "
                    "(unpickling can run code). Save it with a plain dtype, e.g. "
                    "np.savez(path, X=X, y=y.astype(str)) for labels that are strings."
                ) from None
            except (EOFError, zipfile.BadZipFile, OSError) as exc:  # a damaged member
                raise not_npz(f"array {key!r} is damaged: {exc}") from None
    return tuple(arrays)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path):
    """Numeric features and a label column (numbers or strings) from a CSV file.

    The rows are read as text first: parsing everything as floats would turn string labels, and
    a header, into NaN that can no longer be told from a missing value.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel writes a BOM
            reader = csv.reader(f)
            lines, rows = [], []
            for row in reader:
                if any(field.strip() for field in row):  # blank lines carry no sample
                    lines.append(reader.line_num)
                    rows.append([field.strip() for field in row])
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8 (in Excel: 'CSV UTF-8')."
        ) from None
    if not rows:
        raise ValueError(f"{path} holds no rows; expected features then a label column.")

    def is_text(v):  # a missing value is no text: a first data row missing one is reported
        return v.lower() not in _NA and not _is_number(v)

    # a header names the columns: a feature field that is text, or a text label over a column
    # of numbers ("0,1,2,label", as pandas writes a DataFrame of an array with a label column)
    first, rest = rows[0], rows[1:]
    if any(is_text(v) for v in first[:-1]) or (
        rest and is_text(first[-1]) and not any(is_text(row[-1]) for row in rest)
    ):
        lines, rows = lines[1:], rest
    if not rows:
        raise ValueError(f"{path} holds a header row but no data.")
    n_columns = len(rows[0])
    if n_columns < 2:
        other = [sep for sep in ";\t|" if sep in rows[0][0]]
        hint = f" (separated by {other[0]!r}? use commas)" if other else ""
        raise ValueError(
            f"{path} must hold feature columns then a label column; got 1 column{hint}."
        )
    for line, row in zip(lines, rows):
        if len(row) != n_columns:
            raise ValueError(
                f"{path}, line {line}: {len(row)} fields where the first row has {n_columns}."
            )
    if all(row[-1] == "" for row in rows):  # else "line 1: the label is missing", on every line
        raise ValueError(
            f"{path}: the last field of every row is empty (a comma at the end of each line?); "
            "the label must be the last field. Remove the trailing commas."
        )
    # the usual spellings of "no value" (pandas' read_csv knows these, UCI files use "?")
    missing = [
        (line, j) for line, row in zip(lines, rows) for j, v in enumerate(row) if v.lower() in _NA
    ]
    if missing:
        line, j = missing[0]
        what = "the label" if j == n_columns - 1 else f"column {j + 1}"
        raise ValueError(
            f"{path}, line {line}: {what} is missing ({len(missing)} missing value(s) in all). "
            "Fill in or drop the incomplete rows first."
        )
    X = np.empty((len(rows), n_columns - 1))
    for i, (line, row) in enumerate(zip(lines, rows)):
        for j, field in enumerate(row[:-1]):
            try:
                X[i, j] = float(field)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}, column {j + 1}: {field!r} is not a number; the "
                    "features must be numeric (only the last column, the label, may hold text)."
                ) from None
            if not math.isfinite(X[i, j]):  # "inf", or "1e999" overflowing to it
                raise ValueError(
                    f"{path}, line {line}, column {j + 1}: {field!r} is not a finite number; "
                    "replace it, or drop the row."
                )
    labels = [row[-1] for row in rows]
    if not all(_is_number(v) for v in labels):
        return X, np.array(labels)  # class names: encoded by load_task as for a .npz file
    try:  # integer labels exactly: through float, ids past 2**53 merge and past 2**63 wrap
        return X, np.array([int(v) for v in labels], dtype=np.int64)
    except ValueError:  # "1.0", "1e3": read as floats below
        pass
    except OverflowError:  # beyond int64: kept as the class names they are
        return X, np.array(labels)
    y = np.array([float(v) for v in labels])
    # "3.0" in a CSV is the integer 3, as it would be in a .npz file; "1e20" stays a float (as
    # int64 it wrapped to -2**63, every such label one class)
    whole = np.isfinite(y).all() and (y == np.round(y)).all() and np.abs(y).max() < 2.0**63
    return X, (y.astype(np.int64) if whole else y)


def _encode_labels(y: np.ndarray, where: str):
    """The classes of ``y`` and its codes 0..n_classes-1, checked to be usable class labels.

    Checked here rather than left to the stratified split, whose errors for a regression target
    (a "class" per value, each too rare) or a single class (an error much later, in training)
    do not say what is wrong with the data.
    """
    if y.ndim == 2 and y.shape[1] == 1:  # a column of labels (np.savez of y[:, None])
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(
            f"{where}: y must be 1-D, one class label per sample; got shape {y.shape}. "
            "Pass class labels, not one-hot rows or several targets."
        )
    if y.dtype.kind == "f" and (y != np.round(y)).any():
        n_values = len(np.unique(y))
        raise ValueError(
            f"{where}: y looks continuous ({n_values} distinct float values, e.g. "
            f"{float(y[y != np.round(y)][0]):g}), but load_task and the command line do "
            "classification only: y must hold class labels (integers or strings). Bin a "
            "regression target into classes first (e.g. with numpy.digitize)."
        )
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"{where}: y holds a single class ({_label(classes[0])}, all {len(y)} samples); "
            "a classifier needs at least 2 classes. Add samples of the other classes."
        )
    if counts.min() < 2:
        rare = classes[counts < 2]
        raise ValueError(
            f"{where}: {len(rare)} of the {len(classes)} classes of y have a single sample "
            f"(e.g. {_label(rare[0])}); the stratified train/test split needs at least 2 per "
            "class. Drop or merge the rare classes (or check that y holds class labels)."
        )
    return classes, codes


def _label(value) -> str:
    """A class label for a message: 3, 'cat', 1.0 (numpy scalars shown as Python ones)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def load_task(name: str = "digits", *, test_size: float = 0.25, random_state: int = 0) -> Bunch:
    """Load a classification task as standardised float32 train/test splits.

    Parameters
    ----------
    name : str, default="digits"
        ``"digits"``, ``"breast_cancer"``, ``"wine"`` (bundled with scikit-learn),
        ``"synthetic"`` / ``"synthetic_hard"`` (``make_classification``, 4 classes, 40
        features; the hard one has fewer informative features, less separation and 5% label
        noise), or a path to a ``.npz`` file with arrays ``X`` and ``y`` or a ``.csv`` file whose
        last column is the label. The CSV's features must be numbers; its labels may be
        numbers or text (encoded like string labels from a ``.npz``); a first row with a
        non-numeric feature field, or a text label above numeric labels, is a header and
        skipped; a missing value (an empty field, ``NA``, ``NaN``, ``?``, ...) or an infinite
        one is an error.
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

    Raises
    ------
    ValueError
        For data it cannot use, with what is wrong and the fix: a missing or malformed file,
        ``y`` that is not one class label per sample (a 2-D ``y`` other than a column of
        labels; a continuous float target, i.e. floats that are not all whole numbers:
        classification only), a single class, or a class with a single sample (the split is
        stratified).

    Examples
    --------
    >>> from sparselimit.datasets import load_task
    >>> task = load_task("wine")
    >>> task.X_train.shape, task.n_classes
    ((133, 13), 3)

    A regression target is refused up front:

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "reg.npz")
    >>> np.savez(path, X=np.ones((10, 2)), y=np.linspace(0, 1, 10))
    >>> load_task(path)
    Traceback (most recent call last):
    ...
    ValueError: ...reg.npz: y looks continuous (10 distinct float values, e.g. 0.111111), ...
    """
    path = Path(name)
    is_file = path.suffix.lower() in (".npz", ".csv")
    X, y = _from_file(path) if is_file else _bundled(name, random_state)
    where = str(path) if is_file else f"dataset {name!r}"
    try:
        X = np.asarray(X, dtype=np.float64)
    except (ValueError, TypeError) as exc:  # e.g. an array of words
        raise ValueError(f"{where}: X must hold numbers ({exc}).") from None
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if 0 in X.shape:
        raise ValueError(
            f"{where}: X of shape {X.shape} holds no "
            f"{'samples' if len(X) == 0 else 'features'}; a classifier needs samples and features."
        )
    y = np.asarray(y)
    # checked here, where the message can name the file: check_X_y's (below) cannot
    for values, what in ((X, "X"), (y, "y")):
        bad = ~np.isfinite(values) if values.dtype.kind in "fc" else None
        if bad is not None and bad.any():
            first = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{where}: {what} holds {int(bad.sum())} NaN or infinite value(s), the first "
                f"at {what}[{first}]; fill them in or drop those samples."
            )
    check_X_y(X, y)
    classes, y = _encode_labels(y, where=where)
    n_test = math.ceil(test_size * len(y))
    if n_test < len(classes) or len(y) - n_test < len(classes):
        raise ValueError(
            f"{where}: {len(y)} samples are too few for a stratified {1 - test_size:.0%} / "
            f"{test_size:.0%} train/test split of {len(classes)} classes (each part needs at "
            f"least one sample per class, the test part has {n_test}); use at least "
            f"{math.ceil(len(classes) / min(test_size, 1 - test_size))} samples"
        )
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
