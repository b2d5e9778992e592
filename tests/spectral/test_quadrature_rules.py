"""Gauss, anti-Gauss and averaged quadrature rules of a Lanczos tridiagonal."""

import numpy as np
import pytest

from sparselimit.spectral import SpectralDensity, lanczos, slq_spectrum


def _tridiagonal(lam, m, seed=0):
    """m Lanczos steps on diag(lam) from a random unit vector; the exact measure's weights."""
    rng = np.random.RandomState(seed)
    v = rng.randn(lam.size)
    v /= np.linalg.norm(v)
    a, b = lanczos(np.diag(lam), v, n_steps=m)
    # the residual after the last step (> 0: no breakdown) is not returned by lanczos
    return a[None], np.r_[b, 1.0][None], v**2


def _rule(a, b, k, rule, n):
    return SpectralDensity.from_lanczos(a, b, [k], n_params=n, rule=rule)


@pytest.mark.parametrize("m", [2, 4, 7])
def test_averaged_rule_is_exact_to_degree_2m_minus_1(m):
    lam = np.linspace(-1.0, 2.0, 60) + 0.01 * np.sin(np.arange(60))
    a, b, mu = _tridiagonal(lam, m)
    avg, gauss = _rule(a, b, m, "averaged", 60), _rule(a, b, m, "gauss", 60)
    assert avg.nodes.shape == (1, 2 * m - 1) and avg.rule == "averaged"
    for j in range(2 * m):
        exact = float(mu @ lam**j)
        assert avg.quadrature(lambda t, j=j: t**j)[0] == pytest.approx(exact, abs=1e-10)
    # degree 2m is not integrated exactly (by either rule), so the test above has teeth
    exact = float(mu @ lam ** (2 * m))
    assert abs(avg.quadrature(lambda t: t ** (2 * m))[0] - exact) > 1e-8
    assert abs(gauss.quadrature(lambda t: t ** (2 * m))[0] - exact) > 1e-8


@pytest.mark.parametrize("m", [2, 3, 6])
def test_anti_gauss_error_is_minus_the_gauss_error(m):
    # Laurie's definition: I - A_m = -(I - G_{m-1}) for polynomials of degree <= 2m - 1;
    # G_{m-1} is exact to degree 2m - 3, so the two top degrees carry a real error
    lam = np.linspace(0.0, 3.0, 80)
    a, b, mu = _tridiagonal(lam, m, seed=1)
    anti = _rule(a, b, m, "anti_gauss", 80)
    lower = _rule(a, b, m - 1, "gauss", 80)
    for j in (2 * m - 2, 2 * m - 1):
        exact = float(mu @ lam**j)
        e_anti = exact - anti.quadrature(lambda t, j=j: t**j)[0]
        e_gauss = exact - lower.quadrature(lambda t, j=j: t**j)[0]
        assert e_gauss != pytest.approx(0.0, abs=1e-10)
        assert e_anti == pytest.approx(-e_gauss, rel=1e-7, abs=1e-12)


def test_gauss_and_anti_gauss_bracket_a_smooth_integral():
    # f(t) = 1/(1 + c t) on a positive spectrum: derivatives of alternating sign, so the Gauss
    # rule is a lower bound and the anti-Gauss rule an upper one; the average is much closer
    lam = np.sort(np.random.RandomState(2).uniform(0.05, 1.0, 300))
    n = lam.size
    a, b, mu = _tridiagonal(lam, 20, seed=3)

    def f(t):
        return 1.0 / (1.0 + 5.0 * t)

    exact = float(mu @ f(lam))
    for m in range(2, 12):
        g = _rule(a, b, m - 1, "gauss", n).quadrature(f)[0]
        anti = _rule(a, b, m, "anti_gauss", n).quadrature(f)[0]
        avg = _rule(a, b, m, "averaged", n).quadrature(f)[0]
        assert g < exact < anti
        assert avg == pytest.approx((g + anti) / 2, rel=1e-12)
        assert abs(avg - exact) < 0.5 * (anti - g)
        assert abs(avg - exact) < abs(_rule(a, b, m, "gauss", n).quadrature(f)[0] - exact)


def test_breakdown_and_one_step_fall_back_to_gauss():
    lam = np.array([1.0, 2.0, 3.0])
    a, b = lanczos(np.diag(lam), np.ones(3), n_steps=3)
    b = np.r_[b, 0.0][None]  # invariant subspace after 3 steps: Gauss is exact
    for rule in ("anti_gauss", "averaged"):
        sd = SpectralDensity.from_lanczos(a[None], b, [3], n_params=3, rule=rule)
        np.testing.assert_allclose(sd.nodes[0], lam)
        np.testing.assert_allclose(sd.weights[0], 1 / 3)
        one = SpectralDensity.from_lanczos(a[None], b, [1], n_params=3, rule=rule)
        assert one.nodes.tolist() == [[2.0]] and one.weights.tolist() == [[1.0]]


def test_with_rule_and_slq_keep_the_coefficients():
    lam = np.linspace(0.0, 1.0, 40)
    sd = slq_spectrum(np.diag(lam), n_probes=2, n_lanczos_steps=6, random_state=0)
    assert sd.rule == "gauss" and sd.alphas.shape == (2, 6) and sd.betas.shape == (2, 6)
    avg = slq_spectrum(np.diag(lam), n_probes=2, n_lanczos_steps=6, random_state=0, rule="averaged")
    assert avg.nodes.shape == (2, 11)
    np.testing.assert_allclose(avg.weights.sum(axis=1), 1.0)
    assert avg.allclose(sd.with_rule("averaged"))
    assert sd.with_rule("gauss", [4, 5]).n_steps.tolist() == [4, 5]
    assert sd.with_rule("gauss", [4, 5]).allclose(
        slq_spectrum(np.diag(lam), n_probes=2, n_lanczos_steps=6, random_state=0).with_rule(
            "gauss", [4, 5]
        )
    )
    with pytest.raises(ValueError, match="rule"):
        sd.with_rule("radau")
    with pytest.raises(ValueError, match="n_steps"):
        sd.with_rule("gauss", [7, 6])
    with pytest.raises(ValueError, match="rule"):
        slq_spectrum(np.diag(lam), n_lanczos_steps=3, rule="lobatto")
    plain = SpectralDensity(nodes=[[1.0]], weights=[[1.0]], n_params=1)
    with pytest.raises(ValueError, match="Lanczos coefficients"):
        plain.with_rule("averaged")
