import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sparselimit.cli import build_parser, main


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--dataset",
        "--l1-alpha",
        "--sparsities",
        "--output-dir",
        "--seed",
        "--device",
        "--model",
        "--fine-tune-epochs",
        "--quick",
    ):
        assert option in out


def test_quick_run_writes_report_and_plot(tmp_path, capsys):
    report = main_report(["--quick", "--output-dir", str(tmp_path), "-q"], tmp_path)
    out = capsys.readouterr().out
    assert "predicted pruning limit" in out and "PQ index" in out
    pred = report["predicted"]["pruning_limit"]
    assert 0 <= pred < 1
    lo, hi = report["predicted"]["interval"]
    assert lo <= pred <= hi
    assert set(report["measured"]["limits"]) == {"last_above", "first_drop"}
    sweep = report["sweep"]
    assert [row["sparsity"] for row in sweep] == sorted(row["sparsity"] for row in sweep)
    assert sweep[0]["sparsity"] == 0.0 and len(sweep) == 20
    assert report["recall_at_predicted_limit"]["sparsity"] == pytest.approx(pred)
    assert (tmp_path / "pruning_limit.png").stat().st_size > 10_000
    assert report["epsilon"] > 0 and report["timings"]["training_s"] > 0


def main_report(argv, out_dir):
    assert main(argv) == 0
    return json.loads((out_dir / "report.json").read_text())


def test_user_npz_data_model_and_sparsities(tmp_path):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=8, n_informative=4, random_state=0)
    np.savez(tmp_path / "data.npz", X=X, y=y + 5)  # labels need not start at 0
    report = main_report(
        [
            "--quick",
            "--dataset",
            str(tmp_path / "data.npz"),
            "--model",
            "sparselimit.training:MLP",
            "--sparsities",
            "0.5,0.9",
            "--no-plot",
            "-q",
            "--output-dir",
            str(tmp_path),
        ],
        tmp_path,
    )
    assert [r["sparsity"] for r in report["sweep"]] == [0.5, 0.9]
    assert all(0 <= r["accuracy_retrained"] <= 1 for r in report["sweep"])
    assert set(report["measured_retrained"]["limits"]) == {"last_above", "first_drop"}
    assert report["n_params"] == 8 * 64 + 64 * 2
    assert not (tmp_path / "pruning_limit.png").exists()


def test_user_csv_with_header(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    y = (X[:, 0] > 0).astype(int)
    lines = ["a,b,c,label"] + [",".join(map(str, [*row, label])) for row, label in zip(X, y)]
    (tmp_path / "d.csv").write_text("\n".join(lines))
    report = main_report(
        [
            "--quick",
            "--dataset",
            str(tmp_path / "d.csv"),
            "--no-plot",
            "-q",
            "--output-dir",
            str(tmp_path),
        ],
        tmp_path,
    )
    assert report["n_train"] + report["n_test"] == 200


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sparsities", "0.5,1.5"], "sparsities must lie in"),
        (["--sparsities", "a,b"], "comma-separated"),
        (["--hidden", "x"], "integers"),
    ],
)
def test_bad_arguments_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_model_and_dataset(tmp_path):
    with pytest.raises(SystemExit, match="package.module:Class"):
        main(["--quick", "--model", "nocolon", "--output-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="could not be imported"):
        main(["--quick", "--model", "no_such_pkg:Net", "--output-dir", str(tmp_path)])
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'"):
        main(["--quick", "--dataset", "mnist", "--output-dir", str(tmp_path)])


def test_python_dash_m_entry_point(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparselimit",
            "--quick",
            "-q",
            "--no-plot",
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "report.json").exists()


def test_every_option_is_documented():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.rst").read_text()
    options = [
        opt
        for action in build_parser()._actions
        for opt in action.option_strings
        if opt.startswith("--") and opt != "--help"
    ]
    assert options and not [opt for opt in options if f"``{opt}" not in page]
