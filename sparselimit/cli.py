"""The ``sparselimit`` command line: train an L1 network, predict its pruning limit, measure the
real pruning curve, and write a JSON report and plots.

With no arguments it runs on scikit-learn's bundled digits data and needs no network.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions like 0.5,0.8,0.9; got {text!r}"
        ) from exc
    if not values or any(not 0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"sparsities must lie in [0, 1); got {text!r}")
    return sorted(set(values))


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers; got {text!r}"
        ) from exc


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
    data.add_argument("--hidden", type=_int_list, default=[128], help="MLP hidden widths")
    train = parser.add_argument_group("training")
    train.add_argument("--l1-alpha", type=float, default=1e-4, help="summed L1 penalty weight")
    train.add_argument("--epochs", type=int, default=60, help="training epochs")
    train.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    train.add_argument("--batch-size", type=int, default=64, help="training batch size")
    limit = parser.add_argument_group("limit and sweep")
    limit.add_argument("--n-probes", type=int, default=2, help="SLQ probes")
    limit.add_argument(
        "--lanczos-steps",
        default="auto",
        help="Lanczos steps per probe, or 'auto' to stop once the predicted limit converged",
    )
    limit.add_argument(
        "--sparsities",
        type=_float_list,
        default=None,
        help="comma-separated sweep points; default: 0 to 0.99 in steps of 0.01",
    )
    limit.add_argument(
        "--tolerance", type=float, default=0.01, help="accuracy drop allowed by the first_drop rule"
    )
    limit.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=5,
        help="also measure the curve with each pruned net retrained this many epochs, masks "
        "enforced (the theory predicts whether the kept weights can be re-fitted); 0 skips it",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--output-dir", default="sparselimit-report", help="where to write results")
    run.add_argument("--seed", type=int, default=0, help="seed of data split, init and probes")
    run.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    run.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; small MLPs run fastest on one (several times faster than two "
        "on a 2-core machine), large conv nets want more",
    )
    run.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    run.add_argument("--quick", action="store_true", help="a few-second smoke run")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser


def _load_model_class(spec: str | None):
    if spec is None:
        from .training import MLP

        return MLP
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SystemExit(f"--model must look like 'package.module:Class'; got {spec!r}")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"--model {spec!r} could not be imported: {exc}") from exc


def _make_net(args, task):
    import torch
    from torch import nn

    from .training import EpochProgressBar, L1RegularizedClassifier

    model_cls = _load_model_class(args.model)
    module_kwargs = {"module__n_features": task.n_features, "module__n_outputs": task.n_classes}
    if args.model is None:
        module_kwargs["module__hidden"] = tuple(args.hidden)
    return L1RegularizedClassifier(
        model_cls,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
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
    """Run the main job for parsed ``args``; returns the report written to report.json."""
    import torch

    from .datasets import load_task
    from .limit import (
        LimitRegimeWarning,
        PruningLimitEstimator,
        limit_report,
        measure_pruning_curve,
    )
    from .metrics import pq_index, recall_distortion_report
    from .pruning import prune_global
    from .training import EpochProgressBar

    if args.quick:
        args.epochs = min(args.epochs, 3)
        args.lanczos_steps = "8"
        args.n_probes = 1
        args.fine_tune_epochs = min(args.fine_tune_epochs, 1)
    if args.threads < 1:
        raise SystemExit(f"--threads must be a positive integer; got {args.threads}")
    torch.set_num_threads(args.threads)  # an application-level choice: this process is ours
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = {}

    task = load_task(args.dataset, random_state=args.seed)
    net = _make_net(args, task)
    start = time.perf_counter()
    # skorch initialises the module from torch's global RNG; fork it so the seed is ours alone
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        net.fit(task.X_train, task.y_train)
    timings["training_s"] = time.perf_counter() - start
    for _, callback in net.callbacks_:  # the bar is for this training, not the curve's re-fits
        if isinstance(callback, EpochProgressBar):
            callback.disable = True

    steps = args.lanczos_steps if args.lanczos_steps == "auto" else int(args.lanczos_steps)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LimitRegimeWarning)
        limit = PruningLimitEstimator(
            net,
            prefit=True,
            n_probes=args.n_probes,
            n_lanczos_steps=steps,
            # the paper's 128-sample batches for epsilon, smaller on small data sets so that the
            # spread is taken over at least 8 batches
            epsilon_batch_size=int(min(128, max(8, len(task.y_train) // 8))),
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
        ).fit(task.X_train, task.y_train)
    for w in caught:  # shown as one plain line each (they are also in report.json)
        if issubclass(w.category, LimitRegimeWarning):
            print(f"note: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    timings["prediction_s"] = time.perf_counter() - start

    sparsities = args.sparsities
    if sparsities is None:
        sparsities = np.round(np.arange(0.0, 1.0, 0.05 if args.quick else 0.01), 4).tolist()

    def measure(**extra):  # the same sweep, one-shot or with masked re-training
        start = time.perf_counter()
        measured = measure_pruning_curve(
            net,
            task.X_test,
            task.y_test,
            sparsities=sparsities,
            rule="first_drop",
            tolerance=args.tolerance,
            verbose=0 if args.quiet else 1,
            **extra,
        )
        return measured, time.perf_counter() - start

    curve, timings["measurement_s"] = measure()
    retrained = None
    if args.fine_tune_epochs > 0:
        retrained, timings["measurement_retrained_s"] = measure(
            fine_tune_epochs=args.fine_tune_epochs,
            X_fine_tune=task.X_train,
            y_fine_tune=task.y_train,
        )

    report = {
        "dataset": task.name,
        "n_train": int(len(task.y_train)),
        "n_test": int(len(task.y_test)),
        "l1_alpha": args.l1_alpha,
        "epochs": args.epochs,
        "seed": args.seed,
        **limit_report(limit, curve, retrained_curve=retrained),
    }
    # PQ index of the pruned weights along the sweep (larger = sparser)
    weights = torch.cat([p.detach().flatten().cpu() for p in net.prunable_parameters()])
    order = torch.argsort(weights.abs(), stable=True)
    # the curves may add the dense point rho = 0 to the grid: match rows by sparsity
    retrained_at = {} if retrained is None else dict(zip(retrained.sparsities, retrained.scores))
    rows = []
    for rho, acc in zip(curve.sparsities, curve.scores):
        keep = torch.ones_like(weights, dtype=torch.bool)
        keep[order[: round(float(rho) * weights.numel())]] = False
        row = {"sparsity": float(rho), "accuracy": float(acc)}
        if retrained is not None:
            row["accuracy_retrained"] = float(retrained_at[rho])
        row["pq_index"] = pq_index(weights[keep])
        rows.append(row)
    report["sweep"] = rows
    pruned = prune_global(net.module_, limit.pruning_limit_, copy=True).module
    report["recall_at_predicted_limit"] = recall_distortion_report(
        net, pruned, task.X_test, task.y_test, sparsity=limit.pruning_limit_
    )
    report["timings"] = {**report.get("timings", {}), **timings}

    if not args.no_plot:
        report["plots"] = _plot(limit, curve, out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=_jsonable))
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
    args = build_parser().parse_args(argv)
    run(args)
    return 0
