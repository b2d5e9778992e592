"""The stochastic Lanczos path against the exact reference, and n_lanczos_steps='auto'."""

import warnings

import numpy as np
import pytest

from sparselimit.limit import LimitRegimeWarning, PruningLimitEstimator
from sparselimit.spectral import SpectralDensity

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
    from sparselimit.limit._auto import AUTO_PATIENCE

    net, X, y = medium
    exact = _fit(net, X, y, spectrum="exact")
    full = _fit(net, X, y, n_lanczos_steps=128)
    auto = _fit(net, X, y, n_lanczos_steps="auto")
    # this net converges early: the Laurie estimate is below auto_tol from step ~18 on
    assert 16 <= auto.n_lanczos_steps_ <= 48
    assert auto.timings_["spectrum"] < full.timings_["spectrum"]
    assert abs(auto.pruning_limit_ - full.pruning_limit_) <= auto.auto_tol
    assert abs(auto.pruning_limit_ - exact.pruning_limit_) <= 0.01
    steps = auto.diagnostics_["limit_by_step"]
    errors = auto.diagnostics_["lanczos_error_by_step"]
    assert len(steps) == len(errors) == auto.n_lanczos_steps_
    assert steps[-1] == pytest.approx(auto.pruning_limit_, abs=1e-5)
    assert np.isnan(errors[0]) and auto.diagnostics_["lanczos_error"] == errors[-1]
    assert max(errors[-AUTO_PATIENCE:]) < auto.auto_tol
    # it stopped at the first step where the estimate had stayed small for AUTO_PATIENCE
    # steps, although it evaluated only some of them: replay the rule on every step of the
    # 128-step run (same seed, same Lanczos coefficients)
    from sparselimit.limit._auto import AUTO_MIN_STEPS, _AutoStop

    replay = _AutoStop(full._radius, full.epsilon_, "abs", full.auto_tol)
    every = [replay.evaluate(full.spectrum_, j)[1] for j in range(1, 129)]
    small = np.asarray(every) < full.auto_tol
    first = next(s for s in range(AUTO_MIN_STEPS, 129) if small[s - AUTO_PATIENCE : s].all())
    assert auto.n_lanczos_steps_ == first
    evaluated = ~np.isnan(errors)
    assert 0 < evaluated.sum() < auto.n_lanczos_steps_  # lazily: not every step
    np.testing.assert_allclose(np.asarray(errors)[evaluated], np.asarray(every)[:first][evaluated])
    # a tighter tolerance runs longer
    tight = _fit(net, X, y, n_lanczos_steps="auto", auto_tol=1e-4)
    assert tight.n_lanczos_steps_ > auto.n_lanczos_steps_


def test_auto_error_estimate_matches_the_solved_gauss_anti_gauss_gap(medium):
    # the stopping rule linearises |rho(G_{m-1}) - rho(A_m)| / 2 around the averaged root;
    # check it against the two roots solved directly from the kept Lanczos coefficients
    from sparselimit.limit import GaussianWidth, solve_pruning_limit

    net, X, y = medium
    est = _fit(net, X, y, n_lanczos_steps=40, n_probes=2)
    sd = est.spectrum_
    errors = est.diagnostics_["lanczos_error_by_step"]
    assert len(errors) == 1  # a fixed step count records the final step only
    steps = np.asarray(sd.n_steps)

    def root(rule, n):
        q = sd.with_rule(rule, n)
        width = GaussianWidth(q.nodes, q.weights, q.zero_row_fraction)
        return solve_pruning_limit(est._radius, width, est.epsilon_, tol=1e-9)

    solved = 0.5 * abs(root("gauss", steps - 1) - root("anti_gauss", steps))
    assert solved > 1e-5  # not yet converged: the comparison means something
    assert errors[-1] == pytest.approx(solved, rel=0.05)


def test_averaged_quadrature_is_the_default_and_a_valid_density(medium):
    net, X, y = medium
    exact = _fit(net, X, y, spectrum="exact")
    avg = _fit(net, X, y, n_lanczos_steps=20)
    gauss = _fit(net, X, y, n_lanczos_steps=20, quadrature="gauss")
    sd = avg.spectrum_
    assert sd.rule == "averaged" and gauss.spectrum_.rule == "gauss"
    assert sd.nodes.shape == (1, 39) and gauss.spectrum_.nodes.shape == (1, 20)
    np.testing.assert_allclose(sd.weights.sum(axis=1), 1.0)
    assert sd.with_rule("gauss").allclose(gauss.spectrum_)
    # same Lanczos run, same trace (degree 1 is exact under both rules)
    assert avg.sharpness_ == pytest.approx(gauss.sharpness_, rel=1e-9)
    # (the averaged rule is closer to the converged value on average over nets and steps, not
    # at every step of every net; here both are within probe noise of the exact limit)
    for est in (avg, gauss):
        assert abs(est.pruning_limit_ - exact.pruning_limit_) <= 0.015


def test_max_samples_subsamples_the_hessian_only(fitted_net, data):
    X, y = data
    a = _fit(fitted_net, X, y, n_lanczos_steps=32)
    b = _fit(fitted_net, X, y, n_lanczos_steps=32, max_samples=0.5)
    assert a.epsilon_ == b.epsilon_  # epsilon uses all the data
    assert a.spectrum_.nodes.shape == b.spectrum_.nodes.shape
    assert not np.allclose(a.spectrum_.nodes, b.spectrum_.nodes)
