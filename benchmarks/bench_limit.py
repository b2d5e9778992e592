"""Cost of predicting the pruning limit vs measuring it.

Ratio of ``PruningLimitEstimator.fit`` (training excluded: ``prefit=True``) to a 100-point
one-shot ``measure_pruning_curve`` on the same trained net, and to a 100-point retrained one
(one epoch of masked fine-tuning per point, the cheapest retrained sweep), on scikit-learn's
digits with a 64-32-10 MLP and on a wider 64-256-10 one. Also the ``n_lanczos_steps="auto"``
cost.

    python benchmarks/bench_limit.py            # prints a table, writes .benchmarks/limit.json
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.datasets import load_task
from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator, measure_pruning_curve
from sparselimit.training import MLP


def best_of(fn, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    task = load_task("digits")
    rows = []
    for hidden in (32, 256):
        net = L1RegularizedClassifier(
            MLP,
            module__n_features=task.n_features,
            module__n_outputs=task.n_classes,
            module__hidden=(hidden,),
            criterion=nn.CrossEntropyLoss,
            l1_alpha=3e-4,
            optimizer=torch.optim.SGD,
            optimizer__momentum=0.9,
            lr=0.05,
            max_epochs=30,
            batch_size=64,
            train_split=None,
            verbose=0,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net.fit(task.X_train, task.y_train)
        grid = np.linspace(0.0, 0.99, 100)
        t_curve, _ = best_of(
            lambda net=net, grid=grid: measure_pruning_curve(net, task.X_test, task.y_test, grid)
        )
        t_retrained, _ = best_of(
            lambda net=net, grid=grid: measure_pruning_curve(
                net,
                task.X_test,
                task.y_test,
                grid,
                fine_tune_epochs=1,
                X_fine_tune=task.X_train,
                y_fine_tune=task.y_train,
                random_state=0,
            ),
            repeat=1,
        )
        res = {}
        for steps in (128, "auto"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LimitRegimeWarning)
                t_fit, est = best_of(
                    lambda net=net, steps=steps: PruningLimitEstimator(
                        net, prefit=True, n_lanczos_steps=steps, random_state=0
                    ).fit(task.X_train, task.y_train)
                )
            res[steps] = (t_fit, est)
        t128, e128 = res[128]
        tauto, eauto = res["auto"]
        rows.append(
            {
                "hidden": hidden,
                "n_params": e128.n_params_,
                "curve_100_s": t_curve,
                "retrained_curve_100_s": t_retrained,
                "ratio_128_vs_retrained": t128 / t_retrained,
                "fit_128_s": t128,
                "ratio_128": t128 / t_curve,
                "fit_auto_s": tauto,
                "ratio_auto": tauto / t_curve,
                "auto_steps": eauto.n_lanczos_steps_,
                "limit_128": e128.pruning_limit_,
                "limit_auto": eauto.pruning_limit_,
            }
        )
        r = rows[-1]
        print(
            f"D={r['n_params']:6d}  curve(100 pts)={r['curve_100_s']:.3f}s  "
            f"fit(128 steps)={r['fit_128_s']:.3f}s ratio={r['ratio_128']:.1f}  "
            f"fit(auto, {r['auto_steps']} steps)={r['fit_auto_s']:.3f}s "
            f"ratio={r['ratio_auto']:.1f}  retrained curve(100 pts, 1 epoch)="
            f"{r['retrained_curve_100_s']:.2f}s ratio(128 steps)="
            f"{r['ratio_128_vs_retrained']:.3f}  limit {r['limit_128']:.3f} / {r['limit_auto']:.3f}"
        )
    out = Path(__file__).resolve().parents[1] / ".benchmarks"
    out.mkdir(exist_ok=True)
    (out / "limit.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
