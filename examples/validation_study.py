"""Validation study: predicted pruning limit vs the measured one.

On small CPU tasks built only from data that ships with scikit-learn (the digits images and two
``make_classification`` problems of different difficulty) and three L1 strengths each, train an
:class:`~sparselimit.L1RegularizedClassifier`, predict its pruning limit with
:class:`~sparselimit.limit.PruningLimitEstimator` (SLQ, 128 Lanczos steps, 1 probe, and
``n_lanczos_steps="auto"``, whose steps, cost against 128 steps and distance to the 128-step
limit the table reports), then measure the real limit on the held-out split:

- one-shot global magnitude pruning without retraining (100 sparsities), and
- pruned-then-retrained (each pruned net retrained 2 epochs with its mask enforced),

each under the two rules of :func:`~sparselimit.limit.measured_limit` ("last_above": the
largest sparsity whose accuracy is >= the dense accuracy; "first_drop": the largest before
the accuracy first drops below dense - 1%).

Run ``python examples/validation_study.py --out DIR``; ``SPARSELIMIT_QUICK=1`` runs a
seconds-long version (one task, one L1 strength, 32 Lanczos steps, coarse grids). Writes
``DIR/validation.json``, ``DIR/validation.md`` (the table) and the two figures of the first
row, ``DIR/limit_width.png`` and ``DIR/limit_accuracy.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.datasets import load_task
from sparselimit.limit import (
    LimitRegimeWarning,
    PruningLimitDisplay,
    PruningLimitEstimator,
    limit_report,
    measure_pruning_curve,
)
from sparselimit.training import MLP

QUICK = os.environ.get("SPARSELIMIT_QUICK", "0") not in ("", "0")

TASKS = ("digits",) if QUICK else ("digits", "synthetic", "synthetic_hard")
ALPHAS = (3e-4,) if QUICK else (1e-4, 3e-4, 1e-3)
EPOCHS = 8 if QUICK else 60
ONE_SHOT_GRID = np.linspace(0.0, 0.99, 20 if QUICK else 100)
RETRAIN_GRID = np.linspace(0.0, 0.99, 6 if QUICK else 34)
RETRAIN_EPOCHS = 1 if QUICK else 2
STEPS = 32 if QUICK else 128
FIRST_DROP_TOL = 0.01


def make_net(task, l1_alpha):
    return L1RegularizedClassifier(
        MLP,
        module__n_features=task.n_features,
        module__n_outputs=task.n_classes,
        module__hidden=(32,),
        criterion=nn.CrossEntropyLoss,
        l1_alpha=l1_alpha,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        lr=0.05,
        max_epochs=EPOCHS,
        batch_size=64,
        train_split=None,
        verbose=0,
    )


def epsilon_factor(est, target):
    """The factor on ``epsilon_`` at which the prediction equals ``target`` (``predict_ratio``
    increases with epsilon; re-solved from the cached spectrum), or None out of [1e-4, 1e4]."""
    lo, hi = np.log(1e-4), np.log(1e4)
    if (
        not est.predict_ratio(np.exp(lo) * est.epsilon_)
        <= target
        <= est.predict_ratio(np.exp(hi) * est.epsilon_)
    ):
        return None
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if est.predict_ratio(np.exp(mid) * est.epsilon_) < target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def run_row(task, l1_alpha, seed=0):
    net = make_net(task, l1_alpha)
    t = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # reproducible, global RNG left as it was
        torch.manual_seed(seed)
        net.fit(task.X_train, task.y_train)
    train_s = time.perf_counter() - t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)  # recorded in diagnostics_
        est = PruningLimitEstimator(net, prefit=True, n_lanczos_steps=STEPS, random_state=seed).fit(
            task.X_train, task.y_train
        )
        auto = PruningLimitEstimator(
            net, prefit=True, n_lanczos_steps="auto", random_state=seed
        ).fit(task.X_train, task.y_train)

    one_shot = measure_pruning_curve(net, task.X_test, task.y_test, sparsities=ONE_SHOT_GRID)
    retrained = measure_pruning_curve(
        net,
        task.X_test,
        task.y_test,
        sparsities=RETRAIN_GRID,
        fine_tune_epochs=RETRAIN_EPOCHS,
        X_fine_tune=task.X_train,
        y_fine_tune=task.y_train,
        random_state=seed,
    )
    report = limit_report(est, one_shot, retrained_curve=retrained)
    row = {
        "task": task.name,
        "l1_alpha": l1_alpha,
        "n_params": est.n_params_,
        "dense_accuracy": one_shot.dense_score,
        "train_seconds": train_s,
        "predicted": est.pruning_limit_,
        "interval": list(est.pruning_limit_interval_),
        "auto_predicted": auto.pruning_limit_,
        "auto_steps": auto.n_lanczos_steps_,
        "auto_error_estimate": auto.diagnostics_["lanczos_error"],
        "auto_seconds": auto.timings_["spectrum"],
        "fixed_seconds": est.timings_["spectrum"],
        "epsilon": est.epsilon_,
        "in_regime": est.diagnostics_["in_regime"],
        "one_shot": {
            "last_above": one_shot.limit("last_above"),
            "first_drop": one_shot.limit("first_drop", FIRST_DROP_TOL),
        },
        "retrained": {
            "last_above": retrained.limit("last_above"),
            "first_drop": retrained.limit("first_drop", FIRST_DROP_TOL),
        },
        "report": report,
    }
    # what closes each gap: the epsilon (as a factor on the batch-std default) that would
    # have predicted the measured limit exactly
    row["epsilon_factor"] = {
        f"{curve}/{rule}": epsilon_factor(est, row[curve][rule])
        for curve in ("one_shot", "retrained")
        for rule in ("last_above", "first_drop")
    }
    return row, est, one_shot


def table(rows):
    head = (
        # "predicted" and the cost's reference are the fixed STEPS-step run (32 when quick)
        "| task | l1_alpha | D | dense acc | predicted [interval] | auto | auto steps (cost) "
        f"| abs(auto - {STEPS}) | one-shot last_above | one-shot first_drop | retrained last_above "
        "| retrained first_drop | epsilon factor to match: one-shot first_drop, retrained "
        "last_above |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        p = r["predicted"]

        def cell(v, p=p):
            return f"{v:.2f} ({p - v:+.3f})"

        def factor(key, r=r):
            f = r["epsilon_factor"][key]
            return "-" if f is None else f"{f:.2g}"

        lines.append(
            f"| {r['task']} | {r['l1_alpha']:g} | {r['n_params']} | {r['dense_accuracy']:.3f} "
            f"| {p:.3f} [{r['interval'][0]:.2f}, {r['interval'][1]:.2f}] "
            f"| {r['auto_predicted']:.3f} | {r['auto_steps']} "
            f"({r['auto_seconds'] / r['fixed_seconds']:.2f}) "
            f"| {abs(r['auto_predicted'] - p):.4f} "
            f"| {cell(r['one_shot']['last_above'])} | {cell(r['one_shot']['first_drop'])} "
            f"| {cell(r['retrained']['last_above'])} | {cell(r['retrained']['first_drop'])} "
            f"| {factor('one_shot/first_drop')}, {factor('retrained/last_above')} |"
        )
    return head + "\n".join(lines) + "\n"


def summary(rows):
    out = {}
    for curve in ("one_shot", "retrained"):
        for rule in ("last_above", "first_drop"):
            err = np.array([r["predicted"] - r[curve][rule] for r in rows])
            out[f"{curve}/{rule}"] = {
                "mean_abs_error": float(np.mean(np.abs(err))),
                "max_abs_error": float(np.max(np.abs(err))),
                "rows_within_0.03": int(np.sum(np.abs(err) <= 0.03)),
                "rows": len(rows),
            }
            factors = [r["epsilon_factor"][f"{curve}/{rule}"] for r in rows]
            found = [f for f in factors if f is not None]
            out[f"{curve}/{rule}"]["epsilon_factor_range"] = (
                [float(min(found)), float(max(found))] if found else None
            )
    auto_err = [abs(r["auto_predicted"] - r["predicted"]) for r in rows]
    out["auto_vs_fixed"] = {
        "max_abs_difference": float(np.max(auto_err)),
        "mean_abs_difference": float(np.mean(auto_err)),
        "mean_steps": float(np.mean([r["auto_steps"] for r in rows])),
        "max_steps": int(np.max([r["auto_steps"] for r in rows])),
        "fixed_steps": STEPS,
        "cost_ratio": float(
            np.sum([r["auto_seconds"] for r in rows]) / np.sum([r["fixed_seconds"] for r in rows])
        ),
    }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation-out", help="output directory")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    rows = []
    first = None
    for name in TASKS:
        task = load_task(name)
        for alpha in ALPHAS:
            row, est, one_shot = run_row(task, alpha)
            rows.append(row)
            if first is None:
                first = (est, one_shot)
            print(
                f"{name:15s} l1_alpha={alpha:<7g} predicted={row['predicted']:.3f} "
                f"one-shot={row['one_shot']['last_above']:.2f}/"
                f"{row['one_shot']['first_drop']:.2f} retrained="
                f"{row['retrained']['last_above']:.2f}/{row['retrained']['first_drop']:.2f} "
                f"auto={row['auto_predicted']:.3f} ({row['auto_steps']} steps)",
                flush=True,
            )

    md = table(rows)
    stats = summary(rows)
    (out / "validation.md").write_text(md)
    (out / "validation.json").write_text(
        json.dumps(
            {"rows": rows, "summary": stats, "seconds": time.perf_counter() - t0, "quick": QUICK},
            indent=1,
        )
    )
    print(md)
    print(json.dumps(stats, indent=1))

    import matplotlib

    matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
    import matplotlib.pyplot as plt

    est, one_shot = first
    fig1, ax1 = plt.subplots(figsize=(5.5, 4.2))
    fig2, ax2 = plt.subplots(figsize=(5.5, 4.2))
    PruningLimitDisplay.from_estimator(est, one_shot, ax=[ax1, ax2])
    fig1.tight_layout()
    fig2.tight_layout()
    fig1.savefig(out / "limit_width.png", dpi=110)
    fig2.savefig(out / "limit_accuracy.png", dpi=110)
    plt.close(fig1)
    plt.close(fig2)
    print(
        f"wrote {out}/validation.md, validation.json, limit_width.png, limit_accuracy.png "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    return rows


if __name__ == "__main__":
    main()
