"""DynamicNetworkSurgery (ALGORITHMS.md section 5): thresholds, hysteresis, splicing, RNG."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from torch import nn

from sparselimit.training._dns import DynamicNetworkSurgery, dns_thresholds, dns_update_mask
from sparselimit.utils import make_generator

W_EXAMPLE = torch.tensor([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, -1.0])
MASK_EXAMPLE = [False] * 4 + [True] * 6


def _linear_net(weight, dns, *, lr=0.0, max_epochs=1, batch_size=16, **kwargs):
    """A bias-free Linear(d, 1) regressor whose weight is set to ``weight`` before training."""
    net = NeuralNetRegressor(
        nn.Linear(weight.numel(), 1, bias=False),
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=None,
        verbose=0,
        callbacks=[("dns", dns)],
        iterator_train__shuffle=False,
        **kwargs,
    )
    net.initialize()
    with torch.no_grad():
        net.module_.weight.copy_(weight.reshape(1, -1))
    return net


def test_threshold_example():
    t = dns_thresholds(W_EXAMPLE, c=0.0)
    assert t["mean"] == pytest.approx(0.55)
    assert t["std"] == pytest.approx(0.287228, abs=1e-6)  # population std
    assert t["theta"] == pytest.approx(0.55)
    assert (t["low"], t["high"]) == (pytest.approx(0.495), pytest.approx(0.605))
    mask = dns_update_mask(W_EXAMPLE, torch.ones(10, dtype=torch.bool), t["low"], t["high"])
    assert mask.tolist() == MASK_EXAMPLE
    # c shifts theta by c * sigma and theta is clipped at 0
    assert dns_thresholds(W_EXAMPLE, c=1.0)["theta"] == pytest.approx(0.55 + 0.287228, abs=1e-6)
    assert dns_thresholds(W_EXAMPLE, c=-5.0)["theta"] == 0.0


def test_hysteresis_keeps_the_band_unchanged():
    w = torch.tensor([0.40, 0.50, 0.60, 0.70])
    low, high = 0.495, 0.605
    on = dns_update_mask(w, torch.ones(4, dtype=torch.bool), low, high)
    off = dns_update_mask(w, torch.zeros(4, dtype=torch.bool), low, high)
    assert on.tolist() == [False, True, True, True]
    assert off.tolist() == [False, False, False, True]
    # boundaries: |w| <= a is pruned, |w| > b is spliced, b itself is in the band
    edge = dns_update_mask(torch.tensor([0.5, 0.6]), torch.tensor([True, False]), 0.5, 0.6)
    assert edge.tolist() == [False, False]


def test_callback_reproduces_the_mask_example():
    X = np.random.RandomState(0).randn(16, 10).astype(np.float32)
    y = np.zeros((16, 1), dtype=np.float32)
    dns = DynamicNetworkSurgery(c=0.0, random_state=0)
    net = _linear_net(W_EXAMPLE, dns)
    net.partial_fit(X, y)
    t = dns.thresholds_["weight"]
    assert t["mean"] == pytest.approx(0.55)
    assert t["std"] == pytest.approx(0.287228, abs=1e-6)
    assert dns.masks_["weight"].reshape(-1).tolist() == MASK_EXAMPLE
    assert dns.masks_["weight"].dtype == torch.bool and dns.masks_["weight"].device.type == "cpu"
    # at the end the net holds the masked weights w * T
    expected = W_EXAMPLE * torch.tensor(MASK_EXAMPLE)
    assert torch.equal(net.module_.weight.detach().reshape(-1), expected)
    assert dns.sparsity_ == pytest.approx(0.4)
    assert dns.n_iter_ == 1 and dns.n_surgeries_ == 1  # the first iteration always operates


class PeekDense(Callback):
    """Copies the callback's dense weights and the masks after every training batch."""

    def __init__(self, dns):
        self.dns = dns

    def on_train_begin(self, net, **kwargs):
        self.dense_ = []
        self.masks_ = []

    def on_batch_end(self, net, training=None, **kwargs):
        if training:
            self.dense_.append(self.dns.dense_weights_["weight"].clone())
            self.masks_.append(self.dns.device_masks_["weight"].clone())


