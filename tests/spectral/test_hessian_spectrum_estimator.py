"""HessianSpectrum: skorch integration, sklearn contract, subsampling, display."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from skorch import NeuralNetClassifier, NeuralNetRegressor
from torch import nn

from sparselimit.curvature import HessianOperator
from sparselimit.spectral import HessianSpectrum, HessianSpectrumDisplay, SpectralDensity


def _net(**kw):
    torch.manual_seed(0)
    params = dict(
        criterion=nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        train_split=None,
        verbose=0,
        batch_size=64,
    )
    params.update(kw)
    return NeuralNetClassifier(
        nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)), **params
    )


@pytest.fixture(scope="module")
def fitted(digits_small_module):
    X, y = digits_small_module
    net = _net().fit(X, y)
    est = HessianSpectrum(net, prefit=True, n_probes=2, n_lanczos_steps=20, random_state=0)
    return est.fit(X, y), X, y


@pytest.fixture(scope="module")
def digits_small_module():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).astype(np.float32), y[:300].astype(np.int64)


def test_fitted_attributes(fitted):
    est, X, y = fitted
    sd = est.spectrum_
    assert isinstance(sd, SpectralDensity) and sd.nodes.shape == (2, 20)
    assert est.n_params_ == 64 * 16 + 16 * 10 and est.param_names_ == ["0.weight", "2.weight"]
    assert est.n_samples_ == 300
    assert 0 < est.zero_row_fraction_ < 1  # digits has always-zero pixels: dead input weights
    assert sd.n_params + sd.n_zero_rows == est.n_params_
    assert est.trace_ == pytest.approx(sd.trace())
    assert est.top_eigenvalues_.shape == (1,)
    assert est.top_eigenvalues_[0] == pytest.approx(sd.nodes.max(), rel=1e-3)
    # the estimate is the Hessian of the criterion in eval mode, at the fitted weights
    op = HessianOperator(est.estimator_.module_, nn.CrossEntropyLoss(), X, y)
    v = torch.ones(op.shape[0])
    assert est.estimator_ is est.estimator  # prefit: used as is
    with torch.no_grad():
        ref = float(
            est.estimator_.get_loss(est.estimator_.infer(torch.as_tensor(X)), torch.as_tensor(y))
        )
    assert op.loss() == pytest.approx(ref, rel=1e-5)
    assert torch.isfinite(op @ v).all()


def test_clone_pickle_and_reproducibility(fitted):
    est, X, y = fitted
    c = clone(est)
    assert c.get_params()["n_lanczos_steps"] == 20 and not hasattr(c, "spectrum_")
    restored = pickle.loads(pickle.dumps(est))
    assert restored.spectrum_.allclose(est.spectrum_)
    again = HessianSpectrum(
        est.estimator_, prefit=True, n_probes=2, n_lanczos_steps=20, random_state=0
    ).fit(X, y)
    assert np.array_equal(again.spectrum_.nodes, est.spectrum_.nodes)


def test_unfitted_estimator_is_cloned_and_fitted(digits_small_module):
    X, y = digits_small_module
    net = _net(max_epochs=1)
    est = HessianSpectrum(
        net,
        n_lanczos_steps=8,
        n_top_eigenvalues=0,
        max_samples=0.5,
        deflate_zero_rows=False,
        random_state=0,
    ).fit(X, y)
    assert not hasattr(net, "module_")  # the user's net is untouched
    assert est.n_samples_ == 150 and est.top_eigenvalues_.shape == (0,)
    assert est.zero_row_fraction_ == 0.0 and est.spectrum_.n_params == est.n_params_
    est2 = HessianSpectrum(
        est.estimator_,
        prefit=True,
        n_lanczos_steps=8,
        n_top_eigenvalues=0,
        max_samples=100,
        random_state=0,
    ).fit(X, y)
    assert est2.n_samples_ == 100
    # a fraction rounds up, as in PruningLimitEstimator: 0.501 * 300 = 150.3 -> 151
    est3 = HessianSpectrum(
        est.estimator_, prefit=True, n_lanczos_steps=2, n_top_eigenvalues=0, max_samples=0.501
    ).fit(X, y)
    assert est3.n_samples_ == 151


def test_random_state_seeds_the_training_of_an_unfitted_net(digits_small_module):
    # a module class and shuffled batches: the net's training draws from torch's global RNG
    X, y = digits_small_module
    net = NeuralNetClassifier(
        nn.Linear,
        module__in_features=64,
        module__out_features=10,
        criterion=nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        batch_size=32,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )

    def spectrum(random_state):
        return HessianSpectrum(
            net, n_lanczos_steps=6, n_top_eigenvalues=0, random_state=random_state
        ).fit(X, y)

    # the reference: the same net trained with torch's global RNG seeded to the same seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trained = clone(net).fit(X, y)
    reference = HessianSpectrum(
        trained, prefit=True, n_lanczos_steps=6, n_top_eigenvalues=0, random_state=0
    ).fit(X, y)
    torch.manual_seed(123)
    expected_draw = torch.rand(2)
    torch.manual_seed(123)
    first = spectrum(0)
    torch.testing.assert_close(torch.rand(2), expected_draw)  # the global RNG restored
    for est in (first, spectrum(0)):
        for a, b in zip(est.estimator_.module_.parameters(), trained.module_.parameters()):
            assert torch.equal(a, b)
        np.testing.assert_array_equal(est.spectrum_.nodes, reference.spectrum_.nodes)
    other = spectrum(1).estimator_.module_.weight
    assert not torch.equal(other, first.estimator_.module_.weight)


def test_nll_classifier_and_regressor_losses():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 5).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    torch.manual_seed(0)
    clf = NeuralNetClassifier(
        nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2), nn.Softmax(dim=-1)),
        max_epochs=2,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    est = HessianSpectrum(clf, prefit=True, n_lanczos_steps=5, random_state=0).fit(X, y)
    assert np.isfinite(est.spectrum_.nodes).all()
    yr = X[:, :1] * 2.0
    reg = NeuralNetRegressor(
        nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1)),
        max_epochs=2,
        train_split=None,
        verbose=0,
    ).fit(X, yr)
    est = HessianSpectrum(reg, prefit=True, params="all", n_lanczos_steps=5, random_state=0).fit(
        X, yr
    )
    assert est.n_params_ == 5 * 4 + 4 + 4 + 1


def test_errors(digits_small_module):
    X, y = digits_small_module
    with pytest.raises(ValueError, match="estimator"):
        HessianSpectrum().fit(X, y)
    with pytest.raises(NotFittedError):
        HessianSpectrum(_net(), prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="n_probes"):
        HessianSpectrum(_net(), n_probes=0).fit(X, y)
    with pytest.raises(ValueError, match="max_samples"):
        HessianSpectrum(_net(max_epochs=1), max_samples=1.5, n_lanczos_steps=2).fit(X, y)
    with pytest.raises(NotFittedError):
        HessianSpectrum(_net()).density()


def test_display(fitted):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est, _, _ = fitted
    grid, dens = est.density()
    assert grid.shape == dens.shape == (512,) and (dens >= 0).all()
    disp = HessianSpectrumDisplay.from_estimator(est)
    assert disp.ax_ is not None and disp.line_.get_xdata().shape == (512,)
    assert "zero rows" in disp.line_.get_label()
    fig, ax = plt.subplots()
    disp2 = est.plot(ax=ax, log_scale=False)
    assert disp2.ax_ is ax
    plt.close("all")


def test_batch_size_does_not_change_the_spectrum(fitted):
    # 'auto' (the default: one batch of all 300 samples here) and an explicit small batch
    # give the same products, so the same Lanczos run up to float32 rounding
    est, X, y = fitted
    small = HessianSpectrum(
        est.estimator_, prefit=True, n_probes=2, n_lanczos_steps=20, random_state=0, batch_size=7
    ).fit(X, y)
    assert est.batch_size == "auto"
    np.testing.assert_allclose(small.spectrum_.nodes, est.spectrum_.nodes, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="batch_size"):
        HessianSpectrum(est.estimator_, prefit=True, batch_size="big").fit(X, y)


def test_fit_without_y_is_refused(digits_small_module):
    # skorch's Dataset would yield the placeholder target 0 for every sample
    X, y = digits_small_module
    net = _net(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="HessianSpectrum requires y to be passed"):
        HessianSpectrum(net, prefit=True, n_lanczos_steps=2).fit(X)


@pytest.mark.parametrize("deflate", [True, False])
def test_a_net_without_curvature_has_top_eigenvalues_zero(deflate):
    # every ReLU dead: the loss does not depend on any weight, so the Hessian over them is the
    # zero matrix -- ARPACK refused it ("Starting vector is zero") and fit crashed
    X = np.random.RandomState(0).randn(32, 4).astype(np.float32)
    net = NeuralNetRegressor(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), train_split=None, verbose=0
    ).initialize()
    with torch.no_grad():
        net.module_[0].bias.fill_(-100.0)
    hidden = torch.relu(net.module_[0](torch.from_numpy(X)))
    assert not bool(hidden.any())  # the reference: no unit is ever active
    est = HessianSpectrum(
        net,
        prefit=True,
        n_lanczos_steps=4,
        n_top_eigenvalues=2,
        deflate_zero_rows=deflate,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Lanczos breakdown on the zero operator
        est.fit(X, X[:, :1])
    np.testing.assert_array_equal(est.top_eigenvalues_, [0.0, 0.0])
    assert est.trace_ == 0.0


def test_n_features_in_is_recorded_as_by_the_other_estimators(fitted):
    est, X, y = fitted
    assert est.n_features_in_ == X.shape[1] == 64  # scikit-learn's fit contract
    # a refit on an X without a feature count (a Dataset) drops the count of the earlier fit
    from skorch.dataset import Dataset

    est = HessianSpectrum(est.estimator_, prefit=True, n_lanczos_steps=2, n_top_eigenvalues=0)
    refit = est.fit(X, y).fit(Dataset(X, y))
    assert refit.n_samples_ == 300
    assert "n_features_in_" not in vars(refit)
