"""scikit-learn's contract for every public estimator of sparselimit, with a user's net."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils import get_tags
from skorch import NeuralNetRegressor
from torch import nn

from sparselimit import (
    GlobalOneShotPruner,
    HessianSpectrum,
    IterativePruner,
    L1RegularizedClassifier,
    L1RegularizedRegressor,
    PruningLimitEstimator,
)
from sparselimit.blocks import BlockSparsifier

_FIT = dict(max_epochs=2, lr=0.05, train_split=None, verbose=0, batch_size=64)


_QUICK_BLOCKS = dict(
    block_size=(1, 2),
    min_blocks=1,
    sparsity=0.5,
    dense_epochs=1,
    sparsify_epochs=1,
    sparse_epochs=1,
    finetune_epochs=1,
)
_AROUND_A_NET = {  # how each estimator takes a net
    "net": lambda net: net,
    "one-shot": lambda net: GlobalOneShotPruner(net),
    "iterative": lambda net: IterativePruner(net, n_rounds=1, verbose=0),
    "blocks": lambda net: BlockSparsifier(net, **_QUICK_BLOCKS),
    "spectrum": lambda net: HessianSpectrum(net),
    "limit": lambda net: PruningLimitEstimator(net),
}


@pytest.mark.parametrize("wrap", _AROUND_A_NET.values(), ids=_AROUND_A_NET)
def test_the_sparse_tag_says_what_the_net_takes(wrap):
    # the L1 nets take every scipy.sparse format, and the estimators around a net pass X on
    # to it: their tags said "no sparse input" while it worked (check_estimator_sparse_tag)
    X = sp.random(30, 4, density=0.5, format="coo", random_state=0, dtype=np.float32)
    y = np.arange(30, dtype=np.float32) / 30
    l1 = L1RegularizedRegressor(nn.Linear(4, 1), l1_alpha=0.0, **_FIT)  # 0: for the blocks
    plain = NeuralNetRegressor(nn.Linear(4, 1), **_FIT)
    assert get_tags(wrap(l1)).input_tags.sparse
    assert not get_tags(wrap(plain)).input_tags.sparse  # skorch's own tag
    if not isinstance(wrap(l1), (HessianSpectrum, PruningLimitEstimator)):  # no predict
        est = wrap(l1).fit(X, y)
        assert est.predict(X).shape == (30, 1)


def test_a_classifier_net_is_tagged_for_sparse_input_too():
    net = L1RegularizedClassifier(nn.Linear(4, 2), criterion=nn.CrossEntropyLoss, **_FIT)
    assert get_tags(net).input_tags.sparse and get_tags(IterativePruner(net)).input_tags.sparse
