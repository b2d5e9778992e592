"""The ``sparselimit`` command line: train an L1 network, predict its pruning limit, measure the
real pruning curve, and write a JSON report and plots.

With no arguments it runs on scikit-learn's bundled digits data and needs no network.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]

_DEFAULT_MODEL = "sparselimit.training:MLP"  # with --hidden widths
_MOMENTUM = 0.9  # of the SGD optimiser
_TEST_SIZE = 0.25  # held-out fraction of the data
# Options whose default depends on --quick, as (default, quick default). They are None in the
# parser so that an option the user gave is told from one left out: --quick only fills the latter.
_RUN_DEFAULTS = {
    "epochs": (60, 3),
    "n_probes": (2, 1),
    "lanczos_steps": ("auto", 8),
    "fine_tune_epochs": (5, 1),
}


class _UsageError(Exception):
    """A bad option value or input file found after parsing, e.g. a missing data file.

    :func:`main` reports it as argparse reports a bad option: one line on stderr, exit status 2.
    Anything else raised while running is a bug, not the user's, and keeps its traceback.
    """


def _positive_int(text: str) -> int:
    return _checked_int(text, 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _checked_int(text, 0, "a non-negative integer")


def _seed(text: str) -> int:
    # numpy's seeds (the split, the probes) are 32-bit
    return _checked_int(text, 0, "an integer from 0 to 2**32 - 1", high=2**32 - 1)


def _checked_int(text: str, low: int, what: str, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
    return value


def _positive_float(text: str) -> float:
    return _checked_float(text, lambda v: v > 0, "a positive number")


def _non_negative_float(text: str) -> float:
    return _checked_float(text, lambda v: v >= 0, "a non-negative number")


def _checked_float(text: str, ok, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
    return value


def _steps(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a positive integer; got {text!r}"
        ) from None


def _device(text: str) -> str:
    import torch

    try:
        # an allocation, not just torch.device(text): it also fails where the device is named
        # right but absent (cuda on a CPU-only build or machine), before any training
        device = torch.empty(0, device=torch.device(text)).device
        if device.type == "meta":
            raise RuntimeError("the meta device holds no data")
    except (RuntimeError, AssertionError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a torch device this machine can use ({reason})"
        ) from None
    # "cpu:0" is the one CPU under another name, but a skorch net on it cannot be copied or
    # pickled (torch restores no storage "tagged with cpu:0"), which the limit estimator does
    return "cpu" if device.type == "cpu" else text


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions like 0.5,0.8,0.9; got {text!r}"
        ) from exc
    if not values:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions like 0.5,0.8,0.9; got no number in {text!r}"
        )
    if any(not 0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sparsities must lie in [0, 1); got {text!r}")
    return sorted({v + 0.0 for v in values})  # + 0.0: "-0" is the dense point 0.0, not -0.0


def _width_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers; got {text!r}"
        ) from exc
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer widths must be positive integers; got {text!r}")
    return values


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except the unset (None) and off (False) ones."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sparselimit`` command (see ``sparselimit --help``)."""
    parser = argparse.ArgumentParser(
        prog="sparselimit",
        description=(
            "Train a network with an L1 penalty, predict how far it can be pruned (the "
            "pruning limit, from the Hessian spectrum and the weight magnitudes), measure the "
            "real pruning curves (one-shot, and with masked re-training), and write report.json "
            "and plots. With no arguments: "
            "scikit-learn's bundled digits data, a 64-128-10 MLP, no network access."
        ),
        formatter_class=_HelpFormatter,
    )
    data = parser.add_argument_group("data and model")
    data.add_argument(
        "--dataset",
        default="digits",
        help="digits, breast_cancer, wine, synthetic, synthetic_hard, or a path to a .npz "
        "(arrays X, y) or .csv (label in the last column) file",
    )
    data.add_argument(
        "--model",
        default=None,
        metavar="PACKAGE.MODULE:CLASS",
        help="a torch.nn.Module class built as CLASS(n_features=..., n_outputs=...) and "
        "returning logits; default: sparselimit.training.MLP",
    )
    data.add_argument(
        "--hidden",
        type=_width_list,
        default=None,
        help="hidden widths of the default MLP, not with --model (default: 128)",
    )
    train = parser.add_argument_group("training")
    train.add_argument(
        "--l1-alpha", type=_non_negative_float, default=1e-4, help="summed L1 penalty weight"
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="training epochs (default: 60; --quick: 3)",
    )
    train.add_argument(
        "--lr", type=_positive_float, default=0.05, help="SGD learning rate (momentum 0.9)"
    )
    train.add_argument("--batch-size", type=_positive_int, default=64, help="training batch size")
    limit = parser.add_argument_group("limit and sweep")
    limit.add_argument(
        "--n-probes", type=_positive_int, default=None, help="SLQ probes (default: 2; --quick: 1)"
    )
    limit.add_argument(
        "--lanczos-steps",
        type=_steps,
        default=None,
        help="Lanczos steps per probe, or 'auto' to stop once the predicted limit converged "
        "(default: auto; --quick: 8)",
    )
    limit.add_argument(
        "--sparsities",
        type=_float_list,
        default=None,
        help="comma-separated sweep points (default: 0 to 0.99 in steps of 0.01; --quick: 0.05)",
    )
    limit.add_argument(
        "--tolerance",
        type=_non_negative_float,
        default=0.01,
        help="accuracy drop allowed by the first_drop rule",
    )
    limit.add_argument(
        "--fine-tune-epochs",
        type=_non_negative_int,
        default=None,
        help="also measure the curve with each pruned net retrained this many epochs, masks "
        "enforced (the theory predicts whether the kept weights can be re-fitted); 0 skips it "
        "(default: 5; --quick: 1)",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", default="sparselimit-report", help="where to write results")
    run.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of data split, init and probes",
    )
    run.add_argument("--device", type=_device, default="cpu", help="torch device, e.g. cpu or cuda")
    run.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads; small MLPs run fastest on one (several times faster than two "
        "on a 2-core machine), large conv nets want more",
    )
    run.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    run.add_argument(
        "--quick",
        action="store_true",
        help="a few-second smoke run: the '--quick:' defaults above; options given explicitly "
        "keep their values",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser


def _apply_defaults(args) -> None:
    """Fill in the options left out (None), with --quick's values in quick mode."""
    for name, (default, quick) in _RUN_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else default)
    if args.sparsities is None:
        step = 0.05 if args.quick else 0.01
        args.sparsities = np.round(np.arange(0.0, 1.0, step), 4).tolist()
    if args.model is not None and args.hidden is not None:
        raise _UsageError(
            "argument --hidden: sets the widths of the default MLP and cannot be combined with "
            f"--model {args.model}; give the widths to your model class instead"
        )
    if args.model is None and args.hidden is None:
        args.hidden = [128]


