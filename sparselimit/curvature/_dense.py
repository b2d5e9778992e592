"""Dense reference Hessian for tests and small problems only (forms the D x D matrix)."""

from __future__ import annotations

import torch
from torch.func import hessian

from ._operator import HessianOperator, _eval_mode

__all__ = ["dense_hessian"]


def dense_hessian(op: HessianOperator) -> torch.Tensor:
    """The ``D x D`` Hessian an operator represents, by ``torch.func.hessian`` of the mean loss
    as a function of the flat parameter vector (independent of the operator's HVP code).
    Memory ``D²``: for tests and tiny networks only."""
    theta = op.flat_params()

    def total(flat):
        parts = [c.reshape(s) for c, s in zip(flat.split(op._numels), op.param_shapes)]
        acc, n = 0.0, 0
        for xb, yb in op._iter_batches():
            acc = acc + op._loss(parts, xb, yb) * len(xb)
            n += len(xb)
        return acc / n

    with _eval_mode(op.module):
        return hessian(total)(theta)
