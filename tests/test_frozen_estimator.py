"""A fitted net wrapped in sklearn.frozen.FrozenEstimator -- scikit-learn's way to keep it fitted
through clone, so that a prefit estimator can go into cross_val_score or GridSearchCV -- gives
what the net itself gives with prefit=True, and is never modified.

The wrapper forwards reads to the net but keeps attributes set on it, and its fit does
nothing: pruning it used to prune the user's own net in place (prefit=False), fine-tuning
ignored the masks, and the recall and fine-tuned curves measured the dense net."""

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold, cross_val_score
from torch import nn

from sparselimit import (
    GlobalOneShotPruner,
    HessianSpectrum,
    IterativePruner,
    L1RegularizedClassifier,
    PruningLimitEstimator,
    measure_pruning_curve,
)
from sparselimit.blocks import BlockSparsifier
from sparselimit.metrics._recall import recall_distortion_curve


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(160, 6).astype(np.float32)
    y = ((X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2]) > 0).astype(np.int64)
    return X, y


@pytest.fixture
def net(data):
    X, y = data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return L1RegularizedClassifier(
            nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2)),
            criterion=nn.CrossEntropyLoss,
            l1_alpha=1e-3,
            lr=0.1,
            max_epochs=5,
            batch_size=32,
            iterator_train__shuffle=True,
            train_split=None,
            verbose=0,
        ).fit(X, y)


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("prefit", [True, False])
def test_pruner_prunes_a_copy_of_the_frozen_net_as_with_prefit(prefit, net, data):
    X, y = data
    before = state(net.module_)
    params = dict(sparsity=0.6, fine_tune_epochs=2, random_state=0)
    frozen = GlobalOneShotPruner(FrozenEstimator(net), prefit=prefit, **params).fit(X, y)
    reference = GlobalOneShotPruner(net, prefit=True, **params).fit(X, y)
    assert_same_state(net.module_.state_dict(), before)  # the user's net is left alone
    assert type(frozen.estimator_) is L1RegularizedClassifier
    assert_same_state(
        frozen.estimator_.module_.state_dict(), reference.estimator_.module_.state_dict()
    )
    # the masks held through the fine-tuning: the pruned weights are exact zeros
    for name, p in frozen.estimator_.module_.named_parameters():
        if name in frozen.masks_:
            assert bool((p.detach()[~frozen.masks_[name]] == 0).all()), name


def test_prefit_pruner_goes_into_cross_val_score_through_frozen_estimator(net, data):
    X, y = data
    cv = KFold(2)
    with pytest.raises(NotFittedError, match="FrozenEstimator"):  # the error names the fix
        cross_val_score(
            GlobalOneShotPruner(net, prefit=True, sparsity=0.6), X, y, cv=cv, error_score="raise"
        )
    scores = cross_val_score(GlobalOneShotPruner(FrozenEstimator(net), sparsity=0.6), X, y, cv=cv)
    expected = [
        GlobalOneShotPruner(net, prefit=True, sparsity=0.6)
        .fit(X[train], y[train])
        .score(X[test], y[test])
        for train, test in cv.split(X)
    ]
    np.testing.assert_array_equal(scores, expected)


def test_limit_and_spectrum_of_a_frozen_net_are_those_of_the_net(net, data):
    X, y = data
    kw = dict(n_lanczos_steps=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # regime warnings of the tiny net
        frozen = PruningLimitEstimator(FrozenEstimator(net), **kw).fit(X, y)
        reference = PruningLimitEstimator(net, prefit=True, **kw).fit(X, y)
    assert type(frozen.estimator_) is L1RegularizedClassifier
    assert frozen.pruning_limit_ == reference.pruning_limit_
    spec = HessianSpectrum(FrozenEstimator(net), **kw).fit(X, y)
    ref_spec = HessianSpectrum(net, prefit=True, **kw).fit(X, y)
    assert spec.estimator_ is net
    np.testing.assert_array_equal(spec.spectrum_.nodes, ref_spec.spectrum_.nodes)


def test_curves_of_a_frozen_net_are_those_of_the_net(net, data):
    X, y = data
    before = state(net.module_)
    kw = dict(sparsities=[0.0, 0.9], fine_tune_epochs=2, X_fine_tune=X, y_fine_tune=y)
    curve = measure_pruning_curve(FrozenEstimator(net), X, y, random_state=0, **kw)
    reference = measure_pruning_curve(net, X, y, random_state=0, **kw)
    np.testing.assert_array_equal(curve.losses, reference.losses)
    recall = recall_distortion_curve(FrozenEstimator(net), X, y, [0.95])
    ref_recall = recall_distortion_curve(net, X, y, [0.95])
    np.testing.assert_array_equal(recall.accuracy, ref_recall.accuracy)
    assert recall.accuracy[0] < recall.accuracy_dense  # the pruned net was measured
    assert_same_state(net.module_.state_dict(), before)


@pytest.mark.parametrize(
    "make",
    [
        lambda f: IterativePruner(f, n_rounds=1, verbose=0),
        lambda f: BlockSparsifier(f, sparsity=0.5, block_size=2),
    ],
    ids=["iterative", "blocks"],
)
def test_pruners_that_train_from_init_refuse_a_frozen_net(make, net, data):
    X, y = data
    before = copy.deepcopy(state(net.module_))
    with pytest.raises(TypeError, match="FrozenEstimator, whose fit does nothing"):
        make(FrozenEstimator(net)).fit(X, y)
    assert_same_state(net.module_.state_dict(), before)
