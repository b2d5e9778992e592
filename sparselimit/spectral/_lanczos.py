"""Lanczos tridiagonalisation: float64 recurrence, full reorthogonalisation in the products'
precision."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..curvature import as_operator

__all__ = ["lanczos", "LanczosBreakdownWarning"]

_REORTH = ("full", "local")


class LanczosBreakdownWarning(UserWarning):
    """Lanczos stopped early: the Krylov space became invariant (``beta`` ~ 0).

    Not an error: the Ritz values and weights found so far describe the probe's spectral measure
    exactly up to the breakdown threshold, they are simply fewer than the steps asked for.
    Happens when the operator has fewer distinct eigenvalues than steps, or the probe lies in a
    small invariant subspace -- or, with float32 products, when eigenvalues closer together than
    about ``6e-6 * ||T||`` are merged into one node (float64 products resolve them).

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sparselimit.spectral import LanczosBreakdownWarning, lanczos
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     alphas, betas = lanczos(np.eye(4), np.ones(4), n_steps=3)  # one eigenvalue
    >>> len(alphas), caught[0].category is LanczosBreakdownWarning
    (1, True)
    """


def _check_steps(n_steps, name="n_lanczos_steps"):
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"`{name}` must be a positive int; got {n_steps!r}.")
    return int(n_steps)


def _breakdown_tol(dtype: torch.dtype) -> float:
    # beta below tol * ||T|| is rounding noise of the operator's products: 50 eps of the HVP
    # dtype (6e-6 for float32 products, 1e-14 for float64).
    return 50.0 * float(torch.finfo(dtype).eps)


def _available_bytes(device: torch.device) -> int | None:
    """Memory free for new tensors on ``device`` in bytes, or None where it cannot be told."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[0])
        if device.type == "cpu":
            with open("/proc/meminfo") as meminfo:  # Linux: MemAvailable counts reclaimable cache
                for line in meminfo:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
    except (OSError, RuntimeError, ValueError):
        pass
    return None


def _check_basis_memory(n_bytes: int, p: int, m: int, D: int, device: torch.device) -> None:
    """Refuse a basis that cannot fit, before allocating it: on the CPU an oversized
    ``torch.empty`` succeeds (pages are committed lazily) and the process is killed later."""
    free = _available_bytes(device)
    if free is None or n_bytes <= free:
        return
    gib = 2.0**30
    raise MemoryError(
        f"Full reorthogonalisation keeps {p} probe(s) x {m} steps x {D} weights of Lanczos "
        f"basis, {n_bytes / gib:.1f} GiB, but only {free / gib:.1f} GiB is free on {device}. "
        "Lower `n_lanczos_steps` or `n_probes`, run the probes one after another "
        "(slq_spectrum(..., lockstep=False)), or use reorthogonalize='local' (two vectors)."
    )


