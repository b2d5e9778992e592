"""The command line's report.json is strict JSON, and data or a --model it cannot use ends the
run before training with one ``sparselimit: error:`` line, not a traceback."""

import json
import sys

import numpy as np
import pytest
import torch

from sparselimit import cli
from sparselimit.cli import main

# a run of a few seconds on tiny data
FAST = ["--quick", "-q", "--no-plot", "--fine-tune-epochs", "0", "--sparsities", "0,0.5"]

MODELS = """
import torch
from torch import nn


class WrongOut(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.fc = nn.Linear(n_features, 2)

    def forward(self, x):
        return self.fc(x)


class TupleOut(WrongOut):
    def forward(self, x):
        return self.fc(x), x


class NoLayers(nn.Module):  # right output, but no Linear/Conv weight to prune
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n_features, n_outputs))

    def forward(self, x):
        return x @ self.w
"""


@pytest.fixture
def models(tmp_path, monkeypatch):
    (tmp_path / "cli_check_models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cli_check_models", raising=False)
    return "cli_check_models"


def save_npz(path, y, n_features=5):
    X = np.random.RandomState(0).randn(len(y), n_features)
    np.savez(path, X=X, y=y)
    return str(path)


@pytest.fixture
def three_classes(tiny_npz):
    return str(tiny_npz)


def strict_loads(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))


def test_report_json_is_strict_json_with_skipped_steps_null(tmp_path, three_classes):
    argv = [*FAST, "--lanczos-steps", "auto", "--dataset", three_classes]
    assert main([*argv, "--output-dir", str(tmp_path)]) == 0
    text = (tmp_path / "report.json").read_text()
    report = strict_loads(text)
    steps = report["diagnostics"]["limit_by_step"]
    errors = report["diagnostics"]["lanczos_error_by_step"]
    assert None in steps and len(steps) == len(errors)  # the "auto" rule skipped some steps
    assert [v is None for v in steps] == [v is None for v in errors]
    assert all(isinstance(v, float) for v in steps if v is not None)
    assert report["config"]["lanczos_steps"] == "auto"


def test_report_json_refuses_nan_that_slips_through(tmp_path, three_classes, monkeypatch):
    # allow_nan=False: were a NaN to reach json.dumps unconverted, the run fails loudly instead
    # of writing a file strict parsers reject
    monkeypatch.setattr(cli, "_jsonable", lambda obj: float("nan"))
    monkeypatch.setattr(cli, "_config", lambda args: {"obj": object()})
    with pytest.raises(ValueError, match="JSON compliant"):
        main([*FAST, "--dataset", three_classes, "--output-dir", str(tmp_path)])
    assert not (tmp_path / "report.json").exists()


def no_training(*args, **kwargs):
    raise AssertionError("a bad input must be caught before the network is built and trained")


@pytest.mark.parametrize(
    "case, keywords",
    [
        ("one_class", ["argument --dataset", "single class", "at least 2 classes"]),
        (
            "regression",
            [
                "argument --dataset",
                "y looks continuous (200 distinct float values",
                "classification only",
            ],
        ),
        (
            "wrong_out",
            [
                "argument --model",
                "'cli_check_models:WrongOut'",
                "shape (2, 2)",
                "3 classes",
                "expected logits of shape (2, 3)",
                "WrongOut(n_features=5, n_outputs=3)",
            ],
        ),
        ("tuple_out", ["argument --model", "returns a tuple", "(2, 3)"]),
        ("no_layers", ["argument --model", "NoLayers", "no Linear or Conv layer weight"]),
        (
            "too_few",
            ["argument --dataset", "4 samples are too few", "2 classes", "at least 8 samples"],
        ),
    ],
)
def test_unusable_data_or_model_exits_2_before_training(
    case, keywords, tmp_path, three_classes, models, capsys, monkeypatch
):
    if case == "one_class":
        argv = ["--dataset", save_npz(tmp_path / "one.npz", np.zeros(50))]
    elif case == "too_few":
        argv = ["--dataset", save_npz(tmp_path / "four.npz", np.array([0, 1, 0, 1]))]
    elif case == "regression":
        y = np.random.RandomState(1).randn(200) * 50
        argv = ["--dataset", save_npz(tmp_path / "reg.npz", y)]
    else:
        model = {"wrong_out": "WrongOut", "tuple_out": "TupleOut", "no_layers": "NoLayers"}[case]
        argv = ["--dataset", three_classes, "--model", f"{models}:{model}"]
    out_dir = tmp_path / "out"
    monkeypatch.setattr(cli, "_make_net", no_training)
    with pytest.raises(SystemExit) as exc:
        main([*FAST, *argv, "--output-dir", str(out_dir)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("sparselimit: error: ")
    for word in keywords:
        assert word in line
    assert not out_dir.exists()


def test_model_check_leaves_the_global_rng_alone(three_classes):
    args = cli.build_parser().parse_args([*FAST, "--dataset", three_classes])
    cli._apply_defaults(args)
    task = cli._load_data(args)
    state = torch.get_rng_state()
    cli._check_model_output(args, task, cli._load_model_class(cli._DEFAULT_MODEL))
    assert torch.equal(torch.get_rng_state(), state)


def test_console_one_class_error_has_no_traceback(tmp_path, run_console):
    save_npz(tmp_path / "one.npz", np.zeros(50))
    proc = run_console("--dataset", "one.npz", "--output-dir", "out")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "sparselimit: error: argument --dataset: one.npz: y holds a single class (0.0, all 50"
        )
    )
    assert not (tmp_path / "out").exists()


def test_sweep_point_that_rounds_to_every_weight_keeps_one(tmp_path, three_classes):
    # 0.99999 of D weights rounds to D: the PQ-index column, like the curves, keeps one weight
    fast = [a for a in FAST if a not in ("--sparsities", "0,0.5")]
    argv = [*fast, "--sparsities", "0.5,0.99999", "--dataset", three_classes]
    assert main([*argv, "--output-dir", str(tmp_path)]) == 0
    rows = strict_loads((tmp_path / "report.json").read_text())["sweep"]
    assert [r["sparsity"] for r in rows][-1] == 0.99999
    # one weight left: every PQ index of a single value is 0
    assert rows[-1]["pq_index"] == 0.0 and rows[0]["pq_index"] > 0.0


def test_diverged_training_is_one_line_naming_lr(tmp_path, three_classes, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*FAST, "--lr", "1e6", "--dataset", three_classes, "--output-dir", str(tmp_path)])
    assert exc.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("sparselimit: error: argument --lr: training diverged with --lr 1e+06")
    assert "lower --lr" in line
