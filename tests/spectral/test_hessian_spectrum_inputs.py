"""HessianSpectrum on the inputs skorch nets accept: 1-D regression targets, 'sum' criteria,
NLLLoss classifiers (against a dense float64 torch.func Hessian), and subsampling of pandas,
list and tensor inputs (against the same subsample of a NumPy array)."""

import copy
import warnings

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from torch import nn

from sparselimit import L1RegularizedClassifier, L1RegularizedRegressor
from sparselimit.spectral import HessianSpectrum

N, P, HIDDEN = 60, 3, 4


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(N, P)
    y_reg = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.randn(N)
    y_cls = (X[:, 0] + 0.3 * rng.randn(N) > 0).astype(np.int64) + (X[:, 1] > 0.5)
    return X, y_reg, y_cls


def _module(n_out, softmax=False):
    torch.manual_seed(0)
    # Tanh: no dead units, so the Hessian has no exactly repeated zero eigenvalues and D
    # Lanczos steps span the whole space (the Ritz values then sum to the trace exactly)
    layers = [nn.Linear(P, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, n_out)]
    return nn.Sequential(*layers, *([nn.Softmax(dim=-1)] if softmax else []))


def _reference_hessian(module, X, loss_of_output, names):
    """Dense float64 Hessian of ``loss_of_output(module(X))`` w.r.t. ``names``, torch.func."""
    m = copy.deepcopy(module).double()
    named = {k: v.detach() for k, v in m.named_parameters()}
    fixed = {k: v for k, v in named.items() if k not in names}
    sizes = [named[k].numel() for k in names]
    theta = torch.cat([named[k].reshape(-1) for k in names])

    def f(flat):
        tensors = dict(fixed)
        for k, t in zip(names, flat.split(sizes)):
            tensors[k] = t.view_as(named[k])
        out = torch.func.functional_call(m, tensors, (torch.as_tensor(X, dtype=torch.float64),))
        return loss_of_output(out)

    return torch.func.hessian(f)(theta)


def _mse(y):
    yc = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)
    return lambda out: ((out - yc) ** 2).mean()


def _nll_of_probs(y):
    yt = torch.as_tensor(y)
    return lambda out: -torch.log(out[torch.arange(len(yt)), yt]).mean()


def _cross_entropy(y):
    yt = torch.as_tensor(y)
    return lambda out: (torch.logsumexp(out, 1) - out[torch.arange(len(yt)), yt]).mean()


def _check_spectrum(net, X, y, ref_loss, params):
    """HessianSpectrum with D Lanczos steps against the dense reference: Ritz values are the
    eigenvalues, their sum the trace."""
    names = params if isinstance(params, list) else [k for k, _ in net.module_.named_parameters()]
    H = _reference_hessian(net.module_, X, ref_loss, names).numpy()
    D = H.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither torch's broadcasting nor a Lanczos breakdown
        hs = HessianSpectrum(
            net,
            prefit=True,
            params=params,
            n_lanczos_steps=D,
            deflate_zero_rows=False,
            n_top_eigenvalues=0,
            random_state=0,
        ).fit(X, y)
    assert hs.n_params_ == D
    nodes = np.sort(hs.spectrum_.nodes[0])
    eig = np.linalg.eigvalsh(H)
    scale = np.abs(eig).max()
    assert nodes.sum() == pytest.approx(np.trace(H), rel=1e-4, abs=1e-5 * scale)
    np.testing.assert_allclose(nodes, eig, atol=1e-4 * scale)


@pytest.mark.parametrize("y_ndim", [1, 2])
def test_l1_regressor_1d_and_2d_target_match_dense_hessian(y_ndim):
    X, y, _ = _data()
    net = L1RegularizedRegressor(_module(1), train_split=None, verbose=0).initialize()
    # float64 X and y against a float32 module: the regressor's own casts apply
    yy = y if y_ndim == 1 else y.reshape(-1, 1)
    _check_spectrum(net, X, yy, _mse(y), "all")


