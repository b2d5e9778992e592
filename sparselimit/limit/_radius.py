"""The radius curve R(rho): distance from the trained weights to their magnitude-pruned copy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

__all__ = ["RadiusCurve"]


class RadiusCurve:
    """``R(rho) = sqrt(sum of squares of the rho*D smallest |w_i|)``, continuous in ``rho``.

    Global magnitude pruning is the l2-closest k-sparse point to ``w``, so ``R(rho)`` is the
    distance the pruning moves the weights. It is computed once, from one sort of ``|w|`` and a
    cumulative sum ``c_k`` (the sum of the ``k`` smallest squares), and evaluated for any
    ``rho`` by linear interpolation of ``c`` between the points ``k / D``:
    ``R(rho)^2 = c_k + (rho D - k) w_(k+1)^2`` with ``k = floor(rho D)``. At ``rho = k / D`` it
    equals the exact distance with ``k`` weights removed; in between it is continuous and
    non-decreasing, so ``rho = G(R(rho))`` has exactly one solution.

    Parameters
    ----------
    weights : array-like, tensor, or an iterable / dict of tensors
        The prunable weights (any shapes; they are pooled).

    Attributes
    ----------
    n_params : int
        ``D``, the number of weights.
    zero_fraction : float
        Fraction of weights that are exactly zero (``R`` is 0 up to this ``rho``).
    sorted_squares : ndarray of shape (D,)
        ``w_i^2`` in increasing order (float64).

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.limit import RadiusCurve
    >>> rc = RadiusCurve(np.array([3.0, -1.0, 0.0, 2.0]))
    >>> rc(0.25), rc(0.5), rc(0.75)
    (0.0, 1.0, 2.23606797749979)
    >>> round(rc(0.625), 6)  # halfway between removing 2 and 3 weights: sqrt(1 + 4/2)
    1.732051
    """

    def __init__(self, weights):
        a = _pool_abs(weights)
        if a.size == 0:
            raise ValueError("RadiusCurve needs at least one weight.")
        if not np.isfinite(a).all():
            raise ValueError(
                "The weights contain NaN or infinity; the model diverged or was loaded "
                "incorrectly. Retrain it (e.g. with a smaller learning rate) first."
            )
        a.sort()
        with np.errstate(over="ignore"):  # checked just below
            sq = a * a
            cum = np.concatenate([[0.0], np.cumsum(sq)])
        if not np.isfinite(cum[-1]):  # |w| above ~1e154: the squares overflow float64
            raise ValueError(
                f"The weights are too large for R(rho): the sum of their squares overflows "
                f"float64 (largest |w| = {a[-1]:.3g}). Rescale the network (its weights, or "
                "the inputs and the first layer together) before predicting its limit."
            )
        self.sorted_squares = sq
        self._cum = cum
        self.n_params = int(a.size)
        self.zero_fraction = float(np.count_nonzero(a == 0) / a.size)

    def squared(self, rho) -> np.ndarray:
        """``R(rho)^2`` (vectorised, ``rho`` clipped to [0, 1])."""
        rho = np.asarray(rho, dtype=np.float64)
        if np.isnan(rho).any():
            raise ValueError("`rho` (the fraction of weights removed) must not be NaN.")
        rho = np.clip(rho, 0.0, 1.0)
        x = rho * self.n_params
        k = np.minimum(np.floor(x).astype(np.int64), self.n_params - 1)
        frac = x - k
        return self._cum[k] + frac * self.sorted_squares[k]

    def __call__(self, rho):
        r = np.sqrt(self.squared(rho))
        return float(r) if np.ndim(r) == 0 else r

    def grid(self, n_points=201):
        """``(rho, R(rho))`` on ``n_points`` evenly spaced ``rho`` in [0, 1]."""
        rho = np.linspace(0.0, 1.0, int(n_points))
        return rho, self(rho)


def _pool_abs(weights) -> np.ndarray:
    if isinstance(weights, Mapping):
        weights = list(weights.values())
    if isinstance(weights, torch.Tensor):
        weights = [weights]
    if isinstance(weights, np.ndarray):
        return np.abs(weights.astype(np.float64, copy=False)).ravel().copy()
    if isinstance(weights, Iterable):
        parts = []
        for w in weights:
            if isinstance(w, torch.Tensor):
                parts.append(w.detach().reshape(-1).abs().to("cpu", torch.float64).numpy())
            else:
                parts.append(np.abs(np.asarray(w, dtype=np.float64)).ravel())
        return np.concatenate(parts) if parts else np.empty(0)
    return np.abs(np.asarray(weights, dtype=np.float64)).ravel()
