"""Trace, top eigenvalues and SLQ on real (small) network Hessians vs dense eigvalsh."""

import numpy as np
import pytest
import torch
from torch import nn

from sparselimit.curvature import HessianOperator
from sparselimit.curvature._dense import dense_hessian
from sparselimit.spectral import (
    hutchinson_trace,
    slq_spectrum,
    top_eigenvalues,
    zero_curvature_mask,
)
from sparselimit.utils import make_generator


def _op(dtype=torch.float64, dead_unit=False, n=40):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    if dead_unit:  # hidden unit 2 never fires: its in- and out-weights have zero Hessian rows
        with torch.no_grad():
            net[0].weight[2] = 0.0
            net[0].bias[2] = -1.0
    X = torch.randn(n, 6, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (n,), generator=torch.Generator().manual_seed(2))
    return HessianOperator(
        net, nn.CrossEntropyLoss(), X, y, params="all", dtype=dtype, batch_size=16
    )


@pytest.fixture(scope="module")
def op_and_eigs():
    op = _op()
    H = dense_hessian(op).numpy()
    return op, H, np.linalg.eigvalsh(H)


def test_top_eigenvalues_match_eigvalsh(op_and_eigs):
    op, _, eigs = op_and_eigs
    top = top_eigenvalues(op, k=3, random_state=0)
    np.testing.assert_allclose(top, eigs[::-1][:3], rtol=1e-6)
    lan = top_eigenvalues(op, k=2, method="lanczos", random_state=0)
    np.testing.assert_allclose(lan, eigs[::-1][:2], rtol=1e-6)
    np.testing.assert_allclose(
        top_eigenvalues(op, 1, which="SA", random_state=0), eigs[:1], rtol=1e-5, atol=1e-8
    )
    with pytest.raises(ValueError, match="`k`"):
        top_eigenvalues(op, k=0)


def test_float32_top_eigenvalue_and_slq_trace(op_and_eigs):
    _, H, eigs = op_and_eigs
    op32 = _op(torch.float32)
    assert top_eigenvalues(op32, random_state=0)[0] == pytest.approx(eigs[-1], rel=1e-4)
    sd = slq_spectrum(op32, 8, 30, random_state=0)
    assert sd.nodes.max() == pytest.approx(eigs[-1], rel=1e-4)
    off = H - np.diag(np.diag(H))
    tol = 4 * np.sqrt(2 * (off**2).sum() / 8)  # 4 std of the 8-probe Hutchinson mean
    assert abs(sd.trace() - np.trace(H)) < tol


def test_hutchinson_trace(op_and_eigs):
    op, H, _ = op_and_eigs
    est, samples = hutchinson_trace(op, 64, random_state=0, return_samples=True)
    assert samples.shape == (64,) and est == pytest.approx(samples.mean())
    off = H - np.diag(np.diag(H))
    assert abs(est - np.trace(H)) < 4 * np.sqrt(2 * (off**2).sum() / 64)
    assert hutchinson_trace(op, 5, random_state=0) == hutchinson_trace(
        op, 5, random_state=0, block_size=2
    )
    # the probes are the rows of one (n_samples, D) Rademacher draw from the seed's generator,
    # however they are blocked: recompute z^T H z from such a draw
    D = H.shape[0]
    gen = make_generator(0)
    Z = (torch.randint(0, 2, (5, D), generator=gen).double() * 2 - 1).numpy()
    _, per_probe = hutchinson_trace(op, 5, random_state=0, block_size=3, return_samples=True)
    np.testing.assert_allclose(per_probe, np.einsum("pd,de,pe->p", Z, H, Z), rtol=1e-4)


@pytest.mark.filterwarnings("ignore::sparselimit.spectral.LanczosBreakdownWarning")
def test_slq_on_net_is_exact_at_D_steps_and_reproducible(op_and_eigs):
    op, H, eigs = op_and_eigs
    D = op.shape[0]
    sd = slq_spectrum(op, 2, D, random_state=0)
    assert sd.nodes.min() >= eigs[0] - 1e-9 and sd.nodes.max() <= eigs[-1] + 1e-9
    # each probe's quadrature is v^T f(H) v exactly; the nodes are the eigenvalues it sees
    f = lambda t: 1 / (1 + 3 * np.abs(t))  # noqa: E731
    from sparselimit.spectral._slq import _rademacher
    from sparselimit.utils import make_generator

    V = (_rademacher(make_generator(0), D, 2) / np.sqrt(D)).numpy()
    w, Q = np.linalg.eigh(H)
    np.testing.assert_allclose(sd.quadrature(f), ((Q.T @ V) ** 2 * f(w)[:, None]).sum(0), atol=1e-9)
    again = slq_spectrum(op, 2, 10, random_state=5)
    assert np.array_equal(again.nodes, slq_spectrum(op, 2, 10, random_state=5).nodes)
    assert not np.allclose(again.nodes, slq_spectrum(op, 2, 10, random_state=6).nodes)


@pytest.mark.filterwarnings("ignore::sparselimit.spectral.LanczosBreakdownWarning")
def test_dead_unit_rows_are_found_and_deflated():
    op = _op(dead_unit=True)
    H = dense_hessian(op)
    zero_rows = (H.abs().amax(dim=1) == 0).numpy()
    assert zero_rows.sum() == 6 + 1 + 3  # in-weights, bias, out-weights of the dead unit
    mask = zero_curvature_mask(op, random_state=0)
    assert mask.numpy().tolist() == zero_rows.tolist()
    op32 = _op(torch.float32, dead_unit=True)
    assert zero_curvature_mask(op32, random_state=0).numpy().tolist() == zero_rows.tolist()
    D = op.shape[0]
    sd = slq_spectrum(op, 1, D, random_state=0, deflate_zero_rows=True)
    assert sd.n_params == D - 10 and sd.zero_row_fraction == pytest.approx(10 / D)
    sub = H[~torch.as_tensor(zero_rows)][:, ~torch.as_tensor(zero_rows)].numpy()
    assert sd.nodes.max() == pytest.approx(np.linalg.eigvalsh(sub)[-1], rel=1e-9)


def test_top_eigenvalues_of_an_all_dead_network_are_zero():
    """Every hidden ReLU dead: the Hessian of the weights is exactly 0, and ARPACK stopped with
    'ARPACK error -9: Starting vector is zero' (HessianSpectrum.fit raised it too)."""
    from skorch import NeuralNetClassifier

    from sparselimit.spectral import HessianSpectrum

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        module[0].bias.fill_(-100.0)
    X = torch.randn(40, 6, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(2))
    names = ["0.weight", "2.weight"]
    op = HessianOperator(module, nn.CrossEntropyLoss(), X, y, params=names, dtype=torch.float64)
    H = dense_hessian(op)  # torch.func.hessian, independent of the products
    eigs = np.linalg.eigvalsh(H.numpy())
    assert not H.any() and not eigs.any()
    np.testing.assert_array_equal(top_eigenvalues(op, k=3, random_state=0), eigs[:3])
    np.testing.assert_array_equal(top_eigenvalues(op, k=2, which="LM", random_state=0), [0, 0])
    net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, verbose=0).initialize()
    hs = HessianSpectrum(net, prefit=True, n_lanczos_steps=5, params=names, random_state=0)
    hs.fit(X.numpy(), y.numpy())
    assert hs.top_eigenvalues_.tolist() == [0.0]