def _load_model_class(spec: str):
    """The class named by --model, checked to be an nn.Module built from the data's shape."""
    from torch import nn

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise _UsageError(f"argument --model: must look like 'package.module:Class'; got {spec!r}")
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        # a file path: import_module takes dotted names only ("./m.py" is a relative-import
        # TypeError, "m.py" looks for a submodule "py")
        path = Path(module_name.removesuffix(".py"))
        if path.is_absolute() or ".." in path.parts:
            hint = f"'{path.name}:{attr}', run from {str(path.parent)!r} (or with it on PYTHONPATH)"
        else:
            hint = f"'{'.'.join(path.parts)}:{attr}', run from this folder"
        raise _UsageError(
            f"argument --model: {module_name!r} is a file path; give the module's import name "
            f"instead, e.g. {hint}"
        )
    if module_name.startswith("."):  # import_module's TypeError: no package to resolve it in
        raise _UsageError(
            f"argument --model: {module_name!r} is a relative module name; give the absolute "
            "one, as in 'package.module:Class'"
        )
    # The current folder is importable, as under `python -m sparselimit`: the console script
    # puts only its own folder on sys.path, so `--model mymodels:Net` failed beside mymodels.py.
    # Only for a user's model: the default one needs no files of the current folder.
    cwd = os.getcwd()
    if spec != _DEFAULT_MODEL and not {"", ".", cwd} & set(sys.path):
        sys.path.insert(0, cwd)
    try:
        model_cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise _UsageError(f"argument --model: {spec!r} could not be imported: {exc}") from exc
    if not (isinstance(model_cls, type) and issubclass(model_cls, nn.Module)):
        raise _UsageError(f"argument --model: {spec!r} is not a torch.nn.Module class")
    # checked on the signature rather than by building one: a build runs the user's code, and
    # its own TypeErrors would be taken for a wrong signature
    try:
        inspect.signature(model_cls).bind(n_features=1, n_outputs=1)
    except TypeError as exc:
        raise _UsageError(
            f"argument --model: {spec!r} must be built as {attr}(n_features=..., "
            f"n_outputs=...): {exc}"
        ) from None
    except ValueError:  # no signature to read (a C extension): the build will tell
        pass
    return model_cls


