"""LOMP: train with an L1 penalty, prune in one shot by global magnitude, fine-tune with masks.

Trains one L1-regularised MLP on scikit-learn's digits, prunes copies of it at several
sparsities (``GlobalOneShotPruner(prefit=True)``: the trained net itself is never modified),
prints test accuracy against the fraction of weights removed, fine-tunes the sparsest one with
its pruned weights held at zero, and saves a plot ``prune_one_shot.png`` (if matplotlib is
installed) in ``--out`` (default: the current directory).

Run: ``python examples/prune_one_shot.py [--out DIR]``
(``SPARSELIMIT_QUICK=1`` for a few-second run).
"""

import argparse
import os
from pathlib import Path

import torch
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.datasets import load_task
from sparselimit.pruning import GlobalOneShotPruner
from sparselimit.training import MLP

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"
SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95) if QUICK else (0.0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for prune_one_shot.png")
    args = parser.parse_args(argv)
    task = load_task("digits")
    torch.manual_seed(0)
    net = L1RegularizedClassifier(
        MLP,
        module__n_features=task.n_features,
        module__n_outputs=task.n_classes,
        module__hidden=(128, 64),
        criterion=nn.CrossEntropyLoss,
        l1_alpha=1e-4,
        lr=0.05,
        optimizer__momentum=0.9,
        max_epochs=3 if QUICK else 60,
        train_split=None,
        verbose=0,
    ).fit(task.X_train, task.y_train)

    print(f"{'sparsity':>8} {'achieved':>8} {'test acc':>8}")
    accs = []
    for s in SPARSITIES:
        pruner = GlobalOneShotPruner(net, sparsity=s, prefit=True).fit(task.X_train, task.y_train)
        accs.append(pruner.score(task.X_test, task.y_test))
        print(f"{s:>8.2f} {pruner.sparsity_:>8.3f} {accs[-1]:>8.3f}")

    tuned = GlobalOneShotPruner(
        net, sparsity=SPARSITIES[-1], prefit=True, fine_tune_epochs=2 if QUICK else 10
    ).fit(task.X_train, task.y_train)
    zeros = all(
        bool((p[~tuned.masks_[n]] == 0).all())
        for n, p in tuned.estimator_.module_.named_parameters()
        if n in tuned.masks_
    )
    acc = tuned.score(task.X_test, task.y_test)
    print(
        f"fine-tuned at {SPARSITIES[-1]:.2f}: test acc {acc:.3f}, "
        f"pruned weights still zero: {zeros}"
    )

    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(SPARSITIES, accs, "o-", label="one-shot, no fine-tuning")
    ax.axhline(accs[0], color="gray", ls="--", lw=1, label="dense")
    ax.set_xlabel("fraction of weights removed")
    ax.set_ylabel("test accuracy")
    ax.set_title("L1 one-shot magnitude pruning (digits)")
    ax.legend()
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "prune_one_shot.png", dpi=100)
    print(f"saved {out / 'prune_one_shot.png'}")


if __name__ == "__main__":
    main()
