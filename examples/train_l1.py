"""Train the same network with and without an L1 penalty and compare how prunable it is.

Run: ``python examples/train_l1.py`` (``SPARSELIMIT_QUICK=1`` for a few-second run).
"""

import os

import numpy as np
import torch
from torch import nn

from sparselimit import L1RegularizedClassifier
from sparselimit.datasets import load_task
from sparselimit.training import MLP

QUICK = os.environ.get("SPARSELIMIT_QUICK") == "1"


def main():
    task = load_task("digits")
    print(f"{'l1_alpha':>9} {'test acc':>9} {'|w| < 1e-3':>11}")
    for alpha in (0.0, 1e-4, 1e-3):
        torch.manual_seed(0)
        net = L1RegularizedClassifier(
            MLP,
            module__n_features=task.n_features,
            module__n_outputs=task.n_classes,
            criterion=nn.CrossEntropyLoss,
            l1_alpha=alpha,
            lr=0.05,
            optimizer__momentum=0.9,
            max_epochs=3 if QUICK else 40,
            train_split=None,
            verbose=0,
        ).fit(task.X_train, task.y_train)
        weights = torch.cat([p.detach().flatten() for p in net.prunable_parameters()])
        small = float((weights.abs() < 1e-3).float().mean())
        acc = float(np.mean(net.predict(task.X_test) == task.y_test))
        print(f"{alpha:>9.0e} {acc:>9.3f} {small:>11.3f}")


if __name__ == "__main__":
    main()