def test_straight_through_gradient_updates_masked_weights():
    # one SGD step: every dense weight moves by -lr * dL/d(w*T), computed at the masked point
    rng = np.random.RandomState(0)
    X = rng.randn(16, 10).astype(np.float32)
    y = rng.randn(16, 1).astype(np.float32)
    dns = DynamicNetworkSurgery(random_state=0)
    lr = 0.1
    net = _linear_net(W_EXAMPLE, dns, lr=lr)
    peek = PeekDense(dns)
    net.set_params(callbacks=[("dns", dns), ("peek", peek)])
    net.initialize_callbacks()
    net.partial_fit(X, y)
    mask = torch.tensor(MASK_EXAMPLE)
    w_masked = (W_EXAMPLE * mask).double().numpy()
    residual = X.astype(np.float64) @ w_masked - y[:, 0]
    grad = 2.0 * X.T.astype(np.float64) @ residual / len(X)  # MSELoss, mean reduction
    expected = W_EXAMPLE.double().numpy() - lr * grad
    dense = peek.dense_[0].reshape(-1).double().numpy()
    np.testing.assert_allclose(dense, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(dense[:4], W_EXAMPLE.numpy()[:4])  # pruned weights kept learning


def test_a_pruned_weight_pushed_above_b_comes_back():
    # Only feature 0 is active and the target is large, so the (masked) weight 0 gets a large
    # gradient at w * T = 0 and grows until it passes b = 0.605; surgery at every iteration.
    X = np.zeros((8, 10), dtype=np.float32)
    X[:, 0] = 1.0
    y = np.full((8, 1), 5.0, dtype=np.float32)
    dns = DynamicNetworkSurgery(gamma=0.0, power=0.0, random_state=0)
    net = _linear_net(W_EXAMPLE, dns, lr=0.05, max_epochs=10, batch_size=8)
    peek = PeekDense(dns)
    net.set_params(callbacks=[("dns", dns), ("peek", peek)])
    net.initialize_callbacks()
    net.partial_fit(X, y)
    first = peek.masks_[0].reshape(-1)
    assert first.tolist() == MASK_EXAMPLE  # pruned at the first surgery
    came_back = [bool(m.reshape(-1)[0]) for m in peek.masks_]
    assert came_back[0] is False and came_back[-1] is True
    assert dns.masks_["weight"].reshape(-1)[0]
    assert dns.masks_["weight"].reshape(-1)[1:4].tolist() == [False] * 3  # no gradient: stay off
    assert float(net.module_.weight.detach()[0, 0]) > 0.605
    assert dns.n_surgeries_ == dns.n_iter_ == 10


def test_surgery_probability_uses_its_own_generator():
    X = np.random.RandomState(0).randn(64, 10).astype(np.float32)
    y = np.zeros((64, 1), dtype=np.float32)
    gamma, power = 0.5, 1.0
    dns = DynamicNetworkSurgery(gamma=gamma, power=power, random_state=7)
    net = _linear_net(W_EXAMPLE, dns, max_epochs=10, batch_size=8)
    net.partial_fit(X, y)
    gen = make_generator(7)
    expected = sum(
        float(torch.rand((), generator=gen)) < (1.0 + gamma * it) ** (-power)
        for it in range(dns.n_iter_)
    )
    assert dns.n_iter_ == 80
    assert dns.n_surgeries_ == expected
    assert 1 <= expected < 80


def test_iter_stop_ends_surgery():
    X = np.random.RandomState(0).randn(32, 10).astype(np.float32)
    y = np.zeros((32, 1), dtype=np.float32)
    dns = DynamicNetworkSurgery(gamma=0.0, iter_stop=3, random_state=0)
    net = _linear_net(W_EXAMPLE, dns, max_epochs=2, batch_size=8)
    net.partial_fit(X, y)
    assert dns.n_iter_ == 8 and dns.n_surgeries_ == 3
    dns0 = DynamicNetworkSurgery(iter_stop=0, random_state=0)
    _linear_net(W_EXAMPLE, dns0).partial_fit(X, y)
    assert dns0.n_surgeries_ == 0 and bool(dns0.masks_["weight"].all())


def test_hooks_never_touch_the_global_rng():
    net = _linear_net(W_EXAMPLE, DynamicNetworkSurgery(gamma=1.0, random_state=3))
    dns = dict(net.callbacks_)["dns"]
    state = torch.random.get_rng_state()
    dns.on_train_begin(net)
    for _ in range(20):
        dns.on_batch_begin(net, training=True)
        dns.on_grad_computed(net, named_parameters=None, training=True)
        dns.on_batch_end(net, training=True)
    dns.on_train_end(net)
    assert torch.equal(torch.random.get_rng_state(), state)
    # numpy and torch.Generator random states are accepted too
    for rs in (np.random.RandomState(0), torch.Generator().manual_seed(0), None):
        DynamicNetworkSurgery(random_state=rs).on_train_begin(net)


def test_per_layer_c_and_validation():
    X = np.random.RandomState(0).randn(64, 8).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    module = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    dns = DynamicNetworkSurgery(c={"0.weight": 1.0}, random_state=0)
    net = NeuralNetClassifier(
        module,
        criterion=nn.CrossEntropyLoss,
        max_epochs=1,
        lr=0.0,
        train_split=None,
        verbose=0,
        callbacks=[("dns", dns)],
    )
    w0 = [p.detach().clone() for p in (module[0].weight, module[2].weight)]
    net.fit(X, y)  # fit re-initializes the module of a fresh net: take weights after init
    t0, t2 = dns.thresholds_["0.weight"], dns.thresholds_["2.weight"]
    assert t0["theta"] == pytest.approx(t0["mean"] + t0["std"])
    assert t2["theta"] == pytest.approx(t2["mean"])
    assert w0[0].shape == (16, 8)
    # c = 1 prunes more than c = 0 (relative to each layer's size)
    assert dns.masks_["0.weight"].float().mean() < dns.masks_["2.weight"].float().mean()

    bad = DynamicNetworkSurgery(c={"1.weight": 1.0})
    net.set_params(callbacks=[("dns", bad)])
    with pytest.raises(ValueError, match="not pruned"):
        net.fit(X, y)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"gamma": -1.0}, ValueError, "gamma"),
        ({"power": -0.5}, ValueError, "power"),
        ({"iter_stop": -1}, ValueError, "iter_stop"),
        ({"iter_stop": 2.5}, TypeError, "iter_stop"),
        ({"hysteresis": 1.0}, ValueError, "hysteresis"),
        ({"hysteresis": -0.1}, ValueError, "hysteresis"),
        ({"c": float("nan")}, TypeError, "`c`"),
        ({"c": "big"}, TypeError, "`c`"),
        ({"c": {"weight": "x"}}, TypeError, "c\\['weight'\\]"),
        ({"random_state": "seed"}, TypeError, "random_state"),
    ],
)
def test_surgery_parameters_out_of_range(kwargs, exc, match):
    X = np.zeros((4, 10), dtype=np.float32)
    y = np.zeros((4, 1), dtype=np.float32)
    net = _linear_net(W_EXAMPLE, DynamicNetworkSurgery(**kwargs))
    with pytest.raises(exc, match=match):
        net.partial_fit(X, y)


