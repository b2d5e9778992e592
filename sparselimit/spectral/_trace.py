"""Hutchinson trace estimation."""

from __future__ import annotations

import numpy as np

from ..curvature import as_operator
from ..utils import make_generator
from ._slq import _check_probes, _rademacher

__all__ = ["hutchinson_trace"]


def hutchinson_trace(op, n_samples=16, *, random_state=None, block_size=8, return_samples=False):
    r"""Hutchinson estimate of ``tr(H)``: the mean of ``z^T H z`` over Rademacher ``z``.

    Each sample is unbiased with variance ``2 Σ_{i≠j} H_ij²``; products are taken
    ``block_size`` vectors at a time (one block product each).

    Parameters
    ----------
    op : HessianOperator or any operator accepted by :func:`slq_spectrum`
        Symmetric ``D x D`` operator.
    n_samples : int, default=16
        Number of probes.
    random_state : None, int, numpy RandomState or torch.Generator, default=None
        Seed of the probes.
    block_size : int, default=8
        Probes per block product.
    return_samples : bool, default=False
        Also return the per-probe values ``z^T H z`` (for a standard error).

    Returns
    -------
    trace : float
    samples : ndarray of float64, shape (n_samples,)
        Only with ``return_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparselimit.spectral import hutchinson_trace
    >>> hutchinson_trace(np.diag([1.0, 2.0, 3.0]), n_samples=4, random_state=0)
    6.0
    """
    op = as_operator(op)
    n_samples = _check_probes(n_samples, "n_samples")
    block_size = _check_probes(block_size, "block_size")
    gen = make_generator(random_state)
    samples = np.empty(n_samples)
    for s in range(0, n_samples, block_size):
        # drawn block by block (the same stream as one (n_samples, D) draw): memory is
        # O(block_size * D), not O(n_samples * D)
        Zb = _rademacher(gen, op.shape[0], min(block_size, n_samples - s)).contiguous()
        HZ = op._matmat_f64(Zb.to(op.device))
        samples[s : s + Zb.shape[1]] = (HZ.cpu() * Zb).sum(dim=0).numpy()
    est = float(samples.mean())
    return (est, samples) if return_samples else est
