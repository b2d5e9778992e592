"""The result of stochastic Lanczos quadrature: Ritz nodes and weights per probe."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.linalg import eigh_tridiagonal

__all__ = ["SpectralDensity"]


@dataclasses.dataclass(frozen=True, eq=False)
class SpectralDensity:
    r"""Spectral density of a symmetric operator estimated by stochastic Lanczos quadrature.

    For probe ``i`` the quadrature ``Σ_k weights[i, k] f(nodes[i, k])`` approximates
    ``v_i^T f(H) v_i`` for a random unit probe ``v_i``, an unbiased estimate of
    ``tr f(H) / n_params``. Plain NumPy data: it pickles and compares by value with
    :meth:`allclose`.

    Parameters
    ----------
    nodes : ndarray of float64, shape (n_probes, m)
        Ritz values per probe (ascending). Probes that stopped early are padded by repeating
        their smallest Ritz value with weight 0.
    weights : ndarray of float64, shape (n_probes, m)
        Quadrature weights, non-negative, each row summing to 1.
    n_params : int
        Size ``D`` of the operator the quadrature ran on (after deflation of zero rows).
    zero_row_fraction : float, default=0.0
        Fraction ``p0`` of coordinates of the full operator whose Hessian row is zero and that
        were deflated before the quadrature (0.0 without deflation). The full spectrum is
        ``(1 - p0) * (this density) + p0 * δ_0``.
    n_steps : ndarray of int, shape (n_probes,), default=None
        Lanczos steps actually run per probe (None: ``m`` for every probe).
    n_zero_rows : int, default=0
        Number of deflated zero rows; ``p0 = n_zero_rows / (n_params + n_zero_rows)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.spectral import SpectralDensity
    >>> sd = SpectralDensity(nodes=np.array([[1.0, 3.0]]), weights=np.array([[0.5, 0.5]]),
    ...                      n_params=4)
    >>> sd.n_probes, sd.trace(), sd.moments(2)
    (1, 8.0, array([2., 5.]))
    >>> sd.quadrature(lambda t: 1 / (1 + t))
    array([0.375])
    """

    nodes: np.ndarray
    weights: np.ndarray
    n_params: int
    zero_row_fraction: float = 0.0
    n_steps: np.ndarray | None = None
    n_zero_rows: int = 0

    def __post_init__(self):
        nodes = np.array(self.nodes, dtype=np.float64, ndmin=2)
        weights = np.array(self.weights, dtype=np.float64, ndmin=2)
        if nodes.shape != weights.shape or nodes.ndim != 2:
            raise ValueError(
                f"`nodes` and `weights` must both have shape (n_probes, m); got {nodes.shape} "
                f"and {weights.shape}."
            )
        if not (np.isfinite(nodes).all() and np.isfinite(weights).all()):
            raise ValueError("`nodes` and `weights` must be finite.")
        if (weights < 0).any() or not np.allclose(weights.sum(axis=1), 1.0, atol=1e-8):
            raise ValueError("Each row of `weights` must be non-negative and sum to 1.")
        p0 = float(self.zero_row_fraction)
        if not 0.0 <= p0 <= 1.0:
            raise ValueError(f"`zero_row_fraction` must be in [0, 1]; got {p0}.")
        n_steps = (
            np.full(nodes.shape[0], nodes.shape[1], dtype=np.int64)
            if self.n_steps is None
            else np.array(self.n_steps, dtype=np.int64)
        )
        for arr in (nodes, weights, n_steps):
            arr.setflags(write=False)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "n_steps", n_steps)
        object.__setattr__(self, "n_params", int(self.n_params))
        object.__setattr__(self, "zero_row_fraction", p0)
        object.__setattr__(self, "n_zero_rows", int(self.n_zero_rows))

    # ------------------------------------------------------------- builders
    @classmethod
    def from_lanczos(cls, alphas, betas, n_steps, *, n_params, n_zero_rows=0):
        """Build from per-probe tridiagonals: ``alphas[i, :n_steps[i]]`` and the off-diagonal
        ``betas[i, :n_steps[i] - 1]`` (extra columns are ignored)."""
        alphas, betas = np.asarray(alphas, dtype=np.float64), np.asarray(betas, dtype=np.float64)
        n_steps = np.asarray(n_steps, dtype=np.int64)
        m = int(n_steps.max())
        nodes = np.zeros((len(n_steps), m))
        weights = np.zeros((len(n_steps), m))
        for i, k in enumerate(n_steps):
            theta, U = eigh_tridiagonal(alphas[i, :k], betas[i, : k - 1])
            tau = U[0] ** 2
            nodes[i, :k], weights[i, :k] = theta, tau / tau.sum()
            nodes[i, k:] = theta[0]
        total = n_params + n_zero_rows
        return cls(
            nodes=nodes,
            weights=weights,
            n_params=n_params,
            zero_row_fraction=n_zero_rows / total if total else 0.0,
            n_steps=n_steps,
            n_zero_rows=n_zero_rows,
        )

    # ------------------------------------------------------------ estimates
    @property
    def n_probes(self) -> int:
        """Number of probes."""
        return int(self.nodes.shape[0])

    def quadrature(self, f, *, include_zero_rows=False) -> np.ndarray:
        """Per-probe quadrature ``Σ_k w_k f(θ_k)``, shape ``(n_probes,)``.

        ``f`` is applied to the whole node array (vectorised). Each entry estimates
        ``tr f(H_SLQ) / n_params`` for the operator the quadrature ran on; with
        ``include_zero_rows`` it is ``(1 - p0) * Σ_k w_k f(θ_k) + p0 * f(0)``, the estimate of
        ``tr f(H) / D`` for the full operator with its zero rows.
        """
        vals = np.asarray(f(self.nodes), dtype=np.float64)
        if vals.shape != self.nodes.shape:
            vals = np.broadcast_to(vals, self.nodes.shape)
        q = (self.weights * vals).sum(axis=1)
        if include_zero_rows and self.zero_row_fraction > 0:
            f0 = float(np.asarray(f(np.zeros(1)), dtype=np.float64).reshape(-1)[0])
            q = (1.0 - self.zero_row_fraction) * q + self.zero_row_fraction * f0
        return q

    def moments(self, k, *, include_zero_rows=False) -> np.ndarray:
        """Spectral moments of orders 1..k averaged over probes: ``tr(H^j)/n`` estimates."""
        k = int(k)
        return np.array(
            [
                self.quadrature(lambda t, j=j: t**j, include_zero_rows=include_zero_rows).mean()
                for j in range(1, k + 1)
            ]
        )

    def trace(self) -> float:
        """Trace estimate ``n_params * mean first moment`` (Hutchinson with the SLQ probes).
        Deflated zero rows have zero diagonal, so this is also the trace of the full operator."""
        return float(self.n_params * self.quadrature(lambda t: t).mean())

    def density(self, grid, sigma, *, include_zero_rows=False) -> np.ndarray:
        """Gaussian-smoothed density on ``grid``: mean over probes of
        ``Σ_k w_k N(t; θ_k, sigma²)``; integrates to 1 (to ``1 - p0`` plus a Gaussian of mass
        ``p0`` at 0 with ``include_zero_rows``)."""
        grid = np.asarray(grid, dtype=np.float64)
        sigma = float(sigma)
        if not sigma > 0:
            raise ValueError(f"`sigma` must be positive; got {sigma}.")
        nodes, w = self.nodes.ravel(), self.weights.ravel() / self.n_probes
        flat = grid.ravel()
        out = np.empty_like(flat)
        for s in range(0, flat.size, 4096):  # bounded memory for fine grids
            g = flat[s : s + 4096, None]
            out[s : s + 4096] = np.exp(-0.5 * ((g - nodes) / sigma) ** 2) @ w
        out = out.reshape(grid.shape) / (sigma * np.sqrt(2 * np.pi))
        if include_zero_rows and self.zero_row_fraction > 0:
            p0 = self.zero_row_fraction
            zero = np.exp(-0.5 * (grid / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
            out = (1 - p0) * out + p0 * zero
        return out

    def allclose(self, other, **kw) -> bool:
        """True when ``other`` has the same shape, nodes and weights (``np.allclose``)."""
        return (
            isinstance(other, SpectralDensity)
            and self.nodes.shape == other.nodes.shape
            and np.allclose(self.nodes, other.nodes, **kw)
            and np.allclose(self.weights, other.weights, **kw)
            and self.n_params == other.n_params
            and self.zero_row_fraction == other.zero_row_fraction
        )

    def __repr__(self) -> str:
        return (
            f"SpectralDensity(n_probes={self.n_probes}, n_steps={self.n_steps.tolist()}, "
            f"n_params={self.n_params}, zero_row_fraction={self.zero_row_fraction:.4g})"
        )