def _load_data(args):
    from .datasets import load_task

    try:
        return load_task(args.dataset, test_size=_TEST_SIZE, random_state=args.seed)
    except (ValueError, TypeError, OSError) as exc:  # a bad name, file or file content
        raise _UsageError(f"argument --dataset: {exc}") from exc


def _output_dir(text: str) -> Path:
    """--output-dir, created and checked writable now rather than when the report is due."""
    out_dir = Path(text)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        # a file in the way, the folder itself or one above it: "File exists" alone does not
        # say which, nor that a file is the problem
        blocking = next(
            (p for p in (out_dir, *out_dir.parents) if p.exists() and not p.is_dir()), out_dir
        )
        raise _UsageError(
            f"argument --output-dir: cannot create {text!r}: {str(blocking)!r} is a file, not a "
            "folder; choose another --output-dir or move the file"
        ) from exc
    except OSError as exc:
        raise _UsageError(
            f"argument --output-dir: cannot create {text!r}: {exc.strerror or exc}"
        ) from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise _UsageError(f"argument --output-dir: {text!r} is not writable")
    return out_dir


def _module_kwargs(args, task) -> dict:
    """How the module is built from the data: ``model_cls(**_module_kwargs(args, task))``."""
    kwargs = {"n_features": task.n_features, "n_outputs": task.n_classes}
    if args.model is None:
        kwargs["hidden"] = tuple(args.hidden)
    return kwargs


def _check_model_output(args, task, model_cls) -> None:
    """One forward pass of a freshly built module on two training rows, before any training.

    A module whose output is not one logit per class trains into an opaque error (PyTorch's
    ``IndexError: Target 7 is out of bounds`` for too few columns) or, worse, silently ignores
    columns: the shape is checked here, where the message can name ``--model`` and the sizes.
    An exception raised by the user's own code keeps its traceback: it points into that code.
    """
    import torch

    from .utils import select_prunable
    from .utils._validation import _rng_shielded

    kwargs = _module_kwargs(args, task)
    spec = args.model or _DEFAULT_MODEL
    name = spec.partition(":")[2]
    # the build draws initial weights from torch's global RNG: fork it, so that this throw-away
    # module changes neither the caller's RNG nor the seeded training that follows
    with _rng_shielded():
        module = model_cls(**kwargs).to(args.device).eval()  # eval: BatchNorm on 2 rows
        X = torch.as_tensor(task.X_train[:2], device=args.device)
        # with gradients (2 rows: no cost), to tell whether the output can train the weights
        with torch.enable_grad():
            out = module(X)
    if not select_prunable(module, require=False):
        raise _UsageError(
            f"argument --model: {spec!r} has no Linear or Conv layer weight to prune (it has "
            f"{sum(1 for _ in module.parameters())} parameter tensors); the pruning limit is "
            "predicted for the weights of Linear, Bilinear and Conv layers, so build the model "
            "from such layers"
        )
    expected = (len(X), task.n_classes)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == expected:
        # the right shape, but the cross-entropy loss is defined on real floating logits only:
        # integer, bool or complex output failed in training with PyTorch's
        # "log_softmax_lastdim_kernel_impl not implemented for 'Long'"
        if not out.is_floating_point():
            raise _UsageError(
                f"argument --model: {spec!r} returns {out.dtype} values; the logits must be "
                "real floating point numbers. Return the scores themselves, not their argmax, "
                "a rounding, a comparison or a complex number"
            )
        if not out.requires_grad and any(p.requires_grad for p in module.parameters()):
            raise _UsageError(
                f"argument --model: the output of {spec!r} does not depend on its trainable "
                "weights (computed under torch.no_grad() or detached), so training cannot "
                "update them; return the result of the layers as it is"
            )
        return
    got = (
        f"a tensor of shape {tuple(out.shape)}"
        if isinstance(out, torch.Tensor)
        else f"a {type(out).__name__}"
    )
    raise _UsageError(
        f"argument --model: {spec!r} returns {got} on {len(X)} training rows, but the data has "
        f"{task.n_classes} classes: expected logits of shape {expected}, one column per class. "
        f"Make {name}(n_features={task.n_features}, n_outputs={task.n_classes}) return "
        "n_outputs columns"
    )


