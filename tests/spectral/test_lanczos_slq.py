"""Lanczos and SLQ on operators with known spectra (float64 where exactness is claimed)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import aslinearoperator

from sparselimit.spectral import (
    LanczosBreakdownWarning,
    SpectralDensity,
    lanczos,
    slq_spectrum,
    zero_curvature_mask,
)
from sparselimit.spectral._slq import _rademacher
from sparselimit.utils import make_generator

C = 0.5


def f_width(t):
    return 1.0 / (1.0 + C * np.abs(t))


def _rotated(lam, seed=0):
    Q, _ = np.linalg.qr(np.random.RandomState(seed).randn(len(lam), len(lam)))
    return (Q * lam) @ Q.T, Q


def _mixed_spectrum(D=120, seed=0):
    """Zero, negative, bulk and outlier eigenvalues."""
    rng = np.random.RandomState(seed)
    n = D - 25
    return np.concatenate(
        [
            np.zeros(10),
            -rng.uniform(0, 1, 10),
            rng.exponential(2.0, n),
            [30.0, 50.0, 80.0, 120.0, 200.0],
        ]
    )


def _probes(random_state, D, p):
    return (_rademacher(make_generator(random_state), D, p) / np.sqrt(D)).numpy()


def test_lanczos_tridiagonal_is_exact_after_D_steps_and_basis_orthonormal():
    lam = np.linspace(-2.0, 5.0, 40)
    H, _ = _rotated(lam)
    v0 = np.random.RandomState(1).randn(40)
    a, b, Q = lanczos(H, v0, n_steps=60, return_basis=True)  # capped at D = 40
    assert a.dtype == np.float64 and b.dtype == np.float64 and len(a) == 40 and len(b) == 39
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    np.testing.assert_allclose(np.linalg.eigvalsh(T), lam, atol=1e-10)
    Qn = Q.numpy()
    np.testing.assert_allclose(Qn @ Qn.T, np.eye(40), atol=1e-12)
    np.testing.assert_allclose(Qn @ H @ Qn.T, T, atol=1e-10)


def test_float32_operator_reorthogonalises_in_float32_and_stays_orthonormal():
    # A float32 operator gets a float32 reorthogonalisation basis (the products' precision):
    # the float64 recurrence must stay orthonormal to float32 level and find the outliers
    # without the ghost copies the plain three-term recurrence produces.
    rng = np.random.RandomState(0)
    outliers = [30.0, 50.0, 80.0, 120.0, 200.0]
    lam = np.concatenate([rng.uniform(-1, 1, 280), rng.uniform(10, 20, 15), outliers])
    H, _ = _rotated(lam)
    v0 = rng.randn(300)
    H32 = torch.tensor(H, dtype=torch.float32)
    a, b, Q = lanczos(H32, v0, 120, return_basis=True)
    Qn = Q.numpy()
    assert Qn.dtype == np.float64
    assert np.abs(Qn @ Qn.T - np.eye(120)).max() < 1e-6
    top = np.linalg.eigvalsh(np.diag(a) + np.diag(b, 1) + np.diag(b, -1))[-5:]
    np.testing.assert_allclose(top, outliers, rtol=1e-6)
    a, b, Q = lanczos(H32, v0, 120, return_basis=True, reorthogonalize="local")
    Qn = Q.numpy()
    assert np.abs(Qn @ Qn.T - np.eye(120)).max() > 0.1  # the check above can fail
    top = np.linalg.eigvalsh(np.diag(a) + np.diag(b, 1) + np.diag(b, -1))[-2:]
    assert abs(top[0] - top[1]) < 1e-3  # a ghost copy of 200


def test_lanczos_local_reorthogonalization_and_block_start():
    H, _ = _rotated(np.linspace(1.0, 2.0, 30))
    a, b = lanczos(
        torch.tensor(H), torch.ones(30, dtype=torch.float64), 10, reorthogonalize="local"
    )
    a_full, b_full = lanczos(H, np.ones(30), 10)
    np.testing.assert_allclose(a, a_full, atol=1e-8)
    alist, blist = lanczos(H, np.ones((30, 2)), 10)  # two recurrences in lockstep
    assert len(alist) == 2
    np.testing.assert_allclose(alist[1], a_full, atol=1e-12)
    with pytest.raises(ValueError, match="reorthogonalize"):
        lanczos(H, np.ones(30), 3, reorthogonalize="twice")
    with pytest.raises(ValueError, match="v0"):
        lanczos(H, np.ones(29), 3)
    with pytest.raises(ValueError, match="non-zero"):
        lanczos(H, np.zeros(30), 3)


def test_breakdown_stops_early_with_typed_warning_and_no_nan():
    # low rank plus identity: 6 distinct eigenvalues -> invariant Krylov space after 6 steps
    rng = np.random.RandomState(0)
    U, _ = np.linalg.qr(rng.randn(300, 5))
    s = np.array([1.0, 3.0, 10.0, 40.0, 100.0])
    H = 0.5 * np.eye(300) + (U * s) @ U.T
    with pytest.warns(LanczosBreakdownWarning, match="after 6 of"):
        a, b = lanczos(H, rng.randn(300), 50)
    assert len(a) == 6 and np.isfinite(a).all() and np.isfinite(b).all()
    with pytest.warns(LanczosBreakdownWarning):
        sd = slq_spectrum(aslinearoperator(H), n_probes=3, n_lanczos_steps=50, random_state=0)
    assert sd.nodes.shape == (3, 6) and sd.n_steps.tolist() == [6, 6, 6]
    np.testing.assert_allclose(np.sort(sd.nodes[0]), np.sort(np.r_[0.5, 0.5 + s]), atol=1e-10)
    # the quadrature is exact per probe once the space is invariant
    lam = np.r_[np.full(295, 0.5), 0.5 + s]
    V = _probes(0, 300, 3)
    w, Qf = np.linalg.eigh(H)
    exact = ((Qf.T @ V) ** 2 * f_width(w)[:, None]).sum(0)
    np.testing.assert_allclose(sd.quadrature(f_width), exact, atol=1e-12)
    fH = (Qf * f_width(w)) @ Qf.T
    probe_sd = np.sqrt(2.0 * ((fH - np.diag(np.diag(fH))) ** 2).sum()) / 300
    assert abs(sd.quadrature(f_width).mean() - f_width(lam).mean()) < 4 * probe_sd / np.sqrt(3)
    # zero operator: breaks down after one step, one node at 0
    with pytest.warns(LanczosBreakdownWarning):
        sd0 = slq_spectrum(np.zeros((10, 10)), 2, 5, random_state=0)
    assert sd0.nodes.tolist() == [[0.0], [0.0]] and sd0.weights.tolist() == [[1.0], [1.0]]


def test_padding_of_probes_that_stop_early():
    lam = np.r_[np.ones(10), np.arange(2.0, 12.0)]  # 11 distinct eigenvalues
    H = np.diag(lam)
    v = np.ones((20, 2))
    v[:10, 1] = 0.0  # second probe only sees 10 distinct eigenvalues
    with pytest.warns(LanczosBreakdownWarning):
        alphas, _ = lanczos(H, v, 20)
    assert [len(a) for a in alphas] == [11, 10]
    with pytest.warns(LanczosBreakdownWarning):
        sd = slq_spectrum(H, 4, 20, random_state=0)
    assert sd.nodes.shape == (4, 11)
    sd2 = SpectralDensity.from_lanczos(
        [[1.0, 0.0], [2.0, 7.0]], [[0.5, 0.0], [0.0, 0.0]], [2, 1], n_params=2
    )
    assert sd2.weights[1].tolist() == [1.0, 0.0]
    assert sd2.nodes[1, 1] == sd2.nodes[1, 0] == 2.0  # padded with a Ritz value, weight 0


@pytest.mark.parametrize("kind", ["diagonal", "rotated"])
def test_slq_weights_nodes_and_exactness_at_D_steps(kind):
    lam = _mixed_spectrum()
    D = len(lam)
    H = np.diag(lam) if kind == "diagonal" else _rotated(lam)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LanczosBreakdownWarning)  # repeated zeros
        sd = slq_spectrum(torch.tensor(H), n_probes=4, n_lanczos_steps=D, random_state=0)
    assert sd.nodes.dtype == np.float64 and sd.n_params == D
    assert (sd.weights >= 0).all()
    np.testing.assert_allclose(sd.weights.sum(axis=1), 1.0, atol=1e-12)
    assert sd.nodes.min() >= lam.min() - 1e-10 and sd.nodes.max() <= lam.max() + 1e-10
    # exact per probe: sum_k tau_k f(theta_k) = v^T f(H) v
    w, Q = np.linalg.eigh(H)
    V = _probes(0, D, 4)
    exact = ((Q.T @ V) ** 2 * f_width(w)[:, None]).sum(0)
    np.testing.assert_allclose(sd.quadrature(f_width), exact, atol=1e-10)
    if kind == "diagonal":  # Rademacher probes are exact on diagonal matrices
        np.testing.assert_allclose(sd.quadrature(f_width), f_width(lam).mean(), atol=1e-10)
        np.testing.assert_allclose(sd.moments(2), [lam.mean(), (lam**2).mean()], rtol=1e-10)
        assert sd.trace() == pytest.approx(lam.sum(), rel=1e-10)


def test_slq_quadrature_error_tightens_with_steps():
    lam = _mixed_spectrum()
    D = len(lam)
    H, Q = _rotated(lam)
    V = _probes(0, D, 4)
    exact = ((Q.T @ V) ** 2 * f_width(lam)[:, None]).sum(0)
    # Lanczos error of the width function |sum tau f(theta) - v^T f(H) v|, per probe
    bounds = {5: 0.1, 10: 0.05, 20: 0.01, 40: 1e-4, 90: 1e-10}
    errors = {}
    for m, bound in bounds.items():
        sd = slq_spectrum(H, 4, m, random_state=0)
        errors[m] = np.abs(sd.quadrature(f_width) - exact).max()
        assert errors[m] <= bound, (m, errors[m])
        # moments of degree < 2m are exact per probe (Gauss quadrature)
        for j in (1, 2):
            vj = np.einsum("ip,i,ip->p", Q.T @ V, lam**j, Q.T @ V)
            np.testing.assert_allclose(sd.quadrature(lambda t, j=j: t**j), vj, rtol=1e-9)
    assert errors[40] < errors[10]


@pytest.mark.parametrize("n_probes", [4, 64])
def test_slq_probe_average_within_hutchinson_error(n_probes):
    lam = _mixed_spectrum()
    D = len(lam)
    H, Q = _rotated(lam)
    sd = slq_spectrum(H, n_probes, 40, random_state=3)
    for j, A in ((1, H), (2, H @ H)):
        off = A - np.diag(np.diag(A))
        sd_probe = np.sqrt(2.0 * (off**2).sum()) / D  # std of v^T A v, Rademacher unit v
        tol = 4.0 * sd_probe / np.sqrt(n_probes)
        assert abs(sd.moments(2)[j - 1] - (lam**j).mean()) <= tol
    fH = (Q * f_width(lam)) @ Q.T
    off = fH - np.diag(np.diag(fH))
    tol = 4.0 * np.sqrt(2.0 * (off**2).sum()) / D / np.sqrt(n_probes) + 1e-4
    assert abs(sd.quadrature(f_width).mean() - f_width(lam).mean()) <= tol
    assert sd.trace() == pytest.approx(D * sd.moments(1)[0])


def test_same_random_state_same_spectrum_and_lockstep_equals_sequential():
    H, _ = _rotated(_mixed_spectrum())
    a = slq_spectrum(H, 3, 20, random_state=7)
    b = slq_spectrum(H, 3, 20, random_state=7)
    c = slq_spectrum(H, 3, 20, random_state=8)
    seq = slq_spectrum(H, 3, 20, random_state=7, lockstep=False)
    assert np.array_equal(a.nodes, b.nodes) and np.array_equal(a.weights, b.weights)
    assert not np.allclose(a.nodes, c.nodes)
    assert a.allclose(seq, rtol=1e-10, atol=1e-12)
    state = torch.get_rng_state()
    slq_spectrum(H, 1, 5, random_state=None)
    assert torch.equal(state, torch.get_rng_state())  # global RNG untouched


def test_zero_curvature_mask_and_deflation():
    rng = np.random.RandomState(0)
    lam = np.r_[np.zeros(30), rng.uniform(-1, 5, 70)]
    perm = rng.permutation(100)
    lam = lam[perm]
    H = np.diag(lam)
    mask = zero_curvature_mask(torch.tensor(H), random_state=0)
    assert mask.dtype == torch.bool and mask.numpy().tolist() == (lam == 0).tolist()
    sd = slq_spectrum(H, 2, 100, random_state=0, deflate_zero_rows=True)
    assert sd.n_params == 70 and sd.n_zero_rows == 30 and sd.zero_row_fraction == 0.3
    assert (sd.n_steps == 70).all()
    np.testing.assert_allclose(
        sd.quadrature(f_width, include_zero_rows=True), f_width(lam).mean(), atol=1e-12
    )
    np.testing.assert_allclose(sd.quadrature(f_width), f_width(lam[lam != 0]).mean(), atol=1e-12)
    assert sd.trace() == pytest.approx(lam.sum(), rel=1e-10)
    # a dense (rotated) block plus zero rows: tolerance relative to the scale
    B, _ = _rotated(rng.uniform(1, 2, 20))
    H2 = np.zeros((30, 30))
    H2[:20, :20] = B
    H2[20:, 20:] = 1e-9 * np.eye(10)  # far below rtol * max|Hv|: counted as zero
    assert zero_curvature_mask(H2, random_state=1).numpy().tolist() == [False] * 20 + [True] * 10
    assert not zero_curvature_mask(H2, atol=1e-12, random_state=1).any()
    everything = slq_spectrum(np.zeros((5, 5)), 2, 5, random_state=0, deflate_zero_rows=True)
    assert everything.zero_row_fraction == 1.0 and everything.n_params == 0
    assert everything.quadrature(f_width, include_zero_rows=True).tolist() == [1.0, 1.0]


def test_stop_when_and_callback():
    H, _ = _rotated(_mixed_spectrum())
    seen = []
    history = []

    def stop_when(partial):
        g = partial.quadrature(f_width).mean()
        done = bool(history) and abs(g - history[-1]) < 1e-4
        history.append(g)
        return done

    sd = slq_spectrum(
        H,
        2,
        100,
        random_state=0,
        stop_when=stop_when,
        callback=lambda step, p: seen.append((step, p.n_steps.tolist())),
    )
    assert sd.n_steps[0] == len(history) < 100
    assert seen[0] == (1, [1, 1]) and seen[-1][0] == len(history)
    full = slq_spectrum(H, 2, 100, random_state=0)
    assert abs(sd.quadrature(f_width).mean() - full.quadrature(f_width).mean()) < 1e-3
    with pytest.raises(ValueError, match="lockstep"):
        slq_spectrum(H, 2, 5, stop_when=stop_when, lockstep=False)
    with pytest.raises(TypeError, match="callable"):
        slq_spectrum(H, 2, 5, callback=3)


def test_spectral_density_object():
    sd = SpectralDensity(
        nodes=[[0.0, 2.0], [1.0, 1.0]],
        weights=[[0.5, 0.5], [1.0, 0.0]],
        n_params=10,
        zero_row_fraction=1 / 3,
        n_zero_rows=5,
    )
    assert sd.n_probes == 2 and sd.n_steps.tolist() == [2, 2]
    np.testing.assert_allclose(sd.quadrature(lambda t: t), [1.0, 1.0])
    np.testing.assert_allclose(sd.quadrature(lambda t: t, include_zero_rows=True), [2 / 3] * 2)
    assert sd.trace() == 10.0
    grid = np.linspace(-5, 7, 4001)
    dens = sd.density(grid, 0.1)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-6)
    full = sd.density(grid, 0.1, include_zero_rows=True)
    assert np.trapezoid(full, grid) == pytest.approx(1.0, abs=1e-6)
    assert full[np.argmin(np.abs(grid))] > dens[np.argmin(np.abs(grid))]
    clone = pickle.loads(pickle.dumps(sd))
    assert clone.allclose(sd) and clone.n_zero_rows == 5
    with pytest.raises(dataclasses_frozen_error()):
        sd.n_params = 3
    with pytest.raises(ValueError, match="sum to 1"):
        SpectralDensity(nodes=[[0.0]], weights=[[0.5]], n_params=1)
    with pytest.raises(ValueError, match="sigma"):
        sd.density(grid, 0.0)


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_basis_larger_than_free_memory_is_refused_before_any_product(monkeypatch):
    from sparselimit.spectral import _lanczos, slq_spectrum

    A = torch.diag(torch.arange(1.0, 101.0))  # float32 operator: a float32 basis
    # 3 probes x 20 steps x 100 weights x 4 bytes = 24,000 bytes
    monkeypatch.setattr(_lanczos, "_available_bytes", lambda device: 23_999)
    message = r"3 probe\(s\) x 20 steps x 100 weights.*n_lanczos_steps"
    with pytest.raises(MemoryError, match=message):
        slq_spectrum(A, n_probes=3, n_lanczos_steps=20, random_state=0)
    # one probe at a time needs a third; the local recurrence keeps no basis
    slq_spectrum(A, n_probes=3, n_lanczos_steps=20, random_state=0, lockstep=False)
    slq_spectrum(A, n_probes=3, n_lanczos_steps=20, random_state=0, reorthogonalize="local")
    monkeypatch.setattr(_lanczos, "_available_bytes", lambda device: 24_000)
    slq_spectrum(A, n_probes=3, n_lanczos_steps=20, random_state=0)
    # the returned float64 basis counts too: 20 x 100 x (4 + 8) bytes
    monkeypatch.setattr(_lanczos, "_available_bytes", lambda device: 23_999)
    with pytest.raises(MemoryError):
        lanczos(A, np.ones(100), n_steps=20, return_basis=True)


def test_available_bytes_reads_this_machine():
    from sparselimit.spectral._lanczos import _available_bytes

    free = _available_bytes(torch.device("cpu"))
    assert free is None or 2**20 < free < 2**50
    assert _available_bytes(torch.device("meta")) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_zero_row_search_refuses_non_finite_products(bad):
    """inf made the tolerance infinite and flagged every row, so slq_spectrum returned p0 = 1
    (G = 1, the largest possible limit) without a word; NaN flagged none."""
    H = np.diag([1.0, bad, 0.0, 2.0])
    with pytest.raises(ValueError, match="not finite"):
        zero_curvature_mask(H, random_state=0)
    with pytest.raises(ValueError, match="not finite"):
        slq_spectrum(H, 1, 4, random_state=0, deflate_zero_rows=True)


def test_breakdown_warning_names_the_precision_it_is_exact_to():
    """float32 products cannot tell apart eigenvalues closer than ~6e-6 ||T||: a cluster below
    that (one layer's curvature 1e-7 of another's) becomes one node. The warning used to call
    the quadrature exact; it now says what is merged, and float64 products resolve it."""
    lam = np.r_[1e-7 * np.arange(1.0, 9.0), 0.5, 1.0, 2.0]
    with pytest.warns(LanczosBreakdownWarning, match="merged into one node.*float32") as rec:
        sd32 = slq_spectrum(
            torch.diag(torch.tensor(lam, dtype=torch.float32)), 1, 11, random_state=0
        )
    assert "float64 products resolve" in str(rec[0].message)
    assert sd32.n_steps[0] < 11  # the cluster of eight is one node
    sd64 = slq_spectrum(np.diag(lam), 1, 11, random_state=0, rule="gauss")
    np.testing.assert_allclose(np.sort(sd64.nodes[0]), lam, rtol=1e-6, atol=1e-15)
