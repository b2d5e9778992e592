"""Extreme eigenvalues of a matrix-free symmetric operator."""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import eigh_tridiagonal

from ..curvature import as_operator
from ..utils import make_generator
from ._lanczos import _lanczos_block

__all__ = ["top_eigenvalues"]

_WHICH = {"LA": lambda t: t, "LM": np.abs, "SA": lambda t: -t}


def top_eigenvalues(
    op, k=1, *, which="LA", method="eigsh", n_steps=None, tol=None, random_state=None
):
    r"""The ``k`` extreme eigenvalues of a symmetric operator, most extreme first.

    Parameters
    ----------
    op : HessianOperator or any operator accepted by :func:`slq_spectrum`
        Symmetric ``D x D`` operator.
    k : int, default=1
        How many eigenvalues.
    which : {'LA', 'LM', 'SA'}, default='LA'
        Largest algebraic (the sharpest curvature), largest magnitude, or smallest algebraic.
    method : {'eigsh', 'lanczos'}, default='eigsh'
        ``'eigsh'``: SciPy's implicitly restarted Lanczos (ARPACK) on :meth:`to_scipy`, run to
        relative accuracy ``tol``. ``'lanczos'``: a fixed number of full-reorthogonalisation
        Lanczos steps (``n_steps``, default ``min(D, max(4k, 2k + 40))``), the extreme Ritz
        values. When ``k >= D - 1`` both run ``D`` Lanczos steps, which finds every *distinct*
        eigenvalue exactly (a single-vector Krylov space cannot see multiplicities, so fewer
        than ``k`` values may come back).
    n_steps : int, default=None
        Steps for ``method='lanczos'``.
    tol : float, default=None
        Relative accuracy for ``'eigsh'``; None uses ``sqrt(eps)`` of the operator's dtype
        (3e-4 for float32 products, below which rounding noise of the products stalls ARPACK).
    random_state : None, int, numpy RandomState or torch.Generator, default=None
        Seed of the starting vector.

    Returns
    -------
    eigenvalues : ndarray of float64, shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.spectral import top_eigenvalues
    >>> A = np.diag(np.arange(100.0))
    >>> top_eigenvalues(A, k=2, random_state=0).round(6)
    array([99., 98.])
    """
    op = as_operator(op)
    D = op.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= D:
        raise ValueError(f"`k` must be an int in [1, {D}] (the operator's size); got {k!r}.")
    if which not in _WHICH:
        raise ValueError(f"`which` must be one of {sorted(_WHICH)}; got {which!r}.")
    if method not in ("eigsh", "lanczos"):
        raise ValueError(f"`method` must be 'eigsh' or 'lanczos'; got {method!r}.")
    gen = make_generator(random_state)
    v0 = torch.randn(D, 1, generator=gen, dtype=torch.float64)
    key = _WHICH[which]
    if method == "eigsh" and k < D - 1:
        from scipy.sparse.linalg import ArpackError, eigsh

        tol = float(torch.finfo(op.dtype).eps) ** 0.5 if tol is None else float(tol)
        try:
            vals = eigsh(
                op.to_scipy(),
                k=k,
                which=which,
                v0=v0[:, 0].numpy(),
                tol=tol,
                return_eigenvectors=False,
            )
        except ArpackError:
            # ARPACK fails on the zero operator ("error -9: Starting vector is zero"): a
            # Hessian with no curvature at all (every unit dead), whose eigenvalues are all 0
            if bool(op._matmat_f64(v0).any()):
                raise
            vals = np.zeros(k)
    else:
        m = D if k >= D - 1 else (n_steps or min(D, max(4 * k, 2 * k + 40)))
        alphas, betas, n_done, _ = _lanczos_block(op, v0, int(m))
        n = int(n_done[0])
        vals = eigh_tridiagonal(alphas[0, :n], betas[0, : n - 1], eigvals_only=True)
    vals = np.asarray(vals, dtype=np.float64)
    return vals[np.argsort(-key(vals), kind="stable")][:k]