def _lanczos_block(
    op, V0, n_steps, *, reorthogonalize="full", tol=None, return_basis=False, step_hook=None
):
    """Run ``p`` independent Lanczos recurrences in lockstep; each step is one ``H @ V`` block
    product over the probes still running.

    Returns ``alphas (p, m)``, ``betas (p, m)`` (``betas[i, j]`` is the residual norm after step
    ``j``: the off-diagonal ``T[j, j+1]``; 0 after a breakdown), ``n_done (p,)`` and the basis
    ``(p, m, D)`` float64 tensor (or None). ``step_hook(j, alphas, betas, n_done)`` is called
    after every step and may return True to stop.
    """
    if reorthogonalize not in _REORTH:
        raise ValueError(f"`reorthogonalize` must be one of {_REORTH}; got {reorthogonalize!r}.")
    D, p = V0.shape
    m = min(n_steps, D)
    dev = op.device
    tol = _breakdown_tol(op.dtype) if tol is None else float(tol)
    full = reorthogonalize == "full"

    q = V0.to(device=dev, dtype=torch.float64).t().contiguous()  # (p, D) current vectors
    norms = q.norm(dim=1)
    if not bool((norms > 0).all()) or not bool(torch.isfinite(norms).all()):
        raise ValueError("Starting vectors must be finite and non-zero.")
    q /= norms[:, None]
    # The reorthogonalisation basis is kept in the products' precision (float32 for a float32
    # network): the products carry ~1e-7 relative error, so projecting in float64 buys no
    # accuracy, while a float32 basis halves the memory traffic of the O(j D) projections that
    # dominate the bookkeeping (and fits twice as many steps in cache). The recurrence itself
    # (vectors, alpha, beta) stays float64. A float64 operator gets a float64 basis.
    basis_dtype = torch.float64 if op.dtype == torch.float64 else torch.float32
    itemsize = (basis_dtype.itemsize if full else 0) + (8 if return_basis else 0)
    _check_basis_memory(p * m * D * itemsize, p, m, D, torch.device(dev))
    Q = torch.empty((p, m, D), dtype=basis_dtype, device=dev) if full else None
    Q64 = torch.empty((p, m, D), dtype=torch.float64, device=dev) if return_basis else None
    for B in (Q, Q64):
        if B is not None:
            B[:, 0] = q
    q_prev = torch.zeros_like(q)

    alphas = np.zeros((p, m))
    betas = np.zeros((p, m))
    n_done = np.zeros(p, dtype=np.int64)
    scale = np.zeros(p)
    active = np.ones(p, dtype=bool)

    for j in range(m):
        idx = np.flatnonzero(active)
        qa = q if idx.size == p else q[idx]
        W = op._matmat_f64(qa.t()).t().contiguous()  # (a, D) float64, a fresh tensor
        a_np = np.empty(idx.size)
        b_np = np.empty(idx.size)
        for r, i in enumerate(idx):  # per probe: in-place axpy/gemv, no temporaries
            w = W[r]
            alpha = float(torch.dot(w, qa[r]))
            w.sub_(qa[r], alpha=alpha)
            if j > 0:
                w.sub_(q_prev[i], alpha=betas[i, j - 1])
            if full:
                Qi = Q[i, : j + 1]
                before = float(w.norm())
                for _ in range(2):  # classical Gram-Schmidt, a second pass only if it cancelled
                    if Qi.dtype == torch.float64:
                        c = Qi @ w
                        w.addmv_(Qi.t(), c, alpha=-1.0)
                    else:
                        c = Qi @ w.to(Qi.dtype)
                        w.sub_(Qi.t() @ c)
                    alpha += float(c[j])
                    after = float(w.norm())
                    if after > 0.7 * before:
                        break
                    before = after
                beta = after
            else:
                beta = float(w.norm())
            a_np[r], b_np[r] = alpha, beta
        if not (np.isfinite(a_np).all() and np.isfinite(b_np).all()):
            raise ValueError(
                "Lanczos produced a non-finite value: the operator's products are not finite."
            )
        alphas[idx, j] = a_np
        n_done[idx] = j + 1
        scale[idx] = np.maximum(scale[idx], np.maximum(np.abs(a_np), b_np))
        dead = b_np <= tol * np.maximum(scale[idx], 1e-300)
        betas[idx, j] = np.where(dead, 0.0, b_np)
        if j < m - 1 and dead.any():
            # "exact" holds to the threshold only: with float32 products (threshold 6e-6) a
            # cluster of eigenvalues narrower than it -- e.g. the tiny curvature of one layer
            # far below another's -- is merged into one node
            floor = tol * float(scale[idx[dead]].max())
            finer = "" if op.dtype == torch.float64 else "; float64 products resolve finer spectra"
            warnings.warn(
                f"Lanczos breakdown after {j + 1} of {m} steps for probe(s) "
                f"{idx[dead].tolist()} (beta <= {tol:.1e} * ||T||): the Krylov space is "
                "invariant to that precision, so the quadrature is exact for these probes "
                f"except that eigenvalues less than {floor:.1e} apart may be merged into one "
                f"node; they stop here. The products are {str(op.dtype)[6:]}{finer}.",
                LanczosBreakdownWarning,
                stacklevel=3,
            )
        active[idx[dead]] = False
        if step_hook is not None and step_hook(j, alphas, betas, n_done):
            break
        if not active.any() or j == m - 1:
            break
        # next vectors q_{j+1} = w / beta (a dead probe keeps a zero vector)
        q_next = torch.zeros_like(q)
        for r, i in enumerate(idx):
            if not dead[r]:
                torch.div(W[r], b_np[r], out=q_next[i])
        for B in (Q, Q64):
            if B is not None:
                B[:, j + 1] = q_next
        q_prev, q = q, q_next

    mx = int(n_done.max())
    alphas, betas = alphas[:, :mx], betas[:, :mx]
    basis = Q64[:, :mx] if return_basis else None
    return alphas, betas, n_done, basis


