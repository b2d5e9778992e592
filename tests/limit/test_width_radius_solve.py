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