def test_validation_and_prediction_see_the_masked_weights():
    X = np.random.RandomState(0).randn(40, 10).astype(np.float32)
    y = np.random.RandomState(1).randn(40, 1).astype(np.float32)
    dns = DynamicNetworkSurgery(c=0.5, random_state=0)
    net = _linear_net(W_EXAMPLE, dns, lr=0.05, max_epochs=3, batch_size=8)
    from skorch.dataset import ValidSplit

    net.set_params(train_split=ValidSplit(4))
    net.partial_fit(X, y)
    w = net.module_.weight.detach()
    assert bool((w[~dns.masks_["weight"]] == 0).all())
    np.testing.assert_allclose(net.predict(X), X @ w.numpy().T, rtol=1e-5, atol=1e-6)
    assert np.isfinite(net.history[-1, "valid_loss"])


def test_clone_and_pickle():
    X = np.random.RandomState(0).randn(64, 8).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    dns = DynamicNetworkSurgery(c=0.3, gamma=1e-3, random_state=0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        train_split=None,
        verbose=0,
        callbacks=[("dns", dns)],
    )
    fresh = clone(dns)
    assert fresh.get_params() == dns.get_params()
    assert not any(k.endswith("_") for k in dns.get_params())
    net.fit(X, y)
    assert not any(k.endswith("_") for k in dns.get_params())
    assert set(clone(dns).get_params()) == set(fresh.get_params())
    clone(net)  # the net with the fitted callback clones
    restored = pickle.loads(pickle.dumps(net))
    cb = dict(restored.callbacks_)["dns"]
    for name, mask in dns.masks_.items():
        assert torch.equal(cb.masks_[name], mask)
    np.testing.assert_array_equal(restored.predict(X), net.predict(X))
    # a second fit starts a new surgery run
    net.fit(X, y)
    assert dns.n_iter_ == 2