def _check_trained(args, net) -> None:
    """Training that diverged (a learning rate too large for the model) leaves NaN or infinite
    weights, on which nothing after it is defined: say so, naming the options to change."""
    from .utils._validation import _all_finite

    losses = net.history[:, "train_loss"] if len(net.history) else []
    weights_finite = all(_all_finite(p) for p in net.module_.parameters())
    if weights_finite and all(math.isfinite(v) for v in losses):
        return
    last = losses[-1] if losses else float("nan")
    raise _UsageError(
        f"argument --lr: training diverged with --lr {args.lr:g} (final training loss {last:g}"
        f"{'' if weights_finite else ', non-finite weights'}); lower --lr (or --l1-alpha "
        f"{args.l1_alpha:g})"
    )


def _make_net(args, task, model_cls):
    import torch
    from torch import nn

    from .training import EpochProgressBar, L1RegularizedClassifier

    module_kwargs = {f"module__{k}": v for k, v in _module_kwargs(args, task).items()}
    return L1RegularizedClassifier(
        model_cls,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        optimizer__momentum=_MOMENTUM,
        lr=args.lr,
        l1_alpha=args.l1_alpha,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        train_split=None,
        device=args.device,
        verbose=0,
        callbacks=[EpochProgressBar(desc="training", disable=args.quiet)],
        **module_kwargs,
    )


def _print_table(rows, out=None):
    out = out or sys.stdout  # looked up per call, so redirected stdout is honoured
    retrained = "accuracy_retrained" in rows[0]
    print(
        f"{'sparsity':>9} {'accuracy':>9}"
        + (f" {'retrained':>9}" if retrained else "")
        + f" {'PQ index':>9}",
        file=out,
    )
    for r in rows:
        extra = f" {r['accuracy_retrained']:>9.4f}" if retrained else ""
        print(f"{r['sparsity']:>9.2f} {r['accuracy']:>9.4f}{extra} {r['pq_index']:>9.4f}", file=out)


