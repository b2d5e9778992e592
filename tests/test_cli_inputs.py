"""The command line as a new user runs it: a --model module beside the data, model outputs that
cannot train, CPU device names, an --output-dir blocked by a file, and data files that are not
what their name says: each ends in one ``sparselimit: error:`` line, or runs."""

import json
import os
import sys

import numpy as np
import pytest

from sparselimit import cli
from sparselimit.cli import main

# a run of a few seconds on tiny data
FAST = ["--quick", "-q", "--no-plot", "--fine-tune-epochs", "0", "--sparsities", "0,0.5"]

MODELS = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.fc = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.fc(x)


class LongOut(Net):
    def forward(self, x):
        return self.fc(x).long()


class BoolOut(Net):
    def forward(self, x):
        return self.fc(x) > 0


class ComplexOut(Net):
    def forward(self, x):
        return self.fc(x).to(torch.complex64)


class Detached(Net):
    def forward(self, x):
        return self.fc(x).detach()
"""


@pytest.fixture
def beside_models(tmp_path, monkeypatch):
    """cwd = tmp_path holding ``cli_beside.py``, and sys.path as the console script has it:
    without the current folder (``python -m`` and pytest put it there)."""
    (tmp_path / "cli_beside.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    cwd = os.getcwd()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", cwd)])
    monkeypatch.delitem(sys.modules, "cli_beside", raising=False)
    return "cli_beside"


def no_training(*args, **kwargs):
    raise AssertionError("a bad input must be caught before the network is built and trained")


def error_line(exc_info, capsys):
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sparselimit: error: ")
    return last


def test_console_script_imports_a_model_module_from_the_current_folder(
    beside_models, tiny_npz, tmp_path
):
    argv = [*FAST, "--model", f"{beside_models}:Net", "--dataset", str(tiny_npz)]
    assert main([*argv, "--output-dir", "out"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["n_params"] == 5 * 3  # the user's one Linear(5, 3), not the default MLP


@pytest.mark.parametrize(
    "spec, message",
    [
        ("./cli_beside.py:Net", "'./cli_beside.py' is a file path; give the module's import name"),
        ("cli_beside.py:Net", "instead, e.g. 'cli_beside:Net', run from this folder"),
        ("sub/cli_beside.py:Net", "e.g. 'sub.cli_beside:Net', run from this folder"),
        (".cli_beside:Net", "'.cli_beside' is a relative module name; give the absolute one"),
    ],
)
def test_model_given_as_a_path_or_relative_name_is_one_line(
    spec, message, beside_models, tiny_npz, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "_make_net", no_training)
    with pytest.raises(SystemExit) as exc:
        main([*FAST, "--model", spec, "--dataset", str(tiny_npz), "--output-dir", "out"])
    line = error_line(exc, capsys)
    assert line.startswith("sparselimit: error: argument --model: ") and message in line


@pytest.mark.parametrize(
    "model, message",
    [
        ("LongOut", "returns torch.int64 values; the logits must be real floating point"),
        ("BoolOut", "returns torch.bool values"),
        ("ComplexOut", "returns torch.complex64 values"),
        ("Detached", "does not depend on its trainable weights"),
    ],
)
def test_model_output_that_cannot_train_exits_2_before_training(
    model, message, beside_models, tiny_npz, capsys, monkeypatch
):
    # each trained into a PyTorch traceback: "log_softmax ... not implemented for 'Long'",
    # "element 0 of tensors does not require grad"
    monkeypatch.setattr(cli, "_make_net", no_training)
    spec = f"{beside_models}:{model}"
    with pytest.raises(SystemExit) as exc:
        main([*FAST, "--model", spec, "--dataset", str(tiny_npz), "--output-dir", "out"])
    line = error_line(exc, capsys)
    assert "argument --model: " in line and message in line
    assert not os.path.exists("out")


def test_cpu_with_an_index_runs_as_cpu(tmp_path, tiny_npz):
    # "cpu:0" made the limit estimator's copy of the net fail: torch restores no storage
    # "tagged with cpu:0"
    argv = [*FAST, "--device", "cpu:0", "--dataset", str(tiny_npz)]
    assert main([*argv, "--output-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["config"]["device"] == "cpu"


@pytest.mark.parametrize("sub", ["", "/sub", "/sub/deeper"])
def test_output_dir_blocked_by_a_file_names_the_file(sub, tmp_path, tiny_npz, capsys, monkeypatch):
    (tmp_path / "taken").write_text("")
    monkeypatch.setattr(cli, "_make_net", no_training)
    target = f"{tmp_path / 'taken'}{sub}"
    with pytest.raises(SystemExit) as exc:
        main([*FAST, "--dataset", str(tiny_npz), "--output-dir", target])
    line = error_line(exc, capsys)
    assert line == (
        f"sparselimit: error: argument --output-dir: cannot create {target!r}: "
        f"{str(tmp_path / 'taken')!r} is a file, not a folder; choose another --output-dir or "
        "move the file"
    )


def test_sparsities_minus_zero_is_the_dense_point_and_no_number_is_named(capsys):
    args = cli.build_parser().parse_args(["--sparsities=-0,0.5,0"])
    assert args.sparsities == [0.0, 0.5]
    assert str(args.sparsities[0]) == "0.0"  # not -0.0 in the table and report.json
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--sparsities", ","])
    assert "got no number in ','" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "d.npz is not a .npz archive of arrays (it is empty)"),
        (b"PK\x03\x04 broken", "d.npz is not a .npz archive of arrays (a damaged zip file"),
    ],
)
def test_broken_npz_exits_2_with_one_line(content, message, tmp_path, capsys, monkeypatch):
    # an empty file was numpy's EOFError traceback, a truncated one its BadZipFile
    (tmp_path / "d.npz").write_bytes(content)
    monkeypatch.setattr(cli, "_make_net", no_training)
    with pytest.raises(SystemExit) as exc:
        main([*FAST, "--dataset", str(tmp_path / "d.npz"), "--output-dir", str(tmp_path / "o")])
    line = error_line(exc, capsys)
    assert line.startswith("sparselimit: error: argument --dataset: ") and message in line


def test_npz_without_samples_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    # was an IndexError inside the single-class message
    np.savez(tmp_path / "d.npz", X=np.zeros((0, 4)), y=np.zeros(0))
    monkeypatch.setattr(cli, "_make_net", no_training)
    with pytest.raises(SystemExit) as exc:
        main([*FAST, "--dataset", str(tmp_path / "d.npz"), "--output-dir", str(tmp_path / "o")])
    assert "X of shape (0, 4) holds no samples" in error_line(exc, capsys)


def test_default_model_leaves_sys_path_alone(beside_models):
    # the current folder goes on sys.path for a --model of the user's only
    path = list(sys.path)
    assert cli._load_model_class(cli._DEFAULT_MODEL).__name__ == "MLP"
    assert sys.path == path
