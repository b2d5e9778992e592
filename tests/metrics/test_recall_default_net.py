"""Recall distortion of a GlobalOneShotPruner that trained its default net: the pruned copies
predict through the pruner, so they answer in the user's labels, not the net's class codes."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from sparselimit import GlobalOneShotPruner
from sparselimit.metrics import recall_distortion_curve


@pytest.mark.parametrize("kind", ["strings", "ints_from_1"])
def test_curve_on_default_net_pruner_uses_the_users_labels(kind):
    iris = load_iris()
    X = StandardScaler().fit_transform(iris.data)
    y = iris.target_names[iris.target] if kind == "strings" else iris.target + 1
    dense = GlobalOneShotPruner(sparsity=0.0, random_state=0).fit(X, y)
    curve = recall_distortion_curve(dense, X, y, [0.0, 0.5])
    assert curve.accuracy[0] == pytest.approx(dense.score(X, y))
    assert curve.accuracy[0] > 0.9
    # reference: the same default net (same seed), pruned to 0.5 by the pruner itself
    half = GlobalOneShotPruner(sparsity=0.5, random_state=0).fit(X, y)
    assert curve.accuracy[1] == pytest.approx(half.score(X, y))
    assert np.isfinite(curve.alpha).all()
