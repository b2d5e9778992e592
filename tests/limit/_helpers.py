"""Tiny L1 nets and data for the limit tests."""

import numpy as np
import torch
from torch import nn

from sparselimit import L1RegularizedClassifier


def make_data(n=256, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    y = ((X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2]) > 0).astype(np.int64)
    return X, y


def make_net(l1_alpha=1e-3, max_epochs=30, hidden=16, d=6, seed=0, **kw):
    # the module instance is initialised here, so seed here: otherwise its weights depend on
    # whatever ran before in the same process and the tests' tolerances become flaky
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    return L1RegularizedClassifier(
        module,
        criterion=nn.CrossEntropyLoss,
        l1_alpha=l1_alpha,
        lr=0.1,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        max_epochs=max_epochs,
        batch_size=32,
        train_split=None,
        verbose=0,
        **kw,
    )


def fit_seeded(net, X, y, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return net.fit(X, y)
