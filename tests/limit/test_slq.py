"""The stochastic Lanczos path against the exact reference, and n_lanczos_steps='auto'."""

import warnings

import numpy as np
import pytest

from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator

pytest.importorskip("sparselimit.spectral")

from sparselimit.spectral import SpectralDensity  # noqa: E402

from ._helpers import fit_seeded, make_data, make_net  # noqa: E402


@pytest.fixture(scope="module")
def medium():
    """A 20-40-2 MLP (880 prunable weights): large enough that one random probe's
    Hutchinson noise is small, small enough for the exact dense reference (~0.5 s)."""
    X, y = make_data(n=512, d=20, seed=0)
    return fit_seeded(make_net(d=20, hidden=40, max_epochs=30), X, y), X, y


def _fit(net, X, y, **kw):
    params = dict(prefit=True, epsilon_batch_size=64, random_state=0)
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LimitRegimeWarning)
        return PruningLimitEstimator(net, **params).fit(X, y)


@pytest.mark.parametrize("n_probes", [1, 4])
def test_slq_agrees_with_exact(medium, n_probes):
    net, X, y = medium
    exact = _fit(net, X, y, spectrum="exact")
    slq = _fit(net, X, y, n_lanczos_steps=128, n_probes=n_probes)
    assert isinstance(slq.spectrum_, SpectralDensity)
    assert slq.epsilon_ == exact.epsilon_
    assert abs(slq.pruning_limit_ - exact.pruning_limit_) <= 0.01
    if n_probes > 1:  # one probe's Hutchinson estimate of tr(H)/D is too noisy to pin
        assert slq.sharpness_ == pytest.approx(exact.sharpness_, rel=0.25)
    lo, hi = slq.pruning_limit_interval_
    assert lo <= slq.probe_limits_.min() <= slq.probe_limits_.max() <= hi
    assert slq.probe_limits_.shape == (n_probes,)
    # the zero rows both paths deflate (dead units) are nearly the same set
    assert abs(slq.zero_row_fraction_ - exact.zero_row_fraction_) < 0.05


def test_slq_on_a_tiny_net_is_probe_noise_limited(fitted_net, data):
    # D = 128: one probe's estimate of tr f(H)/D is noisy; more probes bring it back
    X, y = data
    exact = _fit(fitted_net, X, y, spectrum="exact")
    many = _fit(fitted_net, X, y, n_probes=16)
    assert abs(many.pruning_limit_ - exact.pruning_limit_) <= 0.03


def test_auto_steps(medium):
    net, X, y = medium
    full = _fit(net, X, y, n_lanczos_steps=128)
    auto = _fit(net, X, y, n_lanczos_steps="auto")
    assert 16 <= auto.n_lanczos_steps_ <= 128
    assert abs(auto.pruning_limit_ - full.pruning_limit_) <= 0.01
    steps = auto.diagnostics_["limit_by_step"]
    assert len(steps) == auto.n_lanczos_steps_
    assert steps[-1] == pytest.approx(auto.pruning_limit_, abs=1e-5)
    if auto.n_lanczos_steps_ < 128:
        assert np.ptp(steps[-9:]) < auto.auto_tol


def test_max_samples_subsamples_the_hessian_only(fitted_net, data):
    X, y = data
    a = _fit(fitted_net, X, y, n_lanczos_steps=32)
    b = _fit(fitted_net, X, y, n_lanczos_steps=32, max_samples=0.5)
    assert a.epsilon_ == b.epsilon_  # epsilon uses all the data
    assert a.spectrum_.nodes.shape == b.spectrum_.nodes.shape
    assert not np.allclose(a.spectrum_.nodes, b.spectrum_.nodes)
