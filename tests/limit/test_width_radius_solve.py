"""G(R), R(rho) and the solver, against brute force."""

import math

import numpy as np
import pytest
import torch

from sparselimit.limit import (
    GaussianWidth,
    RadiusCurve,
    akf_slack,
    gaussian_width,
    solve_pruning_limit,
)


def test_width_at_zero_is_one_and_decreasing():
    rng = np.random.RandomState(0)
    nodes = rng.randn(3, 20) * 5
    weights = rng.rand(3, 20)
    weights /= weights.sum(axis=1, keepdims=True)
    for negative in ("abs", "flat"):
        g = GaussianWidth(nodes, weights, zero_row_fraction=0.2, negative_eigenvalues=negative)
        R = np.linspace(0, 10, 200)
        G = g(R, epsilon=0.3)
        assert G[0] == pytest.approx(1.0)
        assert np.all(np.diff(G) <= 1e-15)
        assert np.all(G >= 0.2 - 1e-12)  # zero rows never drop out


def test_width_matches_exact_sum_for_known_eigenvalues():
    lam = np.array([0.0, 0.5, 2.0, -3.0, 10.0])
    eps, R = 0.2, 1.7
    expected = np.mean(1.0 / (1.0 + R**2 * np.abs(lam) / (2 * eps)))
    got = gaussian_width(R, lam, np.full(5, 0.2), eps)
    assert got == pytest.approx(expected, rel=1e-12)
    flat = gaussian_width(R, lam, np.full(5, 0.2), eps, negative_eigenvalues="flat")
    expected_flat = np.mean(1.0 / (1.0 + R**2 * np.maximum(lam, 0) / (2 * eps)))
    assert flat == pytest.approx(expected_flat, rel=1e-12)
    assert flat > got  # the negative eigenvalue counts as flat


def test_zero_rows_combine_as_documented():
    lam = np.array([1.0, 4.0])
    tau = np.array([0.5, 0.5])
    p0 = 0.25
    g_quad = gaussian_width(2.0, lam, tau, 1.0)
    assert gaussian_width(2.0, lam, tau, 1.0, zero_row_fraction=p0) == pytest.approx(
        (1 - p0) * g_quad + p0
    )


def test_jensen_is_a_lower_bound():
    rng = np.random.RandomState(1)
    lam = rng.exponential(3.0, size=100)
    g = GaussianWidth(lam, np.full(100, 0.01), zero_row_fraction=0.1)
    R = np.linspace(0, 5, 50)
    assert np.all(g.jensen_lower_bound(R, 0.5) <= g(R, 0.5) + 1e-12)
    assert g.mean_curvature() == pytest.approx(0.9 * lam.mean())


def test_width_rejects_bad_epsilon():
    g = GaussianWidth([1.0], [1.0])
    with pytest.raises(ValueError, match="epsilon"):
        g(1.0, 0.0)


def test_radius_curve_matches_brute_force_at_grid_points():
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(7, 5, generator=g), torch.randn(11, generator=g)]
    rc = RadiusCurve(ws)
    a = np.sort(np.abs(np.concatenate([w.numpy().ravel() for w in ws]).astype(np.float64)))
    D = a.size
    for k in range(D + 1):
        assert rc(k / D) == pytest.approx(math.sqrt(np.sum(a[:k] ** 2)), rel=1e-9, abs=1e-12)
    rho = np.linspace(0, 1, 997)
    R = rc(rho)
    assert np.all(np.diff(R) >= 0)  # continuous and non-decreasing
    assert np.max(np.abs(np.diff(R))) < a.max()  # no jumps beyond one weight


def test_radius_zero_fraction():
    rc = RadiusCurve(np.array([0.0, 0.0, 0.0, 1.0]))
    assert rc.zero_fraction == 0.75
    assert rc(0.75) == 0.0


def test_solver_finds_the_unique_fixed_point():
    rng = np.random.RandomState(0)
    radius = RadiusCurve(rng.randn(1000))
    lam = rng.exponential(1.0, size=(2, 30))
    tau = np.full((2, 30), 1 / 30)
    g = GaussianWidth(lam, tau, zero_row_fraction=0.05)
    eps = 0.05
    rho = solve_pruning_limit(radius, g, eps)
    assert rho == pytest.approx(float(g(radius(rho), eps)), abs=2e-6)
    # brute force on a fine grid: the sign of rho - G(R(rho)) changes once
    grid = np.linspace(0, 1, 20001)
    f = grid - g(radius(grid), eps)
    assert np.all(np.diff(f) > 0)
    assert abs(grid[np.argmax(f >= 0)] - rho) < 1e-4
    per_probe = solve_pruning_limit(radius, g, eps, per_probe=True)
    assert per_probe.min() <= rho <= per_probe.max()
    slack = akf_slack(radius.n_params)
    lo = solve_pruning_limit(radius, g, eps, offset=-slack)
    hi = solve_pruning_limit(radius, g, eps, offset=slack)
    assert lo < rho < hi


def test_solver_clips_to_a_valid_sparsity():
    radius = RadiusCurve(np.ones(50))
    flat = GaussianWidth(np.zeros(3), np.full(3, 1 / 3))
    assert solve_pruning_limit(radius, flat, 1.0) == pytest.approx(1 - 1 / 50)
    assert solve_pruning_limit(radius, flat, 1.0, offset=-2.0) == 0.0


def test_akf_slack_value():
    assert akf_slack(100) == pytest.approx(math.sqrt(8 * math.log(80)) / 10)
    with pytest.raises(ValueError):
        akf_slack(100, eta=0.0)


