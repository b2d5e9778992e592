"""The result of stochastic Lanczos quadrature: Ritz nodes and weights per probe."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.linalg import eigh_tridiagonal

__all__ = ["SpectralDensity"]

_RULES = ("gauss", "anti_gauss", "averaged")


def _gauss(a, b):
    """Nodes and weights of the Gauss rule of the tridiagonal (a, b)."""
    if len(a) == 1:
        return a.copy(), np.ones(1)
    theta, U = eigh_tridiagonal(a, b)
    return theta, U[0] ** 2


def _lanczos_rule(alpha, beta, k, rule):
    """One probe's quadrature from its first ``k`` Lanczos steps (see ``from_lanczos``)."""
    a, b = alpha[:k], beta[: k - 1]
    broke = beta.shape[0] >= k and beta[k - 1] == 0.0  # invariant subspace: Gauss is exact
    if rule == "gauss" or k == 1 or broke:
        return _gauss(a, b)
    b_anti = b.copy()
    b_anti[-1] *= np.sqrt(2.0)  # Laurie's anti-Gauss rule A_k
    anti = _gauss(a, b_anti)
    if rule == "anti_gauss":
        return anti
    lower = _gauss(a[:-1], b[:-1])  # G_{k-1}
    x = np.concatenate([lower[0], anti[0]])
    w = np.concatenate([lower[1] / lower[1].sum(), anti[1] / anti[1].sum()]) / 2
    order = np.argsort(x, kind="stable")
    return x[order], w[order]


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
    alphas, betas : ndarray of shape (n_probes, m), default=None
        The Lanczos coefficients the quadrature was built from (set by :meth:`from_lanczos`;
        :meth:`with_rule` rebuilds other rules from them).
    rule : {"gauss", "anti_gauss", "averaged"}, default="gauss"
        The quadrature rule of ``nodes`` and ``weights`` (see :meth:`from_lanczos`).

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
    alphas: np.ndarray | None = dataclasses.field(default=None, repr=False)
    betas: np.ndarray | None = dataclasses.field(default=None, repr=False)
    rule: str = "gauss"

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
        if self.rule not in _RULES:
            raise ValueError(f"`rule` must be one of {_RULES}; got {self.rule!r}.")
        coeffs = [
            None if c is None else np.array(c, dtype=np.float64, ndmin=2)
            for c in (self.alphas, self.betas)
        ]
        for arr in [nodes, weights, n_steps] + [c for c in coeffs if c is not None]:
            arr.setflags(write=False)
        object.__setattr__(self, "alphas", coeffs[0])
        object.__setattr__(self, "betas", coeffs[1])
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "n_steps", n_steps)
        object.__setattr__(self, "n_params", int(self.n_params))
        object.__setattr__(self, "zero_row_fraction", p0)
        object.__setattr__(self, "n_zero_rows", int(self.n_zero_rows))

    # ------------------------------------------------------------- builders
    @classmethod
    def from_lanczos(cls, alphas, betas, n_steps, *, n_params, n_zero_rows=0, rule="gauss"):
        r"""Build the quadrature of per-probe Lanczos tridiagonals.

        Probe ``i`` uses the diagonal ``alphas[i, :k]`` and off-diagonal ``betas[i, :k - 1]`` of
        its ``k = n_steps[i]`` steps (extra columns are ignored; ``betas[i, k - 1]``, the
        residual norm after the last step, is read only to detect a breakdown).

        Parameters
        ----------
        alphas, betas : array of shape (n_probes, m)
            Lanczos coefficients per probe (``betas[i, j] = T[j, j + 1]``).
        n_steps : array of int, shape (n_probes,)
            Steps run per probe.
        n_params : int
            Size of the operator the recurrences ran on.
        n_zero_rows : int, default=0
            Deflated zero rows (see the class).
        rule : {"gauss", "anti_gauss", "averaged"}, default="gauss"
            ``"gauss"``: the ``k``-node Gauss rule of ``T_k`` (Ritz values, squared first
            eigenvector components), exact for polynomials of degree ``2k - 1``.
            ``"anti_gauss"``: Laurie's ``k``-node anti-Gauss rule ``A_k``, the Gauss rule of
            ``T_k`` with its last off-diagonal multiplied by ``sqrt(2)``; its error on
            polynomials of degree ``2k - 1`` and ``2k`` is the opposite of the error of
            ``G_{k-1}``. ``"averaged"``: ``(G_{k-1} + A_k) / 2`` on ``2k - 1`` nodes, exact
            for degree ``2k - 1`` like ``G_k`` but with the oscillating error of ``G_{k-1}``
            largely cancelled by that of ``A_k``; ``|G_{k-1} - A_k| / 2`` estimates the error
            of ``G_{k-1}``. All weights are positive. A probe with one step, or whose
            recurrence broke down (``betas[i, k - 1] == 0``: an invariant subspace, where
            ``G_k`` is exact), uses its Gauss rule under every ``rule``.

        Returns
        -------
        SpectralDensity
            Rows of ``weights`` sum to 1; ``m`` nodes per probe (``2m - 1`` for
            ``"averaged"``), shorter probes padded with weight 0. ``alphas`` and ``betas``
            are kept so that other rules can be built later.

        Examples
        --------
        >>> import numpy as np
        >>> from sparselimit.spectral import SpectralDensity, lanczos
        >>> lam = np.linspace(0.0, 1.0, 200)
        >>> a, b = lanczos(np.diag(lam), np.ones(200), n_steps=4)
        >>> sd = SpectralDensity.from_lanczos(a[None], b[None], [4], n_params=200,
        ...                                   rule="averaged")
        >>> sd.nodes.shape, bool(np.isclose(sd.weights.sum(), 1.0))
        ((1, 7), True)
        >>> exact = np.mean(lam**7)  # degree 2m - 1 = 7: exact
        >>> bool(np.isclose(sd.quadrature(lambda t: t**7)[0], exact))
        True
        """
        if rule not in _RULES:
            raise ValueError(f"`rule` must be one of {_RULES}; got {rule!r}.")
        alphas = np.atleast_2d(np.asarray(alphas, dtype=np.float64))
        betas = np.atleast_2d(np.asarray(betas, dtype=np.float64))
        n_steps = np.atleast_1d(np.asarray(n_steps, dtype=np.int64))
        rules = [_lanczos_rule(alphas[i], betas[i], int(k), rule) for i, k in enumerate(n_steps)]
        width = max(len(x) for x, _ in rules)
        nodes = np.zeros((len(n_steps), width))
        weights = np.zeros((len(n_steps), width))
        for i, (x, w) in enumerate(rules):
            nodes[i, : len(x)], weights[i, : len(x)] = x, w / w.sum()
            nodes[i, len(x) :] = x.min()
        total = n_params + n_zero_rows
        return cls(
            nodes=nodes,
            weights=weights,
            n_params=n_params,
            zero_row_fraction=n_zero_rows / total if total else 0.0,
            n_steps=n_steps,
            n_zero_rows=n_zero_rows,
            alphas=alphas,
            betas=betas,
            rule=rule,
        )

    def with_rule(self, rule, n_steps=None):
        """The quadrature of another ``rule`` (or fewer steps) from the kept Lanczos coefficients.

        Parameters
        ----------
        rule : {"gauss", "anti_gauss", "averaged"}
            See :meth:`from_lanczos`.
        n_steps : array of int, shape (n_probes,), default=None
            Steps per probe to use (at most ``self.n_steps``); None uses all.

        Returns
        -------
        SpectralDensity

        Examples
        --------
        >>> import numpy as np
        >>> from sparselimit.spectral import slq_spectrum
        >>> sd = slq_spectrum(np.diag(np.linspace(0.0, 1.0, 50)), n_lanczos_steps=5,
        ...                   random_state=0)
        >>> sd.with_rule("averaged").nodes.shape, sd.with_rule("gauss", [3]).nodes.shape
        ((1, 9), (1, 3))
        """
        if self.alphas is None:
            raise ValueError(
                "This SpectralDensity keeps no Lanczos coefficients (it was not built by "
                "SpectralDensity.from_lanczos); other quadrature rules cannot be derived."
            )
        steps = self.n_steps if n_steps is None else np.asarray(n_steps, dtype=np.int64)
        if steps.shape != self.n_steps.shape or (steps > self.n_steps).any() or (steps < 1).any():
            raise ValueError(
                f"`n_steps` must hold one count per probe in [1, {self.n_steps.tolist()}]; "
                f"got {steps.tolist()}."
            )
        return type(self).from_lanczos(
            self.alphas,
            self.betas,
            steps,
            n_params=self.n_params,
            n_zero_rows=self.n_zero_rows,
            rule=rule,
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
