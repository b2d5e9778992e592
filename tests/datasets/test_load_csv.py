"""load_task on the user's .csv files: labels as in a .npz, headers told from data, missing
values named."""

import numpy as np
import pytest

from sparselimit.datasets import load_task


def write_csv(path, X, labels, header=None):
    lines = [] if header is None else [header]
    lines += [",".join([*map(str, row), str(label)]) for row, label in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    return X, np.argmax(X, axis=1)


def test_string_labels_are_encoded_as_from_npz(tmp_path, data):
    X, y = data
    names = np.array(["a", "b", "c"])[y]
    from_csv = load_task(str(write_csv(tmp_path / "d.csv", X, names, header="f0,f1,f2,y")))
    np.savez(tmp_path / "d.npz", X=X, y=names)
    from_npz = load_task(str(tmp_path / "d.npz"))
    assert from_csv.classes.tolist() == from_npz.classes.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(from_csv.y_train, from_npz.y_train)
    np.testing.assert_allclose(from_csv.X_train, from_npz.X_train, rtol=1e-6)


def test_integer_labels_stay_integers(tmp_path, data):
    X, y = data
    task = load_task(str(write_csv(tmp_path / "d.csv", X, y + 3)))
    assert task.classes.dtype.kind == "i" and task.classes.tolist() == [3, 4, 5]
    assert len(task.y_train) + len(task.y_test) == 60  # no header: the first row is data


def test_first_row_with_a_missing_label_is_an_error_not_a_header(tmp_path, data):
    X, y = data
    path = write_csv(tmp_path / "d.csv", X, [""] + list(y[1:]))
    with pytest.raises(ValueError, match=r"d\.csv, line 1: the label is missing"):
        load_task(str(path))


@pytest.mark.parametrize("missing", ["", "NA", "nan", "?"])
def test_missing_values_name_their_line_and_column(tmp_path, data, missing):
    X, y = data
    X = X.astype(object)
    X[4, 1] = missing
    path = write_csv(tmp_path / "d.csv", X, y, header="f0,f1,f2,y")
    with pytest.raises(ValueError, match=r"line 6: column 2 is missing \(1 missing value"):
        load_task(str(path))


def test_text_in_a_feature_column_is_named(tmp_path, data):
    X, y = data
    X = X.astype(object)
    X[2, 0] = "red"
    path = write_csv(tmp_path / "d.csv", X, y)
    with pytest.raises(ValueError, match=r"line 3, column 1: 'red' is not a number"):
        load_task(str(path))


def test_ragged_rows_and_missing_files(tmp_path):
    (tmp_path / "r.csv").write_text("1,2,0\n3,1\n")
    with pytest.raises(ValueError, match="line 2: 2 fields where the first row has 3"):
        load_task(str(tmp_path / "r.csv"))
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load_task(str(tmp_path / "absent.csv"))


def test_header_of_numeric_feature_names_over_a_text_label_name(tmp_path, data):
    # pd.DataFrame(X).assign(label=y).to_csv(index=False) writes "0,1,2,label"
    X, y = data
    task = load_task(str(write_csv(tmp_path / "d.csv", X, y, header="0,1,2,label")))
    assert task.classes.tolist() == [0, 1, 2]  # no class "label"
    assert len(task.y_train) + len(task.y_test) == 60
    reference = load_task(str(write_csv(tmp_path / "plain.csv", X, y)))
    np.testing.assert_array_equal(task.X_train, reference.X_train)


def test_infinite_feature_names_its_line(tmp_path, data):
    X, y = data
    X = X.astype(object)
    X[3, 2] = "inf"
    path = write_csv(tmp_path / "d.csv", X, y, header="f0,f1,f2,y")
    with pytest.raises(ValueError, match=r"d\.csv, line 5, column 3: 'inf' is not a finite"):
        load_task(str(path))


def test_non_utf8_file_is_named_with_the_fix(tmp_path, data):
    X, y = data
    names = np.array(["é", "ü", "ö"])[y]
    text = "\n".join(",".join([*map(str, row), name]) for row, name in zip(X, names))
    (tmp_path / "d.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=r"d\.csv is not UTF-8 text .*save it as UTF-8"):
        load_task(str(tmp_path / "d.csv"))


def test_other_separator_gets_a_hint_and_a_folder_is_no_file(tmp_path, data):
    X, y = data
    lines = [";".join([*map(str, row), str(label)]) for row, label in zip(X, y)]
    (tmp_path / "d.csv").write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"got 1 column \(separated by ';'\? use commas\)"):
        load_task(str(tmp_path / "d.csv"))
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match="'.*folder.csv' is a folder, not a data file"):
        load_task(str(tmp_path / "folder.csv"))


def test_trailing_comma_on_every_line_is_named(tmp_path, data):
    X, y = data
    lines = [",".join([*map(str, row), str(label)]) + "," for row, label in zip(X, y)]
    (tmp_path / "d.csv").write_text("\n".join(["f0,f1,f2,y,"] + lines) + "\n")
    with pytest.raises(ValueError, match=r"d\.csv: the last field of every row is empty \(a comma"):
        load_task(str(tmp_path / "d.csv"))


def test_float_labels_beyond_int64_stay_distinct_classes(tmp_path, data):
    # "1e20" as int64 wrapped to -2**63: all three classes became one
    X, y = data
    labels = np.array(["1e20", "2e20", "3e3"])[y]
    task = load_task(str(write_csv(tmp_path / "d.csv", X, labels)))
    assert task.classes.tolist() == [3e3, 1e20, 2e20]
    np.savez(tmp_path / "d.npz", X=X, y=np.array([1e20, 2e20, 3e3])[y])
    np.testing.assert_array_equal(task.y_train, load_task(str(tmp_path / "d.npz")).y_train)
