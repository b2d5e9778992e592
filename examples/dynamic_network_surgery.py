"""Dynamic Network Surgery on digits, against one-shot L1 pruning at the same sparsity.

``DynamicNetworkSurgery`` is a skorch callback: it prunes while the network trains, with
per-layer thresholds ``theta = mean|w| + c * std|w|`` fixed at the start, and lets pruned
weights come back ("splicing") when their (still updated) dense value grows past ``1.1 theta``.
Larger ``c`` prunes more. As in the paper, surgery starts from a trained network: the script
trains a dense net, then, for each ``c``, trains a copy of it on with the callback (the
thresholds come from the trained weights). It prints the sparsity and test accuracy, the
layer-wise sparsity, and the test accuracy of one-shot L1 magnitude pruning (an L1-trained net
pruned with ``GlobalOneShotPruner``) at the same sparsity, and counts the weights that were
pruned at some point and came back.

Run: ``python examples/dynamic_network_surgery.py`` (``SPARSELIMIT_QUICK=1`` for a quick run).
"""

import copy
import os

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.datasets import load_task
from sparselimit.pruning import GlobalOneShotPruner
from sparselimit.training import MLP, DynamicNetworkSurgery

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"
EPOCHS = 4 if QUICK else 60
CS = (0.0, 1.0) if QUICK else (0.0, 1.0, 2.0, 3.0, 4.0)


class SpliceCounter(Callback):
    """Counts weights that were off after some surgery and on at the end (spliced back)."""

    def __init__(self, dns):
        self.dns = dns

    def on_train_begin(self, net, **kwargs):
        self.ever_off_ = None

    def on_batch_end(self, net, training=None, **kwargs):
        if training:
            off = {n: ~m for n, m in self.dns.device_masks_.items()}
            if self.ever_off_ is None:
                self.ever_off_ = off
            else:
                self.ever_off_ = {n: self.ever_off_[n] | off[n] for n in off}

    def n_spliced(self):
        return sum(int((self.ever_off_[n] & self.dns.masks_[n]).sum()) for n in self.ever_off_)


def make_net(cls=NeuralNetClassifier, **kwargs):
    params = dict(
        module=MLP,
        module__n_features=64,
        module__n_outputs=10,
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


def main():
    task = load_task("digits")
    X, y = task.X_train, task.y_train

    torch.manual_seed(0)
    dense = make_net().fit(X, y)
    dense_acc = float(np.mean(dense.predict(task.X_test) == task.y_test))
    torch.manual_seed(0)
    l1_net = make_net(L1RegularizedClassifier, l1_alpha=1e-4).fit(X, y)
    print(f"dense test accuracy: {dense_acc:.3f}")
    print(
        f"{'c':>4} {'sparsity':>8} {'test acc':>8} {'L1 one-shot acc':>16} {'spliced':>8}  "
        "layer sparsity"
    )
    for c in CS:
        dns = DynamicNetworkSurgery(c=c, random_state=0)
        counter = SpliceCounter(dns)
        net = copy.deepcopy(dense)
        net.callbacks = [("dns", dns), ("splice", counter)]
        net.initialize_callbacks()
        net.partial_fit(X, y)  # continues from the trained weights: surgery starts from them
        acc = float(np.mean(net.predict(task.X_test) == task.y_test))
        sparsity = min(round(dns.sparsity_, 6), 0.999999)
        one_shot = GlobalOneShotPruner(l1_net, sparsity=sparsity, prefit=True)
        l1_acc = one_shot.fit(X, y).score(task.X_test, task.y_test)
        layers = " ".join(f"{1 - float(m.float().mean()):.2f}" for m in dns.masks_.values())
        print(
            f"{c:>4g} {dns.sparsity_:>8.3f} {acc:>8.3f} {l1_acc:>16.3f} "
            f"{counter.n_spliced():>8}  {layers}"
        )
        # the net holds the masked weights w * T
        weights = dict(net.module_.named_parameters())
        assert all(bool((weights[n].detach()[~m] == 0).all()) for n, m in dns.masks_.items())


if __name__ == "__main__":
    main()