@pytest.mark.slow
def test_dns_prunes_digits_without_losing_much(digits_small):
    X, y = digits_small
    dns = DynamicNetworkSurgery(c=0.5, random_state=0)
    net = NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=20,
        lr=0.05,
        optimizer__momentum=0.9,
        train_split=None,
        verbose=0,
        callbacks=[("dns", dns)],
    ).fit(X, y)
    assert dns.sparsity_ > 0.4
    assert net.score(X, y) > 0.9


def test_follows_the_l1_nets_prunable_selection():
    from sparselimit import L1RegularizedClassifier

    X = np.random.RandomState(0).randn(32, 8).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    dns = DynamicNetworkSurgery(random_state=0)
    L1RegularizedClassifier(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
        prunable_exclude=r"^2\.",
        callbacks=[("dns", dns)],
    ).fit(X, y)
    assert list(dns.masks_) == ["0.weight"]
    dns_all = DynamicNetworkSurgery(include=r"weight$", random_state=0)
    NeuralNetClassifier(
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)),
        criterion=nn.CrossEntropyLoss,
        max_epochs=1,
        train_split=None,
        verbose=0,
        callbacks=[("dns", dns_all)],
    ).fit(X, y)
    assert list(dns_all.masks_) == ["0.weight", "2.weight"]


def test_empty_weight_tensor_is_carried_through_surgery():
    # a zero-feature branch (Linear(0, 3)) has no magnitudes: nothing to prune, no crash
    class WithEmpty(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 1, bias=False)
            self.empty = nn.Linear(0, 3)

        def forward(self, x):
            return self.fc(x)

    dns = DynamicNetworkSurgery(c=0.0, random_state=0)
    net = NeuralNetRegressor(
        WithEmpty, lr=0.0, max_epochs=1, train_split=None, verbose=0, callbacks=[("dns", dns)]
    )
    net.initialize()
    with torch.no_grad():
        net.module_.fc.weight.copy_(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))
    X = np.ones((8, 4), dtype=np.float32)
    net.partial_fit(X, np.zeros((8, 1), dtype=np.float32))
    # mean |w| = 0.25: a = 0.225, b = 0.275 -> 0.1 and 0.2 pruned, sparsity 2 of 4
    assert dns.masks_["fc.weight"].tolist() == [[False, False, True, True]]
    assert dns.masks_["empty.weight"].shape == (3, 0)
    assert dns.thresholds_["empty.weight"]["theta"] == 0.0
    assert dns.sparsity_ == 0.5
