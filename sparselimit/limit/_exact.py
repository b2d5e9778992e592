"""Dense float64 Hessian of the data loss over the prunable weights (small networks only).

This is the reference the stochastic Lanczos path is tested against, and the exact option
``PruningLimitEstimator(spectrum="exact")`` for networks with a few thousand prunable weights.
The Hessian is built column by column from Hessian-vector products (reverse-over-reverse:
``torch.func.vjp`` of ``torch.func.grad``, vectorised over chunks of unit vectors with
``torch.func.vmap``; forward-over-reverse raises a ZeroTensor error with some losses) on a
float64 copy of the module in eval mode.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.func import functional_call, grad, vjp, vmap

__all__ = ["dense_hessian", "exact_spectrum", "ZERO_ROW_RTOL"]

#: rows of the Hessian whose largest entry is at most this times the largest entry of the
#: whole Hessian are treated as zero rows (dead units; the SLQ path's default is also 1e-6
#: relative to the scale of its products).
ZERO_ROW_RTOL = 1e-6


def dense_hessian(module, loss_fn, X, y, param_names, *, batch_size=1024, chunk_size=256):
    """The dense Hessian of ``mean loss_fn(module(X), y)`` w.r.t. the named parameters.

    Parameters
    ----------
    module : torch.nn.Module
        Left untouched: a float64 copy in eval mode is differentiated.
    loss_fn : callable ``(y_pred, y_true) -> scalar``
        Mean loss of a batch.
    X, y : torch.Tensor
        The data (``y`` may be None); batches are weighted by their size.
    param_names : list of str
        Parameters (as in ``module.named_parameters()``) spanning the Hessian, flattened and
        concatenated in this order.
    batch_size : int, default=1024
        Samples per forward pass.
    chunk_size : int, default=256
        Columns computed per vectorised HVP.

    Returns
    -------
    H : ndarray of shape (D, D), float64, symmetrised.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparselimit.limit._exact import dense_hessian
    >>> lin = nn.Linear(2, 1, bias=False)
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 2.0]]); y = torch.zeros(2, 1)
    >>> dense_hessian(lin, nn.functional.mse_loss, X, y, ["weight"])  # 2/n X^T X
    array([[1., 0.],
           [0., 4.]])
    """
    device = next(iter(module.parameters())).device
    m = copy.deepcopy(module).to(dtype=torch.float64).eval()
    named = dict(m.named_parameters())
    missing = [n for n in param_names if n not in named]
    if missing:
        raise KeyError(f"Parameters {missing} are not parameters of {type(module).__name__}.")
    fixed = {n: p.detach() for n, p in named.items() if n not in param_names}
    fixed.update({n: b for n, b in m.named_buffers()})
    shapes = [named[n].shape for n in param_names]
    sizes = [named[n].numel() for n in param_names]
    w0 = torch.cat([named[n].detach().reshape(-1) for n in param_names])
    D = w0.numel()

    def unflat(flat):
        return {n: t.view(s) for n, t, s in zip(param_names, flat.split(sizes), shapes)}

    def loss_at(flat, xb, yb):
        out = functional_call(m, {**fixed, **unflat(flat)}, (xb,))
        return loss_fn(out, yb)

    X = _to64(X, device)
    y = _to64(y, device) if y is not None else None
    n = len(X)
    H = torch.zeros(D, D, dtype=torch.float64, device=device)
    eye = torch.eye(D, dtype=torch.float64, device=device)
    for start in range(0, n, int(batch_size)):
        xb = X[start : start + batch_size]
        yb = y[start : start + batch_size] if y is not None else None
        g = grad(lambda w, xb=xb, yb=yb: loss_at(w, xb, yb))
        _, pullback = vjp(g, w0)  # one backward graph per batch, reused by every column

        def hvp(v, pullback=pullback):
            return pullback(v)[0]

        weight = len(xb) / n
        for c in range(0, D, int(chunk_size)):
            cols = vmap(hvp)(eye[c : c + chunk_size])  # rows of H = columns (symmetric)
            H[c : c + chunk_size] += weight * cols
    H = 0.5 * (H + H.T)
    if not bool(torch.isfinite(H).all()):
        raise ValueError(
            "The Hessian holds NaN or infinity: the loss is not finite or not twice "
            "differentiable at these weights. Check the data and retrain the network."
        )
    return H.cpu().numpy()


def _to64(t, device):
    t = torch.as_tensor(t).to(device)
    return t.to(torch.float64) if t.is_floating_point() else t


def exact_spectrum(H, *, deflate_zero_rows=True, zero_row_rtol=ZERO_ROW_RTOL):
    """Eigendecompose a dense symmetric ``H`` (``numpy.linalg.eigvalsh``) into a quadrature.

    The result is a :class:`~sparselimit.spectral.SpectralDensity` with one "probe" holding
    all eigenvalues, each with weight ``1 / n`` -- the exact ``tr f(H) / D``. With
    ``deflate_zero_rows`` the rows (and columns) whose largest entry is at most
    ``zero_row_rtol * max|H|`` are removed first and reported as ``zero_row_fraction``, as on
    the stochastic path; their eigenvalues are zero, so G is unchanged by the deflation.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.limit._exact import exact_spectrum
    >>> s = exact_spectrum(np.diag([0.0, 1.0, 3.0, 0.0]))
    >>> s.zero_row_fraction, s.nodes.tolist(), s.n_zero_rows
    (0.5, [[1.0, 3.0]], 2)
    """
    from ..spectral import SpectralDensity

    H = np.asarray(H, dtype=np.float64)
    D = H.shape[0]
    row_max = np.abs(H).max(axis=1) if D else np.zeros(0)
    if deflate_zero_rows:
        keep = row_max > zero_row_rtol * (row_max.max() if D else 0.0)
    else:
        keep = np.ones(D, dtype=bool)
    n_keep = int(keep.sum())
    if n_keep:
        lam = np.linalg.eigvalsh(H[np.ix_(keep, keep)])
        weights = np.full((1, n_keep), 1.0 / n_keep)
    else:
        lam = np.zeros(1)
        weights = np.ones((1, 1))
    return SpectralDensity(
        nodes=lam[None, :],
        weights=weights,
        n_params=max(n_keep, 1),
        zero_row_fraction=float((D - n_keep) / D),
        n_steps=np.array([lam.size]),
        n_zero_rows=D - n_keep,
    )