def run(args) -> dict:
    """Run the main job for parsed ``args``; returns the report written to report.json.

    Raises ``_UsageError`` for bad inputs (the data, --model, --output-dir), all found
    before the training starts.
    """
    import torch

    from .limit import (
        LimitRegimeWarning,
        PruningLimitEstimator,
        limit_report,
        measure_pruning_curve,
    )
    from .limit._report import _plain
    from .metrics import pq_index, recall_distortion_report
    from .pruning import prune_global
    from .pruning._masks import removal_count
    from .training import EpochProgressBar
    from .utils._validation import _torch_seeded

    # every check on the user's inputs comes first: a mistake costs no training
    _apply_defaults(args)
    model_cls = _load_model_class(args.model or _DEFAULT_MODEL)
    task = _load_data(args)
    _check_model_output(args, task, model_cls)
    out_dir = _output_dir(args.output_dir)

    torch.set_num_threads(args.threads)  # an application-level choice: this process is ours
    net = _make_net(args, task, model_cls)
    start = time.perf_counter()
    # skorch initialises the module from torch's global RNG; fork it so the seed is ours alone
    with _torch_seeded(args.seed):
        net.fit(task.X_train, task.y_train)
    train_seconds = time.perf_counter() - start
    _check_trained(args, net)
    for _, callback in net.callbacks_:  # the bar is for this training, not the curve's re-fits
        if isinstance(callback, EpochProgressBar):
            callback.disable = True

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LimitRegimeWarning)
        limit = PruningLimitEstimator(
            net,
            prefit=True,
            n_probes=args.n_probes,
            n_lanczos_steps=args.lanczos_steps,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
        ).fit(task.X_train, task.y_train)
    for w in caught:  # shown as one plain line each (they are also in report.json)
        if issubclass(w.category, LimitRegimeWarning):
            print(f"note: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    def measure(**extra):  # the same sweep, one-shot or with masked re-training
        return measure_pruning_curve(
            net,
            task.X_test,
            task.y_test,
            sparsities=args.sparsities,
            rule="first_drop",
            tolerance=args.tolerance,
            verbose=0 if args.quiet else 1,
            **extra,
        )

    curve = measure()
    retrained = None
    if args.fine_tune_epochs > 0:
        retrained = measure(
            fine_tune_epochs=args.fine_tune_epochs,
            X_fine_tune=task.X_train,
            y_fine_tune=task.y_train,
        )

    report = {
        "dataset": task.name,
        "n_train": int(len(task.y_train)),
        "n_test": int(len(task.y_test)),
        "classes": task.classes.tolist(),
        "l1_alpha": args.l1_alpha,
        "epochs": args.epochs,
        "seed": args.seed,
        "config": _config(args),
        **limit_report(limit, curve, retrained_curve=retrained),
    }
    # one number per stage: the estimator's own breakdown of the prediction and the curves'
    # seconds come from limit_report; the estimator got the net trained ("prefit"), so its
    # "train" is 0 and the time measured here replaces it
    report["timings"]["train"] = train_seconds
    # PQ index of the pruned weights along the sweep (larger = sparser)
    weights = torch.cat([p.detach().flatten().cpu() for p in net.prunable_parameters()])
    order = torch.argsort(weights.abs(), stable=True)
    # the curves may add the dense point rho = 0 to the grid: match rows by sparsity
    retrained_at = {} if retrained is None else dict(zip(retrained.sparsities, retrained.scores))
    rows = []
    for rho, acc in zip(curve.sparsities, curve.scores):
        keep = torch.ones_like(weights, dtype=torch.bool)
        keep[order[: removal_count(float(rho), weights.numel())]] = False
        row = {"sparsity": float(rho), "accuracy": float(acc)}
        if retrained is not None:
            row["accuracy_retrained"] = float(retrained_at[rho])
        row["pq_index"] = pq_index(weights[keep])
        rows.append(row)
    report["sweep"] = rows
    pruned = prune_global(net.module_, limit.pruning_limit_, copy=True).module
    recall = recall_distortion_report(
        net, pruned, task.X_test, task.y_test, sparsity=limit.pruning_limit_
    )
    # the net predicts the codes 0..n_classes-1 of load_task: report the data's own labels
    recall["labels"] = task.classes[np.asarray(recall["labels"], dtype=np.int64)].tolist()
    report["recall_at_predicted_limit"] = recall

    if not args.no_plot:
        report["plots"] = _plot(limit, curve, out_dir)
    # strict JSON: NaN/infinity (e.g. a recall of a class never predicted) become null here, and
    # allow_nan=False turns any that slip through into an error rather than a file that
    # JavaScript's JSON.parse and other strict parsers reject. Serialised before the file is
    # opened, so that such an error leaves no half-written report.
    report = _plain(report)
    text = json.dumps(report, indent=2, default=_jsonable, allow_nan=False)
    (out_dir / "report.json").write_text(text)
    _print_table(rows)
    print(
        f"\npredicted pruning limit: {limit.pruning_limit_:.3f} "
        f"(interval {limit.pruning_limit_interval_[0]:.3f}-{limit.pruning_limit_interval_[1]:.3f})"
    )
    for key, label in (("measured", "one-shot"), ("measured_retrained", "retrained")):
        measured = report.get(key, {})
        for rule, value in measured.get("limits", {}).items():
            tol = measured["limit_tolerances"][rule]
            print(f"measured limit, {label:<9} ({rule}, tolerance {tol:g}): {value:.3f}")
    print(f"report: {out_dir / 'report.json'}")
    return report


def _config(args) -> dict:
    """The effective options of the run (after --quick), for report.json."""
    return {
        "dataset": args.dataset,
        "model": args.model or _DEFAULT_MODEL,
        "hidden": args.hidden,  # None: a --model class, built without widths
        "l1_alpha": args.l1_alpha,
        "epochs": args.epochs,
        "optimizer": "SGD",
        "lr": args.lr,
        "momentum": _MOMENTUM,
        "batch_size": args.batch_size,
        "test_size": _TEST_SIZE,
        "n_probes": args.n_probes,
        "lanczos_steps": args.lanczos_steps,
        "sparsities": args.sparsities,
        "tolerance": args.tolerance,
        "fine_tune_epochs": args.fine_tune_epochs,
        "seed": args.seed,
        "device": args.device,
        "threads": args.threads,
        "quick": args.quick,
    }


def _plot(limit, curve, out_dir: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'sparselimit[plot]').")
        return []
    from .limit import PruningLimitDisplay

    display = PruningLimitDisplay.from_estimator(limit, curve=curve)
    path = out_dir / "pruning_limit.png"
    display.figure_.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(display.figure_)
    return [str(path)]


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def main(argv=None) -> int:
    """Entry point of ``sparselimit`` / ``python -m sparselimit``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except _UsageError as exc:
        parser.error(str(exc))  # exits with status 2, like a bad option value
    return 0