def lanczos(op, v0, n_steps, *, reorthogonalize="full", tol=None, return_basis=False):
    """Lanczos tridiagonalisation ``Q^T H Q = T`` from a starting vector.

    The recurrence (vectors, ``alpha``, ``beta``) is float64; products with ``op`` use the
    operator's own dtype (float32 for a float32 network). Full reorthogonalisation projects
    against a basis kept in the products' precision -- float32 for a float32 operator, float64
    for a float64 one -- because the products carry that much error anyway: orthogonality holds
    to about 1e-7 in float32 and the basis costs half the memory and memory traffic.

    Parameters
    ----------
    op : HessianOperator, LinearOperatorBase, tensor, array or scipy LinearOperator
        Symmetric ``D x D`` operator.
    v0 : tensor or array of shape (D,) or (D, p)
        Starting vector (normalised internally). A 2-D block runs ``p`` independent recurrences
        in lockstep, one block product per step.
    n_steps : int
        Lanczos steps ``m`` (capped at ``D``: after ``D`` steps the Krylov space is complete).
    reorthogonalize : {'full', 'local'}, default='full'
        ``'full'`` orthogonalises every new vector against all previous ones (classical
        Gram-Schmidt, repeated when it cancels), keeping the basis in memory (``p * m * D``
        numbers in the products' precision); ``'local'`` is the plain three-term recurrence
        (two vectors of memory; ghost copies of converged Ritz values appear after many steps).
    tol : float, default=None
        Breakdown threshold on ``beta / ||T||``; None uses ``50 * eps`` of the operator's dtype.
    return_basis : bool, default=False
        Also return the Lanczos vectors.

    Returns
    -------
    alphas : ndarray of float64, shape (m,)
        Diagonal of ``T``.
    betas : ndarray of float64, shape (m - 1,)
        Off-diagonal of ``T``.
    basis : torch.Tensor of float64, shape (m, D)
        Only with ``return_basis``: orthonormal rows ``q_1 ... q_m`` (the float64 vectors of
        the recurrence).

    With a 2-D ``v0`` each returned item is a list of ``p`` such arrays (their lengths differ
    when some recurrences broke down).

    Raises
    ------
    MemoryError
        Before any product, when the basis of full reorthogonalisation (``p * m * D``
        numbers) is larger than the memory free on the operator's device.

    Warns
    -----
    LanczosBreakdownWarning
        When ``beta`` vanishes before ``n_steps`` (an invariant subspace): the recurrence stops
        early and returns what it has, never NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.linalg import eigh_tridiagonal
    >>> from sparselimit.spectral import lanczos
    >>> A = np.diag(np.arange(1.0, 6.0))
    >>> a, b = lanczos(A, np.ones(5), n_steps=5)
    >>> np.round(eigh_tridiagonal(a, b, eigvals_only=True), 6)
    array([1., 2., 3., 4., 5.])
    """
    op = as_operator(op)
    n_steps = _check_steps(n_steps, "n_steps")
    V0 = torch.as_tensor(np.asarray(v0) if not isinstance(v0, torch.Tensor) else v0)
    one = V0.dim() == 1
    V0 = V0[:, None] if one else V0
    if V0.dim() != 2 or V0.shape[0] != op.shape[0]:
        raise ValueError(
            f"`v0` must have shape ({op.shape[0]},) or ({op.shape[0]}, p); got {tuple(V0.shape)}."
        )
    alphas, betas, n_done, basis = _lanczos_block(
        op,
        V0.to(torch.float64),
        n_steps,
        reorthogonalize=reorthogonalize,
        tol=tol,
        return_basis=return_basis,
    )
    a = [alphas[i, : n_done[i]].copy() for i in range(len(n_done))]
    b = [betas[i, : n_done[i] - 1].copy() for i in range(len(n_done))]
    out = [a, b]
    if return_basis:
        out.append([basis[i, : n_done[i]] for i in range(len(n_done))])
    if one:
        out = [x[0] for x in out]
    return tuple(out)
