"""BlockSparsifier(random_state=...): reproducible fits that leave torch's global RNG alone."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.blocks import BlockSparsifier
from sparselimit.training import MLP

SCHED = dict(dense_epochs=1, sparsify_epochs=1, sparse_epochs=1, finetune_epochs=1)


def _data(n=96, d=16, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    y = (X[:, :4].sum(axis=1) > 0).astype(np.int64)
    return X, y


def _net():
    # a module *class* (fresh weights at every initialize) and shuffled batches
    return NeuralNetClassifier(
        MLP,
        module__n_features=16,
        module__n_outputs=2,
        module__hidden=(16,),
        criterion=nn.CrossEntropyLoss,
        lr=0.1,
        batch_size=16,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )


def _fit(random_state):
    X, y = _data()
    sp = BlockSparsifier(
        _net(), sparsity=0.5, block_size=2, min_blocks=20, random_state=random_state, **SCHED
    )
    return sp.fit(X, y)


def _weights(sp):
    return {k: v.detach().clone() for k, v in sp.estimator_.module_.state_dict().items()}


def test_same_seed_gives_identical_fits_whatever_the_global_rng():
    torch.manual_seed(1)
    a = _fit(0)
    torch.manual_seed(12345)
    torch.rand(7)
    b = _fit(0)
    assert list(a.masks_) == list(b.masks_) and a.masks_
    for k in a.masks_:
        assert torch.equal(a.masks_[k], b.masks_[k]), k
        assert torch.equal(a.block_masks_[k], b.block_masks_[k]), k
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_different_seeds_give_different_weights():
    wa, wb = _weights(_fit(0)), _weights(_fit(1))
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)


def test_fit_with_random_state_leaves_the_global_rng_where_it_was():
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    _fit(0)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_random_state_none_keeps_using_the_global_rng():
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    a = _fit(None)
    assert not torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(5)
    b = _fit(None)
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_random_state_instance_and_bad_value():
    wa, wb = _weights(_fit(np.random.RandomState(0))), _weights(_fit(np.random.RandomState(0)))
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="random_state"):
        BlockSparsifier(_net(), random_state=1.5).fit(X, y)


def test_clone_and_get_params_carry_random_state_and_the_net_is_untouched():
    net = _net()
    sp = BlockSparsifier(net, sparsity=0.5, block_size=2, min_blocks=20, random_state=7, **SCHED)
    assert sp.get_params()["random_state"] == 7
    assert BlockSparsifier().get_params()["random_state"] is None
    twin = clone(sp)
    assert twin.get_params()["random_state"] == 7
    X, y = _data()
    wa, wb = _weights(sp.fit(X, y)), _weights(twin.fit(X, y))
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert not hasattr(net, "module_") and net.callbacks is None  # a clone was fitted
