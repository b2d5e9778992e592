"""Watch the PQ index while a network trains with an L1 penalty, then score pruned networks.

The PQ index (Diao et al., ICLR 2023) is larger for sparser (more compressible) weights. The
``PQIndexScoring`` and ``SparsityScoring`` callbacks write it to skorch's ``history`` every
epoch; ``PQIndex`` also scores a fitted pruner, e.g. inside ``GridSearchCV``.

Run: ``python examples/pq_index_history.py [--out DIR]`` (``SPARSELIMIT_QUICK=1`` for a
few-second run). Writes ``pq_index_history.png`` into ``--out`` (default: current folder).
"""

import argparse
import os
from pathlib import Path

import torch
from torch import nn

from sparselimit import GlobalOneShotPruner, L1RegularizedClassifier, PQIndex
from sparselimit.datasets import load_task
from sparselimit.metrics import plot_history
from sparselimit.training import MLP, PQIndexScoring, SparsityScoring

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"


def main(out: Path):
    task = load_task("digits")
    net = L1RegularizedClassifier(
        MLP,
        module__n_features=task.n_features,
        module__n_outputs=task.n_classes,
        criterion=nn.CrossEntropyLoss,
        l1_alpha=1e-3,
        lr=0.05,
        optimizer__momentum=0.9,
        max_epochs=3 if QUICK else 40,
        callbacks=[PQIndexScoring(), SparsityScoring()],
        verbose=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net.fit(task.X_train, task.y_train)
    print("epoch  PQ index  valid acc")
    for row in net.history:
        print(f"{row['epoch']:>5}  {row['pq_index']:.4f}    {row['valid_acc']:.3f}")

    print("\nsparsity  PQ index (kept weights)  test acc")
    for sparsity in (0.5, 0.8, 0.9, 0.95):
        pruner = GlobalOneShotPruner(net, sparsity=sparsity, prefit=True).fit(
            task.X_train, task.y_train
        )
        pqi = PQIndex().score(pruner)  # computed over the unmasked weights
        print(f"{sparsity:>8.2f}  {pqi:>22.4f}  {pruner.score(task.X_test, task.y_test):.3f}")

    ax = plot_history(net, keys=("pq_index", "valid_acc"))
    out.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(out / "pq_index_history.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."))
    main(parser.parse_args().out)
