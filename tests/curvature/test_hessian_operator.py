"""HessianOperator: exact products (float64 vs torch.func.hessian), data handling, safety."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sparselimit.curvature import HessianOperator, NondeterministicHessianError
from sparselimit.curvature._dense import dense_hessian

D64 = torch.float64


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))


def _cnn():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 3)
    )
    net.train()  # BN buffers move during these passes; the operator must use eval mode
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(16, 1, 6, 6))
    return net


class WithUnused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.scale = nn.Parameter(torch.tensor(1.5))  # a 0-d parameter
        self.unused = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x) * self.scale


def _data(shape, n=20, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g)


CASES = {
    "mlp": (_mlp, (5,)),
    "cnn_bn": (_cnn, (1, 6, 6)),
    "unused": (WithUnused, (4,)),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "method", ["double_backward", "forward_over_reverse", "reverse_over_forward"]
)
def test_products_match_dense_hessian(case, method):
    make, shape = CASES[case]
    net = make()
    X, y = _data(shape)
    op = HessianOperator(
        net, nn.CrossEntropyLoss(), X, y, params="all", batch_size=7, dtype=D64, hvp_method=method
    )
    H = dense_hessian(op)
    D = op.shape[0]
    assert H.shape == (D, D)
    V = torch.randn(D, 3, dtype=D64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(op @ V, H @ V, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(op @ V[:, 0], H @ V[:, 0], rtol=1e-10, atol=1e-12)
    if case == "unused":  # rows of the unused layer are exactly zero
        assert op.param_names == ["scale", "fc.weight", "fc.bias", "unused.weight", "unused.bias"]
        assert float((op @ V)[16:].abs().max()) == 0.0


@pytest.mark.parametrize("block_method", ["reuse_graph", "batched"])
def test_block_methods_agree_and_are_symmetric(block_method):
    net = _cnn()
    X, y = _data((1, 6, 6))
    op = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64, block_method=block_method)
    g = torch.Generator().manual_seed(2)
    u, v = (
        torch.randn(op.shape[0], dtype=D64, generator=g),
        torch.randn(op.shape[0], dtype=D64, generator=g),
    )
    Huv = op @ torch.stack([u, v], dim=1)
    assert torch.dot(u, Huv[:, 1]).item() == pytest.approx(
        torch.dot(v, Huv[:, 0]).item(), rel=1e-10
    )
    torch.testing.assert_close(Huv[:, 0], op @ u, rtol=1e-10, atol=1e-13)


def test_default_params_are_prunable_weights_and_float32():
    net = _cnn()
    X, y = _data((1, 6, 6))
    op = HessianOperator(net, nn.CrossEntropyLoss(), X.numpy(), y.numpy())
    assert op.param_names == ["0.weight", "4.weight"]
    assert op.shape == (27 + 144, 27 + 144) and op.n_params == 171
    assert op.dtype == torch.float32 and op.device == torch.device("cpu")
    out = op @ np.ones(171)  # numpy in -> numpy out
    assert isinstance(out, np.ndarray) and out.shape == (171,)
    assert op.to_scipy().matvec(np.ones(171)).dtype == np.float64


def test_param_selection_options():
    net = _mlp()
    X, y = _data((5,))
    loss = nn.CrossEntropyLoss()
    assert HessianOperator(net, loss, X, y, params=["2.bias"]).shape == (3, 3)
    op = HessianOperator(net, loss, X, y, params={"include": "bias"})
    assert op.param_names == ["0.bias", "2.bias"]
    net[0].weight.requires_grad_(False)  # frozen: left out of "all", still differentiable
    assert HessianOperator(net, loss, X, y, params="all").param_names == [
        "0.bias",
        "2.weight",
        "2.bias",
    ]
    assert HessianOperator(net, loss, X, y).param_names == ["0.weight", "2.weight"]
    with pytest.raises(ValueError, match="not parameters"):
        HessianOperator(net, loss, X, y, params=["nope"])
    with pytest.raises(TypeError, match="params"):
        HessianOperator(net, loss, X, y, params=3)


def test_module_mode_buffers_and_weights_untouched():
    net = _cnn()
    net.train()
    net[1].eval()  # mixed modes are restored exactly
    state = {k: v.clone() for k, v in net.state_dict().items()}
    X, y = _data((1, 6, 6))
    op = HessianOperator(net, nn.CrossEntropyLoss(), X, y, params="all")
    op @ torch.ones(op.shape[0])
    loss = op.loss()
    net_eval = _cnn().eval()  # the same weights and statistics, evaluated in eval mode
    assert loss == pytest.approx(float(nn.functional.cross_entropy(net_eval(X), y)), rel=1e-5)
    assert net.training and not net[1].training and net[2].training
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_dataloader_and_batch_list_match_arrays():
    net = _mlp()
    X, y = _data((5,), n=23)
    loss = nn.CrossEntropyLoss()
    ref = HessianOperator(net, loss, X, y, dtype=D64, batch_size=23)
    v = torch.randn(ref.shape[0], dtype=D64, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(X, y), batch_size=5)
    for data in (loader, list(loader), iter(list(loader))):
        op = HessianOperator(net, loss, data, dtype=D64)
        torch.testing.assert_close(op @ v, ref @ v, rtol=1e-10, atol=1e-12)
    assert op.n_samples == 23
    losses, sizes = op.batch_losses(return_sizes=True)
    assert sizes.tolist() == [5, 5, 5, 5, 3]
    assert op.loss() == pytest.approx(ref.loss(), rel=1e-12)
    with pytest.raises(ValueError, match="shuffle"):
        HessianOperator(net, loss, DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True))


class NoisyInEval(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return nn.functional.dropout(self.fc(x), 0.5, training=True)


def test_nondeterministic_forward_is_refused():
    X, y = _data((4,))
    with pytest.raises(NondeterministicHessianError, match="stochastic"):
        HessianOperator(NoisyInEval(), nn.CrossEntropyLoss(), X, y)
    # dropout in a module left in train mode is fine: products run in eval mode
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3)).train()
    HessianOperator(net, nn.CrossEntropyLoss(), X, y)


def test_non_finite_loss_or_product_raises():
    net = _mlp()
    X, y = _data((5,))
    X[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        HessianOperator(net, nn.CrossEntropyLoss(), X, y)
    X[3, 0] = 0.0
    op = HessianOperator(net, nn.CrossEntropyLoss(), X, y, check_determinism=False)
    with torch.no_grad():
        op._theta[0][0, 0] = float("inf")
    with pytest.raises(ValueError, match="not finite"):
        op @ torch.ones(op.shape[0])
    with pytest.raises(ValueError, match="scalar"):
        HessianOperator(net, nn.CrossEntropyLoss(reduction="none"), X, y)


def test_restrict_and_pickle():
    net = _mlp()
    X, y = _data((5,))
    op = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64)
    H = dense_hessian(op)
    mask = torch.zeros(op.shape[0], dtype=torch.bool)
    mask[::3] = True
    sub = op.restrict(mask)
    assert sub.shape == (int(mask.sum()),) * 2
    v = torch.randn(sub.shape[0], dtype=D64)
    torch.testing.assert_close(sub @ v, H[mask][:, mask] @ v, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="boolean"):
        op.restrict(torch.ones(3))
    clone = pickle.loads(pickle.dumps(op))
    torch.testing.assert_close(clone @ v.new_ones(op.shape[0]), op @ v.new_ones(op.shape[0]))


@pytest.mark.parametrize("budget_batches", [0, 1.5, None])
def test_graph_cache_full_partial_or_off_gives_the_same_products(budget_batches):
    net = _cnn()
    X, y = _data((1, 6, 6), n=30)
    ref = HessianOperator(
        net, nn.CrossEntropyLoss(), X, y, dtype=D64, batch_size=8, graph_cache_mb=0
    )
    probe = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64, batch_size=8)
    v = torch.randn(ref.shape[0], 2, dtype=D64, generator=torch.Generator().manual_seed(3))
    probe @ v
    per_batch = probe._graph_bytes / 2**20
    budget = None if budget_batches is None else budget_batches * per_batch
    op = HessianOperator(
        net, nn.CrossEntropyLoss(), X, y, dtype=D64, batch_size=8, graph_cache_mb=budget
    )
    expected = {0: 0, 1.5: 1, None: 4}[budget_batches]
    for _ in range(3):  # the first product fills the cache, the next ones use it
        torch.testing.assert_close(op @ v, ref @ v, rtol=1e-12, atol=1e-14)
        assert len(op._graphs) == expected
    assert len(pickle.loads(pickle.dumps(op))._graphs) == 0
    op.clear_cache()
    assert op._graphs == {}
    with pytest.raises(ValueError, match="graph_cache_mb"):
        HessianOperator(net, nn.CrossEntropyLoss(), X, y, graph_cache_mb=-1)


def test_auto_batch_size_follows_the_measured_graph_memory(monkeypatch):
    import sparselimit.curvature._operator as operator_module

    net = _cnn()
    X, y = _data((1, 6, 6), n=200)
    ref = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64, batch_size=7)
    v = torch.randn(ref.shape[0], dtype=D64, generator=torch.Generator().manual_seed(4))
    auto = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64)
    assert auto.batch_size == 200  # a tiny net: one batch holds all the data
    torch.testing.assert_close(auto @ v, ref @ v, rtol=1e-12, atol=1e-14)

    # a budget of 100 samples' graphs (measured on the first 64 samples) gives batches of ~100
    probe = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64)
    graph = probe._build_graph(probe._batches[0][0][:64], probe._batches[0][1][:64], 0, True)
    fixed = sum(t.numel() * t.element_size() for t in probe._theta)  # the gradients
    assert graph[-1] > fixed
    monkeypatch.setattr(operator_module, "_AUTO_BATCH_BYTES", 100 * (graph[-1] - fixed) / 64)
    auto = HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64)
    assert auto.batch_size == 100 and len(auto._batches) == 2
    torch.testing.assert_close(auto @ v, ref @ v, rtol=1e-12, atol=1e-14)
    monkeypatch.setattr(operator_module, "_AUTO_BATCH_BYTES", 1)  # never below 64 samples
    assert HessianOperator(net, nn.CrossEntropyLoss(), X, y, dtype=D64).batch_size == 64
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive int or 'auto'"):
        HessianOperator(net, nn.CrossEntropyLoss(), X, y, batch_size="big")
