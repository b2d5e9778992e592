import json
import sys

import numpy as np
import pytest

from sparselimit import cli
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
    assert report["epsilon"] > 0 and report["timings"]["train"] > 0


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


def no_training(*args, **kwargs):
    raise AssertionError("a bad input must be caught before the network is built and trained")


def error_line(exc_info, capsys):
    """The one error line of a run that exited like a bad argparse option."""
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sparselimit: error: ")
    return last


@pytest.mark.parametrize(
    "argv, option, value",
    [
        (["--epochs", "-5"], "--epochs", "-5"),
        (["--epochs", "0"], "--epochs", "0"),
        (["--fine-tune-epochs", "-3"], "--fine-tune-epochs", "-3"),
        (["--n-probes", "0"], "--n-probes", "0"),
        (["--lanczos-steps", "abc"], "--lanczos-steps", "abc"),
        (["--lanczos-steps", "0"], "--lanczos-steps", "0"),
        (["--hidden", "32,0"], "--hidden", "32,0"),
        (["--batch-size", "0"], "--batch-size", "0"),
        (["--lr", "-0.1"], "--lr", "-0.1"),
        (["--l1-alpha", "nan"], "--l1-alpha", "nan"),
        (["--tolerance", "-1"], "--tolerance", "-1"),
        (["--seed", "-1"], "--seed", "-1"),
        (["--threads", "0"], "--threads", "0"),
        (["--device", "foo"], "--device", "foo"),
        # --quick fills in defaults; it does not hide a bad explicit value
        (["--quick", "--lanczos-steps", "abc"], "--lanczos-steps", "abc"),
        (["--quick", "--n-probes", "0"], "--n-probes", "0"),
    ],
)
def test_bad_option_values_are_rejected_before_training(
    argv, option, value, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "_make_net", no_training)
    out_dir = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main([*argv, "-q", "--no-plot", "--output-dir", str(out_dir)])
    line = error_line(exc, capsys)
    assert f"argument {option}" in line and repr(value) in line
    assert not out_dir.exists()


USER_MODELS = """
from torch import nn


class Net(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.fc = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.fc(x)


class NoKw(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)


class NotModule:
    def __init__(self, n_features, n_outputs):
        pass
"""


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    """An importable module ``cli_user_models`` with the classes of USER_MODELS."""
    (tmp_path / "cli_user_models.py").write_text(USER_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cli_user_models", raising=False)
    return "cli_user_models"


# a run of a few seconds on tiny data
FAST = ["--quick", "-q", "--no-plot", "--fine-tune-epochs", "0", "--sparsities", "0,0.5"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "missing.npz"], "argument --dataset: No such data file: 'missing.npz'"),
        (["--dataset", "mnist"], "argument --dataset: Unknown dataset 'mnist'"),
        (["--dataset", "{bad_csv}"], "line 3: the label is missing"),
        (["--model", "nocolon"], "argument --model: must look like 'package.module:Class'"),
        (["--model", "no_such_pkg:Net"], "argument --model: 'no_such_pkg:Net' could not be"),
        (["--model", "{models}:NoKw"], "NoKw(n_features=..., n_outputs=...)"),
        (["--model", "{models}:NotModule"], "'cli_user_models:NotModule' is not a torch.nn"),
        (["--model", "{models}:Net", "--hidden", "8"], "argument --hidden: sets the widths"),
        (["--output-dir", "{a_file}/sub"], "argument --output-dir: cannot create"),
    ],
)
def test_bad_inputs_exit_2_with_one_line_before_training(
    argv, message, tmp_path, tiny_npz, user_models, capsys, monkeypatch
):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,x\n3,4,\n5,6,y\n")
    (tmp_path / "a_file").write_text("")
    names = {"bad_csv": tmp_path / "bad.csv", "models": user_models, "a_file": tmp_path / "a_file"}
    argv = [arg.format(**names) for arg in argv]
    out_dir = tmp_path / "out"
    if "--output-dir" not in argv:
        argv += ["--output-dir", str(out_dir)]
    if "--dataset" not in argv:
        argv += ["--dataset", str(tiny_npz)]
    monkeypatch.setattr(cli, "_make_net", no_training)
    with pytest.raises(SystemExit) as exc:
        main([*FAST, *argv])
    assert message in error_line(exc, capsys)
    assert not out_dir.exists()