@pytest.mark.parametrize(
    "nodes, weights, match",
    [
        ([1.0, np.nan, 2.0], np.full(3, 1 / 3), "nodes"),
        ([1.0, np.inf, 2.0], np.full(3, 1 / 3), "nodes"),  # was taken as curvature 0: term 1
        ([1.0, 3.0, 2.0], [0.5, np.nan, 0.5], "weights"),  # was G = NaN
        ([1.0, 3.0, 2.0], [1.5, -1.0, 0.5], "weights"),
        ([1.0, 3.0, 2.0], np.ones(3), "sum to 1|summing to 1"),  # was G up to 3
        (np.zeros(0), np.zeros(0), "at least one node"),  # was G = 0
    ],
)
def test_width_refuses_a_quadrature_that_is_not_one(nodes, weights, match):
    with pytest.raises(ValueError, match=match):
        GaussianWidth(nodes, weights)
    with pytest.raises(ValueError, match=match):
        gaussian_width(1.0, nodes, weights, 1.0)


@pytest.mark.parametrize("R", [np.nan, -1.0])
def test_width_refuses_nan_or_negative_radii(R):
    g = GaussianWidth([1.0, 2.0], [0.5, 0.5])
    for call in (
        lambda: g(R, 1.0),
        lambda: g.at_probe_radii(np.array([R]), 1.0),
        lambda: g.jensen_lower_bound(R, 1.0),
    ):
        with pytest.raises(ValueError, match="`R`"):
            call()


def test_width_with_overflowing_radius_keeps_zero_curvature_terms():
    """R^2 / (2 eps) = inf (R infinite, or eps tiny): the terms of zero eigenvalues stay 1, the
    others 0 -- inf * 0 used to make G NaN, and the solver then failed on it."""
    lam = np.array([0.0, 0.0, 3.0, -2.0, 1e-3])
    tau = np.full(5, 0.2)
    g = GaussianWidth(lam, tau)
    for R, eps in ((np.inf, 1.0), (1.0, 5e-324), (1e200, 1e-200)):
        assert float(g(R, eps)) == pytest.approx(0.4, abs=1e-12)
        assert g.at_probe_radii(np.array([R]), eps)[0] == pytest.approx(0.4, abs=1e-12)
    assert GaussianWidth(np.zeros(2), [0.5, 0.5]).jensen_lower_bound(np.inf, 1.0) == 1.0
    # the solver through it: an independent bisection of rho = G(R(rho)) on the exact sum
    w = np.array([0.3, 0.2, 0.1, 0.4, 0.5])
    radius = RadiusCurve(w)
    eps = 1e-310  # R^2 / (2 eps) overflows for every rho > 0

    def gap(rho):
        r2 = np.interp(rho * 5, np.arange(6), np.r_[0.0, np.cumsum(np.sort(w**2))])
        return rho - (np.mean(lam == 0) if r2 > 0 else 1.0)

    lo, hi = 0.0, 1.0
    for _ in range(60):
        lo, hi = (lo, (lo + hi) / 2) if gap((lo + hi) / 2) > 0 else ((lo + hi) / 2, hi)
    assert solve_pruning_limit(radius, g, eps) == pytest.approx(lo, abs=1e-6)
    assert solve_pruning_limit(radius, g, eps, per_probe=True)[0] == pytest.approx(lo, abs=1e-6)


def test_radius_curve_refuses_nan_rho_and_overflowing_weights():
    rc = RadiusCurve(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="`rho`"):  # was an IndexError
        rc(np.nan)
    with pytest.raises(ValueError, match="`rho`"):
        rc.squared(np.array([0.5, np.nan]))
    assert rc(np.inf) == rc(1.0) == pytest.approx(math.sqrt(5.0))  # clipped, as documented
    with pytest.raises(ValueError, match="overflows float64"):  # was R = inf
        RadiusCurve(np.array([1e160, 1.0]))


@pytest.mark.parametrize("per_probe", [False, True])
def test_solver_validates_tol_and_offset(per_probe):
    radius = RadiusCurve(np.linspace(0.0, 1.0, 11))
    g = GaussianWidth([1.0], [1.0])
    for tol in (0.0, -1.0, np.nan, None, "1e-6"):
        with pytest.raises(ValueError, match="`tol`"):
            solve_pruning_limit(radius, g, 1.0, tol=tol, per_probe=per_probe)
    for offset in (np.nan, np.inf, None):
        with pytest.raises(ValueError, match="`offset`"):  # NaN gave a silent 2.4e-7
            solve_pruning_limit(radius, g, 1.0, offset=offset, per_probe=per_probe)
    # a coarse tol still brackets the root to within tol
    fine = solve_pruning_limit(radius, g, 1.0, per_probe=per_probe, tol=1e-12)
    coarse = solve_pruning_limit(radius, g, 1.0, per_probe=per_probe, tol=0.1)
    assert np.all(np.abs(np.asarray(coarse) - fine) <= 0.1)


def test_akf_slack_refuses_a_weight_count_that_is_not_a_positive_int():
    # 0 divided by zero, -1 failed in math.sqrt, 10.5 was truncated to 10
    assert akf_slack(np.int64(100)) == pytest.approx(math.sqrt(8 * math.log(80)) / 10)
    for bad in (0, -1, 10.5, True):
        with pytest.raises(ValueError, match=f"`n_params` must be a positive int.*got {bad!r}"):
            akf_slack(bad)
