"""The Gaussian width term G(R) of the pruning limit, evaluated directly on a quadrature.

For a loss sublevel set approximated by the ellipsoid with semi-axes ``r_i = sqrt(2 eps /
|lambda_i|)`` and seen from distance ``R``,

    G(R) = (1/D) sum_i 1 / (1 + R^2 |lambda_i| / (2 eps)).

A spectral quadrature (Ritz nodes ``theta_k`` and weights ``tau_k`` per probe, from stochastic
Lanczos quadrature, or all ``D`` eigenvalues with weight ``1/D`` each) gives, per probe,
``sum_k tau_k / (1 + R^2 |theta_k| / (2 eps))``; the estimate is the mean over probes. Deflated
zero Hessian rows (fraction ``p0``) contribute 1 each: ``G = (1 - p0) G_quad + p0``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["gaussian_width", "GaussianWidth"]

_NEGATIVE = ("abs", "flat")


def _as_2d(a, name):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"`{name}` must be 1-D or 2-D (n_probes, n_nodes); got shape {a.shape}.")
    return a


def _check_epsilon(epsilon) -> float:
    try:
        eps = math.nan if isinstance(epsilon, bool) else float(epsilon)
    except (TypeError, ValueError):
        eps = math.nan
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(
            f"`epsilon` (the loss tolerance) must be a positive finite float; got {epsilon!r}."
        )
    return eps


def _check_radii(R) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if np.isnan(R).any() or (R < 0).any():
        raise ValueError(
            "`R` (distances from the trained weights) must be >= 0 and not NaN; got "
            f"{R.ravel()[np.isnan(R.ravel()) | (R.ravel() < 0)][:3].tolist()}."
        )
    return R


def _terms(weights, r2, curvature):
    """``weights / (1 + r2 * curvature)`` broadcast, with a zero-curvature term exactly
    ``weights`` also where ``r2`` is infinite (an infinite radius, or ``R^2 / (2 eps)``
    overflowing for a tiny ``eps``): ``inf * 0`` would make it NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        denom = np.asarray(1.0 + r2 * curvature, dtype=np.float64)
    return weights / np.nan_to_num(denom, copy=False, nan=1.0, posinf=np.inf)