def test_console_user_error_is_one_line_without_traceback(tmp_path, run_console):
    proc = run_console("--dataset", "missing.csv", "--output-dir", "out")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "sparselimit: error: argument --dataset: No such data file: 'missing.csv'."
    )
    assert not (tmp_path / "out").exists()


def test_internal_errors_keep_their_traceback(tmp_path, tiny_npz, monkeypatch):
    # only bad inputs become one-line errors: a library failure after them is a bug to see whole
    from sparselimit.limit import PruningLimitEstimator

    def broken_fit(self, X, y=None):
        raise ValueError("an internal failure")

    monkeypatch.setattr(PruningLimitEstimator, "fit", broken_fit)
    with pytest.raises(ValueError, match="an internal failure"):
        main([*FAST, "--dataset", str(tiny_npz), "--output-dir", str(tmp_path / "out")])


def test_quick_keeps_explicit_options(tmp_path, tiny_npz):
    report = main_report(
        [
            *FAST,
            "--lanczos-steps",
            "12",
            "--n-probes",
            "2",
            "--dataset",
            str(tiny_npz),
            "--output-dir",
            str(tmp_path),
        ],
        tmp_path,
    )
    assert report["settings"]["n_lanczos_steps"] == 12 and report["settings"]["n_probes"] == 2
    assert len(report["predicted"]["probe_limits"]) == 2
    assert "measured_retrained" not in report  # --fine-tune-epochs 0 given, quick's 1 not used
    config = report["config"]
    assert config["quick"] is True
    assert (config["lanczos_steps"], config["n_probes"], config["fine_tune_epochs"]) == (12, 2, 0)
    assert config["epochs"] == 3 and report["epochs"] == 3  # not given: quick's default


def test_csv_string_labels_round_trip_to_report(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(90, 3)
    names = np.array(["cat", "dog", "eel"])[np.argmax(X, axis=1)]
    lines = ["x0,x1,x2,animal"] + [",".join([*map(str, row), name]) for row, name in zip(X, names)]
    (tmp_path / "pets.csv").write_text("\n".join(lines) + "\n")
    report = main_report(
        [*FAST, "--dataset", str(tmp_path / "pets.csv"), "--output-dir", str(tmp_path)],
        tmp_path,
    )
    assert report["n_train"] + report["n_test"] == 90  # the header, and only it, skipped
    assert report["classes"] == ["cat", "dog", "eel"]
    assert report["recall_at_predicted_limit"]["labels"] == ["cat", "dog", "eel"]


def test_report_records_labels_settings_and_one_timing_per_stage(tmp_path, tiny_npz, user_models):
    spec = f"{user_models}:Net"
    argv = [*FAST, "--dataset", str(tiny_npz), "--model", spec, "--lr", "0.02"]
    report = main_report([*argv, "--batch-size", "16", "--output-dir", str(tmp_path)], tmp_path)
    assert report["classes"] == [3, 7, 9]
    assert report["recall_at_predicted_limit"]["labels"] == [3, 7, 9]
    config = report["config"]
    assert config["model"] == spec and config["hidden"] is None
    assert (config["lr"], config["batch_size"], config["momentum"]) == (0.02, 16, 0.9)
    assert config["dataset"] == str(tiny_npz) and config["sparsities"] == [0.0, 0.5]
    assert report["n_params"] == 5 * 3  # the user's one linear layer, not the default MLP
    timings = report["timings"]
    assert timings["train"] > 0  # measured by the command, not the prefit estimator's 0
    assert not [key for key in timings if key.endswith("_s")]  # no second key per stage
    assert set(timings) >= {"train", "spectrum", "total", "measured_curve"}

    default = main_report(
        [*FAST, "--dataset", str(tiny_npz), "--output-dir", str(tmp_path / "mlp")],
        tmp_path / "mlp",
    )
    assert default["config"]["model"] == "sparselimit.training:MLP"
    assert default["config"]["hidden"] == [128]


def test_python_dash_m_entry_point(tmp_path, run_console):
    proc = run_console("--quick", "-q", "--no-plot", "--output-dir", tmp_path)
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
