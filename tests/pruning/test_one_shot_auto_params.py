"""GlobalOneShotPruner(sparsity="auto"): the limit is predicted for the weights the pruner
prunes, its limit estimator knows the user's labels, and bad limit_params fail before training."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from torch import nn

from sparselimit import GlobalOneShotPruner, L1RegularizedClassifier, measure_pruning_curve
from sparselimit.training import MLP

LIMIT = {"spectrum": "exact"}


def _iris():
    iris = load_iris()
    return StandardScaler().fit_transform(iris.data).astype(np.float32), iris


def test_auto_predicts_for_the_pruned_weights_only():
    X, iris = _iris()
    net = L1RegularizedClassifier(
        MLP, module__n_features=4, module__n_outputs=3, module__hidden=(8,),
        criterion=nn.CrossEntropyLoss, max_epochs=20, lr=0.05, train_split=None, verbose=0,
    )  # fmt: skip
    pruner = GlobalOneShotPruner(
        net, sparsity="auto", include=r"layers\.0\.weight", limit_params=LIMIT, random_state=0
    ).fit(X, iris.target)
    assert list(pruner.masks_) == ["layers.0.weight"]
    assert pruner.limit_estimator_.param_names_ == ["layers.0.weight"]
    assert pruner.limit_estimator_.n_params_ == 4 * 8


def test_auto_limit_estimator_measures_on_the_users_labels():
    X, iris = _iris()
    labels = iris.target_names[iris.target]
    pruner = GlobalOneShotPruner(sparsity="auto", limit_params=LIMIT, random_state=0)
    pruner.fit(X, labels)
    np.testing.assert_array_equal(pruner.limit_estimator_.classes_, iris.target_names)
    curve = measure_pruning_curve(pruner.limit_estimator_, X, labels, sparsities=[0.0])
    assert curve.scores[0] == pytest.approx(
        GlobalOneShotPruner(sparsity=0.0, random_state=0).fit(X, labels).score(X, labels)
    )


class _Untrainable(nn.Module):  # training it raises: the checks must come first
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        raise RuntimeError("trained before checking limit_params")


@pytest.mark.parametrize(
    "limit_params, match",
    [
        ({"n_probe": 2}, r"keys \['n_probe'\].*valid keys.*n_probes"),
        ({"include": "fc"}, r"sets \['include'\].*on GlobalOneShotPruner itself"),
    ],
)
def test_bad_limit_params_fail_before_training(limit_params, match):
    X, iris = _iris()
    net = L1RegularizedClassifier(
        _Untrainable, criterion=nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0
    )
    pruner = GlobalOneShotPruner(net, sparsity="auto", limit_params=limit_params)
    with pytest.raises(ValueError, match=match):
        pruner.fit(X, iris.target)
