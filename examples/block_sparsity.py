"""SequentialAttention++ vs block magnitude pruning at equal block sparsity (digits, 64-256-256-10).

Both methods keep the same number of 8x8 blocks in each hidden layer (the 10x256 head has fewer
than 100 blocks and stays dense) and get the same number of training epochs:

* **SA++** — ``BlockSparsifier``: dense / sparsify / sparse phases, then a sparse fine-tune.
* **block magnitude** — dense training, prune the blocks of smallest Frobenius norm, fine-tune
  with the mask enforced (``MaskEnforcer``); also shown before the fine-tune (one-shot).

Run: ``python examples/block_sparsity.py`` (``SPARSELIMIT_QUICK=1`` for a few-second run).
"""

import os
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.blocks import BlockSparsifier, block_magnitude_masks
from sparselimit.datasets import load_task
from sparselimit.training import MLP, MaskEnforcer
from sparselimit.utils import apply_masks

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"
BLOCK = 8
SPARSITIES = (0.9,) if QUICK else (0.8, 0.9, 0.95)
SEEDS = (0,) if QUICK else (0, 1, 2)
# SA++ schedule: epochs per phase; the baseline gets the same total
PHASES = (
    dict(dense_epochs=1, sparsify_epochs=1, sparse_epochs=1, n_cycles=1, finetune_epochs=1)
    if QUICK
    else dict(dense_epochs=5, sparsify_epochs=5, sparse_epochs=3, n_cycles=2, finetune_epochs=5)
)
TOTAL = (
    PHASES["n_cycles"]
    * (PHASES["dense_epochs"] + PHASES["sparsify_epochs"] + PHASES["sparse_epochs"])
    + PHASES["finetune_epochs"]
)
FINETUNE = PHASES["finetune_epochs"] + (PHASES["sparse_epochs"] if not QUICK else 0)


def make_net(task, max_epochs, callbacks=None):
    return NeuralNetClassifier(
        MLP,
        module__n_features=task.n_features,
        module__n_outputs=task.n_classes,
        module__hidden=(256, 256),
        criterion=nn.CrossEntropyLoss,
        lr=0.05,
        optimizer__momentum=0.9,
        batch_size=64,
        max_epochs=max_epochs,
        train_split=None,
        verbose=0,
        callbacks=callbacks,
    )


def accuracy(net, task):
    return float(np.mean(net.predict(task.X_test) == task.y_test))


def block_magnitude(task, sparsity, seed):
    """Dense training, block magnitude pruning, then a masked fine-tune: TOTAL epochs in all."""
    torch.manual_seed(seed)
    net = make_net(task, TOTAL - FINETUNE).fit(task.X_train, task.y_train)
    dense_acc = accuracy(net, task)
    masks = block_magnitude_masks(net.module_, sparsity, BLOCK)
    apply_masks(net.module_, masks)
    oneshot_acc = accuracy(net, task)
    net.set_params(max_epochs=FINETUNE, callbacks=[MaskEnforcer(masks)], warm_start=True)
    net.initialize_callbacks()
    net.initialize_optimizer()
    net.partial_fit(task.X_train, task.y_train)
    return dense_acc, oneshot_acc, accuracy(net, task)


def sequential_attention(task, sparsity, seed):
    torch.manual_seed(seed)
    sp = BlockSparsifier(make_net(task, TOTAL), sparsity=sparsity, block_size=BLOCK, **PHASES)
    sp.fit(task.X_train, task.y_train)
    assert sp.layer_sparsity_ == {
        "layers.0.weight": expected_layer_sparsity(sparsity, 256),
        "layers.2.weight": expected_layer_sparsity(sparsity, 1024),
    }
    return accuracy(sp.estimator_, task)


def expected_layer_sparsity(sparsity, n_blocks):
    """Achieved block sparsity of a layer with n_blocks: floor(s * n) blocks removed."""
    return int(np.floor(sparsity * n_blocks + 1e-9)) / n_blocks


def main():
    torch.set_num_threads(1)
    task = load_task("digits")
    print(
        f"digits, MLP 64-256-256-10, {BLOCK}x{BLOCK} blocks, {TOTAL} epochs per method, "
        f"seeds {list(SEEDS)}"
    )
    print(f"{'sparsity':>8} {'dense':>7} {'mag 1-shot':>10} {'mag+ft':>7} {'SA++':>7}")
    start = time.perf_counter()
    for s in SPARSITIES:
        rows = np.array(
            [
                [*block_magnitude(task, s, seed), sequential_attention(task, s, seed)]
                for seed in SEEDS
            ]
        )
        mean = rows.mean(axis=0)
        print(f"{s:>8.2f} {mean[0]:>7.3f} {mean[1]:>10.3f} {mean[2]:>7.3f} {mean[3]:>7.3f}")
    print(f"({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
