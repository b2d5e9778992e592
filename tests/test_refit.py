"""Refitting a fitted estimator with other parameters or data leaves no fitted attribute of the
earlier fit behind (scikit-learn's contract: ``fit`` starts afresh)."""

import warnings

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit import GlobalOneShotPruner, IterativePruner, PruningLimitEstimator


class SmallConv(nn.Module):
    """Takes images of shape (1, 6, 6): no feature count."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2 * 4 * 4, 2)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).flatten(1))


def conv_net():
    return NeuralNetClassifier(
        SmallConv, criterion=nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0
    )


def mlp_net():
    return NeuralNetClassifier(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(48, 4).astype(np.float32)
    images = rng.randn(48, 1, 6, 6).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    return X, images, y


ESTIMATORS = {
    "one_shot": lambda net: GlobalOneShotPruner(net, sparsity=0.5, random_state=0),
    "iterative": lambda net: IterativePruner(net, n_rounds=1, verbose=0, random_state=0),
    "limit": lambda net: PruningLimitEstimator(net, n_lanczos_steps=4, epsilon=0.1, random_state=0),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_refit_on_images_drops_the_feature_count_of_tabular_data(name, data):
    X, images, y = data
    est = ESTIMATORS[name](mlp_net())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime warnings of the tiny net
        est.fit(X, y)
        assert est.n_features_in_ == 4
        est.set_params(estimator=conv_net()).fit(images, y)
    assert not hasattr(est, "n_features_in_")  # images have no feature count


def test_refit_with_a_float_sparsity_drops_the_auto_limit_estimator(data):
    X, _, y = data
    pruner = GlobalOneShotPruner(
        mlp_net(), sparsity="auto", limit_params={"n_lanczos_steps": 4}, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner.fit(X, y)
    assert pruner.limit_estimator_.pruning_limit_ == pruner.target_sparsity_
    pruner.set_params(sparsity=0.3).fit(X, y)
    assert pruner.target_sparsity_ == 0.3
    assert not hasattr(pruner, "limit_estimator_")  # documented: only with sparsity="auto"
