"""Stochastic Lanczos quadrature (SLQ) and zero-curvature deflation."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from ..curvature import as_operator
from ..utils import make_generator
from ._density import SpectralDensity
from ._lanczos import _check_steps, _lanczos_block

__all__ = ["slq_spectrum", "zero_curvature_mask"]


def _rademacher(gen, D, p):
    """``(D, p)`` float64 matrix of ±1 drawn on CPU from ``gen`` (device independent)."""
    return (torch.randint(0, 2, (p, D), generator=gen).to(torch.float64) * 2 - 1).t()


def _check_probes(n, name):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"`{name}` must be a positive int; got {n!r}.")
    return int(n)


class _Partial:
    """A :class:`SpectralDensity` built on first attribute access (see ``stop_when``). The
    Lanczos coefficients and :meth:`~SpectralDensity.with_rule` need no build, so a stopping
    rule can form just the quadratures it uses."""

    with_rule = SpectralDensity.with_rule
    from_lanczos = SpectralDensity.from_lanczos

    def __init__(self, alphas, betas, n_steps, *, n_params, n_zero_rows, rule):
        self.alphas, self.betas, self.n_steps = alphas, betas, n_steps
        self.n_params, self.n_zero_rows, self.rule = n_params, n_zero_rows, rule
        self._density = None

    def __getattr__(self, name):
        if self._density is None:
            self._density = self.with_rule(self.rule)
        return getattr(self._density, name)


def zero_curvature_mask(op, n_probes=2, *, rtol=None, atol=None, random_state=None):
    r"""Find the coordinates whose Hessian row is zero, from ``n_probes`` products.

    If row ``i`` of ``H`` is zero then ``(H v)_i = 0`` for every ``v``; conversely for a Gaussian
    ``v`` and a non-zero row ``h_i``, ``(H v)_i ~ N(0, ||h_i||²)`` is almost surely non-zero.
    A coordinate is flagged when ``|(H v_j)_i| <= atol`` for all ``n_probes`` independent
    Gaussian probes (one block product). After L1 training many weights have such rows (dead
    units, disconnected inputs); ALGORITHMS.md section 1 deflates them before SLQ.

    Parameters
    ----------
    op : HessianOperator or any operator accepted by :func:`slq_spectrum`
        Symmetric operator.
    n_probes : int, default=2
        Independent Gaussian probes. A non-zero row passes one probe with probability about
        ``0.8 * atol / ||h_i||``, all of them with that to the power ``n_probes``.
    rtol : float, default=None
        Tolerance relative to the scale of the products, ``atol = rtol * max_ij |(H V)_ij|``.
        None uses ``max(1e-6, 100 * eps)`` of the operator's dtype (``1.2e-5`` for float32
        products, ``1e-6`` for float64): float32 products carry relative rounding noise of a few
        ``1e-7`` on large entries, while truly zero rows come out exactly (or almost exactly)
        zero, so the tolerance sits two orders above the noise. A flagged row counts as exactly
        flat, a term of 1 in the Gaussian width: right for rows this small unless
        ``R^2 * atol / (2 epsilon)`` is not small (huge weights or a tiny ``epsilon``).
    atol : float, default=None
        Absolute tolerance; overrides ``rtol``.
    random_state : None, int, numpy RandomState or torch.Generator, default=None
        Seed of the probes.

    Returns
    -------
    mask : torch.Tensor of bool, shape (D,)
        True where the row is (numerically) zero.

    Examples
    --------
    >>> import torch
    >>> from sparselimit.spectral import zero_curvature_mask
    >>> H = torch.diag(torch.tensor([2.0, 0.0, 1.0, 0.0], dtype=torch.float64))
    >>> zero_curvature_mask(H, random_state=0)
    tensor([False,  True, False,  True])
    """
    op = as_operator(op)
    n_probes = _check_probes(n_probes, "n_probes")
    gen = make_generator(random_state)
    V = torch.randn(n_probes, op.shape[0], generator=gen, dtype=torch.float64).t()
    HV = op._matmat_f64(V).abs()
    if not bool(torch.isfinite(HV).all()):
        # NaN compares False (no row flagged), inf makes ``atol`` infinite (every row flagged,
        # and SLQ then reports G = 1): either would be a silently wrong deflation
        raise ValueError(
            "The operator's products are not finite (NaN or infinity): its zero rows cannot be "
            "told. Check the matrix, or the network's data and weights."
        )
    if atol is None:
        eps = float(torch.finfo(op.dtype).eps)
        rtol = max(1e-6, 100 * eps) if rtol is None else float(rtol)
        atol = rtol * float(HV.max()) if HV.numel() else 0.0
    return (HV <= float(atol)).all(dim=1).cpu()


def slq_spectrum(
    op,
    n_probes=1,
    n_lanczos_steps=128,
    *,
    random_state=None,
    deflate_zero_rows=False,
    zero_rtol=None,
    reorthogonalize="full",
    lockstep=True,
    tol=None,
    stop_when=None,
    callback=None,
    rule="gauss",
    verbose=0,
):
    r"""Spectral density of a symmetric operator by stochastic Lanczos quadrature.

    For each of ``n_probes`` Rademacher probes ``v`` (normalised to unit norm), ``m`` Lanczos
    steps give a tridiagonal ``T``; its eigenvalues are the Ritz nodes ``θ_k`` and the squared
    first components of its eigenvectors the weights ``τ_k`` (``Σ_k τ_k = 1``), so that
    ``Σ_k τ_k f(θ_k) ≈ v^T f(H) v``, whose mean over probes estimates ``tr f(H) / D``. The
    quadrature is exact for polynomials of degree ``< 2m`` and for any ``f`` once ``m >= D``.

    Parameters
    ----------
    op : HessianOperator, LinearOperatorBase, tensor, array or scipy LinearOperator
        Symmetric ``D x D`` operator.
    n_probes : int, default=1
        Independent probes. The probes run in lockstep (``lockstep=True``): each Lanczos step
        is one block product ``H @ V`` over all probes, cheaper than separate products.
    n_lanczos_steps : int, default=128
        Steps ``m`` per probe (capped at ``D``).
    random_state : None, int, numpy RandomState or torch.Generator, default=None
        Seed of the probes (and of the zero-row probes); the global RNG is never used.
    deflate_zero_rows : bool, default=False
        First find the coordinates with a zero Hessian row (:func:`zero_curvature_mask`, one
        block product of two vectors), then run SLQ on the operator restricted to the other
        coordinates. The result records ``zero_row_fraction`` ``p0``; the full spectrum is
        ``(1 - p0) * SLQ + p0 * δ_0`` (``quadrature(f, include_zero_rows=True)``).
    zero_rtol : float, default=None
        ``rtol`` of :func:`zero_curvature_mask`.
    reorthogonalize : {'full', 'local'}, default='full'
        See :func:`lanczos`. ``'full'`` keeps ``n_probes * m * D`` numbers in the products'
        precision, float32 for a float32 network (``m * D`` with ``lockstep=False``); a basis
        larger than the free memory raises ``MemoryError`` before it is allocated.
    lockstep : bool, default=True
        Run the probes together (block products); False runs them one after the other.
    tol : float, default=None
        Breakdown threshold (see :func:`lanczos`).
    stop_when : callable, default=None
        ``stop_when(partial) -> bool`` called after every step with the
        :class:`SpectralDensity` of the steps so far; returning True stops early (no warning).
        Use it to stop once a quantity of the quadrature has converged, e.g. the Gaussian
        width at some radius changing by less than 1e-3 between steps. Needs
        ``lockstep=True``. ``partial`` is built on first attribute access (a small
        tridiagonal eigendecomposition per probe), so a rule that looks only every few steps
        pays nothing in between.
    callback : callable, default=None
        ``callback(step, partial)`` after every step (``step`` counts from 1).
    rule : {"gauss", "anti_gauss", "averaged"}, default="gauss"
        Quadrature rule built from each probe's tridiagonal (for the result and the partial
        results); see :meth:`SpectralDensity.from_lanczos`. The Lanczos coefficients are kept
        in the result (``alphas``, ``betas``), so :meth:`SpectralDensity.with_rule` gives the
        other rules without new products.
    verbose : int, default=0
        Show a progress bar over Lanczos steps when > 0.

    Returns
    -------
    SpectralDensity
        Nodes and weights per probe, ``n_params`` (size of the operator SLQ ran on),
        ``zero_row_fraction``, ``n_steps``.

    Warns
    -----
    LanczosBreakdownWarning
        When a probe's recurrence stops before ``n_lanczos_steps`` (invariant subspace).

    Notes
    -----
    Cost: ``m`` block products plus bookkeeping of ``O(n_probes * m² * D)`` for full
    reorthogonalisation (two reads of the basis per step), against ``O(m * N * D)`` for the
    products. Measured on one CPU thread (``benchmarks/bench_hessian.py``): 0.2% of the time
    for a CNN with 20k weights at 24 steps, 8% for an MLP with 78k weights, 4,096 samples and
    128 steps; the share falls in proportion to ``m / N``. Memory: ``n_probes * m * D``
    numbers for the basis, in the products' precision (float32 for a float32 network, see
    :func:`lanczos`); ``reorthogonalize='local'`` keeps two vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.spectral import slq_spectrum
    >>> eigs = np.linspace(-1.0, 4.0, 50)
    >>> sd = slq_spectrum(np.diag(eigs), n_probes=4, n_lanczos_steps=50, random_state=0)
    >>> sd.nodes.shape, bool(np.allclose(sd.weights.sum(axis=1), 1.0))
    ((4, 50), True)
    >>> bool(np.allclose(sd.nodes[0], eigs))
    True
    >>> round(sd.trace(), 6), round(float(eigs.sum()), 6)  # Rademacher: exact if H diagonal
    (75.0, 75.0)
    """
    op = as_operator(op)
    n_probes = _check_probes(n_probes, "n_probes")
    m = _check_steps(n_lanczos_steps)
    if rule not in ("gauss", "anti_gauss", "averaged"):
        raise ValueError(f"`rule` must be 'gauss', 'anti_gauss' or 'averaged'; got {rule!r}.")
    for name, fn in (("stop_when", stop_when), ("callback", callback)):
        if fn is not None and not callable(fn):
            raise TypeError(f"`{name}` must be callable or None; got {type(fn).__name__}.")
    if not lockstep and (stop_when is not None or callback is not None):
        raise ValueError("`stop_when` and `callback` need lockstep=True (probes in step).")
    gen = make_generator(random_state)

    n_zero = 0
    if deflate_zero_rows:
        mask = zero_curvature_mask(op, 2, rtol=zero_rtol, random_state=gen)
        n_zero = int(mask.sum())
        if n_zero:
            op = op.restrict(~mask)
    D = op.shape[0]
    if D == 0:  # everything deflated: the SLQ part is empty, p0 = 1
        return SpectralDensity(
            nodes=np.zeros((n_probes, 1)),
            weights=np.ones((n_probes, 1)),
            n_params=0,
            zero_row_fraction=1.0,
            n_steps=np.zeros(n_probes, dtype=np.int64),
            n_zero_rows=n_zero,
        )
    V0 = _rademacher(gen, D, n_probes) / np.sqrt(D)

    pbar = tqdm(
        total=min(m, D) * (1 if lockstep else n_probes),
        desc="Lanczos",
        disable=not verbose,
        leave=False,
    )
    need_partial = stop_when is not None or callback is not None

    def hook(j, alphas, betas, n_done):
        pbar.update(1)
        if not need_partial:
            return False
        # n_done moves on; columns <= j of alphas/betas do not
        partial = _Partial(
            alphas[:, : j + 1],
            betas[:, : j + 1],
            n_done.copy(),
            n_params=D,
            n_zero_rows=n_zero,
            rule=rule,
        )
        if callback is not None:
            callback(j + 1, partial)
        return bool(stop_when(partial)) if stop_when is not None else False

    try:
        if lockstep:
            alphas, betas, n_done, _ = _lanczos_block(
                op, V0, m, reorthogonalize=reorthogonalize, tol=tol, step_hook=hook
            )
        else:
            runs = [
                _lanczos_block(
                    op,
                    V0[:, i : i + 1],
                    m,
                    reorthogonalize=reorthogonalize,
                    tol=tol,
                    step_hook=hook,
                )
                for i in range(n_probes)
            ]
            width = max(r[0].shape[1] for r in runs)
            alphas = np.zeros((n_probes, width))
            betas = np.zeros((n_probes, width))
            for i, r in enumerate(runs):
                alphas[i, : r[0].shape[1]], betas[i, : r[1].shape[1]] = r[0][0], r[1][0]
            n_done = np.array([r[2][0] for r in runs])
    finally:
        pbar.close()
    return SpectralDensity.from_lanczos(
        alphas, betas, n_done, n_params=D, n_zero_rows=n_zero, rule=rule
    )
