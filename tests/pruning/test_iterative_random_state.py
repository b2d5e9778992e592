"""IterativePruner(random_state=...): reproducible fits that leave torch's global RNG alone."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.pruning import IterativePruner
from sparselimit.training import MLP


def _data(n=96, d=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _net():
    # a module *class*: every initialize() draws fresh weights, and shuffled batches, so the
    # fit has both sources of randomness the seed must control
    return NeuralNetClassifier(
        MLP,
        module__n_features=8,
        module__n_outputs=2,
        module__hidden=(16,),
        criterion=nn.CrossEntropyLoss,
        lr=0.1,
        optimizer__weight_decay=1e-3,
        batch_size=16,
        iterator_train__shuffle=True,
        max_epochs=2,
        train_split=None,
        verbose=0,
    )


def _fit(random_state, importance="magnitude", schedule="fixed"):
    X, y = _data()
    pruner = IterativePruner(
        _net(),
        schedule=schedule,
        n_rounds=2,
        importance=importance,
        verbose=0,
        random_state=random_state,
    )
    return pruner.fit(X, y)


def _weights(pruner):
    return {k: v.detach().clone() for k, v in pruner.estimator_.module_.state_dict().items()}


@pytest.mark.parametrize("importance", ["magnitude", "undecayed"])
def test_same_seed_gives_identical_fits_whatever_the_global_rng(importance):
    torch.manual_seed(1)
    a = _fit(0, importance)
    torch.manual_seed(12345)  # a different global state must not matter
    torch.rand(7)
    b = _fit(0, importance)
    assert a.masks_.keys() == b.masks_.keys()
    for k in a.masks_:
        assert torch.equal(a.masks_[k], b.masks_[k]), k
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    for k in a.initial_weights_:
        assert torch.equal(a.initial_weights_[k], b.initial_weights_[k]), k
    assert [h["score"] for h in a.history_] == [h["score"] for h in b.history_]


def test_different_seeds_give_different_weights():
    a, b = _fit(0), _fit(1)
    assert a.initial_weights_.keys() == b.initial_weights_.keys()
    for k in a.initial_weights_:  # different initializations
        assert not torch.equal(a.initial_weights_[k], b.initial_weights_[k]), k
    wa, wb = _weights(a), _weights(b)
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(a.masks_[k], b.masks_[k]) for k in a.masks_)


@pytest.mark.parametrize("importance", ["magnitude", "undecayed"])
def test_fit_with_random_state_leaves_the_global_rng_where_it_was(importance):
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    _fit(0, importance)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_random_state_none_keeps_using_the_global_rng():
    # None is today's behaviour: training draws from (and advances) the global RNG, so
    # torch.manual_seed still reproduces a run
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    a = _fit(None)
    assert not torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(5)
    b = _fit(None)
    for k in a.masks_:
        assert torch.equal(a.masks_[k], b.masks_[k])


def test_random_state_instance_and_bad_value():
    a = _fit(np.random.RandomState(0))
    b = _fit(np.random.RandomState(0))
    for k in a.masks_:
        assert torch.equal(a.masks_[k], b.masks_[k])
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="random_state"):
        IterativePruner(_net(), random_state="zero").fit(X, y)


def test_clone_and_get_params_carry_random_state_and_the_net_is_untouched():
    net = _net()
    pruner = IterativePruner(net, n_rounds=1, verbose=0, random_state=7)
    assert pruner.get_params()["random_state"] == 7
    assert IterativePruner().get_params()["random_state"] is None
    twin = clone(pruner)
    assert twin.get_params()["random_state"] == 7
    X, y = _data()
    fitted = pruner.fit(X, y)
    refit = twin.fit(X, y)
    for k in fitted.masks_:
        assert torch.equal(fitted.masks_[k], refit.masks_[k])
    assert not hasattr(net, "module_")  # a clone was fitted, not the user's net