def test_plain_regressor_sum_criterion_is_mean_and_restored():
    X, y, _ = _data()
    net = NeuralNetRegressor(
        _module(1), criterion=nn.MSELoss, criterion__reduction="sum", verbose=0
    ).initialize()
    crit = net.criterion_
    _check_spectrum(net, X.astype(np.float32), y.reshape(-1, 1).astype(np.float32), _mse(y), "all")
    assert net.criterion_ is crit and crit.reduction == "sum"  # the user's net is unchanged


@pytest.mark.parametrize("l1", [False, True])
def test_classifier_nll_of_probabilities(l1):
    X, _, y = _data()
    cls = L1RegularizedClassifier if l1 else NeuralNetClassifier
    net = cls(_module(3, softmax=True), verbose=0).initialize()  # skorch's default NLLLoss
    # first-layer weights only: all parameters would include the logit-shift null space
    _check_spectrum(net, X.astype(np.float32), y, _nll_of_probs(y), ["0.weight"])


def test_classifier_cross_entropy_sum_reduction():
    X, _, y = _data()
    net = NeuralNetClassifier(
        _module(3), criterion=nn.CrossEntropyLoss, criterion__reduction="sum", verbose=0
    ).initialize()
    _check_spectrum(net, X.astype(np.float32), y, _cross_entropy(y), ["0.weight"])
    assert net.criterion_.reduction == "sum"


def test_reduction_restored_when_the_loss_raises():
    X, _, y = _data()
    net = NeuralNetClassifier(
        _module(3), criterion=nn.CrossEntropyLoss, criterion__reduction="sum", verbose=0
    ).initialize()
    with pytest.raises(IndexError, match="out of bounds"):  # labels past the 3 outputs
        HessianSpectrum(net, prefit=True, n_lanczos_steps=2).fit(X.astype(np.float32), y + 10)
    assert net.criterion_.reduction == "sum"


# ---------------------------------------------------------------- max_samples on other inputs


@pytest.fixture(scope="module")
def cls_net_data():
    X, _, y = _data()
    X = X.astype(np.float32)
    net = L1RegularizedClassifier(
        _module(3), criterion=nn.CrossEntropyLoss, max_epochs=2, train_split=None, verbose=0
    ).fit(X, y)
    return net, X, y


def _subsampled(net, X, y, max_samples=25):
    kw = dict(prefit=True, n_lanczos_steps=8, n_probes=2, n_top_eigenvalues=1, random_state=3)
    return HessianSpectrum(net, max_samples=max_samples, **kw).fit(X, y)


def _assert_same_fit(a, b):
    assert a.n_samples_ == b.n_samples_
    assert a.spectrum_.allclose(b.spectrum_)
    np.testing.assert_allclose(a.top_eigenvalues_, b.top_eigenvalues_, rtol=1e-5)


@pytest.mark.parametrize("max_samples", [25, 0.4])
def test_max_samples_on_a_list_equals_numpy(cls_net_data, max_samples):
    net, X, y = cls_net_data
    ref = _subsampled(net, X, y, max_samples)
    assert ref.n_samples_ == (25 if max_samples == 25 else round(0.4 * N))
    full = HessianSpectrum(net, prefit=True, n_lanczos_steps=8, random_state=3).fit(X, y)
    assert full.n_samples_ == N and not np.isclose(full.trace_, ref.trace_)
    _assert_same_fit(_subsampled(net, X.tolist(), y.tolist(), max_samples), ref)


def test_max_samples_on_tensors_equals_numpy(cls_net_data):
    net, X, y = cls_net_data
    got = _subsampled(net, torch.as_tensor(X), torch.as_tensor(y))
    _assert_same_fit(got, _subsampled(net, X, y))


def test_max_samples_on_pandas_is_by_position(cls_net_data):
    pd = pytest.importorskip("pandas")
    net, X, y = cls_net_data
    ref = _subsampled(net, X, y)
    # a shuffled, non-default index: rows must be taken by position, not by label
    index = np.random.RandomState(1).permutation(N) + 1000
    Xdf = pd.DataFrame(X, columns=list("abc"), index=index)
    ys = pd.Series(y, index=index)
    _assert_same_fit(_subsampled(net, Xdf, ys), ref)
    # a NumPy X with a pandas y, and the reverse
    _assert_same_fit(_subsampled(net, X, ys), ref)
    _assert_same_fit(_subsampled(net, Xdf, y), ref)