class GaussianWidth:
    """G(R) for one spectrum: a callable over radii, per probe or averaged.

    Parameters
    ----------
    nodes : array of shape (n_probes, n_nodes) or (n_nodes,)
        Eigenvalue estimates (Ritz values, or exact eigenvalues).
    weights : array of the same shape
        Quadrature weights; each probe's row sums to 1 (``1/D`` each for exact eigenvalues).
        Padding entries (weight 0) are allowed.
    zero_row_fraction : float, default=0.0
        Fraction ``p0`` of coordinates whose Hessian row is zero and that were left out of the
        quadrature; each contributes exactly 1 to ``D * G``.
    negative_eigenvalues : {"abs", "flat"}, default="abs"
        ``"abs"`` uses ``|lambda|`` (the paper's choice); ``"flat"`` counts ``lambda <= 0`` as
        zero curvature (a term of 1).

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.limit import GaussianWidth
    >>> g = GaussianWidth(np.array([0.0, 2.0]), np.array([0.5, 0.5]))
    >>> float(g(0.0, epsilon=1.0)), float(g(1.0, epsilon=1.0))
    (1.0, 0.75)
    """

    def __init__(self, nodes, weights, zero_row_fraction=0.0, negative_eigenvalues="abs"):
        nodes = _as_2d(nodes, "nodes")
        weights = _as_2d(weights, "weights")
        if nodes.shape != weights.shape:
            raise ValueError(
                f"`nodes` and `weights` must have the same shape; got {nodes.shape} and "
                f"{weights.shape}."
            )
        if negative_eigenvalues not in _NEGATIVE:
            raise ValueError(
                f"`negative_eigenvalues` must be one of {_NEGATIVE}; got {negative_eigenvalues!r}."
            )
        p0 = float(zero_row_fraction)
        if not 0.0 <= p0 <= 1.0:
            raise ValueError(f"`zero_row_fraction` must be in [0, 1]; got {zero_row_fraction!r}.")
        if nodes.shape[1] == 0:
            raise ValueError("`nodes` and `weights` must hold at least one node per probe.")
        if not np.isfinite(nodes).all():
            raise ValueError(
                "`nodes` (eigenvalue estimates) must be finite; got "
                f"{nodes[~np.isfinite(nodes)][:3].tolist()}. A NaN or infinite eigenvalue means "
                "the Hessian was not finite: check the network's weights and loss."
            )
        bad = not np.isfinite(weights).all() or bool((weights < 0).any())
        sums = weights.sum(axis=1)
        if bad or not np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
            raise ValueError(
                "`weights` must be finite and non-negative, each probe's row summing to 1 (a "
                f"quadrature); got row sums {np.round(sums[:3], 6).tolist()}"
                f"{' and negative or non-finite entries' if bad else ''}. For D exact "
                "eigenvalues pass weights of 1/D each."
            )
        if negative_eigenvalues == "abs":
            curv = np.abs(nodes)
        else:
            curv = np.maximum(nodes, 0.0)
        self.curvature = curv
        self.weights = weights
        self.zero_row_fraction = p0
        self.negative_eigenvalues = negative_eigenvalues

    @property
    def n_probes(self) -> int:
        return self.curvature.shape[0]

    def per_probe(self, R, epsilon) -> np.ndarray:
        """G(R) for each probe's quadrature, shape ``(n_probes,) + np.shape(R)``."""
        eps = _check_epsilon(epsilon)
        R = _check_radii(R)
        flat = R.reshape(-1)
        out = np.empty((self.n_probes, flat.size))
        # chunk over radii so that (n_probes, chunk, n_nodes) stays small
        n_nodes = max(self.curvature.shape[1], 1)
        step = max(1, int(2**22 // (self.n_probes * n_nodes)))
        for start in range(0, flat.size, step):
            with np.errstate(over="ignore"):  # an infinite r2 is handled by _terms
                r2 = flat[start : start + step] ** 2 / (2.0 * eps)
            terms = _terms(self.weights[:, None, :], r2[None, :, None], self.curvature[:, None, :])
            out[:, start : start + step] = terms.sum(axis=-1)
        p0 = self.zero_row_fraction
        out = (1.0 - p0) * out + p0
        return out.reshape((self.n_probes,) + R.shape)

    def at_probe_radii(self, R, epsilon) -> np.ndarray:
        """``G_p(R_p)`` for one radius per probe (``R`` of shape ``(n_probes,)``)."""
        eps = _check_epsilon(epsilon)
        with np.errstate(over="ignore"):
            r2 = _check_radii(R) ** 2 / (2.0 * eps)
        g = _terms(self.weights, r2[:, None], self.curvature).sum(axis=1)
        p0 = self.zero_row_fraction
        return (1.0 - p0) * g + p0

    def __call__(self, R, epsilon) -> np.ndarray:
        """G(R): the mean over probes, of the shape of ``R``."""
        return self.per_probe(R, epsilon).mean(axis=0)

    def mean_curvature(self) -> float:
        """``tr(C) / D``, ``C`` the curvature used (``|H|`` or ``H+``), zero rows counted as 0."""
        m = (self.weights * self.curvature).sum(axis=1).mean()
        return float((1.0 - self.zero_row_fraction) * m)

    def jensen_lower_bound(self, R, epsilon) -> np.ndarray:
        """``1 / (1 + R^2 tr|H| / (2 eps D))``, a lower bound on G(R) (Jensen, convexity)."""
        eps = _check_epsilon(epsilon)
        with np.errstate(over="ignore"):
            r2 = _check_radii(R) ** 2 / (2.0 * eps)
        return _terms(1.0, r2, self.mean_curvature())


def gaussian_width(
    R, nodes, weights, epsilon, *, zero_row_fraction=0.0, negative_eigenvalues="abs"
):
    """Evaluate the Gaussian width term G(R) of the pruning limit on a spectral quadrature.

    ``G(R) = (1 - p0) * mean_p sum_k tau_pk / (1 + R^2 |theta_pk| / (2 eps)) + p0``.

    Parameters
    ----------
    R : float or array
        Distances from the trained weights to the pruned point.
    nodes, weights : array of shape (n_probes, n_nodes) or (n_nodes,)
        Spectral quadrature (Ritz values and weights per probe, rows of ``weights`` sum to 1),
        e.g. ``spectrum.nodes`` and ``spectrum.weights`` of a ``SpectralDensity``, or the exact
        eigenvalues with weights ``1/D``.
    epsilon : float
        Loss tolerance, > 0.
    zero_row_fraction : float, default=0.0
        Fraction of deflated zero Hessian rows, each contributing 1.
    negative_eigenvalues : {"abs", "flat"}, default="abs"
        How eigenvalues below zero enter (see :class:`GaussianWidth`).

    Returns
    -------
    G : float or ndarray
        Same shape as ``R``; 1 at ``R = 0`` and decreasing in ``R``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.limit import gaussian_width
    >>> lam = np.array([1.0, 4.0, 0.0, 9.0])
    >>> exact = np.mean(1 / (1 + 2.0**2 * lam / (2 * 0.5)))
    >>> bool(np.isclose(gaussian_width(2.0, lam, np.full(4, 0.25), 0.5), exact))
    True
    """
    g = GaussianWidth(nodes, weights, zero_row_fraction, negative_eigenvalues)(R, epsilon)
    return float(g) if np.ndim(g) == 0 else g
