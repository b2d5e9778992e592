"""Solve rho = G(R(rho)) by bisection, and the bounds around the solution."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from scipy.optimize import brentq

__all__ = ["solve_pruning_limit", "akf_slack"]


def akf_slack(n_params: int, eta: float = 0.05) -> float:
    """``a_eta / sqrt(D)`` with ``a_eta = sqrt(8 log(4 / eta))``: the AKF's sharpness.

    The Approximate Kinematic Formula locates the phase transition of a random ``k``-dim
    subspace meeting a convex cone up to this many (fractional) dimensions, with probability
    at least ``1 - eta``.

    Examples
    --------
    >>> from sparselimit.limit import akf_slack
    >>> round(akf_slack(10_000), 4)
    0.0592
    """
    if not 0 < eta < 1:
        raise ValueError(f"`eta` must be in (0, 1); got {eta!r}.")
    if isinstance(n_params, bool) or not isinstance(n_params, Integral) or n_params < 1:
        raise ValueError(
            "`n_params` must be a positive int, the number of prunable weights D; got "
            f"{n_params!r}."
        )
    return math.sqrt(8.0 * math.log(4.0 / eta)) / math.sqrt(int(n_params))


def _bisect(fun, n: int, tol: float) -> np.ndarray:
    """Roots of ``n`` increasing functions on [0, 1] at once (``fun(rho) -> values``).

    Where ``f(0) >= 0`` the root is 0; where ``f(1) <= 0`` it is 1.
    """
    lo = np.zeros(n)
    hi = np.ones(n)
    f_lo = fun(lo)
    f_hi = fun(hi)
    at_zero = f_lo >= 0
    at_one = f_hi <= 0
    n_iter = max(1, math.ceil(math.log2(1.0 / tol)) + 1)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        f_mid = fun(mid)
        up = f_mid < 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    root = 0.5 * (lo + hi)
    root = np.where(at_zero, 0.0, root)
    root = np.where(at_one & ~at_zero, 1.0, root)
    return root


def _brent(fun, tol: float) -> float:
    """Root of one increasing function on [0, 1], as ``_bisect`` defines it, by Brent's method:
    the same bracket guarantee as bisection in about a third of the evaluations (the solve runs
    after every Lanczos step for the ``auto`` stopping rule, so its cost matters)."""
    f_lo, f_hi = fun(0.0), fun(1.0)
    if f_lo >= 0:
        return 0.0
    if f_hi <= 0:
        return 1.0
    return float(brentq(fun, 0.0, 1.0, xtol=tol, rtol=4 * np.finfo(float).eps))


def _clip_limit(rho, n_params: int):
    """Clip to [0, 1 - 1/D]: at most all but one weight removed, so the value stays a valid
    ``sparsity`` for the pruner (which needs a fraction in [0, 1))."""
    upper = 1.0 - 1.0 / max(int(n_params), 2)
    return np.clip(rho, 0.0, upper)


def solve_pruning_limit(
    radius, width, epsilon, *, offset=0.0, per_probe=False, tol=1e-6, clip=True
):
    """Solve ``rho = G(R(rho)) + offset`` for the pruning limit ``rho``.

    A bracketing solver on ``[0, 1]``: Brent's method for the mean quadrature, vectorised
    bisection for one root per probe.

    ``rho - G(R(rho))`` is strictly increasing (``R`` is non-decreasing in ``rho`` and ``G``
    non-increasing in ``R``) and goes from ``-1`` at ``rho = 0`` to ``>= 0`` at ``rho = 1``, so
    the solution is unique.

    Parameters
    ----------
    radius : RadiusCurve
        ``R(rho)``.
    width : GaussianWidth
        ``G(R)``.
    epsilon : float
        Loss tolerance.
    offset : float, default=0.0
        Shift of the right-hand side, e.g. ``-akf_slack(D)`` and ``+akf_slack(D)`` for the
        AKF interval.
    per_probe : bool, default=False
        Solve with each probe's own quadrature instead of their mean; returns one root per
        probe.
    tol : float, default=1e-6
        Width of the final bracket.
    clip : bool, default=True
        Clip to ``[0, 1 - 1/D]`` (a valid ``sparsity``).

    Returns
    -------
    rho : float, or ndarray of shape (n_probes,) when ``per_probe``

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.limit import GaussianWidth, RadiusCurve, solve_pruning_limit
    >>> radius = RadiusCurve(np.linspace(0.0, 1.0, 1001))
    >>> flat = GaussianWidth(np.zeros(10), np.full(10, 0.1))  # zero curvature: G = 1
    >>> round(solve_pruning_limit(radius, flat, 1.0), 4)  # everything but one weight
    0.999
    >>> sharp = GaussianWidth(np.full(10, 1e6), np.full(10, 0.1))
    >>> solve_pruning_limit(radius, sharp, 1e-3) < 0.2
    True
    """
    if isinstance(tol, bool) or not isinstance(tol, Real) or not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"`tol` (the final bracket's width) must be a float > 0; got {tol!r}.")
    if isinstance(offset, bool) or not isinstance(offset, Real) or not math.isfinite(offset):
        raise ValueError(f"`offset` must be a finite float; got {offset!r}.")
    if per_probe:
        n = width.n_probes

        def fun(rho):
            return rho - width.at_probe_radii(radius(rho), epsilon) - offset

        root = _bisect(fun, n, tol)
    else:

        def fun(rho):
            return float(rho - width(radius(rho), epsilon) - offset)

        root = np.array([_brent(fun, tol)])
    if clip:
        root = _clip_limit(root, radius.n_params)
    return root if per_probe else float(root[0])
