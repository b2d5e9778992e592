"""SAP vs lottery-ticket IMP vs Dynamic Network Surgery vs one-shot L1 pruning, on digits.

Every method prunes the same small MLP on scikit-learn's bundled digits data:

- SAP (``IterativePruner(schedule="sap")``): each round removes as many weights as the PQ index
  of the kept weights says are compressible, rewinds the survivors to their initial values and
  retrains; with the default (p, q) = (0.5, 1) and, more aggressive, (1, 2);
- IMP (``IterativePruner(schedule="fixed")``): the same loop, removing 20% of the remaining
  weights per round (the lottery-ticket baseline);
- DNS (the ``DynamicNetworkSurgery`` callback): starting from the trained dense network, prunes
  and splices while training on, for a few threshold multipliers ``c``;
- one-shot L1 (LOMP): train once with an L1 penalty, remove the smallest weights in one shot
  (``GlobalOneShotPruner(prefit=True)``), at the sparsity each other method reached.

The script prints (1) each method's final sparsity and test accuracy next to one-shot L1 at the
same sparsity, and (2) the largest sparsity each method reaches while staying within one point of
the dense network's test accuracy. The per-round accuracies are measured on the test split
(``eval_set``), which also picks the operating points: fine for a comparison, not for model
selection.

It saves both as ``sap_vs_imp.png`` in ``--out`` (default: the current directory) when matplotlib
is installed.

Run: ``python examples/sap_vs_imp.py [--out DIR]`` (``SPARSELIMIT_QUICK=1`` for a few-second run).
"""

import argparse
import copy
import os
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.datasets import load_task
from sparselimit.pruning import GlobalOneShotPruner, IterativePruner
from sparselimit.training import MLP, DynamicNetworkSurgery

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"
EPOCHS = 3 if QUICK else 30
ROUNDS = 2 if QUICK else 20
DNS_CS = (0.5,) if QUICK else (0.0, 1.0, 2.0, 3.0, 4.0)
TOLERANCE = 0.01  # "equal accuracy": within one point of the dense network


def make_net(cls=NeuralNetClassifier, n_features=64, n_classes=10, **kwargs):
    params = dict(
        module=MLP,
        module__n_features=n_features,
        module__n_outputs=n_classes,
        module__hidden=(128,),
        criterion=nn.CrossEntropyLoss,
        lr=0.05,
        optimizer__momentum=0.9,
        max_epochs=EPOCHS,
        train_split=None,
        verbose=0,
    )
    params.update(kwargs)
    return cls(**params)


def accuracy(net, task):
    return float(np.mean(net.predict(task.X_test) == task.y_test))


def best_sparsity(points, reference):
    """Largest sparsity among (sparsity, accuracy) points within TOLERANCE of ``reference``."""
    ok = [s for s, a in points if a >= reference - TOLERANCE]
    return max(ok) if ok else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for sap_vs_imp.png")
    args = parser.parse_args(argv)
    task = load_task("digits")
    X, y, eval_set = task.X_train, task.y_train, (task.X_test, task.y_test)
    shape = dict(n_features=task.n_features, n_classes=task.n_classes)

    # SAP and IMP: the same loop, two schedules
    torch.manual_seed(0)
    sap = IterativePruner(make_net(**shape), schedule="sap", n_rounds=ROUNDS)
    sap.fit(X, y, eval_set=eval_set)
    sap12 = None
    if not QUICK:
        torch.manual_seed(0)
        sap12 = IterativePruner(make_net(**shape), schedule="sap", n_rounds=ROUNDS, p=1.0, q=2.0)
        sap12.fit(X, y, eval_set=eval_set)
    torch.manual_seed(0)
    imp = IterativePruner(make_net(**shape), schedule="fixed", n_rounds=ROUNDS)
    imp.fit(X, y, eval_set=eval_set)
    dense_acc = sap.history_[0]["score"]

    # DNS: as in the paper, start from the trained dense network and train on with surgery,
    # one run per threshold multiplier c
    torch.manual_seed(0)
    dense = make_net(**shape).fit(X, y)
    dns_points = []
    for c in DNS_CS:
        dns = DynamicNetworkSurgery(c=c, random_state=0)
        net = copy.deepcopy(dense)
        net.callbacks = [("dns", dns)]
        net.initialize_callbacks()
        net.partial_fit(X, y)  # continues from the trained weights
        dns_points.append((c, dns.sparsity_, accuracy(net, task)))

    # one-shot L1 (LOMP): train once with the penalty, prune a copy at any sparsity
    torch.manual_seed(0)
    l1_net = make_net(L1RegularizedClassifier, **shape, l1_alpha=1e-4).fit(X, y)

    def l1_one_shot(sparsity):
        sparsity = min(round(sparsity, 6), 0.999999)
        pruner = GlobalOneShotPruner(l1_net, sparsity=sparsity, prefit=True).fit(X, y)
        return float(pruner.score(*eval_set))

    print(f"dense test accuracy: {dense_acc:.3f}   (prunable weights: {sap.history_[0]['n_kept']})")
    print()
    print(f"{'method':<14} {'sparsity':>8} {'test acc':>8} {'L1 one-shot acc':>16}")
    iterative = [("SAP", sap)] + ([("SAP(1,2)", sap12)] if sap12 is not None else [])
    iterative.append(("IMP (20%)", imp))
    finals = [(name, est.sparsity_, est.history_[-1]["score"]) for name, est in iterative]
    finals += [(f"DNS c={c:g}", s, a) for c, s, a in dns_points]
    for name, sparsity, acc in finals:
        print(f"{name:<14} {sparsity:>8.3f} {acc:>8.3f} {l1_one_shot(sparsity):>16.3f}")

    grid = np.linspace(0.0, 0.98, 8 if QUICK else 50)
    l1_curve = [(float(s), l1_one_shot(float(s))) for s in grid]
    curves = [
        (name, [(1.0 - h["remaining"], h["score"]) for h in est.history_], "o-")
        for name, est in iterative
    ]
    curves += [("DNS", [(s, a) for _, s, a in dns_points], "^"), ("L1 one-shot", l1_curve, "-")]
    print()
    print(f"largest sparsity with test accuracy >= {dense_acc - TOLERANCE:.3f} (dense - 0.01):")
    for name, curve, _ in curves:
        print(f"  {name:<12} {best_sparsity(curve, dense_acc):.3f}")
    print()
    print("SAP rounds (round, remaining, PQ index, r_t, c_t, test acc):")
    for h in sap.history_:
        print(
            f"  {h['round']:>2} {h['remaining']:.3f} {h['pq_index']:.4f} {h['r']:>9.1f} "
            f"{h['c']:>5} {h['score']:.3f}"
        )

    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; no figure written")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, curve, style in curves:
        s, a = zip(*curve)
        ax1.plot(s, a, style, label=label)
    ax1.axhline(dense_acc - TOLERANCE, color="grey", ls=":", label="dense - 0.01")
    ax1.set(xlabel="sparsity (fraction of weights removed)", ylabel="test accuracy")
    ax1.legend()
    for label, est in iterative:
        ax2.plot(
            [h["round"] for h in est.history_],
            [h["pq_index"] for h in est.history_],
            "o-",
            label=label,
        )
    ax2.set(xlabel="round", ylabel="PQ index of the kept weights")
    ax2.legend()
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "sap_vs_imp.png", dpi=100)
    plt.close(fig)
    print(f"saved {out / 'sap_vs_imp.png'}")


if __name__ == "__main__":
    main()
