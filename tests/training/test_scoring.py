import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier
from torch import nn

from sparselimit.metrics import PQIndex, achieved_sparsity, pq_index
from sparselimit.training import MaskEnforcer, PQIndexScoring, SparsityScoring


def mlp():
    return nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def make_net(callbacks, **kw):
    params = dict(max_epochs=3, lr=0.1, train_split=None, verbose=0, callbacks=callbacks)
    params.update(kw)
    return NeuralNetClassifier(mlp, **params)


class Snapshot(PQIndexScoring):
    """Also keeps the weights each epoch ended with, to recompute the values independently."""

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        self.weights_ = getattr(self, "weights_", []) + [
            [net.module_[0].weight.detach().clone(), net.module_[2].weight.detach().clone()]
        ]


def test_records_pq_index_and_sparsity_every_epoch(digits_small):
    X, y = digits_small
    snap = Snapshot(name="pqi_check", p=1.0, q=2.0)
    net = make_net([PQIndexScoring(), snap, SparsityScoring()]).fit(X, y)
    pqi = net.history[:, "pq_index"]
    assert len(pqi) == 3 and len(net.history[:, "sparsity"]) == 3
    for epoch, (w0, w1) in enumerate(snap.weights_):
        pooled = torch.cat([w0.ravel(), w1.ravel()])
        assert pqi[epoch] == pytest.approx(pq_index(pooled), abs=1e-12)
        assert net.history[epoch, "pqi_check"] == pytest.approx(pq_index(pooled, 1.0, 2.0))
        assert net.history[epoch, "sparsity"] == 0.0  # plain SGD makes no exact zeros
    assert pqi[-1] == PQIndex().score(net)
    assert len(set(pqi)) == 3  # it is recomputed, not cached


def test_layer_scope_and_selection(digits_small):
    X, y = digits_small
    net = make_net(
        [PQIndexScoring(scope="layer", exclude=r"^2\."), SparsityScoring(include=r"bias")],
        max_epochs=1,
    ).fit(X, y)
    assert net.history[-1, "pq_index"] == PQIndex().score(net.module_[0].weight)
    assert net.history[-1, "sparsity"] == achieved_sparsity(net, include="bias")


def test_masks_of_a_mask_enforcer_are_respected(digits_small):
    X, y = digits_small
    keep = torch.rand(16, 64, generator=torch.Generator().manual_seed(0)) > 0.7
    masks = {"0.weight": keep}
    net = make_net([MaskEnforcer(masks), PQIndexScoring(), SparsityScoring()]).fit(X, y)
    w0, w1 = net.module_[0].weight.detach(), net.module_[2].weight.detach()
    kept = torch.cat([w0[keep], w1.ravel()])
    assert net.history[-1, "pq_index"] == pytest.approx(pq_index(kept), abs=1e-12)
    assert net.history[-1, "pq_index"] == PQIndex().score(net)
    n_zero = int((w0 == 0).sum() + (w1 == 0).sum())
    assert net.history[-1, "sparsity"] == n_zero / (16 * 64 + 160)
    assert net.history[-1, "sparsity"] >= (~keep).sum().item() / (16 * 64 + 160)


def test_masks_attribute_of_the_net_wins(digits_small):
    X, y = digits_small
    net = make_net([PQIndexScoring()], max_epochs=1).initialize()
    keep = torch.zeros(16, 64, dtype=torch.bool)
    keep[:, :8] = True
    net.masks_ = {"0.weight": keep}
    net.partial_fit(X, y)
    w0, w1 = net.module_[0].weight.detach(), net.module_[2].weight.detach()
    expected = pq_index(torch.cat([w0[:, :8].ravel(), w1.ravel()]))
    assert net.history[-1, "pq_index"] == pytest.approx(expected, abs=1e-12)


def test_undefined_index_is_recorded_as_nan(digits_small):
    X, y = digits_small
    net = make_net([PQIndexScoring()], max_epochs=1, lr=0.0).initialize()
    with torch.no_grad():
        net.module_[0].weight.zero_()
        net.module_[2].weight.zero_()
    net.partial_fit(X, y)
    assert math.isnan(net.history[-1, "pq_index"])


@pytest.mark.parametrize(
    "callback, exc, match",
    [
        (PQIndexScoring(p=1.0, q=0.5), ValueError, r"p < q; got p=1.0 and q=0.5"),
        (PQIndexScoring(scope="filter"), ValueError, "scope"),
        (PQIndexScoring(name=""), TypeError, "`name` must be a non-empty string"),
        (SparsityScoring(name=None), TypeError, "`name` must be a non-empty string"),
    ],
)
def test_bad_parameters_fail_when_the_net_initializes(callback, exc, match):
    net = make_net([callback])
    with pytest.raises(exc, match=match):
        net.initialize()


def test_clone_and_set_params_through_the_net(digits_small):
    X, y = digits_small
    net = make_net([("pqi", PQIndexScoring())], max_epochs=1)
    net.set_params(callbacks__pqi__p=1.0, callbacks__pqi__q=2.0)
    fitted = clone(net).fit(X, y)
    assert fitted.history[-1, "pq_index"] == PQIndex(p=1.0, q=2.0).score(fitted)
    assert PQIndexScoring(p=1.0).get_params() == {
        "p": 1.0,
        "q": 1.0,
        "scope": "global",
        "name": "pq_index",
        "include": None,
        "exclude": None,
    }
    assert np.isfinite(fitted.history[-1, "pq_index"])


def test_set_params_on_a_fitted_net_applies_to_the_next_epochs(digits_small):
    # skorch's set_params sets a callback's parameters without initializing it again: the
    # next partial_fit must record the index under the new exponents and scope
    X, y = digits_small
    net = make_net([("pqi", PQIndexScoring())], max_epochs=1).fit(X, y)
    net.set_params(callbacks__pqi__p=1.0, callbacks__pqi__q=2.0, callbacks__pqi__scope="layer")
    net.partial_fit(X, y)
    w0, w1 = net.module_[0].weight, net.module_[2].weight
    expected = np.mean([pq_index(w0, 1.0, 2.0), pq_index(w1, 1.0, 2.0)])
    assert net.history[-1, "pq_index"] == pytest.approx(expected, abs=1e-12)


def test_sparsity_scoring_follows_the_nets_prunable_selection():
    import numpy as np
    import torch
    from torch import nn

    from sparselimit import L1RegularizedClassifier
    from sparselimit.training import SparsityScoring

    class HalfZero(nn.Module):  # the second layer's weights are all zero
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 3)
            self.head = nn.Linear(3, 2)
            nn.init.zeros_(self.head.weight)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)))

    X = np.random.RandomState(0).randn(20, 4).astype(np.float32)
    y = np.arange(20) % 2
    net = L1RegularizedClassifier(
        HalfZero, criterion=nn.CrossEntropyLoss, lr=0.0, max_epochs=1, train_split=None,
        verbose=0, prunable_include=r"^body\.weight$", callbacks=[SparsityScoring()],
    ).fit(X, y)  # fmt: skip
    assert net.history[-1, "sparsity"] == 0.0  # body only; head's 6 zeros are not counted
    count_all = SparsityScoring(include=r"weight$")
    net.set_params(callbacks=[count_all]).fit(X, y)
    assert net.history[-1, "sparsity"] == pytest.approx(6 / 18)
