"""Recall distortion of pruning on a class-imbalanced task: magnitude vs Undecayed Pruning.

A network trained with weight decay is pruned one-shot at increasing sparsity, once ranking the
weights by magnitude ``|w|`` and once by the Undecayed score ``|-w g + lambda w^2|`` (Good et al.,
NeurIPS 2022). For each sparsity we report test accuracy and the intensification summary
``alpha`` (> 1: pruning widened the recall gap between frequent and rare classes), and plot
``alpha`` against sparsity to ``recall_distortion.png`` in ``--out`` (default: the current
directory).

Run: ``python examples/recall_distortion.py [--out DIR]``
(``SPARSELIMIT_QUICK=1`` for a few-second run).
"""

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.metrics import recall_distortion_curve
from sparselimit.pruning import make_undecayed_importance
from sparselimit.training import MLP

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"
WEIGHT_DECAY = 5e-4
WEIGHTS = [0.55, 0.25, 0.15, 0.05]  # class frequencies
SPARSITIES = (0.5, 0.9) if QUICK else (0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95)
SEEDS = (0,) if QUICK else (0, 1, 2, 3, 4)


def load(seed):
    X, y = make_classification(
        n_samples=1000 if QUICK else 4000,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        n_classes=4,
        weights=WEIGHTS,
        class_sep=1.0,
        random_state=seed,
    )
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    f32 = np.float32
    return (
        scaler.transform(X_tr).astype(f32),
        scaler.transform(X_te).astype(f32),
        y_tr.astype(np.int64),
        y_te.astype(np.int64),
    )


def run(seed):
    X_tr, X_te, y_tr, y_te = load(seed)
    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=20,
        module__n_outputs=4,
        module__hidden=(128, 128),
        criterion=nn.CrossEntropyLoss,
        lr=0.05,
        optimizer__momentum=0.9,
        optimizer__weight_decay=WEIGHT_DECAY,
        batch_size=64,
        max_epochs=3 if QUICK else 60,
        train_split=None,
        verbose=0,
    ).fit(X_tr, y_tr)
    # g: data-loss gradient on the training data (no weight-decay term), lambda from the net
    undecayed = make_undecayed_importance(net, None, X_tr, y_tr)
    return {
        name: recall_distortion_curve(net, X_te, y_te, SPARSITIES, importance=imp)
        for name, imp in (("magnitude", "magnitude"), ("undecayed", undecayed))
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for recall_distortion.png")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = [run(seed) for seed in SEEDS]
    print(
        f"class weights {WEIGHTS}, weight decay {WEIGHT_DECAY}, seeds {list(SEEDS)} "
        "(test-set means)"
    )
    dense_acc = np.mean([r["magnitude"].accuracy_dense for r in runs])
    print(f"dense accuracy {dense_acc:.3f}")
    print(f"{'sparsity':>8} {'acc mag':>8} {'alpha mag':>9} {'acc und':>8} {'alpha und':>9}")
    table = {}
    for name in ("magnitude", "undecayed"):
        table[name] = (
            np.mean([r[name].accuracy for r in runs], axis=0),
            np.nanmean([r[name].alpha for r in runs], axis=0),
        )
    for i, s in enumerate(SPARSITIES):
        (am, alm), (au, alu) = table["magnitude"], table["undecayed"]
        print(f"{s:>8.2f} {am[i]:>8.3f} {alm[i]:>9.3f} {au[i]:>8.3f} {alu[i]:>9.3f}")
    first = runs[0]
    last = len(SPARSITIES) - 1
    print(f"per-class recall, seed {SEEDS[0]}, sparsity {SPARSITIES[last]}:")
    print("  dense     ", np.round(first["magnitude"].recall_dense, 3))
    for name in ("magnitude", "undecayed"):
        print(f"  {name:<10}", np.round(first[name].recall[last], 3))
    try:
        import matplotlib

        matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in ("magnitude", "undecayed"):
        curve = first[name]
        curve.alpha = table[name][1]  # plot the seed mean
        curve.plot(ax, label=name)
    ax.set_title("recall distortion vs sparsity")
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "recall_distortion.png", dpi=100)
    print(f"wrote {out / 'recall_distortion.png'}")


if __name__ == "__main__":
    main()
